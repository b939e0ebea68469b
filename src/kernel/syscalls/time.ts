// Clocks and sleeping.
//
// CLOCK_MONOTONIC and BOOTTIME count from the host's monotonic clock;
// REALTIME is the host's wall clock. The CPU-time clocks count the calling
// process's (or thread's) guest instructions at a nominal 1 ns each; they are
// monotonic and proportional to work done, which is what programs use them for.
// The same goes for the CPU clock ids of clock_getcpuclockid and
// pthread_getcpuclockid (negative: a pid or tid, a per-thread bit and which
// clock), of this process's threads or of any process (EINVAL for nobody);
// profiling, virtual and scheduler time are all the instruction count.
// clock_nanosleep on a CPU-time clock is EINVAL (Linux sleeps on a process's).
//
// Setting a clock (clock_settime, settimeofday) is EPERM once the arguments
// pass Linux's checks: the sandbox's wall clock is the host's, which no
// guest may set, with or without CAP_SYS_TIME; clocks Linux cannot set
// (MONOTONIC, BOOTTIME...) are EINVAL.

import * as abi from '../../linux/abi.js';
import { EINVAL, EINTR, EPERM, Errno, isErrno } from '../../linux/errno.js';
import type { Process } from '../task.js';
import { StructReader, StructWriter } from '../usercopy.js';
import { atDeadline } from '../deadline.js';
import { SysCtx, SysResult } from './context.js';
import { atProcessStart } from '../../bundle/process-start.js';

/** CLOCK_REALTIME minus the monotonic clock, read when the process starts (a snapshot's build is another process, maybe before a host reboot). */
let realOffsetNs = 0n;
atProcessStart(() => (realOffsetNs = BigInt(Date.now()) * 1_000_000n - process.hrtime.bigint()));

function nowNs(c: SysCtx, clock: number): bigint | Errno {
  switch (clock) {
    case abi.CLOCK_REALTIME:
    case abi.CLOCK_REALTIME_COARSE:
      return process.hrtime.bigint() + realOffsetNs;
    case abi.CLOCK_MONOTONIC:
    case abi.CLOCK_MONOTONIC_RAW:
    case abi.CLOCK_MONOTONIC_COARSE:
    case abi.CLOCK_BOOTTIME:
      return process.hrtime.bigint();
    case abi.CLOCK_PROCESS_CPUTIME_ID:
      return processCpuNs(c.proc);
    case abi.CLOCK_THREAD_CPUTIME_ID:
      return BigInt(c.task.cpuInstructions());
    default:
      return clock < 0 ? cpuClockNs(c, clock) : EINVAL;
  }
}

function processCpuNs(p: Process): bigint {
  return BigInt(p.cpuInstructions());
}

/** The low three bits of a CPU clock id: CPUCLOCK_PERTHREAD_MASK and which clock (PROF 0, VIRT 1, SCHED 2). */
const CPUCLOCK_PERTHREAD = 4;
const CPUCLOCK_WHICH = 3;

/**
 * A CPU clock id (Linux's MAKE_PROCESS_CPUCLOCK / MAKE_THREAD_CPUCLOCK: the
 * pid or tid complemented, shifted left 3): a thread of the caller's process
 * (tid 0: the caller), or a process by pid (0: the caller's); EINVAL for
 * which = 3 or nobody.
 */
function cpuClockNs(c: SysCtx, clock: number): bigint | Errno {
  if ((clock & CPUCLOCK_WHICH) === CPUCLOCK_WHICH) return EINVAL;
  const id = ~(clock >> 3);
  if (clock & CPUCLOCK_PERTHREAD) {
    if (id === 0) return BigInt(c.task.cpuInstructions());
    for (const t of c.proc.threads) if (t.tid === id) return BigInt(t.cpuInstructions());
    return EINVAL;
  }
  const p = id === 0 ? c.proc : c.kernel.processes.get(id);
  return p ? processCpuNs(p) : EINVAL;
}

function timespec(ns: bigint): Uint8Array {
  return new StructWriter(16).u64(0, ns / 1_000_000_000n).u64(8, ns % 1_000_000_000n).bytes;
}

export function sys_clock_gettime(c: SysCtx): SysResult {
  const ns = nowNs(c, c.i32(0));
  if (isErrno(ns)) return ns;
  const r = c.user.copyOut(c.u(1), timespec(ns));
  return isErrno(r) ? r : 0;
}

export function sys_clock_getres(c: SysCtx): SysResult {
  const ns = nowNs(c, c.i32(0));
  if (isErrno(ns)) return ns;
  if (c.u(1) === 0) return 0;
  const r = c.user.copyOut(c.u(1), timespec(1n));
  return isErrno(r) ? r : 0;
}

