// Tier 0 in WebAssembly bound to a Cpu (option `tier0: 'wasm'`, the
// default; TSVISOR_TIER0=js for the JavaScript one; README.md, "Decision: a tier 0 in WebAssembly,
// measured"): wasm-interp.ts's module runs a tier-0 block and the tier-0
// blocks it chains into, behind tier 0's contract (Interpreter.run's: the
// retired count and stop, the next pc in cpu.npc, faults through Cpu.segv).
//
// Contract: Tier0Wasm.for(cpu, mem) is null when no engine region is left
// in `mem`; run(b, s, limit, promoteAt) runs tier-0 block `b` and returns
// (retired << 3) | stop, or -1 when its first instruction is one the module
// leaves to the JavaScript interpreter (LR/SC, AMOs min/max, CSRs other
// than fflags, frm and fcsr, ebreak, fence.i, illegal encodings; an AMO off
// its fast path, F/D arithmetic under a rounding mode other than
// round-to-nearest (or RTZ for a conversion to an integer), or a reserved frm; an
// ecall it runs, leaving with Stop.Syscall): the
// caller runs that block in JavaScript. The module leaves before any such
// instruction in a block with the instructions before it retired, and the
// run loop then finds (builds) the block starting at it. On a chaining
// miss the module asks its Region (the import lk) for the Cpu's tier-0
// block at the target (Cpu.tier0At: found or built), whose records and
// chaining entry are then written, and goes on into it without returning.
// sync(b) brings b.heat up to the
// heat the module counted (runs and backward jumps), which the run loop's
// promotion reads.
//
// The engine area: ENGINE_REGIONS regions of 16 MiB from ENGINE_BASE
// (memory.ts: 0xf800_0000, above the stack and the signal trampoline,
// where mm.ts maps nothing, whatever the guest asks). Each thread
// claims one region per memory (a bit of the word at byte ENGINE_CLAIM of
// page 0, memory.ts) and its Cpus over that memory take turns in it: the
// chaining table, the page tables, the F/D scratch slot, the register slot, then the records,
// allocated upwards and all dropped when the region is full.
// The registers (x and f, as ThreadState.file: one block copy each way)
// and fcsr are copied from the thread's state into the slot and back around
// each call. Chaining entries hold an epoch that moves whenever
// another Cpu takes the region or the Cpu's codeEpoch moves (a drop or
// flush of blocks), so that no entry outlives the block it names.
//
// The module itself is one per thread, for every region of every memory
// (the region's base comes in with the register slot's address), and one
// per sandbox: the kernel's thread builds it (tier0Module) and hands it to
// each vCPU worker it starts, which adopts it (adoptTier0Module) rather
// than building and compiling its own (README.md, "Decision: one tier-0
// module per sandbox").

import type { Block } from './block.js';
import type { Cpu } from './cpu.js';
import { ENGINE_BASE, FLAGS_GEN, GUEST_VA_LIMIT, PAGE_CODE, PAGE_R, PAGE_W, type GuestMemory } from './memory.js';
import { Stop, ThreadState } from './state.js';
import { Tier0 } from './ops.js';
import { Area, Exit, F_SLOT, FCSR_SLOT, Res, runsOp, toWasmRecords, wasmInterpModule, wasmRecordBytes } from './wasm-interp.js';
import { fpSlowPath } from './wasm-interp-fp.js';
import { engineStats } from './engine-stats.js';
import { readTier0Bytes, TIER0_BYTES_FILE } from './tier0-bytes.js';

/** The engine area (see the file comment; memory.ts ENGINE_BASE). */
export { ENGINE_BASE };
export const ENGINE_REGION = 16 << 20;
export const ENGINE_REGIONS = 8;
/** The byte of page 0 whose word's bits claim the regions. */
export const ENGINE_CLAIM = 16;

