// Building blocks of the kernel's own filesystems (procfs, devfs): directories
// whose entries are computed, symlinks whose targets are computed, and
// read-only files whose contents are generated when opened (as Linux's
// seq_file does: one snapshot per open).

import { EACCES, EINVAL, EISDIR, ENOENT, Errno } from '../../linux/errno.js';
import { O_ACCMODE, O_RDONLY, S_IFDIR, S_IFLNK, S_IFREG, SEEK_CUR, SEEK_END, SEEK_SET, DT_DIR, dtypeOf } from '../../linux/abi.js';
import { File, type MaybeAsync } from '../files/file.js';
import { Caller, Dentry, Inode } from '../vfs/inode.js';
import { allocIno, makeAttr } from '../vfs/attr.js';
import { DirFile } from './dir-file.js';
import type { Attr, DirEntry } from '../../backend/backend.js';

export class SynthDir extends Inode {
  readonly type = S_IFDIR;
  readonly ino = allocIno();

  /** `entries` is asked afresh on every lookup and listing. */
  constructor(
    private readonly entries: () => Map<string, Inode>,
    private readonly mode = 0o555,
  ) {
    super();
  }

  getattr(): Attr {
    return makeAttr(S_IFDIR | this.mode, { ino: this.ino, nlink: 2 });
  }

  override lookup(name: string): Inode | Errno {
    return this.entries().get(name) ?? ENOENT;
  }

  override get volatile(): boolean {
    return true;
  }

  open(flags: number, path: string): File | Errno {
    if ((flags & O_ACCMODE) !== O_RDONLY) return EISDIR;
    return new DirFile(this, flags, path);
  }

  /**
   * Entries as readdir reports them, "." and ".." first, from the one after
   * `cookie` on. A cookie is a position in the listing as it is now (the
   * entries are computed afresh each time, with no sequence numbers of
   * their own); the whole rest is returned, whatever `_maxBytes`.
   */
  async list(cookie = 0, _maxBytes?: number): Promise<DirEntry[]> {
    const out: DirEntry[] = [
      { name: '.', ino: this.ino, type: DT_DIR, next: 1 },
      { name: '..', ino: this.ino, type: DT_DIR, next: 2 },
    ];
    for (const [name, inode] of this.entries()) {
      const a = await inode.getattr();
      const ino = a instanceof Errno ? 0n : a.ino;
      out.push({ name, ino, type: dtypeOf(inode.type), next: out.length + 1 });
    }
    return out.slice(cookie);
  }
}

export class SynthSymlink extends Inode {
  readonly type = S_IFLNK;
  private readonly ino = allocIno();
  /**
   * `target` may depend on who asks (procfs's "self"). With `magic`, a
   * magic link: resolution goes to the dentry it gives (Inode.followLink).
   */
  constructor(
    private readonly target: (caller?: Caller) => string | Errno,
    private readonly magic?: (caller?: Caller) => Dentry | Errno,
  ) {
    super();
  }
  override followLink(caller?: Caller): Dentry | Errno | undefined {
    return this.magic?.(caller);
  }
  getattr(): Attr | Errno {
    const t = this.target();
    return makeAttr(S_IFLNK | 0o777, { ino: this.ino, size: t instanceof Errno ? 0 : Buffer.byteLength(t) });
  }
  override readlink(caller?: Caller): string | Errno {
    return this.target(caller);
  }
  override get volatile(): boolean {
    return true;
  }
  open(): Errno {
    return ENOENT; // never reached: the VFS follows the link before opening
  }
}

/** A read-only file whose whole content is generated at open. */
export class SynthFile extends Inode {
  readonly type = S_IFREG;
  private readonly ino = allocIno();
  constructor(
    private readonly content: () => string | Uint8Array,
    private readonly mode = 0o444,
  ) {
    super();
  }
  getattr(): Attr {
    return makeAttr(S_IFREG | this.mode, { ino: this.ino });
  }
  override get volatile(): boolean {
    return true;
  }
  open(flags: number, path: string): File | Errno {
    if ((flags & O_ACCMODE) !== O_RDONLY) return EACCES;
    const c = this.content();
    return new SnapshotFile(typeof c === 'string' ? Buffer.from(c, 'utf8') : c, flags, path, this.getattr());
  }
}

/** A seekable read-only view of a byte snapshot. */
export class SnapshotFile extends File {
  private pos = 0;
  constructor(
    private readonly data: Uint8Array,
    flags: number,
    path: string,
    private readonly attr: Attr,
  ) {
    super(flags, path);
  }
  override read(len: number): Uint8Array {
    const out = this.data.subarray(this.pos, this.pos + len);
    this.pos += out.length;
    return out;
  }
  override pread(len: number, offset: number): Uint8Array {
    return this.data.subarray(offset, offset + len);
  }
  override lseek(offset: number, whence: number): number | Errno {
    const base = whence === SEEK_SET ? 0 : whence === SEEK_CUR ? this.pos : whence === SEEK_END ? this.data.length : -1;
    if (base < 0 || base + offset < 0) return EINVAL;
    return (this.pos = base + offset);
  }
  getattr(): MaybeAsync<Attr> {
    return this.attr;
  }
}
