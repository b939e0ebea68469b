// Interval timers (getitimer/setitimer; glibc's alarm) and POSIX timers
// (timer_create, timer_settime, timer_gettime, timer_getoverrun, timer_delete).

import * as abi from '../../linux/abi.js';
import { EAGAIN, EFAULT, EINVAL, Errno, isErrno } from '../../linux/errno.js';
import { StructReader, StructWriter } from '../usercopy.js';
import { GuestTimer, timerClockValid } from '../guest-timer.js';
import { sigbit } from '../signal-delivery.js';
import type { SigInfo } from '../signal-frame.js';
import type { Process, PosixTimer } from '../task.js';
import type { Kernel } from '../kernel.js';
import type { ItimerRecord, PosixTimerRecord } from '../checkpoint-records.js';
import { SysCtx, SysResult } from './context.js';

/** si_code of the signals interval timers send (the kernel's own). */
const SI_KERNEL = 0x80;
/** Most POSIX timers per process (a sandbox bound; Linux's is RLIMIT_SIGPENDING). */
const MAX_POSIX_TIMERS = 4096;
const ITIMER_SIGNALS = [abi.SIGALRM, abi.SIGVTALRM, abi.SIGPROF];

/** Sends `signo` to `proc` unless it is still pending from the last expiry. */
function sendTimerSignal(kernel: Kernel, proc: Process, signo: number, info: () => SigInfo, tid = 0): boolean {
  if (!proc.alive) return true;
  if (proc.pending & sigbit(signo)) return false;
  const task = tid ? [...proc.threads].find((t) => t.tid === tid) : undefined;
  if (task) {
    if (task.pending & sigbit(signo)) return false;
    kernel.signals.signalThread(task, info());
  } else kernel.signals.signalProcess(proc, info());
  return true;
}

function itimer(c: SysCtx, which: number): GuestTimer {
  return itimerOf(c.kernel, c.proc, which);
}

/** `proc`'s interval timer `which` (ITIMER_REAL, VIRTUAL, PROF), made disarmed on first use. */
function itimerOf(kernel: Kernel, proc: Process, which: number): GuestTimer {
  let t = proc.itimers[which];
  if (!t) {
    const signo = ITIMER_SIGNALS[which];
    t = new GuestTimer(abi.CLOCK_MONOTONIC, { fire: () => sendTimerSignal(kernel, proc, signo, () => ({ signo, code: SI_KERNEL })) });
    proc.itimers[which] = t;
  }
  return t;
}

/** Restore (checkpoint.ts): `proc`'s interval timers armed again with the time they had left (Process.save's record). */
export function restoreItimers(kernel: Kernel, proc: Process, saved: ItimerRecord[]): void {
  for (const r of saved) {
    if (!(r.which in ITIMER_SIGNALS)) throw new Error(`process ${proc.pid}: no interval timer ${r.which}`);
    itimerOf(kernel, proc, r.which).set(BigInt(r.value), BigInt(r.interval), false);
  }
}

/** struct timeval pair / timespec pair encoders: [interval, value]. */
function writeTimes(c: SysCtx, addr: number, interval: bigint, value: bigint, usec: boolean): 0 | Errno {
  const div = usec ? 1000n : 1n;
  const w = new StructWriter(32)
    .u64(0, interval / 1_000_000_000n)
    .u64(8, (interval % 1_000_000_000n) / div)
    .u64(16, value / 1_000_000_000n)
    .u64(24, (value % 1_000_000_000n) / div);
  return c.user.copyOut(addr, w.bytes);
}

function readTimes(c: SysCtx, addr: number, usec: boolean): { interval: bigint; value: bigint } | Errno {
  const b = c.user.copyIn(addr, 32);
  if (isErrno(b)) return b;
  const rd = new StructReader(b);
  const limit = usec ? 1_000_000 : 1_000_000_000;
  const mul = usec ? 1000n : 1n;
  const parts = [rd.i64(0), rd.i64(8), rd.i64(16), rd.i64(24)];
  if (parts[0] < 0 || parts[2] < 0 || parts[1] < 0 || parts[1] >= limit || parts[3] < 0 || parts[3] >= limit) return EINVAL;
  return {
    interval: BigInt(parts[0]) * 1_000_000_000n + BigInt(parts[1]) * mul,
    value: BigInt(parts[2]) * 1_000_000_000n + BigInt(parts[3]) * mul,
  };
}

export function sys_getitimer(c: SysCtx): SysResult {
  const which = c.i32(0);
  if (which < 0 || which > 2) return EINVAL;
  const cur = itimer(c, which).get();
  const r = writeTimes(c, c.u(1), cur.interval, cur.value, true);
  return isErrno(r) ? r : 0;
}

export function sys_setitimer(c: SysCtx): SysResult {
  const which = c.i32(0);
  if (which < 0 || which > 2) return EINVAL;
  const t = itimer(c, which);
  let next = { interval: 0n, value: 0n };
  if (c.u(1)) {
    const n = readTimes(c, c.u(1), true);
    if (isErrno(n)) return n;
    next = n;
  }
  if (c.u(2)) {
    const cur = t.get();
    const r = writeTimes(c, c.u(2), cur.interval, cur.value, true);
    if (isErrno(r)) return r;
  }
  t.set(next.value, next.interval, false);
  return 0;
}

