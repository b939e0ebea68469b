// Shared file mappings that load on first touch, and the high range above
// 4 GiB (src/kernel/mm.ts faultIn, src/kernel/page-cache.ts,
// src/vcpu/high-pages.ts), over a tmpfs file: nothing is read at mmap, a
// touch loads a window of pages charged once, a mapping too large for the
// 4 GiB below goes above it, and munmap, mprotect, fork and release treat
// high pages as they treat low ones.

import { strict as assert } from 'node:assert';
import { AddressSpace } from '../../src/kernel/address-space.js';
import { FrameAllocator } from '../../src/kernel/frames.js';
import { MemoryAccount } from '../../src/kernel/mm.js';
import { absentPages, faultIn, FAULT_AROUND } from '../../src/kernel/fault-in.js';
import { PageCache } from '../../src/kernel/page-cache.js';
import { fdInodeOps } from '../../src/kernel/vfs/inode.js';
import { Errno, isErrno } from '../../src/linux/errno.js';
import * as abi from '../../src/linux/abi.js';
import { FRAME_ABSENT, GUEST_VA_LIMIT, HIGH_VA_LIMIT, PAGE_R, PAGE_W, PAGE_SIZE } from '../../src/vcpu/memory.js';
import type { File } from '../../src/kernel/files/file.js';
import { dropTmpfsFile, ok, tmpfsFile } from '../util/tmpfs-file.js';

const RW = abi.PROT_READ | abi.PROT_WRITE;
/** The file's size: 40 pages and a bit, each page filled with its index. */
const FILE_PAGES = 40;

