// File system calls: opening, reading, writing, stat, directories, fds.

import * as abi from '../../linux/abi.js';
import {
  EBADF, EEXIST, EFAULT, EINVAL, EISDIR, ELOOP, ENOENT, ENOTDIR, ERANGE, EACCES, ENOTTY, EROFS, ENODEV, EOPNOTSUPP, ESPIPE, EFBIG, Errno, isErrno,
} from '../../linux/errno.js';
import { File } from '../files/file.js';
import { blockingRead, blockingWrite, taskBlocker } from '../files/blocking.js';
import { fcntlExtra } from './fcntl.js';
import { Dentry, emptyStatFs, fdInodeOps } from '../vfs/inode.js';
import { MAX_SYMLINKS } from '../vfs/vfs.js';
import { CAP_DAC_READ_SEARCH, hasCap, permitted } from '../vfs/perm.js';
import * as namei from '../vfs/namei.js';
import { newOwner, type AttrTarget, type PathCtx } from '../vfs/namei.js';
import type { Attr, StatFs } from '../../backend/backend.js';
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

/** The process's view for the VFS's path operations (namei.ts). */
export function pathCtx(c: SysCtx): PathCtx {
  return { vfs: c.kernel.vfs, root: c.proc.root, cred: c.proc.creds, umask: c.proc.umask, caller: c.proc };
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
  return c.kernel.vfs.resolve(c.proc.root, start, path, { followLast: follow, caller: c.proc, creds: c.proc.creds });
}

/** A path argument and the directory it starts from: the root, the cwd, or dirfd's directory. */
async function pathAt(c: SysCtx, dirfd: number, pathAddr: number): Promise<{ start: Dentry; path: string } | Errno> {
  const path = c.user.readCString(pathAddr);
  if (isErrno(path)) return path;
  if (path === '') return ENOENT;
  const start = path.startsWith('/') ? c.proc.root : startDir(c.proc, dirfd);
  return isErrno(start) ? start : { start, path };
}

export { permitted };

function accessMask(flags: number): number {
  const acc = flags & abi.O_ACCMODE;
  let m = 0;
  if (acc === abi.O_RDONLY || acc === abi.O_RDWR) m |= abi.R_OK;
  if (acc === abi.O_WRONLY || acc === abi.O_RDWR || flags & abi.O_TRUNC) m |= abi.W_OK;
  return m;
}

/** Does an open with `flags` change the file (O_WRONLY, O_RDWR, O_TRUNC)? */
function opensForWrite(flags: number): boolean {
  return (flags & abi.O_ACCMODE) !== abi.O_RDONLY || (flags & abi.O_TRUNC) !== 0;
}

/**
 * openat(2) for `proc`: the new File (not yet installed). Linux's order:
 * path errors, then for O_CREAT the last name (created when missing, through
 * a dangling symlink too unless O_EXCL or O_NOFOLLOW), then the file's type
 * (ELOOP, ENOTDIR, EISDIR), EROFS, permissions, and the open itself.
 */
