// The live blocks of one Cpu (cpu.ts): by start pc, by the 4 KiB pages their
// code lies on (for invalidation), and in the direct-mapped cache the run loop
// and tier 0 (interp.ts) look a pc up in first.
//
// Contract: a block is in the cache only while it is in `byPc`; every block
// registered marks its pages PAGE_CODE in the address space's page flags (a
// store there must come back to drop it); drop() and clear() remove blocks
// from all three, and the caller bumps the Cpu's codeEpoch when they did.

import { Block, NO_BLOCK } from './block.js';
import { Flag, PAGE_SHIFT, PAGE_SIZE, type GuestMemory } from './memory.js';
import { BlockCache } from './ops.js';

export class BlockTable {
  /** Direct-mapped block cache indexed by (pc >>> 1) & BlockCache.MASK (NO_BLOCK: empty). */
  readonly cache: Block[] = new Array<Block>(BlockCache.MASK + 1).fill(NO_BLOCK);
  /** Every live block by start pc. */
  readonly byPc = new Map<number, Block>();
  /** Live blocks overlapping each page. */
  private readonly byPage = new Map<number, Block[]>();

  constructor(private readonly mem: GuestMemory) {}

  /** Put `b` in the cache slot of its pc. */
  cacheIt(b: Block): void {
    this.cache[(b.pc >>> 1) & BlockCache.MASK] = b;
  }

  /** Record new block `b` over [b.pc, b.end) (lookups, invalidation) and mark its pages PAGE_CODE. */
  register(b: Block): Block {
    this.byPc.set(b.pc, b);
    // A new block is in no page's list yet: no search (registerPages is for traces).
    for (let pg = b.pc >>> PAGE_SHIFT, last = (b.end - 1) >>> PAGE_SHIFT; pg <= last; pg++) {
      const list = this.byPage.get(pg);
      if (list === undefined) this.byPage.set(pg, [b]);
      else list.push(b);
      this.markCode(pg);
    }
    return b;
  }

  /** Record `b` under the pages of its code (b.pages(), the pages of a trace's other blocks too) where it is not yet, and mark them PAGE_CODE. */
  registerPages(b: Block): void {
    for (const pg of b.pages()) {
      let list = this.byPage.get(pg);
      if (list === undefined) { list = []; this.byPage.set(pg, list); }
      if (!list.includes(b)) list.push(b);
      this.markCode(pg);
    }
  }

  private markCode(pg: number): void {
    // Most blocks lie on a page already marked: a plain read first (the flag is only ever cleared by the kernel, with the page's mapping).
    if ((this.mem.pageFlags[pg] & Flag.CODE) !== 0) return;
    if ((Atomics.or(this.mem.pageFlags, pg, Flag.CODE) & Flag.CODE) === 0) this.mem.flagsChanged();
  }

  /** Drop the blocks overlapping [addr, addr+len); true if any was dropped. */
  drop(addr: number, len: number): boolean {
    if (len <= 0) return false;
    const end = addr + len;
    let dropped = false;
    const first = Math.floor(addr / PAGE_SIZE), last = Math.floor((end - 1) / PAGE_SIZE);
    for (let pg = first; pg <= last; pg++) {
      const list = this.byPage.get(pg);
      if (list === undefined) continue;
      for (let j = list.length - 1; j >= 0; j--) {
        const b = list[j];
        if (b.overlaps(addr, end)) {
          dropped = true;
          list.splice(j, 1);
          this.remove(b);
        }
      }
      if (list.length === 0) this.byPage.delete(pg);
    }
    return dropped;
  }

  /** Drop every block. */
  clear(): void {
    this.byPc.clear();
    this.byPage.clear();
    this.cache.fill(NO_BLOCK);
  }

  private remove(b: Block): void {
    if (this.byPc.get(b.pc) === b) this.byPc.delete(b.pc);
    const i = (b.pc >>> 1) & BlockCache.MASK;
    if (this.cache[i] === b) this.cache[i] = NO_BLOCK;
    // Also remove it from the other pages it spans.
    for (const pg of b.pages()) {
      const list = this.byPage.get(pg);
      if (list === undefined) continue;
      const j = list.indexOf(b);
      if (j >= 0) list.splice(j, 1);
      if (list.length === 0) this.byPage.delete(pg);
    }
  }
}
