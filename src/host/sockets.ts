// Host sockets: what a donated socket fd is (the control server's), unix
// stream sockets bound or connected to a path, socket pairs (the gofer's io
// fds), and passing an fd over a socket with SCM_RIGHTS (the console socket).
// These values are the host's; they are the same on x86_64, arm64 and riscv64.

import koffi from 'koffi';
import { O_CLOEXEC } from './files.js';
import { bindLazily, negErrno, EINVAL_NEG, ENAMETOOLONG_NEG, type Fn } from './libc.js';

const SOL_SOCKET = 1;
const SO_TYPE = 3;
const SO_ACCEPTCONN = 30;
const AF_UNIX = 1;
const SCM_RIGHTS = 1;
export const SOCK_STREAM = 1;
const SOCK_CLOEXEC = O_CLOEXEC;

interface SocketLib {
  getsockopt: Fn;
  getpeername: Fn;
  getsockname: Fn;
  socketpair: Fn;
  socket: Fn;
  bind: Fn;
  connect: Fn;
  sendmsg: Fn;
  close: Fn;
}

const lib = bindLazily((c): SocketLib => {
  const iovec = koffi.struct('tsv_iovec', { iov_base: 'void *', iov_len: 'size_t' });
  koffi.struct('tsv_msghdr', { msg_name: 'void *', msg_namelen: 'uint32_t', msg_iov: koffi.pointer(iovec), msg_iovlen: 'size_t', msg_control: 'void *', msg_controllen: 'size_t', msg_flags: 'int' });
  return {
    getsockopt: c.func('int getsockopt(int, int, int, _Out_ int *, _Inout_ uint32_t *)'),
    getpeername: c.func('int getpeername(int, void *, _Inout_ uint32_t *)'),
    getsockname: c.func('int getsockname(int, void *, _Inout_ uint32_t *)'),
    socketpair: c.func('int socketpair(int, int, int, _Out_ int *sv)'),
    socket: c.func('int socket(int, int, int)'),
    bind: c.func('int bind(int, void *, uint32_t)'),
    connect: c.func('int connect(int, void *, uint32_t)'),
    sendmsg: c.func('long sendmsg(int, const tsv_msghdr *, int)'),
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
  const l = lib();
  const name = Buffer.from(path, 'utf8');
  if (name.length >= 108 || name.includes(0)) return ENAMETOOLONG_NEG; // too long for sun_path, or holding NUL
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

/**
 * sendmsg(2) of `data` (at least one byte) with `fd` attached (SCM_RIGHTS):
 * how runc's --console-socket hands the pty master over. Bytes sent, or a
 * negative errno.
 */
export function sendFd(sock: number, fd: number, data: Buffer): number {
  if (data.length === 0) return EINVAL_NEG;
  // struct cmsghdr { size_t len; int level; int type; } + one int: CMSG_LEN(4) = 20, CMSG_SPACE(4) = 24.
  const control = Buffer.alloc(24);
  control.writeBigUInt64LE(20n, 0);
  control.writeInt32LE(SOL_SOCKET, 8);
  control.writeInt32LE(SCM_RIGHTS, 12);
  control.writeInt32LE(fd, 16);
  const msg = { msg_name: null, msg_namelen: 0, msg_iov: { iov_base: data, iov_len: data.length }, msg_iovlen: 1, msg_control: control, msg_controllen: control.length, msg_flags: 0 };
  const r = Number(lib().sendmsg(sock, msg, 0));
  return r < 0 ? negErrno() : r;
}
