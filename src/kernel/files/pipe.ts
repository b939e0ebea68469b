// Pipes and FIFOs (Linux's fs/pipe.c), as Linux's ring of page buffers.
//
// Contract:
// - A Pipe is a ring of at most `maxSlots` buffers of one page each (16 by
//   default: 64 KiB; F_SETPIPE_SZ resizes it to a power of two of pages). A
//   write first appends the part of its length below a page to the last
//   buffer when that fits there (small writes merge), then fills fresh
//   buffers a page at a time, so a write of at most PIPE_BUF bytes is atomic
//   and the capacity seen by a program matches Linux's byte for byte.
// - Operations never block: an empty pipe with writers reads EAGAIN, a full
//   one writes EAGAIN (or the part that fitted); the system call layer waits
//   on `wq` (files/blocking.ts). Readiness is pipe_poll's: POLLIN when not
//   empty, POLLOUT when a buffer is free, POLLHUP on a read end once every
//   writer is gone, POLLERR on a write end with no reader.
// - Reading an empty pipe without writers gives end of file; writing without
//   readers gives EPIPE (the caller raises SIGPIPE).
// - Every write wakes readers (even an edge-triggered epoll sees each write,
//   as since Linux 5.16); a read wakes writers when it frees a full ring.
// - Packet mode (O_DIRECT on the file doing the operation): each write makes
//   its own buffers, each read returns one buffer and discards what did not fit.

import { EAGAIN, EBUSY, EINTR, EINVAL, ENXIO, EPERM, EPIPE, Errno } from '../../linux/errno.js';
import * as abi from '../../linux/abi.js';
import { File, MaybeAsync } from './file.js';
import { WaitQueue } from './waitqueue.js';
import { Blocker, waitUntil, Wake } from './blocking.js';
import { allocIno, makeAttr } from '../vfs/attr.js';
import type { Attr } from '../../backend/backend.js';
import type { FileRecord, FileSaveContext, PipeRecord } from '../checkpoint-records.js';

const PAGE = 4096;
/** Default ring: 16 pages (Linux's PIPE_DEF_BUFFERS). */
export const PIPE_DEF_SLOTS = 16;
/** /proc/sys/fs/pipe-max-size: the most an unprivileged F_SETPIPE_SZ may ask. */
export const PIPE_MAX_SIZE = 1 << 20;

interface PipeBuf {
  page: Uint8Array;
  off: number;
  len: number;
  /** Later small writes may append here (not for packets or spliced pages). */
  mergeable: boolean;
}

const ALL_EVENTS = abi.POLLIN | abi.POLLRDNORM | abi.POLLOUT | abi.POLLWRNORM | abi.POLLERR | abi.POLLHUP;

export class Pipe {
  readonly wq = new WaitQueue();
  private readonly bufs: PipeBuf[] = [];
  /** Emptied pages kept for the next writes (a streaming pipe allocates nothing). */
  private readonly spare: Uint8Array[] = [];
  private maxSlots = PIPE_DEF_SLOTS;
  private bytes = 0;
  readers = 0;
  writers = 0;
  /** Opens for reading/writing ever made (fifo_open's r_counter/w_counter). */
  rCounter = 0;
  wCounter = 0;
  readonly ino = allocIno();
  private readonly ctime = Date.now();

  /** @param owner the creator's fsuid/fsgid, which fstat reports (pipefs inodes belong to their creator). */
  constructor(private readonly owner = { uid: 0, gid: 0 }) {}

  get empty(): boolean {
    return this.bufs.length === 0;
  }

  get full(): boolean {
    return this.bufs.length >= this.maxSlots;
  }

  /** Bytes waiting to be read (FIONREAD). */
  get size(): number {
    return this.bytes;
  }

  /** Bytes a write could put in free buffers now (whole pages). */
  get room(): number {
    return (this.maxSlots - this.bufs.length) * PAGE;
  }

  /** F_GETPIPE_SZ. */
  get capacity(): number {
    return this.maxSlots * PAGE;
  }

  /**
   * Read up to `len` bytes: EAGAIN when empty with writers, an empty array at
   * end of file. `packet`: one buffer at most, its unread rest discarded.
   */
  read(len: number, packet: boolean): Uint8Array | Errno {
    if (this.empty) return this.writers > 0 ? EAGAIN : new Uint8Array(0);
    return this.take(len, packet, true);
  }

  /** Copy up to `len` bytes without consuming them (tee). */
  peek(len: number): Uint8Array {
    return this.take(len, false, false);
  }

