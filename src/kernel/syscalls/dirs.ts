// Directories as places: the working directory (getcwd, chdir, fchdir) and
// reading a directory's entries (getdents64). Making and removing
// directories is names.ts's (mkdirat, unlinkat with AT_REMOVEDIR).

import * as abi from '../../linux/abi.js';
import { EACCES, EINVAL, ENOTDIR, ERANGE, isErrno } from '../../linux/errno.js';
import type { Dentry } from '../vfs/inode.js';
import type { File, MaybeAsync } from '../files/file.js';
import { andThen } from '../files/maybe-async.js';
import type { DirEntry } from '../../backend/backend.js';
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

/**
 * getdents64: synchronous when the directory answers at once (tmpfs,
 * procfs, a backend listing not waiting on the gofer), so a listing costs
 * no block and wake-up per call.
 */
export function sys_getdents64(c: SysCtx): MaybeAsync<SysResult> {
  const f = c.proc.fds.get(c.i32(0));
  if (isErrno(f)) return f;
  const addr = c.u(1);
  const size = Math.min(c.u(2), 1 << 20);
  return andThen(f.readdir(size), (entries) => (isErrno(entries) ? entries : putDirents(c, f, addr, size, entries)));
}

/** Records are built here and copied out in one piece (a kernel worker runs one call at a time). */
let direntScratch = new Uint8Array(64 * 1024);
let direntView = new DataView(direntScratch.buffer);

/** `entries` as linux_dirent64 records, as many as fit in `size` bytes, copied to `addr`; the file's cookie moves past them. */
function putDirents(c: SysCtx, f: File, addr: number, size: number, entries: DirEntry[]): SysResult {
  if (direntScratch.length < size) {
    direntScratch = new Uint8Array(size);
    direntView = new DataView(direntScratch.buffer);
  }
  const out = direntScratch, dv = direntView;
  let used = 0;
  let lastCookie: number | undefined;
  for (const e of entries) {
    const at = used + abi.DIRENT64.d_name;
    const n = putName(out, at, e.name, size - at - 1);
    const reclen = n < 0 ? size + 1 : (abi.DIRENT64.d_name + n + 1 + 7) & ~7;
    if (used + reclen > size) break;
    dv.setBigUint64(used + abi.DIRENT64.d_ino, e.ino, true);
    // d_off: the cookie, a small non-negative integer, as two 32-bit halves (no BigInt made).
    dv.setUint32(used + abi.DIRENT64.d_off, e.next >>> 0, true);
    dv.setUint32(used + abi.DIRENT64.d_off + 4, Math.floor(e.next / 0x1_0000_0000), true);
    dv.setUint16(used + abi.DIRENT64.d_reclen, reclen, true);
    dv.setUint8(used + abi.DIRENT64.d_type, e.type);
    out.fill(0, at + n, used + reclen); // the NUL and the padding
    used += reclen;
    lastCookie = e.next;
  }
  if (entries.length > 0 && used === 0) return EINVAL; // buffer too small for one entry
  if (lastCookie !== undefined) f.seekdir(lastCookie);
  const r = c.user.copyOut(addr, out.subarray(0, used));
  return isErrno(r) ? r : used;
}

/** Writes `name` as UTF-8 at `at` if it takes at most `room` bytes: its length, or -1 when it does not fit. */
function putName(out: Uint8Array, at: number, name: string, room: number): number {
  const len = name.length;
  if (len <= room) {
    let i = 0;
    for (; i < len; i++) {
      const ch = name.charCodeAt(i);
      if (ch >= 0x80) break;
      out[at + i] = ch;
    }
    if (i === len) return len;
  }
  const bytes = Buffer.from(name, 'utf8');
  if (bytes.length > room) return -1;
  out.set(bytes, at);
  return bytes.length;
}
