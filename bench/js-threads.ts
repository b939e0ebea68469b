// The machine's own ceiling for two busy threads of Node, beside the 1-to-2
// vCPU speed-up: the parallel fixture's inner loop (xor, 64-bit FNV multiply,
// a load and a store per step) written directly in WebAssembly over a shared
// WebAssembly.Memory, as the vCPUs' tier 2 compiles it, and run on Node's
// worker threads. No tsvisor code runs: when this comes out well under 2, the
// host (not the sandbox) is what holds two busy threads back.
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
import { Body, I32, I64, moduleBytes, W } from '../src/vcpu/wasm-encode.js';

/** 64 MiB of 64 KiB pages: each thread hashes its own 4 KiB, 8 MiB apart (as thread stacks are). */
const MEMORY_PAGES = 1024;

/** What a control worker is told: the memory, its jobs (their buffers' addresses) and their rounds for the timed pass, the warm-up's rounds, and the start word. */
interface WorkerOrder {
  memory: WebAssembly.Memory;
  bases: number[];
  rounds: number;
  warmRounds: number;
  /** Int32Array over a SharedArrayBuffer: [0] the go word (0 wait, 1 go). */
  go: Int32Array;
}

/**
 * The fixture's per-thread work as one WebAssembly function over the shared
 * memory, "run(base, rounds)": the buffer's 1024 words set from their index,
 * then `rounds` passes of h = (h ^ word) * 0x100000001b3 (64-bit FNV), each
 * word replaced by the low half of (h >> 17) + round; returns the low half
 * of h ^ (h >> 32). A WebAssembly loop, as the vCPUs' tier 2 runs the
 * fixture's: the same loop written in JavaScript ran at speeds that depended
 * on the values V8 saw while warming up (0.5 to 1.3 s a job, its optimized
 * code thrown away and made again: bench/README.md), a ceiling that moved
 * from pass to pass; WebAssembly has no such speculation to lose.
 */
function hashModule(): WebAssembly.Module {
  const BASE = 0, ROUNDS = 1, H = 2, R = 3, I = 4, A = 5;
  const b = new Body();
  b.i64(0xcbf29ce4).i64(32).op(W.i64Shl).i64(0x84222325).op(W.i64Or).set(H); // the FNV offset basis 0xcbf29ce484222325
  b.i32(0).set(I);
  b.op(W.loop, 0x40);
  b.get(BASE).get(I).i32(2).op(W.i32Shl, W.i32Add).get(I).i32(1).op(W.i32Add).i32(0x9e3779b1 | 0).op(W.i32Mul).mem(W.i32Store);
  b.get(I).i32(1).op(W.i32Add).tee(I).i32(1024).op(W.i32LtU, W.brIf, 0, W.end);
  b.i32(0).set(R);
  b.op(W.block, 0x40).get(ROUNDS).op(W.i32Eqz, W.brIf, 0);
  b.op(W.loop, 0x40);
  b.i32(0).set(I);
  b.op(W.loop, 0x40);
  b.get(BASE).get(I).i32(2).op(W.i32Shl, W.i32Add).tee(A);
  b.get(H).get(A).mem(W.i64Load32U).op(W.i64Xor).i64(0x100000001b3).op(W.i64Mul).tee(H);
  b.i64(17).op(W.i64ShrU).get(R).op(W.i64ExtendI32U, W.i64Add).mem(W.i64Store32);
  b.get(I).i32(1).op(W.i32Add).tee(I).i32(1024).op(W.i32LtU, W.brIf, 0, W.end);
  b.get(R).i32(1).op(W.i32Add).tee(R).get(ROUNDS).op(W.i32LtU, W.brIf, 0, W.end);
  b.op(W.end);
  b.get(H).get(H).i64(32).op(W.i64ShrU, W.i64Xor, W.i32WrapI64);
  return new WebAssembly.Module(moduleBytes({ memoryPages: MEMORY_PAGES, imports: [], type: { params: [I32, I32], results: [I32] }, locals: [I64, I32, I32, I32], body: b, name: 'hashRounds' }));
}

/**
 * Calls the warm-up is cut into per job: a call that started in V8's
 * baseline code for WebAssembly (Liftoff) finishes there, so the optimized
 * code made meanwhile runs from the next call on; the timed call is the
 * fifth or later.
 */
const WARM_CALLS = 4;

/** A worker's life: warm up on each of its jobs, say so, wait for the go word, run its jobs, post their checksums, stay until terminated. */
function workerMain(order: WorkerOrder): void {
  const run = new WebAssembly.Instance(hashModule(), { m: { m: order.memory } }).exports.run as (base: number, rounds: number) => number;
  const rounds = Math.max(1, Math.round(order.warmRounds / WARM_CALLS));
  for (let i = 0; i < WARM_CALLS; i++) for (const base of order.bases) run(base, rounds);
  parentPort!.postMessage('warm');
  while (Atomics.load(order.go, 0) === 0) Atomics.wait(order.go, 0, 0);
  parentPort!.postMessage(order.bases.map((base) => run(base, order.rounds) >>> 0));
  // Stay until terminated: a worker that ended here could have its 'exit' seen before its message.
  setInterval(() => undefined, 1 << 30);
}

/** The pass on `threads` threads (1 or 2): seconds from the go word to the last job's end, and the two checksums. */
export async function controlPass(rounds: number, threads: 1 | 2): Promise<{ seconds: number; sums: number[] }> {
  const memory = new WebAssembly.Memory({ initial: MEMORY_PAGES, maximum: MEMORY_PAGES, shared: true });
  const bases = [1, 2].map((k) => k * 8 * 1024 * 1024);
  const go = new Int32Array(new SharedArrayBuffer(4));
  const warmRounds = Math.max(1, Math.floor(rounds / 4));
  // The warm-up as the fixture's: every job runs its warm-up rounds, on the threads that will time it.
  const orders: WorkerOrder[] = threads === 2 ? bases.map((base) => ({ memory, bases: [base], rounds, warmRounds, go })) : [{ memory, bases, rounds, warmRounds, go }];
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
  const rounds = Number(process.argv[2] ?? 600000);
  if (!Number.isInteger(rounds) || rounds < 1) {
    console.error('usage: node dist/bench/js-threads.js ROUNDS');
    process.exit(2);
  }
  controlPair(rounds).then((r) => console.log(JSON.stringify(r)), (e) => {
    console.error(`js-threads: ${(e as Error).message}`);
    process.exit(1);
  });
}
