// A kept tier-2 region entered at its cases (region-entry.ts; README.md,
// "Decision: a region entered at its cases"): a tier-0 block that starts at
// one of the region's cases other than its start (here the head of an inner
// loop, inside the outer block the region was compiled from) becomes a way
// into the same instance there, with tier 0's results and counts; one whose
// calls are short goes back to tier 0 after its trial, still exact.

import { strict as assert } from 'node:assert';
import { Cpu, Stop, WASM_PROBE_CALLS } from '../../src/vcpu/cpu.js';
import { engineStats } from '../../src/vcpu/engine-stats.js';
import { ENTRY_MIN_RUN } from '../../src/vcpu/region-entry.js';
import { Asm, CODE, getReg, resetMemory, rtype, rv, setReg } from './asm.js';

/**
 * One block from CODE (S): x6 = x10; L (CODE + 4): x7 += 1, x6 -= 1, back to L while x6 != 0; x5 -= 1, back
 * to S while x5 != 0; x9 += tag; ecall. Entered at L with x5 = 1, a call runs 3 * x6 + 4 instructions.
 * `tag` keeps its bytes apart from other tests' (Cpus of a thread share blocks by their bytes).
 */
const L = CODE + 4;
const nest = (tag: number): Asm => new Asm().w(
  rv.addi(6, 10, 0), rv.addi(7, 7, 1), rv.addi(6, 6, -1), rv.bne(6, 0, -8), rv.addi(5, 5, -1), rv.bne(5, 0, -20),
  rv.addi(9, 9, tag), rv.ecall());

/** Run the Cpu from `pc` with x5 = `outer`, x6 = x10 = `inner`, to the ecall; the tier-0 instructions it took. */
function runFrom(cpu: Cpu, pc: number, outer: number, inner: number): number {
  const t0 = engineStats.tier0Insns;
  cpu.state.pc = pc;
  setReg(cpu, 5, BigInt(outer));
  setReg(cpu, 6, BigInt(inner));
  setReg(cpu, 10, BigInt(inner));
  assert.equal(cpu.run(100_000_000), Stop.Syscall);
  return engineStats.tier0Insns - t0;
}

/** The tier-0 block at `pc` (null: none, or compiled). */
const tier0At = (cpu: Cpu, pc: number): boolean => (cpu as unknown as { table: { byPc: Map<number, { code: unknown }> } }).table.byPc.get(pc)?.code != null;

/**
 * Enter at L once (tier 0 builds its block), then run the nest from S, one trip of the inner loop an outer
 * one (so that no call of S's function leaves at L), until its region is kept: the Cpu, L's entry not yet tried.
 */
function warm(tag: number, tier0: 'wasm' | 'js'): Cpu {
  const cpu = new Cpu(resetMemory(nest(tag).bytes()), undefined, { engine: 'auto', promoteAfter: 100_000, tier0 });
  runFrom(cpu, L, 1, 1);
  assert.ok(tier0At(cpu, L), 'L is a tier-0 block of its own');
  runFrom(cpu, CODE, OUTER, 1);
  assert.ok(cpu.wasmCompiled >= 1, 'the nest reached tier 2');
  return cpu;
}
/** Outer trips of the warm-up (heat 5 each: the promotion after 20 000). */
const OUTER = 40_000;
/** Instructions and x7 after the warm-up. */
const WARM_INSNS = 7 + OUTER * 6 + 2, WARM_X7 = 1 + OUTER;

