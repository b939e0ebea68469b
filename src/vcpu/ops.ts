// What the two execution tiers share about decoded instructions: the small
// integer opcode of every mnemonic, the instruction classes both tiers treat
// alike, and tier 0's pre-decoded block form.
//
// Pre-decoded form (contract between cpu.ts, which builds it, interp.ts,
// which runs it, and the promotion to compiled code, which reads it back):
// one Int32Array per block, STRIDE ints per instruction, fields at the
// offsets of `Field`:
//   OP   the Op to execute (Op.NOP for an instruction that only writes x0),
//        with rd, rs1 and rs2 packed above it: op | rd << 8 | rs1 << 13 |
//        rs2 << 18 (tier 0 reads one int per instruction; OP_MASK takes the Op)
//   RD, RS1, RS2, IMM  as in decode.ts's Insn
//   AUX  rs3 (fused multiply-add), the CSR number (Zicsr), the AMO kind
//        (index in AMO_OPS), the in-block target of a branch or jal (its
//        instruction's offset in this array, or -1 when outside the block),
//        or, for Op.NOP, the Op it stands for
//   RM   the rounding-mode field (F/D), the CSR kind (CSR_KIND), the AMO size,
//        the access size in bytes of a load or store
//   POS  offset of the instruction from the block's first pc | length << 16
// After the last instruction comes one Op.END record whose POS offset is the
// block's end: reaching it leaves the block there. The form holds everything
// of the Insn records it came from (toInsns gives them back), so a block can
// be compiled later without decoding its bytes again.

import { Dec, decodeInto, MNEMONICS, type Insn } from './decode.js';
import { Flag, Limit, PAGE_SHIFT, PAGE_SIZE } from './memory.js';

export const enum Op {
  ILLEGAL, LUI, AUIPC, JAL, JALR, BEQ, BNE, BLT, BGE, BLTU, BGEU, LB, LH, LW, LD, LBU, LHU, LWU, SB, SH, SW,
  SD, ADDI, SLTI, SLTIU, XORI, ORI, ANDI, SLLI, SRLI, SRAI, ADDIW, SLLIW, SRLIW, SRAIW, ADD, SUB, SLL, SLT,
  SLTU, XOR, SRL, SRA, OR, AND, MUL, MULH, MULHSU, MULHU, DIV, DIVU, REM, REMU, ADDW, SUBW, SLLW, SRLW, SRAW,
  MULW, DIVW, DIVUW, REMW, REMUW, FENCE, FENCE_I, ECALL, EBREAK, CSRRW, CSRRS, CSRRC, CSRRWI, CSRRSI, CSRRCI,
  LR_W, SC_W, AMOSWAP_W, AMOADD_W, AMOXOR_W, AMOAND_W, AMOOR_W, AMOMIN_W, AMOMAX_W, AMOMINU_W, AMOMAXU_W,
  LR_D, SC_D, AMOSWAP_D, AMOADD_D, AMOXOR_D, AMOAND_D, AMOOR_D, AMOMIN_D, AMOMAX_D, AMOMINU_D, AMOMAXU_D, FLW,
  FLD, FSW, FSD, FMADD_S, FMSUB_S, FNMSUB_S, FNMADD_S, FMADD_D, FMSUB_D, FNMSUB_D, FNMADD_D, FADD_S, FSUB_S,
  FMUL_S, FDIV_S, FSQRT_S, FSGNJ_S, FSGNJN_S, FSGNJX_S, FMIN_S, FMAX_S, FCVT_W_S, FCVT_WU_S, FCVT_L_S,
  FCVT_LU_S, FMV_X_W, FCLASS_S, FEQ_S, FLT_S, FLE_S, FCVT_S_W, FCVT_S_WU, FCVT_S_L, FCVT_S_LU, FMV_W_X, FADD_D,
  FSUB_D, FMUL_D, FDIV_D, FSQRT_D, FSGNJ_D, FSGNJN_D, FSGNJX_D, FMIN_D, FMAX_D, FCVT_S_D, FCVT_D_S, FEQ_D,
  FLT_D, FLE_D, FCLASS_D, FCVT_W_D, FCVT_WU_D, FCVT_L_D, FCVT_LU_D, FCVT_D_W, FCVT_D_WU, FCVT_D_L, FCVT_D_LU,
  FMV_X_D, FMV_D_X,
  /** An instruction whose only effect is a write to x0; AUX holds its own Op. */
  NOP,
  /** After a block's last instruction: fall through to the block's end. */
  END,
}

