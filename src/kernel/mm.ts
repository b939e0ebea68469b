// A process's address space: the mappings (VMAs), brk, and the page flags the
// CPUs check on every access.
//
// Contract:
// - Guest addresses are [0, GUEST_VA_LIMIT); page 0 is never mapped (null
//   dereferences fault), nor is the engine area [ENGINE_BASE,
//   GUEST_VA_LIMIT) (the vCPUs' own bytes: a mapping there fails with
//   ENOMEM, as one past the address space's end does on Linux). Layout: the executable where it asks (non-PIE) or at
//   PIE_BASE; brk grows up from its end; the stack ends at STACK_TOP; other
//   mappings are placed top-down below the stack region.
// - Mapped pages (but PROT_NONE reservations, which cannot be touched) are
//   accounted against the sandbox-wide MemoryAccount; a mapping or mprotect
//   that would pass its limit fails with ENOMEM (the guest can never use more
//   than --total-memory).
// - Unmapped pages read as zero when mapped again (munmap zeroes the pages
//   that hold data, and only those: zeroing an untouched page commits it).
// - Anything that removes or changes executable pages calls `codeChanged`,
//   so vCPUs drop decoded blocks.
// - A shared mapping (Vma.shared: MAP_SHARED, shm) keeps its bytes in frames
//   of the sandbox-wide pool, named per page in the memory's frame table,
//   with its pages flagged PAGE_SHARED (src/vcpu/memory.ts). Each table
//   entry holds one reference to its frame (frames.ts). Anonymous shared
//   memory gets fresh zeroed frames when mapped; a mapping of an object
//   (SharedObject: a file's page cache, a SysV segment) asks the object for
//   its page's frame and gives it back when unmapped. fork shares the
//   frames (one more reference each) where private pages are copied.
//   Frames are charged to the account when allocated, not per mapping, so
//   a shared page counts once.
// - Objects that load their pages on first touch (SharedObject.pin: a
//   file's page cache) give a mapping the frames of pages already loaded
//   and FRAME_ABSENT for the others; the first access to one of those (a
//   vCPU's FAULT_IN stop, a system call's buffer) comes to fault-in.ts.
// - Such mappings alone may also lie in the high range [GUEST_VA_LIMIT,
//   HIGH_VA_LIMIT) (src/vcpu/high-pages.ts): placed there when they do not
//   fit below 4 GiB or when asked for there (MAP_FIXED, a hint). Their
//   present pages are entries of the memory's high table, with the
//   mapping's R/W permissions; nothing else (private memory, anonymous or
//   SysV shared memory, a mapping straddling 4 GiB) goes there.

import { FrameAllocator } from './frames.js';
import { copyNonZeroPages, discardReleased, forEachNonZeroPage, learnHostBase, scrubLive, scrubReleased } from './scrub.js';
import { loadsOnTouch, type SharedBacking } from './shared-object.js';
import { Unsupported, type AddressSpaceRecord } from './checkpoint-records.js';

import { EACCES, EINVAL, ENOMEM, EEXIST, Errno } from '../linux/errno.js';
import { PROT_EXEC, PROT_NONE, PROT_READ, PROT_WRITE } from '../linux/abi.js';
import { AS_DOUBLE } from '../vcpu/state.js';
import { GuestMemory, ENGINE_BASE, GUEST_VA_LIMIT, HIGH_VA_LIMIT, FRAME_ABSENT, PAGE_SIZE, PAGE_SHIFT, PAGE_R, PAGE_W, PAGE_X, PAGE_SHARED, SHARED_SHIFT, pageOf } from '../vcpu/memory.js';

export const STACK_TOP = 0xf000_0000;
export const DEFAULT_STACK_SIZE = 8 << 20;
export const PIE_BASE = 0x4000_0000;
/** Lowest address handed out for a mapping without MAP_FIXED. */
export const MMAP_MIN = 0x1000_0000;

/** Sandbox-wide memory accounting (bytes of mapped pages). */
export class MemoryAccount {
  /** Bytes charged: a double from the start (task.ts, AS_DOUBLE), as it passes 2^31. */
  used = AS_DOUBLE;
  constructor(readonly limit: number) {
    this.used = 0;
  }
  charge(bytes: number): boolean {
    if (this.used + bytes > this.limit) return false;
    this.used += bytes;
    return true;
  }
  uncharge(bytes: number): void {
    this.used = Math.max(0, this.used - bytes);
  }
}

