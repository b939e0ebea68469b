// Process and identity system calls: exit, ids, limits, uname, sysinfo,
// getrandom, affinity, prctl, execve.

import { randomFillSync } from 'node:crypto';
import * as abi from '../../linux/abi.js';
import { EACCES, EAGAIN, EINVAL, EPERM, ESRCH, isErrno, E2BIG } from '../../linux/errno.js';
import type { Process } from '../task.js';
import { capable, CAP_SETPCAP } from '../creds.js';
import { StructReader, StructWriter } from '../usercopy.js';
import { nofileLimit } from '../process-lifecycle.js';
import { execve } from '../exec.js';
import { NORETURN, SysCtx, SysResult } from './context.js';

export function sys_exit(c: SysCtx): SysResult {
  c.kernel.lifecycle.exitThread(c.task, c.i32(0) & 0xff);
  return NORETURN;
}

export function sys_exit_group(c: SysCtx): SysResult {
  c.kernel.lifecycle.exitProcess(c.proc, abi.exitStatus(c.i32(0) & 0xff));
  return NORETURN;
}

export const sys_getpid = (c: SysCtx): SysResult => c.proc.pid;
export const sys_gettid = (c: SysCtx): SysResult => c.task.tid;
export const sys_getppid = (c: SysCtx): SysResult => c.proc.ppid;
export const sys_getuid = (c: SysCtx): SysResult => c.proc.creds.ruid;
export const sys_geteuid = (c: SysCtx): SysResult => c.proc.creds.euid;
export const sys_getgid = (c: SysCtx): SysResult => c.proc.creds.rgid;
export const sys_getegid = (c: SysCtx): SysResult => c.proc.creds.egid;

/** The live process `pid` names (0: the caller), or undefined. */
function processOf(c: SysCtx, pid: number): Process | undefined {
  if (pid === 0) return c.proc;
  const p = c.kernel.processes.get(pid);
  return p && p.alive ? p : undefined;
}

export function sys_getpgid(c: SysCtx): SysResult {
  const p = processOf(c, c.i32(0));
  return p ? p.pgid : ESRCH;
}

export function sys_getsid(c: SysCtx): SysResult {
  const p = processOf(c, c.i32(0));
  return p ? p.sid : ESRCH;
}

/** setpgid(pid, pgid): the caller or one of its children joins or starts a group in its session. */
export function sys_setpgid(c: SysCtx): SysResult {
  const pid = c.i32(0);
  const pgid = c.i32(1);
  if (pgid < 0) return EINVAL;
  const target = processOf(c, pid);
  if (!target || (target !== c.proc && target.ppid !== c.proc.pid)) return ESRCH;
  if (target !== c.proc) {
    if (target.sid !== c.proc.sid) return EPERM;
    if (target.execed) return EACCES;
  }
  if (target.sid === target.pid) return EPERM; // a session leader stays in its group
  const group = pgid === 0 ? target.pid : pgid;
  if (group !== target.pid) {
    // A zombie is still a member until it is reaped, as in Linux (a pipeline's first command may be done already).
    const exists = [...c.kernel.processes.values()].some((p) => p.pgid === group && p.sid === c.proc.sid);
    if (!exists) return EPERM;
  }
  target.pgid = group;
  return 0;
}

/** setsid(): a new session and group led by the caller, unless it already leads a group. */
export function sys_setsid(c: SysCtx): SysResult {
  const me = c.proc;
  if ([...c.kernel.processes.values()].some((p) => p.pgid === me.pid)) return EPERM;
  me.sid = me.pid;
  me.pgid = me.pid;
  return me.sid;
}

/** A process's guest CPU time in nanoseconds (one per instruction, as the CPU-time clocks count). */
function cpuNs(p: Process, children: boolean): number {
  if (children) return p.childInstructions;
  return p.cpuInstructions();
}

/** struct rusage for `p` (or its reaped children): user time from guest instructions, max RSS from its mappings. */
export function rusageOf(p: Process, children: boolean, ns = cpuNs(p, children)): Uint8Array {
  const w = new StructWriter(abi.RUSAGE_SIZE);
  w.u64(0, Math.floor(ns / 1e9)).u64(8, Math.floor((ns % 1e9) / 1000));
  if (!children && p.alive) w.u64(32, Math.floor(p.mm.mappedBytes() / 1024)); // ru_maxrss (KiB)
  return w.bytes;
}

