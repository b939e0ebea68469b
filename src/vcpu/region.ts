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
import { BRANCHES, ENDS_BLOCK, Field, Op, OP_MASK, Tier0, toInsns } from './ops.js';
import { atProcessStart } from '../bundle/process-start.js';
import { MAX_HEAT } from './interp-wasm.js';

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
 * through to that case); pcs stay disjoint. When a piece ends in a switch's
 * jump (isSwitch) and the region spans at most SWITCH_SPAN bytes, the other
 * hot live blocks inside that span join it once that search is done (and
 * the search goes on from them), and those starting inside a piece become
 * cases of it (Piece.entries), so that the jump finds all of them. At most
 * `maxBlocks` pieces and `maxInsns` instructions; `blocks` are the blocks
 * the pieces came from (for invalidation: all of their code, not only the
 * pieces' parts).
 */
export function regionFrom(b: Block, live: ReadonlyMap<number, Block>, epoch: number, hot: number,
  heat: (o: Block) => number = (o) => o.heat, maxBlocks = REGION_BLOCKS, maxInsns = REGION_INSNS): { blocks: Block[]; pieces: Piece[] } {
  const blocks: Block[] = [b];
  const first = toInsns(b.pre as Int32Array, b.pc);
  const pieces: Piece[] = [{ insns: first.insns, pcs: first.pcs, end: b.end }];
  const taken = new Set<number>(first.pcs);
  let total = first.insns.length;
  /** Block o (live, pre-decoded, hot) as the next piece, cut at the first pc taken; false when over maxInsns. */
  const add = (o: Block): boolean => {
    const d = toInsns(o.pre as Int32Array, o.pc);
    let cut = d.pcs.findIndex((pc) => taken.has(pc));
    if (cut < 0) cut = d.pcs.length;
    if (total + cut > maxInsns) return false;
    for (let j = 0; j < cut; j++) taken.add(d.pcs[j]);
    blocks.push(o);
    pieces.push({ insns: d.insns.slice(0, cut), pcs: d.pcs.slice(0, cut), end: cut < d.pcs.length ? d.pcs[cut] : o.end });
    total += cut;
    return true;
  };
  const hotBlock = (o: Block | undefined): o is Block => o !== undefined && o.pre !== null && heat(o) >= hot;
  for (let i = 0, switched = false; ; switched = true) {
    for (; i < pieces.length && blocks.length < maxBlocks; i++) {
      for (const t of targetsOf(pieces[i], blocks[i], epoch)) {
        if (blocks.length >= maxBlocks || taken.has(t)) continue;
        const o = live.get(t);
        if (hotBlock(o)) add(o);
      }
    }
    // A switch's jump (jalr, not a return) goes on to the block tier 0 saw last only: in a region spanning at most
    // SWITCH_SPAN bytes (a small function's switch, not an interpreter's dispatch over a large one), the hot blocks
    // between its lowest and highest pcs join it once (README.md, "Decision: a region entered at its cases").
    if (switched || blocks.length >= maxBlocks || !pieces.some(isSwitch)) break;
    let lo = Infinity, hi = -Infinity;
    for (const p of pieces) { lo = Math.min(lo, p.pcs[0]); hi = Math.max(hi, p.end); }
    if (hi - lo > SWITCH_SPAN) break;
    // One starting inside a piece makes its pc a case of that piece (Piece.entries), so that the jump finds it.
    const more = [...live.values()].filter((o) => o.pc > lo && o.pc < hi && hotBlock(o)).sort((x, y) => x.pc - y.pc);
    for (const o of more) {
      if (!taken.has(o.pc)) { if (blocks.length < maxBlocks) add(o); continue; }
      const p = pieces.find((q) => q.pcs.includes(o.pc)) as Piece;
      if (p.pcs[0] !== o.pc) (p.entries ??= []).push(o.pc);
    }
  }
  return { blocks, pieces };
}

/** The widest region (bytes from its lowest pc to its highest piece's end) whose switch's targets are looked for. */
export const SWITCH_SPAN = 4096;

/** Whether piece `p` ends in an indirect jump that is neither a call nor a return (`jr` through a table: a switch). */
const isSwitch = (p: Piece): boolean => {
  const last = p.insns[p.insns.length - 1];
  return last.op === 'jalr' && last.rd === 0 && last.rs1 !== 1 && last.rs1 !== 5;
};

/** A block's next promotion after its k-th return to tier 0 (Cpu.demote) or stay there at its promotion (Cpu.runTier0, declined): after DEMOTE_FACTOR^k promotions' heat, none after MAX_DEMOTIONS; heats stay above -MAX_HEAT (an i32 in the module's records). */
export const DEMOTE_FACTOR = 4, MAX_DEMOTIONS = 3;

/** Block `b` lowered for its next return to, or stay in, tier 0 under promotion heat `promoteAt` (see DEMOTE_FACTOR); its trips counted afresh from there. */
export function lower(b: { demotions: number; heat: number; heatBase: number; trips: number }, promoteAt: number): void {
  const k = ++b.demotions;
  b.heatBase = b.heat = k >= MAX_DEMOTIONS ? -MAX_HEAT : Math.max(-MAX_HEAT, promoteAt - promoteAt * DEMOTE_FACTOR ** k);
  b.trips = 0;
}

/** Entries of tier-0 block `o` since its heat was heatBase: its heat less `loopHeat` per trip (interp-wasm.ts counts them), the rest one per entry. */
const entriesOf = (o: Block, loopHeat: number): number => o.heat - o.heatBase - loopHeat * o.trips;

/** The longest loop inside pre-decoded block `code`: the instructions from a backward branch's or jal's in-block target to it (0: none). */
export function loopSpan(code: Int32Array): number {
  let span = 0;
  for (let o = 0; o < code.length; o += Tier0.STRIDE) {
    const op = code[o] & OP_MASK, aux = code[o + Field.AUX];
    if ((op === Op.JAL || (op >= Op.BEQ && op <= Op.BGEU)) && aux >= 0 && aux <= o) span = Math.max(span, (o - aux) / Tier0.STRIDE + 1);
  }
  return span;
}

/**
 * Whether the probe would decline tier-0 block `b` (the first of `r`, its wide region from regionFrom in code
 * epoch `epoch`) and its region would find no loop to keep, read from the counts tier 0 keeps, before anything
 * is compiled (README.md, "Decision: no promotion of a short-trip loop"): `b` loops inside itself (trips) but
 * few trips an entry, so that an entry runs fewer than `minRun` instructions (its n, plus its longest loop per
 * trip: at most); no other block of the region loops inside itself or ran more than twice per entry of `b`,
 * and its pieces form no cycle (regionLoops: no loop around `b` or beside it); and one pass through them all
 * with `b`'s run stays under `minRun` too. A block with no trips (straight code, or a block of a loop that
 * spans several blocks) is left to the probe, and so is one entered fewer than `minEntries` times (as many
 * calls as the probe averages: the entry the promotion's heat cut short is counted, so a few entries tell
 * nothing, as with a tiny threshold).
 */
export function declined(r: { blocks: Block[]; pieces: Piece[] }, epoch: number, loopHeat: number, minRun: number, minEntries: number): boolean {
  const b = r.blocks[0], entries = entriesOf(b, loopHeat);
  if (b.trips === 0 || entries < minEntries || b.pre === null) return false;
  let run = b.n + (loopSpan(b.pre) * b.trips) / entries;
  for (let i = 1; i < r.blocks.length; i++) {
    const o = r.blocks[i];
    if (o.trips !== 0 || entriesOf(o, loopHeat) > 2 * entries) return false;
    run += o.n;
  }
  return run < minRun && !regionLoops(r, epoch);
}

/**
 * Where piece `p` (of block `from`) may go on to: the targets of its branches and jal, its fall-through end,
 * the return site of a linking jal or jalr, and for a piece ending in its block's own jalr the block that
 * followed it last in tier 0 (if linked in `epoch`).
 */
function targetsOf(p: Piece, from: Block, epoch: number): number[] {
  const { insns, pcs, end } = p, last = insns[insns.length - 1], targets: number[] = [];
  if (last.op === 'jalr' && end === from.end && from.next !== null && from.linkEpoch === epoch) targets.push(from.next.pc);
  insns.forEach((ins, j) => {
    if (ins.op === 'jal' || BRANCHES.has(ins.op)) targets.push(pcs[j] + ins.imm);
    else if (ins.op === 'jalr' && ins.rd !== 0) targets.push(pcs[j] + ins.len);
  });
  if (!ENDS_BLOCK.has(last.op) || (last.op === 'jal' && last.rd !== 0)) targets.push(end);
  return targets;
}

/**
 * Whether region `r` (regionFrom's, of block `blocks[0]`) holds a loop other than its first piece's jumps
 * into itself: a cycle among its pieces, each piece going on to the pieces that hold its targets (an entry
 * case mid-piece included). Without one, a call of the region runs its first block, then each other piece
 * at most once.
 */
export function regionLoops(r: { blocks: Block[]; pieces: Piece[] }, epoch: number): boolean {
  const at = new Map<number, number>();
  r.pieces.forEach((p, i) => { for (const pc of p.pcs) at.set(pc, i); });
  const next = r.pieces.map((p, i) => targetsOf(p, r.blocks[i], epoch).map((t) => at.get(t) ?? -1).filter((j) => j >= 0 && !(i === 0 && j === 0)));
  // Depth first: 1 on the path, 2 done.
  const state = new Uint8Array(r.pieces.length);
  const visit = (i: number): boolean => {
    state[i] = 1;
    for (const j of next[i]) if (state[j] === 1 || (state[j] === 0 && visit(j))) return true;
    state[i] = 2;
    return false;
  };
  return visit(0);
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
