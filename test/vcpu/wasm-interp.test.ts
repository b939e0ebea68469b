// Tier 0 in WebAssembly (wasm-interp.ts): on random blocks of the
// instructions it runs (f-register loads, stores and moves among them), and on calls, loops and a fault, it
// must leave exactly what the JavaScript tier 0 (a Cpu forced to `interp`)
// leaves: x and f registers, memory, retired count, the pc it stops at.

import { strict as assert } from 'node:assert';
import { Cpu, Stop } from '../../src/vcpu/cpu.js';
import { PAGE_R, PAGE_W } from '../../src/vcpu/memory.js';
import { Exit, F_SLOT } from '../../src/vcpu/wasm-interp.js';
import { amo, Asm, CODE, DATA, fop, fp, getReg, resetMemory, rtype, rv, setReg } from './asm.js';
import { drive, WasmTier0, XS } from './wasm-tier0.js';

/** A small deterministic generator (xorshift), so that a failure repeats. */
function rng(seed: number): () => number {
  let s = seed >>> 0 || 1;
  return () => { s ^= s << 13; s >>>= 0; s ^= s >>> 17; s ^= s << 5; s >>>= 0; return s; };
}

const BASE = 31; // holds DATA + 2048 throughout: loads and stores are x31 + imm
// f28..f31 hold doubles that are not NaNs and are never written: the compares read them (a NaN is left to
// the JavaScript interpreter, which the random blocks do not model: see the test of leaving below).
const ORDINARY = 28;
const ORDINARY_VALUES = [1.5, -2, 0, -0, 1.5, 3e300, -1e-310];

/** One random instruction of those the module runs (x31 never written; branches skip the next instruction). */
function randomInsn(r: () => number): number {
  const rd = r() % 31, a = r() % 32, b = r() % 32, g = r() % 32, k = r() % 3, imm = (r() % 4096) - 2048, sh = r() % 64, shw = r() % 32, f = r() % ORDINARY, o1 = ORDINARY + (r() % 4), o2 = ORDINARY + (r() % 4);
  const mem = (r() % 2048) - 1024 + ((r() & 1) === 0 ? 0 : 1020);
  const all = [
    () => rv.lui(rd, r() & 0xfffff), () => rv.auipc(rd, r() & 0xfffff), () => rv.addi(rd, a, imm), () => rv.slti(rd, a, imm),
    () => rv.sltiu(rd, a, imm), () => rv.xori(rd, a, imm), () => rv.ori(rd, a, imm), () => rv.andi(rd, a, imm),
    () => rv.slli(rd, a, sh), () => rv.srli(rd, a, sh), () => rv.srai(rd, a, sh), () => rv.addiw(rd, a, imm),
    () => rv.slliw(rd, a, shw), () => rv.srliw(rd, a, shw), () => rv.sraiw(rd, a, shw),
    ...['add', 'sub', 'sll', 'slt', 'sltu', 'xor', 'srl', 'sra', 'or', 'and', 'addw', 'subw', 'sllw', 'srlw', 'sraw', 'mul', 'mulw',
      'div', 'divu', 'rem', 'remu', 'divw', 'divuw', 'remw', 'remuw']
      .map((n) => () => rtype(n, rd, a, b)),
    () => rv.lb(rd, BASE, mem), () => rv.lh(rd, BASE, mem), () => rv.lw(rd, BASE, mem), () => rv.ld(rd, BASE, mem),
    () => rv.lbu(rd, BASE, mem), () => rv.lhu(rd, BASE, mem), () => rv.lwu(rd, BASE, mem),
    () => rv.sb(b, BASE, mem), () => rv.sh(b, BASE, mem), () => rv.sw(b, BASE, mem), () => rv.sd(b, BASE, mem),
    () => fp.flw(f, BASE, mem), () => fp.fld(f, BASE, mem), () => fp.fsw(f, BASE, mem), () => fp.fsd(f, BASE, mem),
    () => fop(0x70, rd, f, 0, 0), () => fop(0x78, f, a, 0, 0), () => fop(0x71, rd, f, 0, 0), () => fop(0x79, f, a, 0, 0),
    ...['amoswap', 'amoadd', 'amoxor', 'amoand', 'amoor'].flatMap((n) => [() => amo(n, false, rd, BASE, b), () => amo(n, true, rd, BASE, b)]),
    () => fop(0x11, f, g, a, k), () => fop(0x51, rd, o1, o2, k), // fsgnj{,n,x}.d; f{le,lt,eq}.d of ordinary doubles
    () => rv.csrrw(rd, 1 + (r() % 3), a), () => rv.csrrs(rd, 1 + (r() % 3), a), () => rv.csrrc(rd, 1 + (r() % 3), a), // fflags, frm, fcsr
    () => rv.csrrwi(rd, 1 + (r() % 3), shw), () => rv.csrrsi(rd, 1 + (r() % 3), shw), () => rv.csrrci(rd, 1 + (r() % 3), shw),
    () => rv.beq(a, b, 8), () => rv.bne(a, b, 8), () => rv.blt(a, b, 8), () => rv.bge(a, b, 8), () => rv.bltu(a, b, 8), () => rv.bgeu(a, b, 8),
  ];
  return all[r() % all.length]();
}

