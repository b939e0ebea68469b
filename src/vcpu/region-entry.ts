// Entries of a kept tier-2 region at its cases (README.md, "Decision: a
// region entered at its cases"). A region is a block's function: the run
// loop calls it only at the block's pc. When it leaves at one of its own
// cases (its chunk or the run loop's budget ran out at a loop head, or a
// jump it could not follow came back inside), or tier 0 reaches one of its
// blocks some other way, that block ran in tier 0 until some region's start
// came round. Here each other block the region was formed from becomes a
// way into the same instance at the case of its pc (as is any other tier-0
// block starting at a case), on trial as the region was: kept if its calls
// average the region's bar, else sent back to tier 0.
//
// Contract: install() is called once a wide region's trial kept it; it only
// turns live tier-0 blocks starting at a case into compiled blocks; each is registered under the pages of
// all the region's code (a write to any of it drops the entry too), and its
// records' heat is raised to the promotion's so that tier 0 in WebAssembly
// leaves at it for the run loop instead of running it.

import type { Block, BlockFn } from './block.js';
import { NO_BLOCK_FN } from './block.js';
import type { BlockTable } from './block-table.js';
import { engineStats, statsEnabled } from './engine-stats.js';
import type { Tier0Wasm } from './interp-wasm.js';
import { onTrial } from './region.js';
import type { RegionExport } from './region-share.js';
import { caseEntry } from './wasm-bind.js';

/** What install() reads and changes of its Cpu (cpu.ts). */
export interface EntryHost {
  readonly table: BlockTable;
  readonly t0w: Tier0Wasm | null;
  readonly regions: RegionExport;
  readonly promoteAt: number;
}

/**
 * Block `b`'s kept region function `fn` (a tier-2 region: its code is all registered under b's pages) entered
 * at its cases too: each live tier-0 block starting at one of the region's cases other than its start (a
 * block of the region, or one that begins inside another's piece, as after a branch into a loop's body)
 * gets the function entering there (which runs the same bytes from there on), on trial for `calls` calls (kept when they average
 * `minRun` instructions, else the block goes back to tier 0 with its heat as it was). Returns the
 * number of entries made.
 */
export function install(host: EntryHost, b: Block, fn: BlockFn, calls: number, minRun: number): number {
  const cases = host.regions.regionOf(fn)?.cases;
  if (cases === undefined) return 0;
  const ranges = [b.pc, b.end, ...(b.extra ?? [])];
  let made = 0;
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
    o.fn = onTrial(o, entry, calls, minRun, (keep) => (keep ? entry : back(host, o, heat)), true);
    made++;
  }
  if (statsEnabled) engineStats.caseEntries += made;
  return made;
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
