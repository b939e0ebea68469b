// Host sockets: what a donated socket fd is (the control server's), unix
// stream sockets bound or connected to a path, socket pairs (the gofer's io
// fds), and passing an fd over a socket with SCM_RIGHTS (the console socket).
// These values are the host's; they are the same on x86_64, arm64 and riscv64.

import { AT_FDCWD, HOST, O_CLOEXEC, openat } from './files.js';
import { bindLazily, koffi, negErrno, EINVAL_NEG, ENAMETOOLONG_NEG, type Fn } from './libc.js';

const SOL_SOCKET = 1;
const SO_TYPE = 3;
const SO_ACCEPTCONN = 30;
const AF_UNIX = 1;
const SCM_RIGHTS = 1;
export const SOCK_STREAM = 1;
/** Connected, message-preserving: each send is one record (the gofer's fd donation channel). */
export const SOCK_SEQPACKET = 5;
const SOCK_CLOEXEC = O_CLOEXEC;

interface SocketLib {
  getsockopt: Fn;
  getpeername: Fn;
  getsockname: Fn;
  socketpair: Fn;
  socket: Fn;
  bind: Fn;
  connect: Fn;
  listen: Fn;
  sendmsg: Fn;
  recvmsg: Fn;
  close: Fn;
}

const lib = bindLazily((c): SocketLib => {
  const k = koffi();
  const iovec = k.struct('tsv_iovec', { iov_base: 'void *', iov_len: 'size_t' });
  k.struct('tsv_msghdr', { msg_name: 'void *', msg_namelen: 'uint32_t', msg_iov: k.pointer(iovec), msg_iovlen: 'size_t', msg_control: 'void *', msg_controllen: 'size_t', msg_flags: 'int' });
  return {
    getsockopt: c.func('int getsockopt(int, int, int, _Out_ int *, _Inout_ uint32_t *)'),
    getpeername: c.func('int getpeername(int, void *, _Inout_ uint32_t *)'),
    getsockname: c.func('int getsockname(int, void *, _Inout_ uint32_t *)'),
    socketpair: c.func('int socketpair(int, int, int, _Out_ int *sv)'),
    socket: c.func('int socket(int, int, int)'),
    bind: c.func('int bind(int, void *, uint32_t)'),
    connect: c.func('int connect(int, void *, uint32_t)'),
    listen: c.func('int listen(int, int)'),
    sendmsg: c.func('long sendmsg(int, const tsv_msghdr *, int)'),
    recvmsg: c.func('long recvmsg(int, _Inout_ tsv_msghdr *, int)'),
    close: c.func('int close(int)'),
  } as unknown as SocketLib;
});

export type SocketState = 'listening' | 'connected' | 'bound' | 'unbound' | 'not-a-socket';

/**
 * What a donated socket fd is ready for: a listening socket (accept on it), a
 * connected one (talk on it), a bound one (listen first), or none of these.
 */
export function socketState(fd: number): SocketState {
  const l = lib();
  const val = [0];
  const len = [4];
  if (l.getsockopt(fd, SOL_SOCKET, SO_ACCEPTCONN, val, len) < 0) return 'not-a-socket';
  if (val[0]) return 'listening';
  const addr = Buffer.alloc(128);
  const alen = [128];
  if (l.getpeername(fd, addr, alen) === 0) return 'connected';
  alen[0] = 128;
  if (l.getsockname(fd, addr, alen) === 0 && alen[0] > 2) return 'bound';
  return 'unbound';
}

/** listen(2): `fd` accepts connections into a queue of `backlog`; 0 or a negative errno. */
export function listenSocket(fd: number, backlog: number): number {
  return lib().listen(fd, backlog) < 0 ? negErrno() : 0;
}

/** SO_TYPE of a socket, or a negative errno. */
export function socketType(fd: number): number {
  const val = [0];
  const len = [4];
  const r = lib().getsockopt(fd, SOL_SOCKET, SO_TYPE, val, len);
  return r < 0 ? negErrno() : val[0];
}

/**
 * socketpair(2) of two connected AF_UNIX sockets of `type` (SOCK_STREAM; may
 * be or'ed with O_CLOEXEC as SOCK_CLOEXEC): [fd0, fd1], or a negative errno.
 */
export function socketpair(type: number): [number, number] | number {
  const fds = [0, 0];
  const r = lib().socketpair(AF_UNIX, type, 0, fds);
  return r < 0 ? negErrno() : [fds[0], fds[1]];
}

/**
 * A new unix stream socket bound to `path` but not listening (what runsc's
 * parent hands boot as --controller-fd). The fd, or a negative errno.
 */
export function bindUnixSocket(path: string): number {
  return unixSocketAt(path, (fd, addr, len) => lib().bind(fd, addr, len));
}

/** A unix stream socket connected to `path` (close-on-exec), or a negative errno. */
export function connectUnixSocket(path: string): number {
  return unixSocketAt(path, (fd, addr, len) => lib().connect(fd, addr, len));
}

/**
 * A new close-on-exec unix stream socket, and `op` (bind or connect) on it with
 * the sockaddr_un of `path`: the fd, or a negative errno (the socket closed).
 */
