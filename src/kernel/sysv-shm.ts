// SysV shared memory segments (shmget/shmat/shmdt/shmctl), one table per
// kernel (the sandbox is one IPC namespace).
//
// Contract:
// - A segment owns one frame of the shared pool per page, allocated zeroed
//   when it is made and charged to the kernel's MemoryAccount; shmat maps
//   them (mm.ts SharedObject), so every attach in every process shows the
//   same bytes. The segment holds its own reference to each frame.
// - nattch counts the mappings of the segment's first page (one per attach;
//   fork copies them, as Linux's shm_open vm operation counts).
// - IPC_RMID removes the key at once and the segment once nattch is 0:
//   later lookups by id are EINVAL, as Linux.
// - Access is Linux's ipcperms: the owner's or creator's mode bits for
//   their uid, the group's for a member of the owner's or creator's group,
//   else the others'; CAP_IPC_OWNER overrides. Changing or removing a
//   segment is for its owner, its creator or CAP_SYS_ADMIN (ipcAdmin).
// - At most SHMMNI segments at once (ENOSPC), as Linux's default shmmni.
// - Ids are table indices (never reused), so SHM_STAT's index is the id.

import { EACCES, EEXIST, EINVAL, ENOENT, ENOMEM, ENOSPC, Errno } from '../linux/errno.js';
import * as abi from '../linux/abi.js';
import { PAGE_SIZE } from '../vcpu/memory.js';
import { FrameAllocator } from './frames.js';
import type { MemoryAccount } from './mm.js';
import type { SharedObject, SharedSlot } from './shared-object.js';
import { hasCap, inGroup, type Cred } from './vfs/perm.js';

/** Largest segment accepted (Linux's SHMMAX default is larger; guest memory is 4 GiB). */
export const SHM_MAX = 2 ** 31;
/** Most segments at once (Linux's default shmmni and shmseg). */
export const SHMMNI = 4096;
const CAP_IPC_OWNER = 15;
const CAP_SYS_ADMIN = 21;

/**
 * Linux's ipcperms: may `cr` use `seg` for the rwx bits in `flag`? The
 * bits may be given in any of the three triads (shmget passes its mode,
 * shmat and shmctl 0444 or 0666 style masks).
 */
export function ipcPermitted(cr: Cred, seg: ShmSegment, flag: number): boolean {
  const requested = ((flag >> 6) | (flag >> 3) | flag) & 7;
  let granted = seg.mode;
  if (cr.euid === seg.uid || cr.euid === seg.cuid) granted >>= 6;
  else if (inGroup(cr, seg.gid) || inGroup(cr, seg.cgid)) granted >>= 3;
  return (requested & ~granted & 7) === 0 || hasCap(cr, CAP_IPC_OWNER);
}

/** May `cr` change (IPC_SET) or remove (IPC_RMID) `seg`: its owner, its creator, or CAP_SYS_ADMIN. */
export function ipcAdmin(cr: Cred, seg: ShmSegment): boolean {
  return cr.euid === seg.uid || cr.euid === seg.cuid || hasCap(cr, CAP_SYS_ADMIN);
}

export class ShmSegment implements SharedObject {
  readonly frames: number[] = [];
  /** Entries mapping page 0: one per attach. */
  private readonly attaches: SharedSlot[] = [];
  removed = false;
  atime = 0;
  dtime = 0;
  readonly ctime = Math.floor(Date.now() / 1000);
  lpid = 0;
  /** The owner (IPC_SET changes it); the creator's ids are cuid and cgid. */
  uid: number;
  gid: number;

  constructor(
    private readonly table: ShmTable,
    readonly id: number,
    public key: number,
    readonly size: number,
    public mode: number,
    readonly cuid: number,
    readonly cgid: number,
    readonly cpid: number,
  ) {
    this.uid = cuid;
    this.gid = cgid;
  }

  /** Pages with a frame: all of them, allocated when the segment is made. */
  get pages(): number {
    return this.frames.length;
  }