export interface Vma {
  start: number;
  end: number;
  prot: number;
  /** What /proc/PID/maps shows: "[heap]", "[stack]", a path, or "". */
  name: string;
  /** Present for shared mappings (see the file comment). */
  shared?: SharedBacking;
}

/** The part [s, e) of `v`, its backing's page offset moved along. */
function slice(v: Vma, s: number, e: number): Vma {
  const out: Vma = { ...v, start: s, end: e };
  if (v.shared) out.shared = { ...v.shared, pgoff: v.shared.pgoff + (s - v.start) / PAGE_SIZE };
  return out;
}

/** The pageFlags entry of a page of `v` (shared pages keep their permissions aside: memory.ts). */
function flagsOf(v: Vma, prot = v.prot): number {
  return v.shared ? PAGE_SHARED | (protToFlags(prot) << SHARED_SHIFT) : protToFlags(prot);
}

/** The R/W permissions a high page of a mapping with `prot` gets (code never runs there). */
function highPerms(prot: number): number {
  return protToFlags(prot) & (PAGE_R | PAGE_W);
}

export function pageAlignUp(n: number): number {
  return Math.ceil(n / PAGE_SIZE) * PAGE_SIZE;
}

export function pageAlignDown(n: number): number {
  return Math.floor(n / PAGE_SIZE) * PAGE_SIZE;
}

/** The page flag bits (PAGE_R/W/X) a mapping with `prot` gives its pages. */
export function protToFlags(prot: number): number {
  let f = 0;
  if (prot & PROT_READ) f |= PAGE_R;
  if (prot & PROT_WRITE) f |= PAGE_W | PAGE_R; // RISC-V has no write-only pages
  if (prot & PROT_EXEC) f |= PAGE_X;
  return f;
}

export class MemoryManager {
  /** Sorted by start, non-overlapping. */
  private vmas: Vma[] = [];
  /** Guest addresses, decoded from registers: doubles from the start (task.ts, AS_DOUBLE). */
  brkStart = AS_DOUBLE;
  brkEnd = AS_DOUBLE;
  stackSize = DEFAULT_STACK_SIZE;
  mmapTop = STACK_TOP - DEFAULT_STACK_SIZE - (1 << 20);

  constructor(
    readonly mem: GuestMemory,
    readonly account: MemoryAccount,
    private readonly codeChanged: (addr: number, len: number) => void,
  ) {
    this.brkStart = this.brkEnd = 0;
  }

  mappings(): readonly Vma[] {
    return this.vmas;
  }

  /** Bytes currently mapped in this address space. */
  mappedBytes(): number {
    return this.vmas.reduce((s, v) => s + (v.end - v.start), 0);
  }

  /**
   * Bytes charged to the memory account: every mapping but PROT_NONE ones,
   * which can never be touched (Linux does not account them either; Go and
   * glibc reserve address space that way).
   */
  chargedBytes(): number {
    return this.vmas.reduce((s, v) => s + charged(v, v.start, v.end), 0);
  }

  /**
   * Map [start, start+len) with `prot`, replacing whatever was there
   * (MAP_FIXED semantics). start and len are page aligned.
   */
  mapFixed(start: number, len: number, prot: number, name: string, shared?: SharedBacking): 0 | Errno {
    if (start % PAGE_SIZE || len <= 0 || start < PAGE_SIZE) return start < PAGE_SIZE ? EINVAL : ENOMEM;
    len = pageAlignUp(len);
    if (!this.fits(start, len, shared)) return ENOMEM;
    const replaced = this.overlapCharged(start, start + len);
    // start and end as doubles from the first VMA on (task.ts, AS_DOUBLE): the
    // first mappings' small ends would otherwise give the literal's map small
    // integers, deprecated at the first end above 2^31.
    const v: Vma = { start: AS_DOUBLE, end: AS_DOUBLE, prot, name, shared };
    v.start = start;
    v.end = start + len;
    const cost = charged(v, start, start + len);
    if (this.account.used - replaced + cost > this.account.limit) return ENOMEM;
    this.carve(start, start + len, true);
    this.account.charge(cost);
    this.insert(v);
    this.lazyMappings ||= loadsOnTouch(shared);
    this.fillFlags(v.start, v.end, flagsOf(v));
    if (shared) {
      const r = this.fillFrames(v);
      if (r !== 0) {
        this.carve(v.start, v.end, true);
        return r;
      }
    }
    return 0;
  }