export async function openPath(c: SysCtx, dirfd: number, path: string, flags: number, mode: number): Promise<File | Errno> {
  const proc = c.proc;
  if (path === '') return ENOENT;
  if ((flags & abi.O_TMPFILE) === abi.O_TMPFILE) return openTmpfile(c, dirfd, path, flags, mode);
  if (flags & abi.O_TMPFILE & ~abi.O_DIRECTORY) return EINVAL; // __O_TMPFILE without O_DIRECTORY
  let start = path.startsWith('/') ? proc.root : startDir(proc, dirfd);
  if (isErrno(start)) return start;
  const vfs = c.kernel.vfs;
  const ctx = pathCtx(c);
  let dentry: Dentry | Errno;
  if (flags & abi.O_CREAT) {
    let links = 0;
    for (;;) {
      const pn = await vfs.resolveParent(proc.root, start, path, proc, proc.creds);
      if (isErrno(pn)) return pn;
      if (pn.name === '') return EISDIR;
      const existing = await vfs.lookup(pn.dir, pn.name, proc);
      if (isErrno(existing)) {
        if (existing !== ENOENT) return existing;
        if (pn.trailingSlash) return EISDIR;
        if (pn.dir.deleted) return ENOENT;
        return createFile(c, ctx, pn.dir, pn.name, flags, mode);
      }
      if (flags & abi.O_EXCL) return EEXIST;
      if (existing.inode.type === abi.S_IFLNK && !(flags & abi.O_NOFOLLOW)) {
        // Follow the link and create (or open) where it points, as Linux does.
        if (++links > MAX_SYMLINKS) return ELOOP;
        const magic = existing.inode.followLink(proc);
        if (magic !== undefined) {
          if (isErrno(magic)) return magic;
          dentry = magic;
          if (dentry.inode.isDir) return EISDIR;
          break;
        }
        const target = await existing.inode.readlink(proc);
        if (isErrno(target)) return target;
        if (target === '') return ENOENT;
        start = target.startsWith('/') ? proc.root : pn.dir;
        path = target + (pn.trailingSlash ? '/' : '');
        continue;
      }
      dentry = existing;
      if (dentry.inode.isDir) return EISDIR;
      break;
    }
  } else {
    dentry = await vfs.resolve(proc.root, start, path, { followLast: !(flags & abi.O_NOFOLLOW), caller: proc, creds: proc.creds });
  }
  if (isErrno(dentry)) return dentry;
  const type = dentry.inode.type;
  if (type === abi.S_IFLNK && !(flags & abi.O_PATH)) return ELOOP;
  if (flags & abi.O_DIRECTORY && type !== abi.S_IFDIR) return ENOTDIR;
  if (flags & abi.O_PATH) {
    const f = new PathFile(dentry, flags);
    f.dentry = dentry;
    return f;
  }
  if (type === abi.S_IFDIR && opensForWrite(flags)) return EISDIR;
  const attr = await dentry.inode.getattr();
  if (isErrno(attr)) return attr;
  // sb_permission: a read-only mount refuses writing its files, directories and links (not FIFOs or devices).
  if (opensForWrite(flags) && (type === abi.S_IFREG || type === abi.S_IFDIR) && dentry.inode.readonlyFs) return EROFS;
  if (!permitted(proc.creds, attr, accessMask(flags))) return EACCES;
  const f = await dentry.inode.open(flags, dentry.path(), { blocker: taskBlocker(c.kernel, c.task) });
  if (isErrno(f)) return f;
  f.dentry = dentry;
  return f;
}

/** The O_CREAT half of open: a new regular file `name` in `dir`. */
async function createFile(c: SysCtx, ctx: PathCtx, dir: Dentry, name: string, flags: number, mode: number): Promise<File | Errno> {
  if (dir.inode.readonlyFs) return EROFS;
  const dattr = await dir.inode.getattr();
  if (isErrno(dattr)) return dattr;
  if (!permitted(ctx.cred, dattr, abi.W_OK | abi.X_OK)) return EACCES;
  const owner = newOwner(ctx.cred, dattr);
  const fullPath = (dir.path() === '/' ? '' : dir.path()) + '/' + name;
  const f = await dir.inode.create(name, flags, mode & 0o7777 & ~ctx.umask, { uid: owner.uid, gid: owner.gid, groups: [] }, fullPath);
  if (isErrno(f)) return f;
  dir.detach(name);
  const d = await ctx.vfs.lookup(dir, name);
  if (!isErrno(d)) f.dentry = d;
  return f;
}

