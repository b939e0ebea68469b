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
//   an exact BigInt path (rare by construction).

import type { ThreadState } from './state.js';

export const NV = 16, DZ = 8, OF = 4, UF = 2, NX = 1;
const RNE = 0, RTZ = 1, RDN = 2, RUP = 3, RMM = 4;

const TWO32 = 4294967296;
const CANON_S = 0x7fc00000;
const CANON_D_HI = 0x7ff80000;

// Scratch conversions between values and bit patterns.
const scratch = new ArrayBuffer(8);
const sF64 = new Float64Array(scratch);
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
// Exact arithmetic (the slow path).

function bitLen(m: bigint): number {
  return m === 0n ? 0 : m.toString(2).length;
}

/** A finite nonzero double as sign, integer significand and exponent: v = ±m·2^e. */
let dSign = 0, dMant = 0n, dExp = 0;
function decompose(v: number): void {
  sF64[0] = v;
  const hi = sI32[1], lo = sI32[0];
  dSign = hi < 0 ? 1 : 0;
  const ex = (hi >>> 20) & 0x7ff;
  const frac = (BigInt(hi & 0xfffff) << 32n) | BigInt(lo >>> 0);
  if (ex === 0) { dMant = frac; dExp = -1074; } else { dMant = frac | (1n << 52n); dExp = ex - 1075; }
}

function signBit(v: number): number {
  sF64[0] = v;
  return sI32[1] < 0 ? 1 : 0;
}

/** Largest finite value of the format. */
function maxFinite(single: boolean): number {
  return single ? 3.4028234663852886e38 : Number.MAX_VALUE;
}

/** Round mant·2^lsbShift right by `shift` bits per rm; returns the rounded integer and sets rIn (inexact). */
let rIn = false;
function roundShift(m: bigint, shift: number, sticky: boolean, sign: number, rm: number): bigint {
  let q: bigint, cmp: number; // cmp: -1 below half, 0 exactly half, 1 above half, -2 exact
  if (shift <= 0) {
    q = m << BigInt(-shift);
    cmp = sticky ? -1 : -2;
  } else {
    const sh = BigInt(shift);
    q = m >> sh;
    const rem = m & ((1n << sh) - 1n);
    const half = 1n << (sh - 1n);
    if (rem === 0n) cmp = sticky ? -1 : -2;
    else if (rem < half) cmp = -1;
    else if (rem > half) cmp = 1;
    else cmp = sticky ? 1 : 0;
  }
  rIn = cmp !== -2;
  if (!rIn) return q;
  let up = false;
  switch (rm) {
    case RNE: up = cmp === 1 || (cmp === 0 && (q & 1n) === 1n); break;
    case RTZ: up = false; break;
    case RDN: up = sign === 1; break;
    case RUP: up = sign === 0; break;
    default: up = cmp >= 0; break;
  }
  return up ? q + 1n : q;
}

/**
 * Round the exact value (-1)^sign · (m + sticky·ε) · 2^e (m > 0) to the
 * format, per rm, raising NX/OF/UF in FL. Returns the result as a double.
 */
function roundPack(sign: number, m: bigint, e: number, sticky: boolean, single: boolean, rm: number): number {
  const P = single ? 24 : 53, EMIN = single ? -126 : -1022, EMAX = single ? 127 : 1023;
  const E = e + bitLen(m) - 1;
  const lsb = Math.max(E - (P - 1), EMIN - (P - 1));
  const q = roundShift(m, lsb - e, sticky, sign, rm);
  const inexact = rIn;
  if (q === 0n) {
    FL |= UF | NX;
    return sign ? -0 : 0;
  }
  // Exponent of the result's top bit after rounding (unbounded range).
  const Er = lsb + bitLen(q) - 1;
  if (Er > EMAX) {
    FL |= OF | NX;
    const toInf = rm === RNE || rm === RMM || (rm === RUP && sign === 0) || (rm === RDN && sign === 1);
    const v = toInf ? Infinity : maxFinite(single);
    return sign ? -v : v;
  }
  if (inexact) {
    FL |= NX;
    if (E < EMIN) {
      // Tininess after rounding: would the result, rounded to P bits with
      // an unbounded exponent, still be below 2^EMIN?
      const qu = roundShift(m, E - (P - 1) - e, sticky, sign, rm);
      const Eu = E - (P - 1) + bitLen(qu) - 1;
      if (Eu < EMIN) FL |= UF;
    }
  }
  const v = Number(q) * Math.pow(2, lsb);
  return sign ? -v : v;
}

