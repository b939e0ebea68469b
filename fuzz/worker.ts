// The fuzzing loop's thread (started by cli.ts): runs one target's loop and
// keeps a copy of the current input in shared memory, so the supervisor can
// save it should this thread hang or die.

import { parentPort, workerData } from 'node:worker_threads';
import { fuzzLoop, loadCorpus, saveFinding } from './harness.js';
import { TARGETS } from './targets/index.js';

export interface WorkerJob {
  target: string;
  seed: number;
  start: number;
  count: number;
  timeLimitSec?: number;
  /** [0] index of the input running, [1] 1 while one runs, [2] its length (bytes kept). */
  state: SharedArrayBuffer;
  input: SharedArrayBuffer;
}

async function main(job: WorkerJob): Promise<void> {
  const state = new Int32Array(job.state);
  const keep = new Uint8Array(job.input);
  const target = TARGETS[job.target]();
  await target.setup?.();
  const corpus = loadCorpus(job.target).map((c) => c.input);
  const r = await fuzzLoop(target, {
    seed: job.seed,
    start: job.start,
    count: job.count,
    timeLimitSec: job.timeLimitSec,
    corpus,
    beforeInput(index, input) {
      const n = Math.min(input.length, keep.length);
      keep.set(input.subarray(0, n));
      Atomics.store(state, 2, n);
      Atomics.store(state, 0, index);
      Atomics.store(state, 1, 1);
    },
    onFinding(f) {
      const file = saveFinding(f, job.seed);
      parentPort!.postMessage({ kind: 'finding', index: f.index, signature: f.signature, file, message: f.message.slice(0, 2000) });
    },
    onProgress(done) {
      parentPort!.postMessage({ kind: 'progress', done });
    },
  });
  Atomics.store(state, 1, 0);
  await target.teardown?.();
  parentPort!.postMessage({ kind: 'done', inputs: r.inputs, seconds: r.seconds });
}

main(workerData as WorkerJob).catch((e) => {
  parentPort!.postMessage({ kind: 'fatal', message: (e as Error)?.stack ?? String(e) });
});
