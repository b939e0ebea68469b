// Runs of lds and sds on one base register, which tier 0 does in one
// dispatch (ops.ts LDM / SDM, interp.ts): every engine must give the same
// registers, memory, counts and faults as for the plain instructions, and
// a run must leave off exactly where an access cannot take its fast path.

import { strict as assert } from 'node:assert';
import { Cpu, Stop } from '../../src/vcpu/cpu.js';
import { Op, OP_MASK, predecode, STRIDE, toInsns } from '../../src/vcpu/ops.js';
import { decode } from '../../src/vcpu/decode.js';
import { PAGE_R, PAGE_SIZE, PAGE_W } from '../../src/vcpu/memory.js';
import { describeEngines } from './engines.js';
import { Asm, CODE, DATA, DATA_PAGES, getReg, memory, resetMemory, rv, setReg } from './asm.js';

const SP = 2, A0 = 10, A1 = 11, A2 = 12, A3 = 13, A4 = 14;

function cpuWith(asm: Asm, mt = false): Cpu {
  const cpu = new Cpu(resetMemory(asm.bytes()));
  cpu.state.pc = CODE;
  cpu.mt = mt;
  return cpu;
}

describe('vcpu tier 0: the pre-decoded form of ld and sd runs', () => {
  it('marks the first of a run with its length, stops a run after an ld that writes the base, and gives back the plain records', () => {
    const words = [rv.sd(A0, SP, 0), rv.sd(A1, SP, 8), rv.sd(A2, SP, 16), rv.ld(A3, SP, 0), rv.ld(SP, SP, 8), rv.ld(A4, SP, 16), rv.ld(A0, A1, 0), rv.ecall()];
    const insns = words.map((w) => decode(w & 0xffff, w >>> 16));
    const pcs = insns.map((_, i) => 0x1000 + 4 * i);
    const code = predecode(insns, pcs, 0x1000 + 4 * words.length);
    const op = (j: number) => code[j * STRIDE] & OP_MASK;
    assert.equal(op(0), Op.SDM);
    assert.equal(code[0 * STRIDE + 5], 3);
    assert.deepEqual([op(1), op(2)], [Op.SD, Op.SD]);
    // ld a3; ld sp, 8(sp) is a run of two (the second writes the base); ld a4 then starts anew, alone with its base.
    assert.equal(op(3), Op.LDM);
    assert.equal(code[3 * STRIDE + 5], 2);
    assert.deepEqual([op(4), op(5), op(6)], [Op.LD, Op.LD, Op.LD]);
    const back = toInsns(code, 0x1000);
    assert.deepEqual(back.insns, insns.map((i) => ({ ...i })));
    assert.deepEqual(back.pcs, pcs);
  });
});

