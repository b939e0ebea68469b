// This process: execve, setsid, the calling thread's signal mask, prctl, capability
// sets and resource limits (boot applies the spec's capabilities with these,
// src/main/caps.ts; a confined process drops them all, src/main/confine.ts).

import { bindLazily, check, negErrno, EINVAL_NEG, type Fn } from './libc.js';

interface ProcessLib {
  execve: Fn;
  exit: Fn;
  setsid: Fn;
  pthreadSigmask: Fn;
  prctl: Fn;
  capget: Fn;
  capset: Fn;
  getrlimit: Fn;
  setrlimit: Fn;
}

const lib = bindLazily(
  (c): ProcessLib =>
    ({
      execve: c.func('int execve(const char *, const char **, const char **)'),
      exit: c.func('void _exit(int)'),
      setsid: c.func('int setsid()'),
      pthreadSigmask: c.func('int pthread_sigmask(int, void *, void *)'),
      prctl: c.func('int prctl(int, unsigned long, unsigned long, unsigned long, unsigned long)'),
      capget: c.func('int capget(void *, void *)'),
      capset: c.func('int capset(void *, void *)'),
      getrlimit: c.func('int getrlimit(int, void *)'),
      setrlimit: c.func('int setrlimit(int, void *)'),
    }) as unknown as ProcessLib,
);

/** execve(2): replaces this process; returns only on failure (negative errno). */
export function execve(path: string, argv: string[], env: string[]): number {
  const r = lib().execve(path, [...argv, null], [...env, null]);
  return r < 0 ? negErrno() : r;
}

/**
 * setsid(2): this process leads a new session and process group, with no
 * controlling terminal. Returns the session id, or a negative errno (EPERM
 * for a process that leads a process group already).
 */
export function setsid(): number {
  return check(lib().setsid());
}

/**
 * _exit(2): ends the process now with `code` (its low 8 bits), every thread
 * at once. Nothing of Node's own teardown runs: no 'exit' listeners, no
 * wait for its platform's background tasks, no heap teardown, no profile
 * written. So the caller must have written out everything first (src/main
 * src/main/end-process.ts says when that holds).
 */
export function exitAtOnce(code: number): never {
  lib().exit(code & 0xff);
  throw new Error('_exit returned');
}

// ---- the calling thread's signal mask ----

export const SIG_BLOCK = 0;
export const SIG_UNBLOCK = 1;

/** glibc's sigset_t: 1024 bits, signal n at bit n-1. */
const SIGSET_BYTES = 128;

/**
 * pthread_sigmask(3) for the calling thread only (other threads keep
 * theirs): `how` SIG_BLOCK or SIG_UNBLOCK, the signals by number. The mask
 * survives execve, and a blocked signal sent meanwhile stays pending for the
 * new program (execve(2)); returns 0 or a negative errno.
 */
export function threadSignalMask(how: number, signals: readonly number[]): number {
  const set = Buffer.alloc(SIGSET_BYTES);
  for (const n of signals) {
    if (!Number.isInteger(n) || n < 1 || n > SIGSET_BYTES * 8) return EINVAL_NEG;
    set[(n - 1) >> 3] |= 1 << ((n - 1) & 7);
  }
  const r = lib().pthreadSigmask(how, set, null);
  return r === 0 ? 0 : -r; // pthread_* return the error number itself
}

// ---- prctl ----

export const PR_SET_NO_NEW_PRIVS = 38;
export const PR_SET_PDEATHSIG = 1;
export const PR_CAPBSET_DROP = 24;
export const PR_CAPBSET_READ = 23;
export const PR_SET_KEEPCAPS = 8;
export const PR_CAP_AMBIENT = 47;
export const PR_CAP_AMBIENT_CLEAR_ALL = 4;

export function prctl(option: number, a2 = 0, a3 = 0, a4 = 0, a5 = 0): number {
  return check(lib().prctl(option, a2, a3, a4, a5));
}

// ---- capabilities ----

const LINUX_CAPABILITY_VERSION_3 = 0x20080522;

