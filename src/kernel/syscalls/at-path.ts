// Where the *at() calls' paths start and what they name: the helpers every
// file system call with a (dirfd, path) pair shares (open.ts, stat.ts,
// names.ts, attrs.ts).

import * as abi from '../../linux/abi.js';
import { ENOENT, ENOTDIR, Errno, isErrno } from '../../linux/errno.js';
import type { File, MaybeAsync } from '../files/file.js';
import type { Dentry } from '../vfs/inode.js';
import type { PathCtx } from '../vfs/namei.js';
import type { Process } from '../task.js';
import type { SysCtx } from './context.js';

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

/** Resolve (dirfd, path) as the *at() calls do, honouring AT_EMPTY_PATH (synchronous through cached dentries: Vfs.resolve). */
export function resolveAt(c: SysCtx, dirfd: number, pathAddr: number, flags: number, followDefault = true): MaybeAsync<Dentry | File | Errno> {
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
export async function pathAt(c: SysCtx, dirfd: number, pathAddr: number): Promise<{ start: Dentry; path: string } | Errno> {
  const path = c.user.readCString(pathAddr);
  if (isErrno(path)) return path;
  if (path === '') return ENOENT;
  const start = path.startsWith('/') ? c.proc.root : startDir(c.proc, dirfd);
  return isErrno(start) ? start : { start, path };
}
