// Tier 2's F/D instructions (src/vcpu/wasm-fp.ts): a loop of every kind of
// F/D instruction over a table of operands full of edge values (zeros,
// subnormals, infinities, quiet and signaling NaNs, values near overflow
// and underflow, NaN-boxed and unboxed singles), run under every engine and
// every frm. Tier 2 must agree with tiers 0 and 1 bit for bit: every x and
// f register, fcsr, the bytes stored, the retired count, and a hash of each
// instruction's result and of the fflags it raised (read and cleared after
// most instructions by a CSR instruction tier 2 runs too).

import { strict as assert } from 'node:assert';
import { Cpu, LOOP_CHUNK, Stop, type Engine } from '../../src/vcpu/cpu.js';
import { GuestMemory, PAGE_R, PAGE_SIZE, PAGE_W, PAGE_X } from '../../src/vcpu/memory.js';
import { fpSlot, regSlot } from '../../src/vcpu/wasm-bind.js';
import { Asm, CODE, DATA, R4, fop, fp, memory, resetMemory, rtype, rv, setReg } from './asm.js';

const ENGINES: readonly Engine[] = ['interp', 'jit', 'wasm', 'auto'];

/** Operand triples (a, b, c) as bit patterns: each pass of the loop takes the next. */
const D = (v: number): bigint => { const b = new DataView(new ArrayBuffer(8)); b.setFloat64(0, v, true); return b.getBigUint64(0, true); };
const S = (v: number): bigint => { const b = new DataView(new ArrayBuffer(4)); b.setFloat32(0, v, true); return 0xffffffff00000000n | BigInt(b.getUint32(0, true)); };
const QNAN = 0x7ff8000000000000n, SNAN = 0x7ff0000000000001n, SNAN_S = 0xffffffff7f800001n;
const TABLE: bigint[][] = [
  [D(1.5), D(2.25), D(-0.75)],
  [D(0.1), D(0.2), D(0.3)],
  [D(1 / 3), D(3), D(-1)],
  [D(-0), D(0), D(-0)],
  [D(0), D(5), D(-0)],
  [D(2 ** -1074), D(2 ** -1022), D(2 ** -1000)],
  [D(1e308), D(10), D(-1e308)],
  [D(Infinity), D(0), D(1)],
  [D(-Infinity), D(Infinity), D(2)],
  [QNAN, D(1), D(2)],
  [SNAN, D(1), D(2)],
  [D(2), SNAN, QNAN],
  [D(4), D(-4), D(16)],
  [D(-2), D(2 ** 970), D(2 ** 960)],
  [D(2 ** 53 + 2), D(2 ** 63), D(-(2 ** 63))],
  [D(4294967295.5), D(-2147483648.5), D(2147483647.5)],
  [D(-0.5), D(0.5), D(2.5)],
  [S(1.5), S(-2.75), S(1e-40)],
  [SNAN_S, S(3), S(Infinity)],
  [0x123456783fc00000n, S(1), D(1)],
  [D(1e-310), D(1e10), D(3e-300)],
  [D(123456789.123), D(-987.654321), D(1e-5)],
  [D(2 ** 52 + 0.5), D(-1e20), D(1e20)],
  [D(Math.PI), D(Math.E), D(Math.SQRT2)],
  [D(3000000000.75), D(1e19), D(2 ** 64 - 2048)],
  [D(1e19 + 2048), D(4294967295.25), D(-1e19)],
  [D(3), D(Infinity), D(0)],
  [D(1e-30), D(3e38), D(-1e-45)],
];

/**
 * The loop: x10 walks TABLE (a, b, c in f1, f2, f3), x5 counts passes;
 * every result goes into the hash x19 (x22 its odd multiplier, x28
 * scratch), fflags into the hash x20; x11 points at a scratch area for
 * stores.
 */