const OP_OF_NAME: Record<string, Op> = {
  illegal: Op.ILLEGAL, lui: Op.LUI, auipc: Op.AUIPC, jal: Op.JAL, jalr: Op.JALR, beq: Op.BEQ, bne: Op.BNE,
  blt: Op.BLT, bge: Op.BGE, bltu: Op.BLTU, bgeu: Op.BGEU, lb: Op.LB, lh: Op.LH, lw: Op.LW, ld: Op.LD, lbu: Op.LBU,
  lhu: Op.LHU, lwu: Op.LWU, sb: Op.SB, sh: Op.SH, sw: Op.SW, sd: Op.SD, addi: Op.ADDI, slti: Op.SLTI,
  sltiu: Op.SLTIU, xori: Op.XORI, ori: Op.ORI, andi: Op.ANDI, slli: Op.SLLI, srli: Op.SRLI, srai: Op.SRAI,
  addiw: Op.ADDIW, slliw: Op.SLLIW, srliw: Op.SRLIW, sraiw: Op.SRAIW, add: Op.ADD, sub: Op.SUB, sll: Op.SLL,
  slt: Op.SLT, sltu: Op.SLTU, xor: Op.XOR, srl: Op.SRL, sra: Op.SRA, or: Op.OR, and: Op.AND, mul: Op.MUL,
  mulh: Op.MULH, mulhsu: Op.MULHSU, mulhu: Op.MULHU, div: Op.DIV, divu: Op.DIVU, rem: Op.REM, remu: Op.REMU,
  addw: Op.ADDW, subw: Op.SUBW, sllw: Op.SLLW, srlw: Op.SRLW, sraw: Op.SRAW, mulw: Op.MULW, divw: Op.DIVW,
  divuw: Op.DIVUW, remw: Op.REMW, remuw: Op.REMUW, fence: Op.FENCE, 'fence.i': Op.FENCE_I, ecall: Op.ECALL,
  ebreak: Op.EBREAK, csrrw: Op.CSRRW, csrrs: Op.CSRRS, csrrc: Op.CSRRC, csrrwi: Op.CSRRWI, csrrsi: Op.CSRRSI,
  csrrci: Op.CSRRCI, 'lr.w': Op.LR_W, 'sc.w': Op.SC_W, 'amoswap.w': Op.AMOSWAP_W, 'amoadd.w': Op.AMOADD_W,
  'amoxor.w': Op.AMOXOR_W, 'amoand.w': Op.AMOAND_W, 'amoor.w': Op.AMOOR_W, 'amomin.w': Op.AMOMIN_W,
  'amomax.w': Op.AMOMAX_W, 'amominu.w': Op.AMOMINU_W, 'amomaxu.w': Op.AMOMAXU_W, 'lr.d': Op.LR_D, 'sc.d': Op.SC_D,
  'amoswap.d': Op.AMOSWAP_D, 'amoadd.d': Op.AMOADD_D, 'amoxor.d': Op.AMOXOR_D, 'amoand.d': Op.AMOAND_D,
  'amoor.d': Op.AMOOR_D, 'amomin.d': Op.AMOMIN_D, 'amomax.d': Op.AMOMAX_D, 'amominu.d': Op.AMOMINU_D,
  'amomaxu.d': Op.AMOMAXU_D, flw: Op.FLW, fld: Op.FLD, fsw: Op.FSW, fsd: Op.FSD, 'fmadd.s': Op.FMADD_S,
  'fmsub.s': Op.FMSUB_S, 'fnmsub.s': Op.FNMSUB_S, 'fnmadd.s': Op.FNMADD_S, 'fmadd.d': Op.FMADD_D,
  'fmsub.d': Op.FMSUB_D, 'fnmsub.d': Op.FNMSUB_D, 'fnmadd.d': Op.FNMADD_D, 'fadd.s': Op.FADD_S,
  'fsub.s': Op.FSUB_S, 'fmul.s': Op.FMUL_S, 'fdiv.s': Op.FDIV_S, 'fsqrt.s': Op.FSQRT_S, 'fsgnj.s': Op.FSGNJ_S,
  'fsgnjn.s': Op.FSGNJN_S, 'fsgnjx.s': Op.FSGNJX_S, 'fmin.s': Op.FMIN_S, 'fmax.s': Op.FMAX_S,
  'fcvt.w.s': Op.FCVT_W_S, 'fcvt.wu.s': Op.FCVT_WU_S, 'fcvt.l.s': Op.FCVT_L_S, 'fcvt.lu.s': Op.FCVT_LU_S,
  'fmv.x.w': Op.FMV_X_W, 'fclass.s': Op.FCLASS_S, 'feq.s': Op.FEQ_S, 'flt.s': Op.FLT_S, 'fle.s': Op.FLE_S,
  'fcvt.s.w': Op.FCVT_S_W, 'fcvt.s.wu': Op.FCVT_S_WU, 'fcvt.s.l': Op.FCVT_S_L, 'fcvt.s.lu': Op.FCVT_S_LU,
  'fmv.w.x': Op.FMV_W_X, 'fadd.d': Op.FADD_D, 'fsub.d': Op.FSUB_D, 'fmul.d': Op.FMUL_D, 'fdiv.d': Op.FDIV_D,
  'fsqrt.d': Op.FSQRT_D, 'fsgnj.d': Op.FSGNJ_D, 'fsgnjn.d': Op.FSGNJN_D, 'fsgnjx.d': Op.FSGNJX_D,
  'fmin.d': Op.FMIN_D, 'fmax.d': Op.FMAX_D, 'fcvt.s.d': Op.FCVT_S_D, 'fcvt.d.s': Op.FCVT_D_S, 'feq.d': Op.FEQ_D,
  'flt.d': Op.FLT_D, 'fle.d': Op.FLE_D, 'fclass.d': Op.FCLASS_D, 'fcvt.w.d': Op.FCVT_W_D, 'fcvt.wu.d': Op.FCVT_WU_D,
  'fcvt.l.d': Op.FCVT_L_D, 'fcvt.lu.d': Op.FCVT_LU_D, 'fcvt.d.w': Op.FCVT_D_W, 'fcvt.d.wu': Op.FCVT_D_WU,
  'fcvt.d.l': Op.FCVT_D_L, 'fcvt.d.lu': Op.FCVT_D_LU, 'fmv.x.d': Op.FMV_X_D, 'fmv.d.x': Op.FMV_D_X,
};