describe('vcpu tier 2: a region entered at its cases', () => {
  for (const [tier0, tag] of [['wasm', 1], ['js', 3]] as const) {
    it(`a tier-0 block at an inner loop's head enters the kept region there, with tier 0's results (tier 0 in ${tier0})`, () => {
      const inner = 200, calls = 3 * WASM_PROBE_CALLS;
      assert.ok(3 * inner + 4 >= ENTRY_MIN_RUN, 'a call is long enough to keep the entry');
      const cpu = warm(tag, tier0);
      assert.ok(!tier0At(cpu, L), 'L is compiled: the region\'s entry');
      let t0 = 0;
      for (let i = 0; i < calls; i++) t0 += runFrom(cpu, L, 1, inner);
      // Without the entry every call ran in tier 0 (L's heat stays under the promotion's: 5 a trip, 100 000).
      assert.equal(t0, 0, 'tier-0 instructions after the region was kept');
      assert.ok(!tier0At(cpu, L), 'the entry was kept after its trial');
      assert.equal(getReg(cpu, 7), BigInt(WARM_X7 + inner * calls));
      assert.equal(getReg(cpu, 9), BigInt(tag * (2 + calls)));
      assert.equal(cpu.instret, WARM_INSNS + (3 * inner + 4) * calls);
    });
  }

  it('an entry whose calls are short goes back to tier 0 after its trial, and the results stay exact', () => {
    const cpu = warm(2, 'wasm');
    assert.ok(!tier0At(cpu, L));
    const inner = 4, calls = 2 * WASM_PROBE_CALLS;
    assert.ok(3 * inner + 4 < ENTRY_MIN_RUN);
    let t0 = 0;
    for (let i = 0; i < calls; i++) t0 += runFrom(cpu, L, 1, inner);
    assert.ok(tier0At(cpu, L), 'L is back in tier 0');
    assert.equal(t0, (calls - WASM_PROBE_CALLS) * (3 * inner + 4), 'the calls after the trial ran in tier 0');
    assert.equal(getReg(cpu, 7), BigInt(WARM_X7 + inner * calls));
    assert.equal(getReg(cpu, 9), BigInt(2 * (2 + calls)));
    assert.equal(cpu.instret, WARM_INSNS + (3 * inner + 4) * calls);
  });
});

/**
 * A switch in a loop (from CODE): x11 = x5 & 3, a jr to CASES + 8 * x11, each case adds 1 to its own register
 * (x7, x8, x9, x14) and jumps to the latch: x5 -= 1, back to the top while x5 != 0, ecall. x13 holds CASES.
 * No block loops inside itself; the jr's four targets take turns.
 */
const CASES = CODE + 16;
const switchLoop = (tag: number): Asm => new Asm().w(
  rv.andi(11, 5, 3), rv.slli(11, 11, 3), rtype('add', 12, 13, 11), rv.jalr(0, 12, 0),
  rv.addi(7, 7, 1), rv.jal(0, 28), rv.addi(8, 8, 1), rv.jal(0, 20), rv.addi(9, 9, 1), rv.jal(0, 12), rv.addi(14, 14, 1), rv.jal(0, 4),
  rv.addi(5, 5, -1), rv.bne(5, 0, -52), rv.addi(15, 15, tag), rv.ecall());

describe('vcpu tier 2: a switch\'s targets in the region', () => {
  it('all four targets of a jr in a loop are cases of its region: the loop runs in tier 2, with tier 0\'s results', () => {
    const run = (engine: 'auto' | 'interp', n: number): [Cpu, number] => {
      const cpu = new Cpu(resetMemory(switchLoop(5).bytes()), undefined, { engine, promoteAfter: 2_000, tier0: 'wasm' });
      const t0 = engineStats.tier0Insns;
      cpu.state.pc = CODE;
      setReg(cpu, 5, BigInt(n));
      setReg(cpu, 13, BigInt(CASES));
      assert.equal(cpu.run(100_000_000), Stop.Syscall);
      return [cpu, engineStats.tier0Insns - t0];
    };
    const n = 400_000;
    const [cpu, t0] = run('auto', n);
    // Without the targets in the region three calls in four left it for tier 0, and the region was declined.
    assert.ok(t0 < n, `${t0} tier-0 instructions of ${cpu.instret}`);
    const [ref] = run('interp', n);
    for (const r of [5, 7, 8, 9, 14, 15]) assert.equal(getReg(cpu, r), getReg(ref, r), `x${r}`);
    assert.equal(getReg(cpu, 7), BigInt(n / 4));
    assert.equal(cpu.instret, ref.instret);
    assert.equal(cpu.instret, n * 8 + 2);
  });
});
