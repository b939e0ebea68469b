// The sandbox's loopback TCP and UDP (src/kernel/net), on the socket
// objects: the port tables' rules, connections and their ends, flow
// control, datagrams; and a host socket (--network=host) woken by the
// poller when a Node peer on the host talks to it.

import * as assert from 'node:assert/strict';
import * as net from 'node:net';
import * as abi from '../../../src/linux/abi.js';
import { EADDRINUSE, EADDRNOTAVAIL, EAGAIN, EALREADY, ECONNREFUSED, ECONNRESET, EINPROGRESS, EINVAL, EISCONN, ENETUNREACH, EPIPE, Errno } from '../../../src/linux/errno.js';
import { encodeInet, EPHEMERAL_HIGH, EPHEMERAL_LOW, v4, V4_ANY, V4_LOOPBACK, V6_ANY, V6_LOOPBACK, type Endpoint } from '../../../src/kernel/net/inet-address.js';
import { InetStack } from '../../../src/kernel/net/inet-stack.js';
import { TcpSocket } from '../../../src/kernel/net/tcp-socket.js';
import { UdpSocket } from '../../../src/kernel/net/udp-socket.js';
import { openHostInetSocket, HostInetSocket } from '../../../src/kernel/net/host-inet-socket.js';
import type { InetSocket } from '../../../src/kernel/net/inet-socket.js';
import { PROC_NET_FILES, procNet } from '../../../src/kernel/net/proc-net.js';

const ep = (ip: Uint8Array, port: number): Endpoint => ({ ip, port });
const text = (b: Uint8Array) => Buffer.from(b).toString();
const int = (v: number) => Uint8Array.from(Buffer.from(Int32Array.of(v).buffer));

