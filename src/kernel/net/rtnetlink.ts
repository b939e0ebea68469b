// NETLINK_ROUTE's answers (Linux's net/core/rtnetlink.c, the link and
// address parts): what glibc's if_nameindex and getifaddrs, and ip(8), ask
// a netlink socket. The sandbox has one interface, the loopback device of
// inet-stack.ts (lo, index 1, 127.0.0.1/8 and ::1/128), which never changes.
//
// Contract:
// - `answer(request, portid)` takes the bytes of one datagram sent to the
//   kernel and returns the datagrams the sender receives, in order. Each
//   message of the datagram is handled in turn (netlink_rcv_skb): a header
//   shorter than 16 bytes or longer than what is left ends the datagram
//   without a word; messages that are not requests (no NLM_F_REQUEST) and
//   netlink's own types (below NLMSG_MIN_TYPE) are skipped.
// - RTM_GETLINK and RTM_GETADDR with NLM_F_DUMP: one datagram of
//   RTM_NEWLINK / RTM_NEWADDR messages (NLM_F_MULTI) ending with NLMSG_DONE.
//   A dump of addresses keeps to the family asked (AF_INET, AF_INET6; any
//   other family: both). RTM_GETLINK without NLM_F_DUMP names its interface
//   by ifi_index or IFLA_IFNAME: one RTM_NEWLINK, or ENODEV.
// - Every other rtnetlink type: RTM_NEW* / RTM_DEL* / RTM_SET* change the
//   network, which needs CAP_NET_ADMIN the sandbox never has (EPERM); other
//   RTM_GET* are EOPNOTSUPP; types past RTM_MAX, EINVAL. An error is an
//   NLMSG_ERROR carrying -errno and the request's header and payload; with
//   NLM_F_ACK, success is an NLMSG_ERROR carrying 0 and the header alone.
// - Replies carry the request's sequence number and the requester's port id.

import * as abi from '../../linux/abi.js';
import { EINVAL, ENODEV, EOPNOTSUPP, EPERM, Errno } from '../../linux/errno.js';
import { V4_LOOPBACK, V6_LOOPBACK } from './inet-address.js';
import { LOOPBACK_FLAGS, LOOPBACK_INDEX, LOOPBACK_MTU, LOOPBACK_NAME } from './inet-stack.js';

const align4 = (n: number): number => (n + 3) & ~3;

/** One rtattr: its type and payload, padded to 4 bytes. */
function attr(type: number, payload: Uint8Array): Uint8Array {
  const out = new Uint8Array(align4(abi.RTATTR_SIZE + payload.length));
  const dv = new DataView(out.buffer);
  dv.setUint16(0, abi.RTATTR_SIZE + payload.length, true);
  dv.setUint16(2, type, true);
  out.set(payload, abi.RTATTR_SIZE);
  return out;
}

const u32 = (v: number): Uint8Array => {
  const b = new Uint8Array(4);
  new DataView(b.buffer).setUint32(0, v >>> 0, true);
  return b;
};
const cString = (s: string): Uint8Array => new TextEncoder().encode(s + '\0');

/** A whole netlink message: header, then the parts, each padded to 4 bytes. */
function message(type: number, flags: number, seq: number, portid: number, parts: Uint8Array[]): Uint8Array {
  const len = abi.NLMSGHDR.size + parts.reduce((n, p) => n + align4(p.length), 0);
  const out = new Uint8Array(len);
  const dv = new DataView(out.buffer);
  dv.setUint32(abi.NLMSGHDR.len, len, true);
  dv.setUint16(abi.NLMSGHDR.type, type, true);
  dv.setUint16(abi.NLMSGHDR.flags, flags, true);
  dv.setUint32(abi.NLMSGHDR.seq, seq >>> 0, true);
  dv.setUint32(abi.NLMSGHDR.pid, portid >>> 0, true);
  let off = abi.NLMSGHDR.size;
  for (const p of parts) {
    out.set(p, off);
    off += align4(p.length);
  }
  return out;
}

