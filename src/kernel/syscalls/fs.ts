// File system calls: opening, reading, writing, stat, directories, fds.

import * as abi from '../abi.js';
import {
  EBADF, EEXIST, EFAULT, EINVAL, EISDIR, ELOOP, ENOENT, ENOTDIR, ERANGE, EACCES, ENOTTY, Errno, isErrno,
} from '../errno.js';
import { File } from '../files/file.js';
import type { Dentry } from '../vfs/inode.js';
import type { Attr } from '../vfs/backend.js';
import { StructWriter, type IoVec } from '../usercopy.js';
import type { Process } from '../task.js';
import { SysCtx, SysResult } from './context.js';
import { PAGE_W } from '../../vcpu/memory.js';

// ---- path helpers shared by the *at() calls ----

/** The directory a relative path starts from: the cwd, or the directory open at `dirfd`. */
export function startDir(proc: Process, dirfd: number): Dentry | Errno {
  if (dirfd === abi.AT_FDCWD) return proc.cwd;
  const f = proc.fds.get(dirfd);
  if (isErrno(f)) return f;
  if (!f.dentry) return ENOTDIR;
  if (!f.dentry.inode.isDir) return ENOTDIR;
  return f.dentry;
}

/** Resolve (dirfd, path) as the *at() calls do, honouring AT_EMPTY_PATH. */
export async function resolveAt(c: SysCtx, dirfd: number, pathAddr: number, flags: number, followDefault = true): Promise<Dentry | File | Errno> {
  const path = c.user.readCString(pathAddr);
  if (isErrno(path)) return path;
  if (path === '') {
    if (!(flags & abi.AT_EMPTY_PATH)) return ENOENT;
    if (dirfd === abi.AT_FDCWD) return c.proc.cwd;
    return c.proc.fds.get(dirfd);
  }
  const start = path.startsWith('/') ? c.proc.root : startDir(c.proc, dirfd);
  if (isErrno(start)) return start;
  const follow = followDefault ? !(flags & abi.AT_SYMLINK_NOFOLLOW) : (flags & abi.AT_SYMLINK_FOLLOW) !== 0;
  return c.kernel.vfs.resolve(c.proc.root, start, path, { followLast: follow, caller: c.proc });
}

/** May a process with ids `cr` access a file with `attr` for `mask` (R_OK|W_OK|X_OK)? */
export function permitted(cr: { euid: number; egid: number; groups: number[] }, attr: Attr, mask: number): boolean {
  if (cr.euid === 0) return (mask & abi.X_OK) === 0 || (attr.mode & 0o111) !== 0 || (attr.mode & abi.S_IFMT) === abi.S_IFDIR;
  let bits: number;
  if (cr.euid === attr.uid) bits = (attr.mode >> 6) & 7;
  else if (cr.egid === attr.gid || cr.groups.includes(attr.gid)) bits = (attr.mode >> 3) & 7;
  else bits = attr.mode & 7;
  return (bits & mask) === mask;
}

function accessMask(flags: number): number {
  const acc = flags & abi.O_ACCMODE;
  let m = 0;
  if (acc === abi.O_RDONLY || acc === abi.O_RDWR) m |= abi.R_OK;
  if (acc === abi.O_WRONLY || acc === abi.O_RDWR || flags & abi.O_TRUNC) m |= abi.W_OK;
  return m;
}

