// The scheduler: guest threads onto the kernel worker's own vCPU (vCPU 0)
// and onto vCPU workers (--cpu-num > 1), and what a vCPU's stop means.
//
// Contract: the kernel worker's event loop stays live: guest code runs in
// slices of at most SLICE_MS between turns of the loop, and a system call
// that must wait (a read of a pipe, a sleep) parks its thread and lets
// others run, without blocking the worker. A runnable thread is on the run
// queue once; a thread is on at most one vCPU (vcpus.ts). Every stop of a
// vCPU, local or remote, goes through one handler (handleStop), which
// serves the system call or fault and decides whether the thread runs on.

import { performance } from 'node:perf_hooks';
import { isErrno } from '../linux/errno.js';
import { Stop } from '../vcpu/state.js';
import { FAULT_IN } from '../vcpu/cpu.js';
import { faultIn } from './fault-in.js';
import { LookBudget } from './look-budget.js';
import { SIGSYS, signalStatus } from '../linux/abi.js';
import { Process, Task, TaskState } from './task.js';
import { RemoteVcpu, RemoteStop, mayRunConcurrently, type VcpuView } from './vcpus.js';
import type { Kernel } from './kernel.js';

/** Longest a burst of guest execution keeps the worker's event loop waiting. */
const SLICE_MS = 10;
/** How long the kernel worker watches busy workers' mailboxes past the last stop, with nothing else to do (spinOnRemotes). */
const SPIN_MS = 0.05;
/** The longest one such watch keeps the event loop waiting. */
const SPIN_MAX_MS = 2;
/** Instructions per CPU.run() call between checks of the slice deadline. */
const BUDGET = 200_000;
/**
 * vCPU 0's budget while vCPU workers run threads (the kernel worker looks at
 * their stops between runs): adapted between these bounds so that a run
 * takes about REMOTE_LOOK_MS, which bounds how long a worker's system call
 * waits for the look (look-budget.ts).
 */
const BUDGET_WITH_REMOTES_MIN = 20_000;
const BUDGET_WITH_REMOTES_MAX = 320_000;
const REMOTE_LOOK_MS = 0.1;
/**
 * System calls between two looks at the clock for the turn's deadline on
 * vCPU 0 while calls come quickly: a clock read cost 0.15-0.2 µs on the
 * hosts measured (kvm-clock; Node 20's performance.now() adds a brand
 * check), a third of a getpid round trip (docs/FILES.md, "stat against the
 * 3x goal, again").
 */
const CLOCK_EVERY = 16;
/** A look at the clock finding at least this since the one before (slow calls): the next call looks again. */
const CLOCK_QUICK_MS = 0.5;
/** Stack words (from sp) a fault's debug line shows. */
const FAULT_STACK_WORDS = 48;

/** A vCPU fault in siginfo terms (the CPU's FaultInfo, or a worker's copy of it). */
interface Fault {
  signal: number;
  code: number;
  addr: number;
}

/** What becomes of a thread after its vCPU stopped. */
const enum AfterStop {
  /** It runs on, on the same vCPU. */
  RunOn,
  /** Its turn is over: it is queued again (a yield, a preemption, the slice spent). */
  Requeued,
  /** It left the CPU: blocked in a system call, stopped, or exited. */
  Off,
}

/** The scheduler's state as the thread dump shows it. */
export interface SchedulerView {
  /** Threads waiting for a vCPU, by tid, oldest first. */
  runQueue: number[];
  /** A slice is queued on the event loop (a microtask or setImmediate). */
  sliceScheduled: boolean;
  paused: boolean;
  /** vCPU 0 (this thread's own) runs a guest thread now. */
  ownVcpuBusy: boolean;
  /** Instructions vCPU 0 runs between two looks at the workers while they run threads (look-budget.ts). */
  lookBudget: number;
  /** The 1 ms sweep of the workers' mailboxes is armed. */
  sweeping: boolean;
  remotes: VcpuView[];
}

