// Watching host fds without blocking the kernel's thread: one poller for the
// sandbox (`hostPoller`) polls every watched fd in one poll(2) call with a
// zero timeout, on the event loop, and reports changes of readiness. Host
// stdio (host-stream.ts), --network=host sockets (net/host-inet-socket.ts)
// and --network=sandbox's host sockets (net/nat.ts, relay.ts, published.ts)
// use it.
//
// Contract:
// - watch(fd, cb) calls cb(revents) when the fd's readiness differs from
//   what was last reported to it, and once at the first poll after
//   `rearm(fd)` whatever it is (a caller that just got EAGAIN rearms, so a
//   readiness that came back meanwhile is not taken for old news).
// - While any fd is watched, polls come fast (on setImmediate, for about a
//   millisecond) after a change or a new watch, then back off to one every
//   16 ms; with nothing watched, nothing runs. Wake-ups therefore lag a
//   quiet socket by up to 16 ms: the price of not parking a thread in
//   poll(2). A closed or bad fd reports POLLNVAL once and is then left alone
//   until unwatched.

import { pollMany } from '../../host/ffi.js';
import * as abi from '../../linux/abi.js';

const ALL = abi.POLLIN | abi.POLLOUT | abi.POLLPRI | abi.POLLRDHUP;
const FAST_POLLS = 64;
const SLOW_MS = 16;

interface Watch {
  fd: number;
  cb: (revents: number) => void;
  /** What cb last heard; -1: report the next poll whatever it says. */
  last: number;
}

export class HostPoller {
  private readonly watches = new Set<Watch>();
  private timer: { immediate: NodeJS.Immediate } | { timeout: NodeJS.Timeout } | null = null;
  private fastLeft = 0;
  private delay = 1;

  watch(fd: number, cb: (revents: number) => void): () => void {
    const w: Watch = { fd, cb, last: -1 };
    this.watches.add(w);
    this.hurry();
    return () => {
      this.watches.delete(w);
      if (this.watches.size === 0) this.stop();
    };
  }

  /** The next poll reports `fd` to its watchers whatever its readiness (see the contract). */
  rearm(fd: number): void {
    for (const w of this.watches) if (w.fd === fd) w.last = -1;
    if (this.watches.size > 0) this.hurry();
  }

  private hurry(): void {
    this.fastLeft = FAST_POLLS;
    this.delay = 1;
    if (this.timer === null) this.schedule();
  }

  private schedule(): void {
    if (this.fastLeft > 0) {
      this.fastLeft--;
      this.timer = { immediate: setImmediate(() => this.tick()) };
    } else {
      this.timer = { timeout: setTimeout(() => this.tick(), this.delay) };
      this.delay = Math.min(this.delay * 2, SLOW_MS);
    }
  }

  private stop(): void {
    if (this.timer === null) return;
    if ('immediate' in this.timer) clearImmediate(this.timer.immediate);
    else clearTimeout(this.timer.timeout);
    this.timer = null;
  }

  private tick(): void {
    this.timer = null;
    const list = [...this.watches];
    if (list.length === 0) return;
    const rev = pollMany(
      list.map((w) => ({ fd: w.fd, events: ALL })),
      0,
    );
    let changed = false;
    if (typeof rev !== 'number') {
      list.forEach((w, i) => {
        if (!this.watches.has(w) || rev[i] === w.last) return;
        w.last = rev[i];
        changed = true;
        w.cb(rev[i]);
      });
    }
    if (changed) {
      this.fastLeft = FAST_POLLS;
      this.delay = 1;
    }
    if (this.watches.size > 0 && this.timer === null) this.schedule();
  }
}

/** The sandbox's poller (boot runs one sandbox per process). */
export const hostPoller = new HostPoller();
