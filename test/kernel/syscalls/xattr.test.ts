// The extended attribute calls on a process stand-in (guest memory, an fd
// table, a tmpfs root): Linux's answers on a filesystem without extended
// attribute support, after Linux's own argument checks.

import * as assert from 'node:assert/strict';
import * as abi from '../../../src/linux/abi.js';
import { E2BIG, EBADF, EFAULT, EINVAL, ENOENT, EOPNOTSUPP, ERANGE, EROFS } from '../../../src/linux/errno.js';
import { Tmpfs } from '../../../src/kernel/filesystems/tmpfs.js';
import { MemoryAccount } from '../../../src/kernel/mm.js';
import { Vfs } from '../../../src/kernel/vfs/vfs.js';
import { symlinkAt } from '../../../src/kernel/vfs/namei.js';
import * as open from '../../../src/kernel/syscalls/open.js';
import * as xattr from '../../../src/kernel/syscalls/xattr.js';
import { SYSCALLS } from '../../../src/kernel/syscalls/table.js';
import type { SysCtx, SysResult } from '../../../src/kernel/syscalls/context.js';
import { FakeProc, FAKE_PROC_BUF, callAs } from '../../util/fake-proc.js';

const BUF = FAKE_PROC_BUF; // four mapped pages: strings at BUF, BUF + 0x1000...
const PATH = BUF;
const NAME = BUF + 0x1000;
const VALUE = BUF + 0x2000;
const BAD = 0x8; // never mapped