export function sys_gettimeofday(c: SysCtx): SysResult {
  if (c.u(0)) {
    const ns = process.hrtime.bigint() + realOffsetNs;
    const r = c.user.copyOut(c.u(0), new StructWriter(16).u64(0, ns / 1_000_000_000n).u64(8, (ns % 1_000_000_000n) / 1000n).bytes);
    if (isErrno(r)) return r;
  }
  if (c.u(1)) {
    const r = c.user.copyOut(c.u(1), new Uint8Array(8));
    if (isErrno(r)) return r;
  }
  return 0;
}

/** clock_settime(clock, tp): EINVAL for a clock Linux cannot set or a bad time, EFAULT, else EPERM (see the contract). */
export function sys_clock_settime(c: SysCtx): SysResult {
  const clock = c.i32(0);
  if (clock !== abi.CLOCK_REALTIME && clock >= 0) return EINVAL;
  const b = c.user.copyIn(c.u(1), 16);
  if (isErrno(b)) return b;
  if (clock < 0) {
    const cpu = cpuClockNs(c, clock);
    return isErrno(cpu) ? cpu : EPERM;
  }
  const rd = new StructReader(b);
  const nsec = rd.i64(8);
  if (rd.i64(0) < 0 || nsec < 0 || nsec >= 1e9) return EINVAL;
  return EPERM;
}

/** settimeofday(tv, tz): EFAULT, EINVAL for a bad tv_usec, else EPERM (see the contract). */
export function sys_settimeofday(c: SysCtx): SysResult {
  if (c.u(0)) {
    const b = c.user.copyIn(c.u(0), 16);
    if (isErrno(b)) return b;
    const rd = new StructReader(b);
    const usec = rd.i64(8);
    if (rd.i64(0) < 0 || usec < 0 || usec >= 1e6) return EINVAL;
  }
  if (c.u(1)) {
    const tz = c.user.copyIn(c.u(1), 8);
    if (isErrno(tz)) return tz;
  }
  return EPERM;
}

function readTimespec(c: SysCtx, addr: number): bigint | Errno {
  const b = c.user.copyIn(addr, 16);
  if (isErrno(b)) return b;
  const rd = new StructReader(b);
  const sec = rd.i64(0);
  const nsec = rd.i64(8);
  if (sec < 0 || nsec < 0 || nsec >= 1e9) return EINVAL;
  return BigInt(sec) * 1_000_000_000n + BigInt(nsec);
}

/** Now on CLOCK_REALTIME or CLOCK_MONOTONIC, in nanoseconds. */
export function clockNowNs(clock: number): bigint {
  const mono = process.hrtime.bigint();
  return clock === abi.CLOCK_REALTIME ? mono + realOffsetNs : mono;
}

/** A relative timeout (struct timespec) in nanoseconds, validated as Linux does. */
export function readTimeout(c: SysCtx, addr: number): bigint | Errno {
  return readTimespec(c, addr);
}

/** Sleep until `deadline` on the monotonic clock; EINTR (with time left) if a signal comes. */
function sleepUntil(c: SysCtx, clock: number, deadline: bigint, remainAddr: number): Promise<SysResult> {
  return new Promise((resolve) => {
    const left = () => {
      const now = nowNs(c, clock) as bigint;
      return deadline > now ? deadline - now : 0n;
    };
    const cancel = atDeadline({ now: () => nowNs(c, clock) as bigint, at: deadline }, () => resolve(0));
    c.task.onInterrupt(() => {
      cancel();
      if (remainAddr) c.user.copyOut(remainAddr, timespec(left()));
      resolve(EINTR);
    });
  });
}

export function sys_nanosleep(c: SysCtx): SysResult | Promise<SysResult> {
  const d = readTimespec(c, c.u(0));
  if (isErrno(d)) return d;
  const now = nowNs(c, abi.CLOCK_MONOTONIC) as bigint;
  return sleepUntil(c, abi.CLOCK_MONOTONIC, now + d, c.u(1));
}

export function sys_clock_nanosleep(c: SysCtx): SysResult | Promise<SysResult> {
  const clock = c.i32(0);
  const flags = c.i32(1);
  if (clock === abi.CLOCK_THREAD_CPUTIME_ID || clock === abi.CLOCK_PROCESS_CPUTIME_ID || clock < 0) return EINVAL;
  const now = nowNs(c, clock);
  if (isErrno(now)) return now;
  const d = readTimespec(c, c.u(2));
  if (isErrno(d)) return d;
  const abs = (flags & abi.TIMER_ABSTIME) !== 0;
  return sleepUntil(c, clock, abs ? d : now + d, abs ? 0 : c.u(3));
}
