// Dentries for open files that have no name in any filesystem (pipes, host
// stdio, eventfds...), for procfs's magic links: opening /proc/self/fd/N (or
// /dev/stdin, a symlink to it) of such a file gives that same open file.

import { S_IFMT, S_IFREG } from '../../linux/abi.js';
import { Errno } from '../../linux/errno.js';
import type { File, MaybeAsync } from '../files/file.js';
import type { Attr } from '../../backend/backend.js';
import { Dentry, Inode } from './inode.js';

/**
 * An inode standing for one open file. Contract: open() hands out the open
 * file itself, one more reference (Linux makes a new open file description
 * of the same pipe or terminal; sharing it differs only in the file
 * position and status flags, which pipes and terminals barely have).
 */
class OpenFileInode extends Inode {
  constructor(
    private readonly file: File,
    readonly type: number,
  ) {
    super();
  }

  getattr(): MaybeAsync<Attr | Errno> {
    return this.file.getattr();
  }

  open(): File {
    return this.file.ref();
  }
}

/** A dentry (under `parent`, never cached there) naming the open file `f`, which has no dentry of its own. */
export function anonDentry(f: File, parent: Dentry): Dentry {
  const a = f.getattr();
  const type = a instanceof Promise || a instanceof Errno ? S_IFREG : a.mode & S_IFMT;
  return new Dentry(f.path, parent, new OpenFileInode(f, type));
}
