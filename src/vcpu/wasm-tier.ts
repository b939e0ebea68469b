// Tier 2: a region (a block, a trace or a wide region of blocks; codegen.ts
// compileRegion, region.ts) compiled to one WebAssembly function over the
// guest memory, registers in i64 locals (no int32 halves), the region's
// entry cases numbered 0..n-1 and dispatched by one br_table.
//
// Contract: compileRegionWasm(pieces, chunk) returns the module and the
// registers it reads and writes, or null when some instruction is not one
// tier 2 compiles (AMO, LR/SC, a CSR other than fflags or a read of frm or
// fcsr: the region stays in JavaScript). F/D instructions and fflags are
// wasm-fp.ts's: such a region's function is "run(mt, slot, fcsr, fslot)",
// with the f registers through the thread's second slot (fpSlot), and
// returns fflags in bits 24..28 of its result; bindRegion copies them.
// The module's function "run(mt, slot)" loads the `used` registers from
// the register slot at address `slot` (x_r as an 8-byte word at slot + 8r;
// regSlot), enters at the case (`cases`) the i32 at slot + 4 names, and returns (retired << 3) | stop exactly as a tier-1 block
// function does (same exits, same exact retired counts), except that at a
// jump closing a cycle once `chunk` (LOOP_CHUNK) instructions have run it
// runs on for another chunk while it has retired fewer than the i32 at
// slot + 0 (written by bindRegion: the run loop's budget left, at most
// CALL_MAX) and the page flags' generation has not moved (below), so one
// call retires at most that and a chunk. Before it returns it stores the `written` registers into the slot
// and the next pc as a double at slot + 0 (for a fault or trap: the pc of
// the instruction); a faulting access then calls `sg(lo, hi, size, need,
// pc, retired)` (Cpu.segv), and ebreak or an illegal instruction `tp(signal,
// pc, retired)` (Cpu.trap), and it returns that result; fence.i calls
// `fi()` (Cpu.flushCode) and leaves. wasm-bind.ts bindRegion copies the
// registers between the thread's state and the slot around each call.
// Imports: memory m.m (the guest's, 4 GiB, shared); f.pf(page, need) -> flags
// with the run of pages around it that may be remembered (wasm-bind.ts runOf);
// f.fl2(a, size) -> Cpu.flags2; f.cw(a, size) -> 1 if Cpu.codeWrite dropped
// blocks; f.sg, f.tp, f.fi; f.fx(i, fflags) -> fflags, the F/D slow path
// (wasm-fp.ts slowPathSource).
//
// Page flags: the instance keeps the last three runs of pages of each kind it
// found readable (or writable and not PAGE_CODE; a run: consecutive pages
// with one flags byte, found by runOf on a miss) in globals, with the page flags'
// generation they were found under (memory.ts FLAGS_GEN, bumped by every
// change of flags: mm.ts, and cpu.ts when a page turns PAGE_CODE); at entry
// it forgets them if the generation moved, and it reads the flags (an
// imported call) only on a miss. For a lone thread that is exact: only a
// system call, which ends the function, or the Cpu between two calls
// changes its flags. While other threads share the memory (`mt`, the first
// parameter) another thread's munmap or mprotect is seen at the end of the
// chunk it lands in, up to LOOP_CHUNK instructions later (a call runs on past
// a chunk only while the generation it started under holds; else it leaves,
// and the next call forgets its pages), where tier 1 sees it at
// the next access; only a program racing its own accesses against the unmap
// can tell, and what it then reaches is its own memory (a shared page's
// flags never pass the test, so the frame pool is never reached this way).
// The miss paths and the chunk's exits are hinted cold (branch hints, compileHinted), so
// that V8 lays them out of the loops and keeps the loops' registers in
// machine registers.
// With `mt` set, fence is a full barrier (atomic.fence) as in tier 1, and
// aligned accesses are single wasm loads and stores (one host access each
// on x86-64, as tier 1's typed-array accesses).

import type { Insn } from './decode.js';
import { regionLabels, type Piece } from './codegen.js';
import { FLAGS_GEN, PAGE_CODE, PAGE_R, PAGE_W } from './memory.js';
import { Body, F64, I32, I64, moduleBytes, W } from './wasm-encode.js';
import type { BlockFn } from './block.js';
import { emitFp, fpRegs, isFp, isFpCsr } from './wasm-fp.js';
import { emitMulHigh } from './wasm-alu.js';
import { setFlagsFromString } from 'node:v8';
import { writeFileSync } from 'node:fs';
import { atProcessStart } from '../bundle/process-start.js';

