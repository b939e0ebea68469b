// Moving data through sockets: sendto, recvfrom, sendmsg, recvmsg, sendmmsg,
// recvmmsg (read, write, readv and writev reach the same socket operations
// through read-write.ts).
//
// Contract:
// - A send waits for room unless the socket is O_NONBLOCK or the call says
//   MSG_DONTWAIT; SO_SNDTIMEO bounds the wait (EAGAIN, or the count so far),
//   as SO_RCVTIMEO bounds a receive's. A stream send goes on until every byte is queued; a signal
//   or an error after some bytes returns that count. EPIPE raises SIGPIPE
//   unless MSG_NOSIGNAL (and only when nothing was sent).
// - A receive waits for data, end of file or an error the same way, into the
//   guest's iovecs, which are checked writable before anything is taken (a
//   bad buffer is EFAULT and the data stays queued). MSG_PEEK leaves it
//   queued; MSG_WAITALL on a stream waits for the whole length (or end of
//   file, a signal, passed files); MSG_TRUNC returns a datagram's whole length.
// - Control messages: SCM_RIGHTS files are taken from the sender's fds when
//   it sends and installed in the receiver's table when it receives
//   (MSG_CMSG_CLOEXEC sets close-on-exec); those that do not fit the
//   receiver's buffer are closed and MSG_CTRUNC set. SCM_CREDENTIALS comes
//   first, on every message to a socket with SO_PASSCRED; a sender may claim
//   other credentials only as Linux allows (its own pid, one of its uids and
//   gids, or CAP_SYS_ADMIN / CAP_SETUID / CAP_SETGID), else EPERM.

import * as abi from '../../linux/abi.js';
import { EAFNOSUPPORT, EAGAIN, EBADF, EFAULT, EINTR, EINVAL, EISCONN, ENOBUFS, EOPNOTSUPP, EPERM, EPIPE, Errno, isErrno } from '../../linux/errno.js';
import type { File } from '../files/file.js';
import { blockingOp, taskBlocker, waitUntil, Wake, type WaitSource } from '../files/blocking.js';
import { encodeUnixAddress, decodeUnixAddress } from '../net/address.js';
import { ControlWriter, parseControl, ucredBytes, type ParsedControl } from '../net/control.js';
import type { Received } from '../net/message-queue.js';
import type { UCred } from '../net/names.js';
import { UnixSocket } from '../net/unix-socket.js';
import { InetSocket } from '../net/inet-socket.js';
import { NetlinkSocket } from '../net/netlink-socket.js';
import { netlinkSend } from './socket-netlink.js';
import { decodeInet, type Endpoint } from '../net/inet-address.js';
import type { UnixAddress } from '../net/address.js';
import type { IoVec } from '../usercopy.js';
import { PAGE_W } from '../../vcpu/memory.js';
import { hasCap } from '../vfs/perm.js';
import { msgCredOf, pathStart, socketOf, type Socket } from './socket.js';
import { copyInAddress, copyOutAddress } from './socket-addr.js';
import type { SysCtx, SysResult } from './context.js';

const RECV_FLAGS = abi.MSG_PEEK | abi.MSG_DONTWAIT | abi.MSG_WAITALL | abi.MSG_TRUNC | abi.MSG_CMSG_CLOEXEC | abi.MSG_WAITFORONE | abi.MSG_OOB;
/** optmem_max: the most control bytes a sendmsg may pass (ENOBUFS). */
const OPTMEM_MAX = 131072;
const CAP_SETGID = 6;
const CAP_SETUID = 7;
const CAP_SYS_ADMIN = 21;

interface MsgHdr {
  name: number;
  namelen: number;
  iov: number;
  iovlen: number;
  control: number;
  controllen: number;
}

