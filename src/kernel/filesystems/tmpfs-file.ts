// tmpfs regular files: their data and their open files.
//
// Contract:
// - File data is kept in 4 KiB pages, made on first write (a truncate up or a
//   write past the end leaves a hole that reads as zeros and costs nothing).
//   Every page is charged to the mount (Tmpfs.chargePages: the memory
//   account and size=); a file's pages go back when its last name and its
//   last open file are gone, and on a truncate below them.
// - A page is a frame of the sandbox's frame pool (src/kernel/frames.ts,
//   the memory shared mappings use), held by one reference of the file and
//   charged once, by chargePages (the allocator is handed an account that
//   charges nothing). A freed frame is zeroed and reused by the next page
//   anyone allocates, so a file written, deleted and written again costs no
//   new host memory and no garbage: the pool's memory the host committed
//   is the high-water mark of what was charged, never more than the
//   sandbox's memory limit (docs/FILES.md, "tmpfs pages from the frame pool").
// - Reads and writes are synchronous (the hot path: no Promise per call).
// - Seals (fcntl F_ADD_SEALS, memfd_create's MFD_ALLOW_SEALING) are kept
//   here and enforced by write, truncate and allocate: F_SEAL_WRITE and
//   F_SEAL_FUTURE_WRITE refuse writes, F_SEAL_GROW any change past the
//   size (a write stops at the first page chunk that would grow the file),
//   F_SEAL_SHRINK a smaller size, F_SEAL_EXEC a change of the execute
//   bits; each with EPERM. A file not made by
//   memfd_create(MFD_ALLOW_SEALING) carries F_SEAL_SEAL: it takes no seals.
//   mmap refuses writable shared mappings of a write-sealed file
//   (syscalls/mm.ts); fcntl refuses F_SEAL_WRITE while one exists
//   (syscalls/fcntl.ts).

import { EFBIG, EINVAL, ENOSPC, ENXIO, EPERM, EROFS, Errno, isErrno } from '../../linux/errno.js';
import { Unsupported, type FileRecord } from '../checkpoint-records.js';
import * as abi from '../../linux/abi.js';
import { File } from '../files/file.js';
import type { FdInodeOps, Inode } from '../vfs/inode.js';
import type { Attr, SetAttr } from '../../backend/backend.js';
import { now, PAGE, TmpInode } from './tmpfs-inode.js';
import { type FrameAccount, FrameAllocator } from '../frames.js';
import { AS_DOUBLE } from '../../vcpu/state.js';

/** Largest file size (MAX_LFS_FILESIZE is larger; a JS number indexes bytes exactly up to here). */
const MAX_FILE_SIZE = Number.MAX_SAFE_INTEGER;

/** What a hole reads as (never written). */
const ZERO_PAGE = new Uint8Array(PAGE);

/** What the frame allocator charges for a file's page: nothing, chargePages did (see the file comment). */
const CHARGED: FrameAccount = { charge: () => true, uncharge: () => undefined };

/** Bytes [from, to) of frame `frame` of this thread's pool (a view, not a copy). */
function frameBytes(frame: number, from: number, to: number): Uint8Array {
  const base = frame * PAGE;
  return FrameAllocator.local().pool.u8.subarray(base + from, base + to);
}

/** A regular file: its pages, its size, and how many open files keep it alive. */
export class TmpFile extends TmpInode {
  /** Page index → the frame holding its 4 KiB; absent pages are holes (zeros). */
  private readonly data = new Map<number, number>();
  /** The size: a double from the start (src/kernel/task.ts, AS_DOUBLE), as write offsets come from registers. */
  private bytes = AS_DOUBLE;
  /** Open files of this inode: its pages stay while one is open, even with no name left. */
  private opens = 0;
  /** O_TMPFILE without O_EXCL: linkat may give it a name. */
  linkable = false;
  /** F_SEAL_* bits in force (see the file comment). */
  seals = abi.F_SEAL_SEAL;

  constructor(...args: ConstructorParameters<typeof TmpInode>) {
    super(...args);
    this.bytes = 0;
  }

  protected override get size(): number {
    return this.bytes;
  }

  protected override get blocks(): number {
    return this.data.size * (PAGE / 512);
  }