const TWO32 = 4294967296;
const XS = Area.BYTES, RECS = XS + 1024;
if (F_SLOT !== ThreadState.FILE_F_OFFSET || FCSR_SLOT < 264 || FCSR_SLOT >= F_SLOT) throw new Error('interp-wasm: the register slot and the register file disagree');
/** The largest heat a records' header holds (an i32 the module adds to); the Cpu keeps demoted heats above its negative. */
export const MAX_HEAT = 0x3fffffff;

/** A block's heat as its records' header holds it (clamped to MAX_HEAT). */
const headerHeat = (h: number): number => (h < MAX_HEAT ? h : MAX_HEAT);

/**
 * This thread's compiled module, one for every region (the base comes in
 * with the register slot's address): built and compiled at the thread's
 * first Region, or adopted from the thread that built it (a vCPU worker
 * gets the kernel's in its start message; README.md, "Decision: one tier-0
 * module per sandbox").
 */
let shared: WebAssembly.Module | null = null;

/**
 * This thread's tier-0 module, compiled now if it has none (from the bytes
 * the build made, tier0-bytes.ts, or, with no current file, bytes made
 * here): what the kernel hands each vCPU worker it starts (a WebAssembly.Module is
 * posted without a recompile: the worker's instances run the code compiled
 * here, and V8's later optimized code of it too).
 */
export function tier0Module(): WebAssembly.Module {
  if (shared === null) {
    // The bytes the build made (tier0-bytes.ts), when current; else made here.
    const pages = GUEST_VA_LIMIT / 65536;
    shared = new WebAssembly.Module(readTier0Bytes(TIER0_BYTES_FILE, pages) ?? wasmInterpModule(pages));
    engineStats.tier0Modules++;
  }
  return shared;
}

/** Take `mod` (another thread's tier0Module()) as this thread's, before its first Region; no effect once it has one. */
export function adoptTier0Module(mod: WebAssembly.Module): void {
  if (shared === null) shared = mod;
}

type RunFn = (hdr: number, limit: number, xs: number, epoch: number, promote: number) => number;

/** A thread's region in one memory. */
class Region {
  readonly run: RunFn;
  readonly i32: Int32Array;
  next: number;
  recEpoch = 0;
  chainEpoch = 0;
  owner: Cpu | null = null;
  ownerEpoch = -1;
  gen = -1;
  /**
   * The blocks given records since the last reset, the k-th numbered k + 1
   * in its header's third word: the module links by number (a jumping
   * block's header's second word: the number of the block it went on into),
   * and `sync` turns the number back into the block.
   */
  readonly placed: Block[] = [];

  /** The register slot from x0 to f31 (ThreadState.file's layout): the view for block copies. */
  readonly file: Int32Array;

  constructor(readonly mem: GuestMemory, readonly base: number) {
    this.i32 = new Int32Array(mem.buffer);
    this.file = new Int32Array(mem.buffer, base + XS, (F_SLOT + 256) / 4);
    this.next = base + RECS;
    // The F/D slow path (fp.ts through generated code) made at its first call: making it cost 3-5 ms of a
    // cold start, and programs without F/D arithmetic off the module's fast paths (`bash -c true`) never call it.
    let slow: ((i: number, ff: number) => number) | null = null;
    const inst = new WebAssembly.Instance(tier0Module(), {
      m: { m: mem.memory },
      f: {
        pf: (lo: number, hi: number, size: number) => this.flags(lo, hi, size),
        cw: (lo: number, size: number) => ((this.owner as Cpu).codeWrite(lo >>> 0, size) ? 1 : 0),
        lk: (lo: number, from: number) => this.chain(lo >>> 0, from >>> 0),
        fx: (i: number, ff: number) => (slow ??= fpSlowPath(base + Area.FX, this.i32))(i, ff),
      },
    });
    this.run = inst.exports.run as RunFn;
  }

