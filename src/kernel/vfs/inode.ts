// Inodes and dentries of the kernel's VFS.
//
// An Inode is one file of some filesystem (a backend node, a procfs entry, a
// device). A Dentry is a name of an inode in the guest's namespace: it knows
// its parent, so `..`, getcwd and /proc/PID/cwd work without asking the host.
//
// Contract: inodes of backend filesystems hold host resources (an O_PATH fd);
// the dentry cache owns them and releases them when a dentry is dropped.

import { EINVAL, ENOTDIR, EPERM, Errno } from '../errno.js';
import { S_IFDIR, S_IFMT } from '../abi.js';
import type { Attr } from './backend.js';
import type { File, MaybeAsync } from '../files/file.js';

export interface Credentials {
  uid: number;
  gid: number;
  groups: number[];
}

/** Who is resolving a path: the pid of the calling process. */
export interface Caller {
  pid: number;
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

  /** Open this inode; `path` is the guest path, for the File's records. */
  abstract open(flags: number, path: string): MaybeAsync<File | Errno>;

  /** Names of a directory's entries are listed through the File that open() returns. */

  /** Create a regular file `name` in this directory and open it. */
  create(_name: string, _flags: number, _mode: number, _cred: Credentials, _path: string): MaybeAsync<File | Errno> {
    return this.type === S_IFDIR ? EPERM : ENOTDIR;
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

export class Dentry {
  private readonly children = new Map<string, Dentry>();

  constructor(
    readonly name: string,
    /** null only for the root of the guest's namespace. */
    readonly parent: Dentry | null,
    readonly inode: Inode,
  ) {}

  /** The absolute guest path of this dentry. */
  path(): string {
    if (!this.parent) return '/';
    const parts: string[] = [];
    for (let d: Dentry | null = this; d && d.parent; d = d.parent) parts.push(d.name);
    return '/' + parts.reverse().join('/');
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
