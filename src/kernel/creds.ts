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

/**
 * setresuid(r, e, s) with -1 meaning "unchanged": without CAP_SETUID each new
 * id must be one of the current real, effective or saved uids. Returns false
 * when not permitted (EPERM).
 */
export function setResUid(c: Creds, r: number, e: number, s: number): boolean {
  const allowed = (id: number) => id === -1 || id === c.ruid || id === c.euid || id === c.suid;
  if (!capable(c, CAP_SETUID) && !(allowed(r) && allowed(e) && allowed(s))) return false;
  const old = { ruid: c.ruid, euid: c.euid, suid: c.suid };
  if (r !== -1) c.ruid = r;
  if (e !== -1) c.euid = e;
  if (s !== -1) c.suid = s;
  fixCapsAfterUidChange(c, old);
  return true;
}

/** setuid(uid): with CAP_SETUID all three ids; otherwise only the effective one, to the real or saved uid. */
export function setUid(c: Creds, uid: number): boolean {
  if (capable(c, CAP_SETUID)) return setResUid(c, uid, uid, uid);
  if (uid !== c.ruid && uid !== c.suid) return false;
  return setResUid(c, -1, uid, -1);
}

/** setreuid(r, e): the saved uid follows the new effective uid when the real one is set or the effective one leaves the old real uid. */
export function setReUid(c: Creds, r: number, e: number): boolean {
  const priv = capable(c, CAP_SETUID);
  if (!priv) {
    if (r !== -1 && r !== c.ruid && r !== c.euid) return false;
    if (e !== -1 && e !== c.ruid && e !== c.euid && e !== c.suid) return false;
  }
  const newE = e === -1 ? c.euid : e;
  const s = r !== -1 || (e !== -1 && e !== c.ruid) ? newE : -1;
  const old = { ruid: c.ruid, euid: c.euid, suid: c.suid };
  if (r !== -1) c.ruid = r;
  if (e !== -1) c.euid = e;
  if (s !== -1) c.suid = s;
  fixCapsAfterUidChange(c, old);
  return true;
}

export function setResGid(c: Creds, r: number, e: number, s: number): boolean {
  const allowed = (id: number) => id === -1 || id === c.rgid || id === c.egid || id === c.sgid;
  if (!capable(c, CAP_SETGID) && !(allowed(r) && allowed(e) && allowed(s))) return false;
  if (r !== -1) c.rgid = r;
  if (e !== -1) c.egid = e;
  if (s !== -1) c.sgid = s;
  return true;
}

export function setGid(c: Creds, gid: number): boolean {
  if (capable(c, CAP_SETGID)) return setResGid(c, gid, gid, gid);
  if (gid !== c.rgid && gid !== c.sgid) return false;
  return setResGid(c, -1, gid, -1);
}

export function setReGid(c: Creds, r: number, e: number): boolean {
  if (!capable(c, CAP_SETGID)) {
    if (r !== -1 && r !== c.rgid && r !== c.egid) return false;
    if (e !== -1 && e !== c.rgid && e !== c.egid && e !== c.sgid) return false;
  }
  const newE = e === -1 ? c.egid : e;
  const s = r !== -1 || (e !== -1 && e !== c.rgid) ? newE : -1;
  if (r !== -1) c.rgid = r;
  if (e !== -1) c.egid = e;
  if (s !== -1) c.sgid = s;
  return true;
}

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
