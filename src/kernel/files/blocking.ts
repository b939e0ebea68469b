// Blocking on file readiness: the one place a system call waits for files
// (gVisor's model: file operations never block; the system call layer does).
//
// Contract:
// - A file operation that cannot make progress now returns EAGAIN (Linux's
//   -EAGAIN of a nonblocking file, gVisor's ErrWouldBlock). If the file is
//   blocking (no O_NONBLOCK) and pollable, the caller waits on its waitQueue
//   here and retries; otherwise EAGAIN goes to the guest.
// - A wait ends when its condition holds, at its deadline, or when a signal
//   the thread would act on arrives; then the call returns EINTR (or, once
//   some data moved, the count so far, as Linux does). Whether an EINTR
//   restarts is the dispatcher's business (the table row's restart policy):
//   waits here only say "interrupted".
// - A wait never spins: after a failed attempt it sleeps until the file
//   announces a change, so a file whose pollEvents() and operations disagree
//   costs a wake-up per notification, not a busy loop.
// - No lost wake-ups: between a synchronous attempt that failed and the
//   subscription there is no turn of the microtask queue (a task woken
//   meanwhile could change the file and notify nobody); after an attempt that
//   completed asynchronously, readiness is re-checked before sleeping.

import { performance } from 'node:perf_hooks';
import { EAGAIN, EINTR, EPIPE, Errno, isErrno } from '../../linux/errno.js';
import { POLLERR, POLLHUP, POLLIN, POLLOUT, SIGPIPE, SI_USER } from '../../linux/abi.js';
import type { File, MaybeAsync } from './file.js';
import type { WaitQueue } from './waitqueue.js';
import { TaskState, type Task } from '../task.js';
import { hasDeliverable, type SignalDelivery } from '../signal-delivery.js';
import type { Kernel } from '../kernel.js';

/** The waiting thread, as a wait sees it (a Task in the kernel; a fake in unit tests). */
export interface Blocker {
  /** Register how a signal cuts the current wait short (one wait per thread at a time). */
  onInterrupt(cancel: () => void): void;
  /** Has the thread a signal it would act on now (pending and not blocked)? */
  signalPending(): boolean;
  /** False once the thread is gone (its process was killed while it waited). */
  alive(): boolean;
  /** A write found no reader (EPIPE): raise SIGPIPE, as pipe_write does. */
  sigpipe(): void;
}

/** A guest thread as a Blocker: its own interrupt registration, its pending signals, the kernel's signals for SIGPIPE. */
class TaskBlocker implements Blocker {
  constructor(
    private readonly signals: SignalDelivery,
    private readonly task: Task,
  ) {}

  onInterrupt(cancel: () => void): void {
    this.task.onInterrupt(cancel);
  }

  signalPending(): boolean {
    return hasDeliverable(this.task) || this.task.quiescing;
  }

  alive(): boolean {
    return this.task.state !== TaskState.Exited && this.task.process.alive;
  }

  sigpipe(): void {
    const p = this.task.process;
    this.signals.signalProcess(p, { signo: SIGPIPE, code: SI_USER, pid: p.pid, uid: p.creds.ruid });
  }
}

/** The Blocker of `task` in `kernel`. */
export function taskBlocker(kernel: Kernel, task: Task): Blocker {
  return new TaskBlocker(kernel.signals, task);
}

export const enum Wake {
  Ready,
  Timeout,
  Signal,
}

/** A queue to listen on and the events of interest there. */
export interface WaitSource {
  queue: WaitQueue;
  mask: number;
}

/**
 * Wait until `ready()` holds after a notification from one of `sources`, until
 * `deadline` (performance.now() milliseconds; null: no deadline), or until a
 * signal. With `checkFirst`, `ready()` is tested before waiting (for callers
 * whose last look at the files was not synchronous with this call).
 */
export function waitUntil(b: Blocker, sources: WaitSource[], ready: () => boolean, deadline: number | null, checkFirst = false): Promise<Wake> {
  if (checkFirst && ready()) return Promise.resolve(Wake.Ready);
  if (b.signalPending()) return Promise.resolve(Wake.Signal);
  if (deadline !== null && deadline <= performance.now()) return Promise.resolve(Wake.Timeout);
  return new Promise((resolve) => {
    let timer: NodeJS.Timeout | undefined;
    let done = false;
    const finish = (w: Wake) => {
      if (done) return;
      done = true;
      for (const u of unsubs) u();
      if (timer) clearTimeout(timer);
      resolve(w);
    };
    const unsubs = sources.map((s) =>
      s.queue.subscribe(s.mask, () => {
        if (!b.alive()) finish(Wake.Signal);
        else if (ready()) finish(Wake.Ready);
      }),
    );
    const arm = () => {
      if (deadline === null) return;
      // setTimeout holds at most 2^31-1 ms; longer deadlines re-arm.
      const left = Math.min(Math.max(0, Math.ceil(deadline - performance.now())), 0x7fffffff);
      timer = setTimeout(() => (performance.now() >= deadline ? finish(Wake.Timeout) : arm()), left);
    };
    arm();
    const onSignal = () => {
      if (done) return;
      // A signal the thread blocks (or a spurious interrupt) doesn't end the wait.
      if (!b.alive() || b.signalPending()) finish(Wake.Signal);
      else b.onInterrupt(onSignal);
    };
    b.onInterrupt(onSignal);
  });
}

