// The F and D extensions: arithmetic, conversions, compares, classify.
//
// Contract:
// - Every helper takes the ThreadState and register numbers, reads operands
//   from s.f / s.fbits, writes the destination (an FP register, or an integer
//   register of s.x), and ORs IEEE exception flags into s.fcsr (fflags).
// - `rm` is the instruction's rounding-mode field: 0 RNE, 1 RTZ, 2 RDN,
//   3 RUP, 4 RMM, 7 dynamic (take frm from fcsr). The code generator has
//   already rejected reserved values (5, 6, and a reserved dynamic frm).
// - Singles are NaN-boxed: a register whose high 32 bits are not all ones
//   reads as the canonical NaN. Results that are NaN are always the canonical
//   NaN (0x7fc00000 / 0x7ff8000000000000), as RISC-V requires.
// - Results are correctly rounded in every rounding mode with RISC-V's flags
//   (tininess detected after rounding). The common case (round to nearest,
//   results far from overflow/underflow) runs on JavaScript doubles with
//   error-free transformations to detect inexactness; everything else takes
//   an exact BigInt path (rare by construction). Both are fp-rounding.ts's;
//   this file holds the instructions' semantics on top of them.

import type { ThreadState } from './state.js';
import * as R from './fp-rounding.js';
import { Op } from './fp-rounding.js';

// Bound once to module constants: the compiled (CommonJS) code would read an
// imported name as a property of the module object at every use; the fast
// paths keep plain constants and direct calls instead.
const { NV, NX, RNE, RTZ, RDN, RUP, RMM, TWO32, BIG, SMALL, SMALL_S, SMALL_FMA } = R;
const { isInf, signBit, prodErr, sumErr, toOdd, roundPack, roundExact, slowBin, slowSqrt, slowFma, takeFlags } = R;

const CANON_S = 0x7fc00000;
const CANON_D_HI = 0x7ff80000;

// Scratch conversions between singles and their bit patterns.
const scratch = new ArrayBuffer(8);
const sI32 = new Int32Array(scratch);
const sF32 = new Float32Array(scratch, 0, 1);

function f32Bits(v: number): number { sF32[0] = v; return sI32[0]; }
function bitsF32(b: number): number { sI32[0] = b; return sF32[0]; }

/** Flags raised by the operation in progress. */
let FL = 0;

function rmOf(s: ThreadState, rm: number): number {
  return rm === 7 ? (s.fcsr >> 5) & 7 : rm;
}

/** The bits of single register r, unboxed (canonical NaN when not NaN-boxed). */
function sBits(s: ThreadState, r: number): number {
  return s.fbits[2 * r + 1] === -1 ? s.fbits[2 * r] : CANON_S;
}

function isSNaNs(b: number): boolean {
  return (b & 0x7f800000) === 0x7f800000 && (b & 0x7fffff) !== 0 && (b & 0x400000) === 0;
}

function isSNaNd(s: ThreadState, r: number): boolean {
  const hi = s.fbits[2 * r + 1], lo = s.fbits[2 * r];
  return (hi & 0x7ff00000) === 0x7ff00000 && ((hi & 0xfffff) !== 0 || lo !== 0) && (hi & 0x80000) === 0;
}

function writeS(s: ThreadState, d: number, v: number): void {
  s.fbits[2 * d] = v !== v ? CANON_S : f32Bits(v);
  s.fbits[2 * d + 1] = -1;
}

function writeD(s: ThreadState, d: number, v: number): void {
  if (v !== v) { s.fbits[2 * d] = 0; s.fbits[2 * d + 1] = CANON_D_HI; } else s.f[d] = v;
}

// ---------------------------------------------------------------------------
// Arithmetic entry points.

