// Processes (thread groups) and tasks (threads), as Linux models them.
//
// Contract: a Task is one guest thread: its registers, signal mask and
// per-thread kernel state. A Process owns what its threads share: the address
// space, fd table, filesystem context, credentials, limits and signal actions.

import { AS_DOUBLE, ThreadState } from '../vcpu/state.js';
import type { GuestMemory } from '../vcpu/memory.js';
import type { Cpu } from '../vcpu/cpu.js';
import type { MemoryManager } from './mm.js';
import type { UserMemory } from './usercopy.js';
import type { AddressSpace } from './address-space.js';
import { FdTable } from './fdtable.js';
import type { GuestTimer } from './guest-timer.js';
import type { RemoteVcpu } from './vcpus.js';
import type { Dentry } from './vfs/inode.js';
import { NSIG } from '../linux/abi.js';
import { Unsupported, type CredsRecord, type ProcessRecord, type SigActionRecord, type TaskRecord } from './checkpoint-records.js';

export interface Creds {
  ruid: number;
  euid: number;
  suid: number;
  rgid: number;
  egid: number;
  sgid: number;
  groups: number[];
  /** Capability sets, one bit per CAP_* number. */
  caps: CapSets;
  /** prctl(PR_SET_KEEPCAPS): keep permitted capabilities when every uid leaves 0. */
  keepCaps: boolean;
}

export interface CapSets {
  effective: bigint;
  permitted: bigint;
  inheritable: bigint;
  bounding: bigint;
  ambient: bigint;
}

/** Checkpoint: credentials as a record (capability sets as decimal strings). */
export function saveCreds(c: Creds): CredsRecord {
  const caps = c.caps;
  return {
    ...c,
    groups: [...c.groups],
    caps: { effective: caps.effective.toString(), permitted: caps.permitted.toString(), inheritable: caps.inheritable.toString(), bounding: caps.bounding.toString(), ambient: caps.ambient.toString() },
  };
}

export function restoreCreds(r: CredsRecord): Creds {
  const caps = r.caps;
  return {
    ...r,
    groups: [...r.groups],
    caps: { effective: BigInt(caps.effective), permitted: BigInt(caps.permitted), inheritable: BigInt(caps.inheritable), bounding: BigInt(caps.bounding), ambient: BigInt(caps.ambient) },
  };
}

/** A deep copy (fork, a new init). */
export function copyCreds(c: Creds): Creds {
  return { ...c, groups: [...c.groups], caps: { ...c.caps } };
}

export interface SigAction {
  /** SIG_DFL (0), SIG_IGN (1) or the handler's address. */
  handler: number;
  flags: number;
  mask: bigint;
}

/** An rlimit as the guest sees it: soft and hard, RLIM_INFINITY as bigint all-ones. */
export interface Rlimit {
  cur: bigint;
  max: bigint;
}

export const enum TaskState {
  Runnable,
  Running,
  /** Waiting for a system call to complete (no vCPU held). */
  Blocked,
  /** Its process is stopped (SIGSTOP and friends); resumes on SIGCONT. */
  Stopped,
  Exited,
}

/**
 * How a system call cut short by a signal continues (Linux's ERESTART*
 * family): `sys` restarts when no handler runs or the handler has
 * SA_RESTART, `nohand` restarts only when no handler runs, `never` always
 * returns EINTR.
 */
export type RestartPolicy = 'sys' | 'nohand' | 'never';

/** A thread's scheduling policy (SCHED_OTHER 0, FIFO 1, RR 2, BATCH 3, IDLE 5), its static priority, SCHED_RESET_ON_FORK. */
export interface SchedPolicy {
  policy: number;
  priority: number;
  resetOnFork: boolean;
}

export class Task {
  readonly regs = new ThreadState();
  state = TaskState.Runnable;
  sigmask = 0n;
  // Fields that take guest addresses and counts above 2^31, or numbers
  // decoded from registers (heap numbers even when small), start as doubles
  // (AS_DOUBLE, replaced in the constructor): a field that starts as a small
  // integer changes representation at its first such value, which deprecates
  // the class's maps and the optimized code using them (README.md, "No map
  // deprecations in the kernel's classes"; test/kernel/maps.test.ts).
  /** set_tid_address / CLONE_CHILD_CLEARTID: cleared and futex-woken at exit. */
  clearChildTid = AS_DOUBLE;
  robustList = AS_DOUBLE;
  robustListLen = AS_DOUBLE;
  /** Signals sent to this thread, not yet delivered. */
  pending = 0n;
  /** Guest CPU time of this thread, in instructions retired. */
  instructions = AS_DOUBLE;
  /** sigaltstack: ss_sp, ss_flags (SS_DISABLE when none), ss_size. */
  altstack = { sp: 0, flags: 2, size: 0 };
  /** a0 at the last ecall (the first argument), for restarting the call. */
  syscallA0lo = 0;
  syscallA0hi = 0;
  /** Set when the last system call was interrupted by a signal and may restart. */
  restart: RestartPolicy | null = null;
  /** The pages of the current system call's buffers were just loaded (dispatch.ts): it runs now, without looking again. */
  loadedForCall = false;
  /** The vCPU worker running this thread now (null: none, or the kernel worker's own vCPU). */
  remote: RemoteVcpu | null = null;