export class Scheduler {
  private readonly runQueue: Task[] = [];
  private loopScheduled = false;
  /** When the current event-loop turn started running guest code. */
  private turnStart = -Infinity;

  constructor(private readonly k: Kernel) {}

  /**
   * Paused (the runtime's pause): no guest thread runs until resume(). Threads
   * that become runnable meanwhile wait on the run queue; a thread on a vCPU
   * worker is interrupted and comes back at its next block boundary, where its
   * stop is served as usual (a safe point) and it is queued. Signals are still
   * sent (a SIGKILL still ends a process: that needs no guest code).
   */
  private paused = false;
  private pauseWaiters: (() => void)[] = [];

  /** Stops every guest thread; resolves once none is on a vCPU. */
  pause(): Promise<void> {
    this.paused = true;
    for (const v of this.remotes) if (v.task !== null) v.interrupt();
    return new Promise((resolve) => {
      this.pauseWaiters.push(resolve);
      this.settlePause();
    });
  }

  /** Lets the threads stopped by pause() run again. */
  resume(): void {
    if (!this.paused) return;
    this.paused = false;
    this.settlePause();
    this.feedRemotes();
    this.kickIfQueued();
  }

  get isPaused(): boolean {
    return this.paused;
  }

  /** Settles pause()'s promises once no worker holds a thread (or on resume). */
  private settlePause(): void {
    if (this.paused && this.remotes.some((v) => v.task !== null)) {
      this.startSweep();
      return;
    }
    for (const w of this.pauseWaiters.splice(0)) w();
  }

  /** What the scheduler holds now, for the thread dump (thread-dump.ts). */
  describe(now: number): SchedulerView {
    return {
      runQueue: this.runQueue.map((t) => t.tid),
      sliceScheduled: this.loopScheduled,
      paused: this.paused,
      ownVcpuBusy: this.ownVcpuBusy,
      lookBudget: this.lookBudget.next,
      sweeping: this.sweep !== undefined,
      remotes: this.remotes.map((v) => v.describe(now)),
    };
  }

  /** Make a blocked, stopped or new task runnable. */
  wake(task: Task): void {
    if (task.state === TaskState.Exited || task.state === TaskState.Runnable) return;
    task.state = TaskState.Runnable;
    this.runQueue.push(task);
    this.kick();
  }

  /** Take a dead process's threads off the run queue. */
  removeFromRunQueue(proc: Process): void {
    for (let i = this.runQueue.length - 1; i >= 0; i--) if (this.runQueue[i].process === proc) this.runQueue.splice(i, 1);
  }

  /**
   * Schedule a slice. Within the current turn of the event loop (less than
   * SLICE_MS of guest time since it began) the slice runs as a microtask, so
   * a thread woken by another's system call (a pipe write, a futex wake
   * settled through a Promise) runs without waiting a whole event-loop turn
   * (measured 35-57 us per wake-up); past that, it waits for the next turn
   * so host I/O and timers are served.
   */
  private kick(): void {
    if (this.loopScheduled || this.paused) return;
    this.loopScheduled = true;
    if (performance.now() - this.turnStart < SLICE_MS) queueMicrotask(() => this.runSlice(false));
    else setImmediate(() => this.runSlice(true));
  }

  private kickIfQueued(): void {
    if (this.runQueue.length > 0) this.kick();
  }

  private runSlice(newTurn: boolean): void {
    this.loopScheduled = false;
    if (this.paused) return;
    if (newTurn) this.turnStart = performance.now();
    const until = this.turnStart + SLICE_MS;
    this.pollRemotes();
    this.feedRemotes();
    while (this.runQueue.length > 0 && performance.now() < until) {
      const task = this.runQueue.shift()!;
      if (task.state !== TaskState.Runnable) continue;
      this.runTask(task, until);
      this.pollRemotes();
      this.feedRemotes();
    }
    if (this.runQueue.length > 0) this.kick();
    else this.spinOnRemotes();
  }