function binD(s: ThreadState, d: number, ra: number, rb: number, rm: number, op: Op): void {
  const a = s.f[ra], b = s.f[rb];
  FL = 0;
  if (a !== a || b !== b) {
    if (isSNaNd(s, ra) || isSNaNd(s, rb)) FL |= NV;
    writeD(s, d, NaN); s.fcsr |= FL; return;
  }
  rm = rmOf(s, rm);
  let r = 0;
  if (rm === RNE) {
    let ok = false;
    switch (op) {
      case Op.Add: case Op.Sub: {
        const bb = op === Op.Add ? b : -b;
        r = a + bb;
        const ar = Math.abs(r);
        if (r === 0 && isFinite(a) && isFinite(b)) ok = true;
        else if (ar >= SMALL && ar < Infinity) {
          const e = sumErr(a, bb, r);
          if (e === e) { ok = true; if (e !== 0) FL |= NX; }
        }
        break;
      }
      case Op.Mul: {
        r = a * b;
        const ar = Math.abs(r);
        if (ar >= SMALL && ar < Infinity && Math.abs(a) < BIG && Math.abs(b) < BIG) {
          ok = true; if (prodErr(a, b, r) !== 0) FL |= NX;
        } else if (r === 0 && (a === 0 || b === 0) && isFinite(a) && isFinite(b)) ok = true;
        break;
      }
      case Op.Div: {
        r = a / b;
        const ar = Math.abs(r), aa = Math.abs(a);
        if (ar >= SMALL && ar < BIG && aa >= SMALL && aa < Infinity && Math.abs(b) < BIG) {
          ok = true;
          const p = r * b;
          if (p !== a || prodErr(r, b, p) !== 0) FL |= NX;
        }
        break;
      }
    }
    if (ok) { s.f[d] = r; s.fcsr |= FL; return; }
  }
  r = slowBin(op, a, b, false, rm);
  FL |= takeFlags();
  writeD(s, d, r); s.fcsr |= FL;
}

function binS(s: ThreadState, d: number, ra: number, rb: number, rm: number, op: Op): void {
  const ba = sBits(s, ra), bb = sBits(s, rb);
  const a = bitsF32(ba), b = bitsF32(bb);
  FL = 0;
  if (a !== a || b !== b) {
    if (isSNaNs(ba) || isSNaNs(bb)) FL |= NV;
    writeS(s, d, NaN); s.fcsr |= FL; return;
  }
  rm = rmOf(s, rm);
  if (rm === RNE) {
    let dv = 0, exact = true;
    switch (op) {
      case Op.Add: dv = a + b; exact = sumErr(a, b, dv) === 0; break;
      case Op.Sub: dv = a - b; exact = sumErr(a, -b, dv) === 0; break;
      case Op.Mul: dv = a * b; break;
      case Op.Div: dv = a / b; break;
    }
    const r = Math.fround(dv);
    const ar = Math.abs(r);
    if ((ar >= SMALL_S && ar < Infinity && isFinite(dv)) || (dv === 0 && isFinite(a) && isFinite(b) && (op !== Op.Div || b !== 0))) {
      if (!exact || r !== dv) FL |= NX;
      writeS(s, d, r); s.fcsr |= FL; return;
    }
  }
  const r = slowBin(op, a, b, true, rm);
  FL |= takeFlags();
  writeS(s, d, r); s.fcsr |= FL;
}

export function faddD(s: ThreadState, d: number, a: number, b: number, rm: number): void { binD(s, d, a, b, rm, Op.Add); }
export function fsubD(s: ThreadState, d: number, a: number, b: number, rm: number): void { binD(s, d, a, b, rm, Op.Sub); }
export function fmulD(s: ThreadState, d: number, a: number, b: number, rm: number): void { binD(s, d, a, b, rm, Op.Mul); }
export function fdivD(s: ThreadState, d: number, a: number, b: number, rm: number): void { binD(s, d, a, b, rm, Op.Div); }
export function faddS(s: ThreadState, d: number, a: number, b: number, rm: number): void { binS(s, d, a, b, rm, Op.Add); }
export function fsubS(s: ThreadState, d: number, a: number, b: number, rm: number): void { binS(s, d, a, b, rm, Op.Sub); }
export function fmulS(s: ThreadState, d: number, a: number, b: number, rm: number): void { binS(s, d, a, b, rm, Op.Mul); }
export function fdivS(s: ThreadState, d: number, a: number, b: number, rm: number): void { binS(s, d, a, b, rm, Op.Div); }

