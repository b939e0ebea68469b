// 64-bit multiply and divide on registers held as int32 halves.
//
// Contract: each helper reads registers a and b and writes register d of the
// register file `x` (x[2i] low half, x[2i+1] high half), with RISC-V M
// semantics (division by zero gives all ones / the dividend, signed overflow
// gives the dividend / zero; no traps). d is never 0 (the code generator drops
// writes to x0). Numbers are used throughout; BigInt only for 64-bit divisions
// whose operands do not fit in 53 bits.

const TWO32 = 4294967296;

/** Scratch: the 64-bit product of two uint32 as [lo, hi] (uint32 each). */
let pLo = 0, pHi = 0;

/** Full product of two unsigned 32-bit numbers into pLo/pHi. */
function mulU32(a: number, b: number): void {
  a >>>= 0; b >>>= 0;
  const a0 = a & 0xffff, a1 = a >>> 16, b0 = b & 0xffff, b1 = b >>> 16;
  const p00 = a0 * b0, p01 = a0 * b1, p10 = a1 * b0, p11 = a1 * b1;
  const mid = (p00 >>> 16) + (p01 & 0xffff) + (p10 & 0xffff);
  pLo = (((mid & 0xffff) << 16) | (p00 & 0xffff)) >>> 0;
  pHi = (p11 + (p01 >>> 16) + (p10 >>> 16) + Math.floor(mid / 65536)) >>> 0;
}

export function mul(x: Int32Array, d: number, a: number, b: number): void {
  const aL = x[2 * a], aH = x[2 * a + 1], bL = x[2 * b], bH = x[2 * b + 1];
  mulU32(aL, bL);
  x[2 * d + 1] = (pHi + Math.imul(aH, bL) + Math.imul(aL, bH)) | 0;
  x[2 * d] = pLo | 0;
}

/** High 64 bits of the unsigned 128-bit product, into hLo/hHi (uint32). */
let hLo = 0, hHi = 0;
function mulHighU(aL: number, aH: number, bL: number, bH: number): void {
  mulU32(aL, bL); const h0 = pHi;
  mulU32(aL, bH); const l1 = pLo, h1 = pHi;
  mulU32(aH, bL); const l2 = pLo, h2 = pHi;
  mulU32(aH, bH); const l3 = pLo, h3 = pHi;
  const c1 = h0 + l1 + l2;
  const c2 = h1 + h2 + l3 + Math.floor(c1 / TWO32);
  const c3 = h3 + Math.floor(c2 / TWO32);
  hLo = c2 >>> 0;
  hHi = c3 >>> 0;
}

/** Subtract the 64-bit value (sL, sH) from (hLo, hHi), modulo 2^64. */
function subH(sL: number, sH: number): void {
  const lo = (hLo >>> 0) - (sL >>> 0);
  hHi = ((hHi - sH - (lo < 0 ? 1 : 0)) | 0) >>> 0;
  hLo = lo >>> 0;
}

export function mulhu(x: Int32Array, d: number, a: number, b: number): void {
  mulHighU(x[2 * a], x[2 * a + 1], x[2 * b], x[2 * b + 1]);
  x[2 * d] = hLo | 0; x[2 * d + 1] = hHi | 0;
}

export function mulh(x: Int32Array, d: number, a: number, b: number): void {
  const aL = x[2 * a], aH = x[2 * a + 1], bL = x[2 * b], bH = x[2 * b + 1];
  mulHighU(aL, aH, bL, bH);
  if (aH < 0) subH(bL, bH);
  if (bH < 0) subH(aL, aH);
  x[2 * d] = hLo | 0; x[2 * d + 1] = hHi | 0;
}

export function mulhsu(x: Int32Array, d: number, a: number, b: number): void {
  const aL = x[2 * a], aH = x[2 * a + 1], bL = x[2 * b], bH = x[2 * b + 1];
  mulHighU(aL, aH, bL, bH);
  if (aH < 0) subH(bL, bH);
  x[2 * d] = hLo | 0; x[2 * d + 1] = hHi | 0;
}

function setBig(x: Int32Array, d: number, v: bigint): void {
  x[2 * d] = Number(BigInt.asIntN(32, v));
  x[2 * d + 1] = Number(BigInt.asIntN(32, v >> 32n));
}

function getBigS(x: Int32Array, r: number): bigint {
  return (BigInt(x[2 * r + 1]) << 32n) | BigInt(x[2 * r] >>> 0);
}

function getBigU(x: Int32Array, r: number): bigint {
  return (BigInt(x[2 * r + 1] >>> 0) << 32n) | BigInt(x[2 * r] >>> 0);
}