/** Capability sets as 64-bit masks (bit n = capability n). */
export interface CapSets {
  effective: bigint;
  permitted: bigint;
  inheritable: bigint;
}

export function capget(): CapSets | number {
  const hdr = Buffer.alloc(8);
  hdr.writeUInt32LE(LINUX_CAPABILITY_VERSION_3, 0);
  const data = Buffer.alloc(24);
  const r = lib().capget(hdr, data);
  if (r < 0) return negErrno();
  const get = (off: number) => BigInt(data.readUInt32LE(off)) | (BigInt(data.readUInt32LE(off + 12)) << 32n);
  return { effective: get(0), permitted: get(4), inheritable: get(8) };
}

export function capset(sets: CapSets): number {
  const hdr = Buffer.alloc(8);
  hdr.writeUInt32LE(LINUX_CAPABILITY_VERSION_3, 0);
  const data = Buffer.alloc(24);
  const put = (off: number, v: bigint) => {
    data.writeUInt32LE(Number(v & 0xffffffffn), off);
    data.writeUInt32LE(Number((v >> 32n) & 0xffffffffn), off + 12);
  };
  put(0, sets.effective);
  put(4, sets.permitted);
  put(8, sets.inheritable);
  return check(lib().capset(hdr, data));
}

/** CAP_SETPCAP's number (linux/capability.h): what dropping from the bounding set needs. */
const CAP_SETPCAP = 8;

/**
 * Leaves the calling thread only the capabilities in `keep` (a mask; 0n:
 * none): the others leave the bounding set (needs CAP_SETPCAP, so first),
 * the ambient set is cleared, then effective and permitted become `keep`
 * (what the thread had of it) and inheritable empty. Capabilities are per
 * thread: threads that exist already keep theirs; threads started later by
 * this one start with these. A thread without CAP_SETPCAP (an ordinary
 * user's process, outside a user namespace of its own) cannot change its
 * bounding set and leaves it as it is: with nothing permitted, the bounding
 * set only limits what an execve could grant, which no_new_privs (set by
 * the callers that lock down) already forbids.
 */
export function keepOnlyCapabilities(keep: bigint): number {
  const before = capget();
  if (typeof before === 'number') return before;
  const mayDropBounding = (before.effective & (1n << BigInt(CAP_SETPCAP))) !== 0n;
  // The bounding set: every capability the kernel knows (PR_CAPBSET_READ fails past the last).
  for (let cap = 0; mayDropBounding && cap < 64; cap++) {
    const has = prctl(PR_CAPBSET_READ, cap);
    if (has < 0) break;
    if (has === 0 || keep & (1n << BigInt(cap))) continue;
    const r = prctl(PR_CAPBSET_DROP, cap);
    if (r < 0) return r;
  }
  const amb = prctl(PR_CAP_AMBIENT, PR_CAP_AMBIENT_CLEAR_ALL);
  if (amb < 0 && amb !== -22) return amb; // EINVAL: a kernel without ambient capabilities
  const now = capget();
  if (typeof now === 'number') return now;
  const kept = now.permitted & keep;
  return capset({ effective: kept, permitted: kept, inheritable: 0n });
}

// ---- resource limits ----

/** Resource numbers (asm-generic/resource.h; x86_64 and arm64 share them). */
export const RLIMIT_CORE = 4;
export const RLIMIT_NOFILE = 7;
/** RLIM_INFINITY */
export const RLIM_INFINITY = 0xffffffffffffffffn;

export interface Rlimit {
  soft: bigint;
  hard: bigint;
}

export function getrlimit(resource: number): Rlimit | number {
  const b = Buffer.alloc(16);
  if (lib().getrlimit(resource, b) < 0) return negErrno();
  return { soft: b.readBigUInt64LE(0), hard: b.readBigUInt64LE(8) };
}

export function setrlimit(resource: number, limit: Rlimit): number {
  const b = Buffer.alloc(16);
  b.writeBigUInt64LE(limit.soft, 0);
  b.writeBigUInt64LE(limit.hard, 8);
  return check(lib().setrlimit(resource, b));
}