export function fsqrtD(s: ThreadState, d: number, ra: number, rm: number): void {
  const a = s.f[ra];
  FL = 0;
  if (a !== a) { if (isSNaNd(s, ra)) FL |= NV; writeD(s, d, NaN); s.fcsr |= FL; return; }
  rm = rmOf(s, rm);
  if (rm === RNE && a >= SMALL && a < Infinity) {
    const r = Math.sqrt(a);
    const p = r * r;
    if (p !== a || prodErr(r, r, p) !== 0) FL |= NX;
    s.f[d] = r; s.fcsr |= FL; return;
  }
  const r = slowSqrt(a, false, rm);
  FL |= takeFlags();
  writeD(s, d, r); s.fcsr |= FL;
}

export function fsqrtS(s: ThreadState, d: number, ra: number, rm: number): void {
  const ba = sBits(s, ra), a = bitsF32(ba);
  FL = 0;
  if (a !== a) { if (isSNaNs(ba)) FL |= NV; writeS(s, d, NaN); s.fcsr |= FL; return; }
  rm = rmOf(s, rm);
  if (rm === RNE && a >= SMALL_S && a < Infinity) {
    const dv = Math.sqrt(a), r = Math.fround(dv);
    if (r !== dv) FL |= NX;
    writeS(s, d, r); s.fcsr |= FL; return;
  }
  const r = slowSqrt(a, true, rm);
  FL |= takeFlags();
  writeS(s, d, r); s.fcsr |= FL;
}

/**
 * Fused multiply-add family: kind 0 fmadd (a·b+c), 1 fmsub (a·b−c),
 * 2 fnmsub (−a·b+c), 3 fnmadd (−a·b−c); one rounding.
 */
export function fmaD(s: ThreadState, d: number, ra: number, rb: number, rc: number, rm: number, kind: number): void {
  let a = s.f[ra];
  const b = s.f[rb];
  let c = s.f[rc];
  FL = 0;
  const infZero = (isInf(a) && b === 0) || (a === 0 && isInf(b));
  if (a !== a || b !== b || c !== c) {
    if (isSNaNd(s, ra) || isSNaNd(s, rb) || isSNaNd(s, rc) || infZero) FL |= NV;
    writeD(s, d, NaN); s.fcsr |= FL; return;
  }
  if (kind >= 2) a = -a;
  if (kind & 1) c = -c;
  rm = rmOf(s, rm);
  if (infZero) { FL |= NV; writeD(s, d, NaN); s.fcsr |= FL; return; }
  if (rm === RNE) {
    // A zero factor (the other finite): the product is an exact ±0 and the sum exact, no flags.
    if (a === 0 || b === 0) { s.f[d] = a * b + c; s.fcsr |= FL; return; }
    const p = a * b, ap = Math.abs(p), ac = Math.abs(c);
    if (ap >= SMALL_FMA && ap < BIG && Math.abs(a) < BIG && Math.abs(b) < BIG && (c === 0 || (ac >= SMALL_FMA && ac < BIG))) {
      const pe = prodErr(a, b, p);
      const th = c + p, tl = sumErr(c, p, th);
      const v0 = tl + pe, ve = sumErr(tl, pe, v0);
      const v = toOdd(v0, ve);
      const r = th + v, ar = Math.abs(r);
      if (ar >= SMALL_FMA && ar < BIG) {
        if (ve !== 0 || sumErr(th, v, r) !== 0) FL |= NX;
        s.f[d] = r; s.fcsr |= FL; return;
      }
    }
  }
  const r = slowFma(a, b, c, false, rm);
  FL |= takeFlags();
  if (r !== r) FL |= NV;
  writeD(s, d, r); s.fcsr |= FL;
}

