// A File over one of the sandbox's host fds: the application's stdio as the
// parent runtime donated it (--stdio-fds), or an exec'd process's as exec
// passed it. Reads never block (EAGAIN when the host fd is empty; the system
// call layer waits on the file's waitQueue, fed by the sandbox's host
// poller);
// writes go out while the host fd has room and then wait for it to drain
// (watched by the same poller), never blocking the kernel (see write). Not a terminal (ioctls get ENOTTY),
// even over a host tty: with --console the stdio is the console's line
// discipline instead (src/kernel/tty/console.ts).

import * as fs from 'node:fs';
import { EAGAIN, EIO, EPIPE, Errno } from '../../linux/errno.js';
import { PIPE_BUF, POLLERR, POLLHUP, POLLIN, POLLNVAL, POLLOUT, POLLRDNORM, POLLWRNORM, S_IFIFO, S_IFMT } from '../../linux/abi.js';
import { File } from './file.js';
import { WaitQueue } from './waitqueue.js';
import { closeFd, pollReadable, pollWritable } from '../../host/ffi.js';
import { hostPoller } from './host-poller.js';
import { makeAttr } from '../vfs/attr.js';
import type { Attr } from '../../backend/backend.js';
import { Unsupported, type FileRecord } from '../checkpoint-records.js';

/** The names of the sandbox's own stdio files (init's fds 0, 1, 2), by index. */
export const STDIO_NAMES = ['stdin', 'stdout', 'stderr'];

export class HostStreamFile extends File {
  /** `owned`: the host fd is this file's, closed with it (an exec'd process's stdio); else the sandbox's own (init's). */
  constructor(
    readonly hostFd: number,
    flags: number,
    path: string,
    private readonly owned = false,
  ) {
    super(flags, path);
  }

  private readonly wq = new WaitQueue((active) => (active ? this.startWatch() : this.stopWatch()));
  private unwatch: (() => void) | null = null;
  private closed = false;

  /**
   * A read never blocks here: EAGAIN when the host fd has nothing (the system
   * call layer then waits on waitQueue, which the host poller feeds while
   * someone waits). Polling rather than parking a blocking read on libuv's
   * thread pool: a read stuck there would keep the sandbox from exiting.
   */
  override read(len: number): Uint8Array | Errno {
    const ready = pollReadable(this.hostFd, 0);
    if (ready < 0) return Errno.of(-ready);
    if (ready === 0) {
      hostPoller.rearm(this.hostFd);
      return EAGAIN;
    }
    const buf = new Uint8Array(Math.min(len, 1 << 20));
    try {
      return buf.subarray(0, fs.readSync(this.hostFd, buf, 0, buf.length, null));
    } catch (e) {
      const err = e as NodeJS.ErrnoException;
      return err.code === 'EAGAIN' ? EAGAIN : hostErrno(err);
    }
  }

  /** Readable (data, end of file or an error on the host side) and writable (room) per zero-timeout host polls. */
  override pollEvents(): number {
    let mask = 0;
    if (this.readable && pollReadable(this.hostFd, 0) !== 0) mask |= POLLIN | POLLRDNORM;
    if (this.writable && pollWritable(this.hostFd, 0) !== 0) mask |= POLLOUT | POLLWRNORM;
    return mask;
  }

  override get waitQueue(): WaitQueue {
    return this.wq;
  }

  /** While someone waits (to read, or for room to write): the host poller watches the fd and wakes them when it is ready. */
  private startWatch(): void {
    if (this.closed || this.unwatch) return;
    this.unwatch = hostPoller.watch(this.hostFd, (rev) => {
      let mask = 0;
      if (this.readable && rev & (POLLIN | POLLHUP | POLLERR | POLLNVAL)) mask |= POLLIN | POLLRDNORM;
      if (this.writable && rev & (POLLOUT | POLLHUP | POLLERR | POLLNVAL)) mask |= POLLOUT | POLLWRNORM;
      if (mask !== 0) this.wq.notify(mask);
    });
  }

  private stopWatch(): void {
    this.unwatch?.();
    this.unwatch = null;
  }

  protected override release(): void {
    this.closed = true;
    this.stopWatch();
    for (const ended of [...this.waitingWriters]) ended();
    this.wq.notify(POLLIN | POLLOUT | POLLHUP);
    if (this.owned) closeFd(this.hostFd);
  }