describe('kernel/net: TCP and UDP on the loopback stack', () => {
  let stack: InetStack;
  const tcp = (family = abi.AF_INET) => new TcpSocket(stack, family, 0);
  const udp = (family = abi.AF_INET) => new UdpSocket(stack, family, 0);

  /** A listener on 127.0.0.1 with `backlog`, and its port. */
  const listener = (backlog = 4): [TcpSocket, number] => {
    const l = tcp();
    assert.equal(l.bind(ep(V4_LOOPBACK, 0)), 0);
    assert.equal(l.listen(backlog), 0);
    return [l, l.name().port];
  };

  /** A connected pair: [client, accepted server end]. */
  const pair = (l: TcpSocket, port: number): [TcpSocket, TcpSocket] => {
    const c = tcp();
    assert.equal(c.connect(ep(V4_LOOPBACK, port)), EINPROGRESS);
    assert.equal(c.finishConnect(), 0);
    return [c, l.accept() as TcpSocket];
  };

  beforeEach(() => {
    stack = new InetStack('sandbox');
  });

  it('ports: port 0 picks an ephemeral port; only loopback and wildcards bind; other addresses are unreachable', () => {
    const s = tcp();
    assert.equal(s.bind(ep(V4_ANY, 0)), 0);
    const p = s.name().port;
    assert.ok(p >= EPHEMERAL_LOW && p <= EPHEMERAL_HIGH, String(p));
    assert.equal(s.bind(ep(V4_ANY, 0)), EINVAL);
    assert.equal(tcp().bind(ep(v4(10, 0, 0, 1), 0)), EADDRNOTAVAIL);
    assert.equal(tcp().bind(ep(v4(127, 0, 0, 9), 0)), 0);
    assert.equal(tcp().connect(ep(v4(192, 0, 2, 1), 80)), ENETUNREACH);
    assert.equal(udp().send(Uint8Array.of(1), { to: ep(v4(192, 0, 2, 1), 53) }), ENETUNREACH);
  });

  it('ports: overlapping addresses clash (a dual-stack :: covers IPv4, V6ONLY does not) unless SO_REUSEADDR or SO_REUSEPORT allow it', () => {
    const a = tcp(abi.AF_INET6);
    assert.equal(a.bind(ep(V6_ANY, 0)), 0);
    const port = a.name().port;
    assert.equal(tcp().bind(ep(V4_LOOPBACK, port)), EADDRINUSE);
    assert.equal(udp().bind(ep(V4_LOOPBACK, port)), 0, 'UDP ports are another table');
    const only = tcp(abi.AF_INET6);
    assert.equal(only.setOption(abi.IPPROTO_IPV6, abi.IPV6_V6ONLY, int(1)), 0);
    assert.equal(only.bind(ep(V6_ANY, 0)), 0);
    assert.equal(only.setOption(abi.IPPROTO_IPV6, abi.IPV6_V6ONLY, int(0)), EINVAL, 'not once bound');
    assert.equal(tcp().bind(ep(V4_LOOPBACK, only.name().port)), 0);

    const r1 = tcp();
    const r2 = tcp();
    for (const s of [r1, r2]) s.setOption(abi.SOL_SOCKET, abi.SO_REUSEADDR, int(1));
    assert.equal(r1.bind(ep(V4_LOOPBACK, 0)), 0);
    assert.equal(r2.bind(ep(V4_LOOPBACK, r1.name().port)), 0);
    assert.equal(r1.listen(1), 0);
    assert.equal(r2.listen(1), EADDRINUSE, 'the other already listens');
    const p1 = tcp();
    const p2 = tcp();
    for (const s of [p1, p2]) s.setOption(abi.SOL_SOCKET, abi.SO_REUSEPORT, int(1));
    assert.equal(p1.bind(ep(V4_LOOPBACK, 0)), 0);
    assert.equal(p1.listen(1), 0);
    assert.equal(p2.bind(ep(V4_LOOPBACK, p1.name().port)), 0);
    assert.equal(p2.listen(1), 0);
  });

  it('tcp: nobody listening is EINPROGRESS then ECONNREFUSED (pending error, POLLERR); a connection carries bytes both ways, FIN gives EOF', () => {
    const r = tcp();
    assert.equal(r.connect(ep(V4_LOOPBACK, 1)), EINPROGRESS);
    assert.ok(r.pollEvents() & abi.POLLERR);
    assert.equal(r.finishConnect(), ECONNREFUSED);

    const [l, port] = listener();
    assert.equal(l.pollEvents(), 0);
    const c = tcp();
    assert.equal(c.connect(ep(V4_LOOPBACK, port)), EINPROGRESS);
    assert.ok(l.pollEvents() & abi.POLLIN);
    assert.equal(c.connect(ep(V4_LOOPBACK, port)), 0, "the second connect reports the success (Linux's SS_CONNECTING)");
    assert.equal(c.connect(ep(V4_LOOPBACK, port)), EISCONN);
    const s = l.accept() as TcpSocket;
    assert.deepEqual(s.peerName(), c.name());
    assert.equal(c.send(Buffer.from('hello'), { to: null }), 5);
    assert.equal(s.readableBytes(), 5);
    assert.equal(text((s.recv(100, true) as { data: Uint8Array }).data), 'hello');
    assert.equal(text((s.recv(100, false) as { data: Uint8Array }).data), 'hello');
    assert.equal(s.recv(100, false), EAGAIN);
    assert.equal(c.shutdownHow(abi.SHUT_WR), 0);
    assert.equal((s.recv(100, false) as { data: Uint8Array }).data.length, 0, 'EOF');
    assert.equal(c.send(Buffer.from('x'), { to: null }), EPIPE);
    assert.equal(s.send(Buffer.from('back'), { to: null }), 4, 'the other direction still works');
    assert.equal(text((c.recv(100, false) as { data: Uint8Array }).data), 'back');
  });

  it('tcp: the accept queue holds backlog+1; a further connect waits and is made when accept frees room', () => {
    const [l, port] = listener(0);
    const a = tcp();
    const b = tcp();
    a.connect(ep(V4_LOOPBACK, port));
    b.connect(ep(V4_LOOPBACK, port));
    assert.equal(a.connecting, false);
    assert.equal(b.connecting, true);
    assert.equal(b.connect(ep(V4_LOOPBACK, port)), EALREADY);
    assert.ok(l.accept() instanceof TcpSocket);
    assert.equal(b.connecting, false);
    assert.equal(b.finishConnect(), 0);
    assert.ok(l.accept() instanceof TcpSocket);
    assert.equal(l.accept(), EAGAIN);
  });

  it('tcp: close with unread data resets the peer (ECONNRESET, then EOF and EPIPE); a write to a closed peer is answered by a reset', async () => {
    const [l, port] = listener();
    let [c, s] = pair(l, port);
    c.send(Buffer.from('unread'), { to: null });
    await s.unref();
    assert.equal(c.recv(10, false), ECONNRESET);
    assert.equal((c.recv(10, false) as { data: Uint8Array }).data.length, 0);
    assert.equal(c.send(Buffer.from('x'), { to: null }), EPIPE);

    [c, s] = pair(l, port);
    await s.unref();
    assert.equal((c.recv(10, false) as { data: Uint8Array }).data.length, 0, 'a FIN: EOF');
    assert.equal(c.send(Buffer.from('x'), { to: null }), 1);
    assert.equal(c.send(Buffer.from('y'), { to: null }), EPIPE);

    [c, s] = pair(l, port);
    s.setOption(abi.SOL_SOCKET, abi.SO_LINGER, Uint8Array.of(1, 0, 0, 0, 0, 0, 0, 0));
    await s.unref();
    assert.equal(c.recv(10, false), ECONNRESET);
  });

  it('tcp: a writer is held to its send buffer plus the reader\'s receive buffer, and woken when the reader reads', () => {
    const [l, port] = listener();
    const [c, s] = pair(l, port);
    c.setOption(abi.SOL_SOCKET, abi.SO_SNDBUF, int(4096));
    s.setOption(abi.SOL_SOCKET, abi.SO_RCVBUF, int(4096));
    const big = new Uint8Array(100000);
    const n = c.send(big, { to: null }) as number;
    assert.equal(n, 8192 + 8192);
    assert.equal(c.send(big, { to: null }), EAGAIN);
    assert.equal(c.canSend(), false);
    let woken = 0;
    c.wq.subscribe(abi.POLLOUT, () => woken++);
    s.recv(1000, false);
    assert.ok(woken > 0);
    assert.equal(c.canSend(), true);
    assert.equal(c.unsentBytes(), n - 1000 - 8192);
  });

  it('udp: a datagram reaches the socket bound there with its sender\'s name; a connected socket takes only its peer\'s; ECONNREFUSED after a send to nobody', () => {
    const srv = udp();
    srv.bind(ep(V4_LOOPBACK, 0));
    const cl = udp(abi.AF_INET6);
    assert.equal(cl.send(Buffer.from('hi'), { to: ep(V4_LOOPBACK, srv.name().port) }), 2);
    const r = srv.recv(1, false) as { data: Uint8Array; size: number; from: Uint8Array };
    assert.equal(r.size, 2);
    assert.equal(r.data.length, 1);
    assert.deepEqual(r.from, encodeInet(ep(V4_LOOPBACK, cl.name().port), abi.AF_INET));
    const conn = udp();
    assert.equal(conn.connect(ep(V4_LOOPBACK, srv.name().port)), 0);
    cl.send(Buffer.from('stranger'), { to: ep(V4_LOOPBACK, conn.name().port) });
    assert.equal(conn.recv(100, false), EAGAIN);
    srv.send(Buffer.from('friend'), { to: ep(V4_LOOPBACK, conn.name().port) });
    assert.equal(text((conn.recv(100, false) as { data: Uint8Array }).data), 'friend');

    const lost = udp();
    lost.connect(ep(V6_LOOPBACK, 9));
    assert.equal(lost.send(Buffer.from('x'), { to: null }), 1);
    assert.ok(lost.pollEvents() & abi.POLLERR);
    assert.equal(lost.recv(10, false), ECONNREFUSED);
    assert.equal(lost.recv(10, false), EAGAIN);
  });
});

