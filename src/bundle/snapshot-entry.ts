// The script the V8 startup snapshots of boot, run and do are made from
// (snapshot.ts runs `node FLAGS --snapshot-blob dist/bundle/NAME.blob
// --build-snapshot` over it at build time, with TSVISOR_SNAPSHOT_BUNDLE=NAME;
// README.md beside this file).
//
// A snapshot holds its bundle, run: every module's top level has run
// (the command's too, which the CLI would load at its first call), so a
// process started from it calls the CLI's main at once, without compiling or
// running its ~30-50 modules, nor Node's own modules they load (net, among
// others). What must stay out of it:
// - Process state: a top level that read the environment, the pid, argv,
//   an fd, the clock, or started a timer, would keep the build's. Boot's
//   modules read none at load time (docs/STARTUP.md, the audit); the
//   kernel's and the vCPU's modules that read the clock or the environment
//   do it through bundle/process-start.ts, again at each process's start.
//   run's and do's own modules (run.ts, oci/launch.ts, state.ts, hooks.ts,
//   lifecycle.ts, waiter.ts, gofer-launch.ts, snapshot.ts, do.ts and
//   src/debian's) keep constants only at their top levels (the seventh
//   pass's audit).
//   The kernel's bundle is in the blob only when asked for (below); by
//   default it loads after the sync byte, with its code cache, as before.
// - Packages: a require of anything but Node's own modules gets a stand-in
//   that loads the package at its first use, after deserialization (koffi
//   is a native addon, which a snapshot cannot hold). A package a top level
//   uses at once loads here (loadHere), and a native one then fails the
//   build, which then writes no snapshot (boot starts from its bundle).
// - Node's module loader: no file of ours may go through it here, or the
//   process made from the snapshot refuses to start (Node asserts that no
//   user module ran before its main); the bundle's code is compiled with
//   vm, and the constants below are entry.ts's, written again.
// While a snapshot is built V8 has no Atomics nor SharedArrayBuffer: a top
// level that used them would fail the build (boot's do not).

import * as fs from 'node:fs';
import * as path from 'node:path';
import * as vm from 'node:vm';
import * as v8 from 'node:v8';
import Module from 'node:module';

type Load = (request: string, parent: NodeJS.Module, isMain: boolean) => unknown;
type BundleCode = (module: NodeJS.Module, require: NodeJS.Require, dirname: string, loadAll: boolean) => void;
interface ModuleInternals {
  _load: Load;
  _cache: Record<string, NodeJS.Module>;
  _resolveFilename(request: string, parent: NodeJS.Module, isMain: boolean): string;
  _nodeModulePaths(dir: string): string[];
}
const internals = Module as unknown as ModuleInternals & typeof Module;

const DIST = path.resolve(__dirname, '..', '..');
const BUNDLES = path.join(DIST, 'bundle');
/** snapshot.ts SNAPSHOT_WITH_KERNEL_ENV: set (to 1) while this runs, the blob holds the kernel's bundle too. */
const WITH_KERNEL_ENV = 'TSVISOR_SNAPSHOT_WITH_KERNEL';
/** snapshot.ts SNAPSHOT_BUNDLE_ENV: the bundle the blob holds (boot, run or do; boot when unset). */
const BUNDLE_ENV = 'TSVISOR_SNAPSHOT_BUNDLE';
const NAME = process.env[BUNDLE_ENV] || 'boot';
if (!/^(boot|run|do)$/.test(NAME)) throw new Error(`${BUNDLE_ENV}=${NAME}: not a bundle with a snapshot`);
/** entry.ts SNAPSHOT_MARK. */
const SNAPSHOT_MARK = Symbol.for('tsvisor.startup-snapshot');

/**
 * Loads a package's file as Node's loader would (its resolution, wrapper and
 * require.cache), but compiled with vm, which leaves Node's mark of a user
 * module unset; its own requires go the same way. For a package a top
 * level uses at once (the spec validator's ajv helper).
 */
function loadHere(request: string, parent: NodeJS.Module): unknown {
  if (request.startsWith('node:') || Module.isBuiltin(request)) return original(request, parent, false);
  const filename = internals._resolveFilename(request, parent, false);
  const known = internals._cache[filename];
  if (known) return known.exports;
  if (!/\.c?js$/.test(filename)) throw new Error(`${filename}: only JavaScript files load while the snapshot is built`);
  const m = new Module(filename, parent) as NodeJS.Module;
  m.filename = filename;
  m.paths = internals._nodeModulePaths(path.dirname(filename));
  internals._cache[filename] = m;
  const code = fs.readFileSync(filename, 'utf8');
  const run = new vm.Script(`(function (exports, require, module, __filename, __dirname) {${code}\n})`, { filename }).runInThisContext() as (...a: unknown[]) => void;
  const req = ((r: string) => loadHere(r, m)) as NodeJS.Require;
  run.call(m.exports, m.exports, req, m, filename, path.dirname(filename));
  m.loaded = true;
  return m.exports;
}

/**
 * A package's exports, loaded at the first use of any of its properties:
 * while the snapshot is built, by loadHere; after deserialization, by Node.
 */
