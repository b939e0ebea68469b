// Changing a file's attributes: mode (fchmod*), owner (fchown*), times
// (utimensat), size (truncate, ftruncate, fallocate), and the umask new
// files' modes pass through. The rules are vfs/namei.ts's; here the target
// is found (a path, an open file, or an O_PATH file's target).

import * as abi from '../../linux/abi.js';
import { EBADF, EFAULT, EFBIG, EINVAL, EISDIR, ENODEV, EOPNOTSUPP, ESPIPE, Errno, isErrno } from '../../linux/errno.js';
import { File } from '../files/file.js';
import { fdInodeOps } from '../vfs/inode.js';
import * as namei from '../vfs/namei.js';
import type { AttrTarget } from '../vfs/namei.js';
import type { SysCtx, SysResult } from './context.js';
import { resolveAt } from './at-path.js';
import { PathFile } from './open.js';
import { PageCache, aroundChange } from '../page-cache.js';

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
  if (isErrno(t)) return t;
  return aroundChange(PageCache.ofInode(t), () => namei.truncatePath(c.proc.creds, t, len));
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
  if (isErrno(t)) return t;
  // Pages of shared mappings past the new end go (SIGBUS there); pages it grows into come.
  return aroundChange(PageCache.of(f), () => namei.truncateChecked(t, a, len));
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

export function sys_umask(c: SysCtx): SysResult {
  const old = c.proc.umask;
  c.proc.umask = c.u32(0) & 0o777;
  return old;
}
