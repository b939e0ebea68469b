// Which file a process or thread of tsvisor starts from: the entry's bundle
// (dist/bundle/NAME.js, written by build.ts at build time) when it is there
// and newer than the entry's own tsc output, else that output itself (a build
// without the bundling step, or a tsc run since the last bundling, whose
// bundle would run stale code). TSVISOR_NO_BUNDLE=1 asks for the unbundled
// files (to compare the two).

import * as fs from 'node:fs';
import * as path from 'node:path';

/** Under dist: where the bundles are written. */
export const BUNDLE_DIR = 'bundle';

/** A bundle: its entry module, as a path under dist, and for the CLI's sandbox processes the one command they run. */
export interface BundleSpec {
  entry: string;
  /**
   * The CLI's commands (the modules cli.ts loads on demand) this bundle
   * holds; absent: all. Boot and the gofer run one command each, and a
   * bundle of every command would cost each of them the memory of code it
   * never runs (docs/STARTUP.md).
   */
  commands?: string[];
  /**
   * Node's flags of the process that runs this bundle, when not none: V8
   * takes a code cache only under the flags it was made with, so the build
   * makes this bundle's under these, and a second one without them for a
   * process started without them (build.ts, load.ts).
   */
  nodeFlags?: readonly string[];
  /**
   * A function of the bundle (its module, as a path under dist, and its
   * export) that the build's code-cache step calls once every module has
   * loaded (load.ts writeCodeCache): it runs what the process runs at its
   * start that is pure (no process state, file or fd touched), so the cache
   * holds those functions' bytecode and the process does not compile them
   * as it starts.
   */
  warmUp?: { module: string; export: string };
  /**
   * A program the build's code-cache step runs after the warm-up, with the
   * bundle's entry loaded too: an async function (its module, as a path
   * under dist, which need not be in the bundle, and its export) whose work
   * goes through the bundle's code, so that the cache also holds what that
   * work compiled. The kernel's runs a small guest program in a sandbox
   * (src/workers/kernel-prime.ts): block building, the engine's JavaScript
   * side, exec, fork, page faults and the system calls a program's start
   * makes, each compiled lazily at a sandbox's first program otherwise.
   */
  prime?: { module: string; export: string };
}

/**
 * Node's flags for a boot process that tsvisor starts itself (run, create,
 * do: src/main/oci/launch.ts). Its main thread runs the kernel, and its
 * young generation is capped as the vCPU workers' are (semi-spaces of 2 MiB;
 * WORKER_RESOURCE_LIMITS says why). That young generation starts at its
 * cap rather than growing to it from 1 MiB, and old space's first limit is
 * 32 MiB rather than V8's ~15: a program's start (ld.so, bash, a busybox
 * script) then runs without the Mark-Compact that old space's first limit
 * set off, and with one or two scavenges fewer, while an idle sandbox's RSS
 * did not move (docs/STARTUP.md, "GC on the cold path"). V8's flags are the
 * process's, so the vCPU workers' heaps get them too (their young
 * generation's cap is WORKER_RESOURCE_LIMITS). A heap's limits are fixed when it is
 * made, so for a main thread only the command line sets them; a boot that
 * another parent runtime starts through bin/tsvisor runs with V8's default,
 * and with its bundles' second code caches, made without these flags
 * (BundleSpec.nodeFlags, load.ts).
 */
export const BOOT_NODE_FLAGS = ['--max-semi-space-size=2', '--min-semi-space-size=2', '--initial-old-space-size=32'] as const;

/**
 * Variables of the environment that a sandbox's own processes, boot and the
 * gofer, have no use for but that cost each Node start: with
 * NODE_EXTRA_CA_CERTS set, Node 20 reads and parses that file of TLS root
 * certificates (and loads OpenSSL's configuration for it) before V8 starts,
 * where a bare start reads neither: 50-90 ms of CPU on this host with
 * Debian's bundle of ~140 roots, against ~30 ms for the whole rest of
 * `node -e 0` (docs/STARTUP.md, "Boot to sync for a parent runtime"); the
 * other commands get the file's name as TSVISOR_EXTRA_CA_CERTS instead
 * (bin/tsvisor, src/debian/fetch.ts EXTRA_CA_ENV). Boot
 * and the gofer make no TLS connection (the guest's own go through host
 * sockets, never through Node's TLS), so they start without them: run,
 * create and do leave them out of boot's and the gofer's environment
 * (`sandboxProcessEnv`), and bin/tsvisor's shell part unsets the same names
 * for `tsvisor boot` and `tsvisor gofer` (test/bundle/launcher.test.ts
 * checks that the two lists agree).
 */
export const SANDBOX_UNSET_ENV = ['NODE_EXTRA_CA_CERTS', 'TSVISOR_EXTRA_CA_CERTS'] as const;

/** `env` without SANDBOX_UNSET_ENV: the environment boot and the gofer are started with. */
export function sandboxProcessEnv(env: NodeJS.ProcessEnv): NodeJS.ProcessEnv {
  const out = { ...env };
  for (const name of SANDBOX_UNSET_ENV) delete out[name];
  return out;
}

