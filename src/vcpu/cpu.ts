// One RV64GC user-mode CPU (hart) running guest threads over a GuestMemory.
//
// Model (see README.md): guest code is decoded once, at the first fetch of a
// pc, into a basic block (up to MAX_BLOCK instructions, never past a page
// end). A block starts in tier 0, its pre-decoded form run by the
// interpreter (interp.ts); once it has run `promoteAfter` times (backward
// jumps inside it count too) it is compiled to one JavaScript function
// (tier 1, codegen.ts), and if that function turns out to loop (probe) and
// its code is all integer, to WebAssembly (tier 2, wasm-tier.ts). The
// engine option (or TSVISOR_ENGINE) can hold every block in one tier.
// run() dispatches block after block through a direct-mapped cache keyed
// by pc, checking the budget and the interrupt flag between blocks only;
// every tier has the same block contract.
//
// Contract with the kernel:
// - run(budget) returns a Stop: Syscall (ecall; state.pc = ecall + 4),
//   Fault (this.fault filled; state.pc = the faulting instruction, which had
//   no effect), Budget (about `budget` instructions retired; it may overshoot
//   by one block, or by up to LOOP_CHUNK for a block looping inside itself)
//   or Interrupted (interrupt[0] != 0 between blocks; the CPU never clears
//   it). It never throws for anything the guest does.
// - Decoded blocks stay valid until invalidateCode() covers them, flushCode()
//   runs, the guest executes fence.i, or a store by this CPU hits a page
//   marked PAGE_CODE (self-modifying code; the store's block ends right
//   after it so the next fetch re-decodes). Blocks cached by *other* CPUs
//   are not invalidated by this CPU's stores: cross-hart code modification
//   needs the kernel to call flushCode()/invalidateCode() on them (Linux's
//   riscv_flush_icache / membarrier path).
// - The LR reservation belongs to this Cpu and is dropped on every entry to
//   run() (as Linux drops it on every return from a trap).

import { amo32, amo64 } from './amo.js';
import { csrAccess } from './csr.js';
import { SharedBlocks } from './shared-blocks.js';
import { engineFromEnv, PROMOTE_AFTER, PROMOTE_AFTER_JS, tier0FromEnv, WASM_MIN_RUN, WASM_PROBE_CALLS, type CpuOptions, type Engine, type Tier0Kind } from './engines.js';
import { Tier0Wasm } from './interp-wasm.js';
import { GuestMemory, GUEST_VA_LIMIT, HIGH_VA_LIMIT, PAGE_CODE, PAGE_R, PAGE_W, PAGE_X, PAGE_SHIFT, PAGE_SIZE, PAGE_SHARED, SHARED_SHIFT, pagePerms, pageOf } from './memory.js';
import { FramePool } from './frames.js';
import { SharedPages, STEP_BUS, STEP_DONE, STEP_FAULT_IN, NOT_LOADED } from './shared-pages.js';
import { performance } from 'node:perf_hooks';
import { AS_DOUBLE, FaultInfo, Stop, ThreadState } from './state.js';
import type { Insn } from './decode.js';
import { compileBlock, compileRegion, finishBlock, type Piece } from './codegen.js';
import { traceFrom } from './trace.js';
import { onTrial, onWatch, REGION_HOT, REGION_MIN_RUN, regionFrom, declined, lower } from './region.js';
import { compileRegionWasm, type WasmRegion } from './wasm-tier.js';
import { entered } from './region-entry.js';
import { bindRegion, regSlot } from './wasm-bind.js';
import { RegionExport, stillThere, type SharedRegion } from './region-share.js';
export { TRACE_BLOCKS, TRACE_INSNS } from './trace.js';
import { Interpreter, LOOP_HEAT, type Tier0Block } from './interp.js';
import { Block, type BlockFn, NO_BLOCK_FN } from './block.js';
import { BlockTable } from './block-table.js';
import { BlockCache, Field, LOOP_CHUNK, MAX_BLOCK, predecodeBlock, retireSlab, Tier0, toInsns } from './ops.js';
import { engineStats, statsEnabled } from './engine-stats.js';
import { warmUpOnce } from './warmup.js';
import * as alu from './alu.js';
import * as fp from './fp.js';

export { Stop } from './state.js';

/** Linux signal numbers and si_codes the CPU reports. */
export const SIGILL = 4, SIGTRAP = 5, SIGBUS = 7, SIGSEGV = 11;
export const ILL_ILLOPC = 1, TRAP_BRKPT = 1, BUS_ADRALN = 1, BUS_ADRERR = 2, SEGV_MAPERR = 1, SEGV_ACCERR = 2;
/**
 * Not a signal: the fault of a Stop.Fault that asks the kernel to load a
 * shared page first (memory.ts FRAME_ABSENT, or a high page not present).
 * fault.addr is the byte, fault.code the access (PAGE_R, PAGE_W or both);
 * the instruction had no effect and runs again when the thread resumes.
 */
export const FAULT_IN = -1;

/** The rdtime frequency: 10 MHz, as on QEMU's virt machine. */
export const TIMEBASE_HZ = 10_000_000;

