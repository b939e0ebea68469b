// A vCPU worker: runs guest threads handed to it by the kernel worker, one at
// a time, until each stops (system call, fault, end of slice, interrupt), and
// hands it back. It holds no kernel state: the kernel copies a thread's
// registers into this worker's register file before each run and out after
// it, memory is the address space's shared memory; what it keeps is its own
// decoded blocks per address space (and the tier-2 regions of the kernel's
// Cpu it adopted: 'regions' news, src/vcpu/region-share.ts), until the kernel
// says it dropped that address space ('forget' news). It says it has started
// (MB.READY) before the kernel hands it any thread. The vCPU mailbox (src/vcpu, `MB`) has
// the protocol; the kernel's side is its RemoteVcpu (src/kernel).

import { performance } from 'node:perf_hooks';
import { receiveMessageOnPort, workerData } from 'node:worker_threads';
import { Cpu } from '../vcpu/cpu.js';
import { engineStats, reportEngineStats } from '../vcpu/engine-stats.js';
import { adoptTier0Module } from '../vcpu/interp-wasm.js';
import { GuestMemory } from '../vcpu/memory.js';
import { FramePool } from '../vcpu/frames.js';
import { Stop, ThreadState } from '../vcpu/state.js';
import { CMD_QUIT, CMD_RUN, MB, PROGRESS_UNIT, VcpuNews, VcpuWorkerData } from '../vcpu/mailbox.js';

/**
 * Instructions per Cpu.run() between updates of MB.PROGRESS and checks of
 * MB.NEWS: a region the kernel's Cpu kept meanwhile is taken within this many
 * instructions, well before this worker's own tier 0 would promote the same
 * loop (a block's PROMOTE_AFTER heat is some 800 000 instructions of a tight
 * loop). A check costs well under 0.1 µs, against ~20 µs of a tier-2 loop.
 * A thread runs here until it stops (system call, fault) or the kernel
 * interrupts it (a signal, a code change, another thread waiting: time
 * slicing is the kernel's, Scheduler.pollRemotes); never handed back just
 * to bring the kernel's count of its instructions up to date, which
 * MB.PROGRESS does without a round trip through the kernel's thread.
 */
const BUDGET = 50_000;
/** How long a worker watches for its next command after a hand-back before it sleeps. */
const SPIN_MS = 0.05;

const data = workerData as VcpuWorkerData;
// Before any Cpu exists: every Cpu of this worker reads shared pages from the kernel's pool.
FramePool.adopt(data.frames);
// The kernel's tier-0 module: no build nor compile of one here, at the first thread handed over.
if (data.tier0) adoptTier0Module(data.tier0);
// No warm-up of tier 0 here (warmup.ts): it would hold up the thread handed to this worker while it runs.
Cpu.warmUpFirst = false;
const mb = new Int32Array(data.mailbox);
const interrupt = new Int32Array(data.mailbox, MB.INTERRUPT * 4, 1);

interface Space {
  cpu: Cpu;
  epoch: Int32Array;
  seen: number;
}
const spaces = new Map<number, Space>();
const regs = new ThreadState(data.regs);

function takeNews(): void {
  for (;;) {
    const m = receiveMessageOnPort(data.port);
    if (!m) return;
    const news = m.message as VcpuNews;
    if (news.kind === 'forget') {
      spaces.delete(news.id);
      continue;
    }
    if (news.kind === 'regions') {
      const cpu = spaces.get(news.id)?.cpu;
      if (cpu) for (const r of news.regions) cpu.adopt(r);
      continue;
    }
    const mem = GuestMemory.attach(news.shared);
    const epoch = new Int32Array(news.epoch);
    spaces.set(news.id, { cpu: new Cpu(mem, interrupt), epoch, seen: Atomics.load(epoch, 0) });
  }
}

function run(space: Space): void {
  const epoch = Atomics.load(space.epoch, 0);
  if (epoch !== space.seen) {
    space.cpu.flushCode();
    space.seen = epoch;
  }
  regs.loadScalars();
  const cpu = space.cpu;
  cpu.state = regs;
  cpu.mt = mb[MB.MT] !== 0;
  const before = cpu.instret;
  let stop: Stop;
  for (;;) {
    stop = cpu.run(BUDGET);
    if (stop !== Stop.Budget) break;
    Atomics.store(mb, MB.PROGRESS, Math.floor((cpu.instret - before) / PROGRESS_UNIT));
    // Regions the kernel's Cpu kept while this thread ran here (MB.NEWS): this loop may be one of them.
    if (Atomics.load(mb, MB.NEWS) !== 0) {
      Atomics.store(mb, MB.NEWS, 0);
      takeNews();
    }
  }
  regs.storeScalars();
  const n = cpu.instret - before;
  mb[MB.STOP] = stop;
  if (stop === Stop.Fault) {
    mb[MB.FAULT_SIGNAL] = cpu.fault.signal;
    mb[MB.FAULT_CODE] = cpu.fault.code;
    mb[MB.FAULT_ADDR_LO] = cpu.fault.addr % 0x100000000;
    mb[MB.FAULT_ADDR_HI] = Math.floor(cpu.fault.addr / 0x100000000);
  }
  mb[MB.TIER0_BUILT] = engineStats.tier0Modules;
  mb[MB.INSTRET_LO] = n % 0x100000000;
  mb[MB.INSTRET_HI] = Math.floor(n / 0x100000000);
}

// From here on the kernel may hand this worker threads (MB.READY).
Atomics.store(mb, MB.READY, 1);
let seq = 0;
for (;;) {
  // A command is a new CMD_SEQ, never a wake-up: the kernel bumps CMD_SEQ
  // then notifies, and this worker may see the bump while spinning, run the
  // command, and be back in Atomics.wait before the kernel's notify lands
  // (its thread descheduled in between). That late notify returns "ok" with
  // CMD_SEQ unchanged; taking it as a command re-ran the thread the kernel
  // had just been handed back, past its system call (threads-64 on 2 vCPUs
  // died of it about 1 run in 30).
  while (Atomics.load(mb, MB.CMD_SEQ) === seq) Atomics.wait(mb, MB.CMD_SEQ, seq);
  seq = Atomics.load(mb, MB.CMD_SEQ);
  takeNews();
  const cmd = mb[MB.CMD];
  if (cmd === CMD_QUIT) {
    reportEngineStats();
    break;
  }
  if (cmd === CMD_RUN) {
    const space = spaces.get(mb[MB.MEM_ID]);
    if (!space) {
      // The kernel's bug, not the guest's: report it as an interrupted run so the thread goes back.
      mb[MB.STOP] = Stop.Interrupted;
    } else run(space);
  }
  Atomics.add(mb, MB.DONE_SEQ, 1);
  Atomics.notify(mb, MB.DONE_SEQ);
  // A thread handed back for a system call usually comes straight back:
  // watch for the next command a little before sleeping in Atomics.wait,
  // whose wake-up costs tens of microseconds.
  const until = performance.now() + SPIN_MS;
  while (Atomics.load(mb, MB.CMD_SEQ) === seq && performance.now() < until);
}
