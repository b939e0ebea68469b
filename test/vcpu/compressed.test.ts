import { strict as assert } from 'node:assert';
import { Stop } from '../../src/vcpu/cpu.js';
import { Asm, boot, getReg, setReg, DATA } from './asm.js';
import { describeEngines } from './engines.js';

// One assembly program (ALU, loads/stores incl. sp-relative and FP, branches,
// jal/jalr/jr/ret), assembled twice by GNU as: with RVC (-march=rv64gc: 36
// compressed forms of 24 kinds) and without (-march=rv64g). Both must end
// in the same architectural state, except ra and t3, which hold code
// addresses. (The expansion of all 49152 compressed halfwords was also
// checked against objdump when decode16 was written.)
const RVC = [0x4515, 0x55e5, 0x0535, 0x6649, 0x3675, 0x1693, 0x0285, 0xd713, 0x0076, 0xd793, 0x4036, 0x9bdd, 0x842e,
  0x942a, 0x04b3, 0x40b5, 0x8da9, 0x8e4d, 0x8ef1, 0x9f09, 0x9fa9, 0x7139, 0x0804, 0xe02a, 0xc42e, 0xe490, 0xc0d4,
  0x6282, 0x4322, 0xb383, 0x0084, 0xa803, 0x0044, 0x2502, 0xac88, 0x2c8c, 0xb02e, 0x3602, 0x48a9, 0x18fd, 0x9fe3,
  0xfe08, 0x8463, 0x0008, 0x0893, 0x0630, 0x00ef, 0x0060, 0xa019, 0x0405, 0x8082, 0x0e17, 0x0000, 0x0e13, 0x00ce,
  0x9e02, 0xa021, 0x0413, 0x0644, 0x8082, 0x6121, 0x0073, 0x0000];
const RVG = [0x0513, 0x0050, 0x0593, 0xff90, 0x0513, 0x00d5, 0x2637, 0x0001, 0x061b, 0xffd6, 0x1693, 0x0285, 0xd713,
  0x0076, 0xd793, 0x4036, 0xf793, 0xff77, 0x8413, 0x0005, 0x0433, 0x00a4, 0x04b3, 0x40b5, 0xc5b3, 0x00a5, 0x6633,
  0x00b6, 0xf6b3, 0x00c6, 0x073b, 0x40a7, 0x87bb, 0x00a7, 0x0113, 0xfc01, 0x0493, 0x0101, 0x3023, 0x00a1, 0x2423,
  0x00b1, 0xb423, 0x00c4, 0xa223, 0x00d4, 0x3283, 0x0001, 0x2303, 0x0081, 0xb383, 0x0084, 0xa803, 0x0044, 0x3507,
  0x0001, 0xbc27, 0x00a4, 0xb587, 0x0184, 0x3027, 0x02b1, 0x3607, 0x0201, 0x0893, 0x00a0, 0x8893, 0xfff8, 0x9ee3,
  0xfe08, 0x8463, 0x0008, 0x0893, 0x0630, 0x00ef, 0x0080, 0x006f, 0x00c0, 0x0413, 0x0014, 0x8067, 0x0000, 0x0e17,
  0x0000, 0x0e13, 0x010e, 0x00e7, 0x000e, 0x006f, 0x00c0, 0x0413, 0x0644, 0x8067, 0x0000, 0x0113, 0x0401, 0x0073,
  0x0000];

function runProgram(parcels: number[]): { x: bigint[]; f: string[]; instret: number } {
  const cpu = boot(new Asm().c(...parcels));
  setReg(cpu, 2, BigInt(DATA + 0x800));
  assert.equal(cpu.run(10_000), Stop.Syscall);
  const x: bigint[] = [];
  for (let i = 0; i < 32; i++) x.push(getReg(cpu, i));
  const f = Array.from(cpu.state.fbits, (v) => (v >>> 0).toString(16));
  return { x, f, instret: cpu.instret };
}

describeEngines('vcpu compressed instructions', () => {
  it('a program assembled with RVC ends in the same state as the same program without it', () => {
    const c = runProgram(RVC), g = runProgram(RVG);
    for (let i = 0; i < 32; i++) {
      if (i === 1 || i === 28) continue;
      assert.equal(c.x[i], g.x[i], `x${i}`);
    }
    assert.deepEqual(c.f, g.f);
    assert.equal(c.instret, g.instret);
    assert.equal(c.x[8], -7n + 18n + 1n + 100n, 's0 saw both calls');
    assert.equal(c.x[17], 0n, 'the countdown loop ran to zero');
  });

  it('reserved compressed encodings are illegal (c.addi16sp 0, c.lui 0, c.lwsp x0, c.jr x0, c.addiw x0, all zero, c.subw-space 0b10)', () => {
    for (const h of [0x6101, 0x6501, 0x4002, 0x8002, 0x2001, 0x0000, 0x9c41]) {
      const cpu = boot(new Asm().c(h));
      assert.equal(cpu.run(10), Stop.Fault, h.toString(16));
      assert.equal(cpu.fault.signal, 4, h.toString(16));
      assert.equal(cpu.fault.addr, cpu.state.pc, h.toString(16));
      assert.equal(cpu.state.pc, 0x10000, h.toString(16));
    }
  });
});