const enum Op { Add, Sub, Mul, Div }

/** Exact a op b for finite or infinite non-NaN a, b; NaN result means invalid. */
function slowBin(op: Op, a: number, b: number, single: boolean, rm: number): number {
  if (op === Op.Sub) { b = -b; op = Op.Add; }
  const sa = signBit(a), sb = signBit(b);
  if (op === Op.Add) {
    if (a === Infinity || a === -Infinity || b === Infinity || b === -Infinity) {
      const r = a + b;
      if (r !== r) FL |= NV;
      return r;
    }
    if (a === 0 && b === 0) return sa === sb ? a : (rm === RDN ? -0 : 0);
    if (a === 0) return roundExact(b, single, rm);
    if (b === 0) return roundExact(a, single, rm);
    decompose(a); const ma = sa ? -dMant : dMant, ea = dExp;
    decompose(b); const mb = sb ? -dMant : dMant, eb = dExp;
    const e = Math.min(ea, eb);
    const sum = (ma << BigInt(ea - e)) + (mb << BigInt(eb - e));
    if (sum === 0n) return rm === RDN ? -0 : 0;
    return sum < 0n ? roundPack(1, -sum, e, false, single, rm) : roundPack(0, sum, e, false, single, rm);
  }
  const sign = sa ^ sb;
  if (op === Op.Mul) {
    if (isInf(a) || isInf(b)) { const r = a * b; if (r !== r) FL |= NV; return r; }
    if (a === 0 || b === 0) return a * b;
    decompose(a); const ma = dMant, ea = dExp;
    decompose(b);
    return roundPack(sign, ma * dMant, ea + dExp, false, single, rm);
  }
  // Division.
  if (a !== a || (isInf(a) && isInf(b)) || (a === 0 && b === 0)) { FL |= NV; return NaN; }
  if (isInf(a)) return sign ? -Infinity : Infinity;
  if (isInf(b) || a === 0) return sign ? -0 : 0;
  if (b === 0) { FL |= DZ; return sign ? -Infinity : Infinity; }
  decompose(a); const ma = dMant, ea = dExp;
  decompose(b); const mb = dMant, eb = dExp;
  const k = Math.max(0, (single ? 24 : 53) + 3 + bitLen(mb) - bitLen(ma));
  const num = ma << BigInt(k);
  const q = num / mb;
  return roundPack(sign, q, ea - eb - k, q * mb !== num, single, rm);
}

function isInf(v: number): boolean { return v === Infinity || v === -Infinity; }

/** Round a finite double to the format (a no-op for doubles and for floats). */
function roundExact(v: number, single: boolean, rm: number): number {
  if (!single || v === 0 || isInf(v) || v !== v) return v;
  decompose(v);
  return roundPack(dSign, dMant, dExp, false, true, rm);
}

function isqrt(n: bigint): bigint {
  if (n < 2n) return n;
  let x = 1n << BigInt((bitLen(n) + 1) >> 1);
  for (;;) {
    const y = (x + n / x) >> 1n;
    if (y >= x) return x;
    x = y;
  }
}

