// Shared pages (src/vcpu/memory.ts, frames.ts): loads, stores and atomics on
// a page marked PAGE_SHARED reach its frame in the pool, not the address
// space's own memory, under every engine; the fast path never sees them.
// A page not loaded yet (FRAME_ABSENT) stops the vCPU with a fault-in
// request and nothing retired; the high range (high-pages.ts) is reached
// by exact 64-bit addresses through the memory's high table.

import { strict as assert } from 'node:assert';
import { Stop, SIGSEGV, SIGBUS, SEGV_ACCERR, SEGV_MAPERR, BUS_ADRERR, FAULT_IN, type Cpu } from '../../src/vcpu/cpu.js';
import { PAGE_R, PAGE_W, PAGE_X, PAGE_SIZE, PAGE_SHARED, SHARED_SHIFT, PAGE_SHIFT, FRAME_ABSENT, GUEST_VA_LIMIT, HIGH_VA_LIMIT } from '../../src/vcpu/memory.js';
import { FramePool } from '../../src/vcpu/frames.js';
import { Asm, amo, boot, fp, getReg, getRegU, memory, rv, setReg, CODE, DATA } from './asm.js';
import { describeEngines } from './engines.js';

/** Frames of the pool these tests use (no kernel allocator runs here). */
const F0 = 4000, F1 = 4001;
const pool = FramePool.local();
const P0 = DATA >>> PAGE_SHIFT;

/**
 * Boot `asm` with DATA's pages: 0 shared R/W on frame F0, 1 private R/W,
 * 2 shared read-only on F1, 3 shared R/W without a frame.
 */
function bootShared(asm: Asm): Cpu {
  const cpu = boot(asm);
  const m = memory();
  m.pageFlags[P0] = PAGE_SHARED | ((PAGE_R | PAGE_W) << SHARED_SHIFT);
  m.pageFlags[P0 + 2] = PAGE_SHARED | (PAGE_R << SHARED_SHIFT);
  m.pageFlags[P0 + 3] = PAGE_SHARED | ((PAGE_R | PAGE_W) << SHARED_SHIFT);
  m.frames[P0] = F0 + 1;
  m.frames[P0 + 2] = F1 + 1;
  m.frames[P0 + 3] = 0;
  pool.u8.fill(0, F0 * PAGE_SIZE, (F1 + 1) * PAGE_SIZE);
  pool.dirty[F0] = 0;
  return cpu;
}

/** A page of the high range: DATA's own page number plus 2^20 (so a wrapped address would land on DATA). */
const HIGH = GUEST_VA_LIMIT + DATA;
const HP = HIGH / PAGE_SIZE;

afterEach(() => {
  memory().frames.fill(0, P0, P0 + 4);
  for (const p of [HP, HP + 1]) memory().high.delete(p);
});

