// Interval timers (setitimer/alarm) and POSIX timers (timer_create) of a
// process: each is a host timer that sends its signal when it expires, then
// re-arms itself for its interval.
//
// Contract: times are nanoseconds (bigint). A timer belongs to one process
// and is disarmed when the process execs (POSIX timers) or dies (all).
// Expiries that happen while the previous signal is still pending (and
// whole intervals a late host timer missed) count as overruns instead of
// queueing more signals; as in Linux, they are handed over when the signal
// is taken off the queue (collectOverrun: si_overrun, and timer_getoverrun
// from then on).
// ITIMER_VIRTUAL and ITIMER_PROF count wall-clock time here, not CPU time
// (a documented simplification: guest CPU time is counted in instructions,
// which a host timer cannot follow).

import { clockNowNs } from './syscalls/time.js';
import * as abi from '../linux/abi.js';
import { atDeadline } from './deadline.js';

export interface TimerTarget {
  /** Deliver one expiry; returns false when the previous one is still pending (an overrun). */
  fire(): boolean;
}

export class GuestTimer {
  /** Absolute expiry on `clock`, ns; 0n when disarmed. */
  private deadline = 0n;
  private interval = 0n;
  private cancelHost: (() => void) | undefined;
  /** Overruns of the last delivered expiry (timer_getoverrun). */
  overrun = 0;
  /** Overruns counted since the queued signal was generated. */
  private pendingOverrun = 0;

  constructor(
    readonly clock: number,
    private readonly target: TimerTarget,
  ) {}

  /** Time to the next expiry and the interval, as timer_gettime/getitimer report them. */
  get(): { value: bigint; interval: bigint } {
    if (this.deadline === 0n) return { value: 0n, interval: this.interval };
    const left = this.deadline - clockNowNs(this.clock);
    // An armed timer never reports zero left (zero means disarmed).
    return { value: left > 0n ? left : 1n, interval: this.interval };
  }

  /** Arm for `value` ns from now (or at absolute `value`), then every `interval`; value 0 disarms. */
  set(value: bigint, interval: bigint, absolute: boolean): void {
    this.disarm();
    this.interval = interval;
    if (value === 0n) return;
    this.deadline = absolute ? value : clockNowNs(this.clock) + value;
    this.schedule();
  }

  /** The queued signal is being delivered: its overruns become si_overrun and timer_getoverrun's answer. */
  collectOverrun(): number {
    this.overrun = this.pendingOverrun;
    this.pendingOverrun = 0;
    return this.overrun;
  }

  disarm(): void {
    this.cancelHost?.();
    this.cancelHost = undefined;
    this.deadline = 0n;
  }

  private schedule(): void {
    const clock = this.clock;
    this.cancelHost = atDeadline({ now: () => clockNowNs(clock), at: this.deadline }, () => this.expire());
  }

  private expire(): void {
    this.cancelHost = undefined;
    const now = clockNowNs(this.clock);
    let missed = 0;
    if (this.interval > 0n) {
      // Skip whole intervals that passed while we slept; they are overruns.
      const behind = (now - this.deadline) / this.interval;
      missed = Number(behind);
      this.deadline += (behind + 1n) * this.interval;
    } else {
      this.deadline = 0n;
    }
    if (this.target.fire()) this.pendingOverrun = missed;
    else this.pendingOverrun += missed + 1;
    if (this.deadline !== 0n) this.schedule();
  }
}

/** The clocks a POSIX timer may use. */
export function timerClockValid(clock: number): boolean {
  return clock === abi.CLOCK_REALTIME || clock === abi.CLOCK_MONOTONIC || clock === abi.CLOCK_BOOTTIME;
}
