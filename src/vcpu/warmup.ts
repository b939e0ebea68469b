// Teaching V8 the interpreter before a program needs it.
//
// Why: tier 0 (interp.ts) is one large function with a case per opcode. V8
// optimizes it with the type feedback gathered so far and, when a program
// first reaches a case (or a branch inside one) that has never run, throws
// that optimized code away ("insufficient type feedback"), runs the slow
// baseline code meanwhile and compiles again, 70-190 ms on this host each
// time. `python3 -c pass` deoptimized the interpreter a dozen times and ran
// at ~18 M instructions/s. Running every instruction once, with operands
// that take every path (carries, negative and 64-bit values, faults,
// accesses straddling a page, the single-copy atomic path of threads), on
// a Cpu of its own before the first real program gives that function (and
// the run loop, block building and decoding around it) the feedback real
// programs would give, so it is optimized once.
//
// Contract: warmUpOnce(makeCpu), on its first call in a thread, makes a
// Cpu over a fresh GuestMemory of its own with `makeCpu`, runs a fixed
// throwaway program on it and drops both; later calls do nothing. It
// touches nothing the thread's other Cpus see but the shared block cache,
// which gets the warm-up's blocks at pcs below 64 KiB, where Linux maps
// nothing, and above the stack at 0xf8000000, where the kernel maps nothing
// (and blocks are reused only after a byte compare anyway);
// the engine counters are left as they were. It costs about 100 ms of CPU
// once per thread and saved 20-25% of the CPU time of `python3 -c pass`.
// The kernel worker runs it at its first Cpu, before the first program;
// vCPU workers do not (Cpu.warmUpFirst): a worker is handed threads as soon
// as it starts, and one that warmed up first held them up (a forked child
// on a loaded host exited before its parent, on a new worker, looked at it:
// fixture procfs), so their tier 0 learns from the program as before.

import type { Cpu } from './cpu.js';
import { ENCODINGS } from './decode.js';
import { GuestMemory, PAGE_R, PAGE_W, PAGE_X, PAGE_SIZE } from './memory.js';
import { engineStats } from './engine-stats.js';

/**
 * Code pages (one slot of 8 bytes per test: the instruction, then ecall), a
 * read-only page, two data pages; and a copy of the code and two data pages
 * above 2^31 (above the stack, where the kernel maps nothing), as programs'
 * stacks and shared libraries are:
 * there pcs and addresses are not int32 values, and an interpreter optimized
 * on low addresses only was deoptimized ("lost precision") by the first
 * program and ran unoptimized for ~0.3 s (coremix: 530 K instructions at
 * 1.8 M/s).
 */
const CODE = 0x1000, CODE_PAGES = 6, READONLY = 0x8000, DATA = 0x9000;
const HIGH_CODE = 0xf800_0000, HIGH_DATA = 0xf900_0000;
const ECALL = 0x00000073;
/** Operand patterns OR'ed into each encoding's free bits: rd, rs1 (x11, the base register of loads, stores and AMOs), rs2, rm, high immediate bits. */
const PATTERNS = [
  (10 << 7) | (11 << 15) | (12 << 20),
  (13 << 7) | (11 << 15) | (14 << 20) | (7 << 12) | (0x7f << 25),
  (0 << 7) | (11 << 15) | (15 << 20) | (1 << 12) | (0x10 << 25),
];
/** CSR numbers tried with each Zicsr form: fflags, frm, fcsr, cycle, time, instret, and one that does not exist. */
const CSRS = [0x001, 0x002, 0x003, 0xc00, 0xc01, 0xc02, 0x7c0];

/**
 * Register files tried with every test: small values; large 64-bit ones with
 * the base register (x11) just before a page end, so accesses straddle it;
 * the base at an unmapped address, with a reserved frm (rm = 7 is SIGILL);
 * the base on a read-only page; the base at 2^32 and above.
 */
function setRegisters(cpu: Cpu, set: number): void {
  const s = cpu.state, x = s.x, f = s.fbits;
  for (let i = 1; i < 32; i++) {
    x[2 * i] = set === 0 ? i * 3 : Math.imul(i, 0x9e3779b9) ^ (set << 20);
    x[2 * i + 1] = set === 0 ? 0 : Math.imul(i, 0x85ebca6b) >> (set === 1 ? 0 : 8);
    // Doubles in even registers, NaN-boxed singles in odd ones, specials among them.
    f64[0] = FLOATS[(i + set) & 7] * (set + 1);
    if ((i & 1) === 0) { f[2 * i] = i32[0]; f[2 * i + 1] = i32[1]; } else { f32[0] = f64[0]; f[2 * i] = i32[0]; f[2 * i + 1] = -1; }
  }
  x[22] = BASES[set];
  x[23] = set === 4 ? 1 : 0;
  s.fcsr = set === 2 ? 5 << 5 : 0;
}
const FLOATS = [1.5, -3.25, 1e300, 5e-324, Infinity, NaN, 0, -0];
const BASES = [DATA + 16, DATA + PAGE_SIZE - 3, 0x7000_0000, READONLY + 8, DATA, HIGH_DATA + 16];
const f64 = new Float64Array(1), f32 = new Float32Array(f64.buffer), i32 = new Int32Array(f64.buffer);

