// tsvisor's own processes while a guest runs (src/main/confine.ts,
// docs/SECURITY.md): boot and the gofer under seccomp, with no_new_privs, no
// capabilities (the gofer: its file ones only), in mount namespaces of their own (and boot in a network
// namespace of its own), with the pid file naming boot itself; --no-confine
// leaves them as they were.

import * as assert from 'node:assert/strict';
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { makeBundle, removeBundle } from '../util/bundle.js';
import { stateRoot, TSVISOR } from './run-util.js';
import { hostSyscalls, seccompAvailable } from '../../src/host/ffi.js';

interface Proc {
  pid: number;
  status: Record<string, string>;
  ns: Record<string, string>;
}

function inspect(pid: number): Proc {
  const status: Record<string, string> = {};
  for (const line of fs.readFileSync(`/proc/${pid}/status`, 'utf8').split('\n')) {
    const m = /^(\w+):\s*(.*)$/.exec(line);
    if (m) status[m[1]] = m[2];
  }
  const ns: Record<string, string> = {};
  for (const n of ['mnt', 'net', 'pid', 'ipc', 'uts']) ns[n] = fs.readlinkSync(`/proc/${pid}/ns/${n}`);
  return { pid, status, ns };
}

/** The node process (not its launcher) running `tsvisor ... VERB` for `bundle`. */
function findTsvisor(verb: string, bundle: string): number | undefined {
  for (const d of fs.readdirSync('/proc')) {
    if (!/^\d+$/.test(d)) continue;
    let argv: string[];
    try {
      argv = fs.readFileSync(`/proc/${d}/cmdline`, 'utf8').split('\0');
    } catch {
      continue;
    }
    if (path.basename(argv[0]).startsWith('node') && argv.includes(verb) && argv.includes(`--bundle=${bundle}`)) return Number(d);
  }
  return undefined;
}