describe('kernel/syscalls/xattr: extended attributes on filesystems that store none', () => {
  let vfs: Vfs;
  let proc: FakeProc;
  let kernel: { vfs: Vfs };

  const call = (fn: (c: SysCtx) => SysResult | Promise<SysResult>, ...args: number[]) => callAs(kernel, proc, fn, ...args);
  const str = (addr: number, s: string) => assert.equal(proc.user.copyOut(addr, new TextEncoder().encode(s + '\0')), 0);
  const openFile = async (path: string, flags: number) => {
    str(PATH, path);
    return (await call(open.sys_openat, abi.AT_FDCWD, PATH, flags, 0o644)) as number;
  };

  const setup = (readonly: boolean) => {
    vfs = new Vfs(new Tmpfs(new MemoryAccount(1 << 24), { mode: 0o1777, readonly }).root);
    kernel = { vfs };
    proc = new FakeProc(vfs.root);
  };
  beforeEach(() => setup(false));

  it('are in the system call table (not ENOSYS)', () => {
    for (const [nr, name] of [[5, 'setxattr'], [8, 'getxattr'], [11, 'listxattr'], [13, 'flistxattr'], [14, 'removexattr'], [16, 'fremovexattr']] as const) {
      const row = SYSCALLS.find((r) => r.nr === nr);
      assert.equal(row?.name, name);
      assert.ok(row?.handler, `${name} has a handler`);
    }
  });

  it('listxattr and its l/f forms: no names (0) for a file, a directory, a dangling symlink; ENOENT, EFAULT, EBADF', async () => {
    const fd = await openFile('/f', abi.O_CREAT | abi.O_RDWR);
    assert.ok(fd >= 0);
    str(PATH, '/f');
    assert.equal(await call(xattr.sys_listxattr, PATH, BUF + 0x3000, 256), 0);
    assert.equal(await call(xattr.sys_listxattr, PATH, 0, 0), 0);
    str(PATH, '/');
    assert.equal(await call(xattr.sys_listxattr, PATH, 0, 0), 0);
    assert.equal(await symlinkAt({ vfs, root: vfs.root, cred: proc.creds, umask: 0o022, caller: proc } as never, '/nowhere', vfs.root, '/link'), 0);
    str(PATH, '/link');
    assert.equal(await call(xattr.sys_listxattr, PATH, 0, 0), ENOENT, 'follows the link');
    assert.equal(await call(xattr.sys_llistxattr, PATH, 0, 0), 0, 'the link itself');
    str(PATH, '/missing');
    assert.equal(await call(xattr.sys_listxattr, PATH, 0, 0), ENOENT);
    assert.equal(await call(xattr.sys_listxattr, BAD, 0, 0), EFAULT);
    assert.equal(await call(xattr.sys_flistxattr, fd, 0, 0), 0);
    assert.equal(await call(xattr.sys_flistxattr, 40, 0, 0), EBADF);
    const pathFd = await openFile('/f', abi.O_PATH);
    assert.equal(await call(xattr.sys_flistxattr, pathFd, 0, 0), EBADF, 'an O_PATH file');
  });

  it('getxattr: EOPNOTSUPP for an existing file; the name checked first (ERANGE when empty or past 255 bytes, EFAULT)', async () => {
    const fd = await openFile('/f', abi.O_CREAT | abi.O_RDWR);
    str(PATH, '/f');
    str(NAME, 'user.test');
    assert.equal(await call(xattr.sys_getxattr, PATH, NAME, VALUE, 64), EOPNOTSUPP);
    assert.equal(await call(xattr.sys_lgetxattr, PATH, NAME, VALUE, 64), EOPNOTSUPP);
    assert.equal(await call(xattr.sys_fgetxattr, fd, NAME, VALUE, 64), EOPNOTSUPP);
    assert.equal(await call(xattr.sys_fgetxattr, 40, NAME, VALUE, 64), EBADF);
    str(PATH, '/missing');
    assert.equal(await call(xattr.sys_getxattr, PATH, NAME, VALUE, 64), ENOENT);
    str(NAME, '');
    assert.equal(await call(xattr.sys_getxattr, PATH, NAME, VALUE, 64), ERANGE);
    str(NAME, 'user.' + 'x'.repeat(251));
    assert.equal(await call(xattr.sys_fgetxattr, fd, NAME, VALUE, 64), ERANGE, '256 bytes');
    str(NAME, 'user.' + 'x'.repeat(250));
    assert.equal(await call(xattr.sys_fgetxattr, fd, NAME, VALUE, 64), EOPNOTSUPP, '255 bytes (XATTR_NAME_MAX)');
    assert.equal(await call(xattr.sys_fgetxattr, fd, BAD, VALUE, 64), EFAULT);
  });

  it('setxattr and removexattr: EOPNOTSUPP; EINVAL for unknown flags, E2BIG past 64 KiB, EFAULT for the value; EROFS on a read-only filesystem', async () => {
    const fd = await openFile('/f', abi.O_CREAT | abi.O_RDWR);
    str(PATH, '/f');
    str(NAME, 'user.test');
    str(VALUE, 'v');
    assert.equal(await call(xattr.sys_setxattr, PATH, NAME, VALUE, 1, 0), EOPNOTSUPP);
    assert.equal(await call(xattr.sys_setxattr, PATH, NAME, VALUE, 1, 0x1 /* XATTR_CREATE */), EOPNOTSUPP);
    assert.equal(await call(xattr.sys_lsetxattr, PATH, NAME, VALUE, 1, 0x2 /* XATTR_REPLACE */), EOPNOTSUPP);
    assert.equal(await call(xattr.sys_fsetxattr, fd, NAME, VALUE, 1, 0), EOPNOTSUPP);
    assert.equal(await call(xattr.sys_setxattr, PATH, NAME, VALUE, 1, 4), EINVAL);
    assert.equal(await call(xattr.sys_setxattr, PATH, NAME, VALUE, xattr.XATTR_SIZE_MAX + 1, 0), E2BIG);
    assert.equal(await call(xattr.sys_setxattr, PATH, NAME, BAD, 1, 0), EFAULT);
    assert.equal(await call(xattr.sys_setxattr, PATH, NAME, 0, 0, 0), EOPNOTSUPP, 'an empty value');
    assert.equal(await call(xattr.sys_removexattr, PATH, NAME), EOPNOTSUPP);
    assert.equal(await call(xattr.sys_fremovexattr, fd, NAME), EOPNOTSUPP);
    str(NAME, '');
    assert.equal(await call(xattr.sys_removexattr, PATH, NAME), ERANGE);
    str(PATH, '/missing');
    str(NAME, 'user.test');
    assert.equal(await call(xattr.sys_setxattr, PATH, NAME, VALUE, 1, 0), ENOENT);

    setup(true);
    str(PATH, '/');
    str(NAME, 'user.test');
    assert.equal(await call(xattr.sys_setxattr, PATH, NAME, VALUE, 1, 0), EROFS);
    assert.equal(await call(xattr.sys_removexattr, PATH, NAME), EROFS);
    assert.equal(await call(xattr.sys_getxattr, PATH, NAME, VALUE, 64), EOPNOTSUPP);
    assert.equal(await call(xattr.sys_listxattr, PATH, 0, 0), 0);
  });
});
