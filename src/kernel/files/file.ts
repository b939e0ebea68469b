// An open file description (Linux's struct file): what an fd refers to.
//
// Contract (docs/ARCHITECTURE.md, convention 6): every operation has Linux's default here (read of
// a file that can't be read → EBADF/EINVAL, lseek → ESPIPE, ioctl → ENOTTY,
// getdents → ENOTDIR); file types override only what they do. Files see bytes,
// never guest addresses: the system call layer copies in and out.
// Operations may complete later (a Promise): the calling thread then blocks
// without holding its vCPU.

import { EBADF, EINVAL, ENOTDIR, ENOTTY, ESPIPE, Errno } from '../../linux/errno.js';
import { O_ACCMODE, O_RDONLY, O_WRONLY, O_RDWR, O_PATH, O_NONBLOCK, POLLIN, POLLOUT, POLLRDNORM, POLLWRNORM } from '../../linux/abi.js';
import type { WaitQueue } from './waitqueue.js';
import type { Attr, DirEntry } from '../../backend/backend.js';
import type { Dentry } from '../vfs/inode.js';
import type { UserMemory } from '../usercopy.js';
import { Unsupported, type FileRecord, type FileSaveContext } from '../checkpoint-records.js';

export type MaybeAsync<T> = T | Promise<T>;

/** A terminal's ioctls (src/kernel/tty): `cmd` and `arg` as the guest passed them, `user` for the argument's memory. */
export interface TerminalOps {
  ioctl(cmd: number, arg: number, user: UserMemory): MaybeAsync<number | Errno>;
}

/** What poll reports for a file without a poll method (Linux's DEFAULT_POLLMASK): always ready. */
export const DEFAULT_POLLMASK = POLLIN | POLLOUT | POLLRDNORM | POLLWRNORM;

export abstract class File {
  /** O_ACCMODE bits and status flags (O_APPEND, O_NONBLOCK...) as F_GETFL reports them. */
  flags: number;
  /** The guest path this file was opened by, for /proc/PID/fd and strace. */
  path: string;
  /** The name it was opened by, for *at() calls relative to a directory fd and fchdir. */
  dentry?: Dentry;
  private refs = 1;
  private releaseHooks?: Set<() => void>;

  constructor(flags: number, path: string) {
    this.flags = flags;
    this.path = path;
  }

  get readable(): boolean {
    const acc = this.flags & O_ACCMODE;
    return (this.flags & O_PATH) === 0 && (acc === O_RDONLY || acc === O_RDWR);
  }

  get writable(): boolean {
    const acc = this.flags & O_ACCMODE;
    return (this.flags & O_PATH) === 0 && (acc === O_WRONLY || acc === O_RDWR);
  }

  /** Read at most `len` bytes at the file position (advancing it). */
  read(_len: number): MaybeAsync<Uint8Array | Errno> {
    return EINVAL;
  }

  /** Write `data` at the file position (or the end, with O_APPEND); the count written. */
  write(_data: Uint8Array): MaybeAsync<number | Errno> {
    return EINVAL;
  }

  /** Does a zero-length write(2) reach write()? Only where it means something (an empty datagram); otherwise it returns 0 at once. */
  get writesEmpty(): boolean {
    return false;
  }

  pread(_len: number, _offset: number): MaybeAsync<Uint8Array | Errno> {
    return ESPIPE;
  }

  pwrite(_data: Uint8Array, _offset: number): MaybeAsync<number | Errno> {
    return ESPIPE;
  }

