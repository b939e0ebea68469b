// The page cache of mapped files (src/kernel/page-cache.ts) over a tmpfs
// file: two address spaces mapping it share frames; read/write, truncate
// and unmapping stay coherent with the mappings.

import { strict as assert } from 'node:assert';
import { AddressSpace } from '../../src/kernel/address-space.js';
import { FrameAllocator } from '../../src/kernel/frames.js';
import { MemoryAccount } from '../../src/kernel/mm.js';
import { PageCache, aroundChange } from '../../src/kernel/page-cache.js';
import { faultIn } from '../../src/kernel/fault-in.js';
import { fdInodeOps } from '../../src/kernel/vfs/inode.js';
import { ENOMEM, Errno, isErrno } from '../../src/linux/errno.js';
import * as abi from '../../src/linux/abi.js';
import { FRAME_ABSENT, GUEST_VA_LIMIT, PAGE_R, PAGE_SIZE, PAGE_SHIFT } from '../../src/vcpu/memory.js';
import type { File } from '../../src/kernel/files/file.js';
import { dropTmpfsFile, ok, tmpfsFile } from '../util/tmpfs-file.js';

const RW = abi.PROT_READ | abi.PROT_WRITE;

describe('kernel/page cache', () => {
  let account: MemoryAccount;
  let file: File;
  let spaces: AddressSpace[];
  /** Frames in use with the test's file written: its own two pages are frames of the pool too (tmpfs-file.ts). */
  let baseline: number;

  beforeEach(() => {
    account = new MemoryAccount(64 << 20);
    file = tmpfsFile(account);
    ok(file.pwrite(new Uint8Array(6000).fill(0x61), 0) as number | Errno);
    spaces = [new AddressSpace(account), new AddressSpace(account)];
    baseline = FrameAllocator.local().inUse;
  });
  afterEach(async () => {
    for (const s of spaces) s.release();
    await dropTmpfsFile(file);
  });

  /** Map pages [0, 3) of the file shared in `vm`; its address. */
  async function map(vm: AddressSpace): Promise<number> {
    const pc = ok(await PageCache.map(file, 0, 3, account));
    try {
      return ok(vm.mm.mapAnywhere(3 * PAGE_SIZE, RW, '/f', 0, { obj: pc, pgoff: 0 }));
    } finally {
      pc.unpin();
    }
  }

  it('two mappings share frames; the page past the end has none, and a touch there is SIGBUS', async () => {
    const [a, b] = spaces;
    const at = await map(a), bt = await map(b);
    assert.equal(a.mem.frames[at >>> PAGE_SHIFT], b.mem.frames[bt >>> PAGE_SHIFT]);
    assert.ok(a.mem.frames[(at >>> PAGE_SHIFT) + 1] > 0, 'page 1 holds bytes 4096..5999');
    assert.equal(a.mem.frames[(at >>> PAGE_SHIFT) + 2], FRAME_ABSENT, 'page 2 is past the end: never loaded');
    assert.deepEqual(await faultIn(a.mm, at + 2 * PAGE_SIZE + 8, PAGE_R), { signo: abi.SIGBUS, code: 2, addr: at + 2 * PAGE_SIZE + 8 });
    assert.equal(a.mem.frames[(at >>> PAGE_SHIFT) + 2], FRAME_ABSENT);
    ok(a.user.copyOut(at + 5, new TextEncoder().encode('HELLO')));
    assert.equal(new TextDecoder().decode(ok(b.user.copyIn(bt + 5, 5))), 'HELLO');
  });

  it('reads see stores after sync(); writes and truncates reach the mappings', async () => {
    const [a] = spaces;
    const at = await map(a);
    const cache = PageCache.of(file);
    assert.ok(cache);
    ok(a.user.copyOut(at + PAGE_SIZE + 10, new TextEncoder().encode('STORE')));
    await cache.sync();
    const got = ok(await file.pread(5, PAGE_SIZE + 10));
    assert.equal(new TextDecoder().decode(got), 'STORE');

    await aroundChange(cache, () => file.pwrite(new TextEncoder().encode('WRITE'), 20), [20, 25]);
    assert.equal(new TextDecoder().decode(ok(a.user.copyIn(at + 20, 5))), 'WRITE');

    // Growing into page 2 lets a touch load it; shrinking takes page 1 away.
    const ops = fdInodeOps(file);
    assert.ok(ops);
    await aroundChange(cache, () => ops.fdSetattr({ size: 3 * PAGE_SIZE }));
    assert.equal(a.mem.frames[(at >>> PAGE_SHIFT) + 2], FRAME_ABSENT, 'loaded when touched');
    assert.equal(await faultIn(a.mm, at + 2 * PAGE_SIZE, PAGE_R), 0);
    assert.ok(a.mem.frames[(at >>> PAGE_SHIFT) + 2] > 0);
    assert.equal(ok(a.user.readU32(at + 2 * PAGE_SIZE)), 0);
    await aroundChange(cache, () => ops.fdSetattr({ size: 100 }));
    assert.equal(a.mem.frames[(at >>> PAGE_SHIFT) + 1], FRAME_ABSENT);
    assert.ok(isErrno(a.user.readU32(at + PAGE_SIZE)), 'past the end: EFAULT to the kernel, SIGBUS to the guest');
    assert.equal((await faultIn(a.mm, at + PAGE_SIZE, PAGE_R) as { signo: number }).signo, abi.SIGBUS);
    assert.equal(new TextDecoder().decode(ok(a.user.copyIn(at + 20, 5))), 'WRITE', 'page 0 kept');
  });

  it('the last unmap writes dirty pages back and frees the frames', async () => {
    const [a] = spaces;
    const at = await map(a);
    ok(a.user.copyOut(at + 100, new TextEncoder().encode('UNMAP')));
    a.mm.unmap(at, 3 * PAGE_SIZE);
    await PageCache.settleAll();
    assert.equal(PageCache.of(file), undefined, 'nothing mapped: no cache');
    assert.equal(new TextDecoder().decode(ok(await file.pread(5, 100))), 'UNMAP');
    assert.equal(FrameAllocator.local().inUse, baseline);
  });

  it('pages dropped with stores still being written back load again with those stores (a child exits, its parent touches the page)', async () => {
    // The last unmap queues each dirty page's writeback; a load started
    // right after (another mapping's first touch) must not read the file
    // before they land. The store straddles pages 0 and 1, as a child's
    // memcpy across a page boundary of a SharedMemory block.
    const [a, b] = spaces;
    const at = await map(a);
    ok(a.user.copyOut(at + PAGE_SIZE - 6, new TextEncoder().encode('across-pg!')));
    a.mm.unmap(at, 3 * PAGE_SIZE);
    const bt = await map(b);
    assert.equal(new TextDecoder().decode(ok(b.user.copyIn(bt + PAGE_SIZE - 6, 10))), 'across-pg!');
  });

  /** Counts the reads the cache makes of `file` (it reads through the same open file). */
  function countReads(): { reads: number } {
    const seen = { reads: 0 };
    const pread = file.pread.bind(file);
    file.pread = (len: number, offset: number) => {
      seen.reads++;
      return pread(len, offset);
    };
    return seen;
  }

  it('pages load in runs of up to 64 per read, each page its own bytes', async () => {
    const data = new Uint8Array(100 * PAGE_SIZE);
    for (let p = 0; p < 100; p++) data.fill(p, p * PAGE_SIZE, (p + 1) * PAGE_SIZE);
    ok(file.pwrite(data, 0) as number | Errno);
    const seen = countReads();
    const pc = ok(await PageCache.map(file, 0, 100, account));
    const [a] = spaces;
    const at = ok(a.mm.mapAnywhere(100 * PAGE_SIZE, RW, '/f', 0, { obj: pc, pgoff: 0 }));
    pc.unpin();
    assert.equal(seen.reads, 2, '64 pages, then 36');
    for (const p of [0, 63, 64, 99]) assert.equal(ok(a.user.readU32(at + p * PAGE_SIZE + 8)), p * 0x01010101);
  });

  it('a mapping the memory limit cannot hold is ENOMEM before reading the file', async () => {
    // 128 MiB, sparse (one page written), against a 64 MiB account.
    ok(file.pwrite(new Uint8Array([1]), (128 << 20) - 1) as number | Errno);
    const seen = countReads();
    const before = FrameAllocator.local().inUse;
    assert.equal(await PageCache.map(file, 0, (128 << 20) / PAGE_SIZE, account), ENOMEM);
    assert.equal(seen.reads, 0);
    assert.equal(FrameAllocator.local().inUse, before);
  });

  it('hasRoomFor says whether mapAnywhere could place a length now', () => {
    const [a] = spaces;
    assert.ok(a.mm.hasRoomFor(PAGE_SIZE));
    assert.ok(!a.mm.hasRoomFor(GUEST_VA_LIMIT), 'the whole address space');
    assert.ok(a.mm.hasRoomFor(GUEST_VA_LIMIT, true), 'a mapping loading on touch fits in the high range');
    assert.ok(!a.mm.hasRoomFor(0));
  });
});
