// Tier 2's binding to a Cpu (the module itself: wasm-tier.ts): a compiled
// region instantiated over a memory for one Cpu behind the block contract
// (bindRegion; entered at another of its cases: caseEntry), the page-flag import that finds runs of pages to remember
// (runOf), and the register slots in page 0 through which the registers go
// in and out (regSlot, fpSlot).

import { FLAGS_GEN, PAGE_CODE, PAGE_W } from './memory.js';
import type { BlockFn } from './block.js';
import { engineStats, statsEnabled } from './engine-stats.js';
import { slowPathSource } from './wasm-fp.js';
import * as FP from './fp.js';
import type { ThreadState } from './state.js';
import { RUN_MAX, type WasmRegion } from './wasm-tier.js';

/**
 * The page-flag import of a tier-2 function over `pf` (the memory's flags,
 * its generation at FLAGS_GEN in `i32`): (page, need) -> the page's flags,
 * and where they grant `need` (for a store: and the page holds no decoded
 * code) the run of pages around it with the same flags byte, up to RUN_MAX
 * either side, as `back << 8 | fwd << 19` (pages before and after it), so
 * that the function remembers the whole run: a program reaching all over a
 * large mapping (a shuffle, a sieve) then misses once per run, not once
 * per page. The runs found are kept for the flags' generation (RUNS of
 * them, replaced in turn; the last one found is tried first), so a
 * function missing between a few runs does not scan again.
 */
function runOf(pf: Uint8Array, i32: Int32Array): (page: number, need: number) => number {
  const lo = new Int32Array(RUNS), hi = new Int32Array(RUNS).fill(-1);
  let gen = -1, next = 0, last = 0;
  return (page, need) => {
    const f = pf[page];
    if ((f & need) === 0 || (need === PAGE_W && (f & PAGE_CODE) !== 0)) return f;
    const g = i32[FLAGS_GEN >> 2];
    if (g !== gen) {
      gen = g;
      hi.fill(-1);
    }
    let i = last;
    if (!(page >= lo[i] && page <= hi[i] && pf[lo[i]] === f)) {
      i = 0;
      while (i < RUNS && !(page >= lo[i] && page <= hi[i] && pf[lo[i]] === f)) i++;
    }
    if (i === RUNS) {
      i = next;
      next = (next + 1) % RUNS;
      let a = page, z = page;
      const aMin = Math.max(1, page - RUN_MAX), zMax = Math.min(pf.length - 1, page + RUN_MAX);
      while (a > aMin && pf[a - 1] === f) a--;
      while (z < zMax && pf[z + 1] === f) z++;
      lo[i] = a;
      hi[i] = z;
    }
    last = i;
    const back = Math.min(page - lo[i], RUN_MAX), fwd = Math.min(hi[i] - page, RUN_MAX);
    return f | back << 8 | fwd << 19;
  };
}
const RUNS = 8;

/** What a tier-2 function calls back on its Cpu (cpu.ts): the block contract's fields and fault helpers. */
export interface Tier2Host {
  readonly mt: boolean;
  /** The thread running (the slow path of F/D instructions runs fp.ts on it). */
  readonly state: ThreadState;
  npc: number;
  flags2(a: number, size: number): number;
  codeWrite(a: number, size: number): boolean;
  segv(a: number, size: number, need: number, pc: number, k: number): number;
  trap(signal: number, code: number, pc: number, k: number): number;
  flushCode(): void;
  /** Instructions the run loop may still retire in the call now made (its budget less those retired: Cpu.run). */
  readonly left: number;
}

/**
 * The most instructions one call of a tier-2 function runs on to before it
 * leaves at its next chunk: the call does not see the interrupt flag, which
 * the run loop reads between calls, so this bounds how late an interrupt is
 * seen (the kernel's budgets, 200 000 and less, bound it first); and the
 * result's count must fit its 21 bits (wasm-tier.ts).
 */
export const CALL_MAX = 1 << 18;

/** Register slots in page 0, which no process maps (mm.ts): a claim word at 0, then SLOTS slots of 256 bytes. */
const SLOT_BYTES = 256, SLOTS = 15;
/** This thread's slot in each memory it has claimed one in, and its second slot for f registers (fpSlot). */
const slots = new WeakMap<WebAssembly.Memory, number>();
const fSlots = new WeakMap<WebAssembly.Memory, number>();

/**
 * The address of this thread's register slot in `memory` (tier 2's
 * registers in and out: x1..x31 as 8-byte words at 8*r, the next pc as a
 * double at 0), claimed once per thread and memory with an atomic or on
 * the claim word, or -1 when every slot is taken (the Cpu then keeps to
 * tier 1). One slot per thread is enough: a thread runs one tier-2
 * function at a time, and Cpus of one thread over one memory take turns.
 */
export function regSlot(memory: WebAssembly.Memory, i32: Int32Array): number {
  return claim(slots, memory, i32);
}

/**
 * The address of this thread's second slot in `memory`, claimed like
 * regSlot's when the thread first binds a region with F/D instructions:
 * f0..f31 as 8-byte bit patterns at 8*r. -1 when every slot is taken (the
 * region then stays in tier 1), so threads that run only integer code keep
 * SLOTS slots among them.
 */
