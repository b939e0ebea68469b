// The socket calls on AF_INET and AF_INET6 sockets (src/kernel/net's
// InetSocket): socket's checks of type and protocol, and bind, connect,
// getsockname, getpeername and the option levels, decoding the guest's
// sockaddr_in / sockaddr_in6 and handing Endpoints to the socket. socket.ts
// sends calls here when the socket is an Internet one; accept, listen,
// shutdown and the data calls are shared with AF_UNIX.
//
// Contract: connect on a blocking socket waits until the connection is made
// or has failed (signals end the wait with EINTR); a nonblocking one returns
// EINPROGRESS and the guest learns the outcome from SO_ERROR.

import * as abi from '../../linux/abi.js';
import { EINPROGRESS, EINTR, EPROTONOSUPPORT, ESOCKTNOSUPPORT, Errno, isErrno } from '../../linux/errno.js';
import { taskBlocker, waitUntil, Wake } from '../files/blocking.js';
import { decodeBind, decodeInet, encodeInet } from '../net/inet-address.js';
import type { InetSocket } from '../net/inet-socket.js';
import { openHostInetSocket } from '../net/host-inet-socket.js';
import { TcpSocket } from '../net/tcp-socket.js';
import { UdpSocket } from '../net/udp-socket.js';
import { copyInAddress, copyOutAddress } from './socket-addr.js';
import type { SysCtx, SysResult } from './context.js';

/** socket(AF_INET or AF_INET6, type, protocol): the socket, per the sandbox's network mode. */
export function newInetSocket(c: SysCtx, family: number, type: number, protocol: number, flags: number): InetSocket | Errno {
  const want = type === abi.SOCK_STREAM ? abi.IPPROTO_TCP : type === abi.SOCK_DGRAM ? abi.IPPROTO_UDP : -1;
  if (want < 0) return protocol !== 0 ? EPROTONOSUPPORT : ESOCKTNOSUPPORT;
  if (protocol !== 0 && protocol !== want) return EPROTONOSUPPORT;
  const stack = c.kernel.inet;
  if (stack.mode === 'host') return openHostInetSocket(family, type, flags);
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
  const w = await waitUntil(taskBlocker(c.kernel, c.task), [{ queue: s.wq, mask: abi.POLLOUT }], () => !s.connecting, null, true);
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