export function fmaS(s: ThreadState, d: number, ra: number, rb: number, rc: number, rm: number, kind: number): void {
  const ba = sBits(s, ra), bb = sBits(s, rb), bc = sBits(s, rc);
  let a = bitsF32(ba), c = bitsF32(bc);
  const b = bitsF32(bb);
  FL = 0;
  const infZero = (isInf(a) && b === 0) || (a === 0 && isInf(b));
  if (a !== a || b !== b || c !== c) {
    if (isSNaNs(ba) || isSNaNs(bb) || isSNaNs(bc) || infZero) FL |= NV;
    writeS(s, d, NaN); s.fcsr |= FL; return;
  }
  if (kind >= 2) a = -a;
  if (kind & 1) c = -c;
  rm = rmOf(s, rm);
  if (infZero) { FL |= NV; writeS(s, d, NaN); s.fcsr |= FL; return; }
  if (rm === RNE && isFinite(a) && isFinite(b) && isFinite(c)) {
    const p = a * b; // exact: 24 + 24 bits
    const sd = p + c, e = sumErr(p, c, sd);
    const o = toOdd(sd, e);
    const r = Math.fround(o), ar = Math.abs(r);
    if ((ar >= SMALL_S && ar < Infinity) || sd === 0) {
      if (e !== 0 || r !== o) FL |= NX;
      writeS(s, d, r); s.fcsr |= FL; return;
    }
  }
  const r = slowFma(a, b, c, true, rm);
  FL |= takeFlags();
  if (r !== r) FL |= NV;
  writeS(s, d, r); s.fcsr |= FL;
}

// ---------------------------------------------------------------------------
// Sign injection, min/max, compares, classify, moves.

/** kind 0 fsgnj, 1 fsgnjn, 2 fsgnjx. */
export function fsgnjD(s: ThreadState, d: number, ra: number, rb: number, kind: number): void {
  const fb = s.fbits;
  const ha = fb[2 * ra + 1], la = fb[2 * ra], hb = fb[2 * rb + 1];
  const sb = kind === 0 ? hb & 0x80000000 : kind === 1 ? ~hb & 0x80000000 : (ha ^ hb) & 0x80000000;
  fb[2 * d] = la;
  fb[2 * d + 1] = (ha & 0x7fffffff) | sb;
}

export function fsgnjS(s: ThreadState, d: number, ra: number, rb: number, kind: number): void {
  const a = sBits(s, ra), b = sBits(s, rb);
  const sb = kind === 0 ? b & 0x80000000 : kind === 1 ? ~b & 0x80000000 : (a ^ b) & 0x80000000;
  s.fbits[2 * d] = (a & 0x7fffffff) | sb;
  s.fbits[2 * d + 1] = -1;
}

/** fmin/fmax (IEEE 754-2019 minimumNumber/maximumNumber, RISC-V 2.2+). */
export function fminmaxD(s: ThreadState, d: number, ra: number, rb: number, max: boolean): void {
  const a = s.f[ra], b = s.f[rb];
  if (isSNaNd(s, ra) || isSNaNd(s, rb)) s.fcsr |= NV;
  let r: number;
  if (a !== a) r = b;
  else if (b !== b) r = a;
  else if (a === b) r = (signBit(a) !== signBit(b)) ? (max ? 0 : -0) : a;
  else r = max ? (a > b ? a : b) : (a < b ? a : b);
  writeD(s, d, r);
}

export function fminmaxS(s: ThreadState, d: number, ra: number, rb: number, max: boolean): void {
  const ba = sBits(s, ra), bb = sBits(s, rb);
  const a = bitsF32(ba), b = bitsF32(bb);
  if (isSNaNs(ba) || isSNaNs(bb)) s.fcsr |= NV;
  let r: number;
  if (a !== a) r = b;
  else if (b !== b) r = a;
  else if (a === b) r = ((ba ^ bb) < 0) ? (max ? 0 : -0) : a;
  else r = max ? (a > b ? a : b) : (a < b ? a : b);
  writeS(s, d, r);
}

/** Compare: kind 0 fle, 1 flt, 2 feq. Writes 0/1 to integer register xd. */
export function fcmpD(s: ThreadState, d: number, ra: number, rb: number, kind: number): void {
  const a = s.f[ra], b = s.f[rb];
  let r = 0;
  if (a !== a || b !== b) {
    if (kind !== 2 || isSNaNd(s, ra) || isSNaNd(s, rb)) s.fcsr |= NV;
  } else r = kind === 0 ? +(a <= b) : kind === 1 ? +(a < b) : +(a === b);
  if (d !== 0) { s.x[2 * d] = r; s.x[2 * d + 1] = 0; }
}

