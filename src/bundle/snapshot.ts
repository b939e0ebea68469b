// Boot's V8 startup snapshot (docs/STARTUP.md, the fourth pass): the build
// makes dist/bundle/boot.blob (boot's bundle, loaded) from snapshot-entry.ts, in a Node started with
// BOOT_NODE_FLAGS, and a manifest beside it (boot.blob.json); run, create
// and do start boot with `--snapshot-blob` (bootSnapshotArgs) when the blob
// is usable, else as before, from boot's bundle.
//
// Node cannot fall back by itself: a blob of another Node or made under
// other V8 flags makes it exit 14 before any of our code runs, a damaged one
// makes V8 abort (its checksum) or crash. So the launcher checks, for a few
// stat calls, that the blob is the one the build wrote (its size and time),
// that the files it was made from are those on disk now (the bundles' code
// and snapshot-entry.ts's), that this Node is the
// one it was made by, and that nothing adds V8 flags (NODE_OPTIONS); any
// doubt starts boot without it. What this does not catch: a blob changed
// in place with its size and time put back, which only someone who could
// rewrite the code itself can do.

import * as fs from 'node:fs';
import * as path from 'node:path';
import { spawnSync } from 'node:child_process';
import { BOOT_NODE_FLAGS, BUNDLE_DIR, BUNDLE_ENTRIES, entryScript, NO_BUNDLE_ENV } from './entry.js';

/**
 * Set (to 1) in the build's environment (writeBootSnapshot's `withKernel`),
 * the blob holds the kernel's bundle too, its top levels run: measured and
 * not the default (docs/STARTUP.md, the fifth pass).
 */
export const SNAPSHOT_WITH_KERNEL_ENV = 'TSVISOR_SNAPSHOT_WITH_KERNEL';

/** Set (to 1) to start boot without its snapshot (to compare, or to rule it out). */
export const NO_SNAPSHOT_ENV = 'TSVISOR_NO_SNAPSHOT';
export const SNAPSHOT_BLOB = 'boot.blob';
export const SNAPSHOT_MANIFEST = 'boot.blob.json';

const DIST = path.resolve(__dirname, '..', '..');
const BUNDLES = path.join(DIST, BUNDLE_DIR);

/** A file as the build left it. */
interface Stamp {
  size: number;
  mtimeMs: number;
}

/** What the build writes beside the blob. */
export interface Manifest {
  node: string;
  v8: string;
  flags: string[];
  blob: Stamp;
  /** Every file the snapshot's heap was made from, relative to dist. */
  sources: Record<string, Stamp>;
}

/** The files the snapshot holds the code of (relative to dist): a change to one makes it stale. */
export const SNAPSHOT_SOURCES = [
  `${BUNDLE_DIR}/boot.code.js`,
  `${BUNDLE_DIR}/kernel.code.js`,
  'src/bundle/snapshot-entry.js',
] as const;

function stamp(file: string): Stamp | undefined {
  try {
    const st = fs.statSync(file);
    return { size: st.size, mtimeMs: st.mtimeMs };
  } catch {
    return undefined;
  }
}

const same = (a: Stamp | undefined, b: Stamp | undefined) => a !== undefined && b !== undefined && a.size === b.size && a.mtimeMs === b.mtimeMs;

/**
 * Why boot's snapshot in `bundles` (dist/bundle) cannot be used by a boot
 * this process starts with BOOT_NODE_FLAGS, or null when it can. `distDir`:
 * where the manifest's sources lie.
 */
export function snapshotUnusable(bundles = BUNDLES, distDir = DIST, env: NodeJS.ProcessEnv = process.env): string | null {
  if (env[NO_SNAPSHOT_ENV] === '1') return `${NO_SNAPSHOT_ENV}=1`;
  if (env[NO_BUNDLE_ENV] === '1') return `${NO_BUNDLE_ENV}=1`;
  if ((env.NODE_OPTIONS ?? '').trim() !== '') return 'NODE_OPTIONS is set (V8 takes a snapshot only under the flags it was made with)';
  let m: Manifest;
  try {
    m = JSON.parse(fs.readFileSync(path.join(bundles, SNAPSHOT_MANIFEST), 'utf8')) as Manifest;
  } catch {
    return 'no manifest';
  }
  if (m.node !== process.version || m.v8 !== process.versions.v8) return `made by Node ${m.node}`;
  if (!Array.isArray(m.flags) || m.flags.join(' ') !== BOOT_NODE_FLAGS.join(' ')) return 'made under other flags';
  if (!same(stamp(path.join(bundles, SNAPSHOT_BLOB)), m.blob)) return 'the blob is not the one the build wrote';
  for (const src of SNAPSHOT_SOURCES) if (!same(stamp(path.join(distDir, src)), m.sources?.[src])) return `${src} changed since`;
  return null;
}

