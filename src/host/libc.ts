// The koffi handle on the host's C library, and the errno plumbing every
// module of src/host shares. Each topic module binds its own libc functions
// lazily (bindLazily): importing src/host costs nothing until a call is made.
//
// Convention for the whole folder: a function returns Linux's result as a
// value, a non-negative result or a negative errno; nothing throws for a
// failed system call.

import * as fs from 'node:fs';
import * as path from 'node:path';
import type { LibraryHandle } from 'koffi';
import { EINVAL, ENAMETOOLONG } from '../linux/errno.js';

type Koffi = typeof import('koffi');
let koffiApi: Koffi | undefined;

/**
 * koffi, loaded at the first call. Its package's loader (index.cjs, then
 * its platform package's) finds the native module by reading the ELF
 * program headers of Node's own binary to tell glibc from musl, through
 * ~20 KB of JavaScript that each process compiled at its start: 17-37 ms
 * of wall per process measured here, against 2-11 ms for the native module
 * alone, and run, boot and the gofer each paid it before their first
 * system call through it (docs/STARTUP.md, the eleventh pass). So the
 * native module is required directly, from the platform package koffi
 * itself would load (its optional dependency, installed beside it),
 * glibc's build first and musl's next, as that package's
 * loader falls back when its detection fails (a build for the other C
 * library fails to load, it does not load wrongly); it is taken only when
 * its version is koffi's, the check koffi's loader makes. Anything else
 * (another platform, a layout this does not know) goes through koffi's own
 * loader. The native module's object is what koffi exports (koffi's
 * loader only adds deprecated aliases, which nothing here uses), and
 * Node's require cache keys it by its real path, so a later
 * `require('koffi')` in the same process (tests do) shares its types.
 */
export function koffi(): Koffi {
  koffiApi ??= koffiNative() ?? (require('koffi') as Koffi);
  return koffiApi;
}

/** koffi's native module for this host, or undefined (koffi()). */
export function koffiNative(): Koffi | undefined {
  if (process.platform !== 'linux') return undefined;
  try {
    // The platform package has no `exports` map, so this is a plain lookup
    // (koffi's has one, whose resolution compiled Node's resolver for ~6 ms);
    // koffi itself is its sibling, in the same node_modules.
    const dir = path.dirname(require.resolve(`@koromix/koffi-${process.platform}-${process.arch}/package.json`));
    const version = (JSON.parse(fs.readFileSync(path.join(dir, '..', '..', 'koffi', 'package.json'), 'utf8')) as { version?: unknown }).version;
    for (const libc of ['linux', 'musl']) {
      try {
        const native = require(path.join(dir, `${libc}_${process.arch}`, 'koffi.node')) as Koffi;
        if (native.version === version) return native;
      } catch {
        // the other C library's build, then koffi's own loader
      }
    }
  } catch {
    // not laid out as npm installs koffi: koffi's own loader
  }
  return undefined;
}

/** A bound libc function, seen loosely (koffi converts the arguments). */
export type Fn = (...args: unknown[]) => number;

let c: LibraryHandle | undefined;
let errnoLoc: (() => unknown) | undefined;

/** The host's libc, loaded once. */
export function libc(): LibraryHandle {
  c ??= koffi().load('libc.so.6');
  return c;
}

/**
 * A getter for a module's libc functions, each bound (koffi parses its C
 * declaration and looks its symbol up) at its own first use: `bind` gets a
 * handle whose func() defers that. A topic module declares 10-25 functions,
 * 0.4-1 ms of koffi's work when they were all bound at the first call of
 * any, where a process's start uses a few (docs/STARTUP.md, the thirteenth
 * pass). A function that is a property of what `bind` returns is bound at
 * the property's first read, which then holds koffi's function itself (no
 * indirection on later calls); one `bind` keeps in a closure of its own is
 * bound at its first call. A declaration koffi refuses throws there.
 */
export function bindLazily<T>(bind: (c: LibraryHandle) => T): () => T {
  let bound: T | undefined;
  return () => (bound ??= settle(bind(deferringHandle())));
}

/** How many functions bindLazily's modules have had koffi bind in this thread so far (for tests and the start-up notes). */
export let lazyBindings = 0;

type Deferred = ((...args: unknown[]) => unknown) & { [BIND]: () => (...args: unknown[]) => unknown };
const BIND = Symbol('bind');

/** A handle whose func(DECL) returns a stand-in that binds DECL once, at its first call (or its property's first read: settle). */
function deferringHandle(): LibraryHandle {
  const real = libc();
  const func = (...decl: unknown[]): Deferred => {
    let f: ((...args: unknown[]) => unknown) | undefined;
    const bindNow = () => {
      if (!f) {
        f = (real.func as unknown as (...d: unknown[]) => (...args: unknown[]) => unknown).apply(real, decl);
        lazyBindings++;
      }
      return f;
    };
    const standIn = ((...args: unknown[]) => bindNow()(...args)) as Deferred;
    standIn[BIND] = bindNow;
    return standIn;
  };
  return { func } as unknown as LibraryHandle;
}

/** Makes each stand-in property of `lib` a getter that binds it and puts koffi's function in its place. */
function settle<T>(lib: T): T {
  const o = lib as Record<string, unknown>;
  for (const key of Object.keys(o)) {
    const v = o[key];
    const bindNow = typeof v === 'function' ? (v as Partial<Deferred>)[BIND] : undefined;
    if (!bindNow) continue;
    Object.defineProperty(o, key, {
      configurable: true,
      enumerable: true,
      get: () => {
        const fn = bindNow();
        Object.defineProperty(o, key, { value: fn, writable: true, configurable: true, enumerable: true });
        return fn;
      },
    });
  }
  return lib;
}

/** The calling thread's errno, negated; call right after a failed call. */
export function negErrno(): number {
  errnoLoc ??= libc().func('int *__errno_location()') as unknown as () => unknown;
  return -(koffi().decode(errnoLoc(), 'int') as number);
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
