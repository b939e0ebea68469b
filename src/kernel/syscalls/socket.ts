// The socket calls that make, name and connect sockets: socket, socketpair,
// bind, listen, accept/accept4, connect, getsockname, getpeername,
// setsockopt, getsockopt, shutdown. Data moves in socket-msg.ts.
//
// AF_UNIX sockets are handled here; AF_INET and AF_INET6 sockets go to
// socket-inet.ts for what differs (their addresses, connect, options) and
// share the rest (listen, accept, shutdown); AF_NETLINK sockets (route
// requests) to socket-netlink.ts. Addresses cross as socket-addr.ts copies
// them. Other families are EAFNOSUPPORT.

import * as abi from '../../linux/abi.js';
import { EADDRINUSE, EAFNOSUPPORT, EFAULT, EINVAL, ENOTCONN, ENOTSOCK, EOPNOTSUPP, EPROTONOSUPPORT, ESOCKTNOSUPPORT, Errno, isErrno } from '../../linux/errno.js';
import { InetSocket } from '../net/inet-socket.js';
import { inetBind, inetConnect, inetName, inetPeerBytes, newInetSocket } from './socket-inet.js';
import { NetlinkSocket } from '../net/netlink-socket.js';
import { netlinkBind, netlinkConnect, netlinkName, newNetlinkSocket } from './socket-netlink.js';
import { copyInAddress, copyOutAddress } from './socket-addr.js';
import { blockingOp, taskBlocker } from '../files/blocking.js';
import { decodeUnixAddress, encodeUnixAddress, type UnixAddress } from '../net/address.js';
import type { PathStart, UCred } from '../net/names.js';
import { socketPair, UnixSocket } from '../net/unix-socket.js';
import { StructWriter } from '../usercopy.js';
import type { Kernel } from '../kernel.js';
import { pathCtx } from './at-path.js';
import type { SysCtx, SysResult } from './context.js';

/** A socket of any family. */
export type Socket = UnixSocket | InetSocket | NetlinkSocket;

/** The socket open at `fd`: EBADF when none, ENOTSOCK for other files. */
export function socketOf(c: SysCtx, fd: number): Socket | Errno {
  const f = c.proc.fds.get(fd);
  if (isErrno(f)) return f;
  return f instanceof UnixSocket || f instanceof InetSocket || f instanceof NetlinkSocket ? f : ENOTSOCK;
}

/** The caller as SO_PEERCRED reports it (effective ids). */
export function peerCredOf(c: SysCtx): UCred {
  return { pid: c.proc.pid, uid: c.proc.creds.euid, gid: c.proc.creds.egid };
}

/** The caller as a message's default SCM_CREDENTIALS (real ids). */
export function msgCredOf(c: SysCtx): UCred {
  return { pid: c.proc.pid, uid: c.proc.creds.ruid, gid: c.proc.creds.rgid };
}

/** Where the caller's relative socket paths start. */
export function pathStart(c: SysCtx): PathStart {
  return { ctx: pathCtx(c), start: c.proc.cwd };
}

/** A sockaddr_un from the guest, decoded (EINVAL for a bad length or family). */
export function readUnixAddress(c: SysCtx, addr: number, len: number): UnixAddress | 'auto' | Errno {
  const bytes = copyInAddress(c, addr, len);
  return isErrno(bytes) ? bytes : decodeUnixAddress(bytes);
}

/** The type argument of socket/socketpair split: the socket type, its file flags and close-on-exec, or EINVAL. */
function splitType(typeArg: number): { type: number; flags: number; cloexec: boolean } | Errno {
  const flags = typeArg & ~abi.SOCK_TYPE_MASK;
  if (flags & ~(abi.SOCK_CLOEXEC | abi.SOCK_NONBLOCK)) return EINVAL;
  return { type: typeArg & abi.SOCK_TYPE_MASK, flags: flags & abi.SOCK_NONBLOCK, cloexec: (flags & abi.SOCK_CLOEXEC) !== 0 };
}

/** A Unix socket's type and protocol checked (unix_create): the type, or the errno. */
function unixType(domain: number, typeArg: number, protocol: number): { type: number; flags: number; cloexec: boolean } | Errno {
  const t = splitType(typeArg);
  if (isErrno(t)) return t;
  if (domain !== abi.AF_UNIX) return EAFNOSUPPORT;
  if (protocol !== 0 && protocol !== abi.AF_UNIX) return EPROTONOSUPPORT;
  let type = t.type;
  if (type === abi.SOCK_RAW) type = abi.SOCK_DGRAM; // as unix_create does
  if (type !== abi.SOCK_STREAM && type !== abi.SOCK_DGRAM && type !== abi.SOCK_SEQPACKET) return ESOCKTNOSUPPORT;
  return { ...t, type };
}

