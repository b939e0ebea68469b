// The fuzzing loop shared by every target, in-process: inputs made from
// (seed, index), each run under a time bound, failures turned into findings
// (written under fuzz/findings/, minimized when the target is cheap), and the
// corpus replayed. cli.ts runs this loop in a worker thread so that a hang in
// synchronous code or a crash of the whole thread is caught as well.

import * as fs from 'node:fs';
import * as path from 'node:path';
import * as crypto from 'node:crypto';
import { Rng } from './rng.js';

/** One input surface of tsvisor. */
export interface Target {
  readonly name: string;
  /** What the target feeds and what it requires. */
  readonly description: string;
  /** Longest one input may take before it counts as a hang (ms). */
  readonly timeoutMs: number;
  /** Whether a failing input is cheap enough to rerun a few hundred times to shrink it. */
  readonly minimize: boolean;
  /** Prepares what every input shares (a temporary directory, fixtures read once). */
  setup?(): Promise<void>;
  /** Releases it. */
  teardown?(): Promise<void>;
  /** A new input: random, or a mutation of a corpus entry. Deterministic in `rng`. */
  generate(rng: Rng, corpus: readonly Uint8Array[]): Uint8Array;
  /**
   * Runs one input. Resolves with undefined when tsvisor behaved, or the
   * description of what went wrong (first line: the kind of failure). A
   * throw is a finding as well.
   */
  run(input: Uint8Array): Promise<string | undefined>;
}

export interface Finding {
  target: string;
  index: number;
  /** The failure's first line with numbers masked: findings with one signature are one bug. */
  signature: string;
  message: string;
  input: Uint8Array;
}

export interface LoopOptions {
  seed: number;
  /** Inputs to run (from `start`). */
  count: number;
  start?: number;
  /** Stop after this many seconds even if `count` is not reached. */
  timeLimitSec?: number;
  corpus?: readonly Uint8Array[];
  /** Called before each input runs (the supervisor keeps a copy of it). */
  beforeInput?(index: number, input: Uint8Array): void;
  onFinding?(f: Finding): void;
  /** Called now and then with the inputs done so far. */
  onProgress?(done: number): void;
}

export interface LoopResult {
  inputs: number;
  findings: Finding[];
  seconds: number;
}

/** The first line of a failure with its numbers masked, so one bug gives one signature. */
export function signatureOf(message: string): string {
  const first = message.split('\n', 1)[0];
  return first.replace(/0x[0-9a-f]+/gi, 'N').replace(/\d+/g, 'N').slice(0, 200);
}

function describeThrow(e: unknown): string {
  if (e instanceof Error) return `threw ${e.name}: ${e.message}\n${e.stack ?? ''}`;
  return `threw ${String(e)}`;
}

/** Runs one input under the target's time bound: undefined, or the failure. */
export async function runOne(target: Target, input: Uint8Array): Promise<string | undefined> {
  let timer: NodeJS.Timeout | undefined;
  const hang = new Promise<string>((resolve) => {
    timer = setTimeout(() => resolve(`hang: no answer within ${target.timeoutMs} ms`), target.timeoutMs);
  });
  try {
    return await Promise.race([target.run(input).catch(describeThrow), hang]);
  } catch (e) {
    return describeThrow(e);
  } finally {
    clearTimeout(timer);
  }
}

/**
 * Shrinks a failing input while it fails with the same signature: removes
 * ever smaller chunks, within `maxRuns` reruns.
 */
export async function minimize(target: Target, input: Uint8Array, signature: string, maxRuns = 300): Promise<Uint8Array> {
  let best = input;
  let runs = 0;
  for (let chunk = Math.max(1, best.length >> 1); chunk >= 1 && runs < maxRuns; chunk >>= 1) {
    for (let at = 0; at < best.length && runs < maxRuns; ) {
      const candidate = new Uint8Array(best.length - Math.min(chunk, best.length - at));
      candidate.set(best.subarray(0, at));
      candidate.set(best.subarray(at + chunk), at);
      runs++;
      const r = await runOne(target, candidate);
      if (r !== undefined && signatureOf(r) === signature) best = candidate;
      else at += chunk;
    }
  }
  return best;
}