function readMsgHdr(c: SysCtx, addr: number): MsgHdr | Errno {
  const b = c.user.copyIn(addr, abi.MSGHDR.size);
  if (isErrno(b)) return b;
  const dv = new DataView(b.buffer, b.byteOffset, b.length);
  const u64 = (off: number) => Number(dv.getBigUint64(off, true));
  const iovlen = u64(abi.MSGHDR.iovlen);
  return {
    name: u64(abi.MSGHDR.name),
    namelen: dv.getInt32(abi.MSGHDR.namelen, true),
    iov: u64(abi.MSGHDR.iov),
    iovlen: iovlen > abi.UIO_MAXIOV ? -1 : iovlen,
    control: u64(abi.MSGHDR.control),
    controllen: u64(abi.MSGHDR.controllen),
  };
}

// ---- sending ----

export function sys_sendto(c: SysCtx): Promise<SysResult> | SysResult {
  const s = socketOf(c, c.i32(0));
  if (isErrno(s)) return s;
  const data = c.user.copyIn(c.u(1), Math.min(c.u(2), abi.MAX_RW_COUNT));
  if (isErrno(data)) return data;
  let name: Uint8Array | null = null;
  if (c.u(4) !== 0) {
    const n = copyInAddress(c, c.u(4), c.i32(5));
    if (isErrno(n)) return n;
    name = n;
  }
  return send(c, s, data, c.i32(3), name, null);
}

export async function sys_sendmsg(c: SysCtx): Promise<SysResult> {
  const s = socketOf(c, c.i32(0));
  if (isErrno(s)) return s;
  return sendMsg(c, s, c.u(1), c.i32(2));
}

export async function sys_sendmmsg(c: SysCtx): Promise<SysResult> {
  const s = socketOf(c, c.i32(0));
  if (isErrno(s)) return s;
  const vec = c.u(1);
  const vlen = Math.min(c.u32(2), abi.UIO_MAXIOV);
  const flags = c.i32(3);
  let i = 0;
  for (; i < vlen; i++) {
    const at = vec + i * abi.MMSGHDR.size;
    const r = await sendMsg(c, s, at, flags);
    if (isErrno(r)) return i > 0 ? i : r;
    const w = c.user.writeU32(at + abi.MMSGHDR.len, Number(r));
    if (isErrno(w)) return i > 0 ? i : w;
  }
  return i;
}

async function sendMsg(c: SysCtx, s: Socket, at: number, flags: number): Promise<SysResult> {
  const h = readMsgHdr(c, at);
  if (isErrno(h)) return h;
  if (h.iovlen < 0) return EINVAL;
  const iov = c.user.readIovecs(h.iov, h.iovlen);
  if (isErrno(iov)) return iov;
  const parts: Uint8Array[] = [];
  for (const v of iov) {
    const d = c.user.copyIn(v.base, v.len);
    if (isErrno(d)) return d;
    parts.push(d);
  }
  let name: Uint8Array | null = null;
  if (h.name !== 0 && h.namelen !== 0) {
    const n = copyInAddress(c, h.name, h.namelen);
    if (isErrno(n)) return n;
    name = n;
  }
  let ctl: ParsedControl | null = null;
  if (h.controllen > 0) {
    if (h.controllen > OPTMEM_MAX) return ENOBUFS;
    const bytes = c.user.copyIn(h.control, h.controllen);
    if (isErrno(bytes)) return bytes;
    const p = parseControl(bytes);
    if (isErrno(p)) return p;
    ctl = p;
  }
  const data = Buffer.concat(parts);
  return send(c, s, new Uint8Array(data.buffer, data.byteOffset, data.length), flags, name, ctl);
}

/** The credentials a message carries: the sender's own, or those it claims where allowed. */
function messageCred(c: SysCtx, claimed: UCred | null): UCred | Errno {
  if (!claimed) return msgCredOf(c);
  const cr = c.proc.creds;
  if (claimed.pid !== c.proc.pid && !hasCap(cr, CAP_SYS_ADMIN)) return EPERM;
  if (![cr.ruid, cr.euid, cr.suid].includes(claimed.uid) && !hasCap(cr, CAP_SETUID)) return EPERM;
  if (![cr.rgid, cr.egid, cr.sgid].includes(claimed.gid) && !hasCap(cr, CAP_SETGID)) return EPERM;
  return claimed;
}