describeEngines('vcpu runs of ld and sd on one base', () => {
  it('saves and restores registers through the stack with exact counts, alone and with other threads (mt)', () => {
    for (const mt of [false, true]) {
      const asm = new Asm().w(
        rv.addi(SP, SP, -32),
        rv.sd(A0, SP, 0), rv.sd(A1, SP, 8), rv.sd(A2, SP, 16), rv.sd(A3, SP, 24),
        rv.addi(A0, 0, 0), rv.addi(A1, 0, 0), rv.addi(A2, 0, 0), rv.addi(A3, 0, 0),
        rv.ld(A3, SP, 0), rv.ld(A2, SP, 8), rv.ld(A1, SP, 16), rv.ld(A0, SP, 24),
        rv.addi(SP, SP, 32), rv.ecall());
      const cpu = cpuWith(asm, mt);
      setReg(cpu, SP, BigInt(DATA + PAGE_SIZE));
      const vals = [0x1122334455667788n, -5n, 0x7fffffffn, -0x100000000n];
      vals.forEach((v, i) => setReg(cpu, A0 + i, v));
      assert.equal(cpu.run(1000), Stop.Syscall);
      assert.equal(cpu.instret, 15);
      assert.deepEqual([A0, A1, A2, A3].map((r) => getReg(cpu, r)), [vals[3], vals[2], vals[1], vals[0]]);
      assert.equal(getReg(cpu, SP), BigInt(DATA + PAGE_SIZE));
      assert.equal(memory().view.getBigInt64(DATA + PAGE_SIZE - 32 + 8, true), vals[1]);
    }
  });

  it('a run that reaches an unmapped page faults at that access, the ones before it retired', () => {
    // The data pages end at DATA + DATA_PAGES pages; the base 16 bytes before, so the third ld is past it.
    const end = DATA + DATA_PAGES * PAGE_SIZE;
    const asm = new Asm().w(rv.addi(A4, 0, 7), rv.ld(A0, A1, 0), rv.ld(A2, A1, 8), rv.ld(A3, A1, 16), rv.ecall());
    const cpu = cpuWith(asm);
    setReg(cpu, A1, BigInt(end - 16));
    memory().view.setBigInt64(end - 16, 41n, true);
    memory().view.setBigInt64(end - 8, 42n, true);
    assert.equal(cpu.run(1000), Stop.Fault);
    assert.equal(cpu.fault.addr, end);
    assert.equal(cpu.state.pc, CODE + 12);
    assert.equal(cpu.instret, 3);
    assert.deepEqual([getReg(cpu, A0), getReg(cpu, A2), getReg(cpu, A3)], [41n, 42n, 0n]);
    // The same with stores: the third sd faults, the first two are in memory.
    const st = new Asm().w(rv.sd(A0, A1, 0), rv.sd(A2, A1, 8), rv.sd(A3, A1, 16), rv.ecall());
    const cpu2 = cpuWith(st);
    setReg(cpu2, A1, BigInt(end - 16));
    setReg(cpu2, A0, 5n); setReg(cpu2, A2, 6n);
    assert.equal(cpu2.run(1000), Stop.Fault);
    assert.equal(cpu2.fault.addr, end);
    assert.equal(cpu2.instret, 2);
    assert.equal(memory().view.getBigInt64(end - 16, true), 5n);
    assert.equal(memory().view.getBigInt64(end - 8, true), 6n);
  });

  it('a misaligned access in a run, an ld that writes the base, and a branch into the middle of a run', () => {
    const asm = new Asm().w(
      rv.beq(A4, 0, 8),                                  // x14 = 0: skip the first ld of the run
      rv.ld(A0, A1, 0), rv.ld(A2, A1, 3), rv.ld(A1, A1, 8), rv.ld(A3, A1, 0),
      rv.ecall());
    for (const skip of [false, true]) {
      const cpu = cpuWith(asm);
      const b = DATA + 64;
      setReg(cpu, A1, BigInt(b));
      setReg(cpu, A4, skip ? 0n : 1n);
      const v = memory().view;
      v.setBigInt64(b, 0x0102030405060708n, true);
      v.setBigInt64(b + 8, BigInt(DATA + 256), true);
      v.setBigInt64(DATA + 256, 99n, true);
      assert.equal(cpu.run(1000), Stop.Syscall);
      assert.equal(cpu.instret, skip ? 5 : 6);
      assert.equal(getReg(cpu, A0), skip ? 0n : 0x0102030405060708n);
      assert.equal(getReg(cpu, A2), v.getBigInt64(b + 3, true));
      assert.equal(getReg(cpu, A1), BigInt(DATA + 256));
      assert.equal(getReg(cpu, A3), 99n);
    }
  });

  it('a run of stores into a read-only page faults at its first access; one into the code ahead changes what runs', () => {
    const asm = new Asm().w(rv.sd(A0, A1, 0), rv.sd(A2, A1, 8), rv.ecall());
    const cpu = cpuWith(asm);
    memory().pageFlags[DATA / PAGE_SIZE] = PAGE_R;
    setReg(cpu, A1, BigInt(DATA));
    assert.equal(cpu.run(1000), Stop.Fault);
    assert.equal(cpu.fault.addr, DATA);
    assert.equal(cpu.instret, 0);
    // sd; sd over the four instructions after them (addi a3, a3, 1) with addi a3, a3, 100: the first store ends its block.
    const code = new Asm().w(rv.sd(A0, A1, 0), rv.sd(A0, A1, 8), rv.addi(A3, A3, 1), rv.addi(A3, A3, 1), rv.addi(A3, A3, 1), rv.addi(A3, A3, 1), rv.ecall());
    const cpu2 = cpuWith(code);
    memory().pageFlags[CODE / PAGE_SIZE] |= PAGE_W;   // writable code, as a JIT's
    const add100 = BigInt(rv.addi(A3, A3, 100) >>> 0);
    setReg(cpu2, A0, (add100 << 32n) | add100);
    setReg(cpu2, A1, BigInt(CODE + 8));
    assert.equal(cpu2.run(1000), Stop.Syscall);
    assert.equal(getReg(cpu2, A3), 400n);
    assert.equal(cpu2.instret, 7);
  });
});
