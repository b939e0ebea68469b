// Teaching V8 block building before a program needs it (a part of the
// warm-up, warmup.ts).
//
// Why: the warm-up's own tests are one 32-bit instruction and an ecall each,
// so block building (ops.ts predecodeBlock, decode.ts, cpu.ts build and the
// block table) had never decoded a compressed instruction, ended a block at
// MAX_BLOCK or a page end, or cut a new slab when a program started: V8
// optimized it without those paths and threw the code away at a program's
// first compressed instruction (several times in `bash -c true`), so most of
// a cold start's blocks were built by unoptimized code (~9 us a block; see
// README.md, "Decision: building blocks without objects").
//
// Contract: decodeDrill(mem, words, retire) writes a fixed stream of
// instructions (every compressed quadrant and funct3 with operand fields that
// take each of decode.ts's paths, 32-bit words from the warm-up between them,
// a run longer than a block, a page end and a 32-bit parcel cut by a page that
// is not executable) on two pages from DRILL of the warm-up's own memory,
// decodes its blocks with ops.ts predecodeBlock (no Cpu: nothing is
// registered or run), calling `retire` (new slabs for the next block and
// the next shared entry) early and at the end, and leaves those pages
// unmapped again.

import type { GuestMemory } from './memory.js';
import { PAGE_R, PAGE_SIZE, PAGE_X } from './memory.js';
import { Field, MAX_BLOCK, predecodeBlock, STRIDE } from './ops.js';

/** Two executable pages of the warm-up's memory that its own code does not use (warmup.ts CODE is 0xe000_0000, 7 pages). */
const DRILL = 0xe000_8000;

/** Compressed parcels: per quadrant and funct3, bits 12..2 in patterns covering rd/rs2 0 and 2, every sub-op (11:10) and op2 (6:5), a zero immediate. */
function compressedParcels(): number[] {
  const fields = [[0, 0, 0, 0], [0, 2, 0, 0], [1, 1, 1, 5], [2, 3, 2, 1], [3, 5, 3, 7]];
  const out: number[] = [];
  for (let q = 0; q < 3; q++) {
    for (let f3 = 0; f3 < 8; f3++) {
      for (const b12 of [0, 1]) for (const [b11, b9, b6, b4] of fields) out.push((f3 << 13) | (b12 << 12) | (b11 << 10) | (b9 << 7) | (b6 << 5) | (b4 << 2) | q);
    }
  }
  return out;
}

/** Write the drill's stream (compressed parcels, a 32-bit word of `words` after every second, then a run of 130 c.addi) from `at`; its end. */
function writeStream(mem: GuestMemory, at: number, words: number[]): number {
  const dv = mem.view, parcels = compressedParcels();
  let p = at;
  for (let i = 0; i < parcels.length; i++) {
    dv.setUint16(p, parcels[i], true);
    p += 2;
    if ((i & 1) === 1) { dv.setInt32(p, words[(i >> 1) % words.length], true); p += 4; }
  }
  for (let i = 0; i < 130; i++, p += 2) dv.setUint16(p, 0x0405, true); // c.addi x8, 1
  return p;
}

/** Run the drill (see the file comment); `words` are 32-bit instructions (the warm-up's). */
export function decodeDrill(mem: GuestMemory, words: number[], retire: () => void): void {
  const decodeAt = (pc: number): number => {
    const code = predecodeBlock(mem.u8, mem.pageFlags, pc, MAX_BLOCK);
    return code === null ? -1 : pc + code[code.length - STRIDE + Field.POS];
  };
  const pages = [DRILL / PAGE_SIZE, DRILL / PAGE_SIZE + 1];
  for (const pg of pages) mem.pageFlags[pg] = PAGE_R | PAGE_X;
  // The stream crosses from the first page into the second; the second ends in c.addi and half a 32-bit lui (the next page is not executable).
  const start = DRILL + PAGE_SIZE - 1024, end = writeStream(mem, start, words.filter((_, i) => i % 4 === 0));
  if (end > DRILL + 2 * PAGE_SIZE - 4) throw new Error('warmup-decode.ts: the drill is longer than its pages');
  mem.view.setUint16(DRILL + 2 * PAGE_SIZE - 4, 0x0405, true);
  mem.view.setUint16(DRILL + 2 * PAGE_SIZE - 2, 0x0537, true);
  // One walk, block after block, new slabs early in it (V8 allocates a
  // function's feedback after its first few calls, and its first compile
  // starts during the walk) and again at its end for the warm-up's blocks.
  let blocks = 0;
  for (let pc = start; pc < DRILL + 2 * PAGE_SIZE; blocks++) {
    if (blocks === 16) retire();
    const e = decodeAt(pc);
    pc = e < 0 ? pc + 2 : e;
  }
  retire();
  decodeAt(DRILL + 2 * PAGE_SIZE); // not executable: no block
  for (const pg of pages) mem.pageFlags[pg] = 0;
}
