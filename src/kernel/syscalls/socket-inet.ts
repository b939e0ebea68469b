// The socket calls on AF_INET and AF_INET6 sockets (src/kernel/net's
// InetSocket): socket's checks of type and protocol, and bind, connect,
// getsockname, getpeername and the option levels, decoding the guest's
// sockaddr_in / sockaddr_in6 and handing Endpoints to the socket. socket.ts
// sends calls here when the socket is an Internet one; accept, listen,
// shutdown and the data calls are shared with AF_UNIX.
//
// Contract: connect on a blocking socket waits until the connection is made
// or has failed (signals end the wait with EINTR; SO_SNDTIMEO with
// EINPROGRESS); a nonblocking one returns EINPROGRESS and the guest learns
// the outcome from SO_ERROR.

import * as abi from '../../linux/abi.js';
import { EINPROGRESS, EINTR, ENODEV, EPROTONOSUPPORT, ESOCKTNOSUPPORT, Errno, isErrno } from '../../linux/errno.js';
import { taskBlocker, waitUntil, Wake } from '../files/blocking.js';
import { decodeBind, decodeInet, encodeInet, V4_LOOPBACK } from '../net/inet-address.js';
import { LOOPBACK_FLAGS, LOOPBACK_INDEX, LOOPBACK_MTU, LOOPBACK_NAME } from '../net/inet-stack.js';
import type { InetSocket } from '../net/inet-socket.js';
import { openHostInetSocket } from '../net/host-inet-socket.js';
import { TcpSocket } from '../net/tcp-socket.js';
import { UdpSocket } from '../net/udp-socket.js';
import { copyInAddress, copyOutAddress } from './socket-addr.js';
import { i32 } from '../net/options.js';
import type { SysCtx, SysResult } from './context.js';

/** socket(AF_INET or AF_INET6, type, protocol): the socket, per the sandbox's network mode. */
export function newInetSocket(c: SysCtx, family: number, type: number, protocol: number, flags: number): InetSocket | Errno {
  const want = type === abi.SOCK_STREAM ? abi.IPPROTO_TCP : type === abi.SOCK_DGRAM ? abi.IPPROTO_UDP : -1;
  if (want < 0) return protocol !== 0 ? EPROTONOSUPPORT : ESOCKTNOSUPPORT;
  if (protocol !== 0 && protocol !== want) return EPROTONOSUPPORT;
  const stack = c.kernel.inet;
  if (stack.mode === 'host') return openHostInetSocket(stack.poller, family, type, flags);
  return type === abi.SOCK_STREAM ? new TcpSocket(stack, family, flags) : new UdpSocket(stack, family, flags);
}

export function inetBind(c: SysCtx, s: InetSocket, addr: number, len: number): SysResult {
  const bytes = copyInAddress(c, addr, len);
  if (isErrno(bytes)) return bytes;
  const ep = decodeBind(bytes, s.family);
  if (isErrno(ep)) return ep;
  return s.bind(ep);
}

export async function inetConnect(c: SysCtx, s: InetSocket, addr: number, len: number): Promise<SysResult> {
  const bytes = copyInAddress(c, addr, len);
  if (isErrno(bytes)) return bytes;
  const ep = decodeInet(bytes, s.family);
  if (isErrno(ep)) return ep;
  const r = s.connect(ep === 'unspec' ? null : ep);
  if (r !== EINPROGRESS || s.nonblocking) return r;
  // SO_SNDTIMEO bounds the wait: then the connection goes on, as after a nonblocking connect.
  const limit = s.waitLimitMs('snd');
  const w = await waitUntil(taskBlocker(c.kernel, c.task), [{ queue: s.wq, mask: abi.POLLOUT }], () => !s.connecting, limit === null ? null : performance.now() + limit, true);
  if (w === Wake.Timeout) return EINPROGRESS;
  if (w !== Wake.Ready) return EINTR;
  return s.finishConnect();
}

export function inetName(c: SysCtx, s: InetSocket, addr: number, lenAddr: number, peer: boolean): SysResult {
  const ep = peer ? s.peerName() : s.name();
  if (isErrno(ep)) return ep;
  return copyOutAddress(c, addr, lenAddr, encodeInet(ep, s.family));
}