/** openat(2) for `proc`: the new File (not yet installed). */
export async function openPath(c: SysCtx, dirfd: number, path: string, flags: number, mode: number): Promise<File | Errno> {
  const proc = c.proc;
  if (path === '') return ENOENT;
  if ((flags & abi.O_TMPFILE) === abi.O_TMPFILE) return Errno.of(95); // EOPNOTSUPP until tmpfs (issue 4)
  const start = path.startsWith('/') ? proc.root : startDir(proc, dirfd);
  if (isErrno(start)) return start;
  const vfs = c.kernel.vfs;
  let dentry: Dentry | Errno;
  if (flags & abi.O_CREAT) {
    const pn = await vfs.resolveParent(proc.root, start, path, proc);
    if (isErrno(pn)) return pn;
    if (pn.name === '' || pn.trailingSlash) return EISDIR;
    const existing = await vfs.lookup(pn.dir, pn.name, proc);
    if (isErrno(existing)) {
      if (existing !== ENOENT) return existing;
      const dattr = await pn.dir.inode.getattr();
      if (isErrno(dattr)) return dattr;
      if (!permitted(proc.creds, dattr, abi.W_OK | abi.X_OK)) return EACCES;
      const fullPath = (pn.dir.path() === '/' ? '' : pn.dir.path()) + '/' + pn.name;
      const f = await pn.dir.inode.create(pn.name, flags, mode & 0o7777 & ~proc.umask, { uid: proc.creds.euid, gid: proc.creds.egid, groups: proc.creds.groups }, fullPath);
      if (isErrno(f)) return f;
      pn.dir.forget(pn.name);
      const d = await vfs.lookup(pn.dir, pn.name);
      if (!isErrno(d)) f.dentry = d;
      return f;
    }
    if (flags & abi.O_EXCL) return EEXIST;
    dentry = await vfs.resolve(proc.root, start, path, { followLast: !(flags & abi.O_NOFOLLOW), caller: proc });
  } else {
    dentry = await vfs.resolve(proc.root, start, path, { followLast: !(flags & abi.O_NOFOLLOW), caller: proc });
  }
  if (isErrno(dentry)) return dentry;
  const type = dentry.inode.type;
  if (type === abi.S_IFLNK && !(flags & abi.O_PATH)) return ELOOP;
  if (flags & abi.O_DIRECTORY && type !== abi.S_IFDIR) return ENOTDIR;
  if (type === abi.S_IFDIR && (flags & abi.O_ACCMODE) !== abi.O_RDONLY) return EISDIR;
  if (!(flags & abi.O_PATH)) {
    const attr = await dentry.inode.getattr();
    if (isErrno(attr)) return attr;
    if (!permitted(proc.creds, attr, accessMask(flags))) return EACCES;
  }
  const f = flags & abi.O_PATH ? new PathFile(dentry, flags) : await dentry.inode.open(flags, dentry.path());
  if (isErrno(f)) return f;
  f.dentry = dentry;
  return f;
}

/** An O_PATH file: names a file for *at() calls and fstat, nothing more. */
class PathFile extends File {
  constructor(
    readonly target: Dentry,
    flags: number,
  ) {
    super(flags, target.path());
  }
  override read(): Errno {
    return EBADF;
  }
  override write(): Errno {
    return EBADF;
  }
  getattr() {
    return this.target.inode.getattr();
  }
}

// ---- stat ----

export function encodeStat(a: Attr): Uint8Array {
  const S = abi.STAT;
  return new StructWriter(S.size)
    .u64(S.st_dev, a.dev)
    .u64(S.st_ino, a.ino)
    .u32(S.st_mode, a.mode)
    .u32(S.st_nlink, a.nlink)
    .u32(S.st_uid, a.uid)
    .u32(S.st_gid, a.gid)
    .u64(S.st_rdev, a.rdev)
    .u64(S.st_size, a.size)
    .i32(S.st_blksize, a.blksize)
    .u64(S.st_blocks, a.blocks)
    .u64(S.st_atime, a.atimeSec)
    .u64(S.st_atime_nsec, a.atimeNsec)
    .u64(S.st_mtime, a.mtimeSec)
    .u64(S.st_mtime_nsec, a.mtimeNsec)
    .u64(S.st_ctime, a.ctimeSec)
    .u64(S.st_ctime_nsec, a.ctimeNsec).bytes;
}

