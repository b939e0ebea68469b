// Inodes and dentries of the kernel's VFS.
//
// An Inode is one file of some filesystem (a backend node, a procfs entry, a
// device). A Dentry is a name of an inode in the guest's namespace: it knows
// its parent, so `..`, getcwd and /proc/PID/cwd work without asking the host.
//
// Contract: inodes of backend filesystems hold host resources (an O_PATH fd);
// the dentry cache owns them and releases them when a dentry is dropped.

import { EINVAL, ENOENT, ENOTDIR, EOPNOTSUPP, EPERM, Errno } from '../../linux/errno.js';
import { S_IFDIR, S_IFMT } from '../../linux/abi.js';
import type { Attr, SetAttr, StatFs } from '../../backend/backend.js';
import type { File, MaybeAsync } from '../files/file.js';
import type { Blocker } from '../files/blocking.js';
import type { Owned } from './perm.js';

export interface Credentials {
  uid: number;
  gid: number;
  groups: number[];
}

/** Who is resolving a path: the pid of the calling process. */
export interface Caller {
  pid: number;
}

/** What an open may need beyond flags: the opening thread, for opens that wait (a FIFO's). */
export interface OpenContext {
  blocker?: Blocker;
}

/**
 * What an open file of a filesystem does on its own inode, through the open
 * file itself (fchmod, fchown, futimens, ftruncate, fallocate): it keeps
 * working after the name is gone (unlink) or for a file that never had one
 * (O_TMPFILE).
 */
export interface FdInodeOps {
  fdSetattr(set: SetAttr): MaybeAsync<0 | Errno>;
  /** fallocate mode 0. */
  fdAllocate(offset: number, len: number): MaybeAsync<0 | Errno>;
  /** The inode, where the filesystem can name it (linkat of an O_TMPFILE file). */
  fdInode?(): Inode | undefined;
}

export function fdInodeOps(f: File): FdInodeOps | undefined {
  const o = f as Partial<FdInodeOps>;
  return typeof o.fdSetattr === 'function' && typeof o.fdAllocate === 'function' ? (o as FdInodeOps) : undefined;
}

/** Owner and permission bits of a file being created, decided by the VFS (umask, setgid dirs). */
export interface NewOwner {
  uid: number;
  gid: number;
}

/** statfs of a kernel filesystem that keeps no counts (procfs, devfs). */
export function emptyStatFs(type: number): StatFs {
  return { type, bsize: 4096, blocks: 0, bfree: 0, bavail: 0, files: 0, ffree: 0, namelen: 255, frsize: 4096, flags: 0 };
}

export abstract class Inode {
  /** S_IFMT bits of the file's mode. */
  abstract readonly type: number;

  abstract getattr(): MaybeAsync<Attr | Errno>;

  /**
   * The mode and owner as they are now, when the inode holds them itself
   * (nothing fetched, nothing made): what the path walk's search check
   * reads of each directory. undefined: only getattr knows them.
   */
  owned(): Owned | undefined {
    return undefined;
  }

  /**
   * The child `name` (never "", ".", ".." or containing "/"). `caller` is
   * the process resolving the path (procfs's "self" depends on it).
   */
  lookup(_name: string, _caller?: Caller): MaybeAsync<Inode | Errno> {
    return ENOTDIR;
  }

  readlink(_caller?: Caller): MaybeAsync<string | Errno> {
    return EINVAL;
  }

  /**
   * For procfs's magic links (/proc/PID/fd/N, cwd, root): the very dentry the
   * link names, which path resolution jumps to instead of walking the text
   * readlink gives (that text may name nothing: "pipe:[7]", a deleted file).
   * undefined for an ordinary symlink.
   */
  followLink(_caller?: Caller): Dentry | Errno | undefined {
    return undefined;
  }

  /** Open this inode; `path` is the guest path, for the File's records. */
  abstract open(flags: number, path: string, ctx?: OpenContext): MaybeAsync<File | Errno>;

