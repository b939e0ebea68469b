// The kernel's side of the vCPU workers: which worker runs which guest
// thread, handing threads over and taking them back (src/vcpu/mailbox.ts has
// the protocol, src/workers/vcpu-worker.ts the other side).
//
// Contract: a thread is on at most one vCPU. While a worker runs it, its
// Task is Running with `remote` set to that worker, and the worker runs a
// copy of its registers (the worker's own register file, filled by run());
// the kernel must not change Task.regs until the worker hands the thread
// back, when collect() copies the registers home. A change made meanwhile
// would be lost: collect() reports it as a kernel bug. The kernel worker's
// own vCPU (vCPU 0) stays where single-threaded programs run: system calls
// there are function calls, while a worker's cost a round trip (measured in
// src/kernel/README.md).

import { Worker, MessageChannel, MessagePort } from 'node:worker_threads';
import { CMD_QUIT, CMD_RUN, MB, PROGRESS_UNIT, VcpuNews, VcpuWorkerData } from '../vcpu/mailbox.js';
import { AS_DOUBLE, ThreadState, type Stop } from '../vcpu/state.js';
import { FramePool } from '../vcpu/frames.js';
import { Cpu } from '../vcpu/cpu.js';
import { tier0Module } from '../vcpu/interp-wasm.js';
import type { SharedRegion } from '../vcpu/region-share.js';
import { WORKER_RESOURCE_LIMITS } from '../bundle/entry.js';
import type { AddressSpace } from './address-space.js';
import type { Task } from './task.js';

/**
 * Atomics.waitAsync (V8 has it; this TypeScript lib level does not declare
 * it), looked up at each call: a startup snapshot's build, where this module's
 * top level may run, has no Atomics.
 */
const waitAsync = (a: Int32Array, index: number, value: number) =>
  (Atomics as unknown as {
    waitAsync(a: Int32Array, index: number, value: number): { async: false; value: string } | { async: true; value: Promise<string> };
  }).waitAsync(a, index, value);

/**
 * Whether a thread of `task`'s address space other than `task` may run on
 * another vCPU meanwhile: more threads, or another process sharing the
 * memory (CLONE_VM). Its vCPU then makes aligned accesses single-copy atomic
 * (Cpu.mt). Only asked when vCPU workers exist.
 */
export function mayRunConcurrently(task: Task): boolean {
  return task.process.threads.size > 1 || task.process.vm.users > 1;
}

export interface RemoteStop {
  stop: Stop;
  instructions: number;
  fault: { signal: number; code: number; addr: number };
}

/** One vCPU worker as the kernel sees it, for the thread dump. */
export interface VcpuView {
  index: number;
  /** The thread it runs, or null when idle. */
  tid: number | null;
  /** The worker has started (MB.READY): until then it is handed no thread. */
  ready: boolean;
  runningMs: number;
  preempted: boolean;
  /** Commands sent (CMD_SEQ), stops the worker reported (DONE_SEQ), stops the kernel collected. */
  commands: number;
  stops: number;
  collected: number;
  interrupt: number;
}

export class RemoteVcpu {
  readonly mb: Int32Array;
  private readonly worker: Worker;
  private readonly port: MessagePort;
  /** The thread it runs now, or null when idle. */
  task: Task | null = null;
  /**
   * When the current run began (performance.now()): a double from the start
   * (state.ts AS_DOUBLE), so that run()'s first store keeps this class's map;
   * from 0, a small integer, it deprecated the map at the first hand-over and
   * threw away the compiles of ready() and its callers, in the 2-vCPU window.
   */
  runSince = AS_DOUBLE;
  /** The kernel interrupted the current run to give the vCPU to a waiting thread. */
  preempted = false;
  private readonly knownMemories = new Set<number>();
  /** Per address space (memId): the kernel Cpu's list of kept tier-2 regions last seen, and how many of it were posted. */
  private readonly regionsSent = new Map<number, { list: SharedRegion[]; n: number }>();
  /** The worker's register file: the running thread's registers while it is away. */
  private readonly regs = new ThreadState();
  /** What was handed over, to check at collect() that the kernel left Task.regs alone meanwhile. */
  private readonly handed = new ThreadState();
  private doneSeq = 0;
  /** The worker said it has started (MB.READY): from then on it may be handed threads. */
  private started = false;
  /** When the Worker was created (performance.now()), and whether it has been handed a thread yet. */
  readonly createdAt = performance.now();
  handedAny = false;