/** The loopback device as RTM_NEWLINK's ifinfomsg and attributes. */
function linkParts(): Uint8Array[] {
  const info = new Uint8Array(abi.IFINFOMSG.size);
  const dv = new DataView(info.buffer);
  dv.setUint8(abi.IFINFOMSG.family, abi.AF_UNSPEC);
  dv.setUint16(abi.IFINFOMSG.type, abi.ARPHRD_LOOPBACK, true);
  dv.setInt32(abi.IFINFOMSG.index, LOOPBACK_INDEX, true);
  dv.setUint32(abi.IFINFOMSG.flags, LOOPBACK_FLAGS | abi.IFF_LOWER_UP, true);
  const noHw = new Uint8Array(6); // lo's hardware and broadcast addresses: 00:00:00:00:00:00
  return [
    info,
    attr(abi.IFLA_IFNAME, cString(LOOPBACK_NAME)),
    attr(abi.IFLA_TXQLEN, u32(1000)),
    attr(abi.IFLA_OPERSTATE, Uint8Array.of(0)), // IF_OPER_UNKNOWN, as lo reports
    attr(abi.IFLA_MTU, u32(LOOPBACK_MTU)),
    attr(abi.IFLA_ADDRESS, noHw),
    attr(abi.IFLA_BROADCAST, noHw),
  ];
}

/** The loopback device's addresses of `family` (AF_INET, AF_INET6) as RTM_NEWADDR's ifaddrmsg and attributes. */
function addressParts(family: number): Uint8Array[] {
  const v4 = family === abi.AF_INET;
  const ip = v4 ? V4_LOOPBACK.subarray(12) : V6_LOOPBACK;
  const head = new Uint8Array(abi.IFADDRMSG.size);
  const dv = new DataView(head.buffer);
  dv.setUint8(abi.IFADDRMSG.family, family);
  dv.setUint8(abi.IFADDRMSG.prefixlen, v4 ? 8 : 128);
  dv.setUint8(abi.IFADDRMSG.flags, abi.IFA_F_PERMANENT);
  dv.setUint8(abi.IFADDRMSG.scope, abi.RT_SCOPE_HOST);
  dv.setUint32(abi.IFADDRMSG.index, LOOPBACK_INDEX, true);
  const parts = [head, attr(abi.IFA_ADDRESS, ip)];
  if (v4) parts.push(attr(abi.IFA_LOCAL, ip), attr(abi.IFA_LABEL, cString(LOOPBACK_NAME)));
  parts.push(attr(abi.IFA_FLAGS, u32(abi.IFA_F_PERMANENT)));
  return parts;
}

/** The IFLA_IFNAME attribute among a request's attributes, if any. */
function ifnameAttr(attrs: Uint8Array): string | null {
  const dv = new DataView(attrs.buffer, attrs.byteOffset, attrs.length);
  for (let off = 0; off + abi.RTATTR_SIZE <= attrs.length; ) {
    const len = dv.getUint16(off, true);
    if (len < abi.RTATTR_SIZE || off + len > attrs.length) break;
    if (dv.getUint16(off + 2, true) === abi.IFLA_IFNAME) {
      const v = attrs.subarray(off + abi.RTATTR_SIZE, off + len);
      const nul = v.indexOf(0);
      return new TextDecoder().decode(nul < 0 ? v : v.subarray(0, nul));
    }
    off += align4(len);
  }
  return null;
}

interface Request {
  type: number;
  flags: number;
  seq: number;
  /** The header and payload, as an error echoes them. */
  bytes: Uint8Array;
  payload: Uint8Array;
}

