// Every fuzz target of fuzz/ on each `npm test`: its corpus replayed (inputs
// that once found a bug, and inputs that reach deep), then a short run of
// fresh inputs from a fixed seed. Any finding fails the test with the
// target's own description of it. Corpus entries named "long-..." take
// minutes and are replayed by `npm run fuzz -- --target T --replay` only.

import assert from 'node:assert/strict';
import { TARGETS } from '../../fuzz/targets/index.js';
import { SyscallsTarget } from '../../fuzz/targets/syscalls.js';
import { fuzzLoop, loadCorpus, minimize, runOne, signatureOf, type Target } from '../../fuzz/harness.js';
import { Rng } from '../../fuzz/rng.js';
import { mutateBytes } from '../../fuzz/mutate.js';

/** Fresh inputs per in-process target (each well under a second of work), and the seconds they may take at most. */
const BUDGET = { count: 150, seconds: 2 };

describe('fuzz: the harness', () => {
  it('makes the same inputs from the same (seed, index) and different ones otherwise', () => {
    const a = Rng.forInput(5, 17);
    const b = Rng.forInput(5, 17);
    const xs = Array.from({ length: 8 }, () => a.u32());
    assert.deepEqual(Array.from({ length: 8 }, () => b.u32()), xs);
    assert.notDeepEqual(Array.from({ length: 8 }, () => Rng.forInput(5, 18).u32()), xs);
    const m1 = mutateBytes(Rng.forInput(1, 1), Uint8Array.from([1, 2, 3, 4, 5, 6, 7, 8]));
    const m2 = mutateBytes(Rng.forInput(1, 1), Uint8Array.from([1, 2, 3, 4, 5, 6, 7, 8]));
    assert.deepEqual(m2, m1);
  });

  it('turns a throw, a wrong answer and a hang into findings, and minimizes an input', async () => {
    const target: Target = {
      name: 'self-test',
      description: 'fails on inputs holding 0x42',
      timeoutMs: 50,
      minimize: true,
      generate: (rng) => rng.bytes(1 + rng.below(40)),
      async run(input) {
        if (input.includes(0x43)) throw new TypeError('boom');
        if (input.includes(0x44)) await new Promise(() => {});
        return input.includes(0x42) ? `found 0x42 in ${input.length} bytes` : undefined;
      },
    };
    assert.match((await runOne(target, Uint8Array.of(0x43))) ?? '', /^threw TypeError: boom/);
    assert.match((await runOne(target, Uint8Array.of(0x44))) ?? '', /^hang/);
    const big = Uint8Array.from([1, 2, 3, 0x42, 5, 6, 7, 8, 9]);
    const small = await minimize(target, big, signatureOf((await runOne(target, big))!));
    assert.deepEqual([...small], [0x42]);
    const r = await fuzzLoop(target, { seed: 3, count: 40 });
    assert.ok(r.findings.length > 0 && r.findings.every((f) => f.input.includes(0x42) || f.input.includes(0x43) || f.input.includes(0x44)));
  });
});

describe('fuzz: every target, corpus and a short random run', function () {
  this.timeout(60000);
  for (const name of Object.keys(TARGETS)) {
    describe(name, () => {
      // The sandbox target runs small programs here: three children of 60 calls.
      const target: Target = name === 'syscalls' ? new SyscallsTarget({ children: 3, calls: 60 }) : TARGETS[name]();
      before(async () => {
        await target.setup?.();
      });
      after(async () => {
        await target.teardown?.();
      });

      it('replays its corpus without a finding', async () => {
        const corpus = loadCorpus(name).filter((c) => !c.name.startsWith('long-'));
        assert.ok(corpus.length > 0, `fuzz/corpus/${name}/ holds entries`);
        const failures: string[] = [];
        for (const c of corpus) {
          const r = await runOne(target, c.input);
          if (r !== undefined) failures.push(`${c.name}: ${r}`);
        }
        assert.deepEqual(failures, []);
      });

      it(name === 'syscalls' ? 'runs one fresh random program without a finding' : `runs up to ${BUDGET.count} fresh inputs without a finding`, async () => {
        const corpus = loadCorpus(name).map((c) => c.input);
        const opts = name === 'syscalls' ? { seed: 20, count: 1, corpus } : { seed: 20, count: BUDGET.count, timeLimitSec: BUDGET.seconds, corpus };
        const r = await fuzzLoop(target, opts);
        assert.ok(r.inputs > 0);
        assert.deepEqual(r.findings.map((f) => `input ${f.index}: ${f.message.slice(0, 1500)}`), []);
      });
    });
  }
});
