// vCPU micro benchmark: guest instructions per second on one vCPU.
//   npx tsc -p . && node dist/bench/cpu-mips.js [compute-scale]
// Kernels: an ALU loop (add/xor/shifts/branch), a load/store loop, a call-heavy
// loop, and (if fixtures/bin/compute exists) the compute fixture at the given
// scale (default 20, the benchmark size) through the test-side ELF runner.

import * as fs from 'node:fs';
import * as path from 'node:path';
import { Cpu, Stop } from '../src/vcpu/cpu.js';
import { GuestMemory, PAGE_R, PAGE_W, PAGE_X, PAGE_SIZE } from '../src/vcpu/memory.js';
import { Asm, rv, rtype } from '../test/vcpu/asm.js';
import { runElf } from '../test/vcpu/elf.js';

const CODE = 0x10000, DATA = 0x100000;

function kernel(m: GuestMemory, name: string, asm: Asm, setup: (cpu: Cpu) => void): void {
  m.pageFlags.fill(0);
  m.u8.set(asm.bytes(), CODE);
  m.pageFlags[CODE / PAGE_SIZE] = PAGE_R | PAGE_X;
  for (let p = 0; p < 64; p++) m.pageFlags[DATA / PAGE_SIZE + p] = PAGE_R | PAGE_W;
  const cpu = new Cpu(m);
  cpu.state.pc = CODE;
  setup(cpu);
  const t0 = process.hrtime.bigint();
  let stop: Stop;
  do stop = cpu.run(50_000_000); while (stop === Stop.Budget);
  const s = Number(process.hrtime.bigint() - t0) / 1e9;
  console.log(`${name.padEnd(10)} ${(cpu.instret / 1e6).toFixed(0).padStart(6)} M insns ${s.toFixed(3)} s ${(cpu.instret / s / 1e6).toFixed(1).padStart(7)} MIPS`);
}

const m = GuestMemory.create();
const N = 50_000_000;
// ALU: 6 instructions per iteration.
kernel(m, 'alu', new Asm().w(
  rtype('add', 10, 10, 5), rtype('xor', 11, 11, 10), rv.slli(12, 11, 3), rv.srli(13, 12, 7),
  rv.addi(5, 5, -1), rv.bne(5, 0, -20), rv.ecall()), (cpu) => cpu.state.setS(5, Math.round(N / 6)));
// Memory: sum 32 KiB of doublewords repeatedly; 6 instructions per element.
kernel(m, 'load/store', new Asm().w(
  rv.addi(6, 7, 0),               // 0: p = base
  rv.ld(10, 6, 0),                // 4
  rtype('add', 11, 11, 10),       // 8
  rv.sd(11, 6, 8),                // 12
  rv.addi(6, 6, 8),               // 16
  rv.bne(6, 8, -16),              // 20 -> 4
  rv.addi(5, 5, -1),              // 24
  rv.bne(5, 0, -28),              // 28 -> 0
  rv.ecall()), (cpu) => {
  cpu.state.setS(7, DATA); cpu.state.setS(8, DATA + 32768); cpu.state.setS(5, Math.round(N / (4096 * 5)));
});
// Calls: jal to a 3-instruction leaf, 5 instructions per iteration.
kernel(m, 'call/ret', new Asm().w(
  rv.jal(1, 16),                  // 0 -> 16
  rv.addi(5, 5, -1),              // 4
  rv.bne(5, 0, -8),               // 8 -> 0
  rv.ecall(),                     // 12
  rv.addi(10, 10, 1),             // 16
  rv.jalr(0, 1, 0),               // 20
), (cpu) => cpu.state.setS(5, Math.round(N / 5)));

const bin = path.join(__dirname, '..', '..', 'fixtures', 'bin', 'compute');
if (fs.existsSync(bin)) {
  const scale = process.argv[2] ?? '20';
  const r = runElf(m, bin, ['/bin/compute', scale], ['PATH=/bin']);
  console.log(`compute ${scale}: ${(r.instret / 1e6).toFixed(0)} M insns ${r.seconds.toFixed(3)} s ${(r.instret / r.seconds / 1e6).toFixed(1)} MIPS, ${r.blocks} blocks, exit ${r.exit}`);
  process.stdout.write(r.stdout);
}