/** What one request gets: reply messages (a dump ends with NLMSG_DONE), or an errno. */
function handle(req: Request, portid: number): Uint8Array[] | Errno {
  const dump = (req.flags & abi.NLM_F_DUMP) === abi.NLM_F_DUMP;
  const multi = (type: number, parts: Uint8Array[]) => message(type, abi.NLM_F_MULTI, req.seq, portid, parts);
  const done = () => message(abi.NLMSG_DONE, abi.NLM_F_MULTI, req.seq, portid, [u32(0)]);
  if (req.type > abi.RTM_MAX) return EINVAL;
  if (req.type === abi.RTM_GETLINK && dump) return [multi(abi.RTM_NEWLINK, linkParts()), done()];
  if (req.type === abi.RTM_GETLINK) {
    if (req.payload.length < abi.IFINFOMSG.size) return EINVAL;
    const index = new DataView(req.payload.buffer, req.payload.byteOffset).getInt32(abi.IFINFOMSG.index, true);
    const name = ifnameAttr(req.payload.subarray(abi.IFINFOMSG.size));
    const found = index > 0 ? index === LOOPBACK_INDEX : name === LOOPBACK_NAME;
    return found ? [message(abi.RTM_NEWLINK, 0, req.seq, portid, linkParts())] : ENODEV;
  }
  if (req.type === abi.RTM_GETADDR && dump) {
    const family = req.payload.length > 0 ? req.payload[0] : abi.AF_UNSPEC;
    const families = family === abi.AF_INET || family === abi.AF_INET6 ? [family] : [abi.AF_INET, abi.AF_INET6];
    return [...families.map((f) => multi(abi.RTM_NEWADDR, addressParts(f))), done()];
  }
  // RTM_NEW*, RTM_DEL*, RTM_SET* are the types whose low two bits are 0, 1, 3; RTM_GET* are 2.
  return (req.type & 3) === 2 ? EOPNOTSUPP : EPERM;
}

/** NLMSG_ERROR for `req`: -errno (0: an ack) and the request's header, with its payload for an error. */
function errorMessage(req: Request, errno: number, portid: number): Uint8Array {
  const echo = errno === 0 ? req.bytes.subarray(0, abi.NLMSGHDR.size) : req.bytes;
  const head = new Uint8Array(4); // struct nlmsgerr's error
  new DataView(head.buffer).setInt32(0, -errno, true);
  return message(abi.NLMSG_ERROR, errno === 0 ? abi.NLM_F_CAPPED : 0, req.seq, portid, [head, echo]);
}

/** The datagrams a NETLINK_ROUTE socket with port id `portid` receives for the datagram `data` it sent (see the contract). */
export function answer(data: Uint8Array, portid: number): Uint8Array[] {
  const out: Uint8Array[] = [];
  const dv = new DataView(data.buffer, data.byteOffset, data.length);
  for (let off = 0; off + abi.NLMSGHDR.size <= data.length; ) {
    const len = dv.getUint32(off + abi.NLMSGHDR.len, true);
    if (len < abi.NLMSGHDR.size || len > data.length - off) break;
    const req: Request = {
      type: dv.getUint16(off + abi.NLMSGHDR.type, true),
      flags: dv.getUint16(off + abi.NLMSGHDR.flags, true),
      seq: dv.getUint32(off + abi.NLMSGHDR.seq, true),
      bytes: data.subarray(off, off + len),
      payload: data.subarray(off + abi.NLMSGHDR.size, off + len),
    };
    off += align4(len);
    if (!(req.flags & abi.NLM_F_REQUEST) || req.type < abi.NLMSG_MIN_TYPE) continue;
    const r = handle(req, portid);
    if (r instanceof Errno) out.push(errorMessage(req, r.code, portid));
    else {
      out.push(concat(r));
      if (req.flags & abi.NLM_F_ACK && !(req.flags & abi.NLM_F_DUMP)) out.push(errorMessage(req, 0, portid));
    }
  }
  return out;
}

function concat(parts: Uint8Array[]): Uint8Array {
  const out = new Uint8Array(parts.reduce((n, p) => n + p.length, 0));
  let off = 0;
  for (const p of parts) {
    out.set(p, off);
    off += p.length;
  }
  return out;
}