  constructor(
    readonly index: number,
    /** The worker's entry point (KernelConfig.vcpuWorkerEntry). */
    entry: string,
    private readonly onStop: (vcpu: RemoteVcpu, task: Task, stop: RemoteStop) => void,
    /** Called after a stop collected by the wake-up (not by a poll), once onStop is done: the kernel may spin for the next. */
    private readonly afterWake: () => void,
    /** A breach of the contract above, by the kernel: logged, never the guest's doing. */
    private readonly kernelBug: (msg: string) => void,
  ) {
    const sab = new SharedArrayBuffer(MB.WORDS * 4);
    this.mb = new Int32Array(sab);
    const channel = new MessageChannel();
    this.port = channel.port1;
    const data: VcpuWorkerData = { mailbox: sab, regs: this.regs.shared, port: channel.port2, index, frames: FramePool.local().share() };
    // This thread's tier-0 module (vCPU 0's, built at its warm-up): posted, not compiled again by the worker.
    if (Cpu.defaultTier0 === 'wasm') data.tier0 = tier0Module();
    this.worker = new Worker(entry, { workerData: data, transferList: [channel.port2], resourceLimits: WORKER_RESOURCE_LIMITS });
    this.worker.unref();
    this.runSince = 0;
  }

  /** Whether the worker has started (MB.READY) and may be handed a thread: one atomic load until it has. */
  ready(): boolean {
    if (!this.started) this.started = Atomics.load(this.mb, MB.READY) === 1;
    return this.started;
  }

  /** Hand `task` (of address space `vm`) to this worker, which must be ready(). */
  run(task: Task, vm: AddressSpace): void {
    if (!this.ready()) this.kernelBug(`thread ${task.tid} handed to vCPU ${this.index} before its worker started`);
    this.handedAny = true;
    if (!this.knownMemories.has(vm.memId)) {
      this.post({ kind: 'memory', id: vm.memId, shared: vm.mem.share(), epoch: vm.codeEpoch.buffer as SharedArrayBuffer });
      this.knownMemories.add(vm.memId);
    }
    this.postRegions(vm);
    this.task = task;
    this.runSince = performance.now();
    this.preempted = false;
    this.regs.copyFrom(task.regs);
    this.regs.storeScalars();
    this.handed.copyFrom(task.regs);
    this.mb[MB.CMD] = CMD_RUN;
    this.mb[MB.MEM_ID] = vm.memId;
    this.mb[MB.MT] = mayRunConcurrently(task) ? 1 : 0;
    // Cleared here, not by the worker: an interrupt() between now and the worker taking the command stays seen.
    Atomics.store(this.mb, MB.INTERRUPT, 0);
    Atomics.store(this.mb, MB.PROGRESS, 0);
    Atomics.add(this.mb, MB.CMD_SEQ, 1);
    Atomics.notify(this.mb, MB.CMD_SEQ);
    this.awaitStop();
  }

  /**
   * Instructions the thread handed over has retired so far on this worker and
   * that the kernel has not counted yet (MB.PROGRESS, at most one BUDGET of
   * the worker behind); 0 when idle. Added to the thread's count until
   * collect() adds the run's exact total.
   */
  runningInstructions(): number {
    return this.task === null ? 0 : Atomics.load(this.mb, MB.PROGRESS) * PROGRESS_UNIT;
  }

  /** Ask for the running thread back as soon as possible (between blocks). */
  interrupt(): void {
    if (this.task) Atomics.store(this.mb, MB.INTERRUPT, 1);
  }

