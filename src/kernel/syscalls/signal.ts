// Signal system calls: actions, masks, sending, sigreturn, sigaltstack.

import * as abi from '../../linux/abi.js';
import { EAGAIN, EINTR, EINVAL, ENOMEM, ESRCH, EPERM, Errno, isErrno } from '../../linux/errno.js';
import { StructReader, StructWriter } from '../usercopy.js';
import { maySignal } from '../creds.js';
import { decodeSigframe, encodeSiginfo, SigInfo, SIGFRAME, SIGINFO } from '../signal-frame.js';
import { hasDeliverable, UNBLOCKABLE } from '../signal-delivery.js';
import { clockNowNs, readTimeout } from './time.js';
import { atDeadline } from '../deadline.js';
import { NORETURN, SysCtx, SysResult } from './context.js';

export function sys_rt_sigaction(c: SysCtx): SysResult {
  const sig = c.i32(0);
  if (sig < 1 || sig > abi.NSIG) return EINVAL;
  if (c.u(3) !== abi.SIGSET_SIZE) return EINVAL;
  const acts = c.proc.sigactions;
  const A = abi.SIGACTION;
  const newAddr = c.u(1);
  const oldAddr = c.u(2);
  let next;
  if (newAddr) {
    if (sig === abi.SIGKILL || sig === abi.SIGSTOP) return EINVAL;
    const b = c.user.copyIn(newAddr, A.size);
    if (isErrno(b)) return b;
    const rd = new StructReader(b);
    next = { handler: rd.u64(A.sa_handler), flags: rd.u64(A.sa_flags), mask: rd.big(A.sa_mask) & ~UNBLOCKABLE };
  }
  if (oldAddr) {
    const o = acts[sig];
    const r = c.user.copyOut(oldAddr, new StructWriter(A.size).u64(A.sa_handler, o.handler).u64(A.sa_flags, o.flags).u64(A.sa_mask, o.mask).bytes);
    if (isErrno(r)) return r;
  }
  if (next) acts[sig] = next;
  return 0;
}

export function sys_rt_sigprocmask(c: SysCtx): SysResult {
  const how = c.i32(0);
  if (c.u(3) !== abi.SIGSET_SIZE) return EINVAL;
  const t = c.task;
  const old = t.sigmask;
  const setAddr = c.u(1);
  if (setAddr) {
    const set = c.user.readBigU64(setAddr);
    if (isErrno(set)) return set;
    switch (how) {
      case abi.SIG_BLOCK:
        t.sigmask |= set;
        break;
      case abi.SIG_UNBLOCK:
        t.sigmask &= ~set;
        break;
      case abi.SIG_SETMASK:
        t.sigmask = set;
        break;
      default:
        return EINVAL;
    }
    t.sigmask &= ~UNBLOCKABLE;
  }
  if (c.u(2)) {
    const r = c.user.writeU64(c.u(2), old);
    if (isErrno(r)) return r;
  }
  return 0;
}

export function sys_rt_sigpending(c: SysCtx): SysResult {
  if (c.u(1) !== abi.SIGSET_SIZE) return EINVAL;
  return c.user.writeU64(c.u(0), (c.task.pending | c.proc.pending) & c.task.sigmask);
}

function senderInfo(c: SysCtx, sig: number, code: number) {
  return { signo: sig, code, pid: c.proc.pid, uid: c.proc.creds.ruid };
}

