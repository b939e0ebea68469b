// Tier 0 in WebAssembly (wasm-interp.ts): on random blocks of the
// instructions it runs (f-register loads, stores and moves among them), and on calls, loops and a fault, it
// must leave exactly what the JavaScript tier 0 (a Cpu forced to `interp`)
// leaves: x and f registers, memory, retired count, the pc it stops at.

import { strict as assert } from 'node:assert';
import { Cpu, Stop } from '../../src/vcpu/cpu.js';
import { ThreadState } from '../../src/vcpu/state.js';
import { ENGINE_BASE, GuestMemory, PAGE_R, PAGE_W, PAGE_X } from '../../src/vcpu/memory.js';
import { ENGINE_CLAIM, ENGINE_REGION } from '../../src/vcpu/interp-wasm.js';
import { engineStats } from '../../src/vcpu/engine-stats.js';
import { Exit, F_SLOT, FCSR_SLOT } from '../../src/vcpu/wasm-interp.js';
import { amo, Asm, CODE, DATA, fop, fp, getReg, R4, resetMemory, rtype, rv, setReg } from './asm.js';
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
    ...['add', 'sub', 'sll', 'slt', 'sltu', 'xor', 'srl', 'sra', 'or', 'and', 'addw', 'subw', 'sllw', 'srlw', 'sraw', 'mul', 'mulw', 'mulh', 'mulhsu', 'mulhu',
      'div', 'divu', 'rem', 'remu', 'divw', 'divuw', 'remw', 'remuw']
      .map((n) => () => rtype(n, rd, a, b)),
    () => rv.lb(rd, BASE, mem), () => rv.lh(rd, BASE, mem), () => rv.lw(rd, BASE, mem), () => rv.ld(rd, BASE, mem),
    () => rv.lbu(rd, BASE, mem), () => rv.lhu(rd, BASE, mem), () => rv.lwu(rd, BASE, mem),
    () => rv.sb(b, BASE, mem), () => rv.sh(b, BASE, mem), () => rv.sw(b, BASE, mem), () => rv.sd(b, BASE, mem),
    () => fp.flw(f, BASE, mem), () => fp.fld(f, BASE, mem), () => fp.fsw(f, BASE, mem), () => fp.fsd(f, BASE, mem),
    () => fop(0x70, rd, f, 0, 0), () => fop(0x78, f, a, 0, 0), () => fop(0x71, rd, f, 0, 0), () => fop(0x79, f, a, 0, 0),
    ...['amoswap', 'amoadd', 'amoxor', 'amoand', 'amoor'].flatMap((n) => [() => amo(n, false, rd, BASE, b), () => amo(n, true, rd, BASE, b)]),
    // LR/SC on x31's word: an sc pairs with the last lr of its size (the stores between may change the word), or fails.
    () => amo('lr', false, rd, BASE, 0), () => amo('lr', true, rd, BASE, 0), () => amo('sc', false, rd, BASE, b), () => amo('sc', true, rd, BASE, b),
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

  /**
   * `code` run to its ecall from CODE with x5 = 50 on a Cpu whose tier 0 is the module; then the block at
   * CODE + `leaf` synced as the Cpu's heatOf does for each block a trace or region looks at: a0, and the pc of
   * the block the leaf is linked to (Block.next), the epoch of that link and the Cpu's.
   */
  function runLinked(code: Asm, leaf: number): { a0: bigint; next: number | undefined; linkEpoch: number; codeEpoch: number } {
    const cpu = new Cpu(resetMemory(code.bytes()), undefined, { engine: 'interp', tier0: 'wasm' });
    cpu.state.pc = CODE;
    setReg(cpu, 5, 50n);
    let stop: Stop;
    do stop = cpu.run(1e9); while (stop === Stop.Budget);
    type B = { next: { pc: number } | null; linkEpoch: number };
    const inner = cpu as unknown as { table: { byPc: Map<number, B> }; t0w: { sync(b: B): void }; codeEpoch: number };
    const b = inner.table.byPc.get(CODE + leaf);
    assert.ok(b !== undefined);
    inner.t0w.sync(b);
    return { a0: getReg(cpu, 10), next: b.next?.pc, linkEpoch: b.linkEpoch, codeEpoch: inner.codeEpoch };
  }

  it('links a block to the block it returns into, entered before (Block.next, which traces follow from a jalr)', () => {
    // A loop calling a leaf at 20 whose return (a jalr) goes back to 4, a block the loop entered before.
    const code = new Asm().w(
      rv.jal(1, 20),          // 0: call 20
      rv.addi(5, 5, -1),      // 4
      rv.bne(5, 0, -8),       // 8 -> 0
      rv.ecall(),             // 12
      rv.ecall(),             // 16
      rtype('add', 10, 10, 5), // 20
      rv.jalr(0, 1, 0));      // 24: return
    const { a0, next, linkEpoch, codeEpoch } = runLinked(code, 20);
    assert.equal(next, CODE + 4);
    assert.equal(linkEpoch, codeEpoch);
    assert.equal(a0, 1275n);
  });

  it('links a leaf to a return site entered before by a jump (a chaining hit: the link the module writes, which Tier0Wasm.sync brings in)', () => {
    // Block 0 jumps to 12 first; the loop at 4 then calls the leaf at 24, whose return goes to 12, already entered.
    const code = new Asm().w(
      rv.jal(0, 12),          // 0: -> 12
      rv.addi(5, 5, -1),      // 4
      rv.jal(1, 16),          // 8: call 24
      rv.bne(5, 0, -8),       // 12 -> 4
      rv.ecall(),             // 16
      rv.ecall(),             // 20
      rtype('add', 10, 10, 5), // 24
      rv.jalr(0, 1, 0));      // 28: return to 12
    const { a0, next, linkEpoch, codeEpoch } = runLinked(code, 24);
    assert.equal(a0, 1225n);
    assert.equal(next, CODE + 12);
    assert.equal(linkEpoch, codeEpoch);
  });

  it('runs an lr/sc loop itself and pairs its LR and SC with the JavaScript interpreter\'s both ways (the reservation crosses the tiers)', () => {
    // x31 = DATA + 2048, x12 = DATA + 64. A block whose first instruction the module leaves (amomin.w) runs whole in the JavaScript
    // interpreter: there the lr of the first pair and the sc of the second run; the module runs the others.
    const code = new Asm().w(
      amo('amomin', false, 0, 12, 0),   // 0: a JavaScript block: amomin.w x0, x0, (x12) (the lock's word, 0: unchanged)
      amo('lr', false, 6, BASE, 0),     // 4: lr.w x6, (x31)   (the JavaScript interpreter's reservation)
      rv.jal(0, 8),                     // 8: -> 16
      rv.ecall(),                       // 12
      rv.addi(6, 6, 5),                 // 16: the module: x6 + 5
      amo('sc', false, 7, BASE, 6),     // 20: sc.w x7, x6, (x31): pairs with the lr at 4
      amo('lr', true, 8, BASE, 0),      // 24: lr.d x8, (x31)   (the module's reservation)
      rv.addi(8, 8, 1),                 // 28
      rv.jal(0, 8),                     // 32: -> 40
      rv.ecall(),                       // 36
      amo('amomin', false, 0, 12, 0),   // 40: a JavaScript block
      amo('sc', true, 9, BASE, 8),      // 44: sc.d x9, x8, (x31): pairs with the lr at 24
      amo('sc', true, 10, BASE, 8),     // 48: sc.d again: no reservation left, fails
      // A lock taken and given back as glibc takes it: 1: lr.w; bnez -> 1; sc.w; bnez -> 1.
      amo('lr', false, 11, 12, 0),      // 52: lr.w x11, (x12)
      rv.bne(11, 0, -4),                // 56
      amo('sc', false, 13, 12, 14),     // 60: sc.w x13, x14, (x12)
      rv.bne(13, 0, -12),               // 64 -> 52
      rv.ecall());                      // 68
    const m = resetMemory(code.bytes());
    const cpu = new Cpu(m, undefined, { engine: 'interp', tier0: 'wasm' });
    cpu.state.pc = CODE;
    setReg(cpu, BASE, BigInt(DATA + 2048));
    setReg(cpu, 12, BigInt(DATA + 64));
    setReg(cpu, 14, 1n);
    const dv = new DataView(m.buffer);
    dv.setBigInt64(DATA + 2048, 0x1234_5678_0000_0010n, true);
    dv.setInt32(DATA + 64, 0, true);
    let stop: Stop;
    do stop = cpu.run(1e9); while (stop === Stop.Budget);
    assert.equal(stop, Stop.Syscall);
    assert.equal(cpu.state.pc, CODE + 72);
    assert.equal(getReg(cpu, 7), 0n, 'the module\'s sc took the JavaScript interpreter\'s reservation');
    assert.equal(getReg(cpu, 9), 0n, 'the JavaScript interpreter\'s sc took the module\'s reservation');
    assert.equal(getReg(cpu, 10), 1n, 'a second sc fails');
    assert.equal(getReg(cpu, 13), 0n);
    assert.equal(dv.getInt32(DATA + 64, true), 1, 'the lock is taken');
    // The word: its low half 0x10 + 5 by the sc.w, then the whole + 1 by the sc.d.
    assert.equal(dv.getBigInt64(DATA + 2048, true), 0x1234_5678_0000_0016n);
  });

  it('keeps every register across its entries and exits (one block copy each way of ThreadState.file): x0 stays 0, f and fcsr survive, the file\'s gap is no register', () => {
    const m = GuestMemory.create();
    const code = new Asm().w(
      rv.addi(0, 1, 5),        // 0: a write to x0 (the slot's sink word)
      rv.addi(5, 5, 1),        // 4
      rv.ecall(),              // 8
      rv.addi(6, 6, 1),        // 12
      fop(0x79, 3, 6, 0, 0),   // 16: fmv.d.x f3, x6
      fop(0x71, 7, 4, 0, 0),   // 20: fmv.x.d x7, f4
      rv.ecall());             // 24
    m.u8.set(code.bytes(), CODE);
    m.pageFlags[CODE >>> 12] = PAGE_R | PAGE_X;
    const cpu = new Cpu(m, undefined, { engine: 'interp', tier0: 'wasm' });
    const s = cpu.state;
    s.pc = CODE;
    const xv = (i: number) => (BigInt(i) << 40n) | (0x1234n * BigInt(i)) | (i % 2 ? 1n << 63n : 0n);
    for (let i = 1; i < 32; i++) setReg(cpu, i, BigInt.asIntN(64, xv(i)));
    for (let i = 0; i < 64; i++) s.fbits[i] = (i * 0x9e3779b9) | 0;
    s.fcsr = (3 << 5) | 0x15;
    // Whatever the file's gap holds is not the thread's.
    s.file.fill(0x7eadbeef, 64, ThreadState.FILE_F_OFFSET / 4);
    const fbits = [...s.fbits];
    const run = () => { let stop: Stop; do stop = cpu.run(1e9); while (stop === Stop.Budget); assert.equal(stop, Stop.Syscall); };
    run();
    assert.equal(s.pc, CODE + 12);
    assert.equal(getReg(cpu, 0), 0n, 'x0');
    assert.equal(s.x[0], 0);
    assert.equal(s.x[1], 0);
    for (let i = 1; i < 32; i++) assert.equal(BigInt.asUintN(64, getReg(cpu, i)), BigInt.asUintN(64, xv(i) + (i === 5 ? 1n : 0n)), `x${i}`);
    assert.deepEqual([...s.fbits], fbits);
    assert.equal(s.fcsr, (3 << 5) | 0x15);
    // The kernel answers the call (a0) and changes an f register and fcsr: the next entry takes them.
    s.setS(10, 42);
    s.fbits[8] = 0x11223344; s.fbits[9] = 0x55667788;
    s.fcsr = 1 << 5;
    s.file.fill(0x5a5a5a5a, 64, ThreadState.FILE_F_OFFSET / 4);
    run();
    assert.equal(s.pc, CODE + 28);
    assert.equal(getReg(cpu, 10), 42n);
    assert.equal(BigInt.asUintN(64, getReg(cpu, 7)), 0x5566778811223344n, 'x7 = f4 as the kernel left it');
    assert.equal(s.fbits[6], s.x[12]);
    assert.equal(s.fbits[7], s.x[13], 'f3 = x6');
    assert.equal(BigInt.asUintN(64, getReg(cpu, 6)), BigInt.asUintN(64, xv(6) + 1n));
    assert.equal(s.fcsr, 1 << 5);
    assert.equal(getReg(cpu, 0), 0n);
  });

  it('runs every region base with the one module (the base comes with the register slot): a thread in the second region leaves the first untouched', () => {
    const m = GuestMemory.create();
    // Another thread holds region 0 of this memory: this thread's Cpu takes region 1.
    Atomics.or(new Int32Array(m.buffer), ENGINE_CLAIM >> 2, 1);
    const code = new Asm().w(
      rv.lui(6, DATA >> 12),   // 0: x6 = DATA
      rv.jal(1, 28),           // 4: call 32
      rv.sd(5, 6, 0),          // 8
      rv.ld(7, 6, 0),          // 12
      rtype('add', 10, 10, 7), // 16
      rv.addi(5, 5, -1),       // 20
      rv.bne(5, 0, -20),       // 24 -> 4
      rv.ecall(),              // 28
      rv.addi(11, 11, 1),      // 32: the leaf
      rv.jalr(0, 1, 0));       // 36: return
    m.u8.set(code.bytes(), CODE);
    m.pageFlags[CODE >>> 12] = PAGE_R | PAGE_X;
    m.pageFlags[DATA >>> 12] = PAGE_R | PAGE_W;
    const cpu = new Cpu(m, undefined, { engine: 'interp', tier0: 'wasm' });
    cpu.state.pc = CODE;
    setReg(cpu, 5, 100n);
    let stop: Stop;
    do stop = cpu.run(1e9); while (stop === Stop.Budget);
    assert.equal(stop, Stop.Syscall);
    assert.equal(getReg(cpu, 10), 5050n);
    assert.equal(getReg(cpu, 11), 100n);
    assert.equal(cpu.state.pc, CODE + 32);
    const used = (base: number) => m.u8.subarray(base, base + ENGINE_REGION).some((x) => x !== 0);
    assert.ok(used(ENGINE_BASE + ENGINE_REGION), "region 1 holds the thread's chaining entries, tables and records");
    assert.ok(!used(ENGINE_BASE), 'region 0 was written: the module took another base than its register slot\'s');
    // One module in this thread, whatever the number of regions and memories it ran.
    assert.equal(engineStats.tier0Modules, 1);
  });

  it('leaves before a rounding mode other than RNE, a reserved frm and a misaligned AMO (for the JavaScript interpreter)', () => {
    for (const [insn, setup] of [
      [fop(0x01, 7, 1, 2, 3), () => undefined], // fadd.d f7, f1, f2, rup
      [fop(0x01, 7, 1, 2, 7), (i64: BigInt64Array) => { i64[(XS + FCSR_SLOT) / 8] = 2n << 5n; }], // fadd.d, dyn, frm = rdn
      [fop(0x61, 7, 1, 0, 7), (i64: BigInt64Array) => { i64[(XS + FCSR_SLOT) / 8] = 5n << 5n; }], // fcvt.w.d x7, f1, dyn, frm reserved
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
      assert.equal(i64[(XS + F_SLOT) / 8 + 7], 0n);
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

// ---------------------------------------------------------------------------
// F/D arithmetic (wasm-interp-fp.ts): tier 2's code per instruction, its slow path through fp.ts.

const D_VALUES = [0, -0, 1, -1, 1.5, 0.1, -3, 2 ** 53 + 2, 1e308, -1.7976931348623157e308, 5e-324, -2.2250738585072014e-308, 1e-310,
  Infinity, -Infinity, 2147483647.5, -2147483648.7, 4294967295.5, 9.3e18, 1.9e19, -9.3e18, 123456.75, 0.5, 2.5];
const S_VALUES = [0, -0, 1, -1.5, 0.1, 3.4028234663852886e38, 1.401298464324817e-45, 1.1754943508222875e-38, Infinity, -Infinity, 16777217, 2.5, -7.25];
const NAN_BITS = [[0, 0x7ff80000], [1, 0x7ff00000], [0x1234, 0xfff40000], [0x7fc00000, -1], [0x7f800001, -1], [0xffa00000 | 0, -1], [0x3f800000, 0]];

/** Bits of f register values: doubles, NaN-boxed singles, NaNs (quiet, signalling, with payloads), a single not boxed, random bits. */
function randomF(r: () => number): [number, number] {
  const k = r() % 10;
  if (k < 4) { const h = new Int32Array(new Float64Array([D_VALUES[r() % D_VALUES.length] * (k === 0 ? 1 + (r() % 1000) / 7 : 1)]).buffer); return [h[0], h[1]]; }
  if (k < 7) { const h = new Int32Array(new Float32Array([S_VALUES[r() % S_VALUES.length] * (k === 4 ? 1 + (r() % 100) / 3 : 1)]).buffer); return [h[0], -1]; }
  if (k < 8) return NAN_BITS[r() % NAN_BITS.length] as [number, number];
  return [r() | 0, k === 8 ? -1 : r() | 0];
}

/** One random F/D arithmetic instruction, rounding mode `rm(isToInt)` (f and x registers 1..30, x31 the base). */
function randomFpInsn(r: () => number, rm: (toInt: boolean) => number): number {
  const d = 1 + (r() % 30), a = 1 + (r() % 30), b = 1 + (r() % 30), c = 1 + (r() % 30), fmt = r() & 1, m = rm(false);
  const all = [
    ...[0x00, 0x04, 0x08, 0x0c].map((f7) => () => fop(f7 | fmt, d, a, b, m)), // fadd, fsub, fmul, fdiv
    () => fop(0x2c | fmt, d, a, 0, m), // fsqrt
    () => fop(0x10 | fmt, d, a, b, r() % 3), () => fop(0x14 | fmt, d, a, b, r() % 2), // fsgnj*, fmin/fmax
    () => fop(0x50 | fmt, d, a, b, r() % 3), () => fop(0x70 | fmt, d, a, 0, 1), // fle/flt/feq, fclass
    () => fop(0x60 | fmt, d, a, r() % 4, rm(true)), () => fop(0x68 | fmt, d, a, r() % 4, m), // fcvt to and from w/wu/l/lu
    () => fop(0x20, d, a, 1, m), () => fop(0x21, d, a, 0, m), // fcvt.s.d, fcvt.d.s
    ...[0x43, 0x47, 0x4b, 0x4f].map((op) => () => R4(c, fmt, b, a, m, d, op)), // fmadd, fmsub, fnmsub, fnmadd
    () => fop(0x78 | fmt, d, a, 0, 0), () => fop(0x79 - 8 + 8 * fmt, d, a, 0, 0), // fmv from x (the other way: fmv.x.*)
  ];
  return all[r() % all.length]();
}

interface FpOutcome { regs: bigint[]; fbits: number[]; fcsr: number; pc: number; stop: number }

function fpSetup(r: () => number): { regs: bigint[]; fbits: number[] } {
  const regs: bigint[] = [0n];
  const ints = [0n, 1n, -1n, 1n << 53n, (1n << 53n) + 1n, -(1n << 63n), (1n << 63n) - 1n, 0xffffffffn, 0x80000000n, 16777217n];
  for (let i = 1; i < 32; i++) regs.push(r() % 2 === 0 ? ints[r() % ints.length] : BigInt.asIntN(64, (BigInt(r()) << 32n) | BigInt(r())));
  const fbits: number[] = [];
  for (let i = 0; i < 32; i++) fbits.push(...randomF(r));
  return { regs, fbits };
}

/** Under a Cpu of tier 0 alone, its interpreter `tier0`: the module (and the JavaScript interpreter for what it leaves), or JavaScript alone. */
function fpUnderCpu(tier0: 'js' | 'wasm', code: Asm, regs: bigint[], fbits: number[], fcsr: number): FpOutcome {
  const m = resetMemory(code.bytes());
  const cpu = new Cpu(m, undefined, { engine: 'interp', tier0 });
  cpu.state.pc = CODE;
  regs.forEach((v, i) => { if (i > 0) setReg(cpu, i, v); });
  fbits.forEach((v, i) => { cpu.state.fbits[i] = v; });
  cpu.state.fcsr = fcsr;
  let stop: Stop;
  do stop = cpu.run(1e9); while (stop === Stop.Budget);
  return { regs: regs.map((_, i) => getReg(cpu, i)), fbits: [...cpu.state.fbits], fcsr: cpu.state.fcsr, pc: cpu.state.pc, stop };
}

describe('tier 0 in WebAssembly: F/D arithmetic (wasm-interp-fp.ts)', function () {
  this.timeout(120_000);
  let w: WasmTier0;
  before(() => { w = new WasmTier0(resetMemory(new Uint8Array(4))); });

  it('runs 400 random blocks of F/D arithmetic under round-to-nearest (conversions to integers also under RTZ) in the module, as the JavaScript tier 0 does', () => {
    const r = rng(61);
    let slow = 0;
    for (let t = 0; t < 400; t++) {
      const code = new Asm();
      const n = 1 + (r() % 40);
      for (let i = 0; i < n; i++) code.w(randomFpInsn(r, (toInt) => (toInt ? [0, 1, 7][r() % 3] : [0, 7][r() % 2])));
      code.w(rv.ecall());
      const { regs, fbits } = fpSetup(r);
      const fcsr = r() % 32; // frm 0 (RNE), some flags already raised
      const js = fpUnderCpu('js', code, regs, fbits, fcsr);
      const m = resetMemory(code.bytes());
      w.reset();
      const i64 = new BigInt64Array(m.buffer), i32 = new Int32Array(m.buffer), fs = (XS + F_SLOT) >> 2;
      regs.forEach((v, i) => { if (i > 0) i64[(XS >> 3) + i] = v; });
      fbits.forEach((v, i) => { i32[fs + i] = v; });
      i32[(XS + FCSR_SLOT) >> 2] = fcsr;
      const got = drive(w, i32, CODE, false);
      assert.equal(got.pc, js.pc, `block ${t}: ran to the ecall in the module`);
      assert.equal(got.n, n + 1, `block ${t}: retired`);
      assert.deepEqual(regs.map((_, i) => i64[(XS >> 3) + i]), js.regs, `block ${t}: x registers`);
      assert.deepEqual(fbits.map((_, i) => i32[fs + i]), js.fbits, `block ${t}: f registers`);
      assert.equal(i32[(XS + FCSR_SLOT) >> 2], js.fcsr, `block ${t}: fcsr`);
      if (js.fcsr !== fcsr) slow++;
    }
    assert.ok(slow > 100, `flags raised in ${slow} blocks`);
  });

  it('leaves what the JavaScript tier 0 leaves in every rounding mode, static and dynamic, reserved frm included (400 random blocks)', () => {
    const r = rng(62);
    for (let t = 0; t < 400; t++) {
      const code = new Asm();
      const n = 1 + (r() % 40);
      for (let i = 0; i < n; i++) code.w(randomFpInsn(r, () => [0, 1, 2, 3, 4, 7, 7, 7][r() % 8]));
      code.w(rv.ecall());
      const { regs, fbits } = fpSetup(r);
      const fcsr = ([0, 0, 0, 1, 2, 3, 4, 5, 7][r() % 9] << 5) | (r() % 32);
      const js = fpUnderCpu('js', code, regs, fbits, fcsr), wa = fpUnderCpu('wasm', code, regs, fbits, fcsr);
      assert.deepEqual(wa, js, `block ${t}`);
    }
  });
});
