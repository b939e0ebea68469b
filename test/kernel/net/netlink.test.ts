// AF_NETLINK route sockets through the system calls on a process stand-in:
// port ids (the pid first, then -4096...), the kernel's answers to the link
// and address dumps glibc's if_nameindex and getifaddrs send (the loopback
// device alone), errors as NLMSG_ERROR messages, and the socket calls that
// netlink does not have.

import * as assert from 'node:assert/strict';
import * as abi from '../../../src/linux/abi.js';
import { EADDRINUSE, EINVAL, ENODEV, EOPNOTSUPP, EPERM, EPROTONOSUPPORT, ESOCKTNOSUPPORT, ECONNREFUSED, EAGAIN } from '../../../src/linux/errno.js';
import { NetlinkPorts } from '../../../src/kernel/net/netlink-socket.js';
import * as sock from '../../../src/kernel/syscalls/socket.js';
import * as msg from '../../../src/kernel/syscalls/socket-msg.js';
import type { SysCtx, SysResult } from '../../../src/kernel/syscalls/context.js';
import { FakeProc, FAKE_PROC_BUF, callAs } from '../../util/fake-proc.js';

const BUF = FAKE_PROC_BUF; // 16 mapped pages
const ADDR = BUF; // a sockaddr_nl
const LEN = BUF + 0x40; // a socklen_t
const REQ = BUF + 0x100; // a request
const RX = BUF + 0x1000; // what recvfrom reads


interface NlMsg {
  type: number;
  flags: number;
  seq: number;
  pid: number;
  payload: Uint8Array;
}

/** The messages of one datagram. */
function parse(b: Uint8Array): NlMsg[] {
  const dv = new DataView(b.buffer, b.byteOffset, b.length);
  const out: NlMsg[] = [];
  for (let off = 0; off + 16 <= b.length; ) {
    const len = dv.getUint32(off, true);
    assert.ok(len >= 16 && off + len <= b.length, 'a whole message');
    out.push({ type: dv.getUint16(off + 4, true), flags: dv.getUint16(off + 6, true), seq: dv.getUint32(off + 8, true), pid: dv.getUint32(off + 12, true), payload: b.subarray(off + 16, off + len) });
    off += (len + 3) & ~3;
  }
  return out;
}

/** rtattrs after `skip` bytes of a payload, by type. */
function attrs(payload: Uint8Array, skip: number): Map<number, Uint8Array> {
  const dv = new DataView(payload.buffer, payload.byteOffset, payload.length);
  const m = new Map<number, Uint8Array>();
  for (let off = skip; off + 4 <= payload.length; ) {
    const len = dv.getUint16(off, true);
    m.set(dv.getUint16(off + 2, true), payload.subarray(off + 4, off + len));
    off += (len + 3) & ~3;
  }
  return m;
}

const cstr = (b: Uint8Array | undefined) => (b ? new TextDecoder().decode(b.subarray(0, b.indexOf(0))) : undefined);

