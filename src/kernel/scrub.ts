// Finding and zeroing the pages of a guest memory that hold data (mm.ts's
// fork copy, munmap, MADV_DONTNEED, checkpoint and release).
//
// Contract:
// - forEachNonZeroPage / zeroDataPages / copyNonZeroPages read every page of
//   their range (memcmp against a zero page) and write only those holding a
//   non-zero byte. Reading a page the host never committed still costs a
//   host page fault (2-4 µs here), which is most of the cost on a large,
//   mostly untouched mapping such as the 8 MiB stack.
// - scrubReleased(mem, start, end) leaves [start, end) reading zero, as
//   zeroDataPages does, without reading most of the pages the host holds no
//   memory for: mincore names them, and each run of 32 or more of them is
//   given back with one madvise(MADV_DONTNEED) (a no-op for a page never
//   touched; for one swapped out it drops the data). Shorter runs are read
//   as before: a madvise costs as much as ~15 host faults (clearAbsent).
//   Pages in host memory are compared and zeroed as
//   before, so they stay committed for the memory's next user (the pool's
//   point, address-space.ts). It is used only where no other thread can be
//   using the memory (the last user's release).
// - scrubLive(mem, start, end) leaves [start, end) reading zero while the
//   guest's other threads may run on the memory (munmap and MADV_DONTNEED of
//   private pages): where the memory's host address is known already
//   (learnHostBase, or an earlier release of the memory), a range of
//   MIN_DISCARD_PAGES or more is given back whole with one madvise (the
//   host's pages decommitted, as Linux frees them); else, or for a shorter
//   range, it is zeroed as zeroDataPages does. learnHostBase(mem) finds the
//   address (and loads the native module, 3-8 ms the first time in a
//   thread): the kernel calls it at a process's first CLONE_VM, not on a
//   single-threaded program's start. glibc gives back each
//   thread's 8 MiB stack so at the thread's exit: read page by page that cost
//   the kernel's thread 4-20 ms (a host fault per untouched page), while it
//   also runs vCPU 0 (src/kernel/README.md, "vCPU 0's runs while workers run").
// - Finding a memory's host address writes and restores a cookie at
//   HOST_COOKIE in page 0 (memory.ts), bytes no thread reads, so it may be
//   found while threads run.
// - It falls back to zeroDataPages wherever it cannot vouch for the result:
//   no host address (hostAddress refused), mincore or madvise failing, or a
//   probe finding that MADV_DONTNEED does not zero a WebAssembly.Memory's
//   pages in this process (V8 maps them private and anonymous; the probe
//   runs once per thread on a memory of its own).

import { GuestMemory, HOST_COOKIE, PAGE_SIZE } from '../vcpu/memory.js';
import { dontNeed, hostAddress, residency } from '../host/memory.js';

/** One page of zeros: compared against (memcmp) and copied from, both far faster than JS loops or fill(). */
const ZERO_PAGE = new Uint8Array(PAGE_SIZE);

/** Call `fn` with the address of each page of [start, end) that holds a non-zero byte. */
export function forEachNonZeroPage(mem: GuestMemory, start: number, end: number, fn: (page: number) => void): void {
  const u8 = mem.u8;
  for (let page = start; page < end; page += PAGE_SIZE) {
    if (Buffer.compare(ZERO_PAGE, u8.subarray(page, page + PAGE_SIZE)) !== 0) fn(page);
  }
}

/** Zero the pages of [start, end) that hold data. */
export function zeroDataPages(mem: GuestMemory, start: number, end: number): void {
  forEachNonZeroPage(mem, start, end, (page) => mem.u8.set(ZERO_PAGE, page));
}

/** Copy the pages of [start, end) that hold any non-zero byte from `src` to `dst`. */
export function copyNonZeroPages(src: GuestMemory, dst: GuestMemory, start: number, end: number): void {
  forEachNonZeroPage(src, start, end, (page) => dst.u8.set(src.u8.subarray(page, page + PAGE_SIZE), page));
}

