// The sandbox's AF_UNIX names: socket inodes in a tmpfs bound by inode (a
// rename or hard link reaches the same socket), abstract names freed with
// their socket, autobind, and the lookup's errors.

import * as assert from 'node:assert/strict';
import * as abi from '../../../src/linux/abi.js';
import { EADDRINUSE, ECONNREFUSED, ENOENT, EPROTOTYPE, isErrno } from '../../../src/linux/errno.js';
import { Tmpfs } from '../../../src/kernel/filesystems/tmpfs.js';
import { MemoryAccount } from '../../../src/kernel/mm.js';
import { Vfs } from '../../../src/kernel/vfs/vfs.js';
import * as namei from '../../../src/kernel/vfs/namei.js';
import { UnixNamespace, type PathStart } from '../../../src/kernel/net/names.js';
import { UnixSocket } from '../../../src/kernel/net/unix-socket.js';

const path = (p: string) => ({ kind: 'path' as const, path: new TextEncoder().encode(p) });
const abstract = (n: string) => ({ kind: 'abstract' as const, name: new TextEncoder().encode(n) });

describe('kernel/net/names', () => {
  let vfs: Vfs;
  let at: PathStart;
  let ns: UnixNamespace<UnixSocket>;

  beforeEach(() => {
    vfs = new Vfs(new Tmpfs(new MemoryAccount(1 << 24), { mode: 0o1777 }).root);
    at = { ctx: { vfs, root: vfs.root, cred: { euid: 0, egid: 0, groups: [] }, umask: 0o077 }, start: vfs.root };
    ns = new UnixNamespace<UnixSocket>();
  });

  it('a path name is a socket inode; rename and link reach the same socket; unlink forgets it', async () => {
    const s = new UnixSocket(ns, abi.SOCK_STREAM, 0);
    assert.equal(await ns.bindPath(at, '/a', s), 0);
    const d = await vfs.resolve(vfs.root, vfs.root, '/a', { followLast: false });
    assert.ok(!isErrno(d));
    const attr = await d.inode.getattr();
    assert.ok(!isErrno(attr));
    assert.equal(attr.mode, abi.S_IFSOCK | 0o700);
    assert.equal(await ns.lookup(at, path('/a'), abi.SOCK_STREAM), s);
    assert.equal(await namei.renameAt(at.ctx, vfs.root, '/a', vfs.root, '/b', 0), 0);
    assert.equal(await ns.lookup(at, path('/b'), abi.SOCK_STREAM), s);
    assert.equal(await ns.lookup(at, path('/a'), abi.SOCK_STREAM), ENOENT);
    assert.equal(await ns.lookup(at, path('/b'), abi.SOCK_DGRAM), EPROTOTYPE);
    assert.equal(await namei.symlinkAt(at.ctx, '/b', vfs.root, '/link'), 0);
    assert.equal(await ns.lookup(at, path('/link'), abi.SOCK_STREAM), s, 'connect follows symlinks');
    assert.equal(await namei.removeAt(at.ctx, vfs.root, '/b', false), 0);
    assert.equal(await ns.lookup(at, path('/b'), abi.SOCK_STREAM), ENOENT);
  });

  it('the inode outlives its socket: connect is ECONNREFUSED, a new bind EADDRINUSE until unlinked', async () => {
    const s = new UnixSocket(ns, abi.SOCK_STREAM, 0);
    assert.equal(await ns.bindPath(at, '/s', s), 0);
    void s.unref();
    assert.equal(await ns.lookup(at, path('/s'), abi.SOCK_STREAM), ECONNREFUSED);
    const t = new UnixSocket(ns, abi.SOCK_STREAM, 0);
    assert.equal(await ns.bindPath(at, '/s', t), EADDRINUSE);
    assert.equal(await namei.removeAt(at.ctx, vfs.root, '/s', false), 0);
    assert.equal(await ns.bindPath(at, '/s', t), 0);
    assert.equal(await ns.lookup(at, path('/s'), abi.SOCK_STREAM), t);
  });

  it('abstract names: taken until their socket is released; autobind picks five hex digits', async () => {
    const s = new UnixSocket(ns, abi.SOCK_DGRAM, 0);
    assert.equal(ns.bindAbstract(abstract('x').name, s), 0);
    s.setAddress(abstract('x'));
    const t = new UnixSocket(ns, abi.SOCK_DGRAM, 0);
    assert.equal(ns.bindAbstract(abstract('x').name, t), EADDRINUSE);
    assert.equal(await ns.lookup(at, abstract('x'), abi.SOCK_DGRAM), s);
    assert.equal(await ns.lookup(at, abstract('y'), abi.SOCK_DGRAM), ECONNREFUSED);
    void s.unref();
    assert.equal(await ns.lookup(at, abstract('x'), abi.SOCK_DGRAM), ECONNREFUSED);
    assert.equal(ns.bindAbstract(abstract('x').name, t), 0);
    const a = ns.autobind(new UnixSocket(ns, abi.SOCK_DGRAM, 0));
    assert.equal(a.kind, 'abstract');
    assert.match(Buffer.from((a as { name: Uint8Array }).name).toString(), /^[0-9a-f]{5}$/);
  });
});
