// Values that are ready now or later, and code that stays synchronous while
// they are ready now.
//
// Contract: a system call whose handler returns a Promise blocks its thread
// and is resumed through the scheduler (a microtask, a wake-up, a new turn on
// the vCPU: measured at tens of microseconds a call on a loaded host), so the
// hot paths (a path walk through cached dentries, stat of cached attributes,
// open of a file whose backend handle is kept) answer synchronously and fall
// back to a Promise only at the first step that really waits.

import type { MaybeAsync } from './file.js';

/** `f` applied to `v` now, or once `v` settles. */
export function andThen<T, R>(v: MaybeAsync<T>, f: (t: T) => MaybeAsync<R>): MaybeAsync<R> {
  return v instanceof Promise ? v.then(f) : f(v);
}

/**
 * Runs a generator body written like an async function: where it would
 * `await x`, it yields x when x is a Promise and gets back the settled value,
 * `if (x instanceof Promise) x = (yield x) as T` (yielding only Promises: a
 * generator's suspension is what costs, so a ready value is used as it is).
 * Synchronous to its end when nothing was yielded, else a Promise from the
 * first yield on. Exceptions propagate as they would from the async function
 * (thrown, or a rejection; a rejected step is thrown into the body).
 */
export function syncFirst<R>(body: Generator<unknown, R, unknown>): MaybeAsync<R> {
  let step = body.next();
  while (!step.done) {
    if (step.value instanceof Promise) return resumeLater(body, step.value);
    step = body.next(step.value);
  }
  return step.value;
}

async function resumeLater<R>(body: Generator<unknown, R, unknown>, pending: Promise<unknown> | undefined): Promise<R> {
  let value: unknown;
  let failed = false;
  let error: unknown;
  for (;;) {
    if (pending) {
      // A rejected step is thrown into the body (its try/catch/finally runs), as await would.
      try {
        value = await pending;
      } catch (e) {
        failed = true;
        error = e;
      }
    }
    const step = failed ? body.throw(error) : body.next(value);
    if (step.done) return step.value;
    failed = false;
    if (step.value instanceof Promise) pending = step.value;
    else {
      pending = undefined;
      value = step.value;
    }
  }
}