/**
 * TSVISOR_WASM_DUMP=DIR: each tier-2 module is also written to
 * DIR/r<start pc>-<n>.wasm, to read what was generated (the function is
 * named r<start pc>, as profiles and V8's --print-wasm-code show it).
 */
let DUMP: string | undefined;
atProcessStart(() => (DUMP = process.env.TSVISOR_WASM_DUMP || undefined));
let dumped = 0;

/**
 * A module compiled from `bytes` with V8's branch hints read (wasm-encode.ts
 * Body.hint): Node 20's V8 decodes them only behind a flag, without which
 * TurboFan lays the page-miss paths (imported calls) inside the loops and
 * spills the loops' registers. The flag is on only while the module is
 * decoded (the module keeps the hints): V8 rejects code caches made under
 * other flags, so a flag left on would turn away every bundle's cache
 * loaded after it.
 */
function compileHinted(bytes: Uint8Array<ArrayBuffer>): WebAssembly.Module {
  if (HINTS_ON) return new WebAssembly.Module(bytes);
  setFlagsFromString('--experimental-wasm-branch-hinting');
  try {
    return new WebAssembly.Module(bytes);
  } finally {
    setFlagsFromString('--no-experimental-wasm-branch-hinting');
  }
}
const HINTS_ON = process.execArgv.includes('--experimental-wasm-branch-hinting');

/** The guest memory's size in wasm pages (4 GiB). */
const MEMORY_PAGES = 65536;
const LIMIT = 4294967296;

const LOADS: Readonly<Record<string, [W, number]>> = {
  lb: [W.i64Load8S, 1], lbu: [W.i64Load8U, 1], lh: [W.i64Load16S, 2], lhu: [W.i64Load16U, 2],
  lw: [W.i64Load32S, 4], lwu: [W.i64Load32U, 4], ld: [W.i64Load, 8],
};
const STORES: Readonly<Record<string, [W, number]>> = { sb: [W.i64Store8, 1], sh: [W.i64Store16, 2], sw: [W.i64Store32, 4], sd: [W.i64Store, 8] };
const ALU64: Readonly<Record<string, W>> = {
  add: W.i64Add, sub: W.i64Sub, xor: W.i64Xor, or: W.i64Or, and: W.i64And, sll: W.i64Shl, srl: W.i64ShrU, sra: W.i64ShrS, mul: W.i64Mul,
};
const ALU32: Readonly<Record<string, W>> = { addw: W.i32Add, subw: W.i32Sub, sllw: W.i32Shl, srlw: W.i32ShrU, sraw: W.i32ShrS, mulw: W.i32Mul };
const IMM64: Readonly<Record<string, W>> = { addi: W.i64Add, xori: W.i64Xor, ori: W.i64Or, andi: W.i64And, slli: W.i64Shl, srli: W.i64ShrU, srai: W.i64ShrS };
const IMM32: Readonly<Record<string, W>> = { addiw: W.i32Add, slliw: W.i32Shl, srliw: W.i32ShrU, sraiw: W.i32ShrS };
const BRANCH: Readonly<Record<string, W>> = { beq: W.i64Eq, bne: W.i64Ne, blt: W.i64LtS, bge: W.i64GeS, bltu: W.i64LtU, bgeu: W.i64GeU };
const OTHER = new Set(['lui', 'auipc', 'slti', 'sltiu', 'slt', 'sltu', 'jal', 'jalr', 'fence', 'ecall', 'ebreak', 'illegal', 'fence.i',
  'div', 'divu', 'rem', 'remu', 'divw', 'divuw', 'remw', 'remuw', 'mulh', 'mulhu', 'mulhsu']);

/** Whether tier 2 compiles instruction `op`. */
export function wasmSupports(op: string): boolean {
  return op in LOADS || op in STORES || op in ALU64 || op in ALU32 || op in IMM64 || op in IMM32 || op in BRANCH || OTHER.has(op);
}

/** Ops whose rd is written. */
function writesRd(op: string): boolean {
  return !(op in STORES) && !(op in BRANCH) && !['fence', 'ecall', 'ebreak', 'illegal', 'fence.i'].includes(op);
}

export interface WasmRegion {
  module: WebAssembly.Module;
  /** Registers the function reads (loads from the register slot at entry). */
  used: number[];
  /** Registers it writes (stores into the slot before it returns). */
  written: number[];
  /** Whether it holds F/D instructions or fflags accesses (wasm-fp.ts): then also the f registers it reads and writes (the f slot), and the instructions of its slow path (fx's). */
  fp: boolean;
  fUsed: number[];
  fWritten: number[];
  slow: Insn[];
  /** Its entry cases by pc: the start (0) and every label (a piece's start, a jump's target); a call enters at the case the i32 at slot + 4 names (wasm-bind.ts caseEntry). */
  cases: Map<number, number>;
}

