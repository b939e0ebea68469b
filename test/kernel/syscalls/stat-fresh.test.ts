// newfstatat and statx through the handlers, on a process stand-in over a
// tmpfs: the synchronous path (a cached dentry, the inode's attributes
// encoded into a reused struct buffer) answers what the file is now, after
// each change made through another name or another open file: a write, a
// truncate, a chmod, a rename, a hard link and an unlink. A bad struct
// pointer is EFAULT and a missing name ENOENT, as on Linux.

import * as assert from 'node:assert/strict';
import * as abi from '../../../src/linux/abi.js';
import { EFAULT, ENOENT } from '../../../src/linux/errno.js';
import * as open from '../../../src/kernel/syscalls/open.js';
import * as stat from '../../../src/kernel/syscalls/stat.js';
import * as names from '../../../src/kernel/syscalls/names.js';
import * as attrs from '../../../src/kernel/syscalls/attrs.js';
import * as rw from '../../../src/kernel/syscalls/read-write.js';
import { PAGE_SIZE } from '../../../src/vcpu/memory.js';
import { FAKE_PROC_BUF, tmpfsProc } from '../../util/fake-proc.js';

const BUF = FAKE_PROC_BUF;
const PATH_A = BUF + 3 * PAGE_SIZE, PATH_B = PATH_A + 256;
const ST = BUF + 2 * PAGE_SIZE;
const UNMAPPED = 0x4000_0000;

