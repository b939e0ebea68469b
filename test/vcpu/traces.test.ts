// Tier-1 traces (cpu.ts traceFrom, codegen.ts compileRegion): a promoted
// block compiled with the hot blocks it leads to, where a jalr (a call
// through a pointer, a return) to any of them runs on inside the function.
// Each scenario also runs under tier 0 alone and tier 1 alone, which must
// agree with it exactly.

import { strict as assert } from 'node:assert';
import { Cpu, LOOP_CHUNK, Stop, type Engine } from '../../src/vcpu/cpu.js';
import { PAGE_W } from '../../src/vcpu/memory.js';
import { Asm, CODE, getReg, memory, resetMemory, rtype, rv, setReg } from './asm.js';

/** The return site's instruction, and what the tests rewrite it to. */
const ADD = rtype('add', 11, 11, 10), SUB = rtype('sub', 11, 11, 10);
const CALLEE = CODE + 28, OTHER = CODE + 48, RETURN_SITE = CODE + 8, INCREMENT = CODE + 40;

/**
 * A loop calling a function through a pointer (x8), as a sort calls its
 * comparator: x5 passes, x10 += 1 in the callee, x11 += x10 at the return
 * site. When x14 != 0 the callee first stores x12 at x13 (code rewriting
 * itself). Another callee at OTHER adds 7. 10 instructions a pass (11
 * with the store), and the ecall. `tag`, in each block the trace can hold,
 * keeps one test's blocks from matching another's (Cpus of a thread share
 * blocks by bytes, and a block that arrives compiled is never traced).
 */
function callThroughPointer(tag: number): Asm {
  return new Asm().w(
    rv.addi(3, 0, tag),     // 0: loop head
    rv.jalr(1, 8, 0),       // 4: call *x8
    ADD,                    // 8: return site
    rv.addi(4, 0, tag),     // 12
    rv.addi(5, 5, -1),      // 16
    rv.bne(5, 0, -20),      // 20 -> 0
    rv.ecall(),             // 24
    rv.addi(6, 0, tag),     // 28: callee
    rv.beq(14, 0, 8),       // 32 -> 40
    rv.sw(12, 13, 0),       // 36
    rv.addi(10, 10, 1),     // 40
    rv.jalr(0, 1, 0),       // 44: ret
    rv.addi(10, 10, 7),     // 48: other callee
    rv.jalr(0, 1, 0),       // 52
  );
}

function start(tag: number, engine: Engine, passes: number, writableCode = false): Cpu {
  const m = resetMemory(callThroughPointer(tag).bytes());
  if (writableCode) m.pageFlags[CODE >>> 12] |= PAGE_W;
  const cpu = new Cpu(m, undefined, { engine, promoteAfter: engine === 'auto' ? 2 : undefined });
  again(cpu, passes);
  setReg(cpu, 8, BigInt(CALLEE));
  return cpu;
}

function again(cpu: Cpu, passes: number): void {
  cpu.state.pc = CODE;
  setReg(cpu, 5, BigInt(passes));
}

function finish(cpu: Cpu, budget = 1_000_000): Stop {
  let stop: Stop;
  do stop = cpu.run(budget); while (stop === Stop.Budget);
  return stop;
}

const ENGINES: readonly Engine[] = ['auto', 'interp', 'jit', 'wasm'];

