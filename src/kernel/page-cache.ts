// The page cache of mapped files: what MAP_SHARED of a regular file shows.
//
// Contract:
// - One PageCache per file with shared mappings (keyed by its device and
//   inode number; read and write reach it through their inode object),
//   holding a frame of the shared pool (src/vcpu/frames.ts) for each page
//   some mapping maps. Every mapping of that page, in any process, names
//   the same frame (mm.ts SharedObject), so a store through one is seen by
//   all at once.
// - Pages are loaded on first touch: a mapping takes the frames of pages
//   already loaded and FRAME_ABSENT for the others (mapPage); a touch of
//   one comes to fault-in.ts, which pin()s a window of pages (read
//   from the file in runs of LOAD_PAGES per request; a hole reads as
//   zeros) and gives the touching entry its frame (faultPage). A loaded
//   page is dropped when no entry holds its frame any more; a page holding
//   a store not yet written (its frame's dirty byte) is written back to the
//   file first (queued: a load waits for queued writebacks before it
//   reads). A page wholly past the end of the file is never loaded: a
//   touch there is SIGBUS. The cache lives while any entry maps it
//   (`mapped`, frame or not), or work is under way.
// - The file and the mappings agree: sys_read and friends call sync() first
//   (dirty pages written back, pending writebacks awaited), writes and
//   truncates call sync() before and refresh() after (every cached page read
//   again; pages now past the end of the file taken away from every
//   mapping, whose entries become FRAME_ABSENT again). msync(MS_SYNC or MS_ASYNC), fsync, munmap and exit write
//   dirty pages back. Bytes of the last page past the end of the file are
//   never written back (the file's size does not change by a store).
// - The cache keeps a reference to an open file of the inode for reading,
//   and to a writable one (from a mapping of a writable fd) for writeback,
//   until it is empty and idle.

import { PAGE_SIZE } from '../vcpu/memory.js';
import { ENODEV, ENOMEM, Errno, isErrno } from '../linux/errno.js';
import { S_IFMT, S_IFREG } from '../linux/abi.js';
import { FrameAllocator } from './frames.js';
import type { MemoryAccount } from './mm.js';
import { NOT_LOADED, type SharedObject, type SharedSlot } from './shared-object.js';
import type { File } from './files/file.js';
import { TmpInode } from './filesystems/tmpfs-inode.js';
import { TmpOpenFile } from './filesystems/tmpfs-file.js';

/** Most pages load() reads in one request. */
const LOAD_PAGES = 64;

/** Caches by file identity: "dev:ino". */
const caches = new Map<string, PageCache>();
/**
 * The identity of each inode object some mapping was made through. Reads
 * and writes find their file's cache by their inode object (no attribute
 * round trip on the hot path); two inode objects for one file (a dentry
 * dropped and looked up again) share one cache once either is mapped.
 */
const identities = new WeakMap<object, string>();

/** The inode `f` reaches; undefined for files without one (pipes, sockets...). */
function inodeOf(f: File): object | undefined {
  return f.dentry?.inode;
}

export class PageCache implements SharedObject {
  /** Page index → frame. */
  private readonly pages = new Map<number, number>();
  /** Page index → the page table entries holding its frame. */
  private readonly slots = new Map<number, SharedSlot[]>();
  /** Page table entries mapping a page of this file, with its frame or FRAME_ABSENT. */
  private mapped = 0;
  /** The file's size when last looked at. */
  private size = 0;
  private reader: File;
  private writer?: File;
  /** Writebacks started synchronously (unmapPage), awaited by sync(). */
  private pending: Promise<void> = Promise.resolve();
  /** Work under way (sync, refresh, writebacks): the cache stays meanwhile. */
  private busy = 0;
  /** map() calls between their load and their mapping. */
  private pins = 0;

  private constructor(
    private readonly key: string,
    file: File,
    private readonly account: MemoryAccount,
  ) {
    this.reader = file.ref();
  }

