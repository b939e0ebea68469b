// V8 startup snapshots of boot (docs/STARTUP.md, the fourth pass) and of
// run's and do's CLI (the seventh): the build makes dist/bundle/NAME.blob
// (that bundle, loaded) from snapshot-entry.ts, in a Node started with the
// bundle's flags (SNAPSHOT_FLAGS), and beside it a manifest (NAME.blob.json)
// and bin/tsvisor's check (NAME.blob.check). run, create and do start boot
// with `--snapshot-blob` (bootSnapshotArgs) when the blob is usable, else as
// before, from boot's bundle; bin/tsvisor's shell half starts `tsvisor run`
// and `tsvisor do` from theirs (and `tsvisor boot` from boot's, on request).
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

/** The bundles with a startup snapshot, and the V8 flags each is made and started with. */
export const SNAPSHOT_FLAGS = { boot: BOOT_NODE_FLAGS, run: [], do: [] } as const satisfies Record<string, readonly string[]>;
export type SnapshotName = keyof typeof SNAPSHOT_FLAGS;
/** Set (to a SnapshotName) in the environment of the Node that builds a blob: which bundle snapshot-entry.ts runs. */
export const SNAPSHOT_BUNDLE_ENV = 'TSVISOR_SNAPSHOT_BUNDLE';

/** NAME's blob, its manifest, and bin/tsvisor's check beside them (in dist/bundle). */
export const blobOf = (name: SnapshotName) => `${name}.blob`;
export const manifestOf = (name: SnapshotName) => `${name}.blob.json`;
export const checkOf = (name: SnapshotName) => `${name}.blob.check`;

export const SNAPSHOT_BLOB = blobOf('boot');
export const SNAPSHOT_MANIFEST = manifestOf('boot');

const DIST = path.resolve(__dirname, '..', '..');
const BUNDLES = path.join(DIST, BUNDLE_DIR);

