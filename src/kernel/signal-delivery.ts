// Signal generation, delivery and job control (Linux's kernel/signal.c).
//
// Contract: a signal is pending on a thread or its process until a thread
// that does not block it returns to user mode; then its action runs: ignore,
// the default action (terminate, terminate with core, stop, continue), or the
// guest's handler on a riscv64 rt_sigframe (signal-frame.ts). SIGKILL and
// SIGSTOP can't be blocked, caught or ignored. Sending a signal to a thread
// blocked in a system call it does not block cuts the call short
// (Task.interrupt); whether the call then restarts is decided here, on the
// way back to user mode (restartOrInterrupt).

import * as abi from '../linux/abi.js';
import { Errno, ESRCH } from '../linux/errno.js';
import { Process, Task, TaskState } from './task.js';
import { encodeSigframe, SigInfo, SIGRETURN_TRAMPOLINE } from './signal-frame.js';
import type { SigInfoRecord } from './checkpoint-records.js';
import type { Kernel } from './kernel.js';

export const enum DefaultAction {
  Terminate,
  Core,
  Ignore,
  Stop,
  Continue,
}

export function defaultAction(sig: number): DefaultAction {
  switch (sig) {
    case abi.SIGCHLD:
    case abi.SIGURG:
    case abi.SIGWINCH:
      return DefaultAction.Ignore;
    case abi.SIGCONT:
      return DefaultAction.Continue;
    case abi.SIGSTOP:
    case abi.SIGTSTP:
    case abi.SIGTTIN:
    case abi.SIGTTOU:
      return DefaultAction.Stop;
    case abi.SIGQUIT:
    case abi.SIGILL:
    case abi.SIGTRAP:
    case abi.SIGABRT:
    case abi.SIGBUS:
    case abi.SIGFPE:
    case abi.SIGSEGV:
    case abi.SIGXCPU:
    case abi.SIGXFSZ:
    case abi.SIGSYS:
      return DefaultAction.Core;
    default:
      return DefaultAction.Terminate;
  }
}

export function sigbit(sig: number): bigint {
  return 1n << BigInt(sig - 1);
}

export const UNBLOCKABLE = sigbit(abi.SIGKILL) | sigbit(abi.SIGSTOP);
/** The signals whose default action stops the process. */
export const STOP_SIGNALS = sigbit(abi.SIGSTOP) | sigbit(abi.SIGTSTP) | sigbit(abi.SIGTTIN) | sigbit(abi.SIGTTOU);

/** Would delivering `sig` to `proc` do nothing at all (ignored)? */
export function isIgnored(proc: Process, sig: number): boolean {
  if (sig === abi.SIGKILL || sig === abi.SIGSTOP) return false;
  const act = proc.sigactions[sig];
  if (act.handler === abi.SIG_IGN) return true;
  return act.handler === abi.SIG_DFL && defaultAction(sig) === DefaultAction.Ignore;
}

/** Does `task` have a signal it would act on now (pending, and not blocked)? */
export function hasDeliverable(task: Task): boolean {
  return ((task.pending | task.process.pending) & ~(task.sigmask & ~UNBLOCKABLE)) !== 0n;
}

/** The siginfo of a SIGCHLD about `child`. */
export function childInfo(child: Process, signo: number, code: number, status: number): SigInfo {
  return { signo, code, pid: child.pid, uid: child.creds.ruid, status };
}

/** The kernel's signals: sending, job control, and acting on them on the way to user mode. */
/**
 * The signals pending for `task` or its process that it does not block.
 * Nothing pending is the case at every return from a system call: then no
 * BigInt arithmetic (each operation makes a new one).
 */
function deliverableOf(task: Task): bigint {
  const proc = task.process;
  if (task.pending === 0n && proc.pending === 0n) return 0n;
  return (task.pending | proc.pending) & ~(task.sigmask & ~UNBLOCKABLE);
}

export class SignalDelivery {
  /** The siginfo of each pending signal, by "pid:signo" (one per signal number, as for standard signals). */
  private readonly pendingInfo = new Map<string, SigInfo>();
  /** Processes sent SIGKILL by another, to end at the next turn of the event loop (kill()). */
  private readonly killsDue = new Set<Process>();

  constructor(private readonly k: Kernel) {}

