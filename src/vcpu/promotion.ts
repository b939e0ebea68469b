// When tier 0 hands a block to the compiler (cpu.ts runTier0): the
// promotion rule. See README.md, "Decision: promoting the blocks of a
// program's main loop early".
//
// The plain rule is heat (runs, plus LOOP_HEAT per backward jump inside the
// block) reaching `promoteAt` (PROMOTE_AFTER, 100 000): compiling a block
// costs V8 milliseconds, which only a block that runs very often repays, and
// most warm code of a cold start (python's) never does. A block whose heat
// comes from runs spread thinly over a long program cannot tell that apart
// from a block of a small loop the program will go on running for the rest
// of its life: a loop around a system call (a stat of a name built by
// snprintf) runs each of its blocks once per iteration, a few thousand
// times, and never reaches the threshold, while its instructions are most
// of what the program retires. The second kind is recognised by density:
// between two early marks of its heat, the block ran at least once every
// `DENSE` instructions the vCPU retired (it belongs to a loop of at most
// that many instructions, calls included). Such a block is promoted at
// `EARLY_AT` runs. Blocks with a loop inside them keep the plain rule (a
// hot inner loop reaches it in PROMOTE_AFTER / LOOP_HEAT iterations, and
// goes on to tier 2 by the probe).
//
// Tier 0 checks only `Block.due` (interp.ts: a block is not entered by
// chaining once its heat reaches it), so the rule costs nothing per
// instruction: the run loop calls `ripe` when a block's heat reaches its
// `due`, and `ripe` either says promote or moves `due` on.

import { Field, Op, OP_MASK, Tier0 } from './ops.js';

/** What the rule reads and writes of a block (block.ts). */
export interface Promotable {
  heat: number;
  /** Heat at which the run loop next asks `ripe` (see the file comment). */
  due: number;
  /** The vCPU's instret when the block's heat passed its first mark (density's start), negative before. */
  mark: number;
  /** The vCPU's run() calls (`entries`) at the mark. */
  markEntries: number;
  /** The pre-decoded form (ops.ts), for the check for a loop inside the block. */
  pre: Int32Array | null;
}

/** What the rule reads of the vCPU (cpu.ts): instructions retired, and calls of run() (each a return from the kernel: a system call, mostly). */
export interface VcpuCounts { readonly instret: number; readonly entries: number }

/** Heat of the first mark (density's window starts there: a block's first runs may be spread out, the loop not yet entered). */
export const MARK_AT = 64;
/** Heat at which a dense block is promoted (TSVISOR_EARLY_AT; 0 turns the rule off). */
export let EARLY_AT = 1024;
/** At most this many instructions retired per run of a block between its marks for it to count as dense (TSVISOR_DENSE). */
export let DENSE = 4000;
/** At most this many runs of a block per return from the kernel between its marks: the loop makes a system call every PER_ENTRY times round at least. */
export const PER_ENTRY = 2;
let read = false;

/** The environment's settings, read at first use. */
function settings(): void {
  read = true;
  const e = process.env.TSVISOR_EARLY_AT, d = process.env.TSVISOR_DENSE;
  if (e !== undefined && e !== '' && Number.isFinite(Number(e))) EARLY_AT = Number(e);
  if (d !== undefined && d !== '' && Number.isFinite(Number(d))) DENSE = Number(d);
}

/** The first `due` of a new tier-0 block on a Cpu promoting at `promoteAt` (Infinity: never). */
export function firstDue(promoteAt: number): number {
  if (!read) settings();
  return EARLY_AT > 0 && MARK_AT < promoteAt && promoteAt !== Infinity ? MARK_AT : promoteAt;
}

/**
 * Called when block `b`'s heat has reached `b.due`, with the vCPU's
 * instructions retired so far: true when it should be compiled now (its
 * heat reached `promoteAt`, or it is dense at EARLY_AT); else `b.due` is
 * moved to the next heat at which to ask.
 */
export function ripe(b: Promotable, cpu: VcpuCounts, promoteAt: number): boolean {
  if (b.heat >= promoteAt) return true;
  if (b.mark < 0 && b.heat < EARLY_AT) {
    b.mark = cpu.instret;
    b.markEntries = cpu.entries;
    b.due = EARLY_AT < promoteAt ? EARLY_AT : promoteAt;
    return false;
  }
  b.due = promoteAt;
  if (b.mark < 0 || b.pre === null || hasLoop(b.pre)) return false;
  const runs = b.heat - MARK_AT;
  return cpu.instret - b.mark <= runs * DENSE && (cpu.entries - b.markEntries) * PER_ENTRY >= runs;
}

/** Whether pre-decoded block `code` jumps back into itself (a branch or jal to an earlier instruction of its own). */
function hasLoop(code: Int32Array): boolean {
  for (let o = 0; o < code.length; o += Tier0.STRIDE) {
    const op = code[o + Field.OP] & OP_MASK, t = code[o + Field.AUX];
    if ((op === Op.JAL || (op >= Op.BEQ && op <= Op.BGEU)) && t >= 0 && t <= o) return true;
  }
  return false;
}
