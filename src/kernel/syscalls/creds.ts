// Identity system calls: the setuid/setgid family, setgroups, setfsuid,
// capget/capset, sethostname.

import * as abi from '../../linux/abi.js';
import { EFAULT, EINVAL, EPERM, ESRCH, Errno, isErrno } from '../../linux/errno.js';
import { StructReader, StructWriter } from '../usercopy.js';
import { ALL_CAPS, capable, CAP_SETGID, CAP_SYS_ADMIN, setGid, setReGid, setResGid, setResUid, setReUid, setUid } from '../creds.js';
import { SysCtx, SysResult } from './context.js';

/** An id argument: -1 (as a 32-bit value) means "leave unchanged". */
const id = (c: SysCtx, i: number) => c.i32(i);

const result = (ok: boolean): SysResult => (ok ? 0 : EPERM);

export const sys_setuid = (c: SysCtx): SysResult => (id(c, 0) === -1 ? EINVAL : result(setUid(c.proc.creds, id(c, 0))));
export const sys_setgid = (c: SysCtx): SysResult => (id(c, 0) === -1 ? EINVAL : result(setGid(c.proc.creds, id(c, 0))));
export const sys_setreuid = (c: SysCtx): SysResult => result(setReUid(c.proc.creds, id(c, 0), id(c, 1)));
export const sys_setregid = (c: SysCtx): SysResult => result(setReGid(c.proc.creds, id(c, 0), id(c, 1)));
export const sys_setresuid = (c: SysCtx): SysResult => result(setResUid(c.proc.creds, id(c, 0), id(c, 1), id(c, 2)));
export const sys_setresgid = (c: SysCtx): SysResult => result(setResGid(c.proc.creds, id(c, 0), id(c, 1), id(c, 2)));

/** setfsuid/setfsgid: the filesystem ids follow the effective ids here; report the current one, change nothing. */
export const sys_setfsuid = (c: SysCtx): SysResult => c.proc.creds.euid;
export const sys_setfsgid = (c: SysCtx): SysResult => c.proc.creds.egid;

const NGROUPS_MAX = 65536;

export function sys_setgroups(c: SysCtx): SysResult {
  const n = c.i32(0);
  if (n < 0 || n > NGROUPS_MAX) return EINVAL;
  if (!capable(c.proc.creds, CAP_SETGID)) return EPERM;
  const groups: number[] = [];
  if (n > 0) {
    const b = c.user.copyIn(c.u(1), n * 4);
    if (isErrno(b)) return b;
    const rd = new StructReader(b);
    for (let i = 0; i < n; i++) groups.push(rd.u32(i * 4));
  }
  c.proc.creds.groups = groups;
  return 0;
}

const LINUX_CAPABILITY_VERSION_3 = 0x20080522;

/**
 * The pid of a capget/capset header (at a0), once its version is 3; any
 * other version is answered with 3 written back and EINVAL, as Linux does.
 */
function capHeaderPid(c: SysCtx): number | Errno {
  const hdr = c.user.copyIn(c.u(0), 8);
  if (isErrno(hdr)) return hdr;
  const rd = new StructReader(hdr);
  if (rd.u32(0) !== LINUX_CAPABILITY_VERSION_3) {
    const w = c.user.writeU32(c.u(0), LINUX_CAPABILITY_VERSION_3);
    return isErrno(w) ? w : EINVAL;
  }
  return rd.i32(4);
}

/** capget(hdr, data): version 3 headers (two 32-bit words per set); others learn the version and get EINVAL. */
export function sys_capget(c: SysCtx): SysResult {
  const pid = capHeaderPid(c);
  if (isErrno(pid)) return pid;
  if (pid < 0) return EINVAL;
  const target = pid === 0 ? c.proc : c.kernel.processes.get(pid);
  if (!target || !target.alive) return ESRCH;
  if (!c.u(1)) return 0;
  const caps = target.creds.caps;
  const w = new StructWriter(24);
  const sets = [caps.effective, caps.permitted, caps.inheritable];
  for (let half = 0; half < 2; half++) {
    sets.forEach((v, i) => w.u32(half * 12 + i * 4, Number((v >> BigInt(32 * half)) & 0xffffffffn)));
  }
  const r = c.user.copyOut(c.u(1), w.bytes);
  return isErrno(r) ? r : 0;
}

/** capset(hdr, data): only the caller's own sets, never growing permitted. */
export function sys_capset(c: SysCtx): SysResult {
  const pid = capHeaderPid(c);
  if (isErrno(pid)) return pid;
  if (pid !== 0 && pid !== c.proc.pid) return EPERM;
  const b = c.user.copyIn(c.u(1), 24);
  if (isErrno(b)) return EFAULT;
  const d = new StructReader(b);
  const set = (i: number) => (BigInt(d.u32(i * 4)) | (BigInt(d.u32(12 + i * 4)) << 32n)) & ALL_CAPS;
  const [effective, permitted, inheritable] = [set(0), set(1), set(2)];
  const caps = c.proc.creds.caps;
  if (permitted & ~caps.permitted) return EPERM;
  if (effective & ~permitted) return EPERM;
  if (inheritable & ~(caps.inheritable | caps.permitted) || inheritable & ~(caps.inheritable | caps.bounding)) return EPERM;
  caps.effective = effective;
  caps.permitted = permitted;
  caps.inheritable = inheritable;
  caps.ambient &= permitted & inheritable;
  return 0;
}

/** sethostname(name, len): the sandbox's UTS namespace is its own; needs CAP_SYS_ADMIN. */
export function sys_sethostname(c: SysCtx): SysResult {
  const len = c.i32(1);
  if (len < 0 || len > abi.UTSNAME.field - 1) return EINVAL;
  if (!capable(c.proc.creds, CAP_SYS_ADMIN)) return EPERM;
  const b = c.user.copyIn(c.u(0), len);
  if (isErrno(b)) return b;
  c.kernel.config.hostname = Buffer.from(b).toString('utf8');
  return 0;
}
