// Memory system calls: brk, mmap, munmap, mprotect, mremap, madvise.

import * as abi from '../../linux/abi.js';
import { EACCES, EFAULT, EINVAL, ENODEV, ENOMEM, EPERM, ESPIPE, isErrno } from '../../linux/errno.js';
import { sealsOf } from '../filesystems/tmpfs-file.js';
import { pageAlignUp } from '../mm.js';
import { ANON_GROWN, type SharedBacking } from '../shared-object.js';
import { ENGINE_BASE, GUEST_VA_LIMIT, HIGH_VA_LIMIT, PAGE_SIZE } from '../../vcpu/memory.js';
import { SysCtx, SysResult } from './context.js';
import { PageCache } from '../page-cache.js';
import type { File } from '../files/file.js';

export function sys_brk(c: SysCtx): SysResult {
  const mm = c.proc.mm;
  const req = c.u(0);
  return req === 0 ? mm.brkEnd : mm.brk(req);
}

export async function sys_mmap(c: SysCtx): Promise<SysResult> {
  const addr = c.u(0);
  const len = c.u(1);
  const prot = c.i32(2);
  const flags = c.i32(3);
  const fd = c.i32(4);
  const offset = c.u(5);
  const mm = c.proc.mm;
  if (len === 0 || addr % PAGE_SIZE || offset % PAGE_SIZE) return EINVAL;
  // Only a shared file mapping (loaded on touch) may be larger than 4 GiB: it can go to the high range (mm.ts).
  if (len > HIGH_VA_LIMIT - GUEST_VA_LIMIT) return ENOMEM;
  const type = flags & abi.MAP_TYPE;
  if (type !== abi.MAP_PRIVATE && type !== abi.MAP_SHARED && type !== abi.MAP_SHARED_VALIDATE) return EINVAL;
  const anon = (flags & abi.MAP_ANONYMOUS) !== 0;
  let fileData: Uint8Array | undefined;
  let name = '';
  // MAP_SHARED anonymous memory: fresh frames of the shared pool, which fork shares.
  let shared: SharedBacking | undefined = anon && type !== abi.MAP_PRIVATE ? { pgoff: 0 } : undefined;
  if (anon && len > GUEST_VA_LIMIT) return ENOMEM;
  let cache: PageCache | undefined;
  if (!anon) {
    const f = c.proc.fds.get(fd);
    if (isErrno(f)) return f;
    if (!f.readable) return EACCES;
    name = f.path;
    if (type !== abi.MAP_PRIVATE && (await isDevZero(f))) {
      // Linux's old way to shared anonymous memory.
      shared = { pgoff: 0 };
    } else if (type !== abi.MAP_PRIVATE) {
      // The file's page cache: every shared mapping of it names the same frames.
      if (prot & abi.PROT_WRITE && !f.writable) return EACCES;
      // A write-sealed memfd: no writable shared mapping, now or by mprotect later.
      const writeSealed = ((sealsOf(f) ?? 0) & (abi.F_SEAL_WRITE | abi.F_SEAL_FUTURE_WRITE)) !== 0;
      if (prot & abi.PROT_WRITE && writeSealed) return EPERM;
      // No room: fail before anything else (pages load on first touch, not here).
      if (!(flags & (abi.MAP_FIXED | abi.MAP_FIXED_NOREPLACE)) && !mm.hasRoomFor(len, true)) return ENOMEM;
      const pc = await PageCache.map(f, offset / PAGE_SIZE, 0, mm.account);
      if (isErrno(pc)) return pc;
      cache = pc;
      shared = { obj: pc, pgoff: offset / PAGE_SIZE, readOnly: !f.writable || writeSealed };
    } else {
      if (len > GUEST_VA_LIMIT) return ENOMEM;
      const data = await f.pread(len, offset);
      if (isErrno(data)) return data === ESPIPE ? ENODEV : data;
      fileData = data;
    }
  }
  try {
    return mapAt(c, addr, len, prot, flags, name, shared, fileData);
  } finally {
    cache?.unpin();
  }
}

/** Is `f` /dev/zero (character device 1:5)? */
async function isDevZero(f: File): Promise<boolean> {
  const a = await f.getattr();
  return !isErrno(a) && (a.mode & abi.S_IFMT) === abi.S_IFCHR && ((a.rdev >> 8n) & 0xfffn) === 1n && (a.rdev & 0xffn) === 5n;
}

