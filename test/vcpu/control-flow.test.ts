import { strict as assert } from 'node:assert';
import { Stop, SIGILL, ILL_ILLOPC, SIGTRAP, TRAP_BRKPT, LOOP_CHUNK } from '../../src/vcpu/cpu.js';
import { Asm, boot, getReg, rv, setReg, CODE, DATA, DATA_PAGES } from './asm.js';
import { describeEngines } from './engines.js';

describeEngines('vcpu branches and jumps', () => {
  const cases: [string, (a: number, b: number, o: number) => number, (a: bigint, b: bigint) => boolean][] = [
    ['beq', rv.beq, (a, b) => a === b],
    ['bne', rv.bne, (a, b) => a !== b],
    ['blt', rv.blt, (a, b) => a < b],
    ['bge', rv.bge, (a, b) => a >= b],
    ['bltu', rv.bltu, (a, b) => BigInt.asUintN(64, a) < BigInt.asUintN(64, b)],
    ['bgeu', rv.bgeu, (a, b) => BigInt.asUintN(64, a) >= BigInt.asUintN(64, b)],
  ];
  const vals = [0n, 1n, -1n, 5n, 1n << 32n, -(1n << 32n), (1n << 32n) + 1n, -(1n << 63n), (1n << 63n) - 1n, 0xffffffffn];
  for (const [name, enc, ref] of cases) {
    it(`${name} is taken exactly when the condition holds (64-bit compare)`, () => {
      // taken: skip over the addi that sets x3 = 1
      const cpu = boot(new Asm().w(rv.addi(3, 0, 0), enc(1, 2, 8), rv.addi(3, 0, 1), rv.ecall()));
      for (const a of vals) for (const b of vals) {
        setReg(cpu, 1, a); setReg(cpu, 2, b); cpu.state.pc = CODE;
        assert.equal(cpu.run(100), Stop.Syscall);
        assert.equal(getReg(cpu, 3), ref(a, b) ? 0n : 1n, `${name} ${a} ${b}`);
      }
    });
  }

  it('a value zero-extended with slli/srli by 32 equals the same value loaded from memory (int32-canonical register halves)', () => {
    // Go's runtime.getStackMap: t1 = zext32(-1) = 0xffffffff; t2 = ld 0xffffffff; beq must see them equal.
    // x1 = -1; x2 = x1 << 32 >> 32 (logical); x3 = ld [DATA]; x4 = 1; bne x2, x3, +8; x4 = 0; ecall
    const cpu = boot(new Asm().w(rv.addi(1, 0, -1), rv.slli(2, 1, 32), rv.srli(2, 2, 32), rv.ld(3, 5, 0), rv.addi(4, 0, 1), rv.bne(2, 3, 8), rv.addi(4, 0, 0), rv.ecall()));
    cpu.state.pc = CODE;
    setReg(cpu, 5, BigInt(DATA));
    const mem = (cpu as unknown as { mem: { view: DataView } }).mem.view;
    mem.setUint32(DATA, 0xffffffff, true);
    mem.setUint32(DATA + 4, 0, true);
    assert.equal(cpu.run(100), Stop.Syscall);
    assert.equal(getReg(cpu, 2), 0xffffffffn);
    assert.equal(getReg(cpu, 3), 0xffffffffn);
    assert.equal(getReg(cpu, 4), 0n, 'bne was taken between equal values');
  });

  it('backward branches loop, and the loop counts instructions exactly', () => {
    // x1 = 100; loop: x2 += 3; x1 -= 1; bne x1, x0, loop; ecall
    const cpu = boot(new Asm().w(rv.addi(1, 0, 100), rv.addi(2, 2, 3), rv.addi(1, 1, -1), rv.bne(1, 0, -8), rv.ecall()));
    assert.equal(cpu.run(1_000_000), Stop.Syscall);
    assert.equal(getReg(cpu, 2), 300n);
    assert.equal(cpu.instret, 1 + 300 + 1);
    assert.equal(cpu.state.pc, CODE + 20);
  });

  // A block ending in a branch to its own start runs as a loop inside its
  // function (cpu.ts LOOP_CHUNK); counts, faults and stops must not notice.
  it('a self-loop block: a fault in a later iteration retires exactly what came before, at the faulting pc', () => {
    // loop: lw x2, 0(x1); addi x1, x1, 4; bne x1, x5, loop; ecall -- runs off the 4 data pages
    const cpu = boot(new Asm().w(rv.lw(2, 1, 0), rv.addi(1, 1, 4), rv.bne(1, 5, -8), rv.ecall()));
    setReg(cpu, 1, BigInt(DATA)); setReg(cpu, 5, BigInt(DATA + 0x10000));
    assert.equal(cpu.run(1_000_000), Stop.Fault);
    assert.equal(cpu.fault.addr, DATA + DATA_PAGES * 4096);
    assert.equal(cpu.state.pc, CODE);
    assert.equal(cpu.instret, DATA_PAGES * 1024 * 3);
    assert.equal(getReg(cpu, 1), BigInt(DATA + DATA_PAGES * 4096));
  });

  it('a self-loop block stops for the budget between iterations and resumes exactly', () => {
    // loop: addi x2, x2, 1; addi x1, x1, -1; bne x1, x0, loop; ecall -- 60000 instructions
    const cpu = boot(new Asm().w(rv.addi(2, 2, 1), rv.addi(1, 1, -1), rv.bne(1, 0, -8), rv.ecall()));
    setReg(cpu, 1, 20000n);
    assert.equal(cpu.run(5000), Stop.Budget);
    assert.ok(cpu.instret >= 5000 && cpu.instret <= 5000 + 16384 + 3, `instret ${cpu.instret}`);
    assert.equal(cpu.state.pc, CODE);
    assert.equal(getReg(cpu, 2) * 3n, BigInt(cpu.instret));
    assert.equal(cpu.run(1_000_000), Stop.Syscall);
    assert.equal(cpu.instret, 20000 * 3 + 1);
    assert.equal(getReg(cpu, 2), 20000n);
    assert.equal(cpu.state.pc, CODE + 16);
  });

  it('jal links pc+4 and jumps; jalr adds the offset, clears bit 0 and links after reading rs1', () => {
    const cpu = boot(new Asm().w(
      rv.jal(1, 12),            // 0: -> 12
      rv.addi(5, 0, 1),         // 4: skipped
      rv.ecall(),               // 8: skipped
      rv.addi(6, 1, 0),         // 12: x6 = return address
      rv.ecall(),               // 16
    ));
    assert.equal(cpu.run(100), Stop.Syscall);
    assert.equal(cpu.state.pc, CODE + 20);
    assert.equal(getReg(cpu, 6), BigInt(CODE + 4));
    assert.equal(getReg(cpu, 5), 0n);
    // jalr x1, 9(x1) where x1 = CODE-1: target (CODE + 8) & ~1 = CODE + 8, link = pc + 4.
    const cpu2 = boot(new Asm().w(rv.jalr(1, 1, 9), rv.addi(5, 0, 1), rv.ecall()));
    setReg(cpu2, 1, BigInt(CODE - 1));
    assert.equal(cpu2.run(100), Stop.Syscall);
    assert.equal(getReg(cpu2, 1), BigInt(CODE + 4));
    assert.equal(getReg(cpu2, 5), 0n);
    assert.equal(cpu2.state.pc, CODE + 12);
  });

  it('ecall stops with Syscall and pc just past it; the kernel can resume there', () => {
    const cpu = boot(new Asm().w(rv.addi(17, 0, 93), rv.ecall(), rv.addi(10, 10, 1), rv.ecall()));
    assert.equal(cpu.run(100), Stop.Syscall);
    assert.equal(cpu.state.pc, CODE + 8);
    assert.equal(getReg(cpu, 17), 93n);
    cpu.state.setS(10, 41);
    assert.equal(cpu.run(100), Stop.Syscall);
    assert.equal(getReg(cpu, 10), 42n);
    assert.equal(cpu.instret, 4);
  });

  it('an illegal instruction is SIGILL/ILL_ILLOPC at its pc, after earlier instructions retire', () => {
    const cpu = boot(new Asm().w(rv.addi(5, 0, 3), 0xffffffff, rv.ecall()));
    assert.equal(cpu.run(100), Stop.Fault);
    assert.equal(cpu.fault.signal, SIGILL);
    assert.equal(cpu.fault.code, ILL_ILLOPC);
    assert.equal(cpu.fault.addr, CODE + 4);
    assert.equal(cpu.state.pc, CODE + 4);
    assert.equal(getReg(cpu, 5), 3n);
  });

  it('a pc that is not 2-byte aligned (set by the kernel) is SIGBUS/BUS_ADRALN', () => {
    const cpu = boot(new Asm().w(rv.ecall()));
    cpu.state.pc = CODE + 1;
    assert.equal(cpu.run(100), Stop.Fault);
    assert.equal(cpu.fault.signal, 7);
    assert.equal(cpu.fault.code, 1);
    assert.equal(cpu.fault.addr, CODE + 1);
    assert.equal(cpu.state.pc, CODE + 1);
  });

  it('the all-zero halfword is illegal', () => {
    const cpu = boot(new Asm().c(0x0000));
    assert.equal(cpu.run(100), Stop.Fault);
    assert.equal(cpu.fault.signal, SIGILL);
    assert.equal(cpu.fault.addr, CODE);
  });

  it('ebreak and c.ebreak are SIGTRAP/TRAP_BRKPT at their pc', () => {
    const cpu = boot(new Asm().w(rv.ebreak()));
    assert.equal(cpu.run(100), Stop.Fault);
    assert.equal(cpu.fault.signal, SIGTRAP);
    assert.equal(cpu.fault.code, TRAP_BRKPT);
    assert.equal(cpu.fault.addr, CODE);
    const cpu2 = boot(new Asm().c(0x0001, 0x9002));
    assert.equal(cpu2.run(100), Stop.Fault);
    assert.equal(cpu2.fault.signal, SIGTRAP);
    assert.equal(cpu2.fault.addr, CODE + 2);
    assert.equal(cpu2.state.pc, CODE + 2);
  });
});

