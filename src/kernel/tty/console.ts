// The console: the sandbox's terminal when boot runs with --console, driven
// by the host terminal on the application's stdio fds. Input is read from
// the host fd whenever the line discipline has room — all the time, not only
// while a guest thread reads, because ^C and echo must work while the
// foreground job computes or sleeps — by polling the host fd with back-off
// (0.5 ms after input, growing to 16 ms when idle; the timer does not keep
// the kernel worker alive). Output is written through to the host fd, a
// write at a time while poll says it has room (writeRoom).
//
// The window size comes from outside (boot reads the host terminal's size and
// tells the kernel worker: see src/main/README.md); `resize` applies it.

import * as fs from 'node:fs';
import { pollReadable, pollWritable } from '../../host/ffi.js';
import * as abi from '../../linux/abi.js';
import { Tty, type TtyDriver } from './tty.js';
import type { JobControl } from './job-control.js';
import type { Winsize } from './termios.js';

const IDLE_MAX_MS = 16;

export class HostConsole implements TtyDriver {
  readonly tty: Tty;
  private timer?: NodeJS.Timeout;
  private delay = 0.5;
  private closed = false;

  constructor(
    private readonly inFd: number,
    private readonly outFd: number,
    jobs: JobControl,
  ) {
    this.tty = new Tty(this, jobs, 'console');
    this.schedule(0);
  }

  /**
   * PIPE_BUF while the host fd has room (poll says so), so that one write's
   * output, \n made \r\n, never blocks the kernel on a host reader that
   * stopped reading; 0 otherwise, and the host fd is watched until it has
   * room again, then the terminal's writers are woken.
   */
  writeRoom(): number {
    if (this.closed || pollWritable(this.outFd, 0) !== 0) return abi.PIPE_BUF;
    this.watchWritable();
    return 0;
  }

  private writeWatch?: NodeJS.Timeout;

  private watchWritable(delay = 0.25): void {
    if (this.writeWatch) return;
    this.writeWatch = setTimeout(() => {
      this.writeWatch = undefined;
      if (this.closed || pollWritable(this.outFd, 0) !== 0) this.tty.waitQueue.notify(abi.POLLOUT | abi.POLLWRNORM);
      else this.watchWritable(Math.min(delay * 2, IDLE_MAX_MS));
    }, delay);
  }

  /** Written through; a host that says EAGAIN (a nonblocking fd) is retried after a poll-free pause. */
  output(bytes: Uint8Array): void {
    let done = 0;
    let tries = 0;
    while (done < bytes.length && !this.closed) {
      try {
        done += fs.writeSync(this.outFd, bytes, done, bytes.length - done);
      } catch (e) {
        const code = (e as NodeJS.ErrnoException).code;
        if (code !== 'EAGAIN' || ++tries > 1000) return; // the host terminal is gone: output is lost, as on a hung-up line
        Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, 1);
      }
    }
  }

  flushOutput(): void {}

  inputRoom(): void {
    if (!this.closed) this.schedule(0);
  }

  resize(w: Winsize): void {
    this.tty.setWinsize(w);
  }

  /** Stop reading the host (the sandbox is going away). */
  close(): void {
    this.closed = true;
    clearTimeout(this.writeWatch);
    if (this.timer) clearTimeout(this.timer);
    this.timer = undefined;
  }

  private schedule(ms: number): void {
    if (this.timer) clearTimeout(this.timer);
    this.timer = setTimeout(() => this.pump(), ms);
    this.timer.unref();
  }

  /** Move what the host has (up to the queue's room) into the line discipline. */
  private pump(): void {
    this.timer = undefined;
    if (this.closed || this.tty.hungUp) return;
    const room = this.tty.room();
    let got = false;
    if (room > 0 && pollReadable(this.inFd, 0) > 0) {
      const buf = new Uint8Array(Math.min(room, 4096));
      let n = 0;
      try {
        n = fs.readSync(this.inFd, buf, 0, buf.length, null);
      } catch (e) {
        if ((e as NodeJS.ErrnoException).code !== 'EAGAIN') n = 0;
        else n = -1;
      }
      if (n === 0) {
        this.tty.hangup(); // the host terminal closed
        return;
      }
      if (n > 0) {
        this.tty.receive(buf.subarray(0, n));
        got = true;
      }
    }
    if (this.tty.room() === 0) return; // inputRoom() restarts the pump
    this.delay = got ? 0.5 : Math.min(this.delay * 2, IDLE_MAX_MS);
    this.schedule(this.delay);
  }
}
