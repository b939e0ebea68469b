// The tier-0 warm-up (src/vcpu/warmup.ts) must leave Interpreter.run with
// the type feedback of whole programs, not only of the warm-up's own
// tests: an interpreter that V8 optimizes right after the warm-up must keep
// its optimized code through real programs' first hundreds of thousands of
// instructions (static fixtures: integer and floating-point code, string
// and memory routines, libc's start-up and its system calls). A case or
// path the warm-up never took would throw that code away ("Insufficient
// type feedback", "lost precision"), and the program would run baseline
// code for a whole recompile (src/vcpu/README.md, "Decision: the warm-up's
// last compile, looked at again"). Whether V8 keeps its code needs
// --allow-natives-syntax, so the check runs in a child node, compiling on
// its own thread (no concurrent recompilation): the outcome does not depend
// on timing or the host's load.

import { strict as assert } from 'node:assert';
import { execFileSync } from 'node:child_process';
import * as path from 'node:path';

/** %GetOptimizationStatus's bit for "has optimized code" (V8's OptimizationStatus::kOptimized). */
const OPTIMIZED = 1 << 4;
/** Fixtures run, and how many instructions of each: enough for libc's start-up, the program's first loops and its exit. */
const PROGRAMS = ['hello', 'cat', 'syscalls', 'coremix', 'memory', 'fpprint', 'compute'];
const MAX_INSNS = 300_000;

describe('the tier-0 warm-up and real programs', () => {
  // The warm-up is the JavaScript tier 0's (TSVISOR_TIER0=js): beside the
  // WebAssembly tier 0, the default, a thread's first Cpu runs none
  // (src/vcpu/README.md, "Decision: no warm-up beside the WebAssembly tier 0").
  it('a thread\'s first Cpu warms up under the JavaScript tier 0 only', function () {
    this.timeout(60_000);
    const dir = path.join(__dirname, '..', '..', 'src', 'vcpu');
    const script = `
      const { Cpu } = require(${JSON.stringify(path.join(dir, 'cpu.js'))});
      const { GuestMemory } = require(${JSON.stringify(path.join(dir, 'memory.js'))});
      const { warmedUpHere } = require(${JSON.stringify(path.join(dir, 'warmup.js'))});
      const before = warmedUpHere();
      new Cpu(GuestMemory.create());
      console.log(JSON.stringify([before, warmedUpHere(), Cpu.warmsUp()]));`;
    const run = (tier0: string) => JSON.parse(execFileSync(process.execPath, ['-e', script], { encoding: 'utf8', env: { ...process.env, TSVISOR_TIER0: tier0, TSVISOR_ENGINE: 'auto' } })) as boolean[];
    assert.deepEqual(run('js'), [false, true, true]);
    assert.deepEqual(run('wasm'), [false, false, false]);
  });

  for (const tier0 of ['js']) it(`an interpreter optimized after the warm-up keeps its code through the first instructions of static programs (tier 0 ${tier0})`, function () {
    this.timeout(240_000);
    const root = path.join(__dirname, '..', '..');
    const fixtures = path.join(root, '..', 'fixtures', 'bin');
    const script = `
      const { Cpu } = require(${JSON.stringify(path.join(root, 'src', 'vcpu', 'cpu.js'))});
      const { GuestMemory } = require(${JSON.stringify(path.join(root, 'src', 'vcpu', 'memory.js'))});
      const { Interpreter } = require(${JSON.stringify(path.join(root, 'src', 'vcpu', 'interp.js'))});
      const { runElf } = require(${JSON.stringify(path.join(__dirname, 'elf.js'))});
      new Cpu(GuestMemory.create()); // the thread's first Cpu: the warm-up runs
      const run = Interpreter.prototype.run, out = [];
      for (const name of ${JSON.stringify(PROGRAMS)}) {
        %OptimizeFunctionOnNextCall(run);
        const r = runElf(GuestMemory.create(), ${JSON.stringify(fixtures)} + '/' + name, [name], [], ${MAX_INSNS});
        out.push({ name, instret: r.instret, status: %GetOptimizationStatus(run) });
      }
      console.log(JSON.stringify(out));`;
    const env = { ...process.env, TSVISOR_TIER0: tier0 };
    const out = execFileSync(process.execPath, ['--allow-natives-syntax', '--no-concurrent-recompilation', '-e', script], { encoding: 'utf8', env });
    const runs = JSON.parse(out) as { name: string; instret: number; status: number }[];
    assert.deepEqual(runs.map((r) => r.name), PROGRAMS);
    for (const r of runs) {
      // The program ran (thousands of instructions at least: libc's start-up alone is more).
      assert.ok(r.instret > 5000, `${r.name} retired only ${r.instret} instructions`);
      assert.ok((r.status & OPTIMIZED) !== 0, `${r.name}: the interpreter's optimized code was thrown away (%GetOptimizationStatus ${r.status})`);
    }
  });
});