describe('kernel/net: random operations on loopback sockets', () => {
  for (const start of [12345, 1, 77, 2024, 31337]) {
    it(`never throw, and every answer is a value or an Errno (2000 steps over 12 sockets, seed ${start})`, async () => {
      let seed = start;
      const rnd = (n: number) => {
        seed = (seed * 1103515245 + 12345) >>> 0;
        return (seed >>> 8) % n;
      };
      const stack = new InetStack('sandbox');
      const ips = [V4_LOOPBACK, V4_ANY, V6_ANY, V6_LOOPBACK, v4(127, 0, 0, 2), v4(10, 1, 1, 1)];
      const ports = [0, 1, 40000, 40001];
      const socks: InetSocket[] = [];
      const fresh = (): InetSocket => {
        const family = rnd(2) ? abi.AF_INET : abi.AF_INET6;
        return rnd(2) ? new TcpSocket(stack, family, 0) : new UdpSocket(stack, family, 0);
      };
      for (let i = 0; i < 12; i++) socks.push(fresh());
      const pick = () => socks[rnd(socks.length)];
      const anyEp = (): Endpoint => {
        const listening = socks.filter((s) => (s as TcpSocket).listening);
        if (listening.length && rnd(2)) return listening[rnd(listening.length)].name();
        return ep(ips[rnd(ips.length)], ports[rnd(ports.length)]);
      };
      const ok = (r: unknown) => assert.ok(typeof r === 'number' || r instanceof Errno || (typeof r === 'object' && r !== null), String(r));
      for (let step = 0; step < 2000; step++) {
        const s = pick();
        switch (rnd(12)) {
          case 0: ok(s.bind(anyEp())); break;
          case 1: ok(s.listen(rnd(3) - 1)); break;
          case 2: ok(s.connect(rnd(8) ? anyEp() : null)); break;
          case 3: {
            const a = s.accept();
            ok(a);
            if (a instanceof TcpSocket) socks.push(a);
            break;
          }
          case 4: ok(s.send(new Uint8Array(rnd(3) ? rnd(100) : 300000), { to: rnd(2) ? anyEp() : null })); break;
          case 5: ok(s.recv(rnd(200), rnd(2) === 0)); break;
          case 6: ok(s.shutdownHow(rnd(4))); break;
          case 7: ok(s.setOption([abi.SOL_SOCKET, abi.IPPROTO_TCP, abi.IPPROTO_IPV6, abi.IPPROTO_IP, 99][rnd(5)], rnd(70), Uint8Array.from({ length: rnd(10) }, () => rnd(256)))); break;
          case 8: ok(s.getOption([abi.SOL_SOCKET, abi.IPPROTO_TCP, abi.IPPROTO_IPV6, abi.IPPROTO_IP][rnd(4)], rnd(70))); break;
          case 9: ok(s.pollEvents()); ok(s.readableBytes()); ok(s.unsentBytes()); ok(s.name()); ok(s.peerName()); s.finishConnect(); break;
          case 10: {
            const i = socks.indexOf(s);
            socks.splice(i, 1);
            await s.unref();
            socks.push(fresh());
            break;
          }
          case 11: for (const p of PROC_NET_FILES) assert.match(procNet(stack, p[1], p[2]), /local_address/); break;
        }
      }
    });
  }
});

