// Byte-range record locks (Linux's fs/locks.c): POSIX (F_SETLK) and
// open-file-description (F_OFD_SETLK) locks.
//
// Contract:
// - Locks are kept per file: the inode behind the open file (its dentry's
//   inode), or the open file description itself for files without a name
//   (pipes). Ranges are inclusive [start, end], end = Infinity to the end of
//   the file and beyond.
// - A POSIX lock's owner is the fd table (Linux's current->files): a process
//   and its CLONE_FILES threads share locks, a forked child owns none of its
//   parent's. Closing any fd of a file releases every POSIX lock its owner
//   holds on that file (FdTable.close calls releasePosixLocks), so exit
//   releases them all. An OFD lock's owner is the open file description; it
//   goes when that description is released.
// - One owner's locks never conflict with each other: a new lock replaces the
//   owner's overlapping ranges (splitting them), and adjacent or overlapping
//   ranges of the same type merge. Read locks share; a write lock excludes
//   every other owner's lock on overlapping bytes.
// - F_SETLKW waits (interruptibly) until the range is free; a POSIX wait that
//   would close a cycle of waiting owners fails with EDEADLK instead.
// - flock(2) locks live in a table of their own (they never conflict with
//   fcntl locks, as on Linux): whole-file, owned by the open file description,
//   released with it; converting one drops the old lock before waiting for
//   the new, as flock_lock_inode does.

import { EAGAIN, EDEADLK, EINTR, Errno } from '../../linux/errno.js';
import { F_RDLCK, F_UNLCK, F_WRLCK } from '../../linux/abi.js';
import type { File } from './file.js';
import { WaitQueue } from './waitqueue.js';
import { Blocker, waitUntil, Wake } from './blocking.js';

export type LockType = typeof F_RDLCK | typeof F_WRLCK;

export interface LockRange {
  start: number;
  /** Inclusive; Infinity: to the end of the file, however it grows. */
  end: number;
}

export interface Lock extends LockRange {
  type: LockType;
  /** The fd table (POSIX) or the File (OFD). */
  owner: object;
  ofd: boolean;
  /** The locking process (F_GETLK's l_pid; -1 for OFD locks). */
  pid: number;
}

/** What F_GETLK reports: the first conflicting lock, or none. */
export type Conflict = Lock | null;

class FileLocks {
  locks: Lock[] = [];
  readonly wq = new WaitQueue();
}

type LockTable = WeakMap<object, FileLocks>;
/** fcntl's POSIX and OFD locks. */
const byKey: LockTable = new WeakMap();
/** flock(2)'s locks. */
const flocks: LockTable = new WeakMap();
/** Which owner each blocked POSIX owner waits for (deadlock detection). */
const waitsFor = new Map<object, object>();

/** The object locks on `f` hang from: its inode when it has a name, else the open file itself. */
function keyOf(f: File): object {
  return f.dentry?.inode ?? f;
}

function locksOf(f: File, create: boolean, table: LockTable = byKey): FileLocks | undefined {
  const k = keyOf(f);
  let l = table.get(k);
  if (!l && create) table.set(k, (l = new FileLocks()));
  return l;
}

const overlaps = (a: LockRange, b: LockRange) => a.start <= b.end && b.start <= a.end;

/** The first lock of another owner that conflicts with `want` (posix_test_lock). */
export function testLock(f: File, want: Omit<Lock, 'pid'>, table: LockTable = byKey): Conflict {
  const fl = locksOf(f, false, table);
  if (!fl) return null;
  return fl.locks.find((l) => l.owner !== want.owner && overlaps(l, want) && (l.type === F_WRLCK || want.type === F_WRLCK)) ?? null;
}

/**
 * F_SETLK/F_OFD_SETLK (and F_UNLCK): apply now or fail with EAGAIN. With a
 * Blocker (F_SETLKW), wait for the conflicting locks to go instead.
 */
export function setLock(f: File, req: Omit<Lock, 'type'> & { type: LockType | typeof F_UNLCK }, b?: Blocker, table: LockTable = byKey): 0 | Errno | Promise<0 | Errno> {
  const fl = locksOf(f, true, table)!;
  if (req.type === F_UNLCK) {
    replaceRange(fl, req.owner, req, null);
    return 0;
  }
  const want = req as Lock;
  const conflict = testLock(f, want, table);
  if (!conflict) {
    replaceRange(fl, want.owner, want, want);
    return 0;
  }
  if (!b) return EAGAIN;
  if (!want.ofd && wouldDeadlock(want.owner, conflict.owner)) return EDEADLK;
  return (async () => {
    for (;;) {
      const blocker = testLock(f, want, table);
      if (!blocker) {
        replaceRange(fl, want.owner, want, want);
        return 0;
      }
      if (!want.ofd) {
        if (wouldDeadlock(want.owner, blocker.owner)) return EDEADLK;
        waitsFor.set(want.owner, blocker.owner);
      }
      const w = await waitUntil(b, [{ queue: fl.wq, mask: ~0 }], () => testLock(f, want, table) === null, null);
      waitsFor.delete(want.owner);
      if (w !== Wake.Ready) return EINTR;
    }
  })();
}