/** Wait for `events` (plus POLLERR|POLLHUP) on one file until `deadline`; `recheck` after an attempt that was not synchronous. */
function waitFile(b: Blocker, f: File, q: WaitQueue, events: number, recheck: boolean, deadline: number | null = null): Promise<Wake> {
  const want = events | POLLERR | POLLHUP;
  return waitUntil(b, [{ queue: q, mask: want }], () => (f.pollEvents() & want) !== 0, deadline, recheck);
}

/** When a wait of `f` in direction `which` must end (File.waitLimitMs), from now. */
function deadlineOf(f: File, which: 'rcv' | 'snd'): number | null {
  const ms = f.waitLimitMs(which);
  return ms === null ? null : performance.now() + ms;
}

/**
 * read(2)'s blocking: `op` is one nonblocking attempt (EAGAIN: nothing yet).
 * A blocking pollable file waits for POLLIN and retries; EINTR on a signal,
 * EAGAIN past the file's wait limit (a socket's SO_RCVTIMEO).
 */
export function blockingRead<T>(b: Blocker, f: File, op: () => MaybeAsync<T | Errno>): MaybeAsync<T | Errno> {
  const r = op();
  const q = f.waitQueue;
  if (r !== EAGAIN || f.nonblocking || !q) return r;
  const deadline = deadlineOf(f, 'rcv');
  return (async () => {
    let wasAsync = false;
    for (;;) {
      const w = await waitFile(b, f, q, POLLIN, wasAsync, deadline);
      if (w === Wake.Timeout) return EAGAIN;
      if (w !== Wake.Ready) return EINTR;
      const attempt = op();
      wasAsync = attempt instanceof Promise;
      const again = wasAsync ? await attempt : attempt;
      if (again !== EAGAIN) return again;
    }
  })();
}

/**
 * write(2)'s blocking: `op(rest)` writes what it can of `rest` now (a count, or
 * EAGAIN when nothing fits). A blocking pollable file gets everything written,
 * waiting for POLLOUT between partial writes; a signal ends the wait with the
 * count so far (EINTR when none), and so does the file's wait limit (a
 * socket's SO_SNDTIMEO; EAGAIN when none). EPIPE raises SIGPIPE.
 */
export function blockingWrite(b: Blocker, f: File, data: Uint8Array, op: (rest: Uint8Array) => MaybeAsync<number | Errno>): MaybeAsync<number | Errno> {
  const first = op(data);
  if (first instanceof Promise) return first.then((r) => epipe(b, r));
  const q = f.waitQueue;
  const final = (r: number | Errno) => !(isErrno(r) ? r === EAGAIN : r < data.length) || f.nonblocking || !q;
  if (final(first)) return epipe(b, first);
  const deadline = deadlineOf(f, 'snd');
  return (async () => {
    let done = isErrno(first) ? 0 : first;
    let wasAsync = false;
    for (;;) {
      const w = await waitFile(b, f, q!, POLLOUT, wasAsync, deadline);
      if (w !== Wake.Ready) return done > 0 ? done : w === Wake.Timeout ? EAGAIN : EINTR;
      const attempt = op(data.subarray(done));
      wasAsync = attempt instanceof Promise;
      const r = epipe(b, attempt instanceof Promise ? await attempt : attempt);
      if (isErrno(r)) {
        if (r !== EAGAIN) return done > 0 ? done : r;
      } else {
        done += r;
        if (done >= data.length) return done;
      }
    }
  })();
}

/**
 * The general form, for operations spanning several files (splice, tee):
 * retry `op` while it says EAGAIN, waiting between tries until `ready()`
 * after a wake-up from `sources`; `nonblocking` returns the EAGAIN instead,
 * and so does a wait longer than `timeoutMs` (a socket's SO_RCVTIMEO or
 * SO_SNDTIMEO; null: no limit). EPIPE raises SIGPIPE.
 */
export function blockingOp<T>(b: Blocker, nonblocking: boolean, sources: WaitSource[], ready: () => boolean, op: () => MaybeAsync<T | Errno>, timeoutMs: number | null = null): MaybeAsync<T | Errno> {
  const first = op();
  if (first instanceof Promise) return first.then((r) => (r === EAGAIN && !nonblocking ? retry(true) : epipe(b, r)));
  if (first !== EAGAIN || nonblocking) return epipe(b, first);
  return retry(false);
  async function retry(wasAsync: boolean): Promise<T | Errno> {
    const deadline = timeoutMs === null ? null : performance.now() + timeoutMs;
    for (;;) {
      const w = await waitUntil(b, sources, ready, deadline, wasAsync);
      if (w === Wake.Timeout) return EAGAIN;
      if (w !== Wake.Ready) return EINTR;
      const attempt = op();
      wasAsync = attempt instanceof Promise;
      const r = wasAsync ? await attempt : attempt;
      if (r !== EAGAIN) return epipe(b, r);
    }
  }
}

function epipe<T>(b: Blocker, r: T): T {
  if (r === EPIPE) b.sigpipe();
  return r;
}
