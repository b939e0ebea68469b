// Releasing an address space (mm.ts release through scrub.ts scrubReleased):
// every page that held data reads zero afterwards, page 0's words survive, and
// pages the host never committed are not touched (mincore still finds them
// absent), which is the point: reading each page of a mostly untouched 8 MiB
// stack cost a host page fault per page.

import { strict as assert } from 'node:assert';
import koffi from 'koffi';
import { MemoryAccount, MemoryManager } from '../../src/kernel/mm.js';
import { learnHostBase, scrubLive, scrubReleased, zeroDataPages } from '../../src/kernel/scrub.js';
import { GuestMemory, PAGE_SIZE } from '../../src/vcpu/memory.js';
import { dontNeed, residency } from '../../src/host/memory.js';
import { PROT_READ, PROT_WRITE } from '../../src/linux/abi.js';

const STACK = 0xef80_0000;
const PAGES = 2048;

/** Pages of [start, start + pages) the host holds memory for. */
function resident(mem: GuestMemory, start: number, pages: number): number {
  const vec = new Uint8Array(pages);
  assert.equal(residency(koffi.address(mem.u8) + BigInt(start), pages * PAGE_SIZE, vec), 0);
  return vec.reduce((n, b) => n + (b & 1), 0);
}

describe('scrubbing a released address space', () => {
  const written = [0, 1, 700, 701, 1500, PAGES - 1];

  function fill(mem: GuestMemory): void {
    for (const p of written) mem.u8.fill(p % 251 + 1, STACK + p * PAGE_SIZE + 17, STACK + p * PAGE_SIZE + 300);
  }

  it('zeroes the pages that held data and leaves the untouched ones uncommitted', () => {
    const mem = GuestMemory.create();
    const mm = new MemoryManager(mem, new MemoryAccount(2 ** 32), () => {});
    assert.equal(mm.mapFixed(STACK, PAGES * PAGE_SIZE, PROT_READ | PROT_WRITE, '[stack]'), 0);
    fill(mem);
    mem.u8[2] = 0x5a; // page 0 holds the CPUs' own words (tier 2's slot claims at 0; memory.ts)
    mem.u8[PAGE_SIZE - 3] = 0x6b;
    assert.ok(resident(mem, STACK, PAGES) >= written.length);
    mm.release();
    assert.equal(mm.vmaAt(STACK), undefined);
    assert.ok(resident(mem, STACK, PAGES) <= written.length, 'pages never written were read (or written) by the scrub');
    assert.equal(mem.u8[2], 0x5a);
    assert.equal(mem.u8[PAGE_SIZE - 3], 0x6b);
    const stack = mem.u8.subarray(STACK, STACK + PAGES * PAGE_SIZE);
    assert.equal(stack.every((b) => b === 0), true);

    // The memory is reused, as the pool does: a second release scrubs again.
    assert.equal(mm.mapFixed(STACK, PAGES * PAGE_SIZE, PROT_READ | PROT_WRITE, '[stack]'), 0);
    fill(mem);
    mm.release();
    assert.equal(stack.every((b) => b === 0), true);
  });

  it('gives back pages the host dropped and zeroes the ones it holds, across chunk ends', () => {
    const mem = GuestMemory.create();
    const base = koffi.address(mem.u8);
    const start = 0x2000_0000, pages = 4096 + 40; // more than one mincore chunk
    for (let p = 0; p < pages; p += 37) mem.u8[start + p * PAGE_SIZE + (p % PAGE_SIZE)] = 1 + (p % 200);
    // Two written pages given back behind the scrub's back: absent, and zero again.
    assert.equal(dontNeed(base + BigInt(start + 37 * PAGE_SIZE), PAGE_SIZE), 0);
    assert.equal(dontNeed(base + BigInt(start + 4070 * PAGE_SIZE), PAGE_SIZE), 0);
    scrubReleased(mem, start, start + pages * PAGE_SIZE);
    assert.equal(mem.u8.subarray(start, start + pages * PAGE_SIZE).every((b) => b === 0), true);
    // A page outside the range keeps its data.
    mem.u8[start + pages * PAGE_SIZE] = 3;
    scrubReleased(mem, start, start + pages * PAGE_SIZE);
    assert.equal(mem.u8[start + pages * PAGE_SIZE], 3);
  });

  it("scrubLive (munmap, MADV_DONTNEED while threads run) reads a range page by page until the host address is learnt (learnHostBase), then gives a long range back in one madvise, zeroes a short one in place, and leaves page 0 as it was (its host address checked at HOST_COOKIE)", () => {
    const mem = GuestMemory.create();
    // Page 0's words (tier 2's slot claims at 0, FLAGS_GEN, the engine claim, the register slots from 256): a
    // thread may read any of them at any time, so the host address is checked at HOST_COOKIE only. A view that
    // records every write to page 0 would need a proxy; instead the bytes around the cookie are marked and the
    // cookie's own bytes must come back as they were.
    for (let i = 0; i < PAGE_SIZE; i++) mem.u8[i] = (i * 7 + 3) & 0xff;
    const page0 = mem.u8.slice(0, PAGE_SIZE);
    // Before the memory's host address is learnt (a process's first CLONE_VM), a range is read and zeroed.
    fill(mem);
    scrubLive(mem, STACK, STACK + PAGES * PAGE_SIZE);
    assert.equal(resident(mem, STACK, PAGES), PAGES, 'read page by page');
    assert.equal(mem.u8.subarray(STACK, STACK + PAGES * PAGE_SIZE).every((b) => b === 0), true);
    assert.equal(dontNeed(koffi.address(mem.u8) + BigInt(STACK), PAGES * PAGE_SIZE), 0);
    learnHostBase(mem);
    fill(mem);
    const longEnd = STACK + PAGES * PAGE_SIZE;
    assert.ok(resident(mem, STACK, PAGES) >= written.length);
    scrubLive(mem, STACK, longEnd);
    // Residency first: reading a page back maps it again.
    assert.equal(resident(mem, STACK, PAGES), 0, 'a long range is given back to the host, not zeroed in place');
    assert.equal(mem.u8.subarray(STACK, longEnd).every((b) => b === 0), true);
    assert.deepEqual(mem.u8.slice(0, PAGE_SIZE), page0, "page 0's bytes are as they were");
    // A range under 32 pages is zeroed in place where it holds data (a madvise costs ~15 host faults).
    const short = STACK + 100 * PAGE_SIZE;
    mem.u8.fill(9, short, short + 8 * PAGE_SIZE);
    mem.u8[short + 8 * PAGE_SIZE] = 4; // the page after the range keeps its byte
    scrubLive(mem, short, short + 8 * PAGE_SIZE);
    assert.equal(mem.u8.subarray(short, short + 8 * PAGE_SIZE).every((b) => b === 0), true);
    assert.equal(resident(mem, short, 8), 8, 'a short range stays committed');
    assert.equal(mem.u8[short + 8 * PAGE_SIZE], 4);
  });

  it('zeroDataPages (munmap, fork) reads every page and zeroes those with data', () => {
    const mem = GuestMemory.create();
    fill(mem);
    zeroDataPages(mem, STACK, STACK + PAGES * PAGE_SIZE);
    assert.equal(mem.u8.subarray(STACK, STACK + PAGES * PAGE_SIZE).every((b) => b === 0), true);
  });
});