  /**
   * The copy-free forms of read/pread and write/pwrite, for files whose data
   * is in the kernel's memory and never waits (tmpfs; and /dev/null and
   * /dev/zero, whose writeFrom discards without asking): the bytes go straight
   * between the file's pages and the caller's buffer, with no intermediate
   * copy. `offset` null: at the file position (advancing it; the end with
   * O_APPEND for writes), as read and write; else as pread and pwrite.
   * readTo hands `put` the bytes at (offset + pos), as views valid only during
   * the call (a hole as zeros), and returns the count read; writeFrom asks
   * `get` to fill `dst` with the caller's bytes at `pos` and returns what
   * write would. The caller has checked that its buffer is accessible.
   * Absent on files without such data: use read/pread/write/pwrite.
   */
  readTo?(len: number, offset: number | null, put: (bytes: Uint8Array, pos: number) => void): number | Errno;
  writeFrom?(len: number, offset: number | null, get: (dst: Uint8Array, pos: number) => void): number | Errno;

  /** New file position per SEEK_*. */
  lseek(_offset: number, _whence: number): MaybeAsync<number | Errno> {
    return ESPIPE;
  }

  abstract getattr(): MaybeAsync<Attr | Errno>;

  /** Directory entries from the current position, at most about `maxBytes` worth. */
  readdir(_maxBytes: number): MaybeAsync<DirEntry[] | Errno> {
    return ENOTDIR;
  }

  /** Move a directory's position past the entries returned (their `next` cookie). */
  seekdir(_cookie: number): void {}

  fsync(): MaybeAsync<0 | Errno> {
    return EINVAL;
  }

  /** Terminal behaviour, when this file is a terminal; ioctls get ENOTTY otherwise. */
  terminal(): TerminalOps | Errno {
    return ENOTTY;
  }

  /** Bytes readable without blocking (FIONREAD), when known. */
  readableBytes(): number | Errno {
    return ENOTTY;
  }

  /**
   * Readiness (Linux's f_op->poll): POLL* bits true now. Files without a poll
   * method keep this default (always readable and writable) and have no
   * waitQueue; epoll refuses them (EPERM), as Linux does for regular files.
   */
  pollEvents(): number {
    return DEFAULT_POLLMASK;
  }

  /** Where a pollable file announces readiness changes (see waitqueue.ts); null when it has no poll method. */
  get waitQueue(): WaitQueue | null {
    return null;
  }

  /**
   * How long a blocking read ('rcv') or write ('snd') may wait, in
   * milliseconds, before it gives up with EAGAIN (or the count so far): a
   * socket's SO_RCVTIMEO / SO_SNDTIMEO. null: as long as it takes.
   */
  waitLimitMs(_which: 'rcv' | 'snd'): number | null {
    return null;
  }

  /**
   * Would a read or write that found the file not ready (EAGAIN) wait for it
   * (the system call layer waits on waitQueue) or fail at once (O_NONBLOCK)?
   */
  get nonblocking(): boolean {
    return (this.flags & O_NONBLOCK) !== 0;
  }

  /**
   * Run `fn` once when this open file description is released (Linux's
   * eventpoll_release and OFD lock removal); returns a function that cancels it.
   */
  onRelease(fn: () => void): () => void {
    (this.releaseHooks ??= new Set()).add(fn);
    return () => this.releaseHooks?.delete(fn);
  }

  /**
   * The save half of this file's checkpoint pair (docs/CHECKPOINT.md): a
   * record its kind's restore half rebuilds it from. A kind that has no pair
   * throws Unsupported naming it, so a checkpoint fails rather than write an
   * image that would restore something else.
   */
  save(_c: FileSaveContext): FileRecord {
    throw new Unsupported(`an open ${this.constructor.name} (${this.path})`);
  }

  /** Called once, when the last reference (fd or otherwise) goes away. */
  protected release(): MaybeAsync<void> {}

  ref(): this {
    this.refs++;
    return this;
  }

  unref(): MaybeAsync<void> {
    if (--this.refs === 0) {
      const hooks = this.releaseHooks;
      this.releaseHooks = undefined;
      if (hooks) for (const fn of hooks) fn();
      return this.release();
    }
  }

  /** EBADF unless open for reading: the common check of read(2). */
  static checkReadable(f: File): Errno | undefined {
    return f.readable ? undefined : EBADF;
  }

  static checkWritable(f: File): Errno | undefined {
    return f.writable ? undefined : EBADF;
  }
}
