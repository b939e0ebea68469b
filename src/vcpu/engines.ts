// The engine choices of a Cpu (cpu.ts): which tiers run blocks, when a
// block is promoted, and the defaults the environment sets (TSVISOR_ENGINE,
// TSVISOR_PROMOTE_AFTER, TSVISOR_WASM, TSVISOR_WASM_MIN_RUN).

import { atProcessStart } from '../bundle/process-start.js';

/**
 * Which tier runs blocks: 'interp' only tier 0, 'jit' only tier 1 (every
 * block compiled at its first fetch), 'wasm' tier 2 where it can (every
 * block compiled at its first fetch to WebAssembly, to JavaScript when it
 * holds an instruction tier 2 does not compile), 'auto' tier 0, then after
 * `promoteAfter` runs tier 2 where it can (unless the option `wasm` is
 * false) and tier 1 elsewhere.
 */
export type Engine = 'interp' | 'jit' | 'wasm' | 'auto';
export const ENGINES: readonly Engine[] = ['interp', 'jit', 'wasm', 'auto'];

export interface CpuOptions {
  /** Default: TSVISOR_ENGINE, else 'auto'. */
  engine?: Engine;
  /** Heat (a run 1, a backward jump inside it interp.ts's LOOP_HEAT) after which 'auto' compiles a block; default: TSVISOR_PROMOTE_AFTER, else PROMOTE_AFTER (PROMOTE_AFTER_JS under the JavaScript tier 0). */
  promoteAfter?: number;
  /** Whether 'auto' promotes to tier 2 (WebAssembly) where it can; default: TSVISOR_WASM unless '0'. */
  wasm?: boolean;
  /** Which interpreter runs tier 0: 'js' (interp.ts) or 'wasm' (interp-wasm.ts, the JavaScript one for what it leaves); default: TSVISOR_TIER0, else 'wasm' (README.md, "Decision: a tier 0 in WebAssembly, measured"). */
  tier0?: Tier0Kind;
}

export type Tier0Kind = 'js' | 'wasm';

/** The tier-0 interpreter TSVISOR_TIER0 names ('wasm' when unset); throws for an unknown name. */
export function tier0FromEnv(): Tier0Kind {
  const e = process.env.TSVISOR_TIER0;
  if (e === undefined || e === '') return 'wasm';
  if (e !== 'js' && e !== 'wasm') throw new Error(`TSVISOR_TIER0=${e}: expected js or wasm`);
  return e;
}

/**
 * Tier-0 runs after which a block is compiled under tier 0 in WebAssembly
 * (the default), and under the JavaScript tier 0 (PROMOTE_AFTER_JS).
 * Measured on busybox scripts, python3 -c pass and the cpu benchmarks
 * (README.md, "Tiers", and "Decision: tier 2 for loops": 20 000 until V8's
 * compiling of traces cost python's cold start 0.8 s of CPU), then on
 * python's imports compiled from source ("Decision: warm code stays in tier
 * 0": each promotion costs some 20 ms of V8's CPU, most of it on its
 * background threads, against a tier 0 in WebAssembly that runs warm code
 * at about the speed of tier 1).
 */
export const PROMOTE_AFTER = 400_000;
export const PROMOTE_AFTER_JS = 100_000;

/** Calls of a promoted block's tier-1 function counted before tier 2 is considered, and the instructions a call must retire on average to move there (TSVISOR_WASM_MIN_RUN). */
export const WASM_PROBE_CALLS = 32;
export let WASM_MIN_RUN = 0;
atProcessStart(() => (WASM_MIN_RUN = Number(process.env.TSVISOR_WASM_MIN_RUN ?? '') || 200));

/** The engine TSVISOR_ENGINE names ('auto' when unset); throws for an unknown name. */
export function engineFromEnv(): Engine {
  const e = process.env.TSVISOR_ENGINE;
  if (e === undefined || e === '') return 'auto';
  if (!(ENGINES as readonly string[]).includes(e)) throw new Error(`TSVISOR_ENGINE=${e}: expected one of ${ENGINES.join(', ')}`);
  return e as Engine;
}