describe('kernel/mappings loaded on touch, and the high range', () => {
  let account: MemoryAccount;
  let file: File;
  let spaces: AddressSpace[];
  const alloc = FrameAllocator.local();
  /** Frames in use before the test's file is made (other suites' tmpfs files keep theirs). */
  let baseline: number;
  let reads: number;

  beforeEach(() => {
    baseline = alloc.inUse;
    account = new MemoryAccount(64 << 20);
    file = tmpfsFile(account);
    const data = new Uint8Array(FILE_PAGES * PAGE_SIZE + 100);
    for (let p = 0; p <= FILE_PAGES; p++) data.fill(p, p * PAGE_SIZE, (p + 1) * PAGE_SIZE);
    ok(file.pwrite(data, 0) as number | Errno);
    reads = 0;
    const pread = file.pread.bind(file);
    file.pread = (len: number, offset: number) => {
      reads++;
      return pread(len, offset);
    };
    spaces = [new AddressSpace(account), new AddressSpace(account)];
  });
  afterEach(async () => {
    for (const s of spaces) s.release();
    await PageCache.settleAll();
    await dropTmpfsFile(file);
    assert.equal(alloc.inUse, baseline, 'every frame given back');
  });

  /** Map `len` bytes of the file shared in `vm` as mmap does (nothing loaded), at `hint` or anywhere; its address. */
  async function map(vm: AddressSpace, len: number, hint = 0, fixed = false): Promise<number> {
    const pc = ok(await PageCache.map(file, 0, 0, account));
    try {
      if (fixed) {
        ok(vm.mm.mapFixed(hint, len, RW, '/f', { obj: pc, pgoff: 0 }));
        return hint;
      }
      return ok(vm.mm.mapAnywhere(len, RW, '/f', hint, { obj: pc, pgoff: 0 }));
    } finally {
      pc.unpin();
    }
  }

  it('mmap reads nothing; a touch loads a window of FAULT_AROUND pages in one read, charged once for two spaces', async () => {
    const [a, b] = spaces;
    const used = account.used;
    const at = await map(a, FILE_PAGES * PAGE_SIZE), bt = await map(b, FILE_PAGES * PAGE_SIZE);
    assert.equal(reads, 0, 'nothing read at mmap');
    assert.equal(account.used, used, 'nothing charged at mmap');
    const page = at / PAGE_SIZE;
    for (let i = 0; i < FILE_PAGES; i++) assert.equal(a.mem.frames[page + i], FRAME_ABSENT);
    assert.ok(isErrno(a.user.readU32(at + 17 * PAGE_SIZE)), 'usercopy does not load: EFAULT');

    assert.equal(await faultIn(a.mm, at + 17 * PAGE_SIZE + 4, PAGE_R), 0);
    assert.equal(reads, 1, 'one read for the window');
    // The window: FAULT_AROUND pages aligned in the address space, around page 17.
    const w = page + 17 - ((page + 17) % FAULT_AROUND) - page;
    for (let i = 0; i < FILE_PAGES; i++) assert.equal(a.mem.frames[page + i] > 0, i >= w && i < w + FAULT_AROUND, `page ${i}`);
    assert.equal(ok(a.user.readU32(at + 17 * PAGE_SIZE + 4)), 17 * 0x01010101);
    assert.equal(account.used - used, FAULT_AROUND * PAGE_SIZE);

    // The second space takes the same frames, with no read and no charge.
    assert.equal(await faultIn(b.mm, bt + 17 * PAGE_SIZE, PAGE_W), 0);
    assert.equal(reads, 1);
    assert.equal(b.mem.frames[bt / PAGE_SIZE + 17], a.mem.frames[page + 17]);
    assert.equal(account.used - used, FAULT_AROUND * PAGE_SIZE);
    ok(b.user.copyOut(bt + 17 * PAGE_SIZE, new TextEncoder().encode('SEEN')));
    assert.equal(new TextDecoder().decode(ok(a.user.copyIn(at + 17 * PAGE_SIZE, 4))), 'SEEN');

    // Unmapped in both, the pages go, written back.
    a.mm.unmap(at, FILE_PAGES * PAGE_SIZE);
    b.mm.unmap(bt, FILE_PAGES * PAGE_SIZE);
    await PageCache.settleAll();
    assert.equal(account.used, used);
    assert.equal(new TextDecoder().decode(ok(await file.pread(4, 17 * PAGE_SIZE))), 'SEEN');
    assert.equal(PageCache.of(file), undefined);
  });

  it('faultIn answers SIGSEGV outside mappings and for accesses they refuse, SIGBUS past the end of the file', async () => {
    const [a] = spaces;
    const at = await map(a, (FILE_PAGES + 4) * PAGE_SIZE);
    assert.deepEqual(await faultIn(a.mm, at - PAGE_SIZE, PAGE_R), { signo: abi.SIGSEGV, code: abi.SEGV_MAPERR, addr: at - PAGE_SIZE });
    assert.deepEqual(await faultIn(a.mm, at + (FILE_PAGES + 2) * PAGE_SIZE, PAGE_R), { signo: abi.SIGBUS, code: 2, addr: at + (FILE_PAGES + 2) * PAGE_SIZE });
    ok(a.mm.protect(at, PAGE_SIZE, abi.PROT_READ));
    assert.deepEqual(await faultIn(a.mm, at + 8, PAGE_W), { signo: abi.SIGSEGV, code: abi.SEGV_ACCERR, addr: at + 8 });
    assert.equal(await faultIn(a.mm, at + 8, PAGE_R), 0);
  });

  it('a shared file mapping larger than 4 GiB goes to the high range; its pages load, copy, fork and unmap there', async () => {
    const [a, b] = spaces;
    const len = GUEST_VA_LIMIT + 2 * PAGE_SIZE;
    assert.ok(isErrno(a.mm.mapAnywhere(len, RW, 'anon')), 'private memory never goes high');
    const at = await map(a, len);
    assert.ok(at >= GUEST_VA_LIMIT && at + len <= HIGH_VA_LIMIT, `placed at 0x${at.toString(16)}`);
    assert.equal(a.mem.high.size, 0, 'nothing present');
    assert.ok(isErrno(a.user.readU32(at + 5 * PAGE_SIZE)));
    assert.equal(absentPages(a.mm, at + 5 * PAGE_SIZE, 8).length, 1);

    assert.equal(await faultIn(a.mm, at + 5 * PAGE_SIZE, PAGE_W), 0);
    assert.equal(a.mem.high.size, FAULT_AROUND);
    assert.equal(ok(a.user.readU32(at + 5 * PAGE_SIZE)), 5 * 0x01010101);
    ok(a.user.copyOut(at + 6 * PAGE_SIZE - 2, new TextEncoder().encode('HIGH')));
    assert.equal(new TextDecoder().decode(ok(a.user.copyIn(at + 6 * PAGE_SIZE - 2, 4))), 'HIGH');
    assert.equal(a.user.sharedOffset(at + 5 * PAGE_SIZE), (a.mem.high.frame(at / PAGE_SIZE + 5) - 1) * PAGE_SIZE, 'futex key: the pool offset');
    // Nothing wrapped into the low 4 GiB.
    assert.equal(a.mem.u8[(at + 6 * PAGE_SIZE - 2) % GUEST_VA_LIMIT], 0);

    // Read-only: present pages take the permission, usercopy refuses writes.
    ok(a.mm.protect(at, len, abi.PROT_READ));
    assert.equal(a.mem.high.perms(at / PAGE_SIZE + 5), PAGE_R);
    assert.ok(isErrno(a.user.copyOut(at + 5 * PAGE_SIZE, new Uint8Array(1))));
    ok(a.mm.protect(at, len, RW));

    // fork: the child maps the same frames; its own unmap leaves the parent's alone.
    ok(a.mm.copyInto(b.mm));
    assert.equal(b.mem.high.frame(at / PAGE_SIZE + 5), a.mem.high.frame(at / PAGE_SIZE + 5));
    assert.equal(new TextDecoder().decode(ok(b.user.copyIn(at + 6 * PAGE_SIZE - 2, 4))), 'HIGH');
    ok(b.mm.unmap(at, len));
    assert.equal(b.mem.high.size, 0);
    assert.equal(new TextDecoder().decode(ok(a.user.copyIn(at + 6 * PAGE_SIZE - 2, 4))), 'HIGH');

    // Unmapping part of it drops those pages' entries.
    const kept = a.mem.high.within(at / PAGE_SIZE + 8, (at + len) / PAGE_SIZE).length;
    assert.ok(kept < FAULT_AROUND, 'the window reaches below page 8');
    ok(a.mm.unmap(at, 8 * PAGE_SIZE));
    assert.equal(a.mem.high.size, kept);
    assert.ok(a.mm.mappings().some((v) => v.start === at + 8 * PAGE_SIZE && v.end === at + len));
  });

  it('MAP_FIXED and hints above 4 GiB place a mapping loading on touch there', async () => {
    const [a] = spaces;
    const fixed = 0x20_0000_0000;
    assert.equal(await map(a, 2 * PAGE_SIZE, fixed, true), fixed);
    assert.equal(await map(a, 2 * PAGE_SIZE, fixed + (1 << 20)), fixed + (1 << 20));
    assert.ok(isErrno(a.mm.mapFixed(fixed + (2 << 20), PAGE_SIZE, RW, 'anon')), 'private memory stays below 4 GiB');
    assert.ok(isErrno(a.mm.mapFixed(GUEST_VA_LIMIT - PAGE_SIZE, 2 * PAGE_SIZE, RW, '/f')), 'nothing straddles 4 GiB');
    assert.equal(await faultIn(a.mm, fixed + PAGE_SIZE, PAGE_R), 0);
    assert.equal(ok(a.user.readU32(fixed + PAGE_SIZE)), 0x01010101);
  });

  it('a truncate takes loaded pages away from high and low mappings; a touch there is then SIGBUS', async () => {
    const [a] = spaces;
    const low = await map(a, FILE_PAGES * PAGE_SIZE);
    const high = await map(a, FILE_PAGES * PAGE_SIZE, 0x30_0000_0000);
    assert.equal(await faultIn(a.mm, low + 33 * PAGE_SIZE, PAGE_R), 0);
    assert.equal(await faultIn(a.mm, high + 33 * PAGE_SIZE, PAGE_R), 0);
    const ops = fdInodeOps(file);
    assert.ok(ops);
    const cache = PageCache.of(file);
    await cache!.sync();
    await ops.fdSetattr({ size: 10 * PAGE_SIZE });
    await cache!.refresh();
    assert.equal(a.mem.frames[low / PAGE_SIZE + 33], FRAME_ABSENT);
    assert.equal(a.mem.high.frame(high / PAGE_SIZE + 33), 0);
    assert.equal((await faultIn(a.mm, high + 33 * PAGE_SIZE, PAGE_R) as { signo: number }).signo, abi.SIGBUS);
    assert.equal(await faultIn(a.mm, high + 3 * PAGE_SIZE, PAGE_R), 0, 'pages still in the file load');
  });
});
