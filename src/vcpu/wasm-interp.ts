// A tier-0 interpreter written in WebAssembly (README.md, "Decision: a tier 0
// in WebAssembly, measured"): interp-wasm.ts binds it to a Cpu as tier 0's
// default interpreter (TSVISOR_TIER0=js: the JavaScript one instead);
// bench/tier0-wasm.ts runs it beside the
// JavaScript interpreter (interp.ts) on the same pre-decoded blocks.
//
// Contract: wasmInterpModule(memoryPages) builds one module over the guest's memory
// whose function run(hdr, limit, xs, epoch, promote) interprets the block
// whose records (below) start at `hdr` (an address in the guest memory),
// the engine area at `area` = xs - Area.BYTES (the register slot follows it:
// one module serves every region base, README.md "Decision: one tier-0 module
// per sandbox"),
// the 64-bit registers x0..x31 as 8-byte words at xs + 8r (x0 always 0;
// writes to x0 go to the word at xs + 256) and f0..f31 at xs + 512 + 8r
// (F_SLOT; the bit patterns, as ThreadState.fbits holds them), and returns the instructions it
// retired. It runs on across taken branches and jumps: into the same
// block's records (the record's target address in AUX; a backward one adds
// 5, interp.ts LOOP_HEAT, to the block's heat and 1 to its trips), or into another block the
// chaining table at `area` holds for the target pc (direct mapped by
// (pc >>> 1), 2^CHAIN_BITS entries of [pc, header address, epoch, 0], taken
// only when its epoch is `epoch`, else the one the import f.lk(pc, from) ->
// header gives (`from`: the header of the block jumping), 0 for none:
// entering adds 1 to the block's heat),
// while fewer than `limit` instructions have retired and no heat reached
// `promote` (it then leaves with the pc of the block due, not entered).
// Before it returns it writes the next pc (an i64) at xs + 264, the reason
// at xs + 280 (Exit), and for a fault the address at xs + 272 and the access
// in the reason's bits 4..7 (size) and 8..11 (need, memory.ts Flag). The
// word at xs + FCSR_SLOT is fcsr, which the CSR accesses it runs (fflags,
// frm, fcsr) read and write, and the F/D arithmetic (wasm-interp-fp.ts)
// reads (frm) and raises flags in; that arithmetic's slow path is the import
// f.fx(i, fflags) -> fflags (wasm-interp-fp.ts fpSlowPath), through a
// scratch slot at area + FX. Off its fast paths an instruction leaves
// before it (Exit.UNSUPPORTED): an AMO, LR or SC whose reservation holds, not
// aligned or not on a page the tables hold or pf calls readable, writable and
// not PAGE_CODE, F/D
// arithmetic under a rounding mode other than round-to-nearest (or RTZ for
// a conversion to an integer) or a reserved frm, any other CSR.
// Page flags are read through the import f.pf(lo, hi, size) -> flags, whose
// caller (the JavaScript side) may fill two direct-mapped tables of pages
// at area + RTAB (readable) and area + WTAB (writable and not PAGE_CODE) that
// the fast path checks (entries hold the page number; -1 empty); a store on
// a PAGE_CODE page calls f.cw(lo, size) after the store and leaves when it
// returns 1 (blocks were dropped). fence is a full barrier (atomic.fence).
// The LR reservation is four words at area + RES (Res): the address (-1:
// none), the size (4 or 8; 0: none), the value loaded (an i64; lr.w's sign-extended),
// and a word the module sets to 1 whenever it changes them. The caller
// writes the Cpu's reservation there before a call and takes it back when
// that word is 1 (Tier0Wasm.run), so LR and SC pair across the tiers as
// Cpu.amo pairs them: sc succeeds when the reservation is its address and
// size and the memory still holds the value (a compare-and-exchange), fails
// without touching memory otherwise, and drops the reservation either way.
//
// Records (toWasmRecords): a 16-byte header [heat, link, number, trips]
// (number: the JavaScript side's for the block, 0 for none; link: the
// number of the block it last chained into, 0 for none; trips: its
// backward jumps inside itself), then 16 bytes
// per pre-decoded record: [w, imm, aux, pc] with w = wop | rd << 8 | rs1
// << 14 | rs2 << 19 | (len === 2) << 24, rd = 32 for an x0 destination, `wop` the index in
// WOPS (0 for an Op run only by the JavaScript interpreter: the function
// leaves before it with Exit.UNSUPPORTED), imm the immediate (F/D
// arithmetic: the rounding-mode field), aux the absolute record address
// of an in-block target (0 for none; a CSR access's number; a fused
// multiply-add's rs3), pc the instruction's address (the
// block's end for the END record).

import { Field, Op, STRIDE } from './ops.js';
import { Flag } from './memory.js';
import { Body, I32, I64, moduleBytes, W } from './wasm-encode.js';
import { emitMulHigh } from './wasm-alu.js';
import { emitFpCase, FP_LOCALS, FP_OPS, FP_SCRATCH, fpWritesF, FX_TYPE } from './wasm-interp-fp.js';

/** Why run() returned. */
export const enum Exit { JUMP = 0, FAULT = 2, UNSUPPORTED = 3, CODE_WRITE = 4, LIMIT = 5, SYSCALL = 6 }

