// Tier 2's F and D instructions: wasm-tier.ts hands every F/D instruction of
// a region to emitFp, which writes its WebAssembly into the region's body.
//
// Contract:
// - The f registers live in f64 locals that hold their bit patterns (a
//   NaN-boxed single included): only loads, stores, locals and the
//   reinterpret/bitwise operations touch them, which keep every bit. Wasm
//   arithmetic never writes a register with a NaN: a NaN operand or result
//   takes the slow path.
// - Every instruction matches fp.ts (tier 1) bit for bit, fflags included.
//   Loads, stores, moves and sign injection are exact bit operations. The
//   D arithmetic, add/sub/mul/div/sqrt.s, compares, min/max.d and the
//   conversions between double and integer or single have a fast path
//   under round-to-nearest (or the
//   rounding mode a conversion names), in the ranges fp.ts's own fast path
//   takes (fp-rounding.ts SMALL, BIG...), with the inexact flag from the
//   same error-free transformations; it is computed only while fflags do
//   not hold NX yet (the flags are sticky, and a region writes no CSR).
//   Anything else (NaNs, infinities, results near overflow or underflow,
//   other rounding modes, fma and conversions of singles, fclass) is the slow
//   path: the operands are stored into the thread's slots, the imported
//   `fx(index, flags)` runs fp.ts's own helper for that instruction on the
//   thread's state (slowPathSource) and returns the flags, and the result
//   is reloaded from the slot.
// - A dynamic rounding mode under a reserved frm is SIGILL at the
//   instruction, as in tier 1 (a region writes no CSR, so frm is the one
//   passed in at entry).
// - fflags live in the i32 local `ff` (from fcsr at entry; raised by the
//   instructions, read and written by the fflags CSR instructions tier 2
//   takes, isFpCsr); wasm-tier.ts returns them in bits 24..28 of the
//   function's result, and bindRegion puts them into fcsr.

import type { Insn } from './decode.js';
import { fpHelper } from './codegen.js';
import { FP_RM_OPS } from './ops.js';
import { PAGE_R } from './memory.js';
import { BIG, SMALL, SMALL_FMA, SMALL_S } from './fp-rounding.js';
import { type Body, W } from './wasm-encode.js';

const VOID = 0x40;
const SIGN = -(2 ** 63), SIGN_S = -(2 ** 31), CANON_S = 0x7fc00000;
const HIGH_ONES = -(2 ** 32);
const SPLITTER = 134217729; // 2^27 + 1, as fp-rounding.ts prodErr
const INF = Infinity;

/** Whether `op` is an F/D instruction (emitFp's). */
export function isFp(op: string): boolean {
  return op.charCodeAt(0) === 102 /* f */ && !op.startsWith('fence');
}

const CSR_OPS: Readonly<Record<string, number>> = { csrrw: 1, csrrs: 2, csrrc: 3, csrrwi: 5, csrrsi: 6, csrrci: 7 };

/**
 * Whether `ins` is a CSR instruction tier 2 runs (emitFp): any access to
 * fflags, a read of frm or fcsr that writes neither (frm stays the one the
 * region was entered with). As csr.ts csrAccess.
 */
export function isFpCsr(ins: Insn): boolean {
  const kind = CSR_OPS[ins.op];
  if (kind === undefined) return false;
  const writes = (kind & 3) === 1 || (kind >= 5 ? ins.imm !== 0 : ins.rs1 !== 0);
  return ins.csr === 1 || ((ins.csr === 2 || ins.csr === 3) && !writes);
}