/** A run of remembered pages reaches at most RUN_MAX pages either side of the page that missed (wasm-bind.ts runOf). */
export const RUN_MAX = 2047;

/** Import indices; then the region's function (RUN, exported) and the two slow paths of an access (missFunction). */
const PF = 0, FL2 = 1, CW = 2, SG = 3, TP = 4, FI = 5, FX = 6, MISS_R = 8, MISS_W = 9;

/**
 * The page caches, in globals (no loop-carried locals for V8 to keep in
 * registers): base and limit (the run's length less 7; 0: empty) of three
 * runs of pages each for loads and for stores, the last found first; GEN:
 * the page flags' generation they were found under (memory.ts FLAGS_GEN).
 */
const RC0 = 0, RV0 = 1, RC1 = 2, RV1 = 3, WC0 = 4, WV0 = 5, WC1 = 6, WV1 = 7, GEN = 8, RC2 = 9, RV2 = 10, WC2 = 11, WV2 = 12, GLOBALS = 13;

/**
 * The slow path of an access needing `need` (PAGE_R or PAGE_W), a function
 * of its own in each module so that the region's function holds only a call
 * per access (a smaller function: TurboFan compiles it in less time):
 * (a: the address, size) -> the flags, which grant `need` or make the
 * caller fault. 0 for an address that leaves the 4 GiB; an access
 * straddling two pages gets both pages' flags (Cpu.flags2, never
 * remembered); any other the page's (pf), and when they grant `need` (a
 * store: and the page holds no decoded code, which the caller then
 * handles) its run of pages is remembered as the newest of the kind's three.
 */
function missFunction(need: number): { type: { params: number[]; results: number[] }; locals: number[]; body: Body; name: string } {
  const [c0, v0, c1, v1, c2, v2] = need === PAGE_R ? [RC0, RV0, RC1, RV1, RC2, RV2] : [WC0, WV0, WC1, WV1, WC2, WV2];
  const A = 0, SIZE = 1, AI = 2, FL = 3;
  const b = new Body();
  b.get(A).i64(LIMIT).get(SIZE).op(W.i64ExtendI32U, W.i64Sub, W.i64GtU, W.if, VOID).i32(0).op(W.return, W.end);
  b.get(A).op(W.i32WrapI64).tee(AI).i32(4095).op(W.i32And).i32(4096).get(SIZE).op(W.i32Sub, W.i32GtU, W.if, VOID);
  b.get(AI).get(SIZE).op(W.call).u(FL2).op(W.return, W.end);
  b.get(AI).i32(12).op(W.i32ShrU).i32(need).op(W.call).u(PF).tee(FL).i32(need).op(W.i32And, W.i32Eqz);
  if (need === PAGE_W) b.get(FL).i32(PAGE_CODE).op(W.i32And, W.i32Or);
  b.op(W.if, VOID).get(FL).op(W.return, W.end);
  // The run pf found: base (page - back) << 12, limit (back + fwd + 1) << 12 less 7 (room for 8 bytes).
  b.gget(c1).gset(c2).gget(v1).gset(v2).gget(c0).gset(c1).gget(v0).gset(v1);
  b.get(AI).i32(12).op(W.i32ShrU).get(FL).i32(8).op(W.i32ShrU).i32(RUN_MAX).op(W.i32And, W.i32Sub).i32(12).op(W.i32Shl, W.i64ExtendI32U).gset(c0);
  b.get(FL).i32(8).op(W.i32ShrU).i32(RUN_MAX).op(W.i32And).get(FL).i32(19).op(W.i32ShrU, W.i32Add).i32(1).op(W.i32Add);
  b.i32(12).op(W.i32Shl).i32(7).op(W.i32Sub, W.i64ExtendI32U).gset(v0);
  b.get(FL);
  return { type: { params: [I64, I32], results: [I32] }, locals: [I32, I32], body: b, name: need === PAGE_R ? 'missR' : 'missW' };
}
const VOID = 0x40;

/**
 * The region of `pieces` as a tier-2 module, or null when some instruction
 * is not compiled by tier 2 (see the file comment). Same region semantics
 * as codegen.ts compileRegion.
 */