export function sys_timer_create(c: SysCtx): SysResult {
  const clock = c.i32(0);
  if (!timerClockValid(clock)) return EINVAL;
  const proc = c.proc;
  let notify = abi.SIGEV_SIGNAL;
  let signo = abi.SIGALRM;
  let value = 0n;
  let tid = 0;
  if (c.u(1)) {
    const b = c.user.copyIn(c.u(1), abi.SIGEVENT.size);
    if (isErrno(b)) return b;
    const rd = new StructReader(b);
    notify = rd.i32(abi.SIGEVENT.sigev_notify);
    signo = rd.i32(abi.SIGEVENT.sigev_signo);
    value = rd.big(abi.SIGEVENT.sigev_value);
    if (notify === abi.SIGEV_THREAD_ID) {
      tid = rd.i32(abi.SIGEVENT.sigev_notify_thread_id);
      if (![...proc.threads].some((t) => t.tid === tid)) return EINVAL;
    } else if (notify !== abi.SIGEV_SIGNAL && notify !== abi.SIGEV_NONE) return EINVAL;
    if (notify !== abi.SIGEV_NONE && (signo < 1 || signo > abi.NSIG)) return EINVAL;
  }
  if (proc.posixTimers.size >= MAX_POSIX_TIMERS) return EAGAIN;
  let id = 0;
  while (proc.posixTimers.has(id)) id++;
  const entry = posixTimerEntry(c.kernel, proc, id, clock, notify, signo, value, tid);
  const w = c.user.writeU32(c.u(2), id);
  if (isErrno(w)) return EFAULT;
  proc.posixTimers.set(id, entry);
  return 0;
}

/** POSIX timer `id` of `proc`, disarmed: on expiry it signals as its sigevent says (SI_TIMER, with its overruns). */
function posixTimerEntry(kernel: Kernel, proc: Process, id: number, clock: number, notify: number, signo: number, value: bigint, tid: number): PosixTimer {
  const entry: PosixTimer = { notify, signo, value, tid, timer: undefined as unknown as GuestTimer };
  entry.timer = new GuestTimer(clock, {
    fire: () => notify === abi.SIGEV_NONE || sendTimerSignal(kernel, proc, signo, () => timerSigInfo(entry, id), tid),
  });
  return entry;
}

function timerSigInfo(entry: PosixTimer, id: number): SigInfo {
  return { signo: entry.signo, code: abi.SI_TIMER, timerId: id, value: entry.value, collectOverrun: () => entry.timer.collectOverrun() };
}

/** Checkpoint: `proc`'s POSIX timers, each with its sigevent and the time it has left. */
export function savePosixTimers(proc: Process): PosixTimerRecord[] {
  return [...proc.posixTimers].map(([id, e]) => {
    const { value, interval } = e.timer.get();
    return { id, clock: e.timer.clock, notify: e.notify, signo: e.signo, sigval: e.value.toString(), tid: e.tid, value: value.toString(), interval: interval.toString(), overrun: e.timer.overrun };
  });
}

/**
 * The restore half of savePosixTimers: the timers made again and armed with
 * the time they had left; a pending SI_TIMER signal of one gets its overrun
 * count from the restored timer again (its siginfo is `pendingTimerInfo`'s).
 */
export function restorePosixTimers(kernel: Kernel, proc: Process, saved: PosixTimerRecord[]): void {
  for (const r of saved) {
    if (!timerClockValid(r.clock) || proc.posixTimers.has(r.id)) throw new Error(`process ${proc.pid}: a bad POSIX timer ${r.id} in the image`);
    const entry = posixTimerEntry(kernel, proc, r.id, r.clock, r.notify, r.signo, BigInt(r.sigval), r.tid);
    entry.timer.overrun = r.overrun;
    proc.posixTimers.set(r.id, entry);
    entry.timer.set(BigInt(r.value), BigInt(r.interval), false);
  }
}

/** The siginfo of a pending SI_TIMER signal of `proc`'s timer `id` after a restore (undefined: no such timer). */
export function pendingTimerInfo(proc: Process, id: number): SigInfo | undefined {
  const entry = proc.posixTimers.get(id);
  return entry && timerSigInfo(entry, id);
}

function posixTimer(c: SysCtx): PosixTimer | Errno {
  return c.proc.posixTimers.get(c.i32(0)) ?? EINVAL;
}

export function sys_timer_settime(c: SysCtx): SysResult {
  const t = posixTimer(c);
  if (isErrno(t)) return t;
  const flags = c.i32(1);
  if (flags & ~abi.TIMER_ABSTIME) return EINVAL;
  const next = readTimes(c, c.u(2), false);
  if (isErrno(next)) return next;
  if (c.u(3)) {
    const cur = t.timer.get();
    const r = writeTimes(c, c.u(3), cur.interval, cur.value, false);
    if (isErrno(r)) return r;
  }
  t.timer.set(next.value, next.interval, (flags & abi.TIMER_ABSTIME) !== 0);
  return 0;
}

export function sys_timer_gettime(c: SysCtx): SysResult {
  const t = posixTimer(c);
  if (isErrno(t)) return t;
  const cur = t.timer.get();
  const r = writeTimes(c, c.u(1), cur.interval, cur.value, false);
  return isErrno(r) ? r : 0;
}

export function sys_timer_getoverrun(c: SysCtx): SysResult {
  const t = posixTimer(c);
  return isErrno(t) ? t : Math.min(t.timer.overrun, 0x7fffffff);
}

export function sys_timer_delete(c: SysCtx): SysResult {
  const t = posixTimer(c);
  if (isErrno(t)) return t;
  t.timer.disarm();
  c.proc.posixTimers.delete(c.i32(0));
  return 0;
}
