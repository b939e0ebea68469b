// What a system call handler gets: the kernel, the calling task and process,
// and its arguments decoded from a0..a5.

import type { Kernel } from '../kernel.js';
import type { Process, Task } from '../task.js';
import type { Errno } from '../../linux/errno.js';

/** A handler's result: a value for a0, an Errno, or NORETURN (a0 untouched: exit, execve, sigreturn). */
export const NORETURN = Symbol('noreturn');
export type SysResult = number | bigint | Errno | typeof NORETURN;

/**
 * A blocked call's result, delivered synchronously by whoever produces it
 * (a futex wake, a timer): unlike a Promise it costs no turn of the event
 * loop, so the woken thread can run in the same scheduling slice as its
 * waker. A handler returns one instead of a Promise; settle() once.
 */
export class Parked {
  private done?: (r: SysResult) => void;
  private result?: SysResult;
  private settled = false;

  /** The dispatcher's continuation; runs at once if already settled. */
  bind(done: (r: SysResult) => void): void {
    this.done = done;
    if (this.settled) done(this.result!);
  }

  settle(r: SysResult): void {
    if (this.settled) return;
    this.settled = true;
    this.result = r;
    this.done?.(r);
  }
}

export class SysCtx {
  readonly proc: Process;

  constructor(
    readonly kernel: Kernel,
    readonly task: Task,
  ) {
    this.proc = task.process;
  }

  /** Argument i (a0 + i) as an unsigned number (addresses, sizes). */
  u(i: number): number {
    return this.task.regs.getU(10 + i);
  }

  /** Argument i as a signed 64-bit number (offsets). */
  s(i: number): number {
    return this.task.regs.getS(10 + i);
  }

  /** Argument i as a C int (fds, flags). */
  i32(i: number): number {
    return this.task.regs.getI32(10 + i);
  }

  /** Argument i as an unsigned 32-bit value. */
  u32(i: number): number {
    return this.task.regs.getI32(10 + i) >>> 0;
  }

  big(i: number): bigint {
    return this.task.regs.getBig(10 + i);
  }

  get user() {
    return this.proc.user;
  }
}