export function compileRegionWasm(pieces: Piece[], chunk: number): WasmRegion | null {
  const usedSet = new Set<number>(), writtenSet = new Set<number>();
  const fUsedSet = new Set<number>(), fWrittenSet = new Set<number>();
  let fp = false;
  for (const p of pieces) {
    for (const ins of p.insns) {
      if (isFp(ins.op) || isFpCsr(ins)) {
        fp = true;
        const { fs, fd, xs, xd } = fpRegs(ins);
        for (const r of xs) if (r !== 0) usedSet.add(r);
        if (xd > 0) { usedSet.add(xd); writtenSet.add(xd); }
        for (const r of fs) fUsedSet.add(r);
        if (fd >= 0) { fUsedSet.add(fd); fWrittenSet.add(fd); }
        continue;
      }
      if (!wasmSupports(ins.op)) return null;
      for (const r of [ins.rs1, ins.rs2]) if (r !== 0) usedSet.add(r);
      if (writesRd(ins.op) && ins.rd !== 0) { usedSet.add(ins.rd); writtenSet.add(ins.rd); }
    }
  }
  const used = [...usedSet].sort((a, b) => a - b);
  const written = [...writtenSet].sort((a, b) => a - b);
  const fUsed = [...fUsedSet].sort((a, b) => a - b);
  const fWritten = [...fWrittenSet].sort((a, b) => a - b);
  const slow: Insn[] = [];
  const start = pieces[0].pcs[0];
  const labels = regionLabels(pieces);
  // Case numbers in the order the code is laid out: start 0, then each label as reached.
  const caseOf = new Map<number, number>([[start, 0]]);
  for (const p of pieces) for (const pc of p.pcs) if (labels.has(pc) && !caseOf.has(pc)) caseOf.set(pc, caseOf.size);
  const n = caseOf.size;

  // Locals: the parameters, then one i64 per used register, then scratch.
  const locals: number[] = [];
  /**
   * Parameter 0: whether other threads share the memory (Cpu.mt); 1: the
   * register slot's address (see regSlot); with F/D, 2: fcsr, 3: the f
   * slot's address (fpSlot).
   */
  const MT = 0, SLOT = 1, FCSR = 2, FSLOT = 3;
  let next = fp ? 4 : 2;
  const local = (t: number): number => { locals.push(t); return next++; };
  const regLocal = new Map<number, number>();
  for (const r of used) regLocal.set(r, local(I64));
  const fLocal = new Map<number, number>();
  for (const r of fUsed) fLocal.set(r, local(F64));
  const FF = fp ? local(I32) : -1;
  const FD = fp ? Array.from({ length: 18 }, () => local(F64)) : [];
  const FT = fp ? local(I32) : -1;
  const A = local(I64), T1 = local(I64), T2 = local(I64), T3 = local(I64), T4 = local(I64), FA = local(I64);
  const AI = local(I32), N = local(I32), P = local(I32), RET = local(I32), FL = local(I32), DONE = local(I32);
  const FSZ = local(I32), FNEED = local(I32), FPC = local(I32), FK = local(I32), FSIG = local(I32);
  const NPC = local(F64);

  const b = new Body();
  /** Labels enclosing the code now being emitted, beyond the case structure (ifs). */
  let extra = 0;
  /** The case whose code is being emitted. */
  let cur = 0;
  const toTop = (): number => n - cur + extra;
  const toExit = (): number => n - cur + 1 + extra;
  const R = (r: number): Body => (r === 0 ? b.i64(0) : b.get(regLocal.get(r) as number));
  const setRd = (rd: number): Body => (rd === 0 ? b.op(W.drop) : b.set(regLocal.get(rd) as number));
  const open = (type = VOID): void => { b.op(W.if, type); extra++; };
  const close = (): void => { b.op(W.end); extra--; };
  /** Leave with the next pc `npc` (null: NPC already set), N + k retired, `stop`. */
  const exitNow = (npc: number | null, k: number, stop = 0): void => {
    if (npc !== null) b.f64(npc).set(NPC);
    b.get(N).get(DONE).op(W.i32Add);
    if (k !== 0) b.i32(k).op(W.i32Add);
    b.i32(3).op(W.i32Shl);
    if (stop !== 0) b.i32(stop).op(W.i32Or);
    b.set(RET).op(W.br).u(toExit());
  };
  /**
   * At a jump that may close a cycle, once N reached the chunk: whether the
   * call runs on (while it has retired fewer than the limit the binding
   * wrote as an i32 at slot + 0: wasm-bind.ts, and the page flags'
   * generation is the one its remembered pages were found under, so that
   * another thread's munmap or mprotect is seen within a chunk: the next
   * call forgets them); if so N moves into DONE, else `leave` (which leaves the function). The
   * test of N is the only code on the hot path; `onward` (if given) ends
   * the cold one, so that it need not run into the loop's own back edge,
   * and the cold path holds no call and no store (V8 then still unrolls a
   * small loop).
   */
  const chunkCheck = (leave: () => void, onward?: () => void): void => {
    b.get(N).i32(chunk).op(W.i32GeS).hint(0);
    open();
    b.get(N).get(DONE).op(W.i32Add).get(SLOT).op(W.i32Load, 2).u(0).op(W.i32GeU);
    b.i32(0).op(W.i64Load32U, 2).u(FLAGS_GEN).gget(GEN).op(W.i64Ne).op(W.i32Or);
    open();
    leave();
    close();
    b.get(DONE).get(N).op(W.i32Add).set(DONE).i32(0).set(N);
    onward?.();
    close();
  };
  /**
   * Go on at t inside the region, `retired` instructions of this segment
   * done. A case laid out after this one is the end of a block enclosing
   * this code: a direct br. This case's own start is its loop; any other
   * goes round the region's loop and its br_table, both after checking the
   * chunk (every cycle holds such a jump, so no loop
   * runs longer than compileRegion's).
   */
  const go = (t: number, retired: number): void => {
    b.get(N).i32(retired).op(W.i32Add).set(N);
    const c = caseOf.get(t) as number;
    if (c > cur) {
      b.op(W.br).u(c - cur - 1 + extra);
      return;
    }
    // Past a chunk, on through the region's br_table.
    chunkCheck(() => exitNow(t, 0), () => b.i32(c).set(P).op(W.br).u(toTop()));
    // This case's own start: its loop (the outermost of the labels `extra` counts).
    if (c === cur) b.op(W.br).u(extra - 1);
    else b.i32(c).set(P).op(W.br).u(toTop());
  };
  /** A jump to t: inside when t is a case, else out. */
  const jump = (t: number, k: number): void => {
    if (labels.has(t)) go(t, k + 1);
    else exitNow(t, k + 1);
  };
  /** The cases by pc, for a jalr's target: [pc, case]. */
  const targets = [...caseOf].sort((x, y) => x[0] - y[0]);
  /**
   * A jalr's target A among targets[lo, hi): a binary search down to runs of
   * a few, each compared in turn; a case found goes round the region's loop
   * to it, none found falls through.
   */
  const search = (lo: number, hi: number): void => {
    if (hi - lo <= 4) {
      for (let i = lo; i < hi; i++) {
        b.get(A).i64(targets[i][0]).op(W.i64Eq);
        open();
        b.i32(targets[i][1]).set(P).op(W.br).u(toTop());
        close();
      }
      return;
    }
    const mid = (lo + hi) >> 1;
    b.get(A).i64(targets[mid][0]).op(W.i64LtU);
    open();
    search(lo, mid);
    b.op(W.else);
    search(mid, hi);
    close();
  };
  /** The fault exit of an access (Cpu.segv called after the registers are written back). */
  const fault = (pc: number, k: number, size: number, need: number): void => {
    b.get(A).set(FA).i32(size).set(FSZ).i32(need).set(FNEED).i32(pc).set(FPC);
    b.get(N).get(DONE).op(W.i32Add).i32(k).op(W.i32Add).set(FK).op(W.br).u(toExit());
  };
  /**
   * The address of an access into A (and AI), checked for `need`; on the
   * slow path a page holding decoded code runs `onCode` (a store's: see
   * store) instead of being remembered. Fast
   * path: A inside one of the three runs of pages remembered for this kind of
   * access, with room for 8 bytes: (A - base) <u limit (the run's length
   * less 7; 0 for an empty entry). That one test also rules out addresses
   * ≥ 2^32 and accesses straddling out of the run, which take the slow
   * path: the range, both pages' flags (Cpu.flags2, never remembered), or
   * the page's with the run of pages around it that have the same flags
   * (pf, see runOf).
   */
  const address = (ins: Insn, pc: number, k: number, size: number, need: number, onCode?: () => void): void => {
    const [c0, v0, c1, v1, c2, v2] = need === PAGE_R ? [RC0, RV0, RC1, RV1, RC2, RV2] : [WC0, WV0, WC1, WV1, WC2, WV2];
    R(ins.rs1).i64(ins.imm).op(W.i64Add).set(A);
    b.op(W.block, VOID);
    extra++;
    b.get(A).gget(c0).op(W.i64Sub).gget(v0).op(W.i64LtU).hint(1).op(W.brIf, 0);
    b.get(A).gget(c1).op(W.i64Sub).gget(v1).op(W.i64LtU).hint(1).op(W.brIf, 0);
    b.get(A).gget(c2).op(W.i64Sub).gget(v2).op(W.i64LtU).hint(1).op(W.brIf, 0);
    // The slow path, out of line (missFunction): the page's flags, 0 for an address out of range.
    b.get(A).i32(size).op(W.call).u(need === PAGE_R ? MISS_R : MISS_W).tee(FL).i32(need).op(W.i32And, W.i32Eqz);
    open();
    fault(pc, k, size, need);
    close();
    if (onCode) {
      b.get(FL).i32(PAGE_CODE).op(W.i32And);
      open();
      b.get(A).op(W.i32WrapI64).set(AI);
      onCode();
      close();
    }
    b.op(W.end);
    extra--;
    b.get(A).op(W.i32WrapI64).set(AI);
  };

  /**
   * A store of `size` bytes (`emit`: the wasm store at AI) checked as
   * address checks it. A store into a page holding decoded code is made on
   * the slow path, inside `address`, and then calls cw: blocks dropped end
   * the region after it; else it goes on after the store. So a remembered
   * run's store (never a PAGE_CODE page) needs no test after it, and no
   * value flows from the slow path into the fast one (TurboFan then keeps
   * the fast path in line instead of an edge block with a move).
   */
  const store = (ins: Insn, pc: number, k: number, size: number, emit: () => void): void => {
    b.op(W.block, VOID);
    extra++;
    const done = extra;
    address(ins, pc, k, size, PAGE_W, () => {
      emit();
      b.get(AI).i32(size).op(W.call).u(CW);
      open();
      exitNow(pc + ins.len, k + 1);
      close();
      b.op(W.br).u(extra - done);
    });
    emit();
    b.op(W.end);
    extra--;
  };
  /** SIGTRAP (5) or SIGILL (4) at pc (Cpu.trap, called after the registers are written back). */
  const trapAt = (signal: number, pc: number, k: number): void => {
    b.i32(signal).set(FSIG).i32(pc).set(FPC).get(N).get(DONE).op(W.i32Add).i32(k).op(W.i32Add).set(FK).op(W.br).u(toExit());
  };
  const fpEmitter = {
    b, address, store, open, close, ai: AI, fcsr: FCSR, slot: (): void => { b.get(SLOT); }, fslot: (): void => { b.get(FSLOT); }, ff: FF, d: FD, t: T1, t32: FT, fx: FX,
    x: (r: number): void => { R(r); },
    setX: (rd: number): void => { setRd(rd); },
    f: (r: number): number => fLocal.get(r) as number,
    trapIll: (pc: number, k: number): void => trapAt(4, pc, k),
    slow: (ins: Insn): number => slow.push(ins) - 1,
  };

  /** One instruction (the k-th of its segment); true when control does not fall through. */
  const insn = (ins: Insn, pc: number, k: number): boolean => {
    const { op, rd, rs1, rs2, imm } = ins;
    const nextPc = pc + ins.len;
    if (op in LOADS) {
      const [ld, size] = LOADS[op];
      address(ins, pc, k, size, PAGE_R);
      if (rd !== 0) b.get(AI).mem(ld).set(regLocal.get(rd) as number);
      return false;
    }
    if (op in STORES) {
      const [st, size] = STORES[op];
      store(ins, pc, k, size, () => { b.get(AI); R(rs2).mem(st); });
      return false;
    }
    if (isFp(op) || isFpCsr(ins)) {
      emitFp(fpEmitter, ins, pc, k);
      return false;
    }
    if (op in BRANCH) {
      R(rs1); R(rs2); b.op(BRANCH[op]);
      open();
      jump(pc + imm, k);
      close();
      return false;
    }
    switch (op) {
      case 'jal':
        if (rd !== 0) b.i64(nextPc).set(regLocal.get(rd) as number);
        jump(pc + imm, k);
        return true;
      case 'jalr': {
        R(rs1).i64(imm).op(W.i64Add).i64(-2).op(W.i64And).set(A);
        if (rd !== 0) b.i64(nextPc).set(regLocal.get(rd) as number);
        b.get(N).i32(k + 1).op(W.i32Add).set(N);
        // In a region, a target that is a case runs on inside (unless the chunk is done); any other leaves.
        b.get(A).op(W.f64ConvertI64S).set(NPC);
        if (labels.size > 0) {
          chunkCheck(() => exitNow(null, 0));
          search(0, targets.length);
        }
        exitNow(null, 0);
        return true;
      }
      case 'ecall':
        exitNow(nextPc, k + 1, 1);
        return true;
      case 'ebreak': case 'illegal':
        trapAt(op === 'ebreak' ? 5 : 4, pc, k);
        return true;
      case 'fence.i':
        b.op(W.call).u(FI);
        exitNow(nextPc, k + 1);
        return true;
      case 'fence':
        // A full barrier while other threads share the memory (tier 1: an Atomics store).
        b.get(MT).i32(1).op(W.i32And, W.if, VOID, 0xfe, 0x03, 0x00, W.end);
        return false;
    }
    if (rd === 0) return false; // The rest only write rd.
    if (op in ALU64) { R(rs1); R(rs2); b.op(ALU64[op]); }
    else if (op in ALU32) { R(rs1).op(W.i32WrapI64); R(rs2).op(W.i32WrapI64).op(ALU32[op], W.i64ExtendI32S); }
    else if (op in IMM64) R(rs1).i64(imm).op(IMM64[op]);
    else if (op in IMM32) R(rs1).op(W.i32WrapI64).i32(imm).op(IMM32[op], W.i64ExtendI32S);
    else {
      switch (op) {
        case 'lui': b.i64(imm); break;
        case 'auipc': b.i64(pc + imm); break;
        case 'slti': R(rs1).i64(imm).op(W.i64LtS, W.i64ExtendI32U); break;
        case 'sltiu': R(rs1).i64(imm).op(W.i64LtU, W.i64ExtendI32U); break;
        case 'slt': R(rs1); R(rs2).op(W.i64LtS, W.i64ExtendI32U); break;
        case 'sltu': R(rs1); R(rs2).op(W.i64LtU, W.i64ExtendI32U); break;
        case 'div': case 'divu': case 'rem': case 'remu': divide64(op, rs1, rs2); break;
        case 'divw': case 'divuw': case 'remw': case 'remuw': divide32(op, rs1, rs2); break;
        default: mulHigh(op, rs1, rs2);
      }
    }
    setRd(rd);
    return false;
  };

  /** RISC-V division: by zero gives -1 (quotient) or the dividend (remainder); MIN / -1 gives MIN, remainder 0 (wasm's rem_s gives 0 too). */
  const divide64 = (op: string, rs1: number, rs2: number): void => {
    R(rs2).op(W.i64Eqz);
    b.op(W.if, I64);
    if (op.startsWith('div')) b.i64(-1); else R(rs1);
    b.op(W.else);
    if (op === 'div') {
      R(rs1).i64(-(2 ** 63)).op(W.i64Eq);
      R(rs2).i64(-1).op(W.i64Eq, W.i32And);
      b.op(W.if, I64);
      R(rs1);
      b.op(W.else);
      R(rs1); R(rs2).op(W.i64DivS);
      b.op(W.end);
    } else {
      R(rs1); R(rs2).op(op === 'divu' ? W.i64DivU : op === 'rem' ? W.i64RemS : W.i64RemU);
    }
    b.op(W.end);
  };
  const divide32 = (op: string, rs1: number, rs2: number): void => {
    R(rs2).op(W.i32WrapI64, W.i32Eqz);
    b.op(W.if, I32);
    if (op.startsWith('div')) b.i32(-1); else R(rs1).op(W.i32WrapI64);
    b.op(W.else);
    if (op === 'divw') {
      R(rs1).op(W.i32WrapI64).i32(-(2 ** 31)).op(W.i32Eq);
      R(rs2).op(W.i32WrapI64).i32(-1).op(W.i32Eq, W.i32And);
      b.op(W.if, I32);
      R(rs1).op(W.i32WrapI64);
      b.op(W.else);
      R(rs1).op(W.i32WrapI64); R(rs2).op(W.i32WrapI64, W.i32DivS);
      b.op(W.end);
    } else {
      R(rs1).op(W.i32WrapI64); R(rs2).op(W.i32WrapI64, op === 'divuw' ? W.i32DivU : op === 'remw' ? W.i32RemS : W.i32RemU);
    }
    b.op(W.end, W.i64ExtendI32S);
  };
  /** The high 64 bits of the 128-bit product (mulhu from four 32x32 products; mulh and mulhsu corrected for the signs). */
  const mulHigh = (op: string, rs1: number, rs2: number): void => {
    R(rs1).set(T1); R(rs2).set(T2);
    emitMulHigh(b, op as 'mulh' | 'mulhsu' | 'mulhu', T1, T2, T3, T4);
  };

  // Prologue: registers from the slot; the remembered pages forgotten if the page flags changed since, or if
  // the call runs another thread than the last (MT's bit 1): the runs are tested in order, so a thread whose
  // stack sat in the second or third run paid one or two more tests an access until a miss reordered them
  // (two threads time-sliced on one vCPU ran 30-70% slower than one thread doing their work).
  for (const r of used) b.get(SLOT).mem8(W.i64Load, 8 * r).set(regLocal.get(r) as number);
  for (const r of fUsed) b.get(FSLOT).mem8(W.f64Load, 8 * r).set(fLocal.get(r) as number);
  if (fp) b.get(FCSR).i32(31).op(W.i32And).set(FF);
  b.i32(0).op(W.i64Load32U, 2).u(FLAGS_GEN).tee(T1).gget(GEN).op(W.i64Ne).get(MT).i32(1).op(W.i32ShrU, W.i32Or).hint(0).op(W.if, VOID);
  for (const v of [RV0, RV1, RV2, WV0, WV1, WV2]) b.i64(0).gset(v);
  b.get(T1).gset(GEN).op(W.end);
  // The entry case, written by the binding at slot + 4 (the next pc's high word, written only at the exit).
  b.get(SLOT).op(W.i32Load, 2).u(4).set(P);
  b.op(W.block, VOID, W.loop, VOID, W.block, VOID);
  for (let i = 0; i < n; i++) b.op(W.block, VOID);
  b.get(P).op(W.brTable).u(n);
  for (let i = 0; i < n; i++) b.u(i);
  b.u(n).op(W.end);
  // Cases, laid out as compileRegion lays out its switch, each in a loop of its own (a jump back to its start).
  b.op(W.loop, VOID);
  extra++;
  for (const piece of pieces) {
    const { insns, pcs } = piece;
    let k = 0;
    let ended = false;
    for (let j = 0; j < insns.length; j++) {
      const pc = pcs[j];
      if (labels.has(pc) && pc !== start) {
        if (k > 0) b.get(N).i32(k).op(W.i32Add).set(N);
        b.op(W.end, W.end, W.loop, VOID);
        cur = caseOf.get(pc) as number;
        k = 0;
      }
      ended = insn(insns[j], pc, k);
      k++;
      if (ended) break;
    }
    if (!ended) {
      if (labels.has(piece.end)) go(piece.end, k);
      else exitNow(piece.end, k);
    }
  }
  b.op(W.end);
  extra--;
  b.op(W.end, W.unreachable, W.end, W.end);
  // Epilogue: registers and next pc (a fault's or trap's: its pc) into the slot; a fault's report.
  b.get(FSZ).get(FSIG).op(W.i32Or);
  open();
  b.get(FPC).op(W.f64ConvertI32U).set(NPC);
  close();
  b.get(SLOT).get(NPC).mem8(W.f64Store, 0);
  for (const r of written) b.get(SLOT).get(regLocal.get(r) as number).mem8(W.i64Store, 8 * r);
  for (const r of fWritten) b.get(FSLOT).get(fLocal.get(r) as number).mem8(W.f64Store, 8 * r);
  b.get(FSZ).op(W.if, I32);
  b.get(FA).op(W.i32WrapI64).get(FA).i64(32).op(W.i64ShrS, W.i32WrapI64);
  b.get(FSZ).get(FNEED).get(FPC).get(FK).op(W.call).u(SG);
  b.op(W.else).get(FSIG).op(W.if, I32);
  b.get(FSIG).get(FPC).get(FK).op(W.call).u(TP);
  b.op(W.else).get(RET).op(W.end, W.end);
  // fflags, above the retired count (bindRegion puts them into fcsr).
  if (fp) b.get(FF).i32(24).op(W.i32Shl, W.i32Or);

  const i32s = (k: number): number[] => new Array<number>(k).fill(I32);
  const bytes = moduleBytes({
    memoryPages: MEMORY_PAGES,
    imports: [
      { name: 'pf', type: { params: [I32, I32], results: [I32] } },
      { name: 'fl2', type: { params: [I32, I32], results: [I32] } },
      { name: 'cw', type: { params: [I32, I32], results: [I32] } },
      { name: 'sg', type: { params: i32s(6), results: [I32] } },
      { name: 'tp', type: { params: i32s(3), results: [I32] } },
      { name: 'fi', type: { params: [], results: [] } },
      { name: 'fx', type: { params: [I32, I32], results: [I32] } },
    ],
    type: { params: fp ? i32s(4) : i32s(2), results: [I32] },
    locals,
    globals: GLOBALS,
    body: b,
    name: `r${start.toString(16)}`,
    helpers: [missFunction(PAGE_R), missFunction(PAGE_W)],
  });
  if (DUMP !== undefined) writeFileSync(`${DUMP}/r${start.toString(16)}-${String(dumped++).padStart(3, '0')}.wasm`, bytes);
  return { module: compileHinted(bytes), used, written, fp, fUsed, fWritten, slow, cases: caseOf };
}