export { MAX_BLOCK } from './ops.js';
export { LOOP_CHUNK } from './ops.js';
export { ENGINES, PROMOTE_AFTER, PROMOTE_AFTER_JS, WASM_PROBE_CALLS, WASM_MIN_RUN, type Engine, type CpuOptions } from './engines.js';

export { DEMOTE_FACTOR, MAX_DEMOTIONS } from './region.js';

/** Shape of the generated block factory. */
type Factory = (c: Cpu, dv: DataView, pf: Uint8Array, A: typeof alu, F: typeof fp, I4: Int32Array, F8: Float64Array, SD: DataView) => BlockFn;

/** The blocks every Cpu of this thread shares (shared-blocks.ts). */
const SHARED_BLOCKS = new SharedBlocks<Factory>(100_000);

export class Cpu {
  state: ThreadState = new ThreadState();
  readonly fault: FaultInfo = new FaultInfo();
  /** Instructions retired by this Cpu so far. */
  instret = AS_DOUBLE;
  /** Next pc, written by block functions; `left`: the run loop's budget left at a compiled block's call (tier 2 runs on past a chunk within it: wasm-bind.ts). Internal. */
  npc = AS_DOUBLE;
  left = 0;

  private readonly mem: GuestMemory;
  private readonly interrupt: Int32Array;
  private readonly dv: DataView;
  private readonly pf: Uint8Array;
  private readonly i64: BigInt64Array;
  /** Guest memory as 4- and 8-byte elements, and an 8-byte scratch, for single-copy atomic accesses (see codegen.ts). */
  private readonly i32: Int32Array;
  private readonly f64: Float64Array;
  private readonly scratch = new DataView(new ArrayBuffer(8));
  /**
   * Set while another vCPU may run a thread of this address space: aligned
   * 4- and 8-byte accesses are then each one host access (codegen.ts). The
   * kernel sets it before each run; it stays clear for a lone thread, whose
   * accesses no other vCPU can observe half done.
   */
  mt = false;
  /** A word of this vCPU's own that `fence` stores to atomically: a full host barrier (codegen.ts). */
  readonly fenceWord = new Int32Array(new SharedArrayBuffer(4));
  /** The live blocks: by pc, by page, and the direct-mapped cache (block-table.ts). */
  private readonly table: BlockTable;
  /** LR reservation: address (-1: none), size, and the value loaded; tier 0 in WebAssembly takes it in and out (interp-wasm.ts). */
  resAddr = AS_DOUBLE;
  resSize = 0;
  resVal: number | bigint = 0;
  /** Accesses to shared pages (memory.ts), on the sandbox's frame pool. */
  private readonly shared: SharedPages;
  /** Set by segv() when the access it reports is one the page's shared permissions allow: run() then does it on the pool. */
  private sharedHit = false;
  /** The access segv() marked as `sharedHit` needs (PAGE_R or PAGE_W), for a fault-in request. */
  private sharedNeed = 0;
  /** Bumped whenever blocks are dropped: tier 0 follows a block's `next` only if it was linked in this epoch. Internal. */
  codeEpoch = 0;
  /** The tier-0 block just left through a jump to a block it has no link to (interp.ts), or null. Internal. */
  linkFrom: Tier0Block | null = null;
  /** Blocks compiled so far (statistics). */
  compiled = 0;
  /** Of those, promoted blocks compiled as traces (statistics). */
  traces = 0;
  /** Promoted blocks sent back to tier 0 (demote; statistics), and tier-0 blocks kept there at their promotion's heat (runTier0). */
  demoted = 0;
  held = 0;
  /** Blocks and traces running in tier 2, WebAssembly (statistics). */
  wasmCompiled = 0;
  /** The tier-2 regions kept here, for vCPU workers to adopt (region-share.ts), each then entered at its cases too (region-entry.ts). */
  readonly regions = new RegionExport((b, fn) => entered({ table: this.table, t0w: this.t0w, regions: this.regions, promoteAt: this.promoteAt }, b, fn, WASM_PROBE_CALLS));
  /** The default engine of new Cpus (TSVISOR_ENGINE; tests set it to run a suite under each tier). */
  static defaultEngine: Engine = engineFromEnv();
  /** The default promotion threshold of new Cpus (undefined: engines.ts PROMOTE_AFTER, or PROMOTE_AFTER_JS under the JavaScript tier 0). */
  static defaultPromoteAfter: number | undefined = Number(process.env.TSVISOR_PROMOTE_AFTER ?? '') || undefined;
  /** Whether new Cpus under 'auto' promote to tier 2. */
  static defaultWasm: boolean = process.env.TSVISOR_WASM !== '0';
  /** Which interpreter tier 0 uses when the options do not say (TSVISOR_TIER0). */
  static defaultTier0: Tier0Kind = tier0FromEnv();
  readonly engine: Engine;
  /** Whether compiled blocks go to tier 2 where it can compile them. */
  private readonly wasm: boolean;
  /** Tier-0 runs after which a block is compiled (Infinity: never; 0: at once). */
  private readonly promoteAt: number;
  /** Beside tier 0 in WebAssembly under the default threshold, the heat a block run by the JavaScript interpreter counts per unit (PROMOTE_AFTER over PROMOTE_AFTER_JS): it is promoted after as many runs as under the JavaScript tier 0. */
  private readonly jsHeat: number;
  private readonly interp: Interpreter;
  /** Tier 0 in WebAssembly (interp-wasm.ts), or null: the JavaScript interpreter runs tier 0. */
  private readonly t0w: Tier0Wasm | null;

