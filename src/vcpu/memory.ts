// Guest memory of one address space.
//
// Contract:
// - The guest's memory is [0, GUEST_VA_LIMIT). A guest virtual address there
//   is also its byte offset in one shared WebAssembly.Memory (identity
//   mapping), so every vCPU worker that attaches the same memory sees the same
//   bytes, Atomics work on it, and generated WebAssembly can run on it later.
//   Addresses at or above GUEST_VA_LIMIT have no byte in this memory: only
//   shared mappings lie there, up to HIGH_VA_LIMIT (the high range, below),
//   and every access to them takes the slow path.
// - Which pages are mapped, and how, lives in `pageFlags`: one byte per 4 KiB
//   page in a SharedArrayBuffer shared by every vCPU of the address space.
//   The kernel's mm layer is the only writer of the PROT_* bits; a CPU reads
//   them on every access and raises SIGSEGV when the needed bit is clear.
// - PAGE_CODE marks pages from which some vCPU has decoded instructions; a
//   store to such a page must invalidate the decoded blocks of that page.
// - The backing WebAssembly.Memory is created at its full size once (virtual
//   reservation only: the host commits a page when it is first touched), so no
//   view ever goes stale because of a grow().
// - Physical use is accounted by the kernel's mm (mapped pages), not here.
// - Shared pages (memory several address spaces map: MAP_SHARED, shm, file
//   mappings) do not live in this memory but in the sandbox-wide frame pool
//   (frames.ts). Such a page has PAGE_SHARED set and its R/W/X bits clear,
//   its permissions kept in the SHARED_* bits instead (`PAGE_SHARED |
//   prot << SHARED_SHIFT`), so every access to it fails the CPUs' fast
//   check, which is unchanged, and lands in their slow path (Cpu.segv),
//   which finds the frame in `frames` (one Int32 per page: 0 = no frame,
//   else frame + 1) and does the access on the pool. A shared page without
//   a frame gives SIGBUS (table entry 0: anonymous memory grown by mremap)
//   or, for a page not loaded yet (entry FRAME_ABSENT: a file mapping's
//   pages are loaded on first touch), stops the vCPU with a fault-in
//   request the kernel serves. The bytes of this memory under a shared page
//   are unused (zero).
// - Shared mappings may also lie above GUEST_VA_LIMIT, up to HIGH_VA_LIMIT
//   (high-pages.ts): there `high` alone says which pages are present, with
//   their frame and permissions. frameEntry() and permsAt() read either
//   table by page number (pageOf(): exact above 2^32).

import { HighPages, HIGH_VA_LIMIT } from './high-pages.js';
export { HIGH_VA_LIMIT } from './high-pages.js';

export const PAGE_SHIFT = 12;
export const PAGE_SIZE = 1 << PAGE_SHIFT;
export const PAGE_MASK = PAGE_SIZE - 1;
/**
 * The constants tier 0 (interp.ts) tests per access, as a const enum: they
 * are literals in its code. An imported `const` is a load from the module's
 * exports object at each use (tsc's CommonJS assigns each export twice, so
 * V8 cannot treat the field as constant); see src/vcpu/README.md, "Decision:
 * a cheaper tier 0 per instruction".
 */
export const enum Limit { GUEST_VA = 4294967296 }
export const enum Flag { R = 1, W = 2, X = 4, CODE = 8, SHARED = 16 }
/** First address that is never mapped: 4 GiB, the most one WebAssembly.Memory holds. */
export const GUEST_VA_LIMIT: number = Limit.GUEST_VA;
export const GUEST_PAGES = GUEST_VA_LIMIT / PAGE_SIZE;
/**
 * The engine area [ENGINE_BASE, GUEST_VA_LIMIT): bytes of this memory that
 * belong to the vCPUs (tier 0's regions: interp-wasm.ts), never to the
 * guest. The kernel's mm maps nothing there, whatever the guest asks
 * (MAP_FIXED, mremap, an ELF segment: ENOMEM or an error), so the guest
 * can neither read nor change them, and its private mappings all lie
 * below ENGINE_BASE.
 */
export const ENGINE_BASE = 0xf800_0000;
const WASM_PAGE = 65536;

/** A frame table entry for a shared page not loaded yet: an access asks the kernel (see the file comment). */
export const FRAME_ABSENT = -1;

/** The page number of address `a` (exact above 2^32, where `>>>` would wrap). */
export function pageOf(a: number): number {
  return Math.floor(a / PAGE_SIZE);
}

/** Bits of a pageFlags entry. The low three equal Linux's PROT_READ/WRITE/EXEC. */
export const PAGE_R: number = Flag.R;
export const PAGE_W: number = Flag.W;
export const PAGE_X: number = Flag.X;
/** Instructions were decoded from this page and are cached by some vCPU. */
export const PAGE_CODE: number = Flag.CODE;
/** The page is backed by a frame of the shared pool (see the file comment); R/W/X are then clear. */
export const PAGE_SHARED: number = Flag.SHARED;
/** A shared page's PROT_* bits sit at this shift: PAGE_SHARED | prot << SHARED_SHIFT. */
export const SHARED_SHIFT = 5;

/** The R/W/X permissions of a pageFlags entry, private or shared. */
export function pagePerms(flags: number): number {
  return (flags | (flags >>> SHARED_SHIFT)) & 7;
}

