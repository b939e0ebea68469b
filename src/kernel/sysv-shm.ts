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

import { EEXIST, EINVAL, ENOENT, ENOMEM, Errno } from '../linux/errno.js';
import * as abi from '../linux/abi.js';
import { PAGE_SIZE } from '../vcpu/memory.js';
import { FrameAllocator } from './frames.js';
import type { MemoryAccount, SharedObject, SharedSlot } from './mm.js';

/** Largest segment accepted (Linux's SHMMAX default is larger; guest memory is 4 GiB). */
const SHM_MAX = 2 ** 31;

export class ShmSegment implements SharedObject {
  readonly frames: number[] = [];
  /** Entries mapping page 0: one per attach. */
  private readonly attaches: SharedSlot[] = [];
  removed = false;
  atime = 0;
  dtime = 0;
  readonly ctime = Math.floor(Date.now() / 1000);
  lpid = 0;

  constructor(
    private readonly table: ShmTable,
    readonly id: number,
    public key: number,
    readonly size: number,
    public mode: number,
    readonly uid: number,
    readonly gid: number,
    readonly cpid: number,
  ) {}

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
    const at = this.attaches.findIndex((s) => s.table === slot.table && s.page === slot.page);
    if (at >= 0) this.attaches.splice(at, 1);
    this.dtime = Math.floor(Date.now() / 1000);
    if (this.removed && this.attaches.length === 0) this.table.destroy(this);
  }
}

export class ShmTable {
  private readonly byId = new Map<number, ShmSegment>();
  private nextId = 0;

  constructor(private readonly account: MemoryAccount) {}

  /** shmget: the id of the segment of `key` (made with IPC_CREAT), or of a new one for IPC_PRIVATE. */
  get(key: number, size: number, flags: number, uid: number, gid: number, pid: number): number | Errno {
    if (key !== abi.IPC_PRIVATE) {
      const found = [...this.byId.values()].find((s) => s.key === key && !s.removed);
      if (found) {
        if ((flags & abi.IPC_CREAT) && (flags & abi.IPC_EXCL)) return EEXIST;
        if (size > found.size) return EINVAL;
        return found.id;
      }
      if (!(flags & abi.IPC_CREAT)) return ENOENT;
    }
    if (size < 1 || size > SHM_MAX) return EINVAL;
    const seg = new ShmSegment(this, this.nextId++, key, size, flags & 0o777, uid, gid, pid);
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