describe('kernel/syscalls/stat: newfstatat and statx see every change at once', () => {
  // Pages 0-3 read-write, page 4 (RO) read-only.
  const { proc, ro: RO, call } = tmpfsProc();
  const path = (at: number, p: string) => assert.equal(proc.user.copyOut(at, new TextEncoder().encode(p + '\0')), 0);
  const dv = () => new DataView(proc.mem.u8.buffer, proc.mem.u8.byteOffset + ST, 256);

  /** struct stat of the name at PATH_A, or the errno. */
  async function statA(): Promise<{ ino: bigint; mode: number; nlink: number; size: number; blocks: number } | number> {
    const r = await call(stat.sys_newfstatat, abi.AT_FDCWD, PATH_A, ST, 0);
    if (r !== 0) return r as number;
    const S = abi.STAT, d = dv();
    return { ino: d.getBigUint64(S.st_ino, true), mode: d.getUint32(S.st_mode, true), nlink: d.getUint32(S.st_nlink, true), size: Number(d.getBigUint64(S.st_size, true)), blocks: Number(d.getBigUint64(S.st_blocks, true)) };
  }

  /** statx's size and nlink of the name at PATH_A. */
  async function statxA(): Promise<{ size: number; nlink: number }> {
    assert.equal(await call(stat.sys_statx, abi.AT_FDCWD, PATH_A, 0, abi.STATX_BASIC_STATS, ST), 0);
    const X = abi.STATX, d = dv();
    return { size: Number(d.getBigUint64(X.stx_size, true)), nlink: d.getUint32(X.stx_nlink, true) };
  }

  it('size, mode, link count and name follow writes, truncates, chmod, link, rename and unlink', async () => {
    path(PATH_A, '/f');
    const fd = (await call(open.sys_openat, abi.AT_FDCWD, PATH_A, abi.O_CREAT | abi.O_RDWR, 0o644)) as number;
    assert.ok(fd >= 0);
    const first = await statA();
    assert.ok(typeof first !== 'number');
    assert.deepEqual({ ...first, ino: 0n }, { ino: 0n, mode: abi.S_IFREG | 0o644, nlink: 1, size: 0, blocks: 0 });

    proc.mem.u8.fill(0x41, BUF, BUF + 5000);
    assert.equal(await call(rw.sys_pwrite64, fd, BUF, 5000, 3000), 5000);
    assert.deepEqual(await statA(), { ...first, size: 8000, blocks: 16 }, 'after a write through an open file');
    assert.deepEqual(await statxA(), { size: 8000, nlink: 1 });

    assert.equal(await call(attrs.sys_ftruncate, fd, 100), 0);
    assert.deepEqual(await statA(), { ...first, size: 100, blocks: 8 }, 'after ftruncate');

    assert.equal(await call(attrs.sys_fchmodat, abi.AT_FDCWD, PATH_A, 0o600), 0);
    assert.deepEqual(await statA(), { ...first, mode: abi.S_IFREG | 0o600, size: 100, blocks: 8 }, 'after chmod');

    path(PATH_B, '/g');
    assert.equal(await call(names.sys_linkat, abi.AT_FDCWD, PATH_A, abi.AT_FDCWD, PATH_B, 0), 0);
    assert.equal((await statA() as { nlink: number }).nlink, 2, 'a hard link counts');
    assert.deepEqual(await statxA(), { size: 100, nlink: 2 });

    // Truncate through the other name: the first name's stat sees it.
    assert.equal(await call(attrs.sys_truncate, PATH_B, 7), 0);
    assert.equal((await statA() as { size: number }).size, 7, 'a truncate through the hard link');

    // Rename the second name over a new one; the first still names the inode.
    path(PATH_A, '/h');
    assert.equal(await call(names.sys_renameat, abi.AT_FDCWD, PATH_B, abi.AT_FDCWD, PATH_A), 0);
    const h = await statA();
    assert.ok(typeof h !== 'number');
    assert.equal(h.ino, first.ino, '/h is the inode /g was');
    path(PATH_A, '/g');
    assert.equal(await statA(), ENOENT, 'the old name of a rename is gone');

    path(PATH_A, '/f');
    assert.equal(await call(names.sys_unlinkat, abi.AT_FDCWD, PATH_A, 0), 0);
    assert.equal(await statA(), ENOENT, 'an unlinked name');
    path(PATH_A, '/h');
    assert.equal((await statA() as { nlink: number }).nlink, 1, 'one name left');
    assert.equal(await call(stat.sys_fstat, fd, ST), 0);
    assert.equal(dv().getUint32(abi.STAT.st_nlink, true), 1, 'fstat of the open file agrees');
  });

  it('newfstatat writes every byte of struct stat in place: the padding is zeroed over whatever the buffer held', async () => {
    path(PATH_A, '/p');
    const fd = (await call(open.sys_openat, abi.AT_FDCWD, PATH_A, abi.O_CREAT | abi.O_RDWR, 0o640)) as number;
    assert.ok(fd >= 0);
    proc.mem.u8.fill(0xff, ST, ST + 256);
    assert.equal(await call(stat.sys_newfstatat, abi.AT_FDCWD, PATH_A, ST, 0), 0);
    const S = abi.STAT, d = dv();
    for (const [off, len] of [[40, 8], [60, 4], [120, 8]]) assert.deepEqual(proc.mem.u8.slice(ST + off, ST + off + len), new Uint8Array(len), `padding at ${off}`);
    assert.deepEqual(proc.mem.u8.slice(ST + S.size, ST + 256), new Uint8Array(256 - S.size).fill(0xff), 'nothing past the struct');
    assert.equal(d.getUint32(S.st_mode, true), abi.S_IFREG | 0o640);
    assert.equal(d.getInt32(S.st_blksize, true), PAGE_SIZE);
    // fstat of the same file gives the same bytes.
    const viaPath = proc.mem.u8.slice(ST, ST + S.size);
    proc.mem.u8.fill(0xaa, ST, ST + S.size);
    assert.equal(await call(stat.sys_fstat, fd, ST), 0);
    assert.deepEqual(proc.mem.u8.slice(ST, ST + S.size), viaPath);
  });

  it('a struct pointer the guest may not write is EFAULT, and the page stays as it was', async () => {
    path(PATH_A, '/e');
    const fd = (await call(open.sys_openat, abi.AT_FDCWD, PATH_A, abi.O_CREAT | abi.O_RDWR, 0o644)) as number;
    assert.ok(fd >= 0);
    const before = proc.mem.u8.slice(RO, RO + 128);
    assert.equal(await call(stat.sys_newfstatat, abi.AT_FDCWD, PATH_A, RO, 0), EFAULT);
    assert.equal(await call(stat.sys_newfstatat, abi.AT_FDCWD, PATH_A, UNMAPPED, 0), EFAULT);
    assert.equal(await call(stat.sys_statx, abi.AT_FDCWD, PATH_A, 0, abi.STATX_BASIC_STATS, RO), EFAULT);
    assert.equal(await call(stat.sys_fstat, fd, UNMAPPED), EFAULT);
    assert.equal(await call(stat.sys_newfstatat, abi.AT_FDCWD, UNMAPPED, ST, 0), EFAULT, 'a path the guest may not read');
    assert.deepEqual(proc.mem.u8.slice(RO, RO + 128), before);
  });
});