/** Layout of the engine area (offsets from `area`): chaining entries are 16 bytes, page-table entries 4, each table placed after the one before. */
export const enum Area { CHAIN_BITS = 16, PAGES_MASK = 4095, CHAIN = 0, RTAB = 16 << CHAIN_BITS, WTAB = RTAB + 4 * (PAGES_MASK + 1), FX = WTAB + 4 * (PAGES_MASK + 1), RES = FX + 128, BYTES = RES + 32 }
if ((Area.RES as number) - Area.FX !== FP_SCRATCH) throw new Error('wasm-interp: the F/D scratch slot moved');
/** The LR reservation's words at area + RES (see the file comment). */
export const enum Res { ADDR = 0, SIZE = 4, VALUE = 8, TOUCHED = 16 }

/** The Ops the WebAssembly interpreter runs, in the order of its br_table (index 0: none). */
const WOPS: readonly Op[] = [
  Op.ILLEGAL, Op.NOP, Op.END, Op.LUI, Op.AUIPC, Op.JAL, Op.JALR, Op.BEQ, Op.BNE, Op.BLT, Op.BGE, Op.BLTU, Op.BGEU,
  Op.LB, Op.LH, Op.LW, Op.LD, Op.LBU, Op.LHU, Op.LWU, Op.SB, Op.SH, Op.SW, Op.SD,
  Op.ADDI, Op.SLTI, Op.SLTIU, Op.XORI, Op.ORI, Op.ANDI, Op.SLLI, Op.SRLI, Op.SRAI, Op.ADDIW, Op.SLLIW, Op.SRLIW, Op.SRAIW,
  Op.ADD, Op.SUB, Op.SLL, Op.SLT, Op.SLTU, Op.XOR, Op.SRL, Op.SRA, Op.OR, Op.AND,
  Op.ADDW, Op.SUBW, Op.SLLW, Op.SRLW, Op.SRAW, Op.MUL, Op.MULW, Op.MULH, Op.MULHSU, Op.MULHU, Op.FENCE, Op.ECALL,
  Op.FLW, Op.FLD, Op.FSW, Op.FSD, Op.FMV_X_W, Op.FMV_W_X, Op.FMV_X_D, Op.FMV_D_X,
  Op.DIV, Op.DIVU, Op.REM, Op.REMU, Op.DIVW, Op.DIVUW, Op.REMW, Op.REMUW,
  Op.AMOSWAP_W, Op.AMOADD_W, Op.AMOXOR_W, Op.AMOAND_W, Op.AMOOR_W, Op.AMOSWAP_D, Op.AMOADD_D, Op.AMOXOR_D, Op.AMOAND_D, Op.AMOOR_D,
  Op.LR_W, Op.SC_W, Op.LR_D, Op.SC_D,
  Op.CSRRW, Op.CSRRS, Op.CSRRC, Op.CSRRWI, Op.CSRRSI, Op.CSRRCI,
  ...FP_OPS,
];
/** The f registers' words: at xs + F_SLOT + 8r. */
export const F_SLOT = 512;
/** The word of fcsr (ThreadState.fcsr: fflags in bits 0..4, frm in 5..7): at xs + FCSR_SLOT. */
export const FCSR_SLOT = 288;
/** Whether the module runs `op` (else it leaves before it). */
export function runsOp(op: number): boolean {
  return WOP_OF[op] !== 0;
}
const WOP_OF: Int32Array = (() => {
  const t = new Int32Array(256);
  WOPS.forEach((op, i) => { if (i > 0) t[op] = i; });
  if (WOPS.length > 256) throw new Error('wasm-interp: more Ops than the record word holds');
  return t;
})();
/** Per Op: 1 for the F/D arithmetic of wasm-interp-fp.ts, 2 when it writes an f register, 4 for a fused multiply-add. */
const FP_KIND: Uint8Array = (() => {
  const t = new Uint8Array(256);
  for (const op of FP_OPS) t[op] = 1 | (fpWritesF(op) ? 2 : 0) | (op >= Op.FMADD_S && op <= Op.FNMADD_D ? 4 : 0);
  return t;
})();

/** Record bytes of a block of `code` (its pre-decoded form) with the header. */
export function wasmRecordBytes(code: Int32Array): number {
  return 16 + (code.length / STRIDE) * 16;
}

/** Write block `code` (pre-decoded, starting at pc `base`) as records at byte address `at` of `i32` (the guest memory). */
export function toWasmRecords(code: Int32Array, base: number, i32: Int32Array, at: number): void {
  let q = at >>> 2;
  i32[q] = 0; i32[q + 1] = 0; i32[q + 2] = 0; i32[q + 3] = 0;
  q += 4;
  for (let o = 0; o < code.length; o += STRIDE, q += 4) {
    const op = code[o] & 0xff, pos = code[o + Field.POS];
    // x0 is written to the 33rd word; f0 is a register.
    const fp = FP_KIND[op];
    const fDest = op === Op.FLW || op === Op.FLD || op === Op.FMV_W_X || op === Op.FMV_D_X || (fp & 2) !== 0;
    const rd = code[o + Field.RD] === 0 && !fDest ? 32 : code[o + Field.RD];
    i32[q] = WOP_OF[op] | (rd << 8) | (code[o + Field.RS1] << 14) | (code[o + Field.RS2] << 19) | ((pos >>> 16) === 2 ? 1 << 24 : 0);
    // F/D arithmetic: the rounding-mode field in place of the immediate, rs3 in aux.
    i32[q + 1] = fp !== 0 ? code[o + Field.RM] : code[o + Field.IMM];
    const jumps = op === Op.JAL || (op >= Op.BEQ && op <= Op.BGEU);
    // A CSR access: its number (the module runs fflags, frm and fcsr: 1..3; it leaves before any other).
    const csr = op >= Op.CSRRW && op <= Op.CSRRCI;
    i32[q + 2] = csr || (fp & 4) !== 0 ? code[o + Field.AUX] : jumps && code[o + Field.AUX] >= 0 ? at + 16 + (code[o + Field.AUX] / STRIDE) * 16 : 0;
    i32[q + 3] = base + (pos & 0xffff);
  }
}

