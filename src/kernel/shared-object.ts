// What a shared mapping (mm.ts Vma.shared) is backed by: the objects whose
// pages several address spaces map (a file's page cache, a SysV segment),
// the page table entries they hand frames to, and anonymous memory.
//
// Contract: every page table entry of a mapping of an object is announced
// to it once (mapPage, or copyPage at fork) and given back once
// (unmapPage), whether it holds a frame or not; an entry holding a frame
// holds one reference to it. Objects with pin() load their pages on first
// touch (fault-in.ts): their entries start FRAME_ABSENT.

import { FRAME_ABSENT, type GuestMemory } from '../vcpu/memory.js';
import type { Errno } from '../linux/errno.js';
import { FrameAllocator } from './frames.js';
import type { MemoryAccount } from './mm.js';

/** A page table entry: page `page` (low or high) of the address space whose memory is `mem`. */
export interface SharedSlot {
  mem: GuestMemory;
  page: number;
}

/**
 * Something whose pages shared mappings show: a file's page cache, a SysV
 * shm segment. Anonymous shared memory has none (its frames are held by
 * the mappings alone).
 */
export interface SharedObject {
  /**
   * The frame of page `index` with one reference taken for the page table
   * entry `slot`; -1 when the object has no such page (an access gives
   * SIGBUS); NOT_LOADED when the page is not loaded yet (an object with
   * pin(): the entry is FRAME_ABSENT until a fault-in). The object may
   * later change what `slot` holds (a file truncated) until unmapPage.
   * With `absent` (objects with pin() only), the entry maps the page
   * without its frame for now: NOT_LOADED whatever is loaded.
   */
  mapPage(index: number, slot: SharedSlot, account: MemoryAccount, absent?: boolean): number | Errno;
  /**
   * Objects loading pages on first touch: load the pages of
   * [first, first+count) that exist and keep them until unpin().
   */
  pin?(first: number, count: number): Promise<0 | Errno>;
  unpin?(): void;
  /**
   * A fault-in: the entry `slot`, mapping page `index` (by mapPage) as
   * FRAME_ABSENT, takes its frame now, one reference for it; a negative
   * number when the page is not loaded (past the end of the file: SIGBUS).
   */
  faultPage?(index: number, slot: SharedSlot): number;
  /** fork: `slot` now maps page `index` too, with `frame` (-1: none), which another entry maps. */
  copyPage(index: number, frame: number, slot: SharedSlot): void;
  /** The entry `slot` let go of page `index`, whose frame was `frame` (-1: none): drop its reference. */
  unmapPage(index: number, frame: number, slot: SharedSlot, account: MemoryAccount): void;
  /**
   * Checkpoint: the guest path by which a restore maps this object again (a
   * file's page cache); absent for objects a checkpoint cannot name (SysV
   * segments, memfd), which refuse it.
   */
  savePath?(): string | undefined;
}

/** mapPage's answer for a page not loaded yet (the entry becomes FRAME_ABSENT). */
export const NOT_LOADED = FRAME_ABSENT - 1;

/**
 * The object behind pages added to shared anonymous memory by mremap: none
 * (Linux's object keeps the size it was created with, so an access there
 * is SIGBUS); frames moved in by mremap are released as anonymous ones.
 */
export const ANON_GROWN: SharedObject = {
  mapPage: () => -1,
  copyPage: (_index, frame) => {
    if (frame >= 0) FrameAllocator.local().ref(frame);
  },
  unmapPage: (_index, frame, _slot, account) => {
    if (frame >= 0) FrameAllocator.local().unref(frame, account);
  },
};

/** How a shared mapping is backed: `obj`'s pages from `pgoff` on, or anonymous frames (`obj` undefined). */
export interface SharedBacking {
  obj?: SharedObject;
  /** Page index in `obj` of the mapping's first page. */
  pgoff: number;
  /** The mapping may never be made writable (a file opened read-only, SHM_RDONLY): mprotect with PROT_WRITE is EACCES. */
  readOnly?: boolean;
}

/** Whether `shared` loads its pages on first touch (and so may be mapped in the high range). */
export function loadsOnTouch(shared: SharedBacking | undefined): boolean {
  return shared?.obj?.pin !== undefined;
}
