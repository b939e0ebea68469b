// The high range of an address space: shared mappings above the 4 GiB of
// its WebAssembly.Memory (memory.ts), backed only by frames of the pool.
//
// Contract:
// - Addresses [GUEST_VA_LIMIT, HIGH_VA_LIMIT) (4 GiB to 256 GiB, Linux's
//   user limit under Sv39) may hold shared mappings. Their pages have no
//   byte in the address space's memory and no pageFlags entry: each one
//   that is present (has a frame now) is an entry of this table, keyed by
//   page number, giving its frame and its R/W permissions. A page that is
//   not present may still be mapped: an access to it stops the vCPU with a
//   fault-in request (cpu.ts FAULT_IN), and the kernel, which knows the
//   mappings, loads it, refuses it (SIGSEGV) or finds it past the end of
//   its file (SIGBUS).
// - The table is an open-addressing hash (linear probing, deletion by
//   backward shift: no tombstones) of HIGH_SLOTS 64-bit words in a
//   SharedArrayBuffer shared by every vCPU of the address space. A word is
//   0 (empty) or page | (frame + 1) << 32 | perms << 56, read and written
//   whole with Atomics, so a reader never sees half an entry. Only the
//   kernel writes it. A reader racing a deletion may miss an entry that is
//   there (it then asks the kernel, which finds the page present and lets
//   the access run again); it never sees a wrong one.
// - At most HIGH_PRESENT pages are present at once (half the slots): the
//   kernel refuses a fault-in beyond that (SIGBUS), a documented limit.
// - Code never runs from the high range (no PAGE_X there): fetches fault.

/** First address above the high range: 256 GiB, Linux riscv64's user limit under Sv39. */
export const HIGH_VA_LIMIT = 2 ** 38;
/** Slots of the table (a power of two). */
export const HIGH_SLOTS = 1 << 18;
/** Most pages present at once in one address space's high range (512 MiB). */
export const HIGH_PRESENT = HIGH_SLOTS / 2;

const MASK = HIGH_SLOTS - 1;
const PAGE_BITS = 0xffff_ffffn;

/** Slot of the first probe for page `page`. */
function home(page: number): number {
  return Math.imul(page, 0x9e3779b1) >>> (32 - 18);
}

export class HighPages {
  readonly words: BigInt64Array;
  /** Entries in the table (the kernel's count: only it writes). */
  private count = 0;

  constructor(readonly buffer: SharedArrayBuffer) {
    this.words = new BigInt64Array(buffer);
  }

  static create(): HighPages {
    return new HighPages(new SharedArrayBuffer(HIGH_SLOTS * 8));
  }

  /** The entry of page `page`, or 0n when it is not present. */
  entry(page: number): bigint {
    const w = this.words;
    for (let i = home(page); ; i = (i + 1) & MASK) {
      const v = Atomics.load(w, i);
      if (v === 0n) return 0n;
      if (Number(v & PAGE_BITS) === page) return v;
    }
  }

  /** frame + 1 of page `page`, 0 when it is not present. */
  frame(page: number): number {
    const v = this.entry(page);
    return v === 0n ? 0 : Number((v >> 32n) & 0xff_ffffn);
  }

  /** The R/W bits of present page `page` (0 when it is not present). */
  perms(page: number): number {
    const v = this.entry(page);
    return v === 0n ? 0 : Number(v >> 56n);
  }

  /** Pages present now. */
  get size(): number {
    return this.count;
  }

  /** Make page `page` present with frame `frame` and `perms` (or change it); false when the table is full. */
  set(page: number, frame: number, perms: number): boolean {
    const w = this.words;
    const v = BigInt(page) | (BigInt(frame + 1) << 32n) | (BigInt(perms) << 56n);
    for (let i = home(page); ; i = (i + 1) & MASK) {
      const cur = Atomics.load(w, i);
      if (cur === 0n) {
        if (this.count >= HIGH_PRESENT) return false;
        Atomics.store(w, i, v);
        this.count++;
        return true;
      }
      if (Number(cur & PAGE_BITS) === page) {
        Atomics.store(w, i, v);
        return true;
      }
    }
  }

  /** Page `page` is no longer present; its former frame + 1 (0 when it was not). */
  delete(page: number): number {
    const w = this.words;
    let i = home(page);
    for (;; i = (i + 1) & MASK) {
      const cur = Atomics.load(w, i);
      if (cur === 0n) return 0;
      if (Number(cur & PAGE_BITS) === page) break;
    }
    const old = Number((Atomics.load(w, i) >> 32n) & 0xff_ffffn);
    // Backward shift: move later entries of the run into the hole while their home allows it.
    let hole = i;
    for (let j = (hole + 1) & MASK; ; j = (j + 1) & MASK) {
      const v = Atomics.load(w, j);
      if (v === 0n) break;
      const h = home(Number(v & PAGE_BITS));
      // Can v move to hole? Only if its home is not cyclically in (hole, j].
      const inRange = hole <= j ? h > hole && h <= j : h > hole || h <= j;
      if (inRange) continue;
      Atomics.store(w, hole, v);
      hole = j;
    }
    Atomics.store(w, hole, 0n);
    this.count--;
    return old;
  }

  /** Present pages in [first, last) with their frame + 1 and perms, in no order. */
  within(first: number, last: number): { page: number; frame: number; perms: number }[] {
    const out: { page: number; frame: number; perms: number }[] = [];
    if (this.count === 0) return out;
    if (last - first < HIGH_SLOTS) {
      for (let p = first; p < last; p++) {
        const v = this.entry(p);
        if (v !== 0n) out.push({ page: p, frame: Number((v >> 32n) & 0xff_ffffn), perms: Number(v >> 56n) });
      }
      return out;
    }
    const w = this.words;
    for (let i = 0; i < HIGH_SLOTS; i++) {
      const v = Atomics.load(w, i);
      if (v === 0n) continue;
      const p = Number(v & PAGE_BITS);
      if (p >= first && p < last) out.push({ page: p, frame: Number((v >> 32n) & 0xff_ffffn), perms: Number(v >> 56n) });
    }
    return out;
  }
}
