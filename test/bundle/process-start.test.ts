// Module top levels that read the process's clock or environment
// (src/bundle/process-start.ts) keep the values of the process they run in
// when they were run while a V8 startup snapshot was built: the kernel's
// and the vCPU's modules may be in boot's blob (TSVISOR_SNAPSHOT_WITH_KERNEL=1,
// snapshot.ts), and a value the build's Node read would otherwise be frozen
// in it. A small snapshot of the real modules shows it value by value; a
// boot from a blob that holds the kernel runs a program and honours an
// environment variable set only at its start.

import * as assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { makeBundle, removeBundle, repoRoot } from '../util/bundle.js';
import { BOOT_NODE_FLAGS, BUNDLE_DIR } from '../../src/bundle/entry.js';
import { SNAPSHOT_BLOB, writeBootSnapshot } from '../../src/bundle/snapshot.js';
import { bindUnixSocket, closeFd, pipe2, O_CLOEXEC } from '../../src/host/ffi.js';
import { UrpcClient } from '../../src/main/urpc.js';

const DIST = path.join(repoRoot(), 'dist');

/**
 * The script of a snapshot that runs the top levels of the modules `files`
 * (tsc's output, loaded with vm as snapshot-entry.ts loads boot's bundle)
 * and whose main prints `report`'s JSON: `mods` holds their exports.
 */
function snapshotScript(files: string[], report: string): string {
  return `'use strict';
const fs = require('node:fs'), path = require('node:path'), vm = require('node:vm'), v8 = require('node:v8');
const cache = {};
function load(file) {
  if (cache[file]) return cache[file].exports;
  const m = (cache[file] = { exports: {} });
  const fn = new vm.Script('(function (exports, require, module, __filename, __dirname) {' + fs.readFileSync(file, 'utf8') + '\\n})', { filename: file }).runInThisContext();
  fn(m.exports, (r) => (r.startsWith('.') ? load(path.resolve(path.dirname(file), r)) : require(r)), m, file, path.dirname(file));
  return m.exports;
}
const mods = ${JSON.stringify(files)}.map(load);
v8.startupSnapshot.setDeserializeMainFunction(() => process.stdout.write(JSON.stringify(${report}) + '\\n'));
`;
}

