// Host files: openat2 and the *at family, statfs, directory reading, and the
// plain fd calls (close, pipe2, dup, FD_CLOEXEC, poll) that Node's fs lacks.
// The direct-mode backend (src/fs-gofer) confines itself with these.
//
// Every path argument is a single C string: a JS string holding NUL would be
// cut short by the conversion, so each function refuses one with -EINVAL
// before calling into libc. Open flags are the HOST's values (HOST below);
// callers translate the guest's riscv64 (asm-generic) flags themselves. The
// AT_*, UTIME_*, SEEK_*, F_* and POLL* values are the same on every Linux
// architecture this runs on, so they come from src/linux/abi.ts.

import { AT_EMPTY_PATH, AT_FDCWD, AT_REMOVEDIR, AT_SYMLINK_FOLLOW, AT_SYMLINK_NOFOLLOW, FD_CLOEXEC, F_DUPFD_CLOEXEC, F_GETFD, F_SETFD, POLLERR, POLLHUP, POLLIN, POLLOUT, SEEK_SET, UTIME_NOW, UTIME_OMIT, type Statfs } from '../linux/abi.js';
import { bindLazily, check, EINVAL_NEG, ENAMETOOLONG_NEG, hasNul, negErrno, type Fn } from './libc.js';

export { AT_EMPTY_PATH, AT_FDCWD, AT_REMOVEDIR, AT_SYMLINK_FOLLOW, AT_SYMLINK_NOFOLLOW, SEEK_SET, UTIME_NOW, UTIME_OMIT };

interface FileLib {
  openat2: (dirfd: unknown, path: unknown, how: unknown) => number;
  openat: Fn;
  close: Fn;
  pipe2: Fn;
  fcntl: Fn;
  flock: Fn;
  poll: Fn;
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

const lib = bindLazily((c): FileLib => {
  // glibc 2.36 has no openat2 wrapper: go through syscall(2) (437 on x86_64 and aarch64).
  const syscall4 = c.func('long syscall(long, int, const char *, void *, size_t)');
  return {
    openat2: (dirfd: unknown, path: unknown, how: unknown) => Number(syscall4(437, dirfd, path, how, 24)),
    openat: c.func('int openat(int, const char *, int, ...)'),
    close: c.func('int close(int)'),
    pipe2: c.func('int pipe2(_Out_ int *fds, int flags)'),
    fcntl: c.func('int fcntl(int, int, ...)'),
    flock: c.func('int flock(int, int)'),
    poll: c.func('int poll(void *, unsigned long, int)'),
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
  } as unknown as FileLib;
});

// ---- open(2) flags of the host ----

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

/** O_CLOEXEC (also SOCK_CLOEXEC), the same on every Linux architecture. */
export const O_CLOEXEC = HOST.O_CLOEXEC;
export const O_NONBLOCK = HOST.O_NONBLOCK;

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
  if (path.includes('\0')) return EINVAL_NEG; // C would cut the path short
  const how = Buffer.alloc(24);
  how.writeBigUInt64LE(BigInt(flags >>> 0), 0);
  how.writeBigUInt64LE(BigInt(mode >>> 0), 8);
  how.writeBigUInt64LE(BigInt(resolve >>> 0), 16);
  return check(lib().openat2(dirfd, path, how));
}

// ---- plain fds ----

export function closeFd(fd: number): number {
  return check(lib().close(fd));
}

/** pipe2(2): [readFd, writeFd], or a negative errno. */
export function pipe2(flags: number): [number, number] | number {
  const fds = [0, 0];
  const r = lib().pipe2(fds, flags);
  return r < 0 ? negErrno() : [fds[0], fds[1]];
}

/** Clear or set FD_CLOEXEC on a host fd. */
export function setCloexec(fd: number, on: boolean): number {
  const l = lib();
  const cur = l.fcntl(fd, F_GETFD);
  if (cur < 0) return negErrno();
  return check(l.fcntl(fd, F_SETFD, 'int', on ? cur | FD_CLOEXEC : cur & ~FD_CLOEXEC));
}

