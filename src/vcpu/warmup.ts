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
// Contract: warmUpOnce(makeCpu, retire), on its first call in a thread,
// makes a Cpu over a fresh GuestMemory of its own with `makeCpu`, runs a
// fixed throwaway program on it and drops it; later calls do nothing. It
// touches nothing the thread's other Cpus see but the shared block cache,
// which gets the warm-up's blocks at pcs from CODE (blocks there are reused
// only after a byte compare);
// the engine counters are left as they were. It costs about 100 ms of CPU
// once per thread and saved 20-25% of the CPU time of `python3 -c pass`
// under the JavaScript tier 0. It is for that tier alone (TSVISOR_TIER0=js,
// Cpu.warmsUp): beside the WebAssembly tier 0, the default, the JavaScript
// interpreter runs only the blocks the module hands over, a few hundred in a
// whole program, and the warm-up cost each cold row more than it saved
// (README.md, "Decision: no warm-up beside the WebAssembly tier 0").
// The kernel's thread runs it at its first Cpu, before the first program;
// vCPU workers do not (Cpu.warmUpFirst): a worker is handed threads as soon
// as it starts, and one that warmed up first held them up (a forked child
// on a loaded host exited before its parent, on a new worker, looked at it:
// fixture procfs), so their tier 0 learns from the program as before.

import type { Cpu } from './cpu.js';
import { ENCODINGS } from './decode.js';
import { GuestMemory, PAGE_R, PAGE_W, PAGE_X, PAGE_SIZE } from './memory.js';
import { engineStats } from './engine-stats.js';
import { decodeDrill } from './warmup-decode.js';

/**
 * Code pages (one slot of 8 bytes per test: the instruction, then ecall), a
 * read-only page, two data pages, and a data page above 2^31, where real
 * programs keep their stack. The code sits above 2^31 too, where the
 * shared libraries are mapped (PIE programs start at 2^30): V8 keeps
 * integers below 2^30 apart from other numbers, and feedback that only
 * ever saw such small pcs and addresses (`base + offset` of a jal, `a + 4`
 * of a 64-bit access made of two 32-bit ones) threw the optimized
 * interpreter away at a program's first jal or stack access ("not a Smi",
 * "lost precision") and ran baseline code for the 100-400 ms of its next
 * compile.
 */
const CODE = 0xe000_0000, CODE_PAGES = 6, READONLY = 0x8000, DATA = 0x9000, HIGH = 0xefff_e000;
const ECALL = 0x00000073;
/**
 * Operand patterns OR'ed into each encoding's free bits: rd, rs1 (x11, the
 * base register of loads, stores and AMOs), rs2, rm, high immediate bits.
 * The first gives loads an offset of 16, so that with an aligned base every
 * load, ld included, takes its aligned path (the others' offsets are odd):
 * with 12 there, no ld of the warm-up was aligned outside `mt`, and a
 * program's first aligned ld threw the optimized interpreter away
 * (docs/FILES.md, rand-rw after the tier-0 rework). Its rd field, a
 * store's low offset bits, is 16 too: with 10 there the first stores the
 * warm-up ran were misaligned, V8's first compile had not seen an aligned
 * sw, and `bash -c true` threw it away at its first one. Its rm is 7
 * (dynamic, what compilers emit for most F/D instructions): with rm 7
 * only in the second, python's first such instruction often threw the
 * first compile away (at the check for a reserved frm).
 */
const PATTERNS = [
  (16 << 7) | (11 << 15) | (16 << 20) | (7 << 12),
  (13 << 7) | (11 << 15) | (14 << 20) | (0x7f << 25),
  (0 << 7) | (11 << 15) | (15 << 20) | (1 << 12) | (0x10 << 25),
];
/**
 * More operand patterns for the integer computations and branches (major
 * opcodes OP, OP-32, OP-IMM, OP-IMM-32, BRANCH), whose first source above is
 * always the small base register: x1 compared with, added to... itself:
 * equal halves (the paths a 64-bit compare takes past its high words), and
 * in the second register file words that are negative (an unsigned view of
 * them is not a small integer).
 * Without them a program's first beq of equal values, or add or bltu of
 * a negative number, threw the optimized interpreter away.
 */
const REGISTER_PATTERNS = [(14 << 7) | (1 << 15) | (1 << 20)];
const REGISTER_OPCODES: ReadonlySet<number> = new Set([0x33, 0x3b, 0x13, 0x1b, 0x63]);
/** CSR numbers tried with each Zicsr form: fflags, frm, fcsr, cycle, time, instret, and one that does not exist. */
const CSRS = [0x001, 0x002, 0x003, 0xc00, 0xc01, 0xc02, 0x7c0];

