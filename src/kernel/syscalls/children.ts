// Creating and waiting for children: clone, clone3, wait4, waitid.

import * as abi from '../../linux/abi.js';
import { E2BIG, ECHILD, EINTR, EINVAL, EPERM, ESRCH, isErrno } from '../../linux/errno.js';
import { StructReader, StructWriter } from '../usercopy.js';
import type { CloneRequest } from '../process-lifecycle.js';
import { findReport, WaitOptions, WaitReport, WaitSelector } from '../wait.js';
import { SIGINFO } from '../signal-frame.js';
import { SysCtx, SysResult } from './context.js';
import { rusageOf } from './process.js';

/** clone(flags, newsp, parent_tid, tls, child_tid): riscv64's argument order. */
export function sys_clone(c: SysCtx): SysResult | Promise<SysResult> {
  const raw = c.u32(0);
  const flags = (raw & ~0xff) >>> 0;
  if (flags & abi.CLONE_PIDFD) return EINVAL; // pidfds are not supported
  return c.kernel.lifecycle.clone(c.task, { flags, clearSighand: false, exitSignal: raw & 0xff, stack: c.u(1), parentTid: c.u(2), tls: c.u(3), childTid: c.u(4) });
}

/** clone3(struct clone_args *, size). */
export function sys_clone3(c: SysCtx): SysResult | Promise<SysResult> {
  const size = c.u(1);
  const A = abi.CLONE_ARGS;
  if (size < abi.CLONE_ARGS_SIZE_VER0) return EINVAL;
  if (size > 4096) return E2BIG;
  const b = c.user.copyIn(c.u(0), size);
  if (isErrno(b)) return b;
  // Fields past the ones this kernel knows must be zero (Linux: E2BIG).
  const known = A.cgroup + 8;
  for (let i = known; i < size; i++) if (b[i] !== 0) return E2BIG;
  const padded = new Uint8Array(Math.max(size, known));
  padded.set(b);
  const rd = new StructReader(padded);
  const flags = rd.big(A.flags);
  const CLONE_CLEAR_SIGHAND = 1n << 32n;
  const CLONE_INTO_CGROUP = 1n << 33n;
  if (flags >> 34n !== 0n) return EINVAL;
  if (flags & CLONE_INTO_CGROUP || rd.u64(A.set_tid_size) !== 0) return EPERM;
  const low = Number(flags & 0xffffffffn) >>> 0;
  if (low & (abi.CLONE_PIDFD | abi.CLONE_DETACHED)) return EINVAL;
  const exitSignal = rd.big(A.exit_signal);
  if (exitSignal > BigInt(abi.NSIG) || (exitSignal !== 0n && low & abi.CLONE_THREAD)) return EINVAL;
  const stackLo = rd.u64(A.stack);
  const stackSize = rd.u64(A.stack_size);
  if ((stackLo === 0) !== (stackSize === 0)) return EINVAL;
  const req: CloneRequest = {
    flags: low & ~0xff,
    clearSighand: (flags & CLONE_CLEAR_SIGHAND) !== 0n,
    exitSignal: Number(exitSignal),
    stack: stackLo ? stackLo + stackSize : 0,
    tls: rd.u64(A.tls),
    parentTid: rd.u64(A.parent_tid),
    childTid: rd.u64(A.child_tid),
  };
  return c.kernel.lifecycle.clone(c.task, req);
}

/** Wait for a report from `c`'s children, blocking unless WNOHANG. 0: WNOHANG and none yet. */
function waitChildren(c: SysCtx, sel: WaitSelector, opts: WaitOptions, noHang: boolean, done: (r: WaitReport | 0) => SysResult): SysResult | Promise<SysResult> {
  const first = findReport(c.kernel, c.proc, sel, opts);
  if (first === 'none') return ECHILD;
  if (first !== 'pending') return done(first);
  if (noHang) return done(0);
  return new Promise((resolve) => {
    const retry = () => {
      const r = findReport(c.kernel, c.proc, sel, opts);
      if (r === 'none') resolve(ECHILD);
      else if (r !== 'pending') resolve(done(r));
      else c.proc.childWaiters.add(retry);
    };
    c.proc.childWaiters.add(retry);
    c.task.onInterrupt(() => {
      c.proc.childWaiters.delete(retry);
      // As Linux: a child that is ready wins over the signal (the SIGCHLD of
      // its own exit arrives just before the wake-up).
      const r = findReport(c.kernel, c.proc, sel, opts);
      resolve(r !== 'none' && r !== 'pending' ? done(r) : EINTR);
    });
  });
}