  /** An open file of this inode (also what create and O_TMPFILE return). */
  openFile(flags: number, path: string): File | Errno {
    if ((flags & abi.O_ACCMODE) === abi.O_ACCMODE) return EINVAL;
    const writes = (flags & abi.O_ACCMODE) !== abi.O_RDONLY || (flags & abi.O_TRUNC) !== 0;
    if (writes && this.sb.readonly) return EROFS;
    if (flags & abi.O_TRUNC && (flags & abi.O_ACCMODE) !== abi.O_RDONLY) {
      const r = this.truncate(0);
      if (r !== 0) return r;
      this.mtime = this.ctime = now();
    }
    this.opens++;
    return new TmpOpenFile(this, flags & ~(abi.O_CREAT | abi.O_EXCL | abi.O_TRUNC | abi.O_NOCTTY), path);
  }

  open(flags: number, path: string): File | Errno {
    return this.openFile(flags, path);
  }

  /** @internal: an open file of this inode was released. */
  closed(): void {
    this.opens--;
    if (this.nlink === 0) this.maybeFree();
  }

  protected override maybeFree(): void {
    if (this.nlink > 0 || this.opens > 0) return;
    const alloc = FrameAllocator.local();
    for (const frame of this.data.values()) alloc.unref(frame, CHARGED);
    this.sb.unchargePages(this.data.size);
    this.data.clear();
    this.bytes = 0;
    super.maybeFree();
  }

  read(len: number, offset: number): Uint8Array {
    const out = new Uint8Array(Math.max(0, Math.min(this.bytes, offset + len) - offset));
    this.readTo(len, offset, (bytes, pos) => out.set(bytes, pos));
    return out;
  }

  /** The bytes of [offset, offset+len) up to the end, handed to `put` page by page (File.readTo); the count. */
  readTo(len: number, offset: number, put: (bytes: Uint8Array, pos: number) => void): number {
    const end = Math.min(this.bytes, offset + len);
    if (end <= offset) return 0;
    for (let pos = offset; pos < end; ) {
      const idx = Math.floor(pos / PAGE);
      const inPage = pos - idx * PAGE;
      const n = Math.min(PAGE - inPage, end - pos);
      const frame = this.data.get(idx);
      put(frame !== undefined ? frameBytes(frame, inPage, inPage + n) : ZERO_PAGE.subarray(0, n), pos - offset);
      pos += n;
    }
    this.atime = now();
    return end - offset;
  }

  /** Checkpoint: the file's bytes (holes as zeros), base64. */
  saveData(): string {
    const out = Buffer.alloc(this.bytes);
    for (const [idx, frame] of this.data) out.set(frameBytes(frame, 0, Math.min(PAGE, this.bytes - idx * PAGE)), idx * PAGE);
    return out.toString('base64');
  }

  /** F_SEAL_EXEC keeps the execute bits as they are (EPERM), as Linux's shmem_setattr. */
  override setattr(set: SetAttr): 0 | Errno {
    if (set.mode !== undefined && this.seals & abi.F_SEAL_EXEC && (set.mode ^ this.mode) & 0o111) return EPERM;
    return super.setattr(set);
  }

  /** The restore half of saveData, into this empty file: ENOSPC past the mount's size or the memory cap. */
  restoreData(b64: string): 0 | Errno {
    const bytes = Buffer.from(b64, 'base64');
    if (bytes.length === 0) return 0;
    const n = this.write(bytes, 0);
    return isErrno(n) ? n : n === bytes.length ? 0 : ENOSPC;
  }

  /**
   * Write at `offset`: the count written (short when the space ran out part
   * way, or at F_SEAL_GROW), or ENOSPC/EFBIG/EROFS/EPERM. `writeback`: the
   * page cache writing back a mapping's stores, which write seals do not stop.
   */
  write(src: Uint8Array, offset: number, writeback = false): number | Errno {
    return this.writeFrom(src.length, offset, (dst, pos) => dst.set(src.subarray(pos, pos + dst.length)), writeback);
  }

