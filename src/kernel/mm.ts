// A process's address space: the mappings (VMAs), brk, and the page flags the
// CPUs check on every access.
//
// Contract:
// - Guest addresses are [0, GUEST_VA_LIMIT); page 0 is never mapped (null
//   dereferences fault). Layout: the executable where it asks (non-PIE) or at
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

import { EINVAL, ENOMEM, EEXIST, Errno } from '../linux/errno.js';
import { PROT_EXEC, PROT_NONE, PROT_READ, PROT_WRITE } from '../linux/abi.js';
import { GuestMemory, GUEST_VA_LIMIT, PAGE_SIZE, PAGE_SHIFT, PAGE_R, PAGE_W, PAGE_X } from '../vcpu/memory.js';

export const STACK_TOP = 0xf000_0000;
export const DEFAULT_STACK_SIZE = 8 << 20;
export const PIE_BASE = 0x4000_0000;
/** Lowest address handed out for a mapping without MAP_FIXED. */
export const MMAP_MIN = 0x1000_0000;

/** Sandbox-wide memory accounting (bytes of mapped pages). */
export class MemoryAccount {
  used = 0;
  constructor(readonly limit: number) {}
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
}

export function pageAlignUp(n: number): number {
  return Math.ceil(n / PAGE_SIZE) * PAGE_SIZE;
}

export function pageAlignDown(n: number): number {
  return Math.floor(n / PAGE_SIZE) * PAGE_SIZE;
}

function protToFlags(prot: number): number {
  let f = 0;
  if (prot & PROT_READ) f |= PAGE_R;
  if (prot & PROT_WRITE) f |= PAGE_W | PAGE_R; // RISC-V has no write-only pages
  if (prot & PROT_EXEC) f |= PAGE_X;
  return f;
}

export class MemoryManager {
  /** Sorted by start, non-overlapping. */
  private vmas: Vma[] = [];
  brkStart = 0;
  brkEnd = 0;
  stackSize = DEFAULT_STACK_SIZE;
  mmapTop = STACK_TOP - DEFAULT_STACK_SIZE - (1 << 20);

  constructor(
    readonly mem: GuestMemory,
    readonly account: MemoryAccount,
    private readonly codeChanged: (addr: number, len: number) => void,
  ) {}

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
  mapFixed(start: number, len: number, prot: number, name: string): 0 | Errno {
    if (start % PAGE_SIZE || len <= 0 || start + len > GUEST_VA_LIMIT || start < PAGE_SIZE) return start < PAGE_SIZE ? EINVAL : ENOMEM;
    len = pageAlignUp(len);
    const replaced = this.overlapCharged(start, start + len);
    const cost = prot === PROT_NONE ? 0 : len;
    if (this.account.used - replaced + cost > this.account.limit) return ENOMEM;
    this.carve(start, start + len, true);
    this.account.charge(cost);
    this.insert({ start, end: start + len, prot, name });
    this.mem.pageFlags.fill(protToFlags(prot), start >>> PAGE_SHIFT, (start + len) >>> PAGE_SHIFT);
    return 0;
  }

  /** Map anywhere free (top-down, trying `hint` first); the address chosen. */
  mapAnywhere(len: number, prot: number, name: string, hint = 0): number | Errno {
    len = pageAlignUp(len);
    if (len <= 0 || len > GUEST_VA_LIMIT) return ENOMEM;
    let at = -1;
    if (hint && hint % PAGE_SIZE === 0 && hint >= MMAP_MIN && hint + len <= this.mmapTop && this.isFree(hint, hint + len)) at = hint;
    if (at < 0) at = this.findFreeTopDown(len);
    if (at < 0) return ENOMEM;
    const r = this.mapFixed(at, len, prot, name);
    return r === 0 ? at : r;
  }

  /** MAP_FIXED_NOREPLACE: EEXIST when anything is mapped there. */
  mapNoReplace(start: number, len: number, prot: number, name: string): 0 | Errno {
    if (!this.isFree(start, start + pageAlignUp(len))) return EEXIST;
    return this.mapFixed(start, len, prot, name);
  }

