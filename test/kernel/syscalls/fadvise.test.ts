// fadvise64 on a process stand-in: a hint accepted for files, refused as
// Linux refuses it (EBADF, ESPIPE for pipes, EINVAL for bad advice or length).

import * as assert from 'node:assert/strict';
import * as abi from '../../../src/linux/abi.js';
import { EBADF, EINVAL, ESPIPE } from '../../../src/linux/errno.js';
import { Tmpfs } from '../../../src/kernel/filesystems/tmpfs.js';
import { MemoryAccount } from '../../../src/kernel/mm.js';
import { Vfs } from '../../../src/kernel/vfs/vfs.js';
import { makePipe } from '../../../src/kernel/files/pipe.js';
import * as open from '../../../src/kernel/syscalls/open.js';
import * as rw from '../../../src/kernel/syscalls/read-write.js';
import type { SysCtx, SysResult } from '../../../src/kernel/syscalls/context.js';
import { FakeProc, FAKE_PROC_BUF, callAs } from '../../util/fake-proc.js';

const BUF = FAKE_PROC_BUF;

describe('kernel/syscalls/read-write: fadvise64', () => {
  const vfs = new Vfs(new Tmpfs(new MemoryAccount(1 << 24), { mode: 0o1777 }).root);
  const proc = new FakeProc(vfs.root);
  const call = (fn: (c: SysCtx) => SysResult | Promise<SysResult>, ...args: number[]) => callAs({ vfs }, proc, fn, ...args);

  it('0 for every advice on a file; EINVAL for advice 6 and up or a negative length; ESPIPE for a pipe; EBADF for no file and O_PATH', async () => {
    assert.equal(proc.user.copyOut(BUF, new TextEncoder().encode('/f\0')), 0);
    const fd = (await call(open.sys_openat, abi.AT_FDCWD, BUF, abi.O_CREAT | abi.O_RDWR, 0o644)) as number;
    assert.ok(fd >= 0);
    for (let advice = 0; advice <= 5; advice++) assert.equal(await call(rw.sys_fadvise64, fd, 0, 0, advice), 0, `advice ${advice}`);
    assert.equal(await call(rw.sys_fadvise64, fd, 4096, 1 << 20, 3), 0);
    assert.equal(await call(rw.sys_fadvise64, fd, 0, 0, 6), EINVAL);
    assert.equal(await call(rw.sys_fadvise64, fd, 0, 0, -1), EINVAL);
    assert.equal(await call(rw.sys_fadvise64, fd, 0, -1, 0), EINVAL);
    const [r] = makePipe(0);
    const pfd = proc.fds.install(r, false) as number;
    assert.equal(await call(rw.sys_fadvise64, pfd, 0, 0, 0), ESPIPE);
    assert.equal(await call(rw.sys_fadvise64, 50, 0, 0, 0), EBADF);
    const path = (await call(open.sys_openat, abi.AT_FDCWD, BUF, abi.O_PATH, 0)) as number;
    assert.equal(await call(rw.sys_fadvise64, path, 0, 0, 0), EBADF);
  });
});