/** The registers an F/D instruction reads and writes: f sources, f destination, x sources, x destination (-1: none). */
export function fpRegs(ins: Insn): { fs: number[]; fd: number; xs: number[]; xd: number } {
  const { op, rd, rs1, rs2 } = ins;
  if (op in CSR_OPS) return { fs: [], fd: -1, xs: CSR_OPS[op] >= 5 ? [] : [rs1], xd: rd };
  if (op === 'flw' || op === 'fld') return { fs: [], fd: rd, xs: [rs1], xd: -1 };
  if (op === 'fsw' || op === 'fsd') return { fs: [rs2], fd: -1, xs: [rs1], xd: -1 };
  if (/^(fmv\.x\.|fclass\.|fcvt\.[wl]u?\.)/.test(op)) return { fs: [rs1], fd: -1, xs: [], xd: rd };
  if (/^f(eq|lt|le)\./.test(op)) return { fs: [rs1, rs2], fd: -1, xs: [], xd: rd };
  if (/^(fmv\.[wd]\.x|fcvt\.[sd]\.[wl])/.test(op)) return { fs: [], fd: rd, xs: [rs1], xd: -1 };
  if (/^(fsqrt|fcvt)\./.test(op)) return { fs: [rs1], fd: rd, xs: [], xd: -1 };
  if (/^f(n?madd|n?msub)\./.test(op)) return { fs: [rs1, rs2, ins.rs3], fd: rd, xs: [], xd: -1 };
  return { fs: [rs1, rs2], fd: rd, xs: [], xd: -1 };
}

/** What emitFp needs of the region being compiled (wasm-tier.ts). */
export interface FpEmitter {
  readonly b: Body;
  /** Push x register r (i64; x0 is 0). */
  x(r: number): void;
  /** Pop an i64 into x register rd (dropped for x0). */
  setX(rd: number): void;
  /** The f64 local of f register r. */
  f(r: number): number;
  /** The checked address of an access, into the i32 local `ai` (wasm-tier.ts address). */
  address(ins: Insn, pc: number, k: number, size: number, need: number): void;
  readonly ai: number;
  /** A checked store of `size` bytes, `emit` the wasm store at ai (wasm-tier.ts store: a store into decoded code drops it and leaves the region after it). */
  store(ins: Insn, pc: number, k: number, size: number, emit: () => void): void;
  /** Leave with SIGILL at `pc`, k instructions of the segment retired (inside an `if` of open/close). */
  trapIll(pc: number, k: number): void;
  open(): void;
  close(): void;
  /** Parameter: fcsr at entry (i32). */
  readonly fcsr: number;
  /** Push the x slot's and the f slot's addresses (i32), where the slow path passes operands and results. */
  slot(): void;
  fslot(): void;
  /** Locals: fflags (i32), 18 f64 scratch, one i64 and one i32 scratch. */
  readonly ff: number;
  readonly d: readonly number[];
  readonly t: number;
  readonly t32: number;
  /** The import index of fx. */
  readonly fx: number;
  /** The index fx knows `ins` by (slowPathSource's case). */
  slow(ins: Insn): number;
}

/** Conversions to an integer: [lowest valid, one past the highest valid] result. */
const INT_RANGE: Readonly<Record<string, [number, number]>> = { w: [-(2 ** 31), 2 ** 31], wu: [0, 2 ** 32], l: [-(2 ** 63), 2 ** 63], lu: [0, 2 ** 64] };
const ROUND: Readonly<Record<number, W>> = { 0: W.f64Nearest, 1: W.f64Trunc, 2: W.f64Floor, 3: W.f64Ceil, 7: W.f64Nearest };