  constructor(mem: GuestMemory, interrupt?: Int32Array, options: CpuOptions = {}) {
    this.mem = mem;
    this.instret = this.npc = 0; this.resAddr = -1; // Doubles from the start: state.ts AS_DOUBLE.
    this.interrupt = interrupt ?? new Int32Array(1);
    this.dv = mem.view;
    this.pf = mem.pageFlags;
    this.i64 = new BigInt64Array(mem.buffer);
    this.i32 = new Int32Array(mem.buffer);
    this.f64 = new Float64Array(mem.buffer);
    this.shared = new SharedPages(mem, FramePool.local(), this.scratch);
    this.engine = options.engine ?? Cpu.defaultEngine;
    const tier0 = options.tier0 ?? Cpu.defaultTier0;
    const after = options.promoteAfter ?? Cpu.defaultPromoteAfter ?? (tier0 === 'wasm' ? PROMOTE_AFTER : PROMOTE_AFTER_JS);
    this.promoteAt = this.engine === 'interp' ? Infinity : this.engine === 'jit' || this.engine === 'wasm' ? 0 : Math.max(1, after);
    this.wasm = this.engine === 'wasm' || (this.engine === 'auto' && (options.wasm ?? Cpu.defaultWasm));
    this.table = new BlockTable(mem);
    this.interp = new Interpreter(this, this.dv, this.pf, this.i32, this.f64, this.scratch, this.interrupt, this.table.cache);
    this.jsHeat = options.promoteAfter === undefined && Cpu.defaultPromoteAfter === undefined ? PROMOTE_AFTER / PROMOTE_AFTER_JS : 1;
    this.t0w = this.promoteAt > 0 && tier0 === 'wasm' ? Tier0Wasm.for(this, mem) : null;
    // Guest memory is little-endian; the typed arrays use the host's order.
    if (new Uint8Array(new Uint32Array([1]).buffer)[0] !== 1) throw new Error('tsvisor needs a little-endian host');
    if (Cpu.warmsUp(this.engine, tier0)) Cpu.warmUp();
  }

  /** Whether the thread's first Cpu runs warmUp() (a vCPU worker clears it: see warmup.ts); warmsUp: whether one with `engine` and `tier0` does. */
  static warmUpFirst = true;
  /**
   * Only the JavaScript tier 0 is warmed up: beside the WebAssembly one the
   * JavaScript interpreter runs a few hundred blocks in a whole program, and
   * the warm-up cost every cold row more CPU than it saved (README.md,
   * "Decision: no warm-up beside the WebAssembly tier 0").
   */
  static warmsUp = (engine: Engine = Cpu.defaultEngine, tier0: Tier0Kind = Cpu.defaultTier0): boolean =>
    Cpu.warmUpFirst && engine !== 'jit' && engine !== 'wasm' && tier0 === 'js';
  /** Teach V8 the JavaScript tier 0 on a throwaway Cpu, once per thread (warmup.ts). */
  static warmUp(): void {
    warmUpOnce((m) => new Cpu(m, undefined, { engine: 'auto', promoteAfter: 2 ** 30, tier0: 'js' }), () => { retireSlab(); SHARED_BLOCKS.retireSlab(); });
  }

  /** Run the current thread; see the file comment for the contract. */
  run(budget: number): Stop {
    const s = this.state, x = s.x, fb = s.fbits, intr = this.interrupt, cache = this.table.cache;
    x[0] = 0; x[1] = 0;
    this.resAddr = -1;
    this.linkFrom = null;
    let pc = s.pc;
    let n = 0;
    let stop: Stop;
    for (;;) {
      if (n >= budget) { stop = Stop.Budget; break; }
      if (intr[0] !== 0) { stop = Stop.Interrupted; break; }
      let b = cache[(pc >>> 1) & BlockCache.MASK];
      if (b.pc !== pc) {
        const nb = this.lookup(pc);
        if (nb === null) { stop = Stop.Fault; break; }
        b = nb;
      }
      // Tier 0 left a block for this one: link them (trace.ts follows the link from a jalr).
      const from = this.linkFrom as Tier0Block | null;
      if (from !== null) { from.next = b; from.linkEpoch = this.codeEpoch; this.linkFrom = null; }
      if (statsEnabled) { if (b.code !== null) engineStats.tier0Calls++; else engineStats.compiledCalls++; }
      this.left = budget - n;
      const r = b.code !== null ? this.runTier0(b, s, budget - n) : b.fn(s, x, fb);
      n += r >>> 3;
      this.instret += r >>> 3;
      pc = this.npc;
      if ((r & 7) !== 0) {
        stop = (r & 7) as Stop;
        // A load or store on a shared page: done here, then on at the next instruction.
        if (this.sharedHit && stop === Stop.Fault && this.sharedStep(pc)) {
          n++;
          this.instret++;
          pc = this.npc;
          continue;
        }
        break;
      }
    }
    s.pc = pc;
    if (statsEnabled) engineStats.totalInsns += n;
    return stop;
  }