// Parameters, then locals.
const HDR = 0, LIMIT = 1, XS = 2, EPOCH = 3, PROMOTE = 4, WD = 5, IMM = 6, K = 7, A = 8, PG = 9, T = 10, WHY = 11, NPC = 12, REC = 13, M1 = 14, M2 = 15, M3 = 16;
/**
 * Push xs + (off - Area.BYTES): the engine area's byte `off` (the area ends where the register slot
 * starts). Computed from xs, which every case holds in a register anyway, and a constant (that
 * V8 folds into the access): a local of the area's address, live across the whole loop, slowed
 * the integer cases by 5-35% (README.md, "Decision: one tier-0 module per sandbox").
 */
const areaAt = (b: Body, off: number): void => { b.get(XS).op(W.i32Add).i32(off - Area.BYTES).op(W.i32Add); };

/** The module's bytes, over a memory of `memoryPages` (see the file comment): the same for every engine area. */
export function wasmInterpModule(memoryPages: number): Uint8Array<ArrayBuffer> {
  const b = new Body();
  const n = WOPS.length;
  // Register addresses from the record word.
  const rdAddr = () => b.get(XS).get(WD).i32(5).op(W.i32ShrU).i32(0x1f8).op(W.i32And).op(W.i32Add);
  const rs1Addr = () => b.get(XS).get(WD).i32(11).op(W.i32ShrU).i32(0xf8).op(W.i32And).op(W.i32Add);
  const rs2Addr = () => b.get(XS).get(WD).i32(16).op(W.i32ShrU).i32(0xf8).op(W.i32And).op(W.i32Add);
  const rs1 = () => rs1Addr().op(W.i64Load, 3, 0);
  const rs2 = () => rs2Addr().op(W.i64Load, 3, 0);
  const imm64 = () => b.get(IMM).op(W.i64ExtendI32S);
  const store = () => b.op(W.i64Store, 3, 0);
  // The same for the f registers' words.
  const fStore = () => b.op(W.i64Store, 3).u(F_SLOT);
  const frs1 = () => rs1Addr().op(W.i64Load, 3).u(F_SLOT);
  const frs2 = () => rs2Addr().op(W.i64Load, 3).u(F_SLOT);
  // The current instruction's pc (its record is at REC - 16) as an i64.
  const pc64 = () => b.get(REC).i32(4).op(W.i32Sub).op(W.i32Load, 2, 0).op(W.i64ExtendI32U);
  const aux = () => b.get(REC).i32(8).op(W.i32Sub).op(W.i32Load, 2, 0);
  // The instruction's length: 4, or 2 when the bit is set.
  const len64 = () => b.i64(4).get(WD).i32(23).op(W.i32ShrU).i32(2).op(W.i32And).op(W.i64ExtendI32U).op(W.i64Sub);

  // The F/D cases (wasm-interp-fp.ts): their locals follow REC.
  const fpBase = {
    b, first: M3 + 1, xs: XS, imm: IMM, fSlot: F_SLOT, fcsrSlot: FCSR_SLOT, fxImport: 3,
    fxAddr: () => { b.get(XS).i32(Area.FX - Area.BYTES).op(W.i32Add); },
    rdAddr: () => { rdAddr(); }, rs1Addr: () => { rs1Addr(); }, rs2Addr: () => { rs2Addr(); },
    rs3Addr: () => { b.get(XS); aux().i32(3).op(W.i32Shl, W.i32Add); },
  };
  b.get(HDR).i32(16).op(W.i32Add).set(REC);
  b.op(W.block, 0x40); // $out
  b.op(W.loop, 0x40); // $L
  b.op(W.block, 0x40); // $jump: A = target pc, T = in-block record or 0
  for (let i = n - 1; i >= 0; i--) b.op(W.block, 0x40);
  // Fetch.
  b.get(REC).op(W.i32Load, 2, 0).set(WD);
  b.get(REC).op(W.i32Load, 2, 4).set(IMM);
  b.get(REC).i32(16).op(W.i32Add).set(REC);
  b.get(K).i32(1).op(W.i32Add).set(K);
  b.get(WD).i32(255).op(W.i32And);
  b.op(W.brTable).u(n);
  for (let i = 0; i < n; i++) b.u(i);
  b.u(0);
  for (let i = 0; i < n; i++) {
    b.op(W.end);
    const toJump = n - 1 - i, toL = toJump + 1, toOut = toJump + 2;
    // d: the blocks and ifs opened inside the case.
    const next = (d = 0) => b.op(W.br).u(toL + d);
    const exit = (why: number, d = 0) => b.i32(why).set(WHY).op(W.br).u(toOut + d);
    // Leave before this instruction (not retired).
    const before = (why: number, d = 0) => { pc64().set(NPC); b.get(K).i32(1).op(W.i32Sub).set(K); exit(why, d); };
    const branch = (cmp: W) => {
      rs1(); rs2(); b.op(cmp, W.if, 0x40);
      pc64(); imm64(); b.op(W.i64Add).set(A);
      aux().set(T);
      b.op(W.br).u(toJump + 1);
      b.op(W.end);
      next();
    };
    // Effective address into A; PG = its low word when the high word is 0 and
    // the access lies in a page the table `tab` holds, else the slow path.
    const access = (size: number, need: number, tab: number, body: () => void, isStore: boolean) => {
      rs1(); imm64(); b.op(W.i64Add).set(A);
      b.get(A).i64(32).op(W.i64ShrU).op(W.i64Eqz);
      b.get(A).op(W.i32WrapI64).tee(PG).i32(12).op(W.i32ShrU).tee(T).i32(Area.PAGES_MASK).op(W.i32And).i32(2).op(W.i32Shl);
      areaAt(b, tab);
      b.op(W.i32Load, 2, 0).get(T).op(W.i32Eq).op(W.i32And);
      if (size > 1) b.get(PG).i32(4095).op(W.i32And).i32(4096 - size).op(W.i32LeU).op(W.i32And);
      b.op(W.if, 0x40);
      body();
      next(1);
      b.op(W.end);
      // Slow path: the flags through the import.
      b.get(PG).get(A).i64(32).op(W.i64ShrU).op(W.i32WrapI64).i32(size).op(W.call).u(0).tee(T);
      b.i32(need).op(W.i32And).op(W.i32Eqz);
      b.op(W.if, 0x40);
      pc64().set(NPC); b.get(K).i32(1).op(W.i32Sub).set(K);
      exit(Exit.FAULT | (size << 4) | (need << 8), 1);
      b.op(W.end);
      body();
      if (isStore) {
        b.get(T).i32(8).op(W.i32And).op(W.if, 0x40);
        b.get(PG).i32(size).op(W.call).u(1).op(W.if, 0x40);
        pc64(); len64(); b.op(W.i64Add).set(NPC);
        exit(Exit.CODE_WRITE, 2);
        b.op(W.end);
        b.op(W.end);
      }
      next();
    };
    const load = (size: number, op: W, align: number) => access(size, 1, Area.RTAB, () => {
      rdAddr(); b.get(PG).op(op, align, 0); store();
    }, false);
    const st = (size: number, op: W, align: number, value = rs2) => access(size, 2, Area.WTAB, () => {
      b.get(PG); value(); b.op(op, align, 0);
    }, true);
    // A single in an f register is NaN-boxed: its high word all ones.
    const box = () => b.i64(-4294967296).op(W.i64Or);
    const alu = (f: () => void) => { rdAddr(); f(); store(); next(); };
    const aluW = (f: () => void) => { rdAddr(); f(); b.op(W.i64Extend32S); store(); next(); };
    const r1 = () => { rs1(); b.op(W.i32WrapI64); };
    const r2 = () => { rs2(); b.op(W.i32WrapI64); };
    // An AMO, LR or SC runs here on an aligned address below 2^32 whose page is readable, writable and not
    // PAGE_CODE (the tables, else pf); anything else (misaligned, a shared, high, code or unmapped page)
    // leaves before it for the JavaScript interpreter (Cpu.amo: its faults, pool, code drops). `aligned`
    // pushes whether A (rs1, set here) is such an address, PG its low word; `rwPage` whether PG's page is
    // such a page (T: its number).
    const aligned = (size: number) => {
      rs1().set(A);
      b.get(A).i64(32).op(W.i64ShrU).op(W.i64Eqz).get(A).op(W.i32WrapI64).tee(PG).i32(size - 1).op(W.i32And).op(W.i32Eqz).op(W.i32And);
    };
    const rwPage = (size: number) => {
      b.get(PG).i32(12).op(W.i32ShrU).tee(T).i32(Area.PAGES_MASK).op(W.i32And).i32(2).op(W.i32Shl); areaAt(b, Area.RTAB); b.op(W.i32Load, 2, 0).get(T).op(W.i32Eq);
      b.get(T).i32(Area.PAGES_MASK).op(W.i32And).i32(2).op(W.i32Shl); areaAt(b, Area.WTAB); b.op(W.i32Load, 2, 0).get(T).op(W.i32Eq).op(W.i32And);
      b.op(W.if, I32).i32(1).op(W.else);
      b.get(PG).i32(0).i32(size).op(W.call).u(0).i32(Flag.R | Flag.W | Flag.CODE).op(W.i32And).i32(Flag.R | Flag.W).op(W.i32Eq);
      b.op(W.end);
    };
    // The reservation's words (Res), address pushed.
    const res = () => { b.i32(0); areaAt(b, Area.RES); };
    // `body` on the fast path (an aligned word on a readable, writable page: PG its address), else leave before it.
    const onWord = (size: number, body: () => void) => {
      aligned(size);
      b.op(W.if, 0x40);
      rwPage(size);
      b.op(W.if, 0x40);
      body();
      next(2);
      b.op(W.end, W.end);
      before(Exit.UNSUPPORTED);
    };
    // The 0xfe-prefixed read-modify-write `rmw` (its i32 form; the i64 one is the next opcode). No reservation
    // is touched (as Cpu.amo).
    const amo = (size: number, rmw: number) => onWord(size, () => {
      rdAddr(); b.get(PG);
      if (size === 8) { rs2(); b.op(0xfe, rmw + 1, 3, 0); } else { r2(); b.op(0xfe, rmw, 2, 0, W.i64ExtendI32S); }
      store();
    });
    // lr: the value loaded atomically (lr.w's sign-extended) into rd, and the reservation: PG, size, value.
    const lr = (size: number) => onWord(size, () => {
      b.get(PG);
      if (size === 8) b.op(0xfe, 0x11, 3, 0); else b.op(0xfe, 0x10, 2, 0, W.i64ExtendI32S); // i64/i32.atomic.load
      b.set(M1);
      rdAddr(); b.get(M1); store();
      res(); b.get(PG).op(W.i32Store, 2).u(Res.ADDR);
      res(); b.i32(size).op(W.i32Store, 2).u(Res.SIZE);
      res(); b.get(M1).op(W.i64Store, 3).u(Res.VALUE);
      res(); b.i32(1).op(W.i32Store, 2).u(Res.TOUCHED);
    });
    // sc: with the reservation on A for `size`, a compare-and-exchange of the value it loaded for rs2, rd 0
    // when it took (else 1); without, rd 1 and no access. The reservation dropped either way.
    const sc = (size: number) => {
      const drop = () => { res(); b.i32(-1).op(W.i32Store, 2).u(Res.ADDR); res(); b.i32(0).op(W.i32Store, 2).u(Res.SIZE); res(); b.i32(1).op(W.i32Store, 2).u(Res.TOUCHED); };
      const expected = () => { res(); b.op(W.i64Load, 3).u(Res.VALUE); if (size === 4) b.op(W.i32WrapI64); };
      rs1().set(A);
      b.get(A).i64(32).op(W.i64ShrU).op(W.i64Eqz);
      res(); b.op(W.i32Load, 2).u(Res.ADDR).get(A).op(W.i32WrapI64).tee(PG).op(W.i32Eq).op(W.i32And);
      res(); b.op(W.i32Load, 2).u(Res.SIZE).i32(size).op(W.i32Eq).op(W.i32And);
      b.op(W.if, 0x40);
      rwPage(size);
      b.op(W.if, 0x40);
      rdAddr(); b.get(PG); expected();
      if (size === 8) { rs2(); b.op(0xfe, 0x49, 3, 0); expected(); b.op(W.i64Ne); } else { r2(); b.op(0xfe, 0x48, 2, 0); expected(); b.op(W.i32Ne); } // i64/i32.atomic.rmw.cmpxchg
      b.op(W.i64ExtendI32U); store();
      drop(); next(2);
      b.op(W.end);
      b.op(W.else);
      rdAddr(); b.i64(1); store();
      drop(); next(1);
      b.op(W.end);
      before(Exit.UNSUPPORTED);
    };
    // Zicsr on fflags (1), frm (2), fcsr (3) as views of the fcsr word (csr.ts csrAccess): `op` 1 write,
    // 2 set, 3 clear; the source the immediate (uimm) or rs1, a set or clear with x0 or 0 writing nothing.
    // T the CSR, PG the old value, WHY the new one (a temporary: it is set again at every exit).
    const csrOp = (op: number, imm: boolean) => {
      aux().tee(T).i32(1).op(W.i32Sub).i32(3).op(W.i32GeU).op(W.if, 0x40);
      before(Exit.UNSUPPORTED, 1);
      b.op(W.end);
      b.get(XS).op(W.i32Load, 2).u(FCSR_SLOT).set(WHY);
      b.get(T).i32(1).op(W.i32Eq).op(W.if, I32).get(WHY).i32(0x1f).op(W.i32And).op(W.else);
      b.get(T).i32(2).op(W.i32Eq).op(W.if, I32).get(WHY).i32(5).op(W.i32ShrU).i32(7).op(W.i32And).op(W.else);
      b.get(WHY).i32(0xff).op(W.i32And).op(W.end, W.end).set(PG);
      const src = () => { if (imm) b.get(IMM); else r1(); };
      if (op !== 1) {
        if (imm) b.get(IMM); else b.get(WD).i32(14).op(W.i32ShrU).i32(31).op(W.i32And);
        b.op(W.if, 0x40);
      }
      if (op === 1) src(); else if (op === 2) { b.get(PG); src(); b.op(W.i32Or); } else { src(); b.i32(-1).op(W.i32Xor).get(PG).op(W.i32And); }
      b.set(WHY).get(XS);
      b.get(T).i32(1).op(W.i32Eq).op(W.if, I32);
      b.get(XS).op(W.i32Load, 2).u(FCSR_SLOT).i32(~0x1f).op(W.i32And).get(WHY).i32(0x1f).op(W.i32And).op(W.i32Or).op(W.else);
      b.get(T).i32(2).op(W.i32Eq).op(W.if, I32);
      b.get(XS).op(W.i32Load, 2).u(FCSR_SLOT).i32(~0xe0).op(W.i32And).get(WHY).i32(7).op(W.i32And).i32(5).op(W.i32Shl).op(W.i32Or).op(W.else);
      b.get(WHY).i32(0xff).op(W.i32And).op(W.end, W.end);
      b.op(W.i32Store, 2).u(FCSR_SLOT);
      if (op !== 1) b.op(W.end);
      rdAddr(); b.get(PG).op(W.i64ExtendI32U); store(); next();
    };
    switch (WOPS[i]) {
      case Op.ILLEGAL: before(Exit.UNSUPPORTED); break;
      case Op.NOP: next(); break;
      // ecall retires and leaves with the pc after it (Exit.SYSCALL).
      case Op.ECALL: pc64(); len64(); b.op(W.i64Add).set(NPC); exit(Exit.SYSCALL); break;
      case Op.FENCE: b.op(0xfe, 0x03, 0x00); next(); break; // atomic.fence
      case Op.END:
        b.get(K).i32(1).op(W.i32Sub).set(K);
        pc64().set(A); b.i32(0).set(T); b.op(W.br).u(toJump);
        break;
      case Op.LUI: alu(() => imm64()); break;
      case Op.AUIPC: alu(() => { pc64(); imm64(); b.op(W.i64Add); }); break;
      case Op.JAL:
        pc64(); imm64(); b.op(W.i64Add).set(A);
        rdAddr(); pc64(); len64(); b.op(W.i64Add); store();
        aux().set(T);
        b.op(W.br).u(toJump);
        break;
      case Op.JALR:
        rs1(); imm64(); b.op(W.i64Add).i64(-2).op(W.i64And).set(A);
        rdAddr(); pc64(); len64(); b.op(W.i64Add); store();
        b.i32(0).set(T);
        b.op(W.br).u(toJump);
        break;
      case Op.BEQ: branch(W.i64Eq); break;
      case Op.BNE: branch(W.i64Ne); break;
      case Op.BLT: branch(W.i64LtS); break;
      case Op.BGE: branch(W.i64GeS); break;
      case Op.BLTU: branch(W.i64LtU); break;
      case Op.BGEU: branch(W.i64GeU); break;
      case Op.LB: load(1, W.i64Load8S, 0); break;
      case Op.LH: load(2, W.i64Load16S, 0); break;
      case Op.LW: load(4, W.i64Load32S, 0); break;
      case Op.LD: load(8, W.i64Load, 0); break;
      case Op.LBU: load(1, W.i64Load8U, 0); break;
      case Op.LHU: load(2, W.i64Load16U, 0); break;
      case Op.LWU: load(4, W.i64Load32U, 0); break;
      case Op.SB: st(1, W.i64Store8, 0); break;
      case Op.SH: st(2, W.i64Store16, 0); break;
      case Op.SW: st(4, W.i64Store32, 0); break;
      case Op.SD: st(8, W.i64Store, 0); break;
      case Op.ADDI: alu(() => { rs1(); imm64(); b.op(W.i64Add); }); break;
      case Op.SLTI: alu(() => { rs1(); imm64(); b.op(W.i64LtS, W.i64ExtendI32U); }); break;
      case Op.SLTIU: alu(() => { rs1(); imm64(); b.op(W.i64LtU, W.i64ExtendI32U); }); break;
      case Op.XORI: alu(() => { rs1(); imm64(); b.op(W.i64Xor); }); break;
      case Op.ORI: alu(() => { rs1(); imm64(); b.op(W.i64Or); }); break;
      case Op.ANDI: alu(() => { rs1(); imm64(); b.op(W.i64And); }); break;
      case Op.SLLI: alu(() => { rs1(); imm64(); b.op(W.i64Shl); }); break;
      case Op.SRLI: alu(() => { rs1(); imm64(); b.op(W.i64ShrU); }); break;
      case Op.SRAI: alu(() => { rs1(); imm64(); b.op(W.i64ShrS); }); break;
      case Op.ADDIW: aluW(() => { rs1(); imm64(); b.op(W.i64Add); }); break;
      case Op.SLLIW: aluW(() => { r1(); b.get(IMM).op(W.i32Shl, W.i64ExtendI32U); }); break;
      case Op.SRLIW: aluW(() => { r1(); b.get(IMM).op(W.i32ShrU, W.i64ExtendI32U); }); break;
      case Op.SRAIW: aluW(() => { r1(); b.get(IMM).op(W.i32ShrS, W.i64ExtendI32U); }); break;
      case Op.ADD: alu(() => { rs1(); rs2(); b.op(W.i64Add); }); break;
      case Op.SUB: alu(() => { rs1(); rs2(); b.op(W.i64Sub); }); break;
      case Op.SLL: alu(() => { rs1(); rs2(); b.op(W.i64Shl); }); break;
      case Op.SLT: alu(() => { rs1(); rs2(); b.op(W.i64LtS, W.i64ExtendI32U); }); break;
      case Op.SLTU: alu(() => { rs1(); rs2(); b.op(W.i64LtU, W.i64ExtendI32U); }); break;
      case Op.XOR: alu(() => { rs1(); rs2(); b.op(W.i64Xor); }); break;
      case Op.SRL: alu(() => { rs1(); rs2(); b.op(W.i64ShrU); }); break;
      case Op.SRA: alu(() => { rs1(); rs2(); b.op(W.i64ShrS); }); break;
      case Op.OR: alu(() => { rs1(); rs2(); b.op(W.i64Or); }); break;
      case Op.AND: alu(() => { rs1(); rs2(); b.op(W.i64And); }); break;
      case Op.ADDW: aluW(() => { rs1(); rs2(); b.op(W.i64Add); }); break;
      case Op.SUBW: aluW(() => { rs1(); rs2(); b.op(W.i64Sub); }); break;
      case Op.SLLW: aluW(() => { r1(); r2(); b.op(W.i32Shl, W.i64ExtendI32U); }); break;
      case Op.SRLW: aluW(() => { r1(); r2(); b.op(W.i32ShrU, W.i64ExtendI32U); }); break;
      case Op.SRAW: aluW(() => { r1(); r2(); b.op(W.i32ShrS, W.i64ExtendI32U); }); break;
      case Op.MUL: alu(() => { rs1(); rs2(); b.op(W.i64Mul); }); break;
      case Op.MULW: aluW(() => { rs1(); rs2(); b.op(W.i64Mul); }); break;
      // The high halves (wasm-alu.ts): rs1 in A, rs2 in M1, scratch M2 and M3.
      case Op.MULH: alu(() => { rs1().set(A); rs2().set(M1); emitMulHigh(b, 'mulh', A, M1, M2, M3); }); break;
      case Op.MULHSU: alu(() => { rs1().set(A); rs2().set(M1); emitMulHigh(b, 'mulhsu', A, M1, M2, M3); }); break;
      case Op.MULHU: alu(() => { rs1().set(A); rs2().set(M1); emitMulHigh(b, 'mulhu', A, M1, M2, M3); }); break;
      case Op.FLW: access(4, 1, Area.RTAB, () => { rdAddr(); b.get(PG).op(W.i64Load32U, 0, 0); box(); fStore(); }, false); break;
      case Op.FLD: access(8, 1, Area.RTAB, () => { rdAddr(); b.get(PG).op(W.i64Load, 0, 0); fStore(); }, false); break;
      case Op.FSW: st(4, W.i64Store32, 0, frs2); break;
      case Op.FSD: st(8, W.i64Store, 0, frs2); break;
      case Op.FMV_X_W: alu(() => { frs1(); b.op(W.i64Extend32S); }); break;
      case Op.FMV_X_D: alu(() => frs1()); break;
      case Op.FMV_W_X: rdAddr(); rs1(); b.i64(0xffffffff).op(W.i64And); box(); fStore(); next(); break;
      case Op.FMV_D_X: rdAddr(); rs1(); fStore(); next(); break;
      // M's divisions as RISC-V defines them (no traps): x / 0 = -1 (all ones), x % 0 = x, MIN / -1 = MIN
      // (0 - MIN wraps to MIN), MIN % -1 = 0 (what WebAssembly's rem_s gives); W forms sign-extend 32-bit results.
      case Op.DIV:
        rdAddr(); rs2(); b.op(W.i64Eqz, W.if, I64).i64(-1).op(W.else);
        rs2(); b.i64(-1).op(W.i64Eq, W.if, I64).i64(0); rs1(); b.op(W.i64Sub, W.else); rs1(); rs2(); b.op(W.i64DivS, W.end);
        b.op(W.end); store(); next(); break;
      case Op.DIVU: rdAddr(); rs2(); b.op(W.i64Eqz, W.if, I64).i64(-1).op(W.else); rs1(); rs2(); b.op(W.i64DivU, W.end); store(); next(); break;
      case Op.REM: rdAddr(); rs2(); b.op(W.i64Eqz, W.if, I64); rs1(); b.op(W.else); rs1(); rs2(); b.op(W.i64RemS, W.end); store(); next(); break;
      case Op.REMU: rdAddr(); rs2(); b.op(W.i64Eqz, W.if, I64); rs1(); b.op(W.else); rs1(); rs2(); b.op(W.i64RemU, W.end); store(); next(); break;
      case Op.DIVW:
        rdAddr(); r2(); b.op(W.i32Eqz, W.if, I32).i32(-1).op(W.else);
        r2(); b.i32(-1).op(W.i32Eq, W.if, I32).i32(0); r1(); b.op(W.i32Sub, W.else); r1(); r2(); b.op(W.i32DivS, W.end);
        b.op(W.end, W.i64ExtendI32S); store(); next(); break;
      case Op.DIVUW: rdAddr(); r2(); b.op(W.i32Eqz, W.if, I32).i32(-1).op(W.else); r1(); r2(); b.op(W.i32DivU, W.end, W.i64ExtendI32S); store(); next(); break;
      case Op.REMW: rdAddr(); r2(); b.op(W.i32Eqz, W.if, I32); r1(); b.op(W.else); r1(); r2(); b.op(W.i32RemS, W.end, W.i64ExtendI32S); store(); next(); break;
      case Op.REMUW: rdAddr(); r2(); b.op(W.i32Eqz, W.if, I32); r1(); b.op(W.else); r1(); r2(); b.op(W.i32RemU, W.end, W.i64ExtendI32S); store(); next(); break;
      // amoswap/add/xor/and/or (.w: the i32 form, 0x41/0x1e/0x3a/0x2c/0x33; .d: the next opcode, i64).
      case Op.AMOSWAP_W: amo(4, 0x41); break;
      case Op.AMOADD_W: amo(4, 0x1e); break;
      case Op.AMOXOR_W: amo(4, 0x3a); break;
      case Op.AMOAND_W: amo(4, 0x2c); break;
      case Op.AMOOR_W: amo(4, 0x33); break;
      case Op.AMOSWAP_D: amo(8, 0x41); break;
      case Op.AMOADD_D: amo(8, 0x1e); break;
      case Op.AMOXOR_D: amo(8, 0x3a); break;
      case Op.AMOAND_D: amo(8, 0x2c); break;
      case Op.AMOOR_D: amo(8, 0x33); break;
      case Op.LR_W: lr(4); break;
      case Op.SC_W: sc(4); break;
      case Op.LR_D: lr(8); break;
      case Op.SC_D: sc(8); break;
      case Op.CSRRW: csrOp(1, false); break;
      case Op.CSRRS: csrOp(2, false); break;
      case Op.CSRRC: csrOp(3, false); break;
      case Op.CSRRWI: csrOp(1, true); break;
      case Op.CSRRSI: csrOp(2, true); break;
      case Op.CSRRCI: csrOp(3, true); break;
      default:
        if (FP_KIND[WOPS[i]] === 0) throw new Error(`wasm-interp: no case for op ${WOPS[i]}`);
        emitFpCase({ ...fpBase, leave: (d: number) => { before(Exit.UNSUPPORTED, d); }, next: (d: number) => { next(d); } }, WOPS[i]);
    }
  }
  b.op(W.end); // $jump
  // A taken jump to A: into the record T of this block, or a chained block.
  {
    const toL = 0, toOut = 1;
    const exitAt = (why: number, d: number) => { b.get(A).set(NPC).i32(why).set(WHY).op(W.br).u(toOut + d); };
    b.get(K).get(LIMIT).op(W.i32GeS).op(W.if, 0x40);
    exitAt(Exit.LIMIT, 1);
    b.op(W.end);
    b.get(T).op(W.if, 0x40);
    // A backward jump inside the block: heat + LOOP_HEAT, and back to the run loop at the promotion's heat.
    b.get(T).get(REC).i32(16).op(W.i32Sub).op(W.i32LeU).op(W.if, 0x40);
    b.get(HDR).get(HDR).op(W.i32Load, 2, 0).i32(5).op(W.i32Add).tee(PG).op(W.i32Store, 2, 0);
    // ... and its trips (the header's fourth word): what the heat holds beside them is its entries (Cpu.shortRuns).
    b.get(HDR).get(HDR).op(W.i32Load, 2, 12).i32(1).op(W.i32Add).op(W.i32Store, 2, 12);
    b.get(PG).get(PROMOTE).op(W.i32GeS).op(W.if, 0x40);
    exitAt(Exit.LIMIT, 3);
    b.op(W.end);
    b.op(W.end);
    b.get(T).set(REC).op(W.br).u(toL + 1);
    b.op(W.end);
    // Chaining: the table entry for A's low word (A below 2^32); on a miss, the import lk (the Cpu's
    // block there, its records and entry written: its header, or 0 to leave; told the block jumping).
    b.get(A).i64(32).op(W.i64ShrU).op(W.i64Eqz).op(W.if, 0x40);
    b.get(A).op(W.i32WrapI64).tee(PG).i32(1).op(W.i32ShrU).i32((1 << Area.CHAIN_BITS) - 1).op(W.i32And).i32(4).op(W.i32Shl);
    areaAt(b, Area.CHAIN);
    b.tee(T).op(W.i32Load, 2, 0).get(PG).op(W.i32Eq);
    b.get(T).op(W.i32Load, 2, 8).get(EPOCH).op(W.i32Eq).op(W.i32And);
    b.op(W.if, I32);
    b.get(T).op(W.i32Load, 2, 4);
    b.op(W.else);
    b.get(PG).get(HDR).op(W.call).u(2);
    b.op(W.end).tee(T);
    b.op(W.if, 0x40);
    // The block jumping links to it: the target's number into the jumping block's link word (Tier0Wasm.sync makes it Block.next).
    b.get(HDR).get(T).op(W.i32Load, 2).u(8).op(W.i32Store, 2).u(4);
    // The block's heat (its header) + 1; at the promotion's heat, back to the run loop (which promotes it).
    b.get(T).get(T).op(W.i32Load, 2, 0).i32(1).op(W.i32Add).tee(PG).op(W.i32Store, 2, 0);
    b.get(PG).get(PROMOTE).op(W.i32GeS).op(W.if, 0x40);
    exitAt(Exit.JUMP, 3);
    b.op(W.end);
    b.get(T).tee(HDR).i32(16).op(W.i32Add).set(REC);
    b.op(W.br).u(toL + 2);
    b.op(W.end);
    b.op(W.end);
    exitAt(Exit.JUMP, 0);
  }
  b.op(W.end); // $L
  b.op(W.end); // $out
  b.get(XS).get(NPC).op(W.i64Store, 3).u(264);
  b.get(XS).get(WHY).op(W.i32Store, 2).u(280);
  b.get(XS).get(A).op(W.i64Store, 3).u(272);
  b.get(K);
  return moduleBytes({
    memoryPages,
    imports: [
      { name: 'pf', type: { params: [I32, I32, I32], results: [I32] } },
      { name: 'cw', type: { params: [I32, I32], results: [I32] } },
      { name: 'lk', type: { params: [I32, I32], results: [I32] } },
      { name: 'fx', type: FX_TYPE },
    ],
    type: { params: [I32, I32, I32, I32, I32], results: [I32] },
    locals: [I32, I32, I32, I64, I32, I32, I32, I64, I32, I64, I64, I64, ...FP_LOCALS],
    body: b,
  });
}
