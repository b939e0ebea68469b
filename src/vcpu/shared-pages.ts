// The CPU's slow path for shared pages (memory.ts: PAGE_SHARED, the frame
// table; frames.ts: the pool).
//
// Contract: step(state, pc) executes the plain load or store at `pc` (its
// registers in `state`, the block having written its locals back) whose
// access Cpu.segv found allowed by the pages' shared permissions: byte by
// byte through the frame table, private bytes in the address space's own
// memory, an aligned access inside one page as one Atomics access on the
// pool (single-copy atomic across processes); a store marks its frames
// dirty and reports a straddled private page holding code through
// `onCodeWrite`. It returns STEP_DONE (next pc in `next`), STEP_BUS (a
// shared page without a frame: the address in `badAddr`), STEP_FAULT_IN (a
// shared page not loaded yet, or a high page not present: the address in
// `badAddr`, for the kernel to serve), or STEP_NONE (not a plain load or
// store, or not permitted: the caller reports its SIGSEGV). Addresses are
// exact 64-bit values: the high range (high-pages.ts) goes through the
// same path, and nothing at or above HIGH_VA_LIMIT is ever reached. AMOs
// and LR/SC use offset() from Cpu.amo directly.

import { decode, type Insn } from './decode.js';
import type { FramePool } from './frames.js';
import { GuestMemory, GUEST_PAGES, HIGH_VA_LIMIT, PAGE_CODE, PAGE_R, PAGE_W, PAGE_SIZE, pageOf } from './memory.js';
import { AS_DOUBLE, type ThreadState } from './state.js';

export const STEP_NONE = 0, STEP_DONE = 1, STEP_BUS = 2, STEP_FAULT_IN = 3;

/** offset()'s answers for a page without a frame: SIGBUS, or not loaded yet (the kernel loads it). */
export const NO_FRAME = -1, NOT_LOADED = -2;

/** Bytes accessed by each plain load and store: what step() executes. */
const SIZES: Readonly<Record<string, number>> = {
  lb: 1, lbu: 1, lh: 2, lhu: 2, lw: 4, lwu: 4, ld: 8, flw: 4, fld: 8, sb: 1, sh: 2, sw: 4, sd: 8, fsw: 4, fsd: 8,
};

/** Most instructions kept decoded by pc. */
const MAX_DECODED = 4096;

export class SharedPages {
  /** After STEP_DONE: the next pc. */
  next = AS_DOUBLE;
  /** After STEP_BUS or STEP_FAULT_IN: the first byte on a page without a frame. */
  badAddr = AS_DOUBLE;
  private readonly pf: Uint8Array;
  private readonly mem: GuestMemory;
  private readonly dv: DataView;
  /** Instructions decoded here, by pc, with their raw parcels (to notice rewritten code). */
  private readonly decoded = new Map<number, { raw: number; insn: Insn }>();

  constructor(
    mem: GuestMemory,
    readonly pool: FramePool,
    /** An 8-byte scratch of the Cpu's. */
    private readonly sd: DataView,
  ) {
    this.pf = mem.pageFlags;
    this.mem = mem;
    this.dv = mem.view;
    this.next = this.badAddr = 0;
  }

  /**
   * The pool offset of guest byte `a` on a shared page (low or high), or
   * NO_FRAME / NOT_LOADED when the page has no frame now; marks the frame
   * dirty for a write.
   */
  offset(a: number, write: boolean): number {
    const e = this.mem.frameEntry(pageOf(a));
    if (e <= 0) return e === 0 ? NO_FRAME : NOT_LOADED;
    const fr = e - 1;
    if (write) this.pool.dirty[fr] = 1;
    return fr * PAGE_SIZE + (a % PAGE_SIZE);
  }

  /** The instruction at `pc`, decoded once while its parcels stay the same. */
  private insnAt(pc: number): Insn {
    const dv = this.dv;
    const lo = dv.getUint16(pc, true);
    const hi = (lo & 3) === 3 ? dv.getUint16(pc + 2, true) : 0;
    const raw = lo + hi * 65536;
    let cached = this.decoded.get(pc);
    if (cached === undefined || cached.raw !== raw) {
      if (this.decoded.size >= MAX_DECODED) this.decoded.clear();
      cached = { raw, insn: decode(lo, hi) };
      this.decoded.set(pc, cached);
    }
    return cached.insn;
  }

