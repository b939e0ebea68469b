// Directories as places: the working directory (getcwd, chdir, fchdir) and
// reading a directory's entries (getdents64). Making and removing
// directories is names.ts's (mkdirat, unlinkat with AT_REMOVEDIR).

import * as abi from '../../linux/abi.js';
import { EACCES, EINVAL, ENOTDIR, ERANGE, isErrno } from '../../linux/errno.js';
import type { Dentry } from '../vfs/inode.js';
import { permitted } from '../vfs/perm.js';
import type { SysCtx, SysResult } from './context.js';

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
