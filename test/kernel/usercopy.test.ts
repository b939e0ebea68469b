// UserMemory: every guest range is checked; a bad one is EFAULT, never an
// exception (the kernel must not throw on what a guest passes).

import assert from 'node:assert/strict';
import { UserMemory } from '../../src/kernel/usercopy.js';
import { EFAULT, Errno } from '../../src/linux/errno.js';
import { GuestMemory, PAGE_R, PAGE_SIZE, PAGE_W, GUEST_VA_LIMIT } from '../../src/vcpu/memory.js';

describe('kernel/usercopy: guest ranges', () => {
  const mem = GuestMemory.create();
  const page = 0x10000;
  mem.pageFlags[page / PAGE_SIZE] = PAGE_R | PAGE_W;
  const um = new UserMemory(mem);
  const addrs = [-1, 0, page + PAGE_SIZE - 2, GUEST_VA_LIMIT - 1, GUEST_VA_LIMIT, 2 ** 40, 2 ** 53, -(2 ** 63), NaN, 1.5];

  it('copies in and out of a mapped page', () => {
    assert.equal(um.copyOut(page + 8, Uint8Array.of(1, 2, 3)), 0);
    assert.deepEqual(um.copyIn(page + 8, 3), Uint8Array.of(1, 2, 3));
  });

  it('an empty copy succeeds at any address, as Linux copy_to_user of 0 bytes (a getgroups(0, bad) threw RangeError)', () => {
    for (const a of addrs) {
      assert.equal(um.copyOut(a, new Uint8Array(0)), 0, `copyOut at ${a}`);
      assert.equal(um.readInto(a, new Uint8Array(0)), 0, `readInto at ${a}`);
    }
  });

  it('every other access to an unmapped or out-of-range address is EFAULT, never a throw', () => {
    for (const a of addrs.filter((x) => x !== page + PAGE_SIZE - 2)) {
      for (const len of [1, 4, 8, 4096]) {
        assert.equal(um.copyOut(a, new Uint8Array(len)), EFAULT, `copyOut ${len} at ${a}`);
        assert.equal(um.copyIn(a, len), EFAULT, `copyIn ${len} at ${a}`);
        assert.equal(um.readInto(a, new Uint8Array(len)), EFAULT);
        assert.equal(um.zero(a, len), EFAULT);
      }
      for (const r of [um.readU32(a), um.readI32(a), um.readU64(a), um.readI64(a), um.readBigU64(a), um.writeU32(a, 1), um.writeU64(a, 1n), um.readCBytes(a), um.readIovecs(a, 2)]) {
        assert.ok(r instanceof Errno, `at ${a}: ${String(r)}`);
      }
    }
    // A range that starts mapped and runs past the page.
    assert.equal(um.copyOut(page + PAGE_SIZE - 2, new Uint8Array(4)), EFAULT);
    assert.equal(um.copyIn(page + PAGE_SIZE - 2, 4), EFAULT);
  });
});