interface Outcome { regs: bigint[]; fbits: number[]; data: Uint8Array; retired: number; pc: number }

function underJs(code: Asm, regs: bigint[], fbits: number[]): Outcome {
  const m = resetMemory(code.bytes());
  seedData(m.u8);
  const cpu = new Cpu(m, undefined, { engine: 'interp', tier0: 'js' });
  cpu.state.pc = CODE;
  regs.forEach((v, i) => { if (i > 0) setReg(cpu, i, v); });
  fbits.forEach((v, i) => { cpu.state.fbits[i] = v; });
  let stop: Stop;
  do stop = cpu.run(1e9); while (stop === Stop.Budget);
  assert.equal(stop, Stop.Syscall);
  return {
    regs: regs.map((_, i) => getReg(cpu, i)), fbits: [...cpu.state.fbits], data: m.u8.slice(DATA, DATA + 8192), retired: cpu.instret - 1, pc: cpu.state.pc - 4,
  };
}

function underWasm(w: WasmTier0, code: Asm, regs: bigint[], fbits: number[]): Outcome {
  const m = resetMemory(code.bytes());
  seedData(m.u8);
  w.reset();
  const i64 = new BigInt64Array(m.buffer);
  const i32 = new Int32Array(m.buffer), fs = (XS + F_SLOT) >> 2;
  regs.forEach((v, i) => { if (i > 0) i64[(XS >> 3) + i] = v; });
  fbits.forEach((v, i) => { i32[fs + i] = v; });
  const { n, pc } = drive(w, i32, CODE, false);
  return { regs: regs.map((_, i) => i64[(XS >> 3) + i]), fbits: fbits.map((_, i) => i32[fs + i]), data: m.u8.slice(DATA, DATA + 8192), retired: n - 1, pc: pc - 4 };
}

function seedData(u8: Uint8Array): void {
  for (let i = 0; i < 8192; i++) u8[DATA + i] = (i * 131 + 7) & 0xff;
}

