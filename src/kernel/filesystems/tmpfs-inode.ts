// What every tmpfs inode has (the fields of struct stat, setattr, the link
// count that frees it), and the inodes with no content of their own:
// symlinks, FIFOs and sockets. Regular files are tmpfs-file.ts's,
// directories tmpfs-dir.ts's.

import { EINVAL, EISDIR, ELOOP, ENXIO, EROFS, Errno } from '../../linux/errno.js';
import * as abi from '../../linux/abi.js';
import type { File, MaybeAsync } from '../files/file.js';
import { Fifo } from '../files/pipe.js';
import { namedPipeOpen } from '../vfs/named-pipe.js';
import { Inode, type NewOwner, type OpenContext } from '../vfs/inode.js';
import type { Owned } from '../vfs/perm.js';
import type { Attr, SetAttr, StatFs } from '../../backend/backend.js';
import type { Tmpfs } from './tmpfs.js';
import type { TmpAttrRecord } from '../checkpoint-records.js';
import { atProcessStart } from '../../bundle/process-start.js';

/** tmpfs's page size: the unit of file data, st_blksize, and statfs's blocks. */
export const PAGE = 4096;

/** The thread's time origin (kept: reading `performance.timeOrigin` calls into Node each time; set again in a process started from a snapshot). */
let TIME_ORIGIN_MS = 0;
atProcessStart(() => (TIME_ORIGIN_MS = performance.timeOrigin));

/** Wall-clock time as [sec, nsec], microsecond-accurate. */
export function now(): [number, number] {
  const ms = TIME_ORIGIN_MS + performance.now();
  const sec = Math.floor(ms / 1000);
  return [sec, Math.floor((ms - sec * 1000) * 1e6)];
}

/** What every tmpfs inode has: the fields of struct stat, kept here. */
export abstract class TmpInode extends Inode {
  readonly ino: bigint;
  mode: number;
  uid: number;
  gid: number;
  nlink = 1;
  atime: [number, number];
  mtime: [number, number];
  ctime: [number, number];

  constructor(
    readonly sb: Tmpfs,
    mode: number,
    owner: NewOwner,
    ino: bigint,
  ) {
    super();
    this.ino = ino;
    this.mode = mode;
    this.uid = owner.uid;
    this.gid = owner.gid;
    this.atime = this.mtime = this.ctime = now();
  }

  get type(): number {
    return this.mode & abi.S_IFMT;
  }

  /** Its own fields are its mode and owner. */
  override owned(): Owned {
    return this;
  }

  override get readonlyFs(): boolean {
    return this.sb.readonly;
  }

  protected get size(): number {
    return 0;
  }

  protected get blocks(): number {
    return 0;
  }

  getattr(): Attr {
    return {
      mode: this.mode,
      ino: this.ino,
      dev: this.sb.dev,
      nlink: this.nlink,
      uid: this.uid,
      gid: this.gid,
      rdev: 0n,
      size: this.size,
      blksize: PAGE,
      blocks: this.blocks,
      atimeSec: this.atime[0],
      atimeNsec: this.atime[1],
      mtimeSec: this.mtime[0],
      mtimeNsec: this.mtime[1],
      ctimeSec: this.ctime[0],
      ctimeNsec: this.ctime[1],
    };
  }

  override setattr(set: SetAttr): 0 | Errno {
    if (this.sb.readonly) return EROFS;
    if (set.size !== undefined) {
      const r = this.truncate(set.size);
      if (r !== 0) return r;
    }
    if (set.uid !== undefined) this.uid = set.uid;
    if (set.gid !== undefined) this.gid = set.gid;
    if (set.mode !== undefined) this.mode = (this.mode & abi.S_IFMT) | (set.mode & 0o7777);
    const t = now();
    if (set.atime !== undefined) this.atime = set.atime === 'now' ? t : set.atime;
    if (set.mtime !== undefined) this.mtime = set.mtime === 'now' ? t : set.mtime;
    this.ctime = t;
    return 0;
  }

  /** truncate: only regular files have a size to change. */
  protected truncate(_size: number): 0 | Errno {
    return this.isDir ? EISDIR : EINVAL;
  }

  override statfs(): StatFs {
    return this.sb.statfs();
  }

  /** Checkpoint: mode, owner and times. */
  saveAttrs(): TmpAttrRecord {
    return { mode: this.mode, uid: this.uid, gid: this.gid, atime: [...this.atime], mtime: [...this.mtime], ctime: [...this.ctime] };
  }

  /** The restore half of saveAttrs (after the inode's contents, whose writes moved its times). */
  restoreAttrs(r: TmpAttrRecord): void {
    this.mode = (this.mode & abi.S_IFMT) | (r.mode & 0o7777);
    this.uid = r.uid;
    this.gid = r.gid;
    this.atime = [r.atime[0], r.atime[1]];
    this.mtime = [r.mtime[0], r.mtime[1]];
    this.ctime = [r.ctime[0], r.ctime[1]];
  }

  touchCtime(): void {
    this.ctime = now();
  }

  /** @internal: one name less; the inode goes when no name and no open file is left. */
  dropLink(): void {
    this.nlink = Math.max(0, this.nlink - 1);
    this.ctime = now();
    if (this.nlink === 0) this.maybeFree();
  }

  /** Release what an inode with no names and no open files holds. */
  protected maybeFree(): void {
    this.sb.freeIno();
  }
}

/** A symlink: a target under 128 bytes lives in the inode, a longer one takes a page (charged). */
export class TmpSymlink extends TmpInode {
  constructor(
    sb: Tmpfs,
    owner: NewOwner,
    ino: bigint,
    private readonly target: string,
    /** The target took a page of its own (charged). */
    private readonly paged: boolean,
  ) {
    super(sb, abi.S_IFLNK | 0o777, owner, ino);
  }

  protected override get size(): number {
    return Buffer.byteLength(this.target);
  }

  protected override get blocks(): number {
    return this.paged ? PAGE / 512 : 0;
  }

  override readlink(): string {
    this.atime = now();
    return this.target;
  }

  /** Checkpoint: the target, without touching atime as readlink does. */
  get savedTarget(): string {
    return this.target;
  }

  open(): Errno {
    return ELOOP; // the VFS follows symlinks before opening; O_NOFOLLOW gets here
  }

  protected override maybeFree(): void {
    if (this.paged) this.sb.unchargePages(1);
    super.maybeFree();
  }
}

/** A named pipe: every open meets the one pipe behind it (files/pipe.ts Fifo). */
export class TmpFifo extends TmpInode {
  private readonly fifo = new Fifo();

  open(flags: number, path: string, ctx?: OpenContext): MaybeAsync<File | Errno> {
    if (this.sb.readonly && (flags & abi.O_ACCMODE) !== abi.O_RDONLY) return EROFS;
    return namedPipeOpen(this.fifo, this, flags, path, ctx);
  }
}

/** A socket file (mknod S_IFSOCK): it names a socket; opening it is ENXIO, as on Linux. */
export class TmpSocket extends TmpInode {
  open(): Errno {
    return ENXIO;
  }
}