function selectorFromPid(c: SysCtx, pid: number): WaitSelector {
  if (pid < -1) return { idtype: abi.P_PGID, id: -pid };
  if (pid === -1) return { idtype: abi.P_ALL, id: 0 };
  if (pid === 0) return { idtype: abi.P_PGID, id: c.proc.pgid };
  return { idtype: abi.P_PID, id: pid };
}

/** wait4(pid, wstatus, options, rusage). */
export function sys_wait4(c: SysCtx): SysResult | Promise<SysResult> {
  const pid = c.i32(0);
  const statusAddr = c.u(1);
  const options = c.u32(2);
  const rusageAddr = c.u(3);
  if (options & ~(abi.WNOHANG | abi.WUNTRACED | abi.WCONTINUED | abi.__WNOTHREAD | abi.__WALL | abi.__WCLONE)) return EINVAL;
  if (pid === -2147483648) return ESRCH; // INT_MIN names no process group
  const opts: WaitOptions = {
    exited: true,
    stopped: (options & abi.WUNTRACED) !== 0,
    continued: (options & abi.WCONTINUED) !== 0,
    peek: false,
    clone: (options & abi.__WCLONE) !== 0,
    all: (options & abi.__WALL) !== 0,
  };
  return waitChildren(c, selectorFromPid(c, pid), opts, (options & abi.WNOHANG) !== 0, (r) => {
    if (r === 0) return 0;
    if (statusAddr) {
      const w = c.user.writeU32(statusAddr, r.status);
      if (isErrno(w)) return w;
    }
    if (rusageAddr) {
      const w = c.user.copyOut(rusageAddr, rusageOf(r.child, false));
      if (isErrno(w)) return w;
    }
    return r.child.pid;
  });
}

/** waitid(idtype, id, infop, options, rusage). */
export function sys_waitid(c: SysCtx): SysResult | Promise<SysResult> {
  const idtype = c.i32(0);
  let id = c.i32(1);
  const infoAddr = c.u(2);
  const options = c.u32(3);
  const rusageAddr = c.u(4);
  if (options & ~(abi.WNOHANG | abi.WEXITED | abi.WSTOPPED | abi.WCONTINUED | abi.WNOWAIT | abi.__WNOTHREAD | abi.__WALL | abi.__WCLONE)) return EINVAL;
  if (!(options & (abi.WEXITED | abi.WSTOPPED | abi.WCONTINUED))) return EINVAL;
  if (idtype === abi.P_PIDFD) return EINVAL;
  if (idtype !== abi.P_ALL && idtype !== abi.P_PID && idtype !== abi.P_PGID) return EINVAL;
  if (idtype === abi.P_PID && id <= 0) return EINVAL;
  if (idtype === abi.P_PGID) {
    if (id < 0) return EINVAL;
    if (id === 0) id = c.proc.pgid;
  }
  const opts: WaitOptions = {
    exited: (options & abi.WEXITED) !== 0,
    stopped: (options & abi.WSTOPPED) !== 0,
    continued: (options & abi.WCONTINUED) !== 0,
    peek: (options & abi.WNOWAIT) !== 0,
    clone: (options & abi.__WCLONE) !== 0,
    all: (options & abi.__WALL) !== 0,
  };
  return waitChildren(c, { idtype, id }, opts, (options & abi.WNOHANG) !== 0, (r) => {
    if (infoAddr) {
      // Nothing to report under WNOHANG: Linux zeroes si_signo and si_pid.
      const w = new StructWriter(SIGINFO.size);
      if (r !== 0) {
        w.i32(SIGINFO.si_signo, abi.SIGCHLD).i32(SIGINFO.si_code, r.code).i32(SIGINFO.si_pid, r.child.pid);
        w.u32(SIGINFO.si_uid, r.child.creds.ruid).i32(SIGINFO.si_status, r.value);
      }
      const e = c.user.copyOut(infoAddr, w.bytes);
      if (isErrno(e)) return e;
    }
    if (rusageAddr) {
      const e = c.user.copyOut(rusageAddr, r === 0 ? new Uint8Array(abi.RUSAGE_SIZE) : rusageOf(r.child, false));
      if (isErrno(e)) return e;
    }
    return 0;
  });
}