  /** Whether [start, start+len) may hold a mapping backed by `shared`: below the engine area (memory.ts ENGINE_BASE, which no mapping may touch), or in the high range for objects loading on touch. */
  private fits(start: number, len: number, shared: SharedBacking | undefined): boolean {
    if (start + len <= ENGINE_BASE) return true;
    return loadsOnTouch(shared) && start >= GUEST_VA_LIMIT && start + len <= HIGH_VA_LIMIT;
  }

  /** Set the pageFlags entries of the low pages of [start, end) to `flags` (high pages have none), then bump their generation. */
  private fillFlags(start: number, end: number, flags: number): void {
    if (start < GUEST_VA_LIMIT) this.mem.pageFlags.fill(flags, start >>> PAGE_SHIFT, Math.min(end, GUEST_VA_LIMIT) / PAGE_SIZE);
    this.mem.flagsChanged();
  }

  /**
   * Set the frame table entry of page `page` of shared mapping `v` (low, or
   * high with `v`'s permissions): fillFrames, fork, and fault-in.ts when a
   * page loads. False when the high table is full.
   */
  setEntry(v: Vma, page: number, entry: number): boolean {
    if (page * PAGE_SIZE < GUEST_VA_LIMIT) {
      this.mem.frames[page] = entry;
      return true;
    }
    if (entry <= 0) {
      this.mem.high.delete(page);
      return true;
    }
    return this.mem.high.set(page, entry - 1, highPerms(v.prot));
  }

  /** The frame table entries of the pages [s, e) of shared mapping `v`, by page (high ones read in one pass). */
  private entriesOf(s: number, e: number): (page: number) => number {
    if (s >= GUEST_VA_LIMIT) {
      const present = new Map<number, number>();
      for (const h of this.mem.high.within(pageOf(s), pageOf(e))) present.set(h.page, h.frame);
      return (page) => present.get(page) ?? FRAME_ABSENT;
    }
    const frames = this.mem.frames;
    return (page) => frames[page];
  }

  /** Give each page of shared mapping `v` its frame: fresh zeroed ones, or its object's (FRAME_ABSENT for pages it loads on touch). */
  private fillFrames(v: Vma): 0 | Errno {
    const alloc = FrameAllocator.local();
    const first = pageOf(v.start), n = (v.end - v.start) / PAGE_SIZE;
    const b = v.shared as SharedBacking;
    // High pages start absent even when loaded (the high table holds only what was touched).
    const absent = v.start >= GUEST_VA_LIMIT;
    for (let i = 0; i < n; i++) {
      const f = b.obj ? b.obj.mapPage(b.pgoff + i, { mem: this.mem, page: first + i }, this.account, absent) : alloc.alloc(this.account);
      if (f instanceof Errno || (f < 0 && !b.obj)) return ENOMEM;
      this.setEntry(v, first + i, f + 1);
    }
    return 0;
  }

  /** Drop the frames behind the pages [s, e) of shared mapping `v`. */
  private dropFrames(v: Vma, s: number, e: number): void {
    const alloc = FrameAllocator.local();
    const b = v.shared as SharedBacking;
    const entry = this.entriesOf(s, e);
    for (let p = pageOf(s); p < pageOf(e); p++) {
      const f = entry(p) - 1;
      if (f >= 0 || p * PAGE_SIZE < GUEST_VA_LIMIT) this.setEntry(v, p, 0);
      if (b.obj) b.obj.unmapPage(b.pgoff + (p * PAGE_SIZE - v.start) / PAGE_SIZE, f, { mem: this.mem, page: p }, this.account);
      else if (f >= 0) alloc.unref(f, this.account);
    }
  }

  /** Set once a mapping that loads on touch is made: the dispatcher looks for absent pages (fault-in.ts) only then. */
  lazyMappings = false;