/** One send of `data` (see the contract); `name` is the guest's destination bytes, if any. */
async function send(c: SysCtx, s: Socket, data: Uint8Array, flags: number, name: Uint8Array | null, ctl: ParsedControl | null): Promise<SysResult> {
  if (flags & abi.MSG_OOB) return EOPNOTSUPP;
  if (s instanceof NetlinkSocket) return netlinkSend(s, data, name);
  if (s instanceof InetSocket) return sendInet(c, s, data, flags, name);
  let target: UnixSocket | null = null;
  if (name && name.length > 0 && s.type === abi.SOCK_STREAM) return s.state === 'connected' ? EISCONN : EOPNOTSUPP;
  if (name && name.length > 0 && s.type === abi.SOCK_DGRAM) {
    const addr = decodeUnixAddress(name);
    if (isErrno(addr)) return addr;
    if (addr === 'auto') return EINVAL;
    const t = await c.kernel.unixNames.lookup(pathStart(c), addr, s.type);
    if (isErrno(t)) return t;
    target = t;
  }
  const cred = messageCred(c, ctl?.cred ?? null);
  if (isErrno(cred)) return cred;
  const rights: File[] = [];
  for (const fd of ctl?.fds ?? []) {
    const f = c.proc.fds.get(fd);
    if (isErrno(f)) {
      for (const r of rights) void r.unref();
      return EBADF;
    }
    rights.push(f.ref());
  }
  const x = { rights: rights.length ? rights : undefined, cred, to: target };
  const sources: WaitSource[] = target ? [{ queue: target.wq, mask: abi.POLLIN | abi.POLLOUT }] : [];
  const r = await sendLoop(c, s, data, flags, (d) => s.send(d, x), () => s.canSend(x.to), sources);
  if (x.rights) for (const f of x.rights) void f.unref();
  return r;
}

/** A send on an AF_INET/AF_INET6 socket: a stream ignores the destination (as TCP does), a datagram decodes it. */
function sendInet(c: SysCtx, s: InetSocket, data: Uint8Array, flags: number, name: Uint8Array | null): Promise<SysResult> | SysResult {
  let to: Endpoint | null = null;
  if (name && name.length > 0 && s.type === abi.SOCK_DGRAM) {
    const ep = decodeInet(name, s.family);
    if (isErrno(ep)) return ep;
    if (ep === 'unspec') return EAFNOSUPPORT;
    to = ep;
  }
  return sendLoop(c, s, data, flags, (d) => s.send(d, { to }), () => s.canSend(), []);
}

/**
 * The send loop of every socket (see the contract): `once` sends what it can
 * of the bytes it is given, `canSend` says whether it would get past EAGAIN;
 * `more` are queues to wait on besides the socket's own.
 */
async function sendLoop(c: SysCtx, s: Socket, data: Uint8Array, flags: number, once: (d: Uint8Array) => number | Errno, canSend: () => boolean, more: WaitSource[]): Promise<SysResult> {
  const nonblocking = s.nonblocking || (flags & abi.MSG_DONTWAIT) !== 0;
  const b = taskBlocker(c.kernel, c.task);
  const sources: WaitSource[] = [{ queue: s.wq, mask: abi.POLLOUT }, ...more];
  const ready = () => canSend() || (s.pollEvents() & (abi.POLLHUP | abi.POLLERR)) !== 0;
  const limit = s.waitLimitMs('snd');
  const deadline = limit === null ? null : performance.now() + limit;
  let sent = 0;
  let err: Errno | null = null;
  for (;;) {
    const r = once(data.subarray(sent));
    if (!isErrno(r)) {
      sent += r;
      if (sent >= data.length || s.type !== abi.SOCK_STREAM) break;
      continue;
    }
    if (r !== EAGAIN || nonblocking) {
      err = r;
      break;
    }
    const w = await waitUntil(b, sources, ready, deadline);
    if (w !== Wake.Ready) {
      err = w === Wake.Timeout ? EAGAIN : EINTR;
      break;
    }
  }
  if (sent > 0 || !err) return sent;
  if (err === EPIPE && !(flags & abi.MSG_NOSIGNAL)) b.sigpipe();
  return err;
}

