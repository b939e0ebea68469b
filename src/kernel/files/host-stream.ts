// A File over one of the sandbox's own host fds: the application's stdio as
// the parent runtime donated it (--stdio-fds). Reads never block (EAGAIN when
// the host fd is empty; the system call layer waits on the file's waitQueue,
// fed by the sandbox's host poller); writes are synchronous until the host says
// EAGAIN, then wait for the fd to drain. Not a terminal (ioctls get ENOTTY),
// even over a host tty: with --console the stdio is the console's line
// discipline instead (src/kernel/tty/console.ts).

import * as fs from 'node:fs';
import { EAGAIN, EIO, EPIPE, Errno } from '../../linux/errno.js';
import { POLLERR, POLLHUP, POLLIN, POLLNVAL, POLLOUT, POLLRDNORM, POLLWRNORM, S_IFIFO, S_IFMT } from '../../linux/abi.js';
import { File } from './file.js';
import { WaitQueue } from './waitqueue.js';
import { pollReadable } from '../../host/ffi.js';
import { hostPoller } from './host-poller.js';
import { makeAttr } from '../vfs/attr.js';
import type { Attr } from '../../backend/backend.js';

export class HostStreamFile extends File {
  constructor(
    readonly hostFd: number,
    flags: number,
    path: string,
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

  /** Readable (data, end of file or an error on the host side) per a zero-timeout host poll; writes are always accepted. */
  override pollEvents(): number {
    let mask = 0;
    if (this.readable && pollReadable(this.hostFd, 0) !== 0) mask |= POLLIN | POLLRDNORM;
    if (this.writable) mask |= POLLOUT | POLLWRNORM;
    return mask;
  }

  override get waitQueue(): WaitQueue {
    return this.wq;
  }

  /** While someone waits to read: the host poller watches the fd and wakes them when it becomes readable. */
  private startWatch(): void {
    if (!this.readable || this.closed || this.unwatch) return;
    this.unwatch = hostPoller.watch(this.hostFd, (rev) => {
      if (rev & (POLLIN | POLLHUP | POLLERR | POLLNVAL)) this.wq.notify(POLLIN | POLLRDNORM);
    });
  }

  private stopWatch(): void {
    this.unwatch?.();
    this.unwatch = null;
  }

  protected override release(): void {
    this.closed = true;
    this.stopWatch();
    this.wq.notify(POLLIN | POLLOUT | POLLHUP);
  }

  override write(data: Uint8Array): number | Errno | Promise<number | Errno> {
    let done = 0;
    while (done < data.length) {
      try {
        done += fs.writeSync(this.hostFd, data, done, data.length - done);
      } catch (e) {
        const code = (e as NodeJS.ErrnoException).code;
        if (code === 'EAGAIN') return this.writeLater(data, done);
        return done > 0 ? done : hostErrno(e as NodeJS.ErrnoException);
      }
    }
    return done;
  }

  private writeLater(data: Uint8Array, done: number): Promise<number | Errno> {
    return new Promise((resolve) => {
      fs.write(this.hostFd, data, done, data.length - done, null, (err, n) => {
        if (err) resolve(done > 0 ? done : hostErrno(err));
        else resolve(done + n);
      });
    });
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