/** F/D instruction `ins` at `pc`, the k-th of its segment. */
export function emitFp(e: FpEmitter, ins: Insn, pc: number, k: number): void {
  const { b } = e;
  const { op, rd, rs1, rs2, rm } = ins;
  const F = (r: number): number => e.f(r);
  // Value locals, then scratch for the error terms and range tests.
  const [A, B, C, P, R, PE, TH, TL, V0, VE, V, BV, AV, AH, AL, BH, BL, AB] = e.d;
  if (FP_RM_OPS.has(op) && rm === 7) {
    b.get(e.fcsr).i32(224).op(W.i32And).i32(128).op(W.i32GtU).hint(0);
    e.open();
    e.trapIll(pc, k);
    e.close();
  }

  /** i32: lo <= |v| < hi. */
  const absIn = (v: number, lo: number, hi: number): void => {
    b.get(v).op(W.f64Abs).tee(AB).f64(lo).op(W.f64Ge).get(AB).f64(hi).op(W.f64Lt, W.i32And);
  };
  const absLt = (v: number, hi: number): void => { b.get(v).op(W.f64Abs).f64(hi).op(W.f64Lt); };
  /** Leave for the slow path (the enclosing block `depth` out) unless the i32 on the stack is set. */
  const orSlow = (depth = 0): void => { b.op(W.i32Eqz).hint(0).op(W.brIf, depth); };
  /** Push fp-rounding.ts sumErr(a, b, s). */
  const sumErr = (a: number, bb: number, s: number): void => {
    b.get(s).get(a).op(W.f64Sub).set(BV);
    b.get(s).get(BV).op(W.f64Sub).set(AV);
    b.get(a).get(AV).op(W.f64Sub).get(bb).get(BV).op(W.f64Sub, W.f64Add);
  };
  const split = (v: number, h: number, l: number): void => {
    b.f64(SPLITTER).get(v).op(W.f64Mul).tee(h).get(h).get(v).op(W.f64Sub, W.f64Sub).set(h);
    b.get(v).get(h).op(W.f64Sub).set(l);
  };
  /** Push fp-rounding.ts prodErr(a, bb, p). */
  const prodErr = (a: number, bb: number, p: number): void => {
    split(a, AH, AL);
    split(bb, BH, BL);
    b.get(AH).get(BH).op(W.f64Mul).get(p).op(W.f64Sub).get(AH).get(BL).op(W.f64Mul, W.f64Add);
    b.get(AL).get(BH).op(W.f64Mul, W.f64Add).get(AL).get(BL).op(W.f64Mul, W.f64Add);
  };
  /** For a rounded result R of A / x (or of sqrt(A), x = R): pushes an f64 that is 0 only when R * x is A exactly (no rounding in R). */
  const unlessExact = (x: number): void => {
    b.get(R).get(x).op(W.f64Mul).tee(P).get(A).op(W.f64Ne, W.f64ConvertI32U);
    prodErr(R, x, P);
    b.op(W.f64Abs, W.f64Add);
  };
  /** ff |= NX when the f64 `err` pushes is not 0, computed only while ff lacks NX (and `also`, an i32 pushed, holds). */
  const inexact = (err: () => void, also?: () => void): void => {
    b.get(e.ff).i32(1).op(W.i32And, W.i32Eqz);
    if (also) { also(); b.op(W.i32And); }
    b.hint(0).op(W.if, VOID);
    b.get(e.ff);
    err();
    b.f64(0).op(W.f64Ne, W.i32Or).set(e.ff);
    b.op(W.end);
  };
  /** Box the i64 on the stack (a single's bits in its low half) into an f64. */
  const box = (): void => { b.i64(HIGH_ONES).op(W.i64Or, W.f64ReinterpretI64); };

  /**
   * A fast path (`fast`, which leaves by `br 0` to the slow path when its
   * operands or result are out of its range, and else writes rd and ends
   * with `br 1`) and the slow path after it. `rne`: the fast path holds
   * only under round-to-nearest (rm 0, or 7 with frm 0); any other rm is
   * the slow path alone.
   */
  const withSlow = (fast: (() => void) | null, rne = true): void => {
    if (rne && rm !== 0 && rm !== 7) fast = null;
    if (fast !== null) {
      b.op(W.block, VOID, W.block, VOID);
      if (rne && rm === 7) b.get(e.fcsr).i32(224).op(W.i32And).hint(0).op(W.brIf, 0);
      fast();
      b.op(W.end);
    }
    slowPath();
    if (fast !== null) b.op(W.end);
  };
  const slowPath = (): void => {
    const regs = fpRegs(ins);
    const h = fpHelper(ins) as { intSrc: number; intDst: number };
    for (const r of regs.fs) { e.fslot(); b.get(F(r)).mem8(W.f64Store, 8 * r); }
    if (h.intSrc !== 0) { e.slot(); e.x(h.intSrc); b.mem8(W.i64Store, 8 * h.intSrc); }
    b.i32(e.slow(ins)).get(e.ff).op(W.call).u(e.fx).set(e.ff);
    if (regs.fd >= 0) { e.fslot(); b.mem8(W.f64Load, 8 * regs.fd).set(F(rd)); }
    if (h.intDst !== 0) { e.slot(); b.mem8(W.i64Load, 8 * h.intDst); e.setX(h.intDst); }
  };
  const done = (): void => { b.op(W.br, 1); };

  const kind = CSR_OPS[op];
  if (kind !== undefined) {
    // The old value; then fflags written (csrrw always; csrrs/csrrc with a source); rd the old value.
    if (ins.csr === 1) b.get(e.ff);
    else if (ins.csr === 2) b.get(e.fcsr).i32(5).op(W.i32ShrU).i32(7).op(W.i32And);
    else b.get(e.fcsr).i32(224).op(W.i32And).get(e.ff).op(W.i32Or);
    b.set(e.t32);
    if (ins.csr === 1 && ((kind & 3) === 1 || (kind >= 5 ? ins.imm !== 0 : rs1 !== 0))) {
      if (kind >= 5) b.i32(ins.imm);
      else { e.x(rs1); b.op(W.i32WrapI64); }
      if ((kind & 3) === 2) b.get(e.t32).op(W.i32Or);
      if ((kind & 3) === 3) b.i32(-1).op(W.i32Xor).get(e.t32).op(W.i32And);
      b.i32(31).op(W.i32And).set(e.ff);
    }
    b.get(e.t32).op(W.i64ExtendI32U);
    e.setX(rd);
    return;
  }
  switch (op) {
    case 'fld':
      e.address(ins, pc, k, 8, PAGE_R);
      b.get(e.ai).mem(W.f64Load).set(F(rd));
      return;
    case 'flw':
      e.address(ins, pc, k, 4, PAGE_R);
      b.get(e.ai).mem(W.i64Load32U);
      box();
      b.set(F(rd));
      return;
    case 'fsd':
      e.store(ins, pc, k, 8, () => { b.get(e.ai).get(F(rs2)).mem(W.f64Store); });
      return;
    case 'fsw':
      e.store(ins, pc, k, 4, () => { b.get(e.ai).get(F(rs2)).op(W.i64ReinterpretF64).mem(W.i64Store32); });
      return;
    case 'fmv.x.d': b.get(F(rs1)).op(W.i64ReinterpretF64); e.setX(rd); return;
    case 'fmv.x.w': b.get(F(rs1)).op(W.i64ReinterpretF64, W.i32WrapI64, W.i64ExtendI32S); e.setX(rd); return;
    case 'fmv.d.x': e.x(rs1); b.op(W.f64ReinterpretI64).set(F(rd)); return;
    case 'fmv.w.x': e.x(rs1); b.op(W.i32WrapI64, W.i64ExtendI32U); box(); b.set(F(rd)); return;
    case 'fsgnj.d': case 'fsgnjn.d': case 'fsgnjx.d':
      // Sign injection on the bits: a ^ ((a ^ b) & S), a ^ ((a ^ ~b) & S), a ^ (b & S).
      b.get(F(rs1)).op(W.i64ReinterpretF64);
      if (op !== 'fsgnjx.d') b.get(F(rs1)).op(W.i64ReinterpretF64);
      b.get(F(rs2)).op(W.i64ReinterpretF64);
      if (op === 'fsgnjn.d') b.i64(-1).op(W.i64Xor);
      if (op !== 'fsgnjx.d') b.op(W.i64Xor);
      b.i64(SIGN).op(W.i64And, W.i64Xor, W.f64ReinterpretI64).set(F(rd));
      return;
    case 'fadd.d': case 'fsub.d':
      withSlow(() => {
        b.get(F(rs1)).set(A).get(F(rs2));
        if (op === 'fsub.d') b.op(W.f64Neg);
        b.tee(B).get(A).op(W.f64Add).set(R);
        // An exact zero (both finite), or a result in the normal range.
        b.get(R).f64(0).op(W.f64Eq);
        absIn(R, SMALL, INF);
        b.op(W.i32Or);
        orSlow();
        inexact(() => sumErr(A, B, R));
        b.get(R).set(F(rd));
        done();
      });
      return;
    case 'fmul.d':
      withSlow(() => {
        b.get(F(rs1)).tee(A).get(F(rs2)).tee(B).op(W.f64Mul).set(R);
        absIn(R, SMALL, INF); absLt(A, BIG); b.op(W.i32And); absLt(B, BIG); b.op(W.i32And);
        // Or an exact zero: a zero factor, the other finite.
        b.get(R).f64(0).op(W.f64Eq).get(A).f64(0).op(W.f64Eq).get(B).f64(0).op(W.f64Eq, W.i32Or, W.i32And);
        absLt(A, INF); b.op(W.i32And); absLt(B, INF); b.op(W.i32And, W.i32Or);
        orSlow();
        inexact(() => prodErr(A, B, R), () => { b.get(R).f64(0).op(W.f64Ne); });
        b.get(R).set(F(rd));
        done();
      });
      return;
    case 'fdiv.d':
      withSlow(() => {
        b.get(F(rs1)).tee(A).get(F(rs2)).tee(B).op(W.f64Div).set(R);
        absIn(R, SMALL, BIG); absIn(A, SMALL, INF); b.op(W.i32And); absLt(B, BIG); b.op(W.i32And);
        orSlow();
        inexact(() => unlessExact(B));
        b.get(R).set(F(rd));
        done();
      });
      return;
    case 'fsqrt.d':
      withSlow(() => {
        b.get(F(rs1)).tee(A).f64(SMALL).op(W.f64Ge).get(A).f64(INF).op(W.f64Lt, W.i32And);
        orSlow();
        b.get(A).op(W.f64Sqrt).set(R);
        inexact(() => unlessExact(R));
        b.get(R).set(F(rd));
        done();
      });
      return;
    case 'fmadd.d': case 'fmsub.d': case 'fnmsub.d': case 'fnmadd.d':
      withSlow(() => fma(op === 'fnmsub.d' || op === 'fnmadd.d', op === 'fmsub.d' || op === 'fnmadd.d'));
      return;
    case 'feq.d': case 'flt.d': case 'fle.d':
      withSlow(() => {
        b.get(F(rs1)).tee(A).get(A).op(W.f64Eq).get(F(rs2)).tee(B).get(B).op(W.f64Eq, W.i32And);
        orSlow();
        b.get(A).get(B).op(op === 'feq.d' ? W.f64Eq : op === 'flt.d' ? W.f64Lt : W.f64Le, W.i64ExtendI32U);
        e.setX(rd);
        done();
      }, false);
      return;
    case 'fmin.d': case 'fmax.d':
      withSlow(() => {
        b.get(F(rs1)).tee(A).get(A).op(W.f64Eq).get(F(rs2)).tee(B).get(B).op(W.f64Eq, W.i32And);
        orSlow();
        b.get(A).get(B).op(op === 'fmin.d' ? W.f64Min : W.f64Max).set(F(rd));
        done();
      }, false);
      return;
    case 'fcvt.w.d': case 'fcvt.wu.d': case 'fcvt.l.d': case 'fcvt.lu.d': {
      const to = op.split('.')[1];
      const [min, max] = INT_RANGE[to];
      // Rounded by the instruction's mode (the dynamic one only when it is RNE); RMM takes the slow path.
      withSlow(rm === 4 ? null : () => {
        b.get(F(rs1)).tee(A).op(ROUND[rm]).tee(R).f64(min).op(W.f64Ge).get(R).f64(max).op(W.f64Lt, W.i32And);
        orSlow();
        b.get(R).op(to === 'w' || to === 'l' ? W.i64TruncF64S : W.i64TruncF64U);
        if (to === 'wu') b.op(W.i32WrapI64, W.i64ExtendI32S);
        e.setX(rd);
        b.get(e.ff).get(R).get(A).op(W.f64Ne, W.i32Or).set(e.ff);
        done();
      }, rm === 7);
      return;
    }
    case 'fcvt.d.w': case 'fcvt.d.wu':
      e.x(rs1);
      b.op(W.i32WrapI64, op === 'fcvt.d.w' ? W.f64ConvertI32S : W.f64ConvertI32U).set(F(rd));
      return;
    case 'fcvt.d.l': case 'fcvt.d.lu':
      // Exact below 2^53 in magnitude, whatever the rounding mode.
      withSlow(() => {
        e.x(rs1);
        if (op === 'fcvt.d.l') b.tee(e.t).i64(2 ** 53 - 1).op(W.i64Add).i64(2 ** 54 - 1).op(W.i64LtU);
        else b.tee(e.t).i64(2 ** 53).op(W.i64LtU);
        orSlow();
        b.get(e.t).op(op === 'fcvt.d.l' ? W.f64ConvertI64S : W.f64ConvertI64U).set(F(rd));
        done();
      }, false);
      return;
    case 'fcvt.d.s':
      withSlow(() => {
        // A boxed single that is not a NaN widens exactly.
        b.get(F(rs1)).op(W.i64ReinterpretF64).tee(e.t).i64(32).op(W.i64ShrU).i64(4294967295).op(W.i64Eq);
        orSlow();
        b.get(e.t).op(W.i32WrapI64, W.f32ReinterpretI32, W.f64PromoteF32).tee(A).get(A).op(W.f64Eq);
        orSlow();
        b.get(A).set(F(rd));
        done();
      }, false);
      return;
    case 'fcvt.s.d':
      withSlow(() => {
        b.get(F(rs1)).tee(A).op(W.f32DemoteF64, W.f64PromoteF32).set(R);
        b.get(A).f64(0).op(W.f64Eq);
        b.get(A).op(W.f64Abs).f64(INF).op(W.f64Eq, W.i32Or);
        absIn(R, SMALL_S, INF);
        b.op(W.i32Or);
        orSlow();
        b.get(e.ff).get(R).get(A).op(W.f64Ne, W.i32Or).set(e.ff);
        b.get(A).op(W.f32DemoteF64, W.i32ReinterpretF32, W.i64ExtendI32U);
        box();
        b.set(F(rd));
        done();
      });
      return;
  }
  switch (op) {
    case 'fadd.s': case 'fsub.s': case 'fmul.s': case 'fdiv.s':
      // fp.ts binS: the double result of the two singles, rounded once more to single.
      withSlow(() => {
        single(rs1, A);
        single(rs2, B);
        if (op === 'fsub.s') b.get(B).op(W.f64Neg).set(B);
        b.get(A).get(B).op(op === 'fmul.s' ? W.f64Mul : op === 'fdiv.s' ? W.f64Div : W.f64Add).tee(R);
        b.op(W.f32DemoteF64, W.f64PromoteF32).set(P);
        absIn(P, SMALL_S, INF);
        // Or an exact zero (of finite operands; a quotient only by a finite nonzero divisor).
        b.get(R).f64(0).op(W.f64Eq);
        if (op === 'fdiv.s') { absLt(B, INF); b.op(W.i32And).get(B).f64(0).op(W.f64Ne, W.i32And); }
        b.op(W.i32Or);
        orSlow();
        inexact(() => {
          b.get(P).get(R).op(W.f64Ne, W.f64ConvertI32U);
          if (op === 'fadd.s' || op === 'fsub.s') { sumErr(A, B, R); b.op(W.f64Abs, W.f64Add); }
        });
        boxSingle(R);
        done();
      });
      return;
    case 'fsqrt.s':
      withSlow(() => {
        single(rs1, A);
        b.get(A).f64(SMALL_S).op(W.f64Ge).get(A).f64(INF).op(W.f64Lt, W.i32And);
        orSlow();
        b.get(A).op(W.f64Sqrt).tee(R).op(W.f32DemoteF64, W.f64PromoteF32).set(P);
        b.get(e.ff).get(P).get(R).op(W.f64Ne, W.i32Or).set(e.ff);
        boxSingle(R);
        done();
      });
      return;
    case 'feq.s': case 'flt.s': case 'fle.s':
      withSlow(() => {
        single(rs1, A);
        single(rs2, B);
        b.get(A).get(B).op(op === 'feq.s' ? W.f64Eq : op === 'flt.s' ? W.f64Lt : W.f64Le, W.i64ExtendI32U);
        e.setX(rd);
        done();
      }, false);
      return;
    case 'fsgnj.s': case 'fsgnjn.s': case 'fsgnjx.s':
      // fp.ts fsgnjS: on the unboxed bits (an unboxed register reads as the canonical NaN), boxed.
      sBits(rs1);
      b.i32(0x7fffffff).op(W.i32And);
      sBits(rs2);
      if (op === 'fsgnjn.s') b.i32(-1).op(W.i32Xor);
      if (op === 'fsgnjx.s') { sBits(rs1); b.op(W.i32Xor); }
      b.i32(SIGN_S).op(W.i32And, W.i32Or, W.i64ExtendI32U);
      box();
      b.set(F(rd));
      return;
  }
  // The rest (fma and conversions of singles, min/max.s, fclass): fp.ts alone.
  withSlow(null);

  /** Single register r's value as a double into `to`; the slow path (br 0) when it is not boxed or is a NaN. */
  function single(r: number, to: number): void {
    b.get(F(r)).op(W.i64ReinterpretF64).tee(e.t).i64(32).op(W.i64ShrU).i64(4294967295).op(W.i64Eq);
    orSlow();
    b.get(e.t).op(W.i32WrapI64, W.f32ReinterpretI32, W.f64PromoteF32).tee(to).get(to).op(W.f64Eq);
    orSlow();
  }
  /** Push single register r's bits (i32), the canonical NaN when it is not boxed (fp.ts sBits). */
  function sBits(r: number): void {
    b.get(F(r)).op(W.i64ReinterpretF64, W.i32WrapI64).i32(CANON_S);
    b.get(F(r)).op(W.i64ReinterpretF64).i64(32).op(W.i64ShrU).i64(4294967295).op(W.i64Eq, W.select);
  }
  /** rd = the double `v` rounded to single, boxed. */
  function boxSingle(v: number): void {
    b.get(v).op(W.f32DemoteF64, W.i32ReinterpretF32, W.i64ExtendI32U);
    box();
    b.set(F(rd));
  }

  /** fp.ts fmaD's fast path: a·b + c negated per `negProd`/`negAdd`, one rounding. */
  function fma(negProd: boolean, negAdd: boolean): void {
    b.get(F(rs1));
    if (negProd) b.op(W.f64Neg);
    b.set(A).get(F(rs2)).set(B).get(F(ins.rs3));
    if (negAdd) b.op(W.f64Neg);
    b.set(C);
    // A zero factor, the other finite: the product is an exact ±0 and the sum exact.
    b.get(A).f64(0).op(W.f64Eq).get(B).f64(0).op(W.f64Eq, W.i32Or).op(W.if, VOID);
    absLt(A, INF); absLt(B, INF); b.op(W.i32And).get(C).get(C).op(W.f64Eq, W.i32And);
    orSlow(1);
    b.get(A).get(B).op(W.f64Mul).get(C).op(W.f64Add).set(F(rd)).op(W.br, 2);
    b.op(W.end);
    b.get(A).get(B).op(W.f64Mul).set(P);
    absIn(P, SMALL_FMA, BIG); absLt(A, BIG); b.op(W.i32And); absLt(B, BIG); b.op(W.i32And);
    b.get(C).f64(0).op(W.f64Eq);
    absIn(C, SMALL_FMA, BIG);
    b.op(W.i32Or, W.i32And);
    orSlow();
    prodErr(A, B, P);
    b.set(PE);
    b.get(C).get(P).op(W.f64Add).set(TH);
    sumErr(C, P, TH);
    b.set(TL);
    b.get(TL).get(PE).op(W.f64Add).set(V0);
    sumErr(TL, PE, V0);
    b.set(VE);
    // toOdd: an inexact even v0 steps one ulp towards the exact value.
    b.get(V0).set(V);
    b.get(VE).f64(0).op(W.f64Ne).get(V0).op(W.i64ReinterpretF64).i64(1).op(W.i64And, W.i64Eqz, W.i32And).hint(0).op(W.if, VOID);
    b.get(V0).op(W.i64ReinterpretF64).i64(1).i64(-1).get(V0).f64(0).op(W.f64Gt).get(VE).f64(0).op(W.f64Gt, W.i32Eq, W.select);
    b.op(W.i64Add, W.f64ReinterpretI64).set(V);
    b.op(W.end);
    b.get(TH).get(V).op(W.f64Add).set(R);
    absIn(R, SMALL_FMA, BIG);
    orSlow();
    inexact(() => {
      b.get(VE).f64(0).op(W.f64Ne, W.f64ConvertI32U);
      sumErr(TH, V, R);
      b.op(W.f64Abs, W.f64Add);
    });
    b.get(R).set(F(rd));
    done();
  }
}