  // ---- vCPU 0: the kernel worker's own ----

  /** Whether this worker's own vCPU is running a thread now (runTask is on the stack). */
  private ownVcpuBusy = false;
  /** vCPU 0's budget while workers run threads. */
  private readonly lookBudget = new LookBudget(BUDGET_WITH_REMOTES_MIN, BUDGET_WITH_REMOTES_MAX, REMOTE_LOOK_MS);

  private runTask(task: Task, until: number): void {
    this.ownVcpuBusy = true;
    try {
      this.runOwnVcpu(task, until);
    } finally {
      this.ownVcpuBusy = false;
    }
  }

  private runOwnVcpu(task: Task, until: number): void {
    const proc = task.process;
    const signals = this.k.signals;
    task.state = TaskState.Running;
    task.lastCpu = 0;
    // While workers run threads: when the last run spent its budget, the clock read there; it times the next run
    // if that one spends its budget too (look-budget.ts). A run that ends at a system call is not timed, so the
    // call pays no clock read.
    let budgetStopAt = 0;
    for (;;) {
      if (!signals.deliverSignals(task)) return;
      // execve may have replaced the address space (and with it the vCPU's memory).
      const cpu = proc.cpu;
      cpu.state = task.regs;
      const before = cpu.instret;
      const remotes = this.remotes.length > 0;
      cpu.mt = remotes && mayRunConcurrently(task);
      const stop = cpu.run(remotes ? this.lookBudget.next : BUDGET);
      task.instructions += cpu.instret - before;
      if (remotes) {
        if (stop === Stop.Budget) {
          const now = performance.now();
          if (budgetStopAt > 0) this.lookBudget.ran(now - budgetStopAt);
          budgetStopAt = now;
        } else budgetStopAt = 0;
        // Serve the workers' stops now rather than after this slice; they may end or stop this thread.
        this.pollRemotes();
        this.feedRemotes();
        // Killed while we looked away (a stop is taken at the next signal check).
        if ((task.state as TaskState) === TaskState.Exited) return;
      }
      if (this.handleStop(task, stop, cpu.fault, null, until) !== AfterStop.RunOn) return;
      // Paused by a call its system call made (none does today): off the CPU, queued.
      if (this.paused) {
        this.requeue(task);
        return;
      }
    }
  }

  // ---- the stop handler (both kinds of vCPU) ----

  /**
   * `task` came off a vCPU with `stop`: serve its system call or fault, then
   * decide whether it runs on. On vCPU 0 (`vcpu` null) a thread runs until
   * `until` (performance.now()), checked at system calls (every
   * CLOCK_EVERY-th while they come quickly) and budget stops,
   * and an interrupt ends its turn; on a worker it runs until it yields, the
   * kernel preempted the worker, or its budget ran out while others wait.
   * A thread whose turn ends is queued again here.
   */
  private handleStop(task: Task, stop: Stop, fault: Fault, vcpu: RemoteVcpu | null, until: number): AfterStop {
    switch (stop) {
      case Stop.Syscall: {
        if (vcpu === null && this.turnSpentAtCall(until)) {
          // The turn is spent: preempted at the call's entry, never right
          // after a call (turnEnds), so that the call starts the thread's
          // next turn and what it set off (a SIGKILL's death and the SIGCHLD
          // after it, a woken thread) comes while the thread runs on, not in
          // the gap before its next instruction.
          task.regs.pc -= 4; // the ecall again
          this.requeue(task);
          return AfterStop.Requeued;
        }
        const blocked = this.k.syscalls.dispatch(task);
        if (blocked || task.state !== TaskState.Running) return AfterStop.Off;
        break;
      }
      case Stop.Fault:
        if (fault.signal === FAULT_IN) {
          this.faultIn(task, fault.addr, fault.code);
          return AfterStop.Off;
        }
        this.takeFault(task, fault, vcpu === null ? 0 : vcpu.index);
        break;
      case Stop.Budget:
      case Stop.Interrupted:
        break;
      default: {
        const never: never = stop;
        throw new Error(`unknown CPU stop ${String(never)}`);
      }
    }
    if (!this.turnEnds(task, stop, vcpu, until)) return AfterStop.RunOn;
    task.yieldRequested = false;
    this.requeue(task);
    return AfterStop.Requeued;
  }