/** Write an integral number |v| < 2^64 (exactly representable) as 64 bits. */
function setNum(x: Int32Array, d: number, v: number): void {
  const hi = Math.floor(v / TWO32);
  x[2 * d] = (v - hi * TWO32) | 0;
  x[2 * d + 1] = hi | 0;
}

/** True when the signed 64-bit value (lo, hi) is within ±2^53. */
function smallS(hi: number): boolean {
  return hi >= -0x200000 && hi < 0x200000;
}

/** Signed division/remainder; `rem` selects which is written. */
function divS(x: Int32Array, d: number, a: number, b: number, rem: boolean): void {
  const aL = x[2 * a], aH = x[2 * a + 1], bL = x[2 * b], bH = x[2 * b + 1];
  if (bL === 0 && bH === 0) {
    if (rem) { x[2 * d] = aL; x[2 * d + 1] = aH; } else { x[2 * d] = -1; x[2 * d + 1] = -1; }
    return;
  }
  if (bL === -1 && bH === -1 && aL === 0 && aH === (0x80000000 | 0)) {
    if (rem) { x[2 * d] = 0; x[2 * d + 1] = 0; } else { x[2 * d] = aL; x[2 * d + 1] = aH; }
    return;
  }
  if (smallS(aH) && smallS(bH)) {
    const av = aH * TWO32 + (aL >>> 0), bv = bH * TWO32 + (bL >>> 0);
    let q = Math.trunc(av / bv);
    let r = av - q * bv;
    // Correct the rare off-by-one of the rounded quotient.
    if (r !== 0 && (r < 0) !== (av < 0)) { q += (av < 0) === (bv < 0) ? -1 : 1; r = av - q * bv; }
    if (Math.abs(r) >= Math.abs(bv)) { q += (av < 0) === (bv < 0) ? 1 : -1; r = av - q * bv; }
    setNum(x, d, rem ? r : q);
    return;
  }
  const A = getBigS(x, a), B = getBigS(x, b);
  setBig(x, d, rem ? A % B : A / B);
}

function divU(x: Int32Array, d: number, a: number, b: number, rem: boolean): void {
  const aL = x[2 * a], aH = x[2 * a + 1], bL = x[2 * b], bH = x[2 * b + 1];
  if (bL === 0 && bH === 0) {
    if (rem) { x[2 * d] = aL; x[2 * d + 1] = aH; } else { x[2 * d] = -1; x[2 * d + 1] = -1; }
    return;
  }
  if ((aH >>> 0) < 0x200000 && (bH >>> 0) < 0x200000) {
    const av = (aH >>> 0) * TWO32 + (aL >>> 0), bv = (bH >>> 0) * TWO32 + (bL >>> 0);
    let q = Math.floor(av / bv);
    let r = av - q * bv;
    if (r < 0) { q -= 1; r += bv; }
    if (r >= bv) { q += 1; r -= bv; }
    setNum(x, d, rem ? r : q);
    return;
  }
  const A = getBigU(x, a), B = getBigU(x, b);
  setBig(x, d, rem ? A % B : A / B);
}

export function div(x: Int32Array, d: number, a: number, b: number): void { divS(x, d, a, b, false); }
export function rem(x: Int32Array, d: number, a: number, b: number): void { divS(x, d, a, b, true); }
export function divu(x: Int32Array, d: number, a: number, b: number): void { divU(x, d, a, b, false); }
export function remu(x: Int32Array, d: number, a: number, b: number): void { divU(x, d, a, b, true); }

function setW(x: Int32Array, d: number, v: number): void {
  x[2 * d] = v | 0;
  x[2 * d + 1] = (v | 0) >> 31;
}

export function divw(x: Int32Array, d: number, a: number, b: number): void {
  const av = x[2 * a], bv = x[2 * b];
  if (bv === 0) setW(x, d, -1);
  else if (bv === -1 && av === (0x80000000 | 0)) setW(x, d, av);
  else setW(x, d, Math.trunc(av / bv));
}

export function remw(x: Int32Array, d: number, a: number, b: number): void {
  const av = x[2 * a], bv = x[2 * b];
  if (bv === 0) setW(x, d, av);
  else if (bv === -1) setW(x, d, 0);
  else setW(x, d, av % bv);
}

export function divuw(x: Int32Array, d: number, a: number, b: number): void {
  const av = x[2 * a] >>> 0, bv = x[2 * b] >>> 0;
  setW(x, d, bv === 0 ? -1 : Math.floor(av / bv));
}

export function remuw(x: Int32Array, d: number, a: number, b: number): void {
  const av = x[2 * a] >>> 0, bv = x[2 * b] >>> 0;
  setW(x, d, bv === 0 ? av : av % bv);
}

export function mulw(x: Int32Array, d: number, a: number, b: number): void {
  setW(x, d, Math.imul(x[2 * a], x[2 * b]));
}
