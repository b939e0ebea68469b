// --network (runsc's global flag) through `tsvisor run` and `tsvisor do`:
// with `host` and a spec without a network namespace, a client in the
// sandbox reaches a Node server on the host and a host client (curl when
// installed, else Node) reaches a server in the sandbox, and the inet
// fixture answers as it did under QEMU (the host kernel in both); a spec
// with a network namespace puts host sockets in a new, empty one. With
// `sandbox` (the default) the loopback is the sandbox's own (the host's
// listener is not there); without a network namespace in the spec, outside
// addresses are carried by host sockets (wget reaches a Node server on the
// host's own address; a closed port is refused) and -p publishes a guest
// port on the host; with one, and with `none`, every other address is
// unreachable.

import * as assert from 'node:assert/strict';
import { type ChildProcess, execFile, spawn, spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as http from 'node:http';
import * as net from 'node:net';
import * as os from 'node:os';
import * as path from 'node:path';
import { bundleOptionsFor, compareStream, fixturesDir, loadCases, loadExpected, makeBundle, removeBundle } from '../util/bundle.js';
import { stateRoot, tsvisor, TSVISOR } from './run-util.js';

const BUSYBOX = path.join(fixturesDir(), 'busybox', 'busybox');

/** An IPv4 address of this host off the loopback (the sandbox's NAT reaches it), or null. */
function hostAddress(): string | null {
  for (const list of Object.values(os.networkInterfaces())) for (const a of list ?? []) if (a.family === 'IPv4' && !a.internal) return a.address;
  return null;
}

const HAVE_CURL = spawnSync('curl', ['--version'], { stdio: 'ignore' }).status === 0;

/** GET `url` from the host: with curl when installed, else Node's http. The body, or the error's text. */
function hostGet(url: string): Promise<string> {
  if (HAVE_CURL) return new Promise((resolve) => execFile('curl', ['-sS', '-m', '10', url], (err, out, errOut) => resolve(err ? `error: ${errOut}` : out)));
  return new Promise((resolve) => {
    const req = http.get(url, { timeout: 10000 }, (res) => {
      let got = '';
      res.on('data', (d) => (got += d));
      res.on('end', () => resolve(got));
    });
    req.on('error', (e) => resolve(`error: ${e.message}`));
  });
}

/** A free TCP port on the host's 127.0.0.1 (taken, then given back). */
async function freePort(): Promise<number> {
  const s = net.createServer();
  await new Promise<void>((r) => s.listen(0, '127.0.0.1', () => r()));
  const port = (s.address() as net.AddressInfo).port;
  await new Promise((r) => s.close(r));
  return port;
}

/** Starts `tsvisor ARGS` (a server), GETs `url` from the host until it answers (30 s), then kills it: the body. */
async function getFromSandbox(args: string[], url: string): Promise<string> {
  const child = spawn(TSVISOR, args, { stdio: ['ignore', 'pipe', 'pipe'] });
  let err = '';
  child.stderr.on('data', (d) => (err += d));
  try {
    const deadline = Date.now() + 30000;
    for (;;) {
      const body = await hostGet(url);
      if (!body.startsWith('error:')) return body;
      if (Date.now() > deadline || child.exitCode !== null) return `${body} (sandbox: ${err})`;
      await new Promise((r) => setTimeout(r, 300));
    }
  } finally {
    await stop(child);
  }
}

/**
 * Ends a server the way a user does (SIGTERM: the command forwards it, the
 * container ends, the command removes what it laid out on the host), SIGKILL
 * only if it is still there 20 s later. A SIGKILL first would leave `do`'s
 * temporary rootfs behind on every run of the suite.
 */
async function stop(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return;
  const exited = new Promise<void>((r) => child.once('exit', () => r()));
  child.kill('SIGTERM');
  const late = setTimeout(() => child.kill('SIGKILL'), 20000);
  await exited;
  clearTimeout(late);
}

/** A Node HTTP server on `ip` answering "host page " and the path. */
function hostHttp(ip: string): Promise<http.Server> {
  return new Promise((resolve) => {
    const s = http.createServer((req, res) => res.end(`host page ${req.url}\n`));
    s.listen(0, ip, () => resolve(s));
  });
}

/** A Node TCP server on the host's 127.0.0.1 that answers "host saw: " and what it read, at end of input. */
function hostServer(): Promise<net.Server> {
  return new Promise((resolve) => {
    const s = net.createServer((c) => {
      let got = '';
      c.on('data', (d) => (got += d));
      c.on('end', () => c.end('host saw: ' + got));
    });
    s.listen(0, '127.0.0.1', () => resolve(s));
  });
}

const portOf = (s: net.Server) => (s.address() as net.AddressInfo).port;

describe('tsvisor --network', function () {
  this.timeout(120000);
  const root = stateRoot();
  after(() => fs.rmSync(root, { recursive: true, force: true }));

  it('host: a client in the sandbox talks to a Node server on the host', async () => {
    const server = await hostServer();
    const bundle = makeBundle({ args: ['/bin/inet', 'client', String(portOf(server))], networkNamespace: false });
    try {
      const r = await tsvisor(['--root', root, '--network=host', 'run', '--bundle', bundle, 'net-host-client']);
      assert.equal(r.code, 0, r.stderr.toString());
      assert.equal(r.stdout.toString(), 'client_connect=0\nclient_send=19\nclient_got=29 "host saw: ping from the guest"\n');
    } finally {
      server.close();
      removeBundle(bundle);
    }
  });

  it('host: a Node client on the host reaches a server listening in the sandbox', async () => {
    const bundle = makeBundle({ args: ['/bin/inet', 'serve'], networkNamespace: false });
    const child = spawn(TSVISOR, ['--root', root, '--network=host', 'run', '--bundle', bundle, 'net-host-serve'], { stdio: ['ignore', 'pipe', 'pipe'] });
    try {
      let out = '';
      let err = '';
      child.stderr.on('data', (d) => (err += d));
      const port = await new Promise<number>((resolve, reject) => {
        child.stdout.on('data', (d) => {
          out += d;
          const m = /^listening (\d+)$/m.exec(out);
          if (m) resolve(Number(m[1]));
        });
        child.on('close', () => reject(new Error(`sandbox exited before listening: ${out} ${err}`)));
      });
      const reply = await new Promise<string>((resolve, reject) => {
        const c = net.connect(port, '127.0.0.1', () => c.end('hello from the host'));
        let got = '';
        c.on('data', (d) => (got += d));
        c.on('end', () => resolve(got));
        c.on('error', reject);
      });
      assert.equal(reply, 'pong: hello from the host');
      const code = await new Promise<number | null>((resolve) => (child.exitCode !== null ? resolve(child.exitCode) : child.on('close', resolve)));
      assert.equal(code, 0, err);
      assert.match(out, /^serve_peer: len=16 family=AF_INET addr=127\.0\.0\.1 port=ephemeral$/m);
    } finally {
      await stop(child);
      removeBundle(bundle);
    }
  });

  it('host with a network namespace in the spec: host sockets of a new, empty namespace (the host\'s listener unreachable)', async () => {
    const server = await hostServer();
    const bundle = makeBundle({ args: ['/bin/inet', 'client', String(portOf(server))] });
    try {
      const r = await tsvisor(['--root', root, '--network=host', 'run', '--bundle', bundle, 'net-host-netns']);
      assert.equal(r.code, 0, r.stderr.toString());
      assert.equal(r.stdout.toString(), 'client_connect=-1 ENETUNREACH\n');
    } finally {
      server.close();
      removeBundle(bundle);
    }
  });

  it('host (do): curl on the host gets a page from busybox httpd in the sandbox; wget in the sandbox gets one from the host', async () => {
    const port = await freePort();
    const body = await getFromSandbox(['--network=host', 'do', '--busybox', BUSYBOX, '--', 'httpd', '-f', '-p', `127.0.0.1:${port}`, '-h', '/etc'], `http://127.0.0.1:${port}/hostname`);
    assert.equal(body, 'tsvisor\n');
    const server = await hostHttp('127.0.0.1');
    try {
      const r = await tsvisor(['--network=host', 'do', '--busybox', BUSYBOX, '--', 'wget', '-q', '-O', '-', `http://127.0.0.1:${portOf(server)}/from-host`]);
      assert.equal(r.code, 0, r.stderr.toString());
      assert.equal(r.stdout.toString(), 'host page /from-host\n');
    } finally {
      server.close();
    }
  });

  it('sandbox without a network namespace in the spec: the loopback stays the sandbox\'s own', async () => {
    const server = await hostServer();
    const bundle = makeBundle({ args: ['/bin/inet', 'client', String(portOf(server))], networkNamespace: false });
    try {
      const r = await tsvisor(['--root', root, 'run', '--bundle', bundle, 'net-nat-loopback']);
      assert.equal(r.code, 0, r.stderr.toString());
      assert.equal(r.stdout.toString(), 'client_connect=-1 ECONNREFUSED\n');
    } finally {
      server.close();
      removeBundle(bundle);
    }
  });

  it('sandbox (do): wget reaches a server on the host\'s own address through host sockets; a closed port is refused', async function () {
    const ip = hostAddress();
    if (!ip) this.skip(); // no address off the loopback on this host to reach
    const server = await hostHttp(ip!);
    try {
      const r = await tsvisor(['do', '--busybox', BUSYBOX, '--', 'wget', '-q', '-O', '-', `http://${ip}:${portOf(server)}/through-nat`]);
      assert.equal(r.code, 0, r.stderr.toString());
      assert.equal(r.stdout.toString(), 'host page /through-nat\n');
    } finally {
      server.close();
    }
    const closed = await freePort();
    const c = await tsvisor(['do', '--busybox', BUSYBOX, '--', 'wget', '-q', '-O', '-', `http://${ip}:${closed}/`]);
    assert.equal(c.code, 1);
    assert.match(c.stderr.toString(), /can't connect to remote host \(.*\): Connection refused/);
  });

  it('none (do): connecting out fails with ENETUNREACH', async function () {
    const ip = hostAddress() ?? '192.0.2.1';
    const server = await hostHttp('0.0.0.0');
    try {
      const r = await tsvisor(['--network=none', 'do', '--busybox', BUSYBOX, '--', 'wget', '-q', '-O', '-', `http://${ip}:${portOf(server)}/`]);
      assert.equal(r.code, 1);
      assert.match(r.stderr.toString(), /can't connect to remote host \(.*\): Network is unreachable/);
    } finally {
      server.close();
    }
  });

  it('sandbox (do -p): a host client reaches busybox httpd on the guest\'s port through the published host port', async () => {
    const hostPort = await freePort();
    const body = await getFromSandbox(['do', '--busybox', BUSYBOX, '-p', `127.0.0.1:${hostPort}:8080`, '--', 'httpd', '-f', '-p', '8080', '-h', '/etc'], `http://127.0.0.1:${hostPort}/hostname`);
    assert.equal(body, 'tsvisor\n');
  });

  it('sandbox (run -p): a published port reaches the guest even in the new network namespace the spec asks for', async () => {
    const bundle = makeBundle({ args: ['/bin/busybox', 'httpd', '-f', '-p', '8080', '-h', '/etc'] });
    fs.copyFileSync(BUSYBOX, path.join(bundle, 'rootfs', 'bin', 'busybox'));
    fs.chmodSync(path.join(bundle, 'rootfs', 'bin', 'busybox'), 0o755);
    try {
      const hostPort = await freePort();
      const body = await getFromSandbox(['--root', root, 'run', '--bundle', bundle, '-p', `127.0.0.1:${hostPort}:8080/tcp`, 'net-run-publish'], `http://127.0.0.1:${hostPort}/hostname`);
      assert.equal(body, 'tsvisor-test\n');
    } finally {
      removeBundle(bundle);
    }
  });

  it('-p: a malformed value is a usage error; a host port in use fails the command', async () => {
    const bad = await tsvisor(['do', '--busybox', BUSYBOX, '-p', '80', '--', 'true']);
    assert.equal(bad.code, 128);
    assert.match(bad.stderr.toString(), /-p 80: expected \[HOSTIP:\]HOSTPORT:GUESTPORT/);
    const server = await hostServer();
    try {
      const busy = await tsvisor(['do', '--busybox', BUSYBOX, '-p', `127.0.0.1:${portOf(server)}:80`, '--', 'true']);
      assert.notEqual(busy.code, 0);
      assert.match(busy.stderr.toString(), /cannot bind the host port \(errno 98, in use\)/);
    } finally {
      server.close();
    }
    const host = await tsvisor(['--network=host', 'do', '--busybox', BUSYBOX, '-p', '8080:80', '--', 'true']);
    assert.equal(host.code, 128);
    assert.match(host.stderr.toString(), /-p publishes into the sandbox's own network: it needs --network=sandbox, not host/);
  });

  for (const mode of ['sandbox', 'none']) {
    it(`${mode} with a network namespace in the spec: the sandbox's loopback is its own, and other addresses are unreachable (ENETUNREACH)`, async () => {
      const server = await hostServer();
      const bundle = makeBundle({ args: ['/bin/inet', 'client', String(portOf(server))] });
      const outside = makeBundle({ args: ['/bin/inet', 'outside', '192.0.2.1'] });
      try {
        const flag = mode === 'sandbox' ? [] : [`--network=${mode}`];
        const r = await tsvisor(['--root', root, ...flag, 'run', '--bundle', bundle, `net-${mode}-client`]);
        assert.equal(r.code, 0, r.stderr.toString());
        assert.match(r.stdout.toString(), /^client_connect=-1 ECONNREFUSED$/m);
        const o = await tsvisor(['--root', root, ...flag, 'run', '--bundle', outside, `net-${mode}-outside`]);
        assert.equal(o.code, 0, o.stderr.toString());
        assert.equal(o.stdout.toString(), 'outside_connect=-1 ENETUNREACH\noutside_sendto=-1 ENETUNREACH\noutside_udp_connect=-1 ENETUNREACH\n');
      } finally {
        server.close();
        removeBundle(bundle);
        removeBundle(outside);
      }
    });
  }

  it('host: the inet fixture gives what QEMU gave (both use the host kernel\'s TCP and UDP, /proc/net included)', async () => {
    const c = loadCases().find((x) => x.name === 'inet')!;
    const bundle = makeBundle({ ...bundleOptionsFor(c), networkNamespace: false });
    try {
      const r = await tsvisor(['--root', root, '--network=host', 'run', '--bundle', bundle, 'net-host-inet']);
      assert.equal(r.code, loadExpected(c).exit, r.stderr.toString());
      assert.equal(compareStream(c, 'stdout', r.stdout), null);
    } finally {
      removeBundle(bundle);
    }
  });

  it('refuses an unknown mode as a usage error (exit 128)', async () => {
    const bundle = makeBundle({ args: ['/bin/hello'] });
    try {
      const r = await tsvisor(['--root', root, '--network=bridge', 'run', '--bundle', bundle, 'net-bad']);
      assert.equal(r.code, 128);
      assert.match(r.stderr.toString(), /--network must be sandbox, none or host, got "bridge"/);
    } finally {
      removeBundle(bundle);
    }
  });
});