export function fcmpS(s: ThreadState, d: number, ra: number, rb: number, kind: number): void {
  const ba = sBits(s, ra), bb = sBits(s, rb);
  const a = bitsF32(ba), b = bitsF32(bb);
  let r = 0;
  if (a !== a || b !== b) {
    if (kind !== 2 || isSNaNs(ba) || isSNaNs(bb)) s.fcsr |= NV;
  } else r = kind === 0 ? +(a <= b) : kind === 1 ? +(a < b) : +(a === b);
  if (d !== 0) { s.x[2 * d] = r; s.x[2 * d + 1] = 0; }
}

function classify(neg: boolean, expAllOnes: boolean, expZero: boolean, fracZero: boolean, quiet: boolean): number {
  if (expAllOnes) {
    if (fracZero) return neg ? 1 << 0 : 1 << 7;
    return quiet ? 1 << 9 : 1 << 8;
  }
  if (expZero) {
    if (fracZero) return neg ? 1 << 3 : 1 << 4;
    return neg ? 1 << 2 : 1 << 5;
  }
  return neg ? 1 << 1 : 1 << 6;
}

export function fclassD(s: ThreadState, d: number, ra: number): void {
  const hi = s.fbits[2 * ra + 1], lo = s.fbits[2 * ra];
  const ex = (hi >>> 20) & 0x7ff;
  const r = classify(hi < 0, ex === 0x7ff, ex === 0, (hi & 0xfffff) === 0 && lo === 0, (hi & 0x80000) !== 0);
  if (d !== 0) { s.x[2 * d] = r; s.x[2 * d + 1] = 0; }
}

export function fclassS(s: ThreadState, d: number, ra: number): void {
  const b = sBits(s, ra);
  const ex = (b >>> 23) & 0xff;
  const r = classify(b < 0, ex === 0xff, ex === 0, (b & 0x7fffff) === 0, (b & 0x400000) !== 0);
  if (d !== 0) { s.x[2 * d] = r; s.x[2 * d + 1] = 0; }
}

// ---------------------------------------------------------------------------
// Conversions.

/** Round an integral-or-not finite double to an integer per rm. */
function roundInt(v: number, rm: number): number {
  switch (rm) {
    case RTZ: return Math.trunc(v);
    case RDN: return Math.floor(v);
    case RUP: return Math.ceil(v);
    case RMM: { const t = Math.trunc(v); return Math.abs(v - t) >= 0.5 ? t + Math.sign(v) : t; }
    default: {
      const f = Math.floor(v), diff = v - f;
      if (diff > 0.5) return f + 1;
      if (diff < 0.5) return f;
      return f % 2 === 0 ? f : f + 1;
    }
  }
}

/**
 * Float (as a double value) to integer: kind 0 w, 1 wu, 2 l, 3 lu. Writes
 * x[d] sign-extended (32-bit results sign-extend to 64 bits, as RV64 does).
 */
function toInt(s: ThreadState, d: number, v: number, rm: number, kind: number): void {
  let lo: number, hi: number;
  const min = kind === 0 ? -2147483648 : kind === 2 ? -9223372036854775808 : 0;
  const maxP1 = kind === 0 ? 2147483648 : kind === 1 ? 4294967296 : kind === 2 ? 9223372036854775808 : 18446744073709551616;
  let r: number;
  let invalid = false;
  if (v !== v) { invalid = true; r = Infinity; }
  else {
    r = roundInt(v, rm);
    if (r < min || r >= maxP1) invalid = true;
    else if (r !== v) s.fcsr |= NX;
    if (r === 0) r = 0; // drop -0
  }
  if (invalid) {
    s.fcsr |= NV;
    // NaN and too large: the maximum; too small: the minimum.
    if (r > 0) {
      switch (kind) {
        case 0: lo = 0x7fffffff; hi = 0; break;
        case 1: lo = -1; hi = -1; break;
        case 2: lo = -1; hi = 0x7fffffff; break;
        default: lo = -1; hi = -1; break;
      }
    } else {
      switch (kind) {
        case 0: lo = 0x80000000 | 0; hi = -1; break;
        case 2: lo = 0; hi = 0x80000000 | 0; break;
        default: lo = 0; hi = 0; break;
      }
    }
  } else if (kind <= 1) {
    lo = r | 0; hi = lo >> 31;
  } else {
    const h = Math.floor(r / TWO32);
    lo = (r - h * TWO32) | 0; hi = h | 0;
  }
  if (d !== 0) { s.x[2 * d] = lo; s.x[2 * d + 1] = hi; }
}

