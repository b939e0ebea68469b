import { strict as assert } from 'node:assert';
import { Cpu, Stop } from '../../src/vcpu/cpu.js';
import { decode, type Insn } from '../../src/vcpu/decode.js';
import { engineStats } from '../../src/vcpu/engine-stats.js';
import { predecode, toInsns, OP_MASK, OP_NAMES } from '../../src/vcpu/ops.js';
import { MNEMONICS } from '../../src/vcpu/decode.js';
import { warmUpWords } from '../../src/vcpu/warmup.js';
import { Worker } from 'node:worker_threads';
import * as path from 'node:path';
import { Asm, getReg, resetMemory, rv, setReg, CODE, memory } from './asm.js';

/**
 * A loop of 3 instructions, x2 += 1 each pass, after `addi x3, x0, tag`: a
 * tag of its own keeps a test from reusing the code another compiled (Cpus
 * of one thread share compiled blocks by code bytes).
 */
function loop(tag = 0): Asm {
  return new Asm().w(rv.addi(3, 0, tag), rv.addi(2, 2, 1), rv.addi(1, 1, -1), rv.bne(1, 0, -8), rv.ecall());
}

function cpuWith(asm: Asm, engine: 'interp' | 'jit' | 'auto', promoteAfter?: number): Cpu {
  const cpu = new Cpu(resetMemory(asm.bytes()), undefined, { engine, promoteAfter });
  cpu.state.pc = CODE;
  return cpu;
}

