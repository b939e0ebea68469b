// Spare skeletons for `tsvisor do`'s default rootfs: a skeleton
// (busybox-rootfs.ts `busyboxSkeleton`) that a run left exactly as it was
// laid out is kept in the cache for a later run instead of being removed,
// so that a start makes no inode and an end frees no block for it
// (docs/STARTUP.md, "do's own cost": on this host each freed block waited
// for its discard).
//
//   busybox-rootfs/spare/NAME    one skeleton each, at most MAX_SPARES
//
// A start takes one by renaming it into its bundle's directory (atomic: two
// runs never get the same one), checks that it is exactly the skeleton
// (isBusyboxSkeleton), and records each entry's identity: its inode and its
// change time, to the nanosecond. Every change a guest can make to an
// entry (a write, truncate, chmod, chown, utimes, a link made or removed, a
// name added, removed or renamed in a directory) sets the change time of
// what it changed to the present, and no system call sets it back. At the
// end, once boot and the gofer are reaped (no one can reach the tree any
// more), the run's waiter (src/main/waiter.ts, in Perl: statx by its number)
// or run itself (untouched, below) compares them all: the same identities
// move the tree back among the spares; any difference removes it, as a run
// always did. A guest's writes to its rootfs therefore never outlive its run.
// Where the cache and the temporary directory are different filesystems the
// renames fail (EXDEV) and every run lays out and removes its own.

import * as fs from 'node:fs';
import * as path from 'node:path';
import { busyboxSkeleton, DO_HOSTNAME, isBusyboxSkeleton, layoutBusyboxSkeleton } from './busybox-rootfs.js';
import { TEMPLATE_DIR } from './busybox-template.js';

/** How many spare skeletons the cache keeps (runs at once beyond it remove theirs). */
export const MAX_SPARES = 4;

/**
 * What the end of a run needs to keep its skeleton: see the file's comment.
 * src/main takes it by type alone (its bundles stay without this folder).
 */
export interface KeptSkeleton {
  /** The skeleton, where the run has it. */
  path: string;
  /** The spares' directory. */
  spares: string;
  /** How many spares the directory may hold (MAX_SPARES). */
  maxSpares: number;
  /** Each entry's identity as "REL<TAB>INODE<TAB>CTIME_SEC<TAB>CTIME_NSEC" (REL "." for the root). */
  entries: string[];
  /** The end of a run that waits in Node: keepOrRemove. */
  finish(): void;
}

export function sparesDir(cache: string): string {
  return path.join(cache, TEMPLATE_DIR, 'spare');
}

/**
 * Puts a skeleton at `rootfs` (absent; its parent exists): a spare taken from
 * the cache, else a fresh one. Returns what keeps it at the end, or undefined
 * where the cache cannot hold spares (the run then removes it, as before).
 */
export function takeSkeleton(cache: string, rootfs: string, hostname = DO_HOSTNAME): KeptSkeleton | undefined {
  const spares = sparesDir(cache);
  let names: string[] = [];
  try {
    names = fs.readdirSync(spares);
  } catch {
    // none yet
  }
  let taken = false;
  for (const name of names) {
    try {
      fs.renameSync(path.join(spares, name), rootfs);
    } catch {
      continue; // another run took it, or another filesystem
    }
    if (isBusyboxSkeleton(rootfs, hostname)) {
      taken = true;
      break;
    }
    fs.rmSync(rootfs, { recursive: true, force: true }); // not a skeleton as this build lays it out
  }
  if (!taken) layoutBusyboxSkeleton(rootfs, hostname);
  try {
    fs.mkdirSync(spares, { recursive: true });
  } catch {
    return undefined;
  }
  const kept: KeptSkeleton = { path: rootfs, spares, maxSpares: MAX_SPARES, entries: skeletonIdentities(rootfs, hostname), finish: () => keepOrRemove(kept) };
  return kept;
}

/** Each skeleton entry's identity under `rootfs`, as KeptSkeleton's `entries`. */
export function skeletonIdentities(rootfs: string, hostname = DO_HOSTNAME): string[] {
  return busyboxSkeleton(hostname).map((e) => {
    const st = fs.lstatSync(path.join(rootfs, e.rel), { bigint: true });
    return [e.rel, st.ino, st.ctimeNs / 1_000_000_000n, st.ctimeNs % 1_000_000_000n].join('\t');
  });
}

/** True when every entry still has the identity recorded (the waiter's Perl makes the same check). */
export function untouched(k: KeptSkeleton): boolean {
  try {
    return k.entries.every((line) => {
      const [rel, ino, sec, nsec] = line.split('\t');
      const st = fs.lstatSync(rel === '.' ? k.path : path.join(k.path, rel), { bigint: true });
      return st.ino === BigInt(ino) && st.ctimeNs === BigInt(sec) * 1_000_000_000n + BigInt(nsec);
    });
  } catch {
    return false;
  }
}

/** The end of a run waiting in Node: the skeleton back among the spares when untouched and there is room, else removed. */
export function keepOrRemove(k: KeptSkeleton): void {
  let room = false;
  try {
    room = fs.readdirSync(k.spares).length < k.maxSpares;
  } catch {
    // no spares' directory
  }
  if (room && untouched(k)) {
    try {
      fs.renameSync(k.path, path.join(k.spares, `${process.pid}-${Date.now()}-${Math.random().toString(36).slice(2, 8)}`));
      return;
    } catch {
      // removed below
    }
  }
  fs.rmSync(k.path, { recursive: true, force: true });
}