  /** Drop decoded blocks overlapping [addr, addr+len). */
  invalidateCode(addr: number, len: number): void { this.dropRange(addr, len); }

  /** Drop every decoded block (exec, fence.i). */
  flushCode(): void {
    this.codeEpoch++;
    this.table.clear();
    this.regions.flushed();
    this.t0w?.flushed();
  }

  /** Take tier-2 region `r`, kept by another vCPU's Cpu, as the block at its pc (for a tier-0 one there): unless a compiled one is there, or its bytes are not (region-share.ts). */
  adopt(r: SharedRegion): void {
    const slot = this.wasm ? regSlot(this.mem.memory, this.i32) : -1;
    if (slot < 0 || this.table.byPc.get(r.pc)?.code === null || !stillThere(r, this.mem)) return;
    const fn = bindRegion(r.region, this, this.mem.memory, this.pf, this.i32, this.f64, slot);
    if (fn === null) return; // a region with F/D and no f slot left: the block stays as it is
    this.dropRange(r.pc, 1);
    const b = this.table.register(new Block(r.pc, r.end, r.n, fn));
    b.extra = r.extra;
    this.table.registerPages(b);
    if (statsEnabled) engineStats.adoptedRegions++;
  }

  // ---------------------------------------------------------------------------
  // Block building.

  private lookup(pc: number): Block | null {
    const b = this.table.byPc.get(pc) ?? this.build(pc);
    if (b !== null) this.table.cacheIt(b);
    return b;
  }

  /** Can the 2 bytes at p be fetched? Sets the fault when not. */
  private fetchable(p: number): boolean {
    return p >= 0 && p < GUEST_VA_LIMIT - 1 && (this.pf[p >>> PAGE_SHIFT] & PAGE_X) !== 0;
  }

  private fetchFault(at: number, pc: number): void {
    const f = this.fault;
    f.signal = SIGSEGV;
    f.addr = at < 0 ? at + 2 ** 64 : at;
    // A present high page is mapped too (never executable): SEGV_ACCERR, as for any mapped page.
    const mapped = at >= 0 && (at < GUEST_VA_LIMIT ? pagePerms(this.pf[at >>> PAGE_SHIFT]) !== 0 : at < HIGH_VA_LIMIT && this.mem.high.frame(pageOf(at)) !== 0);
    f.code = mapped ? SEGV_ACCERR : SEGV_MAPERR;
    this.npc = pc;
  }

  private build(pc: number): Block | null {
    // Instruction address misaligned: Linux sends SIGBUS/BUS_ADRALN.
    if (pc % 2 !== 0) { this.busError(pc, pc, 0); return null; }
    const reused = this.reuse(pc);
    if (reused !== null) return reused;
    const t0 = statsEnabled ? performance.now() : 0;
    // Conditional branches do not end a block: a taken branch leaves it, or
    // jumps inside it when its target is one of its instructions (loops).
    const code = predecodeBlock(this.mem.u8, this.pf, pc, MAX_BLOCK);
    if (code === null) { this.fetchFault(this.fetchable(pc) ? pc + 2 : pc, pc); return null; }
    const n = code.length / Tier0.STRIDE - 1, end = pc + code[n * Tier0.STRIDE + Field.POS];
    if (this.promoteAt === 0) {
      const { insns, pcs } = toInsns(code, pc);
      return this.compile(pc, end, insns, pcs, t0);
    }
    const b = this.tier0Block(pc, end, n, code);
    SHARED_BLOCKS.entry(this.mem, pc, end, n).decoded = code;
    if (statsEnabled) { engineStats.decodeMs += performance.now() - t0; engineStats.tier0Blocks++; }
    return b;
  }

  /** Register a tier-0 block over [pc, end) running pre-decoded `code`. */
  private tier0Block(pc: number, end: number, n: number, code: Int32Array): Block {
    const b = this.table.register(new Block(pc, end, n, NO_BLOCK_FN));
    b.code = b.pre = code;
    return b;
  }

  /** Tier 0 in WebAssembly's chaining miss (interp-wasm.ts): the tier-0 block at `pc`, found or built and cached; null for a compiled one, a fault (taken again by the run loop) or an interrupt pending. */
  tier0At(pc: number): Block | null {
    if (this.interrupt[0] !== 0) return null;
    const b = this.lookup(pc);
    return b !== null && b.code !== null ? b : null;
  }

