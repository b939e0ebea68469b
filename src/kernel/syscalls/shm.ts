// Shared memory objects: memfd_create(2), msync(2), and SysV shm (shmget,
// shmat, shmdt, shmctl). The sharing itself is mm's (shared frames) and the
// page cache's (src/kernel/page-cache.ts); these only decode and delegate.

import * as abi from '../../linux/abi.js';
import { EACCES, EINVAL, ENAMETOOLONG, ENODEV, ENOMEM, EPERM, Errno, isErrno } from '../../linux/errno.js';
import { PAGE_SIZE } from '../../vcpu/memory.js';
import { Dentry, fdInodeOps } from '../vfs/inode.js';
import { Tmpfs } from '../filesystems/tmpfs.js';
import { TmpOpenFile } from '../filesystems/tmpfs-file.js';
import { ipcAdmin, ipcPermitted, ShmSegment, ShmTable, SHM_MAX, SHMMNI } from '../sysv-shm.js';
import { PageCache } from '../page-cache.js';
import { pageAlignUp } from '../mm.js';
import { StructWriter } from '../usercopy.js';
import type { Kernel } from '../kernel.js';
import type { SysCtx, SysResult } from './context.js';

/** The kernel's hidden tmpfs for memfds (Linux's shmem mount), made on first use. */
const memfdRoots = new WeakMap<Kernel, Dentry>();
/** The kernel's SysV shm table. */
const shmTables = new WeakMap<Kernel, ShmTable>();

function memfdRoot(k: Kernel): Dentry {
  let d = memfdRoots.get(k);
  if (d === undefined) {
    d = new Dentry('', null, new Tmpfs(k.account, { mode: 0o1777 }).root);
    memfdRoots.set(k, d);
  }
  return d;
}

function shmTable(k: Kernel): ShmTable {
  let t = shmTables.get(k);
  if (t === undefined) {
    t = new ShmTable(k.account);
    shmTables.set(k, t);
  }
  return t;
}

const MFD_FLAGS = abi.MFD_CLOEXEC | abi.MFD_ALLOW_SEALING | abi.MFD_NOEXEC_SEAL | abi.MFD_EXEC;

/**
 * memfd_create(name, flags): an unnamed tmpfs file, read-write, named
 * "/memfd:NAME (deleted)" in /proc. EINVAL for unknown flags, MFD_HUGETLB
 * (no huge pages here) and names longer than MFD_NAME_MAX. Without
 * MFD_ALLOW_SEALING the file takes no seals (F_SEAL_SEAL); MFD_NOEXEC_SEAL
 * allows them, makes the file 0666 rather than 0777 and seals that
 * (F_SEAL_EXEC). tmpfs-file.ts enforces the seals.
 */
export async function sys_memfd_create(c: SysCtx): Promise<SysResult> {
  const flags = c.u32(1);
  if (flags & ~MFD_FLAGS || (flags & abi.MFD_NOEXEC_SEAL && flags & abi.MFD_EXEC)) return EINVAL;
  const name = c.user.readCString(c.u(0), abi.MFD_NAME_MAX);
  if (isErrno(name)) return name === ENAMETOOLONG ? EINVAL : name;
  const root = memfdRoot(c.kernel);
  const creds = c.proc.creds;
  const f = await root.inode.tmpfile(abi.O_RDWR | abi.O_EXCL, 0o777, { uid: creds.euid, gid: creds.egid }, `/memfd:${name}`);
  if (isErrno(f)) return f;
  const inode = fdInodeOps(f)?.fdInode?.();
  if (inode === undefined) {
    void f.unref();
    return ENODEV;
  }
  if (f instanceof TmpOpenFile) {
    if (flags & abi.MFD_NOEXEC_SEAL) {
      f.inode.setattr({ mode: 0o666 });
      f.inode.seals = abi.F_SEAL_EXEC;
    }
    else if (flags & abi.MFD_ALLOW_SEALING) f.inode.seals = 0;
  }
  // Its name as Linux shows it: "/memfd:NAME (deleted)".
  const d = new Dentry(`memfd:${name}`, root, inode);
  d.deleted = true;
  f.dentry = d;
  return c.proc.fds.install(f, (flags & abi.MFD_CLOEXEC) !== 0);
}