describe('kernel/net: --network=host sockets', () => {
  it('a host listener in the sandbox accepts a Node client, woken by the poller, and reads what it sent', async function () {
    this.timeout(20000);
    const stack = new InetStack('host');
    const l = openHostInetSocket(stack.poller, abi.AF_INET, abi.SOCK_STREAM, 0) as HostInetSocket;
    assert.ok(l instanceof HostInetSocket);
    assert.equal(l.bind(ep(V4_LOOPBACK, 0)), 0);
    assert.equal(l.listen(4), 0);
    assert.equal(l.listening, true);
    const port = l.name().port;
    assert.equal(l.accept(), EAGAIN);
    const waitFor = (s: InetSocket, mask: number) =>
      new Promise<void>((resolve) => {
        if (s.pollEvents() & mask) return resolve();
        const un = s.wq.subscribe(mask, () => {
          un();
          resolve();
        });
      });
    const client = net.connect(port, '127.0.0.1', () => client.end('from node'));
    try {
      await waitFor(l, abi.POLLIN);
      const s = l.accept() as HostInetSocket;
      assert.ok(s instanceof HostInetSocket);
      assert.deepEqual(s.peerName(), ep(V4_LOOPBACK, client.localPort!));
      let got = '';
      for (;;) {
        const r = s.recv(100, false);
        if (r === EAGAIN) {
          await waitFor(s, abi.POLLIN);
          continue;
        }
        assert.ok(!(r instanceof Errno), String(r));
        if (r.data.length === 0) break;
        got += text(r.data);
      }
      assert.equal(got, 'from node');
      assert.equal(s.setOption(abi.SOL_SOCKET, abi.SO_SNDBUFFORCE, int(1 << 20)), Errno.of(92), 'ENOPROTOOPT: options needing host privileges are not passed on');
      await s.unref();
    } finally {
      client.destroy();
      await l.unref();
    }
  });
});
