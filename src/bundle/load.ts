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
 * the cache's size in bytes.
 */
export function writeCodeCache(dir: string, name: string, require: NodeJS.Require, plain = false): number {
  const script = compile(dir, name, undefined);
  const loader = { exports: {} } as NodeJS.Module;
  (script.runInThisContext() as BundleCode)(loader, require, dir, true);
  const warmUp = (BUNDLE_ENTRIES as Record<string, BundleSpec>)[name]?.warmUp;
  if (warmUp) {
    // Every module of the bundle is in require.cache under its own file name now (runtime.ts).
    const file = path.join(dir, '..', warmUp.module);
    const fn = (require.cache[file]?.exports as Record<string, unknown> | undefined)?.[warmUp.export];
    if (typeof fn !== 'function') throw new Error(`${name}: no function ${warmUp.export} in ${warmUp.module} to warm the code cache with`);
    (fn as () => void)();
  }
  const data = script.createCachedData();
  fs.writeFileSync(cacheFile(dir, name, plain), data);
  return data.length;
}