/**
 * Page 0 is never mapped (mm.ts), so guest accesses never reach it: its first
 * 256 bytes hold a word at 0 by which threads claim tier 2's register slots
 * (wasm-bind.ts regSlot and fpSlot, the slots from byte 256 on), at FLAGS_GEN, the
 * page flags' generation (GuestMemory.flagsChanged), at byte 16 the word
 * by which threads claim the engine regions of tier 0 in WebAssembly
 * (interp-wasm.ts ENGINE_CLAIM), and at HOST_COOKIE 32 bytes no thread reads,
 * where the kernel checks the memory's host address (src/kernel/scrub.ts)
 * while threads run.
 */
export const FLAGS_GEN = 8;
export const HOST_COOKIE = 32;

/** What a worker needs to attach to an address space (structured-clone safe). */
export interface SharedGuestMemory {
  memory: WebAssembly.Memory;
  pageFlags: SharedArrayBuffer;
  frames: SharedArrayBuffer;
  high: SharedArrayBuffer;
}

export class GuestMemory {
  readonly memory: WebAssembly.Memory;
  readonly buffer: SharedArrayBuffer;
  readonly u8: Uint8Array;
  readonly u16: Uint16Array;
  readonly u32: Uint32Array;
  readonly i32: Int32Array;
  readonly f64: Float64Array;
  readonly f32: Float32Array;
  readonly view: DataView;
  /** One byte per page: PAGE_R | PAGE_W | PAGE_X | PAGE_CODE. */
  readonly pageFlags: Uint8Array;
  /** One Int32 per page: the shared frame behind it plus one, or 0 (see the file comment). */
  readonly frames: Int32Array;
  /** The present pages of the high range (high-pages.ts). */
  readonly high: HighPages;

  private constructor(shared: SharedGuestMemory) {
    this.memory = shared.memory;
    this.buffer = shared.memory.buffer as unknown as SharedArrayBuffer;
    if (this.buffer.byteLength !== GUEST_VA_LIMIT) {
      throw new Error(`guest memory must be ${GUEST_VA_LIMIT} bytes, got ${this.buffer.byteLength}`);
    }
    this.u8 = new Uint8Array(this.buffer);
    this.u16 = new Uint16Array(this.buffer);
    this.u32 = new Uint32Array(this.buffer);
    this.i32 = new Int32Array(this.buffer);
    this.f64 = new Float64Array(this.buffer);
    this.f32 = new Float32Array(this.buffer);
    this.view = new DataView(this.buffer);
    this.pageFlags = new Uint8Array(shared.pageFlags);
    this.frames = new Int32Array(shared.frames);
    this.high = new HighPages(shared.high);
  }

  /**
   * After a change of page flags (mm.ts; a page newly PAGE_CODE, cpu.ts):
   * bumps the generation word FLAGS_GEN in page 0, by which tier 2's
   * functions know that the pages they remember may be stale (wasm-tier.ts).
   */
  flagsChanged(): void {
    Atomics.add(this.i32, FLAGS_GEN >> 2, 1);
  }

  /** A new, wholly unmapped address space. */
  static create(): GuestMemory {
    const pages = GUEST_VA_LIMIT / WASM_PAGE;
    const memory = new WebAssembly.Memory({ initial: pages, maximum: pages, shared: true });
    return new GuestMemory({ memory, pageFlags: new SharedArrayBuffer(GUEST_PAGES), frames: new SharedArrayBuffer(GUEST_PAGES * 4), high: HighPages.create().buffer });
  }

  /** Attach (in another worker) to an address space created elsewhere. */
  static attach(shared: SharedGuestMemory): GuestMemory {
    return new GuestMemory(shared);
  }

  share(): SharedGuestMemory {
    return { memory: this.memory, pageFlags: this.pageFlags.buffer as SharedArrayBuffer, frames: this.frames.buffer as SharedArrayBuffer, high: this.high.buffer };
  }

  /**
   * The frame table entry of shared page `page`, low or high: frame + 1, 0
   * (no frame: SIGBUS) or FRAME_ABSENT (not loaded yet; a high page that is
   * not present reads so too).
   */
  frameEntry(page: number): number {
    if (page < GUEST_PAGES) return this.frames[page];
    return this.high.frame(page) || FRAME_ABSENT;
  }

  /** Shared page `page` goes back to not loaded (its frame taken away by the kernel: a truncated file). */
  unloadPage(page: number): void {
    if (page < GUEST_PAGES) this.frames[page] = FRAME_ABSENT;
    else this.high.delete(page);
  }

  /** The R/W/X permissions of page `page`, low (private or shared) or high (0 when not present). */
  permsAt(page: number): number {
    return page < GUEST_PAGES ? pagePerms(this.pageFlags[page]) : this.high.perms(page);
  }

  /** Whether page `page` is shared (its bytes in the pool): a low page flagged PAGE_SHARED, or any high page. */
  isShared(page: number): boolean {
    return page >= GUEST_PAGES || (this.pageFlags[page] & PAGE_SHARED) !== 0;
  }

  /**
   * True when every byte of [addr, addr+len) lies on pages whose permissions
   * (private or shared) include all bits of `need`. len 0 is always accessible.
   */
  accessible(addr: number, len: number, need: number): boolean {
    if (len === 0) return true;
    if (addr < 0 || len < 0 || addr + len > HIGH_VA_LIMIT) return false;
    const last = pageOf(addr + len - 1);
    for (let p = pageOf(addr); p <= last; p++) {
      if ((this.permsAt(p) & need) !== need) return false;
    }
    return true;
  }

}