  /**
   * Checkpoint (mm.ts save): the path of the file this cache holds when a
   * restore can open it again, i.e. when the file saves as a path (a file
   * of the gofer's filesystems, not deleted); undefined otherwise. Files on
   * tmpfs (memfd, POSIX shm, a spec's tmpfs) are refused for now: their
   * mappings would be restored from the tmpfs's saved bytes, a path no test
   * covers yet.
   */
  savePath(): string | undefined {
    if (this.reader.dentry?.inode instanceof TmpInode) return undefined;
    try {
      const r = this.reader.save({ pipe: () => -1, file: () => -1 });
      return r.kind === 'path' ? r.path : undefined;
    } catch {
      return undefined;
    }
  }

  /** The cache of `f`'s inode if it has one (some mapping or writeback is live). */
  static of(f: File): PageCache | undefined {
    // No shared file mapping in the sandbox (most of them): every read and write asks, so answer without finding the inode.
    if (caches.size === 0) return undefined;
    const i = inodeOf(f);
    return i === undefined ? undefined : PageCache.ofInode(i);
  }

  /** Every cache's dirty pages written back and pending writebacks done (the sandbox is shutting down). */
  static async settleAll(): Promise<void> {
    await Promise.all([...caches.values()].map((c) => c.sync()));
  }

  /** The cache of the inode `inode`, if any. */
  static ofInode(inode: object): PageCache | undefined {
    const id = identities.get(inode);
    return id === undefined ? undefined : caches.get(id);
  }

  /**
   * The cache of `f`'s inode, made if needed, with pages [first, first+count)
   * loaded; ENODEV for a file that is not a regular file with an inode. The
   * cache is pinned (kept even while it maps nothing) until the caller's
   * unpin(), which comes once the mapping is made.
   */
  static async map(f: File, first: number, count: number, account: MemoryAccount): Promise<PageCache | Errno> {
    const i = inodeOf(f);
    if (i === undefined) return ENODEV;
    const a = await f.getattr();
    if (isErrno(a)) return a;
    if ((a.mode & S_IFMT) !== S_IFREG) return ENODEV;
    const id = `${a.dev}:${a.ino}`;
    identities.set(i, id);
    let c = caches.get(id);
    if (c === undefined) {
      c = new PageCache(id, f, account);
      caches.set(id, c);
    }
    if (f.writable && c.writer === undefined) c.writer = f.ref();
    const r = await c.pin(first, count);
    return isErrno(r) ? r : c;
  }

  /** Load pages [first, first+count) and keep them until unpin() (a mapping is about to take them: mmap, mremap). */
  async pin(first: number, count: number): Promise<0 | Errno> {
    this.pins++;
    const r = await this.load(first, count);
    if (isErrno(r)) this.unpin();
    return r;
  }

  /** End the pin map() took; pages it loaded that no mapping took (the mapping failed) go. */
  unpin(): void {
    // Only when no other map() is between its load and its mapping.
    if (--this.pins > 0) return;
    for (const index of [...this.pages.keys()]) if (!this.slots.has(index)) this.dropPage(index);
    this.releaseIfIdle();
  }

  /** Let go of cached page `index` (no mapping has it), writing it back first if it holds stores. */
  private dropPage(index: number): void {
    const own = this.pages.get(index) as number;
    const dirty = this.takeDirty(index, own);
    this.pages.delete(index);
    FrameAllocator.local().unref(own, this.account);
    if (dirty) this.queue(() => this.write(index, dirty));
  }

