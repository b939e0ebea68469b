// The extended attribute calls (setxattr, getxattr, listxattr, removexattr
// and their l* and f* forms), as Linux answers them on a filesystem without
// extended attribute support (fs/xattr.c with no xattr handlers on the
// superblock and no security module): no filesystem of the sandbox stores
// extended attributes yet.
//
// - The arguments are checked as Linux checks them, before the filesystem is
//   asked: flags (EINVAL), the name (ERANGE when empty or longer than 255
//   bytes, EFAULT), the value's size (E2BIG past 64 KiB) and pointer, the
//   path (ENOENT, ENOTDIR, ELOOP...) or fd (EBADF, also for O_PATH files).
// - listxattr: no names, 0 bytes (Linux's answer with nothing to list).
// - getxattr, setxattr, removexattr: EOPNOTSUPP (setxattr and removexattr on
//   a read-only filesystem: EROFS first, as mnt_want_write fails first).
//   Callers treat EOPNOTSUPP as "this filesystem has none" (Python's
//   shutil.copystat, os_helper.supports_extended_attributes, coreutils).

import * as abi from '../../linux/abi.js';
import { E2BIG, EBADF, EINVAL, ENAMETOOLONG, EOPNOTSUPP, ERANGE, EROFS, Errno, isErrno } from '../../linux/errno.js';
import { File } from '../files/file.js';
import type { SysCtx, SysResult } from './context.js';
import { resolveAt } from './at-path.js';

/** XATTR_CREATE, XATTR_REPLACE: setxattr's flags (uapi/linux/xattr.h). */
const XATTR_CREATE = 0x1;
const XATTR_REPLACE = 0x2;
/** Longest attribute name without its NUL, largest value (uapi/linux/limits.h). */
export const XATTR_NAME_MAX = 255;
export const XATTR_SIZE_MAX = 65536;

/** Whether a change could be written to what the call names. */
interface Target {
  readonlyFs: boolean;
}

/** An attribute name argument: ERANGE when empty or longer than XATTR_NAME_MAX (strncpy_from_user's limit). */
function readName(c: SysCtx, addr: number): string | Errno {
  const name = c.user.readCBytes(addr, XATTR_NAME_MAX);
  if (isErrno(name)) return name === ENAMETOOLONG ? ERANGE : name;
  if (name.length === 0) return ERANGE;
  return Buffer.from(name).toString('utf8');
}

/** The inode a path names (`follow`: the l* forms don't follow a final symlink). */
async function pathTarget(c: SysCtx, pathAddr: number, follow: boolean): Promise<Target | Errno> {
  const t = await resolveAt(c, abi.AT_FDCWD, pathAddr, follow ? 0 : abi.AT_SYMLINK_NOFOLLOW);
  if (isErrno(t)) return t;
  if (t instanceof File) return { readonlyFs: t.dentry?.inode.readonlyFs ?? false };
  return t.inode;
}

/** The inode an open fd names; O_PATH files are EBADF (fdget, not fdget_raw). */
function fdTarget(c: SysCtx, fd: number): Target | Errno {
  const f = c.proc.fds.get(fd);
  if (isErrno(f)) return f;
  if (f.flags & abi.O_PATH) return EBADF;
  return { readonlyFs: f.dentry?.inode.readonlyFs ?? false };
}

type Which = { path: number; follow: boolean } | { fd: number };

function target(c: SysCtx, which: Which): Promise<Target | Errno> | Target | Errno {
  return 'fd' in which ? fdTarget(c, which.fd) : pathTarget(c, which.path, which.follow);
}

/** setxattr(target, name, value, size, flags). */
async function setxattr(c: SysCtx, which: Which): Promise<SysResult> {
  const flags = c.i32(4);
  if (flags & ~(XATTR_CREATE | XATTR_REPLACE)) return EINVAL;
  const name = readName(c, c.u(1));
  if (isErrno(name)) return name;
  const size = c.u(3);
  if (size > XATTR_SIZE_MAX) return E2BIG;
  if (size > 0) {
    const value = c.user.copyIn(c.u(2), size);
    if (isErrno(value)) return value;
  }
  const t = await target(c, which);
  if (isErrno(t)) return t;
  return t.readonlyFs ? EROFS : EOPNOTSUPP;
}

/** getxattr(target, name, value, size). */
async function getxattr(c: SysCtx, which: Which): Promise<SysResult> {
  const name = readName(c, c.u(1));
  if (isErrno(name)) return name;
  const t = await target(c, which);
  return isErrno(t) ? t : EOPNOTSUPP;
}

/** listxattr(target, list, size): the names' total length, here 0. */
async function listxattr(c: SysCtx, which: Which): Promise<SysResult> {
  const t = await target(c, which);
  return isErrno(t) ? t : 0;
}

/** removexattr(target, name). */
async function removexattr(c: SysCtx, which: Which): Promise<SysResult> {
  const name = readName(c, c.u(1));
  if (isErrno(name)) return name;
  const t = await target(c, which);
  if (isErrno(t)) return t;
  return t.readonlyFs ? EROFS : EOPNOTSUPP;
}

export const sys_setxattr = (c: SysCtx) => setxattr(c, { path: c.u(0), follow: true });
export const sys_lsetxattr = (c: SysCtx) => setxattr(c, { path: c.u(0), follow: false });
export const sys_fsetxattr = (c: SysCtx) => setxattr(c, { fd: c.i32(0) });
export const sys_getxattr = (c: SysCtx) => getxattr(c, { path: c.u(0), follow: true });
export const sys_lgetxattr = (c: SysCtx) => getxattr(c, { path: c.u(0), follow: false });
export const sys_fgetxattr = (c: SysCtx) => getxattr(c, { fd: c.i32(0) });
export const sys_listxattr = (c: SysCtx) => listxattr(c, { path: c.u(0), follow: true });
export const sys_llistxattr = (c: SysCtx) => listxattr(c, { path: c.u(0), follow: false });
export const sys_flistxattr = (c: SysCtx) => listxattr(c, { fd: c.i32(0) });
export const sys_removexattr = (c: SysCtx) => removexattr(c, { path: c.u(0), follow: true });
export const sys_lremovexattr = (c: SysCtx) => removexattr(c, { path: c.u(0), follow: false });
export const sys_fremovexattr = (c: SysCtx) => removexattr(c, { fd: c.i32(0) });