describeEngines('vcpu shared pages', () => {
  it('loads and stores of every size reach the frame, and the program carries on with exact counts', () => {
    const cpu = bootShared(new Asm().w(
      rv.sd(2, 1, 0), rv.sw(2, 1, 8), rv.sh(2, 1, 12), rv.sb(2, 1, 14),
      rv.ld(3, 1, 0), rv.lw(4, 1, 8), rv.lwu(5, 1, 8), rv.lh(6, 1, 12), rv.lhu(7, 1, 12), rv.lb(8, 1, 14), rv.lbu(9, 1, 14),
      rv.addi(10, 0, 7), rv.ecall()));
    setReg(cpu, 1, BigInt(DATA));
    setReg(cpu, 2, -0x0123456789abcdefn);
    const before = cpu.instret;
    assert.equal(cpu.run(1000), Stop.Syscall);
    assert.equal(cpu.instret - before, 13);
    assert.equal(cpu.state.pc, CODE + 13 * 4);
    const v = BigInt.asUintN(64, -0x0123456789abcdefn);
    assert.equal(pool.view.getBigUint64(F0 * PAGE_SIZE, true), v);
    assert.equal(memory().view.getBigUint64(DATA, true), 0n, 'the private memory under a shared page is untouched');
    assert.equal(getRegU(cpu, 3), v);
    assert.equal(getReg(cpu, 4), BigInt.asIntN(32, v));
    assert.equal(getReg(cpu, 5), BigInt.asUintN(32, v));
    assert.equal(getReg(cpu, 6), BigInt.asIntN(16, v));
    assert.equal(getReg(cpu, 7), BigInt.asUintN(16, v));
    assert.equal(getReg(cpu, 8), BigInt.asIntN(8, v));
    assert.equal(getReg(cpu, 9), BigInt.asUintN(8, v));
    assert.equal(getReg(cpu, 10), 7n);
    assert.equal(pool.dirty[F0], 1, 'a store marks its frame dirty');
  });

  it('a loop storing to a shared page runs to completion (each access leaves and re-enters its block)', () => {
    // for (x5 = 0; x5 != 300; x5++) *(u32*)x1 += 1
    const cpu = bootShared(new Asm().w(
      rv.addi(5, 0, 0), rv.addi(6, 0, 300),
      rv.lw(7, 1, 0), rv.addi(7, 7, 1), rv.sw(7, 1, 0), rv.addi(5, 5, 1), rv.bne(5, 6, -16),
      rv.ecall()));
    setReg(cpu, 1, BigInt(DATA + 64));
    const before = cpu.instret;
    assert.equal(cpu.run(100_000), Stop.Syscall);
    assert.equal(pool.view.getUint32(F0 * PAGE_SIZE + 64, true), 300);
    assert.equal(cpu.instret - before, 2 + 300 * 5 + 1);
  });

  it('an access straddling a shared and a private page splits its bytes between them', () => {
    const cpu = bootShared(new Asm().w(rv.sd(2, 1, 0), rv.ld(3, 1, 0), rv.lw(4, 1, 2), rv.ecall()));
    setReg(cpu, 1, BigInt(DATA + PAGE_SIZE - 3));
    setReg(cpu, 2, 0x1122334455667788n);
    assert.equal(cpu.run(100), Stop.Syscall);
    assert.equal(getRegU(cpu, 3), 0x1122334455667788n);
    assert.equal(getReg(cpu, 4), 0x33445566n);
    const at = F0 * PAGE_SIZE + PAGE_SIZE - 3;
    assert.deepEqual([...pool.u8.subarray(at, at + 3)], [0x88, 0x77, 0x66]);
    assert.deepEqual([...memory().u8.subarray(DATA + PAGE_SIZE, DATA + PAGE_SIZE + 5)], [0x55, 0x44, 0x33, 0x22, 0x11]);
  });

  it('floating-point loads and stores move raw bits through the frame', () => {
    const cpu = bootShared(new Asm().w(fp.fld(1, 1, 0), fp.fsd(1, 1, 16), fp.flw(2, 1, 4), fp.fsw(2, 1, 24), rv.ecall()));
    pool.view.setBigUint64(F0 * PAGE_SIZE, 0x7ff4000000000001n, true);
    setReg(cpu, 1, BigInt(DATA));
    assert.equal(cpu.run(100), Stop.Syscall);
    assert.equal(pool.view.getBigUint64(F0 * PAGE_SIZE + 16, true), 0x7ff4000000000001n);
    assert.equal(pool.view.getUint32(F0 * PAGE_SIZE + 24, true), 0x7ff40000);
  });

  it('AMOs and LR/SC on a shared page are atomic operations on the pool', () => {
    const cpu = bootShared(new Asm().w(
      amo('amoadd', false, 3, 1, 2), amo('amoadd', true, 4, 5, 2),
      amo('lr', false, 6, 1, 0), amo('sc', false, 7, 1, 2), rv.ecall()));
    pool.view.setUint32(F0 * PAGE_SIZE, 40, true);
    setReg(cpu, 1, BigInt(DATA));
    setReg(cpu, 5, BigInt(DATA + 8));
    setReg(cpu, 2, 2n);
    assert.equal(cpu.run(100), Stop.Syscall);
    assert.equal(getReg(cpu, 3), 40n);
    assert.equal(getReg(cpu, 4), 0n);
    assert.equal(getReg(cpu, 6), 42n);
    assert.equal(getReg(cpu, 7), 0n, 'the SC succeeds');
    assert.equal(pool.view.getUint32(F0 * PAGE_SIZE, true), 2);
    assert.equal(pool.view.getBigUint64(F0 * PAGE_SIZE + 8, true), 2n);
  });

  it('a store to a read-only shared page is SIGSEGV/SEGV_ACCERR at its address, with nothing written', () => {
    const cpu = bootShared(new Asm().w(rv.lw(3, 1, 0), rv.sw(3, 1, 0), rv.ecall()));
    setReg(cpu, 1, BigInt(DATA + 2 * PAGE_SIZE + 8));
    pool.view.setUint32(F1 * PAGE_SIZE + 8, 5, true);
    assert.equal(cpu.run(100), Stop.Fault);
    assert.equal(cpu.fault.signal, SIGSEGV);
    assert.equal(cpu.fault.code, SEGV_ACCERR);
    assert.equal(cpu.fault.addr, DATA + 2 * PAGE_SIZE + 8);
    assert.equal(cpu.state.pc, CODE + 4);
    assert.equal(getReg(cpu, 3), 5n, 'the load before it retired');
  });

  it('a shared page without a frame (past the end of a mapped file) is SIGBUS/BUS_ADRERR', () => {
    const cpu = bootShared(new Asm().w(rv.lw(3, 1, 0), rv.ecall()));
    setReg(cpu, 1, BigInt(DATA + 3 * PAGE_SIZE + 12));
    assert.equal(cpu.run(100), Stop.Fault);
    assert.equal(cpu.fault.signal, SIGBUS);
    assert.equal(cpu.fault.code, BUS_ADRERR);
    assert.equal(cpu.fault.addr, DATA + 3 * PAGE_SIZE + 12);
    assert.equal(cpu.state.pc, CODE);
  });

  it('executing from a shared page faults (SIGSEGV/SEGV_ACCERR), never runs stale bytes', () => {
    const cpu = bootShared(new Asm().w(rv.ecall()));
    memory().pageFlags[P0] = PAGE_SHARED | ((PAGE_R | PAGE_X) << SHARED_SHIFT);
    cpu.state.pc = DATA;
    assert.equal(cpu.run(100), Stop.Fault);
    assert.equal(cpu.fault.signal, SIGSEGV);
    assert.equal(cpu.fault.code, SEGV_ACCERR);
    assert.equal(cpu.fault.addr, DATA);
  });

  it('a page not loaded yet stops the vCPU with FAULT_IN, nothing retired; loaded, the same instruction runs with exact counts', () => {
    const cpu = bootShared(new Asm().w(rv.addi(5, 0, 1), rv.sw(2, 1, 4), rv.lw(3, 1, 4), amo('amoadd', false, 4, 1, 2), rv.ecall()));
    memory().frames[P0 + 3] = FRAME_ABSENT;
    setReg(cpu, 1, BigInt(DATA + 3 * PAGE_SIZE));
    setReg(cpu, 2, 9n);
    const before = cpu.instret;
    assert.equal(cpu.run(100), Stop.Fault);
    assert.deepEqual([cpu.fault.signal, cpu.fault.code, cpu.fault.addr], [FAULT_IN, PAGE_W, DATA + 3 * PAGE_SIZE + 4]);
    assert.equal(cpu.state.pc, CODE + 4, 'at the store');
    assert.equal(cpu.instret - before, 1, 'only the addi retired');
    // The kernel loads the page (here: frame F1) and resumes.
    memory().frames[P0 + 3] = F1 + 1;
    assert.equal(cpu.run(100), Stop.Syscall);
    assert.equal(cpu.instret - before, 5);
    assert.equal(getReg(cpu, 3), 9n);
    assert.equal(getReg(cpu, 4), 0n, 'the AMO read the word at offset 0');
    assert.equal(pool.view.getUint32(F1 * PAGE_SIZE + 4, true), 9);
    assert.equal(pool.view.getUint32(F1 * PAGE_SIZE, true), 9);
  });

  it('an AMO on a page not loaded yet is FAULT_IN too, with its access', () => {
    const cpu = bootShared(new Asm().w(amo('lr', true, 3, 1, 0), rv.ecall()));
    memory().frames[P0 + 3] = FRAME_ABSENT;
    setReg(cpu, 1, BigInt(DATA + 3 * PAGE_SIZE + 16));
    assert.equal(cpu.run(100), Stop.Fault);
    assert.deepEqual([cpu.fault.signal, cpu.fault.code, cpu.fault.addr], [FAULT_IN, PAGE_R, DATA + 3 * PAGE_SIZE + 16]);
    assert.equal(cpu.state.pc, CODE);
  });

  it('high pages: loads, stores, AMOs and LR/SC at addresses above 4 GiB reach their frame, never the low page they would wrap to', () => {
    const cpu = bootShared(new Asm().w(
      rv.sd(2, 1, 8), rv.ld(3, 1, 8), rv.sw(2, 8, 0), amo('amoadd', true, 4, 1, 2),
      amo('lr', false, 6, 5, 0), amo('sc', false, 7, 5, 2), rv.ecall()));
    memory().high.set(HP, F1, PAGE_R | PAGE_W);
    memory().high.set(HP + 1, F0, PAGE_R | PAGE_W);
    pool.view.setUint32(F1 * PAGE_SIZE + 64, 77, true);
    setReg(cpu, 1, BigInt(HIGH));
    setReg(cpu, 5, BigInt(HIGH + 64));
    setReg(cpu, 8, BigInt(HIGH + PAGE_SIZE - 2));
    setReg(cpu, 2, 0x0102030405060708n);
    const before = cpu.instret;
    assert.equal(cpu.run(100), Stop.Syscall);
    assert.equal(cpu.instret - before, 7);
    assert.equal(getRegU(cpu, 3), 0x0102030405060708n);
    assert.equal(getReg(cpu, 4), 0n);
    assert.equal(pool.view.getBigUint64(F1 * PAGE_SIZE, true), 0x0102030405060708n, 'the AMO added to the word at HIGH');
    assert.equal(getReg(cpu, 6), 77n);
    assert.equal(getReg(cpu, 7), 0n, 'the SC succeeds');
    assert.equal(pool.view.getUint32(F1 * PAGE_SIZE + 64, true), 0x05060708);
    // The sw at the last 2 bytes of page HP straddles into page HP + 1 (frame F0): two bytes each side.
    assert.equal(pool.view.getUint16(F1 * PAGE_SIZE + PAGE_SIZE - 2, true), 0x0708);
    assert.equal(pool.view.getUint16(F0 * PAGE_SIZE, true), 0x0506);
    assert.equal(memory().view.getBigUint64(DATA + 8, true), 0n, 'nothing wrapped into low memory');
    assert.equal(pool.dirty[F1], 1);
  });

  it('high pages: not present is FAULT_IN, read-only refuses stores, past 256 GiB is SEGV_MAPERR, and code never runs there', () => {
    let cpu = bootShared(new Asm().w(rv.lw(3, 1, 0), rv.ecall()));
    setReg(cpu, 1, BigInt(HIGH + 12));
    assert.equal(cpu.run(100), Stop.Fault);
    assert.deepEqual([cpu.fault.signal, cpu.fault.code, cpu.fault.addr], [FAULT_IN, PAGE_R, HIGH + 12]);
    assert.equal(cpu.state.pc, CODE);

    cpu = bootShared(new Asm().w(rv.lw(3, 1, 0), rv.sw(3, 1, 0), rv.ecall()));
    memory().high.set(HP, F1, PAGE_R);
    setReg(cpu, 1, BigInt(HIGH + 12));
    assert.equal(cpu.run(100), Stop.Fault);
    assert.deepEqual([cpu.fault.signal, cpu.fault.code, cpu.fault.addr], [SIGSEGV, SEGV_ACCERR, HIGH + 12]);
    assert.equal(cpu.state.pc, CODE + 4);

    cpu = bootShared(new Asm().w(amo('amoswap', false, 3, 1, 0), rv.ecall()));
    setReg(cpu, 1, BigInt(HIGH + 12));
    assert.equal(cpu.run(100), Stop.Fault);
    assert.deepEqual([cpu.fault.signal, cpu.fault.code], [SIGSEGV, SEGV_ACCERR]);

    cpu = bootShared(new Asm().w(rv.lw(3, 1, 0), rv.ecall()));
    setReg(cpu, 1, BigInt(HIGH_VA_LIMIT + DATA));
    assert.equal(cpu.run(100), Stop.Fault);
    assert.deepEqual([cpu.fault.signal, cpu.fault.code, cpu.fault.addr], [SIGSEGV, SEGV_MAPERR, HIGH_VA_LIMIT + DATA]);

    cpu = bootShared(new Asm().w(rv.ecall()));
    memory().high.set(HP, F1, PAGE_R | PAGE_W);
    cpu.state.pc = HIGH;
    assert.equal(cpu.run(100), Stop.Fault);
    assert.deepEqual([cpu.fault.signal, cpu.fault.code, cpu.fault.addr], [SIGSEGV, SEGV_ACCERR, HIGH]);
  });
});