describe('vcpu tier-1 traces', () => {
  it('a call through a pointer and its return run inside one trace, with exact counts under any budget', () => {
    [1, 2, 3, 5, 7, 11, 100, 1_000_000].forEach((budget, i) => {
      for (const engine of ENGINES) {
        const cpu = start(100 + i, engine, 500);
        let last = 0, stop: Stop;
        for (;;) {
          stop = cpu.run(budget);
          // A budget stop overshoots by at most what one function call may run on (LOOP_CHUNK).
          assert.ok(cpu.instret - last <= budget + LOOP_CHUNK, `ran ${cpu.instret - last} on a budget of ${budget}`);
          last = cpu.instret;
          if (stop !== Stop.Budget) break;
        }
        const label = `${engine}, budget ${budget}`;
        assert.equal(stop, Stop.Syscall, label);
        assert.equal(getReg(cpu, 10), 500n, label);
        assert.equal(getReg(cpu, 11), 500n * 501n / 2n, label);
        assert.equal(cpu.instret, 10 * 500 + 1, label);
        assert.equal(cpu.state.pc, CODE + 28, label);
        if (engine === 'auto') assert.ok(cpu.traces >= 1, `${label}: no trace was compiled`);
        else assert.equal(cpu.traces, 0, label);
      }
    });
  });

  it('the interrupt flag stops a trace looping through its calls within LOOP_CHUNK instructions', () => {
    const interrupt = new Int32Array(new SharedArrayBuffer(4));
    const m = resetMemory(callThroughPointer(3).bytes());
    const cpu = new Cpu(m, interrupt, { engine: 'auto', promoteAfter: 2 });
    again(cpu, 1_000_000);
    setReg(cpu, 8, BigInt(CALLEE));
    assert.equal(cpu.run(5000), Stop.Budget);
    assert.ok(cpu.traces >= 1);
    interrupt[0] = 1;
    const before = cpu.instret;
    assert.equal(cpu.run(100_000_000), Stop.Interrupted);
    assert.ok(cpu.instret - before <= LOOP_CHUNK + 8, `ran ${cpu.instret - before}`);
  });

  it('rewriting and invalidating any block of a trace, or flushing, runs the new code; a jalr elsewhere leaves the trace', () => {
    for (const engine of ENGINES) {
      const cpu = start(4, engine, 50);
      assert.equal(finish(cpu), Stop.Syscall);
      if (engine === 'auto') assert.ok(cpu.traces >= 1);
      let x10 = 50n, x11 = 50n * 51n / 2n;
      // The callee, a later block of the trace.
      memory().view.setUint32(INCREMENT, rv.addi(10, 10, 100), true);
      cpu.invalidateCode(INCREMENT, 4);
      again(cpu, 10);
      assert.equal(finish(cpu), Stop.Syscall);
      for (let i = 0; i < 10; i++) { x10 += 100n; x11 += x10; }
      assert.deepEqual([getReg(cpu, 10), getReg(cpu, 11)], [x10, x11], engine);
      // The return site, through a flush (what fence.i and exec do).
      memory().view.setUint32(RETURN_SITE, SUB, true);
      cpu.flushCode();
      again(cpu, 10);
      assert.equal(finish(cpu), Stop.Syscall);
      for (let i = 0; i < 10; i++) { x10 += 100n; x11 -= x10; }
      assert.deepEqual([getReg(cpu, 10), getReg(cpu, 11)], [x10, x11], engine);
      // Another callee: the jalr's target is no longer the one the trace holds.
      setReg(cpu, 8, BigInt(OTHER));
      again(cpu, 10);
      assert.equal(finish(cpu), Stop.Syscall);
      for (let i = 0; i < 10; i++) { x10 += 7n; x11 -= x10; }
      assert.deepEqual([getReg(cpu, 10), getReg(cpu, 11)], [x10, x11], engine);
    }
  });

  it('a store from inside a trace to the code it returns to is seen by that very return (no stale target)', () => {
    for (const engine of ENGINES) {
      const cpu = start(5, engine, 100, true);
      assert.equal(finish(cpu), Stop.Syscall);
      const traces = cpu.traces;
      if (engine === 'auto') assert.ok(traces >= 1);
      let x10 = 100n, x11 = 100n * 101n / 2n;
      // The callee now rewrites the return site (add -> sub) before returning to it.
      setReg(cpu, 14, 1n);
      setReg(cpu, 12, BigInt(SUB));
      setReg(cpu, 13, BigInt(RETURN_SITE));
      again(cpu, 3);
      assert.equal(finish(cpu, 3), Stop.Syscall);
      for (let i = 0; i < 3; i++) { x10 += 1n; x11 -= x10; }
      assert.deepEqual([getReg(cpu, 10), getReg(cpu, 11)], [x10, x11], engine);
      assert.equal(memory().view.getUint32(RETURN_SITE, true), SUB);
      assert.equal(cpu.instret, (10 * 100 + 1) + (11 * 3 + 1), engine);
    }
  });
});
