// The AF_UNIX socket model driven directly: connections and the backlog,
// stream and message reads, flow control, shutdown and close, readiness,
// passed files and their references.

import * as assert from 'node:assert/strict';
import * as abi from '../../../src/linux/abi.js';
import { EAGAIN, ECONNREFUSED, EINVAL, EISCONN, EMSGSIZE, ENOTCONN, EOPNOTSUPP, EPERM, EPIPE, EPROTOTYPE, Errno, isErrno } from '../../../src/linux/errno.js';
import { UnixNamespace, type UCred } from '../../../src/kernel/net/names.js';
import { MAX_DGRAM_QLEN, socketPair, UnixSocket } from '../../../src/kernel/net/unix-socket.js';
import type { Received } from '../../../src/kernel/net/message-queue.js';
import { makePipe } from '../../../src/kernel/files/pipe.js';
import { blockingRead } from '../../../src/kernel/files/blocking.js';
import { FakeThread, settle } from '../files/fake-thread.js';

const ME: UCred = { pid: 7, uid: 1000, gid: 1000 };
const OTHER: UCred = { pid: 8, uid: 1000, gid: 1000 };
const text = (s: string) => new TextEncoder().encode(s);
const str = (b: Uint8Array) => new TextDecoder().decode(b);

function ok<T>(v: T | Errno): T {
  if (isErrno(v)) assert.fail(`unexpected ${v.name}`);
  return v;
}

function got(r: Received | Errno): Received {
  return ok(r);
}