  /** Calls on vCPU 0 left before the next look at the clock (turnSpentAtCall), and when it last looked. */
  private callsToClock = 0;
  private clockAt = 0;

  /**
   * Whether vCPU 0's turn is spent (past `until`) at a system call's entry:
   * the clock is read at every CLOCK_EVERY-th call while the calls between
   * two reads took less than CLOCK_QUICK_MS, else at every call, so a turn
   * runs over its deadline by at most a few quick calls.
   */
  private turnSpentAtCall(until: number): boolean {
    if (--this.callsToClock > 0) return false;
    const now = performance.now();
    this.callsToClock = now - this.clockAt < CLOCK_QUICK_MS ? CLOCK_EVERY : 1;
    this.clockAt = now;
    return now >= until;
  }

  private requeue(task: Task): void {
    task.state = TaskState.Runnable;
    this.runQueue.push(task);
  }

  /** Whether `task`, still running after `stop` was served, gives up its vCPU (see handleStop). */
  private turnEnds(task: Task, stop: Stop, vcpu: RemoteVcpu | null, until: number): boolean {
    if (vcpu !== null) return task.yieldRequested || vcpu.preempted || (stop === Stop.Budget && this.runQueue.length > 0);
    switch (stop) {
      case Stop.Syscall:
        // By the clock only at a call's entry (handleStop): a thread making system calls in a loop never spends its budget.
        return task.yieldRequested;
      case Stop.Budget:
        return performance.now() >= until;
      case Stop.Interrupted:
        return true;
      case Stop.Fault:
        return false;
    }
  }

  /**
   * A vCPU stopped `task` on a shared page not loaded yet (FAULT_IN): the
   * thread blocks, off its vCPU, while the mm loads the page, then runs the
   * same instruction again, or takes the signal the mm found due.
   */
  private faultIn(task: Task, addr: number, need: number): void {
    const proc = task.process;
    task.state = TaskState.Blocked;
    proc.handlersInFlight++;
    faultIn(proc.mm, addr, need).then(
      (r) => {
        proc.handlersInFlight--;
        proc.releaseVmOnceIdle();
        if (task.state !== TaskState.Blocked) return;
        if (r !== 0) this.k.signals.forceSignal(task, r);
        this.wake(task);
      },
      (e) => {
        proc.handlersInFlight--;
        this.k.logs.error(`KERNEL BUG loading a page at 0x${addr.toString(16)} (pid ${proc.pid}): ${e instanceof Error ? e.stack : String(e)}`);
        this.k.lifecycle.exitProcess(proc, signalStatus(SIGSYS));
      },
    );
  }

  /** A vCPU stopped `task` on a fault: log where, and force its signal. */
  private takeFault(task: Task, f: Fault, vcpu: number): void {
    const r = task.regs;
    // The stack's first words hold the callers' return addresses: enough for a backtrace by hand (with the binary's symbols).
    const sp = r.getU(2);
    const words: string[] = [];
    for (let i = 0; i < FAULT_STACK_WORDS; i++) {
      const w = task.process.user.readU64(sp + 8 * i);
      if (isErrno(w)) break;
      words.push(w.toString(16));
    }
    this.k.logs.debug(`pid ${task.process.pid} tid ${task.tid} (vCPU ${vcpu}): fault signal ${f.signal} code ${f.code} addr 0x${f.addr.toString(16)} pc 0x${r.pc.toString(16)} ra 0x${r.getU(1).toString(16)} sp 0x${sp.toString(16)} instructions ${task.instructions}; stack ${words.join(' ')}`);
    this.k.signals.forceSignal(task, { signo: f.signal, code: f.code, addr: f.addr });
  }