function encodeStatx(a: Attr): Uint8Array {
  const X = abi.STATX;
  const devMajor = Number((a.dev >> 8n) & 0xfffn);
  const devMinor = Number((a.dev & 0xffn) | ((a.dev >> 12n) & 0xfff00n));
  const w = new StructWriter(X.size)
    .u32(X.stx_mask, abi.STATX_BASIC_STATS)
    .u32(X.stx_blksize, a.blksize)
    .u32(X.stx_nlink, a.nlink)
    .u32(X.stx_uid, a.uid)
    .u32(X.stx_gid, a.gid)
    .u16(X.stx_mode, a.mode & 0xffff)
    .u64(X.stx_ino, a.ino)
    .u64(X.stx_size, a.size)
    .u64(X.stx_blocks, a.blocks)
    .u64(X.stx_atime, a.atimeSec)
    .u32(X.stx_atime + 8, a.atimeNsec)
    .u64(X.stx_ctime, a.ctimeSec)
    .u32(X.stx_ctime + 8, a.ctimeNsec)
    .u64(X.stx_mtime, a.mtimeSec)
    .u32(X.stx_mtime + 8, a.mtimeNsec)
    .u32(X.stx_rdev_major, Number((a.rdev >> 8n) & 0xfffn))
    .u32(X.stx_rdev_minor, Number((a.rdev & 0xffn) | ((a.rdev >> 12n) & 0xfff00n)))
    .u32(X.stx_dev_major, devMajor)
    .u32(X.stx_dev_minor, devMinor);
  return w.bytes;
}

async function attrOf(target: Dentry | File): Promise<Attr | Errno> {
  return target instanceof File ? target.getattr() : target.inode.getattr();
}

// ---- handlers ----

export async function sys_openat(c: SysCtx): Promise<SysResult> {
  const path = c.user.readCString(c.u(1));
  if (isErrno(path)) return path;
  // A 64-bit kernel opens every file with O_LARGEFILE (force_o_largefile).
  const flags = c.i32(2) | abi.O_LARGEFILE;
  const f = await openPath(c, c.i32(0), path, flags, c.u32(3));
  if (isErrno(f)) return f;
  return c.proc.fds.install(f, (flags & abi.O_CLOEXEC) !== 0);
}

export function sys_close(c: SysCtx): SysResult | Promise<SysResult> {
  return c.proc.fds.close(c.i32(0));
}

export function sys_read(c: SysCtx): SysResult | Promise<SysResult> {
  const f = c.proc.fds.get(c.i32(0));
  if (isErrno(f)) return f;
  const bad = File.checkReadable(f);
  if (bad) return bad;
  const addr = c.u(1);
  const len = Math.min(c.u(2), abi.MAX_RW_COUNT);
  if (len === 0) return 0;
  if (!c.user.mem.accessible(addr, len, PAGE_W)) return EFAULT;
  return settle(f.read(len), (data) => copyData(c, addr, data));
}

export function sys_pread64(c: SysCtx): SysResult | Promise<SysResult> {
  const f = c.proc.fds.get(c.i32(0));
  if (isErrno(f)) return f;
  const bad = File.checkReadable(f);
  if (bad) return bad;
  const addr = c.u(1);
  const len = Math.min(c.u(2), abi.MAX_RW_COUNT);
  const off = c.s(3);
  if (off < 0) return EINVAL;
  if (!c.user.mem.accessible(addr, len, PAGE_W)) return EFAULT;
  return settle(f.pread(len, off), (data) => copyData(c, addr, data));
}

function copyData(c: SysCtx, addr: number, data: Uint8Array): SysResult {
  const r = c.user.copyOut(addr, data);
  return isErrno(r) ? r : data.length;
}

export function sys_write(c: SysCtx): SysResult | Promise<SysResult> {
  const f = c.proc.fds.get(c.i32(0));
  if (isErrno(f)) return f;
  const bad = File.checkWritable(f);
  if (bad) return bad;
  const len = Math.min(c.u(2), abi.MAX_RW_COUNT);
  if (len === 0) return 0;
  const data = c.user.copyIn(c.u(1), len);
  if (isErrno(data)) return data;
  return f.write(data);
}

export function sys_pwrite64(c: SysCtx): SysResult | Promise<SysResult> {
  const f = c.proc.fds.get(c.i32(0));
  if (isErrno(f)) return f;
  const bad = File.checkWritable(f);
  if (bad) return bad;
  const off = c.s(3);
  if (off < 0) return EINVAL;
  const data = c.user.copyIn(c.u(1), Math.min(c.u(2), abi.MAX_RW_COUNT));
  if (isErrno(data)) return data;
  return f.pwrite(data, off);
}

export async function sys_readv(c: SysCtx): Promise<SysResult> {
  return readVector(c, undefined);
}

export async function sys_preadv(c: SysCtx): Promise<SysResult> {
  const off = c.s(3);
  return off < 0 ? EINVAL : readVector(c, off);
}

