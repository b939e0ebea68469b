// The bound on `tsvisor do`'s kept busybox trees (busybox-template.ts): one
// is made per busybox content (a --busybox file rebuilt, a Debian update),
// ~1.7 MB and ~270 names each, and without a bound they would pile up in the
// user's cache for ever. Keyed as the cache is (by content hash, under
// busybox-rootfs/L-SHA256), and pruned only when a tree is made, the one
// moment the cache grows, so a start that finds its tree pays nothing:
//
// - the trees: at most MAX_TREES, the most recently used kept (the tree just
//   made, and the tree of the cached Debian binary, busybox-cache.ts's
//   current.json, always); a tree's last use is its directory's modification
//   time, which each start sets (holdTree). Any layout's trees count.
// - the --busybox index (busybox-rootfs/files/IDENTITY): an entry whose tree
//   is gone, and beyond MAX_FILE_INDEX entries the oldest; an entry is a
//   memo (a miss reads and hashes the file again), never needed.
// - what a process that died midway left: a tree being built (.tmp-*) or
//   being removed (.prune-*), once untouched for STALE_MS.
//
// A tree in use is never touched. Each start holds a shared flock(2) on its
// tree's directory from before it checks the tree until the sandbox is gone
// (the fd goes to run and, past its execve, to its waiter; src/main/do.ts,
// run.ts), and the pruner removes a tree only under an exclusive lock taken
// without waiting: a tree held by any start is skipped. Under that lock it
// first renames the tree aside, so no later start finds it, then removes it; a
// start whose lock came after such a rename sees that its directory is no
// longer the one at the tree's path and looks again (holdTree's undefined).

import * as fs from 'node:fs';
import * as path from 'node:path';
import { closeFd, flock, LOCK_EX, LOCK_NB, LOCK_SH } from '../host/files.js';

/** How many kept trees the cache holds at most (the one in use beyond them is never removed). */
export const MAX_TREES = 4;
/** How many --busybox index entries are kept at most. */
export const MAX_FILE_INDEX = 64;
/** How old a leftover of a build or a removal must be before it is taken for a dead process's. */
export const STALE_MS = 3_600_000;

const TREE_NAME = /^\d+-[0-9a-f]{64}$/;
const LEFTOVER = /^\.(tmp|prune)-/;

/**
 * Holds the kept tree at `dir` in use: a shared lock on the directory, then a
 * check that the locked directory is still the one at `dir`. Returns the
 * locked fd (close-on-exec; the lock lasts while it is open), or undefined when
 * there is no tree at `dir` any more (pruned: look it up again). Marks the
 * tree as just used (its modification time) where the cache can be written.
 */
export function holdTree(dir: string): number | undefined {
  let fd: number;
  try {
    fd = fs.openSync(dir, 'r');
  } catch {
    return undefined;
  }
  try {
    // Waits only while a prune holds it (which renames it away). A filesystem
    // without locks refuses the pruner's lock too: the tree is then never pruned.
    flock(fd, LOCK_SH);
    const held = fs.fstatSync(fd, { bigint: true });
    const now = fs.statSync(dir, { bigint: true });
    if (held.ino !== now.ino || held.dev !== now.dev) throw new Error('renamed aside');
  } catch {
    fs.closeSync(fd);
    return undefined;
  }
  try {
    const t = new Date();
    fs.futimesSync(fd, t, t);
  } catch {
    // a cache this user may not write: the order of use is not kept
  }
  return fd;
}

/** Removes `p` (a tree, or a leftover) by renaming it aside first, so that it vanishes from its name at once. */
function removeAside(base: string, p: string): void {
  const aside = path.join(base, `.prune-${process.pid}-${Math.random().toString(36).slice(2, 10)}`);
  fs.renameSync(p, aside);
  fs.rmSync(aside, { recursive: true, force: true });
}

/** Removes the tree at `dir` unless a start holds it; true when removed. */
function removeTree(base: string, dir: string): boolean {
  let fd: number;
  try {
    fd = fs.openSync(dir, 'r');
  } catch {
    return false;
  }
  try {
    if (flock(fd, LOCK_EX | LOCK_NB) < 0) return false; // in use (or locks refused: kept)
    removeAside(base, dir);
    return true;
  } catch {
    return false;
  } finally {
    closeFd(fd);
  }
}

function mtimeOf(p: string): number {
  try {
    return fs.statSync(p).mtimeMs;
  } catch {
    return 0;
  }
}

/**
 * Prunes `base` (the cache's busybox-rootfs directory) as the file's comment
 * says. `protect`: the names (L-SHA256) of the trees never removed. Returns
 * the names of the trees removed. Never throws: a cache it cannot prune is
 * left as it is.
 */
export function pruneTemplates(base: string, protect: readonly string[], now = Date.now()): string[] {
  const removed: string[] = [];
  try {
    pruneIn(base, protect, now, removed);
  } catch {
    // a cache we cannot list or change: left as it is
  }
  return removed;
}

function pruneIn(base: string, protect: readonly string[], now: number, removed: string[]): void {
  let names: string[];
  try {
    names = fs.readdirSync(base);
  } catch {
    return;
  }
  const trees = names.filter((n) => TREE_NAME.test(n)).map((n) => ({ n, used: mtimeOf(path.join(base, n)) }));
  // Most recently used first, the protected ones ahead of all.
  trees.sort((a, b) => Number(protect.includes(b.n)) - Number(protect.includes(a.n)) || b.used - a.used);
  for (const t of trees.slice(MAX_TREES)) {
    if (!protect.includes(t.n) && removeTree(base, path.join(base, t.n))) removed.push(t.n);
  }
  for (const n of names) {
    const p = path.join(base, n);
    if (!LEFTOVER.test(n) || now - mtimeOf(p) < STALE_MS) continue;
    try {
      fs.rmSync(p, { recursive: true, force: true });
    } catch {
      // another process's, going
    }
  }
  pruneFileIndex(base);
}

/** The --busybox index: entries whose tree is gone, then the oldest beyond MAX_FILE_INDEX. */
function pruneFileIndex(base: string): void {
  const dir = path.join(base, 'files');
  let entries: { p: string; used: number }[];
  try {
    entries = fs.readdirSync(dir).map((n) => ({ p: path.join(dir, n), used: mtimeOf(path.join(dir, n)) }));
  } catch {
    return;
  }
  const trees = new Set(fs.readdirSync(base).filter((n) => TREE_NAME.test(n)).map((n) => n.slice(n.indexOf('-') + 1)));
  const live: typeof entries = [];
  for (const e of entries) {
    let hash = '';
    try {
      hash = fs.readFileSync(e.p, 'utf8').trim();
    } catch {
      continue;
    }
    if (trees.has(hash)) live.push(e);
    else fs.rmSync(e.p, { force: true });
  }
  live.sort((a, b) => b.used - a.used);
  for (const e of live.slice(MAX_FILE_INDEX)) fs.rmSync(e.p, { force: true });
}