function unixSocketAt(path: string, op: (fd: number, addr: Buffer, len: number) => number): number {
  if (path.includes('\0')) return EINVAL_NEG;
  if (Buffer.byteLength(path, 'utf8') < SUN_PATH_MAX) return unixSocketAtShort(path, op);
  // Too long for sun_path (a state directory in a deep home, a 64-character
  // container id): the same name through /proc/self/fd of its directory.
  const slash = path.lastIndexOf('/');
  if (slash < 0) return ENAMETOOLONG_NEG;
  const dir = openat(AT_FDCWD, path.slice(0, slash) || '/', HOST.O_PATH | HOST.O_DIRECTORY | O_CLOEXEC);
  if (dir < 0) return dir;
  try {
    const short = `/proc/self/fd/${dir}/${path.slice(slash + 1)}`;
    return Buffer.byteLength(short, 'utf8') < SUN_PATH_MAX ? unixSocketAtShort(short, op) : ENAMETOOLONG_NEG;
  } finally {
    lib().close(dir);
  }
}

/** sun_path's size, its NUL included. */
const SUN_PATH_MAX = 108;

function unixSocketAtShort(path: string, op: (fd: number, addr: Buffer, len: number) => number): number {
  const l = lib();
  const name = Buffer.from(path, 'utf8');
  const fd = l.socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd < 0) return negErrno();
  const addr = Buffer.alloc(110);
  addr.writeUInt16LE(AF_UNIX, 0);
  name.copy(addr, 2);
  if (op(fd, addr, 2 + name.length + 1) < 0) {
    const e = negErrno();
    l.close(fd);
    return e;
  }
  return fd;
}

/** Most fds one message carries (Linux's SCM_MAX_FD is 253). */
export const MAX_PASSED_FDS = 16;
const CMSG_HDR = 16; // struct cmsghdr { size_t len; int level; int type; }
const MSG_DONTWAIT = 0x40;
const MSG_CTRUNC = 0x8;
const MSG_CMSG_CLOEXEC = 0x40000000;

/**
 * sendmsg(2) of `data` (at least one byte) with `fds` attached (SCM_RIGHTS,
 * at most MAX_PASSED_FDS): how runc's --console-socket hands the pty master
 * over, and how exec hands its stdio to the sandbox. `noWait`: fail with
 * -EAGAIN rather than block when the socket's buffer is full. Bytes sent, or
 * a negative errno.
 */
export function sendFds(sock: number, fds: number[], data: Buffer, noWait = false): number {
  if (data.length === 0 || fds.length > MAX_PASSED_FDS) return EINVAL_NEG;
  let control: Buffer | null = null;
  if (fds.length > 0) {
    // CMSG_LEN(4n) = 16 + 4n, padded to 8 bytes (CMSG_SPACE).
    const len = CMSG_HDR + 4 * fds.length;
    control = Buffer.alloc((len + 7) & ~7);
    control.writeBigUInt64LE(BigInt(len), 0);
    control.writeInt32LE(SOL_SOCKET, 8);
    control.writeInt32LE(SCM_RIGHTS, 12);
    fds.forEach((fd, i) => control!.writeInt32LE(fd, CMSG_HDR + 4 * i));
  }
  const msg = { msg_name: null, msg_namelen: 0, msg_iov: { iov_base: data, iov_len: data.length }, msg_iovlen: 1, msg_control: control, msg_controllen: control ? control.length : 0, msg_flags: 0 };
  const r = Number(lib().sendmsg(sock, msg, noWait ? MSG_DONTWAIT : 0));
  return r < 0 ? negErrno() : r;
}

/** sendFds with one fd. */
export function sendFd(sock: number, fd: number, data: Buffer, noWait = false): number {
  return sendFds(sock, [fd], data, noWait);
}

/** What recvFds read: bytes (none at end of stream) and the fds that came with them. */
export interface Received {
  data: Buffer;
  fds: number[];
  /** The sender attached more fds than MAX_PASSED_FDS: the kernel closed the rest. */
  truncated: boolean;
}

/**
 * recvmsg(2) without waiting: up to `max` bytes and the fds passed with them
 * (SCM_RIGHTS, received close-on-exec; at most MAX_PASSED_FDS). A negative
 * errno (-EAGAIN: nothing to read now). The fds are the caller's to close.
 */
export function recvFds(sock: number, max: number): Received | number {
  const data = Buffer.alloc(max);
  const control = Buffer.alloc(CMSG_HDR + 4 * MAX_PASSED_FDS);
  const msg = { msg_name: null, msg_namelen: 0, msg_iov: { iov_base: data, iov_len: max }, msg_iovlen: 1, msg_control: control, msg_controllen: control.length, msg_flags: 0 };
  const r = Number(lib().recvmsg(sock, msg, MSG_DONTWAIT | MSG_CMSG_CLOEXEC));
  if (r < 0) return negErrno();
  const fds: number[] = [];
  // Walk the control messages: each is a header, its data, padding to 8 bytes.
  let off = 0;
  const end = Math.min(Number(msg.msg_controllen), control.length);
  while (off + CMSG_HDR <= end) {
    const len = Number(control.readBigUInt64LE(off));
    if (len < CMSG_HDR || off + len > end) break;
    if (control.readInt32LE(off + 8) === SOL_SOCKET && control.readInt32LE(off + 12) === SCM_RIGHTS) {
      for (let p = off + CMSG_HDR; p + 4 <= off + len; p += 4) fds.push(control.readInt32LE(p));
    }
    off += (len + 7) & ~7;
  }
  return { data: data.subarray(0, r), fds, truncated: (Number(msg.msg_flags) & MSG_CTRUNC) !== 0 };
}