/** flock(2)'s operations (the same on every Linux architecture). */
export const LOCK_SH = 1;
export const LOCK_EX = 2;
export const LOCK_NB = 4;
export const LOCK_UN = 8;

/**
 * flock(2) on a host fd (a directory opened for reading will do): 0, or a
 * negative errno (-EWOULDBLOCK with LOCK_NB when another open file holds a
 * conflicting lock). The lock belongs to the open file: it lasts while any fd
 * for it is open, across fork and execve.
 */
export function flock(fd: number, op: number): number {
  return check(lib().flock(fd, op));
}

/** fcntl(F_DUPFD_CLOEXEC): a new fd for the same open file, or a negative errno. */
export function dupCloexec(fd: number): number {
  return check(lib().fcntl(fd, F_DUPFD_CLOEXEC, 'int', 3));
}

/**
 * poll(2) for one fd: 1 when a read would not block (data, end of file or an
 * error), 0 when it would after `timeoutMs`, or a negative errno.
 */
export function pollReadable(fd: number, timeoutMs: number): number {
  return pollOne(fd, POLLIN, timeoutMs);
}

/**
 * poll(2) for one fd: 1 when a write would not block (room for at least
 * PIPE_BUF bytes on a pipe, or an error or hang-up a write reports at once),
 * 0 when it would after `timeoutMs`, or a negative errno.
 */
export function pollWritable(fd: number, timeoutMs: number): number {
  return pollOne(fd, POLLOUT, timeoutMs);
}

function pollOne(fd: number, events: number, timeoutMs: number): number {
  const pfd = Buffer.alloc(8);
  pfd.writeInt32LE(fd, 0);
  pfd.writeInt16LE(events, 4);
  const r = lib().poll(pfd, 1, timeoutMs);
  if (r < 0) return negErrno();
  return r > 0 && (pfd.readInt16LE(6) & (events | POLLHUP | POLLERR)) !== 0 ? 1 : 0;
}

/**
 * poll(2) for many fds at once: each entry's revents (POLL* bits, the same
 * on every host architecture supported), or a negative errno.
 */
export function pollMany(entries: { fd: number; events: number }[], timeoutMs: number): number[] | number {
  const pfd = Buffer.alloc(8 * entries.length);
  entries.forEach((e, i) => {
    pfd.writeInt32LE(e.fd, 8 * i);
    pfd.writeInt16LE(e.events, 8 * i + 4);
  });
  const r = lib().poll(pfd, entries.length, timeoutMs);
  if (r < 0) return negErrno();
  return entries.map((_, i) => pfd.readUInt16LE(8 * i + 6));
}

// ---- the *at family, for the direct-mode filesystem backend ----

/** openat(2): a new fd, or a negative errno. */
export function openat(dirfd: number, path: string, flags: number, mode = 0): number {
  if (hasNul(path)) return EINVAL_NEG;
  return check(lib().openat(dirfd, path, flags, 'uint32_t', mode >>> 0));
}

/** readlinkat(2): the link's target as raw bytes, or a negative errno. */
export function readlinkat(dirfd: number, path: string): Buffer | number {
  if (hasNul(path)) return EINVAL_NEG;
  const l = lib();
  // A symlink's target is at most PATH_MAX - 1 bytes on Linux; one more byte
  // tells truncation apart.
  const buf = Buffer.alloc(4097);
  const n = Number(l.readlinkat(dirfd, path, buf, buf.length));
  if (n < 0) return negErrno();
  if (n >= buf.length) return ENAMETOOLONG_NEG;
  return buf.subarray(0, n);
}

export function mkdirat(dirfd: number, path: string, mode: number): number {
  if (hasNul(path)) return EINVAL_NEG;
  return check(lib().mkdirat(dirfd, path, mode >>> 0));
}

/** flags: 0 or AT_REMOVEDIR. */
export function unlinkat(dirfd: number, path: string, flags: number): number {
  if (hasNul(path)) return EINVAL_NEG;
  return check(lib().unlinkat(dirfd, path, flags));
}