function fpLoop(tag: number): Asm {
  const a = new Asm();
  a.w(rv.addi(3, 0, tag));
  const top = a.here;
  a.w(fp.fld(1, 10, 0), fp.fld(2, 10, 8), fp.fld(3, 10, 16));
  /**
   * Hash integer register r into x19, then (unless keep) fflags into x20,
   * cleared; and a nop holding the tag, so that every block's bytes are
   * this run's own (a Cpu reuses blocks another decoded or compiled from the
   * same bytes at the same pc).
   */
  const hashX = (r: number, keep = false): void => {
    mix(19, r);
    a.w(rv.addi(0, 0, tag));
    if (!keep) { a.w(rv.csrrw(21, 1, 0)); mix(20, 21); }
  };
  /** h = (h ^ r) * x22, then h ^= h >> 31 (so that every bit of r reaches every bit of h). */
  const mix = (h: number, r: number): void => {
    a.w(rtype('xor', h, h, r), rtype('mul', h, h, 22), rv.srli(28, h, 31), rtype('xor', h, h, 28));
  };
  /** Instruction `w` writing f register fd, its bits hashed. */
  const f = (w: number, fd: number, keep = false): void => { a.w(w, fop(0x71, 21, fd, 0, 0)); hashX(21, keep); };
  /** Instruction `w` writing x register xd. */
  const x = (w: number, xd: number, keep = false): void => { a.w(w); hashX(xd, keep); };
  const r4 = (op: number, fmt: number, rd: number, rm: number): number => R4(3, fmt, 2, 1, rm, rd, op);
  // D arithmetic: static RNE, dynamic, and other static modes (slow path).
  f(fop(0x01, 4, 1, 2, 0), 4);
  f(fop(0x05, 4, 1, 2, 7), 4, true);
  f(fop(0x09, 4, 1, 2, 0), 4);
  f(fop(0x09, 4, 2, 3, 7), 4);
  f(fop(0x0d, 4, 1, 2, 0), 4, true);
  f(fop(0x0d, 4, 3, 1, 3), 4);
  f(fop(0x2d, 4, 1, 0, 0), 4);
  f(fop(0x2d, 4, 2, 0, 7), 4);
  f(fop(0x2d, 4, 3, 0, 1), 4);
  f(r4(0x43, 1, 4, 0), 4);
  f(r4(0x47, 1, 4, 7), 4, true);
  f(r4(0x4b, 1, 4, 0), 4);
  f(r4(0x4f, 1, 4, 0), 4);
  f(r4(0x43, 1, 4, 1), 4);
  // Compares, min/max, sign injection.
  x(fop(0x51, 23, 1, 2, 2), 23);
  x(fop(0x51, 23, 1, 2, 1), 23);
  x(fop(0x51, 23, 2, 1, 0), 23);
  x(fop(0x51, 0, 1, 3, 1), 0);
  f(fop(0x15, 4, 1, 2, 0), 4);
  f(fop(0x15, 4, 3, 1, 1), 4);
  f(fop(0x11, 4, 1, 2, 0), 4);
  f(fop(0x11, 4, 1, 2, 1), 4);
  f(fop(0x11, 4, 1, 2, 2), 4);
  f(fop(0x11, 4, 3, 3, 1), 4);
  // To integers: every width in every rounding mode.
  for (const [w, rm] of [[0, 1], [1, 0], [2, 7], [3, 2], [2, 3], [0, 4], [1, 7], [3, 1], [2, 0], [0, 2], [1, 1], [3, 0], [1, 3], [3, 7]]) {
    for (const src of [1, 2, 3]) x(fop(0x61, 23, src, w, rm), 23);
  }
  // From integers: the bits of a (most beyond 2^53: slow path) and a shifted down (exact).
  a.w(fop(0x71, 24, 1, 0, 0), rv.srai(25, 24, 20));
  for (const [src, w, rm] of [[24, 2, 7], [24, 3, 0], [24, 0, 0], [24, 1, 0], [25, 2, 0], [25, 3, 2], [25, 0, 7]]) f(fop(0x69, 4, src, w, rm), 4);
  // Between single and double; NaN boxing.
  f(fop(0x20, 5, 1, 1, 0), 5);
  f(fop(0x20, 6, 2, 1, 7), 6);
  f(fop(0x20, 7, 3, 1, 2), 7);
  f(fop(0x21, 4, 5, 0, 0), 4);
  f(fop(0x21, 4, 1, 0, 0), 4);
  f(fop(0x21, 4, 3, 0, 7), 4);
  x(fop(0x71, 23, 1, 0, 1), 23);
  // Singles (fp.ts on tier 2's slow path), with boxed (f5..f7) and maybe unboxed (f1) operands.
  f(fop(0x00, 8, 5, 1, 0), 8);
  f(fop(0x08, 8, 5, 6, 7), 8);
  f(fop(0x10, 8, 5, 1, 1), 8);
  f(fop(0x14, 8, 6, 5, 0), 8);
  f(fop(0x0c, 8, 5, 6, 0), 8);
  f(fop(0x0c, 8, 7, 5, 7), 8, true);
  f(fop(0x04, 8, 6, 7, 0), 8);
  f(fop(0x2c, 8, 5, 0, 0), 8);
  f(fop(0x10, 8, 1, 5, 2), 8);
  f(fop(0x10, 8, 6, 1, 0), 8);
  x(fop(0x50, 23, 5, 7, 1), 23);
  x(fop(0x50, 23, 1, 5, 0), 23);
  f(R4(7, 0, 6, 5, 0, 8, 0x43), 8);
  x(fop(0x50, 23, 6, 5, 2), 23);
  x(fop(0x60, 23, 5, 0, 1), 23);
  x(fop(0x70, 23, 1, 0, 0), 23);
  f(fop(0x78, 9, 24, 0, 0), 9);
  f(fop(0x68, 9, 25, 0, 0), 9);
  x(fop(0x70, 23, 9, 0, 1), 23);
  // Loads and stores move raw bits (an unboxed single stays unboxed through fsd/fld).
  a.w(fp.fsd(1, 11, 0), fp.fsw(2, 11, 12), fp.flw(9, 11, 0), fp.fld(8, 11, 8));
  f(fop(0x79, 4, 24, 0, 0), 4);
  f(fop(0x11, 8, 8, 8, 0), 8);
  f(fop(0x11, 9, 9, 9, 0), 9);
  // fflags and fcsr read, set and cleared by CSR instructions; frm and fcsr read.
  a.w(rv.csrrsi(21, 1, 5), rv.csrrs(26, 3, 0), rv.csrrs(27, 2, 0));
  hashX(26, true); hashX(27, true);
  a.w(rv.addi(26, 0, 0x12), rv.csrrc(21, 1, 26), rv.csrrs(0, 1, 26), rv.csrrci(21, 1, 2), rv.csrrwi(27, 1, 9));
  hashX(27);
  // Flags left standing where the loop goes round and where it leaves (fcsr out of tier 2).
  f(fop(0x0d, 4, 3, 2, 0), 4, true);
  a.w(rv.addi(10, 10, 24), rv.addi(5, 5, -1));
  a.w(rv.beq(5, 0, 8));
  a.w(rv.jal(0, top - a.here));
  a.w(rv.ecall());
  return a;
}