/**
 * msync(addr, len, flags): MS_SYNC and MS_ASYNC write the dirty pages of
 * the shared file mappings in the range back to their files (both before
 * returning); MS_INVALIDATE has nothing to drop, since mappings and files
 * never disagree here. EINVAL for an unaligned addr or bad flags, ENOMEM
 * when part of the range is unmapped (after syncing the rest, as Linux).
 */
export async function sys_msync(c: SysCtx): Promise<SysResult> {
  const addr = c.u(0);
  const flags = c.i32(2);
  if (addr % PAGE_SIZE) return EINVAL;
  if (flags & ~(abi.MS_ASYNC | abi.MS_INVALIDATE | abi.MS_SYNC)) return EINVAL;
  if (flags & abi.MS_ASYNC && flags & abi.MS_SYNC) return EINVAL;
  const end = addr + pageAlignUp(c.u(1));
  const caches = new Set<PageCache>();
  let at = addr;
  let hole = false;
  for (const v of c.proc.mm.mappings()) {
    if (v.end <= at) continue;
    if (v.start >= end) break;
    if (v.start > at) hole = true;
    if (v.shared?.obj instanceof PageCache) caches.add(v.shared.obj);
    at = v.end;
  }
  if (at < end) hole = true;
  for (const pc of caches) await pc.sync();
  return hole ? ENOMEM : 0;
}

/** shmget(key, size, flags). */
export function sys_shmget(c: SysCtx): SysResult {
  return shmTable(c.kernel).get(c.i32(0), c.u(1), c.i32(2), c.proc.creds, c.proc.pid);
}

/** shmat(id, addr, flags): the address where segment `id` is mapped; EACCES without read (and write unless SHM_RDONLY, execute for SHM_EXEC) permission. */
export function sys_shmat(c: SysCtx): SysResult {
  const seg = shmTable(c.kernel).lookup(c.i32(0));
  if (isErrno(seg)) return seg;
  const flags = c.i32(2);
  const access = 0o444 | (flags & abi.SHM_RDONLY ? 0 : 0o222) | (flags & abi.SHM_EXEC ? 0o111 : 0);
  if (!ipcPermitted(c.proc.creds, seg, access)) return EACCES;
  let addr = c.u(1);
  if (flags & abi.SHM_RND) addr -= addr % PAGE_SIZE;
  if (addr % PAGE_SIZE) return EINVAL;
  let prot = abi.PROT_READ | (flags & abi.SHM_RDONLY ? 0 : abi.PROT_WRITE);
  if (flags & abi.SHM_EXEC) prot |= abi.PROT_EXEC;
  const mm = c.proc.mm;
  const len = pageAlignUp(seg.size);
  const name = `/SYSV${(seg.key >>> 0).toString(16).padStart(8, '0')} (deleted)`;
  const backing = { obj: seg, pgoff: 0, readOnly: (flags & abi.SHM_RDONLY) !== 0 };
  let at: number | Errno;
  if (addr === 0) at = mm.mapAnywhere(len, prot, name, 0, backing);
  else if (!(flags & abi.SHM_REMAP) && !mm.isFree(addr, addr + len)) return EINVAL;
  else at = mm.mapFixed(addr, len, prot, name, backing) === 0 ? addr : ENOMEM;
  if (isErrno(at)) return at;
  seg.atime = Math.floor(Date.now() / 1000);
  seg.lpid = c.proc.pid;
  return at;
}

/** shmdt(addr): unmap the attach of a segment that starts at `addr` (EINVAL if none does). */
export function sys_shmdt(c: SysCtx): SysResult {
  const addr = c.u(0);
  const v = c.proc.mm.vmaAt(addr);
  const seg = v?.shared?.obj;
  if (!v || !(seg instanceof ShmSegment) || v.start !== addr || v.shared?.pgoff !== 0) return EINVAL;
  seg.lpid = c.proc.pid;
  return c.proc.mm.unmap(addr, pageAlignUp(seg.size));
}

