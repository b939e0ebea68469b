// tsvisor boot played by a test acting as the parent runtime: donated fds,
// the start-sync byte, StartRoot/Wait over urpc JSON, and boot's failures.

import * as assert from 'node:assert/strict';
import { spawn, spawnSync, ChildProcess } from 'node:child_process';
import * as fs from 'node:fs';
import * as net from 'node:net';
import * as os from 'node:os';
import * as path from 'node:path';
import { makeBundle, removeBundle } from '../util/bundle.js';
import { TSVISOR } from '../integration/run-util.js';
import { bindUnixSocket, closeFd, pipe2, O_CLOEXEC } from '../../src/host/ffi.js';
import { UrpcClient } from '../../src/main/urpc.js';
import { CAPABILITIES } from '../../src/main/caps.js';

interface Booted {
  child: ChildProcess;
  sockPath: string;
  sync: Promise<Buffer>;
  appOut: () => string;
  appErr: () => string;
  bootErr: () => string;
  exit: Promise<number>;
}

/** Launch boot the way runsc's parent does; the spec fd's offset is left at its end. */
function launchBoot(bundle: string, extraArgs: string[] = [], specText?: string, keepStdinOpen = false, env: NodeJS.ProcessEnv = process.env): Booted {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'tsvisor-boot-'));
  const sockPath = path.join(dir, 'ctl.sock');
  const ctrl = bindUnixSocket(sockPath);
  assert.ok(ctrl >= 0, `bind ${ctrl}`);
  const specPath = path.join(dir, 'spec.json');
  fs.writeFileSync(specPath, specText ?? fs.readFileSync(path.join(bundle, 'config.json')));
  const specFd = fs.openSync(specPath, 'r');
  fs.readSync(specFd, Buffer.alloc(1 << 16)); // offset now at the end: boot must read from 0
  const sync = pipe2(O_CLOEXEC) as [number, number];
  const child = spawn(TSVISOR, ['boot', `--bundle=${bundle}`, '--spec-fd=3', '--controller-fd', '4', '--start-sync-fd=5', '--stdio-fds=6,7,8', ...extraArgs, 'test-cid'], {
    stdio: ['ignore', 'ignore', 'pipe', specFd, ctrl, sync[1], 'pipe', 'pipe', 'pipe'],
    env,
  });
  closeFd(ctrl);
  closeFd(sync[1]);
  fs.closeSync(specFd);
  const collect = (s: unknown) => {
    const parts: Buffer[] = [];
    (s as NodeJS.ReadableStream).on('data', (d: Buffer) => parts.push(d));
    return () => Buffer.concat(parts).toString();
  };
  if (!keepStdinOpen) (stdioOf(child, 6) as net.Socket).end();
  const appOut = collect(stdioOf(child, 7));
  const appErr = collect(stdioOf(child, 8));
  const bootErr = collect(child.stderr);
  const syncP = new Promise<Buffer>((resolve) => {
    const chunks: Buffer[] = [];
    const rs = fs.createReadStream('', { fd: sync[0] });
    rs.on('data', (d) => chunks.push(d as Buffer));
    rs.on('close', () => resolve(Buffer.concat(chunks)));
    rs.on('error', () => resolve(Buffer.concat(chunks)));
  });
  const exit = new Promise<number>((resolve) => child.on('exit', (code) => resolve(code ?? -1)));
  exit.then(() => fs.rmSync(dir, { recursive: true, force: true }));
  return { child, sockPath, sync: syncP, appOut, appErr, bootErr, exit };
}

