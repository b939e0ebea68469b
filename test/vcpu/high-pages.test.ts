// The table of present pages above 4 GiB (src/vcpu/high-pages.ts): an
// open-addressing hash the kernel writes and every vCPU reads.

import { strict as assert } from 'node:assert';
import { PAGE_R, PAGE_W } from '../../src/vcpu/memory.js';
import { HighPages, HIGH_PRESENT } from '../../src/vcpu/high-pages.js';

describe('vcpu/high page table', () => {
  it('sets, finds, updates and deletes entries; a deletion keeps every other entry of its probe run reachable', () => {
    const t = HighPages.create();
    // Pages whose homes collide often enough to make long runs.
    const pages = Array.from({ length: 3000 }, (_, i) => (1 << 20) + i * 64);
    pages.forEach((p, i) => assert.ok(t.set(p, i, PAGE_R)));
    assert.equal(t.size, pages.length);
    assert.ok(t.set(pages[5], 777, PAGE_R | PAGE_W), 'an update');
    assert.equal(t.size, pages.length);
    assert.equal(t.frame(pages[5]), 778);
    assert.equal(t.perms(pages[5]), PAGE_R | PAGE_W);
    for (let i = 0; i < pages.length; i += 2) assert.equal(t.delete(pages[i]), (i === 0 ? 0 : i === 5 ? 777 : i) + 1);
    for (let i = 0; i < pages.length; i++) assert.equal(t.frame(pages[i]), i % 2 === 0 ? 0 : (i === 5 ? 777 : i) + 1, `page ${i}`);
    assert.equal(t.delete(pages[0]), 0, 'already gone');
    assert.equal(t.within(pages[1], pages[1] + 1).length, 1);
    assert.equal(t.within(0, 2 ** 27).length, pages.length / 2);
  });

  it('refuses more than HIGH_PRESENT entries', () => {
    const t = HighPages.create();
    for (let i = 0; i < HIGH_PRESENT; i++) assert.ok(t.set((1 << 20) + i, i & 0xfffff, PAGE_R));
    assert.equal(t.set((1 << 20) + HIGH_PRESENT, 1, PAGE_R), false);
    assert.equal(t.size, HIGH_PRESENT);
  });
});
