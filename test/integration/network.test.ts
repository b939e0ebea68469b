// --network (runsc's global flag) through `tsvisor run`: with `host`, a
// client in the sandbox reaches a Node server on the host and a Node client
// reaches a server in the sandbox, and the inet fixture answers as it did
// under QEMU (the host kernel in both); with `sandbox` (the default) and `none`,
// the sandbox's loopback is its own (the host's listener is not there) and
// every other address is unreachable.

import * as assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import * as fs from 'node:fs';
import * as net from 'node:net';
import { bundleOptionsFor, compareStream, loadCases, loadExpected, makeBundle, removeBundle } from '../util/bundle.js';
import { stateRoot, tsvisor, TSVISOR } from './run-util.js';

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
    const bundle = makeBundle({ args: ['/bin/inet', 'client', String(portOf(server))] });
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
    const bundle = makeBundle({ args: ['/bin/inet', 'serve'] });
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
      child.kill('SIGKILL');
      removeBundle(bundle);
    }
  });

  for (const mode of ['sandbox', 'none']) {
    it(`${mode}: the sandbox's loopback is its own, and other addresses are unreachable (ENETUNREACH)`, async () => {
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
    const bundle = makeBundle(bundleOptionsFor(c));
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
