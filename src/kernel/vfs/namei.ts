// The namespace-changing operations of the VFS (Linux's fs/namei.c and
// fs/attr.c): mkdir, mknod, symlink, link, unlink, rmdir, rename, and the
// checked attribute changes (chmod, chown, utimes, truncate).
//
// Contract: callers (the system call handlers) decode arguments and pass a
// starting directory and a path; everything Linux checks above the
// filesystem happens here, in Linux's order: path resolution errors, the
// name's kind ("." / ".." / "/": EEXIST, EBUSY, EINVAL, ENOTEMPTY, EISDIR),
// EXDEV across mounts, EROFS, existence (EEXIST / ENOENT), DAC permission
// (EACCES, the sticky bit's EPERM), EBUSY for mount points, EINVAL for moving
// a directory below itself. The filesystem (Inode's directory operations)
// then does the change and checks what only it knows. Afterwards the dentry
// cache is made to match: a removed name is detached (open files and cwds keep
// their inode), a renamed one moved.

import * as abi from '../../linux/abi.js';
import {
  EACCES, EBUSY, EEXIST, EINVAL, EISDIR, ENAMETOOLONG, ENOENT, ENOTDIR, ENOTEMPTY, EOPNOTSUPP, EPERM, EROFS, EXDEV, Errno, isErrno,
} from '../../linux/errno.js';
import type { Attr, SetAttr } from '../../backend/backend.js';
import { Dentry, Inode, type NewOwner } from './inode.js';
import { CAP_CHOWN, CAP_FSETID, hasCap, inGroup, isOwner, permitted, stickyAllows, type Cred } from './perm.js';
import type { Vfs } from './vfs.js';

/** The process a path operation runs for. */
export interface PathCtx {
  vfs: Vfs;
  root: Dentry;
  cred: Cred;
  umask: number;
  caller?: { pid: number };
}

/** The last component of `path` as written ("" for "/"), to tell ".", ".." and "/" apart. */
function lastComponent(path: string): string {
  const parts = path.split('/').filter((p) => p.length > 0);
  return parts.length ? parts[parts.length - 1] : '';
}

/** may_create / may_delete's directory part: write and search on `dir`. */
async function dirWritable(cr: Cred, dir: Dentry): Promise<Attr | Errno> {
  const a = await dir.inode.getattr();
  if (isErrno(a)) return a;
  return permitted(cr, a, abi.W_OK | abi.X_OK) ? a : EACCES;
}

/** The owner a new file in `dir` gets: the caller's ids, or the directory's group when it is set-group-ID. */
export function newOwner(cr: Cred, dirAttr: Attr): NewOwner {
  return { uid: cr.euid, gid: dirAttr.mode & abi.S_ISGID ? dirAttr.gid : cr.egid };
}

/** Where a new name goes: its parent dentry and the name, after the checks every creation shares. */
interface Slot {
  dir: Dentry;
  name: string;
  dirAttr: Attr;
  owner: NewOwner;
}

/**
 * filename_create: the parent of `path` and its last name, which must not
 * exist (EEXIST), on a writable mount (EROFS), in a directory the caller may
 * write (EACCES). A trailing slash is allowed only when `isDir`.
 */
async function creationSlot(ctx: PathCtx, start: Dentry, path: string, isDir: boolean): Promise<Slot | Errno> {
  const pn = await ctx.vfs.resolveParent(ctx.root, start, path, ctx.caller, ctx.cred);
  if (isErrno(pn)) return pn;
  if (pn.name === '') return EEXIST; // "/", "." or "..": always there
  if (pn.dir.deleted) return ENOENT; // a removed directory takes no new names
  const existing = await ctx.vfs.lookup(pn.dir, pn.name, ctx.caller);
  if (!isErrno(existing)) return EEXIST;
  if (existing !== ENOENT) return existing;
  if (pn.trailingSlash && !isDir) return ENOENT;
  if (pn.dir.inode.readonlyFs) return EROFS;
  const dirAttr = await dirWritable(ctx.cred, pn.dir);
  if (isErrno(dirAttr)) return dirAttr;
  return { dir: pn.dir, name: pn.name, dirAttr, owner: newOwner(ctx.cred, dirAttr) };
}

/** The new name is there now: forget any stale cache entry for it. */
function created(slot: Slot): void {
  slot.dir.detach(slot.name);
}

