// Rounding for the F and D extensions (fp.ts): the exact BigInt path that
// rounds any result to single or double in every rounding mode, and the
// error-free transformations with which the fast path tells exact results
// from inexact ones.
//
// Contract:
// - Nothing here touches a ThreadState. The exact path (roundPack,
//   roundExact, slowBin, slowSqrt, slowFma) ORs the IEEE flags it raises
//   into a pending set; the caller takes them with takeFlags() after each
//   call, which also clears the set for the next operation.
// - `rm` is a resolved rounding mode (0 RNE .. 4 RMM), never 7 (dynamic).
// - Tininess is detected after rounding, as RISC-V requires.
// - The error-free transformations are exact only in the ranges their
//   comments state; callers check those ranges (BIG, SMALL...) first and
//   fall back to the exact path outside them.

export const NV = 16, DZ = 8, OF = 4, UF = 2, NX = 1;
export const RNE = 0, RTZ = 1, RDN = 2, RUP = 3, RMM = 4;

export const TWO32 = 4294967296;

// Scratch conversions between doubles and their bit patterns.
const scratch = new ArrayBuffer(8);
const sF64 = new Float64Array(scratch);
const sI32 = new Int32Array(scratch);

/** Flags raised by the exact path since the last takeFlags(). */
let FL = 0;

/** The flags the exact path raised for the operation in progress; the set is left empty. */
export function takeFlags(): number {
  const f = FL;
  FL = 0;
  return f;
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

export function signBit(v: number): number {
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
export function roundPack(sign: number, m: bigint, e: number, sticky: boolean, single: boolean, rm: number): number {
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

export const enum Op { Add, Sub, Mul, Div }

/** Exact a op b for finite or infinite non-NaN a, b; NaN result means invalid. */
export function slowBin(op: Op, a: number, b: number, single: boolean, rm: number): number {
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

export function isInf(v: number): boolean { return v === Infinity || v === -Infinity; }

/** Round a finite double to the format (a no-op for doubles and for floats). */
export function roundExact(v: number, single: boolean, rm: number): number {
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

export function slowSqrt(a: number, single: boolean, rm: number): number {
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
export function slowFma(a: number, b: number, c: number, single: boolean, rm: number): number {
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
export function prodErr(a: number, b: number, p: number): number {
  let t = SPLITTER * a;
  const ah = t - (t - a), al = a - ah;
  t = SPLITTER * b;
  const bh = t - (t - b), bl = b - bh;
  return ((ah * bh - p) + ah * bl + al * bh) + al * bl;
}

/** Error of the double sum a + b (a + b = s + err), for finite s. */
export function sumErr(a: number, b: number, s: number): number {
  const bv = s - a, av = s - bv;
  return (a - av) + (b - bv);
}

export const BIG = 2 ** 995, SMALL = 2 ** -960, SMALL_S = 2 ** -125, SMALL_FMA = 2 ** -900;

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
export function toOdd(s: number, err: number): number {
  if (err === 0 || s === 0) return s;
  sF64[0] = s;
  if ((sI32[0] & 1) === 1) return s;
  // s is even and inexact: the odd neighbour on the side of the exact value.
  return nextToward(s, err);
}
