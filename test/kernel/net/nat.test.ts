// --network=sandbox's host side (src/kernel/net/nat.ts, relay.ts,
// published.ts), on the socket objects against Node peers on the host: a
// guest TCP connection and UDP datagrams to an outside address are carried
// by host sockets, a refused connect reports the host's ECONNREFUSED, and
// published TCP and UDP ports reach guest sockets. The outside address
// 192.0.2.77 (TEST-NET-1) is steered to the host's 127.0.0.1, where the Node
// peers listen, by a carrier that rewrites it: what is tested is the path
// from the guest's socket to a host socket and back.

import * as assert from 'node:assert/strict';
import * as dgram from 'node:dgram';
import * as net from 'node:net';
import * as abi from '../../../src/linux/abi.js';
import { EAGAIN, ECONNREFUSED, EINPROGRESS, ENETUNREACH, Errno } from '../../../src/linux/errno.js';
import * as host from '../../../src/host/ffi.js';
import { encodeInet, sameIp, v4, V4_LOOPBACK, type Endpoint } from '../../../src/kernel/net/inet-address.js';
import { InetStack, type DatagramClient, type OutsideClient } from '../../../src/kernel/net/inet-stack.js';
import type { InetSocket } from '../../../src/kernel/net/inet-socket.js';
import { HostNat, isUnicast } from '../../../src/kernel/net/nat.js';
import { publish } from '../../../src/kernel/net/published.js';
import { TcpSocket } from '../../../src/kernel/net/tcp-socket.js';
import { UdpSocket } from '../../../src/kernel/net/udp-socket.js';

const OUTSIDE = v4(192, 0, 2, 77);
const ep = (ip: Uint8Array, port: number): Endpoint => ({ ip, port });
const text = (b: Uint8Array) => Buffer.from(b).toString();

/** The carrier under test, with OUTSIDE steered to the host's loopback. */
class SteeredNat extends HostNat {
  private steer = (to: Endpoint): Endpoint => (sameIp(to.ip, OUTSIDE) ? ep(V4_LOOPBACK, to.port) : to);
  override connect(client: OutsideClient, dst: Endpoint) {
    return super.connect(client, this.steer(dst));
  }
  override send(from: DatagramClient, data: Uint8Array, to: Endpoint) {
    return super.send(from, data, this.steer(to));
  }
}

/** Resolves once `s` reports one of `mask` (or at once). */
const waitFor = (s: InetSocket, mask: number) =>
  new Promise<void>((resolve) => {
    if (s.pollEvents() & mask) return resolve();
    const un = s.wq.subscribe(mask, () => {
      if (!(s.pollEvents() & mask)) return;
      un();
      resolve();
    });
  });

/** Everything `s` reads until end of file, as text. */
async function readAll(s: InetSocket): Promise<string> {
  return (await readBytes(s)).toString('latin1');
}

/** Everything `s` reads until end of file. */
async function readBytes(s: InetSocket): Promise<Buffer> {
  const got: Buffer[] = [];
  for (;;) {
    const r = s.recv(4096, false);
    if (r === EAGAIN) {
      await waitFor(s, abi.POLLIN | abi.POLLHUP);
      continue;
    }
    assert.ok(!(r instanceof Errno), String(r));
    if (r.data.length === 0) return Buffer.concat(got);
    got.push(Buffer.from(r.data));
  }
}

/** A Node TCP server on 127.0.0.1 that answers "echo: " and what it read, at end of input. */
function echoServer(): Promise<net.Server> {
  return new Promise((resolve) => {
    const s = net.createServer((c) => {
      const got: Buffer[] = [];
      c.on('data', (d) => got.push(d));
      c.on('end', () => c.end(Buffer.concat([Buffer.from('echo: '), ...got])));
      c.on('error', () => {});
    });
    s.listen(0, '127.0.0.1', () => resolve(s));
  });
}

/** The port host socket `fd` is bound to. */
const boundPort = (fd: number): number => (host.inetName(fd, false) as Buffer).readUInt16BE(2);

const portOf = (s: net.Server) => (s.address() as net.AddressInfo).port;