  /** Guest CPU time of this thread now, in instructions: those counted, and those of a run still going on a vCPU worker. */
  cpuInstructions(): number {
    return this.instructions + (this.remote === null ? 0 : this.remote.runningInstructions());
  }
  /** The vCPU that last ran this thread (getcpu): 0 is the kernel worker's own. */
  lastCpu = 0;
  /** sched_setaffinity's mask (bit i: vCPU i); null: every vCPU. Not used for placement. */
  affinity: Uint8Array | null = null;
  /** sched_setscheduler's policy and priority (syscalls/sched.ts): reported, not used for placement; a clone inherits them. */
  sched: SchedPolicy = { policy: 0, priority: 0, resetOnFork: false };
  /** sched_yield: end this thread's turn after the call. */
  yieldRequested = false;
  /** rt_sigsuspend/ppoll/pselect: the mask to restore once a handler has run. */
  savedSigmask: bigint | null = null;
  /**
   * A checkpoint is bringing this thread out of its system call
   * (checkpoint.ts quiesce): a wait that ignores interrupts without a
   * deliverable signal (files/blocking.ts) ends as if one had come.
   */
  quiescing = false;
  /** How to cut short the blocking call this thread is in (a sleep, a read); null when none is registered. */
  private interrupter: (() => void) | null = null;
  /** A signal cut the blocking call short (its EINTR may restart). */
  private interrupted = false;

  constructor(
    readonly tid: number,
    readonly process: Process,
  ) {
    this.clearChildTid = this.robustList = this.robustListLen = this.instructions = 0;
  }

  // Interrupting a blocked call. A handler that waits registers how a signal
  // ends its wait (onInterrupt); signal delivery calls interrupt(); the
  // dispatcher, once the call's result is in, learns whether a signal cut it
  // short (endWait) to decide about restarting. One wait per thread at a time.

  /**
   * Register how to cut short the blocking call this thread is in (a sleep,
   * a read), so a signal can interrupt it.
   */
  onInterrupt(cancel: () => void): void {
    this.interrupter = cancel;
  }

  /** A signal arrived while this thread is blocked: cut its call short (EINTR). */
  interrupt(): void {
    const cancel = this.interrupter;
    if (cancel) {
      this.interrupter = null;
      this.interrupted = true;
      cancel();
    }
  }

  /**
   * Is the thread asleep in an interruptible wait (a read of an empty pipe,
   * a sleep, wait4)? Blocked threads that are not are doing kernel work (file
   * I/O in progress): /proc shows them running, as Linux would.
   */
  isSleeping(): boolean {
    return this.state === TaskState.Blocked && this.interrupter !== null;
  }

  /** The blocked call has its result: forget its interrupter. True when a signal cut it short. */
  endWait(): boolean {
    this.interrupter = null;
    const was = this.interrupted;
    this.interrupted = false;
    return was;
  }

  /**
   * Checkpoint: the thread's registers and per-thread state. Only a thread
   * off every vCPU and outside any system call can be saved (checkpoint.ts
   * quiesces them first): Runnable or Stopped.
   */
  save(): TaskRecord {
    const r = this.regs;
    if (this.state !== TaskState.Runnable && this.state !== TaskState.Stopped) throw new Error(`thread ${this.tid} is not quiesced (state ${this.state})`);
    return {
      tid: this.tid,
      regs: { x: Array.from(r.x.subarray(2)), f: Array.from(r.fbits), pc: r.pc, fcsr: r.fcsr },
      state: this.state === TaskState.Stopped ? 'stopped' : 'runnable',
      sigmask: this.sigmask.toString(),
      pending: this.pending.toString(),
      clearChildTid: this.clearChildTid,
      robustList: this.robustList,
      robustListLen: this.robustListLen,
      instructions: this.instructions,
      altstack: { ...this.altstack },
      lastCpu: this.lastCpu,
      syscallA0: [this.syscallA0lo, this.syscallA0hi],
      restart: this.restart,
      savedSigmask: this.savedSigmask === null ? null : this.savedSigmask.toString(),
    };
  }

