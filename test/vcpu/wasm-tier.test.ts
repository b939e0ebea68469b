// Tier 2 (wasm-tier.ts): regions compiled to WebAssembly. Each scenario runs
// under every engine, which must agree exactly (registers, memory, retired
// count, stop, fault), and checks that tier 2 did run the code.

import { strict as assert } from 'node:assert';
import { execFileSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { once } from 'node:events';
import { Worker } from 'node:worker_threads';
import { Cpu, LOOP_CHUNK, SIGSEGV, SEGV_ACCERR, SEGV_MAPERR, Stop, WASM_MIN_RUN, WASM_PROBE_CALLS, type Engine } from '../../src/vcpu/cpu.js';
import { PAGE_R, PAGE_W, PAGE_X, PAGE_SIZE, type GuestMemory } from '../../src/vcpu/memory.js';
import { CALL_MAX } from '../../src/vcpu/wasm-bind.js';
import { ThreadState } from '../../src/vcpu/state.js';
import { Asm, CODE, DATA, getReg, resetMemory, rtype, rv, setReg } from './asm.js';

const ENGINES: readonly Engine[] = ['interp', 'jit', 'wasm', 'auto'];

/**
 * A loop over every kind of instruction tier 2 compiles: 64- and 32-bit
 * ALU, M (mulhu, div, remu, divw, remw...), loads and stores of each width
 * on one data word, slt, fence. x5 counts passes; x10 = DATA. `tag` keeps tests'
 * blocks apart (Cpus of a thread share blocks by bytes).
 */
function mixLoop(tag: number): Asm {
  return new Asm().w(
    rv.addi(3, 0, tag),
    rv.ld(6, 10, 0),            // 4: loop
    rv.fence(),                 // a full barrier while mt is set
    rtype('mul', 7, 6, 11),
    rtype('mulhu', 8, 6, 11),
    rtype('mulh', 19, 6, 7),
    rtype('mulhsu', 20, 7, 6),
    rtype('div', 9, 7, 12),
    rtype('remu', 13, 8, 12),
    rtype('divw', 21, 7, 22),
    rtype('remw', 23, 7, 22),
    rtype('divuw', 24, 6, 0),
    rtype('add', 6, 6, 7),
    rtype('xor', 6, 6, 9),
    rv.sd(6, 10, 0),
    rv.sw(13, 10, 8),
    rv.sb(20, 10, 13),
    rv.lh(14, 10, 6),
    rv.lbu(25, 10, 13),
    rv.lwu(26, 10, 8),
    rtype('add', 15, 15, 14),
    rv.slli(16, 6, 13),
    rv.sraiw(17, 16, 3),
    rtype('sltu', 18, 17, 6),
    rtype('add', 15, 15, 18),
    rtype('subw', 27, 15, 26),
    rtype('sra', 28, 6, 27),
    rv.addi(5, 5, -1),
    rv.bne(5, 0, -4 * 27),      // -> 4
    rv.ecall(),
  );
}

interface Outcome { stop: Stop; instret: number; regs: bigint[]; data: number[]; pc: number; fault: [number, number, number] }

function run(cpu: Cpu, budget: number): Outcome {
  let stop: Stop, last = 0;
  for (;;) {
    stop = cpu.run(budget);
    assert.ok(cpu.instret - last <= budget + LOOP_CHUNK, `ran ${cpu.instret - last} on a budget of ${budget}`);
    last = cpu.instret;
    if (stop !== Stop.Budget) break;
  }
  const regs: bigint[] = [];
  for (let r = 1; r < 32; r++) regs.push(getReg(cpu, r));
  return { stop, instret: cpu.instret, regs, data: [...dataBytes()], pc: cpu.state.pc, fault: [cpu.fault.signal, cpu.fault.code, cpu.fault.addr] };
}

/** The first data bytes of the memory the last start() reset. */
let dataBytes: () => Uint8Array = () => new Uint8Array(0);

function start(asm: Asm, engine: Engine, setup: (cpu: Cpu) => void, codeFlags?: number): Cpu {
  const m = resetMemory(asm.bytes(), codeFlags);
  dataBytes = () => m.u8.slice(DATA, DATA + 32);
  const cpu = new Cpu(m, undefined, { engine, promoteAfter: engine === 'auto' ? 2 : undefined });
  cpu.state.pc = CODE;
  setup(cpu);
  return cpu;
}

function mixSetup(passes: number) {
  return (cpu: Cpu): void => {
    setReg(cpu, 5, BigInt(passes));
    setReg(cpu, 10, BigInt(DATA));
    setReg(cpu, 11, 0x9e3779b97f4a7c15n);
    setReg(cpu, 12, 0n); // division by zero first; x12 changes below
    setReg(cpu, 22, -1n);
  };
}

describe('vcpu tier 2 (WebAssembly)', () => {
  it('a loop of ALU, M, loads and stores agrees with tiers 0 and 1 under any budget, and runs in tier 2', () => {
    const seeds: [bigint, bigint, bigint][] = [[0n, -1n, 0n], [7n, -1n, -(1n << 63n)], [-3n, 5n, 0x123456789abcdefn]];
    seeds.forEach(([div, wdiv, word], si) => {
      for (const budget of [1, 3, 17, 1000, 1_000_000]) {
        const results = ENGINES.map((engine) => {
          const cpu = start(mixLoop(500 + si * 10 + (budget % 7)), engine, (c) => {
            mixSetup(300)(c);
            setReg(c, 12, div);
            setReg(c, 22, wdiv);
          });
          const m = cpu as unknown as { mem: { view: DataView } };
          m.mem.view.setBigInt64(DATA, word, true);
          const o = run(cpu, budget);
          if (engine === 'wasm') assert.ok(cpu.wasmCompiled > 0, 'tier 2 compiled the loop');
          return o;
        });
        for (let i = 1; i < results.length; i++) assert.deepEqual(results[i], results[0], `${ENGINES[i]} vs interp, seed ${si}, budget ${budget}`);
        assert.equal(results[0].stop, Stop.Syscall);
      }
    });
  });

  it('a fault in tier 2 stops at the faulting instruction with the earlier results written back', () => {
    for (const addr of [0x7000_0000n, 1n << 40n, -8n, BigInt(DATA + 4 * 4096 - 4)]) {
      const results = ENGINES.map((engine) => {
        const asm = new Asm().w(
          rv.addi(3, 0, 77),
          rv.addi(6, 6, 1),          // 4: loop
          rv.addi(7, 7, 3),
          rv.sd(7, 10, 8),
          rv.addi(5, 5, -1),
          rv.bne(5, 0, -16),
          rv.addi(8, 0, 9),
          rv.ld(9, 11, 0),           // faults (the last: straddles into an unmapped page)
          rv.addi(9, 0, 1),
          rv.ecall(),
        );
        const cpu = start(asm, engine, (c) => {
          setReg(c, 5, 50n); setReg(c, 10, BigInt(DATA)); setReg(c, 11, addr);
        });
        const o = run(cpu, 1_000_000);
        return o;
      });
      for (let i = 1; i < results.length; i++) assert.deepEqual(results[i], results[0], `${ENGINES[i]}, address ${addr}`);
      assert.equal(results[0].stop, Stop.Fault);
      assert.equal(results[0].fault[0], SIGSEGV);
      assert.equal(results[0].pc, CODE + 28);
      if (addr === 0x7000_0000n) assert.equal(results[0].fault[1], SEGV_MAPERR);
    }
  });

  it('invalidateCode reaches a tier-2 loop: the next run decodes the rewritten instruction', () => {
    const INC = CODE + 12;
    const results = ENGINES.map((engine) => {
      const asm = new Asm().w(
        rv.addi(3, 0, 91),
        rv.addi(6, 6, 1),          // 4: loop
        rv.beq(5, 13, 8),          // 8: skips INC on the pass where x5 = x13
        rv.addi(10, 10, 1),        // 12: INC, rewritten below to addi x10, x10, 100
        rv.addi(5, 5, -1),         // 16
        rv.bne(5, 0, -16),         // 20 -> 4
        rv.ecall(),                // 24
      );
      const cpu = start(asm, engine, (c) => {
        setReg(c, 5, 400n); setReg(c, 13, 200n);
      }, 1 | 4 | PAGE_W);
      let o = run(cpu, 1_000_000);
      // Rewrite INC from outside (as the kernel would after a write), invalidate, and run the loop again.
      const m = cpu as unknown as { mem: { view: DataView } };
      m.mem.view.setUint32(INC, rv.addi(10, 10, 100), true);
      cpu.invalidateCode(INC, 4);
      cpu.state.pc = CODE; setReg(cpu, 5, 300n);
      o = run(cpu, 1_000_000);
      return o;
    });
    for (let i = 1; i < results.length; i++) assert.deepEqual(results[i], results[0], ENGINES[i]);
    // 399 passes of +1 in the first run, 299 of +100 in the second (each skips INC once).
    assert.equal(results[0].regs[9], 399n + 299n * 100n);
  });

  it('a store by the tier-2 loop to a later instruction of itself takes effect on the next pass', () => {
    const results = ENGINES.map((engine) => {
      const asm = new Asm().w(
        rv.addi(3, 0, 93),
        rv.addi(10, 10, 1),        // 4: loop; rewritten to addi x10, x10, 100 by the sw below
        rv.sw(12, 14, 4),          // 8: *(CODE + 4) = x12
        rv.addi(5, 5, -1),
        rv.bne(5, 0, -12),         // -> 4
        rv.ecall(),
      );
      const cpu = start(asm, engine, (c) => {
        setReg(c, 5, 50n); setReg(c, 14, BigInt(CODE)); setReg(c, 12, BigInt(rv.addi(10, 10, 100)));
      }, 1 | 4 | PAGE_W);
      return run(cpu, 1_000_000);
    });
    for (let i = 1; i < results.length; i++) assert.deepEqual(results[i], results[0], ENGINES[i]);
    assert.equal(results[0].regs[9], 1n + 49n * 100n);
  });

  it('stores by a tier-2 loop into its code page but outside its instructions land, and the loop goes on', () => {
    // The page holds decoded code, so each store takes tier 2's slow path (the store there, then Cpu.codeWrite,
    // which drops nothing, and the loop goes on after the store): every store must land where every engine puts it.
    const results = ENGINES.map((engine) => {
      const asm = new Asm().w(
        rv.addi(3, 0, 96),
        rv.addi(7, 7, 3),          // 4: loop
        rv.sd(7, 14, 0x400),       // into the code page, past the code
        rv.sw(7, 14, 0x10),
        rv.ld(8, 14, 0x400),
        rtype('add', 9, 9, 8),
        rv.addi(5, 5, -1),
        rv.bne(5, 0, -24),         // -> 4
        rv.ecall(),
      );
      const cpu = start(asm, engine, (c) => { setReg(c, 5, 500n); setReg(c, 14, BigInt(CODE + 0x400)); }, 1 | 4 | PAGE_W);
      const o = run(cpu, 1_000_000);
      if (engine === 'wasm') assert.ok(cpu.wasmCompiled > 0, 'tier 2 compiled the loop');
      const m = cpu as unknown as { mem: { view: DataView } };
      return { ...o, at: [m.mem.view.getBigUint64(CODE + 0x800, true), m.mem.view.getUint32(CODE + 0x410, true)] };
    });
    for (let i = 1; i < results.length; i++) assert.deepEqual(results[i], results[0], ENGINES[i]);
    assert.equal(results[0].stop, Stop.Syscall);
    assert.equal(results[0].regs[8], 3n * 500n * 501n / 2n);
    assert.deepEqual(results[0].at, [1500n, 1500]);
  });

  it('a page made read-only between two runs of a tier-2 loop that stored to it faults in the second run', () => {
    // Tier 2 remembers the pages it found writable across calls while the page flags' generation stands (memory.ts FLAGS_GEN).
    const results = ENGINES.map((engine) => {
      const asm = new Asm().w(
        rv.addi(3, 0, 95),
        rv.addi(7, 7, 3),          // 4: loop
        rv.sd(7, 10, 8),
        rv.addi(5, 5, -1),
        rv.bne(5, 0, -12),         // -> 4
        rv.ecall(),
      );
      const cpu = start(asm, engine, (c) => { setReg(c, 5, 500n); setReg(c, 10, BigInt(DATA)); });
      const first = run(cpu, 1_000_000);
      const m = (cpu as unknown as { mem: GuestMemory }).mem;
      m.pageFlags[DATA / PAGE_SIZE] = PAGE_R; // as mm.ts's mprotect does, then:
      m.flagsChanged();
      cpu.state.pc = CODE; setReg(cpu, 5, 500n);
      return [first, run(cpu, 1_000_000)];
    });
    for (let i = 1; i < results.length; i++) assert.deepEqual(results[i], results[0], ENGINES[i]);
    const [first, second] = results[0];
    assert.equal(first.stop, Stop.Syscall);
    assert.equal(second.stop, Stop.Fault);
    assert.deepEqual(second.fault, [SIGSEGV, SEGV_ACCERR, DATA + 8]);
    assert.equal(second.pc, CODE + 8);
  });

  it('a store by a tier-2 loop to a page it stored to before reaches code decoded there since', () => {
    // The loop stores into page P while no code was decoded there; code is then decoded and run on P
    // (P turns PAGE_CODE); the loop's next store over it must drop that block.
    const P = CODE + PAGE_SIZE;
    const results = ENGINES.map((engine) => {
      const asm = new Asm().w(
        rv.addi(3, 0, 97),
        rv.sw(12, 14, 0),          // 4: loop: *P = x12
        rv.addi(5, 5, -1),
        rv.bne(5, 0, -8),          // -> 4
        rv.ecall(),
      );
      const cpu = start(asm, engine, (c) => { setReg(c, 5, 300n); setReg(c, 14, BigInt(P)); setReg(c, 12, BigInt(rv.addi(10, 10, 1))); });
      const m = (cpu as unknown as { mem: GuestMemory }).mem;
      m.pageFlags[P / PAGE_SIZE] = PAGE_R | PAGE_W | PAGE_X;
      m.view.setUint32(P + 4, rv.ecall(), true);
      const out = [run(cpu, 1_000_000)];
      cpu.state.pc = P; // runs addi x10, x10, 1 from P
      out.push(run(cpu, 1_000_000));
      cpu.state.pc = CODE; setReg(cpu, 5, 300n); setReg(cpu, 12, BigInt(rv.addi(10, 10, 100)));
      out.push(run(cpu, 1_000_000));
      cpu.state.pc = P; // runs the rewritten addi x10, x10, 100
      out.push(run(cpu, 1_000_000));
      return out;
    });
    for (let i = 1; i < results.length; i++) assert.deepEqual(results[i], results[0], ENGINES[i]);
    assert.equal(results[0][3].regs[9], 101n);
  });

  it('a run of pages remembered by tier 2 ends at a page with other flags and at the end of the mapping', () => {
    // On a miss tier 2 remembers the pages around the one missed that have its flags (wasm-bind.ts runOf).
    // Stores every 512 bytes over DATA's pages, the third made read-only: the run found at the first page must stop before it.
    const stores = ENGINES.map((engine) => {
      const asm = new Asm().w(
        rv.addi(3, 0, 98),
        rv.sd(5, 10, 0),           // 4: loop
        rv.addi(10, 10, 512),
        rv.addi(5, 5, -1),
        rv.bne(5, 0, -12),         // -> 4
        rv.ecall(),
      );
      const cpu = start(asm, engine, (c) => { setReg(c, 5, 40n); setReg(c, 10, BigInt(DATA)); });
      (cpu as unknown as { mem: GuestMemory }).mem.pageFlags[DATA / PAGE_SIZE + 2] = PAGE_R;
      const o = run(cpu, 1_000_000);
      if (engine === 'wasm') assert.ok(cpu.wasmCompiled > 0, 'tier 2 compiled the loop');
      return o;
    });
    for (let i = 1; i < stores.length; i++) assert.deepEqual(stores[i], stores[0], ENGINES[i]);
    assert.equal(stores[0].stop, Stop.Fault);
    assert.deepEqual(stores[0].fault, [SIGSEGV, SEGV_ACCERR, DATA + 2 * PAGE_SIZE]);
    assert.equal(stores[0].pc, CODE + 4);
    // Loads of 8 bytes every 4 up to the last page of the mapping: the last one inside it runs, the next one straddles out and faults.
    const end = DATA + 4 * PAGE_SIZE;
    const loads = ENGINES.map((engine) => {
      const asm = new Asm().w(
        rv.addi(3, 0, 99),
        rv.ld(6, 10, 0),           // 4: loop
        rtype('add', 7, 7, 6),
        rv.addi(10, 10, 4),
        rv.addi(5, 5, -1),
        rv.bne(5, 0, -16),         // -> 4
        rv.ecall(),
      );
      const cpu = start(asm, engine, (c) => { setReg(c, 5, 100n); setReg(c, 10, BigInt(end - 40)); });
      const m = (cpu as unknown as { mem: GuestMemory }).mem;
      for (let a = end - 40; a < end; a += 4) m.view.setUint32(a, a, true);
      return run(cpu, 1_000_000);
    });
    for (let i = 1; i < loads.length; i++) assert.deepEqual(loads[i], loads[0], ENGINES[i]);
    assert.equal(loads[0].stop, Stop.Fault);
    assert.equal(loads[0].fault[0], SIGSEGV);
    assert.equal(loads[0].regs[9], BigInt(end - 4), 'x10 at the load that straddles out');
    assert.equal(loads[0].pc, CODE + 4);
  });

  it('two threads taking turns on one Cpu, each adding into a word of its own run of pages, agree under every engine', () => {
    // A call with another thread's registers than the last forgets the pages the function remembers (wasm-bind.ts,
    // MT's bit 1), so each thread's run comes first again; the results must not depend on it.
    const outcomes = ENGINES.map((engine) => {
      const asm = new Asm().w(
        rv.addi(3, 0, 97),
        rv.ld(6, 10, 0),           // 4: loop
        rtype('add', 6, 6, 5),
        rv.sd(6, 10, 0),
        rv.addi(5, 5, -1),
        rv.bne(5, 0, -16),         // -> 4
        rv.ecall(),
      );
      const cpu = start(asm, engine, (c) => { setReg(c, 5, 3000n); setReg(c, 10, BigInt(DATA)); });
      const m = (cpu as unknown as { mem: GuestMemory }).mem;
      m.pageFlags[DATA / PAGE_SIZE + 1] = PAGE_R; // the two words' pages in runs of their own
      const states = [cpu.state, new ThreadState()];
      cpu.state = states[1];
      cpu.state.pc = CODE;
      setReg(cpu, 5, 2000n);
      setReg(cpu, 10, BigInt(DATA + 2 * PAGE_SIZE));
      const stops = [Stop.Budget, Stop.Budget];
      while (stops.includes(Stop.Budget)) {
        for (let t = 0; t < 2; t++) {
          if (stops[t] !== Stop.Budget) continue;
          cpu.state = states[t];
          stops[t] = cpu.run(700);
        }
      }
      if (engine === 'wasm') assert.ok(cpu.wasmCompiled > 0, 'tier 2 compiled the loop');
      const regs = states.map((st) => { cpu.state = st; return [5, 6, 10].map((r) => getReg(cpu, r)); });
      return { stops, instret: cpu.instret, regs, words: [m.view.getBigUint64(DATA, true), m.view.getBigUint64(DATA + 2 * PAGE_SIZE, true)] };
    });
    for (let i = 1; i < outcomes.length; i++) assert.deepEqual(outcomes[i], outcomes[0], ENGINES[i]);
    assert.deepEqual(outcomes[0].stops, [Stop.Syscall, Stop.Syscall]);
    assert.deepEqual(outcomes[0].words, [3000n * 3001n / 2n, 2000n * 2001n / 2n]);
  });

  it('with mt set (other threads share the memory), tier 2 runs on with the same results', () => {
    const results = [false, true].map((mt) => {
      const cpu = start(mixLoop(600), 'wasm', (c) => { mixSetup(100)(c); setReg(c, 12, 3n); });
      cpu.mt = mt;
      const o = run(cpu, 1000);
      assert.ok(cpu.wasmCompiled > 0);
      return o;
    });
    assert.deepEqual(results[1], results[0]);
  });

  it("'auto' moves a promoted loop to tier 2 after its probe calls, and not with the option wasm off", () => {
    for (const wasm of [true, false]) {
      const m = resetMemory(mixLoop(700 + Number(wasm)).bytes());
      const cpu = new Cpu(m, undefined, { engine: 'auto', promoteAfter: 2, wasm });
      cpu.state.pc = CODE;
      // Enough passes for WASM_PROBE_CALLS calls of the compiled loop, each of LOOP_CHUNK instructions (more than WASM_MIN_RUN).
      mixSetup(Math.ceil((WASM_PROBE_CALLS + 2) * LOOP_CHUNK / 27))(cpu);
      setReg(cpu, 12, 5n);
      let stop: Stop;
      do stop = cpu.run(1_000_000); while (stop === Stop.Budget);
      assert.equal(stop, Stop.Syscall);
      assert.equal(cpu.wasmCompiled, wasm ? 1 : 0);
    }
  });

  it('a loop through a block laid out after it, jumping back into its middle, agrees under any budget', () => {
    // As coremix's list merge: L branches forward to O, O jumps back to M, M back to L: two of the
    // region's jumps go to earlier cases (each round the region's loop), one of them into the middle of L's block.
    const asm = (tag: number): Asm => new Asm().w(
      rv.addi(3, 0, tag),
      rv.bne(11, 0, 24),           // 4: L -> O (28)
      rv.addi(7, 7, 1),            // 8
      rv.xori(11, 11, 1),          // 12: M
      rv.addi(5, 5, -1),
      rv.bne(5, 0, -16),           // 20 -> L
      rv.ecall(),                  // 24
      rv.addi(8, 8, 2),            // 28: O
      rv.jal(0, -20),              // 32 -> M
    );
    for (const budget of [1, 3, 17, 1000, 1_000_000]) {
      const results = ENGINES.map((engine) => {
        const cpu = start(asm(800 + (budget % 7)), engine, (c) => { setReg(c, 5, 301n); setReg(c, 11, 1n); });
        const o = run(cpu, budget);
        if (engine === 'wasm') assert.ok(cpu.wasmCompiled > 0, 'tier 2 compiled the loop');
        return o;
      });
      for (let i = 1; i < results.length; i++) assert.deepEqual(results[i], results[0], `${ENGINES[i]} vs interp, budget ${budget}`);
      assert.equal(results[0].stop, Stop.Syscall);
      assert.deepEqual([results[0].regs[6], results[0].regs[7]], [150n, 2n * 151n], 'passes through X and through O');
    }
  });

  it('loads and stores straddling two mapped pages run in tier 2 (the slow path, never remembered) and agree', () => {
    // x10 walks byte by byte across the end of DATA's first page: an 8-byte ld and sd at each address, 7 of them
    // straddling; then past the 4 pages of DATA, where the next straddle faults.
    const results = ENGINES.map((engine) => {
      const asm = new Asm().w(
        rv.addi(3, 0, 94),
        rv.ld(6, 10, 0),           // 4: loop
        rtype('add', 7, 7, 6),
        rv.addi(7, 7, 1),
        rv.sd(7, 10, 0),
        rv.addi(10, 10, 1),
        rv.addi(5, 5, -1),
        rv.bne(5, 0, -24),         // -> 4
        rv.ecall(),
      );
      const cpu = start(asm, engine, (c) => { setReg(c, 5, 40n); setReg(c, 10, BigInt(DATA + PAGE_SIZE - 20)); });
      const m = (cpu as unknown as { mem: GuestMemory }).mem;
      for (let a = DATA + PAGE_SIZE - 24; a < DATA + PAGE_SIZE + 32; a++) m.u8[a] = (a * 7) & 0xff;
      const first = run(cpu, 1_000_000);
      if (engine === 'wasm') assert.ok(cpu.wasmCompiled > 0, 'tier 2 compiled the loop');
      const bytes = [...m.u8.slice(DATA + PAGE_SIZE - 24, DATA + PAGE_SIZE + 32)];
      cpu.state.pc = CODE; setReg(cpu, 5, 40n); setReg(cpu, 10, BigInt(DATA + 4 * PAGE_SIZE - 20));
      return { first, bytes, second: run(cpu, 1_000_000) };
    });
    for (let i = 1; i < results.length; i++) assert.deepEqual(results[i], results[0], ENGINES[i]);
    assert.equal(results[0].first.stop, Stop.Syscall);
    assert.equal(results[0].second.stop, Stop.Fault);
    assert.equal(results[0].second.regs[9], BigInt(DATA + 4 * PAGE_SIZE - 7), 'x10 at the first ld straddling out');
    assert.equal(results[0].second.pc, CODE + 4);
  });

  it('a tier-2 call runs on past LOOP_CHUNK within the budget, at most CALL_MAX, an interrupt waiting for its end; under mt too', () => {
    // The run loop sets Cpu.left before each call of a compiled block, and tier 2's binding reads it once
    // per call (counted: the calls); `raise` raises the interrupt flag at the first read.
    const watched = (cpu: Cpu, raise?: Int32Array): { calls: number } => {
      const seen = { calls: 0 };
      let left = 0;
      Object.defineProperty(cpu, 'left', {
        get: () => { if (++seen.calls === 1 && raise) raise[0] = 1; return left; },
        set: (v: number) => { left = v; },
      });
      return seen;
    };
    const passes = 40_000; // 27 instructions a pass: 1.08 M in all, over CALL_MAX
    const make = (engine: Engine, intr?: Int32Array): Cpu => {
      const cpu = new Cpu(resetMemory(mixLoop(650).bytes()), intr, { engine });
      dataBytes = () => (cpu as unknown as { mem: GuestMemory }).mem.u8.slice(DATA, DATA + 32);
      cpu.state.pc = CODE;
      mixSetup(passes)(cpu);
      setReg(cpu, 12, 3n);
      return cpu;
    };
    const ref = run(make('interp'), 1e9);
    assert.equal(ref.stop, Stop.Syscall);

    // A budget of 100 000: one call of the region runs it all, leaving at the first chunk past it.
    let cpu = make('wasm');
    let seen = watched(cpu);
    assert.equal(cpu.run(100_000), Stop.Budget);
    assert.ok(cpu.instret >= 100_000 && cpu.instret <= 100_000 + LOOP_CHUNK + 27, `ran ${cpu.instret}`);
    assert.equal(seen.calls, 1);
    // On to the end: no call retires more than CALL_MAX and a chunk.
    seen.calls = 0;
    const o = run(cpu, 1e9);
    assert.ok(cpu.wasmCompiled > 0);
    const least = Math.ceil((ref.instret - 100_000) / (CALL_MAX + LOOP_CHUNK + 27));
    assert.ok(seen.calls >= least && seen.calls <= least + 1, `${seen.calls} calls`);
    assert.deepEqual(o, ref);

    // The flag raised as the first call starts: the run loop sees it when that call ends, at CALL_MAX.
    const intr = new Int32Array(1);
    cpu = make('wasm', intr);
    seen = watched(cpu, intr);
    assert.equal(cpu.run(1e9), Stop.Interrupted);
    assert.ok(cpu.instret >= CALL_MAX && cpu.instret <= CALL_MAX + LOOP_CHUNK + 28, `ran ${cpu.instret}`);
    assert.equal(seen.calls, 1);
    intr[0] = 0;
    assert.deepEqual(run(cpu, 1e9), ref);

    // While other threads share the memory a call runs on just the same (their munmap or mprotect ends it at
    // its chunk: the next test).
    cpu = make('wasm');
    cpu.mt = true;
    seen = watched(cpu);
    assert.equal(cpu.run(100_000), Stop.Budget);
    assert.ok(cpu.instret >= 100_000 && cpu.instret <= 100_000 + LOOP_CHUNK + 27, `ran ${cpu.instret} under mt`);
    assert.equal(seen.calls, 1, 'calls under mt');
    assert.deepEqual(run(cpu, 1e9), ref);
  });

  it('under mt, another thread\'s mprotect is seen within a chunk though a call runs on past chunks', async function () {
    this.timeout(60_000);
    // x6 counts up forever, stored at DATA each pass (3 instructions a pass). A worker thread, once the count is
    // past 100 000, takes PAGE_W off that page and moves the flags' generation (as mm.ts's mprotect does), then
    // reads the count. The store must fault within a chunk of that: a call that ran on to its limit
    // (CALL_MAX: 87 000 passes) would fault only at its end. The worker raises the interrupt after 10 s, so
    // that a call that never sees the change ends the run instead of hanging the suite.
    const asm = new Asm().w(rv.lui(5, DATA >> 12), rv.addi(6, 0, 0), rv.addi(6, 6, 1), rv.sw(6, 5, 0), rv.jal(0, -8));
    const m = resetMemory(asm.bytes());
    const intr = new Int32Array(new SharedArrayBuffer(4));
    const cpu = new Cpu(m, intr, { engine: 'wasm' });
    cpu.state.pc = CODE;
    cpu.mt = true;
    const script = `
      const { workerData: d, parentPort } = require('node:worker_threads');
      const { GuestMemory, PAGE_R } = require(d.memoryModule);
      const m = GuestMemory.attach(d.shared);
      parentPort.postMessage('ready');
      while (Atomics.load(m.i32, d.data >> 2) < 100000);
      m.pageFlags[d.data / d.page] = PAGE_R;
      m.flagsChanged();
      parentPort.postMessage(Atomics.load(m.i32, d.data >> 2));
      Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, 10000);
      Atomics.store(new Int32Array(d.intr), 0, 1);`;
    const memoryModule = path.join(__dirname, '..', '..', 'src', 'vcpu', 'memory.js');
    const worker = new Worker(script, { eval: true, workerData: { shared: m.share(), intr: intr.buffer, memoryModule, data: DATA, page: PAGE_SIZE } });
    try {
      assert.equal((await once(worker, 'message'))[0], 'ready');
      const changed = once(worker, 'message');
      const stop = cpu.run(1e15);
      const [changedAt] = (await changed) as [number];
      assert.equal(stop, Stop.Fault, 'the store faults');
      assert.equal(cpu.fault.code, SEGV_ACCERR);
      const late = Number(getReg(cpu, 6)) - changedAt;
      assert.ok(late <= LOOP_CHUNK / 3 + 1, `the store faulted ${late} passes after the change`);
    } finally {
      await worker.terminate();
      m.pageFlags[DATA / PAGE_SIZE] = PAGE_R | PAGE_W;
    }
  });

  it('TSVISOR_WASM_DUMP writes each module, valid, its function named after the region\'s start', function () {
    this.timeout(60_000);
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'tsvisor-dump-'));
    try {
      const src = path.join(__dirname, '..', '..', 'src', 'vcpu');
      const script = `
        const { compileRegionWasm } = require(${JSON.stringify(path.join(src, 'wasm-tier.js'))});
        const { decode } = require(${JSON.stringify(path.join(src, 'decode.js'))});
        const { rv } = require(${JSON.stringify(path.join(__dirname, 'asm.js'))});
        const words = [rv.ld(6, 10, 0), rv.addi(5, 5, -1), rv.bne(5, 0, -8), rv.ecall()];
        const insns = words.map((w) => decode(w & 0xffff, w >>> 16));
        compileRegionWasm([{ insns, pcs: [0x12340, 0x12344, 0x12348, 0x1234c], end: 0x12350 }], 16384);`;
      execFileSync(process.execPath, ['-e', script], { env: { ...process.env, TSVISOR_WASM_DUMP: dir } });
      const files = fs.readdirSync(dir);
      assert.deepEqual(files, ['r12340-000.wasm']);
      const bytes = fs.readFileSync(path.join(dir, files[0]));
      assert.ok(WebAssembly.validate(bytes));
      const mod = new WebAssembly.Module(bytes);
      assert.deepEqual(WebAssembly.Module.exports(mod), [{ name: 'run', kind: 'function' }]);
      const names = Buffer.from(WebAssembly.Module.customSections(mod, 'name')[0]);
      for (const name of ['r12340', 'missR', 'missW']) assert.ok(names.includes(name), name);
    } finally {
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });
});