let chosen: string[] | undefined;

/**
 * Set (to 1) to start a long-lived boot from the snapshot too: one that
 * `create` or `run --detach` starts, or a parent runtime through bin/tsvisor.
 * Without it such a boot starts from its bundle: it saves less at its start
 * than the blob costs it in memory for its life (docs/STARTUP.md).
 */
export const SNAPSHOT_ENV = 'TSVISOR_SNAPSHOT';

/**
 * Node's arguments that start boot from its snapshot (before the script,
 * after BOOT_NODE_FLAGS), or none when it is unusable (snapshotUnusable),
 * boot would not start from its bundle anyway (entry.ts), or the boot is
 * `detached` and SNAPSHOT_ENV is not 1. Decided once per process.
 */
export function bootSnapshotArgs(detached = false): string[] {
  if (detached && process.env[SNAPSHOT_ENV] !== '1') return [];
  if (chosen === undefined) {
    const fromBundles = entryScript('boot').startsWith(BUNDLES + path.sep);
    chosen = fromBundles && snapshotUnusable() === null ? ['--snapshot-blob', path.join(BUNDLES, SNAPSHOT_BLOB)] : [];
  }
  return chosen;
}

/**
 * The build's step after the bundles: makes boot.blob and its manifest in
 * `bundles` (under `distDir`). Returns the blob's size, or throws (the build
 * then goes on without a snapshot; any old one is gone first).
 */
export function writeBootSnapshot(distDir = DIST, bundles = BUNDLES, withKernel = process.env[SNAPSHOT_WITH_KERNEL_ENV] === '1'): number {
  const blob = path.join(bundles, SNAPSHOT_BLOB);
  const manifest = path.join(bundles, SNAPSHOT_MANIFEST);
  fs.rmSync(manifest, { force: true });
  fs.rmSync(path.join(bundles, LAUNCHER_CHECK), { force: true });
  fs.rmSync(blob, { force: true });
  // Node's snapshot builder runs its script without CommonJS's `exports`,
  // and no file of ours may go through Node's module loader before the
  // snapshot is taken (snapshot-entry.ts): a short script compiles
  // snapshot-entry.ts's output and runs it as Node would run a module.
  const entry = path.join(bundles, 'snapshot-build.js');
  const target = path.join(distDir, 'src', 'bundle', 'snapshot-entry.js');
  fs.writeFileSync(
    entry,
    [
      `'use strict';`,
      `// Generated by src/bundle/snapshot.ts: the script boot's startup snapshot is built from.`,
      `const file = ${JSON.stringify(target)};`,
      `const code = require('node:fs').readFileSync(file, 'utf8');`,
      `const run = new (require('node:vm').Script)('(function (exports, require, module, __filename, __dirname) {' + code + '\\n})', { filename: file }).runInThisContext();`,
      `const module = { exports: {} };`,
      `run(module.exports, require, module, file, require('node:path').dirname(file));`,
      '',
    ].join('\n'),
  );
  const r = spawnSync(process.execPath, [...BOOT_NODE_FLAGS, '--snapshot-blob', blob, '--build-snapshot', entry], { encoding: 'utf8', env: { ...process.env, NODE_OPTIONS: '', [SNAPSHOT_WITH_KERNEL_ENV]: withKernel ? '1' : '' } });
  if (r.status !== 0 || !fs.existsSync(blob)) {
    fs.rmSync(blob, { force: true });
    const why = r.error?.message ?? r.stderr.split('\n').filter((l) => l.trim() !== '' && !/not yet fully verified|may still work|To request support|--trace-warnings/.test(l)).slice(0, 3).join(' / ');
    throw new Error(`node --build-snapshot exited ${r.status ?? r.signal}: ${why}`);
  }
  const size = writeSnapshotManifest(bundles, distDir).blob.size;
  try {
    writeLauncherCheck(bundles, distDir);
  } catch (e) {
    process.stderr.write(`bundle: bin/tsvisor will start \`tsvisor boot\` without the snapshot (${(e as Error).message})\n`);
  }
  return size;
}

