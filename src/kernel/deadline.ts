// Host timers that wait for a guest deadline.
//
// A Node timer can fire before the instant the guest asked for, against the
// nanosecond clock the guest reads: Node counts a timeout in whole
// milliseconds from its loop's cached time, which can lag the clock (a
// timer armed for the milliseconds left plus one from inside another
// timer's callback fired early in 1-3 tries of 40, by up to 0.57 ms). And
// setTimeout takes at most 2^31-1 ms: a longer delay fires at once. So a
// deadline is a clock and an instant, and the timer is armed again until
// that clock has passed the instant.

/** An instant on a clock: `now()` and `at` in nanoseconds. */
export interface Deadline {
  readonly now: () => bigint;
  readonly at: bigint;
}

/** The longest delay setTimeout takes. */
const TIMER_MAX_MS = 0x7fffffffn;

/**
 * Call `fn` once `deadline.now()` has reached `deadline.at` (never
 * synchronously: at the earliest from the next turn of the event loop);
 * returns the canceller.
 */
export function atDeadline(deadline: Deadline, fn: () => void): () => void {
  let timer: NodeJS.Timeout;
  const arm = () => {
    const left = deadline.at - deadline.now();
    // Rounded up and one more: a timer of whole milliseconds never undershoots by its rounding.
    const ms = left <= 0n ? 0n : left / 1_000_000n + 1n;
    timer = setTimeout(check, Number(ms > TIMER_MAX_MS ? TIMER_MAX_MS : ms));
  };
  const check = () => (deadline.now() >= deadline.at ? fn() : arm());
  arm();
  return () => clearTimeout(timer);
}
