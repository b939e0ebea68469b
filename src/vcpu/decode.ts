// RV64GC instruction decoding.
//
// Contract:
// - decode(lo16, hi16) turns the raw parcels at a pc into one `Insn` record,
//   or an Insn with op 'illegal' for every encoding this CPU does not
//   implement (reserved, unknown, all-zero). It never throws.
//   decodeInto(lo16, hi16, f, o) is the same decoder writing the record's
//   fields as integers into f[o..o+8) (`Dec`), for block building.
// - 32-bit instructions are recognised from one table of (mask, match) rows,
//   grouped by major opcode. Compressed instructions are expanded, at decode
//   time, into the very same records their 32-bit equivalents produce
//   (len 2 instead of 4), so the code generator knows only base forms.
// - Decoding happens once per block build: not on the hot path, but on the
//   path of every new block of a cold start (see README.md, "Decision:
//   building blocks without objects").

/** Operand layouts of the decode table. */
const enum Fmt {
  None, R, I, S, B, U, J, Sh6, Sh5, Csr, CsrI, R4, FR, Amo,
}

/**
 * decodeInto's fields, in this order (ops.ts lays its pre-decoded records
 * over them): MN the mnemonic number (index in MNEMONICS + 1; 0 for
 * 'illegal'), RD, RS1, RS2, IMM as in Insn, X rs3 (fused multiply-add) or
 * the CSR number (Zicsr) (no format has both), RM, LEN.
 */
export const enum Dec { MN, RD, RS1, RS2, IMM, X, RM, LEN, SIZE }

/** One decoded instruction. Fields a format does not use are 0. */
export interface Insn {
  /** Mnemonic in lower case with dots ('add', 'fadd.d', 'amoswap.w', 'illegal'). */
  op: string;
  rd: number;
  rs1: number;
  rs2: number;
  rs3: number;
  /** Sign-extended immediate (shift amount, CSR-immediate uimm for the *i CSR forms). */
  imm: number;
  /** Rounding-mode field of FP instructions (7 = dynamic). */
  rm: number;
  /** CSR number for Zicsr instructions. */
  csr: number;
  /** 2 (compressed) or 4. */
  len: number;
}

type Row = [name: string, mask: number, match: number, fmt: Fmt];

