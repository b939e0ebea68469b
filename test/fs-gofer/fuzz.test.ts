// The live gofer process (`tsvisor gofer`) against thousands of malformed and
// random 9P messages: it never crashes, every reply it sends is a well-formed
// R-message answering a tag we sent, and afterwards a good client still works.

import * as assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as net from 'node:net';
import * as path from 'node:path';
import { spawn } from 'node:child_process';
import * as p9 from '../../src/p9/codec.js';
import { MsgType, type Msg } from '../../src/p9/codec.js';
import { defaultSpec } from '../../src/spec/load.js';
import { socketpair, O_CLOEXEC, closeFd } from '../../src/host/ffi.js';
import { P9Client } from '../../src/p9/client.js';
import { P9Backend } from '../../src/p9/backend.js';
import { isErrno } from '../../src/linux/errno.js';
import { repoRoot } from '../util/bundle.js';
import { tmpdir } from './util.js';

function rng(seed: number): () => number {
  let s = seed >>> 0 || 1;
  return () => {
    s ^= s << 13;
    s >>>= 0;
    s ^= s >>> 17;
    s ^= s << 5;
    s >>>= 0;
    return s / 2 ** 32;
  };
}

const NAMES = ['a', 'b', 'dir', 'f', '..', '.', '', 'a/b', 'x'.repeat(300), '\u00e9t\u00e9', 'link', 'nope'];

/** A random message: mostly T-messages with plausible fields, sometimes anything. */
function randomMsg(rand: () => number, tag: number): Buffer {
  const types = Object.keys(p9.LAYOUTS).map(Number);
  const type = types[Math.floor(rand() * types.length)];
  const m: Msg = { type, tag };
  const pick = <T>(a: T[]): T => a[Math.floor(rand() * a.length)];
  for (const [name, kind] of p9.LAYOUTS[type]) {
    switch (kind) {
      case 'u8': m[name] = Math.floor(rand() * 256); break;
      case 'u16': m[name] = Math.floor(rand() * 65536); break;
      case 'u32': m[name] = rand() < 0.7 ? Math.floor(rand() * 12) : rand() < 0.5 ? 0xffffffff : Math.floor(rand() * 2 ** 32); break;
      case 'u64': m[name] = rand() < 0.6 ? BigInt(Math.floor(rand() * 70000)) : BigInt.asUintN(64, BigInt(Math.floor(rand() * 2 ** 53)) << 11n); break;
      case 'str': m[name] = pick(NAMES); break;
      case 'qid': m[name] = { type: 0, version: 0, path: 1n }; break;
      case 'data': m[name] = new Uint8Array(Math.floor(rand() * 64)); break;
      case 'strs': m[name] = Array.from({ length: Math.floor(rand() * 5) }, () => pick(NAMES)); break;
      case 'qids': m[name] = []; break;
    }
  }
  const b = p9.encode(m);
  if (rand() < 0.3) {
    // Corrupt bytes after the size field, and sometimes the length, keeping the frame intact.
    for (let k = 0; k < 1 + Math.floor(rand() * 4); k++) b[4 + Math.floor(rand() * (b.length - 4))] = Math.floor(rand() * 256);
    b.writeUInt16LE(tag, 5);
    if (rand() < 0.3 && b.length > 8) {
      const cut = b.subarray(0, 7 + Math.floor(rand() * (b.length - 7)));
      cut.writeUInt32LE(cut.length, 0);
      return cut;
    }
  }
  return b;
}

function makeBundle(root: string, binds: number): { bundle: string; config: string } {
  const bundle = tmpdir('p9fuzz-bundle');
  const spec = defaultSpec() as unknown as { root: { path: string; readonly: boolean }; mounts: unknown[] };
  spec.root = { path: root, readonly: false };
  spec.mounts = Array.from({ length: binds }, (_, i) => ({ destination: `/m${i}`, type: 'bind', source: root, options: ['rbind', 'rw'] }));
  const config = path.join(bundle, 'config.json');
  fs.writeFileSync(config, JSON.stringify(spec));
  return { bundle, config };
}