// ---- receiving ----

export async function sys_recvfrom(c: SysCtx): Promise<SysResult> {
  const s = socketOf(c, c.i32(0));
  if (isErrno(s)) return s;
  const flags = c.i32(3);
  const got = await recv(c, s, [{ base: c.u(1), len: Math.min(c.u(2), abi.MAX_RW_COUNT) }], flags);
  if (isErrno(got)) return got;
  for (const f of got.r.rights) void f.unref();
  if (c.u(4) !== 0) {
    const w = copyOutAddress(c, c.u(4), c.u(5), senderName(got.r));
    if (isErrno(w)) return w;
  }
  return got.ret;
}

export async function sys_recvmsg(c: SysCtx): Promise<SysResult> {
  const s = socketOf(c, c.i32(0));
  if (isErrno(s)) return s;
  return recvMsg(c, s, c.u(1), c.i32(2));
}

export async function sys_recvmmsg(c: SysCtx): Promise<SysResult> {
  const s = socketOf(c, c.i32(0));
  if (isErrno(s)) return s;
  const vec = c.u(1);
  const vlen = Math.min(c.u32(2), abi.UIO_MAXIOV);
  let flags = c.i32(3);
  let deadline: number | null = null;
  if (c.u(4) !== 0) {
    const ts = c.user.copyIn(c.u(4), 16);
    if (isErrno(ts)) return ts;
    const dv = new DataView(ts.buffer, ts.byteOffset, 16);
    const sec = Number(dv.getBigInt64(0, true));
    const nsec = Number(dv.getBigInt64(8, true));
    if (sec < 0 || nsec < 0 || nsec >= 1e9) return EINVAL;
    deadline = performance.now() + sec * 1000 + nsec / 1e6;
  }
  let i = 0;
  for (; i < vlen; i++) {
    const at = vec + i * abi.MMSGHDR.size;
    const r = await recvMsg(c, s, at, flags);
    if (isErrno(r)) return i > 0 ? i : r;
    const w = c.user.writeU32(at + abi.MMSGHDR.len, Number(r));
    if (isErrno(w)) return i > 0 ? i : w;
    if (flags & abi.MSG_WAITFORONE) flags |= abi.MSG_DONTWAIT;
    // Linux looks at the timeout only between messages.
    if (deadline !== null && performance.now() >= deadline) return i + 1;
  }
  return i;
}

/** The sender's address as recvfrom/recvmsg report it: nothing for an unnamed one (or a stream's bytes, for TCP). */
function senderName(r: Received<unknown>): Uint8Array {
  const from = r.from as UnixAddress | Uint8Array | null;
  if (from instanceof Uint8Array) return from;
  return from && from.kind !== 'unnamed' ? encodeUnixAddress(from) : new Uint8Array(0);
}