interface Outcome { stop: Stop; instret: number; pc: number; fault: number[]; x: number[]; f: number[]; fcsr: number; data: number[] }

/** The outcome without x3, which holds each run's tag. */
function untagged(o: Outcome): Outcome {
  const x = [...o.x];
  x[6] = x[7] = 0;
  return { ...o, x };
}

function runFp(engine: Engine, frm: number, budget: number, tag: number, stores = DATA + 0x2000): { o: Outcome; cpu: Cpu } {
  const m = resetMemory(fpLoop(tag).bytes());
  const cpu = new Cpu(m, undefined, { engine, promoteAfter: engine === 'auto' ? 2 : undefined });
  return { o: runOn(cpu, m, frm, budget, stores), cpu };
}

/** The loop already at CODE in `m`, run by `cpu` from the start with the table in place. */
function runOn(cpu: Cpu, m: GuestMemory, frm: number, budget: number, stores = DATA + 0x2000): Outcome {
  TABLE.flat().forEach((v, i) => m.view.setBigUint64(DATA + 8 * i, v, true));
  cpu.state.pc = CODE;
  cpu.state.fcsr = frm << 5;
  setReg(cpu, 5, BigInt(TABLE.length));
  setReg(cpu, 10, BigInt(DATA));
  setReg(cpu, 11, BigInt(stores));
  setReg(cpu, 22, 0x9e3779b97f4a7c15n);
  let stop: Stop, last = 0;
  for (;;) {
    stop = cpu.run(budget);
    assert.ok(cpu.instret - last <= budget + LOOP_CHUNK);
    last = cpu.instret;
    if (stop !== Stop.Budget) break;
  }
  const s = cpu.state;
  return {
    stop, instret: cpu.instret, pc: s.pc, fault: [cpu.fault.signal, cpu.fault.code, cpu.fault.addr],
    x: [...s.x], f: [...s.fbits], fcsr: s.fcsr, data: [...m.u8.slice(DATA + 0x2000, DATA + 0x2010)],
  };
}

