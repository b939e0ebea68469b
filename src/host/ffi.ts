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
  socketpair: Fn;
  close: Fn;
  execve: Fn;
  prctl: Fn;
  capget: Fn;
  capset: Fn;
  fcntl: Fn;
  socket: Fn;
  bind: Fn;
  poll: Fn;
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
    socketpair: c.func('int socketpair(int, int, int, _Out_ int *sv)'),
    close: c.func('int close(int)'),
    execve: c.func('int execve(const char *, const char **, const char **)'),
    prctl: c.func('int prctl(int, unsigned long, unsigned long, unsigned long, unsigned long)'),
    capget: c.func('int capget(void *, void *)'),
    capset: c.func('int capset(void *, void *)'),
    fcntl: c.func('int fcntl(int, int, ...)'),
    socket: c.func('int socket(int, int, int)'),
    bind: c.func('int bind(int, void *, uint32_t)'),
    poll: c.func('int poll(void *, unsigned long, int)'),
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
  if (path.includes('\0')) return -22; // EINVAL: C would cut the path short
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

const AF_UNIX = 1;
const SOCK_CLOEXEC = 0o2000000;

/**
 * A new unix stream socket bound to `path` but not listening (what runsc's
 * parent hands boot as --controller-fd). The fd, or a negative errno.
 */
export function bindUnixSocket(path: string): number {
  return unixSocketAt(path, (fd, addr, len) => load().bind(fd, addr, len));
}

/**
 * A new close-on-exec unix stream socket, and `op` (bind or connect) on it with
 * the sockaddr_un of `path`: the fd, or a negative errno (the socket closed).
 */
