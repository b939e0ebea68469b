// A tiny RV64GC assembler for tests, written from the ISA manual's encoding
// tables independently of src/vcpu/decode.ts, plus a harness that loads code
// into a shared GuestMemory and runs a Cpu on it.

import { GuestMemory, PAGE_R, PAGE_W, PAGE_X, PAGE_SIZE } from '../../src/vcpu/memory.js';
import { Cpu, Stop } from '../../src/vcpu/cpu.js';

const u = (v: number) => v >>> 0;

export function R(f7: number, rs2: number, rs1: number, f3: number, rd: number, op: number): number {
  return u((f7 << 25) | (rs2 << 20) | (rs1 << 15) | (f3 << 12) | (rd << 7) | op);
}
export function I(imm: number, rs1: number, f3: number, rd: number, op: number): number {
  return u(((imm & 0xfff) << 20) | (rs1 << 15) | (f3 << 12) | (rd << 7) | op);
}
export function S(imm: number, rs2: number, rs1: number, f3: number, op: number): number {
  return u((((imm >> 5) & 0x7f) << 25) | (rs2 << 20) | (rs1 << 15) | (f3 << 12) | ((imm & 31) << 7) | op);
}
export function B(imm: number, rs2: number, rs1: number, f3: number): number {
  return u((((imm >> 12) & 1) << 31) | (((imm >> 5) & 0x3f) << 25) | (rs2 << 20) | (rs1 << 15) | (f3 << 12) |
    (((imm >> 1) & 15) << 8) | (((imm >> 11) & 1) << 7) | 0x63);
}
export function U(imm: number, rd: number, op: number): number {
  return u((imm & 0xfffff000) | (rd << 7) | op);
}
export function J(imm: number, rd: number): number {
  return u((((imm >> 20) & 1) << 31) | (((imm >> 1) & 0x3ff) << 21) | (((imm >> 11) & 1) << 20) |
    (((imm >> 12) & 0xff) << 12) | (rd << 7) | 0x6f);
}
export function R4(rs3: number, fmt: number, rs2: number, rs1: number, rm: number, rd: number, op: number): number {
  return u((rs3 << 27) | (fmt << 25) | (rs2 << 20) | (rs1 << 15) | (rm << 12) | (rd << 7) | op);
}

