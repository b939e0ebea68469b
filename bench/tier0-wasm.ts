// Tier 0 in WebAssembly against tier 0 in JavaScript, per instruction, on the
// same pre-decoded blocks (src/vcpu/README.md, "Decision: a tier 0 in
// WebAssembly, measured"):
//   npm run build && node dist/bench/tier0-wasm.js [rounds] [--per-block]
// Each kernel runs under a Cpu forced to tier 0 (`interp`: Interpreter.run
// and the run loop), then under src/vcpu/wasm-interp.ts's module driven by a
// small loop here (blocks decoded and pre-decoded as the Cpu does, copied to
// records in the guest memory, chained through the module's table), in turn
// for `rounds` rounds; both must leave the same registers. Prints MIPS of CPU
// time (process.cpuUsage) for each. With --per-block the module chains
// nothing (every block returns to the loop here) and the registers are
// copied from an Int32Array of halves (as ThreadState.x) into its slot and
// back around each call: the cost of an integration without chaining.

import { Cpu, Stop } from '../src/vcpu/cpu.js';
import { GuestMemory, PAGE_R, PAGE_W, PAGE_X, PAGE_SIZE } from '../src/vcpu/memory.js';
import { Asm, fop, R4, rv, rtype } from '../test/vcpu/asm.js';
import { drive, WasmTier0, XS } from '../test/vcpu/wasm-tier0.js';

const CODE = 0x10000, DATA = 0x100000;

interface Kernel { name: string; asm: Asm; regs: [number, number][] }

const N = 20_000_000;
const KERNELS: Kernel[] = [
  { name: 'alu', asm: new Asm().w(
    rtype('add', 10, 10, 5), rtype('xor', 11, 11, 10), rv.slli(12, 11, 3), rv.srli(13, 12, 7),
    rv.addi(5, 5, -1), rv.bne(5, 0, -20), rv.ecall()), regs: [[5, Math.round(N / 6)]] },
  { name: 'load/store', asm: new Asm().w(
    rv.addi(6, 7, 0), rv.ld(10, 6, 0), rtype('add', 11, 11, 10), rv.sd(11, 6, 8), rv.addi(6, 6, 8), rv.bne(6, 8, -16),
    rv.addi(5, 5, -1), rv.bne(5, 0, -28), rv.ecall()),
  regs: [[7, DATA], [8, DATA + 32768], [5, Math.round(N / (4096 * 5))]] },
  { name: 'call/ret', asm: new Asm().w(
    rv.jal(1, 16), rv.addi(5, 5, -1), rv.bne(5, 0, -8), rv.ecall(), rv.addi(10, 10, 1), rv.jalr(0, 1, 0)),
  regs: [[5, Math.round(N / 5)]] },
  // A bytecode loop as CPython's is: fetch a byte, an indirect call through a
  // table of handlers, each a few loads and stores on a stack (python's
  // tier-0 mix: ld, addi, add, sd, beq, slli, jalr, jal); ~9.5 instructions a byte.
  { name: 'dispatch', asm: new Asm().w(
    rv.addi(8, 20, 0),                  // 0: s0 = bytecode
    rv.lbu(5, 8, 0),                    // 4: loop: t0 = *s0
    rv.addi(8, 8, 1),                   // 8
    rv.slli(5, 5, 3),                   // 12
    rtype('add', 5, 5, 18),             // 16
    rv.ld(6, 5, 0),                     // 20
    rv.jalr(1, 6, 0),                   // 24: call the handler
    rv.bne(8, 9, -24),                  // 28 -> 4
    rv.addi(19, 19, -1),                // 32
    rv.bne(19, 0, -36),                 // 36 -> 0
    rv.ecall(),                         // 40
    rv.ld(10, 2, 0), rv.ld(11, 2, 8), rtype('add', 10, 10, 11), rv.sd(10, 2, 16), rv.addi(12, 12, 1), rv.jalr(0, 1, 0), // 44
    rv.ld(10, 2, 16), rv.addi(10, 10, 3), rv.sd(10, 2, 0), rv.beq(10, 0, 8), rv.addi(13, 13, 1), rv.jalr(0, 1, 0), // 68
    rv.ld(10, 2, 8), rtype('xor', 10, 10, 12), rv.slli(11, 10, 2), rv.sd(11, 2, 8), rv.ld(14, 2, 24),
    rtype('add', 14, 14, 11), rv.sd(14, 2, 24), rv.jalr(0, 1, 0), // 92
    rv.sw(10, 2, 32), rv.lw(15, 2, 32), rv.addiw(15, 15, 7), rv.sw(15, 2, 36), rv.jalr(0, 1, 0)), // 124
  regs: [[2, DATA + 0x2000], [20, DATA], [9, DATA + 1000], [18, DATA + 0x1000], [19, Math.round(N / 9500)]] },
];

