// The script boot's V8 startup snapshot is made from (snapshot.ts runs
// `node BOOT_NODE_FLAGS --snapshot-blob dist/bundle/boot.blob --build-snapshot`
// over it at build time; README.md beside this file).
//
// The snapshot holds boot's bundle, run: every module's top level has run,
// so a boot started from it calls the CLI's main at once, without compiling
// or running its ~30 modules. What must stay out of it:
// - Process state: a top level that read the environment, the pid, argv,
//   an fd, the clock, or started a timer, would keep the build's. Boot's
//   modules read none at load time (docs/STARTUP.md, the audit); the
//   kernel's bundle, several of whose modules read the clock or the
//   environment at load time, is not in it (it loads after the sync byte,
//   with its code cache, as before).
// - Packages: a require of anything but Node's own modules gets a stand-in
//   that loads the package at its first use, after deserialization (koffi
//   is a native addon, which a snapshot cannot hold). A package a top level
//   uses at once loads here, and a native one then fails the build, which
//   then writes no snapshot (boot starts from its bundle).
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

type Load = (request: string, parent: unknown, isMain: boolean) => unknown;
type BundleCode = (module: NodeJS.Module, require: NodeJS.Require, dirname: string, loadAll: boolean) => void;
interface ModuleInternals {
  _load: Load;
}
const internals = Module as unknown as ModuleInternals & typeof Module;

const DIST = path.resolve(__dirname, '..', '..');
const BUNDLES = path.join(DIST, 'bundle');
/** entry.ts SNAPSHOT_MARK. */
const SNAPSHOT_MARK = Symbol.for('tsvisor.startup-snapshot');

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

internals._load = original;

v8.startupSnapshot.setDeserializeMainFunction(() => {
  (globalThis as Record<symbol, unknown>)[SNAPSHOT_MARK] = true;
  // As bin/tsvisor and cli.ts start the CLI: argv[1] is the loader file the launcher named (boot's, in dist/bundle).
  main(process.argv.slice(2)).then(
    (code) => process.exit(code),
    () => process.exit(128),
  );
});
