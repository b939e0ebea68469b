// The socket calls on AF_NETLINK sockets (src/kernel/net/netlink-socket.ts):
// socket's checks, bind, connect, getsockname, getpeername and send,
// decoding the guest's sockaddr_nl. socket.ts and socket-msg.ts send calls
// here when the socket is a netlink one; receiving, options and poll are
// shared with the other families.

import * as abi from '../../linux/abi.js';
import { Errno, isErrno } from '../../linux/errno.js';
import { decodeNetlinkAddress, encodeNetlinkAddress, NetlinkSocket } from '../net/netlink-socket.js';
import { copyInAddress, copyOutAddress } from './socket-addr.js';
import type { SysCtx, SysResult } from './context.js';

/** socket(AF_NETLINK, type, protocol). */
export function newNetlinkSocket(c: SysCtx, type: number, protocol: number, flags: number): NetlinkSocket | Errno {
  const bad = NetlinkSocket.check(type, protocol);
  return bad ?? new NetlinkSocket(c.kernel.netlinkPorts, c.proc.pid, type, protocol, flags);
}

export function netlinkBind(c: SysCtx, s: NetlinkSocket, addr: number, len: number): SysResult {
  const bytes = copyInAddress(c, addr, len);
  if (isErrno(bytes)) return bytes;
  const a = decodeNetlinkAddress(bytes);
  return isErrno(a) ? a : s.bind(a.portid, a.groups);
}

export function netlinkConnect(c: SysCtx, s: NetlinkSocket, addr: number, len: number): SysResult {
  const bytes = copyInAddress(c, addr, len);
  if (isErrno(bytes)) return bytes;
  if (bytes.length >= 2 && (bytes[0] | (bytes[1] << 8)) === abi.AF_UNSPEC) return s.connect(null);
  const a = decodeNetlinkAddress(bytes);
  return isErrno(a) ? a : s.connect(a);
}

/** getsockname (our port id and groups) or getpeername (the default destination). */
export function netlinkName(c: SysCtx, s: NetlinkSocket, addr: number, lenAddr: number, peer: boolean): SysResult {
  const bytes = peer ? encodeNetlinkAddress(s.dstPortid, s.dstGroups) : encodeNetlinkAddress(s.portid, s.groups);
  return copyOutAddress(c, addr, lenAddr, bytes);
}

/** One send: `name` is the guest's destination bytes, if any (an empty one is none; EINVAL unless a sockaddr_nl). */
export function netlinkSend(s: NetlinkSocket, data: Uint8Array, name: Uint8Array | null): SysResult {
  if (!name || name.length === 0) return s.send(data, null);
  const a = decodeNetlinkAddress(name);
  return isErrno(a) ? a : s.send(data, a);
}
