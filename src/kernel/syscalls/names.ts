// The namespace calls: making (mkdirat, mknodat, symlinkat, linkat),
// removing (unlinkat, rmdir's AT_REMOVEDIR) and renaming names, and reading
// a symlink (readlinkat). They decode arguments; the checks, in Linux's
// order, are vfs/namei.ts's.

import * as abi from '../../linux/abi.js';
import { EINVAL, ENOENT, isErrno } from '../../linux/errno.js';
import { File } from '../files/file.js';
import { fdInodeOps, type Dentry } from '../vfs/inode.js';
import { CAP_DAC_READ_SEARCH, hasCap } from '../vfs/perm.js';
import * as namei from '../vfs/namei.js';
import type { SysCtx, SysResult } from './context.js';
import { pathAt, pathCtx, resolveAt } from './at-path.js';

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