  /** Read the file's size and bring pages [first, first+count) that lie in it into frames. */
  private async load(first: number, count: number): Promise<0 | Errno> {
    const a = await this.reader.getattr();
    if (isErrno(a)) return a;
    if ((a.mode & S_IFMT) !== S_IFREG) return ENODEV;
    this.size = a.size;
    const end = Math.min(first + count, Math.ceil(this.size / PAGE_SIZE));
    // ENOMEM before reading anything when the pages could not all be had
    // (a mapping of a huge file read page by page took minutes to fail).
    let missing = 0;
    for (let i = first; i < end; i++) if (!this.pages.has(i)) missing++;
    const alloc = FrameAllocator.local();
    if (missing * PAGE_SIZE > this.account.limit - this.account.used || missing > alloc.available) return ENOMEM;
    for (let i = first; i < end; ) {
      if (this.pages.has(i)) {
        i++;
        continue;
      }
      // A run of pages not yet here, read in one request.
      let n = 1;
      while (n < LOAD_PAGES && i + n < end && !this.pages.has(i + n)) n++;
      // A page dropped with stores (dropPage) is written back later, in
      // order: the file holds them only once those writebacks are done.
      await this.pending;
      const data = await this.reader.pread(n * PAGE_SIZE, i * PAGE_SIZE);
      if (isErrno(data)) return data;
      for (let k = 0; k < n; k++) {
        if (this.pages.has(i + k)) continue; // loaded meanwhile by another mapper
        const f = alloc.alloc(this.account);
        if (f < 0) return ENOMEM;
        alloc.bytes(f).set(data.subarray(k * PAGE_SIZE, (k + 1) * PAGE_SIZE));
        this.pages.set(i + k, f);
      }
      i += n;
    }
    return 0;
  }

  private addSlot(index: number, slot: SharedSlot): void {
    const list = this.slots.get(index);
    if (list) list.push(slot);
    else this.slots.set(index, [slot]);
  }

  mapPage(index: number, slot: SharedSlot, _account?: MemoryAccount, absent = false): number {
    this.mapped++;
    return absent ? NOT_LOADED : this.take(index, slot);
  }

  faultPage(index: number, slot: SharedSlot): number {
    return this.take(index, slot);
  }

  /** The frame of loaded page `index` with a reference for `slot`, or NOT_LOADED (for faultPage, after a pin(): past the end of the file). */
  private take(index: number, slot: SharedSlot): number {
    const f = this.pages.get(index);
    if (f === undefined) return NOT_LOADED;
    this.addSlot(index, slot);
    FrameAllocator.local().ref(f);
    return f;
  }

  copyPage(index: number, frame: number, slot: SharedSlot): void {
    this.mapped++;
    if (frame < 0) return;
    this.addSlot(index, slot);
    FrameAllocator.local().ref(frame);
  }

  unmapPage(index: number, frame: number, slot: SharedSlot, account: MemoryAccount): void {
    this.mapped--;
    const list = this.slots.get(index);
    if (frame >= 0) {
      const at = list?.findIndex((s) => s.mem === slot.mem && s.page === slot.page) ?? -1;
      if (list && at >= 0) list.splice(at, 1);
      FrameAllocator.local().unref(frame, account);
    }
    if (list && list.length > 0) return;
    this.slots.delete(index);
    // While a map() is between its load and its mapping, the page stays for it (unpin() drops it if unused).
    if (this.pages.has(index) && this.pins === 0) this.dropPage(index);
    this.releaseIfIdle();
  }

  /** Write back every dirty page, after any writeback already under way. */
  async sync(): Promise<void> {
    this.busy++;
    try {
      for (const [index, f] of [...this.pages]) {
        const dirty = this.takeDirty(index, f);
        if (dirty) this.queue(() => this.write(index, dirty));
      }
      await this.pending;
    } finally {
      this.busy--;
      this.releaseIfIdle();
    }
  }