  /** Names of a directory's entries are listed through the File that open() returns. */

  // ---- directory operations ----
  //
  // Contract: `name` is one checked component (never "", ".", "..", no "/",
  // at most NAME_MAX bytes); the VFS has checked permissions, EXDEV and mount
  // points, and computed the new file's owner (NewOwner) and its permission
  // bits (umask applied). The filesystem checks what only it knows: EEXIST,
  // ENOENT, ENOTEMPTY, EROFS, ENOSPC. The defaults are a directory that
  // refuses changes (EPERM), or ENOTDIR on anything else.

  /** Create a regular file `name` in this directory and open it. */
  create(_name: string, _flags: number, _mode: number, _cred: Credentials, _path: string): MaybeAsync<File | Errno> {
    return this.refuse();
  }

  mkdir(_name: string, _perm: number, _owner: NewOwner): MaybeAsync<0 | Errno> {
    return this.refuse();
  }

  /** mknod: `mode` holds the type (S_IFREG, S_IFIFO, S_IFCHR...) and the permission bits. */
  mknod(_name: string, _mode: number, _rdev: bigint, _owner: NewOwner): MaybeAsync<0 | Errno> {
    return this.refuse();
  }

  symlink(_name: string, _target: string, _owner: NewOwner): MaybeAsync<0 | Errno> {
    return this.refuse();
  }

  /** A new name for `target`, an inode of this same filesystem (the VFS checked EXDEV). */
  link(_name: string, _target: Inode): MaybeAsync<0 | Errno> {
    return this.refuse();
  }

  /** unlink (`dir` false: EISDIR on a directory) or rmdir (`dir` true: ENOTDIR on a non-directory, ENOTEMPTY). */
  unlink(_name: string, _dir: boolean): MaybeAsync<0 | Errno> {
    return this.refuse();
  }

  /**
   * renameat2 of `oldName` here to `newName` in `newDir` (same filesystem),
   * with RENAME_NOREPLACE / RENAME_EXCHANGE in `flags`. The VFS has refused
   * moving a directory below itself (EINVAL).
   */
  rename(_oldName: string, _newDir: Inode, _newName: string, _flags: number): MaybeAsync<0 | Errno> {
    return this.refuse();
  }

  /** An unnamed regular file in this directory (O_TMPFILE), opened; EOPNOTSUPP where the filesystem can't. */
  tmpfile(_flags: number, _perm: number, _owner: NewOwner, _path: string): MaybeAsync<File | Errno> {
    return this.isDir ? EOPNOTSUPP : ENOTDIR;
  }

  // ---- the inode itself ----

  /** chmod, chown, truncate, utimes (permissions checked by the VFS). */
  setattr(_set: SetAttr): MaybeAsync<0 | Errno> {
    return EPERM;
  }

  /** statfs of the filesystem holding this inode. */
  statfs(): MaybeAsync<StatFs | Errno> {
    return emptyStatFs(0);
  }

  /** Write this file's data to stable storage (sync, syncfs). */
  sync(): MaybeAsync<0 | Errno> {
    return 0;
  }

  private refuse(): Errno {
    return this.type === S_IFDIR ? EPERM : ENOTDIR;
  }

  /** On a read-only mount: every change is EROFS (checked by the VFS before permissions, as Linux's mnt_want_write). */
  get readonlyFs(): boolean {
    return false;
  }

  /** Host resources go away; called once by the dentry cache. */
  release(): void {}

  /**
   * A dentry now names this inode (Dentry's constructor calls it). Backend
   * inodes keep it, weakly, to walk to their file again after the cache
   * dropped their node (BackendInode.drop).
   */
  named(_d: Dentry): void {}

  /**
   * Give back what the inode holds only to reach its file quickly (a
   * backend node: an O_PATH fd, a gofer fid); it is walked to again from its
   * dentry when next used. False when the inode holds nothing it can get
   * back (kernel filesystems keep their inodes; a mount's root holds its node
   * for good). The dentry cache calls it for dentries it evicts (dcache.ts).
   */
  drop(): boolean {
    return false;
  }

