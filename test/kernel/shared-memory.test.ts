// Memory shared between address spaces (src/kernel/frames.ts, mm.ts,
// usercopy.ts, sysv-shm.ts): the frame allocator's references and
// accounting, frame tables across fork, munmap, mprotect, mremap's move and
// release, and the kernel's copies through shared pages.

import { strict as assert } from 'node:assert';
import { AddressSpace } from '../../src/kernel/address-space.js';
import { FrameAllocator } from '../../src/kernel/frames.js';
import { MemoryAccount } from '../../src/kernel/mm.js';
import { ipcAdmin, ipcPermitted, ShmTable, SHMMNI } from '../../src/kernel/sysv-shm.js';
import { EACCES, ENOSPC, Errno, isErrno } from '../../src/linux/errno.js';
import { PROT_READ, PROT_WRITE, IPC_PRIVATE, IPC_CREAT } from '../../src/linux/abi.js';
import { PAGE_SHARED, PAGE_SIZE, PAGE_SHIFT, SHARED_SHIFT, PAGE_R, PAGE_W } from '../../src/vcpu/memory.js';

const RW = PROT_READ | PROT_WRITE;
/** Credentials without capabilities: root by uid only, and two ordinary users. */
const ROOT = { euid: 0, egid: 0, groups: [], caps: { effective: 0n } };
const MEMBER = { euid: 1000, egid: 0, groups: [], caps: { effective: 0n } };
const OTHER = { euid: 1000, egid: 1000, groups: [], caps: { effective: 0n } };
const alloc = FrameAllocator.local();

function bytes(s: string): Uint8Array {
  return new TextEncoder().encode(s);
}
function text(vm: AddressSpace, addr: number, n: number): string {
  const b = vm.user.copyIn(addr, n);
  assert.ok(!isErrno(b));
  return new TextDecoder().decode(b);
}

