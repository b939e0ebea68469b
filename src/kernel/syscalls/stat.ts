// What the kernel tells about a file without opening it: the stat family
// (fstat, newfstatat, statx and their struct layouts), faccessat(2), and
// statfs/fstatfs.

import * as abi from '../../linux/abi.js';
import { EACCES, EBADF, EINVAL, Errno, isErrno } from '../../linux/errno.js';
import { File, type MaybeAsync } from '../files/file.js';
import { andThen } from '../files/maybe-async.js';
import { emptyStatFs, fdInodeOps, type Dentry } from '../vfs/inode.js';
import { permitted } from '../vfs/perm.js';
import type { Attr, StatFs } from '../../backend/backend.js';
import { StructWriter } from '../usercopy.js';
import type { SysCtx, SysResult } from './context.js';
import { resolveAt } from './at-path.js';

/**
 * One writer per struct, reused: the stat family's structs are written
 * straight into the guest's memory through it (UserMemory.writeStruct), or
 * filled in its own bytes and copied out (a kernel worker runs one call at
 * a time). A 128-byte buffer lives outside V8's heap, so making one per stat
 * cost more than filling it.
 */
const statWriter = new StructWriter(abi.STAT.size);
const statxWriter = new StructWriter(abi.STATX.size);

/** struct stat of `a` into `w`, every byte of it (writeStruct's contract: the padding too). */
export function fillStat(w: StructWriter, a: Attr): void {
  const S = abi.STAT;
  w.u64(S.st_dev, a.dev)
    .u64(S.st_ino, a.ino)
    .u32(S.st_mode, a.mode)
    .u32(S.st_nlink, a.nlink)
    .u32(S.st_uid, a.uid)
    .u32(S.st_gid, a.gid)
    .u64(S.st_rdev, a.rdev)
    .u64(S.st_rdev + 8, 0) // __pad1
    .u64(S.st_size, a.size)
    .i32(S.st_blksize, a.blksize)
    .u32(S.st_blksize + 4, 0) // __pad2
    .u64(S.st_blocks, a.blocks)
    .u64(S.st_atime, a.atimeSec)
    .u64(S.st_atime_nsec, a.atimeNsec)
    .u64(S.st_mtime, a.mtimeSec)
    .u64(S.st_mtime_nsec, a.mtimeNsec)
    .u64(S.st_ctime, a.ctimeSec)
    .u64(S.st_ctime_nsec, a.ctimeNsec)
    .u64(S.st_ctime_nsec + 8, 0); // __unused4, __unused5
}

/** struct statx of `a` into `w`, a writer over its own bytes (the fields it does not set stay zero there). */
function encodeStatx(w: StructWriter, a: Attr): void {
  const X = abi.STATX;
  const devMajor = Number((a.dev >> 8n) & 0xfffn);
  const devMinor = Number((a.dev & 0xffn) | ((a.dev >> 12n) & 0xfff00n));
  w.u32(X.stx_mask, abi.STATX_BASIC_STATS)
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
}

function attrOf(target: Dentry | File): MaybeAsync<Attr | Errno> {
  return target instanceof File ? target.getattr() : target.inode.getattr();
}

/** How a struct reaches the guest: stat's in place, statx's (mostly spare fields) through its writer's own bytes. */
type PutAttr = (c: SysCtx, addr: number, a: Attr) => SysResult;

function putStat(c: SysCtx, addr: number, a: Attr): SysResult {
  const r = c.user.writeStruct(addr, statWriter, fillStat, a);
  return isErrno(r) ? r : 0;
}

function putStatx(c: SysCtx, addr: number, a: Attr): SysResult {
  encodeStatx(statxWriter, a);
  const r = c.user.copyOut(addr, statxWriter.bytes);
  return isErrno(r) ? r : 0;
}

/**
 * The stat family's tail: attributes of `target` put at `addr`;
 * synchronous when the attributes are at hand (tmpfs, cached attributes of
 * an exclusive mount).
 */
function statOut(c: SysCtx, target: Dentry | File | Errno, addr: number, put: PutAttr): MaybeAsync<SysResult> {
  if (isErrno(target)) return target;
  const a = attrOf(target);
  // No closure on the synchronous path (a stat of a cached file): it is the common one.
  return a instanceof Promise ? a.then((x) => (isErrno(x) ? x : put(c, addr, x))) : isErrno(a) ? a : put(c, addr, a);
}

/** statOut of what resolveAt gave, now or once it settles. */
function statAt(c: SysCtx, t: MaybeAsync<Dentry | File | Errno>, addr: number, put: PutAttr): MaybeAsync<SysResult> {
  return t instanceof Promise ? t.then((x) => statOut(c, x, addr, put)) : statOut(c, t, addr, put);
}

export function sys_fstat(c: SysCtx): MaybeAsync<SysResult> {
  return statOut(c, c.proc.fds.get(c.i32(0)), c.u(1), putStat);
}

export function sys_newfstatat(c: SysCtx): MaybeAsync<SysResult> {
  const flags = c.i32(3);
  if (flags & ~(abi.AT_SYMLINK_NOFOLLOW | abi.AT_EMPTY_PATH | abi.AT_NO_AUTOMOUNT)) return EINVAL;
  return statAt(c, resolveAt(c, c.i32(0), c.u(1), flags), c.u(2), putStat);
}

export function sys_statx(c: SysCtx): MaybeAsync<SysResult> {
  const flags = c.i32(2);
  if (flags & ~(abi.AT_SYMLINK_NOFOLLOW | abi.AT_EMPTY_PATH | abi.AT_NO_AUTOMOUNT | abi.AT_STATX_SYNC_TYPE)) return EINVAL;
  if ((flags & abi.AT_STATX_SYNC_TYPE) === abi.AT_STATX_SYNC_TYPE) return EINVAL;
  return statAt(c, resolveAt(c, c.i32(0), c.u(1), flags), c.u(4), putStatx);
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
