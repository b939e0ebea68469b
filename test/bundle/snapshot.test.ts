// Boot's V8 startup snapshot (src/bundle/snapshot.ts, snapshot-entry.ts):
// the build makes it, run starts boot from it, a boot from it behaves as one
// from its bundle, and the launcher's check turns away every blob Node would
// die on (Node itself cannot fall back: shown below) so that boot then
// starts from its bundle.

import * as assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { makeBundle, removeBundle, repoRoot } from '../util/bundle.js';
import { BOOT_NODE_FLAGS, BUNDLE_DIR } from '../../src/bundle/entry.js';
import { bootSnapshotArgs, NO_SNAPSHOT_ENV, SNAPSHOT_ENV, SNAPSHOT_BLOB, SNAPSHOT_MANIFEST, SNAPSHOT_SOURCES, snapshotUnusable, writeSnapshotManifest } from '../../src/bundle/snapshot.js';

const DIST = path.join(repoRoot(), 'dist');
const BUNDLES = path.join(DIST, BUNDLE_DIR);
const BLOB = path.join(BUNDLES, SNAPSHOT_BLOB);
const TSVISOR = path.join(repoRoot(), 'bin', 'tsvisor');

/** `tsvisor ARGS` with extra environment; resolves with its status, stdout and stderr. */
function tsvisor(args: string[], env: NodeJS.ProcessEnv): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((resolve, reject) => {
    const child = spawn(TSVISOR, args, { stdio: ['ignore', 'pipe', 'pipe'], env: { ...process.env, ...env } });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
    child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    child.on('error', reject);
    child.on('exit', (code, sig) => resolve({ code: code ?? 128 + (sig ? os.constants.signals[sig] : 0), stdout, stderr }));
  });
}

/** A copy of the snapshot and its sources under a dist-like folder of its own, with a manifest of the copies. */
function copyOfSnapshot(): { dist: string; bundles: string } {
  const dist = fs.mkdtempSync(path.join(os.tmpdir(), 'tsvisor-snapshot-'));
  const bundles = path.join(dist, BUNDLE_DIR);
  fs.mkdirSync(bundles);
  fs.copyFileSync(BLOB, path.join(bundles, SNAPSHOT_BLOB));
  for (const src of SNAPSHOT_SOURCES) {
    fs.mkdirSync(path.dirname(path.join(dist, src)), { recursive: true });
    fs.copyFileSync(path.join(DIST, src), path.join(dist, src));
  }
  writeSnapshotManifest(bundles, dist);
  return { dist, bundles };
}

/** Sets a file's modification time one second later (a rewrite by anything but the build). */
function touch(file: string): void {
  const st = fs.statSync(file);
  fs.utimesSync(file, st.atime, new Date(st.mtimeMs + 1000));
}

