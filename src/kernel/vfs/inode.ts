// Inodes and dentries of the kernel's VFS.
//
// An Inode is one file of some filesystem (a backend node, a procfs entry, a
// device). A Dentry is a name of an inode in the guest's namespace: it knows
// its parent, so `..`, getcwd and /proc/PID/cwd work without asking the host.
//
// Contract: inodes of backend filesystems hold host resources (an O_PATH fd);
// the dentry cache owns them and releases them when a dentry is dropped.

import { EINVAL, ENOTDIR, EOPNOTSUPP, EPERM, Errno } from '../../linux/errno.js';
import { S_IFDIR, S_IFMT } from '../../linux/abi.js';
import type { Attr, SetAttr, StatFs } from '../../backend/backend.js';
import type { File, MaybeAsync } from '../files/file.js';
import type { Blocker } from '../files/blocking.js';

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

/** Releases the inode of a deleted dentry once no open file or cwd refers to the dentry. */
const releaseWhenUnreachable = new FinalizationRegistry<Inode>((inode) => inode.release());

export class Dentry {
  private readonly children = new Map<string, Dentry>();
  /** Unlinked (or replaced by a rename): its name is gone, open files and cwds keep it. */
  deleted = false;
  /** The root of a mounted filesystem, attached at this name. */
  mountRoot = false;

  constructor(
    /** Changes only through move() (rename). */
    public name: string,
    /** null only for the root of the guest's namespace. */
    public parent: Dentry | null,
    readonly inode: Inode,
  ) {}

  /** The absolute guest path of this dentry (Linux's d_path: " (deleted)" once unlinked). */
  path(): string {
    if (!this.parent) return '/';
    const parts: string[] = [];
    for (let d: Dentry | null = this; d && d.parent; d = d.parent) parts.push(d.name);
    return '/' + parts.reverse().join('/') + (this.deleted ? ' (deleted)' : '');
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
    const d = this.children.get(name);
    if (!d) return;
    this.children.delete(name);
    d.deleted = true;
    for (const c of d.children.values()) c.releaseTree();
    d.children.clear();
    releaseWhenUnreachable.register(d, d.inode);
  }

  /** Linux's d_move: the cached child `name` is now `newName` in `newParent`. */
  move(name: string, newParent: Dentry, newName: string): void {
    const d = this.children.get(name);
    if (!d) return;
    this.children.delete(name);
    d.name = newName;
    d.parent = newParent;
    newParent.children.set(newName, d);
  }

  /** RENAME_EXCHANGE: the cached children `a` here and `b` in `other` swap names. */
  exchange(a: string, other: Dentry, b: string): void {
    const da = this.children.get(a);
    const db = other.children.get(b);
    this.children.delete(a);
    other.children.delete(b);
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

  cached(name: string): Dentry | undefined {
    return this.children.get(name);
  }

  remember(child: Dentry): Dentry {
    this.children.set(child.name, child);
    return child;
  }

  /** Drop the cached child `name` (after unlink or rename), releasing its subtree. */
  forget(name: string): void {
    const d = this.children.get(name);
    if (!d) return;
    this.children.delete(name);
    d.releaseTree();
  }

  releaseTree(): void {
    for (const c of this.children.values()) c.releaseTree();
    this.children.clear();
    this.inode.release();
  }
}
