// Block building straight into pre-decoded records (ops.ts predecodeBlock,
// decode.ts decodeInto): the same records, block ends and faults as decoding
// each instruction into an Insn (decode.ts decode) and pre-decoding those
// (ops.ts predecode), on random code with compressed and 32-bit
// instructions, page ends, pages that are not executable and long runs.

import * as assert from 'node:assert/strict';
import { decode, type Insn } from '../../src/vcpu/decode.js';
import { PAGE_R, PAGE_SIZE, PAGE_X } from '../../src/vcpu/memory.js';
import { ENDS_BLOCK, predecode, predecodeBlock, retireSlab, STRIDE } from '../../src/vcpu/ops.js';
import { memory } from './asm.js';

const MAX = 128;

/** The block at `pc` the slow way: Insn records, one by one, with cpu.ts's old stopping rules. */
function reference(u8: Uint8Array, pf: Uint8Array, pc: number): Int32Array | null {
  const fetchable = (p: number) => (pf[Math.floor(p / PAGE_SIZE)] & PAGE_X) !== 0;
  const insns: Insn[] = [], pcs: number[] = [];
  let p = pc;
  for (;;) {
    if (!fetchable(p)) break;
    const lo = u8[p] | (u8[p + 1] << 8);
    let hi = 0;
    if ((lo & 3) === 3) {
      if (!fetchable(p + 2)) break;
      hi = u8[p + 2] | (u8[p + 3] << 8);
    }
    const i = decode(lo, hi);
    insns.push(i); pcs.push(p);
    p += i.len;
    if (ENDS_BLOCK.has(i.op) || insns.length >= MAX || Math.floor(p / PAGE_SIZE) !== Math.floor(pc / PAGE_SIZE)) break;
  }
  return insns.length === 0 ? null : predecode(insns, pcs, p);
}

describe('vcpu block building into pre-decoded records', () => {
  const mem = memory();
  const base = 0x90_0000; // above asm.ts's code and data pages
  const pages = 4;
  after(() => { mem.pageFlags.fill(0, base / PAGE_SIZE, base / PAGE_SIZE + pages); mem.u8.fill(0, base, base + pages * PAGE_SIZE); });

  it('gives the records of decode() + predecode() for every block of random code (page ends, a page not executable, runs past MAX_BLOCK)', () => {
    let seed = 777;
    const rnd = () => { seed = (Math.imul(seed, 1103515245) + 12345) >>> 0; return seed >>> 8; };
    // Pages 0, 1 and 3 executable, 2 not: blocks end at page ends, before a parcel on page 2, and a 32-bit word may straddle 1 -> 2.
    for (let pg = 0; pg < pages; pg++) mem.pageFlags[base / PAGE_SIZE + pg] = pg === 2 ? PAGE_R : PAGE_R | PAGE_X;
    for (let round = 0; round < 4; round++) {
      // Mostly instructions that do not end a block (so that blocks grow long), with jumps, illegal words and c.addi runs among them.
      for (let p = base; p < base + pages * PAGE_SIZE;) {
        const k = rnd() % 16;
        if (k < 7) { mem.view.setUint16(p, (rnd() & 0xffff) | (round === 0 ? 0 : 1), true); p += 2; }       // compressed (quadrant 1 or 0/2 by chance)
        else if (k < 14) { mem.view.setInt32(p, (rnd() << 8) | 0x13 | ((rnd() & 7) << 12), true); p += 4; } // an OP-IMM word
        else if (k === 14) { mem.view.setInt32(p, (rnd() << 12) | 0x63 | ((rnd() & 7) << 12), true); p += 4; } // a branch, in the block or not
        else { for (let j = 0; j < 40 && p < base + pages * PAGE_SIZE; j++, p += 2) mem.view.setUint16(p, 0x0405, true); }
      }
      if (round === 2) retireSlab();
      for (let pc = base; pc < base + pages * PAGE_SIZE; pc += 2) {
        const want = reference(mem.u8, mem.pageFlags, pc), got = predecodeBlock(mem.u8, mem.pageFlags, pc, MAX);
        if (want === null) { assert.equal(got, null, `pc ${pc.toString(16)}`); continue; }
        assert.ok(got !== null, `pc ${pc.toString(16)}`);
        assert.equal(got.length % STRIDE, 0);
        assert.deepEqual(Array.from(got), Array.from(want), `round ${round}, pc 0x${pc.toString(16)}`);
      }
    }
  });

  it('keeps every block it gave out as it was while later blocks are built (slabs are never reused)', () => {
    mem.pageFlags[base / PAGE_SIZE] = PAGE_R | PAGE_X;
    for (let p = base; p < base + PAGE_SIZE; p += 4) mem.view.setInt32(p, 0x00100093 | ((p & 0x7f0) << 16), true); // addi x1, x0, k
    const first = predecodeBlock(mem.u8, mem.pageFlags, base, MAX) as Int32Array, copy = Array.from(first);
    for (let i = 0; i < 3000; i++) predecodeBlock(mem.u8, mem.pageFlags, base + 4 * (i % 1000), MAX);
    assert.deepEqual(Array.from(first), copy);
  });
});
