// The socket system calls on a process stand-in: guest memory, an fd table,
// a tmpfs root. Bad guest pointers are EFAULT and bad addresses EINVAL (never
// a throw); path names are socket inodes; control messages install fds.

import * as assert from 'node:assert/strict';
import * as abi from '../../../src/linux/abi.js';
import { EACCES, EADDRINUSE, EAFNOSUPPORT, EBADF, ECONNREFUSED, EFAULT, EINVAL, ENOENT, ENOTSOCK, EOPNOTSUPP, EPROTONOSUPPORT, ESOCKTNOSUPPORT, Errno, isErrno } from '../../../src/linux/errno.js';
import { Tmpfs } from '../../../src/kernel/filesystems/tmpfs.js';
import { MemoryAccount } from '../../../src/kernel/mm.js';
import { Vfs } from '../../../src/kernel/vfs/vfs.js';
import { UnixNamespace } from '../../../src/kernel/net/names.js';
import { UnixSocket } from '../../../src/kernel/net/unix-socket.js';
import { InetStack } from '../../../src/kernel/net/inet-stack.js';
import { makePipe } from '../../../src/kernel/files/pipe.js';
import * as sock from '../../../src/kernel/syscalls/socket.js';
import * as msg from '../../../src/kernel/syscalls/socket-msg.js';
import type { SysCtx, SysResult } from '../../../src/kernel/syscalls/context.js';
import { FakeProc, FAKE_PROC_BUF, callAs } from '../../util/fake-proc.js';

const BUF = FAKE_PROC_BUF; // four mapped pages
const BAD = 0x8; // never mapped


