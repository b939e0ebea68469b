// The order in which tier 2 lays out a region's cases (wasm-tier.ts): its
// start, then each label (codegen.ts regionLabels), each case the
// instructions from its label to the next label of its piece.
//
// Contract: layout(pieces, labels) returns every case once, the start
// first, in an order such that a jump to a later case is a forward `br`
// and each cycle of jumps between cases holds as few jumps to earlier
// cases as a reverse postorder gives; any order is correct (wasm-tier.ts
// emits a jump to an earlier case round the region's loop), only the
// count of such trips depends on it.

import { directTarget, regionLabels, type Piece } from './codegen.js';
import { atProcessStart } from '../bundle/process-start.js';

/** A case's code: instructions [from, to) of piece `piece`, starting at the case's pc `at`. */
export interface Segment { at: number; piece: number; from: number; to: number }

let LAYOUT = 'rpo';
atProcessStart(() => (LAYOUT = process.env.TSVISOR_T2_LAYOUT || 'rpo'));

/**
 * The region's cases (its start, then each label: regionLabels) in the
 * order their code is laid out. A jump to a case laid out later is a `br`
 * out of the blocks between; one to an earlier case goes round the
 * region's loop and its br_table (one to the case's own start: its loop).
 * So the order is a reverse postorder of a depth-first walk from the start
 * over the jumps between cases (branches, jal, a call's return site, the
 * fall from one case into the next), the fall visited last so that it
 * tends to be laid out next: every cycle then costs one trip round the
 * region's loop at its head rather than one per jump that goes back in
 * address order (coremix's list merge: three per element in address
 * order). Cases no walk reaches (a jalr's targets only) follow in address
 * order.
 */
export function layout(pieces: readonly Piece[], labels: ReadonlySet<number>): Segment[] {
  const start = pieces[0].pcs[0];
  const segs = new Map<number, Segment>();
  const order: Segment[] = [];
  pieces.forEach((p, i) => {
    let from = 0;
    for (let j = 1; j <= p.insns.length; j++) {
      if (j === p.insns.length || labels.has(p.pcs[j])) {
        const g = { at: p.pcs[from], piece: i, from, to: j };
        segs.set(g.at, g);
        order.push(g);
        from = j;
      }
    }
  });
  if (LAYOUT === 'addr') return order;
  const next = (g: Segment): number[] => {
    const { insns, pcs, end } = pieces[g.piece];
    const out: number[] = [];
    let falls = true;
    for (let j = g.from; j < g.to; j++) {
      const ins = insns[j];
      const t = directTarget(ins, pcs[j]);
      if (t !== null && segs.has(t)) out.push(t);
      if ((ins.op === 'jal' || ins.op === 'jalr') && ins.rd !== 0 && segs.has(pcs[j] + ins.len)) out.push(pcs[j] + ins.len);
      if (ENDS.has(ins.op)) falls = false;
    }
    const fall = g.to < insns.length ? pcs[g.to] : end;
    if (falls && segs.has(fall)) out.push(fall);
    return out;
  };
  // Iterative depth-first walk; a segment is finished when all its successors are.
  const seen = new Set<number>([start]);
  const post: Segment[] = [];
  const stack: [Segment, number[]][] = [[segs.get(start) as Segment, next(segs.get(start) as Segment)]];
  while (stack.length > 0) {
    const top = stack[stack.length - 1];
    const t = top[1].shift();
    if (t === undefined) {
      post.push(top[0]);
      stack.pop();
    } else if (!seen.has(t)) {
      seen.add(t);
      const g = segs.get(t) as Segment;
      stack.push([g, next(g)]);
    }
  }
  post.reverse();
  for (const g of order) if (!seen.has(g.at)) post.push(g);
  return post;
}
/** The pcs of the region's cases in the order tier 2 lays their code out (see layout). */
export function caseOrder(pieces: readonly Piece[]): number[] {
  return layout(pieces, regionLabels(pieces)).map((g) => g.at);
}

/** Instructions after which control does not fall through. */
const ENDS = new Set(['jal', 'jalr', 'ecall', 'ebreak', 'illegal', 'fence.i']);