/** open(O_TMPFILE): an unnamed file in the directory `path` names (EOPNOTSUPP where the filesystem can't). */
async function openTmpfile(c: SysCtx, dirfd: number, path: string, flags: number, mode: number): Promise<File | Errno> {
  const acc = flags & abi.O_ACCMODE;
  if (acc !== abi.O_WRONLY && acc !== abi.O_RDWR) return EINVAL;
  if (flags & abi.O_CREAT) return EINVAL;
  const proc = c.proc;
  const start = path.startsWith('/') ? proc.root : startDir(proc, dirfd);
  if (isErrno(start)) return start;
  const dir = await c.kernel.vfs.resolve(proc.root, start, path, { followLast: true, caller: proc, creds: proc.creds });
  if (isErrno(dir)) return dir;
  if (!dir.inode.isDir) return ENOTDIR;
  if (dir.inode.readonlyFs) return EROFS;
  const dattr = await dir.inode.getattr();
  if (isErrno(dattr)) return dattr;
  if (!permitted(proc.creds, dattr, abi.W_OK | abi.X_OK)) return EACCES;
  const f = await dir.inode.tmpfile(flags, mode & 0o7777 & ~proc.umask, newOwner(proc.creds, dattr), dir.path());
  if (isErrno(f)) return f;
  // Its name, as Linux's d_path shows it: "/dir/#INO (deleted)"; linkat through /proc/self/fd may give it a real one.
  const inode = fdInodeOps(f)?.fdInode?.();
  const a = await f.getattr();
  if (inode && !isErrno(a)) {
    f.dentry = new Dentry(`#${a.ino}`, dir, inode);
    f.dentry.deleted = true;
    f.path = f.dentry.path();
  }
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
  return settle(blockingRead(taskBlocker(c.kernel, c.task), f, () => f.read(len)), (data) => copyData(c, addr, data));
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
  return blockingWrite(taskBlocker(c.kernel, c.task), f, data, (d) => f.write(d));
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
    // Only the first segment may wait: once data has moved, a readv returns what it has.
    const data = await (offset !== undefined ? f.pread(v.len, offset + total) : total === 0 ? blockingRead(taskBlocker(c.kernel, c.task), f, () => f.read(v.len)) : f.read(v.len));
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
  return offset === undefined ? blockingWrite(taskBlocker(c.kernel, c.task), f, data, (d) => f.write(d)) : f.pwrite(data, offset);
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
  const target = await t.inode.readlink(c.proc);
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
  const d = await c.kernel.vfs.resolve(c.proc.root, c.proc.cwd, path, { followLast: true, caller: c.proc, creds: c.proc.creds });
  if (isErrno(d)) return d;
  return enterDir(c, d);
}

export async function sys_fchdir(c: SysCtx): Promise<SysResult> {
  const f = c.proc.fds.get(c.i32(0));
  if (isErrno(f)) return f;
  if (!f.dentry || !f.dentry.inode.isDir) return ENOTDIR;
  return enterDir(c, f.dentry);
}

/** The cwd becomes directory `d`, if the caller may search it (EACCES). */
async function enterDir(c: SysCtx, d: Dentry): Promise<SysResult> {
  if (!d.inode.isDir) return ENOTDIR;
  const a = await d.inode.getattr();
  if (isErrno(a)) return a;
  if (!permitted(c.proc.creds, a, abi.X_OK)) return EACCES;
  c.proc.cwd = d;
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

export function sys_fcntl(c: SysCtx): SysResult | Promise<SysResult> {
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
      return fcntlExtra(c, f, cmd) ?? EINVAL;
  }
}