  /** write() of `len` bytes that `get` copies into the file's pages (File.writeFrom). */
  writeFrom(len: number, offset: number, get: (dst: Uint8Array, pos: number) => void, writeback = false): number | Errno {
    if (this.sb.readonly) return EROFS;
    if (!writeback && this.seals & (abi.F_SEAL_WRITE | abi.F_SEAL_FUTURE_WRITE)) return EPERM;
    if (offset + len > MAX_FILE_SIZE) return EFBIG;
    let done = 0;
    while (done < len) {
      const pos = offset + done;
      const idx = Math.floor(pos / PAGE);
      const inPage = pos - idx * PAGE;
      const n = Math.min(PAGE - inPage, len - done);
      // Linux checks F_SEAL_GROW per page chunk: the chunks before the one growing the file are written.
      if (this.seals & abi.F_SEAL_GROW && pos + n > this.bytes) {
        if (done === 0) return EPERM;
        break;
      }
      let frame = this.data.get(idx);
      if (frame === undefined) {
        frame = this.newPage();
        if (frame < 0) break;
        this.data.set(idx, frame);
      }
      get(frameBytes(frame, inPage, inPage + n), done);
      done += n;
    }
    if (done === 0 && len > 0) return ENOSPC;
    if (offset + done > this.bytes) this.bytes = offset + done;
    this.mtime = this.ctime = now();
    // Linux's file_remove_privs: a write by anyone clears set-user-ID (and group-exec'd set-group-ID).
    if (this.mode & (abi.S_ISUID | abi.S_ISGID)) this.mode &= ~(abi.S_ISUID | ((this.mode & 0o010) ? abi.S_ISGID : 0));
    return done;
  }

  /** A zeroed frame for a new page, charged to the mount; -1 when the mount, the account or the pool is full. */
  private newPage(): number {
    if (!this.sb.chargePages(1)) return -1;
    const frame = FrameAllocator.local().alloc(CHARGED);
    if (frame < 0) this.sb.unchargePages(1);
    return frame;
  }

  protected override truncate(size: number): 0 | Errno {
    if (!Number.isSafeInteger(size) || size < 0) return EINVAL;
    if (size > MAX_FILE_SIZE) return EFBIG;
    if ((size < this.bytes && this.seals & abi.F_SEAL_SHRINK) || (size > this.bytes && this.seals & abi.F_SEAL_GROW)) return EPERM;
    if (size < this.bytes) {
      const keep = Math.ceil(size / PAGE);
      const alloc = FrameAllocator.local();
      let freed = 0;
      for (const [idx, frame] of [...this.data]) {
        if (idx >= keep) {
          this.data.delete(idx);
          alloc.unref(frame, CHARGED);
          freed++;
        }
      }
      this.sb.unchargePages(freed);
      // The tail of the last kept page must read as zeros if the file grows again.
      const last = this.data.get(keep - 1);
      if (last !== undefined && size % PAGE !== 0) frameBytes(last, size % PAGE, PAGE).fill(0);
    }
    this.bytes = size;
    this.mtime = this.ctime = now();
    return 0;
  }

  /** fallocate mode 0: pages for [offset, offset+len), the size grown to cover them. */
  allocate(offset: number, len: number): 0 | Errno {
    if (this.sb.readonly) return EROFS;
    const end = offset + len;
    if (end > MAX_FILE_SIZE) return EFBIG;
    if (this.seals & abi.F_SEAL_GROW && end > this.bytes) return EPERM;
    // Count first (over the pages that exist, never over the range: it may be huge), charge, then fill.
    const first = Math.floor(offset / PAGE);
    const last = Math.ceil(end / PAGE); // exclusive
    let present = 0;
    for (const idx of this.data.keys()) if (idx >= first && idx < last) present++;
    const missing = last - first - present;
    if (missing > FrameAllocator.local().available || !this.sb.chargePages(missing)) return ENOSPC;
    for (let idx = first; idx < last; idx++) if (!this.data.has(idx)) this.data.set(idx, FrameAllocator.local().alloc(CHARGED));
    if (end > this.bytes) this.bytes = end;
    this.ctime = now();
    return 0;
  }

