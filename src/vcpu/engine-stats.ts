// Counters of the execution tiers, per JavaScript thread (a vCPU worker, the
// kernel's worker), behind TSVISOR_ENGINE_STATS=1.
//
// Contract: `engineStats` is always there and always counts tier-0
// instructions (one addition per tier-0 run); the other counters and the
// timings are kept only while `statsEnabled` (the environment variable is
// read once, at load, and again at the start of a process made from a
// snapshot: bundle/process-start.ts). With it, each thread that ran guest
// code writes one line to stderr when it ends (reportEngineStats):
// `tsvisor-engine {json}` with the fields below plus `thread`.

import { writeSync } from 'node:fs';
import { isMainThread, threadId } from 'node:worker_threads';
import { atProcessStart } from '../bundle/process-start.js';

export interface EngineStats {
  /** Blocks decoded into tier 0. */
  tier0Blocks: number;
  /** Blocks compiled at their first fetch (engine 'jit'). */
  tier1Blocks: number;
  /** Tier-0 blocks compiled because they got hot. */
  promoted: number;
  /** Promoted blocks compiled as traces (with the hot blocks they lead to), and the blocks in them, the first counted. */
  traces: number;
  traceBlocks: number;
  /** Blocks and traces compiled to WebAssembly (tier 2; wasm-tier.ts), and those tier 2 could not compile (an unsupported instruction: they stay in tier 1). */
  tier2Blocks: number;
  tier2Refused: number;
  /** Promoted blocks kept in tier 1 after their probe (their calls were too short for tier 2: cpu.ts probe). */
  tier2Declined: number;
  /** Promoted blocks sent back to tier 0 after their probe and region trial (cpu.ts demote; counted among tier2Declined too). */
  demoted: number;
  /** Tier-0 blocks kept there at their promotion's heat, nothing compiled (cpu.ts hold: a loop of few trips an entry). */
  held: number;
  /** Blocks made entries of a kept region at its cases (region-entry.ts), and those of them sent back to tier 0 after their trial. */
  caseEntries: number;
  caseEntriesBack: number;
  /** Instructions retired in tier 2 (counted only while statsEnabled). */
  tier2Insns: number;
  /** Blocks taken from the shared cache, compiled or pre-decoded by another Cpu of the thread from the same bytes (a forked process, an earlier exec). */
  reusedBlocks: number;
  /** Tier-2 regions taken from another vCPU's Cpu (region-share.ts, Cpu.adopt). */
  adoptedRegions: number;
  /** Tier-0 WebAssembly modules this thread built and compiled itself (interp-wasm.ts tier0Module; counted always): 1 in the thread that made the sandbox's, 0 in a vCPU worker handed it. */
  tier0Modules: number;
  /** Instructions retired in tier 0 (those in tier 1 are Cpu.instret minus these). */
  tier0Insns: number;
  /** Instructions retired by every Cpu of the thread, both tiers (summed by the Cpus at their runs' ends). */
  totalInsns: number;
  /** Blocks the run loop entered in tier 0 (each a call into the interpreter, which may chain on through more) and in a compiled tier (1 or 2): their sum is the run loop's dispatches, each a move between tiers or a return through the run loop (counted only while statsEnabled). */
  tier0Calls: number;
  compiledCalls: number;
  /** Time spent decoding blocks into tier 0, and compiling blocks (generating the source and new Function), ms. */
  decodeMs: number;
  compileMs: number;
}

export let statsEnabled = false;
atProcessStart(() => {
  statsEnabled = process.env.TSVISOR_ENGINE_STATS === '1';
  if (statsEnabled) process.on('exit', reportEngineStats);
});

export const engineStats: EngineStats = {
  tier0Blocks: 0, tier1Blocks: 0, tier2Blocks: 0, tier2Refused: 0, tier2Declined: 0, demoted: 0, held: 0, caseEntries: 0, caseEntriesBack: 0, tier2Insns: 0, adoptedRegions: 0, promoted: 0, traces: 0, traceBlocks: 0, reusedBlocks: 0, tier0Modules: 0, tier0Insns: 0, totalInsns: 0, tier0Calls: 0, compiledCalls: 0, decodeMs: 0, compileMs: 0,
};

/** The counters as one line (what is printed at exit). */
export function formatEngineStats(): string {
  const s = engineStats;
  return 'tsvisor-engine ' + JSON.stringify({
    thread: isMainThread ? 'main' : threadId, ...s,
    decodeMs: Math.round(s.decodeMs * 10) / 10, compileMs: Math.round(s.compileMs * 10) / 10,
  });
}

let reported = false;

/**
 * With TSVISOR_ENGINE_STATS=1, write this thread's counters to stderr once
 * (a thread that ran no guest code writes nothing). Called at the thread's
 * exit, and by workers that may be terminated before they exit (the kernel
 * worker at shutdown, a vCPU worker told to quit).
 */
export function reportEngineStats(): void {
  if (!statsEnabled || reported || (engineStats.totalInsns === 0 && engineStats.tier0Insns === 0)) return;
  reported = true;
  writeSync(2, formatEngineStats() + '\n');
}