describe('kernel/net/netlink: NETLINK_ROUTE sockets', () => {
  let proc: FakeProc;
  let kernel: { netlinkPorts: NetlinkPorts };

  const call = (fn: (c: SysCtx) => SysResult | Promise<SysResult>, ...args: number[]) => callAs(kernel, proc, fn, ...args);
  const put = (addr: number, bytes: Uint8Array) => assert.equal(proc.user.copyOut(addr, bytes), 0);
  const nladdr = (pid: number, groups = 0) => {
    const b = new DataView(new ArrayBuffer(12));
    b.setUint16(0, abi.AF_NETLINK, true);
    b.setInt32(4, pid, true);
    b.setUint32(8, groups, true);
    return new Uint8Array(b.buffer);
  };
  const request = (type: number, flags: number, seq: number, payload: Uint8Array) => {
    const b = new Uint8Array(16 + payload.length);
    const dv = new DataView(b.buffer);
    dv.setUint32(0, b.length, true);
    dv.setUint16(4, type, true);
    dv.setUint16(6, flags, true);
    dv.setUint32(8, seq, true);
    b.set(payload, 16);
    return b;
  };
  const newSocket = async () => (await call(sock.sys_socket, abi.AF_NETLINK, abi.SOCK_RAW | abi.SOCK_CLOEXEC, abi.NETLINK_ROUTE)) as number;
  /** getsockname's port id. */
  const portOf = async (fd: number) => {
    put(LEN, Uint8Array.of(12, 0, 0, 0));
    assert.equal(await call(sock.sys_getsockname, fd, ADDR, LEN), 0);
    assert.equal(proc.user.readI32(LEN), 12);
    return new DataView(proc.mem.u8.slice(ADDR, ADDR + 12).buffer).getInt32(4, true);
  };
  /** Send `req` to the kernel; the datagrams that come back, with the sender's port id of each. */
  const ask = async (fd: number, req: Uint8Array) => {
    put(REQ, req);
    put(ADDR, nladdr(0));
    assert.equal(await call(msg.sys_sendto, fd, REQ, req.length, 0, ADDR, 12), req.length);
    const got: { from: number; msgs: NlMsg[] }[] = [];
    for (;;) {
      put(LEN, Uint8Array.of(12, 0, 0, 0));
      const n = await call(msg.sys_recvfrom, fd, RX, 8192, abi.MSG_DONTWAIT, ADDR, LEN);
      if (n === EAGAIN) return got;
      assert.equal(typeof n, 'number');
      got.push({ from: new DataView(proc.mem.u8.slice(ADDR, ADDR + 12).buffer).getInt32(4, true), msgs: parse(proc.mem.u8.slice(RX, RX + (n as number))) });
    }
  };

  beforeEach(() => {
    kernel = { netlinkPorts: new NetlinkPorts() };
    proc = new FakeProc(null, 42, 16);
  });

  it('socket: SOCK_RAW and SOCK_DGRAM of NETLINK_ROUTE; other types ESOCKTNOSUPPORT, other protocols EPROTONOSUPPORT; no socketpair', async () => {
    assert.ok((await newSocket()) >= 0);
    assert.ok(((await call(sock.sys_socket, abi.AF_NETLINK, abi.SOCK_DGRAM, 0)) as number) >= 0);
    assert.equal(await call(sock.sys_socket, abi.AF_NETLINK, abi.SOCK_STREAM, 0), ESOCKTNOSUPPORT);
    assert.equal(await call(sock.sys_socket, abi.AF_NETLINK, abi.SOCK_RAW, 15), EPROTONOSUPPORT);
    assert.equal(await call(sock.sys_socket, abi.AF_NETLINK, abi.SOCK_RAW, 99), EPROTONOSUPPORT);
    assert.equal(await call(sock.sys_socketpair, abi.AF_NETLINK, abi.SOCK_RAW, 0, BUF), EOPNOTSUPP);
  });

  it('port ids: unbound 0; bind(0) takes the pid, a second socket -4096; an explicit one taken is EADDRINUSE, another once bound EINVAL; close gives it back', async () => {
    const a = await newSocket();
    assert.equal(await portOf(a), 0);
    put(ADDR, nladdr(0));
    assert.equal(await call(sock.sys_bind, a, ADDR, 12), 0);
    assert.equal(await portOf(a), 42);
    const b = await newSocket();
    put(ADDR, nladdr(0));
    assert.equal(await call(sock.sys_bind, b, ADDR, 12), 0);
    assert.equal(await portOf(b), -4096);
    const c = await newSocket();
    put(ADDR, nladdr(42));
    assert.equal(await call(sock.sys_bind, c, ADDR, 12), EADDRINUSE);
    put(ADDR, nladdr(7));
    assert.equal(await call(sock.sys_bind, c, ADDR, 11), EINVAL, 'short address');
    assert.equal(await call(sock.sys_bind, c, ADDR, 12), 0);
    assert.equal(await portOf(c), 7);
    put(ADDR, nladdr(8));
    assert.equal(await call(sock.sys_bind, c, ADDR, 12), EINVAL);
    put(ADDR, Uint8Array.of(abi.AF_UNIX, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0));
    assert.equal(await call(sock.sys_bind, c, ADDR, 12), EINVAL, 'another family');
    await proc.fds.close(a);
    const d = await newSocket();
    put(ADDR, nladdr(42));
    assert.equal(await call(sock.sys_bind, d, ADDR, 12), 0, 'the closed socket gave its port id back');
  });

  it('RTM_GETLINK dump: one RTM_NEWLINK for lo (index 1, loopback, up, IFLA_IFNAME "lo", MTU 65536), then NLMSG_DONE, from the kernel, with our port id and sequence number', async () => {
    const fd = await newSocket();
    const got = await ask(fd, request(abi.RTM_GETLINK, abi.NLM_F_REQUEST | abi.NLM_F_DUMP, 77, Uint8Array.of(abi.AF_PACKET, 0, 0, 0)));
    assert.equal(got.length, 1, 'one datagram');
    assert.equal(got[0].from, 0, 'from the kernel');
    const [link, done] = got[0].msgs;
    assert.equal(got[0].msgs.length, 2);
    assert.equal(link.type, abi.RTM_NEWLINK);
    assert.equal(link.flags, abi.NLM_F_MULTI);
    assert.equal(link.seq, 77);
    assert.equal(link.pid, 42, 'the autobound port id');
    const info = new DataView(link.payload.buffer, link.payload.byteOffset);
    assert.equal(info.getUint16(2, true), abi.ARPHRD_LOOPBACK);
    assert.equal(info.getInt32(4, true), 1);
    assert.equal(info.getUint32(8, true), abi.IFF_UP | abi.IFF_LOOPBACK | abi.IFF_RUNNING | abi.IFF_LOWER_UP);
    const a = attrs(link.payload, abi.IFINFOMSG.size);
    assert.equal(cstr(a.get(abi.IFLA_IFNAME)), 'lo');
    assert.equal(new DataView(a.get(abi.IFLA_MTU)!.slice().buffer).getUint32(0, true), 65536);
    assert.equal(done.type, abi.NLMSG_DONE);
    assert.equal(done.seq, 77);
  });

  it('RTM_GETADDR dump: 127.0.0.1/8 and ::1/128 on index 1, or one family when asked', async () => {
    const fd = await newSocket();
    const all = await ask(fd, request(abi.RTM_GETADDR, abi.NLM_F_REQUEST | abi.NLM_F_DUMP, 1, Uint8Array.of(abi.AF_UNSPEC, 0, 0, 0)));
    const addrs = all[0].msgs.filter((m) => m.type === abi.RTM_NEWADDR);
    assert.equal(all[0].msgs.at(-1)!.type, abi.NLMSG_DONE);
    assert.deepEqual(addrs.map((m) => [m.payload[0], m.payload[1], m.payload[3], new DataView(m.payload.buffer, m.payload.byteOffset).getUint32(4, true)]), [
      [abi.AF_INET, 8, abi.RT_SCOPE_HOST, 1],
      [abi.AF_INET6, 128, abi.RT_SCOPE_HOST, 1],
    ]);
    assert.deepEqual([...attrs(addrs[0].payload, abi.IFADDRMSG.size).get(abi.IFA_LOCAL)!], [127, 0, 0, 1]);
    assert.deepEqual([...attrs(addrs[1].payload, abi.IFADDRMSG.size).get(abi.IFA_ADDRESS)!], [...new Uint8Array(15), 1]);
    const v6 = await ask(fd, request(abi.RTM_GETADDR, abi.NLM_F_REQUEST | abi.NLM_F_DUMP, 2, Uint8Array.of(abi.AF_INET6, 0, 0, 0)));
    assert.deepEqual(v6[0].msgs.map((m) => m.type), [abi.RTM_NEWADDR, abi.NLMSG_DONE]);
    assert.equal(v6[0].msgs[0].payload[0], abi.AF_INET6);
  });

  it('errors as NLMSG_ERROR: RTM_GETLINK of an unknown index ENODEV, RTM_NEWLINK EPERM (no CAP_NET_ADMIN), an unknown RTM_GET* EOPNOTSUPP; NLM_F_ACK acknowledges; non-requests are ignored', async () => {
    const fd = await newSocket();
    const errnoOf = (m: NlMsg) => 0 - new DataView(m.payload.buffer, m.payload.byteOffset).getInt32(0, true);
    const byIndex = (i: number) => {
      const p = new Uint8Array(abi.IFINFOMSG.size);
      new DataView(p.buffer).setInt32(4, i, true);
      return p;
    };
    let got = await ask(fd, request(abi.RTM_GETLINK, abi.NLM_F_REQUEST, 5, byIndex(2)));
    assert.equal(got[0].msgs[0].type, abi.NLMSG_ERROR);
    assert.equal(errnoOf(got[0].msgs[0]), ENODEV.code);
    assert.equal(got[0].msgs[0].seq, 5);
    assert.equal(new DataView(got[0].msgs[0].payload.buffer, got[0].msgs[0].payload.byteOffset).getUint16(4 + 4, true), abi.RTM_GETLINK, 'the request echoed');
    got = await ask(fd, request(abi.RTM_GETLINK, abi.NLM_F_REQUEST | abi.NLM_F_ACK, 6, byIndex(1)));
    assert.deepEqual(got.map((d) => d.msgs.map((m) => m.type)), [[abi.RTM_NEWLINK], [abi.NLMSG_ERROR]]);
    assert.equal(errnoOf(got[1].msgs[0]), 0);
    got = await ask(fd, request(abi.RTM_NEWLINK, abi.NLM_F_REQUEST, 7, byIndex(1)));
    assert.equal(errnoOf(got[0].msgs[0]), EPERM.code);
    got = await ask(fd, request(abi.RTM_GETLINK + 8, abi.NLM_F_REQUEST | abi.NLM_F_DUMP, 8, new Uint8Array(4))); // RTM_GETROUTE
    assert.equal(errnoOf(got[0].msgs[0]), EOPNOTSUPP.code);
    assert.deepEqual(await ask(fd, request(abi.RTM_GETLINK, abi.NLM_F_DUMP, 9, new Uint8Array(4))), [], 'no NLM_F_REQUEST');
    assert.deepEqual(await ask(fd, Uint8Array.of(1, 2, 3)), [], 'shorter than a header');
  });

  it('between sockets: a datagram to another port id arrives from ours; ECONNREFUSED to nobody, EPERM to groups; no listen, accept or shutdown', async () => {
    const a = await newSocket();
    const b = await newSocket();
    put(ADDR, nladdr(0));
    assert.equal(await call(sock.sys_bind, b, ADDR, 12), 0);
    put(REQ, Uint8Array.of(9, 8, 7));
    put(ADDR, nladdr(42));
    assert.equal(await call(msg.sys_sendto, a, REQ, 3, 0, ADDR, 12), 3);
    put(LEN, Uint8Array.of(12, 0, 0, 0));
    assert.equal(await call(msg.sys_recvfrom, b, RX, 100, 0, ADDR, LEN), 3);
    assert.deepEqual([...proc.mem.u8.slice(RX, RX + 3)], [9, 8, 7]);
    assert.equal(new DataView(proc.mem.u8.slice(ADDR, ADDR + 12).buffer).getInt32(4, true), -4096, 'a autobound at its first send');
    put(ADDR, nladdr(1234));
    assert.equal(await call(msg.sys_sendto, a, REQ, 3, 0, ADDR, 12), ECONNREFUSED);
    put(ADDR, nladdr(0, 1));
    assert.equal(await call(msg.sys_sendto, a, REQ, 3, 0, ADDR, 12), EPERM);
    assert.equal(await call(sock.sys_listen, a, 1), EOPNOTSUPP);
    assert.equal(await call(sock.sys_accept, a, 0, 0), EOPNOTSUPP);
    assert.equal(await call(sock.sys_shutdown, a, abi.SHUT_RDWR), EOPNOTSUPP);
  });
});
