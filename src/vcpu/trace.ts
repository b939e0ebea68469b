// Which blocks a promoted block is compiled with (a trace; see README.md,
// Model, Traces). Only chooses: codegen.ts compileRegion compiles the
// pieces, cpu.ts registers the trace under every piece's pages.

import type { Block } from './block.js';
import type { Piece } from './codegen.js';
import { BRANCHES, ENDS_BLOCK, toInsns } from './ops.js';
import { atProcessStart } from '../bundle/process-start.js';

/** Most blocks (TSVISOR_TRACE_BLOCKS; 1: no traces), and instructions, compiled into one trace. */
export let TRACE_BLOCKS = 0;
export const TRACE_INSNS = 256;
atProcessStart(() => (TRACE_BLOCKS = Number(process.env.TSVISOR_TRACE_BLOCKS ?? '') || 4));

/**
 * The blocks promoted block `b` is compiled with (b first, with its
 * pre-decoded form `pre`), breadth first from b: each block's successors,
 * when they are live blocks of `live` with their pre-decoded form kept, of a
 * heat of at least `hot`, and disjoint from those taken so far: the
 * targets of its branches and jal (a direct call: the callee), its
 * fall-through end, for a call (jal or jalr linking a register) the block
 * it returns to, and for a block ending in a jalr (an indirect call, a
 * return) the block that followed it last in tier 0 (its `next`, if linked
 * in `epoch`); a block's heat is `heat(o)` (the Cpu's brings in what
 * tier 0 in WebAssembly counted). Up to TRACE_BLOCKS blocks and TRACE_INSNS instructions. In
 * the compiled trace a jalr to any block in it runs on inside (codegen.ts
 * compileRegion), so calls through a function pointer and their returns (a
 * sort's comparator) do not go through the run loop.
 */
export function traceFrom(b: Block, live: ReadonlyMap<number, Block>, epoch: number, hot: number,
  heat: (o: Block) => number = (o) => o.heat): { blocks: Block[]; pieces: Piece[] } {
  const blocks: Block[] = [b];
  const first = toInsns(b.pre as Int32Array, b.pc);
  const pieces: Piece[] = [{ insns: first.insns, pcs: first.pcs, end: b.end }];
  const taken = new Set<number>(first.pcs);
  let total = b.n;
  for (let i = 0; i < blocks.length; i++) {
    const { insns, pcs, end } = pieces[i];
    const last = insns[insns.length - 1];
    const targets: number[] = [];
    const from = blocks[i];
    if (last.op === 'jalr' && from.next !== null && from.linkEpoch === epoch) targets.push(from.next.pc);
    insns.forEach((ins, j) => {
      if (ins.op === 'jal' || BRANCHES.has(ins.op)) targets.push(pcs[j] + ins.imm);
    });
    if (!ENDS_BLOCK.has(last.op) || ((last.op === 'jal' || last.op === 'jalr') && last.rd !== 0)) targets.push(end);
    for (const t of targets) {
      if (blocks.length >= TRACE_BLOCKS || taken.has(t)) continue;
      const o = live.get(t);
      if (o === undefined || o.pre === null || heat(o) < hot || total + o.n > TRACE_INSNS) continue;
      const d = toInsns(o.pre, o.pc);
      if (d.pcs.some((pc) => taken.has(pc))) continue;
      for (const pc of d.pcs) taken.add(pc);
      blocks.push(o);
      pieces.push({ insns: d.insns, pcs: d.pcs, end: o.end });
      total += o.n;
    }
  }
  return { blocks, pieces };
}
