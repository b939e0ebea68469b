// The one module that calls the host's C library directly (through koffi), for
// what Node's own API lacks. Every function here returns Linux's result
// convention turned into values: a non-negative result, or a negative errno.
// Nothing here throws for a failed system call.
//
// Loaded lazily: importing this module costs nothing until a call is made.

import koffi from 'koffi';

type Fn = (...args: unknown[]) => number;
interface Lib {
  openat2: Fn;
  errnoLoc: () => unknown;
  getsockopt: Fn;
  getpeername: Fn;
  getsockname: Fn;
  pipe2: Fn;
  close: Fn;
  execve: Fn;
  prctl: Fn;
  capget: Fn;
  capset: Fn;
  fcntl: Fn;
}

let lib: Lib | undefined;

function load(): Lib {
  if (lib) return lib;
  const c = koffi.load('libc.so.6');
  // glibc 2.36 has no openat2 wrapper: go through syscall(2) (437 on x86_64 and aarch64).
  const syscall4 = c.func('long syscall(long, int, const char *, void *, size_t)');
  lib = {
    openat2: (dirfd: unknown, path: unknown, how: unknown) => Number(syscall4(437, dirfd, path, how, 24)),
    errnoLoc: c.func('int *__errno_location()'),
    getsockopt: c.func('int getsockopt(int, int, int, _Out_ int *, _Inout_ uint32_t *)'),
    getpeername: c.func('int getpeername(int, void *, _Inout_ uint32_t *)'),
    getsockname: c.func('int getsockname(int, void *, _Inout_ uint32_t *)'),
    pipe2: c.func('int pipe2(_Out_ int *fds, int flags)'),
    close: c.func('int close(int)'),
    execve: c.func('int execve(const char *, const char **, const char **)'),
    prctl: c.func('int prctl(int, unsigned long, unsigned long, unsigned long, unsigned long)'),
    capget: c.func('int capget(void *, void *)'),
    capset: c.func('int capset(void *, void *)'),
    fcntl: c.func('int fcntl(int, int, ...)'),
  } as unknown as Lib;
  return lib;
}

/** The calling thread's errno, negated; call right after a failed call. */
function negErrno(): number {
  const p = load().errnoLoc();
  return -(koffi.decode(p, 'int') as number);
}

function check(r: number): number {
  return r < 0 ? negErrno() : r;
}

// ---- openat2 ----

export const RESOLVE_NO_XDEV = 0x01;
export const RESOLVE_NO_MAGICLINKS = 0x02;
export const RESOLVE_NO_SYMLINKS = 0x04;
export const RESOLVE_BENEATH = 0x08;
export const RESOLVE_IN_ROOT = 0x10;

/**
 * openat2(2): open `path` relative to `dirfd` with `resolve` flags. Returns the
 * new fd or a negative errno. With RESOLVE_IN_ROOT the host kernel resolves
 * `..`, absolute paths and symlinks as if `dirfd` were the root, so no path can
 * leave it.
 */
export function openat2(dirfd: number, path: string, flags: number, mode: number, resolve: number): number {
  const how = Buffer.alloc(24);
  how.writeBigUInt64LE(BigInt(flags >>> 0), 0);
  how.writeBigUInt64LE(BigInt(mode >>> 0), 8);
  how.writeBigUInt64LE(BigInt(resolve >>> 0), 16);
  return check(load().openat2(dirfd, path, how));
}

// ---- sockets ----

const SOL_SOCKET = 1;
const SO_ACCEPTCONN = 30;
const SO_TYPE = 3;
export const SOCK_STREAM = 1;

export type SocketState = 'listening' | 'connected' | 'bound' | 'unbound' | 'not-a-socket';

/**
 * What a donated socket fd is ready for: a listening socket (accept on it), a
 * connected one (talk on it), a bound one (listen first), or none of these.
 */
export function socketState(fd: number): SocketState {
  const l = load();
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
  const r = load().getsockopt(fd, SOL_SOCKET, SO_TYPE, val, len);
  return r < 0 ? negErrno() : val[0];
}

// ---- fds and processes ----

export const O_CLOEXEC = 0o2000000;

/** pipe2(2): [readFd, writeFd], or a negative errno. */
export function pipe2(flags: number): [number, number] | number {
  const fds = [0, 0];
  const r = load().pipe2(fds, flags);
  return r < 0 ? negErrno() : [fds[0], fds[1]];
}

export function closeFd(fd: number): number {
  return check(load().close(fd));
}

const F_GETFD = 1;
const F_SETFD = 2;
const FD_CLOEXEC = 1;

/** Clear or set FD_CLOEXEC on a host fd. */
export function setCloexec(fd: number, on: boolean): number {
  const l = load();
  const cur = l.fcntl(fd, F_GETFD);
  if (cur < 0) return negErrno();
  return check(l.fcntl(fd, F_SETFD, 'int', on ? cur | FD_CLOEXEC : cur & ~FD_CLOEXEC));
}

/** execve(2): replaces this process; returns only on failure (negative errno). */
export function execve(path: string, argv: string[], env: string[]): number {
  const r = load().execve(path, [...argv, null], [...env, null]);
  return r < 0 ? negErrno() : r;
}

// ---- capabilities ----

export const PR_SET_NO_NEW_PRIVS = 38;
export const PR_CAPBSET_DROP = 24;
export const PR_CAPBSET_READ = 23;
export const PR_SET_KEEPCAPS = 8;

export function prctl(option: number, a2 = 0, a3 = 0, a4 = 0, a5 = 0): number {
  return check(load().prctl(option, a2, a3, a4, a5));
}

const LINUX_CAPABILITY_VERSION_3 = 0x20080522;

/** Capability sets as 64-bit masks (bit n = capability n). */
export interface CapSets {
  effective: bigint;
  permitted: bigint;
  inheritable: bigint;
}

export function capget(): CapSets | number {
  const hdr = Buffer.alloc(8);
  hdr.writeUInt32LE(LINUX_CAPABILITY_VERSION_3, 0);
  const data = Buffer.alloc(24);
  const r = load().capget(hdr, data);
  if (r < 0) return negErrno();
  const get = (off: number) => BigInt(data.readUInt32LE(off)) | (BigInt(data.readUInt32LE(off + 12)) << 32n);
  return { effective: get(0), permitted: get(4), inheritable: get(8) };
}

export function capset(sets: CapSets): number {
  const hdr = Buffer.alloc(8);
  hdr.writeUInt32LE(LINUX_CAPABILITY_VERSION_3, 0);
  const data = Buffer.alloc(24);
  const put = (off: number, v: bigint) => {
    data.writeUInt32LE(Number(v & 0xffffffffn), off);
    data.writeUInt32LE(Number((v >> 32n) & 0xffffffffn), off + 12);
  };
  put(0, sets.effective);
  put(4, sets.permitted);
  put(8, sets.inheritable);
  return check(load().capset(hdr, data));
}
