// Backend files shared by the open files of one inode (gVisor's dentry
// handles): BackendInode opens a regular file once per access mode and hands
// every later open of that mode a view of the same backend file. Reads and
// writes are positional, so the open files' own positions stay theirs; a view
// closing only lets go of the handle, which its inode closes once unused and
// no longer cached (BackendInode.drop, release), or when it is the oldest of
// too many unused ones (IdleHandles).

import { O_APPEND, O_DIRECT, O_SYNC, O_TRUNC } from '../../linux/abi.js';
import type { Errno } from '../../linux/errno.js';
import type { Attr, BackendFile, DirEntry, SetAttr } from '../../backend/backend.js';

/** Open flags that get a backend file of their own rather than the inode's shared handle (the host must see them). */
export const PRIVATE_OPEN = O_APPEND | O_TRUNC | O_SYNC | O_DIRECT;

/**
 * Unused kept handles, most recently used last, bounded: past `limit` the
 * oldest is closed (its inode opens the file again when next asked). Without
 * the bound every cached file that was ever opened would hold a host fd (in
 * direct mode, boot's own; through the gofer, a donated one, which the
 * donation channel caps at 256 in use, docs/FILES.md), so a guest that
 * opens a few thousand files would run boot out of fds, or leave no room for
 * donations to the files it opens next. One set per sandbox
 * (`sharedIdleHandles`), whatever the mount.
 */
export class IdleHandles {
  /** The list, threaded through the handles (SharedHandle.older/newer): no Map operation per open and close. */
  private oldest: SharedHandle | null = null;
  private newest: SharedHandle | null = null;
  private count = 0;

  constructor(readonly limit = DEFAULT_IDLE_HANDLES) {
    if (!Number.isSafeInteger(limit) || limit < 0) throw new RangeError(`idle handle limit must be a whole number, got ${limit}`);
  }

  /** Unused kept handles now. */
  get size(): number {
    return this.count;
  }

  /** `h` is unused and kept: it is closed (h.evict) once it is the oldest past the limit. */
  park(h: SharedHandle): void {
    if (h.parked) this.unpark(h);
    h.parked = true;
    h.older = this.newest;
    h.newer = null;
    if (this.newest) this.newest.newer = h;
    else this.oldest = h;
    this.newest = h;
    this.count++;
    while (this.count > this.limit && this.oldest) {
      const old = this.oldest;
      this.unpark(old);
      old.evict();
    }
  }

  /** `h` is in use again, or closed. */
  unpark(h: SharedHandle): void {
    if (!h.parked) return;
    h.parked = false;
    if (h.older) h.older.newer = h.newer;
    else this.oldest = h.newer;
    if (h.newer) h.newer.older = h.older;
    else this.newest = h.older;
    h.older = h.newer = null;
    this.count--;
  }
}

/** Unused kept handles of one sandbox, at most (IdleHandles). */
export const DEFAULT_IDLE_HANDLES = 128;

/** The kernel worker's one set (one sandbox per worker). */
export const sharedIdleHandles = new IdleHandles();

/** One backend file shared by the open files of an inode (see BackendInode.openShared). */
export class SharedHandle {
  /** Open files using it now. */
  users = 0;
  /** On its IdleHandles' list (unused and kept), between these. */
  parked = false;
  older: SharedHandle | null = null;
  newer: SharedHandle | null = null;

  constructor(
    readonly file: BackendFile,
    /** Its last user went away. */
    private readonly idle: () => void,
    /** IdleHandles closes it: the inode forgets and closes it. */
    readonly evict: () => void,
  ) {}

  /** A BackendFile for one more open file: everything goes to the shared file but close, which only lets go of it. */
  share(): BackendFile {
    this.users++;
    return new SharedFile(this);
  }

  /** @internal: one of share()'s files closed. */
  unshare(): void {
    if (--this.users === 0) this.idle();
  }
}

/** One open file's view of a SharedHandle. */
class SharedFile implements BackendFile {
  private closed = false;
  private readonly f: BackendFile;

  constructor(private readonly h: SharedHandle) {
    this.f = h.file;
  }

  get hostFd(): number | undefined {
    return this.f.hostFd;
  }

  read(dst: Uint8Array, offset: number): Promise<number | Errno> {
    return this.f.read(dst, offset);
  }

  write(src: Uint8Array, offset: number): Promise<number | Errno> {
    return this.f.write(src, offset);
  }

  readdir(cookie: number, maxBytes: number): Promise<DirEntry[] | Errno> {
    return this.f.readdir(cookie, maxBytes);
  }

  getattr(): Promise<Attr | Errno> {
    return this.f.getattr();
  }

  setattr(set: SetAttr): Promise<0 | Errno> {
    return this.f.setattr(set);
  }

  allocate(offset: number, len: number): Promise<0 | Errno> {
    return this.f.allocate(offset, len);
  }

  fsync(dataOnly?: boolean): Promise<0 | Errno> {
    return this.f.fsync(dataOnly);
  }

  /** Synchronous: a close of one share is no backend call (the handle is closed when the inode lets it go). */
  close(): void {
    if (this.closed) return;
    this.closed = true;
    this.h.unshare();
  }
}
