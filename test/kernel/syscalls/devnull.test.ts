// write(2) to the sink devices on a process stand-in: /dev/null and
// /dev/zero take any readable buffer whole without copying it, and refuse
// an unreadable one with EFAULT as QEMU does; /dev/full still says ENOSPC.

import * as assert from 'node:assert/strict';
import * as abi from '../../../src/linux/abi.js';
import { EFAULT, ENOSPC } from '../../../src/linux/errno.js';
import { Tmpfs } from '../../../src/kernel/filesystems/tmpfs.js';
import { makeDevfs } from '../../../src/kernel/filesystems/devfs.js';
import { MemoryAccount } from '../../../src/kernel/mm.js';
import { Vfs } from '../../../src/kernel/vfs/vfs.js';
import * as open from '../../../src/kernel/syscalls/open.js';
import * as rw from '../../../src/kernel/syscalls/read-write.js';
import type { SysCtx, SysResult } from '../../../src/kernel/syscalls/context.js';
import { FakeProc, FAKE_PROC_BUF, callAs } from '../../util/fake-proc.js';

const BUF = FAKE_PROC_BUF;
const UNMAPPED = 0x4000_0000;

describe('kernel/syscalls/read-write: writes to /dev/null, /dev/zero and /dev/full', () => {
  const tmp = new Tmpfs(new MemoryAccount(1 << 24), { mode: 0o755 });
  const vfs = new Vfs(tmp.root);
  vfs.mount('/dev', makeDevfs({ devNodes: () => new Map(), devpts: () => new Tmpfs(new MemoryAccount(1 << 20)).root }));
  const proc = new FakeProc(vfs.root);
  const call = (fn: (c: SysCtx) => SysResult | Promise<SysResult>, ...args: number[]) => callAs({ vfs }, proc, fn, ...args);
  const openDev = async (name: string): Promise<number> => {
    assert.equal(proc.user.copyOut(BUF + 8192, new TextEncoder().encode(`/dev/${name}\0`)), 0);
    const fd = (await call(open.sys_openat, abi.AT_FDCWD, BUF + 8192, abi.O_WRONLY, 0)) as number;
    assert.ok(fd >= 0, `open /dev/${name}: ${String(fd)}`);
    return fd;
  };

  for (const name of ['null', 'zero']) {
    it(`/dev/${name}: every byte of a readable buffer taken, EFAULT for an unreadable one`, async () => {
      const fd = await openDev(name);
      assert.equal(await call(rw.sys_write, fd, BUF, 4096), 4096);
      assert.equal(await call(rw.sys_write, fd, BUF + 4096, 4096 * 3), 4096 * 3, 'up to the end of the mapped pages');
      assert.equal(await call(rw.sys_pwrite64, fd, BUF, 100, 12345), 100);
      assert.equal(await call(rw.sys_write, fd, UNMAPPED, 10), EFAULT);
      assert.equal(await call(rw.sys_write, fd, BUF + 4096 * 3, 4096 * 2), EFAULT, 'running past the mapped pages');
      assert.equal(await call(rw.sys_pwrite64, fd, UNMAPPED, 10, 0), EFAULT);
      assert.equal(await call(rw.sys_write, fd, UNMAPPED, 0), 0, 'nothing to read: 0');
    });
  }

  it('/dev/full: ENOSPC', async () => {
    const fd = await openDev('full');
    assert.equal(await call(rw.sys_write, fd, BUF, 10), ENOSPC);
  });
});