/** The file of fd a0 (checked readable or writable) and the iovecs at a1/a2: what every *v() call starts with. */
function vectorArgs(c: SysCtx, check: (f: File) => Errno | undefined): { f: File; iov: IoVec[] } | Errno {
  const f = c.proc.fds.get(c.i32(0));
  if (isErrno(f)) return f;
  const bad = check(f);
  if (bad) return bad;
  const iov = c.user.readIovecs(c.u(1), c.i32(2));
  return isErrno(iov) ? iov : { f, iov };
}

async function readVector(c: SysCtx, offset: number | undefined): Promise<SysResult> {
  const args = vectorArgs(c, File.checkReadable);
  if (isErrno(args)) return args;
  const { f, iov } = args;
  let total = 0;
  for (const v of iov) {
    if (v.len === 0) continue;
    if (!c.user.mem.accessible(v.base, v.len, PAGE_W)) return total > 0 ? total : EFAULT;
    const data = await (offset === undefined ? f.read(v.len) : f.pread(v.len, offset + total));
    if (isErrno(data)) return total > 0 ? total : data;
    const w = c.user.copyOut(v.base, data);
    if (isErrno(w)) return total > 0 ? total : w;
    total += data.length;
    if (data.length < v.len) break;
  }
  return total;
}

export async function sys_writev(c: SysCtx): Promise<SysResult> {
  return writeVector(c, undefined);
}

export async function sys_pwritev(c: SysCtx): Promise<SysResult> {
  const off = c.s(3);
  return off < 0 ? EINVAL : writeVector(c, off);
}

async function writeVector(c: SysCtx, offset: number | undefined): Promise<SysResult> {
  const args = vectorArgs(c, File.checkWritable);
  if (isErrno(args)) return args;
  const { f, iov } = args;
  // Gather first, then write once: a writev is one write to a pipe or terminal.
  const parts: Uint8Array[] = [];
  for (const v of iov) {
    const d = c.user.copyIn(v.base, v.len);
    if (isErrno(d)) return d;
    parts.push(d);
  }
  const data = Buffer.concat(parts);
  if (data.length === 0) return 0;
  return offset === undefined ? f.write(data) : f.pwrite(data, offset);
}

export function sys_lseek(c: SysCtx): SysResult | Promise<SysResult> {
  const f = c.proc.fds.get(c.i32(0));
  if (isErrno(f)) return f;
  const whence = c.i32(2);
  if (whence < abi.SEEK_SET || whence > abi.SEEK_HOLE) return EINVAL;
  return f.lseek(c.s(1), whence);
}

/** The stat family's tail: attributes of `target`, encoded, copied out to `addr`. */
async function statOut(c: SysCtx, target: Dentry | File | Errno, addr: number, encode: (a: Attr) => Uint8Array): Promise<SysResult> {
  if (isErrno(target)) return target;
  const a = await attrOf(target);
  if (isErrno(a)) return a;
  const r = c.user.copyOut(addr, encode(a));
  return isErrno(r) ? r : 0;
}

export function sys_fstat(c: SysCtx): Promise<SysResult> {
  return statOut(c, c.proc.fds.get(c.i32(0)), c.u(1), encodeStat);
}

export async function sys_newfstatat(c: SysCtx): Promise<SysResult> {
  const flags = c.i32(3);
  if (flags & ~(abi.AT_SYMLINK_NOFOLLOW | abi.AT_EMPTY_PATH | abi.AT_NO_AUTOMOUNT)) return EINVAL;
  return statOut(c, await resolveAt(c, c.i32(0), c.u(1), flags), c.u(2), encodeStat);
}

export async function sys_statx(c: SysCtx): Promise<SysResult> {
  const flags = c.i32(2);
  if (flags & ~(abi.AT_SYMLINK_NOFOLLOW | abi.AT_EMPTY_PATH | abi.AT_NO_AUTOMOUNT | abi.AT_STATX_SYNC_TYPE)) return EINVAL;
  if ((flags & abi.AT_STATX_SYNC_TYPE) === abi.AT_STATX_SYNC_TYPE) return EINVAL;
  return statOut(c, await resolveAt(c, c.i32(0), c.u(1), flags), c.u(4), encodeStatx);
}