describe('kernel/net: --network=sandbox, outside connections and published ports', function () {
  this.timeout(20000);
  let stack: InetStack;

  beforeEach(() => {
    stack = new InetStack('sandbox');
    stack.outbound = new SteeredNat(stack.poller);
  });

  it('carries unicast addresses only; without a carrier outside is ENETUNREACH', () => {
    assert.equal(isUnicast(v4(93, 184, 216, 34)), true);
    assert.equal(isUnicast(v4(224, 0, 0, 1)), false);
    assert.equal(isUnicast(v4(255, 255, 255, 255)), false);
    assert.equal(isUnicast(v4(0, 1, 2, 3)), false);
    assert.equal(stack.outside(OUTSIDE), true);
    assert.equal(stack.outside(V4_LOOPBACK), false, 'the loopback is the sandbox\'s own, never the host\'s');
    const none = new InetStack('sandbox');
    assert.equal(new TcpSocket(none, abi.AF_INET, 0).connect(ep(OUTSIDE, 80)), ENETUNREACH);
    assert.equal(new TcpSocket(stack, abi.AF_INET, 0).connect(ep(v4(224, 0, 0, 1), 80)), ENETUNREACH);
  });

  it('TCP: a guest connection to an outside address reaches a host server and back, half-close included', async () => {
    const server = await echoServer();
    try {
      const c = new TcpSocket(stack, abi.AF_INET, 0);
      assert.equal(c.connect(ep(OUTSIDE, portOf(server))), EINPROGRESS);
      assert.equal(c.connecting, true);
      await waitFor(c, abi.POLLOUT);
      assert.equal(c.finishConnect(), 0);
      assert.deepEqual(c.peerName(), ep(OUTSIDE, portOf(server)));
      assert.equal(c.send(Buffer.from('hello outside'), { to: null }), 13);
      assert.equal(c.shutdownHow(abi.SHUT_WR), 0);
      assert.equal(await readAll(c), 'echo: hello outside');
      await c.unref();
    } finally {
      server.close();
    }
  });

  it('TCP: a large transfer keeps its bytes and order through the relay', async () => {
    const server = await echoServer();
    try {
      const c = new TcpSocket(stack, abi.AF_INET, 0);
      c.connect(ep(OUTSIDE, portOf(server)));
      await waitFor(c, abi.POLLOUT);
      assert.equal(c.finishConnect(), 0);
      const body = Buffer.alloc(3 << 20);
      for (let i = 0; i < body.length; i++) body[i] = (i * 7) & 0xff;
      let off = 0;
      const reading = (async () => {
        await new Promise((r) => setImmediate(r));
        return readBytes(c);
      })();
      while (off < body.length) {
        const n = c.send(body.subarray(off), { to: null });
        if (n === EAGAIN) {
          await waitFor(c, abi.POLLOUT);
          continue;
        }
        assert.ok(typeof n === 'number', String(n));
        off += n;
      }
      c.shutdownHow(abi.SHUT_WR);
      const got = await reading;
      assert.equal(got.length, 'echo: '.length + body.length);
      assert.ok(got.subarray(6).equals(body), 'the bytes came back as sent');
      await c.unref();
    } finally {
      server.close();
    }
  });

  it('TCP: a port nobody listens on is refused with the host\'s ECONNREFUSED, through SO_ERROR', async () => {
    const server = await echoServer();
    const port = portOf(server);
    await new Promise((r) => server.close(r));
    const c = new TcpSocket(stack, abi.AF_INET, 0);
    assert.equal(c.connect(ep(OUTSIDE, port)), EINPROGRESS);
    await waitFor(c, abi.POLLERR | abi.POLLHUP);
    assert.equal(c.finishConnect(), ECONNREFUSED);
    await c.unref();
  });

  it('UDP: a datagram to an outside address reaches a host socket, and its answer comes back', async () => {
    const peer = dgram.createSocket('udp4');
    await new Promise<void>((r) => peer.bind(0, '127.0.0.1', () => r()));
    peer.on('message', (m, rinfo) => peer.send(Buffer.concat([Buffer.from('back: '), m]), rinfo.port, rinfo.address));
    try {
      const u = new UdpSocket(stack, abi.AF_INET, 0);
      assert.equal(u.send(Buffer.from('dgram out'), { to: ep(OUTSIDE, peer.address().port) }), 9);
      await waitFor(u, abi.POLLIN);
      const r = u.recv(100, false);
      assert.ok(!(r instanceof Errno));
      assert.equal(text(r.data), 'back: dgram out');
      assert.deepEqual(r.from, encodeInet(ep(V4_LOOPBACK, peer.address().port), abi.AF_INET));
      await u.unref();
    } finally {
      peer.close();
    }
  });

  it('published TCP: a host client reaches the guest\'s listener; nobody listening resets it', async () => {
    const fd = host.inetSocket(abi.AF_INET, abi.SOCK_STREAM);
    assert.ok(fd >= 0);
    assert.equal(host.inetBind(fd, encodeInet(ep(V4_LOOPBACK, 0), abi.AF_INET)), 0);
    assert.equal(host.inetListen(fd, 16), 0);
    const hostPort = boundPort(fd);
    const l = new TcpSocket(stack, abi.AF_INET, 0);
    assert.equal(l.bind(ep(V4_LOOPBACK, 8080)), 0);
    assert.equal(l.listen(4), 0);
    const unpublish = publish(stack, { fd, guestPort: 8080, protocol: 'tcp' });
    // Polls of the host socket that found it not ready and asked to be told again (rearm): a
    // callback acting on every report made one per poll, for ever, while the port was idle.
    let rearms = 0;
    const rearm = stack.poller.rearm.bind(stack.poller);
    stack.poller.rearm = (f: number) => {
      rearms++;
      rearm(f);
    };
    const reply = new Promise<string>((resolve, reject) => {
      const c = net.connect(hostPort, '127.0.0.1', () => c.end('from the host'));
      let got = '';
      c.on('data', (d) => (got += d));
      c.on('end', () => resolve(got));
      c.on('error', reject);
    });
    await waitFor(l, abi.POLLIN);
    const s = l.accept() as TcpSocket;
    assert.ok(s instanceof TcpSocket);
    assert.equal(await readAll(s), 'from the host');
    assert.equal(s.send(Buffer.from('from the guest'), { to: null }), 14);
    await s.unref();
    assert.equal(await reply, 'from the guest');
    await l.unref();
    const refused = await new Promise<string>((resolve) => {
      const c = net.connect(hostPort, '127.0.0.1');
      c.on('error', (e: NodeJS.ErrnoException) => resolve(e.code ?? 'error'));
      c.on('close', () => resolve('closed'));
    });
    assert.equal(refused, 'ECONNRESET');
    // Idle now: the poller backs off and nothing retries.
    await new Promise((r) => setTimeout(r, 200));
    const before = rearms;
    await new Promise((r) => setTimeout(r, 300));
    assert.ok(rearms - before <= 2, `an idle published port was retried ${rearms - before} times in 300 ms`);
    unpublish();
    unpublish(); // a second stop does nothing
  });

  it('published UDP: a host sender\'s datagram reaches the guest, and the guest\'s answer goes back to it', async () => {
    const fd = host.inetSocket(abi.AF_INET, abi.SOCK_DGRAM);
    assert.equal(host.inetBind(fd, encodeInet(ep(V4_LOOPBACK, 0), abi.AF_INET)), 0);
    const hostPort = boundPort(fd);
    const g = new UdpSocket(stack, abi.AF_INET, 0);
    assert.equal(g.bind(ep(V4_LOOPBACK, 5353)), 0);
    const unpublish = publish(stack, { fd, guestPort: 5353, protocol: 'udp' });
    const sender = dgram.createSocket('udp4');
    try {
      const answer = new Promise<string>((resolve) => sender.on('message', (m) => resolve(m.toString())));
      sender.send('question', hostPort, '127.0.0.1');
      await waitFor(g, abi.POLLIN);
      const r = g.recv(100, false);
      assert.ok(!(r instanceof Errno));
      assert.equal(text(r.data), 'question');
      assert.equal(g.send(Buffer.from('answer'), { to: { ip: V4_LOOPBACK, port: new DataView(r.from!.buffer, r.from!.byteOffset).getUint16(2, false) } }), 6);
      assert.equal(await answer, 'answer');
    } finally {
      sender.close();
      await g.unref();
      unpublish();
    }
  });
});