/**
 * Register files tried with every test: small values; large 64-bit ones with
 * the base register (x11) just before a page end, so accesses straddle it;
 * the base at an unmapped address, with a reserved frm (rm = 7 is SIGILL);
 * the base on a read-only page; the base at 2^32 and above; the base on the
 * page above 2^31.
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
const SETS = 6;
const FLOATS = [1.5, -3.25, 1e300, 5e-324, Infinity, NaN, 0, -0];
const BASES = [DATA + 16, DATA + PAGE_SIZE - 3, 0x7000_0000, READONLY + 8, DATA, HIGH + 64];
const f64 = new Float64Array(1), f32 = new Float32Array(f64.buffer), i32 = new Int32Array(f64.buffer);

/**
 * Loads, stores, AMOs and F/D instructions, and jalr: the ones tried with
 * every register file (by major opcode). Jalr computes its target as a load
 * its address: with the first two files its base was small or had a high
 * word, so its fast path never saw a target above 2^31 and a program's
 * first return into a shared library threw the optimized interpreter away
 * ("lost precision", `bash -c true`).
 */
function memoryOrFloat(word: number): boolean {
  const opcode = word & 0x7f;
  return opcode === 0x03 || opcode === 0x23 || opcode === 0x07 || opcode === 0x27 || opcode === 0x2f || opcode === 0x53 || opcode === 0x67 || (opcode >= 0x43 && opcode <= 0x4f);
}

/** (register file, cpu.mt) tried with every instruction, and those tried with memoryOrFloat ones only. */
const EVERY_RUN: readonly (readonly [number, boolean])[] = [[0, false], [1, true]];
/**
 * The last is the stack page above 2^31 with `mt` on: a thread's first aligned
 * ld or sd of its stack on 2 vCPUs (Interpreter.load64/store64 at `u >>> 0`)
 * threw the optimized interpreter away ("lost precision") just as the
 * parallel fixture's threads started (src/workers/README.md).
 */
const MEMORY_RUNS: readonly (readonly [number, boolean])[] = [[0, true], [2, false], [3, false], [4, false], [5, false], [5, true]];

/**
 * The instructions the warm-up tries, one test each: every encoding of the
 * decode table with each operand pattern (Zicsr: with each CSR; integer
 * computations and branches: with REGISTER_PATTERNS too), but ecall,
 * which ends every test anyway, and fence.i, which drops every block and so
 * runs once, first.
 */
export function warmUpWords(): number[] {
  const firsts: number[] = [], rest: number[] = [];
  for (const [name, mask, match] of ENCODINGS) {
    if (name === 'ecall' || name === 'fence.i') continue;
    const zicsr = name.startsWith('csr');
    const patterns = zicsr ? CSRS.flatMap((c) => [(10 << 7) | (3 << 15) | (c << 20), (10 << 7) | (c << 20)])
      : REGISTER_OPCODES.has(match & 0x7f) ? [...REGISTER_PATTERNS, ...PATTERNS] : PATTERNS;
    patterns.forEach((pattern, i) => (i === 0 ? firsts : rest).push(match | (pattern & ~mask)));
  }
  // V8's first compile of the interpreter comes early in the warm-up (see
  // warmUpOnce), and a case it has no feedback for throws the compile away
  // when a program first runs it: every encoding once first, then the other
  // patterns; loads and stores (the floating-point ones too) ahead in both,
  // as every program runs them at once.
  const access = (w: number) => [0x03, 0x23, 0x07, 0x27].includes(w & 0x7f);
  return [firsts, rest].flatMap((ws) => [...ws.filter(access), ...ws.filter((w) => !access(w))]);
}

let warmedUp = false;

/** Whether this thread ran the warm-up (warmUpOnce). */
export function warmedUpHere(): boolean {
  return warmedUp;
}