function packageStandIn(request: string, parent: NodeJS.Module): unknown {
  let real: Record<string | symbol, unknown> | undefined;
  const get = () => (real ??= (building ? loadHere(request, parent) : original(request, parent, false)) as Record<string | symbol, unknown>);
  return new Proxy(
    {},
    {
      // tsc's __importDefault asks for __esModule: the answer must not load the package.
      get: (_, key) => (key === '__esModule' && real === undefined ? undefined : get()[key]),
      has: (_, key) => key in get(),
      ownKeys: () => Reflect.ownKeys(get()),
      getOwnPropertyDescriptor: (_, key) => {
        const d = Object.getOwnPropertyDescriptor(get(), key);
        return d && { ...d, configurable: true };
      },
    },
  );
}

const original = internals._load;
let building = true;
internals._load = function (request: string, parent: NodeJS.Module, isMain: boolean) {
  const builtin = request.startsWith('node:') || Module.isBuiltin(request);
  if (builtin || request.startsWith('.') || path.isAbsolute(request)) return original.call(this, request, parent, isMain);
  // Resolved once here, not loaded: Node's resolver (its package.json
  // reader, the `exports` resolution modules it compiles at first use) and
  // its path cache are then in the blob, so the first use after
  // deserialization only loads the file.
  try {
    internals._resolveFilename(request, parent, false);
  } catch {
    // resolved again, and failing as it would have, at the first use
  }
  return packageStandIn(request, parent);
};

/** The function NAME.code.js evaluates to, compiled in this context. */
function compile(name: string): BundleCode {
  const file = path.join(BUNDLES, `${name}.code.js`);
  return new vm.Script(fs.readFileSync(file, 'latin1'), { filename: file }).runInThisContext() as BundleCode;
}

/** A module object for NAME.js, the file a process starts the bundle from. */
function loaderModule(name: string): NodeJS.Module {
  const file = path.join(BUNDLES, `${name}.js`);
  const m = new Module(file) as NodeJS.Module;
  m.filename = file;
  return m;
}

// Boot's bundle, run: first every module but the entry (the CLI loads its
// command, boot.ts and what it imports, only once main runs: here they run
// now, each in Node's require.cache), then the entry, whose requires find
// those instances there (runtime.ts), as a later bundle of the thread would.
const bootModule = loaderModule(NAME);
const boot = compile(NAME);
boot(loaderModule(NAME), Module.createRequire(bootModule.filename), BUNDLES, true);
boot(bootModule, Module.createRequire(bootModule.filename), BUNDLES, false);
const { main } = bootModule.exports as { main: (argv: string[]) => Promise<number> };
// node:net, which src/main/urpc.ts loads at its first use (so that a boot
// started from its bundle writes its sync byte before loading it): in the
// blob it costs nothing at start, as when the control server imported it.
require('node:net');

// The bundle's warm-up (entry.ts BundleSpec.warmUp, the function its code
// cache is made after: boot's flags, the spec's check, the network plan and
// the seccomp filter's assembly; run's and do's flags and spec check), called
// once here too: a blob holds the bytecode of the functions that ran while it
// was built, so a start does not compile them at their first call
// (docs/STARTUP.md, the thirteenth pass). entry.ts is in the bundle, run
// above, so its table is read from Node's require.cache.
{
  const entries = (internals._cache[path.join(DIST, 'src', 'bundle', 'entry.js')]?.exports as { BUNDLE_ENTRIES?: Record<string, { warmUp?: { module: string; export: string } }> } | undefined)?.BUNDLE_ENTRIES;
  const spec = entries?.[NAME]?.warmUp;
  if (!spec) throw new Error(`${NAME}: no warm-up in entry.ts's BUNDLE_ENTRIES`);
  const warm = (internals._cache[path.join(DIST, spec.module)]?.exports as Record<string, unknown> | undefined)?.[spec.export];
  if (typeof warm !== 'function') throw new Error(`${NAME}: no function ${spec.export} in ${spec.module} to warm the snapshot with`);
  (warm as () => void)();
}

// With WITH_KERNEL_ENV=1 (not the build's default: docs/STARTUP.md, the
// fifth pass, has why), the kernel's bundle, run the same way (boot requires
// it after its sync byte): its modules' top levels have run, those that
// read the process's clock or environment through bundle/process-start.ts,
// which reads them again when the process starts. Its loader module goes
// into Node's require.cache under kernel.js's name, so boot's require of
// that file (entryScript('kernel')) returns the kernel's exports without
// loading anything.
if (NAME === 'boot' && process.env[WITH_KERNEL_ENV] === '1') {
  const kernelModule = loaderModule('kernel');
  const kernel = compile('kernel');
  kernel(loaderModule('kernel'), Module.createRequire(kernelModule.filename), BUNDLES, true);
  kernel(kernelModule, Module.createRequire(kernelModule.filename), BUNDLES, false);
  kernelModule.loaded = true;
  internals._cache[kernelModule.filename] = kernelModule;
}

internals._load = original;
building = false;

v8.startupSnapshot.setDeserializeMainFunction(() => {
  (globalThis as Record<symbol, unknown>)[SNAPSHOT_MARK] = true;
  // As bin/tsvisor and cli.ts start the CLI: argv[1] is the loader file the launcher named (boot's, in dist/bundle).
  main(process.argv.slice(2)).then(
    (code) => process.exit(code),
    () => process.exit(128),
  );
});