describe("boot's startup snapshot", function () {
  this.timeout(120_000);
  const clean = { [NO_SNAPSHOT_ENV]: '', [SNAPSHOT_ENV]: '', NODE_OPTIONS: '' };

  it('the build wrote the blob and its manifest, and run may start boot from it', () => {
    assert.ok(fs.statSync(BLOB).size > 1 << 20, 'a blob of Node and boot');
    const manifest = JSON.parse(fs.readFileSync(path.join(BUNDLES, SNAPSHOT_MANIFEST), 'utf8'));
    assert.equal(manifest.node, process.version);
    assert.deepEqual(manifest.flags, [...BOOT_NODE_FLAGS]);
    assert.equal(snapshotUnusable(BUNDLES, DIST, clean), null);
    if (snapshotUnusable() === null) assert.deepEqual(bootSnapshotArgs(), ['--snapshot-blob', BLOB]);
  });

  it("a boot from the snapshot runs the CLI as one from the bundle does: a usage error, its line, 128", () => {
    for (const extra of [['--snapshot-blob', BLOB], []]) {
      const r = spawnSync(process.execPath, [...BOOT_NODE_FLAGS, ...extra, path.join(BUNDLES, 'boot.js'), 'boot'], { encoding: 'utf8', env: { ...process.env, NODE_OPTIONS: '' } });
      assert.equal(r.status, 128, `${extra.join(' ')}: ${r.stderr}`);
      assert.match(r.stderr, /^tsvisor: missing required flags: --spec-fd, --controller-fd, --start-sync-fd$/m);
    }
  });

  it('run of a program boots from the snapshot, and without it when told, with the same output and exit status', async () => {
    const bundle = makeBundle({ args: ['/bin/exitgroup'] });
    const root = fs.mkdtempSync(path.join(os.tmpdir(), 'tsvisor-state-'));
    const logs = fs.mkdtempSync(path.join(os.tmpdir(), 'tsvisor-snapshot-logs-'));
    try {
      for (const [n, env, says] of [
        [1, clean, 'started from the startup snapshot'],
        [2, { ...clean, [NO_SNAPSHOT_ENV]: '1' }, 'started without the startup snapshot'],
      ] as const) {
        fs.mkdirSync(path.join(logs, String(n)));
        const r = await tsvisor(['--root', root, '--debug', '--debug-log', `${logs}/${n}/`, 'run', '--bundle', bundle, `snap${n}`], env);
        assert.equal(r.code, 44, r.stderr);
        assert.equal(r.stdout, 'exitgroup: return 300 from main\n');
        const boot = fs.readdirSync(path.join(logs, String(n))).find((f) => f.endsWith('.boot.log'));
        assert.ok(boot, 'a boot log');
        const log = fs.readFileSync(path.join(logs, String(n), boot), 'utf8');
        assert.match(log, new RegExp(`boot snap${n}: ${says}`));
        assert.match(log, /init exited with wait status 11264/);
      }
    } finally {
      removeBundle(bundle);
      fs.rmSync(root, { recursive: true, force: true });
      fs.rmSync(logs, { recursive: true, force: true });
    }
  });

  it('a detached sandbox (create) boots without it: a long-lived boot keeps the smaller memory; with TSVISOR_SNAPSHOT=1, from it', async () => {
    const bundle = makeBundle({ args: ['/bin/hello'] });
    const root = fs.mkdtempSync(path.join(os.tmpdir(), 'tsvisor-state-'));
    try {
      for (const [id, env, says] of [
        ['snapc', clean, 'started without the startup snapshot'],
        ['snapc1', { ...clean, [SNAPSHOT_ENV]: '1' }, 'started from the startup snapshot'],
      ] as const) {
        const logs = fs.mkdtempSync(path.join(os.tmpdir(), 'tsvisor-snapshot-logs-'));
        try {
          const c = await tsvisor(['--root', root, '--debug', '--debug-log', `${logs}/`, 'create', '--bundle', bundle, id], env);
          assert.equal(c.code, 0, c.stderr);
          const boot = fs.readdirSync(logs).find((f) => f.endsWith('.boot.log'));
          assert.ok(boot, 'a boot log');
          for (let waited = 0; !fs.readFileSync(path.join(logs, boot), 'utf8').includes('startup snapshot'); waited += 50) {
            assert.ok(waited < 30_000, 'boot says how it started');
            await new Promise((r) => setTimeout(r, 50));
          }
          assert.match(fs.readFileSync(path.join(logs, boot), 'utf8'), new RegExp(`boot ${id}: ${says}`));
        } finally {
          await tsvisor(['--root', root, 'delete', '--force', id], clean);
          fs.rmSync(logs, { recursive: true, force: true });
        }
      }
    } finally {
      removeBundle(bundle);
      fs.rmSync(root, { recursive: true, force: true });
    }
  });

  it('Node cannot fall back by itself: it dies on a truncated blob, and on one made under other flags', () => {
    const { dist, bundles } = copyOfSnapshot();
    try {
      const blob = path.join(bundles, SNAPSHOT_BLOB);
      const run = (flags: string[]) => spawnSync(process.execPath, [...flags, '--snapshot-blob', blob, path.join(BUNDLES, 'boot.js'), 'boot'], { encoding: 'utf8', env: { ...process.env, NODE_OPTIONS: '' } });
      assert.equal(run([]).status, 14, 'made under --max-semi-space-size=2, started without it');
      // Cut inside V8's part (the first MiB): Node crashes. A cut in what
      // follows may even go unnoticed, half of this blob does at times: one
      // more reason the launcher checks the size.
      fs.truncateSync(blob, 1 << 20);
      const truncated = run([...BOOT_NODE_FLAGS]);
      assert.notEqual(truncated.status, 128, 'never reaches our code');
      assert.notEqual(truncated.status ?? truncated.signal, 0);
    } finally {
      fs.rmSync(dist, { recursive: true, force: true });
    }
  });

  it('the launcher turns away a blob that is damaged, truncated, missing, stale, of another Node, or that NODE_OPTIONS would break', () => {
    const cases: [string, (c: { dist: string; bundles: string }) => NodeJS.ProcessEnv | void, RegExp][] = [
      ['damaged in place', ({ bundles }) => {
        const fd = fs.openSync(path.join(bundles, SNAPSHOT_BLOB), 'r+');
        fs.writeSync(fd, Buffer.from('x'), 0, 1, 4096);
        fs.closeSync(fd);
      }, /not the one the build wrote/],
      ['truncated', ({ bundles }) => fs.truncateSync(path.join(bundles, SNAPSHOT_BLOB), 4096), /not the one the build wrote/],
      ['missing', ({ bundles }) => fs.rmSync(path.join(bundles, SNAPSHOT_BLOB)), /not the one the build wrote/],
      ['stale: the bundle rebuilt since', ({ dist }) => touch(path.join(dist, BUNDLE_DIR, 'boot.code.js')), /boot\.code\.js changed since/],
      ['another Node', ({ bundles }) => {
        const file = path.join(bundles, SNAPSHOT_MANIFEST);
        fs.writeFileSync(file, fs.readFileSync(file, 'utf8').replace(process.version, 'v0.0.1'));
      }, /made by Node v0\.0\.1/],
      ['no manifest', ({ bundles }) => fs.rmSync(path.join(bundles, SNAPSHOT_MANIFEST)), /no manifest/],
      ['a manifest that is not JSON', ({ bundles }) => fs.writeFileSync(path.join(bundles, SNAPSHOT_MANIFEST), '{'), /no manifest/],
      ['NODE_OPTIONS', () => ({ NODE_OPTIONS: '--max-old-space-size=100' }), /NODE_OPTIONS/],
      [NO_SNAPSHOT_ENV, () => ({ [NO_SNAPSHOT_ENV]: '1' }), new RegExp(NO_SNAPSHOT_ENV)],
    ];
    for (const [what, spoil, why] of cases) {
      const c = copyOfSnapshot();
      try {
        assert.equal(snapshotUnusable(c.bundles, c.dist, clean), null, `${what}: the intact copy is usable`);
        const env = spoil(c) ?? {};
        assert.match(snapshotUnusable(c.bundles, c.dist, { ...clean, ...env }) ?? 'usable', why, what);
      } finally {
        fs.rmSync(c.dist, { recursive: true, force: true });
      }
    }
  });

  it("each blob holds the spec's check compiled (the build's warm-up): a start compiles no bytecode for it", () => {
    // A preloaded probe, run before the CLI's main: how much bytecode the
    // first check of a spec makes V8 compile in a process started from the
    // blob. A blob built without snapshot-entry.ts's warm-up compiled
    // ~29 KB there (the validator's functions, at their first call).
    const probe = path.join(fs.mkdtempSync(path.join(os.tmpdir(), 'tsvisor-probe-')), 'probe.js');
    fs.writeFileSync(
      probe,
      `const v8 = require('node:v8');
// Under the path the blob was built at (a copy of the tree keeps the blob's).
const key = Object.keys(require.cache).find((k) => k.endsWith('/dist/src/spec/load.js'));
const load = key && require.cache[key];
if (!load) { process.stdout.write('no spec module in the blob'); process.exit(3); }
const text = JSON.stringify(load.exports.defaultSpec());
const before = v8.getHeapCodeStatistics().bytecode_and_metadata_size;
load.exports.parseSpec(text);
process.stdout.write(String(v8.getHeapCodeStatistics().bytecode_and_metadata_size - before));
process.exit(0);
`,
    );
    try {
      for (const name of ['boot', 'run', 'do'] as const) {
        const blob = path.join(BUNDLES, `${name}.blob`);
        if (!fs.existsSync(blob)) assert.fail(`the build wrote no ${name}.blob`);
        const flags = name === 'boot' ? [...BOOT_NODE_FLAGS] : [];
        const r = spawnSync(process.execPath, [...flags, '--snapshot-blob', blob, '-r', probe, path.join(BUNDLES, `${name}.js`)], { encoding: 'utf8', env: { ...process.env, NODE_OPTIONS: '' } });
        assert.equal(r.status, 0, `${name}: ${r.stdout} ${r.stderr}`);
        assert.ok(Number(r.stdout) < 2048, `${name}.blob: the first spec check compiled ${r.stdout} bytes of bytecode`);
      }
    } finally {
      fs.rmSync(path.dirname(probe), { recursive: true, force: true });
    }
  });
});
