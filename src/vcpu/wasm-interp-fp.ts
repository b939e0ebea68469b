// The F/D arithmetic of tier 0's WebAssembly interpreter (wasm-interp.ts):
// each case of its dispatch for an F/D instruction other than the loads,
// stores and moves is tier 2's own code for that instruction (wasm-fp.ts
// emitFp) emitted once over fixed stand-in registers, with the operands
// loaded from the record's registers before it and the result stored after.
//
// Contract:
// - emitFp compiles an instruction whose registers are known; the
//   interpreter knows them only at run time. So each Op is emitted for a
//   stand-in Insn (STAND_IN: sources f1, f2, f3 or x1, destination f4 or
//   x4), whose f registers are f64 locals here: the record's f sources are
//   loaded into them (bit patterns, as the f slot holds them), and the
//   destination local is stored to the record's rd. No register aliasing
//   can arise: every source is read before the destination is written.
// - Rounding mode: the record's rm (in its immediate word; 7 = frm from
//   fcsr) is resolved at run time. Under round-to-nearest (rm 0, or 7 with
//   frm 0: what programs run under) the stand-in has rm 0, so emitFp's fast
//   paths apply. Conversions to an integer also have a stand-in for RTZ
//   (C's casts). Any other mode, and a reserved frm, leaves
//   before the instruction (Exit.UNSUPPORTED) for the JavaScript interpreter
//   (which raises SIGILL for the reserved frm).
// - fflags: read from the fcsr word into emitFp's `ff` local before the
//   instruction and written back after it; emitFp ORs into it exactly what
//   fp.ts raises.
// - emitFp's slow path (NaNs, infinities, subnormal or near-overflow
//   results, fma of singles, fclass...) calls the module's import `fx(i,
//   ff)`: fpSlowPath's function, which runs fp.ts's helper for stand-in i
//   (slowPathSource, as tier 2's) on a scratch ThreadState of its own, the
//   operands and results passing through a scratch slot in the engine area
//   (FP_SCRATCH bytes at `fx`: the f words first, the x words 64 bytes on).

import type { Insn } from './decode.js';
import { fpHelper } from './codegen.js';
import * as FP from './fp.js';
import { FP_RM_OPS, OP_NAMES, Op } from './ops.js';
import { ThreadState } from './state.js';
import { emitFp, fpRegs, slowPathSource, type FpEmitter } from './wasm-fp.js';
import { type Body, F64, I32, I64, W } from './wasm-encode.js';

const VOID = 0x40;

/** The F/D Ops whose cases this file emits (appended to wasm-interp.ts WOPS). */
export const FP_OPS: readonly Op[] = [
  Op.FMADD_S, Op.FMSUB_S, Op.FNMSUB_S, Op.FNMADD_S, Op.FMADD_D, Op.FMSUB_D, Op.FNMSUB_D, Op.FNMADD_D,
  Op.FADD_S, Op.FSUB_S, Op.FMUL_S, Op.FDIV_S, Op.FSQRT_S, Op.FSGNJ_S, Op.FSGNJN_S, Op.FSGNJX_S, Op.FMIN_S, Op.FMAX_S,
  Op.FCVT_W_S, Op.FCVT_WU_S, Op.FCVT_L_S, Op.FCVT_LU_S, Op.FCLASS_S, Op.FEQ_S, Op.FLT_S, Op.FLE_S,
  Op.FCVT_S_W, Op.FCVT_S_WU, Op.FCVT_S_L, Op.FCVT_S_LU,
  Op.FADD_D, Op.FSUB_D, Op.FMUL_D, Op.FDIV_D, Op.FSQRT_D, Op.FSGNJ_D, Op.FSGNJN_D, Op.FSGNJX_D, Op.FMIN_D, Op.FMAX_D,
  Op.FCVT_S_D, Op.FCVT_D_S, Op.FEQ_D, Op.FLT_D, Op.FLE_D, Op.FCLASS_D,
  Op.FCVT_W_D, Op.FCVT_WU_D, Op.FCVT_L_D, Op.FCVT_LU_D, Op.FCVT_D_W, Op.FCVT_D_WU, Op.FCVT_D_L, Op.FCVT_D_LU,
];

/** Bytes of the scratch slot (the f words of the stand-ins, then at +64 the x words). */
export const FP_SCRATCH = 128;
const X_WORDS = 64;

/** Stand-in registers: the sources, the destination (f or x). */
const S1 = 1, S2 = 2, S3 = 3, D = 4;

function isToInt(op: Op): boolean {
  return (op >= Op.FCVT_W_S && op <= Op.FCVT_LU_S) || (op >= Op.FCVT_W_D && op <= Op.FCVT_LU_D);
}

/** The stand-in Insns: per Op of FP_OPS, rm 0, then for the conversions to an integer rm 1 (RTZ). */
const STAND_IN: readonly Insn[] = FP_OPS.flatMap((op) => (isToInt(op) ? [0, 1] : [0]).map((rm) => ({
  op: OP_NAMES[op], rd: D, rs1: S1, rs2: S2, rs3: S3, imm: 0, rm, csr: 0, len: 4,
})));
/** Those with a slow path (fp.ts has a helper for all but fsgnj.d, which is bit operations alone), in fx's index order. */
const SLOW: readonly Insn[] = STAND_IN.filter((i) => fpHelper(i) !== null);
const standIn = (op: Op, rm: number): Insn => STAND_IN.find((i) => i.op === OP_NAMES[op] && i.rm === rm) as Insn;

/** Whether the F/D Op `op` (one of FP_OPS) writes an f register (else an x register). */
export function fpWritesF(op: Op): boolean {
  return fpRegs(standIn(op, 0)).fd >= 0;
}

