// vCPU 0's budget while vCPU workers run threads (src/kernel/look-budget.ts):
// runs held to about the target time whatever the thread's speed.

import * as assert from 'node:assert/strict';
import { LookBudget } from '../../src/kernel/look-budget.js';

describe('LookBudget', () => {
  it('starts at its least, doubles after runs shorter than half the target up to its most, halves after runs over twice it', () => {
    const b = new LookBudget(20_000, 320_000, 0.1);
    assert.equal(b.next, 20_000);
    // A tier-2 loop: 20 000 instructions in ~8 µs.
    const seen: number[] = [];
    for (let i = 0; i < 6; i++) {
      b.ran(0.008);
      seen.push(b.next);
    }
    assert.deepEqual(seen, [40_000, 80_000, 160_000, 320_000, 320_000, 320_000]);
    // Runs near the target keep it.
    b.ran(0.1);
    b.ran(0.06);
    b.ran(0.19);
    assert.equal(b.next, 320_000);
    // The thread falls back to tier 0 (~100 MIPS): 320 000 instructions take 3 ms, then half as long each time.
    b.ran(3.2);
    assert.equal(b.next, 160_000);
    b.ran(1.6);
    b.ran(0.8);
    b.ran(0.4);
    assert.equal(b.next, 20_000);
    b.ran(0.2 + 1e-9);
    assert.equal(b.next, 20_000, 'never below its least');
  });
});