/** Base integer instructions by name. */
export const rv = {
  lui: (rd: number, imm20: number) => U(imm20 << 12, rd, 0x37),
  auipc: (rd: number, imm20: number) => U(imm20 << 12, rd, 0x17),
  jal: (rd: number, off: number) => J(off, rd),
  jalr: (rd: number, rs1: number, imm: number) => I(imm, rs1, 0, rd, 0x67),
  beq: (a: number, b: number, off: number) => B(off, b, a, 0),
  bne: (a: number, b: number, off: number) => B(off, b, a, 1),
  blt: (a: number, b: number, off: number) => B(off, b, a, 4),
  bge: (a: number, b: number, off: number) => B(off, b, a, 5),
  bltu: (a: number, b: number, off: number) => B(off, b, a, 6),
  bgeu: (a: number, b: number, off: number) => B(off, b, a, 7),
  lb: (rd: number, rs1: number, imm: number) => I(imm, rs1, 0, rd, 0x03),
  lh: (rd: number, rs1: number, imm: number) => I(imm, rs1, 1, rd, 0x03),
  lw: (rd: number, rs1: number, imm: number) => I(imm, rs1, 2, rd, 0x03),
  ld: (rd: number, rs1: number, imm: number) => I(imm, rs1, 3, rd, 0x03),
  lbu: (rd: number, rs1: number, imm: number) => I(imm, rs1, 4, rd, 0x03),
  lhu: (rd: number, rs1: number, imm: number) => I(imm, rs1, 5, rd, 0x03),
  lwu: (rd: number, rs1: number, imm: number) => I(imm, rs1, 6, rd, 0x03),
  sb: (rs2: number, rs1: number, imm: number) => S(imm, rs2, rs1, 0, 0x23),
  sh: (rs2: number, rs1: number, imm: number) => S(imm, rs2, rs1, 1, 0x23),
  sw: (rs2: number, rs1: number, imm: number) => S(imm, rs2, rs1, 2, 0x23),
  sd: (rs2: number, rs1: number, imm: number) => S(imm, rs2, rs1, 3, 0x23),
  addi: (rd: number, rs1: number, imm: number) => I(imm, rs1, 0, rd, 0x13),
  slti: (rd: number, rs1: number, imm: number) => I(imm, rs1, 2, rd, 0x13),
  sltiu: (rd: number, rs1: number, imm: number) => I(imm, rs1, 3, rd, 0x13),
  xori: (rd: number, rs1: number, imm: number) => I(imm, rs1, 4, rd, 0x13),
  ori: (rd: number, rs1: number, imm: number) => I(imm, rs1, 6, rd, 0x13),
  andi: (rd: number, rs1: number, imm: number) => I(imm, rs1, 7, rd, 0x13),
  slli: (rd: number, rs1: number, sh: number) => I(sh, rs1, 1, rd, 0x13),
  srli: (rd: number, rs1: number, sh: number) => I(sh, rs1, 5, rd, 0x13),
  srai: (rd: number, rs1: number, sh: number) => I(0x400 | sh, rs1, 5, rd, 0x13),
  addiw: (rd: number, rs1: number, imm: number) => I(imm, rs1, 0, rd, 0x1b),
  slliw: (rd: number, rs1: number, sh: number) => I(sh, rs1, 1, rd, 0x1b),
  srliw: (rd: number, rs1: number, sh: number) => I(sh, rs1, 5, rd, 0x1b),
  sraiw: (rd: number, rs1: number, sh: number) => I(0x400 | sh, rs1, 5, rd, 0x1b),
  ecall: () => 0x00000073,
  ebreak: () => 0x00100073,
  fence: () => 0x0ff0000f,
  fencei: () => 0x0000100f,
  csrrw: (rd: number, csr: number, rs1: number) => I(csr, rs1, 1, rd, 0x73),
  csrrs: (rd: number, csr: number, rs1: number) => I(csr, rs1, 2, rd, 0x73),
  csrrc: (rd: number, csr: number, rs1: number) => I(csr, rs1, 3, rd, 0x73),
  csrrwi: (rd: number, csr: number, uimm: number) => I(csr, uimm, 5, rd, 0x73),
  csrrsi: (rd: number, csr: number, uimm: number) => I(csr, uimm, 6, rd, 0x73),
  csrrci: (rd: number, csr: number, uimm: number) => I(csr, uimm, 7, rd, 0x73),
};

/** R-type ALU ops: [funct7, funct3, opcode]. */
export const RTYPE: Record<string, [number, number, number]> = {
  add: [0, 0, 0x33], sub: [0x20, 0, 0x33], sll: [0, 1, 0x33], slt: [0, 2, 0x33], sltu: [0, 3, 0x33],
  xor: [0, 4, 0x33], srl: [0, 5, 0x33], sra: [0x20, 5, 0x33], or: [0, 6, 0x33], and: [0, 7, 0x33],
  mul: [1, 0, 0x33], mulh: [1, 1, 0x33], mulhsu: [1, 2, 0x33], mulhu: [1, 3, 0x33],
  div: [1, 4, 0x33], divu: [1, 5, 0x33], rem: [1, 6, 0x33], remu: [1, 7, 0x33],
  addw: [0, 0, 0x3b], subw: [0x20, 0, 0x3b], sllw: [0, 1, 0x3b], srlw: [0, 5, 0x3b], sraw: [0x20, 5, 0x3b],
  mulw: [1, 0, 0x3b], divw: [1, 4, 0x3b], divuw: [1, 5, 0x3b], remw: [1, 6, 0x3b], remuw: [1, 7, 0x3b],
};
export function rtype(name: string, rd: number, rs1: number, rs2: number): number {
  const [f7, f3, op] = RTYPE[name];
  return R(f7, rs2, rs1, f3, rd, op);
}