  /** Would drop() give something back? (the dentry cache bounds only such dentries) */
  get evictable(): boolean {
    return false;
  }

  /**
   * True for inodes of a filesystem that others may change behind the
   * sandbox's back (a "shared" mount): a cached dentry is checked with
   * revalidate() each time a walk reaches it.
   */
  get revalidates(): boolean {
    return false;
  }

  /**
   * May the VFS remember that a name is absent from this directory (a
   * negative dentry)? Only where nothing but the sandbox adds names: an
   * exclusive backend mount (kernel filesystems answer lookups cheaply).
   */
  get cachesNegatives(): boolean {
    return false;
  }

  /** Does the name `name` in directory `dir` still refer to this inode's file? (only asked when `revalidates`) */
  revalidate(_dir: Inode, _name: string): MaybeAsync<boolean> {
    return true;
  }

  /**
   * True for inodes whose identity depends on the caller or changes from one
   * lookup to the next (procfs): the dentry cache never keeps them.
   */
  get volatile(): boolean {
    return false;
  }

  get isDir(): boolean {
    return (this.type & S_IFMT) === S_IFDIR;
  }
}

/** The inode of every negative dentry: a name known to be absent. Nothing opens or stats it (the VFS answers ENOENT first). */
class AbsentInode extends Inode {
  readonly type = 0;
  getattr(): Errno {
    return ENOENT;
  }
  open(): Errno {
    return ENOENT;
  }
  override drop(): boolean {
    return true;
  }
  override get evictable(): boolean {
    return true;
  }
}

const ABSENT = new AbsentInode();

/** Dentries renamed so far (move, exchange): a remembered path() is good while this is unchanged. */
let renames = 0;

/**
 * Releases the inode of a dentry the cache no longer holds (deleted, or
 * evicted) once nothing else refers to the dentry either; an evicted one's
 * entry among its parent's evicted children goes with it.
 */
const releaseWhenUnreachable = new FinalizationRegistry<{ inode: Inode; parent?: Dentry; name?: string; ref?: WeakRef<Dentry> }>((h) => {
  h.inode.release();
  if (h.parent && h.ref) h.parent.forgetEvicted(h.name!, h.ref);
});

export class Dentry {
  private readonly children = new Map<string, Dentry>();
  /**
   * Children the dentry cache evicted (dcache.ts), held weakly: one that
   * something else still holds (an open file, a cwd) is found here again, so
   * a name never has two live dentries; the others are collected.
   */
  private evicted: Map<string, WeakRef<Dentry>> | undefined;
  /** Unlinked (or replaced by a rename): its name is gone, open files and cwds keep it. */
  deleted = false;
  /** The root of a mounted filesystem, attached at this name. */
  mountRoot = false;
  /** Neighbours in the dentry cache's least-recently-used list, and whether the dentry is on it (dcache.ts; nothing else touches them). */
  lruOlder: Dentry | null = null;
  lruNewer: Dentry | null = null;
  onLru = false;
  /** path() without the " (deleted)" mark, as of rename count `pathGen`. */
  private pathMemo = '';
  private pathGen = -1;

  constructor(
    /** Changes only through move() (rename). */
    public name: string,
    /** null only for the root of the guest's namespace. */
    public parent: Dentry | null,
    readonly inode: Inode,
  ) {
    inode.named(this);
  }

  /** A negative dentry under `parent`: `name` is known to be absent (Vfs.lookup answers ENOENT); a creation detaches it. */
  static absent(name: string, parent: Dentry): Dentry {
    return new Dentry(name, parent, ABSENT);
  }

  get negative(): boolean {
    return this.inode === ABSENT;
  }

  /** How many children are cached (strongly) below this dentry: a directory with any is not evicted. */
  get cachedChildren(): number {
    return this.children.size;
  }