export function fpSlot(memory: WebAssembly.Memory, i32: Int32Array): number {
  return claim(fSlots, memory, i32);
}

function claim(of: WeakMap<WebAssembly.Memory, number>, memory: WebAssembly.Memory, i32: Int32Array): number {
  const had = of.get(memory);
  if (had !== undefined) return had;
  for (let i = 0; i < SLOTS; i++) {
    if ((Atomics.or(i32, 0, 1 << i) & (1 << i)) === 0) {
      of.set(memory, SLOT_BYTES * (i + 1));
      return SLOT_BYTES * (i + 1);
    }
  }
  of.set(memory, -1);
  return -1;
}

/**
 * `region` instantiated over `memory` (page flags `pf`, the memory as
 * `i32` and `f64`) for `host`, as a block function: the registers it
 * reads copied from x into this thread's `slot` (regSlot), host.mt and the
 * slot passed in, the registers it wrote and the next pc copied back out.
 * With F/D instructions, the f registers likewise through the thread's f
 * slot (fpSlot; null when it has none), fcsr passed in and the flags
 * raised ORed into it.
 */
export function bindRegion(region: WasmRegion, host: Tier2Host, memory: WebAssembly.Memory, pf: Uint8Array,
  i32: Int32Array, f64: Float64Array, slot: number): BlockFn | null {
  const fslot = region.fp ? fpSlot(memory, i32) : 0;
  if (fslot < 0) return null;
  const o = slot >> 2, fo = fslot >> 2;
  const copyOf = (at: number, file: string) => (regs: number[], into: boolean): string =>
    regs.map((r) => [2 * r, 2 * r + 1].map((h) => (into ? `M[${at + h}]=${file}[${h}];` : `${file}[${h}]=M[${at + h}];`)).join('')).join('');
  const copy = copyOf(o, 'x'), fcopy = copyOf(fo, 'fb');
  const f = {
    pf: runOf(pf, i32),
    fl2: (a: number, size: number): number => host.flags2(a >>> 0, size),
    cw: (a: number, size: number): number => (host.codeWrite(a >>> 0, size) ? 1 : 0),
    sg: (lo: number, hi: number, size: number, need: number, pc: number, k: number): number =>
      host.segv(hi * 4294967296 + (lo >>> 0), size, need, pc >>> 0, k),
    tp: (signal: number, pc: number, k: number): number => host.trap(signal, 1, pc >>> 0, k),
    fi: (): void => host.flushCode(),
    fx: region.fp
      // eslint-disable-next-line @typescript-eslint/no-implied-eval
      ? new Function('c', 'F', 'M', `return function(i,ff){${slowPathSource(region.slow, o, fo)}};`)(host, FP, i32) as (i: number, ff: number) => number
      : (): number => 0,
  };
  const run = new WebAssembly.Instance(region.module, { m: { m: memory }, f }).exports.run;
  const count = statsEnabled ? 'E.tier2Insns+=r>>>3;' : '';
  // The first argument: bit 0 while other threads share the memory (a fence is then a barrier), bit 1 when
  // the call runs another thread's registers than the last (L: the function forgets its remembered pages).
  const flags = '(c.mt?1:0)|(s===L?0:(L=s,2))';
  const call = region.fp
    ? `${fcopy(region.fUsed, true)}const q=W(${flags},${slot},s.fcsr,${fslot});s.fcsr=(s.fcsr&224)|(q>>>24);const r=q&16777215;${fcopy(region.fWritten, false)}`
    : `const r=W(${flags},${slot});`;
  // The limit a call runs on to past its chunks (read at slot + 0, where it leaves the next pc); under mt too: another
  // thread's munmap or mprotect moves the flags' generation, which ends the call at its chunk (wasm-tier.ts chunkCheck).
  const limit = `const l=c.left;M[${o}]=l<${CALL_MAX}?l:${CALL_MAX};`;
  // The entry case C at slot + 4 (wasm-tier.ts cases).
  const body = `${copy(region.used, true)}${limit}M[${o + 1}]=C;${call}${copy(region.written, false)}c.npc=D[${slot >> 3}];${count}return r;`;
  // One instance, one L for every entry: the function at case C.
  // eslint-disable-next-line @typescript-eslint/no-implied-eval
  const at = new Function('W', 'c', 'E', 'M', 'D', `let L=null;return function(C){return function(s,x,fb){${body}};};`)(run, host, engineStats, i32, f64) as (c: number) => BlockFn;
  const fn = at(0);
  entries.set(fn, at);
  return fn;
}

/** The entry functions of each region bindRegion bound, by its start's function. */
const entries = new WeakMap<BlockFn, (c: number) => BlockFn>();

/**
 * The block function entering the region whose start's function (bindRegion's) is `fn` at its case `c`
 * (WasmRegion.cases; the same instance, its remembered pages shared), or null for a function bindRegion did not make.
 */
export function caseEntry(fn: BlockFn, c: number): BlockFn | null {
  return entries.get(fn)?.(c) ?? null;
}
