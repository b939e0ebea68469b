// Credentials and capabilities (Linux's kernel/sys.c setresuid family and
// security/commoncap.c): who may change which id, and what that does to the
// capability sets.
//
// Contract: capabilities are the spec's (process.capabilities), one bit per
// CAP_* number, checked in the effective set: by identity changes, kill and
// sethostname here, and by file permission checks in vfs/perm.ts.

import type { Creds } from './task.js';

export const CAP_CHOWN = 0;
export const CAP_KILL = 5;
export const CAP_SETGID = 6;
export const CAP_SETUID = 7;
export const CAP_SETPCAP = 8;
export const CAP_SYS_ADMIN = 21;
/** Every capability Linux 6.1 knows (CAP_LAST_CAP = 40). */
export const ALL_CAPS = (1n << 41n) - 1n;

export function capable(c: Creds, cap: number): boolean {
  return (c.caps.effective & (1n << BigInt(cap))) !== 0n;
}

/** A real, effective and saved id (uids or gids: the rules are the same). */
interface Ids {
  r: number;
  e: number;
  s: number;
}

/**
 * setres[ug]id(r, e, s) with -1 meaning "unchanged": without the capability
 * each new id must be one of the current three. null: not permitted (EPERM).
 */
function resIds(cur: Ids, privileged: boolean, r: number, e: number, s: number): Ids | null {
  const allowed = (id: number) => id === -1 || id === cur.r || id === cur.e || id === cur.s;
  if (!privileged && !(allowed(r) && allowed(e) && allowed(s))) return null;
  return { r: r === -1 ? cur.r : r, e: e === -1 ? cur.e : e, s: s === -1 ? cur.s : s };
}

/** set[ug]id(id): with the capability all three ids; otherwise only the effective one, to the real or saved id. */
function oneId(cur: Ids, privileged: boolean, id: number): Ids | null {
  if (privileged) return { r: id, e: id, s: id };
  if (id !== cur.r && id !== cur.s) return null;
  return { ...cur, e: id };
}

/** setre[ug]id(r, e): the saved id follows the new effective one when the real one is set or the effective one leaves the old real id. */
function reIds(cur: Ids, privileged: boolean, r: number, e: number): Ids | null {
  if (!privileged) {
    if (r !== -1 && r !== cur.r && r !== cur.e) return null;
    if (e !== -1 && e !== cur.r && e !== cur.e && e !== cur.s) return null;
  }
  const next = { r: r === -1 ? cur.r : r, e: e === -1 ? cur.e : e, s: cur.s };
  if (r !== -1 || (e !== -1 && e !== cur.r)) next.s = next.e;
  return next;
}

const uids = (c: Creds): Ids => ({ r: c.ruid, e: c.euid, s: c.suid });
const gids = (c: Creds): Ids => ({ r: c.rgid, e: c.egid, s: c.sgid });

/** Install new uids (or refuse: false), fixing the capability sets as commoncap does. */
function applyUids(c: Creds, next: Ids | null): boolean {
  if (!next) return false;
  const old = { ruid: c.ruid, euid: c.euid, suid: c.suid };
  [c.ruid, c.euid, c.suid] = [next.r, next.e, next.s];
  fixCapsAfterUidChange(c, old);
  return true;
}

function applyGids(c: Creds, next: Ids | null): boolean {
  if (!next) return false;
  [c.rgid, c.egid, c.sgid] = [next.r, next.e, next.s];
  return true;
}

export const setResUid = (c: Creds, r: number, e: number, s: number): boolean => applyUids(c, resIds(uids(c), capable(c, CAP_SETUID), r, e, s));
export const setUid = (c: Creds, uid: number): boolean => applyUids(c, oneId(uids(c), capable(c, CAP_SETUID), uid));
export const setReUid = (c: Creds, r: number, e: number): boolean => applyUids(c, reIds(uids(c), capable(c, CAP_SETUID), r, e));
export const setResGid = (c: Creds, r: number, e: number, s: number): boolean => applyGids(c, resIds(gids(c), capable(c, CAP_SETGID), r, e, s));
export const setGid = (c: Creds, gid: number): boolean => applyGids(c, oneId(gids(c), capable(c, CAP_SETGID), gid));
export const setReGid = (c: Creds, r: number, e: number): boolean => applyGids(c, reIds(gids(c), capable(c, CAP_SETGID), r, e));

/**
 * commoncap's cap_emulate_setxuid: leaving uid 0 everywhere drops permitted
 * and effective capabilities (unless keepcaps); an effective uid leaving 0
 * drops the effective set; returning to 0 restores it from permitted.
 */
function fixCapsAfterUidChange(c: Creds, old: { ruid: number; euid: number; suid: number }): void {
  const wasRoot = old.ruid === 0 || old.euid === 0 || old.suid === 0;
  const isRoot = c.ruid === 0 || c.euid === 0 || c.suid === 0;
  if (wasRoot && !isRoot && !c.keepCaps) {
    c.caps.permitted = 0n;
    c.caps.effective = 0n;
    c.caps.ambient = 0n;
  }
  if (old.euid === 0 && c.euid !== 0) c.caps.effective = 0n;
  if (old.euid !== 0 && c.euid === 0) c.caps.effective = c.caps.permitted;
}

/** May `sender` signal a process with credentials `target` (kill_ok_by_cred)? */
export function maySignal(sender: Creds, target: Creds): boolean {
  if (capable(sender, CAP_KILL)) return true;
  return sender.euid === target.suid || sender.euid === target.ruid || sender.ruid === target.suid || sender.ruid === target.ruid;
}
