// Host Internet sockets: with --network=host the guest's AF_INET/AF_INET6
// sockets become these, opened and driven by the sandbox (src/kernel/net/
// host-inet-socket.ts); with --network=sandbox they carry the guest's
// outside traffic and published ports (src/kernel/net/nat.ts, published.ts),
// and the launcher opens -p's listeners with them (src/main/network.ts). Kept apart from sockets.ts (the sandbox's own unix
// sockets) so that confinement can tell the two uses apart.
//
// Every socket is made SOCK_NONBLOCK and SOCK_CLOEXEC: a call here never
// blocks the kernel's thread, and every send carries MSG_NOSIGNAL (the
// guest's SIGPIPE is the guest kernel's business, never the host's).
// Addresses and option values are passed as the bytes the guest gave: Linux's
// sockaddr_in/sockaddr_in6, SOL_SOCKET/IPPROTO_* numbers and MSG_* flags are
// the same on x86_64, arm64 and riscv64. Results follow the folder's
// convention: a non-negative value or a negative errno.

import { O_CLOEXEC, O_NONBLOCK } from './files.js';
import { bindLazily, check, negErrno, type Fn } from './libc.js';

const MSG_NOSIGNAL = 0x4000;
const MSG_DONTWAIT = 0x40;
const FIONREAD = 0x541b;
const SIOCOUTQ = 0x5411;

interface InetLib {
  socket: Fn;
  bind: Fn;
  listen: Fn;
  accept4: Fn;
  connect: Fn;
  sendto: Fn;
  recvfrom: Fn;
  getsockname: Fn;
  getpeername: Fn;
  setsockopt: Fn;
  getsockopt: Fn;
  shutdown: Fn;
  ioctl: Fn;
  close: Fn;
}

const lib = bindLazily(
  (c): InetLib =>
    ({
      socket: c.func('int socket(int, int, int)'),
      bind: c.func('int bind(int, const void *, uint32_t)'),
      listen: c.func('int listen(int, int)'),
      accept4: c.func('int accept4(int, void *, _Inout_ uint32_t *, int)'),
      connect: c.func('int connect(int, const void *, uint32_t)'),
      sendto: c.func('long sendto(int, const void *, size_t, int, const void *, uint32_t)'),
      recvfrom: c.func('long recvfrom(int, void *, size_t, int, void *, _Inout_ uint32_t *)'),
      getsockname: c.func('int getsockname(int, void *, _Inout_ uint32_t *)'),
      getpeername: c.func('int getpeername(int, void *, _Inout_ uint32_t *)'),
      setsockopt: c.func('int setsockopt(int, int, int, const void *, uint32_t)'),
      getsockopt: c.func('int getsockopt(int, int, int, void *, _Inout_ uint32_t *)'),
      shutdown: c.func('int shutdown(int, int)'),
      ioctl: c.func('int ioctl(int, unsigned long, _Out_ int *)'),
      close: c.func('int close(int)'),
    }) as unknown as InetLib,
);

/** A new nonblocking, close-on-exec socket of `family` and `type` (SOCK_STREAM/SOCK_DGRAM). */
export function inetSocket(family: number, type: number): number {
  return check(lib().socket(family, type | O_NONBLOCK | O_CLOEXEC, 0));
}

export function inetBind(fd: number, addr: Uint8Array): number {
  return check(lib().bind(fd, addr, addr.length));
}

export function inetListen(fd: number, backlog: number): number {
  return check(lib().listen(fd, backlog));
}

/** accept4 of a nonblocking, close-on-exec connection: its fd, or a negative errno. */
export function inetAccept(fd: number): number {
  return check(lib().accept4(fd, null, [0], O_NONBLOCK | O_CLOEXEC));
}

/** connect(2) (nonblocking: -EINPROGRESS while the connection is made). */
export function inetConnect(fd: number, addr: Uint8Array): number {
  return check(lib().connect(fd, addr, addr.length));
}

/** sendto(2), never blocking and never raising SIGPIPE; `to` null: the connected peer. */
export function inetSend(fd: number, data: Uint8Array, flags: number, to: Uint8Array | null): number {
  const r = Number(lib().sendto(fd, data, data.length, flags | MSG_NOSIGNAL | MSG_DONTWAIT, to, to ? to.length : 0));
  return r < 0 ? negErrno() : r;
}

/** recvfrom(2) into a buffer of `len`, never blocking: the count (with MSG_TRUNC, a datagram's whole size) and the sender's address bytes. */
export function inetRecv(fd: number, len: number, flags: number): { n: number; data: Buffer; from: Buffer } | number {
  const data = Buffer.alloc(len);
  const from = Buffer.alloc(128);
  const alen = [from.length];
  const r = Number(lib().recvfrom(fd, data, len, flags | MSG_DONTWAIT, from, alen));
  if (r < 0) return negErrno();
  return { n: r, data, from: from.subarray(0, Math.min(alen[0], from.length)) };
}

/** getsockname / getpeername: the address bytes, or a negative errno. */
export function inetName(fd: number, peer: boolean): Buffer | number {
  const addr = Buffer.alloc(128);
  const alen = [addr.length];
  const r = peer ? lib().getpeername(fd, addr, alen) : lib().getsockname(fd, addr, alen);
  return r < 0 ? negErrno() : addr.subarray(0, Math.min(alen[0], addr.length));
}

export function inetSetsockopt(fd: number, level: number, name: number, value: Uint8Array): number {
  return check(lib().setsockopt(fd, level, name, value, value.length));
}

/** getsockopt(2) with room for `room` bytes: the value's bytes, or a negative errno. */
export function inetGetsockopt(fd: number, level: number, name: number, room: number): Buffer | number {
  const v = Buffer.alloc(room);
  const len = [room];
  const r = lib().getsockopt(fd, level, name, v, len);
  return r < 0 ? negErrno() : v.subarray(0, Math.min(len[0], room));
}

export function inetShutdown(fd: number, how: number): number {
  return check(lib().shutdown(fd, how));
}

/** Bytes waiting to be read (FIONREAD), or a negative errno. */
export function inetInq(fd: number): number {
  return intIoctl(fd, FIONREAD);
}

/** Bytes not yet acknowledged by the peer (SIOCOUTQ), or a negative errno. */
export function inetOutq(fd: number): number {
  return intIoctl(fd, SIOCOUTQ);
}

function intIoctl(fd: number, cmd: number): number {
  const v = [0];
  const r = lib().ioctl(fd, cmd, v);
  return r < 0 ? negErrno() : v[0];
}

export function inetClose(fd: number): number {
  return check(lib().close(fd));
}