export function sys_socket(c: SysCtx): SysResult {
  const domain = c.i32(0);
  if (domain === abi.AF_INET || domain === abi.AF_INET6) {
    const t = splitType(c.i32(1));
    if (isErrno(t)) return t;
    const s = newInetSocket(c, domain, t.type, c.i32(2), t.flags);
    return isErrno(s) ? s : c.proc.fds.install(s, t.cloexec);
  }
  if (domain === abi.AF_NETLINK) {
    const t = splitType(c.i32(1));
    if (isErrno(t)) return t;
    const s = newNetlinkSocket(c, t.type, c.i32(2), t.flags);
    return isErrno(s) ? s : c.proc.fds.install(s, t.cloexec);
  }
  const t = unixType(domain, c.i32(1), c.i32(2));
  if (isErrno(t)) return t;
  return c.proc.fds.install(new UnixSocket(c.kernel.unixNames, t.type, t.flags), t.cloexec);
}

export function sys_socketpair(c: SysCtx): SysResult {
  const domain = c.i32(0);
  // Linux's TCP and UDP have no socketpair.
  if (domain === abi.AF_INET || domain === abi.AF_INET6 || domain === abi.AF_NETLINK) return isErrno(splitType(c.i32(1))) ? EINVAL : EOPNOTSUPP;
  const t = unixType(domain, c.i32(1), c.i32(2));
  if (isErrno(t)) return t;
  const [a, b] = socketPair(c.kernel.unixNames, t.type, t.flags, peerCredOf(c));
  const fds = c.proc.fds;
  const fa = fds.install(a, t.cloexec);
  if (isErrno(fa)) {
    void b.unref();
    return fa;
  }
  const fb = fds.install(b, t.cloexec);
  if (isErrno(fb)) {
    void fds.close(fa);
    return fb;
  }
  const out = c.user.copyOut(c.u(3), new StructWriter(8).i32(0, fa).i32(4, fb).bytes);
  if (isErrno(out)) {
    // Linux installs nothing it cannot report.
    void fds.close(fa);
    void fds.close(fb);
    return out;
  }
  return 0;
}

export async function sys_bind(c: SysCtx): Promise<SysResult> {
  const s = socketOf(c, c.i32(0));
  if (isErrno(s)) return s;
  if (s instanceof InetSocket) return inetBind(c, s, c.u(1), c.i32(2));
  if (s instanceof NetlinkSocket) return netlinkBind(c, s, c.u(1), c.i32(2));
  const addr = readUnixAddress(c, c.u(1), c.i32(2));
  if (isErrno(addr)) return addr;
  const ns = c.kernel.unixNames;
  if (addr === 'auto') {
    if (!s.bound) s.setAddress(ns.autobind(s));
    return 0;
  }
  if (s.bound) return addr.kind === 'path' ? boundAgain(c, addr.path) : EINVAL;
  if (addr.kind === 'abstract') {
    const r = ns.bindAbstract(addr.name, s);
    if (r === 0) s.setAddress(addr);
    return r;
  }
  if (addr.kind !== 'path') return EINVAL;
  const r = await ns.bindPath(pathStart(c), Buffer.from(addr.path).toString('utf8'), s);
  if (r !== 0) return r;
  if (s.bound) return EINVAL; // another thread bound it meanwhile
  s.setAddress(addr);
  return 0;
}

/** bind of a socket already bound, to a path: Linux makes the node first, so a name that exists is EADDRINUSE. */
async function boundAgain(c: SysCtx, path: Uint8Array): Promise<SysResult> {
  const at = pathStart(c);
  const d = await at.ctx.vfs.resolve(at.ctx.root, at.start, Buffer.from(path).toString('utf8'), { followLast: false, caller: c.proc, creds: c.proc.creds });
  return isErrno(d) ? EINVAL : EADDRINUSE;
}

export function sys_listen(c: SysCtx): SysResult {
  const s = socketOf(c, c.i32(0));
  if (isErrno(s)) return s;
  if (s instanceof NetlinkSocket) return EOPNOTSUPP;
  return s instanceof InetSocket ? s.listen(c.i32(1)) : s.listen(c.i32(1), peerCredOf(c));
}

export function sys_accept(c: SysCtx): SysResult | Promise<SysResult> {
  return accept(c, 0);
}

export function sys_accept4(c: SysCtx): SysResult | Promise<SysResult> {
  return accept(c, c.i32(3));
}

function accept(c: SysCtx, flags: number): SysResult | Promise<SysResult> {
  if (flags & ~(abi.SOCK_CLOEXEC | abi.SOCK_NONBLOCK)) return EINVAL;
  const s = socketOf(c, c.i32(0));
  if (isErrno(s)) return s;
  if (s instanceof NetlinkSocket) return EOPNOTSUPP;
  const addr = c.u(1);
  const lenAddr = c.u(2);
  // A bad address length pointer fails before a connection is taken.
  if (addr !== 0 && isErrno(c.user.readI32(lenAddr))) return EFAULT;
  const listening = () => (s instanceof InetSocket ? s.listening : s.state === 'listening');
  const r = blockingOp<UnixSocket | InetSocket>(taskBlocker(c.kernel, c.task), s.nonblocking, [{ queue: s.wq, mask: abi.POLLIN }], () => (s.pollEvents() & (abi.POLLIN | abi.POLLHUP | abi.POLLERR)) !== 0 || !listening(), () => s.accept(), s.waitLimitMs('rcv'));
  const done = (n: UnixSocket | InetSocket | Errno): SysResult => {
    if (isErrno(n)) return n;
    n.flags = (n.flags & ~abi.O_NONBLOCK) | (flags & abi.SOCK_NONBLOCK);
    if (addr !== 0) {
      const peer = n instanceof InetSocket ? inetPeerBytes(n) : encodeUnixAddress(n.peer?.addr ?? { kind: 'unnamed' });
      const w = copyOutAddress(c, addr, lenAddr, peer);
      if (isErrno(w)) {
        void n.unref();
        return w;
      }
    }
    return c.proc.fds.install(n, (flags & abi.SOCK_CLOEXEC) !== 0);
  };
  return r instanceof Promise ? r.then(done) : done(r);
}