  /** The restore half of save(): a thread of `proc` (not yet added to it), Blocked until the scheduler wakes it, or Stopped. */
  static restore(rec: TaskRecord, proc: Process): Task {
    const t = new Task(rec.tid, proc);
    const r = t.regs;
    if (rec.regs.x.length !== 62 || rec.regs.f.length !== 64) throw new Error(`thread ${rec.tid}: a register file of the wrong size`);
    r.x.set(rec.regs.x, 2);
    r.fbits.set(rec.regs.f);
    r.pc = rec.regs.pc;
    r.fcsr = rec.regs.fcsr;
    t.state = rec.state === 'stopped' ? TaskState.Stopped : TaskState.Blocked;
    t.sigmask = BigInt(rec.sigmask);
    t.pending = BigInt(rec.pending);
    t.clearChildTid = rec.clearChildTid;
    t.robustList = rec.robustList;
    t.robustListLen = rec.robustListLen;
    t.instructions = rec.instructions;
    t.altstack = { ...rec.altstack };
    t.lastCpu = 0;
    [t.syscallA0lo, t.syscallA0hi] = rec.syscallA0;
    t.restart = rec.restart;
    t.savedSigmask = rec.savedSigmask === null ? null : BigInt(rec.savedSigmask);
    return t;
  }

  /** The thread is gone (its process died) while blocked: end its wait, whose result nobody reads. */
  abandonWait(): void {
    const cancel = this.interrupter;
    this.interrupter = null;
    this.interrupted = false;
    cancel?.();
  }
}

/** SIG_DFL with no flags; handler and flags are doubles from the start (AS_DOUBLE: rt_sigaction's come from 64-bit fields). */
function defaultAction(): SigAction {
  const a = { handler: AS_DOUBLE, flags: AS_DOUBLE, mask: 0n };
  a.handler = a.flags = 0;
  return a;
}

/** A timer_create timer: its clock timer and how it notifies. */
export interface PosixTimer {
  timer: GuestTimer;
  /** SIGEV_SIGNAL, SIGEV_NONE or SIGEV_THREAD_ID. */
  notify: number;
  signo: number;
  value: bigint;
  /** SIGEV_THREAD_ID: the thread to signal. */
  tid: number;
}

export class Process {
  readonly threads = new Set<Task>();
  sigactions: SigAction[] = Array.from({ length: NSIG + 1 }, defaultAction);
  /** Signals sent to the process, not yet delivered. */
  pending = 0n;
  /** Linux wait status once the process is dead (zombie or reaped). */
  exitStatus: number | undefined;
  readonly startTime = Date.now();
  /** Guest instructions retired by threads that have exited (a double from the start, as Task's counters). */
  deadInstructions = AS_DOUBLE;
  /** Guest instructions of reaped children and their descendants (RUSAGE_CHILDREN). */
  childInstructions = AS_DOUBLE;
  pgid: number;
  sid: number;
  umask = 0o022;
  exePath = '';
  /** The thread group's name (Linux's comm): the basename of the path execve was given, 15 bytes at most; prctl(PR_SET_NAME) changes it. */
  comm = '';
  argv: string[] = [];
  envp: string[] = [];
  /** Children not yet reaped (live or zombie). */
  readonly children = new Set<Process>();
  /** The signal sent to the parent when this process dies (clone's low byte; SIGCHLD normally). */
  exitSignal = 17;
  /** Stopped by a job-control signal (its threads don't run). */
  stopped = false;
  /** Wait events not yet reported: the stop signal (WUNTRACED), a continue (WCONTINUED). */
  unreportedStop = 0;
  unreportedContinue = false;
  /** Resolvers of this process's waits for a child state change (wait4, waitid). */
  readonly childWaiters = new Set<() => void>();
  /** A vfork parent waiting for this child to exec or exit. */
  vforkDone?: () => void;
  /** Whether execve has run since fork (setpgid on a child after exec is EACCES). */
  execed = false;
  /** setitimer's ITIMER_REAL, VIRTUAL and PROF, created on first use. */
  readonly itimers: (GuestTimer | undefined)[] = [];
  /** POSIX timers (timer_create) by id. */
  readonly posixTimers = new Map<number, PosixTimer>();
  /**
   * What still holds the address space of a dead process: threads still on
   * vCPU workers when it died (until each comes back) and system calls whose
   * handlers were still running (until each settles: a read whose data
   * arrives after the kill still copies it out, an mmap still maps). The
   * address space is released, to be scrubbed and reused by another
   * process, only when none is left (releaseVmOnceIdle), so those late
   * writes never land in another process's memory.
   */
  remoteThreadsAtExit = 0;
  handlersInFlight = 0;