/** Mnemonic of each Op (index = Op). */
export const OP_NAMES: readonly string[] = (() => {
  const names: string[] = [];
  for (const [name, op] of Object.entries(OP_OF_NAME)) names[op] = name;
  names[Op.NOP] = 'nop';
  names[Op.END] = 'end';
  return names;
})();
for (const m of MNEMONICS) if (OP_OF_NAME[m] === undefined) throw new Error(`ops.ts: no Op for ${m}`);

/** The Op of a mnemonic from decode.ts. */
export function opOf(name: string): Op {
  return OP_OF_NAME[name];
}

/** Ops that only write rd (no memory, no trap): with rd = x0 they are no-ops. */
export const PURE: ReadonlySet<string> = new Set([
  'lui', 'auipc', 'addi', 'slti', 'sltiu', 'xori', 'ori', 'andi', 'slli', 'srli', 'srai', 'addiw', 'slliw', 'srliw',
  'sraiw', 'add', 'sub', 'sll', 'slt', 'sltu', 'xor', 'srl', 'sra', 'or', 'and', 'addw', 'subw', 'sllw', 'srlw', 'sraw',
  'mul', 'mulh', 'mulhsu', 'mulhu', 'div', 'divu', 'rem', 'remu', 'mulw', 'divw', 'divuw', 'remw', 'remuw',
  'fmv.x.w', 'fmv.x.d',
]);

/** F/D instructions with a rounding-mode field: rm 7 (dynamic) with a reserved frm in fcsr is SIGILL. */
export const FP_RM_OPS: ReadonlySet<string> = new Set([
  'fadd.s', 'fsub.s', 'fmul.s', 'fdiv.s', 'fsqrt.s', 'fadd.d', 'fsub.d', 'fmul.d', 'fdiv.d', 'fsqrt.d',
  'fmadd.s', 'fmsub.s', 'fnmsub.s', 'fnmadd.s', 'fmadd.d', 'fmsub.d', 'fnmsub.d', 'fnmadd.d',
  'fcvt.w.s', 'fcvt.wu.s', 'fcvt.l.s', 'fcvt.lu.s', 'fcvt.s.w', 'fcvt.s.wu', 'fcvt.s.l', 'fcvt.s.lu',
  'fcvt.w.d', 'fcvt.wu.d', 'fcvt.l.d', 'fcvt.lu.d', 'fcvt.d.w', 'fcvt.d.wu', 'fcvt.d.l', 'fcvt.d.lu',
  'fcvt.s.d', 'fcvt.d.s',
]);