export async function mkdirAt(ctx: PathCtx, start: Dentry, path: string, mode: number): Promise<0 | Errno> {
  const slot = await creationSlot(ctx, start, path, true);
  if (isErrno(slot)) return slot;
  let perm = mode & 0o1777 & ~ctx.umask;
  if (slot.dirAttr.mode & abi.S_ISGID) perm |= abi.S_ISGID; // set-group-ID directories pass it on
  const r = await slot.dir.inode.mkdir(slot.name, perm, slot.owner);
  if (r === 0) created(slot);
  return r;
}

/** mknodat: regular files, FIFOs and sockets; device nodes need CAP_MKNOD, which the sandbox never has. */
export async function mknodAt(ctx: PathCtx, start: Dentry, path: string, mode: number, dev: bigint): Promise<0 | Errno> {
  const type = mode & abi.S_IFMT;
  const kind = type === 0 ? abi.S_IFREG : type;
  if (![abi.S_IFREG, abi.S_IFIFO, abi.S_IFSOCK, abi.S_IFCHR, abi.S_IFBLK].includes(kind)) return EINVAL;
  if (kind === abi.S_IFCHR || kind === abi.S_IFBLK) {
    // may_mknod: without CAP_MKNOD, EPERM; the name is resolved first (ENOENT, EEXIST win).
    const slot = await creationSlot(ctx, start, path, false);
    return isErrno(slot) ? slot : EPERM;
  }
  const slot = await creationSlot(ctx, start, path, false);
  if (isErrno(slot)) return slot;
  const r = await slot.dir.inode.mknod(slot.name, kind | (mode & 0o7777 & ~ctx.umask), dev, slot.owner);
  if (r === 0) created(slot);
  return r;
}

export async function symlinkAt(ctx: PathCtx, target: string, start: Dentry, path: string): Promise<0 | Errno> {
  if (target.length === 0) return ENOENT;
  if (Buffer.byteLength(target) >= abi.PATH_MAX) return ENAMETOOLONG;
  const slot = await creationSlot(ctx, start, path, false);
  if (isErrno(slot)) return slot;
  const r = await slot.dir.inode.symlink(slot.name, target, slot.owner);
  if (r === 0) created(slot);
  return r;
}

/** linkat: a new name at (start, path) for the file `old` (already resolved, AT_SYMLINK_FOLLOW applied). */
export async function linkTo(ctx: PathCtx, old: Dentry | Inode, oldMount: Dentry, start: Dentry, path: string): Promise<0 | Errno> {
  const inode = old instanceof Dentry ? old.inode : old;
  const pn = await ctx.vfs.resolveParent(ctx.root, start, path, ctx.caller, ctx.cred);
  if (isErrno(pn)) return pn;
  if (pn.name === '') return EEXIST;
  if (ctx.vfs.mountOf(pn.dir) !== oldMount) return EXDEV;
  if (pn.dir.deleted) return ENOENT;
  const existing = await ctx.vfs.lookup(pn.dir, pn.name, ctx.caller);
  if (!isErrno(existing)) return EEXIST;
  if (existing !== ENOENT) return existing;
  if (pn.trailingSlash) return ENOENT;
  if (pn.dir.inode.readonlyFs) return EROFS;
  const dirAttr = await dirWritable(ctx.cred, pn.dir);
  if (isErrno(dirAttr)) return dirAttr;
  if (inode.isDir) return EPERM;
  const r = await pn.dir.inode.link(pn.name, inode);
  if (r === 0) pn.dir.detach(pn.name);
  return r;
}

/** unlink (`rmdir` false) or rmdir (`rmdir` true) of (start, path). */
export async function removeAt(ctx: PathCtx, start: Dentry, path: string, rmdir: boolean): Promise<0 | Errno> {
  const pn = await ctx.vfs.resolveParent(ctx.root, start, path, ctx.caller, ctx.cred);
  if (isErrno(pn)) return pn;
  if (pn.name === '') {
    const last = lastComponent(path);
    if (!rmdir) return EISDIR;
    return last === '.' ? EINVAL : last === '..' ? ENOTEMPTY : EBUSY;
  }
  if (pn.dir.inode.readonlyFs) {
    // mnt_want_write comes before the lookup: EROFS even for a missing name.
    return EROFS;
  }
  const victim = await ctx.vfs.lookup(pn.dir, pn.name, ctx.caller);
  if (isErrno(victim)) return victim;
  if (rmdir) {
    if (!victim.inode.isDir) return ENOTDIR;
  } else if (pn.trailingSlash) {
    return victim.inode.isDir ? EISDIR : ENOTDIR;
  }
  const bad = await mayDelete(ctx.cred, pn.dir, victim);
  if (bad) return bad;
  if (!rmdir && victim.inode.isDir) return EISDIR;
  if (victim.mountRoot || victim === ctx.root) return EBUSY;
  const r = await pn.dir.inode.unlink(pn.name, rmdir);
  if (r === 0) pn.dir.detach(pn.name);
  return r;
}