/**
 * F/D arithmetic (fmadd.d, fmul.d, fdiv.d, fsub.d under the dynamic mode, fcvt.w.d rtz): `nan` false, on
 * ordinary doubles (the module's fast paths, src/vcpu/wasm-interp-fp.ts); true, f1 a NaN made first (0/0), so
 * that every one of them takes the slow path, a call from the module into fp.ts (as if every F/D instruction
 * called its JavaScript helper).
 */
function fpKernel(nan: boolean): Kernel {
  const asm = new Asm().w(fop(0x69, 1, 6, 0, 7), fop(0x69, 2, 7, 0, 7), nan ? fop(0x0d, 1, 3, 3, 7) : fop(0x09, 1, 1, 1, 7));
  asm.w(R4(4, 1, 2, 1, 7, 4, 0x43), fop(0x09, 5, 4, 1, 7), fop(0x0d, 6, 5, 2, 7), fop(0x05, 7, 6, 1, 7), fop(0x61, 10, 7, 0, 1),
    rv.addi(5, 5, -1), rv.bne(5, 0, -24), rv.ecall());
  return { name: nan ? 'fp (NaNs)' : 'fp', asm, regs: [[5, Math.round(N / 7)], [6, 3], [7, 7]] };
}
KERNELS.push(fpKernel(false), fpKernel(true));

function setUp(m: GuestMemory, k: Kernel): void {
  m.pageFlags.fill(0);
  m.u8.fill(0, DATA, DATA + 64 * PAGE_SIZE);
  m.u8.set(k.asm.bytes(), CODE);
  m.pageFlags[CODE / PAGE_SIZE] = PAGE_R | PAGE_X;
  for (let p = 0; p < 64; p++) m.pageFlags[DATA / PAGE_SIZE + p] = PAGE_R | PAGE_W;
  for (let i = 0; i < 1000; i++) m.u8[DATA + i] = (i * 7 + (i >> 3)) & 3;
  for (let h = 0; h < 4; h++) m.view.setBigInt64(DATA + 0x1000 + 8 * h, BigInt(CODE + [44, 68, 92, 124][h]), true);
}

function cpuMs(f: () => void): number {
  const t = process.cpuUsage();
  f();
  const d = process.cpuUsage(t);
  return (d.user + d.system) / 1000;
}

/** The kernel under the JavaScript tier 0: [instructions, ms, registers]. */
function runJs(m: GuestMemory, k: Kernel): [number, number, bigint[]] {
  setUp(m, k);
  const cpu = new Cpu(m, undefined, { engine: 'interp', tier0: 'js' });
  cpu.state.pc = CODE;
  for (const [r, v] of k.regs) cpu.state.setS(r, v);
  const ms = cpuMs(() => { let stop: Stop; do stop = cpu.run(50_000_000); while (stop === Stop.Budget); });
  const regs: bigint[] = [];
  for (let r = 0; r < 32; r++) regs.push(BigInt.asIntN(64, (BigInt(cpu.state.x[2 * r + 1]) << 32n) | BigInt(cpu.state.x[2 * r] >>> 0)));
  return [cpu.instret, ms, regs];
}

function runWasm(m: GuestMemory, w: WasmTier0, k: Kernel): [number, number, bigint[]] {
  setUp(m, k);
  w.reset();
  const i64 = new BigInt64Array(m.buffer), i32 = new Int32Array(m.buffer);
  for (const [r, v] of k.regs) i64[(XS >> 3) + r] = BigInt(v);
  let n = 0;
  const ms = cpuMs(() => { n = drive(w, i32, CODE, PER_BLOCK).n; });
  const regs: bigint[] = [];
  for (let r = 0; r < 32; r++) regs.push(i64[(XS >> 3) + r]);
  return [n, ms, regs];
}

const rounds = Number(process.argv[2] ?? '3');
const PER_BLOCK = process.argv.includes('--per-block');
const m = GuestMemory.create();
const w = new WasmTier0(m, PER_BLOCK);
for (const k of KERNELS) {
  const js: number[] = [], wa: number[] = [];
  for (let r = 0; r < rounds; r++) {
    const [n1, t1, r1] = runJs(m, k);
    const [n2, t2, r2] = runWasm(m, w, k);
    if (n1 !== n2) throw new Error(`${k.name}: ${n1} instructions in JS, ${n2} in wasm`);
    for (let i = 0; i < 32; i++) if (r1[i] !== r2[i]) throw new Error(`${k.name}: x${i} ${r1[i]} in JS, ${r2[i]} in wasm`);
    js.push(n1 / t1 / 1000); wa.push(n2 / t2 / 1000);
  }
  const med = (a: number[]) => [...a].sort((x, y) => x - y)[a.length >> 1];
  console.log(`${k.name.padEnd(11)} JS ${js.map((v) => v.toFixed(0)).join('/')} MIPS   wasm ${wa.map((v) => v.toFixed(0)).join('/')} MIPS   median ratio ${(med(wa) / med(js)).toFixed(2)}x`);
}
