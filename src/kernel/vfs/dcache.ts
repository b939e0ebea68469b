// The dentry cache's bound (Linux's dcache shrinker, gVisor's --dcache).
//
// Every dentry the VFS looks up stays cached in its parent (Dentry's
// children), so a walked path costs nothing the second time. Dentries of
// filesystems outside the sandbox also hold a host resource through their
// inode: a gofer fid (a connection holds at most 65,536) or, in direct mode,
// an O_PATH fd. This cache keeps such dentries in least-recently-used order
// and, past `limit`, evicts the oldest:
//
// - the inode drops its node (the fid is clunked, the fd closed) and walks
//   to the file again by name from its parent when it is next used;
// - the dentry leaves its parent's children for a weak reference: if
//   something still holds it (an open file, a cwd, a process's root), the
//   next lookup of that name finds that same dentry again, so one name never
//   has two live dentries (rename, getcwd and locks stay right); once nothing
//   holds it, it is collected and its inode released.
//
// A directory with cached children is never evicted (its children go
// first); mount points, the root, deleted dentries and inodes that hold
// nothing they could get back (tmpfs, procfs: Inode.drop() is false) are
// never in the list.
//
// The bound counts evictable dentries, so the host resources held through
// the cache are at most `limit` nodes for them plus one per directory
// holding cached children, plus those in use.

import type { Dentry } from './inode.js';

/** Default bound of the cache (dentries whose inodes hold backend nodes). */
export const DEFAULT_DCACHE_SIZE = 4096;

export class DentryCache {
  /** Evictable dentries, least recently used first (a Map keeps insertion order). */
  private readonly lru = new Map<Dentry, true>();
  /** Dentries evicted so far (for tests and statistics). */
  evictions = 0;

  constructor(
    /** Most evictable dentries kept; at least 1. */
    readonly limit: number = DEFAULT_DCACHE_SIZE,
  ) {
    if (!Number.isSafeInteger(limit) || limit < 1) throw new RangeError(`dentry cache size must be a positive integer, got ${limit}`);
  }

  /** Evictable dentries now cached. */
  get size(): number {
    return this.lru.size;
  }

  /** `d` was just found or added in its parent: it becomes the most recently used. */
  touch(d: Dentry): void {
    if (!d.parent || d.mountRoot || d.deleted || !d.inode.evictable) return;
    this.lru.delete(d);
    this.lru.set(d, true);
    if (this.lru.size > this.limit) this.shrink();
  }

  /** Evicts least recently used dentries until the bound holds. */
  private shrink(): void {
    for (const d of this.lru.keys()) {
      if (this.lru.size <= this.limit) return;
      this.lru.delete(d);
      const parent = d.parent;
      // Gone from the cache already (unlinked, renamed over), or a directory whose children go first.
      if (!parent || d.deleted || parent.cached(d.name) !== d || d.cachedChildren > 0) continue;
      d.inode.drop();
      parent.evict(d);
      this.evictions++;
      // A parent left without cached children may go in its turn.
      if (parent.cachedChildren === 0) this.touchQuietly(parent);
    }
  }

  /** touch() without shrinking (called from inside shrink). */
  private touchQuietly(d: Dentry): void {
    if (!d.parent || d.mountRoot || d.deleted || !d.inode.evictable) return;
    this.lru.delete(d);
    this.lru.set(d, true);
  }
}
