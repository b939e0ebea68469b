// Runs a vCPU suite once per execution engine, so each tier is checked on
// its own and the hand-over between them is checked too.

import { Cpu, type Engine } from '../../src/vcpu/cpu.js';
import type { Tier0Kind } from '../../src/vcpu/engines.js';

interface EngineCase {
  engine: Engine;
  promoteAfter?: number;
  /** Tier 0's interpreter (default: the environment's, TSVISOR_TIER0). */
  tier0?: Tier0Kind;
  label: string;
}

/**
 * Tier 0 alone (the interpreter), tier 1 alone (every block compiled at its
 * first fetch), tier 2 wherever it compiles a block (every block at its
 * first fetch, tier 1 for the others), and 'auto' promoting after 2 runs,
 * so that nearly every block of a test runs in both tiers and many loops
 * change tier midway; tier 0 alone runs first with the JavaScript
 * interpreter (interp.ts) and again with the WebAssembly one (interp-wasm.ts,
 * the default, the JavaScript one for what it leaves), which 'auto' uses.
 */
export const ENGINE_CASES: readonly EngineCase[] = [
  { engine: 'interp', tier0: 'js', label: 'engine interp' },
  { engine: 'jit', label: 'engine jit' },
  { engine: 'wasm', label: 'engine wasm' },
  { engine: 'auto', promoteAfter: 2, label: 'engine auto, promotion after 2 runs' },
  { engine: 'interp', tier0: 'wasm', label: 'engine interp, tier 0 in WebAssembly' },
];

/** describe(title) once per engine case: Cpus made while its tests run use that engine. */
export function describeEngines(title: string, body: (this: Mocha.Suite) => void): void {
  for (const c of ENGINE_CASES) {
    describe(`${title} [${c.label}]`, function () {
      let saved: [Engine, number | undefined, Tier0Kind];
      before(() => {
        saved = [Cpu.defaultEngine, Cpu.defaultPromoteAfter, Cpu.defaultTier0];
        Cpu.defaultEngine = c.engine;
        if (c.promoteAfter !== undefined) Cpu.defaultPromoteAfter = c.promoteAfter;
        if (c.tier0 !== undefined) Cpu.defaultTier0 = c.tier0;
      });
      after(() => { [Cpu.defaultEngine, Cpu.defaultPromoteAfter, Cpu.defaultTier0] = saved; });
      body.call(this);
    });
  }
}