describe('kernel/shared memory', () => {
  let account: MemoryAccount;
  let live: AddressSpace[];
  let baseline: number;
  beforeEach(() => {
    account = new MemoryAccount(64 << 20);
    live = [];
    baseline = alloc.inUse;
  });
  afterEach(() => {
    for (const vm of live) vm.release();
  });
  const space = (): AddressSpace => {
    const vm = new AddressSpace(account);
    live.push(vm);
    return vm;
  };

  it('the allocator hands out zeroed frames, counts references and frees (zeroed, uncharged) at the last unref', () => {
    const f = alloc.alloc(account);
    assert.ok(f >= 0);
    assert.equal(account.used, PAGE_SIZE);
    assert.ok(alloc.bytes(f).every((b) => b === 0));
    alloc.bytes(f)[7] = 42;
    alloc.ref(f);
    alloc.unref(f, account);
    assert.equal(alloc.count(f), 1);
    assert.equal(alloc.bytes(f)[7], 42, 'still held');
    alloc.unref(f, account);
    assert.equal(alloc.count(f), 0);
    assert.equal(alloc.bytes(f)[7], 0, 'zeroed when freed');
    assert.equal(account.used, 0);
    const small = new MemoryAccount(PAGE_SIZE);
    const g = alloc.alloc(small);
    assert.equal(alloc.alloc(small), -1, 'past the account: no frame');
    alloc.unref(g, small);
  });

  it('MAP_SHARED anonymous pages are flagged shared, charged once, and shared with a forked child', () => {
    const parent = space();
    const at = parent.mm.mapAnywhere(2 * PAGE_SIZE, RW, '', 0, { pgoff: 0 });
    assert.ok(!isErrno(at));
    const p = at >>> PAGE_SHIFT;
    assert.equal(parent.mem.pageFlags[p], PAGE_SHARED | ((PAGE_R | PAGE_W) << SHARED_SHIFT));
    assert.ok(parent.mem.frames[p] > 0 && parent.mem.frames[p + 1] > 0);
    assert.equal(account.used, 2 * PAGE_SIZE);
    assert.equal(parent.user.copyOut(at + 10, bytes('parent')), 0);
    assert.equal(parent.mem.u8[at + 10], 0, 'the bytes live in the pool, not the private memory');

    const child = parent.fork();
    assert.ok(!(child instanceof Errno));
    live.push(child);
    assert.equal(account.used, 2 * PAGE_SIZE, 'the child maps the same frames: no new charge');
    assert.equal(child.mem.frames[p], parent.mem.frames[p]);
    assert.equal(alloc.count(parent.mem.frames[p] - 1), 2);
    assert.equal(text(child, at + 10, 6), 'parent');
    assert.equal(child.user.copyOut(at + PAGE_SIZE + 1, bytes('child')), 0);
    assert.equal(text(parent, at + PAGE_SIZE + 1, 5), 'child');

    // A store straddling the two shared pages, read back from the other space.
    assert.equal(child.user.copyOut(at + PAGE_SIZE - 2, bytes('span')), 0);
    assert.equal(text(parent, at + PAGE_SIZE - 2, 4), 'span');

    // mprotect keeps the routing; the child's munmap leaves the parent's pages.
    assert.equal(child.mm.protect(at, 2 * PAGE_SIZE, PROT_READ), 0);
    assert.equal(child.mem.pageFlags[p], PAGE_SHARED | (PAGE_R << SHARED_SHIFT));
    assert.ok(isErrno(child.user.copyOut(at, bytes('x'))), 'read-only now');
    assert.equal(text(child, at + 10, 6), 'parent');
    assert.equal(child.mm.unmap(at, 2 * PAGE_SIZE), 0);
    assert.equal(child.mem.frames[p], 0);
    assert.equal(alloc.count(parent.mem.frames[p] - 1), 1);
    assert.equal(text(parent, at + 10, 6), 'parent');
    assert.equal(account.used, 2 * PAGE_SIZE);

    parent.mm.unmap(at, 2 * PAGE_SIZE);
    assert.equal(account.used, 0, 'the last mapping gone, the frames are free');
    assert.equal(alloc.inUse, baseline);
  });

  it('exit releases the frames of every shared mapping, and a reused memory has no frames left', () => {
    const vm = new AddressSpace(account);
    const at = vm.mm.mapAnywhere(3 * PAGE_SIZE, RW, '', 0, { pgoff: 0 });
    assert.ok(!isErrno(at));
    vm.user.copyOut(at, bytes('data'));
    vm.release();
    assert.equal(alloc.inUse, baseline);
    assert.equal(account.used, 0);
    const again = space();
    assert.ok(again.mem.frames.every((f) => f === 0));
  });

  it('shared memory past the cap is ENOMEM, with nothing left mapped or charged', () => {
    const small = new MemoryAccount(4 * PAGE_SIZE);
    const vm = new AddressSpace(small);
    try {
      assert.ok(!isErrno(vm.mm.mapAnywhere(3 * PAGE_SIZE, RW, '', 0, { pgoff: 0 })));
      const r = vm.mm.mapAnywhere(2 * PAGE_SIZE, RW, '', 0, { pgoff: 0 });
      assert.equal(r, Errno.of(12));
      assert.equal(small.used, 3 * PAGE_SIZE);
      assert.equal(vm.mm.mappings().length, 1);
    } finally {
      vm.release();
    }
    assert.equal(small.used, 0);
    assert.equal(alloc.inUse, baseline);
  });

  it('moving frames (mremap of a shared mapping) keeps the data and the references', () => {
    const vm = space();
    const at = vm.mm.mapAnywhere(PAGE_SIZE, RW, '', 0, { pgoff: 0 });
    assert.ok(!isErrno(at));
    vm.user.copyOut(at, bytes('moved'));
    const to = vm.mm.mapAnywhere(PAGE_SIZE, RW, '', 0, { pgoff: 0 });
    assert.ok(!isErrno(to));
    vm.mm.moveFrames(at, to, PAGE_SIZE);
    vm.mm.unmap(at, PAGE_SIZE);
    assert.equal(text(vm, to, 5), 'moved');
    assert.equal(alloc.inUse, baseline + 1);
  });

  it('a shared page without a frame is EFAULT to the kernel', () => {
    const vm = space();
    const at = vm.mm.mapAnywhere(PAGE_SIZE, RW, '', 0, { pgoff: 0 });
    assert.ok(!isErrno(at));
    const f = vm.mem.frames[at >>> PAGE_SHIFT];
    vm.mem.frames[at >>> PAGE_SHIFT] = 0;
    assert.ok(isErrno(vm.user.copyIn(at, 4)));
    assert.ok(isErrno(vm.user.readU32(at)));
    vm.mem.frames[at >>> PAGE_SHIFT] = f;
    assert.equal(vm.user.readU32(at), 0);
  });

  it('SysV segments: attaches in two spaces share frames; IPC_RMID frees them after the last detach', () => {
    const table = new ShmTable(account);
    const id = table.get(IPC_PRIVATE, PAGE_SIZE + 1, IPC_CREAT | 0o600, ROOT, 1);
    assert.ok(typeof id === 'number');
    const seg = table.lookup(id);
    assert.ok(!isErrno(seg));
    assert.equal(account.used, 2 * PAGE_SIZE);
    const a = space(), b = space();
    const at = a.mm.mapAnywhere(2 * PAGE_SIZE, RW, 'shm', 0, { obj: seg, pgoff: 0 });
    const bt = b.mm.mapAnywhere(2 * PAGE_SIZE, RW, 'shm', 0, { obj: seg, pgoff: 0 });
    assert.ok(!isErrno(at) && !isErrno(bt));
    assert.equal(seg.nattch, 2);
    a.user.copyOut(at + PAGE_SIZE, bytes('sysv'));
    assert.equal(text(b, bt + PAGE_SIZE, 4), 'sysv');
    table.remove(seg);
    assert.ok(!isErrno(table.lookup(id)), 'still attached: still there');
    a.mm.unmap(at, 2 * PAGE_SIZE);
    b.mm.unmap(bt, 2 * PAGE_SIZE);
    assert.ok(isErrno(table.lookup(id)));
    assert.equal(account.used, 0);
    assert.equal(alloc.inUse, baseline);
  });

  it('SysV permissions as ipcperms: owner, group and other bits, CAP_IPC_OWNER; IPC_SET/IPC_RMID for the owner, creator or CAP_SYS_ADMIN', () => {
    const table = new ShmTable(account);
    const id = table.get(0x1234, PAGE_SIZE, IPC_CREAT | 0o640, ROOT, 1) as number;
    const seg = table.lookup(id);
    assert.ok(!isErrno(seg));
    // The group may read, not write; others nothing; a mode in any triad asks for those bits.
    assert.equal(table.get(0x1234, 0, 0o440, MEMBER, 2), id);
    assert.equal(table.get(0x1234, 0, 0o660, MEMBER, 2), EACCES);
    assert.equal(table.get(0x1234, 0, 0, OTHER, 2), id, 'no bits asked: no check');
    assert.equal(table.get(0x1234, 0, 0o004, OTHER, 2), EACCES);
    assert.ok(ipcPermitted(MEMBER, seg, 0o444) && !ipcPermitted(MEMBER, seg, 0o666));
    assert.ok(!ipcPermitted(OTHER, seg, 0o444));
    assert.ok(ipcPermitted({ ...OTHER, caps: { effective: 1n << 15n } }, seg, 0o666), 'CAP_IPC_OWNER');
    assert.ok(ipcPermitted({ ...OTHER, groups: [0] }, seg, 0o444), 'a supplementary group');
    assert.ok(ipcAdmin(ROOT, seg) && !ipcAdmin(MEMBER, seg));
    assert.ok(ipcAdmin({ ...OTHER, caps: { effective: 1n << 21n } }, seg), 'CAP_SYS_ADMIN');
    // IPC_SET gives the segment to uid 1000: now its owner, while root stays its creator.
    seg.uid = 1000;
    seg.gid = 1000;
    assert.ok(ipcAdmin(OTHER, seg) && ipcAdmin(ROOT, seg) && ipcPermitted(OTHER, seg, 0o666));
    table.remove(seg);
    assert.equal(account.used, 0);
  });

  it('SysV: at most SHMMNI segments; usage counts segments and pages', () => {
    const table = new ShmTable(account);
    const ids: number[] = [];
    for (let i = 0; i < SHMMNI; i++) ids.push(table.get(IPC_PRIVATE, 1, IPC_CREAT | 0o600, ROOT, 1) as number);
    assert.equal(table.get(IPC_PRIVATE, 1, IPC_CREAT | 0o600, ROOT, 1), ENOSPC);
    assert.deepEqual(table.usage(), { segments: SHMMNI, pages: SHMMNI });
    assert.equal(table.maxId(), SHMMNI - 1);
    for (const id of ids) table.remove(table.lookup(id) as never);
    assert.deepEqual(table.usage(), { segments: 0, pages: 0 });
    assert.equal(table.maxId(), 0);
    assert.equal(account.used, 0);
  });
});
