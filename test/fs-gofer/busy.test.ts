// serveExports' `busy` hook: the gofer command resumes V8's optimizing
// compiler there (src/main/jit.ts), so it must fire once, when the
// connections together have received the given number of requests, and
// never for a gofer that serves fewer (an idle sandbox's).

import * as assert from 'node:assert/strict';
import { socketpair, O_CLOEXEC, SOCK_STREAM } from '../../src/host/ffi.js';
import { serveExports } from '../../src/fs-gofer/gofer.js';
import { P9Client } from '../../src/p9/client.js';
import { MsgType } from '../../src/p9/codec.js';
import * as p9 from '../../src/p9/codec.js';
import { tmpdir } from './util.js';

function pair(): [number, number] {
  const sp = socketpair(SOCK_STREAM | O_CLOEXEC);
  if (typeof sp === 'number') throw new Error(`socketpair: errno ${-sp}`);
  return sp;
}

describe('gofer: the busy hook of serveExports', () => {
  for (const [label, threshold] of [['fires once at the threshold, counting both connections', 7], ['never fires below it', 1000]] as const) {
    it(label, async () => {
      const roots = [tmpdir('busy-root'), tmpdir('busy-bind')];
      const socks = [pair(), pair()];
      let fired = 0;
      let firedAt = -1;
      let sent = 0;
      const served = serveExports(
        roots.map((hostPath, i) => ({ hostPath, readonly: false, destination: i === 0 ? '/' : '/b', fileRoot: false })),
        socks.map((s) => s[0]),
        () => {},
        () => {},
        -1,
        { requests: threshold, then: () => (fired++, (firedAt = sent)) },
      );
      const clients = socks.map((s) => P9Client.overFd(s[1]));
      // One request at a time, each answered before the next: a Tversion on
      // each connection, then Tgetattrs of a fid never attached (each an error reply, and a request all the same).
      const one = async (c: P9Client, m: Parameters<P9Client['rpc']>[0], tag?: number) => {
        sent++;
        await c.rpc(m, tag);
      };
      for (const c of clients) await one(c, { type: MsgType.Tversion, tag: p9.NOTAG, msize: p9.MAX_MSIZE, version: p9.VERSION }, p9.NOTAG);
      for (let i = 0; i < 10; i++) await one(clients[i % 2], { type: MsgType.Tgetattr, tag: 0, fid: 77, mask: BigInt(p9.GETATTR_BASIC) });
      for (const c of clients) c.close();
      await served;
      if (threshold <= sent) {
        assert.equal(fired, 1);
        assert.equal(firedAt, threshold);
      } else assert.equal(fired, 0);
    });
  }
});