/** Fused multiply-adds: the only instructions with rs3. */
const R4_OPS: ReadonlySet<string> = new Set(['fmadd.s', 'fmsub.s', 'fnmsub.s', 'fnmadd.s', 'fmadd.d', 'fmsub.d', 'fnmsub.d', 'fnmadd.d']);

/** The bytes each load and store accesses. */
const ACCESS_SIZE: Readonly<Record<string, number>> = {
  lb: 1, lbu: 1, lh: 2, lhu: 2, lw: 4, lwu: 4, ld: 8, flw: 4, fld: 8, sb: 1, sh: 2, sw: 4, sd: 8, fsw: 4, fsd: 8,
};

/** Mnemonics after which control never falls through to the next instruction. */
export const ENDS_BLOCK: ReadonlySet<string> = new Set(['illegal', 'jal', 'jalr', 'fence.i', 'ecall', 'ebreak']);

/** Conditional branches (they end neither a block nor a tier-0 run of one). */
export const BRANCHES: ReadonlySet<string> = new Set(['beq', 'bne', 'blt', 'bge', 'bltu', 'bgeu']);

/** The kinds Cpu.amo() takes, by mnemonic stem. */
export const AMO_OPS: readonly string[] = ['lr', 'sc', 'amoswap', 'amoadd', 'amoxor', 'amoand', 'amoor', 'amomin', 'amomax', 'amominu', 'amomaxu'];

/** The kinds Cpu.csr() takes. */
export const CSR_KIND: Readonly<Record<string, number>> = { csrrw: 1, csrrs: 2, csrrc: 3, csrrwi: 5, csrrsi: 6, csrrci: 7 };

/**
 * Sizes tier 0 uses per instruction or per jump, as a const enum so that
 * they are literals in interp.ts (see memory.ts `Flag`): CHUNK is
 * LOOP_CHUNK, STRIDE is STRIDE.
 */
export const enum Tier0 { CHUNK = 16384, STRIDE = 8 }

/** A block looping inside itself returns to the run loop (budget, interrupt) after about this many instructions. */
export const LOOP_CHUNK: number = Tier0.CHUNK;

/**
 * The Cpu's direct-mapped block cache (cpu.ts) has 2^BITS entries, indexed
 * by (pc >>> 1) & MASK; tier 0 chains through it (interp.ts). A const enum,
 * so that the mask is a literal in the run loop and the interpreter: as an
 * imported binding it was a property load per block dispatch, and coremix
 * fp under `jit` took ~15% more CPU.
 */
export const enum BlockCache { BITS = 14, MASK = (1 << BITS) - 1 }

/** Ints per instruction in the pre-decoded form. */
export const STRIDE: number = Tier0.STRIDE;
/** The Op in a record's OP field (the registers are packed above it). */
export const OP_MASK = 0xff;
/** Field offsets of one pre-decoded instruction (see the file comment). */
export const enum Field { OP, RD, RS1, RS2, IMM, AUX, RM, POS }

/** How a record's AUX and RM are filled for an Op. */
const enum Kind { Plain, Csr, R4, Amo, Access, Jump }

// decode.ts's mnemonic numbers are the Ops, and its fields lie where the records' are: decodeInto writes into a record, which is then finished in place.
MNEMONICS.forEach((m, k) => { if (OP_OF_NAME[m] !== k + 1) throw new Error(`ops.ts: the Op of ${m} is not its mnemonic number`); });
if ((Dec.RD as number) !== Field.RD || (Dec.RS1 as number) !== Field.RS1 || (Dec.RS2 as number) !== Field.RS2 || (Dec.IMM as number) !== Field.IMM ||
  (Dec.X as number) !== Field.AUX || (Dec.RM as number) !== Field.RM || (Dec.LEN as number) !== Field.POS || (Dec.SIZE as number) !== Tier0.STRIDE) throw new Error('ops.ts: decode.ts fields moved');