/**
 * The JavaScript body of the slow path's `fx(i, ff)` for a region whose
 * slow-path instructions are `slow` (in fx's indices): the operands copied
 * from the slots (M, the memory as an Int32Array; x slot at word `xo`, f
 * slot at word `fo`) into the thread's state `s` (c.state), fcsr's flags
 * set to `ff`, fp.ts's helper (F), the result copied back; returns the flags.
 */
export function slowPathSource(slow: readonly Insn[], xo: number, fo: number): string {
  const cases = slow.map((ins, i) => {
    const regs = fpRegs(ins);
    const h = fpHelper(ins) as { call: string; intSrc: number; intDst: number };
    let c = `case ${i}:`;
    for (const r of regs.fs) c += `fb[${2 * r}]=M[${fo + 2 * r}];fb[${2 * r + 1}]=M[${fo + 2 * r + 1}];`;
    if (h.intSrc !== 0) c += `x[${2 * h.intSrc}]=M[${xo + 2 * h.intSrc}];x[${2 * h.intSrc + 1}]=M[${xo + 2 * h.intSrc + 1}];`;
    c += `${h.call};`;
    if (regs.fd >= 0) c += `M[${fo + 2 * regs.fd}]=fb[${2 * regs.fd}];M[${fo + 2 * regs.fd + 1}]=fb[${2 * regs.fd + 1}];`;
    if (h.intDst !== 0) c += `M[${xo + 2 * h.intDst}]=x[${2 * h.intDst}];M[${xo + 2 * h.intDst + 1}]=x[${2 * h.intDst + 1}];`;
    return c + 'break;';
  });
  return `const s=c.state,fb=s.fbits,x=s.x;s.fcsr=(s.fcsr&224)|ff;switch(i){${cases.join('')}}return s.fcsr&31;`;
}
