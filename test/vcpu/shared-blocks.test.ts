// The blocks shared by every Cpu of a thread (src/vcpu/shared-blocks.ts):
// an entry is found again only while the bytes at its pc are the ones it was
// decoded from, on executable pages, and, when asked, with the same end.

import * as assert from 'node:assert/strict';
import { PAGE_R, PAGE_SIZE, PAGE_X } from '../../src/vcpu/memory.js';
import { SharedBlocks } from '../../src/vcpu/shared-blocks.js';
import { memory } from './asm.js';

describe('vcpu shared blocks', () => {
  const mem = memory();
  const base = 0x80_0000; // above asm.ts's code and data pages
  after(() => mem.pageFlags.fill(0, base / PAGE_SIZE, base / PAGE_SIZE + 2));

  it('finds an entry by pc only while every byte it was decoded from is unchanged and executable', () => {
    mem.pageFlags[base / PAGE_SIZE] = PAGE_R | PAGE_X;
    mem.pageFlags[base / PAGE_SIZE + 1] = PAGE_R | PAGE_X;
    // A block of 24 bytes that straddles the page end.
    const pc = base + PAGE_SIZE - 12, end = pc + 24;
    for (let i = 0; i < 24; i++) mem.u8[pc + i] = 0x13 + i;
    const blocks = new SharedBlocks<string>(100);
    const e = blocks.entry(mem, pc, end, 6);
    assert.equal(blocks.find(mem, pc), e);
    assert.equal(blocks.find(mem, pc, end), e);
    assert.equal(blocks.find(mem, pc, end - 4), null, 'another end');
    assert.equal(blocks.find(mem, pc + 2), null, 'another pc');
    for (const at of [pc, pc + 11, pc + 12, end - 1]) {
      mem.u8[at] ^= 0x40;
      assert.equal(blocks.find(mem, pc), null, `byte ${at - pc} changed`);
      mem.u8[at] ^= 0x40;
      assert.equal(blocks.find(mem, pc), e, `byte ${at - pc} back`);
    }
    mem.pageFlags[base / PAGE_SIZE + 1] = PAGE_R;
    assert.equal(blocks.find(mem, pc), null, 'its second page no longer executable');
    mem.pageFlags[base / PAGE_SIZE + 1] = PAGE_R | PAGE_X;
    // New bytes at the same pc: a second entry beside the first, each found by its bytes.
    mem.u8[pc + 3] ^= 1;
    const e2 = blocks.entry(mem, pc, end, 6);
    assert.notEqual(e2, e);
    assert.equal(blocks.find(mem, pc), e2);
    mem.u8[pc + 3] ^= 1;
    assert.equal(blocks.find(mem, pc), e);
  });
});