/** Tier 2 compiled the loop's blocks, and the thread has the f slot they run with (else they would be bound to tier 1). */
function inTier2(cpu: Cpu): void {
  assert.ok(cpu.wasmCompiled > 0, 'tier 2 compiled the F/D loop');
  const m = memory();
  assert.ok(fpSlot(m.memory, new Int32Array(m.memory.buffer)) > 0, 'the thread has an f slot');
}

describe('vcpu tier 2 F/D instructions (WebAssembly)', () => {
  it('a loop of every F/D kind over edge values agrees bit for bit with tiers 0 and 1 (fflags per instruction), under every frm and budget, and runs in tier 2', () => {
    for (const frm of [0, 1, 2, 3, 4]) {
      for (const [bi, budget] of (frm === 0 ? [1, 7, 100, 1_000_000] : [1_000_000]).entries()) {
        // Each engine its own code bytes (a Cpu reuses the blocks another compiled from the same bytes).
        const results = ENGINES.map((engine, ei) => {
          const { o, cpu } = runFp(engine, frm, budget, 100 + 4 * (8 * frm + bi) + ei);
          if (engine === 'wasm') inTier2(cpu);
          return untagged(o);
        });
        for (let i = 1; i < results.length; i++) assert.deepEqual(results[i], results[0], `${ENGINES[i]} vs interp, frm ${frm}, budget ${budget}`);
        assert.equal(results[0].stop, Stop.Syscall);
        assert.equal(results[0].x[2 * 5], 0, 'every pass ran');
      }
    }
  });

  it('with a register slot but no f slot free, a region with F/D runs in tier 1 with the same results', () => {
    const want = untagged(runFp('interp', 0, 1_000_000, 480).o);
    const full = GuestMemory.create();
    const i32 = new Int32Array(full.buffer);
    Atomics.store(i32, 0, 0x7ffe); // every slot but the first taken by other threads
    const code = fpLoop(481).bytes();
    full.u8.set(code, CODE);
    for (let p = 0; p * PAGE_SIZE < code.length; p++) full.pageFlags[CODE / PAGE_SIZE + p] = PAGE_R | PAGE_X;
    for (let p = 0; p < 4; p++) full.pageFlags[DATA / PAGE_SIZE + p] = PAGE_R | PAGE_W;
    const cpu = new Cpu(full, undefined, { engine: 'wasm' });
    const o = untagged(runOn(cpu, full, 0, 1_000_000));
    assert.deepEqual(o, want);
    assert.equal(regSlot(full.memory, i32), 256);
    assert.equal(fpSlot(full.memory, i32), -1);
  });

  it('an F/D store to an unmapped page faults in tier 2 with the f registers and fflags of the instructions before it written back', () => {
    const results = ENGINES.map((engine, ei) => {
      const { o, cpu } = runFp(engine, 0, 1_000_000, 440 + ei, 0x7000_0000);
      if (engine === 'wasm') inTier2(cpu);
      return untagged(o);
    });
    for (let i = 1; i < results.length; i++) assert.deepEqual(results[i], results[0], ENGINES[i]);
    assert.equal(results[0].stop, Stop.Fault);
    assert.equal(results[0].fault[0], 11);
    assert.equal(results[0].fault[2], 0x7000_0000);
    assert.notEqual(results[0].f.slice(8, 10).join(), '0,0', 'f4 written before the fault');
  });

  it('a dynamic rounding mode under a reserved frm is SIGILL at that instruction in tier 2, earlier results written back', () => {
    for (const frm of [5, 6, 7]) {
      const results = ENGINES.map((engine, ei) => {
        const { o, cpu } = runFp(engine, frm, 1_000_000, 400 + 4 * frm + ei);
        if (engine === 'wasm') inTier2(cpu);
        return untagged(o);
      });
      for (let i = 1; i < results.length; i++) assert.deepEqual(results[i], results[0], `${ENGINES[i]} vs interp, frm ${frm}`);
      assert.equal(results[0].stop, Stop.Fault);
      assert.equal(results[0].fault[0], 4);
      // The first dynamic-rounding instruction: fsub.d after fld x3 and fadd.d with its hashing.
      assert.equal(results[0].fault[2], results[0].pc);
    }
  });
});
