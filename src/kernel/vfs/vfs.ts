// The guest's filesystem namespace: a mount table and path resolution.
//
// Contract (Linux's path_walk): paths are resolved one component at a time
// from the process's root or a starting directory; `.` stays, `..` goes to the
// parent and never above the namespace root; symlinks are followed in the
// guest's namespace (at most MAX_SYMLINKS per resolution, then ELOOP), the last
// component only when asked; a trailing slash requires a directory. Mount
// points are crossed by path: looking up a name whose path is a mount point
// yields the mounted filesystem's root.

import { EACCES, ELOOP, ENAMETOOLONG, ENOENT, ENOTDIR, Errno, isErrno } from '../../linux/errno.js';
import { NAME_MAX, PATH_MAX, S_IFLNK, S_IFMT, X_OK } from '../../linux/abi.js';
import { Caller, Dentry, Inode } from './inode.js';
import { CAP_DAC_OVERRIDE, CAP_DAC_READ_SEARCH, hasCap, permitted, type Cred } from './perm.js';
import { SynthDir } from '../filesystems/synthetic.js';
import { DentryCache } from './dcache.js';
import type { MaybeAsync } from '../files/file.js';
import { andThen, syncFirst } from '../files/maybe-async.js';
import type { Attr } from '../../backend/backend.js';

export const MAX_SYMLINKS = 40;

export interface ResolveOptions {
  /** Follow a symlink in the last component (stat vs lstat, O_NOFOLLOW). */
  followLast: boolean;
  /** The process resolving (procfs's "self"). */
  caller?: Caller;
  /** Whose search (x) permission every directory walked through must grant (EACCES); unchecked without. */
  creds?: Cred;
}

/** What /proc/mounts says of a mount. */
export interface MountInfo {
  /** "tmpfs", "proc", "9p" (the rootfs and bind mounts, as runsc shows its gofer mounts)... */
  fstype: string;
  source: string;
  readonly: boolean;
}

export interface ParentAndName {
  dir: Dentry;
  /** The last component ("" when the path names the root or ends in `.`/`..`). */
  name: string;
  trailingSlash: boolean;
}

export class Vfs {
  readonly root: Dentry;
  private readonly mounts = new Map<string, Inode>();
  private readonly info = new Map<string, MountInfo>();
  /** The bound on cached dentries that hold backend nodes (dcache.ts). */
  readonly dcache: DentryCache;

  constructor(
    rootInode: Inode,
    private readonly rootInfo: MountInfo = { fstype: '9p', source: 'none', readonly: rootInode.readonlyFs },
    dcache = new DentryCache(),
  ) {
    this.root = new Dentry('', null, rootInode);
    this.dcache = dcache;
  }

  /** Mount `inode` (a filesystem's root) at absolute path `at`; `info` is what /proc/mounts shows. */
  mount(at: string, inode: Inode, info: MountInfo = { fstype: 'tmpfs', source: 'none', readonly: false }): void {
    this.mounts.set(at, inode);
    this.info.set(at, info);
  }

  /** The mounts in mount order, as /proc/mounts lists them (the root first). */
  mountTable(): ({ at: string } & MountInfo)[] {
    return [{ at: '/', ...this.rootInfo }, ...[...this.info].map(([at, i]) => ({ at, ...i }))];
  }

  mountPoints(): string[] {
    return [...this.mounts.keys()];
  }

  /** Is something mounted strictly below `path`? */
  private hasMountBelow(path: string): boolean {
    const prefix = path + '/';
    for (const at of this.mounts.keys()) if (at.startsWith(prefix)) return true;
    return false;
  }

  /**
   * The child `name` of directory dentry `dir`, crossing mount points. A
   * cached dentry that needs no revalidation is answered synchronously (the
   * path walk's fast path: no Promise, no microtask).
   */
  lookup(dir: Dentry, name: string, caller?: Caller): MaybeAsync<Dentry | Errno> {
    const hit = dir.cached(name);
    if (hit && (hit.negative || hit.mountRoot || !hit.inode.revalidates)) {
      this.dcache.touch(hit);
      return hit.negative ? ENOENT : hit;
    }
    return this.lookupSlow(dir, name, hit, caller);
  }

  private async lookupSlow(dir: Dentry, name: string, hit: Dentry | undefined, caller?: Caller): Promise<Dentry | Errno> {
    // A shared mount's name may have changed on the host: check it (d_revalidate), else look it up afresh.
    if (hit) {
      if (await hit.inode.revalidate(dir.inode, name)) {
        this.dcache.touch(hit);
        return hit;
      }
      dir.detach(name);
    }
    const parentPath = dir.path();
    const mounted = dir.deleted ? undefined : this.mounts.get(parentPath === '/' ? '/' + name : parentPath + '/' + name);
    if (mounted) {
      const d = new Dentry(name, dir, mounted);
      d.mountRoot = true;
      return dir.remember(d);
    }
    if (!dir.inode.isDir) return ENOTDIR;
    const inode = await dir.inode.lookup(name, caller);
    if (inode === ENOENT && !dir.deleted && this.hasMountBelow(parentPath === '/' ? '/' + name : parentPath + '/' + name)) {
      // A mount point the filesystem lacks (runsc makes them too): an empty directory stands in.
      return new Dentry(name, dir, new SynthDir(() => new Map(), 0o755));
    }
    if (inode === ENOENT && !dir.deleted && dir.inode.cachesNegatives && !dir.cached(name)) {
      this.dcache.touch(dir.remember(Dentry.absent(name, dir)));
      return ENOENT;
    }
    if (isErrno(inode)) return inode;
    if (inode.volatile) return new Dentry(name, dir, inode);
    // Another lookup of the same name may have finished first: keep its dentry (one live dentry per name).
    const raced = dir.cached(name);
    if (raced?.negative) dir.detach(name);
    else if (raced) {
      if (raced.inode !== inode) inode.release();
      return raced;
    }
    const d = dir.remember(new Dentry(name, dir, inode));
    this.dcache.touch(d);
    return d;
  }

