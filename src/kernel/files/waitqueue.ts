// Readiness and wait queues (Linux's wait_queue_head_t and f_op->poll).
//
// Contract:
// - A pollable File owns a WaitQueue and reports its readiness with
//   File.pollEvents(): POLL* bits as Linux's poll method for that file type
//   reports them. Whenever readiness may have changed (data arrived, space
//   freed, the other end went away), the file calls `notify(events)` with the
//   bits that may have become true.
// - Waiters subscribe with an interest mask; POLLERR and POLLHUP are always of
//   interest (Linux reports them whatever was asked). A notification is a hint:
//   a waiter re-reads pollEvents() before acting, so a spurious wake-up is
//   harmless and a missed one is a bug.
// - Subscriptions are cheap and synchronous; a callback may unsubscribe itself
//   or others (notify iterates over a snapshot).

import { POLLERR, POLLHUP } from '../../linux/abi.js';

export type WakeFn = (events: number) => void;

interface Entry {
  mask: number;
  fn: WakeFn;
}

export class WaitQueue {
  private readonly entries = new Set<Entry>();

  /**
   * @param onActive called with true when the first waiter subscribes and
   *   false when the last one leaves (a host-backed file polls its fd only
   *   while someone waits).
   */
  constructor(private readonly onActive?: (active: boolean) => void) {}

  /** Wake `fn` on events in `mask` (plus POLLERR|POLLHUP); returns the unsubscribe function. */
  subscribe(mask: number, fn: WakeFn): () => void {
    const e: Entry = { mask: mask | POLLERR | POLLHUP, fn };
    this.entries.add(e);
    if (this.entries.size === 1) this.onActive?.(true);
    return () => {
      if (this.entries.delete(e) && this.entries.size === 0) this.onActive?.(false);
    };
  }

  /** Readiness may have changed: wake every waiter interested in one of `events`. */
  notify(events: number): void {
    if (this.entries.size === 0) return;
    for (const e of [...this.entries]) if (e.mask & events && this.entries.has(e)) e.fn(events);
  }

  get waiters(): number {
    return this.entries.size;
  }
}