  // ---- vCPU workers (--cpu-num > 1) ----

  /** vCPU workers, created when more threads are runnable than this worker's vCPU can run. */
  private readonly remotes: RemoteVcpu[] = [];

  /**
   * With nothing to run here while workers run threads, watch their
   * mailboxes for a short while before going back to the event loop: a
   * thread on a worker stops for a system call every few microseconds in
   * a futex or pipe ping-pong, and the wake-up through the event loop costs
   * tens of microseconds each way on this machine. Spins SPIN_MS past the
   * last stop seen, SPIN_MAX_MS at most, and stops as soon as a thread is
   * queued for this worker's own vCPU.
   */
  private spinOnRemotes(): void {
    const start = performance.now();
    let quietUntil = start + SPIN_MS;
    for (let now = start; now < quietUntil && now - start < SPIN_MAX_MS; now = performance.now()) {
      if (this.runQueue.length > 0) {
        this.kick();
        return;
      }
      if (!this.remotes.some((v) => v.task !== null)) return;
      for (const v of this.remotes) if (v.poll()) quietUntil = performance.now() + SPIN_MS;
    }
  }

  /**
   * Give queued threads to idle vCPU workers that have started
   * (RemoteVcpu.ready), keeping the oldest for this worker's own vCPU when
   * it is free (runSlice takes it next). A thread never waits for a worker
   * to start: it stays queued and takes its turns on vCPU 0 meanwhile, and
   * goes to the worker at the first look after it started (pollRemotes and
   * this, between vCPU 0's runs of about REMOTE_LOOK_MS).
   */
  private feedRemotes(): void {
    if (this.paused) return;
    while (this.runQueue.length > (this.ownVcpuBusy ? 0 : 1)) {
      const vcpu = this.idleRemote(this.runQueue.length - (this.ownVcpuBusy ? 0 : 1));
      if (!vcpu) return;
      const task = this.runQueue.pop()!;
      if (task.state !== TaskState.Runnable) continue;
      this.startRemote(vcpu, task);
      this.keepSpareRemote();
    }
  }

  /** An idle worker that has started, or null after booting more if fewer than `waiting` (threads) are starting. */
  private idleRemote(waiting: number): RemoteVcpu | null {
    let starting = 0;
    for (const v of this.remotes) {
      if (v.task !== null) continue;
      if (v.ready()) return v;
      starting++;
    }
    for (; starting < waiting && this.addRemote() !== null; starting++);
    return null;
  }

  /** Start one more vCPU worker, unless --cpu-num are there already. */
  private addRemote(): RemoteVcpu | null {
    if (this.remotes.length + 1 >= this.k.config.cpuNum) return null;
    const v = new RemoteVcpu(
      this.remotes.length + 1,
      this.k.config.vcpuWorkerEntry,
      (vcpu, task, stop) => this.remoteStopped(vcpu, task, stop),
      () => this.spinOnRemotes(),
      (msg) => this.k.logs.error(`KERNEL BUG: ${msg}`),
    );
    this.remotes.push(v);
    this.k.logs.debug(`vCPU ${v.index}: worker started`);
    return v;
  }

  /**
   * Keep one idle vCPU worker booted ahead of demand. A Worker takes tens of
   * milliseconds to start (measured: the second thread of a program waited
   * 75-150 ms for its first system call on a worker started on demand), so
   * the next thread to need one finds it ready; at most one worker idles
   * unused, however large --cpu-num is. Called from the first clone on, not
   * at init's start: a sandbox whose program never clones boots no worker,
   * which keeps the worker's start off the sandbox's start path and 6-8 MiB
   * out of an idle sandbox (docs/STARTUP.md).
   */
  keepSpareRemote(): void {
    if (this.remotes.every((v) => v.task !== null)) this.addRemote();
  }

