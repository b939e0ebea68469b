// Which blocks a tier-2 function is compiled with (a wide region; see
// README.md, Model, Tier 2, and "Decision: wide regions for tier 2").
// Only chooses: wasm-tier.ts compiles the pieces, cpu.ts registers the
// region under every piece's pages.
//
// A trace (trace.ts) is sized for tier 1, where V8 deoptimizes and
// recompiles a large generated function; a WebAssembly function has no type
// feedback to miss, so tier 2 takes a loop's whole neighbourhood: the merge
// loop of a list sort, its inner walks and the blocks they jump between, so
// that they run as one function instead of a pass through the run loop
// each. Blocks that overlap code already taken (a block entered in the
// middle of another's straight line, as after `j` into a loop's body) are
// cut at the first instruction taken: their piece falls through into it,
// which is then a case of the region.

import type { Block, BlockFn } from './block.js';
import type { Piece } from './codegen.js';
import { BRANCHES, ENDS_BLOCK, toInsns } from './ops.js';
import { atProcessStart } from '../bundle/process-start.js';

/** Most blocks (TSVISOR_REGION_BLOCKS) and instructions in one tier-2 region. */
export let REGION_BLOCKS = 0;
export const REGION_INSNS = 1024;
atProcessStart(() => (REGION_BLOCKS = Number(process.env.TSVISOR_REGION_BLOCKS ?? '') || 32));
/**
 * A region's blocks after its first need a heat of the Cpu's promotion
 * count over REGION_HOT (TSVISOR_REGION_HOT), and a wide region on trial
 * is kept when its calls average REGION_MIN_RUN instructions
 * (TSVISOR_REGION_MIN_RUN; a lone block's bar is engines.ts WASM_MIN_RUN):
 * see README.md, "Decision: a lower bar for wide regions".
 */
export let REGION_HOT = 0, REGION_MIN_RUN = 0;
atProcessStart(() => {
  REGION_HOT = Number(process.env.TSVISOR_REGION_HOT ?? '') || 32;
  REGION_MIN_RUN = Number(process.env.TSVISOR_REGION_MIN_RUN ?? '') || 50;
});

/**
 * The pieces of the region of promoted block `b` (b first, from its kept
 * pre-decoded form), breadth first: each piece's successors (the targets of
 * its branches and jal, its fall-through end, the return site of a linking
 * jal or jalr, and for a piece ending in a jalr the block that followed it
 * last in tier 0, if linked in `epoch`) when they are live blocks of `live`
 * with their pre-decoded form kept and a heat (`heat(o)`) of at least `hot`. A
 * successor already inside a piece is left to the region's cases; a block
 * running into code already taken is cut there (its piece then falls
 * through to that case); pcs stay disjoint. At most `maxBlocks` pieces and
 * `maxInsns` instructions; `blocks` are the blocks the pieces came from
 * (for invalidation: all of their code, not only the pieces' parts).
 */
export function regionFrom(b: Block, live: ReadonlyMap<number, Block>, epoch: number, hot: number,
  heat: (o: Block) => number = (o) => o.heat, maxBlocks = REGION_BLOCKS, maxInsns = REGION_INSNS): { blocks: Block[]; pieces: Piece[] } {
  const blocks: Block[] = [b];
  const first = toInsns(b.pre as Int32Array, b.pc);
  const pieces: Piece[] = [{ insns: first.insns, pcs: first.pcs, end: b.end }];
  const taken = new Set<number>(first.pcs);
  let total = first.insns.length;
  for (let i = 0; i < pieces.length && blocks.length < maxBlocks; i++) {
    const { insns, pcs, end } = pieces[i];
    const last = insns[insns.length - 1];
    const targets: number[] = [];
    const from = blocks[i];
    // The block that followed a jalr last: only when the piece still ends in the block's own jalr.
    if (last.op === 'jalr' && end === from.end && from.next !== null && from.linkEpoch === epoch) targets.push(from.next.pc);
    insns.forEach((ins, j) => {
      if (ins.op === 'jal' || BRANCHES.has(ins.op)) targets.push(pcs[j] + ins.imm);
      else if (ins.op === 'jalr' && ins.rd !== 0) targets.push(pcs[j] + ins.len);
    });
    if (!ENDS_BLOCK.has(last.op) || (last.op === 'jal' && last.rd !== 0)) targets.push(end);
    for (const t of targets) {
      if (blocks.length >= maxBlocks || taken.has(t)) continue;
      const o = live.get(t);
      if (o === undefined || o.pre === null || heat(o) < hot) continue;
      const d = toInsns(o.pre, o.pc);
      let cut = d.pcs.findIndex((pc) => taken.has(pc));
      if (cut < 0) cut = d.pcs.length;
      if (total + cut > maxInsns) continue;
      for (let j = 0; j < cut; j++) taken.add(d.pcs[j]);
      blocks.push(o);
      pieces.push({ insns: d.insns.slice(0, cut), pcs: d.pcs.slice(0, cut), end: cut < d.pcs.length ? d.pcs[cut] : o.end });
      total += cut;
    }
  }
  return { blocks, pieces };
}

/**
 * `fn` as block `b`'s function on trial: after `calls` calls, `settle(loops)`
 * gives the function that replaces it (loops: whether the calls retired
 * `minRun` instructions or more on average). With `early`, the trial
 * settles as soon as its calls have retired `minRun * calls` instructions,
 * the verdict the full count would give (loops), so that a loop nest whose
 * every call runs thousands of instructions is not run `calls` times in
 * the function on trial (a tier-1 function runs in V8's interpreter at
 * first: see README.md, "Decision: trials that settle early").
 */
export function onTrial(b: { fn: BlockFn }, fn: BlockFn, calls: number, minRun: number, settle: (loops: boolean) => BlockFn, early = false): BlockFn {
  let n = 0, insns = 0;
  const enough = early ? minRun * calls : Infinity;
  return (s, x, fb) => {
    const r = fn(s, x, fb);
    insns += r >>> 3;
    if (++n === calls || insns >= enough) b.fn = settle(insns >= minRun * n);
    return r;
  };
}

/**
 * Calls in each later look at a promoted block its probe left in tier 1
 * (onWatch): a block's first calls can be short where its later ones are
 * long, and the blocks around it may be too cold for its region at first
 * (the comparator of a merge sort returns into merges of 1, 2, 4...
 * elements), so one early verdict is not final. Looks are spaced ever
 * wider, and after the last the block's function is its own again (no
 * counting wrapper left). See README.md, "Decision: later looks at blocks
 * left in tier 1".
 */
export const LOOK_CALLS: readonly number[] = [1024, 8192, 65_536];

/**
 * `fn` as block `b`'s function, watched for look `round` (of LOOK_CALLS):
 * after that many calls `b.fn` becomes `again(round + 1, loops)` (loops:
 * whether those calls averaged `minRun` instructions or more), which may
 * come back here for the next look; past the last look, `fn` alone.
 */
export function onWatch(b: { fn: BlockFn }, fn: BlockFn, minRun: number, round: number, again: (next: number, loops: boolean) => BlockFn): BlockFn {
  return round >= LOOK_CALLS.length ? fn : onTrial(b, fn, LOOK_CALLS[round], minRun, (loops) => again(round + 1, loops));
}
