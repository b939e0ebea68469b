// `npm run fuzz -- --target T --count N [--seed S] [--time-limit SEC]`:
// runs one target (or `all`, one after the other) and prints what it found.
// `--replay` runs the target's corpus (fuzz/corpus/TARGET/) instead, in this
// thread, and names each entry that fails.
//
// The loop runs in a worker thread (worker.ts). This thread watches it: an
// input that runs past the target's bound plus a margin (a synchronous loop,
// a stuck promise) or a thread that dies is a finding too; the input is saved
// from shared memory and the loop goes on after it in a new thread. Exit
// status: 0 with no finding, 1 with findings, 2 for a usage error.

import * as fs from 'node:fs';
import * as path from 'node:path';
import { Worker } from 'node:worker_threads';
import { fuzzDir, loadCorpus, runOne } from './harness.js';
import { TARGETS } from './targets/index.js';
import type { WorkerJob } from './worker.js';

const USAGE = `usage: npm run fuzz -- --target ${Object.keys(TARGETS).join('|')}|all (--count N [--seed S] [--time-limit SEC] | --replay)`;
const INPUT_KEEP = 32 << 20;

interface Args {
  target: string;
  count: number;
  seed: number;
  timeLimitSec?: number;
  replay: boolean;
}

function parseArgs(argv: string[]): Args | string {
  const a: Partial<Args> = { seed: 1, replay: false };
  for (let i = 0; i < argv.length; i++) {
    if (argv[i] === '--replay') {
      a.replay = true;
      continue;
    }
    const [flag, inline] = argv[i].split('=', 2);
    const value = inline ?? argv[++i];
    if (value === undefined) return `${flag} needs a value`;
    const num = Number(value);
    switch (flag) {
      case '--target':
        a.target = value;
        break;
      case '--count':
        if (!Number.isInteger(num) || num < 0) return `--count: not a count: ${value}`;
        a.count = num;
        break;
      case '--seed':
        if (!Number.isInteger(num)) return `--seed: not an integer: ${value}`;
        a.seed = num >>> 0;
        break;
      case '--time-limit':
        if (!(num > 0)) return `--time-limit: not a positive number of seconds: ${value}`;
        a.timeLimitSec = num;
        break;
      default:
        return `unknown flag ${flag}`;
    }
  }
  if (!a.target || (a.target !== 'all' && !TARGETS[a.target])) return `--target: one of ${Object.keys(TARGETS).join(', ')}, all`;
  if (a.count === undefined) a.count = a.timeLimitSec !== undefined ? Number.MAX_SAFE_INTEGER : 1000;
  return a as Args;
}

interface Summary {
  inputs: number;
  findings: number;
  seconds: number;
}