/** AMO: funct5 by name; width 2 (.w) or 3 (.d). */
export const AMO5: Record<string, number> = {
  lr: 0b00010, sc: 0b00011, amoswap: 0b00001, amoadd: 0, amoxor: 0b00100, amoand: 0b01100, amoor: 0b01000,
  amomin: 0b10000, amomax: 0b10100, amominu: 0b11000, amomaxu: 0b11100,
};
export function amo(name: string, d: boolean, rd: number, rs1: number, rs2: number): number {
  return R(AMO5[name] << 2, rs2, rs1, d ? 3 : 2, rd, 0x2f);
}

/** OP-FP with funct7, rs2 field and rm/funct3. */
export function fop(f7: number, rd: number, rs1: number, rs2: number, rm: number): number {
  return R(f7, rs2, rs1, rm, rd, 0x53);
}
export const fp = {
  flw: (rd: number, rs1: number, imm: number) => I(imm, rs1, 2, rd, 0x07),
  fld: (rd: number, rs1: number, imm: number) => I(imm, rs1, 3, rd, 0x07),
  fsw: (rs2: number, rs1: number, imm: number) => S(imm, rs2, rs1, 2, 0x27),
  fsd: (rs2: number, rs1: number, imm: number) => S(imm, rs2, rs1, 3, 0x27),
};

/** Code assembled into halfwords (so compressed and base forms mix). */
export class Asm {
  readonly parts: number[] = []; // 16-bit parcels
  /** Append 32-bit instructions. */
  w(...words: number[]): this {
    for (const x of words) { this.parts.push(x & 0xffff, (x >>> 16) & 0xffff); }
    return this;
  }
  /** Append 16-bit (compressed) instructions. */
  c(...halves: number[]): this {
    for (const h of halves) this.parts.push(h & 0xffff);
    return this;
  }
  /** Byte offset of the next instruction. */
  get here(): number { return this.parts.length * 2; }
  bytes(): Uint8Array {
    const b = new Uint8Array(this.parts.length * 2);
    this.parts.forEach((h, i) => { b[2 * i] = h & 0xff; b[2 * i + 1] = h >>> 8; });
    return b;
  }
}

let shared: GuestMemory | null = null;
/** One address space reused by every test (creating 4 GiB memories is costly). */
export function memory(): GuestMemory {
  if (shared === null) shared = GuestMemory.create();
  return shared;
}

export const CODE = 0x10000;
export const DATA = 0x40000;
export const DATA_PAGES = 4;

/** Reset the shared memory: code pages R|X at CODE, data pages R|W at DATA, everything else unmapped. */
export function resetMemory(code: Uint8Array, codeFlags = PAGE_R | PAGE_X): GuestMemory {
  const m = memory();
  m.pageFlags.fill(0);
  m.u8.fill(0, CODE, CODE + 16 * PAGE_SIZE);
  m.u8.fill(0, DATA, DATA + DATA_PAGES * PAGE_SIZE);
  m.u8.set(code, CODE);
  const pages = Math.max(1, Math.ceil(code.length / PAGE_SIZE));
  for (let p = 0; p < pages; p++) m.pageFlags[CODE / PAGE_SIZE + p] = codeFlags;
  for (let p = 0; p < DATA_PAGES; p++) m.pageFlags[DATA / PAGE_SIZE + p] = PAGE_R | PAGE_W;
  return m;
}

/** A fresh Cpu on freshly reset memory with `asm` at CODE and pc there. */
export function boot(asm: Asm, interrupt?: Int32Array): Cpu {
  const m = resetMemory(asm.bytes());
  const cpu = new Cpu(m, interrupt);
  cpu.state.pc = CODE;
  return cpu;
}

/** Run until the first stop; assert nothing here, return the stop. */
export function runToStop(cpu: Cpu, budget = 1_000_000): Stop {
  return cpu.run(budget);
}

/** Register helpers over BigInt (tests only). */
export function setReg(cpu: Cpu, r: number, v: bigint): void { cpu.state.setBig(r, v); }
export function getReg(cpu: Cpu, r: number): bigint { return cpu.state.getBig(r); }
export function getRegU(cpu: Cpu, r: number): bigint { return BigInt.asUintN(64, cpu.state.getBig(r)); }
