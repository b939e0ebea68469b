import { strict as assert } from 'node:assert';
import { Stop, SIGSEGV, SEGV_MAPERR, SEGV_ACCERR, FAULT_IN } from '../../src/vcpu/cpu.js';
import { PAGE_R, PAGE_W, PAGE_SIZE } from '../../src/vcpu/memory.js';
import { Asm, boot, getReg, getRegU, rv, setReg, CODE, DATA, memory } from './asm.js';
import { describeEngines } from './engines.js';

describeEngines('vcpu loads and stores', () => {
  it('loads sign- or zero-extend bytes, halves and words, and ld reads 64 bits', () => {
    const cpu = boot(new Asm().w(
      rv.lb(2, 1, 0), rv.lbu(3, 1, 0), rv.lh(4, 1, 0), rv.lhu(5, 1, 0),
      rv.lw(6, 1, 0), rv.lwu(7, 1, 0), rv.ld(8, 1, 0), rv.lb(9, 1, 8), rv.lw(10, 1, 8), rv.ecall()));
    const m = memory();
    m.view.setBigUint64(DATA, 0x0123456789abcdefn ^ 0x8000000080008080n, true);
    m.view.setBigUint64(DATA + 8, 0x000000007f7f7f7fn, true);
    setReg(cpu, 1, BigInt(DATA));
    assert.equal(cpu.run(100), Stop.Syscall);
    const v = 0x0123456789abcdefn ^ 0x8000000080008080n;
    assert.equal(getReg(cpu, 2), BigInt.asIntN(8, v));
    assert.equal(getReg(cpu, 3), BigInt.asUintN(8, v));
    assert.equal(getReg(cpu, 4), BigInt.asIntN(16, v));
    assert.equal(getReg(cpu, 5), BigInt.asUintN(16, v));
    assert.equal(getReg(cpu, 6), BigInt.asIntN(32, v));
    assert.equal(getReg(cpu, 7), BigInt.asUintN(32, v));
    assert.equal(getRegU(cpu, 8), v);
    assert.equal(getReg(cpu, 9), 0x7fn);
    assert.equal(getReg(cpu, 10), 0x7f7f7f7fn);
  });

  it('stores write the low bytes of rs2, with negative offsets', () => {
    const cpu = boot(new Asm().w(
      rv.sd(2, 1, 16), rv.sw(2, 1, 8), rv.sh(2, 1, 4), rv.sb(2, 1, 2), rv.sd(2, 1, -8), rv.ecall()));
    setReg(cpu, 1, BigInt(DATA + 64));
    setReg(cpu, 2, -0x0123456789abcdefn);
    assert.equal(cpu.run(100), Stop.Syscall);
    const m = memory();
    const v = BigInt.asUintN(64, -0x0123456789abcdefn);
    assert.equal(m.view.getBigUint64(DATA + 80, true), v);
    assert.equal(m.view.getUint32(DATA + 72, true), Number(v & 0xffffffffn));
    assert.equal(m.view.getUint32(DATA + 76, true), 0);
    assert.equal(m.view.getUint16(DATA + 68, true), Number(v & 0xffffn));
    assert.equal(m.view.getUint8(DATA + 66), Number(v & 0xffn));
    assert.equal(m.view.getUint8(DATA + 67), 0);
    assert.equal(m.view.getBigUint64(DATA + 56, true), v);
  });

  it('misaligned loads and stores work, including across a page boundary', () => {
    const cpu = boot(new Asm().w(rv.sd(2, 1, 0), rv.ld(3, 1, 0), rv.lw(4, 1, 1), rv.lh(5, 1, 3), rv.ecall()));
    setReg(cpu, 1, BigInt(DATA + PAGE_SIZE - 3));
    setReg(cpu, 2, 0x1122334455667788n);
    assert.equal(cpu.run(100), Stop.Syscall);
    assert.equal(getReg(cpu, 3), 0x1122334455667788n);
    assert.equal(getReg(cpu, 4), 0x44556677n);
    assert.equal(getReg(cpu, 5), 0x4455n);
  });

  it('an address computed from a negative base plus offset wraps to a valid address', () => {
    const cpu = boot(new Asm().w(rv.ld(3, 1, 16), rv.ecall()));
    memory().view.setBigInt64(DATA, 42n, true);
    // x1 + 16 = DATA (mod 2^64) only when x1 is the 64-bit value DATA - 16.
    setReg(cpu, 1, BigInt(DATA - 16));
    assert.equal(cpu.run(100), Stop.Syscall);
    assert.equal(getReg(cpu, 3), 42n);
    const cpu2 = boot(new Asm().w(rv.ld(3, 1, 32), rv.ecall()));
    memory().view.setBigInt64(DATA, 43n, true);
    setReg(cpu2, 1, BigInt(DATA) - 32n); // positive: fine
    assert.equal(cpu2.run(100), Stop.Syscall);
    assert.equal(getReg(cpu2, 3), 43n);
  });
});

