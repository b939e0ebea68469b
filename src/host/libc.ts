// The koffi handle on the host's C library, and the errno plumbing every
// module of src/host shares. Each topic module binds its own libc functions
// lazily (bindLazily): importing src/host costs nothing until a call is made.
//
// Convention for the whole folder: a function returns Linux's result as a
// value, a non-negative result or a negative errno; nothing throws for a
// failed system call.

import koffi, { type LibraryHandle } from 'koffi';
import { EINVAL, ENAMETOOLONG } from '../linux/errno.js';

/** A bound libc function, seen loosely (koffi converts the arguments). */
export type Fn = (...args: unknown[]) => number;

let c: LibraryHandle | undefined;
let errnoLoc: (() => unknown) | undefined;

/** The host's libc, loaded once. */
export function libc(): LibraryHandle {
  c ??= koffi.load('libc.so.6');
  return c;
}

/** A getter that binds a module's functions on first use, once. */
export function bindLazily<T>(bind: (c: LibraryHandle) => T): () => T {
  let bound: T | undefined;
  return () => (bound ??= bind(libc()));
}

/** The calling thread's errno, negated; call right after a failed call. */
export function negErrno(): number {
  errnoLoc ??= libc().func('int *__errno_location()') as unknown as () => unknown;
  return -(koffi.decode(errnoLoc(), 'int') as number);
}

/** A libc return value as the convention: itself when non-negative, else the negated errno. */
export function check(r: number): number {
  return r < 0 ? negErrno() : r;
}

/** -EINVAL: what a function returns for an argument C cannot take (a string holding NUL, an out-of-range number). */
export const EINVAL_NEG = -EINVAL.code;
/** -ENAMETOOLONG: a path or socket name too long for its C buffer. */
export const ENAMETOOLONG_NEG = -ENAMETOOLONG.code;

/** Whether any string holds NUL: the C conversion would cut it short, so callers refuse it with EINVAL_NEG. */
export function hasNul(...s: string[]): boolean {
  return s.some((x) => x.includes('\0'));
}
