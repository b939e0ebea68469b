import * as assert from 'node:assert/strict';
import { decode, encode, encodeDirents, decodeDirents, Framer, LAYOUTS, Msg, MsgType, P9DecodeError } from '../../src/p9/codec.js';

/** A deterministic PRNG (xorshift32) so a failing fuzz case can be replayed. */
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

describe('p9 codec', () => {
  it('round-trips Twalk with names and Rwalk with qids', () => {
    const t: Msg = { type: MsgType.Twalk, tag: 7, fid: 1, newfid: 2, names: ['a', 'bé', 'c'] };
    const d = decode(encode(t));
    assert.deepEqual(d, t);
    const r: Msg = { type: MsgType.Rwalk, tag: 7, qids: [{ type: 0x80, version: 3, path: 2n ** 63n + 5n }] };
    assert.deepEqual(decode(encode(r)), r);
  });

  it('round-trips every layout with filled fields', () => {
    for (const [t, layout] of Object.entries(LAYOUTS)) {
      const m: Msg = { type: Number(t), tag: 0xfffe };
      for (const [name, kind] of layout) {
        m[name] = { u8: 200, u16: 65000, u32: 0xfffffff0, u64: 0xfedcba9876543210n, str: 'name-' + name, qid: { type: 2, version: 9, path: 77n }, data: new Uint8Array([1, 2, 3]), strs: ['x', 'y'], qids: [{ type: 0, version: 0, path: 1n }] }[kind];
      }
      const back = decode(encode(m));
      assert.ok(!(back instanceof P9DecodeError), `${MsgType[Number(t)]}: ${(back as P9DecodeError).reason}`);
      for (const k of Object.keys(m)) {
        const v: unknown = (back as Msg)[k];
        assert.deepEqual(v instanceof Uint8Array ? Array.from(v) : v, m[k] instanceof Uint8Array ? Array.from(m[k] as Uint8Array) : m[k], `${MsgType[Number(t)]}.${k}`);
      }
    }
  });

  it('refuses a wrong size field, trailing bytes, short fields, unknown types, bad UTF-8 and too many names', () => {
    const good = encode({ type: MsgType.Tattach, tag: 1, fid: 0, afid: 0xffffffff, uname: 'root', aname: '/x', nUname: 0 });
    const grown = Buffer.concat([good, Buffer.from([0])]);
    assert.ok(decode(grown) instanceof P9DecodeError, 'size field does not match');
    grown.writeUInt32LE(grown.length, 0);
    assert.match((decode(grown) as P9DecodeError).reason, /after the last field/);
    const cut = Buffer.from(good.subarray(0, good.length - 2));
    cut.writeUInt32LE(cut.length, 0);
    assert.match((decode(cut) as P9DecodeError).reason, /does not fit/);
    const unknown = Buffer.from([7, 0, 0, 0, 250, 1, 0]);
    const e = decode(unknown) as P9DecodeError;
    assert.match(e.reason, /unknown message type/);
    assert.equal(e.tag, 1);
    const bad = encode({ type: MsgType.Treadlink, tag: 1, fid: 0 });
    assert.ok(!(decode(bad) instanceof P9DecodeError));
    const s = encode({ type: MsgType.Rreadlink, tag: 1, target: 'ab' });
    s[s.length - 1] = 0xff;
    assert.ok(decode(s) instanceof P9DecodeError, 'invalid UTF-8');
    const w = encode({ type: MsgType.Twalk, tag: 1, fid: 0, newfid: 1, names: [] });
    w.writeUInt16LE(17, 15);
    assert.match((decode(w) as P9DecodeError).reason, /at most 16/);
    // A data count larger than the message.
    const r = encode({ type: MsgType.Twrite, tag: 1, fid: 0, offset: 0n, data: new Uint8Array(4) });
    r.writeUInt32LE(5, 19);
    assert.ok(decode(r) instanceof P9DecodeError);
  });

  it('encode refuses out-of-range fields of our own', () => {
    assert.throws(() => encode({ type: MsgType.Tclunk, tag: 1, fid: -1 }), RangeError);
    assert.throws(() => encode({ type: MsgType.Tclunk, tag: 70000, fid: 1 }), RangeError);
  });

  it('packs directory entries up to a byte limit and unpacks them', () => {
    const ents = [0, 1, 2, 3].map((i) => ({ qid: { type: 0, version: 0, path: BigInt(i + 10) }, offset: BigInt(i + 1), type: 8, name: `file${i}` }));
    const { data, count } = encodeDirents(ents, 24 * 3 + 5 * 3);
    assert.equal(count, 3);
    assert.deepEqual(decodeDirents(data), ents.slice(0, 3));
    assert.ok(decodeDirents(data.subarray(0, data.length - 1)) instanceof P9DecodeError);
  });

  it('frames a stream split at every byte and refuses out-of-bounds sizes', () => {
    const msgs = [encode({ type: MsgType.Tversion, tag: 0xffff, msize: 8192, version: '9P2000.L' }), encode({ type: MsgType.Tclunk, tag: 3, fid: 9 })];
    const all = Buffer.concat(msgs);
    const f = new Framer(8192);
    const got: Buffer[] = [];
    for (let i = 0; i < all.length; i++) got.push(...(f.push(all.subarray(i, i + 1)) as Buffer[]));
    assert.deepEqual(got.map((b) => Buffer.from(b)), msgs);
    assert.ok(new Framer(8192).push(Buffer.from([3, 0, 0, 0])) instanceof P9DecodeError);
    assert.ok(new Framer(8192).push(Buffer.from([1, 0x20, 0, 0])) instanceof P9DecodeError);
  });

  it('fuzz: random bytes and mutated messages decode to a value, never throw', () => {
    const rand = rng(12345);
    const seeds = Object.keys(LAYOUTS).map((t) => {
      const m: Msg = { type: Number(t), tag: 1 };
      for (const [name, kind] of LAYOUTS[Number(t)]) m[name] = { u8: 1, u16: 2, u32: 3, u64: 4n, str: 'abc', qid: { type: 0, version: 0, path: 1n }, data: new Uint8Array(5), strs: ['a', 'b'], qids: [{ type: 0, version: 0, path: 1n }] }[kind];
      return encode(m);
    });
    let errors = 0;
    for (let i = 0; i < 20000; i++) {
      let b: Buffer;
      if (i % 2 === 0) {
        b = Buffer.from(seeds[Math.floor(rand() * seeds.length)]);
        const flips = 1 + Math.floor(rand() * 4);
        for (let j = 0; j < flips; j++) b[Math.floor(rand() * b.length)] = Math.floor(rand() * 256);
        if (rand() < 0.3) b = b.subarray(0, Math.floor(rand() * b.length));
      } else {
        b = Buffer.alloc(Math.floor(rand() * 64));
        for (let j = 0; j < b.length; j++) b[j] = Math.floor(rand() * 256);
        if (b.length >= 5 && rand() < 0.7) b.writeUInt32LE(b.length, 0);
      }
      const d = decode(b);
      if (d instanceof P9DecodeError) errors++;
      else assert.ok(LAYOUTS[d.type], 'decoded only known types');
    }
    assert.ok(errors > 10000, `most random inputs are refused (${errors})`);
  });
});