  private take(len: number, packet: boolean, consume: boolean): Uint8Array {
    const wasFull = this.full;
    const out = new Uint8Array(Math.min(len, this.bytes));
    let got = 0;
    let i = 0;
    while (got < out.length && i < this.bufs.length) {
      const b = this.bufs[i];
      const n = Math.min(b.len, out.length - got);
      out.set(b.page.subarray(b.off, b.off + n), got);
      got += n;
      if (!consume) {
        i++;
        continue;
      }
      b.off += n;
      b.len -= n;
      this.bytes -= n;
      if (packet) {
        this.bytes -= b.len;
        b.len = 0;
      }
      if (b.len === 0) {
        this.bufs.shift();
        if (this.spare.length < 4) this.spare.push(b.page);
      }
      if (packet) break;
    }
    if (consume && wasFull && !this.full) this.wq.notify(abi.POLLOUT | abi.POLLWRNORM);
    return got === out.length ? out : out.subarray(0, got);
  }

  /** Write what fits of `data` now: the count, EAGAIN when nothing fits, EPIPE without readers. */
  write(data: Uint8Array, packet: boolean, mergeable = true): number | Errno {
    if (this.readers === 0) return EPIPE;
    if (data.length === 0) return 0;
    let pos = 0;
    const chars = data.length & (PAGE - 1);
    const last = this.bufs[this.bufs.length - 1];
    if (chars && !packet && last && last.mergeable && last.off + last.len + chars <= PAGE) {
      last.page.set(data.subarray(0, chars), last.off + last.len);
      last.len += chars;
      pos = chars;
    }
    while (pos < data.length && !this.full) {
      const n = Math.min(PAGE, data.length - pos);
      const page = this.spare.pop() ?? new Uint8Array(PAGE);
      page.set(data.subarray(pos, pos + n));
      this.bufs.push({ page, off: 0, len: n, mergeable: mergeable && !packet });
      pos += n;
    }
    if (pos === 0) return EAGAIN;
    this.bytes += pos;
    this.wq.notify(abi.POLLIN | abi.POLLRDNORM);
    return pos;
  }

  /**
   * F_SETPIPE_SZ: a ring of `size` bytes rounded up to a power of two of
   * pages; EBUSY if the data wouldn't fit, EPERM past pipe-max-size without
   * CAP_SYS_RESOURCE. Returns the new capacity.
   */
  resize(size: number, privileged: boolean): number | Errno {
    if (size < 0 || size > 2 ** 31) return EINVAL;
    let bytes = PAGE;
    while (bytes < size) bytes *= 2;
    const slots = bytes / PAGE;
    if (slots > this.maxSlots && bytes > PIPE_MAX_SIZE && !privileged) return EPERM;
    if (slots < this.bufs.length) return EBUSY;
    const grew = slots > this.maxSlots;
    this.maxSlots = slots;
    if (grew) this.wq.notify(abi.POLLOUT | abi.POLLWRNORM);
    return this.capacity;
  }

  /** An end opened (FIFO) or made (pipe2). */
  attach(read: boolean, write: boolean): void {
    if (read) {
      this.readers++;
      this.rCounter++;
    }
    if (write) {
      this.writers++;
      this.wCounter++;
    }
    this.wq.notify(ALL_EVENTS);
  }

  /** An end's last reference went away: wake everyone (EOF, EPIPE, POLLHUP, POLLERR). */
  detach(read: boolean, write: boolean): void {
    if (read) this.readers--;
    if (write) this.writers--;
    this.wq.notify(ALL_EVENTS);
  }

  /** Checkpoint: the ring's size and unread bytes (the ends are saved by their files). */
  save(): PipeRecord {
    return { maxSlots: this.maxSlots, data: Buffer.from(this.peek(this.bytes)).toString('base64'), owner: { ...this.owner } };
  }

  /**
   * Restore: a pipe with no ends yet (PipeFile.restore attaches them) holding
   * `rec`'s bytes, in whole pages: the boundaries of the saved buffers are
   * not kept, so later small writes may merge where they would not have.
   */
  static restore(rec: PipeRecord): Pipe {
    const p = new Pipe(rec.owner);
    p.maxSlots = rec.maxSlots;
    const data = Buffer.from(rec.data, 'base64');
    for (let pos = 0; pos < data.length; pos += PAGE) {
      const page = new Uint8Array(PAGE);
      const n = Math.min(PAGE, data.length - pos);
      page.set(data.subarray(pos, pos + n));
      p.bufs.push({ page, off: 0, len: n, mergeable: true });
    }
    p.bytes = data.length;
    return p;
  }

  attr(): Attr {
    const sec = Math.floor(this.ctime / 1000);
    const nsec = (this.ctime % 1000) * 1e6;
    return makeAttr(abi.S_IFIFO | 0o600, { ino: this.ino, uid: this.owner.uid, gid: this.owner.gid, blksize: PAGE, atimeSec: sec, atimeNsec: nsec, mtimeSec: sec, mtimeNsec: nsec, ctimeSec: sec, ctimeNsec: nsec });
  }
}

/** One open end of a pipe or FIFO (O_RDONLY, O_WRONLY, or O_RDWR for a FIFO). */
export class PipeFile extends File {
  private readonly isReader: boolean;
  private readonly isWriter: boolean;

