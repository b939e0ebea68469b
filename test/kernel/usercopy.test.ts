// UserMemory: every guest range is checked; a bad one is EFAULT, never an
// exception (the kernel must not throw on what a guest passes).

import assert from 'node:assert/strict';
import { StructWriter, UserMemory } from '../../src/kernel/usercopy.js';
import { AddressSpace } from '../../src/kernel/address-space.js';
import { MemoryAccount } from '../../src/kernel/mm.js';
import { EFAULT, ENAMETOOLONG, Errno, isErrno } from '../../src/linux/errno.js';
import { PATH_MAX, PROT_READ, PROT_WRITE } from '../../src/linux/abi.js';
import { GuestMemory, PAGE_CODE, PAGE_R, PAGE_SIZE, PAGE_W, GUEST_VA_LIMIT } from '../../src/vcpu/memory.js';

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

describe('kernel/usercopy: C strings and struct fields', () => {
  const mem = GuestMemory.create();
  const page = 0x20000;
  // Two readable pages, then an unmapped one.
  mem.pageFlags[page / PAGE_SIZE] = PAGE_R | PAGE_W;
  mem.pageFlags[page / PAGE_SIZE + 1] = PAGE_R | PAGE_W;
  const um = new UserMemory(mem);
  const put = (addr: number, b: Uint8Array) => assert.equal(um.copyOut(addr, b), 0);
  const enc = (s: string) => new TextEncoder().encode(s);

  it('readCString: a string across a page boundary, UTF-8 decoded; readCBytes gives the same bytes', () => {
    const at = page + PAGE_SIZE - 5;
    put(at, enc('/tmp/\u00e9t\u00e9/f1\0'));
    assert.equal(um.readCString(at), '/tmp/\u00e9t\u00e9/f1');
    assert.deepEqual(um.readCBytes(at), enc('/tmp/\u00e9t\u00e9/f1'));
    put(page, enc('\0'));
    assert.equal(um.readCString(page), '');
  });

  it('readCString: a NUL another vCPU writes between the scan and the decoding ends the string there (no NUL inside a path)', () => {
    const at = page + 300;
    put(at, enc('abc\0def\0'));
    // The scan as it was before the NUL at 3 was written: 7 bytes.
    const raced = Object.create(um) as UserMemory;
    (raced as unknown as { scanCString: () => number }).scanCString = () => 7;
    assert.equal(raced.readCString(at), 'abc');
    assert.equal(um.readCString(at), 'abc');
  });

  it('readCString: EFAULT when the string runs into an unmapped page, ENAMETOOLONG past max', () => {
    const end = page + 2 * PAGE_SIZE;
    put(end - 3, enc('abc'));
    assert.equal(um.readCString(end - 3), EFAULT);
    assert.equal(um.readCBytes(end - 3), EFAULT);
    put(page + 100, enc('abcdef\0'));
    assert.equal(um.readCString(page + 100, 6), 'abcdef');
    assert.equal(um.readCString(page + 100, 5), ENAMETOOLONG);
    assert.equal(um.readCBytes(page + 100, 5), ENAMETOOLONG);
    // Longer than the decoding scratch buffer (PATH_MAX): still read whole when max allows.
    const long = 'x'.repeat(PATH_MAX + 10);
    put(page + 200, enc(long + '\0'));
    assert.equal(um.readCString(page + 200, PATH_MAX + 10), long);
    assert.equal(um.readCString(page + 200), ENAMETOOLONG);
  });

  it('readCString reads a string in MAP_SHARED memory (its bytes are in the frame pool)', () => {
    const account = new MemoryAccount(16 << 20);
    const vm = new AddressSpace(account);
    try {
      const at = vm.mm.mapAnywhere(2 * PAGE_SIZE, PROT_READ | PROT_WRITE, '', 0, { pgoff: 0 });
      assert.ok(!isErrno(at));
      const s = 'shared/' + 'y'.repeat(PAGE_SIZE);
      assert.equal(vm.user.copyOut(at + 5, enc(s + '\0')), 0);
      assert.equal(vm.mem.u8[at + 5], 0, 'the bytes live in the pool');
      assert.equal(vm.user.readCString(at + 5, 2 * PAGE_SIZE), s);
    } finally {
      vm.release();
    }
  });

  it('writeStruct: in place on private pages (across a page boundary), every byte the fill writes; through the pool on shared pages; EFAULT leaves the page as it was', () => {
    const fill = (w: StructWriter, v: number) => { w.u64(0, v).u32(8, 7).i32(12, -2).u16(16, 0xbeef).u16(18, 0).u32(20, 0).u64(24, 2n ** 63n); };
    const want = new StructWriter(32);
    fill(want, 2 ** 40 + 3);
    for (const at of [page + 64, page + PAGE_SIZE - 12]) {
      mem.u8.fill(0xff, at - 8, at + 40);
      const w = new StructWriter(32);
      assert.equal(um.writeStruct(at, w, fill, 2 ** 40 + 3), 0);
      assert.deepEqual(mem.u8.slice(at, at + 32), want.bytes, `at ${at}`);
      assert.deepEqual(mem.u8.slice(at - 8, at), new Uint8Array(8).fill(0xff), 'nothing before the struct');
      assert.deepEqual(mem.u8.slice(at + 32, at + 40), new Uint8Array(8).fill(0xff), 'nothing after it');
      assert.deepEqual(w.bytes, new Uint8Array(32), 'its own bytes untouched');
      // Back on its own bytes afterwards, as a copy-out writer.
      assert.deepEqual(w.u32(0, 5).bytes.slice(0, 4), Uint8Array.of(5, 0, 0, 0));
    }
    // The end of the mapped pages: EFAULT, nothing written.
    const end = page + 2 * PAGE_SIZE - 16;
    mem.u8.fill(0xee, end, end + 16);
    assert.equal(um.writeStruct(end, new StructWriter(32), fill, 1), EFAULT);
    assert.deepEqual(mem.u8.slice(end, end + 16), new Uint8Array(16).fill(0xee));
    // A fill that throws leaves the writer on its own bytes.
    const w = new StructWriter(8);
    assert.throws(() => um.writeStruct(page, w, () => { throw new Error('boom'); }, 0), /boom/);
    assert.equal(w.u8(0, 9).bytes[0], 9);

    const account = new MemoryAccount(16 << 20);
    const vm = new AddressSpace(account);
    try {
      const at = vm.mm.mapAnywhere(2 * PAGE_SIZE, PROT_READ | PROT_WRITE, '', 0, { pgoff: 0 });
      assert.ok(!isErrno(at));
      assert.equal(vm.user.writeStruct(at + PAGE_SIZE - 12, new StructWriter(32), fill, 2 ** 40 + 3), 0);
      assert.deepEqual(vm.user.copyIn(at + PAGE_SIZE - 12, 32), want.bytes, 'read back through the pool');
      assert.equal(vm.mem.u8[at + PAGE_SIZE - 12], 0, 'the bytes live in the pool, not at the address');
    } finally {
      vm.release();
    }
  });

  it('writeStruct on a page holding decoded code tells the CPUs, as copyOut does', () => {
    const seen: [number, number][] = [];
    const m2 = GuestMemory.create();
    m2.pageFlags[page / PAGE_SIZE] = PAGE_R | PAGE_W | PAGE_CODE;
    const u2 = new UserMemory(m2, (a, len) => seen.push([a, len]));
    assert.equal(u2.writeStruct(page + 16, new StructWriter(8), (w) => { w.u64(0, 1); }, 0), 0);
    assert.deepEqual(seen, [[page + 16, 8]]);
  });

  it('StructWriter.u64: numbers (small, past 32 bits, the largest safe, negative, fractional) and BigInts, little-endian', () => {
    const cases: [number | bigint, bigint][] = [
      [0, 0n], [1, 1n], [0xffffffff, 0xffffffffn], [2 ** 32, 2n ** 32n], [2 ** 40 + 7, 2n ** 40n + 7n],
      [Number.MAX_SAFE_INTEGER, 2n ** 53n - 1n], [-1, 2n ** 64n - 1n], [-(2 ** 33), 2n ** 64n - 2n ** 33n],
      [3.75, 3n], [2n ** 63n + 5n, 2n ** 63n + 5n], [-2n, 2n ** 64n - 2n],
    ];
    for (const [v, want] of cases) {
      const w = new StructWriter(16).u64(4, v);
      assert.equal(new DataView(w.bytes.buffer).getBigUint64(4, true), want, `u64(${v})`);
      assert.equal(w.bytes[3], 0);
      assert.equal(w.bytes[12], 0);
    }
  });
});