  unmap(start: number, len: number): 0 | Errno {
    if (start % PAGE_SIZE || len <= 0) return EINVAL;
    const end = Math.min(start + pageAlignUp(len), GUEST_VA_LIMIT);
    if (start >= GUEST_VA_LIMIT) return 0;
    this.carve(start, end, true);
    return 0;
  }

  /** mprotect: every page must be mapped (ENOMEM otherwise). */
  protect(start: number, len: number, prot: number): 0 | Errno {
    if (start % PAGE_SIZE) return EINVAL;
    const end = start + pageAlignUp(len);
    if (end > GUEST_VA_LIMIT) return ENOMEM;
    if (len === 0) return 0;
    if (!this.isFullyMapped(start, end)) return ENOMEM;
    const pieces = this.vmas.filter((v) => v.end > start && v.start < end);
    // Pages leaving or entering PROT_NONE change what the account carries.
    const before = this.overlapCharged(start, end);
    const after = prot === PROT_NONE ? 0 : end - start;
    if (after > before && !this.account.charge(after - before)) return ENOMEM;
    if (after < before) this.account.uncharge(before - after);
    this.carve(start, end, false);
    for (const v of pieces) this.insert({ start: Math.max(v.start, start), end: Math.min(v.end, end), prot, name: v.name });
    this.mem.pageFlags.fill(protToFlags(prot), start >>> PAGE_SHIFT, end >>> PAGE_SHIFT);
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
      if (v.start < start) kept.push({ ...v, end: start });
      if (v.end > end) kept.push({ ...v, start: end });
      if (release) {
        const s = Math.max(v.start, start);
        const e = Math.min(v.end, end);
        this.mem.pageFlags.fill(0, s >>> PAGE_SHIFT, e >>> PAGE_SHIFT);
        forEachNonZeroPage(this.mem, s, e, (page) => this.mem.u8.set(ZERO_PAGE, page));
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

  /** Unmap everything, zeroing the pages (the memory stays in use). */
  clear(): void {
    for (const v of [...this.vmas]) this.carve(v.start, v.end, true);
  }

  /**
   * The address space is being discarded (its last user is gone): give its
   * pages back to the account and leave the memory as a fresh one, all zero
   * and unmapped, so it can be reused. Only pages holding data are written:
   * zeroing an untouched page would make the host commit it.
   */
  release(): void {
    for (const v of this.vmas) {
      this.account.uncharge(charged(v, v.start, v.end));
      forEachNonZeroPage(this.mem, v.start, v.end, (page) => this.mem.u8.set(ZERO_PAGE, page));
      this.mem.pageFlags.fill(0, v.start >>> PAGE_SHIFT, v.end >>> PAGE_SHIFT);
    }
    this.vmas = [];
    this.brkStart = this.brkEnd = 0;
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
    for (const v of this.vmas) {
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
}

/** What [s, e) of mapping `v` costs the memory account. */
function charged(v: Vma, s: number, e: number): number {
  return v.prot === PROT_NONE ? 0 : e - s;
}

/** One page of zeros: compared against (memcmp) and copied from, both far faster than JS loops or fill(). */
const ZERO_PAGE = new Uint8Array(PAGE_SIZE);

/** Call `fn` with the address of each page of [start, end) that holds a non-zero byte. */
function forEachNonZeroPage(mem: GuestMemory, start: number, end: number, fn: (page: number) => void): void {
  const u8 = mem.u8;
  for (let page = start; page < end; page += PAGE_SIZE) {
    if (Buffer.compare(ZERO_PAGE, u8.subarray(page, page + PAGE_SIZE)) !== 0) fn(page);
  }
}

/** Copy the pages of [start, end) that hold any non-zero byte from `src` to `dst`. */
function copyNonZeroPages(src: GuestMemory, dst: GuestMemory, start: number, end: number): void {
  forEachNonZeroPage(src, start, end, (page) => dst.u8.set(src.u8.subarray(page, page + PAGE_SIZE), page));
}