  private startRemote(vcpu: RemoteVcpu, task: Task): void {
    task.state = TaskState.Running;
    if (!this.k.signals.deliverSignals(task) || task.state !== TaskState.Running) return;
    const vm = task.process.vm;
    vm.onDrop ??= () => {
      for (const v of this.remotes) v.forget(vm.memId);
    };
    vm.onCodeChange ??= () => {
      for (const v of this.remotes) if (v.task && v.task.process.vm === vm) v.interrupt();
    };
    task.remote = vcpu;
    task.lastCpu = vcpu.index;
    if (!vcpu.handedAny) this.k.logs.debug(`vCPU ${vcpu.index}: first thread ${task.tid}, ${(performance.now() - vcpu.createdAt).toFixed(1)} ms after its worker was created`);
    vcpu.run(task, vm);
    this.startSweep();
  }

  /**
   * Collect threads the workers have handed back (cheap when none has),
   * offer the others the tier-2 regions their thread's address space got
   * meanwhile (RemoteVcpu.offerRegions: a length compare when none), and
   * preempt a worker whose thread has had its slice while others wait: a
   * worker runs its thread until a stop or this interrupt, so a lone thread
   * on a worker is never handed back just because its slice ended.
   */
  private pollRemotes(): void {
    for (const v of this.remotes) if (!v.poll()) v.offerRegions();
    // Threads queued beyond the one vCPU 0 takes next when free: vCPU 0's own
    // thread, queued at the end of its slice, is no reason to preempt a worker.
    if (this.runQueue.length > (this.ownVcpuBusy ? 0 : 1)) {
      const now = performance.now();
      for (const v of this.remotes) v.preemptAfter(SLICE_MS, now);
    }
  }

  /**
   * While any worker runs a thread, a 1 ms timer polls the workers. It
   * keeps Node's event loop alive (a pending Atomics.waitAsync does not),
   * preempts workers when threads wait with vCPU 0 idle, and collects a
   * stop whose waitAsync wake-up never came: on Node 20 one run in a few
   * hundred of a 64-thread program left a handed-back thread uncollected
   * forever, and the sandbox hung. The wake-up stays the fast path; the
   * sweep bounds a lost one to 1 ms.
   */
  private sweep: NodeJS.Timeout | undefined;

  private startSweep(): void {
    if (this.sweep) return;
    this.sweep = setInterval(() => {
      this.pollRemotes();
      this.feedRemotes();
      this.kickIfQueued();
      if (this.remotes.every((v) => v.task === null)) {
        clearInterval(this.sweep);
        this.sweep = undefined;
        if (this.paused) this.settlePause();
      }
    }, 1);
  }

  /** A worker handed `task` back: serve its system call or fault, then let it run on, here or elsewhere. */
  private remoteStopped(vcpu: RemoteVcpu, task: Task, stop: RemoteStop): void {
    task.remote = null;
    task.instructions += stop.instructions;
    if (task.state === TaskState.Exited) {
      const proc = task.process;
      if (!proc.alive && proc.remoteThreadsAtExit > 0) {
        proc.remoteThreadsAtExit--;
        proc.releaseVmOnceIdle();
      }
      this.feedRemotes();
      return;
    }
    if (this.handleStop(task, stop.stop, stop.fault, vcpu, 0) === AfterStop.RunOn) {
      if (this.paused) this.requeue(task);
      else {
        this.startRemote(vcpu, task);
        if (vcpu.task === null) this.feedRemotes();
      }
    } else this.feedRemotes();
    this.kickIfQueued();
    if (this.paused) this.settlePause();
  }

  /** Stop the vCPU workers (the sandbox is shutting down). */
  shutdown(): void {
    for (const w of this.pauseWaiters.splice(0)) w();
    clearInterval(this.sweep);
    this.sweep = undefined;
    for (const v of this.remotes) v.terminate();
    this.remotes.length = 0;
  }
}