  /** Checkpoint: the siginfo of `proc`'s pending signals, by number (a timer's overrun count is taken now). */
  savePendingInfo(proc: Process): [number, SigInfoRecord][] {
    const out: [number, SigInfoRecord][] = [];
    for (const [key, info] of this.pendingInfo) {
      const [pid, sig] = key.split(':').map(Number);
      if (pid !== proc.pid) continue;
      const { collectOverrun: _c, value, overrun: _o, ...plain } = info;
      out.push([sig, { ...plain, value: value?.toString() }]);
    }
    return out;
  }

  /** The restore half of savePendingInfo; `timerInfo` gives a POSIX timer's signal back its link to the restored timer. */
  restorePendingInfo(proc: Process, saved: [number, SigInfoRecord][], timerInfo: (id: number) => SigInfo | undefined): void {
    for (const [sig, r] of saved) {
      const info = (r.timerId !== undefined ? timerInfo(r.timerId) : undefined) ?? { ...r, value: r.value === undefined ? undefined : BigInt(r.value) };
      this.pendingInfo.set(`${proc.pid}:${sig}`, info);
    }
  }

  // ---- generation ----

  /** Send `sig` to a process (kill). Signal 0 only checks. */
  signalProcess(proc: Process, info: SigInfo): 0 | Errno {
    if (!proc.alive) return ESRCH;
    const sig = info.signo;
    if (sig === 0) return 0;
    this.jobControlOnSend(proc, sig);
    if (isIgnored(proc, sig)) return 0;
    if (sig === abi.SIGKILL) {
      this.kill(proc);
      return 0;
    }
    proc.pending |= sigbit(sig);
    this.pendingInfo.set(`${proc.pid}:${sig}`, info);
    // Linux wakes one thread that can take it; a blocked call it is in is cut short.
    for (const t of proc.threads) {
      if (t.state === TaskState.Blocked && (t.sigmask & sigbit(sig)) === 0n) {
        t.interrupt();
        break;
      }
    }
    for (const t of proc.threads) t.remote?.interrupt();
    return 0;
  }

  /**
   * SIGKILL: the whole process ends, stopped or not, whatever it blocks. A
   * process killing itself never runs another instruction. Another process
   * dies at the next turn of the kernel's event loop, not inside the
   * sender's kill(): as on Linux, where the target dies when it next runs,
   * kill() returns first and the sender goes on (a shell reaches its `wait`
   * and then reports the death, busybox's "Killed"), and the parent's SIGCHLD
   * comes after. A process that exits meanwhile by itself is left as it is.
   */
  private kill(proc: Process): void {
    const status = abi.signalStatus(abi.SIGKILL);
    if (this.k.current?.process === proc) {
      this.k.lifecycle.exitProcess(proc, status);
      return;
    }
    if (this.killsDue.has(proc)) return;
    this.killsDue.add(proc);
    setImmediate(() => {
      this.killsDue.delete(proc);
      if (proc.alive) this.k.lifecycle.exitProcess(proc, status);
    });
  }

  /** Send `sig` to one thread (tgkill). */
  signalThread(task: Task, info: SigInfo): 0 | Errno {
    const proc = task.process;
    if (!proc.alive || task.state === TaskState.Exited) return ESRCH;
    if (info.signo === 0) return 0;
    this.jobControlOnSend(proc, info.signo);
    if (isIgnored(proc, info.signo)) return 0;
    if (info.signo === abi.SIGKILL) return this.signalProcess(proc, info);
    task.pending |= sigbit(info.signo);
    this.pendingInfo.set(`${proc.pid}:${info.signo}`, info);
    if (task.state === TaskState.Blocked && (task.sigmask & sigbit(info.signo)) === 0n) task.interrupt();
    task.remote?.interrupt();
    return 0;
  }

  /**
   * A synchronous fault: the signal can't be blocked or ignored for this
   * instruction (Linux's force_sig_fault): if blocked or ignored, the default
   * action runs.
   */
  forceSignal(task: Task, info: SigInfo): void {
    const proc = task.process;
    const act = proc.sigactions[info.signo];
    const bit = sigbit(info.signo);
    if (act.handler === abi.SIG_IGN || (task.sigmask & bit) !== 0n) {
      act.handler = abi.SIG_DFL;
      task.sigmask &= ~bit;
    }
    task.pending |= bit;
    this.pendingInfo.set(`${proc.pid}:${info.signo}`, info);
  }