describeEngines('vcpu run loop stops', () => {
  it('stops with Budget after about the budget, and resumes where it stopped', () => {
    // A block that jumps back into itself runs up to LOOP_CHUNK instructions per call.
    const cpu = boot(new Asm().w(rv.addi(1, 1, 1), rv.jal(0, -4)));
    assert.equal(cpu.run(1000), Stop.Budget);
    assert.ok(cpu.instret >= 1000 && cpu.instret <= 1000 + LOOP_CHUNK + 2, `instret ${cpu.instret}`);
    assert.equal(getReg(cpu, 1) * 2n, BigInt(cpu.instret));
    assert.equal(cpu.run(1000), Stop.Budget);
    assert.equal(getReg(cpu, 1) * 2n, BigInt(cpu.instret));
  });

  it('stops with Interrupted when the shared flag is raised, and does not clear it', () => {
    const flag = new Int32Array(new SharedArrayBuffer(4));
    const cpu = boot(new Asm().w(rv.addi(1, 1, 1), rv.jal(0, -4)), flag);
    assert.equal(cpu.run(50), Stop.Budget);
    flag[0] = 1;
    assert.equal(cpu.run(1000), Stop.Interrupted);
    assert.equal(flag[0], 1);
    const pc = cpu.state.pc;
    assert.ok(pc === CODE || pc === CODE + 4);
    flag[0] = 0;
    assert.equal(cpu.run(10), Stop.Budget);
  });

  it('a budget of 0 runs nothing', () => {
    const cpu = boot(new Asm().w(rv.addi(1, 1, 1), rv.ecall()));
    assert.equal(cpu.run(0), Stop.Budget);
    assert.equal(cpu.instret, 0);
    assert.equal(cpu.state.pc, CODE);
  });
});
