// Tier 2's wide regions (region.ts, cpu.ts tier2Region) and its register
// slots (wasm-bind.ts regSlot): a loop spread over more blocks than a
// tier-1 trace holds runs as one WebAssembly function under 'auto', with
// results and counts equal to every other engine's, and a thread that
// finds no free slot keeps to tier 1; and a block whose first calls are
// short moves to tier 2 at a later look (region.ts onWatch, under the
// JavaScript tier 0; demote.test.ts has tier 0 in WebAssembly's), and a wide
// region whose calls are too short for a lone block is kept at its probe.

import { strict as assert } from 'node:assert';
import { Cpu, LOOP_CHUNK, Stop, WASM_MIN_RUN, WASM_PROBE_CALLS, type Engine } from '../../src/vcpu/cpu.js';
import { LOOK_CALLS, REGION_MIN_RUN } from '../../src/vcpu/region.js';
import { GuestMemory, PAGE_R, PAGE_W, PAGE_X, PAGE_SIZE } from '../../src/vcpu/memory.js';
import { regSlot } from '../../src/vcpu/wasm-bind.js';
import { Asm, CODE, getReg, resetMemory, rv, setReg } from './asm.js';

/** Where the loop's third block (B3) holds the instruction the test rewrites at the system call. */
const REWRITE = CODE + 36;
const SYS_NEXT = CODE + 100;

/**
 * A loop of seven blocks, each ending in a jump to the next, so that no
 * trace of TRACE_BLOCKS (4) blocks holds the whole cycle: B5 counts x5 down
 * and jumps back alternately to B0's start and to its second instruction
 * (a block overlapping B0, which the region must cut), stops at an ecall
 * (SYS) when x5 reaches x13 and at another (END) at 0. `tag` is in every
 * block (as a no-op, addi x0), so that Cpus of this thread, which share
 * blocks by their bytes, do not share them between cases.
 */
function cycle(tag: number): Asm {
  return new Asm().w(
    rv.addi(0, 0, tag),          // +0
    rv.jal(0, 4),                // +4 -> B0
    rv.addi(0, 0, tag),          // +8: B0
    rv.addi(11, 11, 7),          // +12: also entered from B5 (a block overlapping B0)
    rv.jal(0, 4),                // +16 -> B1
    rv.addi(0, 0, tag),          // +20: B1
    rv.jal(0, 4),                // +24 -> B2
    rv.addi(0, 0, tag),          // +28: B2
    rv.jal(0, 4),                // +32 -> B3
    rv.addi(9, 9, 4),            // +36: B3 (REWRITE)
    rv.addi(0, 0, tag),          // +40
    rv.jal(0, 4),                // +44 -> B4
    rv.addi(0, 0, tag),          // +48: B4
    rv.jal(0, 4),                // +52 -> B5
    rv.addi(5, 5, -1),           // +56: B5
    rv.addi(0, 0, tag),          // +60
    rv.beq(5, 0, 44),            // +64 -> END
    rv.beq(5, 13, 24),           // +68 -> SYS
    rv.andi(12, 5, 1),           // +72
    rv.beq(12, 0, 8),            // +76 -> +84
    rv.jal(0, 12 - 80),          // +80 -> +12
    rv.addi(0, 0, tag),          // +84: B6
    rv.jal(0, 8 - 88),           // +88 -> B0
    rv.addi(0, 0, tag),          // +92: SYS
    rv.ecall(),                  // +96
    rv.addi(0, 0, tag),          // +100
    rv.jal(0, 8 - 104),          // +104 -> B0
    rv.addi(0, 0, tag),          // +108: END
    rv.ecall(),                  // +112
  );
}

interface Outcome { instret: number; regs: bigint[]; pc: number; most: number }

/**
 * Run the loop (x5 passes, SYS at x13) under `engine` with `budget`; at
 * SYS rewrite B3's addi to add 400 and invalidate it. `most`: the most
 * instructions one run() retired.
 */
function runCycle(tag: number, engine: Engine, budget: number, wasm = true): Outcome {
  const m = resetMemory(cycle(tag).bytes());
  const cpu = new Cpu(m, undefined, { engine, promoteAfter: engine === 'auto' ? 2 : undefined, wasm });
  cpu.state.pc = CODE;
  setReg(cpu, 5, 100_000n);
  setReg(cpu, 13, 40_000n);
  let most = 0;
  for (;;) {
    const before = cpu.instret;
    const stop = cpu.run(budget);
    most = Math.max(most, cpu.instret - before);
    assert.ok(cpu.instret - before <= budget + LOOP_CHUNK + 16, `ran ${cpu.instret - before} on a budget of ${budget}`);
    if (stop === Stop.Budget) continue;
    assert.equal(stop, Stop.Syscall);
    if (cpu.state.pc !== SYS_NEXT) break;
    m.view.setUint32(REWRITE, rv.addi(9, 9, 400), true);
    cpu.invalidateCode(REWRITE, 4);
  }
  const regs: bigint[] = [];
  for (let r = 1; r < 32; r++) regs.push(getReg(cpu, r));
  return { instret: cpu.instret, regs, pc: cpu.state.pc, most };
}