  /** Page flags for the module's miss path; fills its page tables with what it may take unchecked. */
  private flags(lo: number, hi: number, size: number): number {
    const a = (lo >>> 0) + hi * TWO32;
    if (a < 0 || a > GUEST_VA_LIMIT - size) return 0;
    if ((a & 4095) > 4096 - size) return (this.owner as Cpu).flags2(a, size);
    const p = a >>> 12, f = this.mem.pageFlags[p], i32 = this.i32;
    if ((f & PAGE_R) !== 0) i32[(this.base + Area.RTAB + (p & Area.PAGES_MASK) * 4) >>> 2] = p;
    if ((f & PAGE_W) !== 0 && (f & PAGE_CODE) === 0) i32[(this.base + Area.WTAB + (p & Area.PAGES_MASK) * 4) >>> 2] = p;
    return f;
  }

  /**
   * The import lk, the module's chaining miss at `pc`: the owner's tier-0
   * block there (found or built) with its records and chaining entry
   * written, its header's heat b.heat (the module adds the run); 0 (the
   * module leaves for the run loop) for a compiled block, a fault, an
   * interrupt pending, a first instruction the module leaves, a region
   * full (only a call's start may reset it: the running block's records are
   * in it), or blocks dropped or page flags changed under the call. The
   * block at header `from` (the one jumping) links to it (Block.next, which
   * trace.ts follows from a jalr), as the JavaScript tier 0 links the
   * blocks it runs on into; a block the module goes on into is linked
   * again at every jump, hit or miss, in the jumping block's header
   * (Tier0Wasm.sync), so the link is the last successor entered, as in the
   * JavaScript tier 0.
   */
  private chain(pc: number, from: number): number {
    const cpu = this.owner as Cpu;
    const b = cpu.tier0At(pc);
    if (b === null || cpu.codeEpoch !== this.ownerEpoch) return 0;
    const f = this.placed[this.i32[(from >>> 2) + 2] - 1];
    if (f !== undefined && f.wrec === from && f.wepoch === this.recEpoch) { f.next = b; f.linkEpoch = cpu.codeEpoch; }
    const code = b.code as Int32Array;
    if (!runsOp(code[0] & 0xff)) return 0;
    const gen = this.i32[FLAGS_GEN >> 2];
    if (gen !== this.gen) this.refresh(gen);
    if (b.wepoch !== this.recEpoch) {
      if (this.next + wasmRecordBytes(code) > this.base + ENGINE_REGION) return 0;
      this.place(b);
    } else {
      const h = this.i32[b.wrec >>> 2];
      if (h > b.heat) b.heat = h;
    }
    this.enter(b);
    this.i32[b.wrec >>> 2] = headerHeat(b.heat);
    return b.wrec;
  }

  /** Copy b's records to the region (room checked by the caller). */
  place(b: Block): void {
    const code = b.code as Int32Array;
    toWasmRecords(code, b.pc, this.i32, this.next);
    b.wrec = this.next; b.wepoch = this.recEpoch;
    this.i32[(b.wrec >>> 2) + 3] = b.trips;
    this.next += wasmRecordBytes(code);
    this.i32[(b.wrec >>> 2) + 2] = this.placed.push(b);
  }

  /** The chaining entry of b (records placed) under the current epoch. */
  enter(b: Block): void {
    const e = (this.base + Area.CHAIN + ((b.pc >>> 1) & ((1 << Area.CHAIN_BITS) - 1)) * 16) >>> 2, i32 = this.i32;
    i32[e] = b.pc; i32[e + 1] = b.wrec; i32[e + 2] = this.chainEpoch;
  }

  /** After the flags' generation moved: the page tables emptied (mm.ts never maps the region itself: memory.ts ENGINE_BASE). */
  refresh(gen: number): void {
    this.gen = gen;
    this.i32.fill(-1, (this.base + Area.RTAB) >>> 2, (this.base + Area.FX) >>> 2);
  }

  /** Drop every block's records and every chaining entry. */
  reset(): void {
    this.recEpoch++;
    this.chainEpoch++;
    this.next = this.base + RECS;
    this.placed.length = 0;
  }
}