  /**
   * The file changed under the mappings (write, truncate): read every cached
   * page again, and take pages now past its end away from the mappings
   * (pages it grew onto load when touched). Call sync() before the
   * change, or stores made since are lost. With `range` (the bytes a
   * pwrite changed), only the pages it covers are read again, unless the
   * size changed.
   */
  async refresh(range?: [number, number]): Promise<void> {
    this.busy++;
    try {
      const a = await this.reader.getattr();
      if (isErrno(a)) return;
      const sized = a.size !== this.size;
      this.size = a.size;
      const inFile = Math.ceil(this.size / PAGE_SIZE);
      const alloc = FrameAllocator.local();
      for (const [index, f] of [...this.pages]) {
        if (range && !sized && ((index + 1) * PAGE_SIZE <= range[0] || index * PAGE_SIZE >= range[1])) continue;
        if (index >= inFile) {
          // Past the new end: every entry holding it goes back to absent (a touch is then SIGBUS).
          for (const s of this.slots.get(index) ?? []) {
            if (s.mem.frameEntry(s.page) !== f + 1) continue;
            s.mem.unloadPage(s.page);
            alloc.unref(f, this.account);
          }
          this.slots.delete(index);
          this.pages.delete(index);
          alloc.unref(f, this.account);
          continue;
        }
        const data = await this.reader.pread(PAGE_SIZE, index * PAGE_SIZE);
        if (isErrno(data) || this.pages.get(index) !== f) continue;
        const bytes = alloc.bytes(f);
        bytes.set(data.subarray(0, PAGE_SIZE));
        bytes.fill(0, Math.min(data.length, PAGE_SIZE));
      }
    } finally {
      this.busy--;
      this.releaseIfIdle();
    }
  }

  /** A copy of page `index`'s bytes inside the file if its frame is dirty (clearing the mark), else null. */
  private takeDirty(index: number, frame: number): Uint8Array | null {
    const alloc = FrameAllocator.local();
    if (alloc.pool.dirty[frame] === 0) return null;
    alloc.pool.dirty[frame] = 0;
    const n = Math.min(PAGE_SIZE, this.size - index * PAGE_SIZE);
    return n > 0 ? alloc.bytes(frame).slice(0, n) : null;
  }

  private async write(index: number, bytes: Uint8Array): Promise<void> {
    if (this.writer === undefined) return;
    // Stores through a mapping made before F_SEAL_FUTURE_WRITE still reach a sealed tmpfs file, as on Linux.
    if (this.writer instanceof TmpOpenFile) this.writer.inode.write(bytes, index * PAGE_SIZE, true);
    else await this.writer.pwrite(bytes, index * PAGE_SIZE);
  }

  private queue(job: () => Promise<void>): void {
    this.busy++;
    this.pending = this.pending.then(job).catch(() => {}).finally(() => {
      this.busy--;
      this.releaseIfIdle();
    });
  }

  /** Forget this cache once it maps nothing and nothing is under way: let go of its files. */
  private releaseIfIdle(): void {
    if (this.busy > 0 || this.pins > 0 || this.mapped > 0 || this.pages.size > 0 || this.slots.size > 0) return;
    if (caches.get(this.key) !== this) return;
    caches.delete(this.key);
    void this.reader.unref();
    if (this.writer) void this.writer.unref();
  }
}

/** Run `op`, a change to the file behind `cache` (write, truncate; `range`: the bytes it may change, if known), between a sync() and a refresh(). */
export async function aroundChange<T>(cache: PageCache | undefined, op: () => T | Promise<T>, range?: [number, number]): Promise<T> {
  if (cache === undefined) return op();
  await cache.sync();
  try {
    return await op();
  } finally {
    await cache.refresh(range);
  }
}

/**
 * Run `op`, which reads `from` and/or changes `to` (either may be absent),
 * coherently with their shared mappings: stores written back before, `to`'s
 * mappings refreshed after (`range`: the bytes of `to` it may change, if
 * known). Files nobody maps pay two map lookups.
 */
export function coherentIo<T>(from: File | undefined, to: File | undefined, op: () => T | Promise<T>, range?: [number, number]): T | Promise<T> {
  const rc = from ? PageCache.of(from) : undefined;
  const wc = to ? PageCache.of(to) : undefined;
  if (rc === undefined && wc === undefined) return op();
  return (async () => {
    if (rc !== undefined && rc !== wc) await rc.sync();
    return aroundChange(wc, op, range);
  })();
}
