// Discretionary access control as Linux's generic_permission and the
// may_delete / owner checks of fs/namei.c and fs/attr.c do it.
//
// Capabilities are not modelled one by one: euid 0 holds what root's
// CAP_DAC_OVERRIDE, CAP_DAC_READ_SEARCH, CAP_FOWNER, CAP_CHOWN and
// CAP_FSETID give (the sandbox's root); every other uid holds none.

import * as abi from '../abi.js';
import type { Attr } from './backend.js';

/** The ids a permission check looks at (a process's credentials). */
export interface Cred {
  euid: number;
  egid: number;
  groups: number[];
}

/** May `cr` access a file with `attr` for `mask` (R_OK|W_OK|X_OK)? */
export function permitted(cr: Cred, attr: Attr, mask: number): boolean {
  if (cr.euid === 0) return (mask & abi.X_OK) === 0 || (attr.mode & 0o111) !== 0 || (attr.mode & abi.S_IFMT) === abi.S_IFDIR;
  let bits: number;
  if (cr.euid === attr.uid) bits = (attr.mode >> 6) & 7;
  else if (inGroup(cr, attr.gid)) bits = (attr.mode >> 3) & 7;
  else bits = attr.mode & 7;
  return (bits & mask) === mask;
}

export function inGroup(cr: Cred, gid: number): boolean {
  return cr.egid === gid || cr.groups.includes(gid);
}

/** Owner or root (CAP_FOWNER): who may chmod, set explicit times, or delete from a sticky directory. */
export function isOwner(cr: Cred, attr: Attr): boolean {
  return cr.euid === 0 || cr.euid === attr.uid;
}

/**
 * may_delete's sticky rule: in a directory with S_ISVTX (like /tmp) only the
 * victim's owner, the directory's owner or root may remove or rename it away.
 */
export function stickyAllows(cr: Cred, dir: Attr, victim: Attr): boolean {
  if (!(dir.mode & abi.S_ISVTX)) return true;
  return cr.euid === 0 || cr.euid === victim.uid || cr.euid === dir.uid;
}
