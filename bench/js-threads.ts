// The machine's own ceiling for JavaScript threads, beside the 1-to-2 vCPU
// speed-up: the parallel fixture's inner loop (xor, 64-bit FNV multiply as
// the vCPU computes it, a load and a store per step) written directly in
// JavaScript over a shared WebAssembly.Memory, as the vCPUs' generated code
// runs. No tsvisor code runs: when this comes out well under 2, the host
// (not the sandbox) is what holds two busy threads back.
//
// It is timed as the fixture is under `parallel 2 ROUNDS time warm`
// (bench/groups/scaling.ts): on two threads, two workers are started and each runs
// ROUNDS/4 rounds of its own job at once (the warm-up: the threads' start and
// V8's compiles of the loop), and only then is the timed pass started by a
// word in shared memory; the time is from that word to the last job's end.
// On one thread, one worker warms up and then runs both jobs one after the
// other (as one vCPU runs both guest threads).
//
//   node dist/bench/js-threads.js ROUNDS     prints {"one": s, "two": s}

import { Worker, isMainThread, parentPort, workerData } from 'node:worker_threads';
import { performance } from 'node:perf_hooks';

/** 64 MiB of 64 KiB pages: each thread hashes its own 4 KiB, 8 MiB apart (as thread stacks are). */
const MEMORY_PAGES = 1024;

interface Job {
  memory: WebAssembly.Memory;
  base: number;
  rounds: number;
}

/** What a control worker is told: its jobs for the timed pass, the warm-up's rounds, and the start word. */
interface WorkerOrder {
  jobs: Job[];
  warmRounds: number;
  /** Int32Array over a SharedArrayBuffer: [0] the go word (0 wait, 1 go). */
  go: Int32Array;
}

/** The fixture's per-thread work: ROUNDS passes of an FNV-style hash over 1024 words; returns a checksum. */
function hashRounds(job: Job): number {
  const dv = new DataView(job.memory.buffer);
  const i32 = new Int32Array(job.memory.buffer);
  let hl = 0x84222325 | 0, hh = 0xcbf29ce4 | 0;
  for (let i = 0; i < 1024; i++) dv.setInt32(job.base + 4 * i, Math.imul(i + 1, 0x9e3779b1), true);
  for (let r = 0; r < job.rounds; r++) {
    for (let i = 0; i < 1024; i++) {
      const a = job.base + 4 * i;
      const v = (a & 3) === 0 ? i32[a >>> 2] : dv.getInt32(a, true);
      const xl = hl ^ v;
      // (hh:xl) * 0x100000001b3, low 64 bits, on 32-bit halves.
      const lo = Math.imul(xl, 0x1b3);
      const q = xl & 0xffff, w = xl >>> 16;
      const carry = (((q * 0x1b3) >>> 16) + w * 0x1b3) / 65536;
      hh = (Math.floor(carry) + Math.imul(hh, 0x1b3) + xl) | 0;
      hl = lo;
      // | 0: the int32 the store keeps anyway; without it V8's optimized loop deoptimized on an add that overflowed (a hash value near 2^31), in the timed pass, and ran baseline code until a recompile landed.
      const store = (((hl >>> 17) | (hh << 15)) + r) | 0;
      if ((a & 3) === 0) i32[a >>> 2] = store;
      else dv.setInt32(a, store, true);
    }
  }
  return (hl ^ hh) >>> 0;
}

/**
 * Calls the warm-up is cut into per job: V8 then compiles hashRounds whole,
 * having seen its return, not only the loop on stack replacement (one call:
 * the timed call started in baseline code and the optimized one was thrown
 * away at the return, "insufficient type feedback").
 */
const WARM_CALLS = 4;

/** A worker's life: warm up on each of its jobs, say so, wait for the go word, run its jobs, post their checksums, stay until terminated. */
function workerMain(order: WorkerOrder): void {
  const rounds = Math.max(1, Math.round(order.warmRounds / WARM_CALLS));
  for (let i = 0; i < WARM_CALLS; i++) for (const job of order.jobs) hashRounds({ ...job, rounds });
  parentPort!.postMessage('warm');
  while (Atomics.load(order.go, 0) === 0) Atomics.wait(order.go, 0, 0);
  parentPort!.postMessage(order.jobs.map(hashRounds));
  // Stay until terminated: a worker that ended here could have its 'exit' seen before its message.
  setInterval(() => undefined, 1 << 30);
}

/** The pass on `threads` threads (1 or 2): seconds from the go word to the last job's end, and the two checksums. */
export async function controlPass(rounds: number, threads: 1 | 2): Promise<{ seconds: number; sums: number[] }> {
  const memory = new WebAssembly.Memory({ initial: MEMORY_PAGES, maximum: MEMORY_PAGES, shared: true });
  const jobs = [1, 2].map((k) => ({ memory, base: k * 8 * 1024 * 1024, rounds }));
  const go = new Int32Array(new SharedArrayBuffer(4));
  const warmRounds = Math.max(1, Math.floor(rounds / 4));
  // The warm-up as the fixture's: every job runs its warm-up rounds, on the threads that will time it.
  const orders: WorkerOrder[] = threads === 2 ? jobs.map((j) => ({ jobs: [j], warmRounds, go })) : [{ jobs, warmRounds, go }];
  const workers = orders.map((workerData) => new Worker(__filename, { workerData }));
  try {
    const failed = new Promise<never>((_, reject) => {
      for (const w of workers) {
        w.once('error', reject);
        w.once('exit', (code) => reject(new Error(`control worker exited (${code}) early`)));
      }
    });
    failed.catch(() => undefined);
    const next = (w: Worker): Promise<unknown> => Promise.race([new Promise((resolve) => w.once('message', resolve)), failed]);
    await Promise.all(workers.map(next));
    const done = workers.map(next);
    const t = performance.now();
    Atomics.store(go, 0, 1);
    Atomics.notify(go, 0);
    const results = (await Promise.all(done)) as number[][];
    const seconds = (performance.now() - t) / 1000;
    return { seconds, sums: results.flat() };
  } finally {
    await Promise.all(workers.map((w) => w.terminate()));
  }
}

/** Both passes, one thread then two; throws when their checksums differ. */
export async function controlPair(rounds: number): Promise<{ one: number; two: number }> {
  const a = await controlPass(rounds, 1);
  const b = await controlPass(rounds, 2);
  checkSums(a.sums, b.sums);
  return { one: a.seconds, two: b.seconds };
}

/** The 1-thread and 2-thread passes must compute the same two checksums. */
export function checkSums(one: readonly number[], two: readonly number[]): void {
  if (one.join() !== two.join()) throw new Error(`js-threads: checksums differ: ${one.join()} vs ${two.join()}`);
}

if (!isMainThread && (workerData as WorkerOrder | undefined)?.go instanceof Int32Array) {
  workerMain(workerData as WorkerOrder);
} else if (isMainThread && require.main === module) {
  const rounds = Number(process.argv[2] ?? 150000);
  if (!Number.isInteger(rounds) || rounds < 1) {
    console.error('usage: node dist/bench/js-threads.js ROUNDS');
    process.exit(2);
  }
  controlPair(rounds).then((r) => console.log(JSON.stringify(r)), (e) => {
    console.error(`js-threads: ${(e as Error).message}`);
    process.exit(1);
  });
}