export async function sys_readlinkat(c: SysCtx): Promise<SysResult> {
  const size = c.i32(3);
  if (size <= 0) return EINVAL;
  const t = await resolveAt(c, c.i32(0), c.u(1), abi.AT_SYMLINK_NOFOLLOW);
  if (isErrno(t)) return t;
  if (t instanceof File) return EINVAL;
  if (t.inode.type !== abi.S_IFLNK) return EINVAL;
  const target = await t.inode.readlink();
  if (isErrno(target)) return target;
  const bytes = Buffer.from(target, 'utf8').subarray(0, size);
  const r = c.user.copyOut(c.u(2), bytes);
  return isErrno(r) ? r : bytes.length;
}

export async function sys_faccessat(c: SysCtx, flagsArg = 0): Promise<SysResult> {
  const mode = c.i32(2);
  if (mode & ~(abi.R_OK | abi.W_OK | abi.X_OK)) return EINVAL;
  const t = await resolveAt(c, c.i32(0), c.u(1), flagsArg);
  if (isErrno(t)) return t;
  const a = await attrOf(t);
  if (isErrno(a)) return a;
  if (mode === abi.F_OK) return 0;
  // access(2) checks with the real ids unless AT_EACCESS.
  const cr = c.proc.creds;
  const ids = flagsArg & abi.AT_EACCESS ? cr : { ...cr, euid: cr.ruid, egid: cr.rgid };
  return permitted(ids, a, mode) ? 0 : EACCES;
}

export function sys_faccessat2(c: SysCtx): Promise<SysResult> {
  const flags = c.i32(3);
  if (flags & ~(abi.AT_EACCESS | abi.AT_SYMLINK_NOFOLLOW | abi.AT_EMPTY_PATH)) return Promise.resolve(EINVAL);
  return sys_faccessat(c, flags);
}

export function sys_getcwd(c: SysCtx): SysResult {
  const path = Buffer.from(c.proc.cwd.path() + '\0', 'utf8');
  const size = c.u(1);
  if (size < path.length) return ERANGE;
  const r = c.user.copyOut(c.u(0), path);
  return isErrno(r) ? r : path.length;
}

export async function sys_chdir(c: SysCtx): Promise<SysResult> {
  const path = c.user.readCString(c.u(0));
  if (isErrno(path)) return path;
  const d = await c.kernel.vfs.resolve(c.proc.root, c.proc.cwd, path, { followLast: true, caller: c.proc });
  if (isErrno(d)) return d;
  if (!d.inode.isDir) return ENOTDIR;
  c.proc.cwd = d;
  return 0;
}

export function sys_fchdir(c: SysCtx): SysResult {
  const f = c.proc.fds.get(c.i32(0));
  if (isErrno(f)) return f;
  if (!f.dentry || !f.dentry.inode.isDir) return ENOTDIR;
  c.proc.cwd = f.dentry;
  return 0;
}

export function sys_dup(c: SysCtx): SysResult {
  const f = c.proc.fds.get(c.i32(0));
  if (isErrno(f)) return f;
  return c.proc.fds.install(f.ref(), false);
}

export function sys_dup3(c: SysCtx): SysResult | Promise<SysResult> {
  const oldfd = c.i32(0);
  const newfd = c.i32(1);
  const flags = c.i32(2);
  if (flags & ~abi.O_CLOEXEC) return EINVAL;
  if (oldfd === newfd) return EINVAL;
  const f = c.proc.fds.get(oldfd);
  if (isErrno(f)) return f;
  return c.proc.fds.installAt(newfd, f.ref(), (flags & abi.O_CLOEXEC) !== 0);
}

export function sys_fcntl(c: SysCtx): SysResult {
  const fd = c.i32(0);
  const cmd = c.i32(1);
  const fds = c.proc.fds;
  const f = fds.get(fd);
  if (isErrno(f)) return f;
  switch (cmd) {
    case abi.F_DUPFD:
    case abi.F_DUPFD_CLOEXEC: {
      const min = c.i32(2);
      if (min < 0 || min >= fds.limit) return EINVAL;
      return fds.install(f.ref(), cmd === abi.F_DUPFD_CLOEXEC, min);
    }
    case abi.F_GETFD:
      return fds.cloexec(fd) === true ? abi.FD_CLOEXEC : 0;
    case abi.F_SETFD:
      return fds.setCloexec(fd, (c.i32(2) & abi.FD_CLOEXEC) !== 0);
    case abi.F_GETFL:
      return f.flags & ~abi.O_CLOEXEC;
    case abi.F_SETFL:
      f.flags = (f.flags & ~abi.SETFL_MASK) | (c.i32(2) & abi.SETFL_MASK);
      return 0;
    default:
      return EINVAL;
  }
}