/** Writes the manifest of the blob in `bundles` (its size and time, those of its sources under `distDir`, this Node, BOOT_NODE_FLAGS) and returns it. */
export function writeSnapshotManifest(bundles = BUNDLES, distDir = DIST): Manifest {
  const sources: Record<string, Stamp> = {};
  for (const src of SNAPSHOT_SOURCES) {
    const s = stamp(path.join(distDir, src));
    if (!s) throw new Error(`${src} is missing`);
    sources[src] = s;
  }
  const blob = stamp(path.join(bundles, SNAPSHOT_BLOB));
  if (!blob) throw new Error(`${SNAPSHOT_BLOB} is missing`);
  const m: Manifest = { node: process.version, v8: process.versions.v8, flags: [...BOOT_NODE_FLAGS], blob, sources };
  fs.writeFileSync(path.join(bundles, SNAPSHOT_MANIFEST), JSON.stringify(m, null, 1) + '\n');
  return m;
}

/** Beside the blob: what bin/tsvisor's shell half reads (writeLauncherCheck). */
export const LAUNCHER_CHECK = 'boot.blob.check';

/**
 * The files bin/tsvisor's shell half checks before it starts `tsvisor boot`
 * from the blob, relative to dist: the blob, its sources, the loader it
 * names, and the CLI's tsc output (rewritten by every tsc run: entryScript
 * then takes tsc's files, not the bundles the blob holds). Node's binary
 * comes first, outside dist.
 */
export const LAUNCHER_FILES = [`${BUNDLE_DIR}/${SNAPSHOT_BLOB}`, ...SNAPSHOT_SOURCES, `${BUNDLE_DIR}/boot.js`, BUNDLE_ENTRIES.boot.entry] as const;

/** The shell's single quotes around `s`. */
const shQuote = (s: string) => `'${s.replace(/'/g, `'\\''`)}'`;

/**
 * Writes LAUNCHER_CHECK in `bundles`: a /bin/sh fragment that bin/tsvisor
 * sources (it cannot run JavaScript before it picks Node's flags, and a
 * second Node start to run snapshotUnusable would cost more than the
 * snapshot saves). It sets `boot_flags` (BOOT_NODE_FLAGS) and `boot_stamp`,
 * what `stat -L` prints of Node's binary (`node`: the one the blob was made
 * by) and of LAUNCHER_FILES now, and defines `boot_stat`, which prints the
 * same of the files the launcher would use (the Node it found, and
 * LAUNCHER_FILES under its own dist): equal output, the same files as the
 * build left them (size and time to the nanosecond). Needs GNU stat's
 * --printf; where it fails, no fragment, and bin/tsvisor starts boot as
 * before.
 */
export function writeLauncherCheck(bundles = BUNDLES, distDir = DIST, node = process.execPath): void {
  const file = path.join(bundles, LAUNCHER_CHECK);
  fs.rmSync(file, { force: true });
  const FORMAT = '%s %.9Y\\n';
  const r = spawnSync('stat', ['-L', '--printf', FORMAT, '--', node, ...LAUNCHER_FILES.map((f) => path.join(distDir, f))], { encoding: 'utf8' });
  if (r.status !== 0 || r.stdout.split('\n').length !== LAUNCHER_FILES.length + 2) throw new Error(`stat: ${r.error?.message ?? r.stderr.trim()}`);
  fs.writeFileSync(
    file,
    [
      `# Generated by src/bundle/snapshot.ts (writeLauncherCheck): what bin/tsvisor checks before it starts boot from ${SNAPSHOT_BLOB}.`,
      `boot_flags=${shQuote(BOOT_NODE_FLAGS.join(' '))}`,
      `boot_stamp=${shQuote(r.stdout.replace(/\n$/, ''))}`,
      `boot_stat() { stat -L --printf '${FORMAT}' -- "$1" ${LAUNCHER_FILES.map((f) => `"$dist"/${shQuote(f)}`).join(' ')} 2>/dev/null; }`,
      '',
    ].join('\n'),
  );
}