async function waitFor<T>(what: string, f: () => T | undefined, timeoutMs = 60000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const v = f();
    if (v !== undefined) return v;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

describe('confinement of boot and the gofer', function () {
  this.timeout(120000);
  let bundle: string;
  let root: string;
  const running: ChildProcess[] = [];

  before(function () {
    if (!hostSyscalls() || !seccompAvailable()) this.skip(); // this host cannot confine: run fails closed (tested below)
    bundle = makeBundle({ args: ['/bin/cat'] });
    root = stateRoot();
  });
  // A failed test leaves its sandbox running: it must not be taken for the next test's.
  afterEach(async () => {
    for (const c of running.splice(0)) {
      if (c.exitCode !== null || c.signalCode !== null) continue;
      c.kill('SIGKILL');
      await new Promise((r) => c.once('exit', r));
    }
  });
  after(() => {
    if (bundle) removeBundle(bundle);
    if (root) fs.rmSync(root, { recursive: true, force: true });
  });

  /** `tsvisor [global] run` of cat, whose stdin we hold open: the guest runs until end() is called. */
  function runCat(id: string, global: string[] = [], flags: string[] = [], env: NodeJS.ProcessEnv = process.env) {
    const pidFile = path.join(root, `${id}.pid`);
    const child = spawn(TSVISOR, [...global, '--root', root, 'run', '--bundle', bundle, '--pid-file', pidFile, ...flags, id], { stdio: ['pipe', 'pipe', 'pipe'], env });
    running.push(child);
    let out = '';
    let err = '';
    child.stdout!.on('data', (d) => (out += d));
    child.stderr!.on('data', (d) => (err += d));
    const exited = new Promise<number | null>((r) => child.on('exit', (code) => r(code)));
    return {
      pidFile,
      out: () => out,
      err: () => err,
      write: (s: string) => child.stdin!.write(s),
      end: async () => {
        child.stdin!.end();
        return exited;
      },
    };
  }

  it("boot and the gofer start without run's NODE_EXTRA_CA_CERTS (a cost to Node's start only), with the rest of its environment", async () => {
    const r = runCat('environment', [], [], { ...process.env, NODE_EXTRA_CA_CERTS: '/etc/ssl/certs/ca-certificates.crt', TSVISOR_TEST_KEPT: 'kept' });
    r.write('hello\n');
    await waitFor('the guest to echo', () => (r.out().includes('hello\n') ? true : undefined));
    for (const verb of ['boot', 'gofer']) {
      const pid = findTsvisor(verb, bundle);
      assert.ok(pid, `a ${verb} runs`);
      const environ = fs.readFileSync(`/proc/${pid}/environ`, 'latin1').split('\0');
      assert.ok(environ.includes('TSVISOR_TEST_KEPT=kept'), `${verb}: run's environment`);
      assert.deepEqual(environ.filter((v) => v.startsWith('NODE_EXTRA_CA_CERTS=')), [], verb);
    }
    assert.equal(await r.end(), 0, r.err());
  });

  it('boot and the gofer run with seccomp, no_new_privs, no capabilities, and namespaces of their own', async () => {
    const r = runCat('confined');
    r.write('hello\n');
    await waitFor('the guest to echo', () => (r.out().includes('hello\n') ? true : undefined));
    const bootPid = Number(fs.readFileSync(r.pidFile, 'utf8'));
    assert.equal(bootPid, findTsvisor('boot', bundle), 'the pid file names boot itself, not its launcher');
    const goferPid = findTsvisor('gofer', bundle);
    assert.ok(goferPid, 'a gofer runs');
    const me = inspect(process.pid);
    // Boot holds no capability; the gofer only its file ones (CAP_CHOWN, CAP_DAC_OVERRIDE, CAP_DAC_READ_SEARCH, CAP_FOWNER, CAP_FSETID).
    const caps = new Map([[bootPid, '0000000000000000'], [goferPid, '000000000000001f']]);
    for (const p of [inspect(bootPid), inspect(goferPid)]) {
      assert.equal(p.status.Seccomp, '2', `pid ${p.pid}: seccomp filter mode`);
      assert.equal(p.status.NoNewPrivs, '1');
      assert.equal(p.status.CapEff, caps.get(p.pid));
      assert.equal(p.status.CapPrm, caps.get(p.pid));
      assert.equal(p.status.CapBnd, caps.get(p.pid));
      assert.equal(p.status.CapInh, '0000000000000000');
      assert.equal(p.status.CapAmb, '0000000000000000');
      assert.notEqual(p.ns.mnt, me.ns.mnt, 'a mount namespace of its own');
      assert.notEqual(p.ns.pid, me.ns.pid, 'a PID namespace of its own');
      assert.notEqual(p.ns.ipc, me.ns.ipc);
      assert.notEqual(p.ns.uts, me.ns.uts);
      // pid 1 of that namespace
      assert.match(p.status.NSpid, new RegExp(`^${p.pid}\\s+1$`));
    }
    assert.notEqual(inspect(bootPid).ns.net, me.ns.net, 'boot has a network namespace of its own');
    // Boot leads a session of its own, made by its own first step (confine.ts takeNewSession), with no
    // launcher left between it and unshare; the gofer stays in its launcher's session.
    const stat = (pid: number) => fs.readFileSync(`/proc/${pid}/stat`, 'utf8').replace(/^.*\) /s, '').split(' ');
    assert.equal(Number(stat(bootPid)[3]), bootPid, "boot's session id is its own pid");
    assert.notEqual(Number(stat(goferPid)[3]), goferPid, 'the gofer leads no session');
    assert.equal(path.basename(fs.readFileSync(`/proc/${stat(bootPid)[1]}/cmdline`, 'utf8').split('\0')[0]), 'unshare', "boot's parent is its unshare");
    // boot's root holds nothing of the host but tsvisor's code (read-only) and its own /proc.
    assert.throws(() => fs.readdirSync(`/proc/${bootPid}/root/etc`), /ENOENT|EACCES/);
    assert.ok(fs.existsSync(`/proc/${bootPid}/root/proc/1/status`), 'its /proc is its own PID namespace\'s');
    assert.equal(fs.readFileSync(`/proc/${bootPid}/root/proc/1/cmdline`, 'utf8'), fs.readFileSync(`/proc/${bootPid}/cmdline`, 'utf8'));
    r.write('still served\n');
    await waitFor('the guest to echo again', () => (r.out().includes('still served\n') ? true : undefined));
    assert.equal(await r.end(), 0, r.err());
  });

  it('direct mode (--directfs): boot sees the rootfs through its own root and is confined the same way', async () => {
    const r = runCat('direct', [], ['--directfs']);
    r.write('direct\n');
    await waitFor('the guest to echo', () => (r.out().includes('direct\n') ? true : undefined));
    const boot = inspect(Number(fs.readFileSync(r.pidFile, 'utf8')));
    assert.equal(boot.status.Seccomp, '2');
    assert.equal(boot.status.CapEff, '0000000000000000');
    assert.equal(findTsvisor('gofer', bundle), undefined, 'no gofer in direct mode');
    assert.equal(await r.end(), 0, r.err());
  });

  it('fails closed, in one line, on a host that cannot confine (here: no unshare in the PATH)', async () => {
    const cli = path.join(path.dirname(TSVISOR), '..', 'dist', 'src', 'main', 'cli.js');
    const r = spawnSync(process.execPath, [cli, '--root', root, 'run', '--bundle', bundle, 'no-tools'], { env: { ...process.env, PATH: '/nonexistent' }, encoding: 'utf8' });
    assert.equal(r.status, 128);
    assert.equal(r.stderr, 'tsvisor: cannot confine the sandbox: unshare (util-linux) is not in the PATH; pass --no-confine to run without it (development only)\n');
    assert.equal(fs.existsSync(path.join(root, 'no-tools')), false, 'nothing left behind');
  });

  it('--no-confine leaves boot and the gofer unconfined (development only)', async () => {
    const r = runCat('unconfined', ['--no-confine']);
    r.write('plain\n');
    await waitFor('the guest to echo', () => (r.out().includes('plain\n') ? true : undefined));
    const bootPid = Number(fs.readFileSync(r.pidFile, 'utf8'));
    const me = inspect(process.pid);
    const boot = inspect(bootPid);
    assert.equal(boot.status.Seccomp, '0');
    assert.equal(boot.ns.mnt, me.ns.mnt);
    assert.equal(inspect(findTsvisor('gofer', bundle)!).status.Seccomp, '0');
    assert.equal(await r.end(), 0, r.err());
  });
});
