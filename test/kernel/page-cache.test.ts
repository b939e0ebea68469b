// The page cache of mapped files (src/kernel/page-cache.ts) over a tmpfs
// file: two address spaces mapping it share frames; read/write, truncate
// and unmapping stay coherent with the mappings.

import { strict as assert } from 'node:assert';
import { AddressSpace } from '../../src/kernel/address-space.js';
import { FrameAllocator } from '../../src/kernel/frames.js';
import { MemoryAccount } from '../../src/kernel/mm.js';
import { PageCache, aroundChange } from '../../src/kernel/page-cache.js';
import { Tmpfs } from '../../src/kernel/filesystems/tmpfs.js';
import { Dentry, fdInodeOps } from '../../src/kernel/vfs/inode.js';
import { Errno, isErrno } from '../../src/linux/errno.js';
import * as abi from '../../src/linux/abi.js';
import { PAGE_SIZE, PAGE_SHIFT } from '../../src/vcpu/memory.js';
import type { File } from '../../src/kernel/files/file.js';

const RW = abi.PROT_READ | abi.PROT_WRITE;
const CRED = { uid: 0, gid: 0, groups: [] };

function ok<T>(v: T | Errno): T {
  if (isErrno(v)) assert.fail(`unexpected ${v.name}`);
  return v;
}

describe('kernel/page cache', () => {
  let account: MemoryAccount;
  let file: File;
  let spaces: AddressSpace[];
  const baseline = FrameAllocator.local().inUse;

  beforeEach(() => {
    account = new MemoryAccount(64 << 20);
    const fs = new Tmpfs(account, { mode: 0o1777 });
    file = ok(fs.root.create('f', abi.O_RDWR, 0o644, CRED, '/f') as File | Errno);
    const root = new Dentry('', null, fs.root);
    file.dentry = new Dentry('f', root, ok(fdInodeOps(file)?.fdInode?.() ?? Errno.of(22)));
    ok(file.pwrite(new Uint8Array(6000).fill(0x61), 0) as number | Errno);
    spaces = [new AddressSpace(account), new AddressSpace(account)];
  });
  afterEach(() => {
    for (const s of spaces) s.release();
    void file.unref();
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

  it('two mappings share frames; the page past the end has none', async () => {
    const [a, b] = spaces;
    const at = await map(a), bt = await map(b);
    assert.equal(a.mem.frames[at >>> PAGE_SHIFT], b.mem.frames[bt >>> PAGE_SHIFT]);
    assert.notEqual(a.mem.frames[(at >>> PAGE_SHIFT) + 1], 0, 'page 1 holds bytes 4096..5999');
    assert.equal(a.mem.frames[(at >>> PAGE_SHIFT) + 2], 0, 'page 2 is past the end');
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

    // Growing into page 2 gives the mapping a frame there; shrinking takes page 1 away.
    const ops = fdInodeOps(file);
    assert.ok(ops);
    await aroundChange(cache, () => ops.fdSetattr({ size: 3 * PAGE_SIZE }));
    assert.notEqual(a.mem.frames[(at >>> PAGE_SHIFT) + 2], 0);
    assert.equal(ok(a.user.readU32(at + 2 * PAGE_SIZE)), 0);
    await aroundChange(cache, () => ops.fdSetattr({ size: 100 }));
    assert.equal(a.mem.frames[(at >>> PAGE_SHIFT) + 1], 0);
    assert.ok(isErrno(a.user.readU32(at + PAGE_SIZE)), 'past the end: EFAULT to the kernel, SIGBUS to the guest');
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
});