/** Linux's default SHMALL, in pages: ULONG_MAX - 2^24. */
const SHMALL_DEFAULT = 2n ** 64n - 1n - 2n ** 24n;

/**
 * shmctl(id, cmd, buf): IPC_STAT and SHM_STAT (read permission;
 * SHM_STAT_ANY without it: `id` is a table index, which is the id here, and
 * the id is returned), IPC_SET (owner, group, mode bits) and IPC_RMID (the
 * owner, the creator or CAP_SYS_ADMIN, else EPERM), IPC_INFO and SHM_INFO
 * (the limits and the usage, returning the highest id in use).
 */
export function sys_shmctl(c: SysCtx): SysResult {
  const table = shmTable(c.kernel);
  const cmd = c.i32(1) & ~abi.IPC_64;
  const buf = c.u(2);
  if (cmd === abi.IPC_INFO) {
    const I = abi.SHMINFO;
    // shmall in pages: no bound beyond the sandbox's memory, so Linux's default.
    const w = new StructWriter(I.size).u64(I.shmmax, SHM_MAX).u64(I.shmmin, 1).u64(I.shmmni, SHMMNI).u64(I.shmseg, SHMMNI).u64(I.shmall, SHMALL_DEFAULT);
    const r = c.user.copyOut(buf, w.bytes);
    return isErrno(r) ? r : table.maxId();
  }
  if (cmd === abi.SHM_INFO) {
    const I = abi.SHM_INFO_STRUCT;
    const u = table.usage();
    const w = new StructWriter(I.size).i32(I.usedIds, u.segments).u64(I.shmTot, u.pages).u64(I.shmRss, u.pages);
    const r = c.user.copyOut(buf, w.bytes);
    return isErrno(r) ? r : table.maxId();
  }
  const seg = table.lookup(c.i32(0));
  if (isErrno(seg)) return seg;
  const creds = c.proc.creds;
  switch (cmd) {
    case abi.IPC_STAT:
    case abi.SHM_STAT:
    case abi.SHM_STAT_ANY: {
      if (cmd !== abi.SHM_STAT_ANY && !ipcPermitted(creds, seg, 0o444)) return EACCES;
      const S = abi.SHMID_DS;
      const w = new StructWriter(S.size)
        .i32(S.key, seg.key).u32(S.uid, seg.uid).u32(S.gid, seg.gid).u32(S.cuid, seg.cuid).u32(S.cgid, seg.cgid)
        .u32(S.mode, seg.mode).u16(S.seq, 0).u64(S.segsz, seg.size).u64(S.atime, seg.atime).u64(S.dtime, seg.dtime)
        .u64(S.ctime, seg.ctime).i32(S.cpid, seg.cpid).i32(S.lpid, seg.lpid).u64(S.nattch, seg.nattch);
      const r = c.user.copyOut(buf, w.bytes);
      return isErrno(r) ? r : cmd === abi.IPC_STAT ? 0 : seg.id;
    }
    case abi.IPC_SET: {
      const b = c.user.copyIn(buf, abi.SHMID_DS.size);
      if (isErrno(b)) return b;
      if (!ipcAdmin(creds, seg)) return EPERM;
      const dv = new DataView(b.buffer, b.byteOffset);
      seg.uid = dv.getUint32(abi.SHMID_DS.uid, true);
      seg.gid = dv.getUint32(abi.SHMID_DS.gid, true);
      seg.mode = (seg.mode & ~0o777) | (dv.getUint32(abi.SHMID_DS.mode, true) & 0o777);
      return 0;
    }
    case abi.IPC_RMID:
      if (!ipcAdmin(creds, seg)) return EPERM;
      table.remove(seg);
      return 0;
    default:
      return EINVAL;
  }
}
