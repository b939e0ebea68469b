import { strict as assert } from 'node:assert';
import { Stop } from '../../src/vcpu/cpu.js';
import { PAGE_R, PAGE_W, PAGE_X, PAGE_CODE, PAGE_SIZE } from '../../src/vcpu/memory.js';
import { Asm, boot, getReg, rv, setReg, CODE, memory } from './asm.js';
import { describeEngines } from './engines.js';

describeEngines('vcpu self-modifying code', () => {
  it('a store into the running block takes effect at the next fetch, without fence.i', () => {
    // x1 = address of the instruction at +12; store the word in x2 there; that slot runs next.
    const cpu = boot(new Asm().w(rv.auipc(1, 0), rv.sw(2, 1, 12), rv.addi(3, 0, 1), rv.addi(4, 0, 1), rv.ecall()));
    memory().pageFlags[CODE / PAGE_SIZE] = PAGE_R | PAGE_W | PAGE_X;
    setReg(cpu, 2, BigInt(rv.addi(4, 0, 42)));
    assert.equal(cpu.run(100), Stop.Syscall);
    assert.equal(getReg(cpu, 3), 1n);
    assert.equal(getReg(cpu, 4), 42n);
    assert.ok((memory().pageFlags[CODE / PAGE_SIZE] & PAGE_CODE) !== 0, 'the page is marked as holding code');
  });

  it('a loop that patches a later block sees the new code on every pass', () => {
    // Each pass calls a one-instruction function at +32 (addi x10, x0, imm), adds x10
    // into x5, then rewrites that function's immediate (+1) with an ordinary store.
    const prog = new Asm().w(
      rv.addi(7, 0, 5),          // 0: count
      rv.auipc(9, 0),            // 4: x9 = CODE+4
      rv.jal(1, 24),             // 8: -> 32
      0x00a282b3,                // 12: add x5, x5, x10
      rv.lui(11, 0x100),         // 16: x11 = 1 << 20 (one step of an I-immediate)
      rtypeAdd(8, 8, 11),        // 20: x8 += 1 << 20
      rv.sw(8, 9, 28),           // 24: store x8 over the instruction at 32
      rv.jal(0, 12),             // 28: -> 40
      rv.addi(10, 0, 0),         // 32: addi x10, x0, imm  (patched)
      rv.jalr(0, 1, 0),          // 36: ret
      rv.addi(7, 7, -1),         // 40
      rv.bne(7, 0, -36),         // 44: -> 8
      rv.ecall(),                // 48
    );
    const cpu = boot(prog);
    memory().pageFlags[CODE / PAGE_SIZE] = PAGE_R | PAGE_W | PAGE_X;
    setReg(cpu, 8, BigInt(rv.addi(10, 0, 0)) | 0n);
    assert.equal(cpu.run(10_000), Stop.Syscall);
    // passes see imm 0,1,2,3,4
    assert.equal(getReg(cpu, 5), 0n + 1n + 2n + 3n + 4n);
  });

  it('invalidateCode drops blocks after the host rewrites code; flushCode drops everything', () => {
    const cpu = boot(new Asm().w(rv.addi(3, 0, 1), rv.ecall()));
    assert.equal(cpu.run(10), Stop.Syscall);
    memory().view.setUint32(CODE, rv.addi(3, 0, 2), true);
    cpu.state.pc = CODE;
    assert.equal(cpu.run(10), Stop.Syscall);
    assert.equal(getReg(cpu, 3), 1n, 'stale until invalidated (the host wrote around the CPU)');
    cpu.invalidateCode(CODE, 4);
    cpu.state.pc = CODE;
    assert.equal(cpu.run(10), Stop.Syscall);
    assert.equal(getReg(cpu, 3), 2n);
    memory().view.setUint32(CODE, rv.addi(3, 0, 3), true);
    cpu.flushCode();
    cpu.state.pc = CODE;
    assert.equal(cpu.run(10), Stop.Syscall);
    assert.equal(getReg(cpu, 3), 3n);
  });

  it('fence.i makes code written by the host (or another hart) visible', () => {
    const cpu = boot(new Asm().w(rv.addi(3, 0, 1), rv.ecall(), rv.fencei(), rv.jal(0, -12)));
    assert.equal(cpu.run(10), Stop.Syscall);
    memory().view.setUint32(CODE, rv.addi(3, 3, 10), true);
    assert.equal(cpu.run(10), Stop.Syscall);
    assert.equal(getReg(cpu, 3), 11n);
  });

  it('invalidateCode after mprotect makes a fetch from the now non-executable page fault', () => {
    const cpu = boot(new Asm().w(rv.addi(3, 0, 1), rv.ecall()));
    assert.equal(cpu.run(10), Stop.Syscall);
    memory().pageFlags[CODE / PAGE_SIZE] = PAGE_R;
    cpu.invalidateCode(CODE, PAGE_SIZE);
    cpu.state.pc = CODE;
    assert.equal(cpu.run(10), Stop.Fault);
    assert.equal(cpu.fault.signal, 11);
    assert.equal(cpu.fault.code, 2);
    assert.equal(cpu.fault.addr, CODE);
  });
});

function rtypeAdd(rd: number, rs1: number, rs2: number): number {
  return ((rs2 << 20) | (rs1 << 15) | (rd << 7) | 0x33) >>> 0;
}