  get nattch(): number {
    return this.attaches.length;
  }

  mapPage(index: number, slot: SharedSlot): number {
    const f = this.frames[index];
    if (f === undefined) return -1;
    FrameAllocator.local().ref(f);
    if (index === 0) this.attaches.push(slot);
    return f;
  }

  copyPage(index: number, frame: number, slot: SharedSlot): void {
    if (frame >= 0) FrameAllocator.local().ref(frame);
    if (index === 0) this.attaches.push(slot);
  }

  unmapPage(index: number, frame: number, slot: SharedSlot, account: MemoryAccount): void {
    if (frame >= 0) FrameAllocator.local().unref(frame, account);
    if (index !== 0) return;
    const at = this.attaches.findIndex((s) => s.mem === slot.mem && s.page === slot.page);
    if (at >= 0) this.attaches.splice(at, 1);
    this.dtime = Math.floor(Date.now() / 1000);
    if (this.removed && this.attaches.length === 0) this.table.destroy(this);
  }
}

export class ShmTable {
  private readonly byId = new Map<number, ShmSegment>();
  private nextId = 0;

  constructor(private readonly account: MemoryAccount) {}

  /**
   * shmget by `cr`: the id of the segment of `key` (made with IPC_CREAT), or
   * of a new one for IPC_PRIVATE. An existing segment is checked as Linux
   * does: EEXIST, then EINVAL for a larger size, then EACCES for `flags`'
   * mode bits.
   */
  get(key: number, size: number, flags: number, cr: Cred, pid: number): number | Errno {
    if (key !== abi.IPC_PRIVATE) {
      const found = [...this.byId.values()].find((s) => s.key === key && !s.removed);
      if (found) {
        if ((flags & abi.IPC_CREAT) && (flags & abi.IPC_EXCL)) return EEXIST;
        if (size > found.size) return EINVAL;
        if (!ipcPermitted(cr, found, flags & 0o777)) return EACCES;
        return found.id;
      }
      if (!(flags & abi.IPC_CREAT)) return ENOENT;
    }
    if (size < 1 || size > SHM_MAX) return EINVAL;
    if (this.byId.size >= SHMMNI) return ENOSPC;
    const seg = new ShmSegment(this, this.nextId++, key, size, flags & 0o777, cr.euid, cr.egid, pid);
    const alloc = FrameAllocator.local();
    for (let i = 0; i < Math.ceil(size / PAGE_SIZE); i++) {
      const f = alloc.alloc(this.account);
      if (f < 0) {
        for (const g of seg.frames) alloc.unref(g, this.account);
        return ENOMEM;
      }
      seg.frames.push(f);
    }
    this.byId.set(seg.id, seg);
    return seg.id;
  }

  /** The live segment `id`, or EINVAL. */
  lookup(id: number): ShmSegment | Errno {
    return this.byId.get(id) ?? EINVAL;
  }

  /** What IPC_INFO and SHM_INFO return: the highest id in use, 0 when none. */
  maxId(): number {
    let max = 0;
    for (const id of this.byId.keys()) if (id > max) max = id;
    return max;
  }

  /** SHM_INFO's counts: segments, and pages they hold (all resident: frames are allocated up front). */
  usage(): { segments: number; pages: number } {
    let pages = 0;
    for (const seg of this.byId.values()) pages += seg.pages;
    return { segments: this.byId.size, pages };
  }

  /** IPC_RMID: the key goes now, the segment once nothing is attached. */
  remove(seg: ShmSegment): void {
    seg.removed = true;
    seg.mode |= abi.SHM_DEST;
    seg.key = abi.IPC_PRIVATE;
    if (seg.nattch === 0) this.destroy(seg);
  }

  /** @internal: the last attach of a removed segment went. */
  destroy(seg: ShmSegment): void {
    if (this.byId.get(seg.id) !== seg) return;
    this.byId.delete(seg.id);
    const alloc = FrameAllocator.local();
    for (const f of seg.frames) alloc.unref(f, this.account);
  }
}