  // ---- job control ----

  /**
   * What sending a job-control signal does at once, before any thread sees it
   * (Linux's prepare_signal): SIGCONT resumes a stopped process and discards
   * pending stop signals; a stop signal discards a pending SIGCONT.
   */
  private jobControlOnSend(proc: Process, sig: number): void {
    if (sig === abi.SIGCONT) {
      proc.pending &= ~STOP_SIGNALS;
      for (const t of proc.threads) t.pending &= ~STOP_SIGNALS;
      if (proc.stopped) this.continueProcess(proc);
    } else if (STOP_SIGNALS & sigbit(sig)) {
      const cont = sigbit(abi.SIGCONT);
      proc.pending &= ~cont;
      for (const t of proc.threads) t.pending &= ~cont;
    }
  }

  /** Stop every thread of `proc` (a stop signal's default action) and tell its parent. */
  private stopProcess(proc: Process, sig: number): void {
    if (proc.stopped) return;
    proc.stopped = true;
    for (const t of proc.threads) t.remote?.interrupt(); // they park on their way back
    proc.unreportedStop = sig;
    proc.unreportedContinue = false;
    this.k.logs.debug(`process ${proc.pid} stopped by signal ${sig}`);
    this.notifyParentOfJobControl(proc, abi.CLD_STOPPED, sig);
  }

  private continueProcess(proc: Process): void {
    proc.stopped = false;
    proc.unreportedStop = 0;
    proc.unreportedContinue = true;
    for (const t of proc.threads) if (t.state === TaskState.Stopped) this.k.scheduler.wake(t);
    this.notifyParentOfJobControl(proc, abi.CLD_CONTINUED, abi.SIGCONT);
  }

  private notifyParentOfJobControl(proc: Process, code: number, sig: number): void {
    const parent = this.k.processes.get(proc.ppid);
    if (!parent || !parent.alive) return;
    if (!(parent.sigactions[abi.SIGCHLD].flags & abi.SA_NOCLDSTOP)) this.signalProcess(parent, childInfo(proc, abi.SIGCHLD, code, sig));
    this.k.lifecycle.notifyWaiters(parent);
  }

  /**
   * Is `pgid` orphaned (POSIX): no member has a parent in the same session
   * but another group? Terminal stop signals to such a group are discarded.
   */
  isOrphanedGroup(pgid: number, sid: number): boolean {
    for (const p of this.k.processes.values()) {
      if (!p.alive || p.pgid !== pgid) continue;
      const parent = this.k.processes.get(p.ppid);
      if (parent && parent.alive && parent.pgid !== pgid && parent.sid === sid) return false;
    }
    return true;
  }

  // ---- delivery ----

  /**
   * Take the lowest pending signal in `set` off `task` (its own first, then
   * its process's) with its siginfo: rt_sigtimedwait. null when none.
   */
  dequeueSignal(task: Task, set: bigint): SigInfo | null {
    const proc = task.process;
    const ready = (task.pending | proc.pending) & set;
    if (ready === 0n) return null;
    let sig = 1;
    while (!(ready & sigbit(sig))) sig++;
    const bit = sigbit(sig);
    if (task.pending & bit) task.pending &= ~bit;
    else proc.pending &= ~bit;
    return this.takeInfo(proc, sig);
  }

  /** The siginfo of `proc`'s signal `sig`, now taken off the queue. */
  private takeInfo(proc: Process, sig: number): SigInfo {
    const key = `${proc.pid}:${sig}`;
    const info = this.pendingInfo.get(key) ?? { signo: sig, code: abi.SI_USER };
    this.pendingInfo.delete(key);
    if (info.collectOverrun) info.overrun = info.collectOverrun();
    return info;
  }

  /**
   * Whether a signal `task` does not block is pending for it or its process:
   * one that came while it ran guest code, after it last left the kernel,
   * and that an interruptible wait it starts now must not sleep through.
   */
  hasDeliverable(task: Task): boolean {
    return deliverableOf(task) !== 0n;
  }

