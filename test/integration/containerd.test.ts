// containerd driving tsvisor as its runc (`ctr --runc-binary`): a private
// containerd daemon (its own root, state and socket in a temporary
// directory, the CRI plugin off) imports a riscv64 busybox-static OCI image
// built here, then `ctr run --rm` (output, exit status), `ctr run -t`, and
// `ctr run -d` with `ctr task exec`, pause, resume and kill, all through
// containerd's runc shim. Skipped,
// with the reason, where containerd and ctr are not installed or the test
// does not run as root (`apt-get install containerd` runs it).

import * as assert from 'node:assert/strict';
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { repoRoot } from '../util/bundle.js';
import { writeBusyboxImage } from '../util/oci-image.js';
import { haveCommand as have, runTool, TSVISOR, type ToolResult } from './run-util.js';

const IMAGE = 'docker.io/tsvisor/busybox:test';

describe('containerd (ctr) with tsvisor as its runc binary', function () {
  this.timeout(300000);
  let dir = '';
  let daemon: ChildProcess | undefined;
  let ns = '';

  /** `ctr --address SOCK -n NS ARGS`, with stdin closed. */
  const ctr = (args: string[], timeoutMs = 120000): Promise<ToolResult> => runTool('ctr', ['--address', path.join(dir, 'containerd.sock'), '-n', ns, ...args], undefined, timeoutMs);

  const runFlags = () => ['--runc-binary', TSVISOR, '--runc-root', path.join(dir, 'runc'), '--platform', 'linux/riscv64'];

  before(async function () {
    const why = process.geteuid?.() !== 0 ? 'not root' : !have('containerd') || !have('ctr') ? 'containerd and ctr are not installed' : '';
    if (why) {
      console.log(`    (skipped: ${why}; as root, \`apt-get install containerd\` runs this test)`);
      this.skip();
    }
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'tsvisor-containerd-'));
    ns = `tsvisor-test-${process.pid}`;
    fs.writeFileSync(path.join(dir, 'config.toml'), [
      'version = 2',
      `root = "${dir}/root"`,
      `state = "${dir}/state"`,
      'disabled_plugins = ["io.containerd.grpc.v1.cri"]',
      '[grpc]',
      `  address = "${dir}/containerd.sock"`,
      '[ttrpc]',
      `  address = "${dir}/containerd.sock.ttrpc"`,
      '',
    ].join('\n'));
    const log = fs.openSync(path.join(dir, 'containerd.log'), 'w');
    daemon = spawn('containerd', ['--config', path.join(dir, 'config.toml')], { stdio: ['ignore', log, log] });
    fs.closeSync(log);
    for (let i = 0; ; i++) {
      if ((await ctr(['version'], 10000)).code === 0) break;
      if (i === 100 || daemon.exitCode !== null) {
        console.log(`    (skipped: containerd did not start here: ${fs.readFileSync(path.join(dir, 'containerd.log'), 'utf8').trim().split('\n').slice(-3).join(' | ')})`);
        this.skip();
      }
      await new Promise((r) => setTimeout(r, 100));
    }
    const archive = path.join(dir, 'busybox.tar');
    writeBusyboxImage(archive, IMAGE, path.join(repoRoot(), 'fixtures', 'busybox', 'busybox'));
    const imp = await ctr(['images', 'import', '--platform', 'linux/riscv64', archive]);
    assert.equal(imp.code, 0, imp.err);
  });

  after(async () => {
    if (!dir) return;
    for (const id of ['c-rm', 'c-d', 'c-t']) {
      await ctr(['task', 'kill', '-s', 'SIGKILL', id]).catch(() => undefined);
      await ctr(['task', 'delete', id]).catch(() => undefined);
      await ctr(['container', 'delete', id]).catch(() => undefined);
    }
    await ctr(['images', 'rm', IMAGE]).catch(() => undefined);
    if (daemon && daemon.exitCode === null) {
      daemon.kill('SIGTERM');
      await new Promise((r) => daemon!.once('exit', r));
    }
    fs.rmSync(dir, { recursive: true, force: true });
  });

  it('ctr run --rm: the output and exit status of a riscv64 busybox through containerd\'s runc shim', async () => {
    const r = await ctr(['run', '--rm', ...runFlags(), IMAGE, 'c-rm', '/bin/busybox', 'sh', '-c', 'echo hello from ctr; uname -m; exit 3']);
    assert.equal(r.code, 3, r.err);
    assert.equal(r.out, 'hello from ctr\nriscv64\n');
  });

  it('ctr run -t: the shell gets a terminal through the console socket, and create returns although the shim reads its output to the end', async function () {
    if (!have('script')) {
      console.log('    (skipped: util-linux script is not installed: ctr -t needs a terminal of its own)');
      this.skip();
    }
    const cmd = ['ctr', '--address', path.join(dir, 'containerd.sock'), '-n', ns, 'run', '-t', '--rm', ...runFlags(), IMAGE, 'c-t', '/bin/busybox', 'sh', '-c', "'tty; stty size; exit 4'"].join(' ');
    const r = spawnSync('script', ['-qec', cmd, '/dev/null'], { encoding: 'utf8', timeout: 120000 });
    assert.equal(r.status, 4, `${r.stdout} ${r.stderr}`);
    assert.match(r.stdout, /\/dev\/console\r+\n\d+ \d+\r+\n/);
  });

  it('ctr run -d, then ctr task exec (output, exit status), pause, resume and kill', async () => {
    const r = await ctr(['run', '-d', ...runFlags(), IMAGE, 'c-d', '/bin/busybox', 'sleep', '600']);
    assert.equal(r.code, 0, r.err);
    assert.match((await ctr(['task', 'ls'])).out, /\nc-d\s+\d+\s+RUNNING\n/);
    const ex = await ctr(['task', 'exec', '--exec-id', 'e1', 'c-d', '/bin/busybox', 'sh', '-c', 'echo from exec; ps; exit 5']);
    assert.equal(ex.code, 5, ex.err);
    assert.match(ex.out, /^from exec\nPID\s+USER\s+COMMAND\n\s+1 root\s+\/bin\/busybox sleep 600\n/);
    assert.equal((await ctr(['task', 'pause', 'c-d'])).code, 0);
    assert.match((await ctr(['task', 'ls'])).out, /\nc-d\s+\d+\s+PAUSED\n/);
    assert.equal((await ctr(['task', 'resume', 'c-d'])).code, 0);
    assert.match((await ctr(['task', 'ls'])).out, /\nc-d\s+\d+\s+RUNNING\n/);
    const k = await ctr(['task', 'kill', 'c-d']);
    assert.equal(k.code, 0, k.err);
    for (let i = 0; ; i++) {
      if (/\nc-d\s+\d+\s+STOPPED\n/.test((await ctr(['task', 'ls'])).out)) break;
      assert.ok(i < 300, 'the task stops after SIGTERM');
      await new Promise((r) => setTimeout(r, 100));
    }
    assert.equal((await ctr(['task', 'delete', 'c-d'])).code, 0);
    assert.equal((await ctr(['container', 'delete', 'c-d'])).code, 0);
  });
});
