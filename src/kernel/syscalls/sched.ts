// Scheduling policies (Linux's kernel/sched/syscalls.c): sched_setscheduler,
// sched_getscheduler, sched_setparam, sched_getparam,
// sched_get_priority_max/min and sched_rr_get_interval.
//
// Contract:
// - A thread's policy and priority are kept (Task.sched) and reported back,
//   inherited by its clones (SCHED_RESET_ON_FORK honoured); they do not
//   change how the sandbox schedules its threads.
// - pid 0 is the caller; another thread by its tid (ESRCH for nobody);
//   a negative pid or a null param is EINVAL.
// - Policies: SCHED_OTHER, BATCH and IDLE take priority 0, FIFO and RR 1 to
//   99 (EINVAL otherwise); SCHED_DEADLINE needs sched_setattr (EINVAL here).
//   Setting a real-time policy, or another user's thread, needs CAP_SYS_NICE
//   (EPERM), as does leaving SCHED_IDLE (RLIMIT_NICE is never raised here).
// - sched_rr_get_interval: 100 ms for SCHED_RR (Linux's RR_TIMESLICE), 0 for
//   FIFO, and for the others the sandbox's own time slice (10 ms).

import { EINVAL, EPERM, ESRCH, Errno, isErrno } from '../../linux/errno.js';
import { capable } from '../creds.js';
import type { SchedPolicy, Task } from '../task.js';
import { StructWriter } from '../usercopy.js';
import type { SysCtx, SysResult } from './context.js';

const SCHED_OTHER = 0;
const SCHED_FIFO = 1;
const SCHED_RR = 2;
const SCHED_BATCH = 3;
const SCHED_IDLE = 5;
const SCHED_DEADLINE = 6;
const SCHED_RESET_ON_FORK = 0x40000000;
const CAP_SYS_NICE = 23;
/** Linux's RR_TIMESLICE (100 ms) and the sandbox scheduler's slice (scheduler.ts SLICE_MS). */
const RR_INTERVAL_NS = 100_000_000n;
const FAIR_INTERVAL_NS = 10_000_000n;

const isRealtime = (policy: number) => policy === SCHED_FIFO || policy === SCHED_RR;
const isNormal = (policy: number) => policy === SCHED_OTHER || policy === SCHED_BATCH || policy === SCHED_IDLE;

/** The thread a pid argument names: the caller for 0; EINVAL when negative, ESRCH for nobody. */
function target(c: SysCtx, pid: number): Task | Errno {
  if (pid < 0) return EINVAL;
  if (pid === 0) return c.task;
  for (const p of c.kernel.processes.values()) for (const t of p.threads) if (t.tid === pid) return t;
  return ESRCH;
}

export function sys_sched_get_priority_max(c: SysCtx): SysResult {
  const policy = c.i32(0);
  if (isRealtime(policy)) return 99;
  return isNormal(policy) || policy === SCHED_DEADLINE ? 0 : EINVAL;
}

export function sys_sched_get_priority_min(c: SysCtx): SysResult {
  const policy = c.i32(0);
  if (isRealtime(policy)) return 1;
  return isNormal(policy) || policy === SCHED_DEADLINE ? 0 : EINVAL;
}

export function sys_sched_getscheduler(c: SysCtx): SysResult {
  const t = target(c, c.i32(0));
  if (isErrno(t)) return t;
  return t.sched.policy | (t.sched.resetOnFork ? SCHED_RESET_ON_FORK : 0);
}

export function sys_sched_getparam(c: SysCtx): SysResult {
  if (c.u(1) === 0) return EINVAL;
  const t = target(c, c.i32(0));
  if (isErrno(t)) return t;
  return c.user.writeU32(c.u(1), t.sched.priority);
}

export function sys_sched_setscheduler(c: SysCtx): SysResult {
  return setScheduler(c, c.i32(0), c.i32(1), c.u(2));
}

export function sys_sched_setparam(c: SysCtx): SysResult {
  return setScheduler(c, c.i32(0), -1, c.u(1));
}

/** sched_setscheduler, or with policy -1 sched_setparam (the policy kept). */
function setScheduler(c: SysCtx, pid: number, policyArg: number, paramAddr: number): SysResult {
  if (paramAddr === 0 || pid < 0) return EINVAL;
  const priority = c.user.readI32(paramAddr);
  if (isErrno(priority)) return priority;
  const t = target(c, pid);
  if (isErrno(t)) return t;
  const resetOnFork = policyArg < 0 ? t.sched.resetOnFork : (policyArg & SCHED_RESET_ON_FORK) !== 0;
  const policy = policyArg < 0 ? t.sched.policy : policyArg & ~SCHED_RESET_ON_FORK;
  if (!isRealtime(policy) && !isNormal(policy)) return EINVAL;
  if (isRealtime(policy) ? priority < 1 || priority > 99 : priority !== 0) return EINVAL;
  const next: SchedPolicy = { policy, priority, resetOnFork };
  if (!mayChange(c, t, next)) return EPERM;
  t.sched = next;
  return 0;
}

/** Without CAP_SYS_NICE: only one's own threads, no real-time policy, no leaving SCHED_IDLE, no clearing reset-on-fork (__sched_setscheduler's user checks). */
function mayChange(c: SysCtx, t: Task, next: SchedPolicy): boolean {
  const cr = c.proc.creds;
  if (capable(cr, CAP_SYS_NICE)) return true;
  const owner = t.process.creds;
  if (cr.euid !== owner.euid && cr.euid !== owner.ruid) return false;
  if (isRealtime(next.policy)) return false;
  if (t.sched.policy === SCHED_IDLE && next.policy !== SCHED_IDLE) return false;
  if (t.sched.resetOnFork && !next.resetOnFork) return false;
  return true;
}

export function sys_sched_rr_get_interval(c: SysCtx): SysResult {
  const t = target(c, c.i32(0));
  if (isErrno(t)) return t;
  const ns = t.sched.policy === SCHED_RR ? RR_INTERVAL_NS : t.sched.policy === SCHED_FIFO ? 0n : FAIR_INTERVAL_NS;
  const r = c.user.copyOut(c.u(1), new StructWriter(16).u64(0, ns / 1_000_000_000n).u64(8, ns % 1_000_000_000n).bytes);
  return isErrno(r) ? r : 0;
}