export function sys_ioctl(c: SysCtx): SysResult {
  const f = c.proc.fds.get(c.i32(0));
  if (isErrno(f)) return f;
  const cmd = c.u32(1);
  const arg = c.u(2);
  switch (cmd) {
    case abi.FIOCLEX:
      return c.proc.fds.setCloexec(c.i32(0), true);
    case abi.FIONCLEX:
      return c.proc.fds.setCloexec(c.i32(0), false);
    case abi.FIONBIO: {
      const v = c.user.readI32(arg);
      if (isErrno(v)) return v;
      f.flags = v ? f.flags | abi.O_NONBLOCK : f.flags & ~abi.O_NONBLOCK;
      return 0;
    }
    case abi.FIONREAD: {
      const n = f.readableBytes();
      if (isErrno(n)) return n;
      return c.user.writeU32(arg, n);
    }
  }
  const term = f.terminal();
  if (isErrno(term)) return term;
  switch (cmd) {
    case abi.TCGETS: {
      const r = c.user.copyOut(arg, term.termios());
      return isErrno(r) ? r : 0;
    }
    case abi.TCSETS:
    case abi.TCSETSW:
    case abi.TCSETSF: {
      const b = c.user.copyIn(arg, abi.TERMIOS.size);
      return isErrno(b) ? b : term.setTermios(b);
    }
    case abi.TIOCGWINSZ: {
      const r = c.user.copyOut(arg, term.winsize());
      return isErrno(r) ? r : 0;
    }
    case abi.TIOCGPGRP:
      return c.user.writeU32(arg, c.proc.pgid);
    case abi.TIOCSPGRP:
    case abi.TIOCSWINSZ:
    case abi.TIOCSCTTY:
      return 0;
    default:
      return ENOTTY;
  }
}

export async function sys_getdents64(c: SysCtx): Promise<SysResult> {
  const f = c.proc.fds.get(c.i32(0));
  if (isErrno(f)) return f;
  const addr = c.u(1);
  const size = Math.min(c.u(2), 1 << 20);
  const entries = await f.readdir(size);
  if (isErrno(entries)) return entries;
  const out = new Uint8Array(size);
  const dv = new DataView(out.buffer);
  let used = 0;
  let lastCookie: number | undefined;
  for (const e of entries) {
    const name = Buffer.from(e.name, 'utf8');
    const reclen = (abi.DIRENT64.d_name + name.length + 1 + 7) & ~7;
    if (used + reclen > size) break;
    dv.setBigUint64(used + abi.DIRENT64.d_ino, e.ino, true);
    dv.setBigInt64(used + abi.DIRENT64.d_off, BigInt(e.next), true);
    dv.setUint16(used + abi.DIRENT64.d_reclen, reclen, true);
    dv.setUint8(used + abi.DIRENT64.d_type, e.type);
    out.set(name, used + abi.DIRENT64.d_name);
    used += reclen;
    lastCookie = e.next;
  }
  if (entries.length > 0 && used === 0) return EINVAL; // buffer too small for one entry
  if (lastCookie !== undefined) f.seekdir(lastCookie);
  const r = c.user.copyOut(addr, out.subarray(0, used));
  return isErrno(r) ? r : used;
}

export function sys_umask(c: SysCtx): SysResult {
  const old = c.proc.umask;
  c.proc.umask = c.u32(0) & 0o777;
  return old;
}

/** Settle a maybe-async value, then map it (shared by read paths). */
function settle<T>(v: T | Errno | Promise<T | Errno>, then: (t: T) => SysResult): SysResult | Promise<SysResult> {
  if (v instanceof Promise) return v.then((x) => (isErrno(x) ? x : then(x as T)));
  return isErrno(v) ? v : then(v as T);
}
