// The open directory of a filesystem that keeps its own entries (tmpfs, and
// the synthetic directories of procfs, devfs and sysfs): one implementation
// of getdents64's position.
//
// Contract:
// - The position is a cookie: 0 at open, then the `next` of the last entry
//   getdents64 used (seekdir). The directory answers "the entries after this
//   cookie"; "." and ".." are cookies 1 and 2, so a cookie also survives
//   entries removed or added meanwhile, as far as the directory's cookies do.
// - lseek(SEEK_SET) moves the cookie (a negative one is EINVAL); other
//   whences are EINVAL here (tmpfs adds SEEK_CUR, tmpfs-dir.ts).
// - read is EISDIR; getattr is the directory's; fsync is File's default
//   (EINVAL), as procfs's directories answer (tmpfs overrides it).

import { EINVAL, EISDIR, Errno } from '../../linux/errno.js';
import { SEEK_SET } from '../../linux/abi.js';
import { File, type MaybeAsync } from '../files/file.js';
import type { Attr, DirEntry } from '../../backend/backend.js';

/** What a directory gives its open files. */
export interface ListedDir {
  getattr(): MaybeAsync<Attr | Errno>;
  /** The entries after `cookie`, at most about `maxBytes` of them (or all: getdents64 keeps what fits). */
  list(cookie: number, maxBytes: number): MaybeAsync<DirEntry[]>;
}

export class DirFile extends File {
  /** The `next` cookie of the last entry returned; 0 before the first. */
  protected cookie = 0;

  constructor(
    private readonly dir: ListedDir,
    flags: number,
    path: string,
  ) {
    super(flags, path);
  }

  override read(): Errno {
    return EISDIR;
  }

  getattr(): MaybeAsync<Attr | Errno> {
    return this.dir.getattr();
  }

  override readdir(maxBytes: number): MaybeAsync<DirEntry[]> {
    return this.dir.list(this.cookie, maxBytes);
  }

  override seekdir(cookie: number): void {
    this.cookie = cookie;
  }

  override lseek(offset: number, whence: number): number | Errno {
    if (whence !== SEEK_SET || offset < 0) return EINVAL;
    return (this.cookie = offset);
  }
}