  step(state: ThreadState, pc: number, onCodeWrite: (a: number, size: number) => void): number {
    const i = this.insnAt(pc);
    const size = SIZES[i.op];
    if (size === undefined) return STEP_NONE;
    const x = state.x, fb = state.fbits, dv = this.dv, pf = this.pf, pool = this.pool, sd = this.sd;
    let a = (x[2 * i.rs1] >>> 0) + i.imm;
    const h = x[2 * i.rs1 + 1];
    if (h !== 0) a += h * 4294967296;
    if (a < 0 || a > HIGH_VA_LIMIT - size) return STEP_NONE;
    const fp = i.op[0] === 'f';
    const store = i.op[0] === 's' || i.op === 'fsw' || i.op === 'fsd';
    const need = store ? PAGE_W : PAGE_R;
    const mem = this.mem;
    const p1 = pageOf(a), p2 = pageOf(a + size - 1);
    for (let p = p1; p <= p2; p++) {
      // A high page that is not present may still be mapped: the kernel decides.
      if (p >= GUEST_PAGES && mem.high.frame(p) === 0) {
        this.badAddr = Math.max(a, p * PAGE_SIZE);
        return STEP_FAULT_IN;
      }
      if ((mem.permsAt(p) & need) !== need) return STEP_NONE;
      if (mem.isShared(p)) {
        const e = mem.frameEntry(p);
        if (e <= 0) {
          this.badAddr = Math.max(a, p * PAGE_SIZE);
          return e === 0 ? STEP_BUS : STEP_FAULT_IN;
        }
      }
    }
    const one = p1 === p2 && (a & (size - 1)) === 0;
    if (store) {
      const l = fp ? fb[2 * i.rs2] : x[2 * i.rs2], hv = fp ? fb[2 * i.rs2 + 1] : x[2 * i.rs2 + 1];
      if (one) {
        const off = this.offset(a, true);
        if (size === 8) Atomics.store(pool.i64, off >>> 3, (BigInt(hv) << 32n) | BigInt(l >>> 0));
        else if (size === 4) Atomics.store(pool.i32, off >>> 2, l);
        else if (size === 2) Atomics.store(pool.i16, off >>> 1, l);
        else pool.u8[off] = l;
      } else {
        sd.setInt32(0, l, true);
        sd.setInt32(4, hv, true);
        for (let j = 0; j < size; j++) {
          const b = a + j;
          if (mem.isShared(pageOf(b))) pool.u8[this.offset(b, true)] = sd.getUint8(j);
          else dv.setUint8(b, sd.getUint8(j));
        }
        // The private part of a straddling store may hold decoded code.
        if (p2 < GUEST_PAGES && ((pf[p1] | pf[p2]) & PAGE_CODE) !== 0) onCodeWrite(a, size);
      }
    } else {
      if (one) {
        const off = this.offset(a, false);
        if (size === 8) sd.setBigInt64(0, Atomics.load(pool.i64, off >>> 3), true);
        else if (size === 4) sd.setInt32(0, Atomics.load(pool.i32, off >>> 2), true);
        else if (size === 2) sd.setInt16(0, Atomics.load(pool.i16, off >>> 1), true);
        else sd.setUint8(0, pool.u8[off]);
      } else {
        for (let j = 0; j < size; j++) {
          const b = a + j;
          sd.setUint8(j, mem.isShared(pageOf(b)) ? pool.u8[this.offset(b, false)] : dv.getUint8(b));
        }
      }
      let l: number, hv = 0;
      switch (i.op) {
        case 'lb': l = sd.getInt8(0); hv = l >> 31; break;
        case 'lbu': l = sd.getUint8(0); break;
        case 'lh': l = sd.getInt16(0, true); hv = l >> 31; break;
        case 'lhu': l = sd.getUint16(0, true); break;
        case 'lw': l = sd.getInt32(0, true); hv = l >> 31; break;
        case 'lwu': l = sd.getInt32(0, true); break;
        case 'flw': l = sd.getInt32(0, true); hv = -1; break; // NaN-boxed
        default: l = sd.getInt32(0, true); hv = sd.getInt32(4, true);
      }
      if (fp) { fb[2 * i.rd] = l; fb[2 * i.rd + 1] = hv; }
      else if (i.rd !== 0) { x[2 * i.rd] = l; x[2 * i.rd + 1] = hv; }
    }
    this.next = pc + i.len;
    return STEP_DONE;
  }
}
