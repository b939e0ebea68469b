// openat(2) and close(2): opening a path in Linux's order of checks,
// O_CREAT (through a dangling symlink too), O_TMPFILE, and O_PATH files.

import * as abi from '../../linux/abi.js';
import { EACCES, EBADF, EEXIST, EINVAL, EISDIR, ELOOP, ENOENT, ENOTDIR, EROFS, Errno, isErrno } from '../../linux/errno.js';
import { File, type MaybeAsync } from '../files/file.js';
import { andThen, syncFirst } from '../files/maybe-async.js';
import type { Attr } from '../../backend/backend.js';
import { taskBlocker } from '../files/blocking.js';
import { Dentry, fdInodeOps } from '../vfs/inode.js';
import { MAX_SYMLINKS, type ParentAndName } from '../vfs/vfs.js';
import { permitted } from '../vfs/perm.js';
import { newOwner, type PathCtx } from '../vfs/namei.js';
import type { SysCtx, SysResult } from './context.js';
import { pathCtx, startDir } from './at-path.js';

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
export function openPath(c: SysCtx, dirfd: number, path: string, flags: number, mode: number): MaybeAsync<File | Errno> {
  return syncFirst(openSteps(c, dirfd, path, flags, mode));
}

/** openPath's body (a syncFirst body: synchronous through cached dentries and a kept backend handle). */
function* openSteps(c: SysCtx, dirfd: number, path: string, flags: number, mode: number): Generator<unknown, File | Errno, unknown> {
  const proc = c.proc;
  if (path === '') return ENOENT;
  if ((flags & abi.O_TMPFILE) === abi.O_TMPFILE) return (yield openTmpfile(c, dirfd, path, flags, mode)) as File | Errno;
  if (flags & abi.O_TMPFILE & ~abi.O_DIRECTORY) return EINVAL; // __O_TMPFILE without O_DIRECTORY
  const first = path.startsWith('/') ? proc.root : startDir(proc, dirfd);
  if (isErrno(first)) return first;
  let start: Dentry = first;
  const vfs = c.kernel.vfs;
  let dentry: Dentry | Errno;
  if (flags & abi.O_CREAT) {
    let links = 0;
    for (;;) {
      let pn = vfs.resolveParent(proc.root, start, path, proc, proc.creds);
      if (pn instanceof Promise) pn = (yield pn) as ParentAndName | Errno;
      if (isErrno(pn)) return pn;
      if (pn.name === '') return EISDIR;
      let existing = vfs.lookup(pn.dir, pn.name, proc);
      if (existing instanceof Promise) existing = (yield existing) as Dentry | Errno;
      if (isErrno(existing)) {
        if (existing !== ENOENT) return existing;
        if (pn.trailingSlash) return EISDIR;
        if (pn.dir.deleted) return ENOENT;
        return (yield createFile(c, pathCtx(c), pn.dir, pn.name, flags, mode)) as File | Errno;
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
        const target = (yield existing.inode.readlink(proc)) as string | Errno;
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
    const found = vfs.resolve(proc.root, start, path, { followLast: !(flags & abi.O_NOFOLLOW), caller: proc, creds: proc.creds });
    dentry = found instanceof Promise ? ((yield found) as Dentry | Errno) : found;
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
  let attr = dentry.inode.getattr();
  if (attr instanceof Promise) attr = (yield attr) as Attr | Errno;
  if (isErrno(attr)) return attr;
  // sb_permission: a read-only mount refuses writing its files, directories and links (not FIFOs or devices).
  if (opensForWrite(flags) && (type === abi.S_IFREG || type === abi.S_IFDIR) && dentry.inode.readonlyFs) return EROFS;
  if (!permitted(proc.creds, attr, accessMask(flags))) return EACCES;
  let f = dentry.inode.open(flags, dentry.path(), { blocker: taskBlocker(c.kernel, c.task) });
  if (f instanceof Promise) f = (yield f) as File | Errno;
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
export class PathFile extends File {
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

export function sys_openat(c: SysCtx): MaybeAsync<SysResult> {
  const path = c.user.readCString(c.u(1));
  if (isErrno(path)) return path;
  // A 64-bit kernel opens every file with O_LARGEFILE (force_o_largefile).
  const flags = c.i32(2) | abi.O_LARGEFILE;
  return andThen(openPath(c, c.i32(0), path, flags, c.u32(3)), (f) => (isErrno(f) ? f : c.proc.fds.install(f, (flags & abi.O_CLOEXEC) !== 0)));
}

export function sys_close(c: SysCtx): SysResult | Promise<SysResult> {
  return c.proc.fds.close(c.i32(0));
}