export function renameat(oldDirfd: number, oldPath: string, newDirfd: number, newPath: string): number {
  if (hasNul(oldPath, newPath)) return EINVAL_NEG;
  return check(lib().renameat(oldDirfd, oldPath, newDirfd, newPath));
}

/** renameat2(2); flags RENAME_NOREPLACE (1) / RENAME_EXCHANGE (2) are the same on every architecture. */
export function renameat2(oldDirfd: number, oldPath: string, newDirfd: number, newPath: string, flags: number): number {
  if (hasNul(oldPath, newPath)) return EINVAL_NEG;
  return check(lib().renameat2(oldDirfd, oldPath, newDirfd, newPath, flags >>> 0));
}

/** mknodat(2): `mode` holds the type (S_IFIFO...) and permission bits. */
export function mknodat(dirfd: number, path: string, mode: number, dev: bigint): number {
  if (hasNul(path)) return EINVAL_NEG;
  return check(lib().mknodat(dirfd, path, mode >>> 0, dev));
}

/** fallocate(2) on a host fd. */
export function fallocate(fd: number, mode: number, offset: number, len: number): number {
  if (!Number.isSafeInteger(offset) || !Number.isSafeInteger(len) || offset < 0 || len <= 0) return EINVAL_NEG;
  return check(lib().fallocate(fd, mode, BigInt(offset), BigInt(len)));
}

export function fdatasync(fd: number): number {
  return check(lib().fdatasync(fd));
}

export function symlinkat(target: string, dirfd: number, path: string): number {
  if (hasNul(target, path)) return EINVAL_NEG;
  return check(lib().symlinkat(target, dirfd, path));
}

/** flags: AT_SYMLINK_FOLLOW and/or AT_EMPTY_PATH. */
export function linkat(oldDirfd: number, oldPath: string, newDirfd: number, newPath: string, flags: number): number {
  if (hasNul(oldPath, newPath)) return EINVAL_NEG;
  return check(lib().linkat(oldDirfd, oldPath, newDirfd, newPath, flags));
}

/** fchmodat(2); note glibc refuses AT_SYMLINK_NOFOLLOW here on most kernels. */
export function fchmodat(dirfd: number, path: string, mode: number, flags: number): number {
  if (hasNul(path)) return EINVAL_NEG;
  return check(lib().fchmodat(dirfd, path, mode >>> 0, flags));
}

/** fchownat(2); uid or gid -1 leaves it unchanged. */
export function fchownat(dirfd: number, path: string, uid: number, gid: number, flags: number): number {
  if (hasNul(path)) return EINVAL_NEG;
  return check(lib().fchownat(dirfd, path, uid >>> 0, gid >>> 0, flags));
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
  return check(lib().utimensat(dirfd, path, encodeTimes(times), flags));
}

/** futimens(3): the times of an open fd. */
export function futimens(fd: number, times: [TimeSpec, TimeSpec]): number {
  return check(lib().futimens(fd, encodeTimes(times)));
}

export function ftruncate(fd: number, length: number): number {
  if (!Number.isSafeInteger(length) || length < 0) return EINVAL_NEG;
  return check(lib().ftruncate(fd, BigInt(length)));
}

// ---- statfs ----

/** fstatfs(2); works on O_PATH fds. Assumes a 64-bit host (x86_64, arm64, riscv64). */
export function fstatfs(fd: number): Statfs | number {
  const b = Buffer.alloc(120);
  const r = lib().fstatfs(fd, b);
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

// ---- directories ----

/** getdents64(2) into `buf`: bytes filled (0 at the end), or a negative errno. */
export function getdents64(fd: number, buf: Buffer): number {
  const r = Number(lib().getdents64(fd, buf, buf.length));
  return r < 0 ? negErrno() : r;
}

/** lseek(2) with a 64-bit offset: the new offset, or a negative errno (as a number). */
export function lseek(fd: number, offset: bigint, whence: number): bigint | number {
  const r = BigInt(lib().lseek(fd, offset, whence));
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
