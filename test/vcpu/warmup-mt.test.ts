// The warm-up (src/vcpu/warmup.ts) gives tier 0 the type feedback of a
// thread's stack accesses on several vCPUs: with Cpu.mt set, an aligned ld
// or sd goes through Interpreter.load64/store64 at an address above 2^31
// (where stacks are), and an interpreter optimized without that feedback
// was thrown away ("lost precision") at the first such access, as the
// parallel fixture's threads started on 2 vCPUs (src/workers/README.md).
// Whether V8 keeps its optimized code needs --allow-natives-syntax
// (%OptimizeFunctionOnNextCall, %GetOptimizationStatus), so the check runs
// in a child node, with compiles on its own thread (no concurrent
// recompilation) so that the outcome does not depend on timing.

import { strict as assert } from 'node:assert';
import { execFileSync } from 'node:child_process';
import * as path from 'node:path';

/**
 * The child runs with the JavaScript tier 0 (TSVISOR_TIER0=js) and its full
 * warm-up: under the default, tier 0 in WebAssembly, these few instructions
 * would run in the module and never reach Interpreter.run
 * (warmup-programs.test.ts checks the default's hand-overs).
 */
const JS_TIER0 = { ...process.env, TSVISOR_TIER0: 'js' };

const DIR = path.join(__dirname, '..', '..', 'src', 'vcpu');

/**
 * What `body` prints, run in the child after the vCPU's modules are loaded
 * and the thread's first Cpu `cpu` is made over memory `m` (the warm-up
 * runs first).
 */
function afterWarmUp(body: string): string {
  const script = `
      const { Cpu } = require(${JSON.stringify(path.join(DIR, 'cpu.js'))});
      const { GuestMemory, PAGE_R, PAGE_W, PAGE_X } = require(${JSON.stringify(path.join(DIR, 'memory.js'))});
      const { Interpreter } = require(${JSON.stringify(path.join(DIR, 'interp.js'))});
      const { ThreadState } = require(${JSON.stringify(path.join(DIR, 'state.js'))});
      const m = GuestMemory.create();
      const cpu = new Cpu(m);
      ${body}`;
  return execFileSync(process.execPath, ['--allow-natives-syntax', '--no-concurrent-recompilation', '-e', script], { encoding: 'utf8', env: JS_TIER0 });
}

/** %GetOptimizationStatus's bit for "has optimized code" (V8's OptimizationStatus::kOptimized). */
const OPTIMIZED = 1 << 4;

describe('the tier-0 warm-up and threads on several vCPUs', () => {
  it('an interpreter optimized after the warm-up keeps its code through an mt ld and sd of a page above 2^31', function () {
    this.timeout(120_000);
    const script = `
      const CODE = 0x10000, STACK = 0xf0000000;
      m.view.setUint32(CODE, 0x0105b503, true);     // ld x10, 16(x11)
      m.view.setUint32(CODE + 4, 0x00a5bc23, true); // sd x10, 24(x11)
      m.view.setUint32(CODE + 8, 0x00000073, true); // ecall
      m.pageFlags[CODE / 4096] = PAGE_R | PAGE_X;
      m.pageFlags[STACK / 4096] = PAGE_R | PAGE_W;
      m.view.setUint32(STACK + 16, 0x12345678, true);
      m.view.setUint32(STACK + 20, 0x9abcdef0, true);
      const run = Interpreter.prototype.run;
      cpu.mt = true;
      cpu.state.pc = CODE;
      cpu.state.x[22] = STACK | 0; // x11, low and high words
      cpu.state.x[23] = 0;
      %OptimizeFunctionOnNextCall(run);
      const stop = cpu.run(10);
      console.log(JSON.stringify({ stop, status: %GetOptimizationStatus(run),
        stored: [m.view.getUint32(STACK + 24, true), m.view.getUint32(STACK + 28, true)] }));`;
    const out = afterWarmUp(script);
    const r = JSON.parse(out) as { stop: number; status: number; stored: number[] };
    // The guest's result first: the ld and sd ran (and the ecall stopped the run: Stop.Syscall).
    assert.deepEqual(r.stored, [0x12345678, 0x9abcdef0]);
    assert.equal(r.stop, 1);
    assert.ok((r.status & OPTIMIZED) !== 0, `the interpreter's optimized code was thrown away (%GetOptimizationStatus ${r.status})`);
  });

  // On several vCPUs the kernel takes a thread's registers back from a
  // vCPU worker with ThreadState.loadScalars (src/kernel/vcpus.ts). Its
  // first call must not change ThreadState's map: fcsr, stored as the
  // double it is read as, became a double field, which deprecated the map of
  // every ThreadState, the warm-up's included, and threw the optimized
  // interpreter away ("wrong map") at the first hand-over.
  it('an interpreter optimized after the warm-up keeps its code when registers are first taken back from a vCPU worker', function () {
    this.timeout(120_000);
    const script = `
      const CODE = 0x10000;
      m.view.setUint32(CODE, 0x00150513, true);     // addi x10, x10, 1
      m.view.setUint32(CODE + 4, 0x00000073, true); // ecall
      m.pageFlags[CODE / 4096] = PAGE_R | PAGE_X;
      const run = Interpreter.prototype.run;
      %OptimizeFunctionOnNextCall(run);
      cpu.state.pc = CODE;
      cpu.run(10);
      // A register file handed back: written by the worker's side, read by the kernel's.
      const remote = new ThreadState(), regs = new ThreadState(remote.shared);
      remote.pc = 0x10004; remote.fcsr = 0xe5; remote.storeScalars();
      regs.loadScalars();
      cpu.state.pc = CODE;
      const stop = cpu.run(10);
      console.log(JSON.stringify({ stop, a0: cpu.state.x[20], fcsr: regs.fcsr, pc: regs.pc, status: %GetOptimizationStatus(run) }));`;
    const out = afterWarmUp(script);
    const r = JSON.parse(out) as { stop: number; a0: number; fcsr: number; pc: number; status: number };
    // The guest's result and the registers handed back first.
    assert.equal(r.stop, 1);
    assert.equal(r.a0, 2);
    assert.equal(r.fcsr, 0xe5);
    assert.equal(r.pc, 0x10004);
    assert.ok((r.status & OPTIMIZED) !== 0, `the interpreter's optimized code was thrown away (%GetOptimizationStatus ${r.status})`);
  });
});
