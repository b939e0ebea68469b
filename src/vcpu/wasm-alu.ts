// Integer emitters shared by tier 2 (wasm-tier.ts) and tier 0 in
// WebAssembly (wasm-interp.ts): instructions WebAssembly has no one opcode for.

import { type Body, W } from './wasm-encode.js';

/**
 * Push the high 64 bits of the 128-bit product of the i64 locals `a` and
 * `b` (rs1, rs2): mulhu from four 32x32-bit partial products, mulh and
 * mulhsu corrected for the operands taken as signed (minus b when a < 0,
 * and for mulh minus a when b < 0). `t3`, `t4`: i64 scratch locals.
 */
export function emitMulHigh(b: Body, op: 'mulh' | 'mulhsu' | 'mulhu', a: number, bb: number, t3: number, t4: number): void {
  const M = 4294967295;
  b.get(a).i64(M).op(W.i64And).get(bb).i64(32).op(W.i64ShrU, W.i64Mul).set(t3);
  b.get(a).i64(32).op(W.i64ShrU).get(bb).i64(M).op(W.i64And, W.i64Mul).set(t4);
  b.get(a).i64(32).op(W.i64ShrU).get(bb).i64(32).op(W.i64ShrU, W.i64Mul);
  b.get(t3).i64(32).op(W.i64ShrU, W.i64Add).get(t4).i64(32).op(W.i64ShrU, W.i64Add);
  b.get(a).i64(M).op(W.i64And).get(bb).i64(M).op(W.i64And, W.i64Mul).i64(32).op(W.i64ShrU);
  b.get(t3).i64(M).op(W.i64And, W.i64Add).get(t4).i64(M).op(W.i64And, W.i64Add).i64(32).op(W.i64ShrU, W.i64Add);
  if (op !== 'mulhu') b.get(a).i64(63).op(W.i64ShrS).get(bb).op(W.i64And, W.i64Sub);
  if (op === 'mulh') b.get(bb).i64(63).op(W.i64ShrS).get(a).op(W.i64And, W.i64Sub);
}