/** may_delete: write and search on the directory, and the sticky bit's rule. */
async function mayDelete(cr: Cred, dir: Dentry, victim: Dentry): Promise<Errno | undefined> {
  const dirAttr = await dirWritable(cr, dir);
  if (isErrno(dirAttr)) return dirAttr;
  const va = await victim.inode.getattr();
  if (isErrno(va)) return va;
  return stickyAllows(cr, dirAttr, va) ? undefined : EPERM;
}

/** renameat2 of (oldStart, oldPath) to (newStart, newPath) with RENAME_NOREPLACE / RENAME_EXCHANGE. */
export async function renameAt(ctx: PathCtx, oldStart: Dentry, oldPath: string, newStart: Dentry, newPath: string, flags: number): Promise<0 | Errno> {
  if (flags & ~(abi.RENAME_NOREPLACE | abi.RENAME_EXCHANGE | abi.RENAME_WHITEOUT)) return EINVAL;
  if (flags & abi.RENAME_EXCHANGE && flags & (abi.RENAME_NOREPLACE | abi.RENAME_WHITEOUT)) return EINVAL;
  if (flags & abi.RENAME_WHITEOUT) return EPERM; // needs CAP_MKNOD (a whiteout is a device node)
  const op = await ctx.vfs.resolveParent(ctx.root, oldStart, oldPath, ctx.caller, ctx.cred);
  if (isErrno(op)) return op;
  const np = await ctx.vfs.resolveParent(ctx.root, newStart, newPath, ctx.caller, ctx.cred);
  if (isErrno(np)) return np;
  if (ctx.vfs.mountOf(op.dir) !== ctx.vfs.mountOf(np.dir)) return EXDEV;
  if (op.name === '' || np.name === '') return EBUSY;
  if (op.dir.inode.readonlyFs) return EROFS;
  const src = await ctx.vfs.lookup(op.dir, op.name, ctx.caller);
  if (isErrno(src)) return src;
  const exchange = (flags & abi.RENAME_EXCHANGE) !== 0;
  const dstOrErr = await ctx.vfs.lookup(np.dir, np.name, ctx.caller);
  if (isErrno(dstOrErr) && dstOrErr !== ENOENT) return dstOrErr;
  const dst = isErrno(dstOrErr) ? undefined : dstOrErr;
  if (exchange && !dst) return ENOENT;
  if (np.dir.deleted) return ENOENT;
  if (flags & abi.RENAME_NOREPLACE && dst) return EEXIST;
  // A trailing slash on either name demands directories.
  if ((op.trailingSlash || (np.trailingSlash && !exchange)) && !src.inode.isDir) return ENOTDIR;
  if (exchange && np.trailingSlash && dst && !dst.inode.isDir) return ENOTDIR;
  // Source must not be an ancestor of the target; the target not one of the source.
  if (np.dir.isWithin(src)) return EINVAL;
  if (dst && op.dir.isWithin(dst)) return exchange ? EINVAL : ENOTEMPTY;
  if (dst && dst.inode === src.inode) return 0; // the same file: Linux does nothing
  let bad = await mayDelete(ctx.cred, op.dir, src);
  if (bad) return bad;
  if (dst) bad = await mayDelete(ctx.cred, np.dir, dst);
  else {
    const a = await dirWritable(ctx.cred, np.dir);
    bad = isErrno(a) ? a : undefined;
  }
  if (bad) return bad;
  if (dst && !exchange) {
    if (src.inode.isDir && !dst.inode.isDir) return ENOTDIR;
    if (!src.inode.isDir && dst.inode.isDir) return EISDIR;
  }
  if (src.mountRoot || dst?.mountRoot || src === ctx.root || dst === ctx.root) return EBUSY;
  // A directory that changes parent rewrites its "..": it must be writable itself.
  if (op.dir !== np.dir) {
    for (const d of exchange ? [src, dst!] : [src]) {
      if (!d.inode.isDir) continue;
      const a = await d.inode.getattr();
      if (isErrno(a)) return a;
      if (!permitted(ctx.cred, a, abi.W_OK)) return EACCES;
    }
  }
  const r = await op.dir.inode.rename(op.name, np.dir.inode, np.name, flags);
  if (r !== 0) return r;
  if (exchange) op.dir.exchange(op.name, np.dir, np.name);
  else {
    np.dir.detach(np.name);
    op.dir.move(op.name, np.dir, np.name);
  }
  return 0;
}

// ---- attribute changes (notify_change and its callers) ----