  /**
   * A block's heat with what tier 0 in WebAssembly counted for it brought in
   * (blocks entered only by the module's chaining): what traces and regions
   * read of the blocks they consider, synced one by one rather than every
   * placed block at each promotion (python's imports: 28 000 placed blocks,
   * ~900 looks).
   */
  private readonly heatOf = (o: Block): number => {
    this.t0w?.sync(o);
    return o.heat;
  };

  /** Tier 0's entry for block `b`: interpret it, or compile it first once it is hot. */
  private runTier0(b: Block, s: ThreadState, limit: number): number {
    const w = this.t0w;
    if (w !== null) w.sync(b);
    if (b.heat >= this.promoteAt) {
      // A loop of few trips an entry stays in tier 0 (README.md, "Decision: no promotion of a short-trip loop").
      if (this.wasm && w !== null && b.trips > 0 && Tier0Wasm.runsAll(b.pre as Int32Array, b.n) && declined(regionFrom(b, this.table.byPc, this.codeEpoch, this.promoteAt / REGION_HOT, this.heatOf), this.codeEpoch, LOOP_HEAT, WASM_MIN_RUN, WASM_PROBE_CALLS)) { lower(b, this.promoteAt); w.reheat(b); this.held++; if (statsEnabled) engineStats.held++; }
      else return this.promote(b), b.fn(s, s.x, s.fbits);
    }
    if (w !== null) {
      const r = w.run(b, s, limit < Tier0.CHUNK ? limit : Tier0.CHUNK, this.promoteAt);
      if (r >= 0) { engineStats.tier0Insns += r >>> 3; return r; }
    }
    const h0 = b.heat;
    b.heat++;
    // Beside the WebAssembly tier 0, the JavaScript one runs only the block it is given (a promotion threshold of 0 chains nothing).
    const r = this.interp.run(b, s, w === null ? this.promoteAt : 0, limit < Tier0.CHUNK ? limit : Tier0.CHUNK);
    // A block the module does not run (F/D arithmetic, CSRs...) heats JS_HEAT times as fast: promoted after the JavaScript tier 0's count of runs.
    if (w !== null) b.heat = h0 + (b.heat - h0) * this.jsHeat;
    engineStats.tier0Insns += r >>> 3;
    return r;
  }

  /**
   * Move tier-0 block `b` to tier 1: compile it, with the hot blocks it
   * leads to as one trace when there are any (trace.ts), else alone (or
   * reuse a factory compiled from the same bytes).
   */
  private promote(b: Block): void {
    const t0 = statsEnabled ? performance.now() : 0;
    const trace = traceFrom(b, this.table.byPc, this.codeEpoch, this.promoteAt / 8, this.heatOf);
    if (trace.pieces.length > 1) {
      const body = compileRegion(trace.pieces, LOOP_CHUNK);
      b.fn = this.probe(b, trace.pieces, this.bind(this.factoryOf(b.pc, body)));
      b.code = null;
      // Registered under the other blocks' pages too, so that a write to their code drops it.
      b.extra = trace.blocks.slice(1).flatMap((o) => [o.pc, o.end]);
      this.table.registerPages(b);
      this.traces++;
      if (statsEnabled) { engineStats.traces++; engineStats.traceBlocks += trace.pieces.length; }
    } else {
      const { insns, pcs } = trace.pieces[0];
      const shared = SHARED_BLOCKS.find(this.mem, b.pc, b.end);
      b.fn = this.probe(b, trace.pieces, this.bind(shared?.factory ?? this.makeFactory(b.pc, b.end, insns, pcs)));
      b.code = null;
    }
    if (statsEnabled) { engineStats.compileMs += performance.now() - t0; engineStats.promoted++; }
  }

  /** Compile the block of `insns` over [pc, p) (tier 1 from the start) and register it. */
  private compile(pc: number, p: number, insns: Insn[], pcs: number[], t0: number): Block {
    const factory = this.makeFactory(pc, p, insns, pcs);
    const fn = this.tier2([{ insns, pcs, end: p }], this.bind(factory));
    if (statsEnabled) { engineStats.compileMs += performance.now() - t0; engineStats.tier1Blocks++; }
    return this.table.register(new Block(pc, p, insns.length, fn));
  }

  /**
   * Tier 1's function `js` of promoted block `b` (code `pieces`), counting its first WASM_PROBE_CALLS calls
   * (or fewer, onTrial's early verdict) when this Cpu uses tier 2: then `b` moves to tier 2 if a call retired
   * WASM_MIN_RUN instructions or more on average (a loop), else stays in `js` (README.md, "Decision: tier 2 for loops").
   */
  private probe(b: Block, pieces: Piece[], js: BlockFn): BlockFn {
    if (!this.wasm) return js;
    return onTrial(b, js, WASM_PROBE_CALLS, WASM_MIN_RUN, (loop) => {
      if (!loop && statsEnabled) engineStats.tier2Declined++;
      return this.tier2Region(b, pieces, js, loop);
    }, true);
  }