  /** The mapping holding `addr`, if any. */
  vmaAt(addr: number): Vma | undefined {
    return this.vmas.find((v) => v.start <= addr && addr < v.end);
  }

  /**
   * Move the frames of shared mapping pages [from, from+len) to the pages at
   * `to` (mremap of a shared mapping): `to` must be a fresh mapping of the
   * same backing made by mapFixed with `shared`, whose own frames are
   * dropped first.
   */
  moveFrames(from: number, to: number, len: number): void {
    const v = this.vmaAt(to);
    if (v?.shared) this.dropFrames(v, to, to + len);
    // Anonymous shared memory only, which never lies in the high range.
    const frames = this.mem.frames, alloc = FrameAllocator.local();
    for (let i = 0; i < len / PAGE_SIZE; i++) {
      const f = frames[(from >>> PAGE_SHIFT) + i];
      if (f !== 0) alloc.ref(f - 1);
      frames[(to >>> PAGE_SHIFT) + i] = f;
    }
  }

  /**
   * Map anywhere free (top-down, trying `hint` first); the address chosen.
   * A mapping that loads on touch goes to the high range when it does not
   * fit below 4 GiB, or when `hint` lies there.
   */
  mapAnywhere(len: number, prot: number, name: string, hint = 0, shared?: SharedBacking): number | Errno {
    len = pageAlignUp(len);
    if (len <= 0 || len > HIGH_VA_LIMIT - GUEST_VA_LIMIT) return ENOMEM;
    const high = loadsOnTouch(shared);
    let at = -1;
    if (hint && hint % PAGE_SIZE === 0 && hint >= MMAP_MIN && this.isFree(hint, hint + len)) {
      if (hint + len <= this.mmapTop || (high && hint >= GUEST_VA_LIMIT && hint + len <= HIGH_VA_LIMIT)) at = hint;
    }
    if (at < 0) at = this.findFree(len, high);
    if (at < 0) return ENOMEM;
    const r = this.mapFixed(at, len, prot, name, shared);
    return r === 0 ? at : r;
  }

  /** Where `len` bytes fit: below the mmap top, else (for a mapping that loads on touch, `high`) top-down in the high range; -1 if nowhere. */
  private findFree(len: number, high: boolean): number {
    const low = len <= GUEST_VA_LIMIT ? this.findFreeTopDown(len) : -1;
    if (low >= 0 || !high) return low;
    let top = HIGH_VA_LIMIT;
    for (let i = this.vmas.length - 1; i >= 0 && top - len >= GUEST_VA_LIMIT; i--) {
      const v = this.vmas[i];
      if (v.start >= top) continue;
      if (v.end <= top - len) break;
      top = v.start;
    }
    return top - len >= GUEST_VA_LIMIT ? top - len : -1;
  }

  /** Whether mapAnywhere could place `len` bytes now (checked before work a failed mapping would waste); `high`: a mapping that loads on touch. */
  hasRoomFor(len: number, high = false): boolean {
    len = pageAlignUp(len);
    return len > 0 && this.findFree(len, high) >= 0;
  }

  /** MAP_FIXED_NOREPLACE: EEXIST when anything is mapped there. */
  mapNoReplace(start: number, len: number, prot: number, name: string, shared?: SharedBacking): 0 | Errno {
    if (!this.isFree(start, start + pageAlignUp(len))) return EEXIST;
    return this.mapFixed(start, len, prot, name, shared);
  }

  unmap(start: number, len: number): 0 | Errno {
    if (start % PAGE_SIZE || len <= 0) return EINVAL;
    const end = Math.min(start + pageAlignUp(len), HIGH_VA_LIMIT);
    if (start >= HIGH_VA_LIMIT) return 0;
    this.carve(start, end, true);
    return 0;
  }

