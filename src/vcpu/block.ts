// A decoded block as the Cpu keeps it (cpu.ts): where it lies, which tier
// runs it, and what tier 0 needs to run it and chain from it (interp.ts).

import { AS_DOUBLE, type ThreadState } from './state.js';
import type { Tier0Block } from './interp.js';
import { PAGE_SIZE } from './memory.js';

/** A compiled block: runs on the thread's state and returns (retired << 3) | stop, next pc in cpu.npc. */
export type BlockFn = (s: ThreadState, x: Int32Array, fb: Int32Array) => number;

export class Block implements Tier0Block {
  /** The pre-decoded form while in tier 0 (ops.ts), null once compiled or dropped. */
  code: Int32Array | null = null;
  /** Tier-0 runs and backward jumps so far (interp.ts). */
  heat = 0;
  /** The block that followed this one last time (trace.ts follows it from a jalr); valid while linkEpoch is the Cpu's codeEpoch. */
  next: Tier0Block | null = null;
  linkEpoch = -1;
  /**
   * Tier 0 in WebAssembly: the backward jumps inside this block the module counted since `heatBase` was its
   * heat (its first run, or its last return to tier 0), so that heat - heatBase - LOOP_HEAT * trips is its
   * entries (cpu.ts shortRuns).
   */
  trips = 0;
  heatBase = 0;
  /** Times this block was sent back from tier 1 to tier 0 (cpu.ts demote): each puts its next promotion further off. */
  demotions = 0;
  /** The pre-decoded form, kept after promotion too: a later trace (cpu.ts) compiles it again into its own function. */
  pre: Int32Array | null = null;
  /**
   * A trace only: the other blocks' code compiled into `fn`, as [start, end)
   * pairs, so that a write to any of it drops this block too.
   */
  extra: number[] | null = null;
  /** Tier 0 in WebAssembly (interp-wasm.ts): the address of this block's records in the guest memory, valid while wepoch is the region's record epoch. */
  wrec = AS_DOUBLE; // records lie above 2^31: a double from the start (state.ts AS_DOUBLE), or the first would deprecate every Block's map
  wepoch = -1;
  constructor(
    /** Guest address of the first instruction. */
    readonly pc: number,
    /** One past the last byte decoded. */
    readonly end: number,
    /** Instruction count. */
    readonly n: number,
    /** The compiled function, which the run loop calls once `code` is null (before: NO_BLOCK_FN; the run loop interprets `code`). */
    public fn: BlockFn,
  ) {
    this.wrec = 0;
  }

  /** Whether code this block runs was decoded from bytes in [addr, end). */
  overlaps(addr: number, end: number): boolean {
    if (this.pc < end && this.end > addr) return true;
    const x = this.extra;
    if (x !== null) for (let i = 0; i < x.length; i += 2) if (x[i] < end && x[i + 1] > addr) return true;
    return false;
  }

  /** The 4 KiB pages holding code this block runs. */
  pages(): number[] {
    const out: number[] = [];
    const add = (from: number, to: number) => {
      for (let pg = Math.floor(from / PAGE_SIZE); pg <= Math.floor((to - 1) / PAGE_SIZE); pg++) if (!out.includes(pg)) out.push(pg);
    };
    add(this.pc, this.end);
    const x = this.extra;
    if (x !== null) for (let i = 0; i < x.length; i += 2) add(x[i], x[i + 1]);
    return out;
  }
}

export const NO_BLOCK_FN: BlockFn = () => 0;
/** The empty entry of the block caches (its pc matches no fetch). */
export const NO_BLOCK = new Block(-1, -1, 0, NO_BLOCK_FN);
