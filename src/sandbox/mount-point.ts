// The mount point of a bind mount whose source is one regular file (podman's
// /etc/hosts, /etc/resolv.conf, /etc/hostname, /run/.containerenv), found and
// made in the guest's namespace as runc finds and makes it in the
// container's rootfs.
//
// Contract: the destination is walked one name at a time from the sandbox's
// root through the VFS, symlinks (the last name's too) followed in the
// guest's namespace and `..` stopping at the root, so whatever symlinks the
// rootfs holds, the place found and every name made are inside the rootfs
// (or an earlier mount); the host's paths are never used. Missing
// directories are made (0755), then an empty file (0644), owned by the
// guest's root. A filesystem that refuses the change (a read-only rootfs or
// mount) is left as it is: the file is mounted at the path anyway, and the
// mount table serves it there (a parent the rootfs lacks shows as an empty
// directory: src/kernel/vfs/vfs.ts, lookup). What cannot hold a file is an
// Error, as mount(2) refuses it: a directory at the destination, a parent
// that is not a directory, a symlink loop.

import { S_IFLNK, S_IFREG } from '../linux/abi.js';
import { ENOENT, Errno, isErrno } from '../linux/errno.js';
import * as namei from '../kernel/vfs/namei.js';
import { MAX_SYMLINKS, type Vfs } from '../kernel/vfs/vfs.js';
import type { Dentry } from '../kernel/vfs/inode.js';

/** The guest's root, as the runtime that makes mount points: every permission, no umask. */
function runtimeCtx(vfs: Vfs): namei.PathCtx {
  return { vfs, root: vfs.root, cred: { euid: 0, egid: 0, groups: [] }, umask: 0 };
}

const components = (p: string): string[] => p.split('/').filter((c) => c.length > 0 && c !== '.');

/**
 * Finds, making it where missing, the place for a file mount at
 * `destination` (absolute): returns the guest path to mount the file at,
 * with every symlink resolved. An existing file there is left alone (the
 * mount hides it). Throws an Error naming the destination when a directory
 * stands there, a parent is not a directory, or symlinks loop.
 */
export async function makeFileMountPoint(vfs: Vfs, destination: string): Promise<string> {
  const ctx = runtimeCtx(vfs);
  const fail = (why: string): never => {
    throw new Error(`bind mount of a regular file at ${destination}: ${why}`);
  };
  const at = (d: Dentry, name: string): string => (d.parent ? `${d.path()}/${name}` : `/${name}`);
  let cur = vfs.root;
  const pending = components(destination).reverse();
  if (pending.length === 0) fail('the root is a directory');
  let links = 0;
  while (pending.length > 0) {
    const name = pending.pop()!;
    const last = pending.length === 0;
    if (name === '..') {
      cur = cur.parent ?? cur;
      if (last) fail('it names a directory');
      continue;
    }
    let found: Dentry | Errno = await vfs.lookup(cur, name);
    if (found === ENOENT) {
      // Made as runc makes it; when the filesystem refuses, the rest is mounted by its path as it stands.
      const made = last ? await namei.mknodAt(ctx, cur, name, S_IFREG | 0o644, 0n) : await namei.mkdirAt(ctx, cur, name, 0o755);
      if (made !== 0) {
        // The absence this walk cached would hide the mount (and the stand-in directories above it).
        cur.detach(name);
        return [at(cur, name), ...pending.reverse()].join('/');
      }
      if (last) return at(cur, name);
      found = await vfs.lookup(cur, name);
    }
    if (isErrno(found)) return fail(`${at(cur, name)}: ${found.name}`);
    if (found.inode.type === S_IFLNK) {
      if (++links > MAX_SYMLINKS) fail('too many levels of symbolic links');
      const target = await found.inode.readlink();
      if (isErrno(target)) return fail(`${at(cur, name)}: ${target.name}`);
      if (target.startsWith('/')) cur = vfs.root;
      pending.push(...components(target).reverse());
      continue;
    }
    if (last) {
      if (found.inode.isDir) fail('a directory is there');
      // The mount is found by its path from now on: the dentry this walk cached must not answer for it.
      cur.detach(name);
      return at(cur, name);
    }
    if (!found.inode.isDir) fail(`${at(cur, name)} is not a directory`);
    cur = found;
  }
  // A symlink's target ended in "." or "..": a directory.
  return fail('it names a directory');
}