// (mask, match) values follow the RISC-V unprivileged ISA encoding tables.
const ROWS: Row[] = [
  ['lui', 0x7f, 0x37, Fmt.U],
  ['auipc', 0x7f, 0x17, Fmt.U],
  ['jal', 0x7f, 0x6f, Fmt.J],
  ['jalr', 0x707f, 0x67, Fmt.I],
  ['beq', 0x707f, 0x0063, Fmt.B],
  ['bne', 0x707f, 0x1063, Fmt.B],
  ['blt', 0x707f, 0x4063, Fmt.B],
  ['bge', 0x707f, 0x5063, Fmt.B],
  ['bltu', 0x707f, 0x6063, Fmt.B],
  ['bgeu', 0x707f, 0x7063, Fmt.B],
  ['lb', 0x707f, 0x0003, Fmt.I],
  ['lh', 0x707f, 0x1003, Fmt.I],
  ['lw', 0x707f, 0x2003, Fmt.I],
  ['ld', 0x707f, 0x3003, Fmt.I],
  ['lbu', 0x707f, 0x4003, Fmt.I],
  ['lhu', 0x707f, 0x5003, Fmt.I],
  ['lwu', 0x707f, 0x6003, Fmt.I],
  ['sb', 0x707f, 0x0023, Fmt.S],
  ['sh', 0x707f, 0x1023, Fmt.S],
  ['sw', 0x707f, 0x2023, Fmt.S],
  ['sd', 0x707f, 0x3023, Fmt.S],
  ['addi', 0x707f, 0x0013, Fmt.I],
  ['slti', 0x707f, 0x2013, Fmt.I],
  ['sltiu', 0x707f, 0x3013, Fmt.I],
  ['xori', 0x707f, 0x4013, Fmt.I],
  ['ori', 0x707f, 0x6013, Fmt.I],
  ['andi', 0x707f, 0x7013, Fmt.I],
  ['slli', 0xfc00707f, 0x1013, Fmt.Sh6],
  ['srli', 0xfc00707f, 0x5013, Fmt.Sh6],
  ['srai', 0xfc00707f, 0x40005013, Fmt.Sh6],
  ['addiw', 0x707f, 0x001b, Fmt.I],
  ['slliw', 0xfe00707f, 0x101b, Fmt.Sh5],
  ['srliw', 0xfe00707f, 0x501b, Fmt.Sh5],
  ['sraiw', 0xfe00707f, 0x4000501b, Fmt.Sh5],
  ['add', 0xfe00707f, 0x0033, Fmt.R],
  ['sub', 0xfe00707f, 0x40000033, Fmt.R],
  ['sll', 0xfe00707f, 0x1033, Fmt.R],
  ['slt', 0xfe00707f, 0x2033, Fmt.R],
  ['sltu', 0xfe00707f, 0x3033, Fmt.R],
  ['xor', 0xfe00707f, 0x4033, Fmt.R],
  ['srl', 0xfe00707f, 0x5033, Fmt.R],
  ['sra', 0xfe00707f, 0x40005033, Fmt.R],
  ['or', 0xfe00707f, 0x6033, Fmt.R],
  ['and', 0xfe00707f, 0x7033, Fmt.R],
  ['mul', 0xfe00707f, 0x02000033, Fmt.R],
  ['mulh', 0xfe00707f, 0x02001033, Fmt.R],
  ['mulhsu', 0xfe00707f, 0x02002033, Fmt.R],
  ['mulhu', 0xfe00707f, 0x02003033, Fmt.R],
  ['div', 0xfe00707f, 0x02004033, Fmt.R],
  ['divu', 0xfe00707f, 0x02005033, Fmt.R],
  ['rem', 0xfe00707f, 0x02006033, Fmt.R],
  ['remu', 0xfe00707f, 0x02007033, Fmt.R],
  ['addw', 0xfe00707f, 0x003b, Fmt.R],
  ['subw', 0xfe00707f, 0x4000003b, Fmt.R],
  ['sllw', 0xfe00707f, 0x103b, Fmt.R],
  ['srlw', 0xfe00707f, 0x503b, Fmt.R],
  ['sraw', 0xfe00707f, 0x4000503b, Fmt.R],
  ['mulw', 0xfe00707f, 0x0200003b, Fmt.R],
  ['divw', 0xfe00707f, 0x0200403b, Fmt.R],
  ['divuw', 0xfe00707f, 0x0200503b, Fmt.R],
  ['remw', 0xfe00707f, 0x0200603b, Fmt.R],
  ['remuw', 0xfe00707f, 0x0200703b, Fmt.R],
  ['fence', 0x707f, 0x000f, Fmt.None],
  ['fence.i', 0x707f, 0x100f, Fmt.None],
  ['ecall', 0xffffffff, 0x00000073, Fmt.None],
  ['ebreak', 0xffffffff, 0x00100073, Fmt.None],
  ['csrrw', 0x707f, 0x1073, Fmt.Csr],
  ['csrrs', 0x707f, 0x2073, Fmt.Csr],
  ['csrrc', 0x707f, 0x3073, Fmt.Csr],
  ['csrrwi', 0x707f, 0x5073, Fmt.CsrI],
  ['csrrsi', 0x707f, 0x6073, Fmt.CsrI],
  ['csrrci', 0x707f, 0x7073, Fmt.CsrI],
  // A: aq/rl (bits 26:25) are ignored; this CPU is sequentially consistent.
  ['lr.w', 0xf9f0707f, 0x1000202f, Fmt.Amo],
  ['sc.w', 0xf800707f, 0x1800202f, Fmt.Amo],
  ['amoswap.w', 0xf800707f, 0x0800202f, Fmt.Amo],
  ['amoadd.w', 0xf800707f, 0x0000202f, Fmt.Amo],
  ['amoxor.w', 0xf800707f, 0x2000202f, Fmt.Amo],
  ['amoand.w', 0xf800707f, 0x6000202f, Fmt.Amo],
  ['amoor.w', 0xf800707f, 0x4000202f, Fmt.Amo],
  ['amomin.w', 0xf800707f, 0x8000202f, Fmt.Amo],
  ['amomax.w', 0xf800707f, 0xa000202f, Fmt.Amo],
  ['amominu.w', 0xf800707f, 0xc000202f, Fmt.Amo],
  ['amomaxu.w', 0xf800707f, 0xe000202f, Fmt.Amo],
  ['lr.d', 0xf9f0707f, 0x1000302f, Fmt.Amo],
  ['sc.d', 0xf800707f, 0x1800302f, Fmt.Amo],
  ['amoswap.d', 0xf800707f, 0x0800302f, Fmt.Amo],
  ['amoadd.d', 0xf800707f, 0x0000302f, Fmt.Amo],
  ['amoxor.d', 0xf800707f, 0x2000302f, Fmt.Amo],
  ['amoand.d', 0xf800707f, 0x6000302f, Fmt.Amo],
  ['amoor.d', 0xf800707f, 0x4000302f, Fmt.Amo],
  ['amomin.d', 0xf800707f, 0x8000302f, Fmt.Amo],
  ['amomax.d', 0xf800707f, 0xa000302f, Fmt.Amo],
  ['amominu.d', 0xf800707f, 0xc000302f, Fmt.Amo],
  ['amomaxu.d', 0xf800707f, 0xe000302f, Fmt.Amo],
  // F and D.
  ['flw', 0x707f, 0x2007, Fmt.I],
  ['fld', 0x707f, 0x3007, Fmt.I],
  ['fsw', 0x707f, 0x2027, Fmt.S],
  ['fsd', 0x707f, 0x3027, Fmt.S],
  ['fmadd.s', 0x0600007f, 0x43, Fmt.R4],
  ['fmsub.s', 0x0600007f, 0x47, Fmt.R4],
  ['fnmsub.s', 0x0600007f, 0x4b, Fmt.R4],
  ['fnmadd.s', 0x0600007f, 0x4f, Fmt.R4],
  ['fmadd.d', 0x0600007f, 0x02000043, Fmt.R4],
  ['fmsub.d', 0x0600007f, 0x02000047, Fmt.R4],
  ['fnmsub.d', 0x0600007f, 0x0200004b, Fmt.R4],
  ['fnmadd.d', 0x0600007f, 0x0200004f, Fmt.R4],
  ['fadd.s', 0xfe00007f, 0x00000053, Fmt.FR],
  ['fsub.s', 0xfe00007f, 0x08000053, Fmt.FR],
  ['fmul.s', 0xfe00007f, 0x10000053, Fmt.FR],
  ['fdiv.s', 0xfe00007f, 0x18000053, Fmt.FR],
  ['fsqrt.s', 0xfff0007f, 0x58000053, Fmt.FR],
  ['fsgnj.s', 0xfe00707f, 0x20000053, Fmt.R],
  ['fsgnjn.s', 0xfe00707f, 0x20001053, Fmt.R],
  ['fsgnjx.s', 0xfe00707f, 0x20002053, Fmt.R],
  ['fmin.s', 0xfe00707f, 0x28000053, Fmt.R],
  ['fmax.s', 0xfe00707f, 0x28001053, Fmt.R],
  ['fcvt.w.s', 0xfff0007f, 0xc0000053, Fmt.FR],
  ['fcvt.wu.s', 0xfff0007f, 0xc0100053, Fmt.FR],
  ['fcvt.l.s', 0xfff0007f, 0xc0200053, Fmt.FR],
  ['fcvt.lu.s', 0xfff0007f, 0xc0300053, Fmt.FR],
  ['fmv.x.w', 0xfff0707f, 0xe0000053, Fmt.R],
  ['fclass.s', 0xfff0707f, 0xe0001053, Fmt.R],
  ['feq.s', 0xfe00707f, 0xa0002053, Fmt.R],
  ['flt.s', 0xfe00707f, 0xa0001053, Fmt.R],
  ['fle.s', 0xfe00707f, 0xa0000053, Fmt.R],
  ['fcvt.s.w', 0xfff0007f, 0xd0000053, Fmt.FR],
  ['fcvt.s.wu', 0xfff0007f, 0xd0100053, Fmt.FR],
  ['fcvt.s.l', 0xfff0007f, 0xd0200053, Fmt.FR],
  ['fcvt.s.lu', 0xfff0007f, 0xd0300053, Fmt.FR],
  ['fmv.w.x', 0xfff0707f, 0xf0000053, Fmt.R],
  ['fadd.d', 0xfe00007f, 0x02000053, Fmt.FR],
  ['fsub.d', 0xfe00007f, 0x0a000053, Fmt.FR],
  ['fmul.d', 0xfe00007f, 0x12000053, Fmt.FR],
  ['fdiv.d', 0xfe00007f, 0x1a000053, Fmt.FR],
  ['fsqrt.d', 0xfff0007f, 0x5a000053, Fmt.FR],
  ['fsgnj.d', 0xfe00707f, 0x22000053, Fmt.R],
  ['fsgnjn.d', 0xfe00707f, 0x22001053, Fmt.R],
  ['fsgnjx.d', 0xfe00707f, 0x22002053, Fmt.R],
  ['fmin.d', 0xfe00707f, 0x2a000053, Fmt.R],
  ['fmax.d', 0xfe00707f, 0x2a001053, Fmt.R],
  ['fcvt.s.d', 0xfff0007f, 0x40100053, Fmt.FR],
  ['fcvt.d.s', 0xfff0007f, 0x42000053, Fmt.FR],
  ['feq.d', 0xfe00707f, 0xa2002053, Fmt.R],
  ['flt.d', 0xfe00707f, 0xa2001053, Fmt.R],
  ['fle.d', 0xfe00707f, 0xa2000053, Fmt.R],
  ['fclass.d', 0xfff0707f, 0xe2001053, Fmt.R],
  ['fcvt.w.d', 0xfff0007f, 0xc2000053, Fmt.FR],
  ['fcvt.wu.d', 0xfff0007f, 0xc2100053, Fmt.FR],
  ['fcvt.l.d', 0xfff0007f, 0xc2200053, Fmt.FR],
  ['fcvt.lu.d', 0xfff0007f, 0xc2300053, Fmt.FR],
  ['fcvt.d.w', 0xfff0007f, 0xd2000053, Fmt.FR],
  ['fcvt.d.wu', 0xfff0007f, 0xd2100053, Fmt.FR],
  ['fcvt.d.l', 0xfff0007f, 0xd2200053, Fmt.FR],
  ['fcvt.d.lu', 0xfff0007f, 0xd2300053, Fmt.FR],
  ['fmv.x.d', 0xfff0707f, 0xe2000053, Fmt.R],
  ['fmv.d.x', 0xfff0707f, 0xf2000053, Fmt.R],
];

