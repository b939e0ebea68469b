// Discretionary access control as Linux's generic_permission and the
// may_delete / owner checks of fs/namei.c and fs/attr.c do it, with the
// capabilities that override them: CAP_DAC_OVERRIDE, CAP_DAC_READ_SEARCH,
// CAP_FOWNER, CAP_FSETID, CAP_CHOWN, from the process's effective set (the
// spec's capabilities). Credentials without capability sets (tests, tools)
// count euid 0 as holding them all.

import * as abi from '../../linux/abi.js';
import type { Attr } from '../../backend/backend.js';

export const CAP_CHOWN = 0;
export const CAP_DAC_OVERRIDE = 1;
export const CAP_DAC_READ_SEARCH = 2;
export const CAP_FOWNER = 3;
export const CAP_FSETID = 4;

/** The ids a permission check looks at (a process's credentials). */
export interface Cred {
  euid: number;
  egid: number;
  groups: number[];
  caps?: { effective: bigint };
}

/** Does `cr` hold capability `cap` (effective set)? */
export function hasCap(cr: Cred, cap: number): boolean {
  if (!cr.caps) return cr.euid === 0;
  const set = cr.caps.effective;
  if (cap < 31) {
    // The low word of the set last asked about: a path walk asks twice per component, and `set & bit` makes a new BigInt each time.
    if (set !== lastSet) {
      lastSet = set;
      lastLow = Number(BigInt.asUintN(31, set));
    }
    return (lastLow & (1 << cap)) !== 0;
  }
  return (set & (1n << BigInt(cap))) !== 0n;
}

let lastSet = 0n;
let lastLow = 0;

/** What a permission check reads of a file: its mode (S_IFMT bits included) and owner. An Attr is one. */
export interface Owned {
  readonly mode: number;
  readonly uid: number;
  readonly gid: number;
}

/** May `cr` access a file with `attr` for `mask` (R_OK|W_OK|X_OK)? generic_permission, then the capability overrides. */
export function permitted(cr: Cred, attr: Owned, mask: number): boolean {
  let bits: number;
  if (cr.euid === attr.uid) bits = (attr.mode >> 6) & 7;
  else if (inGroup(cr, attr.gid)) bits = (attr.mode >> 3) & 7;
  else bits = attr.mode & 7;
  if ((bits & mask) === mask) return true;
  const isDir = (attr.mode & abi.S_IFMT) === abi.S_IFDIR;
  if (hasCap(cr, CAP_DAC_OVERRIDE)) {
    // Everything on a directory; on a file, execute only if someone may execute it.
    if (isDir || (mask & abi.X_OK) === 0 || (attr.mode & 0o111) !== 0) return true;
  }
  // Read anything, and search directories.
  if (hasCap(cr, CAP_DAC_READ_SEARCH) && (mask & abi.W_OK) === 0 && (isDir || (mask & abi.X_OK) === 0)) return true;
  return false;
}

export function inGroup(cr: Cred, gid: number): boolean {
  return cr.egid === gid || cr.groups.includes(gid);
}

/** The owner, or CAP_FOWNER: who may chmod, set explicit times, or delete from a sticky directory. */
export function isOwner(cr: Cred, attr: Attr): boolean {
  return cr.euid === attr.uid || hasCap(cr, CAP_FOWNER);
}

/**
 * may_delete's sticky rule: in a directory with S_ISVTX (like /tmp) only the
 * victim's owner, the directory's owner or CAP_FOWNER may remove or rename it away.
 */
export function stickyAllows(cr: Cred, dir: Attr, victim: Attr): boolean {
  if (!(dir.mode & abi.S_ISVTX)) return true;
  return cr.euid === victim.uid || cr.euid === dir.uid || hasCap(cr, CAP_FOWNER);
}
