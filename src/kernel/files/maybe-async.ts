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
 * One step of a `syncFirst` body: `const x = yield* ready(value)` gives the
 * value, at once when it is not a Promise.
 */
// eslint-disable-next-line @typescript-eslint/no-explicit-any -- syncFirst sends back exactly what was yielded, settled: a T
export function* ready<T>(v: MaybeAsync<T>): Generator<unknown, T, any> {
  return (yield v) as T;
}

/**
 * Runs a generator body written like an async function (`yield* ready(x)`
 * where it would `await x`): synchronously to its end when no step is a
 * Promise, else as a Promise from the first step that is. Exceptions
 * propagate as they would from the async function (thrown, or a rejection).
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