export function sys_kill(c: SysCtx): SysResult {
  const pid = c.i32(0);
  const sig = c.i32(1);
  if (sig < 0 || sig > abi.NSIG) return EINVAL;
  const k = c.kernel;
  const info = senderInfo(c, sig, abi.SI_USER);
  const me = c.proc.creds;
  if (pid > 0) {
    const p = k.processes.get(pid);
    if (!p || !p.alive) return ESRCH;
    if (!maySignal(me, p.creds)) return EPERM;
    return k.signals.signalProcess(p, info);
  }
  // 0: our process group; -1: every process we may signal but init and the caller; < -1: group -pid.
  const targets = [...k.processes.values()].filter((p) => p.alive && (pid === -1 ? p.pid !== 1 && p !== c.proc : p.pgid === (pid === 0 ? c.proc.pgid : -pid)));
  if (targets.length === 0) return ESRCH;
  const allowed = targets.filter((p) => maySignal(me, p.creds));
  if (allowed.length === 0) return EPERM;
  for (const p of allowed) k.signals.signalProcess(p, info);
  return 0;
}

function findThread(c: SysCtx, tgid: number, tid: number) {
  for (const p of c.kernel.processes.values()) {
    if (tgid > 0 && p.pid !== tgid) continue;
    for (const t of p.threads) if (t.tid === tid) return t;
  }
  return undefined;
}

export function sys_tgkill(c: SysCtx): SysResult {
  const tgid = c.i32(0);
  const tid = c.i32(1);
  const sig = c.i32(2);
  if (tgid <= 0 || tid <= 0 || sig < 0 || sig > abi.NSIG) return EINVAL;
  const t = findThread(c, tgid, tid);
  if (!t) return ESRCH;
  return c.kernel.signals.signalThread(t, senderInfo(c, sig, abi.SI_TKILL));
}

export function sys_tkill(c: SysCtx): SysResult {
  const tid = c.i32(0);
  const sig = c.i32(1);
  if (tid <= 0 || sig < 0 || sig > abi.NSIG) return EINVAL;
  const t = findThread(c, 0, tid);
  if (!t) return ESRCH;
  return c.kernel.signals.signalThread(t, senderInfo(c, sig, abi.SI_TKILL));
}

export function sys_rt_sigreturn(c: SysCtx): SysResult {
  const sp = c.task.regs.getU(2);
  const frame = c.user.copyIn(sp, SIGFRAME.size);
  if (isErrno(frame)) {
    c.kernel.lifecycle.exitProcess(c.proc, abi.signalStatus(abi.SIGSEGV));
    return NORETURN;
  }
  c.task.sigmask = decodeSigframe(c.task, frame) & ~UNBLOCKABLE;
  return NORETURN;
}

const SS_ONSTACK = 1;
const SS_DISABLE = 2;
const MINSIGSTKSZ = 2048;

export function sys_sigaltstack(c: SysCtx): SysResult {
  const t = c.task;
  const sp = t.regs.getU(2);
  const onStack = t.altstack.size > 0 && sp > t.altstack.sp && sp <= t.altstack.sp + t.altstack.size;
  const oldAddr = c.u(1);
  const newAddr = c.u(0);
  let next;
  if (newAddr) {
    const b = c.user.copyIn(newAddr, 24);
    if (isErrno(b)) return b;
    const rd = new StructReader(b);
    const flags = rd.i32(8);
    if (onStack) return EPERM;
    if (flags & ~(SS_DISABLE | 0x80000000)) return EINVAL;
    if (flags & SS_DISABLE) next = { sp: 0, flags: SS_DISABLE, size: 0 };
    else {
      const size = rd.u64(16);
      if (size < MINSIGSTKSZ) return ENOMEM;
      next = { sp: rd.u64(0), flags: 0, size };
    }
  }
  if (oldAddr) {
    const a = t.altstack;
    const w = new StructWriter(24).u64(0, a.sp).i32(8, onStack ? SS_ONSTACK : a.flags).u64(16, a.size);
    const r = c.user.copyOut(oldAddr, w.bytes);
    if (isErrno(r)) return r;
  }
  if (next) t.altstack = next;
  return 0;
}