/** Would `owner` waiting for `holder` close a cycle (posix_locks_deadlock)? */
function wouldDeadlock(owner: object, holder: object): boolean {
  let o: object | undefined = holder;
  for (let i = 0; o && i < 64; i++) {
    if (o === owner) return true;
    o = waitsFor.get(o);
  }
  return false;
}

/**
 * Make `owner`'s locks on `range` be exactly `lock` (null: none), keeping
 * its locks outside the range (split at the edges) and merging neighbours of
 * the same type.
 */
function replaceRange(fl: FileLocks, owner: object, range: LockRange, lock: Lock | null): void {
  const kept: Lock[] = [];
  let changed = false;
  let merged = lock ? { ...lock } : null;
  for (const l of fl.locks) {
    if (l.owner !== owner) {
      kept.push(l);
      continue;
    }
    const touches = merged && l.type === merged.type && l.start <= plus1(merged.end) && merged.start <= plus1(l.end);
    if (touches && merged) {
      merged.start = Math.min(merged.start, l.start);
      merged.end = Math.max(merged.end, l.end);
      changed = true;
      continue;
    }
    if (!overlaps(l, range)) {
      kept.push(l);
      continue;
    }
    changed = true;
    if (l.start < range.start) kept.push({ ...l, end: range.start - 1 });
    if (l.end > range.end) kept.push({ ...l, start: range.end + 1 });
  }
  if (merged) kept.push(merged);
  fl.locks = kept.sort((a, b) => a.start - b.start);
  if (changed || lock) fl.wq.notify(~0);
}

const plus1 = (n: number) => (n === Infinity ? n : n + 1);

/** Drop every lock `owner` holds on `f`'s file (close of an fd; release of an OFD). */
export function releaseLocks(f: File, owner: object, table: LockTable = byKey): void {
  const fl = locksOf(f, false, table);
  if (!fl || !fl.locks.some((l) => l.owner === owner)) return;
  fl.locks = fl.locks.filter((l) => l.owner !== owner);
  fl.wq.notify(~0);
}

/** The POSIX locks of fd table `owner` on `f`'s file go when any fd of it is closed. */
export function releasePosixLocks(owner: object, f: File): void {
  releaseLocks(f, owner);
}

/** An OFD lock was taken through `f`: drop the description's locks when it is released. */
export function trackOfd(f: File): void {
  if (ofdTracked.has(f)) return;
  ofdTracked.add(f);
  f.onRelease(() => {
    ofdTracked.delete(f);
    releaseLocks(f, f);
  });
}
const ofdTracked = new WeakSet<File>();

/**
 * flock(2): LOCK_SH or LOCK_EX (F_RDLCK/F_WRLCK here) or LOCK_UN (F_UNLCK)
 * for open file description `f`; EAGAIN (EWOULDBLOCK) when taken and no
 * Blocker (LOCK_NB), else wait. A conversion drops the old lock first.
 */
export function flock(f: File, type: LockType | typeof F_UNLCK, b?: Blocker): 0 | Errno | Promise<0 | Errno> {
  const whole = { start: 0, end: Infinity, owner: f, ofd: true, pid: -1 };
  const fl = locksOf(f, true, flocks)!;
  const held = fl.locks.find((l) => l.owner === f);
  if (held && held.type === type) return 0;
  if (!flockTracked.has(f)) {
    flockTracked.add(f);
    f.onRelease(() => releaseLocks(f, f, flocks));
  }
  if (held) setLock(f, { ...whole, type: F_UNLCK }, undefined, flocks);
  if (type === F_UNLCK) return 0;
  return setLock(f, { ...whole, type }, b, flocks);
}
const flockTracked = new WeakSet<File>();

/** Locks held on `f`'s file, for /proc/locks and tests. */
export function locksOn(f: File, kind: 'fcntl' | 'flock' = 'fcntl'): readonly Lock[] {
  return locksOf(f, false, kind === 'flock' ? flocks : byKey)?.locks ?? [];
}