/** Rows grouped by major opcode (bits 6:0). */
const BY_OPCODE: number[][] = [];
for (let i = 0; i < 128; i++) BY_OPCODE.push([]);
ROWS.forEach((r, k) => BY_OPCODE[r[2] & 0x7f].push(k));

/** Every mnemonic decode() can produce, besides 'illegal'. */
export const MNEMONICS: readonly string[] = ROWS.map((r) => r[0]);

/** Every 32-bit encoding as (mnemonic, mask, match): a word w is that instruction when (w & mask) === match. */
export const ENCODINGS: readonly (readonly [name: string, mask: number, match: number])[] = ROWS.map((r) => [r[0], r[1], r[2]] as const);

/** The mnemonic number of `name` (its index in MNEMONICS + 1). */
function mn(name: string): number {
  const i = MNEMONICS.indexOf(name);
  if (i < 0) throw new Error(`decode.ts: no row for ${name}`);
  return i + 1;
}

/** The mnemonics compressed instructions expand into. */
const C_ADDI = mn('addi'), C_ADDIW = mn('addiw'), C_ADDW = mn('addw'), C_ADD = mn('add'), C_ANDI = mn('andi'),
  C_EBREAK = mn('ebreak'), C_FLD = mn('fld'), C_FSD = mn('fsd'), C_JAL = mn('jal'), C_JALR = mn('jalr'), C_LD = mn('ld'),
  C_LUI = mn('lui'), C_LW = mn('lw'), C_SD = mn('sd'), C_SLLI = mn('slli'), C_SRAI = mn('srai'), C_SRLI = mn('srli'),
  C_SUBW = mn('subw'), C_SW = mn('sw'), C_BEQ = mn('beq'), C_BNE = mn('bne');