/** Something whose attributes may be changed: an inode, or an open file that reaches its own. */
export interface AttrTarget {
  getattr(): Attr | Errno | Promise<Attr | Errno>;
  setattr(set: SetAttr): 0 | Errno | Promise<0 | Errno>;
  readonlyFs: boolean;
}

/** chmod_common: owner or CAP_FOWNER; a non-member without CAP_FSETID loses S_ISGID; symlinks have no mode to change. */
export async function chmod(cr: Cred, t: AttrTarget, mode: number): Promise<0 | Errno> {
  const a = await t.getattr();
  if (isErrno(a)) return a;
  if ((a.mode & abi.S_IFMT) === abi.S_IFLNK) return EOPNOTSUPP;
  if (t.readonlyFs) return EROFS;
  if (!isOwner(cr, a)) return EPERM;
  let m = mode & 0o7777;
  if (!hasCap(cr, CAP_FSETID) && !inGroup(cr, a.gid)) m &= ~abi.S_ISGID;
  return t.setattr({ mode: m });
}

/** chown_common: CAP_CHOWN gives any ids; an owner only a group it is in; set-id bits of non-directories go. */
export async function chown(cr: Cred, t: AttrTarget, uid: number, gid: number): Promise<0 | Errno> {
  const a = await t.getattr();
  if (isErrno(a)) return a;
  if (t.readonlyFs) return EROFS;
  const newUid = uid === -1 ? undefined : uid >>> 0;
  const newGid = gid === -1 ? undefined : gid >>> 0;
  if (!hasCap(cr, CAP_CHOWN)) {
    if (newUid !== undefined && !(cr.euid === a.uid && newUid === a.uid)) return EPERM;
    if (newGid !== undefined && !(cr.euid === a.uid && (newGid === a.gid || inGroup(cr, newGid)))) return EPERM;
  }
  const set: SetAttr = {};
  if (newUid !== undefined) set.uid = newUid;
  if (newGid !== undefined) set.gid = newGid;
  const type = a.mode & abi.S_IFMT;
  if (type !== abi.S_IFDIR && type !== abi.S_IFLNK && a.mode & (abi.S_ISUID | abi.S_ISGID)) {
    let m = a.mode & 0o7777 & ~abi.S_ISUID;
    if (a.mode & 0o010) m &= ~abi.S_ISGID;
    if (m !== (a.mode & 0o7777)) set.mode = m;
  }
  return t.setattr(set);
}

export type TimeArg = [number, number] | 'now' | 'omit';

/**
 * utimensat's checks: both omitted does nothing; "now" for both needs
 * ownership or write permission (EACCES); any explicit time needs ownership (EPERM).
 */
export async function utimes(cr: Cred, t: AttrTarget, atime: TimeArg, mtime: TimeArg): Promise<0 | Errno> {
  if (atime === 'omit' && mtime === 'omit') return 0;
  const a = await t.getattr();
  if (isErrno(a)) return a;
  if (t.readonlyFs) return EROFS;
  const explicit = Array.isArray(atime) || Array.isArray(mtime);
  if (!isOwner(cr, a)) {
    if (explicit) return EPERM;
    if (!permitted(cr, a, abi.W_OK)) return EACCES;
  }
  const set: SetAttr = {};
  if (atime !== 'omit') set.atime = atime;
  if (mtime !== 'omit') set.mtime = mtime;
  return t.setattr(set);
}

/** truncate(2) by path: a regular file the caller may write; the size changes, set-id bits go. */
export async function truncatePath(cr: Cred, t: AttrTarget, size: number): Promise<0 | Errno> {
  if (size < 0) return EINVAL;
  const a = await t.getattr();
  if (isErrno(a)) return a;
  const type = a.mode & abi.S_IFMT;
  if (type === abi.S_IFDIR) return EISDIR;
  if (type !== abi.S_IFREG) return EINVAL;
  if (t.readonlyFs) return EROFS;
  if (!permitted(cr, a, abi.W_OK)) return EACCES;
  return truncateChecked(t, a, size);
}

/** The size change itself, with Linux's clearing of set-user-ID (and group-executable set-group-ID). */
export async function truncateChecked(t: AttrTarget, a: Attr, size: number): Promise<0 | Errno> {
  const set: SetAttr = { size };
  if (a.mode & (abi.S_ISUID | abi.S_ISGID)) {
    let m = a.mode & 0o7777 & ~abi.S_ISUID;
    if (a.mode & 0o010) m &= ~abi.S_ISGID;
    if (m !== (a.mode & 0o7777)) set.mode = m;
  }
  return t.setattr(set);
}
