// This process: execve, prctl, and capability sets (boot drops privileges with
// these before it runs the kernel; see src/main/caps.ts).

import { bindLazily, check, negErrno, type Fn } from './libc.js';

interface ProcessLib {
  execve: Fn;
  prctl: Fn;
  capget: Fn;
  capset: Fn;
}

const lib = bindLazily(
  (c): ProcessLib =>
    ({
      execve: c.func('int execve(const char *, const char **, const char **)'),
      prctl: c.func('int prctl(int, unsigned long, unsigned long, unsigned long, unsigned long)'),
      capget: c.func('int capget(void *, void *)'),
      capset: c.func('int capset(void *, void *)'),
    }) as unknown as ProcessLib,
);

/** execve(2): replaces this process; returns only on failure (negative errno). */
export function execve(path: string, argv: string[], env: string[]): number {
  const r = lib().execve(path, [...argv, null], [...env, null]);
  return r < 0 ? negErrno() : r;
}

// ---- prctl ----

export const PR_SET_NO_NEW_PRIVS = 38;
export const PR_SET_PDEATHSIG = 1;
export const PR_CAPBSET_DROP = 24;
export const PR_CAPBSET_READ = 23;
export const PR_SET_KEEPCAPS = 8;

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