  /** Take the vCPU back for another thread once the current run has had `sliceMs`. */
  preemptAfter(sliceMs: number, now: number): void {
    if (this.task === null || this.preempted || now - this.runSince < sliceMs) return;
    this.preempted = true;
    this.interrupt();
  }

  /** Has the worker handed its thread back (not yet collected)? Cheap: one atomic load. */
  poll(): boolean {
    if (this.task === null || Atomics.load(this.mb, MB.DONE_SEQ) === this.doneSeq) return false;
    this.collect();
    return true;
  }

  terminate(): void {
    this.task = null;
    this.mb[MB.CMD] = CMD_QUIT;
    Atomics.add(this.mb, MB.CMD_SEQ, 1);
    Atomics.notify(this.mb, MB.CMD_SEQ);
    void this.worker.terminate();
  }

  /** The mailbox as the thread dump (thread-dump.ts) shows it: what this side sent and collected. */
  describe(now: number): VcpuView {
    const mb = this.mb;
    return {
      index: this.index,
      tid: this.task?.tid ?? null,
      ready: this.ready(),
      runningMs: this.task ? now - this.runSince : 0,
      preempted: this.preempted,
      commands: Atomics.load(mb, MB.CMD_SEQ),
      stops: Atomics.load(mb, MB.DONE_SEQ),
      collected: this.doneSeq,
      interrupt: Atomics.load(mb, MB.INTERRUPT),
    };
  }

  /** `memId`'s address space is gone for good: the worker lets go of its memory and blocks. */
  forget(memId: number): void {
    if (!this.knownMemories.delete(memId)) return;
    this.regionsSent.delete(memId);
    this.post({ kind: 'forget', id: memId });
  }

  /**
   * The tier-2 regions `vm`'s own Cpu kept that this worker has not been
   * sent (region-share.ts): the thread handed over next runs its hot loops
   * compiled at once instead of warming them up again here.
   */
  private postRegions(vm: AddressSpace): void {
    const list = vm.cpu.regions.list;
    const sent = this.regionsSent.get(vm.memId);
    const from = sent !== undefined && sent.list === list ? sent.n : 0;
    if (list.length === from) return;
    this.post({ kind: 'regions', id: vm.memId, regions: list.slice(from) });
    this.regionsSent.set(vm.memId, { list, n: list.length });
    Atomics.store(this.mb, MB.NEWS, 1);
  }

  /** While this worker runs a thread: post the regions its address space's Cpu kept since (the worker takes them between its slices). */
  offerRegions(): void {
    if (this.task !== null) this.postRegions(this.task.process.vm);
  }

  private post(news: VcpuNews): void {
    this.port.postMessage(news);
  }

  private awaitStop(): void {
    const seq = this.doneSeq;
    const w = waitAsync(this.mb, MB.DONE_SEQ, seq);
    if (!w.async) {
      queueMicrotask(() => this.collectIfDone());
      return;
    }
    void w.value.then(() => this.collectIfDone());
  }

  private collectIfDone(): void {
    if (this.task !== null && Atomics.load(this.mb, MB.DONE_SEQ) !== this.doneSeq) {
      this.collect();
      this.afterWake();
    }
  }

  private collect(): void {
    this.doneSeq = Atomics.load(this.mb, MB.DONE_SEQ);
    const task = this.task!;
    this.task = null;
    if (!task.regs.sameAs(this.handed)) this.kernelBug(`the registers of thread ${task.tid} changed while vCPU ${this.index} ran it; the change is lost`);
    this.regs.loadScalars();
    task.regs.copyFrom(this.regs);
    const mb = this.mb;
    const stop: RemoteStop = {
      stop: mb[MB.STOP] as Stop,
      instructions: (mb[MB.INSTRET_LO] >>> 0) + (mb[MB.INSTRET_HI] >>> 0) * 0x100000000,
      fault: { signal: mb[MB.FAULT_SIGNAL], code: mb[MB.FAULT_CODE], addr: (mb[MB.FAULT_ADDR_LO] >>> 0) + (mb[MB.FAULT_ADDR_HI] >>> 0) * 0x100000000 },
    };
    this.onStop(this, task, stop);
  }
}