describe('kernel/usercopy: the window (one check, then pieces from a file)', () => {
  const mem = GuestMemory.create();
  const page = 0x30000;
  // Two writable pages, then a read-only one, then an unmapped one.
  mem.pageFlags[page / PAGE_SIZE] = PAGE_R | PAGE_W;
  mem.pageFlags[page / PAGE_SIZE + 1] = PAGE_R | PAGE_W;
  mem.pageFlags[page / PAGE_SIZE + 2] = PAGE_R;
  const seen: [number, number][] = [];
  const um = new UserMemory(mem, (a, len) => seen.push([a, len]));

  it('openOut then putOut: the pieces land at their offsets across a page boundary; EFAULT for a range running into a read-only or unmapped page, nothing written', () => {
    const at = page + PAGE_SIZE - 100;
    assert.equal(um.openOut(at, 300), 0);
    um.putOut(new Uint8Array(100).fill(1), 0);
    um.putOut(new Uint8Array(200).fill(2), 100);
    um.closeOut(300);
    assert.deepEqual(mem.u8.slice(at, at + 300), Uint8Array.from({ length: 300 }, (_, i) => (i < 100 ? 1 : 2)));
    const before = mem.u8.slice(page, page + 3 * PAGE_SIZE);
    assert.equal(um.openOut(page + 2 * PAGE_SIZE - 8, 16), EFAULT, 'into the read-only page');
    assert.equal(um.openOut(page + 3 * PAGE_SIZE - 8, 16), EFAULT, 'past the mapping');
    assert.equal(um.openOut(NaN, 16), EFAULT);
    assert.equal(um.openIn(page + 4 * PAGE_SIZE - 8, 16), EFAULT, 'reads need a readable page');
    assert.deepEqual(mem.u8.slice(page, page + 3 * PAGE_SIZE), before);
  });

  it('openIn then getIn: the pieces read from their offsets, from a read-only page too', () => {
    const at = page + 2 * PAGE_SIZE - 10;
    mem.u8.set(Uint8Array.from({ length: 20 }, (_, i) => i + 1), at);
    assert.equal(um.openIn(at, 20), 0);
    const a = new Uint8Array(10), b = new Uint8Array(10);
    um.getIn(b, 10);
    um.getIn(a, 0);
    um.closeIn();
    assert.deepEqual([...a, ...b], Array.from({ length: 20 }, (_, i) => i + 1));
  });

  it('a piece outside the window, or with no window open, throws (a kernel bug, never a stray write)', () => {
    assert.equal(um.openOut(page, 64), 0);
    assert.throws(() => um.putOut(new Uint8Array(8), 60), /outside the window/);
    assert.throws(() => um.putOut(new Uint8Array(8), -1), /outside the window/);
    um.closeOut(0);
    assert.throws(() => um.putOut(new Uint8Array(8), 0), /outside the window/, 'closed');
    assert.equal(um.openOut(page + 2 * PAGE_SIZE, 8), EFAULT);
    assert.throws(() => um.putOut(new Uint8Array(8), 0), /outside the window/, 'a failed open leaves none open');
  });

  it('closeOut tells the CPUs about the bytes written on pages holding decoded code, once', () => {
    const m2 = GuestMemory.create();
    const p2 = 0x40000;
    m2.pageFlags[p2 / PAGE_SIZE] = PAGE_R | PAGE_W | PAGE_CODE;
    m2.pageFlags[p2 / PAGE_SIZE + 1] = PAGE_R | PAGE_W;
    const hits: [number, number][] = [];
    const u2 = new UserMemory(m2, (a, len) => hits.push([a, len]));
    assert.equal(u2.openOut(p2 + PAGE_SIZE, 64), 0);
    u2.putOut(new Uint8Array(64), 0);
    u2.closeOut(64);
    assert.deepEqual(hits, [], 'no code there');
    assert.equal(u2.openOut(p2 + 100, 2 * PAGE_SIZE - 100), 0);
    u2.putOut(new Uint8Array(50), 0);
    u2.closeOut(50);
    assert.deepEqual(hits, [[p2 + 100, 50]], 'only what was written');
  });

  it('a window on MAP_SHARED memory puts and gets through the frame pool', () => {
    const vm = new AddressSpace(new MemoryAccount(16 << 20));
    try {
      const at = vm.mm.mapAnywhere(2 * PAGE_SIZE, PROT_READ | PROT_WRITE, '', 0, { pgoff: 0 });
      assert.ok(!isErrno(at));
      const data = Uint8Array.from({ length: 200 }, (_, i) => i);
      assert.equal(vm.user.openOut(at + PAGE_SIZE - 100, 200), 0);
      vm.user.putOut(data.subarray(0, 120), 0);
      vm.user.putOut(data.subarray(120), 120);
      vm.user.closeOut(200);
      assert.equal(vm.mem.u8[at + PAGE_SIZE - 50], 0, 'the bytes live in the pool');
      assert.deepEqual(vm.user.copyIn(at + PAGE_SIZE - 100, 200), data);
      const back = new Uint8Array(200);
      assert.equal(vm.user.openIn(at + PAGE_SIZE - 100, 200), 0);
      vm.user.getIn(back, 0);
      vm.user.closeIn();
      assert.deepEqual(back, data);
    } finally {
      vm.release();
    }
  });
});