  /**
   * Act on pending signals before `task` returns to user mode. Returns false
   * when the task must not run now (its process was killed or stopped).
   */
  deliverSignals(task: Task): boolean {
    const proc = task.process;
    for (;;) {
      if (!proc.alive) return false;
      if (proc.stopped) {
        task.state = TaskState.Stopped;
        return false;
      }
      const deliverable = deliverableOf(task);
      if (deliverable === 0n) break;
      let sig = 1;
      while (!(deliverable & sigbit(sig))) sig++;
      const bit = sigbit(sig);
      if (task.pending & bit) task.pending &= ~bit;
      else proc.pending &= ~bit;
      const info = this.takeInfo(proc, sig);
      const act = proc.sigactions[sig];
      if (act.handler === abi.SIG_IGN && sig !== abi.SIGKILL && sig !== abi.SIGSTOP) continue;
      if (act.handler === abi.SIG_DFL || sig === abi.SIGKILL || sig === abi.SIGSTOP) {
        switch (defaultAction(sig)) {
          case DefaultAction.Ignore:
          case DefaultAction.Continue:
            continue;
          case DefaultAction.Stop:
            if (sig !== abi.SIGSTOP && this.isOrphanedGroup(proc.pgid, proc.sid)) continue;
            this.stopProcess(proc, sig);
            continue; // the loop parks the task
          case DefaultAction.Terminate:
            this.k.lifecycle.exitProcess(proc, abi.signalStatus(sig));
            return false;
          case DefaultAction.Core:
            // No core file is written (as with Linux's default RLIMIT_CORE of 0), so no core bit either.
            this.k.lifecycle.exitProcess(proc, abi.signalStatus(sig));
            return false;
        }
      }
      this.restartOrInterrupt(task, act.flags & abi.SA_RESTART ? 'sys' : 'handler');
      if (!this.setupHandlerFrame(task, sig, info)) return false;
    }
    // No handler ran for the interrupted call: it restarts (Linux's -ERESTART* without a handler).
    this.restartOrInterrupt(task, 'nohandler');
    if (task.savedSigmask !== null) {
      task.sigmask = task.savedSigmask;
      task.savedSigmask = null;
    }
    return true;
  }

  /**
   * Before returning to user mode after a system call a signal cut short:
   * restart it (back up to the ecall with its first argument restored) or
   * leave EINTR in a0, by the call's restart policy and what runs next.
   */
  private restartOrInterrupt(task: Task, next: 'sys' | 'handler' | 'nohandler'): void {
    const policy = task.restart;
    if (policy === null) return;
    task.restart = null;
    const restart = policy !== 'never' && (next === 'nohandler' || (next === 'sys' && policy === 'sys'));
    if (!restart) return;
    const r = task.regs;
    r.x[20] = task.syscallA0lo;
    r.x[21] = task.syscallA0hi;
    r.pc -= 4;
  }

  /** Push an rt_sigframe and enter the handler; kills the process (SIGSEGV) if the stack is bad. */
  private setupHandlerFrame(task: Task, sig: number, info: SigInfo): boolean {
    const proc = task.process;
    const act = proc.sigactions[sig];
    const r = task.regs;
    const alt = task.altstack;
    let sp = r.getU(2);
    const onAlt = (act.flags & abi.SA_ONSTACK) !== 0 && alt.size > 0 && !(sp > alt.sp && sp <= alt.sp + alt.size);
    if (onAlt) sp = alt.sp + alt.size;
    // After rt_sigsuspend (and ppoll/pselect), the handler returns to the mask from before the call.
    const restoreMask = task.savedSigmask ?? task.sigmask;
    task.savedSigmask = null;
    const frame = encodeSigframe(task, info, restoreMask, alt);
    sp -= frame.length;
    sp -= sp % 16;
    if (proc.user.copyOut(sp, frame) !== 0) {
      this.k.lifecycle.exitProcess(proc, abi.signalStatus(abi.SIGSEGV));
      return false;
    }
    let mask = task.sigmask | act.mask;
    if (!(act.flags & abi.SA_NODEFER)) mask |= sigbit(sig);
    task.sigmask = mask & ~UNBLOCKABLE;
    if (act.flags & abi.SA_RESETHAND) Object.assign(act, { handler: abi.SIG_DFL, flags: 0, mask: 0n });
    r.setS(2, sp);
    r.setS(1, SIGRETURN_TRAMPOLINE); // ra
    r.setS(10, sig); // a0
    r.setS(11, sp); // a1: siginfo
    r.setS(12, sp + 128); // a2: ucontext
    r.pc = act.handler;
    return true;
  }
}