  /**
   * Writes as a blocking write does for the guest, without ever blocking the
   * kernel: to a pipe, socket or character device, in pieces of at most
   * PIPE_BUF bytes, each only once poll says the host fd has room (which a
   * piece that size then never exceeds); when it has none, the rest waits
   * (writeWhenWritable) while the guest's call blocks, or, for an O_NONBLOCK
   * file, the count so far (EAGAIN for none) goes back at once. A reader that stops
   * reading (an exec'd process's stdout piped to a stuck program) so holds
   * up that writer only, not the sandbox. Regular files are written whole.
   */
  override write(data: Uint8Array): number | Errno | Promise<number | Errno> {
    const piece = (this.piece ??= this.pieceSize());
    let done = 0;
    while (done < data.length) {
      if (piece !== Infinity) {
        const w = pollWritable(this.hostFd, 0);
        if (w < 0) return done > 0 ? done : Errno.of(-w);
        if (w === 0) return this.nonblocking ? (done > 0 ? done : EAGAIN) : this.writeWhenWritable(data, done);
      }
      try {
        done += fs.writeSync(this.hostFd, data, done, Math.min(piece, data.length - done));
      } catch (e) {
        const code = (e as NodeJS.ErrnoException).code;
        if (code === 'EAGAIN') return this.nonblocking ? (done > 0 ? done : EAGAIN) : this.writeWhenWritable(data, done);
        return done > 0 ? done : hostErrno(e as NodeJS.ErrnoException);
      }
    }
    return done;
  }

  /** Bytes one host write may carry: PIPE_BUF for what poll can vouch for, any for regular files and block devices. */
  private piece: number | undefined;

  private pieceSize(): number {
    try {
      const st = fs.fstatSync(this.hostFd);
      return st.isFile() || st.isBlockDevice() ? Infinity : PIPE_BUF;
    } catch {
      return PIPE_BUF;
    }
  }

  /** Writes waiting for room (writeWhenWritable): each ends, with what it wrote, when this file is released. */
  private readonly waitingWriters = new Set<() => void>();

  /**
   * The rest of a write (from `done`), once the host fd has room: a watch of
   * its own on the sandbox's host poller (readers' waits are separate), ended
   * by the room coming back or by this file's release, which ends the write
   * with the count so far (EPIPE for none).
   */
  private writeWhenWritable(data: Uint8Array, done: number): Promise<number | Errno> {
    return new Promise((resolve) => {
      if (this.closed) return resolve(done > 0 ? done : EPIPE);
      const finish = (r: number | Errno) => resolve(typeof r === 'number' ? done + r : done > 0 ? done : r);
      const stop = () => {
        unwatch();
        this.waitingWriters.delete(onRelease);
      };
      const onRelease = () => {
        stop();
        resolve(done > 0 ? done : EPIPE);
      };
      this.waitingWriters.add(onRelease);
      const unwatch = hostPoller.watch(this.hostFd, (rev) => {
        if ((rev & (POLLOUT | POLLHUP | POLLERR | POLLNVAL)) === 0) return;
        stop();
        const r = this.write(data.subarray(done));
        if (r instanceof Promise) void r.then(finish);
        else finish(r);
      });
    });
  }

  /**
   * Checkpoint: the sandbox's own stdio is saved as its index and restored
   * as the restoring sandbox's stdio of that index (the host fds themselves
   * cannot travel); an exec'd process's stdio belongs to an exec that ends
   * with this sandbox, so it is refused.
   */
  override save(): FileRecord {
    const index = STDIO_NAMES.indexOf(this.path);
    if (this.owned || index < 0) throw new Unsupported(`the stdio of a process started by exec (${this.path})`);
    return { kind: 'stdio', index, flags: this.flags };
  }

  getattr(): Attr {
    try {
      const st = fs.fstatSync(this.hostFd, { bigint: true });
      return makeAttr(Number(st.mode), {
        ino: st.ino,
        nlink: Number(st.nlink),
        uid: 0,
        gid: 0,
        rdev: st.rdev,
        size: (Number(st.mode) & S_IFMT) === 0o100000 ? Number(st.size) : 0,
      });
    } catch {
      return makeAttr(S_IFIFO | 0o600);
    }
  }
}

/** The errno of a failed Node fs call, as a guest errno. */
export function hostErrno(e: NodeJS.ErrnoException): Errno {
  if (typeof e.errno === 'number' && e.errno < 0) return Errno.of(-e.errno);
  if (e.code === 'EPIPE') return EPIPE;
  if (e.code === 'EAGAIN') return EAGAIN;
  return EIO;
}