function slowSqrt(a: number, single: boolean, rm: number): number {
  if (a === 0 || a === Infinity) return a;
  if (a < 0) { FL |= NV; return NaN; }
  decompose(a);
  let m = dMant, e = dExp;
  if (e & 1) { m <<= 1n; e -= 1; }
  const P = single ? 24 : 53;
  const k = Math.max(0, P + 3 - (bitLen(m) >> 1)) + 1;
  m <<= BigInt(2 * k);
  const r = isqrt(m);
  return roundPack(0, r, (e - 2 * k) / 2, r * r !== m, single, rm);
}

/** Exact a·b + c for non-NaN operands (invalid cases already handled). */
function slowFma(a: number, b: number, c: number, single: boolean, rm: number): number {
  const sp = signBit(a) ^ signBit(b);
  if (isInf(a) || isInf(b)) {
    const p = sp ? -Infinity : Infinity;
    return p + c;
  }
  if (isInf(c)) return c;
  if (a === 0 || b === 0) {
    const sc = signBit(c);
    if (c === 0) return sp === sc ? c : (rm === RDN ? -0 : 0);
    return roundExact(c, single, rm);
  }
  decompose(a); const ma = dMant, ea = dExp;
  decompose(b);
  let pm = ma * dMant; const pe = ea + dExp;
  if (sp) pm = -pm;
  if (c === 0) return pm < 0n ? roundPack(1, -pm, pe, false, single, rm) : roundPack(0, pm, pe, false, single, rm);
  decompose(c);
  const cm = dSign ? -dMant : dMant, ce = dExp;
  const e = Math.min(pe, ce);
  const sum = (pm << BigInt(pe - e)) + (cm << BigInt(ce - e));
  if (sum === 0n) return rm === RDN ? -0 : 0;
  return sum < 0n ? roundPack(1, -sum, e, false, single, rm) : roundPack(0, sum, e, false, single, rm);
}

// ---------------------------------------------------------------------------
// Error-free transformations (fast path; valid away from overflow/underflow).

const SPLITTER = 134217729; // 2^27 + 1
/** Error of the double product a·b (a·b = RN(a·b) + err), for |a|,|b| < 2^995 and |a·b| >= 2^-960. */
function prodErr(a: number, b: number, p: number): number {
  let t = SPLITTER * a;
  const ah = t - (t - a), al = a - ah;
  t = SPLITTER * b;
  const bh = t - (t - b), bl = b - bh;
  return ((ah * bh - p) + ah * bl + al * bh) + al * bl;
}

/** Error of the double sum a + b (a + b = s + err), for finite s. */
function sumErr(a: number, b: number, s: number): number {
  const bv = s - a, av = s - bv;
  return (a - av) + (b - bv);
}

const BIG = 2 ** 995, SMALL = 2 ** -960, SMALL_S = 2 ** -125, SMALL_FMA = 2 ** -900;

/** Step a nonzero finite double one ulp up (dir > 0) or down in value. */
function nextToward(v: number, dir: number): number {
  sF64[0] = v;
  let lo = sI32[0] >>> 0, hi = sI32[1];
  const away = (v > 0) === (dir > 0);
  if (away) { lo += 1; if (lo === TWO32) { lo = 0; hi += 1; } } else { lo -= 1; if (lo < 0) { lo = TWO32 - 1; hi -= 1; } }
  sI32[0] = lo | 0; sI32[1] = hi;
  return sF64[0];
}

/** Round-to-odd of the exact s + err (s = RN(exact), err the remainder). */
function toOdd(s: number, err: number): number {
  if (err === 0 || s === 0) return s;
  sF64[0] = s;
  if ((sI32[0] & 1) === 1) return s;
  // s is even and inexact: the odd neighbour on the side of the exact value.
  return nextToward(s, err);
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
  writeD(s, d, slowSqrt(a, false, rm)); s.fcsr |= FL;
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
  writeS(s, d, slowSqrt(a, true, rm)); s.fcsr |= FL;
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
  return v < 0n ? roundPack(1, -v, 0, false, single, rm) : roundPack(0, v, 0, false, single, rm);
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
    decompose(a);
    r = roundPack(dSign, dMant, dExp, false, true, rm);
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
