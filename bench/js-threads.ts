// The machine's own ceiling for JavaScript threads, beside the 1-to-2 vCPU
// speed-up: the parallel fixture's inner loop (xor, 64-bit FNV multiply as
// the vCPU computes it, a load and a store per step) written directly in
// JavaScript over a shared WebAssembly.Memory, as the vCPUs' generated code
// runs. Two rounds on one thread, then one round on each of two worker
// threads at once; the figure is the first time over the second. No tsvisor
// code runs: when this comes out well under 2, the host (not the sandbox)
// is what holds two busy threads back.
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
      const store = ((hl >>> 17) | (hh << 15)) + r;
      if ((a & 3) === 0) i32[a >>> 2] = store;
      else dv.setInt32(a, store, true);
    }
  }
  return (hl ^ hh) >>> 0;
}

function inWorker(job: Job): Promise<number> {
  return new Promise((resolve, reject) => {
    const w = new Worker(__filename, { workerData: job });
    w.once('message', (sum: number) => resolve(sum));
    w.once('error', reject);
  });
}

async function main(rounds: number): Promise<void> {
  const memory = new WebAssembly.Memory({ initial: MEMORY_PAGES, maximum: MEMORY_PAGES, shared: true });
  const jobs = [1, 2].map((k) => ({ memory, base: k * 8 * 1024 * 1024, rounds }));
  // Warm the code first, as the vCPUs' blocks are warm past their first rounds.
  hashRounds({ ...jobs[0], rounds: Math.min(rounds, 200) });
  let t = performance.now();
  const sequential = jobs.map(hashRounds);
  const one = (performance.now() - t) / 1000;
  t = performance.now();
  const parallel = await Promise.all(jobs.map(inWorker));
  const two = (performance.now() - t) / 1000;
  if (sequential.join() !== parallel.join()) throw new Error(`checksums differ: ${sequential.join()} vs ${parallel.join()}`);
  console.log(JSON.stringify({ one, two }));
}

if (!isMainThread) {
  parentPort!.postMessage(hashRounds(workerData as Job));
} else if (require.main === module) {
  const rounds = Number(process.argv[2] ?? 150000);
  if (!Number.isInteger(rounds) || rounds < 1) {
    console.error('usage: node dist/bench/js-threads.js ROUNDS');
    process.exit(2);
  }
  void main(rounds).catch((e) => {
    console.error(`js-threads: ${(e as Error).message}`);
    process.exit(1);
  });
}
