// Giving the host back memory the sandbox holds but no longer uses: the host
// address of a shared WebAssembly.Memory's bytes, checked before use, and
// madvise(MADV_DONTNEED) on ranges of it.
//
// Contract:
// - hostAddress(view, at) is the host address of view[0], or undefined when it
//   cannot be vouched for. koffi gives the data pointer of a typed array; the
//   address is then checked by writing a random cookie at 16 bytes of the
//   view at each offset of `at` (by default its first and last 16 bytes)
//   through JavaScript and reading it back through the
//   address (and the bytes restored), and it must be page aligned. A wrong
//   address passed to madvise would discard memory of the host process
//   itself, so nothing uses one that fails the check. The caller must own
//   those bytes while checking (no other thread may read or write them).
// - dontNeed(addr, len) discards the pages of [addr, addr + len): the host
//   process's RSS falls, and the next access to a page of a private
//   anonymous mapping (what V8 maps a WebAssembly.Memory with: rw-p, no file)
//   reads zeros. Callers that must not depend on the mapping's kind zero the
//   bytes first. Returns 0 or a negative errno, as the rest of src/host.
// - residency(addr, len, vec) is mincore(2): bit 0 of vec[i] is set when page i
//   of [addr, addr + len) is in host memory. A page of a private anonymous
//   mapping that is not resident was never touched, was given back, or was
//   swapped out: only in the last case does it hold data.
// - Boot's seccomp allowlist (src/main/confine.ts) allows madvise and mincore.
// - koffi (and libc.ts, which loads it) are required at the first call, not
//   when this module loads: the kernel's memory modules import this one, and
//   a startup snapshot holding them cannot hold a native addon
//   (test/bundle/process-start.test.ts builds one of tmpfs's modules).

import { randomFillSync } from 'node:crypto';
import type { Fn } from './libc.js';

export const MADV_DONTNEED = 4;
const HOST_PAGE = 4096;

const libcModule = () => require('./libc.js') as typeof import('./libc.js');
const koffi = () => libcModule().koffi();
let madvise: Fn | undefined;
let mincore: Fn | undefined;

/** The host address of view[0], checked (see the file comment); undefined when it cannot be vouched for. */
export function hostAddress(view: Uint8Array, at: readonly number[] = [0, view.length - 16]): bigint | undefined {
  if (view.length < 32 || at.some((off) => off < 0 || off + 16 > view.length)) return undefined;
  let base: bigint;
  try {
    base = koffi().address(view);
  } catch {
    return undefined;
  }
  if (typeof base !== 'bigint' || base === 0n || base % BigInt(HOST_PAGE) !== 0n) return undefined;
  for (const off of at) {
    const saved = view.slice(off, off + 16);
    const cookie = randomFillSync(new Uint8Array(16));
    view.set(cookie, off);
    let seen: Uint8Array;
    try {
      seen = koffi().decode(base + BigInt(off), 'uint8_t', 16) as Uint8Array;
    } catch {
      view.set(saved, off);
      return undefined;
    }
    const same = Buffer.compare(Buffer.from(seen), Buffer.from(cookie)) === 0;
    view.set(saved, off);
    if (!same) return undefined;
  }
  return base;
}

/** madvise(addr, len, MADV_DONTNEED): 0, or a negative errno. `addr` and `len` must be multiples of the host page. */
export function dontNeed(addr: bigint, len: number): number {
  const c = libcModule();
  madvise ??= c.libc().func('int madvise(void *addr, size_t length, int advice)') as unknown as Fn;
  return c.check(madvise(addr, len, MADV_DONTNEED));
}

/** mincore(addr, len, vec): 0, or a negative errno. `vec` needs one byte per host page of the range. */
export function residency(addr: bigint, len: number, vec: Uint8Array): number {
  const c = libcModule();
  mincore ??= c.libc().func('int mincore(void *addr, size_t length, _Out_ uint8_t *vec)') as unknown as Fn;
  return c.check(mincore(addr, len, vec));
}