export function sys_getrusage(c: SysCtx): SysResult {
  const who = c.i32(0);
  let bytes: Uint8Array;
  if (who === abi.RUSAGE_SELF) bytes = rusageOf(c.proc, false);
  else if (who === abi.RUSAGE_CHILDREN) bytes = rusageOf(c.proc, true);
  else if (who === abi.RUSAGE_THREAD) bytes = rusageOf(c.proc, false, c.task.cpuInstructions());
  else return EINVAL;
  const r = c.user.copyOut(c.u(1), bytes);
  return isErrno(r) ? r : 0;
}

/** times(buf): clock ticks (100 Hz) of user time for the process and its children; returns ticks since boot. */
export function sys_times(c: SysCtx): SysResult {
  if (c.u(0)) {
    const ticks = (ns: number) => Math.floor(ns / 1e7);
    const w = new StructWriter(32).u64(0, ticks(cpuNs(c.proc, false))).u64(16, ticks(cpuNs(c.proc, true)));
    const r = c.user.copyOut(c.u(0), w.bytes);
    if (isErrno(r)) return r;
  }
  return Math.floor((Date.now() - c.kernel.bootTime) / 10);
}

function writeIds(c: SysCtx, ids: number[]): SysResult {
  for (let i = 0; i < 3; i++) {
    const r = c.user.writeU32(c.u(i), ids[i]);
    if (isErrno(r)) return r;
  }
  return 0;
}

export const sys_getresuid = (c: SysCtx): SysResult => writeIds(c, [c.proc.creds.ruid, c.proc.creds.euid, c.proc.creds.suid]);
export const sys_getresgid = (c: SysCtx): SysResult => writeIds(c, [c.proc.creds.rgid, c.proc.creds.egid, c.proc.creds.sgid]);

export function sys_getgroups(c: SysCtx): SysResult {
  const n = c.i32(0);
  const groups = c.proc.creds.groups;
  if (n < 0) return EINVAL;
  if (n === 0) return groups.length;
  if (n < groups.length) return EINVAL;
  const w = new StructWriter(groups.length * 4);
  groups.forEach((g, i) => w.u32(i * 4, g));
  const r = c.user.copyOut(c.u(1), w.bytes);
  return isErrno(r) ? r : groups.length;
}

export function sys_set_tid_address(c: SysCtx): SysResult {
  c.task.clearChildTid = c.u(0);
  return c.task.tid;
}

export function sys_set_robust_list(c: SysCtx): SysResult {
  if (c.u(1) !== 24) return EINVAL; // sizeof(struct robust_list_head)
  c.task.robustList = c.u(0);
  c.task.robustListLen = c.u(1);
  return 0;
}

export function sys_prlimit64(c: SysCtx): SysResult {
  const pid = c.i32(0);
  const res = c.u32(1);
  if (pid !== 0 && pid !== c.proc.pid) return ESRCH;
  if (res >= abi.RLIM_NLIMITS) return EINVAL;
  const lim = c.proc.rlimits[res];
  const newAddr = c.u(2);
  const oldAddr = c.u(3);
  let next: { cur: bigint; max: bigint } | undefined;
  if (newAddr) {
    const b = c.user.copyIn(newAddr, 16);
    if (isErrno(b)) return b;
    const rd = new StructReader(b);
    next = { cur: rd.big(0), max: rd.big(8) };
    const bad = checkLimit(c, res, next);
    if (bad !== 0) return bad;
  }
  if (oldAddr) {
    const r = c.user.copyOut(oldAddr, new StructWriter(16).u64(0, lim.cur).u64(8, lim.max).bytes);
    if (isErrno(r)) return r;
  }
  if (next) applyLimit(c, res, next);
  return 0;
}