function unixSocketAt(path: string, op: (fd: number, addr: Buffer, len: number) => number): number {
  const l = load();
  const name = Buffer.from(path, 'utf8');
  if (name.length >= 108 || name.includes(0)) return -36; // ENAMETOOLONG / bad name
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

const POLLIN = 0x1;
const POLLHUP = 0x10;
const POLLERR = 0x8;

/**
 * poll(2) for one fd: 1 when a read would not block (data, end of file or an
 * error), 0 when it would after `timeoutMs`, or a negative errno.
 */
export function pollReadable(fd: number, timeoutMs: number): number {
  const pfd = Buffer.alloc(8);
  pfd.writeInt32LE(fd, 0);
  pfd.writeInt16LE(POLLIN, 4);
  const r = load().poll(pfd, 1, timeoutMs);
  if (r < 0) return negErrno();
  return r > 0 && (pfd.readInt16LE(6) & (POLLIN | POLLHUP | POLLERR)) !== 0 ? 1 : 0;
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

/**
 * socketpair(2) of two connected AF_UNIX sockets of `type` (SOCK_STREAM; may
 * be or'ed with O_CLOEXEC as SOCK_CLOEXEC): [fd0, fd1], or a negative errno.
 */
export function socketpair(type: number): [number, number] | number {
  const fds = [0, 0];
  const r = load().socketpair(AF_UNIX, type, 0, fds);
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
export const PR_SET_PDEATHSIG = 1;
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

// ---- the *at family, for the direct-mode filesystem backend ----
//
// Every path argument here is a single C string: a JS string holding NUL
// would be cut short by the conversion, so each function refuses one with
// -EINVAL before calling into libc. Flags are the HOST's values (below);
// callers translate the guest's riscv64 (asm-generic) flags themselves.

const EINVAL_NEG = -22;

/** The host's open(2) flags that differ between architectures. */
const HOST_OFLAGS: Record<string, { O_DIRECTORY: number; O_NOFOLLOW: number; O_DIRECT: number; O_LARGEFILE: number }> = {
  x64: { O_DIRECTORY: 0o200000, O_NOFOLLOW: 0o400000, O_DIRECT: 0o40000, O_LARGEFILE: 0 },
  arm64: { O_DIRECTORY: 0o40000, O_NOFOLLOW: 0o100000, O_DIRECT: 0o200000, O_LARGEFILE: 0 },
  riscv64: { O_DIRECTORY: 0o200000, O_NOFOLLOW: 0o400000, O_DIRECT: 0o40000, O_LARGEFILE: 0 },
};
/**
 * Whether this host's open(2) flag values are known here. On any other
 * architecture HOST.O_NOFOLLOW and HOST.O_DIRECTORY would be guesses: callers
 * that depend on them for confinement must refuse to run (DirectBackend does).
 */
export const HOST_OFLAGS_KNOWN = process.arch in HOST_OFLAGS;
const archFlags = HOST_OFLAGS[process.arch] ?? HOST_OFLAGS.x64;

/** Host open(2) flags (the same on every Linux architecture unless noted). */
export const HOST = {
  O_RDONLY: 0,
  O_WRONLY: 1,
  O_RDWR: 2,
  O_ACCMODE: 3,
  O_CREAT: 0o100,
  O_EXCL: 0o200,
  O_NOCTTY: 0o400,
  O_TRUNC: 0o1000,
  O_APPEND: 0o2000,
  O_NONBLOCK: 0o4000,
  O_DSYNC: 0o10000,
  O_SYNC: 0o4010000,
  O_PATH: 0o10000000,
  O_CLOEXEC: 0o2000000,
  /** Architecture-dependent. */
  O_DIRECTORY: archFlags.O_DIRECTORY,
  /** Architecture-dependent. */
  O_NOFOLLOW: archFlags.O_NOFOLLOW,
} as const;

export const AT_FDCWD = -100;
export const AT_SYMLINK_NOFOLLOW = 0x100;
export const AT_REMOVEDIR = 0x200;
export const AT_SYMLINK_FOLLOW = 0x400;
export const AT_EMPTY_PATH = 0x1000;

/** utimensat(2)'s special tv_nsec values. */
export const UTIME_NOW = (1 << 30) - 1;
export const UTIME_OMIT = (1 << 30) - 2;

export const SEEK_SET = 0;

interface AtLib {
  openat: Fn;
  readlinkat: Fn;
  mkdirat: Fn;
  unlinkat: Fn;
  renameat: Fn;
  renameat2: Fn;
  mknodat: Fn;
  fallocate: Fn;
  fdatasync: Fn;
  futimens: Fn;
  symlinkat: Fn;
  linkat: Fn;
  fchmodat: Fn;
  fchownat: Fn;
  utimensat: Fn;
  ftruncate: Fn;
  fstatfs: Fn;
  getdents64: Fn;
  lseek: (fd: number, off: bigint, whence: number) => number | bigint;
}

let atLib: AtLib | undefined;

function loadAt(): AtLib {
  if (atLib) return atLib;
  load();
  const c = koffi.load('libc.so.6');
  atLib = {
    openat: c.func('int openat(int, const char *, int, ...)'),
    readlinkat: c.func('long readlinkat(int, const char *, void *, size_t)'),
    mkdirat: c.func('int mkdirat(int, const char *, uint32_t)'),
    unlinkat: c.func('int unlinkat(int, const char *, int)'),
    renameat: c.func('int renameat(int, const char *, int, const char *)'),
    // glibc 2.28+ wraps renameat2.
    renameat2: c.func('int renameat2(int, const char *, int, const char *, unsigned int)'),
    mknodat: c.func('int mknodat(int, const char *, uint32_t, uint64_t)'),
    fallocate: c.func('int fallocate(int, int, int64_t, int64_t)'),
    fdatasync: c.func('int fdatasync(int)'),
    // glibc's utimensat refuses a NULL path; futimens is its fd form.
    futimens: c.func('int futimens(int, void *)'),
    symlinkat: c.func('int symlinkat(const char *, int, const char *)'),
    linkat: c.func('int linkat(int, const char *, int, const char *, int)'),
    fchmodat: c.func('int fchmodat(int, const char *, uint32_t, int)'),
    fchownat: c.func('int fchownat(int, const char *, uint32_t, uint32_t, int)'),
    utimensat: c.func('int utimensat(int, const char *, void *, int)'),
    ftruncate: c.func('int ftruncate(int, int64_t)'),
    fstatfs: c.func('int fstatfs(int, void *)'),
    // glibc 2.30+ has a getdents64 wrapper.
    getdents64: c.func('long getdents64(int, void *, size_t)'),
    lseek: c.func('int64_t lseek(int, int64_t, int)'),
  } as unknown as AtLib;
  return atLib;
}

function hasNul(...s: string[]): boolean {
  return s.some((x) => x.includes('\0'));
}

/** openat(2): a new fd, or a negative errno. */
export function openat(dirfd: number, path: string, flags: number, mode = 0): number {
  if (hasNul(path)) return EINVAL_NEG;
  return check(loadAt().openat(dirfd, path, flags, 'uint32_t', mode >>> 0));
}

/** readlinkat(2): the link's target as raw bytes, or a negative errno. */
export function readlinkat(dirfd: number, path: string): Buffer | number {
  if (hasNul(path)) return EINVAL_NEG;
  const l = loadAt();
  // A symlink's target is at most PATH_MAX - 1 bytes on Linux; one more byte
  // tells truncation apart.
  const buf = Buffer.alloc(4097);
  const n = Number(l.readlinkat(dirfd, path, buf, buf.length));
  if (n < 0) return negErrno();
  if (n >= buf.length) return -36; // ENAMETOOLONG
  return buf.subarray(0, n);
}

export function mkdirat(dirfd: number, path: string, mode: number): number {
  if (hasNul(path)) return EINVAL_NEG;
  return check(loadAt().mkdirat(dirfd, path, mode >>> 0));
}

/** flags: 0 or AT_REMOVEDIR. */
export function unlinkat(dirfd: number, path: string, flags: number): number {
  if (hasNul(path)) return EINVAL_NEG;
  return check(loadAt().unlinkat(dirfd, path, flags));
}

export function renameat(oldDirfd: number, oldPath: string, newDirfd: number, newPath: string): number {
  if (hasNul(oldPath, newPath)) return EINVAL_NEG;
  return check(loadAt().renameat(oldDirfd, oldPath, newDirfd, newPath));
}

/** renameat2(2); flags RENAME_NOREPLACE (1) / RENAME_EXCHANGE (2) are the same on every architecture. */
export function renameat2(oldDirfd: number, oldPath: string, newDirfd: number, newPath: string, flags: number): number {
  if (hasNul(oldPath, newPath)) return EINVAL_NEG;
  return check(loadAt().renameat2(oldDirfd, oldPath, newDirfd, newPath, flags >>> 0));
}

/** mknodat(2): `mode` holds the type (S_IFIFO...) and permission bits. */
export function mknodat(dirfd: number, path: string, mode: number, dev: bigint): number {
  if (hasNul(path)) return EINVAL_NEG;
  return check(loadAt().mknodat(dirfd, path, mode >>> 0, dev));
}

/** fallocate(2) on a host fd. */
export function fallocate(fd: number, mode: number, offset: number, len: number): number {
  if (!Number.isSafeInteger(offset) || !Number.isSafeInteger(len) || offset < 0 || len <= 0) return EINVAL_NEG;
  return check(loadAt().fallocate(fd, mode, BigInt(offset), BigInt(len)));
}

export function fdatasync(fd: number): number {
  return check(loadAt().fdatasync(fd));
}

export function symlinkat(target: string, dirfd: number, path: string): number {
  if (hasNul(target, path)) return EINVAL_NEG;
  return check(loadAt().symlinkat(target, dirfd, path));
}

/** flags: AT_SYMLINK_FOLLOW and/or AT_EMPTY_PATH. */
export function linkat(oldDirfd: number, oldPath: string, newDirfd: number, newPath: string, flags: number): number {
  if (hasNul(oldPath, newPath)) return EINVAL_NEG;
  return check(loadAt().linkat(oldDirfd, oldPath, newDirfd, newPath, flags));
}

/** fchmodat(2); note glibc refuses AT_SYMLINK_NOFOLLOW here on most kernels. */
export function fchmodat(dirfd: number, path: string, mode: number, flags: number): number {
  if (hasNul(path)) return EINVAL_NEG;
  return check(loadAt().fchmodat(dirfd, path, mode >>> 0, flags));
}

/** fchownat(2); uid or gid -1 leaves it unchanged. */
export function fchownat(dirfd: number, path: string, uid: number, gid: number, flags: number): number {
  if (hasNul(path)) return EINVAL_NEG;
  return check(loadAt().fchownat(dirfd, path, uid >>> 0, gid >>> 0, flags));
}

/** A timestamp for utimensat: [sec, nsec], or UTIME_NOW / UTIME_OMIT. */
export type TimeSpec = [number, number] | 'now' | 'omit';

/** struct timespec[2] for utimensat. */
function encodeTimes(times: [TimeSpec, TimeSpec]): Buffer {
  const ts = Buffer.alloc(32);
  times.forEach((t, i) => {
    const sec = typeof t === 'string' ? 0 : t[0];
    const nsec = t === 'now' ? UTIME_NOW : t === 'omit' ? UTIME_OMIT : t[1];
    ts.writeBigInt64LE(BigInt(Math.trunc(sec)), i * 16);
    ts.writeBigInt64LE(BigInt(Math.trunc(nsec)), i * 16 + 8);
  });
  return ts;
}

/** utimensat(2) with [atime, mtime]. */
export function utimensat(dirfd: number, path: string, times: [TimeSpec, TimeSpec], flags: number): number {
  if (hasNul(path)) return EINVAL_NEG;
  return check(loadAt().utimensat(dirfd, path, encodeTimes(times), flags));
}

/** futimens(3): the times of an open fd. */
export function futimens(fd: number, times: [TimeSpec, TimeSpec]): number {
  return check(loadAt().futimens(fd, encodeTimes(times)));
}

export function ftruncate(fd: number, length: number): number {
  if (!Number.isSafeInteger(length) || length < 0) return EINVAL_NEG;
  return check(loadAt().ftruncate(fd, BigInt(length)));
}

/** struct statfs, as fstatfs(2) fills it on 64-bit Linux. */
export interface HostStatFs {
  type: number;
  bsize: number;
  blocks: number;
  bfree: number;
  bavail: number;
  files: number;
  ffree: number;
  namelen: number;
  frsize: number;
  flags: number;
}

/** fstatfs(2); works on O_PATH fds. Assumes a 64-bit host (x86_64, arm64, riscv64). */
export function fstatfs(fd: number): HostStatFs | number {
  const b = Buffer.alloc(120);
  const r = loadAt().fstatfs(fd, b);
  if (r < 0) return negErrno();
  const u = (off: number) => Number(b.readBigUInt64LE(off));
  // f_type, f_bsize, f_blocks, f_bfree, f_bavail, f_files, f_ffree, f_fsid[2], f_namelen, f_frsize, f_flags
  return {
    type: u(0),
    bsize: u(8),
    blocks: u(16),
    bfree: u(24),
    bavail: u(32),
    files: u(40),
    ffree: u(48),
    namelen: u(64),
    frsize: u(72),
    flags: u(80),
  };
}

/** getdents64(2) into `buf`: bytes filled (0 at the end), or a negative errno. */
export function getdents64(fd: number, buf: Buffer): number {
  const r = Number(loadAt().getdents64(fd, buf, buf.length));
  return r < 0 ? negErrno() : r;
}

/** lseek(2) with a 64-bit offset: the new offset, or a negative errno (as a number). */
export function lseek(fd: number, offset: bigint, whence: number): bigint | number {
  const r = BigInt(loadAt().lseek(fd, offset, whence));
  return r < 0n ? negErrno() : r;
}

/** One record of getdents64's output (struct linux_dirent64). */
export interface HostDirent {
  ino: bigint;
  /** d_off: the directory position after this entry (an opaque cookie, up to 63 bits). */
  off: bigint;
  type: number;
  /** The name's raw bytes. */
  name: Buffer;
}

/** Splits the first `len` bytes of a getdents64 buffer into records. */
export function parseDirents(buf: Buffer, len: number): HostDirent[] {
  const out: HostDirent[] = [];
  let p = 0;
  while (p + 19 <= len) {
    const reclen = buf.readUInt16LE(p + 16);
    if (reclen < 19 || p + reclen > len) break;
    const nameEnd = buf.indexOf(0, p + 19);
    const end = nameEnd < 0 || nameEnd > p + reclen ? p + reclen : nameEnd;
    out.push({
      ino: buf.readBigUInt64LE(p),
      off: buf.readBigInt64LE(p + 8),
      type: buf.readUInt8(p + 18),
      name: Buffer.from(buf.subarray(p + 19, end)),
    });
    p += reclen;
  }
  return out;
}

/** fcntl(F_DUPFD_CLOEXEC): a new fd for the same open file, or a negative errno. */
export function dupCloexec(fd: number): number {
  const F_DUPFD_CLOEXEC = 1030;
  return check(load().fcntl(fd, F_DUPFD_CLOEXEC, 'int', 3));
}

// ---- terminals and fd passing (the console: `tsvisor run` with a terminal, --console-socket) ----

interface TermLib {
  ioctl: (...args: unknown[]) => number;
  tcgetattr: Fn;
  tcsetattr: Fn;
  cfmakeraw: Fn;
  posixOpenpt: Fn;
  grantpt: Fn;
  unlockpt: Fn;
  ptsnameR: Fn;
  connect: Fn;
  sendmsg: Fn;
}

let termLib: TermLib | undefined;

function loadTerm(): TermLib {
  if (termLib) return termLib;
  const c = koffi.load('libc.so.6');
  const iovec = koffi.struct('tsv_iovec', { iov_base: 'void *', iov_len: 'size_t' });
  koffi.struct('tsv_msghdr', { msg_name: 'void *', msg_namelen: 'uint32_t', msg_iov: koffi.pointer(iovec), msg_iovlen: 'size_t', msg_control: 'void *', msg_controllen: 'size_t', msg_flags: 'int' });
  termLib = {
    ioctl: c.func('int ioctl(int, unsigned long, ...)'),
    tcgetattr: c.func('int tcgetattr(int, void *)'),
    tcsetattr: c.func('int tcsetattr(int, int, void *)'),
    cfmakeraw: c.func('void cfmakeraw(void *)'),
    posixOpenpt: c.func('int posix_openpt(int)'),
    grantpt: c.func('int grantpt(int)'),
    unlockpt: c.func('int unlockpt(int)'),
    ptsnameR: c.func('int ptsname_r(int, void *, size_t)'),
    connect: c.func('int connect(int, void *, uint32_t)'),
    sendmsg: c.func('long sendmsg(int, const tsv_msghdr *, int)'),
  } as unknown as TermLib;
  return termLib;
}

/** glibc's struct termios is 60 bytes on x86_64 and aarch64; held opaque. */
const HOST_TERMIOS_SIZE = 64;
const HOST_TIOCGWINSZ = 0x5413;
const HOST_TIOCSWINSZ = 0x5414;
const HOST_TIOCSCTTY = 0x540e;
export const TCSANOW = 0;
export const TCSADRAIN = 1;

/** tcgetattr(3): the host terminal's settings (opaque bytes for setTerminalAttr), or a negative errno (ENOTTY: not a terminal). */
export function getTerminalAttr(fd: number): Buffer | number {
  const b = Buffer.alloc(HOST_TERMIOS_SIZE);
  return loadTerm().tcgetattr(fd, b) < 0 ? negErrno() : b;
}

/** tcsetattr(3) with settings from getTerminalAttr (or rawTerminalAttr). */
export function setTerminalAttr(fd: number, attr: Buffer, when = TCSANOW): number {
  return loadTerm().tcsetattr(fd, when, attr) < 0 ? negErrno() : 0;
}

/** cfmakeraw(3) applied to a copy of `attr`: no echo, no line editing, no signals, no output processing. */
export function rawTerminalAttr(attr: Buffer): Buffer {
  const b = Buffer.from(attr);
  loadTerm().cfmakeraw(b);
  return b;
}

/** TIOCGWINSZ: the terminal's rows and columns, or a negative errno. */
export function terminalSize(fd: number): { rows: number; cols: number } | number {
  const b = Buffer.alloc(8);
  if (loadTerm().ioctl(fd, HOST_TIOCGWINSZ, 'void *', b) < 0) return negErrno();
  return { rows: b.readUInt16LE(0), cols: b.readUInt16LE(2) };
}

/** TIOCSWINSZ (on a pty master or terminal). */
export function setTerminalSize(fd: number, rows: number, cols: number): number {
  const b = Buffer.alloc(8);
  b.writeUInt16LE(rows, 0);
  b.writeUInt16LE(cols, 2);
  return loadTerm().ioctl(fd, HOST_TIOCSWINSZ, 'void *', b) < 0 ? negErrno() : 0;
}

/** TIOCSCTTY(0): make terminal `fd` the calling session leader's controlling terminal. */
export function setControllingTerminal(fd: number): number {
  return loadTerm().ioctl(fd, HOST_TIOCSCTTY, 'int', 0) < 0 ? negErrno() : 0;
}

const O_RDWR_HOST = 2;
const O_NOCTTY_HOST = 0o400;

/** A new host pseudo-terminal: the master fd (close-on-exec) and the slave's path, or a negative errno. */
export function openPty(): { master: number; slavePath: string } | number {
  const l = loadTerm();
  const m = l.posixOpenpt(O_RDWR_HOST | O_NOCTTY_HOST | O_CLOEXEC);
  if (m < 0) return negErrno();
  const name = Buffer.alloc(128);
  let e = l.grantpt(m) < 0 || l.unlockpt(m) < 0 ? negErrno() : 0;
  if (e === 0) e = -l.ptsnameR(m, name, name.length); // ptsname_r returns the errno
  if (e !== 0) {
    closeFd(m);
    return e;
  }
  return { master: m, slavePath: name.toString('utf8', 0, name.indexOf(0)) };
}

/** A unix stream socket connected to `path` (close-on-exec), or a negative errno. */
export function connectUnixSocket(path: string): number {
  return unixSocketAt(path, (fd, addr, len) => loadTerm().connect(fd, addr, len));
}

const SOL_SOCKET_HOST = 1;
const SCM_RIGHTS = 1;

/**
 * sendmsg(2) of `data` (at least one byte) with `fd` attached (SCM_RIGHTS):
 * how runc's --console-socket hands the pty master over. Bytes sent, or a
 * negative errno.
 */
export function sendFd(sock: number, fd: number, data: Buffer): number {
  if (data.length === 0) return -22;
  // struct cmsghdr { size_t len; int level; int type; } + one int: CMSG_LEN(4) = 20, CMSG_SPACE(4) = 24.
  const control = Buffer.alloc(24);
  control.writeBigUInt64LE(20n, 0);
  control.writeInt32LE(SOL_SOCKET_HOST, 8);
  control.writeInt32LE(SCM_RIGHTS, 12);
  control.writeInt32LE(fd, 16);
  const msg = { msg_name: null, msg_namelen: 0, msg_iov: { iov_base: data, iov_len: data.length }, msg_iovlen: 1, msg_control: control, msg_controllen: control.length, msg_flags: 0 };
  const r = Number(loadTerm().sendmsg(sock, msg, 0));
  return r < 0 ? negErrno() : r;
}