describe('values a top level reads at process start, in a startup snapshot', function () {
  this.timeout(180_000);
  let dir: string;
  before(() => (dir = fs.mkdtempSync(path.join(os.tmpdir(), 'tsvisor-process-start-'))));
  after(() => fs.rmSync(dir, { recursive: true, force: true }));

  it("the kernel files' times, and an environment variable of the vCPU's, are the run's, not the build's", async () => {
    const files = ['src/kernel/vfs/attr.js', 'src/vcpu/engines.js', 'src/vcpu/trace.js', 'src/vcpu/region.js', 'src/vcpu/engine-stats.js'].map((f) => path.join(DIST, f));
    const report = `{ attrMs: mods[0].makeAttr(0o100644).mtimeSec * 1000 + mods[0].makeAttr(0o100644).mtimeNsec / 1e6, now: Date.now(), wasmMinRun: mods[1].WASM_MIN_RUN, traceBlocks: mods[2].TRACE_BLOCKS, regionBlocks: mods[3].REGION_BLOCKS, stats: mods[4].statsEnabled }`;
    const entry = path.join(dir, 'entry.js');
    fs.writeFileSync(entry, snapshotScript(files, report));
    const blob = path.join(dir, 'values.blob');
    const buildEnv = { ...process.env, NODE_OPTIONS: '', TSVISOR_WASM_MIN_RUN: '7', TSVISOR_TRACE_BLOCKS: '2', TSVISOR_REGION_BLOCKS: '3', TSVISOR_ENGINE_STATS: '1' };
    const b = spawnSync(process.execPath, ['--snapshot-blob', blob, '--build-snapshot', entry], { encoding: 'utf8', env: buildEnv });
    assert.equal(b.status, 0, b.stderr);
    const built = Date.now();
    // Long enough after the build that a time frozen in the blob shows.
    await new Promise((r) => setTimeout(r, 1200));
    const run = (env: NodeJS.ProcessEnv) => {
      const t0 = Date.now();
      const r = spawnSync(process.execPath, ['--snapshot-blob', blob], { encoding: 'utf8', env: { ...process.env, NODE_OPTIONS: '', TSVISOR_WASM_MIN_RUN: '', TSVISOR_TRACE_BLOCKS: '', TSVISOR_REGION_BLOCKS: '', TSVISOR_ENGINE_STATS: '', ...env } });
      assert.equal(r.status, 0, r.stderr);
      return { t0, v: JSON.parse(r.stdout) as { attrMs: number; now: number; wasmMinRun: number; traceBlocks: number; regionBlocks: number; stats: boolean } };
    };
    const plain = run({});
    assert.ok(plain.v.attrMs >= plain.t0 - 5 && plain.v.attrMs > built + 1000, `bootTime ${plain.v.attrMs}: the run's (started ${plain.t0}), not the build's (${built})`);
    assert.ok(plain.v.attrMs <= plain.v.now);
    assert.deepEqual([plain.v.wasmMinRun, plain.v.traceBlocks, plain.v.regionBlocks, plain.v.stats], [200, 4, 32, false], 'the defaults: the build had other values set');
    const set = run({ TSVISOR_WASM_MIN_RUN: '9', TSVISOR_TRACE_BLOCKS: '1', TSVISOR_REGION_BLOCKS: '5', TSVISOR_ENGINE_STATS: '1' });
    assert.deepEqual([set.v.wasmMinRun, set.v.traceBlocks, set.v.regionBlocks, set.v.stats], [9, 1, 5, true]);
  });

  it("the clocks: tmpfs's times follow the run's wall clock (a time origin kept from the build would be the build's), and so does CLOCK_REALTIME", async () => {
    const files = ['src/kernel/filesystems/tmpfs-inode.js', 'src/kernel/syscalls/time.js'].map((f) => path.join(DIST, f));
    const entry = path.join(dir, 'clock.js');
    fs.writeFileSync(entry, snapshotScript(files, `{ tmpfs: mods[0].now(), realtimeMs: Number(mods[1].clockNowNs(0) / 1000000n), now: Date.now() }`));
    const blob = path.join(dir, 'clock.blob');
    const b = spawnSync(process.execPath, ['--snapshot-blob', blob, '--build-snapshot', entry], { encoding: 'utf8', env: { ...process.env, NODE_OPTIONS: '' } });
    assert.equal(b.status, 0, b.stderr);
    // 1.2 s and more after the build: a time origin kept from it would put tmpfs's clock that far back (the bound below allows for a loaded host between the two reads).
    await new Promise((r) => setTimeout(r, 1200));
    const r = spawnSync(process.execPath, ['--snapshot-blob', blob], { encoding: 'utf8', env: { ...process.env, NODE_OPTIONS: '' } });
    assert.equal(r.status, 0, r.stderr);
    const v = JSON.parse(r.stdout) as { tmpfs: [number, number]; realtimeMs: number; now: number };
    const tmpfsMs = v.tmpfs[0] * 1000 + v.tmpfs[1] / 1e6;
    assert.ok(Math.abs(tmpfsMs - v.now) < 1000, `tmpfs now() ${tmpfsMs} against Date.now() ${v.now}`);
    assert.ok(Math.abs(v.realtimeMs - v.now) < 1000, `CLOCK_REALTIME ${v.realtimeMs} against Date.now() ${v.now}`);
  });

  it('boot from a blob that holds the kernel runs a program, with TSVISOR_ENGINE_STATS read at its start', async () => {
    const bundles = path.join(dir, BUNDLE_DIR);
    fs.mkdirSync(bundles);
    const size = writeBootSnapshot(DIST, bundles, true);
    assert.ok(size > fs.statSync(path.join(DIST, BUNDLE_DIR, SNAPSHOT_BLOB)).size + (1 << 20), "the kernel's bundle is in it");
    const bundle = makeBundle({ args: ['/bin/hello'] });
    try {
      const r = await bootOnce(bundle, [...BOOT_NODE_FLAGS, '--snapshot-blob', path.join(bundles, SNAPSHOT_BLOB), path.join(DIST, BUNDLE_DIR, 'boot.js')], { TSVISOR_ENGINE_STATS: '1' });
      assert.equal(r.status, 0, r.bootStderr);
      assert.match(r.stdout, /^hello from riscv64\n/);
      assert.match(r.bootStderr, /^tsvisor-engine \{"thread":"main"/m);
    } finally {
      removeBundle(bundle);
    }
  });
});

/** `node nodeArgs boot` of `bundle` (as bench/boot-launch.ts starts it), StartRoot at its sync byte; its status, the program's stdout and boot's own stderr. */
async function bootOnce(bundle: string, nodeArgs: string[], env: NodeJS.ProcessEnv): Promise<{ status: number; stdout: string; bootStderr: string }> {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'tsvisor-process-start-boot-'));
  const sockPath = path.join(dir, 'ctl.sock');
  const ctrl = bindUnixSocket(sockPath);
  assert.ok(ctrl >= 0, `bind: errno ${-ctrl}`);
  const specFd = fs.openSync(path.join(bundle, 'config.json'), 'r');
  const sync = pipe2(O_CLOEXEC);
  assert.ok(typeof sync !== 'number', 'pipe2');
  const child = spawn(process.execPath, [...nodeArgs, '--no-confine', 'boot', `--bundle=${bundle}`, '--spec-fd=3', '--controller-fd=4', '--start-sync-fd=5', '--stdio-fds=6,7,8', 'ps'], {
    stdio: ['ignore', 'ignore', 'pipe', specFd, ctrl, sync[1], 'pipe', 'pipe', 'pipe'],
    env: { ...process.env, NODE_OPTIONS: '', ...env },
  });
  closeFd(ctrl);
  closeFd(sync[1]);
  fs.closeSync(specFd);
  const killer = setTimeout(() => child.kill('SIGKILL'), 120_000);
  try {
    const stdio = child.stdio as unknown as NodeJS.ReadableStream[];
    let bootStderr = '';
    let stdout = '';
    child.stderr!.on('data', (d: Buffer) => (bootStderr += d.toString()));
    stdio[7].on('data', (d: Buffer) => (stdout += d.toString()));
    (stdio[6] as unknown as NodeJS.WritableStream).end();
    const exited = new Promise<number>((resolve) => child.on('exit', (code, sig) => resolve(code ?? 128 + (sig ? os.constants.signals[sig] : 0))));
    const outDone = new Promise<void>((resolve) => stdio[7].on('close', () => resolve()));
    await new Promise<void>((resolve, reject) => {
      const rs = fs.createReadStream('', { fd: sync[0] });
      let got = false;
      rs.on('data', () => (got = true));
      rs.on('close', () => (got ? resolve() : reject(new Error(`no sync byte: ${bootStderr}`))));
      rs.on('error', reject);
    });
    const client = await UrpcClient.connect(sockPath);
    try {
      await client.call('containerManager.StartRoot', 'ps');
      await client.call('containerManager.Wait', 'ps');
    } finally {
      client.close();
    }
    const status = await exited;
    await outDone;
    return { status, stdout, bootStderr };
  } finally {
    clearTimeout(killer);
    if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
    fs.rmSync(dir, { recursive: true, force: true });
  }
}