/** setrlimit(resource, rlim): prlimit64 on the caller without the old value. */
export function sys_setrlimit(c: SysCtx): SysResult {
  const res = c.u32(0);
  if (res >= abi.RLIM_NLIMITS) return EINVAL;
  const b = c.user.copyIn(c.u(1), 16);
  if (isErrno(b)) return b;
  const rd = new StructReader(b);
  const next = { cur: rd.big(0), max: rd.big(8) };
  const bad = checkLimit(c, res, next);
  if (bad !== 0) return bad;
  applyLimit(c, res, next);
  return 0;
}

/** May the caller set limit `res` to `next` (prlimit64, setrlimit)? Soft <= hard; raising hard needs privilege. */
function checkLimit(c: SysCtx, res: number, next: { cur: bigint; max: bigint }): 0 | typeof EINVAL | typeof EPERM {
  if (next.cur > next.max) return EINVAL;
  if (next.max > c.proc.rlimits[res].max && c.proc.creds.euid !== 0) return EPERM;
  return 0;
}

function applyLimit(c: SysCtx, res: number, next: { cur: bigint; max: bigint }): void {
  c.proc.rlimits[res] = next;
  if (res === abi.RLIMIT_NOFILE) c.proc.fds.limit = nofileLimit(c.proc.rlimits);
}

export function sys_getrlimit(c: SysCtx): SysResult {
  const res = c.u32(0);
  if (res >= abi.RLIM_NLIMITS) return EINVAL;
  const lim = c.proc.rlimits[res];
  const r = c.user.copyOut(c.u(1), new StructWriter(16).u64(0, lim.cur).u64(8, lim.max).bytes);
  return isErrno(r) ? r : 0;
}

export function sys_uname(c: SysCtx): SysResult {
  const U = abi.UTSNAME;
  const w = new StructWriter(U.size)
    .str(U.sysname, 'Linux', U.field)
    .str(U.nodename, c.kernel.config.hostname, U.field)
    .str(U.release, '6.1.0', U.field)
    .str(U.version, '#1 SMP tsvisor', U.field)
    .str(U.machine, 'riscv64', U.field)
    .str(U.domainname, '(none)', U.field);
  const r = c.user.copyOut(c.u(0), w.bytes);
  return isErrno(r) ? r : 0;
}

export function sys_sysinfo(c: SysCtx): SysResult {
  const S = abi.SYSINFO;
  const k = c.kernel;
  const total = k.config.totalMemory;
  const w = new StructWriter(S.size)
    .u64(S.uptime, Math.floor((Date.now() - k.bootTime) / 1000))
    .u64(S.totalram, total)
    .u64(S.freeram, Math.max(0, total - k.account.used))
    .u16(S.procs, k.processStats().length)
    .u32(S.mem_unit, 1);
  const r = c.user.copyOut(c.u(0), w.bytes);
  return isErrno(r) ? r : 0;
}

export function sys_getrandom(c: SysCtx): SysResult {
  const len = Math.min(c.u(1), 1 << 25);
  const flags = c.u32(2);
  if (flags & ~(abi.GRND_NONBLOCK | abi.GRND_RANDOM | abi.GRND_INSECURE)) return EINVAL;
  const r = c.user.copyOut(c.u(0), randomFillSync(new Uint8Array(len)));
  return isErrno(r) ? r : len;
}

/** The thread `pid` names for the affinity calls (0: the caller; else a tid). */
function affinityTarget(c: SysCtx, pid: number) {
  if (pid === 0) return c.task;
  for (const p of c.kernel.processes.values()) for (const t of p.threads) if (t.tid === pid) return t;
  return undefined;
}

export function sys_sched_getaffinity(c: SysCtx): SysResult {
  const t = affinityTarget(c, c.i32(0));
  if (!t) return ESRCH;
  const size = c.u(1);
  const n = c.kernel.config.cpuNum;
  const bytes = Math.ceil(n / 64) * 8;
  if (size < bytes || size % 8) return EINVAL;
  const mask = new Uint8Array(bytes);
  for (let i = 0; i < n; i++) if (!t.affinity || (t.affinity[i >> 3] & (1 << (i & 7)))) mask[i >> 3] |= 1 << (i & 7);
  const r = c.user.copyOut(c.u(2), mask);
  return isErrno(r) ? r : bytes;
}