/** Host address of each memory's byte 0 (null: not to be used), found at its first release. */
const hostBases = new WeakMap<GuestMemory, bigint | null>();
/** Whether MADV_DONTNEED zeroes a WebAssembly.Memory's pages here (undefined: not probed yet). */
let discardZeroes: boolean | undefined;
/** mincore's answer for one chunk. */
const CHUNK_PAGES = 4096;
const vec = new Uint8Array(CHUNK_PAGES);
/** Shortest run of absent pages given back with madvise rather than read (see clearAbsent). */
const MIN_DISCARD_PAGES = 32;

function probeDiscard(): boolean {
  const probe = new Uint8Array(new WebAssembly.Memory({ initial: 1, maximum: 1, shared: true }).buffer);
  const base = hostAddress(probe);
  if (base === undefined) return false;
  probe.fill(0xa5, 0, PAGE_SIZE);
  if (dontNeed(base, PAGE_SIZE) !== 0) return false;
  return Buffer.compare(ZERO_PAGE, probe.subarray(0, PAGE_SIZE)) === 0;
}

function hostBase(mem: GuestMemory): bigint | null {
  let base = hostBases.get(mem);
  if (base === undefined) {
    discardZeroes ??= probeDiscard();
    base = discardZeroes ? (hostAddress(mem.u8.subarray(0, PAGE_SIZE), [HOST_COOKIE, HOST_COOKIE + 16]) ?? null) : null;
    hostBases.set(mem, base);
  }
  return base;
}

/**
 * Leave the absent pages [start, end) reading zero: a short run is read and
 * zeroed where it holds data, a long one given back in one madvise. The
 * madvise costs 15-75 µs here (the host flushes the other threads' TLBs),
 * a read of an absent page a host fault of 2-4 µs.
 */
function clearAbsent(mem: GuestMemory, base: bigint, start: number, end: number): void {
  if (end - start < MIN_DISCARD_PAGES * PAGE_SIZE || dontNeed(base + BigInt(start), end - start) !== 0) zeroDataPages(mem, start, end);
}

/**
 * Give the host back every page of [start, end) of a memory nobody is using,
 * whatever they hold: one madvise(MADV_DONTNEED), after which they read zero;
 * false (nothing done) where scrubReleased could not vouch for it either.
 * For the engine area of a released memory (memory.ts ENGINE_BASE), which
 * holds no mapping's bytes, only tier 0's records and tables.
 */
export function discardReleased(mem: GuestMemory, start: number, end: number): boolean {
  const base = hostBase(mem);
  return base !== null && dontNeed(base + BigInt(start), end - start) === 0;
}

/** Leave [start, end) reading zero while other threads may use the memory; see the file comment. */
export function scrubLive(mem: GuestMemory, start: number, end: number): void {
  const base = end - start < MIN_DISCARD_PAGES * PAGE_SIZE ? undefined : hostBases.get(mem);
  if (base === undefined || base === null || dontNeed(base + BigInt(start), end - start) !== 0) zeroDataPages(mem, start, end);
}

/** Find `mem`'s host address for scrubLive (kept with the memory); see the file comment. */
export function learnHostBase(mem: GuestMemory): void {
  hostBase(mem);
}

/** Leave [start, end) of a memory nobody else is using reading zero; see the file comment. */
export function scrubReleased(mem: GuestMemory, start: number, end: number): void {
  const base = hostBase(mem);
  if (base === null) return zeroDataPages(mem, start, end);
  const u8 = mem.u8;
  for (let at = start; at < end; at += CHUNK_PAGES * PAGE_SIZE) {
    const stop = Math.min(end, at + CHUNK_PAGES * PAGE_SIZE);
    if (residency(base + BigInt(at), stop - at, vec) !== 0) {
      zeroDataPages(mem, at, stop);
      continue;
    }
    let run = -1;
    for (let page = at, i = 0; page < stop; page += PAGE_SIZE, i++) {
      if ((vec[i] & 1) === 0) {
        if (run < 0) run = page;
        continue;
      }
      if (run >= 0) clearAbsent(mem, base, run, page);
      run = -1;
      if (Buffer.compare(ZERO_PAGE, u8.subarray(page, page + PAGE_SIZE)) !== 0) u8.set(ZERO_PAGE, page);
    }
    if (run >= 0) clearAbsent(mem, base, run, stop);
  }
}
