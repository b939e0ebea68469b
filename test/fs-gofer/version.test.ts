// The client's two dialects (src/p9/codec.ts VERSION_IN_ORDER): with our
// gofer it sends a Twalk and the request on its new fid together; with a
// server that refuses the in-order dialect (as diod does, which runs requests
// on several threads and crashed on such pairs) it must never name a fid
// before the reply that binds it has come back.

import * as assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as net from 'node:net';
import * as path from 'node:path';
import * as p9 from '../../src/p9/codec.js';
import { MsgType, type Msg } from '../../src/p9/codec.js';
import { P9Client, type Transport } from '../../src/p9/client.js';
import { P9Backend } from '../../src/p9/backend.js';
import { isErrno, type Errno } from '../../src/linux/errno.js';
import { startGofer, tmpdir } from './util.js';

function ok<T>(v: T | Errno): T {
  if (isErrno(v)) throw new Error(`unexpected ${v.name}`);
  return v;
}

/**
 * A Transport for the client that relays to a live gofer and checks every
 * request: a fid it names must already be bound by a reply the client has
 * seen (Rattach, Rwalk), unless `inOrder` lets the client run ahead. With
 * `refuseInOrder` it answers Tversion VERSION_IN_ORDER with Rlerror EIO, as diod does.
 */
class CheckingRelay implements Transport {
  readonly requests: MsgType[] = [];
  readonly early: string[] = [];
  private readonly bound = new Set<number>();
  private readonly pendingBind = new Map<number, number>(); // tag -> fid a successful reply binds
  private readonly fromClient = new p9.Framer(1 << 24);
  private readonly fromServer = new p9.Framer(1 << 24);
  private readonly handlers: { data: ((b: Buffer) => void)[]; close: (() => void)[]; error: ((e: Error) => void)[] } = { data: [], close: [], error: [] };
  private readonly sock: net.Socket;

  constructor(fd: number, private readonly refuseInOrder: boolean) {
    this.sock = new net.Socket({ fd, readable: true, writable: true });
    this.sock.on('data', (b) => this.fromGofer(b));
    this.sock.on('close', () => this.handlers.close.forEach((f) => f()));
    this.sock.on('error', (e) => this.handlers.error.forEach((f) => f(e)));
  }

  on(ev: 'data' | 'close' | 'error', f: (x: never) => void): this {
    (this.handlers[ev] as unknown[]).push(f);
    return this;
  }

  destroy(): void {
    this.sock.destroy();
  }

  write(b: Buffer): boolean {
    for (const f of this.fromClient.push(b) as Buffer[]) {
      const m = p9.decode(f) as Msg;
      this.requests.push(m.type);
      if (m.type === MsgType.Tversion && m.version === p9.VERSION_IN_ORDER && this.refuseInOrder) {
        const reply = p9.encode({ type: MsgType.Rlerror, tag: m.tag, ecode: 5 });
        setImmediate(() => this.handlers.data.forEach((h) => h(reply)));
        continue;
      }
      if (m.type === MsgType.Tversion) this.bound.clear();
      if (m.type === MsgType.Tattach) this.pendingBind.set(m.tag, m.fid as number);
      else if (m.type === MsgType.Twalk) {
        this.need(m, m.fid as number);
        this.pendingBind.set(m.tag, m.newfid as number);
      } else {
        for (const k of ['fid', 'dfid', 'olddirfid', 'newdirfid'] as const) if (typeof m[k] === 'number') this.need(m, m[k] as number);
      }
      if (m.type === MsgType.Tclunk || m.type === MsgType.Tremove) this.bound.delete(m.fid as number);
      this.sock.write(f);
    }
    return true;
  }

  private need(m: Msg, fid: number): void {
    if (!this.bound.has(fid)) this.early.push(`${MsgType[m.type]} on fid ${fid} before its binding reply`);
  }

  private fromGofer(b: Buffer): void {
    for (const f of this.fromServer.push(b) as Buffer[]) {
      const m = p9.decode(f) as Msg;
      const fid = this.pendingBind.get(m.tag);
      this.pendingBind.delete(m.tag);
      if (fid !== undefined && m.type !== MsgType.Rlerror) this.bound.add(fid);
      this.handlers.data.forEach((h) => h(f));
    }
  }
}

describe('9P client dialects: in order with our gofer, one request at a time on a new fid elsewhere', () => {
  for (const refuse of [false, true]) {
    it(refuse ? 'a server that refuses 9P2000.L.tsvisor: the client falls back and never names a fid before it is bound' : 'our gofer takes 9P2000.L.tsvisor and the client sends walk+getattr and clone+open together', async () => {
      const root = tmpdir('dialect');
      fs.mkdirSync(path.join(root, 'd'));
      fs.writeFileSync(path.join(root, 'd', 'f'), 'contents');
      const g = startGofer(root);
      const relay = new CheckingRelay(g.clientFd, refuse);
      const client = new P9Client(relay);
      try {
        const b = ok(await P9Backend.connect(client, { aname: root, uid: process.getuid?.() ?? 0, readonly: false }));
        assert.equal(client.inOrder, !refuse);
        const d = ok(await b.walk(ok(await b.root()), 'd'));
        const f = ok(await b.walk(d, 'f'));
        assert.equal(((await b.walk(d, 'missing')) as Errno).name, 'ENOENT');
        const file = ok(await b.open(f, 0));
        const buf = Buffer.alloc(16);
        const n = ok(await file.read(buf, 0));
        assert.equal(buf.subarray(0, n).toString(), 'contents');
        await file.close();
        const versions = relay.requests.filter((t) => t === MsgType.Tversion).length;
        if (refuse) {
          assert.equal(versions, 2, 'asked for the in-order dialect, then for 9P2000.L');
          assert.deepEqual(relay.early, []);
        } else {
          assert.equal(versions, 1);
          assert.ok(relay.early.some((e) => e.startsWith('Tgetattr')), `the getattr of a walk goes with it: ${relay.early.join('; ')}`);
          assert.ok(relay.early.some((e) => e.startsWith('Tlopen')), `the lopen goes with its clone: ${relay.early.join('; ')}`);
        }
      } finally {
        client.close();
        await g.stop();
        fs.rmSync(root, { recursive: true, force: true });
      }
    });
  }
});
