import { strict as assert } from 'node:assert';
import { Stop } from '../../src/vcpu/cpu.js';
import { Asm, boot, getReg, rtype, RTYPE, rv, setReg, CODE } from './asm.js';
import { describeEngines } from './engines.js';

const s64 = (v: bigint) => BigInt.asIntN(64, v);
const u64 = (v: bigint) => BigInt.asUintN(64, v);
const s32 = (v: bigint) => BigInt.asIntN(32, v);
const u32 = (v: bigint) => BigInt.asUintN(32, v);
const sw = (v: bigint) => BigInt.asIntN(64, BigInt.asIntN(32, v));
const MIN64 = -(1n << 63n), MIN32 = -(1n << 31n);

/** Reference semantics of every R-type op, over signed 64-bit BigInts. */
const REF: Record<string, (a: bigint, b: bigint) => bigint> = {
  add: (a, b) => s64(a + b),
  sub: (a, b) => s64(a - b),
  sll: (a, b) => s64(a << (b & 63n)),
  srl: (a, b) => s64(u64(a) >> (b & 63n)),
  sra: (a, b) => a >> (b & 63n),
  slt: (a, b) => (a < b ? 1n : 0n),
  sltu: (a, b) => (u64(a) < u64(b) ? 1n : 0n),
  xor: (a, b) => a ^ b,
  or: (a, b) => a | b,
  and: (a, b) => a & b,
  mul: (a, b) => s64(a * b),
  mulh: (a, b) => s64((a * b) >> 64n),
  mulhsu: (a, b) => s64((a * u64(b)) >> 64n),
  mulhu: (a, b) => s64((u64(a) * u64(b)) >> 64n),
  div: (a, b) => (b === 0n ? -1n : a === MIN64 && b === -1n ? a : a / b),
  divu: (a, b) => (b === 0n ? -1n : s64(u64(a) / u64(b))),
  rem: (a, b) => (b === 0n ? a : a === MIN64 && b === -1n ? 0n : a % b),
  remu: (a, b) => (b === 0n ? a : s64(u64(a) % u64(b))),
  addw: (a, b) => sw(a + b),
  subw: (a, b) => sw(a - b),
  sllw: (a, b) => sw(a << (b & 31n)),
  srlw: (a, b) => sw(u32(a) >> (b & 31n)),
  sraw: (a, b) => sw(s32(a) >> (b & 31n)),
  mulw: (a, b) => sw(a * b),
  divw: (a, b) => {
    const x = s32(a), y = s32(b);
    return y === 0n ? -1n : x === MIN32 && y === -1n ? sw(x) : sw(x / y);
  },
  divuw: (a, b) => (u32(b) === 0n ? -1n : sw(u32(a) / u32(b))),
  remw: (a, b) => {
    const x = s32(a), y = s32(b);
    return y === 0n ? sw(x) : x === MIN32 && y === -1n ? 0n : sw(x % y);
  },
  remuw: (a, b) => (u32(b) === 0n ? sw(u32(a)) : sw(u32(a) % u32(b))),
};

/** Deterministic pseudo-random 64-bit values (xorshift), plus edge cases. */
function values(n: number): bigint[] {
  const edge = [0n, 1n, -1n, 2n, -2n, 3n, 7n, MIN64, MIN64 + 1n, -MIN64 - 1n, 1n << 32n, (1n << 32n) - 1n,
    1n << 31n, -(1n << 31n), (1n << 31n) - 1n, 1n << 53n, (1n << 53n) - 1n, -(1n << 53n), (1n << 53n) + 1n,
    0x123456789abcdefn, -0x123456789abcdefn, 0xffffffffn, 0x80000000n, 63n, 64n, 31n, 32n];
  const out = [...edge];
  let st = 0x2545f4914f6cdd1dn;
  for (let i = 0; i < n; i++) {
    st ^= (st << 13n) & ((1n << 64n) - 1n); st ^= st >> 7n; st ^= (st << 17n) & ((1n << 64n) - 1n);
    const shift = BigInt(i % 64);
    out.push(s64(i % 3 === 0 ? st >> shift : st));
  }
  return out;
}