/** sched_setaffinity: the mask must name at least one vCPU; it is kept and reported, not enforced. */
export function sys_sched_setaffinity(c: SysCtx): SysResult {
  const t = affinityTarget(c, c.i32(0));
  if (!t) return ESRCH;
  const n = c.kernel.config.cpuNum;
  const len = Math.min(c.u(1), 1024);
  const b = c.user.copyIn(c.u(2), len);
  if (isErrno(b)) return b;
  const mask = new Uint8Array(Math.ceil(n / 8));
  let any = false;
  for (let i = 0; i < n && i >> 3 < b.length; i++) {
    if (b[i >> 3] & (1 << (i & 7))) {
      mask[i >> 3] |= 1 << (i & 7);
      any = true;
    }
  }
  if (!any) return EINVAL;
  t.affinity = mask;
  return 0;
}

/** getcpu(cpu, node): the vCPU running the caller (the kernel worker's is 0) and NUMA node 0. */
export function sys_getcpu(c: SysCtx): SysResult {
  const cpu = c.task.lastCpu;
  if (c.u(0)) {
    const r = c.user.writeU32(c.u(0), cpu);
    if (isErrno(r)) return r;
  }
  if (c.u(1)) {
    const r = c.user.writeU32(c.u(1), 0);
    if (isErrno(r)) return r;
  }
  return 0;
}

export function sys_sched_yield(c: SysCtx): SysResult {
  c.task.yieldRequested = true;
  return 0;
}

export function sys_prctl(c: SysCtx): SysResult {
  const opt = c.i32(0);
  switch (opt) {
    case 15: {
      // PR_SET_NAME: up to 15 bytes of a NUL-terminated string.
      const b = c.user.copyIn(c.u(1), 16);
      if (isErrno(b)) return b;
      const end = b.indexOf(0);
      c.proc.comm = Buffer.from(b.subarray(0, end < 0 || end > 15 ? 15 : end)).toString();
      return 0;
    }
    case 16: {
      // PR_GET_NAME
      const r = c.user.copyOut(c.u(1), Buffer.from(c.proc.comm + '\0'));
      return isErrno(r) ? r : 0;
    }
    case 7: // PR_GET_KEEPCAPS
      return c.proc.creds.keepCaps ? 1 : 0;
    case 8: // PR_SET_KEEPCAPS
      if (c.u(1) > 1) return EINVAL;
      c.proc.creds.keepCaps = c.u(1) === 1;
      return 0;
    case 23: // PR_CAPBSET_READ
      return c.u(1) > 40 ? EINVAL : Number((c.proc.creds.caps.bounding >> BigInt(c.u(1))) & 1n);
    case 24: // PR_CAPBSET_DROP
      if (c.u(1) > 40) return EINVAL;
      if (!capable(c.proc.creds, CAP_SETPCAP)) return EPERM;
      c.proc.creds.caps.bounding &= ~(1n << BigInt(c.u(1)));
      return 0;
    case 38: // PR_SET_NO_NEW_PRIVS
      return c.u(1) === 1 ? 0 : EINVAL;
    case 39: // PR_GET_NO_NEW_PRIVS
      return 1;
    case 4: // PR_SET_DUMPABLE
    case 3: // PR_GET_DUMPABLE
      return opt === 3 ? 1 : 0;
    default:
      return EINVAL;
  }
}

/** execve: replaces the image; argv/envp limits as Linux's (MAX_ARG_STRLEN-ish). */
export async function sys_execve(c: SysCtx): Promise<SysResult> {
  const path = c.user.readCString(c.u(0));
  if (isErrno(path)) return path;
  const argv = c.user.readStringArray(c.u(1), 65536, 2 << 20);
  if (isErrno(argv)) return argv === E2BIG ? E2BIG : argv;
  const envp = c.user.readStringArray(c.u(2), 65536, 2 << 20);
  if (isErrno(envp)) return envp;
  if (c.proc.threads.size > 1) return EAGAIN; // multi-threaded exec arrives with issue 6
  const r = await execve(c.kernel, c.task, path, argv, envp);
  return r === 0 ? NORETURN : r;
}

export function sys_riscv_flush_icache(c: SysCtx): SysResult {
  c.proc.cpu.flushCode();
  return 0;
}