describe('kernel/syscalls/socket: the calls on guest memory', () => {
  let vfs: Vfs;
  let kernel: { vfs: Vfs; unixNames: UnixNamespace<UnixSocket>; inet: InetStack; logs: { user: (m: string) => void }; signals: unknown };
  let proc: FakeProc;
  let logged: string[];

  /** Call `fn` as the process with these argument registers. */
  const call = (fn: (c: SysCtx) => SysResult | Promise<SysResult>, ...args: number[]) => callAs(kernel, proc, fn, ...args);
  const put = (addr: number, bytes: Uint8Array) => assert.equal(proc.user.copyOut(addr, bytes), 0);
  const sockaddr = (path: string) => {
    const p = new TextEncoder().encode(path);
    const b = new Uint8Array(2 + p.length + 1);
    b[0] = abi.AF_UNIX;
    b.set(p, 2);
    return b;
  };
  const newSocket = async (type = abi.SOCK_STREAM) => (await call(sock.sys_socket, abi.AF_UNIX, type, 0)) as number;

  beforeEach(() => {
    vfs = new Vfs(new Tmpfs(new MemoryAccount(1 << 24), { mode: 0o1777 }).root);
    logged = [];
    kernel = { vfs, unixNames: new UnixNamespace<UnixSocket>(() => null), inet: new InetStack(), logs: { user: (m) => logged.push(m) }, signals: {} };
    proc = new FakeProc(vfs.root, 1);
  });

  it('socket: AF_PACKET is EAFNOSUPPORT (AF_NETLINK: netlink.test.ts); AF_INET checks type against protocol; bad types and flags', async () => {
    assert.equal(await call(sock.sys_socket, abi.AF_PACKET, abi.SOCK_DGRAM, 0), EAFNOSUPPORT);
    assert.equal(await call(sock.sys_socket, abi.AF_INET, abi.SOCK_STREAM, abi.IPPROTO_UDP), EPROTONOSUPPORT);
    assert.equal(await call(sock.sys_socket, abi.AF_INET6, abi.SOCK_SEQPACKET, 0), ESOCKTNOSUPPORT);
    assert.equal(await call(sock.sys_socketpair, abi.AF_INET, abi.SOCK_STREAM, 0, BUF), EOPNOTSUPP);
    assert.ok((await call(sock.sys_socket, abi.AF_INET6, abi.SOCK_DGRAM, 0)) as number >= 0);
    assert.equal(await call(sock.sys_socket, abi.AF_UNIX, 7, 0), ESOCKTNOSUPPORT);
    assert.equal(await call(sock.sys_socket, abi.AF_UNIX, abi.SOCK_STREAM | 0x100000, 0), EINVAL);
    const fd = await newSocket(abi.SOCK_STREAM | abi.SOCK_CLOEXEC | abi.SOCK_NONBLOCK);
    assert.equal(proc.fds.cloexec(fd), true);
    assert.ok((proc.fds.get(fd) as UnixSocket).nonblocking);
  });

  it('socketpair: a bad pointer is EFAULT and leaves no fd behind', async () => {
    assert.equal(await call(sock.sys_socketpair, abi.AF_UNIX, abi.SOCK_STREAM, 0, BAD), EFAULT);
    assert.deepEqual(proc.fds.fds(), []);
    assert.equal(await call(sock.sys_socketpair, abi.AF_UNIX, abi.SOCK_STREAM, 0, BUF), 0);
    assert.deepEqual([...new Int32Array(proc.mem.u8.slice(BUF, BUF + 8).buffer)], [0, 1]);
  });

  it('bind: EFAULT for a bad address, EINVAL for bad lengths and families; a path becomes a socket inode (umask applied); EADDRINUSE', async () => {
    const fd = await newSocket();
    assert.equal(await call(sock.sys_bind, fd, BAD, 12), EFAULT);
    put(BUF, sockaddr('/s'));
    assert.equal(await call(sock.sys_bind, fd, BUF, 200), EINVAL);
    assert.equal(await call(sock.sys_bind, fd, BUF, -1), EINVAL);
    assert.equal(await call(sock.sys_bind, fd, BUF, 1), EINVAL);
    put(BUF, Uint8Array.of(abi.AF_INET, 0));
    assert.equal(await call(sock.sys_bind, fd, BUF, 5), EINVAL);
    put(BUF, sockaddr('/s'));
    assert.equal(await call(sock.sys_bind, fd, BUF, 5), 0);
    const d = await vfs.resolve(vfs.root, vfs.root, '/s', { followLast: false });
    assert.ok(!isErrno(d));
    const attr = await d.inode.getattr();
    assert.ok(!isErrno(attr));
    assert.equal(attr.mode, abi.S_IFSOCK | 0o755);
    const other = await newSocket();
    assert.equal(await call(sock.sys_bind, other, BUF, 5), EADDRINUSE);
    assert.equal(await call(sock.sys_bind, 99, BUF, 5), EBADF);
    const [r] = makePipe(0);
    const pfd = proc.fds.install(r, false) as number;
    assert.equal(await call(sock.sys_bind, pfd, BUF, 5), ENOTSOCK);
  });

  it('connect by path: to the bound listener; ENOENT after unlink, ECONNREFUSED for a regular file, EACCES without write permission', async () => {
    const srv = await newSocket();
    put(BUF, sockaddr('/srv'));
    assert.equal(await call(sock.sys_bind, srv, BUF, 7), 0);
    assert.equal(await call(sock.sys_listen, srv, 4), 0);
    const c = await newSocket();
    assert.equal(await call(sock.sys_connect, c, BUF, 7), 0);
    assert.equal((proc.fds.get(c) as UnixSocket).state, 'connected');
    // accept with a short name buffer: the first bytes, the full length.
    proc.user.writeU32(BUF + 0x100, 1);
    const a = (await call(sock.sys_accept, srv, BUF + 0x200, BUF + 0x100)) as number;
    assert.ok(a >= 0);
    assert.equal(proc.user.readU32(BUF + 0x100), 2);
    // getsockname of the accepted end is the listener's path.
    proc.user.writeU32(BUF + 0x100, 110);
    assert.equal(await call(sock.sys_getsockname, a, BUF + 0x200, BUF + 0x100), 0);
    assert.equal(proc.user.readU32(BUF + 0x100), 7);
    assert.equal(await call(sock.sys_getsockname, a, BUF + 0x200, BAD), EFAULT);

    // A user without write permission on the socket inode.
    const d = await vfs.resolve(vfs.root, vfs.root, '/srv', { followLast: false });
    assert.ok(!isErrno(d));
    await d.inode.setattr({ mode: 0o755 });
    Object.assign(proc.creds, { ruid: 1000, euid: 1000, rgid: 1000, egid: 1000 });
    assert.equal(await call(sock.sys_connect, await newSocket(), BUF, 7), EACCES);
    Object.assign(proc.creds, { ruid: 0, euid: 0, rgid: 0, egid: 0 });

    await vfs.root.inode.unlink('srv', false);
    vfs.root.detach('srv');
    assert.equal(await call(sock.sys_connect, await newSocket(), BUF, 7), ENOENT);
    await vfs.root.inode.mknod('file', abi.S_IFREG | 0o666, 0n, { uid: 0, gid: 0 });
    put(BUF, sockaddr('/file'));
    assert.equal(await call(sock.sys_connect, await newSocket(), BUF, 8), ECONNREFUSED);
  });

  it('recvfrom into a bad buffer is EFAULT and the data stays; sendmsg with a bad msghdr, iovec or control is EFAULT/EINVAL/EBADF', async () => {
    await call(sock.sys_socketpair, abi.AF_UNIX, abi.SOCK_STREAM, 0, BUF);
    const [a, b] = [0, 1];
    put(BUF + 0x100, new TextEncoder().encode('abc'));
    assert.equal(await call(msg.sys_sendto, a, BUF + 0x100, 3, 0, 0, 0), 3);
    assert.equal(await call(msg.sys_recvfrom, b, BAD, 3, 0, 0, 0), EFAULT);
    assert.equal(await call(msg.sys_recvfrom, b, BUF + 0x200, 100, abi.MSG_PEEK, 0, 0), 3);
    assert.equal(await call(msg.sys_recvfrom, b, BUF + 0x200, 100, 0x800000, 0, 0), EINVAL);
    assert.equal(await call(msg.sys_sendto, a, BAD, 3, 0, 0, 0), EFAULT);
    assert.equal(await call(msg.sys_sendmsg, a, BAD, 0), EFAULT);

    // struct msghdr at BUF+0x400, iovec at BUF+0x480, control at BUF+0x500.
    const hdr = (iov: number, iovlen: number, control: number, controllen: number) => {
      const h = new DataView(new ArrayBuffer(abi.MSGHDR.size));
      h.setBigUint64(abi.MSGHDR.iov, BigInt(iov), true);
      h.setBigUint64(abi.MSGHDR.iovlen, BigInt(iovlen), true);
      h.setBigUint64(abi.MSGHDR.control, BigInt(control), true);
      h.setBigUint64(abi.MSGHDR.controllen, BigInt(controllen), true);
      put(BUF + 0x400, new Uint8Array(h.buffer));
    };
    const iovec = new DataView(new ArrayBuffer(16));
    iovec.setBigUint64(0, BigInt(BAD), true);
    iovec.setBigUint64(8, 4n, true);
    put(BUF + 0x480, new Uint8Array(iovec.buffer));
    hdr(BUF + 0x480, 1, 0, 0);
    assert.equal(await call(msg.sys_sendmsg, a, BUF + 0x400, 0), EFAULT);
    hdr(BUF + 0x480, abi.UIO_MAXIOV + 1, 0, 0);
    assert.equal(await call(msg.sys_sendmsg, a, BUF + 0x400, 0), EINVAL);
    iovec.setBigUint64(0, BigInt(BUF + 0x100), true);
    put(BUF + 0x480, new Uint8Array(iovec.buffer));
    hdr(BUF + 0x480, 1, BAD, 24);
    assert.equal(await call(msg.sys_sendmsg, a, BUF + 0x400, 0), EFAULT);
    const ctl = new DataView(new ArrayBuffer(24));
    ctl.setBigUint64(0, 20n, true);
    ctl.setInt32(8, abi.SOL_SOCKET, true);
    ctl.setInt32(12, abi.SCM_RIGHTS, true);
    ctl.setInt32(16, 42, true);
    put(BUF + 0x500, new Uint8Array(ctl.buffer));
    hdr(BUF + 0x480, 1, BUF + 0x500, 24);
    assert.equal(await call(msg.sys_sendmsg, a, BUF + 0x400, 0), EBADF);
    ctl.setBigUint64(0, 99n, true);
    put(BUF + 0x500, new Uint8Array(ctl.buffer));
    assert.equal(await call(msg.sys_sendmsg, a, BUF + 0x400, 0), EINVAL);
  });

  it('SCM_RIGHTS through sendmsg/recvmsg: the fd arrives (MSG_CMSG_CLOEXEC), msg_controllen and msg_flags written back', async () => {
    await call(sock.sys_socketpair, abi.AF_UNIX, abi.SOCK_DGRAM, 0, BUF);
    const [rp] = makePipe(0);
    const pfd = proc.fds.install(rp, false) as number;
    put(BUF + 0x100, new TextEncoder().encode('x'));
    const iovec = new DataView(new ArrayBuffer(16));
    iovec.setBigUint64(0, BigInt(BUF + 0x100), true);
    iovec.setBigUint64(8, 1n, true);
    put(BUF + 0x480, new Uint8Array(iovec.buffer));
    const ctl = new DataView(new ArrayBuffer(24));
    ctl.setBigUint64(0, 20n, true);
    ctl.setInt32(8, abi.SOL_SOCKET, true);
    ctl.setInt32(12, abi.SCM_RIGHTS, true);
    ctl.setInt32(16, pfd, true);
    put(BUF + 0x500, new Uint8Array(ctl.buffer));
    const h = new DataView(new ArrayBuffer(abi.MSGHDR.size));
    h.setBigUint64(abi.MSGHDR.iov, BigInt(BUF + 0x480), true);
    h.setBigUint64(abi.MSGHDR.iovlen, 1n, true);
    h.setBigUint64(abi.MSGHDR.control, BigInt(BUF + 0x500), true);
    h.setBigUint64(abi.MSGHDR.controllen, 24n, true);
    put(BUF + 0x400, new Uint8Array(h.buffer));
    assert.equal(await call(msg.sys_sendmsg, 0, BUF + 0x400, 0), 1);
    void proc.fds.close(pfd);
    proc.user.zero(BUF + 0x500, 24);
    assert.equal(await call(msg.sys_recvmsg, 1, BUF + 0x400, abi.MSG_CMSG_CLOEXEC), 1);
    assert.equal(proc.user.readU64(BUF + 0x400 + abi.MSGHDR.controllen), 24);
    assert.equal(proc.user.readU32(BUF + 0x400 + abi.MSGHDR.flags), 0);
    const fd = proc.user.readI32(BUF + 0x500 + 16) as number;
    assert.equal(proc.fds.get(fd), rp);
    assert.equal(proc.fds.cloexec(fd), true);
  });

  it('getsockopt/setsockopt: EFAULT for bad pointers, EINVAL for a negative length, the value cut to optlen', async () => {
    const fd = await newSocket();
    assert.equal(await call(sock.sys_getsockopt, fd, abi.SOL_SOCKET, abi.SO_TYPE, BUF, BAD), EFAULT);
    proc.user.writeU32(BUF + 8, 4);
    assert.equal(await call(sock.sys_getsockopt, fd, abi.SOL_SOCKET, abi.SO_TYPE, BAD, BUF + 8), EFAULT);
    proc.user.writeU32(BUF + 8, 0xffffffff);
    assert.equal(await call(sock.sys_getsockopt, fd, abi.SOL_SOCKET, abi.SO_TYPE, BUF, BUF + 8), EINVAL);
    proc.user.writeU32(BUF + 8, 2);
    assert.equal(await call(sock.sys_getsockopt, fd, abi.SOL_SOCKET, abi.SO_PEERCRED, BUF, BUF + 8), 0);
    assert.equal(proc.user.readU32(BUF + 8), 2);
    assert.equal(await call(sock.sys_setsockopt, fd, abi.SOL_SOCKET, abi.SO_PASSCRED, BAD, 4), EFAULT);
    assert.equal(await call(sock.sys_setsockopt, fd, abi.SOL_SOCKET, abi.SO_PASSCRED, BUF, -1), EINVAL);
    assert.ok((await call(sock.sys_setsockopt, fd, 6, 1, BUF, 4)) instanceof Errno);
  });

  it('AF_INET through guest memory: EFAULT and EINVAL for bad addresses, names copied out in the family\'s layout (cut to the room, full length reported), a TCP connection and a datagram', async () => {
    const sin = (port: number, a = [127, 0, 0, 1]) => {
      const b = new Uint8Array(16);
      b[0] = abi.AF_INET;
      b[2] = port >> 8;
      b[3] = port & 0xff;
      b.set(a, 4);
      return b;
    };
    const l = (await call(sock.sys_socket, abi.AF_INET, abi.SOCK_STREAM, 0)) as number;
    assert.equal(await call(sock.sys_bind, l, BAD, 16), EFAULT);
    put(BUF, sin(0));
    assert.equal(await call(sock.sys_bind, l, BUF, 15), EINVAL);
    assert.equal(await call(sock.sys_bind, l, BUF, 200), EINVAL);
    assert.equal(await call(sock.sys_bind, l, BUF, 16), 0);
    assert.equal(await call(sock.sys_listen, l, 4), 0);
    proc.user.writeU32(BUF + 64, 8);
    assert.equal(await call(sock.sys_getsockname, l, BUF + 32, BUF + 64), 0);
    assert.equal(proc.user.readU32(BUF + 64), 16, 'the full length');
    const name = proc.user.copyIn(BUF + 32, 8) as Uint8Array;
    assert.deepEqual([...name.subarray(0, 2)], [abi.AF_INET, 0]);
    const port = (name[2] << 8) | name[3];
    assert.equal(await call(sock.sys_getsockname, l, BUF, BAD), EFAULT);

    const c = (await call(sock.sys_socket, abi.AF_INET, abi.SOCK_STREAM | abi.SOCK_NONBLOCK, 0)) as number;
    put(BUF, sin(port));
    assert.equal(await call(sock.sys_connect, c, BAD, 16), EFAULT);
    assert.equal(await call(sock.sys_connect, c, BUF, 16), Errno.of(115), 'EINPROGRESS');
    assert.equal(await call(sock.sys_connect, c, BUF, 16), 0);
    const s = (await call(sock.sys_accept4, l, 0, 0, abi.SOCK_CLOEXEC)) as number;
    assert.ok(s >= 0);
    put(BUF, new TextEncoder().encode('ping'));
    assert.equal(await call(msg.sys_sendto, c, BUF, 4, 0, 0, 0), 4);
    proc.user.writeU32(BUF + 64, 16);
    assert.equal(await call(msg.sys_recvfrom, s, BUF + 128, 100, 0, BUF + 32, BUF + 64), 4);
    assert.equal(proc.user.readU32(BUF + 64), 0, 'TCP reports no sender');
    proc.user.writeU32(BUF + 64, 4);
    assert.equal(await call(sock.sys_getsockopt, c, abi.IPPROTO_TCP, abi.TCP_NODELAY, BUF + 32, BUF + 64), 0);

    const u = (await call(sock.sys_socket, abi.AF_INET6, abi.SOCK_DGRAM, 0)) as number;
    const v = (await call(sock.sys_socket, abi.AF_INET, abi.SOCK_DGRAM, 0)) as number;
    put(BUF, sin(0));
    assert.equal(await call(sock.sys_bind, v, BUF, 16), 0);
    proc.user.writeU32(BUF + 64, 16);
    await call(sock.sys_getsockname, v, BUF + 32, BUF + 64);
    const six = new Uint8Array(28);
    six[0] = abi.AF_INET6;
    six.set((proc.user.copyIn(BUF + 34, 2) as Uint8Array), 2);
    six.set([0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff, 127, 0, 0, 1], 8);
    put(BUF + 256, six);
    assert.equal(await call(msg.sys_sendto, u, BUF + 256, 0, 0, BUF + 256, 10), EINVAL, 'a short sockaddr_in6');
    assert.equal(await call(msg.sys_sendto, u, BUF + 256, 0, 0, BUF + 256, 28), 0, 'an empty datagram to a v4-mapped address');
    proc.user.writeU32(BUF + 64, 128);
    assert.equal(await call(msg.sys_recvfrom, v, BUF + 128, 10, abi.MSG_DONTWAIT, BUF + 32, BUF + 64), 0);
    assert.equal(proc.user.readU32(BUF + 64), 16, 'an AF_INET sender name');
  });
});
