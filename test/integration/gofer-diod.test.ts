// Interop: Debian's diod (a standard 9P2000.L server) stands in for our gofer.
// Each filesystem of a fixture's bundle is exported by its own diod on a
// socket pair, boot runs with those as --io-fds, and the fixture must give
// what it gave under QEMU. Skipped when diod is not installed, and when not
// root (diod run by an ordinary user lets only that user attach).

import * as assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { bundleOptionsFor, caseStdin, compareStream, loadCases, loadExpected, makeBundle, removeBundle, repoRoot } from '../util/bundle.js';
import { socketpair, pipe2, bindUnixSocket, closeFd, O_CLOEXEC } from '../../src/host/ffi.js';
import { parseSpec } from '../../src/spec/load.js';
import { exportsOf } from '../../src/spec/mounts.js';
import { UrpcClient } from '../../src/main/urpc.js';
import { stateRoot } from './run-util.js';

function diodPath(): string | undefined {
  for (const p of ['/usr/sbin/diod', '/usr/bin/diod']) if (fs.existsSync(p)) return p;
  const r = spawnSync('sh', ['-c', 'command -v diod'], { encoding: 'utf8' });
  return r.status === 0 ? r.stdout.trim() : undefined;
}

/** Runs fixture `name` with every filesystem served by diod; resolves with boot's exit code and output. */
async function runWithDiod(diod: string, name: string): Promise<void> {
  const c = loadCases().find((x) => x.name === name)!;
  const bundle = makeBundle(bundleOptionsFor(c));
  const state = stateRoot();
  const children: ChildProcess[] = [];
  try {
    const configPath = path.join(bundle, 'config.json');
    const exps = exportsOf(parseSpec(fs.readFileSync(configPath, 'utf8')), bundle);
    const bootEnds: number[] = [];
    for (const e of exps) {
      const sp = socketpair(1 | O_CLOEXEC) as [number, number];
      // diod: foreground, no auth, no user database, all users squashed, one client on fd 3.
      const d = spawn(diod, ['-f', '-n', '-N', '-S', '-U', 'root', '-r', '3', '-w', '3', '-e', e.hostPath, '-L', 'stderr'], { stdio: ['ignore', 'ignore', 'pipe', sp[0]] });
      d.stderr!.on('data', () => {});
      closeFd(sp[0]);
      children.push(d);
      bootEnds.push(sp[1]);
    }
    const sockPath = path.join(state, 'control.sock');
    const ctrl = bindUnixSocket(sockPath);
    const sync = pipe2(O_CLOEXEC) as [number, number];
    const specFd = fs.openSync(configPath, 'r');
    const cli = path.join(repoRoot(), 'dist', 'src', 'main', 'cli.js');
    const boot = spawn(process.execPath, [cli, 'boot', `--bundle=${bundle}`, '--spec-fd=3', '--controller-fd=4', '--start-sync-fd=5', '--stdio-fds=0,1,2', `--io-fds=${bootEnds.map((_, i) => 6 + i).join(',')}`, 'diod-cid'], {
      stdio: ['pipe', 'pipe', 'pipe', specFd, ctrl, sync[1], ...bootEnds],
    });
    children.push(boot);
    fs.closeSync(specFd);
    closeFd(ctrl);
    closeFd(sync[1]);
    for (const fd of bootEnds) closeFd(fd);
    const out: Buffer[] = [];
    const err: Buffer[] = [];
    boot.stdout!.on('data', (d) => out.push(d));
    boot.stderr!.on('data', (d) => err.push(d));
    boot.stdin!.on('error', () => {});
    boot.stdin!.end(caseStdin(c));
    const exited = new Promise<number>((res) => boot.on('exit', (code) => res(code ?? 128)));
    const b = Buffer.alloc(1);
    const n = await new Promise<number>((res) => fs.read(sync[0], b, 0, 1, null, (e, k) => res(e ? 0 : k)));
    fs.closeSync(sync[0]);
    assert.equal(n, 1, `boot came up (stderr: ${Buffer.concat(err).toString()})`);
    const client = await UrpcClient.connect(sockPath);
    await client.call('containerManager.StartRoot', 'diod-cid');
    await client.call('containerManager.Wait', 'diod-cid');
    client.close();
    const code = await exited;
    const exp = loadExpected(c);
    const context = `stderr was: ${Buffer.concat(err).toString().slice(0, 2000)}`;
    if (c.checks.includes('exit')) assert.equal(code, exp.exit, `exit status; ${context}`);
    if (c.checks.includes('stdout')) assert.equal(compareStream(c, 'stdout', Buffer.concat(out)), null, context);
    if (c.checks.includes('stderr')) assert.equal(compareStream(c, 'stderr', Buffer.concat(err)), null, context);
  } finally {
    for (const ch of children) if (ch.exitCode === null) ch.kill('SIGKILL');
    removeBundle(bundle);
    fs.rmSync(state, { recursive: true, force: true });
  }
}

describe('gofer interop: diod serves the filesystems', function () {
  this.timeout(120000);
  const diod = diodPath();
  before(function () {
    if (!diod) {
      console.log('    (skipped: diod is not installed; `apt-get install diod` runs this interop test)');
      this.skip();
    }
    if (process.geteuid?.() !== 0) {
      // diod not run by root serves only the user running it, and refuses an attach as any other uid
      // (EPERM); boot attaches as the guest's user, root.
      console.log('    (skipped: not root: diod run by an ordinary user refuses the attach as the guest\'s root that boot makes)');
      this.skip();
    }
  });
  for (const name of ['files', 'files-write']) {
    it(`${name}: boot with diod on --io-fds gives what QEMU gave`, async () => {
      await runWithDiod(diod!, name);
    });
  }
});