describe('vcpu tier 2 wide regions and register slots', () => {
  it('a loop over more blocks than a trace holds runs in one tier-2 function, with the results and counts of every engine', function () {
    this.timeout(60_000);
    let tag = 900;
    for (const budget of [1, 5, 1000, 1_000_000]) {
      const ref = runCycle(tag++, 'interp', budget);
      // 60 000 passes of 17 or 18 instructions at 4 each, then 40 000 at 400 each in x9.
      assert.equal(ref.regs[8], 60_000n * 4n + 40_000n * 400n);
      assert.equal(ref.pc, CODE + 116);
      const cases: [Engine, boolean][] = [['jit', true], ['wasm', true], ['auto', false], ['auto', true]];
      for (const [engine, wasm] of cases) {
        const o = runCycle(tag++, engine, budget, wasm);
        assert.deepEqual({ ...o, most: 0 }, { ...ref, most: 0 }, `${engine}${wasm ? '' : ' (tier 1 only)'}, budget ${budget}`);
        if (budget === 1) {
          // Only the wide region loops inside one function: a run of budget 1 then retires up to LOOP_CHUNK.
          if (engine === 'auto' && wasm) assert.ok(o.most >= 1000, `auto with tier 2 retired at most ${o.most} in one run`);
          else assert.ok(o.most < 100, `${engine}${wasm ? '' : ' (tier 1 only)'} retired ${o.most} in one run`);
        }
      }
    }
  });

  it('each thread claims one register slot per memory; with none free a Cpu keeps to tier 1 and runs on', () => {
    const fresh = GuestMemory.create();
    const i32 = new Int32Array(fresh.buffer);
    const slot = regSlot(fresh.memory, i32);
    assert.ok(slot >= 256 && slot % 256 === 0 && slot < PAGE_SIZE, `slot at ${slot}`);
    assert.equal(regSlot(fresh.memory, i32), slot, 'the same slot again for the same thread');
    assert.notEqual(Atomics.load(i32, 0) & (1 << (slot / 256 - 1)), 0, 'claimed in the claim word');

    // Every slot taken (by other threads): tier 2 is off for this memory, the code still runs right.
    const full = GuestMemory.create();
    Atomics.store(new Int32Array(full.buffer), 0, 0x7fff);
    const code = cycle(990).bytes();
    full.u8.set(code, CODE);
    full.pageFlags[CODE / PAGE_SIZE] = PAGE_R | PAGE_X;
    full.pageFlags[0x40000 / PAGE_SIZE] = PAGE_R | PAGE_W;
    const cpu = new Cpu(full, undefined, { engine: 'wasm' });
    cpu.state.pc = CODE;
    setReg(cpu, 5, 1000n);
    setReg(cpu, 13, 2000n);
    let stop: Stop;
    do stop = cpu.run(1_000_000); while (stop === Stop.Budget);
    assert.equal(stop, Stop.Syscall);
    assert.equal(cpu.state.pc, CODE + 116);
    assert.equal(getReg(cpu, 9), 4000n);
    assert.equal(cpu.wasmCompiled, 0);
    assert.equal(regSlot(full.memory, new Int32Array(full.buffer)), -1);
  });

  it("a loop whose first calls are short reaches tier 2 at a later look, with every engine's results", () => {
    // A: x6 += 1, x7 = x6, ecall. B (entered from the run loop after each system call): an inner loop
    // of x7 passes, x5 -= 1, back to A; ebreak at the end. B's calls grow by 3 instructions each, so
    // its probe (the first WASM_PROBE_CALLS calls) averages under WASM_MIN_RUN and the first look
    // (LOOK_CALLS[0] calls later) far over it.
    const asm = (tag: number): Asm => new Asm().w(
      rv.addi(6, 6, 1),            // +0: A
      rv.addi(7, 6, 0),            // +4
      rv.addi(0, 0, tag),          // +8
      rv.ecall(),                  // +12
      rv.addi(7, 7, -1),           // +16: B, inner loop
      rv.addi(8, 8, 3),            // +20
      rv.bne(7, 0, -8),            // +24 -> +16
      rv.addi(5, 5, -1),           // +28
      rv.bne(5, 0, -32),           // +32 -> A
      rv.ebreak(),                 // +36
    );
    const outer = LOOK_CALLS[0] + WASM_PROBE_CALLS + 64;
    const runTo = (cpu: Cpu, stopAt: number): Stop => {
      let stop: Stop;
      do stop = cpu.run(1_000_000); while (stop === Stop.Budget || (stop === Stop.Syscall && getReg(cpu, 5) > BigInt(outer - stopAt)));
      return stop;
    };
    const results: [Stop, number, bigint, bigint, bigint][] = [];
    for (const [engine, wasm] of [['interp', true], ['auto', false], ['auto', true]] as [Engine, boolean][]) {
      // The JavaScript tier 0: under tier 0 in WebAssembly a block its probe finds short goes back to tier 0 instead of being
      // watched in tier 1 (cpu.ts demote), and its later promotion is the later look (demote.test.ts).
      const cpu = new Cpu(resetMemory(asm(880 + results.length).bytes()), undefined, { engine, promoteAfter: 2, wasm, tier0: 'js' });
      cpu.state.pc = CODE;
      setReg(cpu, 5, BigInt(outer));
      assert.equal(runTo(cpu, LOOK_CALLS[0] / 2), Stop.Syscall);
      assert.equal(cpu.wasmCompiled, 0, `${engine}: nothing in tier 2 before the first look`);
      const stop = runTo(cpu, outer + 1);
      assert.equal(cpu.wasmCompiled > 0, engine === 'auto' && wasm, `${engine} (wasm ${wasm}): ${cpu.wasmCompiled} compiled`);
      results.push([stop, cpu.instret, getReg(cpu, 6), getReg(cpu, 7), getReg(cpu, 8)]);
    }
    assert.equal(results[0][0], Stop.Fault);
    assert.equal(results[0][2], BigInt(outer));
    assert.deepEqual(results[1], results[0]);
    assert.deepEqual(results[2], results[0]);
  });

  it('a wide region whose calls average between REGION_MIN_RUN and WASM_MIN_RUN is kept at its probe', () => {
    // Seven blocks of 16 instructions chained by jal, then an ecall; every call starts at the first
    // from the run loop. Its tier-1 trace holds four blocks (64 instructions a call: under
    // WASM_MIN_RUN, not a loop); its wide region holds all seven (113 a call, over REGION_MIN_RUN).
    // `first`: what the first run of budget 1 of the last call retired (a block, a trace or the region).
    const run = (wasm: boolean): { first: number; x8: bigint; instret: number } => {
      const words: number[] = [];
      for (let k = 0; k < 7; k++) {
        for (let i = 0; i < 15; i++) words.push(rv.addi(8, 8, 1));
        words.push(rv.jal(0, 4));
      }
      words.push(rv.ecall());
      const cpu = new Cpu(resetMemory(new Asm().w(...words).bytes()), undefined, { engine: 'auto', promoteAfter: 2, wasm });
      let first = 0;
      for (let call = 0; call < 4 * WASM_PROBE_CALLS; call++) {
        cpu.state.pc = CODE;
        const before = cpu.instret;
        let stop = cpu.run(1);
        first = cpu.instret - before;
        while (stop === Stop.Budget) stop = cpu.run(1);
        assert.equal(stop, Stop.Syscall);
      }
      return { first, x8: getReg(cpu, 8), instret: cpu.instret };
    };
    assert.ok(REGION_MIN_RUN <= 100 && WASM_MIN_RUN > 113, `bars ${REGION_MIN_RUN}, ${WASM_MIN_RUN}`);
    const t1 = run(false), t2 = run(true);
    assert.equal(t1.x8, BigInt(4 * WASM_PROBE_CALLS * 105));
    assert.deepEqual({ ...t2, first: 0 }, { ...t1, first: 0 });
    assert.ok(t1.first < 100, `tier 1 retired ${t1.first} in its first run of a call`);
    assert.equal(t2.first, 113, 'the wide region runs the whole call');
  });

  it("a loop whose first call runs long leaves its probe after that call (region.ts onTrial's early verdict)", () => {
    // One block: an inner loop of 4 instructions (one a tag: Cpus of this thread share blocks by their
    // bytes) run 100 000 times, then ebreak. Each call of its tier-1 function returns after LOOP_CHUNK
    // instructions, so WASM_PROBE_CALLS calls would be more than the whole loop; the probe settles
    // once its calls retired WASM_MIN_RUN * WASM_PROBE_CALLS instructions.
    assert.ok(LOOP_CHUNK >= WASM_MIN_RUN * WASM_PROBE_CALLS && LOOP_CHUNK * WASM_PROBE_CALLS > 400_000, `chunk ${LOOP_CHUNK}`);
    const results: [Stop, number, bigint, number][] = [];
    for (const [engine, wasm] of [['interp', true], ['auto', false], ['auto', true]] as [Engine, boolean][]) {
      const cpu = new Cpu(resetMemory(new Asm().w(
        rv.addi(7, 7, -1),           // +0
        rv.addi(8, 8, 3),            // +4
        rv.addi(0, 0, 870 + results.length), // +8
        rv.bne(7, 0, -12),           // +12 -> +0
        rv.ebreak(),                 // +16
      ).bytes()), undefined, { engine, promoteAfter: 2, wasm });
      cpu.state.pc = CODE;
      setReg(cpu, 7, 100_000n);
      let stop: Stop, runs = 0;
      do { stop = cpu.run(1_000_000_000); runs++; } while (stop === Stop.Budget);
      results.push([stop, cpu.instret, getReg(cpu, 8), cpu.state.pc]);
      assert.equal(cpu.wasmCompiled > 0, engine === 'auto' && wasm, `${engine} (wasm ${wasm}): ${cpu.wasmCompiled} compiled after ${runs} runs`);
    }
    assert.deepEqual(results[0], [Stop.Fault, 400_000, 300_000n, CODE + 16]);
    assert.deepEqual(results[1], results[0]);
    assert.deepEqual(results[2], results[0]);
  });
});