  /**
   * Promoted block `b` after its probe (tier 1: `pieces`, function `js`; `loop`: the probe's verdict): its wide region
   * (region.ts) on trial in tier 2 if wider than `pieces` and than `tried` (the widest tried before), kept if it averages
   * REGION_MIN_RUN a call; else `pieces` in tier 2 for a loop, else `js` watched for look `round` (region.ts onWatch).
   */
  private tier2Region(b: Block, pieces: Piece[], js: BlockFn, loop: boolean, round = 0, tried = 0): BlockFn {
    const wide = regionFrom(b, this.table.byPc, this.codeEpoch, this.promoteAt / REGION_HOT, this.heatOf), w = Math.max(tried, wide.pieces.length);
    const narrow = (): BlockFn => (loop ? this.regions.kept(b, this.tier2(pieces, js), this.mem)
      : this.t0w !== null && Tier0Wasm.runsAll(b.pre as Int32Array, b.n) ? this.demote(b)
        : onWatch(b, js, WASM_MIN_RUN, round, (r, l) => this.tier2Region(b, pieces, js, l, r, w)));
    const fn = wide.pieces.length > Math.max(pieces.length, tried) ? this.tier2(wide.pieces, js, false) : js;
    if (fn === js) return narrow();
    const extra = b.extra;
    b.extra = wide.blocks.slice(1).flatMap((o) => [o.pc, o.end]).concat(extra ?? []);
    this.table.registerPages(b);
    return onTrial(b, fn, WASM_PROBE_CALLS, REGION_MIN_RUN, (keep) => {
      if (keep) return this.regions.kept(b, fn, this.mem);
      b.extra = extra;
      return narrow();
    }, true);
  }

  /**
   * Promoted block `b` (no loop by its probe, no wider region kept, all of it run by tier 0 in WebAssembly) back
   * to tier 0: each call of a compiled block from code the module runs is a return to the run loop and a new
   * entry into the module, which cost more than a short call saves (README.md, "Decision: warm code stays in
   * tier 0"). Its next promotion (a later look) comes after DEMOTE_FACTOR^k times the promotion's heat (k: its
   * demotions), none after MAX_DEMOTIONS; another Cpu finding its bytes starts it in tier 0 too (no shared
   * factory). Returns the function the run loop never calls while `b.code` is set.
   */
  private demote(b: Block): BlockFn {
    b.code = b.pre;
    lower(b, this.promoteAt);
    this.t0w?.reheat(b);
    const e = SHARED_BLOCKS.find(this.mem, b.pc, b.end);
    if (e !== null) e.factory = null;
    this.demoted++;
    if (statsEnabled) engineStats.demoted++;
    return NO_BLOCK_FN;
  }

  /**
   * The block function of `pieces` in tier 2 when this Cpu uses it and it
   * compiles them (wasm-tier.ts) and this thread has a register slot in
   * the memory (regSlot; with F/D also fpSlot); else `js`, their tier-1 function.
   */
  private tier2(pieces: Piece[], js: BlockFn, count = true): BlockFn {
    const slot = this.wasm ? regSlot(this.mem.memory, this.i32) : -1;
    if (slot < 0) return js;
    let region: WasmRegion | null;
    try {
      region = compileRegionWasm(pieces, LOOP_CHUNK);
    } catch (e) {
      // A module V8 rejects is a bug of tier 2, never the guest's doing: the block stays in tier 1.
      if (statsEnabled) process.stderr.write(`tsvisor-engine: tier 2 rejected the block at ${pieces[0].pcs[0].toString(16)}: ${(e as Error).message}\n`);
      region = null;
    }
    if (region === null && statsEnabled && count) engineStats.tier2Refused++;
    if (region === null) return js;
    this.wasmCompiled++;
    if (statsEnabled) engineStats.tier2Blocks++;
    return this.regions.noteCompiled(bindRegion(region, this, this.mem.memory, this.pf, this.i32, this.f64, slot), region) ?? js;
  }

  /** A new block factory for `insns`, recorded in SHARED_BLOCKS under the bytes it was decoded from. */
  private makeFactory(pc: number, p: number, insns: Insn[], pcs: number[]): Factory {
    const factory = this.factoryOf(pc, compileBlock(insns, pcs, p, LOOP_CHUNK));
    SHARED_BLOCKS.entry(this.mem, pc, p, insns.length).factory = factory;
    return factory;
  }

  /** The factory of a block function entered at `pc` running the statements `body` (codegen.ts). */
  private factoryOf(pc: number, body: string): Factory {
    const src = `"use strict";return function blk_${pc.toString(16)}(s,x,fb){const M=c.mt;let a=0,h=0,t=0,u=0,v=0,fl=0,r=0,q=0,w=0;\n${finishBlock(body)}};`;
    this.compiled++;
    // eslint-disable-next-line @typescript-eslint/no-implied-eval
    return new Function('c', 'dv', 'pf', 'A', 'F', 'I4', 'F8', 'SD', src) as Factory;
  }