  /** mprotect: every page must be mapped (ENOMEM otherwise). */
  protect(start: number, len: number, prot: number): 0 | Errno {
    if (start % PAGE_SIZE) return EINVAL;
    const end = start + pageAlignUp(len);
    if (end > HIGH_VA_LIMIT) return ENOMEM;
    if (len === 0) return 0;
    if (!this.isFullyMapped(start, end)) return ENOMEM;
    const pieces = this.vmas.filter((v) => v.end > start && v.start < end);
    if (prot & PROT_WRITE && pieces.some((v) => v.shared?.readOnly)) return EACCES;
    // Pages leaving or entering PROT_NONE change what the account carries.
    const before = this.overlapCharged(start, end);
    const after = pieces.reduce((n, v) => n + charged({ ...v, prot }, Math.max(v.start, start), Math.min(v.end, end)), 0);
    if (after > before && !this.account.charge(after - before)) return ENOMEM;
    if (after < before) this.account.uncharge(before - after);
    this.carve(start, end, false);
    for (const v of pieces) {
      const piece = { ...slice(v, Math.max(v.start, start), Math.min(v.end, end)), prot };
      this.insert(piece);
      this.fillFlags(piece.start, piece.end, flagsOf(piece));
      // Present high pages take the new permissions (absent ones get them when loaded).
      if (piece.end > GUEST_VA_LIMIT) for (const h of this.mem.high.within(pageOf(piece.start), pageOf(piece.end))) this.mem.high.set(h.page, h.frame - 1, highPerms(prot));
    }
    this.codeChanged(start, end - start);
    return 0;
  }

  /** brk(2): the new break, or the current one when the request can't be met. */
  brk(requested: number): number {
    if (requested < this.brkStart) return this.brkEnd;
    const oldTop = pageAlignUp(this.brkEnd);
    const newTop = pageAlignUp(requested);
    if (newTop > oldTop) {
      if (!this.isFree(oldTop, newTop) || newTop > this.mmapTop) return this.brkEnd;
      if (this.mapFixed(oldTop, newTop - oldTop, PROT_READ | PROT_WRITE, '[heap]') !== 0) return this.brkEnd;
    } else if (newTop < oldTop) {
      this.unmap(newTop, oldTop - newTop);
    }
    this.brkEnd = requested;
    return requested;
  }

  setBrkStart(addr: number): void {
    this.brkStart = this.brkEnd = addr;
  }

  isFree(start: number, end: number): boolean {
    return !this.vmas.some((v) => v.end > start && v.start < end);
  }

  private isFullyMapped(start: number, end: number): boolean {
    let at = start;
    for (const v of this.vmas) {
      if (v.end <= at) continue;
      if (v.start > at) return false;
      at = v.end;
      if (at >= end) return true;
    }
    return at >= end;
  }

  /** Charged bytes of the mappings within [start, end). */
  private overlapCharged(start: number, end: number): number {
    let n = 0;
    for (const v of this.vmas) if (v.end > start && v.start < end) n += charged(v, Math.max(v.start, start), Math.min(v.end, end));
    return n;
  }

  private findFreeTopDown(len: number): number {
    let top = this.mmapTop;
    for (let i = this.vmas.length - 1; i >= 0; i--) {
      const v = this.vmas[i];
      if (v.start >= top) continue;
      if (v.end <= top - len) break;
      top = v.start;
    }
    const at = top - len;
    return at >= MMAP_MIN && this.isFree(at, top) ? at : -1;
  }

  /** Remove [start, end) from the VMA list; with `release`, zero and unaccount the pages. */
  private carve(start: number, end: number, release: boolean): void {
    const kept: Vma[] = [];
    for (const v of this.vmas) {
      if (v.end <= start || v.start >= end) {
        kept.push(v);
        continue;
      }
      if (v.start < start) kept.push(slice(v, v.start, start));
      if (v.end > end) kept.push(slice(v, end, v.end));
      if (release) {
        const s = Math.max(v.start, start);
        const e = Math.min(v.end, end);
        this.fillFlags(s, e, 0);
        // Shared pages leave the memory's own bytes zero (memory.ts): only private ones need scrubbing.
        if (v.shared) this.dropFrames(v, s, e);
        else scrubLive(this.mem, s, e);
        this.account.uncharge(charged(v, s, e));
        if (v.prot & PROT_EXEC) this.codeChanged(s, e - s);
      }
    }
    this.vmas = kept.sort((a, b) => a.start - b.start);
  }

  private insert(v: Vma): void {
    this.vmas.push(v);
    this.vmas.sort((a, b) => a.start - b.start);
  }