/** One target's run: restarts the worker past each input that hung or killed it. */
async function runTarget(name: string, args: Args): Promise<Summary> {
  const timeoutMs = TARGETS[name]().timeoutMs;
  const t0 = Date.now();
  let start = 0;
  let inputs = 0;
  let findings = 0;
  const left = () => (args.timeLimitSec === undefined ? undefined : args.timeLimitSec - (Date.now() - t0) / 1000);
  while (start < args.count && (left() ?? 1) > 0) {
    const job: WorkerJob = {
      target: name,
      seed: args.seed,
      start,
      count: args.count - start,
      timeLimitSec: left(),
      state: new SharedArrayBuffer(12),
      input: new SharedArrayBuffer(INPUT_KEEP),
    };
    const state = new Int32Array(job.state);
    const outcome = await new Promise<{ done: boolean; inputs: number; failure?: string }>((resolve) => {
      const w = new Worker(path.join(__dirname, 'worker.js'), { workerData: job, resourceLimits: { maxOldGenerationSizeMb: 4096 } });
      let lastIndex = -1;
      let since = Date.now();
      let settled = false;
      const end = (r: { done: boolean; inputs: number; failure?: string }) => {
        if (settled) return;
        settled = true;
        clearInterval(watch);
        resolve(r);
      };
      const watch = setInterval(() => {
        const idx = Atomics.load(state, 0);
        if (idx !== lastIndex || Atomics.load(state, 1) === 0) {
          lastIndex = idx;
          since = Date.now();
        } else if (Date.now() - since > timeoutMs * 2 + 5000) {
          void w.terminate();
          end({ done: false, inputs: idx - start, failure: `hang: input ${idx} ran over ${Math.round((Date.now() - since) / 1000)} s (the loop did not come back)` });
        }
      }, 250);
      let doneInputs = 0;
      let lastReport = Date.now();
      w.on('message', (m: { kind: string; [k: string]: unknown }) => {
        if (m.kind === 'progress') {
          doneInputs = m.done as number;
          if (Date.now() - lastReport > 60000) {
            lastReport = Date.now();
            console.log(`[${name}] ${inputs + doneInputs} inputs, ${Math.round((Date.now() - t0) / 1000)} s, ${findings} finding(s)`);
          }
        }
        else if (m.kind === 'finding') {
          findings++;
          console.log(`[${name}] FINDING at input ${m.index}: ${m.signature}${m.file ? ` -> ${path.relative(process.cwd(), m.file as string)}` : ' (signature already saved)'}`);
          console.log(`  ${(m.message as string).split('\n').slice(0, 6).join('\n  ')}`);
        } else if (m.kind === 'done') end({ done: true, inputs: m.inputs as number });
        else if (m.kind === 'fatal') end({ done: true, inputs: doneInputs, failure: `the target could not run: ${m.message}` });
      });
      w.on('error', (e) => end({ done: false, inputs: Atomics.load(state, 0) - start, failure: `crash: the fuzzing thread died: ${e.stack ?? e.message}` }));
      w.on('exit', (code) => end({ done: false, inputs: Atomics.load(state, 0) - start, failure: `crash: the fuzzing thread exited with ${code}` }));
    });
    if (outcome.failure !== undefined) {
      if (outcome.failure.startsWith('the target could not run')) {
        console.log(`[${name}] ${outcome.failure}`);
        return { inputs, findings: findings + 1, seconds: (Date.now() - t0) / 1000 };
      }
      findings++;
      const index = Atomics.load(state, 0);
      const len = Atomics.load(state, 2);
      const dir = path.join(fuzzDir(), 'findings', name);
      fs.mkdirSync(dir, { recursive: true });
      const base = path.join(dir, `thread-seed${args.seed}-i${index}`);
      fs.writeFileSync(`${base}.bin`, new Uint8Array(job.input, 0, len));
      fs.writeFileSync(`${base}.txt`, `target ${name}, seed ${args.seed}, input ${index}\n${outcome.failure}\n`);
      console.log(`[${name}] FINDING at input ${index}: ${outcome.failure.split('\n')[0]} -> ${path.relative(process.cwd(), base)}.bin`);
      inputs += index - start + 1;
      start = index + 1;
      continue;
    }
    inputs += outcome.inputs;
    break;
  }
  return { inputs, findings, seconds: (Date.now() - t0) / 1000 };
}

/** Runs a target's corpus; returns how many entries failed. */
async function replay(name: string): Promise<number> {
  const target = TARGETS[name]();
  await target.setup?.();
  let failed = 0;
  try {
    for (const entry of loadCorpus(name)) {
      const r = await runOne(target, entry.input);
      if (r !== undefined) failed++;
      console.log(`[${name}] ${entry.name}: ${r === undefined ? 'ok' : `FAILED: ${r.split('\n').slice(0, 4).join('\n  ')}`}`);
    }
  } finally {
    await target.teardown?.();
  }
  return failed;
}

async function main(): Promise<number> {
  const args = parseArgs(process.argv.slice(2));
  if (typeof args === 'string') {
    console.error(`fuzz: ${args}\n${USAGE}`);
    return 2;
  }
  const names = args.target === 'all' ? Object.keys(TARGETS) : [args.target];
  let total = 0;
  if (args.replay) {
    for (const name of names) total += await replay(name);
    return total === 0 ? 0 : 1;
  }
  for (const name of names) {
    console.log(`[${name}] seed ${args.seed}, ${args.count === Number.MAX_SAFE_INTEGER ? 'no count limit' : `${args.count} inputs`}${args.timeLimitSec ? `, at most ${args.timeLimitSec} s` : ''}`);
    const s = await runTarget(name, args);
    console.log(`[${name}] ${s.inputs} inputs in ${s.seconds.toFixed(1)} s (${(s.inputs / Math.max(s.seconds, 0.001)).toFixed(0)}/s), ${s.findings} finding(s)`);
    total += s.findings;
  }
  return total === 0 ? 0 : 1;
}

main().then(
  (code) => process.exit(code),
  (e) => {
    console.error(`fuzz: ${(e as Error)?.stack ?? String(e)}`);
    process.exit(3);
  },
);