describe('gofer process: fuzzing', function () {
  this.timeout(120000);

  it('survives thousands of malformed and random messages and still serves a good client', async () => {
    const outer = tmpdir('p9fuzz');
    const root = path.join(outer, 'root');
    fs.mkdirSync(root);
    fs.writeFileSync(path.join(root, 'f'), 'file f');
    fs.mkdirSync(path.join(root, 'dir'));
    fs.symlinkSync('/etc/passwd', path.join(root, 'link'));
    const { bundle, config } = makeBundle(root, 2);
    const pairs = [0, 1, 2].map(() => socketpair(1 | O_CLOEXEC) as [number, number]);
    const specFd = fs.openSync(config, 'r');
    const cli = path.join(repoRoot(), 'dist', 'src', 'main', 'cli.js');
    const child = spawn(process.execPath, [cli, 'gofer', `--bundle=${bundle}`, '--spec-fd=3', '--io-fds=4,5,6'], { stdio: ['ignore', 'ignore', 'pipe', specFd, ...pairs.map((p) => p[0])] });
    fs.closeSync(specFd);
    for (const p of pairs) closeFd(p[0]);
    let stderr = '';
    child.stderr!.on('data', (d) => (stderr += d));
    let exited: number | null | undefined;
    child.on('exit', (code) => (exited = code));

    // Connection 0: a byte stream that cannot be framed: the gofer hangs up.
    const s0 = new net.Socket({ fd: pairs[0][1], readable: true, writable: true });
    const closed0 = new Promise<void>((res) => s0.on('close', () => res()));
    s0.on('error', () => {});
    s0.write(Buffer.from([0xff, 0xff, 0xff, 0x7f, 1, 2, 3, 4]));
    await closed0;

    // Connection 1: thousands of framed but random or corrupted messages.
    const s1 = new net.Socket({ fd: pairs[1][1], readable: true, writable: true });
    const framer = new p9.Framer(64 * 1024 * 1024);
    const sent = new Set<number>();
    let replies = 0;
    let bad = '';
    s1.on('data', (chunk: Buffer) => {
      const frames = framer.push(chunk);
      if (frames instanceof p9.P9DecodeError) return void (bad ||= `unframable reply: ${frames.reason}`);
      for (const f of frames) {
        const m = p9.decode(f);
        if (m instanceof p9.P9DecodeError) bad ||= `undecodable reply: ${m.reason}`;
        else if ((m.type & 1) === 0) bad ||= `reply of T type ${m.type}`;
        else if (!sent.has(m.tag)) bad ||= `reply to tag ${m.tag} never sent (or answered twice)`;
        else {
          sent.delete(m.tag);
          replies++;
        }
      }
    });
    let s1Closed = false;
    s1.on('close', () => (s1Closed = true));
    const send = (b: Buffer, tag: number) => {
      sent.add(tag);
      s1.write(b);
    };
    send(p9.encode({ type: MsgType.Tversion, tag: p9.NOTAG, msize: 65536, version: p9.VERSION }), p9.NOTAG);
    send(p9.encode({ type: MsgType.Tattach, tag: 1, fid: 0, afid: p9.NOFID, uname: '', aname: '', nUname: 0 }), 1);
    const rand = rng(4242);
    const N = 5000;
    for (let i = 0; i < N; i++) {
      const tag = 2 + (i % 60000);
      if (rand() < 0.02) {
        // Now and then a new Tversion (it resets the fids) and attach, so walks have something to reach.
        send(p9.encode({ type: MsgType.Tattach, tag, fid: Math.floor(rand() * 4), afid: p9.NOFID, uname: '', aname: '', nUname: 0 }), tag);
      } else send(randomMsg(rand, tag), tag);
      if (i % 200 === 199) await new Promise((r) => setTimeout(r, 5));
    }
    // Wait for the answers to settle.
    for (let t = 0; t < 200 && sent.size > 0 && !s1Closed; t++) await new Promise((r) => setTimeout(r, 50));
    assert.equal(bad, '', 'every reply is a well-formed R-message to a tag we sent');
    assert.equal(s1Closed, false, 'framed garbage gets Rlerror, not a hang-up');
    assert.equal(sent.size, 0, `every request was answered (${replies} replies)`);
    assert.equal(exited, undefined, `the gofer is alive; stderr: ${stderr}`);

    // A good client on the same connection afterwards (Tversion resets it).
    s1.removeAllListeners('data');
    const client = new P9Client(s1 as unknown as net.Socket);
    const b = await P9Backend.connect(client, { aname: root, uid: 0, readonly: false });
    assert.ok(!isErrno(b), `connect: ${String(b)}`);
    const r = await b.root();
    assert.ok(!isErrno(r));
    const f = await b.walk(r, 'f');
    assert.ok(!isErrno(f));
    const file = await b.open(f, 0);
    assert.ok(!isErrno(file));
    const buf = new Uint8Array(16);
    const n = await file.read(buf, 0);
    assert.equal(Buffer.from(buf.subarray(0, n as number)).toString(), 'file f');
    // And a good client on the third, untouched connection.
    const c2 = await P9Backend.connect(P9Client.overFd(pairs[2][1]), { aname: root, uid: 0, readonly: false });
    assert.ok(!isErrno(c2));
    assert.ok(!isErrno(await c2.root()));
    // Nothing was made outside the root.
    assert.deepEqual(fs.readdirSync(outer), ['root']);
    b.close();
    c2.close();
    const code = await new Promise<number | null>((res) => (exited !== undefined ? res(exited) : child.on('exit', (c) => res(c))));
    assert.equal(code, 0, `the gofer exits 0 once its connections close; stderr: ${stderr}`);
  });
});