describeEngines('vcpu ALU', () => {
  const vals = values(40);

  for (const name of Object.keys(RTYPE)) {
    it(`${name} matches the reference on edge and random values, with rd aliasing rs1 or rs2`, () => {
      const asm = new Asm().w(
        rtype(name, 3, 1, 2),
        rv.addi(5, 1, 0), rtype(name, 5, 5, 2),   // rd = rs1
        rv.addi(6, 2, 0), rtype(name, 6, 1, 6),   // rd = rs2
        rv.ecall(),
      );
      const cpu = boot(asm);
      for (const a of vals) {
        for (const b of vals) {
          setReg(cpu, 1, a); setReg(cpu, 2, b);
          cpu.state.pc = CODE;
          assert.equal(cpu.run(100), Stop.Syscall);
          const want = REF[name](a, b);
          assert.equal(getReg(cpu, 3), want, `${name}(${a}, ${b})`);
          assert.equal(getReg(cpu, 5), want, `${name}(${a}, ${b}) rd=rs1`);
          assert.equal(getReg(cpu, 6), want, `${name}(${a}, ${b}) rd=rs2`);
        }
      }
    });
  }

  const IMM: Record<string, [(rd: number, rs1: number, imm: number) => number, (a: bigint, i: bigint) => bigint, number[]]> = {
    addi: [rv.addi, (a, i) => s64(a + i), [0, 1, -1, 2047, -2048, 100, -100]],
    slti: [rv.slti, (a, i) => (a < i ? 1n : 0n), [0, 1, -1, 2047, -2048]],
    sltiu: [rv.sltiu, (a, i) => (u64(a) < u64(i) ? 1n : 0n), [0, 1, -1, 2047, -2048]],
    xori: [rv.xori, (a, i) => a ^ i, [0, -1, 0x555, -0x556]],
    ori: [rv.ori, (a, i) => a | i, [0, -1, 0x555, -0x556]],
    andi: [rv.andi, (a, i) => a & i, [0, -1, 0x555, -0x556]],
    slli: [rv.slli, (a, i) => s64(a << i), [0, 1, 5, 31, 32, 33, 63]],
    srli: [rv.srli, (a, i) => s64(u64(a) >> i), [0, 1, 5, 31, 32, 33, 63]],
    srai: [rv.srai, (a, i) => a >> i, [0, 1, 5, 31, 32, 33, 63]],
    addiw: [rv.addiw, (a, i) => sw(a + i), [0, 1, -1, 2047, -2048]],
    slliw: [rv.slliw, (a, i) => sw(a << i), [0, 1, 5, 31]],
    srliw: [rv.srliw, (a, i) => sw(u32(a) >> i), [0, 1, 5, 31]],
    sraiw: [rv.sraiw, (a, i) => sw(s32(a) >> i), [0, 1, 5, 31]],
  };
  for (const [name, [enc, ref, imms]] of Object.entries(IMM)) {
    it(`${name} matches the reference for immediates ${imms.join(', ')}`, () => {
      for (const imm of imms) {
        const cpu = boot(new Asm().w(enc(3, 1, imm), rv.addi(4, 1, 0), enc(4, 4, imm), rv.ecall()));
        for (const a of vals) {
          setReg(cpu, 1, a);
          cpu.state.pc = CODE;
          assert.equal(cpu.run(100), Stop.Syscall);
          assert.equal(getReg(cpu, 3), ref(a, BigInt(imm)), `${name}(${a}, ${imm})`);
          assert.equal(getReg(cpu, 4), ref(a, BigInt(imm)), `${name}(${a}, ${imm}) rd=rs1`);
        }
      }
    });
  }

  it('lui and auipc build sign-extended 32-bit values', () => {
    const cpu = boot(new Asm().w(rv.lui(1, 0x80000), rv.lui(2, 0x7ffff), rv.auipc(3, 0), rv.auipc(4, 0xfffff), rv.ecall()));
    assert.equal(cpu.run(100), Stop.Syscall);
    assert.equal(getReg(cpu, 1), -0x80000000n);
    assert.equal(getReg(cpu, 2), 0x7ffff000n);
    assert.equal(getReg(cpu, 3), BigInt(CODE + 8));
    assert.equal(getReg(cpu, 4), BigInt(CODE + 12 - 0x1000));
  });

  it('writes to x0 are discarded and x0 reads as zero', () => {
    const cpu = boot(new Asm().w(rv.addi(0, 0, 5), rtype('add', 0, 1, 1), rv.lui(0, 1), rv.addi(1, 0, 0), rv.ecall()));
    setReg(cpu, 1, 99n);
    assert.equal(cpu.run(100), Stop.Syscall);
    assert.equal(getReg(cpu, 0), 0n);
    assert.equal(getReg(cpu, 1), 0n);
  });
});