/** Each thread's region in each memory (null: none left). */
const regions = new WeakMap<WebAssembly.Memory, Region | null>();

function regionOf(mem: GuestMemory): Region | null {
  let r = regions.get(mem.memory);
  if (r === undefined) {
    r = null;
    const i32 = new Int32Array(mem.buffer);
    for (let i = 0; i < ENGINE_REGIONS; i++) {
      if ((Atomics.or(i32, ENGINE_CLAIM >> 2, 1 << i) & (1 << i)) === 0) { r = new Region(mem, ENGINE_BASE + i * ENGINE_REGION); break; }
    }
    regions.set(mem.memory, r);
  }
  return r;
}

/**
 * The Cpu's LR reservation into the module's words at `res` (an index of
 * i32: Res), with the touched word cleared; one above 2^32 (which the module
 * never holds) goes in as none, and stays the Cpu's unless the module
 * touches the reservation.
 */
function putReservation(cpu: Cpu, i32: Int32Array, res: number): void {
  const a = cpu.resAddr, held = a >= 0 && a < TWO32, value = res + (Res.VALUE >> 2);
  i32[res + (Res.ADDR >> 2)] = held ? a | 0 : -1;
  i32[res + (Res.SIZE >> 2)] = held ? cpu.resSize : 0;
  if (held) {
    const v = cpu.resVal;
    if (typeof v === 'bigint') { i32[value] = Number(BigInt.asIntN(32, v)); i32[value + 1] = Number(BigInt.asIntN(32, v >> 32n)); } else { i32[value] = v; i32[value + 1] = v >> 31; }
  }
  i32[res + (Res.TOUCHED >> 2)] = 0;
}

/** The module's reservation (it touched it) as the Cpu's: lr.w's value a number, lr.d's a bigint, as Cpu.amo keeps them. */
function takeReservation(cpu: Cpu, i32: Int32Array, res: number): void {
  const size = i32[res + (Res.SIZE >> 2)], value = res + (Res.VALUE >> 2);
  if (size === 0) { cpu.resAddr = -1; return; }
  cpu.resAddr = i32[res + (Res.ADDR >> 2)] >>> 0;
  cpu.resSize = size;
  cpu.resVal = size === 4 ? i32[value] : BigInt.asIntN(64, (BigInt(i32[value + 1]) << 32n) | BigInt(i32[value] >>> 0));
}

export class Tier0Wasm {
  private constructor(private readonly cpu: Cpu, private readonly r: Region) {}

  /**
   * Every block dropped (Cpu.flushCode: exec, fence.i, the memory's release):
   * the region's records, chaining entries and list of placed blocks go too,
   * so that a pooled memory's region holds no dead block (the kernel may give
   * the engine area's pages back at the release: mm.ts) and none is trusted.
   */
  flushed(): void {
    this.r.reset();
  }

  static for(cpu: Cpu, mem: GuestMemory): Tier0Wasm | null {
    const r = regionOf(mem);
    return r === null ? null : new Tier0Wasm(cpu, r);
  }

  /** Whether the module runs every instruction of block `b` (n instructions of pre-decoded `code`): a block it would leave part-way runs partly in the JavaScript interpreter. */
  static runsAll(code: Int32Array, n: number): boolean {
    for (let i = 0; i < n; i++) if (!runsOp(code[i * Tier0.STRIDE] & 0xff)) return false;
    return true;
  }

  /** b's records' header (if placed) set to b.heat and b.trips, which the Cpu lowered (a block sent back to or kept in tier 0: the module must enter it again). */
  reheat(b: Block): void {
    if (b.wepoch === this.r.recEpoch && b.wrec !== 0) { this.r.i32[b.wrec >>> 2] = headerHeat(b.heat); this.r.i32[(b.wrec >>> 2) + 3] = b.trips; }
  }