/** Per Op (index = Op, looked up once per instruction: block building is on the cold path of every new block): its Kind, its RM and AUX where fixed, whether it is PURE, whether it ENDS_BLOCK. */
const KIND = new Uint8Array(Op.END + 1), FIXED_RM = new Int32Array(Op.END + 1), FIXED_AUX = new Int32Array(Op.END + 1);
const IS_PURE = new Uint8Array(Op.END + 1), ENDS = new Uint8Array(Op.END + 1);
for (const [name, op] of Object.entries(OP_OF_NAME)) {
  let kind = Kind.Plain, rm = 0, aux = 0;
  if (CSR_KIND[name] !== undefined) { kind = Kind.Csr; rm = CSR_KIND[name]; }
  else if (R4_OPS.has(name)) kind = Kind.R4;
  else if (op >= Op.LR_W && op <= Op.AMOMAXU_D) { kind = Kind.Amo; aux = AMO_OPS.indexOf(name.split('.')[0]); rm = name.endsWith('.d') ? 8 : 4; }
  else if (ACCESS_SIZE[name] !== undefined) { kind = Kind.Access; rm = ACCESS_SIZE[name]; }
  else if (name === 'jal' || BRANCHES.has(name)) kind = Kind.Jump;
  else aux = -1;
  KIND[op] = kind; FIXED_RM[op] = rm; FIXED_AUX[op] = aux;
  IS_PURE[op] = PURE.has(name) ? 1 : 0;
  ENDS[op] = ENDS_BLOCK.has(name) ? 1 : 0;
}

/**
 * Turn the fields decode.ts left at code[o..] (Op in OP, rs3 or the CSR in
 * AUX, the length in POS) into the record of an instruction at `offset`
 * from the block's start; a jump's in-block target is left -1 (linkJumps).
 * Returns the length.
 */
function finishRecord(code: Int32Array, o: number, offset: number): number {
  let op = code[o + Field.OP], aux = code[o + Field.AUX], rm = code[o + Field.RM];
  const rd = code[o + Field.RD], len = code[o + Field.POS];
  switch (KIND[op]) {
    case Kind.Csr: rm = FIXED_RM[op]; break;
    case Kind.R4: break;
    case Kind.Amo: case Kind.Access: aux = FIXED_AUX[op]; rm = FIXED_RM[op]; break;
    default: aux = -1;
  }
  if (rd === 0 && IS_PURE[op] === 1) { aux = op; op = Op.NOP; }
  code[o + Field.OP] = op | (rd << 8) | (code[o + Field.RS1] << 13) | (code[o + Field.RS2] << 18);
  code[o + Field.AUX] = aux;
  code[o + Field.RM] = rm;
  code[o + Field.POS] = offset | (len << 16);
  return len;
}

/** Close the block of `n` records at code[0..] ending `end` bytes after its start: its END record, and the in-block targets of its jumps. */
function closeBlock(code: Int32Array, n: number, end: number): void {
  const last = n * Tier0.STRIDE;
  code[last + Field.OP] = Op.END;
  for (let f = 1; f < Tier0.STRIDE; f++) code[last + f] = 0;
  code[last + Field.POS] = end;
  for (let o = 0; o < last; o += Tier0.STRIDE) {
    if (KIND[code[o + Field.OP] & OP_MASK] !== Kind.Jump) continue;
    // The target's record offset when it is one of the block's own instructions (they lie in order), else -1.
    const target = (code[o + Field.POS] & 0xffff) + code[o + Field.IMM];
    let aux = -1;
    if (target >= 0 && target < end) for (let k = 0; k < last; k += Tier0.STRIDE) if ((code[k + Field.POS] & 0xffff) === target) { aux = k; break; }
    code[o + Field.AUX] = aux;
  }
}

/** The pre-decoded form of the instructions `insns` at `pcs` (ascending, from pcs[0]), ending at `end`. */
export function predecode(insns: Insn[], pcs: number[], end: number): Int32Array {
  const n = insns.length, base = pcs[0];
  const code = new Int32Array((n + 1) * STRIDE);
  for (let j = 0; j < n; j++) {
    const i = insns[j], o = j * STRIDE;
    code[o + Field.OP] = opOf(i.op);
    code[o + Field.RD] = i.rd;
    code[o + Field.RS1] = i.rs1;
    code[o + Field.RS2] = i.rs2;
    code[o + Field.IMM] = i.imm;
    code[o + Field.AUX] = i.rs3 !== 0 ? i.rs3 : i.csr;
    code[o + Field.RM] = i.rm;
    code[o + Field.POS] = i.len;
    finishRecord(code, o, pcs[j] - base);
  }
  closeBlock(code, n, end - base);
  return code;
}