  /** Guest CPU time of the process, in instructions: its threads' now (Task.cpuInstructions) and those of threads that exited. */
  cpuInstructions(): number {
    let n = this.deadInstructions;
    for (const t of this.threads) n += t.cpuInstructions();
    return n;
  }
  private vmReleased = false;
  /** Time the process ended (ms since the epoch, above 2^31), for /proc and rusage. */
  endTime = AS_DOUBLE;
  /** Told the wait status once, when the process dies (a process the runtime exec'd: its WaitPID). */
  onExit?: (status: number) => void;

  constructor(
    readonly pid: number,
    public ppid: number,
    /** The address space (replaced by execve). */
    public vm: AddressSpace,
    public fds: FdTable,
    public root: Dentry,
    public cwd: Dentry,
    public creds: Creds,
    public rlimits: Rlimit[],
  ) {
    this.pgid = pid;
    this.sid = pid;
    this.deadInstructions = this.childInstructions = this.endTime = 0;
  }

  /**
   * Checkpoint: what the process owns beyond its address space and fd table
   * (named by index: `vm`, `fds`) and its pending siginfo (`pendingInfo`,
   * from signal-delivery.ts). Its live threads must be quiesced. Interval
   * timers are saved with the time they have left (they run on meanwhile:
   * the image holds what was left when it was taken). A process whose state
   * has no restore yet (a vfork parent's wait) refuses. POSIX timers come
   * from syscalls/timer.ts (`posixTimers`), where they are made.
   */
  save(refs: { vm: number; fds: number; pendingInfo: ProcessRecord['pendingInfo']; posixTimers: ProcessRecord['posixTimers'] }): ProcessRecord {
    if (!this.alive) throw new Unsupported(`a zombie process (pid ${this.pid}, not yet reaped)`);
    if (this.vforkDone) throw new Unsupported(`a vfork child whose parent waits for its exec (pid ${this.pid})`);
    return {
      pid: this.pid,
      ppid: this.ppid,
      pgid: this.pgid,
      sid: this.sid,
      umask: this.umask,
      exePath: this.exePath,
      comm: this.comm,
      argv: [...this.argv],
      envp: [...this.envp],
      exitSignal: this.exitSignal,
      execed: this.execed,
      stopped: this.stopped,
      pending: this.pending.toString(),
      pendingInfo: refs.pendingInfo,
      posixTimers: refs.posixTimers,
      itimers: this.itimers.flatMap((t, which) => {
        const v = t?.get();
        return v && (v.value > 0n || v.interval > 0n) ? [{ which, value: v.value.toString(), interval: v.interval.toString() }] : [];
      }),
      sigactions: this.sigactions.map((a): SigActionRecord => ({ handler: a.handler, flags: a.flags, mask: a.mask.toString() })),
      creds: saveCreds(this.creds),
      rlimits: this.rlimits.map((l) => ({ cur: l.cur.toString(), max: l.max.toString() })),
      deadInstructions: this.deadInstructions,
      childInstructions: this.childInstructions,
      vm: refs.vm,
      fds: refs.fds,
      cwd: this.cwd.path(),
      root: this.root.path(),
      threads: [...this.threads].filter((t) => t.state !== TaskState.Exited).map((t) => t.save()),
    };
  }

  /** The restore half of save() for the process's own fields (its threads are added by the caller). */
  restoreFields(rec: ProcessRecord): void {
    this.pgid = rec.pgid;
    this.sid = rec.sid;
    this.umask = rec.umask;
    this.exePath = rec.exePath;
    this.comm = rec.comm;
    this.argv = [...rec.argv];
    this.envp = [...rec.envp];
    this.exitSignal = rec.exitSignal;
    this.execed = rec.execed;
    this.stopped = rec.stopped;
    this.pending = BigInt(rec.pending);
    this.sigactions = rec.sigactions.map((a) => ({ handler: a.handler, flags: a.flags, mask: BigInt(a.mask) }));
    this.deadInstructions = rec.deadInstructions;
    this.childInstructions = rec.childInstructions;
  }

  /** After exit: release the address space if nothing holds it any more (see remoteThreadsAtExit). */
  releaseVmOnceIdle(): void {
    if (this.alive || this.vmReleased || this.remoteThreadsAtExit > 0 || this.handlersInFlight > 0) return;
    this.vmReleased = true;
    this.vm.release();
  }

  get mem(): GuestMemory {
    return this.vm.mem;
  }

  get mm(): MemoryManager {
    return this.vm.mm;
  }

  get user(): UserMemory {
    return this.vm.user;
  }

  get cpu(): Cpu {
    return this.vm.cpu;
  }

  get alive(): boolean {
    return this.exitStatus === undefined;
  }
}
