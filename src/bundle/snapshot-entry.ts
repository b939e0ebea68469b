// The script boot's V8 startup snapshot is made from (snapshot.ts runs
// `node BOOT_NODE_FLAGS --snapshot-blob dist/bundle/boot.blob --build-snapshot`
// on this file's tsc output at build time; README.md beside this file).
//
// What the snapshot holds, and what it must not:
// - Boot's bundle, run: its modules' top levels have run, so a boot started
//   from the snapshot calls the CLI's main at once. Those top levels read no
//   process state (env, pid, argv, fds, the clock): docs/STARTUP.md has the
//   audit, and a module that starts doing so must load after deserialization.
// - The kernel's bundle compiled, not run: its code is one function whose
//   module top levels were run once here, in an instance thrown away
//   (removed from Node's require.cache), so their bytecode is in the heap;
//   boot runs a fresh instance after its sync byte, as today (load.ts
//   runBundle takes it from `preloaded`). Several kernel and vCPU modules
//   read the clock or the environment at load time, so they must not run
//   before the process that uses them starts.
// - No package: a require of anything but Node's own modules gets a stand-in
//   that loads the package at its first use, after deserialization (koffi is
//   a native addon, which a snapshot cannot hold; the others might read
//   process state). A package that a top level uses at once loads here, and
//   a native one then fails the build, which then writes no snapshot.
// - While a snapshot is built, V8 has no Atomics (nor SharedArrayBuffer): a
//   top level that keeps an Atomics function (src/kernel/vcpus.ts keeps
//   waitAsync) gets one that calls the real one, which Node puts back at
//   deserialization, at each call.

import * as fs from 'node:fs';
import * as path from 'node:path';
import * as vm from 'node:vm';
import * as v8 from 'node:v8';
import Module from 'node:module';

type Load = (request: string, parent: unknown, isMain: boolean) => unknown;
type BundleCode = (module: NodeJS.Module, require: NodeJS.Require, dirname: string, loadAll: boolean) => void;
interface ModuleInternals {
  _load: Load;
  _cache: Record<string, NodeJS.Module>;
}
const internals = Module as unknown as ModuleInternals & typeof Module;

// This file runs as the builder's script (snapshot.ts loads it): Node's own
// module loader must not load any file of ours here, or the process made
// from the snapshot refuses to start (Node asserts that no user module ran
// before its main), so the constants below are entry.ts's, written again.
const DIST = path.resolve(__dirname, '..', '..');
const BUNDLES = path.join(DIST, 'bundle');
/** entry.ts SNAPSHOT_MARK. */
const SNAPSHOT_MARK = Symbol.for('tsvisor.startup-snapshot');
/** entry.ts PRELOADED_BUNDLES. */
const PRELOADED_BUNDLES = Symbol.for('tsvisor.preloaded-bundles');

/** A package's exports, loaded at the first use of any of its properties. */
function packageStandIn(request: string, parent: unknown): unknown {
  let real: Record<string | symbol, unknown> | undefined;
  const get = () => (real ??= original(request, parent, false) as Record<string | symbol, unknown>);
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
internals._load = function (request: string, parent: unknown, isMain: boolean) {
  const builtin = request.startsWith('node:') || Module.isBuiltin(request);
  if (builtin || request.startsWith('.') || path.isAbsolute(request)) return original.call(this, request, parent, isMain);
  return packageStandIn(request, parent);
};
const standInAtomics = !('Atomics' in globalThis);
if (standInAtomics) {
  const g = globalThis as unknown as Record<string, Record<string | symbol, (...a: unknown[]) => unknown>>;
  g.Atomics = new Proxy({}, { get: (_, key) => (...a: unknown[]) => g.Atomics[key](...a) });
}

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

// Boot's bundle, run.
const bootModule = loaderModule('boot');
compile('boot')(bootModule, Module.createRequire(bootModule.filename), BUNDLES, false);
const { main } = bootModule.exports as { main: (argv: string[]) => Promise<number> };

// The kernel's, compiled, its top levels run once in an instance let go.
const kernel = compile('kernel');
const before = new Set(Object.keys(internals._cache));
const scratch = loaderModule('kernel');
kernel(scratch, Module.createRequire(scratch.filename), BUNDLES, true);
for (const key of Object.keys(internals._cache)) if (!before.has(key)) delete internals._cache[key];
(globalThis as Record<symbol, unknown>)[PRELOADED_BUNDLES] = new Map([[path.join(BUNDLES, 'kernel'), kernel]]);

internals._load = original;
if (standInAtomics) delete (globalThis as { Atomics?: unknown }).Atomics;

v8.startupSnapshot.setDeserializeMainFunction(() => {
  (globalThis as Record<symbol, unknown>)[SNAPSHOT_MARK] = true;
  // As bin/tsvisor and cli.ts start the CLI: argv[1] is the loader file the launcher named (dist/bundle/boot.js).
  main(process.argv.slice(2)).then(
    (code) => process.exit(code),
    () => process.exit(128),
  );
});