/** The mapping part of mmap, once the file's bytes or page cache are at hand. */
function mapAt(c: SysCtx, addr: number, len: number, prot: number, flags: number, name: string, shared: SharedBacking | undefined, fileData: Uint8Array | undefined): SysResult {
  const mm = c.proc.mm;
  let at: number;
  if (flags & abi.MAP_FIXED_NOREPLACE) {
    const r = mm.mapNoReplace(addr, len, prot, name, shared);
    if (r !== 0) return r;
    at = addr;
  } else if (flags & abi.MAP_FIXED) {
    const r = mm.mapFixed(addr, len, prot, name, shared);
    if (r !== 0) return r;
    at = addr;
  } else {
    const r = mm.mapAnywhere(len, prot, name, addr, shared);
    if (isErrno(r)) return r;
    at = r;
  }
  if (fileData && fileData.length > 0) {
    // The kernel fills the pages whatever their protection.
    mm.mem.u8.set(fileData.subarray(0, pageAlignUp(len)), at);
    if (prot & abi.PROT_EXEC) c.proc.cpu.invalidateCode(at, fileData.length);
  }
  return at;
}

export function sys_munmap(c: SysCtx): SysResult {
  return c.proc.mm.unmap(c.u(0), c.u(1));
}

export function sys_mprotect(c: SysCtx): SysResult {
  const prot = c.i32(2);
  if (prot & ~(abi.PROT_READ | abi.PROT_WRITE | abi.PROT_EXEC | 0x01000000 | 0x02000000)) return EINVAL;
  return c.proc.mm.protect(c.u(0), c.u(1), prot & 7);
}

/** mremap: grow or shrink in place when possible, else move (MREMAP_MAYMOVE). A file's pages the mapping grows onto load when touched. */
export function sys_mremap(c: SysCtx): SysResult {
  return remap(c);
}

function remap(c: SysCtx): SysResult {
  const old = c.u(0);
  const oldLen = pageAlignUp(c.u(1));
  const newLen = pageAlignUp(c.u(2));
  const flags = c.i32(3);
  const mm = c.proc.mm;
  if (old % PAGE_SIZE || newLen === 0 || flags & ~(abi.MREMAP_MAYMOVE | abi.MREMAP_FIXED)) return EINVAL;
  if (flags & abi.MREMAP_FIXED) return EINVAL;
  const vma = mm.vmaAt(old);
  if (!vma || old + oldLen > vma.end) return EFAULT;
  if (newLen <= oldLen) {
    if (newLen < oldLen) mm.unmap(old + newLen, oldLen - newLen);
    return old;
  }
  // A shared mapping grows with the next pages of its object (none for anonymous memory: SIGBUS there), and moves with its frames.
  const backingAt = (addr: number): SharedBacking | undefined =>
    vma.shared ? { ...vma.shared, obj: vma.shared.obj ?? ANON_GROWN, pgoff: vma.shared.pgoff + (addr - vma.start) / PAGE_SIZE } : undefined;
  // In place when free and inside the range the mapping lies in (below the engine area, or the high range for a file's).
  const limit = old >= GUEST_VA_LIMIT ? HIGH_VA_LIMIT : ENGINE_BASE;
  if (mm.isFree(old + oldLen, old + newLen) && old + newLen <= limit) {
    const r = mm.mapFixed(old + oldLen, newLen - oldLen, vma.prot, vma.name, backingAt(old + oldLen));
    if (r === 0) mm.mergeAt(old + oldLen);
    return r === 0 ? old : r;
  }
  if (!(flags & abi.MREMAP_MAYMOVE)) return ENOMEM;
  const at = mm.mapAnywhere(newLen, vma.prot, vma.name, 0, backingAt(old));
  if (isErrno(at)) return at;
  // Anonymous frames move with the mapping; an object's pages were mapped from the object itself; private bytes are copied.
  if (vma.shared?.obj === undefined || vma.shared.obj === ANON_GROWN) {
    if (vma.shared) mm.moveFrames(old, at, oldLen);
    else mm.mem.u8.copyWithin(at, old, old + oldLen);
  }
  mm.unmap(old, oldLen);
  return at;
}

/** madvise: advice is accepted and ignored, but MADV_DONTNEED, after which private pages read as zero (shared ones keep their data). */
export function sys_madvise(c: SysCtx): SysResult {
  const addr = c.u(0);
  if (addr % PAGE_SIZE) return EINVAL;
  if (c.i32(2) === abi.MADV_DONTNEED) c.proc.mm.discard(addr, Math.min(addr + pageAlignUp(c.u(1)), GUEST_VA_LIMIT));
  return 0;
}

