// Warm code under tier 0 in WebAssembly (cpu.ts demote; README.md,
// "Decision: warm code stays in tier 0"): a promoted block whose probe finds
// its calls short goes back to tier 0, and is promoted again only after
// DEMOTE_FACTOR^k times the promotion's heat (none after MAX_DEMOTIONS),
// so that short compiled calls do not cut the module's chains; a loop whose
// first calls were short still reaches tier 2 at a later promotion; and the
// default threshold leaves a block run PROMOTE_AFTER_JS times in tier 0.

import { strict as assert } from 'node:assert';
import { Cpu, DEMOTE_FACTOR, MAX_DEMOTIONS, PROMOTE_AFTER, PROMOTE_AFTER_JS, Stop, WASM_PROBE_CALLS, type Engine } from '../../src/vcpu/cpu.js';
import { engineStats } from '../../src/vcpu/engine-stats.js';
import { Asm, CODE, getReg, resetMemory, rtype, rv, setReg } from './asm.js';

/** A block of three instructions ending in an ecall: x8 += 1; `tag` keeps its bytes apart from other tests' (shared blocks). */
const short = (tag: number): Asm => new Asm().w(rv.addi(8, 8, 1), rv.addi(0, 0, tag), rv.ecall());

/** Run the block from CODE once (one call from the run loop): whether it ran in tier 0 (engineStats counts tier-0 instructions always). */
function call(cpu: Cpu): boolean {
  cpu.state.pc = CODE;
  const before = engineStats.tier0Insns;
  assert.equal(cpu.run(1000), Stop.Syscall);
  return engineStats.tier0Insns - before === 3;
}

describe('vcpu warm code: demotion to tier 0 in WebAssembly', () => {
  it('a promoted block of short calls goes back to tier 0, promoted again after DEMOTE_FACTOR^k times the heat, never after MAX_DEMOTIONS', () => {
    const P = 2;
    const cpu = new Cpu(resetMemory(short(901).bytes()), undefined, { engine: 'auto', promoteAfter: P, tier0: 'wasm' });
    // Per demotion k: the calls run in tier 0 before the next compiled call.
    const inTier0: number[] = [0];
    let calls = 0;
    const total = 2_000;
    for (; calls < total; calls++) {
      const t0 = call(cpu);
      if (t0) inTier0[cpu.demoted]++;
      else if (inTier0.length <= cpu.demoted) inTier0.push(0);
      while (inTier0.length <= cpu.demoted) inTier0.push(0);
    }
    assert.equal(getReg(cpu, 8), BigInt(total));
    assert.equal(cpu.demoted, MAX_DEMOTIONS);
    assert.equal(cpu.wasmCompiled, 0);
    // Before the first promotion: P runs; after demotion k: until the heat climbs back from P - P * F^k to P.
    assert.equal(inTier0[0], P);
    for (let k = 1; k < MAX_DEMOTIONS; k++) {
      const want = P * DEMOTE_FACTOR ** k;
      assert.ok(Math.abs(inTier0[k] - want) <= 1, `after demotion ${k}: ${inTier0[k]} calls in tier 0, want ${want}`);
    }
    // After the last every call runs in tier 0: all but those before it and the probes of each promotion.
    const probes = (MAX_DEMOTIONS) * WASM_PROBE_CALLS;
    assert.ok(inTier0[MAX_DEMOTIONS] >= total - probes - inTier0.slice(0, MAX_DEMOTIONS).reduce((a, b) => a + b, 0) - MAX_DEMOTIONS,
      `after the last demotion: ${inTier0[MAX_DEMOTIONS]} of ${total} calls in tier 0`);
    // The last stretch is all tier 0.
    for (let i = 0; i < 100; i++) assert.ok(call(cpu));
    // Another Cpu finding the same bytes (a forked child, the next exec) starts the block in tier 0 too, not from a shared tier-1 factory.
    const next = new Cpu(resetMemory(short(901).bytes()), undefined, { engine: 'auto', promoteAfter: P, tier0: 'wasm' });
    assert.ok(call(next), 'the next Cpu runs the demoted block in tier 0');
  });

  it('a loop whose first calls are short reaches tier 2 at a later promotion, with the results of tier 0 alone', () => {
    // A: x6 += 1, x10 += x6, x7 = x10 / 32 + 1, ecall. B (entered from the run loop after each system call): an inner
    // loop of x7 passes, x5 -= 1, back to A; then a jump to an ebreak (a block of its own: the module leaves before an ebreak,
    // and only blocks it runs whole go back to tier 0). B's calls grow with the square of the calls made: at its first promotion
    // (a heat of 50) its probe finds them short, and it reaches tier 2 at a later one.
    // `tag` in both blocks: Cpus of this thread share blocks by their bytes, and a block arriving compiled is never probed.
    const asm = (tag: number): Asm => new Asm().w(
      rv.addi(6, 6, 1), rtype('add', 10, 10, 6), rv.srli(7, 10, 5), rv.addi(7, 7, 1), rv.addi(0, 0, tag), rv.ecall(),
      rv.addi(0, 0, tag), rv.addi(7, 7, -1), rv.addi(8, 8, 3), rv.bne(7, 0, -8), rv.addi(5, 5, -1), rv.bne(5, 0, -44), rv.jal(0, 4), rv.ebreak(),
    );
    const outer = 300;
    const results: [Stop, number, bigint, bigint][] = [];
    let demoted = 0, compiled = 0;
    for (const engine of ['interp', 'auto'] as Engine[]) {
      const cpu = new Cpu(resetMemory(asm(910 + results.length).bytes()), undefined, { engine, promoteAfter: 50, tier0: 'wasm' });
      cpu.state.pc = CODE;
      setReg(cpu, 5, BigInt(outer));
      let stop: Stop;
      do stop = cpu.run(1_000_000); while (stop === Stop.Budget || stop === Stop.Syscall);
      results.push([stop, cpu.instret, getReg(cpu, 6), getReg(cpu, 8)]);
      demoted = cpu.demoted; compiled = cpu.wasmCompiled;
    }
    assert.ok(demoted >= 1, `auto: ${demoted} demotions`);
    assert.ok(compiled >= 1, `auto: ${compiled} regions in tier 2`);
    assert.equal(results[0][0], Stop.Fault);
    assert.equal(results[0][2], BigInt(outer));
    assert.deepEqual(results[1], results[0]);
  });

  it('the default threshold leaves a block run PROMOTE_AFTER_JS times in tier 0 and compiles it at PROMOTE_AFTER', function () {
    this.timeout(60_000);
    const cpu = new Cpu(resetMemory(short(920).bytes()), undefined, { engine: 'auto', tier0: 'wasm' });
    for (let i = 0; i < PROMOTE_AFTER_JS; i++) call(cpu);
    assert.equal(cpu.compiled, 0, 'compiled before PROMOTE_AFTER');
    let n = PROMOTE_AFTER_JS;
    while (call(cpu)) n++;
    assert.equal(n, PROMOTE_AFTER);
    assert.equal(cpu.compiled, 1);
    assert.equal(getReg(cpu, 8), BigInt(n + 1));
  });
});
