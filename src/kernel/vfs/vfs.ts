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
    const r = this.walk(root, start, path, opts.followLast, false, opts.caller, opts.creds);
    return r instanceof Promise ? r.then(dirOf) : dirOf(r);
  }

  /**
   * Resolve all but the last component of `path`: the directory a name is to
   * be created in or removed from, and that name (synchronous as resolve is).
   */
  resolveParent(root: Dentry, start: Dentry, path: string, caller?: Caller, creds?: Cred): MaybeAsync<ParentAndName | Errno> {
    return this.walk(root, start, path, false, true, caller, creds);
  }

  /** EACCES unless `creds` may search directory `d` (CAP_DAC_OVERRIDE and CAP_DAC_READ_SEARCH always may); synchronous when the attributes are cached. */
  private searchable(d: Dentry, creds: Cred | undefined): MaybeAsync<Errno | undefined> {
    if (!creds || hasCap(creds, CAP_DAC_OVERRIDE) || hasCap(creds, CAP_DAC_READ_SEARCH)) return undefined;
    // A tmpfs directory's own fields, else its attributes (a new Attr each time for some filesystems).
    const o = d.inode.owned();
    if (o !== undefined) return permitted(creds, o, X_OK) ? undefined : EACCES;
    const a = d.inode.getattr();
    return a instanceof Promise ? a.then((at) => searchCheck(creds, at)) : searchCheck(creds, a);
  }

  /** The path walk: its state, then walkOn from the first component. */
  private walk(
    root: Dentry,
    start: Dentry,
    path: string,
    followLast: boolean,
    stopBeforeLast: boolean,
    caller?: Caller,
    creds?: Cred,
  ): MaybeAsync<ParentAndName | Errno> {
    if (path.length === 0) return ENOENT;
    if (path.length >= PATH_MAX) return ENAMETOOLONG;
    const w: Walk = {
      root, cur: path.startsWith('/') ? root : start, rest: path, pos: skipSlashes(path, 0), links: 0,
      trailingSlash: endsInSlash(path), followLast, stopBeforeLast, caller, creds, name: '', last: false,
    };
    return this.walkOn(w, Step.Next, undefined);
  }

  /**
   * The walk from step `step` of the component in hand, `settled` being
   * what the step before it waited for: synchronous to its end while no step
   * has to wait, else a Promise that goes on from the step that waited
   * (one function for both, so a cached path makes no generator, closure or
   * Promise). The names still to walk are those of `w.rest` from `w.pos` on
   * (empty ones between slashes skipped); a symlink's target is put in front
   * of them.
   */
  private walkOn(w: Walk, step: Step, settled: unknown): MaybeAsync<ParentAndName | Errno> {
    for (;;) {
      if (step === Step.Next) {
        if (w.pos >= w.rest.length) {
          if (w.trailingSlash && !w.cur.inode.isDir) return ENOTDIR;
          return { dir: w.cur, name: '', trailingSlash: w.trailingSlash };
        }
        const rest = w.rest;
        let end = rest.indexOf('/', w.pos);
        if (end < 0) end = rest.length;
        w.name = rest.slice(w.pos, end);
        w.pos = skipSlashes(rest, end);
        w.last = w.pos >= rest.length;
        if (!w.cur.inode.isDir) return ENOTDIR;
        const denied = this.searchable(w.cur, w.creds);
        if (denied instanceof Promise) return denied.then((v) => this.walkOn(w, Step.Searched, v));
        settled = denied;
        step = Step.Searched;
      }
      if (step === Step.Searched) {
        if (settled) return settled as Errno;
        const name = w.name;
        if (w.last && w.stopBeforeLast && name !== '.' && name !== '..') {
          if (name.length > NAME_MAX) return ENAMETOOLONG;
          return { dir: w.cur, name, trailingSlash: w.trailingSlash };
        }
        step = Step.Next;
        if (name === '.') continue;
        if (name === '..') {
          if (w.cur !== w.root && w.cur.parent) w.cur = w.cur.parent;
          continue;
        }
        if (name.length > NAME_MAX) return ENAMETOOLONG;
        const child = this.lookup(w.cur, name, w.caller);
        if (child instanceof Promise) return child.then((v) => this.walkOn(w, Step.Looked, v));
        settled = child;
        step = Step.Looked;
      }
      if (step === Step.Looked) {
        const child = settled as Dentry | Errno;
        if (isErrno(child)) return child;
        step = Step.Next;
        if ((child.inode.type & S_IFMT) !== S_IFLNK || (w.last && !w.followLast && !w.trailingSlash)) {
          w.cur = child;
          continue;
        }
        if (++w.links > MAX_SYMLINKS) return ELOOP;
        const magic = child.inode.followLink(w.caller);
        if (magic !== undefined) {
          if (isErrno(magic)) return magic;
          w.cur = magic;
          continue;
        }
        const target = child.inode.readlink(w.caller);
        if (target instanceof Promise) return target.then((v) => this.walkOn(w, Step.Linked, v));
        settled = target;
        step = Step.Linked;
      }
      // Step.Linked: the symlink's target, in front of the names left.
      const target = settled as string | Errno;
      if (isErrno(target)) return target;
      if (target.length === 0) return ENOENT;
      if (target.startsWith('/')) w.cur = w.root;
      w.rest = w.last ? target : target + '/' + w.rest.slice(w.pos);
      w.pos = skipSlashes(w.rest, 0);
      step = Step.Next;
    }
  }
}

/** Where walkOn takes up a component: its start, after the search check, after the lookup, after a readlink. */
const enum Step { Next, Searched, Looked, Linked }

/** A path walk's state (Vfs.walkOn). */
interface Walk {
  readonly root: Dentry;
  /** The directory reached so far. */
  cur: Dentry;
  /** The path (with a symlink's target spliced in) and where its next name starts. */
  rest: string;
  pos: number;
  /** Symlinks followed so far (ELOOP past MAX_SYMLINKS). */
  links: number;
  readonly trailingSlash: boolean;
  readonly followLast: boolean;
  readonly stopBeforeLast: boolean;
  readonly caller: Caller | undefined;
  readonly creds: Cred | undefined;
  /** The component in hand, and whether it is the path's last. */
  name: string;
  last: boolean;
}

/** searchable's answer from directory attributes `at`. */
function searchCheck(creds: Cred, at: Attr | Errno): Errno | undefined {
  return isErrno(at) ? at : permitted(creds, at, X_OK) ? undefined : EACCES;
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