export function fcvtIntD(s: ThreadState, d: number, ra: number, rm: number, kind: number): void {
  toInt(s, d, s.f[ra], rmOf(s, rm), kind);
}

export function fcvtIntS(s: ThreadState, d: number, ra: number, rm: number, kind: number): void {
  toInt(s, d, bitsF32(sBits(s, ra)), rmOf(s, rm), kind);
}

/** Integer register (kind 0 w, 1 wu, 2 l, 3 lu) to float; the exact value as a number or a BigInt. */
function intValue(s: ThreadState, ra: number, kind: number): number | bigint {
  const lo = s.x[2 * ra], hi = s.x[2 * ra + 1];
  switch (kind) {
    case 0: return lo;
    case 1: return lo >>> 0;
    case 2:
      if (hi >= -0x200000 && hi < 0x200000) return hi * TWO32 + (lo >>> 0);
      return (BigInt(hi) << 32n) | BigInt(lo >>> 0);
    default:
      if ((hi >>> 0) < 0x200000) return (hi >>> 0) * TWO32 + (lo >>> 0);
      return (BigInt(hi >>> 0) << 32n) | BigInt(lo >>> 0);
  }
}

function intToFloat(v: number | bigint, single: boolean, rm: number): number {
  if (typeof v === 'number') {
    if (v === 0) return 0;
    const lim = single ? 16777216 : 9007199254740992;
    if (v > -lim && v < lim) return v;
    if (single && rm === RNE) { const r = Math.fround(v); if (r !== v) FL |= NX; return r; }
    v = BigInt(v);
  }
  const r = v < 0n ? roundPack(1, -v, 0, false, single, rm) : roundPack(0, v, 0, false, single, rm);
  FL |= takeFlags();
  return r;
}

export function fcvtFromIntD(s: ThreadState, d: number, ra: number, rm: number, kind: number): void {
  FL = 0;
  s.f[d] = intToFloat(intValue(s, ra, kind), false, rmOf(s, rm));
  s.fcsr |= FL;
}

export function fcvtFromIntS(s: ThreadState, d: number, ra: number, rm: number, kind: number): void {
  FL = 0;
  writeS(s, d, intToFloat(intValue(s, ra, kind), true, rmOf(s, rm)));
  s.fcsr |= FL;
}

/** fcvt.s.d: round a double to single. */
export function fcvtSD(s: ThreadState, d: number, ra: number, rm: number): void {
  const a = s.f[ra];
  FL = 0;
  if (a !== a) { if (isSNaNd(s, ra)) FL |= NV; writeS(s, d, NaN); s.fcsr |= FL; return; }
  rm = rmOf(s, rm);
  let r: number;
  if (a === 0 || isInf(a)) r = a;
  else if (rm === RNE && Math.abs(Math.fround(a)) >= SMALL_S && Math.abs(Math.fround(a)) < Infinity) {
    r = Math.fround(a);
    if (r !== a) FL |= NX;
  } else {
    r = roundExact(a, true, rm); // a is finite and nonzero here
    FL |= takeFlags();
  }
  writeS(s, d, r); s.fcsr |= FL;
}

/** fcvt.d.s: exact widening (NaN becomes the canonical NaN). */
export function fcvtDS(s: ThreadState, d: number, ra: number): void {
  const b = sBits(s, ra);
  const a = bitsF32(b);
  if (a !== a && isSNaNs(b)) s.fcsr |= NV;
  writeD(s, d, a);
}