  /** First data byte at or after `offset` (SEEK_DATA) or first hole (SEEK_HOLE); ENXIO past the end. */
  seekData(offset: number, hole: boolean): number | Errno {
    if (offset >= this.bytes) return ENXIO;
    const start = Math.floor(offset / PAGE);
    if (hole) {
      // Walk the run of pages present from here (at most every page there is).
      let idx = start;
      while (this.data.has(idx)) idx++;
      return Math.min(this.bytes, Math.max(offset, idx * PAGE));
    }
    let best = Infinity;
    for (const idx of this.data.keys()) if (idx >= start && idx < best) best = idx;
    const pos = Math.max(offset, best * PAGE);
    return pos < this.bytes ? pos : ENXIO;
  }
}

/** The seals of the file `f` opens: undefined when it is not a tmpfs regular file (no seals: fcntl says EINVAL). */
export function sealsOf(f: File): number | undefined {
  return f instanceof TmpOpenFile ? f.inode.seals : undefined;
}

/** An open regular file of a tmpfs. */
export class TmpOpenFile extends File implements FdInodeOps {
  /** The file position: a double from the start (src/kernel/task.ts, AS_DOUBLE), as lseek's offsets come from registers. */
  private pos = AS_DOUBLE;

  constructor(
    readonly inode: TmpFile,
    flags: number,
    path: string,
  ) {
    super(flags, path);
    this.pos = 0;
  }

  override read(len: number): Uint8Array {
    const out = this.inode.read(len, this.pos);
    this.pos += out.length;
    return out;
  }

  override pread(len: number, offset: number): Uint8Array {
    return this.inode.read(len, offset);
  }

  override readTo(len: number, offset: number | null, put: (bytes: Uint8Array, pos: number) => void): number {
    if (offset !== null) return this.inode.readTo(len, offset, put);
    const n = this.inode.readTo(len, this.pos, put);
    this.pos += n;
    return n;
  }

  override write(data: Uint8Array): number | Errno {
    return this.writeFrom(data.length, null, (dst, pos) => dst.set(data.subarray(pos, pos + dst.length)));
  }

  override pwrite(data: Uint8Array, offset: number): number | Errno {
    return this.writeFrom(data.length, offset, (dst, pos) => dst.set(data.subarray(pos, pos + dst.length)));
  }

  override writeFrom(len: number, offset: number | null, get: (dst: Uint8Array, pos: number) => void): number | Errno {
    // Linux: pwrite on an O_APPEND file appends, whatever the offset.
    if (this.flags & abi.O_APPEND) {
      const end = this.inode.getattr().size;
      if (offset === null) this.pos = end;
      else offset = end;
    }
    const n = this.inode.writeFrom(len, offset ?? this.pos, get);
    if (offset === null && typeof n === 'number') this.pos += n;
    return n;
  }

  override lseek(offset: number, whence: number): number | Errno {
    let next: number | Errno;
    switch (whence) {
      case abi.SEEK_SET:
        next = offset;
        break;
      case abi.SEEK_CUR:
        next = this.pos + offset;
        break;
      case abi.SEEK_END:
        next = this.inode.getattr().size + offset;
        break;
      case abi.SEEK_DATA:
      case abi.SEEK_HOLE:
        if (offset < 0) return ENXIO;
        next = this.inode.seekData(offset, whence === abi.SEEK_HOLE);
        break;
      default:
        return EINVAL;
    }
    if (next instanceof Errno) return next;
    if (next < 0) return EINVAL;
    return (this.pos = next);
  }

  getattr(): Attr {
    return this.inode.getattr();
  }

  override fsync(): 0 {
    return 0;
  }

  fdSetattr(set: SetAttr): 0 | Errno {
    return this.inode.setattr(set);
  }

  fdAllocate(offset: number, len: number): 0 | Errno {
    return this.inode.allocate(offset, len);
  }

  fdInode(): Inode {
    return this.inode;
  }

  protected override release(): void {
    this.inode.closed();
  }

  /** Checkpoint: saved by path (the tmpfs's contents are saved with its mount) with its flags and position. */
  override save(): FileRecord {
    if (!this.dentry || this.dentry.deleted || this.inode.nlink === 0) throw new Unsupported(`an open tmpfs file that was deleted (${this.path})`);
    return { kind: 'path', path: this.dentry.path(), flags: this.flags, pos: this.pos };
  }
}