describe('vcpu execution tiers', () => {
  it('the pre-decoded form gives back exactly the decoded records (all compressed parcels, 20000 random words)', () => {
    let seed = 12345;
    const rnd = () => { seed = (Math.imul(seed, 1103515245) + 12345) >>> 0; return seed; };
    const words: number[] = [];
    for (let h = 0; h < 0x10000; h++) if ((h & 3) !== 3) words.push(h);
    for (let i = 0; i < 20000; i++) words.push((rnd() ^ (rnd() << 16)) | 3);
    for (const w of words) {
      const i: Insn = (w & 3) === 3 ? decode(w & 0xffff, w >>> 16) : decode(w, 0);
      const pc = 0x12344;
      const back = toInsns(predecode([i], [pc], pc + i.len), pc);
      assert.deepEqual(back.insns[0], { ...i }, `word 0x${w.toString(16)}`);
      assert.deepEqual(back.pcs, [pc]);
    }
  });

  it("'interp' never compiles, 'jit' compiles at the first fetch, 'auto' compiles a hot loop once it has run promoteAfter times", () => {
    for (const [engine, compiled, tag] of [['interp', 0, 1], ['jit', 1, 2], ['auto', 1, 3]] as const) {
      const cpu = cpuWith(loop(tag), engine, 50);
      setReg(cpu, 1, 1000n);
      assert.equal(cpu.run(1_000_000), Stop.Syscall, engine);
      assert.equal(getReg(cpu, 2), 1000n, engine);
      assert.equal(cpu.instret, 3002, engine);
      assert.equal(cpu.compiled, compiled, engine);
    }
  });

  it('a loop promoted midway keeps exact counts and budgets in both tiers', () => {
    for (const after of [1, 2, 7, 100]) {
      const cpu = cpuWith(loop(10 + after), 'auto', after);
      setReg(cpu, 1, 20000n);
      let stops = 0;
      while (cpu.run(777) === Stop.Budget) stops++;
      assert.equal(getReg(cpu, 2), 20000n);
      assert.equal(cpu.instret, 60002);
      assert.equal(cpu.state.pc, CODE + 20);
      assert.ok(stops >= 3, `stops ${stops}`);
    }
  });

  it('tier 0 counts its instructions (engineStats.tier0Insns)', () => {
    const before = engineStats.tier0Insns;
    const cpu = cpuWith(loop(4), 'interp');
    setReg(cpu, 1, 10n);
    assert.equal(cpu.run(1000), Stop.Syscall);
    assert.equal(engineStats.tier0Insns - before, 32);
  });

  /**
   * A call loop of three tier-0 blocks that chain into each other: at 0,
   * jal to 16; at 4, x5 -= 1 and bne back to 0; at 16, x10 += tag, ret.
   */
  function callLoop(tag: number): Asm {
    return new Asm().w(rv.jal(1, 16), rv.addi(5, 5, -1), rv.bne(5, 0, -8), rv.ecall(), rv.addi(10, 10, tag), rv.jalr(0, 1, 0));
  }

  it('tier 0 chains blocks without the run loop and keeps exact counts, budgets and interrupts', () => {
    const cpu = cpuWith(callLoop(1), 'interp');
    setReg(cpu, 5, 3000n);
    let stops = 0, last = 0;
    for (;;) {
      const stop = cpu.run(101);
      if (stop !== Stop.Budget) { assert.equal(stop, Stop.Syscall); break; }
      stops++;
      // A budget stop overshoots by one block at most (2 instructions here).
      assert.ok(cpu.instret - last >= 101 && cpu.instret - last <= 102, `ran ${cpu.instret - last}`);
      last = cpu.instret;
    }
    assert.equal(getReg(cpu, 10), 3000n);
    assert.equal(cpu.instret, 5 * 3000 + 1);
    assert.ok(stops >= 140, `stops ${stops}`);
    // The interrupt flag stops a chain between two blocks.
    const interrupt = new Int32Array(new SharedArrayBuffer(4));
    const cpu2 = new Cpu(memory(), interrupt, { engine: 'interp' });
    cpu2.state.pc = CODE;
    setReg(cpu2, 5, 1000n);
    assert.equal(cpu2.run(30), Stop.Budget);   // links the blocks
    interrupt[0] = 1;
    assert.equal(cpu2.run(1_000_000), Stop.Interrupted);
    assert.ok(cpu2.instret < 40, `instret ${cpu2.instret}`);
  });

  it('a block cut at its length limit or at a page end runs on into the next with exact counts', () => {
    // 130 addi x5 (the first block holds 128: MAX_BLOCK), then ecall; and the same lying across a page end.
    for (const [engine, at] of [['interp', 0], ['interp', 4096 - 20], ['jit', 0], ['auto', 4096 - 20]] as const) {
      const asm = new Asm();
      for (let i = 0; i < at / 4; i++) asm.w(rv.addi(0, 0, 0));
      for (let i = 0; i < 130; i++) asm.w(rv.addi(5, 5, 1));
      asm.w(rv.ecall());
      const cpu = cpuWith(asm, engine, 2);
      cpu.state.pc = CODE + at;
      assert.equal(cpu.run(1_000_000), Stop.Syscall, `${engine} ${at}`);
      assert.equal(getReg(cpu, 5), 130n);
      assert.equal(cpu.instret, 131, `${engine} ${at}`);
      // Budget 3: the run stops after the first block (5 or 128 instructions), at the next block's start.
      const again = cpuWith(asm, engine, 2);
      again.state.pc = CODE + at;
      assert.equal(again.run(3), Stop.Budget);
      assert.equal(again.instret, at === 0 ? 128 : 5, `${engine} ${at}`);
      assert.equal(again.state.pc, CODE + at + 4 * again.instret);
      assert.equal(getReg(again, 5), BigInt(again.instret));
    }
  });

  it('a chained successor rewritten and invalidated runs its new code', () => {
    const cpu = cpuWith(callLoop(2), 'interp');
    setReg(cpu, 5, 10n);
    assert.equal(cpu.run(1000), Stop.Syscall);
    assert.equal(getReg(cpu, 10), 20n);
    memory().view.setUint32(CODE + 16, rv.addi(10, 10, 100), true);
    cpu.invalidateCode(CODE + 16, 4);
    cpu.state.pc = CODE;
    setReg(cpu, 5, 10n);
    assert.equal(cpu.run(1000), Stop.Syscall);
    assert.equal(getReg(cpu, 10), 1020n);
  });

  it('the warm-up tries every instruction the interpreter has a case for, and x0 writes (its NOP)', () => {
    const seen = new Set(['ecall', 'fence.i']);
    for (const w of warmUpWords()) {
      const i = decode(w & 0xffff, w >>> 16);
      const code = predecode([i], [0x1000], 0x1004);
      seen.add(OP_NAMES[code[0] & OP_MASK]);
      seen.add(i.op);
    }
    for (const m of MNEMONICS) assert.ok(seen.has(m), m);
    assert.ok(seen.has('nop'));
    assert.ok(!seen.has('illegal'));
  });

  // But tier0Modules: the module the warm-up built is the thread's, which its Cpus then run (interp-wasm.ts tier0Module), one in all.
  it("the warm-up, in a fresh thread, leaves the engine counters as they were and the thread's Cpus work", async () => {
    const dist = path.join(__dirname, '..', '..', 'src', 'vcpu');
    const src = `
      const { parentPort } = require('node:worker_threads');
      const { Cpu, Stop } = require(${JSON.stringify(path.join(dist, 'cpu.js'))});
      const { GuestMemory, PAGE_R, PAGE_X } = require(${JSON.stringify(path.join(dist, 'memory.js'))});
      const { engineStats } = require(${JSON.stringify(path.join(dist, 'engine-stats.js'))});
      const before = JSON.stringify(engineStats);
      const m = GuestMemory.create();
      m.view.setUint32(0x10000, 0x02a00513, true); // addi x10, x0, 42
      m.view.setUint32(0x10004, 0x00000073, true); // ecall
      m.pageFlags[0x10] = PAGE_R | PAGE_X;
      const cpu = new Cpu(m, undefined, { engine: 'interp' });
      cpu.state.pc = 0x10000;
      const stop = cpu.run(100);
      const modules = engineStats.tier0Modules;
      parentPort.postMessage({ before, after: JSON.stringify({ ...engineStats, tier0Insns: engineStats.tier0Insns - 2, tier0Modules: 0 }), stop, a0: cpu.state.x[20], instret: cpu.instret, modules, tier0: Cpu.defaultTier0 });`;
    const r = await new Promise<{ before: string; after: string; stop: number; a0: number; instret: number; modules: number; tier0: string }>((resolve, reject) => {
      const w = new Worker(src, { eval: true });
      w.once('message', (m) => { resolve(m); void w.terminate(); });
      w.once('error', reject);
    });
    assert.equal(r.after, r.before);
    assert.equal(r.modules, r.tier0 === 'wasm' ? 1 : 0);
    assert.equal(r.stop, Stop.Syscall);
    assert.equal(r.a0, 42);
    assert.equal(r.instret, 2);
  });

  it('code rewritten after a block was promoted runs the new code (the compiled block is dropped)', () => {
    const cpu = cpuWith(new Asm().w(rv.addi(10, 10, 1), rv.addi(11, 0, 77), rv.jalr(0, 1, 0)), 'auto', 3);
    memory().pageFlags[CODE >>> 12] |= 2; // writable code page
    const call = () => { setReg(cpu, 1, 0x100n); cpu.state.pc = CODE; return cpu.run(100); };
    for (let i = 0; i < 10; i++) assert.equal(call(), Stop.Fault); // jalr to 0x100 faults at fetch
    assert.equal(getReg(cpu, 10), 10n);
    assert.ok(cpu.compiled >= 1);
    memory().view.setUint32(CODE, rv.addi(10, 10, 5), true);
    cpu.invalidateCode(CODE, 4);
    call();
    assert.equal(getReg(cpu, 10), 15n);
  });
});
