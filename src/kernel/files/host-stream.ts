// A File over one of the sandbox's own host fds: the application's stdio as
// the parent runtime donated it (--stdio-fds). Reads never block (EAGAIN when
// the host fd is empty; the system call layer waits on the file's waitQueue,
// fed by polling the host fd); writes are synchronous until the host says
// EAGAIN, then wait for the fd to drain.

import * as fs from 'node:fs';
import { EAGAIN, EIO, EPIPE, Errno } from '../errno.js';
import { POLLHUP, POLLIN, POLLOUT, POLLRDNORM, POLLWRNORM, S_IFIFO, S_IFMT, TERMIOS, WINSIZE } from '../abi.js';
import { File, type TerminalOps } from './file.js';
import { WaitQueue } from './waitqueue.js';
import { pollReadable } from '../../host/ffi.js';
import { makeAttr } from '../vfs/attr.js';
import type { Attr } from '../vfs/backend.js';

export class HostStreamFile extends File {
  constructor(
    readonly hostFd: number,
    flags: number,
    path: string,
    private readonly term: TerminalOps | null,
  ) {
    super(flags, path);
  }

  private readonly wq = new WaitQueue((active) => (active ? this.startWatch() : this.stopWatch()));
  private watch?: NodeJS.Timeout;
  private closed = false;

  /**
   * A read never blocks here: EAGAIN when the host fd has nothing (the system
   * call layer then waits on waitQueue, which polls the fd while someone
   * waits). Polling with back-off rather than parking a blocking read on
   * libuv's thread pool: a read stuck there would keep the sandbox from exiting.
   */
  override read(len: number): Uint8Array | Errno {
    const ready = pollReadable(this.hostFd, 0);
    if (ready < 0) return Errno.of(-ready);
    if (ready === 0) return EAGAIN;
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

  /** While someone waits to read: poll the host fd, backing off from 0.25 ms to 16 ms, and wake them when it is readable. */
  private startWatch(): void {
    if (!this.readable || this.closed) return;
    let delay = 0.25;
    const tick = () => {
      this.watch = undefined;
      if (this.closed || this.wq.waiters === 0) return;
      if (pollReadable(this.hostFd, 0) !== 0) {
        delay = 0.25;
        this.wq.notify(POLLIN | POLLRDNORM);
      } else delay = Math.min(delay * 2, 16);
      if (this.wq.waiters > 0 && !this.watch) this.watch = setTimeout(tick, delay);
    };
    this.watch = setTimeout(tick, delay);
  }

  private stopWatch(): void {
    if (this.watch) clearTimeout(this.watch);
    this.watch = undefined;
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

  override terminal(): TerminalOps | Errno {
    return this.term ?? super.terminal();
  }
}

/** The errno of a failed Node fs call, as a guest errno. */
export function hostErrno(e: NodeJS.ErrnoException): Errno {
  if (typeof e.errno === 'number' && e.errno < 0) return Errno.of(-e.errno);
  if (e.code === 'EPIPE') return EPIPE;
  if (e.code === 'EAGAIN') return EAGAIN;
  return EIO;
}

/**
 * A terminal's settings as the kernel keeps them for a --console sandbox
 * (issue 7 replaces this with a line discipline): a cooked-mode termios and
 * an 80x24 window unless told otherwise.
 */
export class ConsoleState implements TerminalOps {
  private tio = defaultTermios();
  private rows = 24;
  private cols = 80;

  termios(): Uint8Array {
    return this.tio.slice();
  }
  setTermios(bytes: Uint8Array): 0 {
    this.tio = bytes.slice(0, TERMIOS.size);
    return 0;
  }
  winsize(): Uint8Array {
    const b = new Uint8Array(WINSIZE.size);
    const dv = new DataView(b.buffer);
    dv.setUint16(WINSIZE.ws_row, this.rows, true);
    dv.setUint16(WINSIZE.ws_col, this.cols, true);
    return b;
  }
  resize(rows: number, cols: number): void {
    this.rows = rows;
    this.cols = cols;
  }
}

function defaultTermios(): Uint8Array {
  const b = new Uint8Array(TERMIOS.size);
  const dv = new DataView(b.buffer);
  dv.setUint32(TERMIOS.c_iflag, 0o2400 | 0o400 | 0o40000, true); // IXON ICRNL IUTF8
  dv.setUint32(TERMIOS.c_oflag, 0o1 | 0o4, true); // OPOST ONLCR
  dv.setUint32(TERMIOS.c_cflag, 0o17 | 0o60 | 0o200, true); // B38400 CS8 CREAD
  dv.setUint32(TERMIOS.c_lflag, 0o1 | 0o2 | 0o10 | 0o20 | 0o40 | 0o1000 | 0o4000 | 0o100000, true); // ISIG ICANON ECHO ECHOE ECHOK ECHOCTL ECHOKE IEXTEN
  const cc = [3, 28, 127, 21, 4, 0, 1, 0, 17, 19, 26, 0, 18, 15, 23, 22]; // VINTR VQUIT VERASE VKILL VEOF VTIME VMIN VSWTC VSTART VSTOP VSUSP VEOL VREPRINT VDISCARD VWERASE VLNEXT
  cc.forEach((v, i) => (b[TERMIOS.c_cc + i] = v));
  return b;
}