/** A file as the build left it (the inode: a copy of the tree, times kept, is not the build's; the blob holds its paths). */
interface Stamp {
  size: number;
  mtimeMs: number;
  ino: number;
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

/** The files NAME's snapshot holds the code of (relative to dist): a change to one makes it stale. Boot's names the kernel's, which the build may put in it. */
export const snapshotSources = (name: SnapshotName): string[] => [`${BUNDLE_DIR}/${name}.code.js`, ...(name === 'boot' ? [`${BUNDLE_DIR}/kernel.code.js`] : []), 'src/bundle/snapshot-entry.js'];
export const SNAPSHOT_SOURCES = snapshotSources('boot');

function stamp(file: string): Stamp | undefined {
  try {
    const st = fs.statSync(file);
    return { size: st.size, mtimeMs: st.mtimeMs, ino: st.ino };
  } catch {
    return undefined;
  }
}

const same = (a: Stamp | undefined, b: Stamp | undefined) => a !== undefined && b !== undefined && a.size === b.size && a.mtimeMs === b.mtimeMs && a.ino === b.ino;

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
 * The build's step after the bundles: makes boot.blob, its manifest and
 * check in `bundles` (under `distDir`). Returns the blob's size, or throws
 * (the build then goes on without a snapshot; any old one is gone first).
 */
export function writeBootSnapshot(distDir = DIST, bundles = BUNDLES, withKernel = process.env[SNAPSHOT_WITH_KERNEL_ENV] === '1'): number {
  return writeSnapshot('boot', distDir, bundles, withKernel);
}

/** writeBootSnapshot for any SnapshotName (`withKernel`: boot's only). */
export function writeSnapshot(name: SnapshotName, distDir = DIST, bundles = BUNDLES, withKernel = false): number {
  const blob = path.join(bundles, blobOf(name));
  const manifest = path.join(bundles, manifestOf(name));
  fs.rmSync(manifest, { force: true });
  fs.rmSync(path.join(bundles, checkOf(name)), { force: true });
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
  const env = { ...process.env, NODE_OPTIONS: '', [SNAPSHOT_WITH_KERNEL_ENV]: withKernel && name === 'boot' ? '1' : '', [SNAPSHOT_BUNDLE_ENV]: name };
  const r = spawnSync(process.execPath, [...SNAPSHOT_FLAGS[name], '--snapshot-blob', blob, '--build-snapshot', entry], { encoding: 'utf8', env });
  if (r.status !== 0 || !fs.existsSync(blob)) {
    fs.rmSync(blob, { force: true });
    const why = r.error?.message ?? r.stderr.split('\n').filter((l) => l.trim() !== '' && !/not yet fully verified|may still work|To request support|--trace-warnings/.test(l)).slice(0, 3).join(' / ');
    throw new Error(`node --build-snapshot exited ${r.status ?? r.signal}: ${why}`);
  }
  const size = writeSnapshotManifest(bundles, distDir, name).blob.size;
  try {
    writeLauncherCheck(bundles, distDir, process.execPath, name);
  } catch (e) {
    process.stderr.write(`bundle: bin/tsvisor will start \`tsvisor ${name}\` without the snapshot (${(e as Error).message})\n`);
  }
  return size;
}

/** Writes the manifest of NAME's blob in `bundles` (its size and time, those of its sources under `distDir`, this Node, its flags) and returns it. */
export function writeSnapshotManifest(bundles = BUNDLES, distDir = DIST, name: SnapshotName = 'boot'): Manifest {
  const sources: Record<string, Stamp> = {};
  for (const src of snapshotSources(name)) {
    const s = stamp(path.join(distDir, src));
    if (!s) throw new Error(`${src} is missing`);
    sources[src] = s;
  }
  const blob = stamp(path.join(bundles, blobOf(name)));
  if (!blob) throw new Error(`${blobOf(name)} is missing`);
  const m: Manifest = { node: process.version, v8: process.versions.v8, flags: [...SNAPSHOT_FLAGS[name]], blob, sources };
  fs.writeFileSync(path.join(bundles, manifestOf(name)), JSON.stringify(m, null, 1) + '\n');
  return m;
}

/** Beside boot's blob: what bin/tsvisor's shell half reads (writeLauncherCheck). */
export const LAUNCHER_CHECK = checkOf('boot');

/**
 * The files bin/tsvisor's shell half checks before it starts `tsvisor NAME`
 * from NAME's blob, relative to dist: the blob, its sources, the loader it
 * names, and the CLI's tsc output (rewritten by every tsc run: entryScript
 * then takes tsc's files, not the bundles the blob holds). Node's binary
 * comes first, outside dist.
 */
export const launcherFiles = (name: SnapshotName): string[] => [`${BUNDLE_DIR}/${blobOf(name)}`, ...snapshotSources(name), `${BUNDLE_DIR}/${name}.js`, BUNDLE_ENTRIES[name].entry];
export const LAUNCHER_FILES = launcherFiles('boot');

/** The shell's single quotes around `s`. */
const shQuote = (s: string) => `'${s.replace(/'/g, `'\\''`)}'`;

/**
 * Writes NAME's check (checkOf) in `bundles`: a /bin/sh fragment that
 * bin/tsvisor sources (it cannot run JavaScript before it picks Node's
 * flags, and a second Node start to run snapshotUnusable would cost more
 * than the snapshot saves). It sets `snap_flags` (SNAPSHOT_FLAGS[name]) and
 * `snap_stamp`, what `stat -L` prints of Node's binary (`node`: the one the
 * blob was made by) and of launcherFiles(name) now, and defines
 * `snap_stat`, which prints the same of the files the launcher would use
 * (the Node it found, and those files under its own dist): equal output,
 * the same files as the build left them (size, time to the nanosecond, and
 * inode: a copy of the tree is not the build's, and the blob holds the
 * build's paths). Needs GNU stat's --printf; where it fails, no fragment,
 * and bin/tsvisor starts the command as before.
 */
export function writeLauncherCheck(bundles = BUNDLES, distDir = DIST, node = process.execPath, name: SnapshotName = 'boot'): void {
  const file = path.join(bundles, checkOf(name));
  fs.rmSync(file, { force: true });
  const FORMAT = '%s %.9Y %i\\n';
  const files = launcherFiles(name);
  const r = spawnSync('stat', ['-L', '--printf', FORMAT, '--', node, ...files.map((f) => path.join(distDir, f))], { encoding: 'utf8' });
  if (r.status !== 0 || r.stdout.split('\n').length !== files.length + 2) throw new Error(`stat: ${r.error?.message ?? r.stderr.trim()}`);
  fs.writeFileSync(
    file,
    [
      `# Generated by src/bundle/snapshot.ts (writeLauncherCheck): what bin/tsvisor checks before it starts ${name} from ${blobOf(name)}.`,
      `snap_flags=${shQuote(SNAPSHOT_FLAGS[name].join(' '))}`,
      `snap_stamp=${shQuote(r.stdout.replace(/\n$/, ''))}`,
      `snap_stat() { stat -L --printf '${FORMAT}' -- "$1" ${files.map((f) => `"$dist"/${shQuote(f)}`).join(' ')} 2>/dev/null; }`,
      '',
    ].join('\n'),
  );
}