export async function sys_connect(c: SysCtx): Promise<SysResult> {
  const s = socketOf(c, c.i32(0));
  if (isErrno(s)) return s;
  if (s instanceof InetSocket) return inetConnect(c, s, c.u(1), c.i32(2));
  if (s instanceof NetlinkSocket) return netlinkConnect(c, s, c.u(1), c.i32(2));
  const bytes = copyInAddress(c, c.u(1), c.i32(2));
  if (isErrno(bytes)) return bytes;
  const ns = c.kernel.unixNames;
  if (!s.connectionOriented && bytes.length >= 2 && (bytes[0] | (bytes[1] << 8)) === abi.AF_UNSPEC) return s.connectDgram(null);
  const addr = decodeUnixAddress(bytes);
  if (isErrno(addr)) return addr;
  if (addr === 'auto') return EINVAL;
  const target = await ns.lookup(pathStart(c), addr, s.type);
  if (isErrno(target)) return target;
  if (s.opts.passcred && !s.bound) s.setAddress(ns.autobind(s));
  if (!s.connectionOriented) return s.connectDgram(target);
  const cred = peerCredOf(c);
  return blockingOp(taskBlocker(c.kernel, c.task), s.nonblocking, [{ queue: target.wq, mask: abi.POLLOUT }], () => !target.backlogFull || target.released || target.state !== 'listening', () => s.connect(target, cred), s.waitLimitMs('snd'));
}

export function sys_getsockname(c: SysCtx): SysResult {
  const s = socketOf(c, c.i32(0));
  if (isErrno(s)) return s;
  if (s instanceof InetSocket) return inetName(c, s, c.u(1), c.u(2), false);
  if (s instanceof NetlinkSocket) return netlinkName(c, s, c.u(1), c.u(2), false);
  return copyOutAddress(c, c.u(1), c.u(2), encodeUnixAddress(s.addr));
}

export function sys_getpeername(c: SysCtx): SysResult {
  const s = socketOf(c, c.i32(0));
  if (isErrno(s)) return s;
  if (s instanceof InetSocket) return inetName(c, s, c.u(1), c.u(2), true);
  if (s instanceof NetlinkSocket) return netlinkName(c, s, c.u(1), c.u(2), true);
  if (s.state !== 'connected' || !s.peer) return ENOTCONN;
  return copyOutAddress(c, c.u(1), c.u(2), encodeUnixAddress(s.peer.addr));
}

export function sys_setsockopt(c: SysCtx): SysResult {
  const s = socketOf(c, c.i32(0));
  if (isErrno(s)) return s;
  const level = c.i32(1);
  const len = c.i32(4);
  if (len < 0) return EINVAL;
  if (level !== abi.SOL_SOCKET && s instanceof UnixSocket) return EOPNOTSUPP;
  const v = c.user.copyIn(c.u(3), Math.min(len, 64));
  if (isErrno(v)) return v;
  return s instanceof UnixSocket ? s.opts.set(c.i32(2), v) : s.setOption(level, c.i32(2), v);
}

export function sys_getsockopt(c: SysCtx): SysResult {
  const s = socketOf(c, c.i32(0));
  if (isErrno(s)) return s;
  const level = c.i32(1);
  const lenAddr = c.u(4);
  const room = c.user.readI32(lenAddr);
  if (isErrno(room)) return room;
  if (room < 0) return EINVAL;
  if (level !== abi.SOL_SOCKET && s instanceof UnixSocket) return EOPNOTSUPP;
  const v = s instanceof UnixSocket ? s.opts.get(c.i32(2), { type: s.type, listening: s.state === 'listening', peerCred: s.peerCred }) : s.getOption(level, c.i32(2));
  if (isErrno(v)) return v;
  const n = Math.min(room, v.length);
  const w = c.user.copyOut(c.u(3), v.subarray(0, n));
  if (isErrno(w)) return w;
  return c.user.writeU32(lenAddr, n);
}

export function sys_shutdown(c: SysCtx): SysResult {
  const s = socketOf(c, c.i32(0));
  if (isErrno(s)) return s;
  return s instanceof NetlinkSocket ? EOPNOTSUPP : s.shutdownHow(c.i32(1));
}