describeEngines('vcpu memory faults', () => {
  function expectSegv(cpu: ReturnType<typeof boot>, addr: number, code: number, pc: number): void {
    assert.equal(cpu.run(100), Stop.Fault);
    assert.equal(cpu.fault.signal, SIGSEGV);
    assert.equal(cpu.fault.code, code);
    assert.equal(cpu.fault.addr, addr);
    assert.equal(cpu.state.pc, pc);
  }

  it('a load from an unmapped page is SIGSEGV/SEGV_MAPERR at the faulting pc, earlier instructions retired', () => {
    const cpu = boot(new Asm().w(rv.addi(5, 0, 7), rv.ld(3, 1, 8), rv.addi(6, 0, 1), rv.ecall()));
    setReg(cpu, 1, 0x900000n);
    setReg(cpu, 3, 77n);
    expectSegv(cpu, 0x900008, SEGV_MAPERR, CODE + 4);
    assert.equal(getReg(cpu, 5), 7n);
    assert.equal(getReg(cpu, 3), 77n, 'the faulting load wrote nothing');
    assert.equal(getReg(cpu, 6), 0n);
    assert.equal(cpu.instret, 1);
  });

  it('a store to a read-only page is SEGV_ACCERR and writes nothing', () => {
    const cpu = boot(new Asm().w(rv.sw(2, 1, 0), rv.ecall()));
    memory().pageFlags[DATA / PAGE_SIZE] = PAGE_R;
    setReg(cpu, 1, BigInt(DATA + 4));
    setReg(cpu, 2, 5n);
    expectSegv(cpu, DATA + 4, SEGV_ACCERR, CODE);
    assert.equal(memory().view.getUint32(DATA + 4, true), 0);
  });

  it('a load from a write-only page is SEGV_ACCERR', () => {
    const cpu = boot(new Asm().w(rv.lw(3, 1, 0), rv.ecall()));
    memory().pageFlags[DATA / PAGE_SIZE] = PAGE_W;
    setReg(cpu, 1, BigInt(DATA));
    expectSegv(cpu, DATA, SEGV_ACCERR, CODE);
  });

  it('an access straddling into an unmapped page faults at the first byte of that page, storing nothing', () => {
    const cpu = boot(new Asm().w(rv.sd(2, 1, 0), rv.ecall()));
    const last = DATA + 4 * PAGE_SIZE;
    setReg(cpu, 1, BigInt(last - 4));
    setReg(cpu, 2, -1n);
    expectSegv(cpu, last, SEGV_MAPERR, CODE);
    assert.equal(memory().view.getUint32(last - 4, true), 0);
  });

  it('addresses at or above 2^32 never wrap to the low half: the high range asks the kernel, past 256 GiB is SEGV_MAPERR', () => {
    // [4 GiB, 256 GiB) may hold shared mappings (high-pages.ts): a page not
    // present there is the kernel's to decide (FAULT_IN; it answers
    // SIGSEGV/SEGV_MAPERR where nothing is mapped), never DATA's bytes.
    const high = boot(new Asm().w(rv.lw(3, 1, 0), rv.ecall()));
    memory().view.setUint32(DATA, 99, true);
    setReg(high, 1, (1n << 32n) + BigInt(DATA));
    assert.equal(high.run(100), Stop.Fault);
    assert.deepEqual([high.fault.signal, high.fault.addr, high.state.pc], [FAULT_IN, 2 ** 32 + DATA, CODE]);
    assert.equal(getReg(high, 3), 0n);
    const cpu = boot(new Asm().w(rv.lw(3, 1, 0), rv.ecall()));
    setReg(cpu, 1, (1n << 38n) + BigInt(DATA));
    expectSegv(cpu, 2 ** 38 + DATA, SEGV_MAPERR, CODE);
    const cpu2 = boot(new Asm().w(rv.lw(3, 1, 0), rv.ecall()));
    setReg(cpu2, 1, -4096n);
    assert.equal(cpu2.run(100), Stop.Fault);
    assert.equal(cpu2.fault.signal, SIGSEGV);
    assert.equal(cpu2.fault.code, SEGV_MAPERR);
  });

  it('fetching from a page without PAGE_X is SIGSEGV with addr = pc', () => {
    const cpu = boot(new Asm().w(rv.jalr(0, 1, 0)));
    setReg(cpu, 1, BigInt(DATA));
    expectSegv(cpu, DATA, SEGV_ACCERR, DATA);
    const cpu2 = boot(new Asm().w(rv.jalr(0, 1, 0)));
    setReg(cpu2, 1, 0x7000000n);
    expectSegv(cpu2, 0x7000000, SEGV_MAPERR, 0x7000000);
  });

  it('a 32-bit instruction straddling into a non-executable page faults at that page, the pc at the instruction', () => {
    const m = memory();
    const cpu = boot(new Asm().w(rv.ecall()));
    const pc = CODE + PAGE_SIZE - 2;
    m.view.setUint16(pc, 0x0513, true); // low half of addi a0,...
    cpu.state.pc = pc;
    expectSegv(cpu, CODE + PAGE_SIZE, SEGV_MAPERR, pc);
  });
});