const C_SUB_XOR_OR_AND = [mn('sub'), mn('xor'), mn('or'), mn('and')];

/** The fields of one instruction at f[o..o+8): every one written, those its format does not use 0. */
function put(f: Int32Array, o: number, m: number, rd: number, rs1: number, rs2: number, imm: number, len: number): void {
  f[o + Dec.MN] = m; f[o + Dec.RD] = rd; f[o + Dec.RS1] = rs1; f[o + Dec.RS2] = rs2;
  f[o + Dec.IMM] = imm; f[o + Dec.X] = 0; f[o + Dec.RM] = 0; f[o + Dec.LEN] = len;
}

/** Decode a 32-bit instruction word (low two bits 11) into f[o..o+8). */
function decode32(w: number, f: Int32Array, o: number): void {
  w |= 0;
  const rows = BY_OPCODE[w & 0x7f];
  for (let i = 0; i < rows.length; i++) {
    const k = rows[i], r = ROWS[k];
    if ((w & r[1]) !== (r[2] | 0)) continue;
    const rd = (w >> 7) & 31, rs1 = (w >> 15) & 31, rs2 = (w >> 20) & 31;
    put(f, o, k + 1, rd, rs1, rs2, 0, 4);
    switch (r[3]) {
      case Fmt.None: f[o + Dec.RD] = f[o + Dec.RS1] = f[o + Dec.RS2] = 0; break;
      case Fmt.R: case Fmt.Amo: break;
      case Fmt.I: f[o + Dec.RS2] = 0; f[o + Dec.IMM] = w >> 20; break;
      case Fmt.S: f[o + Dec.RD] = 0; f[o + Dec.IMM] = ((w >> 25) << 5) | ((w >> 7) & 31); break;
      case Fmt.B:
        f[o + Dec.RD] = 0;
        f[o + Dec.IMM] = ((w >> 31) << 12) | (((w >> 7) & 1) << 11) | (((w >> 25) & 63) << 5) | (((w >> 8) & 15) << 1);
        break;
      case Fmt.U: f[o + Dec.RS1] = f[o + Dec.RS2] = 0; f[o + Dec.IMM] = w & ~0xfff; break;
      case Fmt.J:
        f[o + Dec.RS1] = f[o + Dec.RS2] = 0;
        f[o + Dec.IMM] = ((w >> 31) << 20) | (w & 0xff000) | (((w >> 20) & 1) << 11) | (((w >> 21) & 1023) << 1);
        break;
      case Fmt.Sh6: f[o + Dec.RS2] = 0; f[o + Dec.IMM] = (w >> 20) & 63; break;
      case Fmt.Sh5: f[o + Dec.RS2] = 0; f[o + Dec.IMM] = (w >> 20) & 31; break;
      case Fmt.Csr: f[o + Dec.RS2] = 0; f[o + Dec.X] = (w >>> 20) & 0xfff; break;
      case Fmt.CsrI: f[o + Dec.RS2] = 0; f[o + Dec.IMM] = rs1; f[o + Dec.RS1] = 0; f[o + Dec.X] = (w >>> 20) & 0xfff; break;
      case Fmt.R4: {
        const rm = (w >> 12) & 7;
        if (rm === 5 || rm === 6) return put(f, o, 0, 0, 0, 0, 0, 4);
        f[o + Dec.X] = (w >>> 27) & 31; f[o + Dec.RM] = rm;
        break;
      }
      case Fmt.FR: {
        const rm = (w >> 12) & 7;
        if (rm === 5 || rm === 6) return put(f, o, 0, 0, 0, 0, 0, 4);
        f[o + Dec.RM] = rm;
        break;
      }
    }
    return;
  }
  put(f, o, 0, 0, 0, 0, 0, 4);
}

