// The vCPU worker's side of the mailbox protocol (src/vcpu/mailbox.ts),
// driven by hand: a command is a new CMD_SEQ value, never a bare wake-up.

import * as assert from 'node:assert/strict';
import * as path from 'node:path';
import { MessageChannel, Worker } from 'node:worker_threads';
import { CMD_QUIT, CMD_RUN, MB, PROGRESS_UNIT, type VcpuNews, type VcpuWorkerData } from '../../src/vcpu/mailbox.js';
import { GuestMemory, GUEST_VA_LIMIT, PAGE_R, PAGE_SHIFT, PAGE_SIZE, PAGE_W, PAGE_X } from '../../src/vcpu/memory.js';
import { FAULT_IN } from '../../src/vcpu/cpu.js';
import { Stop, ThreadState } from '../../src/vcpu/state.js';
import { FramePool } from '../../src/vcpu/frames.js';
import { Cpu } from '../../src/vcpu/cpu.js';
import { tier0Module } from '../../src/vcpu/interp-wasm.js';
import { rv } from '../vcpu/asm.js';

const CODE = 0x10000;
const ECALL = 0x00000073;
const ADDI_A0_A0_1 = 0x00150513;
const LW_A1_0_A2 = 0x00062583;

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** Resolves once DONE_SEQ reaches `n` (polled: this test must not depend on the worker's notify either). */
async function doneSeq(mb: Int32Array, n: number): Promise<void> {
  const deadline = Date.now() + 10_000;
  while (Atomics.load(mb, MB.DONE_SEQ) < n) {
    if (Date.now() > deadline) throw new Error(`the worker never reported command ${n}`);
    await sleep(1);
  }
}

/** A vCPU worker over a fresh mailbox and register file, started as the kernel starts one (src/kernel/vcpus.ts). */
function startWorker(frames: FramePool = FramePool.local(), env?: NodeJS.ProcessEnv, tier0?: WebAssembly.Module): { mb: Int32Array; regs: ThreadState; channel: MessageChannel; worker: Worker } {
  const mailbox = new SharedArrayBuffer(MB.WORDS * 4);
  const mb = new Int32Array(mailbox);
  const regs = new ThreadState();
  const channel = new MessageChannel();
  const data: VcpuWorkerData = { mailbox, regs: regs.shared, port: channel.port2, index: 1, frames: frames.share(), ...(tier0 ? { tier0 } : {}) };
  const worker = new Worker(path.join(__dirname, '..', '..', 'src', 'workers', 'vcpu-worker.js'), { workerData: data, transferList: [channel.port2], ...(env ? { env } : {}) });
  return { mb, regs, channel, worker };
}

/** Command `cmd` as the kernel gives it (CMD_RUN: a thread of address space `memId`); `notify` false: the worker must see it by spinning. */
function command(mb: Int32Array, cmd: number, memId = 0, notify = true): void {
  mb[MB.CMD] = cmd;
  if (cmd === CMD_RUN) mb[MB.MEM_ID] = memId;
  Atomics.add(mb, MB.CMD_SEQ, 1);
  if (notify) Atomics.notify(mb, MB.CMD_SEQ);
}

describe('vCPU worker mailbox', () => {
  it('runs each command once: a notify that comes after the worker took the command by spinning runs nothing', async () => {
    const mem = GuestMemory.create();
    mem.pageFlags[CODE >>> PAGE_SHIFT] = PAGE_R | PAGE_X;
    // a0 += 1, then a system call: each run of the thread from CODE adds one.
    mem.view.setUint32(CODE, ADDI_A0_A0_1, true);
    mem.view.setUint32(CODE + 4, ECALL, true);
    const { mb, regs, channel, worker } = startWorker();
    try {
      const news: VcpuNews = { kind: 'memory', id: 7, shared: mem.share(), epoch: new SharedArrayBuffer(4) };
      channel.port1.postMessage(news);
      const runFromCode = (notify: boolean) => {
        regs.pc = CODE;
        regs.storeScalars();
        command(mb, CMD_RUN, 7, notify);
      };
      runFromCode(true);
      await doneSeq(mb, 1);
      regs.loadScalars();
      assert.equal(mb[MB.STOP], Stop.Syscall);
      assert.equal(regs.pc, CODE + 8);
      assert.equal(regs.getU(10), 1);
      // The worker sleeps in Atomics.wait by now. A notify with no new
      // CMD_SEQ (the kernel's notify of a command the worker already ran)
      // must leave it asleep: before the fix it ran the thread again.
      await sleep(50);
      Atomics.notify(mb, MB.CMD_SEQ);
      await sleep(100);
      assert.equal(Atomics.load(mb, MB.DONE_SEQ), 1, 'no second run');
      assert.equal(regs.getU(10), 1, 'the registers were not run on');
      // The next real command runs once more.
      runFromCode(true);
      await doneSeq(mb, 2);
      assert.equal(regs.getU(10), 2);
      // Once the kernel says the address space is gone, the worker holds
      // nothing of it: a run naming it comes back unrun (Interrupted).
      const forget: VcpuNews = { kind: 'forget', id: 7 };
      channel.port1.postMessage(forget);
      await sleep(50);
      runFromCode(true);
      await doneSeq(mb, 3);
      regs.loadScalars();
      assert.equal(mb[MB.STOP], Stop.Interrupted);
      assert.equal(regs.getU(10), 2, 'the forgotten space ran nothing');
      command(mb, CMD_QUIT);
      const code = await new Promise<number>((resolve) => worker.once('exit', resolve));
      assert.equal(code, 0);
    } finally {
      channel.port1.close();
      await worker.terminate();
    }
  });

  it("runs tier 0 in the kernel's WebAssembly module when handed it (VcpuWorkerData.tier0): builds none of its own (MB.TIER0_BUILT 0), and builds one when not", async () => {
    // Tier 0 in WebAssembly, whatever this run's environment says (TSVISOR_TIER0=js, a forced engine).
    const env: NodeJS.ProcessEnv = { ...process.env, TSVISOR_TIER0: 'wasm' };
    delete env.TSVISOR_ENGINE;
    for (const handed of [true, false]) {
      const mem = GuestMemory.create();
      mem.pageFlags[CODE >>> PAGE_SHIFT] = PAGE_R | PAGE_X;
      // a0 += 1 five times in a loop (a1 counts down), then a system call: integer code the module runs.
      const prog = [rv.addi(11, 0, 5), ADDI_A0_A0_1, rv.addi(11, 11, -1), rv.bne(11, 0, -8), ECALL];
      prog.forEach((w, i) => mem.view.setUint32(CODE + 4 * i, w, true));
      const { mb, regs, channel, worker } = startWorker(FramePool.local(), env, handed ? tier0Module() : undefined);
      try {
        const news: VcpuNews = { kind: 'memory', id: 3, shared: mem.share(), epoch: new SharedArrayBuffer(4) };
        channel.port1.postMessage(news);
        for (let n = 1; n <= 2; n++) {
          regs.pc = CODE;
          regs.storeScalars();
          command(mb, CMD_RUN, 3);
          await doneSeq(mb, n);
          regs.loadScalars();
          assert.equal(mb[MB.STOP], Stop.Syscall);
          assert.equal(regs.pc, CODE + 4 * prog.length);
          assert.equal(regs.getU(10), 5 * n);
          assert.equal(Atomics.load(mb, MB.TIER0_BUILT), handed ? 0 : 1, handed ? 'the worker compiled a module of its own' : 'the worker ran no tier-0 module');
        }
        command(mb, CMD_QUIT);
        assert.equal(await new Promise<number>((resolve) => worker.once('exit', resolve)), 0);
      } finally {
        channel.port1.close();
        await worker.terminate();
      }
    }
  });

  it('a load from a high page not present comes back as FAULT_IN with its full address; once the kernel sets the page, it runs', async () => {
    const mem = GuestMemory.create();
    mem.pageFlags[CODE >>> PAGE_SHIFT] = PAGE_R | PAGE_X;
    mem.view.setUint32(CODE, LW_A1_0_A2, true);
    mem.view.setUint32(CODE + 4, ECALL, true);
    const high = 37 * GUEST_VA_LIMIT + 0x1234;
    const frame = 4003;
    const pool = FramePool.local();
    pool.view.setUint32(frame * PAGE_SIZE + 0x234, 5, true);
    const { mb, regs, channel, worker } = startWorker(pool);
    try {
      const news: VcpuNews = { kind: 'memory', id: 8, shared: mem.share(), epoch: new SharedArrayBuffer(4) };
      channel.port1.postMessage(news);
      const run = () => {
        regs.pc = CODE;
        regs.setS(12, high);
        regs.storeScalars();
        command(mb, CMD_RUN, 8);
      };
      run();
      await doneSeq(mb, 1);
      regs.loadScalars();
      assert.equal(mb[MB.STOP], Stop.Fault);
      assert.equal(mb[MB.FAULT_SIGNAL], FAULT_IN);
      assert.equal(mb[MB.FAULT_CODE], PAGE_R);
      assert.equal((mb[MB.FAULT_ADDR_HI] >>> 0) * 2 ** 32 + (mb[MB.FAULT_ADDR_LO] >>> 0), high);
      assert.equal(regs.pc, CODE, 'the load not run');
      // The kernel's part: the page present in the table the worker reads.
      mem.high.set(Math.floor(high / PAGE_SIZE), frame, PAGE_R);
      run();
      await doneSeq(mb, 2);
      regs.loadScalars();
      assert.equal(mb[MB.STOP], Stop.Syscall);
      assert.equal(regs.getU(11), 5);
      command(mb, CMD_QUIT);
    } finally {
      channel.port1.close();
      await worker.terminate();
    }
  });

  it('says when it has started (READY), and runs a tier-2 region posted with its memory instead of compiling its own', async () => {
    const mem = GuestMemory.create();
    mem.pageFlags[CODE >>> PAGE_SHIFT] = PAGE_R | PAGE_X;
    // x6 += step until x5 is 0, then an ecall.
    const put = (step: number) =>
      [rv.addi(0, 0, 1234), rv.addi(6, 6, step), rv.addi(5, 5, -1), rv.bne(5, 0, -12), ECALL].forEach((w, i) => mem.view.setUint32(CODE + 4 * i, w, true));
    // The kernel's Cpu here compiles the loop adding 2 and keeps it in tier 2 ...
    put(2);
    const own = new Cpu(mem, undefined, { engine: 'auto', promoteAfter: 2, wasm: true });
    own.state.pc = CODE;
    own.state.setS(5, 1_000_000);
    while (own.run(1_000_000) !== Stop.Syscall);
    assert.equal(own.state.getU(6), 2_000_000);
    assert.equal(own.regions.list.length, 1);
    const r = own.regions.list[0];
    // ... and the memory then holds the loop adding 1, which the record claims: if the worker
    // adopts the posted region, the thread adds 2; had it decoded the memory itself, 1.
    put(1);
    const forged = { ...r, bytes: mem.u8.slice(r.pc, r.end) };
    assert.equal(r.extra, null);
    const { mb, regs, channel, worker } = startWorker();
    try {
      const deadline = Date.now() + 10_000;
      while (Atomics.load(mb, MB.READY) !== 1) {
        if (Date.now() > deadline) throw new Error('the worker never said it started');
        await sleep(1);
      }
      const memory: VcpuNews = { kind: 'memory', id: 9, shared: mem.share(), epoch: new SharedArrayBuffer(4) };
      const regions: VcpuNews = { kind: 'regions', id: 9, regions: [forged] };
      channel.port1.postMessage(memory);
      channel.port1.postMessage(regions);
      regs.pc = CODE;
      regs.setS(5, 1_000_000);
      regs.setS(6, 0);
      regs.storeScalars();
      // Run on until the ecall, should a run come back early (a Budget stop: none is expected, see the last test).
      for (let n = 1; ; n++) {
        command(mb, CMD_RUN, 9);
        await doneSeq(mb, n);
        if (mb[MB.STOP] !== Stop.Budget) break;
      }
      regs.loadScalars();
      assert.equal(mb[MB.STOP], Stop.Syscall);
      assert.equal(regs.getU(6), 2_000_000, 'the posted region ran');
      command(mb, CMD_QUIT);
    } finally {
      channel.port1.close();
      await worker.terminate();
    }
  });

  // The news may be taken between two slices of the run it came in (what MB.NEWS is for) or at the
  // next command's start, whichever comes first on a loaded host; either way the loop runs on in the
  // adopted region from then on, which the sum shows.
  it('takes regions posted while it runs the thread (MB.NEWS), in place of the tier-0 block it is running', async () => {
    const DATA = 0x40000;
    const mem = GuestMemory.create();
    mem.pageFlags[CODE >>> PAGE_SHIFT] = PAGE_R | PAGE_X;
    mem.pageFlags[DATA >>> PAGE_SHIFT] = PAGE_R | PAGE_W;
    // x6 += step and stored at DATA (x7), until x5 is 0; then an ecall.
    const put = (step: number) =>
      [rv.addi(0, 0, 1235), rv.addi(6, 6, step), rv.sd(6, 7, 0), rv.addi(5, 5, -1), rv.bne(5, 0, -16), ECALL].forEach((w, i) => mem.view.setUint32(CODE + 4 * i, w, true));
    put(2);
    const own = new Cpu(mem, undefined, { engine: 'auto', promoteAfter: 2, wasm: true });
    own.state.pc = CODE;
    own.state.setS(5, 1_000_000);
    own.state.setS(7, DATA);
    while (own.run(1_000_000) !== Stop.Syscall);
    assert.equal(own.regions.list.length, 1);
    const r = own.regions.list[0];
    put(1);
    const forged = { ...r, bytes: mem.u8.slice(r.pc, r.end) };
    mem.view.setBigUint64(DATA, 0n, true);
    // This worker's own tier 0 never promotes: the loop runs interpreted until the region comes.
    const { mb, regs, channel, worker } = startWorker(FramePool.local(), { ...process.env, TSVISOR_PROMOTE_AFTER: String(2 ** 40) });
    try {
      const memory: VcpuNews = { kind: 'memory', id: 10, shared: mem.share(), epoch: new SharedArrayBuffer(4) };
      channel.port1.postMessage(memory);
      const passes = 50_000_000;
      regs.pc = CODE;
      regs.setS(5, passes);
      regs.setS(6, 0);
      regs.setS(7, DATA);
      regs.storeScalars();
      let posted = false;
      for (let n = 1; ; n++) {
        command(mb, CMD_RUN, 10);
        if (!posted) {
          // Once the loop runs (its count in memory moves), the kernel's news arrives.
          const deadline = Date.now() + 10_000;
          while (mem.view.getBigUint64(DATA, true) === 0n) {
            if (Date.now() > deadline) throw new Error('the loop never ran');
            await sleep(1);
          }
          const regions: VcpuNews = { kind: 'regions', id: 10, regions: [forged] };
          channel.port1.postMessage(regions);
          Atomics.store(mb, MB.NEWS, 1);
          posted = true;
        }
        await doneSeq(mb, n);
        if (mb[MB.STOP] !== Stop.Budget) break;
      }
      regs.loadScalars();
      assert.equal(mb[MB.STOP], Stop.Syscall);
      const sum = regs.getU(6);
      assert.ok(sum > passes && sum < 2 * passes, `x6 = ${sum}: the passes after the news added 2`);
      assert.equal(BigInt(sum), mem.view.getBigUint64(DATA, true));
    } finally {
      channel.port1.close();
      await worker.terminate();
    }
  });

  // A lone thread used to come back every 50 ms only to bring the kernel's count of its instructions up
  // to date, and on a loaded host each such hand-back waited for the kernel's thread to be scheduled
  // again (13 ms on average at load 10, bench/README.md). Now it runs until it stops, and the count goes
  // on in MB.PROGRESS meanwhile.
  it('runs a thread until it stops, however long, and publishes its instructions so far (MB.PROGRESS) while it runs', async () => {
    const N = 150_000_000; // 450 M instructions: well over 50 ms in any tier
    const mem = GuestMemory.create();
    mem.pageFlags[CODE >>> PAGE_SHIFT] = PAGE_R | PAGE_X;
    // x6 += 1 until x5 is 0, then an ecall.
    [rv.addi(6, 6, 1), rv.addi(5, 5, -1), rv.bne(5, 0, -8), ECALL].forEach((w, i) => mem.view.setUint32(CODE + 4 * i, w, true));
    const { mb, regs, channel, worker } = startWorker();
    try {
      channel.port1.postMessage({ kind: 'memory', id: 11, shared: mem.share(), epoch: new SharedArrayBuffer(4) } satisfies VcpuNews);
      regs.pc = CODE;
      regs.setS(5, N);
      regs.setS(6, 0);
      regs.storeScalars();
      Atomics.store(mb, MB.PROGRESS, 0);
      command(mb, CMD_RUN, 11);
      const seen: number[] = [];
      const deadline = Date.now() + 60_000;
      while (Atomics.load(mb, MB.DONE_SEQ) < 1) {
        if (Date.now() > deadline) throw new Error('the run never ended');
        seen.push(Atomics.load(mb, MB.PROGRESS));
        await sleep(2);
      }
      regs.loadScalars();
      assert.equal(mb[MB.STOP], Stop.Syscall, 'one run, to the ecall');
      assert.equal(regs.getU(6), N);
      const instret = (mb[MB.INSTRET_LO] >>> 0) + (mb[MB.INSTRET_HI] >>> 0) * 0x100000000;
      assert.ok(instret >= 3 * N, `instret ${instret}`);
      const progress = seen.filter((p) => p > 0);
      assert.ok(progress.length > 0, 'the count went on while the thread ran');
      for (let i = 1; i < progress.length; i++) assert.ok(progress[i] >= progress[i - 1], 'never backwards');
      assert.ok(progress[progress.length - 1] * PROGRESS_UNIT <= instret, 'never ahead of the run');
      command(mb, CMD_QUIT);
    } finally {
      channel.port1.close();
      await worker.terminate();
    }
  });
});