/** Every bundle the build writes. */
export const BUNDLE_ENTRIES = {
  cli: { entry: 'src/main/cli.js' },
  run: { entry: 'src/main/cli.js', commands: ['src/main/run.js'], warmUp: { module: 'src/main/run.js', export: 'warmSnapshot' } },
  do: { entry: 'src/main/cli.js', commands: ['src/main/do.js'], warmUp: { module: 'src/main/do.js', export: 'warmSnapshot' } },
  boot: { entry: 'src/main/cli.js', commands: ['src/main/boot.js'], nodeFlags: BOOT_NODE_FLAGS, warmUp: { module: 'src/main/boot.js', export: 'warmCodeCache' } },
  gofer: { entry: 'src/main/cli.js', commands: ['src/main/gofer-command.js'], warmUp: { module: 'src/main/gofer-command.js', export: 'warmCodeCache' } },
  kernel: {
    entry: 'src/workers/kernel-api.js', nodeFlags: BOOT_NODE_FLAGS,
    warmUp: { module: 'src/vcpu/tier0-bytes.js', export: 'warmCodeCache' },
    prime: { module: 'src/workers/kernel-prime.js', export: 'primeKernelCache' },
  },
  // vCPU workers run inside boot (its flags are their process's) or in a process without them (tests, the in-process bench).
  'vcpu-worker': { entry: 'src/workers/vcpu-worker.js', nodeFlags: BOOT_NODE_FLAGS },
} as const satisfies Record<string, BundleSpec>;

export type EntryName = keyof typeof BUNDLE_ENTRIES;

/**
 * The V8 heap limits of the sandbox's vCPU worker threads, the young
 * generation capped at 6 MiB (semi-spaces of 2 MiB), as BOOT_NODE_FLAGS caps
 * the kernel's thread. V8's default lets each semi-space grow to 16 MiB
 * under the kernel's steady stream of short-lived objects, and a busy
 * sandbox then held ~30 MiB more in the kernel's thread alone, and kept
 * growing as its old space filled with what the larger nursery promoted less
 * often (the busybox fork/exec/create loop, measured when the kernel had a
 * worker thread of its own: boot +40% RSS between 200 and 1,200 iterations
 * with the default, +12% with this cap; docs/STARTUP.md). The old generation
 * keeps V8's default.
 */
export const WORKER_RESOURCE_LIMITS = { maxYoungGenerationSizeMb: 6 } as const;

/** Set (to 1) to start every process and thread from the unbundled files. */
export const NO_BUNDLE_ENV = 'TSVISOR_NO_BUNDLE';

/** Set on globalThis (to true) by a boot started from its V8 startup snapshot (snapshot-entry.ts), at deserialization. */
export const SNAPSHOT_MARK = Symbol.for('tsvisor.startup-snapshot');

/** Whether this process started from boot's startup snapshot (snapshot.ts). */
export function startedFromSnapshot(): boolean {
  return (globalThis as Record<symbol, unknown>)[SNAPSHOT_MARK] === true;
}

const DIST = path.resolve(__dirname, '..', '..');
const chosen = new Map<EntryName, string>();

/** The commands with a bundle of their own. */
const COMMAND_BUNDLES = new Set<string>(['run', 'do', 'boot', 'gofer']);

/**
 * The bundle for a command line of the CLI (`argv` without node and the
 * script): the command's own when the first word that can be the command
 * (past the global flags, and past a word after a flag written without
 * `=`, which may be its value) has one; the CLI's, holding every command,
 * otherwise. A guess, made without the CLI's flag table: a wrong one (a flag
 * value that names a command) still runs, as the command's modules then
 * load from tsc's files around the bundle's instances (runtime.ts).
 */
export function cliBundleFor(argv: readonly string[]): EntryName {
  let maybeValue = false;
  for (const arg of argv) {
    if (COMMAND_BUNDLES.has(arg)) return arg as EntryName;
    if (arg.startsWith('-')) {
      maybeValue = !arg.includes('=');
      continue;
    }
    if (!maybeValue) break;
    maybeValue = false;
  }
  return 'cli';
}

/** The path to start `name` from (a script for node or for a Worker). */
export function entryScript(name: EntryName): string {
  let file = chosen.get(name);
  if (file === undefined) {
    const own = path.join(DIST, BUNDLE_ENTRIES[name].entry);
    const bundled = path.join(DIST, BUNDLE_DIR, `${name}.js`);
    file = process.env[NO_BUNDLE_ENV] !== '1' && isFresh(bundled, own) ? bundled : own;
    chosen.set(name, file);
  }
  return file;
}

/** The bundle exists and was written after `own` (tsc rewrites every output). */
function isFresh(bundled: string, own: string): boolean {
  try {
    return fs.statSync(bundled).mtimeMs >= fs.statSync(own).mtimeMs;
  } catch {
    return false;
  }
}
