// The code a bundle (build.ts) starts with: a loader for the modules it
// holds, run in the scope of the bundle's loader file (its `module`,
// `require` and `__dirname`, under dist/bundle; load.ts passes them in).
// build.ts writes this function's source, not a require of this file, so the
// bundle's code stands alone: everything it uses is reached from inside it.

/** A bundled module: tsc's output for one file, as Node's wrapper would call it. */
export type BundledModule = (exports: unknown, require: NodeJS.Require, module: NodeJS.Module, __filename: string, __dirname: string) => void;

/**
 * Runs the bundle's `entry` module and makes its exports the bundle's. Each
 * module runs once, at its first require (a cycle sees the partial exports,
 * as under Node); a relative require of a module the bundle holds is served
 * from `modules` (`links` names it), or from Node's require.cache when that
 * file was loaded already (by a bundle started earlier in this thread: boot
 * then the kernel), anything else by Node's require from the
 * module's own path; each bundled module is in Node's require.cache too
 * (unless Node had loaded that file already), so a module from outside the
 * bundle that requires one gets the bundle's instance.
 * `loadAll` (the build's code-cache step, load.ts): every module but the
 * entry is run instead, so that their code is compiled.
 */
export function startBundle(
  module: NodeJS.Module,
  require: NodeJS.Require,
  __dirname: string,
  loadAll: boolean,
  entry: string,
  modules: Record<string, BundledModule>,
  /** Per module, each relative require it makes of a bundled module, resolved at build time. */
  links: Record<string, Record<string, string>>,
): void {
  const path = require('node:path') as typeof import('node:path');
  const Module = require('node:module') as typeof import('node:module') & { _nodeModulePaths(dir: string): string[] };
  const distDir = path.resolve(__dirname, '..');
  const bundleModule = module;
  const runsAsMain = require.main === module;
  const loaded = new Map<string, NodeJS.Module>();
  let mainModule: NodeJS.Module | undefined = require.main;

  function load(key: string): unknown {
    const done = loaded.get(key);
    if (done) return done.exports;
    const filename = path.join(distDir, key);
    // Loaded already in this thread (by another bundle, or from tsc's file):
    // that instance, as Node's require would give it (one module state, one
    // class per module, whichever bundle asks first).
    const known = loadAll ? undefined : require.cache[filename];
    if (known) {
      loaded.set(key, known);
      return known.exports;
    }
    const dirname = path.dirname(filename);
    let nodeRequire: NodeJS.Require | undefined;
    const outside = () => (nodeRequire ??= Module.createRequire(filename));
    const own = links[key] ?? {};
    const localRequire = ((spec: string) => {
      const target = Object.prototype.hasOwnProperty.call(own, spec) ? own[spec] : undefined;
      return target !== undefined ? load(target) : outside()(spec);
    }) as NodeJS.Require;
    localRequire.resolve = ((spec: string, options?: { paths?: string[] }) => outside().resolve(spec, options)) as NodeJS.RequireResolve;
    localRequire.resolve.paths = (spec: string) => outside().resolve.paths(spec);
    localRequire.cache = require.cache;
    localRequire.extensions = require.extensions;
    let paths: string[] | undefined;
    const mod = {
      id: filename,
      filename,
      path: dirname,
      exports: {},
      loaded: false,
      children: [],
      parent: bundleModule,
      isPreloading: false,
      require: localRequire,
      get paths() {
        return (paths ??= Module._nodeModulePaths(dirname));
      },
    } as unknown as NodeJS.Module;
    // Node's own require of this file (from a module the bundle does not
    // hold) finds this instance: one module, one instance, bundled or not.
    if (!(filename in require.cache)) require.cache[filename] = mod;
    if (key === entry && runsAsMain) mainModule = mod;
    Object.defineProperty(localRequire, 'main', { get: () => mainModule });
    loaded.set(key, mod);
    modules[key].call(mod.exports, mod.exports, localRequire, mod, filename, dirname);
    mod.loaded = true;
    return mod.exports;
  }

  if (loadAll) {
    for (const key of Object.keys(modules)) if (key !== entry) load(key);
  } else {
    module.exports = load(entry);
  }
}