/** rt_sigsuspend(mask, size): wait with `mask` until a handler has run; always EINTR. */
export function sys_rt_sigsuspend(c: SysCtx): SysResult | Promise<SysResult> {
  if (c.u(1) !== abi.SIGSET_SIZE) return EINVAL;
  const mask = c.user.readBigU64(c.u(0));
  if (isErrno(mask)) return mask;
  const t = c.task;
  t.savedSigmask = t.sigmask;
  t.sigmask = mask & ~UNBLOCKABLE;
  if (hasDeliverable(t)) return EINTR;
  return new Promise((resolve) => t.onInterrupt(() => resolve(EINTR)));
}

/**
 * rt_sigtimedwait(set, info, timeout, size): take a pending signal of `set`,
 * waiting for one (the set is unblocked while waiting, as Linux does) until
 * the timeout (EAGAIN); another signal's handler cuts it short (EINTR).
 */
export function sys_rt_sigtimedwait(c: SysCtx): SysResult | Promise<SysResult> {
  if (c.u(3) !== abi.SIGSET_SIZE) return EINVAL;
  const setRaw = c.user.readBigU64(c.u(0));
  if (isErrno(setRaw)) return setRaw;
  const set = setRaw & ~UNBLOCKABLE;
  const infoAddr = c.u(1);
  const timeout = c.u(2) ? readTimeout(c, c.u(2)) : null;
  if (isErrno(timeout)) return timeout;
  const t = c.task;
  const taken = (info: SigInfo): SysResult => {
    if (infoAddr) {
      const r = c.user.copyOut(infoAddr, encodeSiginfo(info));
      if (isErrno(r)) return r;
    }
    return info.signo;
  };
  const now = c.kernel.signals.dequeueSignal(t, set);
  if (now) return taken(now);
  if (timeout === 0n) return EAGAIN;
  const blocked = t.sigmask;
  t.sigmask &= ~set;
  return new Promise((resolve) => {
    const now = () => clockNowNs(abi.CLOCK_MONOTONIC);
    const cancel = timeout === null ? undefined : atDeadline({ now, at: now() + timeout }, () => finish(EAGAIN));
    const finish = (r: SysResult) => {
      cancel?.();
      t.sigmask = blocked;
      resolve(r);
    };
    t.onInterrupt(() => {
      const info = c.kernel.signals.dequeueSignal(t, set);
      finish(info ? taken(info) : EINTR);
    });
  });
}

/** rt_sigqueueinfo / rt_tgsigqueueinfo: the caller's siginfo, which may not pose as the kernel's. */
function queuedInfo(c: SysCtx, sig: number, addr: number, target: number): SigInfo | Errno {
  const b = c.user.copyIn(addr, SIGINFO.size);
  if (isErrno(b)) return b;
  const rd = new StructReader(b);
  const code = rd.i32(SIGINFO.si_code);
  if ((code >= 0 || code === abi.SI_TKILL) && target !== c.proc.pid) return EPERM;
  return { signo: sig, code, pid: rd.i32(SIGINFO.si_pid), uid: rd.u32(SIGINFO.si_uid), value: rd.big(SIGINFO.si_value) };
}

export function sys_rt_sigqueueinfo(c: SysCtx): SysResult {
  const pid = c.i32(0);
  const sig = c.i32(1);
  if (sig < 0 || sig > abi.NSIG) return EINVAL;
  const info = queuedInfo(c, sig, c.u(2), pid);
  if (isErrno(info)) return info;
  const p = c.kernel.processes.get(pid);
  if (!p || !p.alive) return ESRCH;
  return c.kernel.signals.signalProcess(p, info);
}

export function sys_rt_tgsigqueueinfo(c: SysCtx): SysResult {
  const tgid = c.i32(0);
  const tid = c.i32(1);
  const sig = c.i32(2);
  if (tgid <= 0 || tid <= 0 || sig < 0 || sig > abi.NSIG) return EINVAL;
  const info = queuedInfo(c, sig, c.u(3), tgid);
  if (isErrno(info)) return info;
  const t = findThread(c, tgid, tid);
  if (!t) return ESRCH;
  return c.kernel.signals.signalThread(t, info);
}
