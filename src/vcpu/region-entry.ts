// Entries of a kept tier-2 region at its cases (README.md, "Decision: a
// region entered at its cases"). A region is a block's function: the run
// loop calls it only at the block's pc. When a call leaves at one of its
// own cases (its chunk or the run loop's budget ran out at a loop head, or
// a jump it could not follow came back inside), or tier 0 reaches one of
// its blocks from outside (a function's start before the loop the region
// begins at), the blocks there ran in tier 0 until some region's start
// came round. Here each tier-0 block starting at a case becomes a way into
// the same instance at that case, on trial: kept if its calls are long,
// else sent back to tier 0.
//
// Contract: entered() is called once a region's trial (or probe) kept it
// (region-share.ts RegionExport.kept, cpu.ts); it only turns live
// tier-0 blocks starting at a case into compiled blocks; each is
// registered under the pages of all the region's code (a write to any of
// it drops the entry too), and its records' heat is raised to the
// promotion's so that tier 0 in WebAssembly leaves at it for the run loop
// instead of running it.

import type { Block, BlockFn } from './block.js';
import { NO_BLOCK_FN } from './block.js';
import type { BlockTable } from './block-table.js';
import { engineStats, statsEnabled } from './engine-stats.js';
import type { Tier0Wasm } from './interp-wasm.js';
import { onTrial } from './region.js';
import type { RegionExport } from './region-share.js';
import { caseEntry } from './wasm-bind.js';
import { atProcessStart } from '../bundle/process-start.js';

/**
 * The instructions an entry's calls must average over its trial to be kept (TSVISOR_ENTRY_MIN_RUN). An entry
 * replaces tier 0's chaining into its block with a return to the run loop and a call, which a short call does
 * not pay back.
 */
export let ENTRY_MIN_RUN = 0;
/**
 * The instructions a kept region's first calls must average for it to get entries at all (TSVISOR_ENTRY_REGION_RUN):
 * warm code's regions (python's imports) run short calls and their entries' calls are short too.
 */
export let REGION_RUN = 0;
atProcessStart(() => {
  ENTRY_MIN_RUN = Number(process.env.TSVISOR_ENTRY_MIN_RUN ?? '') || 500;
  REGION_RUN = Number(process.env.TSVISOR_ENTRY_REGION_RUN ?? '') || 1000;
});

/** What the entries read and change of their Cpu (cpu.ts). */
export interface EntryHost {
  readonly table: BlockTable;
  readonly t0w: Tier0Wasm | null;
  readonly regions: RegionExport;
  readonly promoteAt: number;
}

/**
 * Block `b`'s kept region function `fn` watched for `calls` calls (or fewer: onTrial's early verdict); if they
 * averaged REGION_RUN instructions or more (a loop nest, not warm code passing through), the region is entered
 * at its cases too (install). Returns the function b keeps (`fn`, itself, after the watch).
 */
export function entered(host: EntryHost, b: Block, fn: BlockFn, calls: number): BlockFn {
  const cases = host.regions.regionOf(fn)?.cases;
  if (cases === undefined || cases.size < 2) return fn;
  return onTrial(b, fn, calls, REGION_RUN, (long) => {
    if (long) install(host, b, fn, cases, calls);
    return fn;
  }, true);
}

/**
 * Each live tier-0 block starting at one of `cases` (of block `b`'s region function `fn`; its code is all
 * registered under b's pages) other than the start (a block of the region, or one that begins inside another's
 * piece, as after a branch into a loop's body) gets the function entering there (which runs the same bytes from
 * there on), on trial for `calls` calls, kept when they average ENTRY_MIN_RUN instructions, else the block goes
 * back to tier 0 with its heat as it was.
 */
function install(host: EntryHost, b: Block, fn: BlockFn, cases: ReadonlyMap<number, number>, calls: number): void {
  const ranges = [b.pc, b.end, ...(b.extra ?? [])];
  for (const [pc, c] of cases) {
    const o = host.table.byPc.get(pc);
    if (o === undefined || o === b || c === 0 || o.code === null || o.pre === null) continue;
    const entry = caseEntry(fn, c);
    if (entry === null) continue;
    o.code = null;
    o.extra = ranges;
    host.table.registerPages(o);
    // Tier 0 in WebAssembly leaves at a block whose heat reached the promotion's (the run loop then calls o.fn).
    host.t0w?.sync(o);
    const heat = o.heat;
    if (o.heat < host.promoteAt) o.heat = host.promoteAt;
    host.t0w?.reheat(o);
    o.fn = onTrial(o, entry, calls, ENTRY_MIN_RUN, (keep) => (keep ? entry : back(host, o, heat)), true);
    if (statsEnabled) engineStats.caseEntries++;
  }
}

/**
 * Entry `o` back to tier 0 (its calls were short) with the heat it had before (`heat`): its own promotion
 * comes as it would have, and regions formed later still see it as hot (a lowered heat kept coremix int's
 * state machine out of the region of the loop around it). It stays registered under the region's pages:
 * a write there drops it, which costs only a decode.
 */
function back(host: EntryHost, o: Block, heat: number): BlockFn {
  o.code = o.pre;
  o.heat = heat;
  host.t0w?.reheat(o);
  if (statsEnabled) engineStats.caseEntriesBack++;
  return NO_BLOCK_FN;
}
