// Blocks shared by every Cpu of a thread, by start pc: the code bytes they
// were decoded from, their pre-decoded form (tier 0) and, once some Cpu
// compiled them, their factory (tier 1). Both depend only on the pc and
// those bytes, so a forked or re-exec'd process running the same program
// reuses them after a byte compare, instead of decoding (and compiling)
// every block again: for a busybox shell script, compiling was 60% of all
// time before tier 0. A pre-decoded form is read-only and block-relative,
// so Cpus share the array itself; each keeps its own heat. Bounded; cleared
// wholesale when full.

import { Flag, Limit, PAGE_SHIFT, type GuestMemory } from './memory.js';

export interface SharedBlock<F> {
  /** The bytes the block was decoded from (its pc's), at bytes[at..at+len): a slab several entries share. */
  readonly bytes: Uint8Array;
  readonly at: number;
  readonly len: number;
  /** Its instruction count. */
  n: number;
  decoded: Int32Array | null;
  factory: F | null;
  /** The entry decoded from other bytes at the same pc, or null. */
  next: SharedBlock<F> | null;
}

/**
 * Whether `code` equals the bytes of `u8` from `at`. A loop: blocks are a
 * few dozen bytes, and `Buffer.compare` of a subarray of the shared guest
 * memory cost several µs a call (a native call and a view allocated each
 * time), 13% of the worker's CPU in the cold busybox script (30 execs of
 * the same binary, every block found here).
 */
function sameBytes<F>(e: SharedBlock<F>, u8: Uint8Array, pc: number): boolean {
  const bytes = e.bytes, at = e.at;
  for (let i = 0; i < e.len; i++) if (bytes[at + i] !== u8[pc + i]) return false;
  return true;
}

/** Entries' bytes are copied into slabs of this many (a copy of its own per block was an ArrayBuffer each, and a view of a slab one more object; see ops.ts SLAB_INTS). */
const SLAB_BYTES = 1 << 16;

export class SharedBlocks<F> {
  /** The entries at each pc, chained by `next`. */
  private readonly byPc = new Map<number, SharedBlock<F>>();
  private count = 0;
  private slab = new Uint8Array(SLAB_BYTES);
  private slabUsed = 0;

  constructor(private readonly max: number) {}

  /**
   * The entry decoded before (by any Cpu of this thread) from the bytes now
   * at `pc` in `mem`, all on executable pages, or null; with `blockEnd`,
   * only one covering exactly [pc, blockEnd).
   */
  find(mem: GuestMemory, pc: number, blockEnd = -1): SharedBlock<F> | null {
    const u8 = mem.u8, pf = mem.pageFlags;
    for (let e = this.byPc.get(pc) ?? null; e !== null; e = e.next) {
      const end = pc + e.len;
      if (end > Limit.GUEST_VA || (blockEnd >= 0 && end !== blockEnd)) continue;
      let executable = true;
      for (let pg = pc >>> PAGE_SHIFT; pg <= (end - 1) >>> PAGE_SHIFT; pg++) if ((pf[pg] & Flag.X) === 0) executable = false;
      if (executable && sameBytes(e, u8, pc)) return e;
    }
    return null;
  }

  /** Start a new slab of bytes at the next entry (warmup-decode.ts). */
  retireSlab(): void {
    this.slabUsed = this.slab.length;
  }

  /** Forget every entry. */
  clear(): void {
    this.byPc.clear();
    this.count = 0;
  }

  /** The entry for the bytes now over [pc, end) of `mem` holding `n` instructions, made if there is none. */
  entry(mem: GuestMemory, pc: number, end: number, n: number): SharedBlock<F> {
    const found = this.find(mem, pc, end);
    if (found !== null) return found;
    if (this.count >= this.max) this.clear();
    const len = end - pc;
    if (this.slabUsed + len > this.slab.length) { this.slab = new Uint8Array(Math.max(SLAB_BYTES, len)); this.slabUsed = 0; }
    const bytes = this.slab, at = this.slabUsed, u8 = mem.u8;
    for (let i = 0; i < len; i++) bytes[at + i] = u8[pc + i];
    this.slabUsed += len;
    const e: SharedBlock<F> = { bytes, at, len, n, decoded: null, factory: null, next: this.byPc.get(pc) ?? null };
    this.byPc.set(pc, e);
    this.count++;
    return e;
  }
}
