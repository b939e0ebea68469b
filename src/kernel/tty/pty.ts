// Pseudo-terminals (Linux's unix98 ptys): opening /dev/ptmx makes a pair and
// returns the master; /dev/pts/N opens the slave, a terminal like the console.
// Both sides share one Tty: what the master writes is the slave's input
// (through the line discipline, echo included), what the slave writes
// (after output processing) is what the master reads.
//
// Lifetime, as Linux: the slave is locked until TIOCSPTLCK(0) (unlockpt);
// closing the master hangs the slave up (reads 0, writes EIO) and removes
// /dev/pts/N; once every slave file opened is closed, master reads get EIO.

import * as abi from '../../linux/abi.js';
import { EAGAIN, EIO, Errno, isErrno } from '../../linux/errno.js';
import { File, type MaybeAsync, type TerminalOps } from '../files/file.js';
import { WaitQueue } from '../files/waitqueue.js';
import type { UserMemory } from '../usercopy.js';
import type { Attr } from '../../backend/backend.js';
import { Tty, type TtyDriver } from './tty.js';
import { terminalIoctl, type CttyLookup } from './tty-file.js';
import type { JobControl } from './job-control.js';

/** What the master buffers of the slave's output before slave writes wait (Linux's pty buffer is of this order). */
export const PTY_OUTPUT_LIMIT = 65536;

export class Pty implements TtyDriver {
  readonly tty: Tty;
  /** The slave's processed output, for the master to read. */
  private out: number[] = [];
  /** Master readiness: output to read (POLLIN), input room (POLLOUT), slave gone (POLLHUP). */
  readonly masterQueue = new WaitQueue();
  locked = true;
  masterOpen = true;
  slaveOpens = 0;
  private slaveEverOpened = false;

  constructor(
    readonly index: number,
    jobs: JobControl,
  ) {
    this.tty = new Tty(this, jobs, `pts/${index}`);
  }

  // ---- TtyDriver (the slave's device side) ----
  writeRoom(): number {
    return PTY_OUTPUT_LIMIT - this.out.length;
  }
  output(bytes: Uint8Array): void {
    if (!this.masterOpen) return;
    for (const b of bytes) this.out.push(b);
    this.masterQueue.notify(abi.POLLIN | abi.POLLRDNORM);
  }
  flushOutput(): void {
    this.out = [];
    this.tty.waitQueue.notify(abi.POLLOUT | abi.POLLWRNORM);
  }
  inputRoom(): void {
    this.masterQueue.notify(abi.POLLOUT | abi.POLLWRNORM);
  }

  // ---- the master side ----
  masterRead(len: number): Uint8Array | Errno {
    if (this.out.length > 0) {
      const n = Math.min(len, this.out.length);
      const data = Uint8Array.from(this.out.slice(0, n));
      this.out = this.out.slice(n);
      this.tty.waitQueue.notify(abi.POLLOUT | abi.POLLWRNORM);
      return data;
    }
    return this.slaveGone() ? EIO : EAGAIN;
  }

  masterWrite(data: Uint8Array): number | Errno {
    const n = this.tty.receive(data);
    return n > 0 ? n : EAGAIN;
  }

  masterPollEvents(): number {
    let m = 0;
    if (this.out.length > 0) m |= abi.POLLIN | abi.POLLRDNORM;
    if (this.slaveGone()) m |= abi.POLLHUP;
    if (this.tty.room() > 0) m |= abi.POLLOUT | abi.POLLWRNORM;
    return m;
  }

  private slaveGone(): boolean {
    return this.slaveEverOpened && this.slaveOpens === 0;
  }

  slaveOpened(): void {
    this.slaveOpens++;
    this.slaveEverOpened = true;
  }

  slaveClosed(): void {
    if (--this.slaveOpens === 0) this.masterQueue.notify(abi.POLLHUP | abi.POLLIN);
  }

  masterClosed(): void {
    this.masterOpen = false;
    this.out = [];
    this.tty.hangup();
  }
}

/** The master side of a pty: /dev/ptmx's file. */
export class PtyMasterFile extends File implements TerminalOps {
  constructor(
    readonly pty: Pty,
    flags: number,
    path: string,
    private readonly ttys: CttyLookup,
    private readonly attr: () => Attr,
    private readonly onClose: () => void,
  ) {
    super(flags, path);
  }
  override read(len: number): Uint8Array | Errno {
    return this.pty.masterRead(len);
  }
  override write(data: Uint8Array): number | Errno {
    return this.pty.masterWrite(data);
  }
  override pollEvents(): number {
    return this.pty.masterPollEvents();
  }
  override get waitQueue(): WaitQueue {
    return this.pty.masterQueue;
  }
  override readableBytes(): number {
    return this.pty.writeRoom() >= PTY_OUTPUT_LIMIT ? 0 : PTY_OUTPUT_LIMIT - this.pty.writeRoom();
  }
  getattr(): Attr {
    return this.attr();
  }
  override terminal(): TerminalOps {
    return this;
  }
  protected override release(): void {
    this.pty.masterClosed();
    this.onClose();
  }

  ioctl(cmd: number, arg: number, user: UserMemory): MaybeAsync<number | Errno> {
    switch (cmd) {
      case abi.TIOCGPTN:
        return user.writeU32(arg, this.pty.index);
      case abi.TIOCSPTLCK: {
        const v = user.readI32(arg);
        if (isErrno(v)) return v;
        this.pty.locked = v !== 0;
        return 0;
      }
      case abi.TIOCGPTLCK:
        return user.writeU32(arg, this.pty.locked ? 1 : 0);
    }
    return terminalIoctl(this.pty.tty, true, this.ttys, cmd, arg, user, this.readable);
  }
}
