// Tier-2 regions one vCPU hands to another (see README.md, "Decision: hot
// regions handed to vCPU workers"). A Cpu lists the WebAssembly regions it
// kept after their trial (`RegionExport`); the kernel posts the ones a vCPU
// worker has not seen with the next thread of that address space it hands
// it (src/kernel/vcpus.ts), and the worker's Cpu takes each as the compiled
// block at its pc (Cpu.adopt) when the bytes it was compiled from are still
// there, on executable pages (`stillThere`). A WebAssembly.Module crosses
// threads by postMessage without being compiled again, so a thread moved
// to a worker mid-loop runs its loop in tier 2 at once, instead of the
// worker interpreting it cold, compiling it to tier 1, probing it and
// compiling it again.
//
// Contract: a record depends only on guest code bytes (its ranges, copied
// when it was kept), never on the Cpu that made it: the adopting Cpu binds
// it to its own memory, flags and register slot (wasm-bind.ts bindRegion).
// The list is append-only until the Cpu drops every block (flushCode), when
// it is replaced by a new, empty one.

import type { Block, BlockFn } from './block.js';
import { GUEST_VA_LIMIT, PAGE_SHIFT, PAGE_X, type GuestMemory } from './memory.js';
import type { WasmRegion } from './wasm-tier.js';

/** A kept tier-2 region, as posted to a worker (structured-clonable: the module is shared, not copied). */
export interface SharedRegion {
  /** The block it is the function of: [pc, end), n instructions. */
  pc: number;
  end: number;
  n: number;
  /** Its other code ranges (Block.extra), [start, end) pairs, or null. */
  extra: number[] | null;
  /** The bytes of [pc, end) and then of each extra range, as they were when it was kept. */
  bytes: Uint8Array;
  region: WasmRegion;
}

/** Most regions a Cpu lists (a program's hot loops are a few dozen). */
const MAX_REGIONS = 256;

/** The code ranges of a record, as [start, end) pairs: its own block first. */
function ranges(r: { pc: number; end: number; extra: number[] | null }): number[] {
  return [r.pc, r.end, ...(r.extra ?? [])];
}

export class RegionExport {
  /** The regions kept since the last flush, oldest first. */
  list: SharedRegion[] = [];
  private readonly compiled = new WeakMap<BlockFn, WasmRegion>();

  /** `onKept(b, fn)`: told of every tier-2 region function kept (kept()), listed or not; returns the function b keeps. */
  constructor(private readonly onKept?: (b: Block, fn: BlockFn) => BlockFn) {}

  /** Remember that block function `fn` runs `region` (what kept() looks up); returns `fn` (null: bindRegion declined it, nothing noted). */
  noteCompiled(fn: BlockFn | null, region: WasmRegion): BlockFn | null {
    if (fn !== null) this.compiled.set(fn, region);
    return fn;
  }

  /** The tier-2 region block function `fn` runs (noteCompiled), if any. */
  regionOf(fn: BlockFn): WasmRegion | undefined {
    return this.compiled.get(fn);
  }

  /** `fn` was kept as block `b`'s function: if it runs a tier-2 region (noteCompiled), it is listed and onKept is told. Returns the function b keeps: onKept's, else `fn`. */
  kept(b: Block, fn: BlockFn, mem: GuestMemory): BlockFn {
    const region = this.compiled.get(fn);
    if (region === undefined) return fn;
    const keep = this.onKept?.(b, fn) ?? fn;
    if (this.list.length >= MAX_REGIONS) return keep;
    const rs = ranges(b);
    let size = 0;
    for (let i = 0; i < rs.length; i += 2) size += rs[i + 1] - rs[i];
    const bytes = new Uint8Array(size);
    for (let i = 0, at = 0; i < rs.length; at += rs[i + 1] - rs[i], i += 2) bytes.set(mem.u8.subarray(rs[i], rs[i + 1]), at);
    this.list.push({ pc: b.pc, end: b.end, n: b.n, extra: b.extra === null ? null : [...b.extra], bytes, region });
    return keep;
  }

  /** Every block was dropped: a new, empty list (those who hold the old one see it is not this one). */
  flushed(): void {
    if (this.list.length > 0) this.list = [];
  }
}

/** Whether the code `r` was compiled from is in `mem` now, byte for byte, on executable pages. */
export function stillThere(r: SharedRegion, mem: GuestMemory): boolean {
  const rs = ranges(r), u8 = mem.u8, pf = mem.pageFlags;
  for (let i = 0, at = 0; i < rs.length; at += rs[i + 1] - rs[i], i += 2) {
    const [from, to] = [rs[i], rs[i + 1]];
    if (from < 0 || to > GUEST_VA_LIMIT || from >= to) return false;
    for (let pg = from >>> PAGE_SHIFT; pg <= (to - 1) >>> PAGE_SHIFT; pg++) if ((pf[pg] & PAGE_X) === 0) return false;
    for (let j = 0; j < to - from; j++) if (r.bytes[at + j] !== u8[from + j]) return false;
  }
  return true;
}
