// P9Client.close over an fd (src/p9/client.ts): the server sees the
// connection's end at once even while another copy of the fd stays open, as
// boot's launchers hold copies of its io fds until boot has exited. The
// gofer ends on that end, so this is what lets it exit beside boot rather
// than after it (docs/STARTUP.md, the tenth pass).

import * as assert from 'node:assert/strict';
import * as net from 'node:net';
import { P9Client } from '../../src/p9/client.js';
import { closeFd, dupCloexec, socketpair, SOCK_STREAM } from '../../src/host/ffi.js';

describe('p9/client: close', function () {
  this.timeout(10000);

  it('shuts the socket down, so the peer reads its end while another copy of the fd is still open', async () => {
    const pair = socketpair(SOCK_STREAM);
    assert.ok(Array.isArray(pair), `socketpair: ${pair}`);
    const [ours, theirs] = pair;
    const copy = dupCloexec(ours);
    assert.ok(copy >= 0, `dup: ${copy}`);
    const peer = new net.Socket({ fd: theirs, readable: true, writable: true });
    try {
      const ended = new Promise<void>((resolve) => peer.on('end', () => resolve()));
      peer.resume();
      P9Client.overFd(ours).close();
      const timedOut = new Promise<string>((resolve) => setTimeout(() => resolve('timed out'), 3000).unref());
      assert.equal(await Promise.race([ended.then(() => 'ended'), timedOut]), 'ended', 'the peer saw no end of the stream while the copy was open');
    } finally {
      closeFd(copy);
      peer.destroy();
    }
  });

  it('a client whose socket the peer closed first shuts nothing down when closed (the fd number may be reused by then)', async () => {
    const pair = socketpair(SOCK_STREAM);
    assert.ok(Array.isArray(pair));
    const [ours, theirs] = pair;
    const client = P9Client.overFd(ours);
    closeFd(theirs);
    for (let i = 0; i < 50 && client.brokenReason === undefined; i++) await new Promise((r) => setTimeout(r, 20));
    assert.ok(client.brokenReason !== undefined, 'the client did not see its peer go');
    // The number `ours` had is free now: a new socket may take it, and the
    // client's close must leave that one alone.
    const other = socketpair(SOCK_STREAM);
    assert.ok(Array.isArray(other));
    const a = new net.Socket({ fd: other[0], readable: true, writable: true });
    const b = new net.Socket({ fd: other[1], readable: true, writable: true });
    try {
      client.close();
      const got = new Promise<string>((resolve) => b.once('data', (d) => resolve(d.toString())));
      a.write('still open');
      assert.equal(await got, 'still open');
    } finally {
      a.destroy();
      b.destroy();
    }
  });
});