/** Sign-extend the low `bits` bits of v. */
function sext(v: number, bits: number): number {
  const s = 32 - bits;
  return (v << s) >> s;
}

/**
 * Expand a compressed instruction (low two bits not 11) into the record of
 * its 32-bit equivalent, per the RVC tables for RV64. Reserved encodings
 * (including the all-zero parcel) are 'illegal'; HINTs decode as the
 * base instruction they alias, which has no architectural effect.
 * Bit fields [hi:lo] of h are written out as (h >>> lo) & (2^(hi-lo+1) - 1):
 * a helper call per field was past V8's inlining budget here, a call each.
 */
function decode16(h: number, f: Int32Array, o: number): void {
  h &= 0xffff;
  const q = h & 3, f3 = h >>> 13;
  const rdp = ((h >>> 2) & 7) + 8;      // rd'/rs2' at 4:2
  const rs1p = ((h >>> 7) & 7) + 8;     // rs1'/rd' at 9:7
  const rd = ((h >>> 7) & 31), rs2 = ((h >>> 2) & 31);
  const imm6 = sext((((h >>> 12) & 1) << 5) | ((h >>> 2) & 31), 6);
  if (q === 0) {
    switch (f3) {
      case 0: { // c.addi4spn
        const u = (((h >>> 11) & 3) << 4) | (((h >>> 7) & 15) << 6) | (((h >>> 6) & 1) << 2) | (((h >>> 5) & 1) << 3);
        if (u === 0) return put(f, o, 0, 0, 0, 0, 0, 2);
        return put(f, o, C_ADDI, rdp, 2, 0, u, 2);
      }
      case 1: return put(f, o, C_FLD, rdp, rs1p, 0, (((h >>> 10) & 7) << 3) | (((h >>> 5) & 3) << 6), 2);
      case 2: return put(f, o, C_LW, rdp, rs1p, 0, (((h >>> 10) & 7) << 3) | (((h >>> 6) & 1) << 2) | (((h >>> 5) & 1) << 6), 2);
      case 3: return put(f, o, C_LD, rdp, rs1p, 0, (((h >>> 10) & 7) << 3) | (((h >>> 5) & 3) << 6), 2);
      case 4: return put(f, o, 0, 0, 0, 0, 0, 2);
      case 5: return put(f, o, C_FSD, 0, rs1p, rdp, (((h >>> 10) & 7) << 3) | (((h >>> 5) & 3) << 6), 2);
      case 6: return put(f, o, C_SW, 0, rs1p, rdp, (((h >>> 10) & 7) << 3) | (((h >>> 6) & 1) << 2) | (((h >>> 5) & 1) << 6), 2);
      default: return put(f, o, C_SD, 0, rs1p, rdp, (((h >>> 10) & 7) << 3) | (((h >>> 5) & 3) << 6), 2);
    }
  }
  if (q === 1) {
    switch (f3) {
      case 0: return put(f, o, C_ADDI, rd, rd, 0, imm6, 2);
      case 1:
        if (rd === 0) return put(f, o, 0, 0, 0, 0, 0, 2);
        return put(f, o, C_ADDIW, rd, rd, 0, imm6, 2);
      case 2: return put(f, o, C_ADDI, rd, 0, 0, imm6, 2);
      case 3: {
        if (rd === 2) {
          const v = sext((((h >>> 12) & 1) << 9) | (((h >>> 6) & 1) << 4) | (((h >>> 5) & 1) << 6) |
            (((h >>> 3) & 3) << 7) | (((h >>> 2) & 1) << 5), 10);
          if (v === 0) return put(f, o, 0, 0, 0, 0, 0, 2);
          return put(f, o, C_ADDI, 2, 2, 0, v, 2);
        }
        if (imm6 === 0) return put(f, o, 0, 0, 0, 0, 0, 2);
        return put(f, o, C_LUI, rd, 0, 0, imm6 << 12, 2);
      }
      case 4: {
        const sub = ((h >>> 10) & 3);
        const sh = (((h >>> 12) & 1) << 5) | ((h >>> 2) & 31);
        if (sub === 0) return put(f, o, C_SRLI, rs1p, rs1p, 0, sh, 2);
        if (sub === 1) return put(f, o, C_SRAI, rs1p, rs1p, 0, sh, 2);
        if (sub === 2) return put(f, o, C_ANDI, rs1p, rs1p, 0, imm6, 2);
        const op2 = ((h >>> 5) & 3);
        if (((h >>> 12) & 1) === 0) {
          return put(f, o, C_SUB_XOR_OR_AND[op2], rs1p, rs1p, rdp, 0, 2);
        }
        if (op2 === 0) return put(f, o, C_SUBW, rs1p, rs1p, rdp, 0, 2);
        if (op2 === 1) return put(f, o, C_ADDW, rs1p, rs1p, rdp, 0, 2);
        return put(f, o, 0, 0, 0, 0, 0, 2);
      }
      case 5: {
        const off = sext((((h >>> 12) & 1) << 11) | (((h >>> 11) & 1) << 4) | (((h >>> 9) & 3) << 8) |
          (((h >>> 8) & 1) << 10) | (((h >>> 7) & 1) << 6) | (((h >>> 6) & 1) << 7) | (((h >>> 3) & 7) << 1) |
          (((h >>> 2) & 1) << 5), 12);
        return put(f, o, C_JAL, 0, 0, 0, off, 2);
      }
      default: {
        const off = sext((((h >>> 12) & 1) << 8) | (((h >>> 10) & 3) << 3) | (((h >>> 5) & 3) << 6) |
          (((h >>> 3) & 3) << 1) | (((h >>> 2) & 1) << 5), 9);
        return put(f, o, f3 === 6 ? C_BEQ : C_BNE, 0, rs1p, 0, off, 2);
      }
    }
  }
  if (q === 2) {
    switch (f3) {
      case 0: return put(f, o, C_SLLI, rd, rd, 0, (((h >>> 12) & 1) << 5) | ((h >>> 2) & 31), 2);
      case 1: return put(f, o, C_FLD, rd, 2, 0, (((h >>> 12) & 1) << 5) | (((h >>> 5) & 3) << 3) | (((h >>> 2) & 7) << 6), 2);
      case 2:
        if (rd === 0) return put(f, o, 0, 0, 0, 0, 0, 2);
        return put(f, o, C_LW, rd, 2, 0, (((h >>> 12) & 1) << 5) | (((h >>> 4) & 7) << 2) | (((h >>> 2) & 3) << 6), 2);
      case 3:
        if (rd === 0) return put(f, o, 0, 0, 0, 0, 0, 2);
        return put(f, o, C_LD, rd, 2, 0, (((h >>> 12) & 1) << 5) | (((h >>> 5) & 3) << 3) | (((h >>> 2) & 7) << 6), 2);
      case 4:
        if (((h >>> 12) & 1) === 0) {
          if (rs2 === 0) {
            if (rd === 0) return put(f, o, 0, 0, 0, 0, 0, 2);
            return put(f, o, C_JALR, 0, rd, 0, 0, 2);
          }
          return put(f, o, C_ADD, rd, 0, rs2, 0, 2);
        }
        if (rs2 === 0) {
          if (rd === 0) return put(f, o, C_EBREAK, 0, 0, 0, 0, 2);
          return put(f, o, C_JALR, 1, rd, 0, 0, 2);
        }
        return put(f, o, C_ADD, rd, rd, rs2, 0, 2);
      case 5: return put(f, o, C_FSD, 0, 2, rs2, (((h >>> 10) & 7) << 3) | (((h >>> 7) & 7) << 6), 2);
      case 6: return put(f, o, C_SW, 0, 2, rs2, (((h >>> 9) & 15) << 2) | (((h >>> 7) & 3) << 6), 2);
      default: return put(f, o, C_SD, 0, 2, rs2, (((h >>> 10) & 7) << 3) | (((h >>> 7) & 7) << 6), 2);
    }
  }
  decode32(h, f, o);
}

