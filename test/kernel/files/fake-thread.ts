// A Blocker standing in for a guest thread in the files/ unit tests: signals
// are raised by hand, and SIGPIPEs counted.

import type { Blocker } from '../../../src/kernel/files/blocking.js';

export class FakeThread implements Blocker {
  private cancel?: () => void;
  pending = false;
  dead = false;
  sigpipes = 0;

  onInterrupt(cancel: () => void): void {
    this.cancel = cancel;
  }
  signalPending(): boolean {
    return this.pending;
  }
  alive(): boolean {
    return !this.dead;
  }
  sigpipe(): void {
    this.sigpipes++;
  }

  /** A signal arrives: `deliverable` false models one the thread blocks. */
  signal(deliverable = true): void {
    this.pending = deliverable;
    const c = this.cancel;
    this.cancel = undefined;
    c?.();
  }

  /** Is a wait registered for interruption now? */
  get waiting(): boolean {
    return this.cancel !== undefined;
  }
}

/** Let pending promise callbacks and immediate timers run. */
export function settle(ms = 0): Promise<void> {
  return new Promise((r) => setTimeout(r, ms));
}