/** Most instructions in one block. */
export const MAX_BLOCK = 128;

/** memory.ts's PAGE_SHIFT and PAGE_SIZE as literals for predecodeBlock (checked below). */
const enum Page { SHIFT = 12, SIZE = 4096 }
if (PAGE_SHIFT !== (Page.SHIFT as number) || PAGE_SIZE !== (Page.SIZE as number)) throw new Error('ops.ts: the page size moved');

/**
 * Pre-decoded blocks are cut from slabs of this many ints: one array (and
 * one backing store) per block cost ~1 us and most of the collector's work
 * while a program starts (see README.md, "Decision: building blocks
 * without objects"). A block keeps its slab alive.
 */
const SLAB_INTS = 1 << 18;
let slab = new Int32Array(SLAB_INTS), slabUsed = 0;

/** Start a new slab at the next block (warmup-decode.ts: so that V8 has seen it done before a program needs it). */
export function retireSlab(): void {
  slabUsed = slab.length;
}

/**
 * Decode the block at `pc` from `u8` (page flags `pf`): instructions up to
 * `max`, stopping after one that ENDS_BLOCK, before a parcel not on an
 * executable page, or at a page end. Its pre-decoded form (a view of a
 * slab, read-only from then on), or null when the first instruction cannot
 * be fetched.
 */
export function predecodeBlock(u8: Uint8Array, pf: Uint8Array, pc: number, max: number): Int32Array | null {
  // Literals throughout (const enums): a constant imported from another module was a property load each time, the most of this loop's time.
  if (slab.length - slabUsed < (max + 1) * Tier0.STRIDE) { slab = new Int32Array(SLAB_INTS); slabUsed = 0; }
  const code = slab, start = slabUsed, pageEnd = (Math.floor(pc / Page.SIZE) + 1) * Page.SIZE;
  let p = pc, o = start, n = 0;
  for (;;) {
    if (!(p >= 0 && p < Limit.GUEST_VA - 1 && (pf[p >>> Page.SHIFT] & Flag.X) !== 0)) break;
    const lo = u8[p] | (u8[p + 1] << 8);
    let hi = 0;
    if ((lo & 3) === 3) {
      if (!(p + 2 < Limit.GUEST_VA - 1 && (pf[(p + 2) >>> Page.SHIFT] & Flag.X) !== 0)) break;
      hi = u8[p + 2] | (u8[p + 3] << 8);
    }
    decodeInto(lo, hi, code, o);
    const op = code[o + Field.OP];
    p += finishRecord(code, o, p - pc);
    n++;
    o += Tier0.STRIDE;
    if (ENDS[op] === 1 || n >= max || p >= pageEnd) break;
  }
  if (n === 0) return null;
  const block = code.subarray(start, o + Tier0.STRIDE);
  closeBlock(block, n, p - pc);
  slabUsed = o + Tier0.STRIDE;
  return block;
}

/** The Insn records and their pcs back from a pre-decoded block starting at `base`. */
export function toInsns(code: Int32Array, base: number): { insns: Insn[]; pcs: number[] } {
  const insns: Insn[] = [], pcs: number[] = [];
  for (let o = 0; (code[o + Field.OP] & OP_MASK) !== Op.END; o += STRIDE) {
    const raw = code[o + Field.OP] & OP_MASK;
    const op = OP_NAMES[raw === Op.NOP ? code[o + Field.AUX] : raw];
    const aux = code[o + Field.AUX], pos = code[o + Field.POS];
    const isCsr = CSR_KIND[op] !== undefined;
    insns.push({
      op, rd: code[o + Field.RD], rs1: code[o + Field.RS1], rs2: code[o + Field.RS2], imm: code[o + Field.IMM],
      rs3: R4_OPS.has(op) ? aux : 0, rm: FP_RM_OPS.has(op) ? code[o + Field.RM] : 0, csr: isCsr ? aux : 0, len: pos >>> 16,
    });
    pcs.push(base + (pos & 0xffff));
  }
  return { insns, pcs };
}