/** Run the warm-up program on a Cpu of `makeCpu`, the first time only (see the file comment); `retireSlabs` for block building's drill (warmup-decode.ts). */
export function warmUpOnce(makeCpu: (mem: GuestMemory) => Cpu, retireSlabs: () => void = () => undefined): void {
  if (warmedUp) return;
  warmedUp = true;
  const saved = { ...engineStats };
  const mem = GuestMemory.create(), cpu = makeCpu(mem), dv = mem.view;
  for (let p = 0; p < CODE_PAGES; p++) mem.pageFlags[CODE / PAGE_SIZE + p] = PAGE_R | PAGE_X;
  mem.pageFlags[READONLY / PAGE_SIZE] = PAGE_R;
  mem.pageFlags[DATA / PAGE_SIZE] = PAGE_R | PAGE_W;
  mem.pageFlags[DATA / PAGE_SIZE + 1] = PAGE_R | PAGE_W;
  mem.pageFlags[HIGH / PAGE_SIZE] = PAGE_R | PAGE_W;
  const words = warmUpWords();
  // The last word of the code pages: a block that ends at the page end (the interpreter's END), then ecall on the next page.
  const pageEnd = CODE + CODE_PAGES * PAGE_SIZE - 4;
  if (words.length * 8 + 20 > pageEnd - CODE) throw new Error('warmup.ts: the code pages are too few');
  mem.pageFlags[CODE / PAGE_SIZE + CODE_PAGES] = PAGE_R | PAGE_X;
  dv.setInt32(pageEnd, 0x00128293, true); // addi x5, x5, 1
  dv.setInt32(pageEnd + 4, ECALL, true);
  for (let j = 0; j < words.length; j++) {
    dv.setInt32(CODE + 8 * j, words[j], true);
    dv.setInt32(CODE + 8 * j + 4, ECALL, true);
  }
  // A counted loop inside one block: addi x5, x5, -1; bne x5, x0, -4; ecall. And fence.i; ecall.
  const loop = CODE + 8 * words.length, fenceI = loop + 12;
  dv.setInt32(loop, 0xfff28293 | 0, true);
  dv.setInt32(loop + 4, 0xfe029ee3 | 0, true);
  dv.setInt32(loop + 8, ECALL, true);
  dv.setInt32(fenceI, 0x0000100f, true);
  dv.setInt32(fenceI + 4, ECALL, true);
  // fence.i first: it bumps the Cpu's codeEpoch, and the first store to a
  // field V8 has seen only initialized turns it from constant to mutable,
  // which throws away every compile that relied on it. Run last, it aborted
  // the interpreter's first optimization (started during the warm-up, 200-300
  // ms of compiler time on a loaded host) and the program ran on in baseline
  // code until a second one finished.
  cpu.state.pc = fenceI;
  cpu.run(2);
  decodeDrill(mem, words, retireSlabs);
  // V8 records no type feedback for a function until it has run a while
  // (lazy feedback allocation): the first tests (lui, beq...) left none, and
  // the first compile was thrown away at a program's first lui. So first a
  // run of a loop, counting down from -1 (it leaves after LOOP_CHUNK turns):
  // values whose low word is not a small integer either (the compile that
  // starts next saw only small ones in addi when the count started at 1000).
  // Feedback is allocated during it. Then a few runs of a block that ends at
  // a page end (which no test of one instruction and ecall does: a program's
  // first such block threw the compile away) and goes on to an ecall on the
  // next page, reached by the run loop, then by chaining, and the loop once
  // more: with the ecall and the page end only after both loops, V8's first
  // compile (started in the loop) was thrown away at the warm-up's first
  // ecall, and a second one often at the program's (`bash -c true`, three
  // runs: one deoptimization of the interpreter where there were two or three).
  setRegisters(cpu, 0);
  for (const pageEnds of [4, 0]) {
    cpu.state.x[10] = -1;
    cpu.state.x[11] = -1;
    cpu.state.pc = loop;
    cpu.run(2000);
    for (let i = 0; i < pageEnds; i++) {
      cpu.state.pc = pageEnd;
      cpu.run(3);
    }
  }
  // Each instruction with every register file before the next instruction
  // (the base ISA comes first in the table): V8 starts optimizing the
  // interpreter early in the warm-up, with the feedback gathered so far, so
  // the instructions real programs run most must have seen all their
  // operands by then. One register file after the other, the first compile
  // had seen no address above 2^31 and was thrown away at the program's
  // first load from its stack.
  const runs = [...EVERY_RUN, ...MEMORY_RUNS];
  for (let j = 0; j < words.length; j++) {
    const memory = memoryOrFloat(words[j]);
    for (let r = 0; r < runs.length; r++) {
      if (r >= EVERY_RUN.length && !memory) continue;
      cpu.mt = runs[r][1];
      setRegisters(cpu, runs[r][0]);
      cpu.state.pc = CODE + 8 * j;
      cpu.run(2);
    }
  }
  // The loop with each register file.
  for (const [set, mt] of runs) {
    cpu.mt = mt;
    setRegisters(cpu, set);
    cpu.state.x[10] = 50;   // x5's low half: 50 turns of the loop
    cpu.state.pc = loop;
    cpu.run(1000);
  }
  // Only the counters the warm-up changed are put back: a store to the others would make them mutable too (see fence.i above).
  for (const k of Object.keys(saved) as (keyof typeof saved)[]) if (engineStats[k] !== saved[k]) engineStats[k] = saved[k];
}