  /**
   * A block at `pc` from a shared entry, registered, or null: compiled if the
   * entry has a factory (unless the engine is 'interp'), else tier 0 on the
   * shared pre-decoded form (unless the engine is 'jit').
   */
  private reuse(pc: number): Block | null {
    const e = SHARED_BLOCKS.find(this.mem, pc);
    if (e === null) return null;
    const end = pc + e.len;
    // Under 'wasm' a block is compiled anew (tier 2 where it can): shared factories are tier 1's.
    if (e.factory !== null && this.promoteAt !== Infinity && this.engine !== 'wasm') {
      if (statsEnabled) engineStats.reusedBlocks++;
      return this.table.register(new Block(pc, end, e.n, this.bind(e.factory)));
    }
    if (e.decoded !== null && this.promoteAt !== 0) {
      if (statsEnabled) engineStats.reusedBlocks++;
      return this.tier0Block(pc, end, e.n, e.decoded);
    }
    return null;
  }

  /** The block function of `factory` bound to this Cpu. */
  private bind(factory: Factory): BlockFn {
    return factory(this, this.dv, this.pf, alu, fp, this.i32, this.f64, this.scratch);
  }

  /** Drop blocks overlapping [addr, addr+len); true if any was dropped. */
  private dropRange(addr: number, len: number): boolean {
    if (!this.table.drop(addr, len)) return false;
    this.codeEpoch++;
    return true;
  }

  // ---------------------------------------------------------------------------
  // Helpers called from generated code (not part of the kernel's API).

  /** A store hit a PAGE_CODE page: drop the blocks it overwrote. */
  codeWrite(a: number, size: number): boolean {
    return this.dropRange(a, size);
  }

  /** Flags of an access crossing into the next page: permissions of both, CODE of either. */
  flags2(a: number, size: number): number {
    const f1 = this.pf[a >>> PAGE_SHIFT], f2 = this.pf[(a + size - 1) >>> PAGE_SHIFT];
    return (f1 & f2 & 7) | ((f1 | f2) & PAGE_CODE);
  }

  /**
   * Report SIGSEGV for an access of `size` bytes at a lacking `need`: the
   * slow path of every load and store. When the pages' shared permissions
   * do allow it (a shared page, see memory.ts), it is marked `sharedHit`
   * instead, and run() does the access on the frame pool (sharedStep).
   */
  segv(a: number, size: number, need: number, pc: number, k: number): number {
    const f = this.fault;
    f.signal = SIGSEGV;
    if (a < 0 || a >= GUEST_VA_LIMIT) {
      f.code = SEGV_MAPERR;
      f.addr = a < 0 ? a + 2 ** 64 : a;
      // The high range (high-pages.ts): its table, or the kernel, decides.
      if (a >= GUEST_VA_LIMIT && a <= HIGH_VA_LIMIT - size) {
        this.sharedHit = true;
        this.sharedNeed = need;
        if (this.mem.high.frame(pageOf(a)) !== 0) f.code = SEGV_ACCERR;
      }
    } else {
      let bad = a;
      if ((pagePerms(this.pf[a >>> PAGE_SHIFT]) & need) === need) {
        bad = (Math.floor(a / PAGE_SIZE) + 1) * PAGE_SIZE;
        if (bad >= a + size || (bad < GUEST_VA_LIMIT && (pagePerms(this.pf[bad >>> PAGE_SHIFT]) & need) === need)) {
          this.sharedHit = true;
          this.sharedNeed = need;
          bad = a;
        }
      }
      f.addr = bad;
      f.code = bad >= GUEST_VA_LIMIT || pagePerms(this.pf[bad >>> PAGE_SHIFT]) === 0 ? SEGV_MAPERR : SEGV_ACCERR;
    }
    this.npc = pc;
    return (k << 3) | Stop.Fault;
  }

  /**
   * Do the load or store at `pc` that segv() found allowed on shared pages
   * (shared-pages.ts): npc past it and true, or false with the fault filled
   * (SIGBUS for a page without a frame, FAULT_IN for one not loaded yet;
   * segv()'s SIGSEGV otherwise).
   */
  private sharedStep(pc: number): boolean {
    this.sharedHit = false;
    const r = this.shared.step(this.state, pc, this.dropCode);
    if (r === STEP_DONE) this.npc = this.shared.next;
    else if (r === STEP_BUS) this.busError(this.shared.badAddr, pc, 0, BUS_ADRERR);
    else if (r === STEP_FAULT_IN) this.faultIn(this.shared.badAddr, this.sharedNeed, pc, 0);
    return r === STEP_DONE;
  }

  /** Ask the kernel to load the shared page holding `a` (FAULT_IN), for an access needing `need`. */
  private faultIn(a: number, need: number, pc: number, k: number): number {
    return this.stopWith(FAULT_IN, need, a, pc, k);
  }

  /** Drop the blocks decoded from bytes a store overwrote (for shared-pages.ts). */
  private readonly dropCode = (a: number, size: number): void => { this.dropRange(a, size); };

  /** Report a trap whose address is the pc (SIGILL, SIGTRAP). */
  trap(signal: number, code: number, pc: number, k: number): number {
    return this.stopWith(signal, code, pc, pc, k);
  }

