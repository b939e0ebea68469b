// read/pread64/write/pwrite64 of a tmpfs file through the handlers, on a
// process stand-in: the hot path (File.readTo/writeFrom straight between
// the file's pages and the guest's buffer) checks the guest's buffer once,
// before anything moves. A buffer the guest may not write at all
// (read-only, unmapped) is EFAULT with the file position and the guest's
// bytes untouched, as on Linux; the data read back is what was written,
// at random offsets. A buffer that runs from a writable page into one that
// is not is EFAULT with nothing copied, as under QEMU (the reference: it
// checks the whole buffer before the call); Linux itself would return the
// bytes its shmem read copied before the fault.

import * as assert from 'node:assert/strict';
import * as abi from '../../../src/linux/abi.js';
import { EFAULT } from '../../../src/linux/errno.js';
import * as open from '../../../src/kernel/syscalls/open.js';
import * as rw from '../../../src/kernel/syscalls/read-write.js';
import { PAGE_SIZE } from '../../../src/vcpu/memory.js';
import { FAKE_PROC_BUF, tmpfsProc } from '../../util/fake-proc.js';

const BUF = FAKE_PROC_BUF;
const UNMAPPED = 0x4000_0000;

describe('kernel/syscalls/read-write: tmpfs reads and writes through the guest buffer', () => {
  // Pages 0-3 read-write, page 4 (RO) read-only.
  const { proc, ro: RO, call } = tmpfsProc();
  const bytes = (addr: number, n: number) => proc.mem.u8.slice(addr, addr + n);

  async function openFile(name: string): Promise<number> {
    assert.equal(proc.user.copyOut(BUF + 3 * PAGE_SIZE, new TextEncoder().encode(`/${name}\0`)), 0);
    const fd = (await call(open.sys_openat, abi.AT_FDCWD, BUF + 3 * PAGE_SIZE, abi.O_CREAT | abi.O_RDWR, 0o644)) as number;
    assert.ok(fd >= 0, `open /${name}: ${String(fd)}`);
    return fd;
  }

  it('pread64/read into a buffer the guest may not write: EFAULT, nothing read, the position kept', async () => {
    const fd = await openFile('efault');
    proc.mem.u8.fill(0x5a, BUF, BUF + 3 * PAGE_SIZE);
    assert.equal(await call(rw.sys_pwrite64, fd, BUF, 3 * PAGE_SIZE, 0), 3 * PAGE_SIZE);
    assert.equal(await call(rw.sys_lseek, fd, 100, abi.SEEK_SET), 100);
    const before = bytes(RO, 64);
    assert.equal(await call(rw.sys_pread64, fd, RO, 64, 0), EFAULT, 'read-only page');
    assert.equal(await call(rw.sys_read, fd, RO, 64), EFAULT, 'read-only page');
    assert.deepEqual(bytes(RO, 64), before, 'the read-only page unchanged');
    assert.equal(await call(rw.sys_pread64, fd, UNMAPPED, 64, 0), EFAULT, 'unmapped');
    assert.equal(await call(rw.sys_read, fd, UNMAPPED, 64), EFAULT, 'unmapped');
    proc.mem.u8.fill(0, BUF + 3 * PAGE_SIZE, RO);
    assert.equal(await call(rw.sys_pread64, fd, RO - 16, 32, 0), EFAULT, 'running into a read-only page');
    assert.deepEqual(bytes(RO - 16, 16), new Uint8Array(16), 'its writable part untouched');
    assert.equal(await call(rw.sys_lseek, fd, 0, abi.SEEK_CUR), 100, 'the failed reads left the position');
    assert.equal(await call(rw.sys_read, fd, BUF, 10), 10);
    assert.equal(await call(rw.sys_lseek, fd, 0, abi.SEEK_CUR), 110);
    assert.equal(await call(rw.sys_pwrite64, fd, UNMAPPED, 10, 0), EFAULT, 'a write from an unmapped buffer');
  });

  it('4 KiB pwrite64s then pread64s at random offsets read back what was written, holes as zeros', async () => {
    const fd = await openFile('random');
    const pages = 64;
    const written = new Map<number, number>();
    let seed = 0x2545f491;
    const next = () => ((seed = (Math.imul(seed, 1103515245) + 12345) >>> 0) >>> 8) % pages;
    for (let i = 0; i < 200; i++) {
      const page = next(), fill = 1 + (i % 250);
      proc.mem.u8.fill(fill, BUF, BUF + PAGE_SIZE);
      assert.equal(await call(rw.sys_pwrite64, fd, BUF, PAGE_SIZE, page * PAGE_SIZE), PAGE_SIZE);
      written.set(page, fill);
    }
    const size = (Math.max(...written.keys()) + 1) * PAGE_SIZE;
    for (let page = 0; page < pages; page++) {
      proc.mem.u8.fill(0xee, BUF + PAGE_SIZE, BUF + 2 * PAGE_SIZE);
      const n = await call(rw.sys_pread64, fd, BUF + PAGE_SIZE, PAGE_SIZE, page * PAGE_SIZE);
      assert.equal(n, page * PAGE_SIZE < size ? PAGE_SIZE : 0, `page ${page}`);
      if (n === 0) continue;
      assert.deepEqual(bytes(BUF + PAGE_SIZE, PAGE_SIZE), new Uint8Array(PAGE_SIZE).fill(written.get(page) ?? 0), `page ${page}`);
    }
  });
  it('unaligned offsets and buffers across page boundaries; a read short at the end leaves the rest of the buffer; O_APPEND pwrite64 appends', async () => {
    const fd = await openFile('unaligned');
    const src = Uint8Array.from({ length: 6000 }, (_, i) => (i * 7 + 3) & 0xff);
    proc.mem.u8.set(src, BUF + 1000);
    // 6,000 bytes from a buffer spanning three guest pages, at a file offset spanning three file pages.
    assert.equal(await call(rw.sys_pwrite64, fd, BUF + 1000, 6000, 4000), 6000);
    proc.mem.u8.fill(0xee, BUF + PAGE_SIZE + 7, BUF + PAGE_SIZE + 7 + 9000);
    // 9,000 asked from offset 3,000: 1,000 of hole, then the 6,000 bytes; the last 2,000 of the buffer untouched.
    assert.equal(await call(rw.sys_pread64, fd, BUF + PAGE_SIZE + 7, 9000, 3000), 7000);
    const got = bytes(BUF + PAGE_SIZE + 7, 9000);
    assert.deepEqual(got.subarray(0, 1000), new Uint8Array(1000), 'the hole before the data reads zeros');
    assert.deepEqual(got.subarray(1000, 7000), src);
    assert.deepEqual(got.subarray(7000), new Uint8Array(2000).fill(0xee), 'past the end of the file: untouched');
    assert.equal(await call(rw.sys_pread64, fd, BUF, 10, 10_000), 0, 'at the end');
    assert.equal(await call(rw.sys_pread64, fd, BUF, 10, 20_000), 0, 'past the end');

    assert.equal(proc.user.copyOut(BUF + 3 * PAGE_SIZE, new TextEncoder().encode('/unaligned\0')), 0);
    const afd = (await call(open.sys_openat, abi.AT_FDCWD, BUF + 3 * PAGE_SIZE, abi.O_WRONLY | abi.O_APPEND, 0)) as number;
    assert.ok(afd >= 0);
    proc.mem.u8.fill(0x42, BUF, BUF + 16);
    assert.equal(await call(rw.sys_pwrite64, afd, BUF, 16, 0), 16, 'appended, whatever the offset (Linux)');
    assert.equal(await call(rw.sys_pread64, fd, BUF + 2 * PAGE_SIZE, 32, 10_000 - 16), 32);
    assert.deepEqual(bytes(BUF + 2 * PAGE_SIZE, 32), Uint8Array.from({ length: 32 }, (_, i) => (i < 16 ? src[6000 - 16 + i] : 0x42)));
    assert.deepEqual(bytes(BUF, 16), new Uint8Array(16).fill(0x42), 'the source buffer as it was');
  });
});
