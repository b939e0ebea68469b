// Byte-level mutations shared by the targets, and values a fuzzer tries
// first at a field's edges (0, -1, powers of two and their neighbours).

import { Rng } from './rng.js';

/** Values that often sit on a boundary of a check. */
export const INTERESTING_U32: readonly number[] = [
  0, 1, 2, 7, 8, 16, 55, 56, 57, 63, 64, 127, 128, 255, 256, 511, 512, 4095, 4096, 4097, 8192, 0x7fff, 0x8000, 0xffff, 0x10000, 0x7fffffff, 0x80000000, 0xfffffffe, 0xffffffff,
];

export const INTERESTING_U64: readonly bigint[] = [
  0n, 1n, 0xfffn, 0x1000n, 0x7fffffffn, 0x80000000n, 0xffffffffn, 0x100000000n, 0xfffff000n, 0x1_0000_0000_0000n, 0x1f_ffff_ffff_ffffn, 0x20_0000_0000_0000n, 0x7fff_ffff_ffff_ffffn, 0x8000_0000_0000_0000n, 0xffff_ffff_ffff_ffffn,
];

/** Writes an interesting or random value of `width` bytes (1, 2, 4, 8), little-endian, at `off`. */
export function pokeValue(rng: Rng, buf: Uint8Array, off: number, width: 1 | 2 | 4 | 8): void {
  if (off < 0 || off + width > buf.length) return;
  const dv = new DataView(buf.buffer, buf.byteOffset, buf.byteLength);
  if (width === 8) {
    const v = rng.chance(0.7) ? rng.pick(INTERESTING_U64) : rng.u64();
    dv.setBigUint64(off, rng.chance(0.1) ? BigInt.asUintN(64, v + BigInt(rng.range(-2, 2))) : v, true);
    return;
  }
  const raw = rng.chance(0.7) ? rng.pick(INTERESTING_U32) : rng.u32();
  const v = (raw + (rng.chance(0.1) ? rng.range(-2, 2) : 0)) >>> 0;
  if (width === 4) dv.setUint32(off, v, true);
  else if (width === 2) dv.setUint16(off, v & 0xffff, true);
  else dv.setUint8(off, v & 0xff);
}

/**
 * One to `maxSteps` random edits of `input` (a new array): bit flips, byte
 * sets, interesting values, inserted, deleted, duplicated or truncated
 * ranges, and splices from `other` when given.
 */
export function mutateBytes(rng: Rng, input: Uint8Array, maxSteps = 8, maxLen = 1 << 20, other?: Uint8Array): Uint8Array {
  let b: Uint8Array = Uint8Array.from(input);
  const steps = 1 + rng.below(maxSteps);
  for (let s = 0; s < steps; s++) {
    const at = b.length === 0 ? 0 : rng.below(b.length);
    switch (rng.below(9)) {
      case 0:
        if (b.length) b[at] ^= 1 << rng.below(8);
        break;
      case 1:
        if (b.length) b[at] = rng.u32() & 0xff;
        break;
      case 2:
        pokeValue(rng, b, at, rng.pick([1, 2, 4, 8] as const));
        break;
      case 3: {
        const ins = rng.bytes(rng.size(64));
        b = concat(b.subarray(0, at), ins, b.subarray(at));
        break;
      }
      case 4: {
        const len = rng.size(b.length - at);
        b = concat(b.subarray(0, at), b.subarray(at + len));
        break;
      }
      case 5: {
        const len = rng.size(Math.min(256, b.length - at));
        const dst = b.length === 0 ? 0 : rng.below(b.length);
        b = concat(b.subarray(0, dst), b.slice(at, at + len), b.subarray(dst));
        break;
      }
      case 6:
        b = b.slice(0, rng.below(b.length + 1));
        break;
      case 7:
        if (other && other.length) {
          const from = rng.below(other.length);
          const len = rng.size(other.length - from);
          b = concat(b.subarray(0, at), other.subarray(from, from + len), b.subarray(at));
        }
        break;
      default:
        // A run of one byte (often where a length or count lives).
        if (b.length) b.fill(rng.pick([0, 0xff, 0x41, rng.u32() & 0xff]), at, at + rng.size(Math.min(64, b.length - at)));
    }
    if (b.length > maxLen) b = b.slice(0, maxLen);
  }
  return b;
}

export function concat(...parts: Uint8Array[]): Uint8Array {
  let n = 0;
  for (const p of parts) n += p.length;
  const out = new Uint8Array(n);
  let o = 0;
  for (const p of parts) {
    out.set(p, o);
    o += p.length;
  }
  return out;
}
