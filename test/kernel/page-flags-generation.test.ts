// The page flags' generation (src/vcpu/memory.ts FLAGS_GEN): every change of
// page flags by the address space bumps it, so that tier 2's functions,
// which remember pages they found accessible across calls, forget them
// (src/vcpu/wasm-tier.ts; the vCPU side is in test/vcpu/wasm-tier.test.ts).

import assert from 'node:assert/strict';
import { MemoryAccount, MemoryManager } from '../../src/kernel/mm.js';
import { PROT_READ, PROT_WRITE } from '../../src/linux/abi.js';
import { FLAGS_GEN, GuestMemory, PAGE_R, PAGE_SIZE } from '../../src/vcpu/memory.js';

describe('kernel/mm: the page flags generation', () => {
  it('mapFixed, protect, unmap and brk each bump it after the flags changed', () => {
    const mem = GuestMemory.create();
    const mm = new MemoryManager(mem, new MemoryAccount(1 << 30), () => undefined);
    const gen = (): number => Atomics.load(mem.i32, FLAGS_GEN >> 2);
    const base = 0x20000;
    let last = gen();
    const bumped = (what: string): void => {
      assert.ok(gen() !== last, `${what} bumped the generation`);
      last = gen();
    };
    assert.equal(mm.mapFixed(base, 4 * PAGE_SIZE, PROT_READ | PROT_WRITE, 'test'), 0);
    bumped('mapFixed');
    assert.equal(mm.protect(base, PAGE_SIZE, PROT_READ), 0);
    assert.equal(mem.pageFlags[base / PAGE_SIZE], PAGE_R);
    bumped('protect');
    assert.equal(mm.unmap(base + PAGE_SIZE, PAGE_SIZE), 0);
    assert.equal(mem.pageFlags[base / PAGE_SIZE + 1], 0);
    bumped('unmap');
    mm.setBrkStart(0x100000);
    assert.ok(mm.brk(0x100000 + 2 * PAGE_SIZE) > 0x100000);
    bumped('brk');
  });
});