export function sys_ioctl(c: SysCtx): SysResult | Promise<SysResult> {
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
  // Everything else is a terminal's (src/kernel/tty); other files say ENOTTY.
  const term = f.terminal();
  if (isErrno(term)) return term;
  return term.ioctl(cmd, arg, c.user);
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

// ---- creating, removing and renaming names (the checks are namei.ts's) ----

export async function sys_mkdirat(c: SysCtx): Promise<SysResult> {
  const p = await pathAt(c, c.i32(0), c.u(1));
  return isErrno(p) ? p : namei.mkdirAt(pathCtx(c), p.start, p.path, c.u32(2));
}

export async function sys_mknodat(c: SysCtx): Promise<SysResult> {
  const p = await pathAt(c, c.i32(0), c.u(1));
  return isErrno(p) ? p : namei.mknodAt(pathCtx(c), p.start, p.path, c.u32(2), BigInt(c.u32(3)));
}

export async function sys_unlinkat(c: SysCtx): Promise<SysResult> {
  const flags = c.i32(2);
  if (flags & ~abi.AT_REMOVEDIR) return EINVAL;
  const p = await pathAt(c, c.i32(0), c.u(1));
  return isErrno(p) ? p : namei.removeAt(pathCtx(c), p.start, p.path, (flags & abi.AT_REMOVEDIR) !== 0);
}

export async function sys_symlinkat(c: SysCtx): Promise<SysResult> {
  const target = c.user.readCString(c.u(0));
  if (isErrno(target)) return target;
  const p = await pathAt(c, c.i32(1), c.u(2));
  return isErrno(p) ? p : namei.symlinkAt(pathCtx(c), target, p.start, p.path);
}

export async function sys_linkat(c: SysCtx): Promise<SysResult> {
  const flags = c.i32(4);
  if (flags & ~(abi.AT_SYMLINK_FOLLOW | abi.AT_EMPTY_PATH)) return EINVAL;
  // Linking an fd's file by AT_EMPTY_PATH needs CAP_DAC_READ_SEARCH (Linux 6.1: ENOENT without).
  if (flags & abi.AT_EMPTY_PATH && !hasCap(c.proc.creds, CAP_DAC_READ_SEARCH)) return ENOENT;
  const old = await resolveAt(c, c.i32(0), c.u(1), flags, false);
  if (isErrno(old)) return old;
  let inode;
  let mount: Dentry;
  if (old instanceof File) {
    // linkat(fd, "", AT_EMPTY_PATH): the open file's inode (an O_TMPFILE file's too).
    const ops = fdInodeOps(old);
    inode = ops?.fdInode?.() ?? old.dentry?.inode;
    if (!inode || !old.dentry) return ENOENT;
    mount = c.kernel.vfs.mountOf(old.dentry);
  } else {
    inode = old.inode;
    mount = c.kernel.vfs.mountOf(old);
  }
  const p = await pathAt(c, c.i32(2), c.u(3));
  return isErrno(p) ? p : namei.linkTo(pathCtx(c), inode, mount, p.start, p.path);
}

export function sys_renameat(c: SysCtx): Promise<SysResult> {
  return renameCommon(c, 0);
}

export function sys_renameat2(c: SysCtx): Promise<SysResult> {
  return renameCommon(c, c.u32(4));
}

async function renameCommon(c: SysCtx, flags: number): Promise<SysResult> {
  const from = await pathAt(c, c.i32(0), c.u(1));
  if (isErrno(from)) return from;
  const to = await pathAt(c, c.i32(2), c.u(3));
  if (isErrno(to)) return to;
  return namei.renameAt(pathCtx(c), from.start, from.path, to.start, to.path, flags);
}

// ---- attributes: chmod, chown, utimes, truncate, fallocate ----

/** What fchmod & co. change for an open file: the file itself where it can (after unlink), else its inode. */
function fileTarget(f: File): AttrTarget | Errno {
  if (f.flags & abi.O_PATH) return EBADF;
  const ops = fdInodeOps(f);
  const inode = ops?.fdInode?.() ?? f.dentry?.inode;
  if (ops) return { getattr: () => f.getattr(), setattr: (set) => ops.fdSetattr(set), readonlyFs: inode?.readonlyFs ?? false };
  if (inode) return inode;
  // Pipes, sockets, host stdio: an inode of the kernel's own that nobody else sees; changes are dropped.
  return { getattr: () => f.getattr(), setattr: () => 0, readonlyFs: false };
}

/** The target of an *at() attribute call: a path's inode, or with AT_EMPTY_PATH an open file. */
async function targetAt(c: SysCtx, dirfd: number, pathAddr: number, flags: number): Promise<AttrTarget | Errno> {
  const t = await resolveAt(c, dirfd, pathAddr, flags);
  if (isErrno(t)) return t;
  if (t instanceof File) {
    // AT_EMPTY_PATH on an O_PATH fd names its file.
    if (t instanceof PathFile) return t.target.inode;
    return fileTarget(t);
  }
  return t.inode;
}

export async function sys_fchmod(c: SysCtx): Promise<SysResult> {
  const f = c.proc.fds.get(c.i32(0));
  if (isErrno(f)) return f;
  const t = fileTarget(f);
  return isErrno(t) ? t : namei.chmod(c.proc.creds, t, c.u32(1));
}

export async function sys_fchmodat(c: SysCtx): Promise<SysResult> {
  const t = await targetAt(c, c.i32(0), c.u(1), 0);
  return isErrno(t) ? t : namei.chmod(c.proc.creds, t, c.u32(2));
}

export async function sys_fchmodat2(c: SysCtx): Promise<SysResult> {
  const flags = c.i32(3);
  if (flags & ~(abi.AT_SYMLINK_NOFOLLOW | abi.AT_EMPTY_PATH)) return EINVAL;
  const t = await targetAt(c, c.i32(0), c.u(1), flags);
  return isErrno(t) ? t : namei.chmod(c.proc.creds, t, c.u32(2));
}

export async function sys_fchownat(c: SysCtx): Promise<SysResult> {
  const flags = c.i32(4);
  if (flags & ~(abi.AT_SYMLINK_NOFOLLOW | abi.AT_EMPTY_PATH)) return EINVAL;
  const t = await targetAt(c, c.i32(0), c.u(1), flags);
  return isErrno(t) ? t : namei.chown(c.proc.creds, t, c.i32(2), c.i32(3));
}

export async function sys_fchown(c: SysCtx): Promise<SysResult> {
  const f = c.proc.fds.get(c.i32(0));
  if (isErrno(f)) return f;
  const t = fileTarget(f);
  return isErrno(t) ? t : namei.chown(c.proc.creds, t, c.i32(1), c.i32(2));
}

/** One struct timespec of utimensat: a time, 'now' or 'omit'; EINVAL for a bad tv_nsec. */
function decodeTime(b: Uint8Array, off: number): namei.TimeArg | Errno {
  const dv = new DataView(b.buffer, b.byteOffset, b.byteLength);
  const sec = Number(dv.getBigInt64(off, true));
  const nsec = Number(dv.getBigInt64(off + 8, true));
  if (nsec === abi.UTIME_NOW) return 'now';
  if (nsec === abi.UTIME_OMIT) return 'omit';
  if (nsec < 0 || nsec > 999_999_999) return EINVAL;
  return [sec, nsec];
}

export async function sys_utimensat(c: SysCtx): Promise<SysResult> {
  const dirfd = c.i32(0);
  const pathAddr = c.u(1);
  const flags = c.i32(3);
  if (flags & ~(abi.AT_SYMLINK_NOFOLLOW | abi.AT_EMPTY_PATH)) return EINVAL;
  let atime: namei.TimeArg = 'now';
  let mtime: namei.TimeArg = 'now';
  if (c.u(2) !== 0) {
    const b = c.user.copyIn(c.u(2), 32);
    if (isErrno(b)) return b;
    const a = decodeTime(b, 0);
    if (isErrno(a)) return a;
    const m = decodeTime(b, 16);
    if (isErrno(m)) return m;
    atime = a;
    mtime = m;
  }
  let t: AttrTarget | Errno;
  if (pathAddr === 0) {
    // futimens: utimensat(fd, NULL, ...) changes the open file.
    if (dirfd === abi.AT_FDCWD) return EFAULT;
    if (flags & abi.AT_SYMLINK_NOFOLLOW) return EINVAL;
    const f = c.proc.fds.get(dirfd);
    t = isErrno(f) ? f : fileTarget(f);
  } else {
    t = await targetAt(c, dirfd, pathAddr, flags);
  }
  return isErrno(t) ? t : namei.utimes(c.proc.creds, t, atime, mtime);
}

export async function sys_truncate(c: SysCtx): Promise<SysResult> {
  const len = c.s(1);
  const t = await targetAt(c, abi.AT_FDCWD, c.u(0), 0);
  return isErrno(t) ? t : namei.truncatePath(c.proc.creds, t, len);
}

export async function sys_ftruncate(c: SysCtx): Promise<SysResult> {
  const f = c.proc.fds.get(c.i32(0));
  if (isErrno(f)) return f;
  if (f.flags & abi.O_PATH) return EBADF;
  const len = c.s(1);
  if (len < 0 || !f.writable) return EINVAL;
  const a = await f.getattr();
  if (isErrno(a)) return a;
  if ((a.mode & abi.S_IFMT) !== abi.S_IFREG) return EINVAL;
  const t = fileTarget(f);
  return isErrno(t) ? t : namei.truncateChecked(t, a, len);
}

/** fallocate(2): mode 0 (allocate and grow); the other modes are EOPNOTSUPP here. */
export async function sys_fallocate(c: SysCtx): Promise<SysResult> {
  const f = c.proc.fds.get(c.i32(0));
  if (isErrno(f)) return f;
  const mode = c.i32(1);
  const offset = c.s(2);
  const len = c.s(3);
  if (offset < 0 || len <= 0) return EINVAL;
  if (!f.writable) return EBADF;
  if (mode !== 0) return EOPNOTSUPP;
  const a = await f.getattr();
  if (isErrno(a)) return a;
  const type = a.mode & abi.S_IFMT;
  if (type === abi.S_IFDIR) return EISDIR;
  if (type === abi.S_IFIFO) return ESPIPE;
  const ops = fdInodeOps(f);
  if (type !== abi.S_IFREG || !ops) return ENODEV;
  if (!Number.isSafeInteger(offset + len)) return EFBIG;
  return ops.fdAllocate(offset, len);
}

// ---- sync ----

export function sys_sync(): SysResult {
  return 0; // every filesystem here writes through: nothing is held back
}

export function sys_syncfs(c: SysCtx): SysResult {
  const f = c.proc.fds.get(c.i32(0));
  return isErrno(f) ? f : 0;
}

export async function sys_fsync(c: SysCtx): Promise<SysResult> {
  const f = c.proc.fds.get(c.i32(0));
  if (isErrno(f)) return f;
  if (f.flags & abi.O_PATH) return EBADF;
  return f.fsync();
}

// ---- statfs ----

function encodeStatfs(s: StatFs): Uint8Array {
  const S = abi.STATFS;
  return new StructWriter(S.size)
    .u64(S.f_type, s.type)
    .u64(S.f_bsize, s.bsize)
    .u64(S.f_blocks, s.blocks)
    .u64(S.f_bfree, s.bfree)
    .u64(S.f_bavail, s.bavail)
    .u64(S.f_files, s.files)
    .u64(S.f_ffree, s.ffree)
    .u64(S.f_namelen, s.namelen)
    .u64(S.f_frsize, s.frsize ?? s.bsize)
    // ST_VALID (0x20): f_flags is meaningful, as every Linux since 2.6.36 says.
    .u64(S.f_flags, (s.flags ?? 0) | 0x20).bytes;
}

async function statfsOut(c: SysCtx, inode: { statfs(): StatFs | Errno | Promise<StatFs | Errno> } | Errno, addr: number): Promise<SysResult> {
  if (isErrno(inode)) return inode;
  const s = await inode.statfs();
  if (isErrno(s)) return s;
  const r = c.user.copyOut(addr, encodeStatfs(s));
  return isErrno(r) ? r : 0;
}

export async function sys_statfs(c: SysCtx): Promise<SysResult> {
  const t = await resolveAt(c, abi.AT_FDCWD, c.u(0), 0);
  if (isErrno(t)) return t;
  return statfsOut(c, t instanceof File ? EBADF : t.inode, c.u(1));
}

export async function sys_fstatfs(c: SysCtx): Promise<SysResult> {
  const f = c.proc.fds.get(c.i32(0));
  if (isErrno(f)) return f;
  const inode = fdInodeOps(f)?.fdInode?.() ?? f.dentry?.inode;
  // Pipes and host stdio: a kernel filesystem of its own with nothing to count.
  return statfsOut(c, inode ?? { statfs: () => emptyStatFs(0x50495045) }, c.u(1));
}