describe('kernel/net/unix-socket', () => {
  let ns: UnixNamespace<UnixSocket>;
  beforeEach(() => {
    ns = new UnixNamespace<UnixSocket>(() => ME);
  });

  function listener(type = abi.SOCK_STREAM, backlog = 5): UnixSocket {
    const l = new UnixSocket(ns, type, 0);
    assert.equal(ns.bindAbstract(text('srv'), l), 0);
    l.setAddress({ kind: 'abstract', name: text('srv') });
    assert.equal(l.listen(backlog, ME), 0);
    return l;
  }

  it('socketpair: bytes both ways, SO_PEERCRED of the creator, stream bytes join across sends', () => {
    const [a, b] = socketPair(ns, abi.SOCK_STREAM, 0, ME);
    assert.equal(a.send(text('hello '), { cred: ME }), 6);
    assert.equal(a.write(text('world')), 5);
    assert.equal(b.readableBytes(), 11);
    assert.equal(str(got(b.recv(3, true)).data), 'hel');
    assert.equal(str(ok(b.read(100))), 'hello world');
    assert.equal(b.read(100), EAGAIN);
    assert.equal(b.write(text('back')), 4);
    assert.equal(str(ok(a.read(100))), 'back');
    assert.deepEqual(a.peerCred, ME);
    assert.deepEqual(b.peerCred, ME);
  });

  it('datagram and seqpacket keep boundaries; a short read loses the rest and reports the whole size; empty messages count', () => {
    for (const type of [abi.SOCK_DGRAM, abi.SOCK_SEQPACKET]) {
      const [a, b] = socketPair(ns, type, 0, ME);
      a.send(text('first message'), { cred: ME });
      a.send(new Uint8Array(0), { cred: ME });
      a.send(text('third'), { cred: ME });
      assert.equal(b.readableBytes(), 13);
      const r = got(b.recv(5, false));
      assert.equal(str(r.data), 'first');
      assert.equal(r.size, 13);
      assert.equal(got(b.recv(100, false)).size, 0);
      assert.equal(str(got(b.recv(100, false)).data), 'third');
      assert.equal(b.recv(100, false), EAGAIN);
    }
  });

  it('connect queues a server end at once (the client may write before accept); the backlog holds backlog+1', () => {
    const l = listener(abi.SOCK_STREAM, 1);
    const c1 = new UnixSocket(ns, abi.SOCK_STREAM, 0);
    const c2 = new UnixSocket(ns, abi.SOCK_STREAM, 0);
    const c3 = new UnixSocket(ns, abi.SOCK_STREAM, 0);
    assert.equal(l.pollEvents() & abi.POLLIN, 0);
    assert.equal(c1.connect(l, OTHER), 0);
    assert.equal(c1.write(text('early')), 5);
    assert.equal(c2.connect(l, OTHER), 0);
    assert.equal(c3.connect(l, OTHER), EAGAIN);
    // A full backlog wins over EISCONN, as in Linux.
    assert.equal(c1.connect(l, OTHER), EAGAIN);
    assert.ok(l.pollEvents() & abi.POLLIN);
    const s1 = ok(l.accept());
    assert.equal(str(ok(s1.read(100))), 'early');
    assert.deepEqual(s1.peerCred, OTHER);
    assert.deepEqual(c1.peerCred, ME);
    assert.deepEqual(s1.addr, l.addr);
    assert.equal(c3.connect(l, OTHER), 0);
    ok(l.accept());
    assert.equal(c1.connect(l, OTHER), EISCONN);
    ok(l.accept());
    assert.equal(l.accept(), EAGAIN);
  });

  it('listen: a negative backlog is the largest (SOMAXCONN); a larger backlog wakes connects waiting for room', () => {
    const l = listener(abi.SOCK_STREAM, 0);
    const c1 = new UnixSocket(ns, abi.SOCK_STREAM, 0);
    const c2 = new UnixSocket(ns, abi.SOCK_STREAM, 0);
    assert.equal(c1.connect(l, ME), 0);
    assert.equal(c2.connect(l, ME), EAGAIN);
    let woken = 0;
    l.wq.subscribe(abi.POLLOUT, () => woken++);
    assert.equal(l.listen(-1, ME), 0);
    assert.equal(woken, 1);
    assert.equal(c2.connect(l, ME), 0);
    for (let i = 0; i < 100; i++) assert.equal(new UnixSocket(ns, abi.SOCK_STREAM, 0).connect(l, ME), 0);
  });

  it('refuses what Linux refuses: a non-listener, another type, listen unbound or on datagrams, accept unlistened', () => {
    const notListening = new UnixSocket(ns, abi.SOCK_STREAM, 0);
    const c = new UnixSocket(ns, abi.SOCK_STREAM, 0);
    assert.equal(c.connect(notListening, ME), ECONNREFUSED);
    assert.equal(c.connect(listener(abi.SOCK_SEQPACKET), ME), EPROTOTYPE);
    assert.equal(c.listen(1, ME), EINVAL);
    assert.equal(c.accept(), EINVAL);
    const d = new UnixSocket(ns, abi.SOCK_DGRAM, 0);
    assert.equal(d.listen(1, ME), EOPNOTSUPP);
    assert.equal(d.accept(), EOPNOTSUPP);
    assert.equal(c.read(10), EINVAL);
    assert.equal(c.write(text('x')), ENOTCONN);
    assert.equal(new UnixSocket(ns, abi.SOCK_SEQPACKET, 0).recv(10, false), ENOTCONN);
  });

  it('a closed listener refuses connects and releases its queued connections (their clients read EOF)', () => {
    const l = listener();
    const c = new UnixSocket(ns, abi.SOCK_STREAM, 0);
    assert.equal(c.connect(l, ME), 0);
    void l.unref();
    const r = got(c.recv(10, false));
    assert.equal(r.data.length, 0);
    assert.equal(c.write(text('x')), EPIPE);
    assert.equal(new UnixSocket(ns, abi.SOCK_STREAM, 0).connect(l, ME), ECONNREFUSED);
  });

  it('shutdown: SHUT_WR gives the peer EOF and us EPIPE, the other way still works; close shuts both of the peer', () => {
    const [a, b] = socketPair(ns, abi.SOCK_STREAM, 0, ME);
    assert.equal(a.shutdownHow(abi.SHUT_WR), 0);
    assert.equal(got(b.recv(10, false)).data.length, 0);
    assert.equal(a.write(text('x')), EPIPE);
    assert.equal(b.write(text('ok')), 2);
    assert.equal(str(ok(a.read(10))), 'ok');
    assert.equal(b.pollEvents() & (abi.POLLIN | abi.POLLRDHUP | abi.POLLHUP), abi.POLLIN | abi.POLLRDHUP);
    assert.equal(a.shutdownHow(7), EINVAL);
    void b.unref();
    assert.equal(a.pollEvents(), abi.POLLIN | abi.POLLRDNORM | abi.POLLRDHUP | abi.POLLHUP | abi.POLLOUT | abi.POLLWRNORM | abi.POLLWRBAND);
    // An unconnected stream socket is POLLHUP (TCP_CLOSE) and shutdown succeeds on it.
    const u = new UnixSocket(ns, abi.SOCK_STREAM, 0);
    assert.ok(u.pollEvents() & abi.POLLHUP);
    assert.equal(u.shutdownHow(abi.SHUT_RDWR), 0);
  });

  it('flow control: a stream writer is charged until its bytes are read, and woken when they are', async () => {
    const [a, b] = socketPair(ns, abi.SOCK_STREAM, abi.O_NONBLOCK, ME);
    const big = new Uint8Array(a.opts.sndbuf + 1000);
    const n = ok(a.write(big));
    assert.equal(n, a.opts.sndbuf);
    assert.equal(a.write(text('x')), EAGAIN);
    assert.equal(a.pollEvents() & abi.POLLOUT, 0);
    let woken = 0;
    a.wq.subscribe(abi.POLLOUT, () => woken++);
    ok(b.read(a.opts.sndbuf));
    assert.ok(woken > 0);
    assert.equal(a.wmem, 0);
    assert.ok(a.pollEvents() & abi.POLLOUT);
    assert.equal(a.write(text('x')), 1);
    void settle();
  });

  it('a blocking read waits for a write and is cut short by a signal (EINTR)', async () => {
    const [a, b] = socketPair(ns, abi.SOCK_STREAM, 0, ME);
    const t = new FakeThread();
    const pending = blockingRead(t, b, () => b.read(10));
    assert.ok(pending instanceof Promise);
    await settle();
    a.write(text('wake'));
    assert.equal(str((await pending) as Uint8Array), 'wake');
    const again = blockingRead(t, b, () => b.read(10));
    await settle();
    t.signal();
    assert.equal((await again as Errno).name, 'EINTR');
  });

  it('datagrams: sendto a target, the sender name, a full queue (unless connected back), EPERM to one connected elsewhere, ECONNREFUSED once the peer closed', () => {
    const srv = new UnixSocket(ns, abi.SOCK_DGRAM, 0);
    const cli = new UnixSocket(ns, abi.SOCK_DGRAM, 0);
    ns.bindAbstract(text('cli'), cli);
    cli.setAddress({ kind: 'abstract', name: text('cli') });
    assert.equal(cli.send(text('hi'), { cred: ME, to: srv }), 2);
    const r = got(srv.recv(10, false));
    assert.deepEqual(r.from, { kind: 'abstract', name: text('cli') });
    assert.deepEqual(r.cred, ME);
    assert.equal(cli.send(text('x'), { cred: ME }), ENOTCONN);
    for (let i = 0; i <= MAX_DGRAM_QLEN; i++) assert.equal(cli.send(text('x'), { cred: ME, to: srv }), 1);
    assert.equal(cli.send(text('x'), { cred: ME, to: srv }), EAGAIN);
    assert.equal(cli.canSend(srv), false);
    // A sender without a connection waits on the target's queue: reading one message wakes it.
    let woken = 0;
    const unsub = srv.wq.subscribe(abi.POLLOUT, () => woken++);
    got(srv.recv(10, false));
    unsub();
    assert.equal(woken, 1);
    assert.equal(cli.canSend(srv), true);
    assert.equal(cli.send(text('x'), { cred: ME, to: srv }), 1);
    const third = new UnixSocket(ns, abi.SOCK_DGRAM, 0);
    assert.equal(srv.connectDgram(third), 0);
    assert.equal(cli.send(text('x'), { cred: ME, to: srv }), EPERM);
    assert.equal(cli.connectDgram(third), 0);
    assert.equal(cli.send(new Uint8Array(cli.opts.sndbuf), { cred: ME }), EMSGSIZE);
    void third.unref();
    assert.equal(cli.send(text('x'), { cred: ME }), ECONNREFUSED);
    assert.equal(cli.peer, null);
  });

  it('passed files: the message holds a reference; peek adds one; the reader owns what it took; a released queue drops them', () => {
    const [a, b] = socketPair(ns, abi.SOCK_DGRAM, 0, ME);
    const [pr, pw] = makePipe(0);
    const x = { cred: ME, rights: [pr.ref()] };
    assert.equal(a.send(text('f'), x), 1);
    assert.equal(x.rights, undefined, 'the message took the reference');
    void pr.unref(); // our own: the pipe's read end lives on in flight
    assert.equal(pw.pollEvents() & abi.POLLERR, 0);
    const peeked = got(b.recv(1, true));
    assert.equal(peeked.rights.length, 1);
    void peeked.rights[0].unref();
    const taken = got(b.recv(1, false));
    assert.equal(taken.rights[0], pr);
    void taken.rights[0].unref();
    assert.ok(pw.pollEvents() & abi.POLLERR, 'the last reference is gone: no reader');

    const [r2, w2] = makePipe(0);
    a.send(text('g'), { cred: ME, rights: [r2] });
    void b.unref();
    assert.ok(w2.pollEvents() & abi.POLLERR, 'closing the receiver released the file in flight');
  });

  it('a stream read stops after a message that passed files, and with SO_PASSCRED at a change of sender', () => {
    const [a, b] = socketPair(ns, abi.SOCK_STREAM, 0, ME);
    const [pr] = makePipe(0);
    a.send(text('ab'), { cred: ME, rights: [pr] });
    a.send(text('cd'), { cred: ME });
    const first = got(b.recv(10, false));
    assert.equal(str(first.data), 'ab');
    assert.equal(first.rights.length, 1);
    void first.rights[0].unref();
    b.opts.passcred = true;
    a.send(text('ef'), { cred: OTHER });
    assert.equal(str(got(b.recv(10, false)).data), 'cd');
    assert.deepEqual(got(b.recv(10, false)).cred, OTHER);
  });

  it('fstat: a socket inode, 0777; its path names it socket:[ino]', () => {
    const s = new UnixSocket(ns, abi.SOCK_STREAM, 0);
    const a = s.getattr();
    assert.equal(a.mode, abi.S_IFSOCK | 0o777);
    assert.equal(s.path, `socket:[${a.ino}]`);
    assert.equal(s.writesEmpty, false);
    assert.equal(new UnixSocket(ns, abi.SOCK_DGRAM, 0).writesEmpty, true);
  });
});