async function recvMsg(c: SysCtx, s: Socket, at: number, flags: number): Promise<SysResult> {
  const h = readMsgHdr(c, at);
  if (isErrno(h)) return h;
  if (h.iovlen < 0 || h.namelen < 0) return EINVAL;
  const iov = c.user.readIovecs(h.iov, h.iovlen);
  if (isErrno(iov)) return iov;
  const got = await recv(c, s, iov, flags);
  if (isErrno(got)) return got;
  const { r } = got;
  // Control messages: credentials first, then the files that fit.
  const cw = new ControlWriter(h.control !== 0 ? Math.min(h.controllen, 0x7fffffff) : 0);
  if (s instanceof UnixSocket && s.opts.passcred) cw.put(abi.SOL_SOCKET, abi.SCM_CREDENTIALS, ucredBytes(r.cred ?? { pid: 0, uid: 65534, gid: 65534 }));
  if (r.rights.length > 0) {
    const fit = Math.min(cw.fdsThatFit(), r.rights.length);
    const fds: number[] = [];
    let i = 0;
    for (; i < fit; i++) {
      const fd = c.proc.fds.install(r.rights[i], (flags & abi.MSG_CMSG_CLOEXEC) !== 0);
      if (isErrno(fd)) {
        i++; // install released that one
        break;
      }
      fds.push(fd);
    }
    for (; i < r.rights.length; i++) void r.rights[i].unref();
    if (fds.length > 0) {
      const bytes = new Uint8Array(fds.length * 4);
      const dv = new DataView(bytes.buffer);
      fds.forEach((fd, k) => dv.setInt32(4 * k, fd, true));
      cw.put(abi.SOL_SOCKET, abi.SCM_RIGHTS, bytes);
    }
    if (fds.length < r.rights.length) cw.truncated = true;
  }
  let msgFlags = got.msgFlags;
  if (cw.truncated) msgFlags |= abi.MSG_CTRUNC;
  if (cw.bytes.length > 0) {
    const w = c.user.copyOut(h.control, cw.bytes);
    if (isErrno(w)) return w;
  }
  if (h.name !== 0) {
    const room = Math.min(h.namelen, 128);
    const name = senderName(r);
    const n = Math.min(room, name.length);
    if (n > 0 && isErrno(c.user.copyOut(h.name, name.subarray(0, n)))) return EFAULT;
    if (isErrno(c.user.writeU32(at + abi.MSGHDR.namelen, name.length))) return EFAULT;
  }
  if (isErrno(c.user.writeU64(at + abi.MSGHDR.controllen, cw.bytes.length))) return EFAULT;
  if (isErrno(c.user.writeU32(at + abi.MSGHDR.flags, msgFlags))) return EFAULT;
  return got.ret;
}

interface Got {
  r: Received<unknown>;
  /** The call's return value. */
  ret: number;
  msgFlags: number;
}

/** One receive into `iov` (see the contract). */
async function recv(c: SysCtx, s: Socket, iov: IoVec[], flags: number): Promise<Got | Errno> {
  if (flags & ~RECV_FLAGS) return EINVAL;
  if (flags & abi.MSG_OOB) return EOPNOTSUPP;
  let total = 0;
  for (const v of iov) {
    if (v.len > 0 && !c.user.mem.accessible(v.base, v.len, PAGE_W)) return EFAULT;
    total = Math.min(total + v.len, abi.MAX_RW_COUNT);
  }
  const peek = (flags & abi.MSG_PEEK) !== 0;
  const nonblocking = s.nonblocking || (flags & abi.MSG_DONTWAIT) !== 0;
  const b = taskBlocker(c.kernel, c.task);
  const sources = [{ queue: s.wq, mask: abi.POLLIN }];
  const ready = () => (s.pollEvents() & (abi.POLLIN | abi.POLLHUP | abi.POLLERR)) !== 0;
  const timeout = s.waitLimitMs('rcv');
  const once = (len: number) => blockingOp<Received<unknown>>(b, nonblocking, sources, ready, () => s.recv(len, peek), timeout);
  const first = await once(total);
  if (isErrno(first)) return first;
  let r = first;
  if (flags & abi.MSG_WAITALL && s.type === abi.SOCK_STREAM && !peek && !nonblocking) {
    const parts = [r.data];
    let got = r.data.length;
    while (got < total && r.rights.length === 0) {
      const more = await once(total - got);
      if (isErrno(more) || more.data.length === 0) break;
      parts.push(more.data);
      got += more.data.length;
      r.rights.push(...more.rights);
    }
    const all = Buffer.concat(parts);
    r = { ...r, data: new Uint8Array(all.buffer, all.byteOffset, all.length), size: all.length };
  }
  // Scatter into the iovecs (checked writable above).
  let off = 0;
  for (const v of iov) {
    if (off >= r.data.length) break;
    const n = Math.min(v.len, r.data.length - off);
    const w = c.user.copyOut(v.base, r.data.subarray(off, off + n));
    if (isErrno(w)) return w;
    off += n;
  }
  const truncated = s.type !== abi.SOCK_STREAM && r.size > r.data.length;
  const ret = s.type !== abi.SOCK_STREAM && flags & abi.MSG_TRUNC ? r.size : r.data.length;
  return { r, ret, msgFlags: truncated ? abi.MSG_TRUNC : 0 };
}