  /** The fault stop of the instruction at `pc` (k retired before it in its block): `signal`, `code`, `addr` into `fault`. */
  private stopWith(signal: number, code: number, addr: number, pc: number, k: number): number {
    const f = this.fault;
    f.signal = signal; f.code = code; f.addr = addr;
    this.npc = pc;
    return (k << 3) | Stop.Fault;
  }

  /** SIGBUS at `a`: BUS_ADRALN (misaligned atomic, odd pc), or BUS_ADRERR (a shared page without a frame: past the end of a mapped file). */
  private busError(a: number, pc: number, k: number, code = BUS_ADRALN): number {
    return this.stopWith(SIGBUS, code, a, pc, k);
  }

  /** Zicsr (csr.ts): 0, or SIGILL for an unknown CSR or a write to a read-only one. */
  csr(kind: number, csr: number, rd: number, rs1: number, uimm: number, pc: number, k: number): number {
    return csrAccess(this.state, this.instret + k, kind, csr, rd, rs1, uimm) ? 0 : this.trap(SIGILL, ILL_ILLOPC, pc, k);
  }

  /**
   * A: op indexes lr, sc, amoswap, amoadd, amoxor, amoand, amoor, amomin,
   * amomax, amominu, amomaxu; size 4 or 8. Returns 0, a fault stop, or -1
   * when the store overwrote decoded code (the block must end).
   */
  amo(op: number, size: number, rd: number, rs1: number, rs2: number, pc: number, k: number): number {
    const x = this.state.x;
    const hiA = x[2 * rs1 + 1];
    const a = hiA * 4294967296 + (x[2 * rs1] >>> 0);
    const need = op === 0 ? PAGE_R : op === 1 ? PAGE_W : PAGE_R | PAGE_W;
    if (op === 1 && (this.resAddr !== a || this.resSize !== size)) {
      // An SC that cannot succeed fails without touching memory, as in QEMU:
      // no alignment or permission check (a misaligned or unmapped address
      // can never hold a reservation, since LR checks both).
      this.resAddr = -1;
      if (rd !== 0) { x[2 * rd] = 1; x[2 * rd + 1] = 0; }
      return 0;
    }
    if (a < 0 || a > HIGH_VA_LIMIT - size) return this.segv(a, size, need, pc, k);
    if (a % size !== 0) return this.busError(a, pc, k);
    const high = a >= GUEST_VA_LIMIT;
    const fl = high ? 0 : this.pf[a >>> PAGE_SHIFT];
    let m32 = this.i32, m64 = this.i64, off = a;
    if ((fl & need) !== need) {
      if (high) {
        // The high range: a present page with the permissions, or the kernel decides.
        const perms = this.mem.high.perms(pageOf(a));
        if (perms === 0) return this.faultIn(a, need, pc, k);
        if ((perms & need) !== need) return this.stopWith(SIGSEGV, SEGV_ACCERR, a, pc, k); // present, not allowed
      } else if ((fl & PAGE_SHARED) === 0 || ((fl >>> SHARED_SHIFT) & need) !== need) return this.segv(a, size, need, pc, k);
      // A shared page: the same operation on its frame in the pool.
      off = this.shared.offset(a, op !== 0);
      if (off === NOT_LOADED) return this.faultIn(a, need, pc, k);
      if (off < 0) return this.busError(a, pc, k, BUS_ADRERR);
      m32 = this.shared.pool.i32; m64 = this.shared.pool.i64;
    }
    let wrote = op !== 0;
    if (size === 4) {
      const m = m32, i = off >>> 2, v = x[2 * rs2];
      let old: number;
      switch (op) {
        case 0:
          old = Atomics.load(m, i);
          this.resAddr = a; this.resSize = 4; this.resVal = old;
          break;
        case 1: {
          const ok = this.resAddr === a && this.resSize === 4 &&
            Atomics.compareExchange(m, i, this.resVal as number, v) === this.resVal;
          this.resAddr = -1;
          wrote = ok;
          old = ok ? 0 : 1;
          break;
        }
        default: old = amo32(m, i, op, v);
      }
      if (rd !== 0) { x[2 * rd] = old; x[2 * rd + 1] = old >> 31; }
    } else {
      const m = m64, i = off / 8;
      const v = (BigInt(x[2 * rs2 + 1]) << 32n) | BigInt(x[2 * rs2] >>> 0);
      let old: bigint;
      switch (op) {
        case 0:
          old = Atomics.load(m, i);
          this.resAddr = a; this.resSize = 8; this.resVal = old;
          break;
        case 1: {
          const ok = this.resAddr === a && this.resSize === 8 &&
            Atomics.compareExchange(m, i, this.resVal as bigint, v) === this.resVal;
          this.resAddr = -1;
          wrote = ok;
          old = ok ? 0n : 1n;
          break;
        }
        default: old = amo64(m, i, op, v);
      }
      if (rd !== 0) {
        x[2 * rd] = Number(BigInt.asIntN(32, old));
        x[2 * rd + 1] = Number(BigInt.asIntN(32, old >> 32n));
      }
    }
    if (wrote && (fl & PAGE_CODE) !== 0 && this.dropRange(a, size)) return -1;
    return 0;
  }
}