  /** mremap grew a mapping in place: its pieces ending and starting at `addr` become one if nothing tells them apart, as Linux merges them. */
  mergeAt(addr: number): void {
    const i = this.vmas.findIndex((v) => v.end === addr);
    const a = this.vmas[i], b = this.vmas[i + 1];
    if (i < 0 || b === undefined || b.start !== addr || a.prot !== b.prot || a.name !== b.name) return;
    const sa = a.shared, sb = b.shared;
    if (sa || sb) {
      if (!sa?.obj || sa.obj !== sb?.obj || sa.readOnly !== sb.readOnly || sa.pgoff + (a.end - a.start) / PAGE_SIZE !== sb.pgoff) return;
    }
    this.vmas.splice(i, 2, { ...a, end: b.end });
  }

  /**
   * madvise(MADV_DONTNEED): private pages of [start, end) read as zero from
   * now on (only pages holding data are written); shared pages keep their
   * data, as Linux's shared memory does.
   */
  discard(start: number, end: number): void {
    for (const v of this.vmas) {
      if (v.end <= start || v.start >= end || v.shared) continue;
      const s = Math.max(v.start, start), e = Math.min(v.end, end);
      scrubLive(this.mem, s, e);
      if (v.prot & PROT_EXEC) this.codeChanged(s, e - s);
    }
  }

  /**
   * The memory is about to have threads (a clone with CLONE_VM): from now on
   * munmap and MADV_DONTNEED of a long private range are one madvise of its
   * host pages (scrub.ts scrubLive), not a read of every page; a thread's exit
   * gives back most of its 8 MiB stack so.
   */
  prepareForThreads(): void {
    learnHostBase(this.mem);
  }

  /** Unmap everything, zeroing the pages (the memory stays in use). */
  clear(): void {
    for (const v of [...this.vmas]) this.carve(v.start, v.end, true);
  }

  /**
   * The address space is being discarded (its last user is gone): give its
   * pages back to the account and leave the memory as a fresh one, all zero
   * and unmapped, so it can be reused. Only pages holding data are written:
   * zeroing an untouched page would make the host commit it. Private pages
   * the host holds no memory for are not even read (scrub.ts scrubReleased):
   * the caller is the memory's last user.
   */
  release(): void {
    for (const v of this.vmas) {
      this.account.uncharge(charged(v, v.start, v.end));
      if (v.shared) this.dropFrames(v, v.start, v.end);
      else scrubReleased(this.mem, v.start, v.end);
      this.fillFlags(v.start, v.end, 0);
    }
    this.vmas = [];
    this.lazyMappings = false;
    this.brkStart = this.brkEnd = 0;
    // The engine area (tier 0's records and tables) given back whole, so that a
    // pooled memory holds none of it. Tier 0 trusts nothing there by address
    // alone (interp-wasm.ts: records and chaining entries through epochs that
    // the release's flush moves, page tables refilled when the flags'
    // generation moves, as it does here).
    discardReleased(this.mem, ENGINE_BASE, GUEST_VA_LIMIT);
    this.mem.flagsChanged();
  }

  /**
   * Fork: give `child` (a fresh, empty address space) the same mappings with
   * copies of their contents. Only pages holding a non-zero byte are written
   * (the child's memory reads zero elsewhere already), so untouched stack and
   * heap pages cost nothing. ENOMEM when the copy would pass the memory cap.
   */
  copyInto(child: MemoryManager): 0 | Errno {
    if (!child.account.charge(this.chargedBytes())) return ENOMEM;
    child.account.uncharge(this.chargedBytes());
    const alloc = FrameAllocator.local();
    for (const v of this.vmas) {
      if (v.shared) {
        // The same frames, one more reference each.
        const cv: Vma = { ...v, shared: { ...v.shared } };
        child.insert(cv);
        child.lazyMappings ||= loadsOnTouch(v.shared);
        const first = pageOf(v.start), last = pageOf(v.end);
        child.fillFlags(v.start, v.end, flagsOf(v));
        const entry = this.entriesOf(v.start, v.end);
        for (let p = first; p < last; p++) {
          const f = entry(p);
          // Never full: the child's high table gets what the parent's holds.
          child.setEntry(cv, p, f);
          if (v.shared.obj) v.shared.obj.copyPage(v.shared.pgoff + p - first, f - 1, { mem: child.mem, page: p });
          else if (f > 0) alloc.ref(f - 1);
        }
        continue;
      }
      const r = child.mapFixed(v.start, v.end - v.start, v.prot, v.name);
      if (r !== 0) return r;
      copyNonZeroPages(this.mem, child.mem, v.start, v.end);
    }
    child.brkStart = this.brkStart;
    child.brkEnd = this.brkEnd;
    child.stackSize = this.stackSize;
    child.mmapTop = this.mmapTop;
    return 0;
  }