describe('tier 0 in WebAssembly (wasm-interp.ts)', function () {
  this.timeout(60_000);
  let w: WasmTier0;
  before(() => { w = new WasmTier0(resetMemory(new Uint8Array(4))); });

  it('leaves what the JavaScript tier 0 leaves on 300 random blocks', () => {
    const r = rng(14);
    for (let t = 0; t < 300; t++) {
      const code = new Asm();
      const n = 1 + (r() % 60);
      for (let i = 0; i < n; i++) code.w(randomInsn(r));
      code.w(rv.ecall(), rv.ecall()); // a last branch skips to the second
      const regs: bigint[] = [0n];
      for (let i = 1; i < 32; i++) regs.push(BigInt.asIntN(64, (BigInt(r()) << 32n) | BigInt(r() % 5 === 0 ? 0xffffffff : r())));
      regs[BASE] = BigInt(DATA + 2048);
      const fbits: number[] = [];
      for (let i = 0; i < 64; i++) fbits.push(r() | 0);
      for (let i = ORDINARY; i < 32; i++) {
        const h = new Int32Array(new Float64Array([ORDINARY_VALUES[r() % ORDINARY_VALUES.length]]).buffer);
        fbits[2 * i] = h[0]; fbits[2 * i + 1] = h[1];
      }
      const js = underJs(code, regs, fbits), wa = underWasm(w, code, regs, fbits);
      assert.deepEqual(wa.regs, js.regs, `block ${t}: registers`);
      assert.deepEqual(wa.fbits, js.fbits, `block ${t}: f registers`);
      assert.deepEqual(wa.data, js.data, `block ${t}: memory`);
      assert.equal(wa.retired, js.retired, `block ${t}: retired`);
      assert.equal(wa.pc, js.pc, `block ${t}: the ecall's pc`);
    }
  });

  it('divides as RISC-V does where WebAssembly would trap: by zero, MIN by -1, the W forms', () => {
    // x1 = MIN64, x2 = -1, x3 = 0, x4 = MIN32 sign-extended (with junk above for the W forms: x5), x6 = 7.
    const ops = ['div', 'divu', 'rem', 'remu', 'divw', 'divuw', 'remw', 'remuw'];
    const pairs = [[1, 2], [1, 3], [5, 2], [5, 3], [6, 3], [1, 6], [5, 6], [2, 6]];
    const code = new Asm();
    let rd = 7;
    const want: [number, bigint][] = [];
    for (const [a, b] of pairs) for (const op of ops) { if (rd < 31) code.w(rtype(op, rd, a, b)); rd++; }
    code.w(rv.ecall());
    const regs = new Array<bigint>(32).fill(0n);
    regs[1] = -(1n << 63n); regs[2] = -1n; regs[4] = -(1n << 31n); regs[5] = 0x1234_5678_8000_0000n; regs[6] = 7n;
    const js = underJs(code, regs, []), wa = underWasm(w, code, regs, []);
    assert.deepEqual(wa.regs, js.regs);
    // Spot checks against the ISA manual's table: MIN / -1 = MIN, MIN % -1 = 0, x / 0 = -1, x % 0 = x.
    want.push([7, -(1n << 63n)], [9, 0n], [15, -1n], [17, -(1n << 63n)], [19, -1n], [27, -(1n << 31n)], [29, 0n]);
    for (const [r, v] of want) assert.equal(wa.regs[r], v, `x${r}`);
    assert.equal(wa.retired, 24);
  });

  it('runs calls, returns and loops across blocks (chained), 32- and 16-bit', () => {
    const code = new Asm().w(
      rv.jal(1, 20),          // 0: call 20
      rv.addi(5, 5, -1),      // 4
      rv.bne(5, 0, -8),       // 8 -> 0
      rv.ecall(),             // 12
      rv.ecall(),             // 16
      rtype('add', 10, 10, 5), // 20
    ).c(0x0585)               // 24: c.addi a1, 1
      .w(rv.jalr(0, 1, 0));   // 26: return
    const regs = new Array<bigint>(32).fill(0n);
    regs[5] = 1000n;
    const js = underJs(code, regs, []), wa = underWasm(w, code, regs, []);
    assert.deepEqual(wa.regs, js.regs);
    assert.equal(wa.regs[10], 500500n);
    assert.equal(wa.regs[11], 1000n);
    assert.equal(wa.retired, js.retired);
    assert.equal(wa.retired, 6000);
  });

  it('leaves before a compare with a NaN and before a misaligned AMO (for the JavaScript interpreter)', () => {
    for (const [insn, setup] of [
      [fop(0x51, 7, 1, 2, 1), (i64: BigInt64Array) => { i64[(XS + F_SLOT) / 8 + 1] = 0x7ff8_0000_0000_0000n; }], // flt.d x7, f1(NaN), f2
      [amo('amoswap', false, 7, 9, 6), (i64: BigInt64Array) => { i64[XS / 8 + 9] = BigInt(DATA + 2); }], // misaligned
      [rv.csrrs(7, 0xc01, 0), () => undefined], // rdtime: csr.ts's
    ] as [number, (i64: BigInt64Array) => void][]) {
      const code = new Asm().w(rv.addi(6, 0, 1), insn, rv.ecall());
      const m = resetMemory(code.bytes());
      m.pageFlags[(DATA >>> 12)] = PAGE_R | PAGE_W;
      w.reset();
      const i32 = new Int32Array(m.buffer), i64 = new BigInt64Array(m.buffer);
      setup(i64);
      const n = w.run(w.block(CODE), 16384, XS, 0, 0x7fffffff);
      assert.equal(n, 1);
      assert.equal(i32[(XS + 280) >> 2], Exit.UNSUPPORTED);
      assert.equal(i32[(XS + 264) >> 2], CODE + 4);
      assert.equal(i64[XS / 8 + 7], 0n);
    }
  });

  it('leaves before a faulting load with the instructions before it retired', () => {
    const code = new Asm().w(rv.addi(6, 0, 1), rv.addi(7, 0, 2), rv.ld(8, 9, 0), rv.ecall());
    const m = resetMemory(code.bytes());
    m.pageFlags[(DATA >>> 12)] = PAGE_R | PAGE_W;
    w.reset();
    const i32 = new Int32Array(m.buffer), i64 = new BigInt64Array(m.buffer);
    i64[(XS >> 3) + 9] = 0x7000_0000n; // unmapped
    const n = w.run(w.block(CODE), 16384, XS, 0, 0x7fffffff);
    assert.equal(n, 2);
    assert.equal(i32[(XS + 280) >> 2], Exit.FAULT | (8 << 4) | (PAGE_R << 8));
    assert.equal(i64[(XS + 264) >> 3], BigInt(CODE + 8));
    assert.equal(i64[(XS + 272) >> 3], 0x7000_0000n);
    assert.equal(i64[(XS >> 3) + 7], 2n);
    assert.equal(i64[(XS >> 3) + 8], 0n);
  });
});