  /** The absolute guest path of this dentry (Linux's d_path: " (deleted)" once unlinked). */
  path(): string {
    if (!this.parent) return '/';
    // Remembered until any dentry is renamed (every open asks for its file's path).
    if (this.pathGen !== renames) {
      const parts: string[] = [];
      for (let d: Dentry | null = this; d && d.parent; d = d.parent) parts.push(d.name);
      this.pathMemo = '/' + parts.reverse().join('/');
      this.pathGen = renames;
    }
    return this.deleted ? this.pathMemo + ' (deleted)' : this.pathMemo;
  }

  /** Is `this` `other` or below it? */
  isWithin(other: Dentry): boolean {
    for (let d: Dentry | null = this; d; d = d.parent) if (d === other) return true;
    return false;
  }

  /**
   * The name `name` went away (unlink, rmdir, or replaced by a rename): its
   * dentry is detached and marked deleted. Open files, cwds and magic links
   * that hold it keep working on its inode, whose host resources are
   * released once nothing holds the dentry any more (when it is collected).
   * Its cached children are dropped.
   */
  detach(name: string): void {
    const d = this.take(name);
    if (!d) return;
    d.deleted = true;
    for (const c of d.children.values()) c.releaseTree();
    d.children.clear();
    d.evicted = undefined;
    releaseWhenUnreachable.register(d, { inode: d.inode }, d);
  }

  /** Linux's d_move: the cached child `name` is now `newName` in `newParent`. */
  move(name: string, newParent: Dentry, newName: string): void {
    const d = this.take(name);
    if (!d) return;
    renames++;
    d.name = newName;
    d.parent = newParent;
    newParent.children.set(newName, d);
  }

  /** RENAME_EXCHANGE: the cached children `a` here and `b` in `other` swap names. */
  exchange(a: string, other: Dentry, b: string): void {
    const da = this.take(a);
    const db = other.take(b);
    renames++;
    if (da) {
      da.name = b;
      da.parent = other;
      other.children.set(b, da);
    }
    if (db) {
      db.name = a;
      db.parent = this;
      this.children.set(a, db);
    }
  }

  /** The cached child `name`; one the cache evicted but something still holds is cached again. */
  cached(name: string): Dentry | undefined {
    const d = this.children.get(name);
    if (d || !this.evicted) return d;
    const back = this.evicted.get(name)?.deref();
    if (!back) return undefined;
    this.evicted.delete(name);
    releaseWhenUnreachable.unregister(back);
    this.children.set(name, back);
    return back;
  }

  /** The child `name` out of the cache (strong or evicted), if there is one. */
  private take(name: string): Dentry | undefined {
    const d = this.cached(name);
    if (d) this.children.delete(name);
    return d;
  }

  /**
   * The dentry cache let go of child `d` (its inode already dropped its
   * node): it stays findable through a weak reference while anything else
   * holds it, and its inode is released when it is collected.
   */
  evict(d: Dentry): void {
    if (this.children.get(d.name) !== d) return;
    this.children.delete(d.name);
    if (d.negative) return;
    const ref = new WeakRef(d);
    (this.evicted ??= new Map()).set(d.name, ref);
    releaseWhenUnreachable.register(d, { inode: d.inode, parent: this, name: d.name, ref }, d);
  }

  /** @internal: the evicted child `name` (that weak reference) was collected. */
  forgetEvicted(name: string, ref: WeakRef<Dentry>): void {
    if (this.evicted?.get(name) === ref) this.evicted.delete(name);
  }

  remember(child: Dentry): Dentry {
    this.children.set(child.name, child);
    return child;
  }

  /** Drop the cached child `name` (after unlink or rename), releasing its subtree. */
  forget(name: string): void {
    const d = this.take(name);
    if (!d) return;
    d.releaseTree();
  }

  releaseTree(): void {
    for (const c of this.children.values()) c.releaseTree();
    this.children.clear();
    this.inode.release();
  }
}