/** The locals the F/D cases need, after the interpreter's own (their types, in order). */
export const FP_LOCALS: readonly number[] = [...new Array<number>(22).fill(F64), I64, I64, I32, I32, I32, I32];

/** What the F/D cases need of the interpreter (wasm-interp.ts). */
export interface InterpFp {
  readonly b: Body;
  /** Index of the first of FP_LOCALS. */
  readonly first: number;
  /** Locals: the register slot's address; the record's immediate word (rm for these records). */
  readonly xs: number;
  readonly imm: number;
  /** Byte offsets in the slot: the f registers, the fcsr word. */
  readonly fSlot: number;
  readonly fcsrSlot: number;
  /** Push the scratch slot's address (FP_SCRATCH bytes; an i32). */
  fxAddr(): void;
  /** The import index of fx. */
  readonly fxImport: number;
  /** Push the i32 address xs + 8r of the record's rd, rs1, rs2, or (rs3) its aux word's register. */
  rdAddr(): void;
  rs1Addr(): void;
  rs2Addr(): void;
  rs3Addr(): void;
  /** Leave before the instruction; on to the next record (d: blocks opened inside the case). */
  leave(d: number): void;
  next(d: number): void;
}

/** The case of F/D Op `op` (in FP_OPS). */
export function emitFpCase(c: InterpFp, op: Op): void {
  const { b } = c;
  const L = c.first, F1 = L + 18, F2 = L + 19, F3 = L + 20, FD = L + 21, T = L + 22, XT = L + 23;
  const T32 = L + 24, FF = L + 25, FCSR = L + 26, RM = L + 27;
  const rm0 = standIn(op, 0), regs = fpRegs(rm0);
  const e: FpEmitter = {
    b, fcsr: FCSR, ff: FF,
    // The scratch slot's addresses, from the register slot's at each use: locals of them, live
    // across the whole loop, slowed the integer cases (README.md, "Decision: one tier-0 module per sandbox").
    fslot: () => { c.fxAddr(); }, slot: () => { c.fxAddr(); b.i32(X_WORDS).op(W.i32Add); }, d: Array.from({ length: 18 }, (_, i) => L + i), t: T, t32: T32, fx: c.fxImport,
    ai: T32,
    x: (r) => { if (r !== S1) throw new Error('wasm-interp-fp: x source'); c.rs1Addr(); b.mem8(W.i64Load, 0); },
    setX: (r) => { if (r !== D) throw new Error('wasm-interp-fp: x destination'); b.set(XT); c.rdAddr(); b.get(XT).mem8(W.i64Store, 0); },
    f: (r) => [0, F1, F2, F3, FD][r],
    address: () => { throw new Error('wasm-interp-fp: no loads'); },
    store: () => { throw new Error('wasm-interp-fp: no stores'); },
    trapIll: () => { throw new Error('wasm-interp-fp: rm is never dynamic here'); },
    open: () => { throw new Error('wasm-interp-fp: rm is never dynamic here'); },
    close: () => { throw new Error('wasm-interp-fp: rm is never dynamic here'); },
    slow: (ins) => SLOW.indexOf(ins),
  };
  /** One stand-in's code (d blocks open), then on to the next record. */
  const body = (ins: Insn, d: number): void => {
    b.get(c.xs).op(W.i32Load, 2).u(c.fcsrSlot).i32(31).op(W.i32And).set(FF);
    const addr = [c.rs1Addr, c.rs2Addr, c.rs3Addr];
    for (const r of regs.fs) { addr[r - 1](); b.mem8(W.f64Load, c.fSlot).set([0, F1, F2, F3][r]); }
    emitFp(e, ins, 0, 0);
    if (regs.fd >= 0) { c.rdAddr(); b.get(FD).mem8(W.f64Store, c.fSlot); }
    b.get(c.xs).get(c.xs).op(W.i32Load, 2).u(c.fcsrSlot).i32(~31).op(W.i32And).get(FF).op(W.i32Or).op(W.i32Store, 2).u(c.fcsrSlot);
    c.next(d);
  };
  if (!FP_RM_OPS.has(rm0.op)) { body(rm0, 0); return; }
  // The rounding mode: rm, or frm for 7.
  b.get(c.imm).i32(7).op(W.i32Eq).op(W.if, I32);
  b.get(c.xs).op(W.i32Load, 2).u(c.fcsrSlot).i32(5).op(W.i32ShrU).i32(7).op(W.i32And);
  b.op(W.else).get(c.imm).op(W.end).set(RM);
  if (!isToInt(op)) {
    b.get(RM).hint(0).op(W.if, VOID);
    c.leave(1);
    b.op(W.end);
    body(rm0, 0);
    return;
  }
  // A conversion to an integer: RNE or RTZ; any other mode leaves.
  b.get(RM).i32(1).op(W.i32GtU).hint(0).op(W.if, VOID);
  c.leave(1);
  b.op(W.end);
  b.get(RM).op(W.if, VOID);
  body(standIn(op, 1), 1);
  b.op(W.end);
  body(rm0, 0);
}

/**
 * The import fx of a module whose scratch slot is at byte `fx` of the memory
 * `i32` views: fp.ts's helper for stand-in `i` on a scratch ThreadState,
 * fflags `ff` in and out.
 */
export function fpSlowPath(fx: number, i32: Int32Array): (i: number, ff: number) => number {
  const c = { state: new ThreadState() };
  // eslint-disable-next-line @typescript-eslint/no-implied-eval
  return new Function('c', 'F', 'M', `return function(i,ff){${slowPathSource(SLOW, (fx + X_WORDS) >>> 2, fx >>> 2)}};`)(c, FP, i32) as (i: number, ff: number) => number;
}

/** The module's import of fx (its type). */
export const FX_TYPE = { params: [I32, I32], results: [I32] };