  /**
   * The root dentry of the mount holding `d`: the namespace root or a
   * dentry where a filesystem is mounted. Two names are on the same mount
   * (rename, link: else EXDEV) when this is the same for both.
   */
  mountOf(d: Dentry): Dentry {
    let cur = d;
    while (cur.parent && !cur.mountRoot) cur = cur.parent;
    return cur;
  }

  /**
   * Resolve `path` from `start` (or `root` for absolute paths) to a dentry:
   * synchronous while every step is cached (no lookup, revalidation,
   * attribute fetch or readlink has to wait).
   */
  resolve(root: Dentry, start: Dentry, path: string, opts: ResolveOptions): MaybeAsync<Dentry | Errno> {
    const r = syncFirst(this.walk(root, start, path, opts.followLast, false, opts.caller, opts.creds));
    return r instanceof Promise ? r.then(dirOf) : dirOf(r);
  }

  /**
   * Resolve all but the last component of `path`: the directory a name is to
   * be created in or removed from, and that name (synchronous as resolve is).
   */
  resolveParent(root: Dentry, start: Dentry, path: string, caller?: Caller, creds?: Cred): MaybeAsync<ParentAndName | Errno> {
    return syncFirst(this.walk(root, start, path, false, true, caller, creds));
  }

  /** EACCES unless `creds` may search directory `d` (CAP_DAC_OVERRIDE and CAP_DAC_READ_SEARCH always may); synchronous when the attributes are cached. */
  private searchable(d: Dentry, creds: Cred | undefined): MaybeAsync<Errno | undefined> {
    if (!creds || hasCap(creds, CAP_DAC_OVERRIDE) || hasCap(creds, CAP_DAC_READ_SEARCH)) return undefined;
    const a = d.inode.getattr();
    const check = (at: Attr | Errno): Errno | undefined => (isErrno(at) ? at : permitted(creds, at, X_OK) ? undefined : EACCES);
    return a instanceof Promise ? a.then(check) : check(a);
  }

  /** The path walk, as a syncFirst body (files/maybe-async.ts). */
  private *walk(
    root: Dentry,
    start: Dentry,
    path: string,
    followLast: boolean,
    stopBeforeLast: boolean,
    caller?: Caller,
    creds?: Cred,
  ): Generator<unknown, ParentAndName | Errno, unknown> {
    if (path.length === 0) return ENOENT;
    if (path.length >= PATH_MAX) return ENAMETOOLONG;
    let cur = path.startsWith('/') ? root : start;
    const trailingSlash = endsInSlash(path);
    // The names still to walk are those of `rest` from `pos` on (empty ones
    // between slashes skipped); a symlink's target is put in front of them.
    let rest = path;
    let pos = skipSlashes(rest, 0);
    let links = 0;
    while (pos < rest.length) {
      let end = rest.indexOf('/', pos);
      if (end < 0) end = rest.length;
      const name = rest.slice(pos, end);
      pos = skipSlashes(rest, end);
      const last = pos >= rest.length;
      if (!cur.inode.isDir) return ENOTDIR;
      let denied = this.searchable(cur, creds);
      if (denied instanceof Promise) denied = (yield denied) as Errno | undefined;
      if (denied) return denied;
      if (last && stopBeforeLast && name !== '.' && name !== '..') {
        if (name.length > NAME_MAX) return ENAMETOOLONG;
        return { dir: cur, name, trailingSlash };
      }
      if (name === '.') continue;
      if (name === '..') {
        if (cur !== root && cur.parent) cur = cur.parent;
        continue;
      }
      if (name.length > NAME_MAX) return ENAMETOOLONG;
      let child = this.lookup(cur, name, caller);
      if (child instanceof Promise) child = (yield child) as Dentry | Errno;
      if (isErrno(child)) return child;
      if ((child.inode.type & S_IFMT) === S_IFLNK && (!last || followLast || trailingSlash)) {
        if (++links > MAX_SYMLINKS) return ELOOP;
        const magic = child.inode.followLink(caller);
        if (magic !== undefined) {
          if (isErrno(magic)) return magic;
          cur = magic;
          continue;
        }
        let target = child.inode.readlink(caller);
        if (target instanceof Promise) target = (yield target) as string | Errno;
        if (isErrno(target)) return target;
        if (target.length === 0) return ENOENT;
        if (target.startsWith('/')) cur = root;
        rest = last ? target : target + '/' + rest.slice(pos);
        pos = skipSlashes(rest, 0);
        continue;
      }
      cur = child;
    }
    if (trailingSlash && !cur.inode.isDir) return ENOTDIR;
    return { dir: cur, name: '', trailingSlash };
  }
}

/** The dentry a walk ended at (resolve's answer; a module function, so a resolve makes no closure). */
function dirOf(r: ParentAndName | Errno): Dentry | Errno {
  return isErrno(r) ? r : r.dir;
}

/** The first index at or after `i` that is not a slash (`path.length` when none is). */
function skipSlashes(path: string, i: number): number {
  while (i < path.length && path.charCodeAt(i) === 0x2f) i++;
  return i;
}

/** Does `path` end in a slash after some name ("a/", "/a//"; not "/" or "//")? */
function endsInSlash(path: string): boolean {
  if (path.length === 0 || path.charCodeAt(path.length - 1) !== 0x2f) return false;
  return skipSlashes(path, 0) < path.length;
}
