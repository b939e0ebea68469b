// Starting a bundle (build.ts): dist/bundle/NAME.js calls runBundle, which
// compiles NAME.code.js with V8's code cache NAME.cache (written by the
// build right after the code, see writeCodeCache: V8 checks a cache against
// its source's length only, so the two are only ever written together) and
// runs it. With the cache, V8
// reads the bytecode of every module's top level and of the functions that
// ran while the build loaded them, instead of parsing and compiling them
// again at each start. A cache V8 rejects (another Node, other V8 flags) or
// a missing one costs nothing but that compile: the code is the same. A
// bundle run under Node flags of its own (BundleSpec.nodeFlags) has two
// caches, as V8 checks a cache against the flags: NAME.cache, made under
// those flags, and NAME.plain.cache, made without them, for a process
// started without them (boot started by another parent runtime).

import * as fs from 'node:fs';
import * as path from 'node:path';
import * as vm from 'node:vm';
import { BUNDLE_ENTRIES, type BundleSpec } from './entry.js';

/** The generated code's outer function: startBundle (runtime.ts) over the bundle's modules. */
type BundleCode = (module: NodeJS.Module, require: NodeJS.Require, dirname: string, loadAll: boolean) => void;

export const codeFile = (dir: string, name: string) => path.join(dir, `${name}.code.js`);
export const cacheFile = (dir: string, name: string, plain = false) => path.join(dir, plain ? `${name}.plain.cache` : `${name}.cache`);

/** Whether bundle `name` runs here without the Node flags its NAME.cache was made under (then NAME.plain.cache is the one V8 takes). */
function withoutItsFlags(name: string): boolean {
  const flags = (BUNDLE_ENTRIES as Record<string, BundleSpec>)[name]?.nodeFlags;
  return flags !== undefined && flags.length > 0 && !flags.every((f) => process.execArgv.includes(f));
}

/** Whether the last runBundle's cache was taken (for tests and the start-up notes). */
export let lastCacheAccepted = false;

function compile(dir: string, name: string, cachedData: Buffer | undefined): vm.Script {
  const file = codeFile(dir, name);
    // ASCII only (build.ts asciiOnly): latin1 reads it without decoding UTF-8.
  return new vm.Script(fs.readFileSync(file, 'latin1'), { filename: file, cachedData });
}

/** Runs bundle `name` of `dir` as the module `module` (the loader file's own). */
export function runBundle(module: NodeJS.Module, require: NodeJS.Require, dir: string, name: string): void {
  let cachedData: Buffer | undefined;
  try {
    cachedData = fs.readFileSync(cacheFile(dir, name, withoutItsFlags(name)));
  } catch {
    // no cache: a plain compile
  }
  const script = compile(dir, name, cachedData);
  lastCacheAccepted = cachedData !== undefined && !script.cachedDataRejected;
  (script.runInThisContext() as BundleCode)(module, require, dir, false);
}

/**
 * The build's step after writing NAME.code.js: compiles it, runs every
 * module but the entry (whose top level is a process's or thread's start:
 * it runs at start-up anyway, where V8 compiles it lazily), then the
 * bundle's warm-up function if it names one (BundleSpec.warmUp), and writes what
 * V8 compiled as NAME.cache (`plain`: NAME.plain.cache, see above). Returns
 * the cache's size in bytes. A bundle that names a prime (BundleSpec.prime)
 * also gets its entry loaded and that program run first, so the result is
 * a promise then: V8 puts in a cache the bytecode of every function compiled
 * so far, those the program ran included.
 */
export function writeCodeCache(dir: string, name: string, require: NodeJS.Require, plain = false): number | Promise<number> {
  const script = compile(dir, name, undefined);
  const code = script.runInThisContext() as BundleCode;
  code({ exports: {} } as NodeJS.Module, require, dir, true);
  const spec = (BUNDLE_ENTRIES as Record<string, BundleSpec>)[name];
  // Every module of the bundle is in require.cache under its own file name now (runtime.ts).
  if (spec?.warmUp) exportedFunction(require, dir, name, spec.warmUp, true)();
  const write = (): number => {
    const data = script.createCachedData();
    fs.writeFileSync(cacheFile(dir, name, plain), data);
    return data.length;
  };
  if (!spec?.prime) return write();
  // The entry too (the others are in require.cache, so only its top level runs), then the program, through the bundle's modules.
  code({ exports: {} } as NodeJS.Module, require, dir, false);
  const prime = exportedFunction(require, dir, name, spec.prime, false) as () => Promise<void>;
  // A prime that fails (its program did not run through) still leaves a cache of what compiled until then: written, with a warning.
  return prime().then(write, (e: Error) => {
    process.stderr.write(`bundle: ${name}'s prime failed (${e.message}); its code cache holds what ran before\n`);
    return write();
  });
}

/** Function `ref.export` of module `ref.module` (under dist): the bundle's instance, or with `bundledOnly` false Node's require of the file when the bundle does not hold it. */
function exportedFunction(require: NodeJS.Require, dir: string, name: string, ref: { module: string; export: string }, bundledOnly: boolean): () => unknown {
  const file = path.join(dir, '..', ref.module);
  const exports = (require.cache[file]?.exports ?? (bundledOnly ? undefined : require(file))) as Record<string, unknown> | undefined;
  const fn = exports?.[ref.export];
  if (typeof fn !== 'function') throw new Error(`${name}: no function ${ref.export} in ${ref.module} for its code cache`);
  return fn as () => unknown;
}