/** The peer's address as accept reports it. */
export function inetPeerBytes(s: InetSocket): Uint8Array {
  const ep = s.peerName();
  return isErrno(ep) ? new Uint8Array(0) : encodeInet(ep, s.family);
}


/**
 * ioctl on a socket of any family: SIOCOUTQ (`unsent`: the socket's count),
 * and the interface ioctls (SIOCGIFCONF, SIOCGIFINDEX, SIOCGIFNAME,
 * SIOCGIFFLAGS, SIOCGIFADDR, SIOCGIFMTU), which know only the loopback
 * device (glibc asks them on whatever socket it opens, AF_UNIX first).
 * null: not a socket ioctl (the caller goes on to ENOTTY).
 */
export function socketIoctl(c: SysCtx, unsent: () => number | Errno, cmd: number, arg: number): SysResult | null {
  switch (cmd) {
    case abi.SIOCOUTQ: {
      const n = unsent();
      return isErrno(n) ? n : c.user.writeU32(arg, n);
    }
    case abi.SIOCGIFCONF:
      return ifconf(c, arg);
    case abi.SIOCGIFINDEX:
    case abi.SIOCGIFNAME:
    case abi.SIOCGIFFLAGS:
    case abi.SIOCGIFADDR:
    case abi.SIOCGIFMTU:
      return ifreq(c, cmd, arg);
  }
  return null;
}

/** struct ifreq bytes naming `lo` (name, then the union's first bytes). */
function loRequest(union: Uint8Array): Uint8Array {
  const out = new Uint8Array(abi.IFREQ.size);
  out.set(new TextEncoder().encode(LOOPBACK_NAME), abi.IFREQ.name);
  out.set(union, abi.IFREQ.union);
  return out;
}

const loAddress = () => encodeInet({ ip: V4_LOOPBACK, port: 0 }, abi.AF_INET);

/** SIOCGIFCONF: one ifreq per interface with an IPv4 address (lo); a null buffer asks for the length. */
function ifconf(c: SysCtx, arg: number): SysResult {
  const hdr = c.user.copyIn(arg, abi.IFCONF.size);
  if (isErrno(hdr)) return hdr;
  const dv = new DataView(hdr.buffer, hdr.byteOffset, hdr.length);
  const room = dv.getInt32(abi.IFCONF.len, true);
  const buf = Number(dv.getBigUint64(abi.IFCONF.buf, true));
  let len: number = abi.IFREQ.size;
  if (buf !== 0) {
    if (room < abi.IFREQ.size) len = 0;
    else {
      const w = c.user.copyOut(buf, loRequest(loAddress()));
      if (isErrno(w)) return w;
    }
  }
  return c.user.writeU32(arg + abi.IFCONF.len, len);
}

/** The SIOCGIF* calls that take an ifreq naming an interface (or, SIOCGIFNAME, its index). */
function ifreq(c: SysCtx, cmd: number, arg: number): SysResult {
  const req = c.user.copyIn(arg, abi.IFREQ.size);
  if (isErrno(req)) return req;
  const dv = new DataView(req.buffer, req.byteOffset, req.length);
  if (cmd === abi.SIOCGIFNAME) {
    if (dv.getInt32(abi.IFREQ.union, true) !== LOOPBACK_INDEX) return ENODEV;
    return c.user.copyOut(arg, loRequest(i32(LOOPBACK_INDEX)));
  }
  const nul = req.indexOf(0);
  const name = new TextDecoder().decode(req.subarray(0, nul < 0 || nul > 16 ? 16 : nul));
  if (name !== LOOPBACK_NAME) return ENODEV;
  const value = cmd === abi.SIOCGIFINDEX ? i32(LOOPBACK_INDEX) : cmd === abi.SIOCGIFFLAGS ? i32(LOOPBACK_FLAGS) : cmd === abi.SIOCGIFMTU ? i32(LOOPBACK_MTU) : loAddress();
  return c.user.copyOut(arg, loRequest(value));
}
