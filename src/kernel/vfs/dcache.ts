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
  /**
   * Evictable dentries, least recently used first: a list threaded through
   * the dentries themselves (Dentry.lruOlder/lruNewer), so that a lookup's
   * touch moves one to the end without hashing it (a Map's delete and set
   * were a seventh of an open+close of a cached file).
   */
  private oldest: Dentry | null = null;
  private newest: Dentry | null = null;
  private count = 0;
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
    return this.count;
  }

  /** `d` was just found or added in its parent: it becomes the most recently used. */
  touch(d: Dentry): void {
    if (!this.moveToNewest(d)) return;
    if (this.count > this.limit) this.shrink();
  }

  /** Evicts least recently used dentries until the bound holds. */
  private shrink(): void {
    while (this.count > this.limit && this.oldest !== null) {
      const d = this.oldest;
      this.unlink(d);
      const parent = d.parent;
      // Gone from the cache already (unlinked, renamed over), or a directory whose children go first.
      if (!parent || d.deleted || parent.cached(d.name) !== d || d.cachedChildren > 0) continue;
      d.inode.drop();
      parent.evict(d);
      this.evictions++;
      // A parent left without cached children may go in its turn.
      if (parent.cachedChildren === 0) this.moveToNewest(parent);
    }
  }

  /** Puts `d` at the newest end when it may be evicted at all; false when it may not. */
  private moveToNewest(d: Dentry): boolean {
    if (!d.parent || d.mountRoot || d.deleted || !d.inode.evictable) return false;
    if (d === this.newest) return true;
    if (d.onLru) this.unlink(d);
    d.onLru = true;
    d.lruOlder = this.newest;
    d.lruNewer = null;
    if (this.newest !== null) this.newest.lruNewer = d;
    else this.oldest = d;
    this.newest = d;
    this.count++;
    return true;
  }

  private unlink(d: Dentry): void {
    if (d.lruOlder !== null) d.lruOlder.lruNewer = d.lruNewer;
    else this.oldest = d.lruNewer;
    if (d.lruNewer !== null) d.lruNewer.lruOlder = d.lruOlder;
    else this.newest = d.lruOlder;
    d.lruOlder = d.lruNewer = null;
    d.onLru = false;
    this.count--;
  }
}