  /**
   * @param hupAfter pipe_poll's f_version: a read end reports POLLHUP only once
   *   the pipe's writer count has moved past this (a FIFO reader opened with
   *   no writer doesn't see a hang-up before one came and went).
   */
  constructor(
    readonly pipe: Pipe,
    flags: number,
    path: string,
    private readonly hupAfter = -1,
  ) {
    super(flags, path);
    this.isReader = this.readable;
    this.isWriter = this.writable;
    pipe.attach(this.isReader, this.isWriter);
  }

  private get packet(): boolean {
    return (this.flags & abi.O_DIRECT) !== 0;
  }

  override read(len: number): Uint8Array | Errno {
    return this.pipe.read(len, this.packet);
  }

  override write(data: Uint8Array): number | Errno {
    return this.pipe.write(data, this.packet);
  }

  override pollEvents(): number {
    const p = this.pipe;
    let mask = 0;
    if (this.isReader) {
      if (!p.empty) mask |= abi.POLLIN | abi.POLLRDNORM;
      if (p.writers === 0 && p.wCounter !== this.hupAfter) mask |= abi.POLLHUP;
    }
    if (this.isWriter) {
      if (!p.full) mask |= abi.POLLOUT | abi.POLLWRNORM;
      if (p.readers === 0) mask |= abi.POLLERR;
    }
    return mask;
  }

  override get waitQueue(): WaitQueue {
    return this.pipe.wq;
  }

  override readableBytes(): number {
    return this.pipe.size;
  }

  getattr(): Attr {
    return this.pipe.attr();
  }

  protected override release(): void {
    this.pipe.detach(this.isReader, this.isWriter);
  }

  override save(c: FileSaveContext): FileRecord {
    return { kind: 'pipe', pipe: c.pipe(this.pipe), flags: this.flags, path: this.path, hupAfter: this.hupAfter };
  }

  /** The restore half of save(): an end of `pipe` (attached as it is made). */
  static restore(rec: Extract<FileRecord, { kind: 'pipe' }>, pipe: Pipe): PipeFile {
    return new PipeFile(pipe, rec.flags, rec.path, rec.hupAfter);
  }
}

/** pipe2(2): a new pipe's read and write ends with `flags` (O_NONBLOCK, O_DIRECT; O_CLOEXEC is the fd's). */
export function makePipe(flags: number, owner?: { uid: number; gid: number }): [PipeFile, PipeFile] {
  const p = new Pipe(owner);
  const status = flags & (abi.O_NONBLOCK | abi.O_DIRECT);
  const name = `pipe:[${p.ino}]`;
  return [new PipeFile(p, abi.O_RDONLY | status, name), new PipeFile(p, abi.O_WRONLY | status, name)];
}

/**
 * A named pipe's open semantics (fifo_open), for the FIFO inode (mknod
 * S_IFIFO) to call from its open():
 * - O_RDONLY waits until a writer opens unless O_NONBLOCK (then it succeeds at once);
 * - O_WRONLY waits until a reader opens; with O_NONBLOCK and no reader: ENXIO;
 * - O_RDWR never waits.
 * The pipe lives while some end is open; when the last end closes, unread data
 * goes with it. With `b`, a wait ends with EINTR on a signal; without it, the
 * open waits uninterruptibly.
 */
export class Fifo {
  private pipe: Pipe | null = null;

  open(flags: number, path: string, b?: Blocker): MaybeAsync<PipeFile | Errno> {
    const acc = flags & abi.O_ACCMODE;
    if (acc === abi.O_ACCMODE) return EINVAL;
    const nonblock = (flags & abi.O_NONBLOCK) !== 0;
    if (acc === abi.O_WRONLY && nonblock && (!this.pipe || this.pipe.readers === 0)) return ENXIO;
    const p = this.current();
    // A nonblocking reader that finds no writer sees no POLLHUP until one has come and gone.
    const f = new PipeFile(p, flags, path, acc === abi.O_RDONLY && nonblock && p.writers === 0 ? p.wCounter : -1);
    if (acc === abi.O_RDWR || nonblock) return f;
    const partnerMissing = () => (acc === abi.O_RDONLY ? p.writers === 0 : p.readers === 0);
    if (!partnerMissing()) return f;
    // Wait for the partner counter to move (a partner that opened and closed again counts).
    const counter = () => (acc === abi.O_RDONLY ? p.wCounter : p.rCounter);
    const start = counter();
    const moved = () => counter() !== start;
    const blocker: Blocker = b ?? { onInterrupt: () => {}, signalPending: () => false, alive: () => true, sigpipe: () => {} };
    return waitUntil(blocker, [{ queue: p.wq, mask: abi.POLLIN | abi.POLLOUT }], moved, null).then((w) => {
      if (w === Wake.Ready) return f;
      void f.unref();
      return EINTR;
    });
  }

  /** The pipe behind this FIFO, made on first open (or after every end closed). */
  private current(): Pipe {
    if (!this.pipe || (this.pipe.readers === 0 && this.pipe.writers === 0)) this.pipe = new Pipe();
    return this.pipe;
  }
}