  /**
   * Checkpoint: the mappings, brk and layout, and the pages that hold data
   * (only those: a page of zeros is not written), appended to `data`. A
   * shared mapping of a file is saved as the file's path and page offset (its
   * bytes are the file's: the caller writes dirty pages back first); other
   * shared memory (anonymous MAP_SHARED, memfd, SysV and POSIX shm: frames
   * of the sandbox-wide pool named by nothing a restore can open) refuses
   * the checkpoint.
   */
  save(data: { add(bytes: Uint8Array): void; length: number }): AddressSpaceRecord {
    const dataOffset = data.length;
    const pages: number[] = [];
    for (const v of this.vmas) {
      if (v.shared) {
        const path = v.shared.obj?.savePath?.();
        if (path === undefined) throw new Unsupported(`shared memory that no file of the gofer's filesystems holds (MAP_SHARED anonymous memory, shm, memfd or tmpfs, at 0x${v.start.toString(16)}${v.name ? ` of ${v.name}` : ''})`);
        continue;
      }
      forEachNonZeroPage(this.mem, v.start, v.end, (page) => {
        pages.push(page >>> PAGE_SHIFT);
        data.add(this.mem.u8.subarray(page, page + PAGE_SIZE));
      });
    }
    return {
      vmas: this.vmas.map((v) => {
        const path = v.shared?.obj?.savePath?.();
        const file = v.shared && path !== undefined ? { path, pgoff: v.shared.pgoff, readOnly: v.shared.readOnly === true } : undefined;
        return { start: v.start, end: v.end, prot: v.prot, name: v.name, file };
      }),
      brkStart: this.brkStart,
      brkEnd: this.brkEnd,
      stackSize: this.stackSize,
      mmapTop: this.mmapTop,
      pages,
      dataOffset,
    };
  }

  /**
   * The restore half of save(), into this empty address space: the mappings
   * (charged to the account: ENOMEM past it; a file mapping backed by
   * `fileBacking(index of its record)`, which the caller opened again) and
   * the saved pages' bytes from `data`. A record whose pages lie outside its mappings or past `data` is
   * a corrupt image: thrown as an Error.
   */
  restore(rec: AddressSpaceRecord, data: Uint8Array, fileBacking: (vma: number) => SharedBacking | undefined): 0 | Errno {
    for (let i = 0; i < rec.vmas.length; i++) {
      const v = rec.vmas[i];
      const shared = v.file ? fileBacking(i) : undefined;
      if (v.file && !shared) throw new Error(`the file mapping at 0x${v.start.toString(16)} has no file`);
      const r = this.mapFixed(v.start, v.end - v.start, v.prot, v.name, shared);
      if (r !== 0) return r;
    }
    let off = rec.dataOffset;
    for (const page of rec.pages) {
      const addr = page * PAGE_SIZE;
      const v = this.vmaAt(addr);
      if (!v || v.shared || off + PAGE_SIZE > data.length) throw new Error(`page 0x${addr.toString(16)} of the image lies outside its mappings or its data`);
      this.mem.u8.set(data.subarray(off, off + PAGE_SIZE), addr);
      off += PAGE_SIZE;
    }
    this.brkStart = rec.brkStart;
    this.brkEnd = rec.brkEnd;
    this.stackSize = rec.stackSize;
    this.mmapTop = rec.mmapTop;
    return 0;
  }
}

/** What [s, e) of mapping `v` costs the memory account (shared frames are charged when allocated). */
function charged(v: Vma, s: number, e: number): number {
  return v.prot === PROT_NONE || v.shared ? 0 : e - s;
}