  /**
   * b.heat and b.trips raised to what the module counted in its records' header, and b
   * linked (Block.next) to the block the module last chained into from it:
   * the heat of blocks entered only by chaining and their successors, which
   * trace.ts and region.ts read of the blocks they consider (the Cpu's
   * heatOf calls this for each). Without the links of chaining hits, a
   * return into a block entered before was never linked: compute's qsort
   * comparator (a block ending in a jalr) was promoted alone, not with the
   * loop it returns to, and its calls stayed in tier 1 (README.md,
   * "Decision: F/D arithmetic and mulh in the WebAssembly tier 0").
   */
  sync(b: Block): void {
    const r = this.r;
    if (b.wepoch !== r.recEpoch || b.wrec === 0) return;
    const w = b.wrec >>> 2, h = r.i32[w], l = r.i32[w + 1], t = r.i32[w + 3];
    if (h > b.heat) b.heat = h;
    if (t > b.trips) b.trips = t;
    if (l > 0 && l <= r.placed.length) {
      const nb = r.placed[l - 1];
      if (nb.wepoch === r.recEpoch) { b.next = nb; b.linkEpoch = this.cpu.codeEpoch; }
    }
  }

  run(b: Block, s: ThreadState, limit: number, promoteAt: number): number {
    const r = this.r, i32 = r.i32, code = b.code as Int32Array, cpu = this.cpu;
    if (!runsOp(code[0] & 0xff)) return -1;
    const gen = i32[FLAGS_GEN >> 2];
    if (gen !== r.gen) r.refresh(gen);
    if (r.owner !== cpu || r.ownerEpoch !== cpu.codeEpoch) { r.owner = cpu; r.ownerEpoch = cpu.codeEpoch; r.chainEpoch++; }
    if (b.wepoch !== r.recEpoch) {
      if (r.next + wasmRecordBytes(code) > r.base + ENGINE_REGION) r.reset();
      r.place(b);
    }
    r.enter(b);
    const hdr = b.wrec, base = r.base;
    b.heat++;
    i32[hdr >>> 2] = headerHeat(b.heat);
    const xs = (base + XS) >>> 2;
    // One block copy each way (x, the gap, f: the slot's layout is the register file's): this runs at
    // every entry from the run loop, each system call included, and a copy into or out of the shared
    // memory costs mostly per call, not per byte. The gap's words in the slot are outputs (the module's
    // next pc, reason, fault address) and fcsr, set after the copy; x0 reads 0 (the module writes x0's
    // results to the gap's first word), so the copy back leaves the file's x0 at 0.
    r.file.set(s.file); i32[xs] = 0; i32[xs + 1] = 0;
    i32[xs + (FCSR_SLOT >> 2)] = s.fcsr;
    const res = (base + Area.RES) >>> 2;
    putReservation(cpu, i32, res);
    const n = r.run(hdr, limit, base + XS, r.chainEpoch, headerHeat(promoteAt));
    s.file.set(r.file);
    s.fcsr = i32[xs + (FCSR_SLOT >> 2)];
    if (i32[res + (Res.TOUCHED >> 2)] !== 0) takeReservation(cpu, i32, res);
    const why = i32[xs + 70], npc = (i32[xs + 66] >>> 0) + i32[xs + 67] * TWO32;
    if ((why & 15) === Exit.FAULT) {
      const a = (i32[xs + 68] >>> 0) + i32[xs + 69] * TWO32;
      return cpu.segv(a, (why >> 4) & 15, (why >> 8) & 15, npc, n);
    }
    // Left at b's first instruction (an AMO off its fast path, F/D arithmetic in another rounding mode): the JavaScript interpreter runs b.
    if ((why & 15) === Exit.UNSUPPORTED && n === 0) { b.heat--; i32[hdr >>> 2] = headerHeat(b.heat); return -1; }
    cpu.npc = npc;
    return (why & 15) === Exit.SYSCALL ? (n << 3) | Stop.Syscall : n << 3;
  }
}