/** Loads, stores, AMOs and F/D instructions: the ones tried with every register file (by major opcode). */
function memoryOrFloat(word: number): boolean {
  const opcode = word & 0x7f;
  return opcode === 0x03 || opcode === 0x23 || opcode === 0x07 || opcode === 0x27 || opcode === 0x2f || opcode === 0x53 || (opcode >= 0x43 && opcode <= 0x4f);
}

/** Each encoding with the first operand pattern only. */
const FIRST_PATTERN: ReadonlySet<number> = new Set(ENCODINGS.map(([, mask, match]) => match | (PATTERNS[0] & ~mask)));

/** Instructions whose arithmetic on a pc or an address leaves int32 above 2^31 (memory, F/D, auipc, jumps, branches), with one operand pattern. */
function addressArithmetic(word: number): boolean {
  const opcode = word & 0x7f;
  return FIRST_PATTERN.has(word) && (memoryOrFloat(word) || opcode === 0x17 || opcode === 0x6f || opcode === 0x67 || opcode === 0x63);
}

/**
 * Runs: (register file, cpu.mt, code above 2^31, which instructions):
 * every instruction twice, memory and F/D ones with the other register
 * files, and those doing address arithmetic again from the code and data
 * above 2^31 (only those: the warm-up is paid by every sandbox).
 */
type Run = readonly [number, boolean, boolean, (word: number) => boolean];
const RUNS: readonly Run[] = [
  [0, false, false, () => true], [1, true, false, () => true],
  [0, true, false, memoryOrFloat], [2, false, false, memoryOrFloat], [3, false, false, memoryOrFloat], [4, false, false, memoryOrFloat],
  [5, false, true, addressArithmetic],
];

/**
 * The instructions the warm-up tries, one test each: every encoding of the
 * decode table with each operand pattern (Zicsr: with each CSR), but ecall,
 * which ends every test anyway, and fence.i, which drops every block and so
 * runs once, last.
 */
export function warmUpWords(): number[] {
  const words: number[] = [];
  for (const [name, mask, match] of ENCODINGS) {
    if (name === 'ecall' || name === 'fence.i') continue;
    const zicsr = name.startsWith('csr');
    for (const pattern of zicsr ? CSRS.flatMap((c) => [(10 << 7) | (3 << 15) | (c << 20), (10 << 7) | (c << 20)]) : PATTERNS) {
      words.push(match | (pattern & ~mask));
    }
  }
  return words;
}

let warmedUp = false;

/** Run the warm-up program on a Cpu of `makeCpu`, the first time only (see the file comment). */
export function warmUpOnce(makeCpu: (mem: GuestMemory) => Cpu): void {
  if (warmedUp) return;
  warmedUp = true;
  const saved = { ...engineStats };
  const mem = GuestMemory.create(), cpu = makeCpu(mem), dv = mem.view;
  mem.pageFlags[READONLY / PAGE_SIZE] = PAGE_R;
  for (const data of [DATA, HIGH_DATA]) {
    mem.pageFlags[data / PAGE_SIZE] = PAGE_R | PAGE_W;
    mem.pageFlags[data / PAGE_SIZE + 1] = PAGE_R | PAGE_W;
  }
  const words = warmUpWords();
  if (words.length * 8 + 20 > CODE_PAGES * PAGE_SIZE) throw new Error('warmup.ts: the code pages are too few');
  for (const code of [CODE, HIGH_CODE]) {
    for (let p = 0; p < CODE_PAGES; p++) mem.pageFlags[code / PAGE_SIZE + p] = PAGE_R | PAGE_X;
    for (let j = 0; j < words.length; j++) {
      dv.setInt32(code + 8 * j, words[j], true);
      dv.setInt32(code + 8 * j + 4, ECALL, true);
    }
    // A counted loop inside one block: addi x5, x5, -1; bne x5, x0, -4; ecall. Then fence.i; ecall.
    const loop = code + 8 * words.length;
    dv.setInt32(loop, 0xfff28293 | 0, true);
    dv.setInt32(loop + 4, 0xfe029ee3 | 0, true);
    dv.setInt32(loop + 8, ECALL, true);
    dv.setInt32(loop + 12, 0x0000100f, true);
    dv.setInt32(loop + 16, ECALL, true);
  }
  const loopAt = 8 * words.length;
  for (const [set, mt, high, tried] of RUNS) {
    cpu.mt = mt;
    const code = high ? HIGH_CODE : CODE;
    for (let j = 0; j < words.length; j++) {
      if (!tried(words[j])) continue;
      setRegisters(cpu, set);
      cpu.state.pc = code + 8 * j;
      cpu.run(2);
    }
    setRegisters(cpu, set);
    cpu.state.x[10] = 50;   // x5's low half: 50 turns of the loop
    cpu.state.pc = code + loopAt;
    cpu.run(1000);
  }
  cpu.state.pc = CODE + loopAt + 12;
  cpu.run(2);
  Object.assign(engineStats, saved);
}