describe('tsvisor boot, launched as a parent runtime launches runsc', function () {
  this.timeout(60000);

  it('writes one zero byte on start-sync, runs nothing before StartRoot, then runs and reports the wait status', async () => {
    const bundle = makeBundle({ args: ['/bin/hello', 'GREETING', '--exit', '42'], env: ['GREETING=from the spec'] });
    try {
      const b = launchBoot(bundle);
      const sync = await b.sync;
      assert.deepEqual([...sync], [0], 'exactly one zero byte, then end of file');
      await new Promise((r) => setTimeout(r, 300));
      assert.equal(b.appOut(), '', 'no application output before StartRoot');
      const client = await UrpcClient.connect(b.sockPath);
      assert.equal(await client.call('containerManager.StartRoot', 'test-cid'), null);
      const status = await client.call('containerManager.Wait', 'test-cid');
      client.close();
      assert.equal(status, 42 << 8);
      assert.equal(await b.exit, 42);
      assert.match(b.appOut(), /^hello from riscv64\n/);
      assert.match(b.appOut(), /GREETING=from the spec\n/);
    } finally {
      removeBundle(bundle);
    }
  });

  it("runs without NODE_EXTRA_CA_CERTS from its parent's environment (a cost to Node's start only), the rest of it kept", async () => {
    const bundle = makeBundle({ args: ['/bin/hello'] });
    try {
      const b = launchBoot(bundle, [], undefined, false, { ...process.env, NODE_EXTRA_CA_CERTS: '/etc/ssl/certs/ca-certificates.crt', TSVISOR_TEST_KEPT: 'kept' });
      assert.deepEqual([...(await b.sync)], [0], b.bootErr());
      const environ = fs.readFileSync(`/proc/${b.child.pid}/environ`, 'latin1').split('\0');
      assert.ok(environ.includes('TSVISOR_TEST_KEPT=kept'), 'the environment boot was started with');
      assert.equal(environ.filter((v) => v.startsWith('NODE_EXTRA_CA_CERTS=')).length, 0);
      await helloRuns(b);
    } finally {
      removeBundle(bundle);
    }
  });

  it("loads its command without node:net, which its control server loads once the sync byte is written (ControlServer.listenFd)", () => {
    // A process of its own, which has loaded nothing else: what boot.ts and its imports load at their top levels.
    const script = `require(${JSON.stringify(path.join(__dirname, '..', '..', 'src', 'main', 'boot.js'))}); const l = process.moduleLoadList; console.log(JSON.stringify(['net', 'stream', 'cluster', 'child_process'].filter((m) => l.includes('NativeModule ' + m))));`;
    const r = spawnSync(process.execPath, ['-e', script], { encoding: 'utf8' });
    assert.equal(r.status, 0, r.stderr);
    assert.deepEqual(JSON.parse(r.stdout), []);
  });

  it("warmCodeCache (run by the build, to put what boot runs before its byte into its code cache) opens, reads and changes nothing of the process", () => {
    const boot = path.join(__dirname, '..', '..', 'src', 'main', 'boot.js');
    const script = `const fs = require('node:fs'); const { warmCodeCache } = require(${JSON.stringify(boot)});
      const state = () => JSON.stringify([fs.readdirSync('/proc/self/fd').length, process.env, process.cwd(), fs.readFileSync('/proc/self/status', 'utf8').match(/^(Seccomp|CapEff|NoNewPrivs):.*$/gm)]);
      const before = state(); warmCodeCache(); warmCodeCache(); console.log(before === state());`;
    const r = spawnSync(process.execPath, ['-e', script], { encoding: 'utf8' });
    assert.equal(r.status, 0, r.stderr);
    assert.equal(r.stdout.trim(), 'true');
  });

  it('keeps running through unknown methods, bad arguments and malformed JSON; a later Wait still answers', async () => {
    const bundle = makeBundle({ args: ['/bin/hello', '--exit', '3'] });
    try {
      const b = launchBoot(bundle);
      await b.sync;
      const client = await UrpcClient.connect(b.sockPath);
      await assert.rejects(client.call('containerManager.Bogus', 'test-cid'), /unknown method/);
      await assert.rejects(client.call('containerManager.StartRoot', 42), /string/);
      await assert.rejects(client.call('containerManager.StartRoot', 'other-id'), /no container/);
      // A malformed stream on its own connection: an error reply, then that connection closes.
      const raw = net.connect(b.sockPath);
      const reply = await new Promise<string>((resolve) => {
        let text = '';
        raw.on('data', (d) => (text += d.toString()));
        raw.on('close', () => resolve(text));
        raw.write('{"method": "containerManager.Wait", "arg": ]]]');
      });
      assert.match(reply, /"success":\s*false/);
      assert.equal(await client.call('containerManager.StartRoot', 'test-cid'), null);
      assert.equal(await client.call('containerManager.Wait', 'test-cid'), 3 << 8);
      client.close();
      assert.equal(await b.exit, 3);
    } finally {
      removeBundle(bundle);
    }
  });

  it('exits 128+N when signal N kills the application (abort: 134, null dereference: 139)', async () => {
    for (const [bin, code] of [['/bin/abort', 134], ['/bin/segv', 139]] as const) {
      const bundle = makeBundle({ args: [bin] });
      try {
        const b = launchBoot(bundle);
        await b.sync;
        const client = await UrpcClient.connect(b.sockPath);
        await client.call('containerManager.StartRoot', 'test-cid');
        const status = (await client.call('containerManager.Wait', 'test-cid')) as number;
        client.close();
        assert.equal(status & 0x7f, code - 128);
        assert.equal(await b.exit, code);
      } finally {
        removeBundle(bundle);
      }
    }
  });

  it("--apply-caps: boot takes the spec's capability sets, re-executes itself without the flag, and runs the application", async () => {
    const bundle = makeBundle({ args: ['/bin/hello', '--exit', '7'] });
    try {
      const spec = JSON.parse(fs.readFileSync(path.join(bundle, 'config.json'), 'utf8'));
      // Dropping from the bounding set needs CAP_SETPCAP: as root, CAP_SYS_TIME leaves it (and stays out after execve);
      // as another user nothing is dropped, and the empty effective, permitted and inheritable sets are taken as they are.
      const root = process.getuid?.() === 0;
      spec.process.capabilities = { bounding: CAPABILITIES.filter((c) => !root || c !== 'CAP_SYS_TIME'), effective: [], permitted: [], inheritable: [] };
      const b = launchBoot(bundle, ['--apply-caps'], JSON.stringify(spec));
      assert.deepEqual([...(await b.sync)], [0], b.bootErr());
      if (root) {
        const capBnd = BigInt('0x' + /^CapBnd:\s*([0-9a-f]+)$/m.exec(fs.readFileSync(`/proc/${b.child.pid}/status`, 'utf8'))![1]);
        assert.equal((capBnd >> 25n) & 1n, 0n, 'CAP_SYS_TIME (25) is out of the bounding set');
      }
      const client = await UrpcClient.connect(b.sockPath);
      await client.call('containerManager.StartRoot', 'test-cid');
      assert.equal(await client.call('containerManager.Wait', 'test-cid'), 7 << 8);
      client.close();
      assert.equal(await b.exit, 7, b.bootErr());
      assert.match(b.appOut(), /^hello from riscv64\n/);
    } finally {
      removeBundle(bundle);
    }
  });

  it('answers Processes and Event while running, and Signal (mode 0) ends an init blocked reading stdin', async () => {
    const bundle = makeBundle({ args: ['/bin/cat'] });
    try {
      const b = launchBoot(bundle, [], undefined, true);
      await b.sync;
      const client = await UrpcClient.connect(b.sockPath);
      await client.call('containerManager.StartRoot', 'test-cid');
      const ps = (await client.call('containerManager.Processes', 'test-cid')) as { PID: number; Cmd: string }[];
      assert.equal(ps.length, 1);
      assert.equal(ps[0].PID, 1);
      const ev = (await client.call('containerManager.Event', 'test-cid')) as { data: { pids: { current: number } } };
      assert.equal(ev.data.pids.current, 1);
      await client.call('containerManager.Signal', { CID: 'test-cid', Signo: 9, PID: 0, Mode: 0 });
      const status = await client.call('containerManager.Wait', 'test-cid');
      client.close();
      assert.equal(status, 9);
      assert.equal(await b.exit, 137);
    } finally {
      removeBundle(bundle);
    }
  });

  it('Signal mode 1 (every process) ends a sandbox whose threads are blocked in futexes and pipes on 4 vCPUs, promptly and whole', async () => {
    const bundle = makeBundle({ args: ['/bin/exitgroup', 'blocked'] });
    try {
      const b = launchBoot(bundle, ['--cpu-num', '4']);
      await b.sync;
      const client = await UrpcClient.connect(b.sockPath);
      await client.call('containerManager.StartRoot', 'test-cid');
      for (let waited = 0; !b.appOut().includes('exitgroup: blocked'); waited += 50) {
        assert.ok(waited < 60_000, `the guest never got its threads in place: ${b.appOut()}${b.bootErr()}`);
        await new Promise((r) => setTimeout(r, 50));
      }
      const ps = (await client.call('containerManager.Processes', 'test-cid')) as { PID: number }[];
      assert.equal(ps.length, 2, 'init and its forked child');
      const t0 = Date.now();
      await client.call('containerManager.Signal', { CID: 'test-cid', Signo: 9, PID: 0, Mode: 1 });
      const status = await client.call('containerManager.Wait', 'test-cid');
      client.close();
      assert.equal(status, 9);
      assert.equal(await b.exit, 137);
      const took = Date.now() - t0;
      assert.ok(took < 3000, `boot took ${took} ms to exit`);
      assert.equal(fs.existsSync(`/proc/${b.child.pid}`), false, 'the boot process, and with it every vCPU worker thread, is gone');
    } finally {
      removeBundle(bundle);
    }
  });

  it('exits 128 with the usage text when a required fd is missing or there are two container ids', async () => {
    for (const args of [['boot', '--spec-fd=3', '--start-sync-fd=5', 'id'], ['boot', '--spec-fd=3', '--controller-fd=4', '--start-sync-fd=5', 'a', 'b']]) {
      const r = await runPlain(args);
      assert.equal(r.code, 128);
      assert.match(r.stderr, /^tsvisor: (missing required flag|expected exactly one container id)/);
      assert.match(r.stderr, /Usage: tsvisor \[global flags\] boot/);
    }
  });

  it('takes --file-access, --file-access-mounts and --dcache-size as runsc spells them, and refuses other modes with one line', async () => {
    const bundle = makeBundle({ args: ['/bin/hello'] });
    try {
      const b = launchBoot(bundle, ['--file-access=shared', '--file-access-mounts', 'exclusive', '--dcache-size=16']);
      await b.sync;
      await helloRuns(b);
      for (const flags of [['--file-access=cached'], ['--file-access-mounts=none'], ['--dcache-size=-1']]) {
        const bad = launchBoot(bundle, flags);
        assert.equal(await bad.exit, 128);
        assert.equal((await bad.sync).length, 0);
        assert.match(bad.bootErr().trim(), /^tsvisor: --(file-access|file-access-mounts|dcache-size) /);
      }
    } finally {
      removeBundle(bundle);
    }
  });

  it('exits 128 with one line naming the field when the spec is malformed or violates the schema, and never writes the sync byte', async () => {
    const bundle = makeBundle({ args: ['/bin/hello'] });
    try {
      for (const [text, field] of [['{"ociVersion": "1.0.2", "process": {"args": "x", "cwd": "/"}, "root": {"path": "rootfs"}}', /process\/args/], ['{not json', /not JSON/]] as const) {
        const b = launchBoot(bundle, [], text);
        const sync = await b.sync;
        assert.equal(await b.exit, 128);
        assert.equal(sync.length, 0, 'end of file on start-sync: boot died');
        const lines = b.bootErr().trim().split('\n');
        assert.equal(lines.length, 1, b.bootErr());
        assert.match(lines[0], field);
        assert.doesNotMatch(lines[0], /at .*\.js:\d+/);
      }
    } finally {
      removeBundle(bundle);
    }
  });
});

/** StartRoot and Wait on booted `b` (its sync byte written), whose program is hello: it exits 0 and so does boot, hello's greeting on its stdout. */
async function helloRuns(b: Booted): Promise<void> {
  const client = await UrpcClient.connect(b.sockPath);
  await client.call('containerManager.StartRoot', 'test-cid');
  assert.equal(await client.call('containerManager.Wait', 'test-cid'), 0);
  client.close();
  assert.equal(await b.exit, 0);
  assert.match(b.appOut(), /^hello from riscv64\n/);
}

function runPlain(args: string[]): Promise<{ code: number; stderr: string }> {
  return new Promise((resolve) => {
    const child = spawn(TSVISOR, args, { stdio: ['ignore', 'ignore', 'pipe'] });
    let stderr = '';
    child.stderr.on('data', (d) => (stderr += d));
    child.on('exit', (code) => resolve({ code: code ?? -1, stderr }));
  });
}

function stdioOf(child: ChildProcess, i: number): unknown {
  return (child.stdio as unknown as unknown[])[i];
}