/** The fuzzing loop. Failures thrown outside any await of run() (an uncaught exception) count against the current input. */
export async function fuzzLoop(target: Target, opts: LoopOptions): Promise<LoopResult> {
  const t0 = Date.now();
  const corpus = opts.corpus ?? [];
  const findings: Finding[] = [];
  const start = opts.start ?? 0;
  let stray: string | undefined;
  const onStray = (e: unknown) => {
    stray ??= `uncaught outside the handler: ${describeThrow(e)}`;
  };
  process.on('uncaughtException', onStray);
  process.on('unhandledRejection', onStray);
  let done = 0;
  try {
    for (let i = start; i < start + opts.count; i++) {
      if (opts.timeLimitSec !== undefined && Date.now() - t0 > opts.timeLimitSec * 1000) break;
      const input = target.generate(Rng.forInput(opts.seed, i), corpus);
      opts.beforeInput?.(i, input);
      let failure = await runOne(target, input);
      if (failure === undefined && stray !== undefined) failure = stray;
      stray = undefined;
      done++;
      if (failure !== undefined) {
        const signature = signatureOf(failure);
        // A hang costs the whole time bound per rerun: kept as it came.
        const small = target.minimize && !signature.startsWith('hang') ? await minimize(target, input, signature) : input;
        stray = undefined;
        const f: Finding = { target: target.name, index: i, signature, message: failure, input: small };
        findings.push(f);
        opts.onFinding?.(f);
      }
      if (done % 100 === 0) opts.onProgress?.(done);
    }
  } finally {
    process.off('uncaughtException', onStray);
    process.off('unhandledRejection', onStray);
  }
  return { inputs: done, findings, seconds: (Date.now() - t0) / 1000 };
}

/** The repository's fuzz/ folder (this file is compiled to dist/fuzz/). */
export function fuzzDir(): string {
  const compiled = path.resolve(__dirname);
  const repo = path.basename(path.dirname(compiled)) === 'dist' ? path.dirname(path.dirname(compiled)) : path.dirname(compiled);
  return path.join(repo, 'fuzz');
}

/** The corpus of a target: every file of fuzz/corpus/TARGET/, sorted by name. */
export function loadCorpus(target: string): { name: string; input: Uint8Array }[] {
  const dir = path.join(fuzzDir(), 'corpus', target);
  if (!fs.existsSync(dir)) return [];
  return fs
    .readdirSync(dir)
    .filter((n) => !n.startsWith('.') && n !== 'README.md')
    .sort()
    .map((name) => ({ name, input: new Uint8Array(fs.readFileSync(path.join(dir, name))) }));
}

/**
 * Writes a finding to fuzz/findings/TARGET/: the input (.bin) and what went
 * wrong (.txt). At most `perSignature` files per signature; returns the path
 * written, or undefined when that signature already has enough.
 */
export function saveFinding(f: Finding, seed: number, perSignature = 3): string | undefined {
  const dir = path.join(fuzzDir(), 'findings', f.target);
  fs.mkdirSync(dir, { recursive: true });
  const sig = crypto.createHash('sha1').update(f.signature).digest('hex').slice(0, 10);
  const have = fs.readdirSync(dir).filter((n) => n.startsWith(sig) && n.endsWith('.bin')).length;
  if (have >= perSignature) return undefined;
  const base = path.join(dir, `${sig}-seed${seed}-i${f.index}`);
  fs.writeFileSync(`${base}.bin`, f.input);
  fs.writeFileSync(`${base}.txt`, `target ${f.target}, seed ${seed}, input ${f.index}\n${f.message}\n`);
  return `${base}.bin`;
}
