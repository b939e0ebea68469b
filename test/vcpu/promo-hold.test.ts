// No promotion of a short-trip loop (cpu.ts runTier0, region.ts declined;
// README.md, "Decision: no promotion of a short-trip loop"): under tier 0 in
// WebAssembly, a block that loops inside itself but runs few trips each time
// it is entered reaches its promotion's heat and stays in tier 0, nothing
// compiled (its probe would have declined it and it would have been demoted),
// with the results of tier 0 alone; a loop of many trips an entry is still
// compiled and reaches tier 2 at its first promotion; and a short-trip loop
// inside another loop is left to the probe (its region can loop).

import { strict as assert } from 'node:assert';
import { Cpu, MAX_DEMOTIONS, Stop, type Engine } from '../../src/vcpu/cpu.js';
import { Asm, CODE, getReg, resetMemory, rv, setReg } from './asm.js';

/**
 * One block from CODE: x7 = trips, then a loop of three instructions (x8 += 1, x7 -= 1, bne back) run `trips`
 * times, x9 += 1, ecall: 6 + 3 * (trips - 1) instructions an entry... plus the loop's first pass, 3 + 3 * trips in all.
 * `tag` keeps its bytes apart from other tests' (Cpus of a thread share blocks by their bytes).
 */
const loop = (trips: number, tag: number): Asm => new Asm().w(
  rv.addi(7, 0, trips), rv.addi(8, 8, 1), rv.addi(7, 7, -1), rv.bne(7, 0, -8), rv.addi(9, 9, tag), rv.ecall());

/** `calls` entries into the block from the run loop (each ends at its ecall): the Cpu after them. */
function enter(asm: Asm, calls: number, engine: Engine, promoteAfter: number): Cpu {
  const cpu = new Cpu(resetMemory(asm.bytes()), undefined, { engine, promoteAfter, tier0: 'wasm' });
  for (let i = 0; i < calls; i++) {
    cpu.state.pc = CODE;
    assert.equal(cpu.run(1_000_000), Stop.Syscall);
  }
  return cpu;
}

describe('vcpu promotion: a short-trip loop stays in tier 0', () => {
  it('a loop of 3 trips an entry reaches its promotion\'s heat MAX_DEMOTIONS times and is never compiled; results as tier 0 alone', () => {
    // Heat an entry: 1 + 2 backward jumps * 5 = 11; the first promotion after 100 entries, then 4x, 16x further.
    const calls = 2_500, P = 1_100;
    const cpu = enter(loop(3, 1), calls, 'auto', P);
    assert.equal(cpu.compiled, 0, 'compiled');
    assert.equal(cpu.demoted, 0, 'demoted');
    assert.equal(cpu.held, MAX_DEMOTIONS, 'held at each promotion\'s heat');
    const ref = enter(loop(3, 1), calls, 'interp', P);
    assert.equal(cpu.instret, ref.instret);
    assert.equal(cpu.instret, calls * 12);
    assert.equal(getReg(cpu, 8), BigInt(calls * 3));
    assert.equal(getReg(cpu, 9), BigInt(calls));
  });

  it('a loop of 200 trips an entry is compiled at its first promotion and runs in tier 2', () => {
    const cpu = enter(loop(200, 2), 100, 'auto', 20_000);
    assert.equal(cpu.held, 0);
    assert.ok(cpu.compiled >= 1, `${cpu.compiled} compiled`);
    assert.ok(cpu.wasmCompiled >= 1, `${cpu.wasmCompiled} in tier 2`);
    assert.equal(getReg(cpu, 8), 100n * 200n);
    assert.equal(cpu.instret, 100 * (3 + 3 * 200));
  });

  it('a short-trip loop whose region holds an outer loop around it is left to the probe, and the region reaches tier 2', () => {
    // L (from CODE): the loop above, then a jump to O; O: x5 -= 1, back to L while x5 != 0, then x9 += 3, ecall.
    // L and O are blocks of their own, entered as often as each other, neither looping inside itself but L:
    // only the cycle L -> O -> L in L's region says that a call of the region loops.
    const asm = new Asm().w(
      rv.addi(7, 0, 3), rv.addi(8, 8, 1), rv.addi(7, 7, -1), rv.bne(7, 0, -8), rv.jal(0, 12), rv.ebreak(), rv.ebreak(),
      rv.addi(5, 5, -1), rv.bne(5, 0, -32), rv.addi(9, 9, 3), rv.ecall());
    const n = 200_000;
    const results: [Stop, number, bigint, bigint][] = [];
    let held = -1, inTier2 = 0;
    for (const engine of ['interp', 'auto'] as Engine[]) {
      const cpu = new Cpu(resetMemory(asm.bytes()), undefined, { engine, promoteAfter: 1_100, tier0: 'wasm' });
      cpu.state.pc = CODE;
      setReg(cpu, 5, BigInt(n));
      let stop: Stop;
      do stop = cpu.run(1_000_000); while (stop === Stop.Budget);
      results.push([stop, cpu.instret, getReg(cpu, 8), getReg(cpu, 9)]);
      held = cpu.held; inTier2 = cpu.wasmCompiled;
    }
    assert.deepEqual(results[0], [Stop.Syscall, n * 13 + 2, BigInt(n * 3), 3n]);
    assert.deepEqual(results[1], results[0]);
    assert.equal(held, 0);
    assert.ok(inTier2 >= 1, `${inTier2} in tier 2`);
  });
});
