// Runs a vCPU suite once per execution engine, so each tier is checked on
// its own and the hand-over between them is checked too.

import { Cpu, type Engine } from '../../src/vcpu/cpu.js';

interface EngineCase {
  engine: Engine;
  promoteAfter?: number;
  label: string;
}

/**
 * Tier 0 alone (the interpreter), tier 1 alone (every block compiled at its
 * first fetch), tier 2 wherever it compiles a block (every block at its
 * first fetch, tier 1 for the others), and 'auto' promoting after 2 runs,
 * so that nearly every block of a test runs in both tiers and many loops
 * change tier midway.
 */
export const ENGINE_CASES: readonly EngineCase[] = [
  { engine: 'interp', label: 'engine interp' },
  { engine: 'jit', label: 'engine jit' },
  { engine: 'wasm', label: 'engine wasm' },
  { engine: 'auto', promoteAfter: 2, label: 'engine auto, promotion after 2 runs' },
];

/** describe(title) once per engine case: Cpus made while its tests run use that engine. */
export function describeEngines(title: string, body: (this: Mocha.Suite) => void): void {
  for (const c of ENGINE_CASES) {
    describe(`${title} [${c.label}]`, function () {
      let saved: [Engine, number];
      before(() => {
        saved = [Cpu.defaultEngine, Cpu.defaultPromoteAfter];
        Cpu.defaultEngine = c.engine;
        if (c.promoteAfter !== undefined) Cpu.defaultPromoteAfter = c.promoteAfter;
      });
      after(() => { [Cpu.defaultEngine, Cpu.defaultPromoteAfter] = saved; });
      body.call(this);
    });
  }
}