/**
 * Decode the instruction whose first parcel is `lo` (and second `hi`, if
 * 32-bit) into f[o..o+8), at the offsets of `Dec`. Block building calls
 * this straight into its pre-decoded records (ops.ts), with no object per
 * instruction.
 */
export function decodeInto(lo: number, hi: number, f: Int32Array, o: number): void {
  if ((lo & 3) !== 3) decode16(lo, f, o);
  else decode32((lo & 0xffff) | (hi << 16), f, o);
}

/** The fields of the last decode(). */
const scratch = new Int32Array(Dec.SIZE);

/** Decode the instruction whose first parcel is `lo` (and second `hi`, if 32-bit) into an Insn. */
export function decode(lo: number, hi: number): Insn {
  decodeInto(lo, hi, scratch, 0);
  const m = scratch[Dec.MN], x = scratch[Dec.X], fmt = m === 0 ? Fmt.None : ROWS[m - 1][3];
  return {
    op: m === 0 ? 'illegal' : ROWS[m - 1][0], rd: scratch[Dec.RD], rs1: scratch[Dec.RS1], rs2: scratch[Dec.RS2],
    rs3: fmt === Fmt.R4 ? x : 0, imm: scratch[Dec.IMM], rm: scratch[Dec.RM], csr: fmt === Fmt.Csr || fmt === Fmt.CsrI ? x : 0, len: scratch[Dec.LEN],
  };
}
