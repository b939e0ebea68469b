// The scaling rows' pieces (bench/groups/scaling.ts), without timing
// anything: the parallel fixture's warm pass gives the same answer as a
// plain run, the control's passes (the loop in WebAssembly on worker threads) agree and leave no
// thread behind, the host-load probe's contract, and a sample retaken while
// the host is busy.

import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { runInSandbox } from '../../bench/sandbox.js';
import { controlPass, checkSums } from '../../bench/js-threads.js';
import { withHostLoad, type Loaded } from '../../bench/host-load.js';
import { medianPass, quietSample, QUIET_CORES, SAMPLE_TRIES } from '../../bench/groups/scaling.js';
import { guestTime } from '../../bench/program.js';
import { makeBundle, removeBundle } from '../util/bundle.js';

describe('bench: the parallel fixture warm', function () {
  this.timeout(120_000);
  let bundle = '';
  before(() => {
    bundle = makeBundle({ args: ['/bin/hello'] });
  });
  after(() => removeBundle(bundle));

  it('runs an untimed pass of the same threads first, times the second, and prints what a plain run prints', async () => {
    const rootfs = path.join(bundle, 'rootfs');
    const plain = await runInSandbox({ args: ['/bin/parallel', '2', '400'], rootfs, cpuNum: 2 });
    const warm = await runInSandbox({ args: ['/bin/parallel', '2', '400', 'time', 'warm'], rootfs, cpuNum: 2 });
    assert.equal(plain.status, 0, plain.stderr);
    assert.equal(warm.status, 0, warm.stderr);
    assert.match(plain.stdout, /^thread 0: [0-9a-f]{16}\nthread 1: [0-9a-f]{16}\nsum: [0-9a-f]{16}\n$/);
    assert.equal(warm.stdout, plain.stdout);
    assert.equal(plain.stderr, '');
    // The warm-up's own line first (a quarter of the rounds), then the timed pass's.
    assert.match(warm.stderr, /^time parallel-warmup [0-9.]+ 2 100\ntime parallel [0-9.]+ 2 400\n$/);
    assert.equal(guestTime(warm.stderr, 'parallel').ops, 2);
    // The timed pass ran 4 times the rounds, on warm code and threads.
    assert.ok(guestTime(warm.stderr, 'parallel').seconds > 0);
  });
});

describe('bench: the control (the loop in WebAssembly on worker threads)', function () {
  this.timeout(60_000);

  it('computes the fixture\'s hash: 64-bit FNV steps over its own buffer, as a BigInt reference computes them', async () => {
    const rounds = 300;
    /** The control's job at `base`, computed on 64-bit integers: the buffer's words and the hash. */
    const reference = (): number => {
      const buf = Array.from({ length: 1024 }, (_, i) => Math.imul(i + 1, 0x9e3779b1) >>> 0);
      const mask = (1n << 64n) - 1n;
      let h = 0xcbf29ce484222325n;
      for (let r = 0; r < rounds; r++) {
        for (let i = 0; i < 1024; i++) {
          h = ((h ^ BigInt(buf[i])) * 0x100000001b3n) & mask;
          buf[i] = (Number((h >> 17n) & 0xffffffffn) + r) >>> 0;
        }
      }
      return Number((h ^ (h >> 32n)) & 0xffffffffn);
    };
    const want = reference();
    const one = await controlPass(rounds, 1);
    // Both jobs start from the same words, so their checksums are the same.
    assert.deepEqual(one.sums, [want, want]);
  });

  it('computes the same checksums on one thread and on two, times only the pass after the warm-up, and ends its workers', async () => {
    // A first pass makes whatever the process starts lazily once (libuv's pool, V8's helpers) before the count.
    await controlPass(100, 2);
    const threadsBefore = fs.readdirSync('/proc/self/task').length;
    const one = await controlPass(400, 1);
    const two = await controlPass(400, 2);
    assert.equal(one.sums.length, 2);
    assert.deepEqual(two.sums, one.sums);
    assert.ok(one.seconds > 0 && two.seconds > 0);
    checkSums(one.sums, two.sums);
    assert.throws(() => checkSums([1, 2], [1, 3]), /checksums differ/);
    // Worker threads are gone once a pass returns (terminated, not left spinning); V8 may keep a helper thread or two.
    const threadsAfter = fs.readdirSync('/proc/self/task').length;
    assert.ok(threadsAfter <= threadsBefore + 1, `${threadsBefore} threads before, ${threadsAfter} after`);
  });
});

describe('bench: samples and the host load', () => {
  it('measures a call: its result, its wall time, and the other processes\' load as a number of cores', async () => {
    const r = await withHostLoad(async () => {
      await new Promise((resolve) => setTimeout(resolve, 50));
      return 'done';
    });
    assert.equal(r.result, 'done');
    assert.ok(r.wall >= 0.045, `wall ${r.wall}`);
    assert.ok(Number.isFinite(r.foreign) && r.foreign >= 0, `foreign ${r.foreign}`);
  });

  /** A fake probe giving these loads in turn. */
  function loads(...foreign: number[]): { calls: number; measure: typeof withHostLoad } {
    const o = {
      calls: 0,
      measure: async <T>(fn: () => Promise<T>): Promise<Loaded<T>> => {
        const result = await fn();
        return { result, wall: 1, foreign: foreign[o.calls++] };
      },
    };
    return o;
  }

  it('keeps a sample taken on a quiet host at once', async () => {
    const l = loads(QUIET_CORES / 2, 0);
    let n = 0;
    const s = await quietSample(async () => ++n, l.measure);
    assert.deepEqual(s, { seconds: 1, foreign: QUIET_CORES / 2, tries: 1 });
    assert.equal(l.calls, 1);
  });

  it('takes a sample again while the host is busy, stops at the first quiet try, and keeps the quietest after the last try', async () => {
    let n = 0;
    const quietSecond = loads(1.2, 0.01, 0);
    assert.deepEqual(await quietSample(async () => ++n, quietSecond.measure), { seconds: 2, foreign: 0.01, tries: 2 });
    n = 0;
    const neverQuiet = loads(0.9, 0.3, 1.5, 0);
    assert.deepEqual(await quietSample(async () => ++n, neverQuiet.measure), { seconds: 2, foreign: 0.3, tries: SAMPLE_TRIES });
    assert.equal(neverQuiet.calls, SAMPLE_TRIES);
  });

  it('takes one try where the load cannot be read (no /proc/stat)', async () => {
    let n = 0;
    const unknown = loads(NaN, 0);
    const s = await quietSample(async () => ++n, unknown.measure);
    assert.equal(s.tries, 1);
    assert.equal(s.seconds, 1);
  });
});

describe('bench: the share row\'s passes', () => {
  it('takes the median pass of a run, whatever the order, with its note and the passes\' range', () => {
    const passes = [1.08, 0.72, 0.97, 0.93, 1.01].map((value) => ({ value, note: `pass ${value}` }));
    const f = medianPass(passes);
    assert.equal(f.value, 0.97);
    assert.equal(f.note, 'median of 5 passes (0.720-1.080); its pass: pass 0.97');
    // One slow pass (a host phase) moves a mean, not the median.
    assert.equal(medianPass([...passes.slice(1), { value: 0.2, note: '' }]).value, 0.93);
  });
});
