// Target "9p-client": the sandbox's 9P client (src/p9/client.ts), its
// FilesystemBackend (src/p9/backend.ts) and open files (src/p9/file.ts)
// against a hostile server in this process.
//
// An input is a stream of decisions (bytes; past its end every decision is
// 0, "answer well"): which backend or file call the kernel makes next with
// which arguments, and how the server answers each request: a plausible
// reply of the right type with random fields, an Rlerror with any code, the
// wrong type or tag, garbage, a size field out of bounds, a reply cut in
// pieces or sent twice, or a hang-up. The server never drops a request
// without hanging up, so every call must settle: with a value of its
// contract or an Errno, never a throw, within the time bound. Results are
// checked as the kernel relies on them: byte counts within the buffer,
// directory entries with names Linux would accept, nodes of a real file type,
// finite attribute numbers.

import * as p9 from '../../src/p9/codec.js';
import { MsgType, type Msg } from '../../src/p9/codec.js';
import { P9Client, type Transport } from '../../src/p9/client.js';
import { P9Backend } from '../../src/p9/backend.js';
import { isErrno } from '../../src/linux/errno.js';
import { S_IFBLK, S_IFCHR, S_IFDIR, S_IFIFO, S_IFLNK, S_IFMT, S_IFREG, S_IFSOCK } from '../../src/linux/abi.js';
import type { Attr, BackendFile, BackendNode } from '../../src/backend/backend.js';
import { Rng } from '../rng.js';
import { mutateBytes } from '../mutate.js';
import { NAMES, fieldValue } from '../p9-messages.js';
import type { Target } from '../harness.js';

const FILE_TYPES = new Set([S_IFBLK, S_IFCHR, S_IFDIR, S_IFIFO, S_IFLNK, S_IFREG, S_IFSOCK]);

/** Reads decisions from the input; 0 once it is used up. */
class Decisions {
  private at = 0;
  constructor(private readonly bytes: Uint8Array) {}
  byte(): number {
    return this.at < this.bytes.length ? this.bytes[this.at++] : 0;
  }
  below(n: number): number {
    return n <= 256 ? this.byte() % n : ((this.byte() << 8) | this.byte()) % n;
  }
  u32(): number {
    return ((this.byte() << 24) | (this.byte() << 16) | (this.byte() << 8) | this.byte()) >>> 0;
  }
  get exhausted(): boolean {
    return this.at >= this.bytes.length;
  }
}

/** A reply of `type` with random fields. */
function randomReply(rng: Rng, type: MsgType, tag: number): Msg {
  const m: Msg = { type, tag };
  for (const [name, kind] of p9.LAYOUTS[type] ?? []) m[name] = fieldValue(rng, name, kind, 8);
  return m;
}

/** A plausible reply to `t`: its R-type with fields near what a server would say, random from `rng`. */
function plausibleReply(rng: Rng, t: Msg): Msg {
  const m = randomReply(rng, t.type + 1, t.tag);
  switch (t.type) {
    case MsgType.Tversion:
      m.msize = rng.chance(0.8) ? t.msize : rng.pick([0, 7, 4096, 8192, p9.MAX_MSIZE + 1, 0xffffffff]);
      m.version = rng.chance(0.8) ? t.version : rng.pick([p9.VERSION, 'unknown', '9P2000']);
      break;
    case MsgType.Twalk: {
      const n = (t.names as string[]).length;
      m.qids = (m.qids as unknown[]).slice(0, rng.chance(0.8) ? n : rng.below(n + 3));
      break;
    }
    case MsgType.Tgetattr:
      if (rng.chance(0.7)) m.mode = (rng.pick([S_IFDIR, S_IFREG, S_IFLNK, S_IFIFO, 0, S_IFMT, 0o030000]) | (rng.u32() & 0o7777)) >>> 0;
      break;
    case MsgType.Tread: {
      const count = t.count as number;
      const len = rng.chance(0.8) ? rng.below(count + 1) : count + rng.range(1, 100);
      m.data = rng.bytes(Math.min(len, 70000));
      break;
    }
    case MsgType.Twrite:
      m.count = rng.chance(0.8) ? rng.below((t.data as Uint8Array).length + 1) : rng.pick([0xffffffff, (t.data as Uint8Array).length + 1, 0x80000000]);
      break;
    case MsgType.Treaddir:
      m.data = rng.chance(0.7) ? direntData(rng) : rng.bytes(rng.size(200));
      break;
    case MsgType.Treadlink:
      m.target = rng.pick(['f', '', '/', 'x'.repeat(5000), '../../etc', 'a\u0000b']);
      break;
  }
  return m;
}

/** Directory entries as Rreaddir carries them, with names from the dictionary (some invalid). */
function direntData(rng: Rng): Uint8Array {
  const parts: Buffer[] = [];
  for (let n = rng.size(8); n > 0; n--) {
    const name = Buffer.from(rng.chance(0.8) ? rng.pick(NAMES) : rng.pick(['', 'a/b', 'x\u0000y', '/', 'x'.repeat(300)]), 'utf8');
    const e = Buffer.alloc(24 + name.length);
    e[0] = rng.pick([0, 0x80, 0x02]);
    e.writeUInt32LE(rng.u32(), 1);
    e.writeBigUInt64LE(rng.u64(), 5);
    e.writeBigUInt64LE(rng.chance(0.7) ? BigInt(rng.below(100)) : rng.u64(), 13);
    e[21] = rng.pick([4, 8, 10, 0, 255]);
    e.writeUInt16LE(name.length, 22);
    name.copy(e, 24);
    parts.push(e);
  }
  return Buffer.concat(parts);
}

/** The hostile server: answers each request the client writes, as the decisions say. */
class HostileServer implements Transport {
  private readonly handlers: { data: ((b: Buffer) => void)[]; close: (() => void)[]; error: ((e: Error) => void)[] } = { data: [], close: [], error: [] };
  private closed = false;

  constructor(private readonly d: Decisions) {}

  on(ev: 'data' | 'close' | 'error', f: never): unknown {
    (this.handlers[ev] as unknown[]).push(f);
    return this;
  }

  destroy(): unknown {
    this.hangUp();
    return this;
  }

  write(b: Buffer): unknown {
    if (this.closed) return false;
    const t = p9.decode(b);
    if (t instanceof p9.P9DecodeError) {
      this.later(() => this.hangUp());
      return true;
    }
    const choice = this.d.byte();
    const rng = new Rng(this.d.u32());
    const reply = (m: Msg): Buffer => {
      try {
        return p9.encode(m);
      } catch {
        return p9.encode({ type: MsgType.Rlerror, tag: m.tag, ecode: 5 });
      }
    };
    if (choice < 150) this.send(reply(plausibleReply(rng, t)));
    else if (choice < 180) this.send(reply({ type: MsgType.Rlerror, tag: t.tag, ecode: rng.pick([1, 2, 5, 13, 17, 20, 21, 22, 28, 36, 0, 4095, 4096, 0xffffffff, rng.u32()]) }));
    else if (choice < 190) this.send(reply(randomReply(rng, rng.pick([MsgType.Rread, MsgType.Rwalk, MsgType.Rgetattr, MsgType.Rversion, MsgType.Rlopen, MsgType.Rclunk]), t.tag)));
    else if (choice < 220) {
      // The request is forgotten (a reply under another tag) or its reply garbled, so the
      // framing or the wait may never end: the server hangs up after it, as a broken one would.
      if (choice < 200) this.send(reply({ ...plausibleReply(rng, t), tag: rng.chance(0.5) ? (t.tag + 1) & 0xffff : rng.u32() & 0xffff }));
      else if (choice < 210) this.send(Buffer.from(mutateBytes(rng, reply(plausibleReply(rng, t)), 4, 1 << 20)));
      else {
        const r = reply(plausibleReply(rng, t));
        r.writeUInt32LE(rng.pick([0, 3, 6, p9.MAX_MSIZE + 1, 0xffffffff]), 0);
        this.send(r);
      }
      setTimeout(() => this.hangUp(), 1);
    } else if (choice < 235) {
      const r = reply(plausibleReply(rng, t));
      const cut = rng.below(r.length + 1);
      this.send(r.subarray(0, cut));
      this.send(r.subarray(cut));
    } else if (choice < 245) {
      const r = reply(plausibleReply(rng, t));
      this.send(r);
      this.send(r);
    } else this.later(() => this.hangUp());
    return true;
  }

  private later(f: () => void): void {
    setImmediate(f);
  }

  private send(b: Buffer): void {
    const copy = Buffer.from(b);
    this.later(() => {
      if (this.closed) return;
      for (const h of this.handlers.data) h(copy);
    });
  }

  private hangUp(): void {
    if (this.closed) return;
    this.closed = true;
    for (const h of this.handlers.close) h();
  }
}

function badAttr(a: Attr): string | undefined {
  for (const [k, v] of Object.entries(a)) {
    if (typeof v === 'number' && !Number.isFinite(v)) return `attribute ${k} is ${v}`;
  }
  return undefined;
}

export class P9ClientTarget implements Target {
  readonly name = '9p-client';
  readonly description = 'P9Client, P9Backend and P9File against a hostile in-process server answering with random and mutated replies';
  readonly timeoutMs = 5000;
  readonly minimize = true;

  generate(rng: Rng, corpus: readonly Uint8Array[]): Uint8Array {
    if (corpus.length > 0 && rng.chance(0.3)) return mutateBytes(rng, rng.pick(corpus), 8, 4096, rng.pick(corpus));
    // Mostly good answers (byte < 150) so sessions get deep, with hostile ones mixed in.
    const out = rng.bytes(rng.size(1500));
    const hostility = rng.float();
    for (let i = 0; i < out.length; i++) if (rng.float() > hostility && out[i] >= 150) out[i] = rng.below(150);
    return out;
  }

  async run(input: Uint8Array): Promise<string | undefined> {
    const d = new Decisions(input);
    const server = new HostileServer(d);
    const client = new P9Client(server);
    const b = await P9Backend.connect(client, { aname: '/export', uid: 0, readonly: d.byte() === 1 });
    if (isErrno(b)) return undefined;
    const nodes: BackendNode[] = [];
    const files: { f: BackendFile; type: number }[] = [];
    const r0 = await b.root();
    if (!isErrno(r0)) nodes.push(r0);
    for (let step = 0; step < 200 && !d.exhausted; step++) {
      const node = nodes.length ? nodes[d.below(nodes.length)] : undefined;
      const file = files.length ? files[d.below(files.length)] : undefined;
      const name = NAMES[d.below(NAMES.length)];
      const op = d.below(22);
      const what = `step ${step} op ${op}`;
      if (!node && op < 13) continue;
      if (!file && op >= 13 && op < 20) continue;
      switch (op) {
        case 0: {
          const n = await b.walk(node!, name);
          if (!isErrno(n)) {
            if (!FILE_TYPES.has(n.type)) return `${what}: walk gave a node of file type 0o${n.type.toString(8)}`;
            nodes.push(n);
          }
          break;
        }
        case 1: {
          const a = await b.getattr(node!);
          if (!isErrno(a)) {
            const bad = badAttr(a);
            if (bad) return `${what}: getattr: ${bad}`;
          }
          break;
        }
        case 2: {
          const t = await b.readlink(node!);
          if (!isErrno(t) && typeof t !== 'string') return `${what}: readlink gave ${typeof t}`;
          break;
        }
        case 3: {
          const f = await b.open(node!, d.below(3) | (d.byte() & 0o1000));
          if (!isErrno(f)) files.push({ f, type: node!.type });
          break;
        }
        case 4: {
          const c = await b.create(node!, name, d.below(3), 0o644, d.below(3) * 1000, 0);
          if (!isErrno(c)) {
            if (!FILE_TYPES.has(c.node.type)) return `${what}: create gave a node of file type 0o${c.node.type.toString(8)}`;
            nodes.push(c.node);
            files.push({ f: c.file, type: c.node.type });
          }
          break;
        }
        case 5:
          await b.mkdir(node!, name, 0o755, d.below(2) * 1000, 0);
          break;
        case 6:
          await b.symlink(node!, name, NAMES[d.below(NAMES.length)], d.below(2) * 1000, 0);
          break;
        case 7:
          await b.mkfifo(node!, name, 0o644, 0, 0);
          break;
        case 8:
          await b.link(node!, name, nodes[d.below(nodes.length)]);
          break;
        case 9:
          await b.unlink(node!, name, d.below(2) ? 0x200 : 0);
          break;
        case 10:
          await b.rename(node!, name, nodes[d.below(nodes.length)], NAMES[d.below(NAMES.length)], d.below(3));
          break;
        case 11:
          await b.setattr(node!, d.below(2) ? { size: d.u32() } : { mode: d.u32() & 0o7777, atime: 'now', mtime: [d.u32(), d.u32() % 1e9] });
          break;
        case 12: {
          const s = await b.statfs(node!);
          if (!isErrno(s) && typeof s !== 'object') return `${what}: statfs gave ${typeof s}`;
          break;
        }
        case 13: {
          const buf = new Uint8Array(d.below(3) === 0 ? d.u32() % 200000 : d.below(200));
          const n = await file!.f.read(buf, d.u32());
          if (!isErrno(n) && (!Number.isInteger(n) || n < 0 || n > buf.length)) return `${what}: read of ${buf.length} bytes gave ${n}`;
          break;
        }
        case 14: {
          const buf = new Uint8Array(d.below(3) === 0 ? d.u32() % 200000 : d.below(200));
          const n = await file!.f.write(buf, d.u32());
          if (!isErrno(n) && (!Number.isInteger(n) || n < 0 || n > buf.length)) return `${what}: write of ${buf.length} bytes gave ${n}`;
          break;
        }
        case 15: {
          const ents = await file!.f.readdir(d.below(4), d.below(2) ? 4096 : d.below(100));
          if (!isErrno(ents)) {
            for (const e of ents) {
              if (e.name === '' || e.name.includes('/') || e.name.includes('\0')) return `${what}: readdir gave an entry named ${JSON.stringify(e.name)}`;
              if (!Number.isSafeInteger(e.next) || e.next < 0) return `${what}: readdir gave cookie ${e.next}`;
            }
          }
          break;
        }
        case 16: {
          const a = await file!.f.getattr();
          if (!isErrno(a)) {
            const bad = badAttr(a);
            if (bad) return `${what}: file getattr: ${bad}`;
          }
          break;
        }
        case 17:
          await file!.f.allocate(d.u32() % 100000, 1 + (d.u32() % 100000));
          break;
        case 18:
          await file!.f.fsync(d.below(2) === 1);
          break;
        case 19:
          await file!.f.close();
          break;
        case 20:
          if (nodes.length) await b.release(nodes.splice(d.below(nodes.length), 1)[0]);
          break;
        default: {
          const r = await b.root();
          if (!isErrno(r)) nodes.push(r);
        }
      }
    }
    for (const f of files) await f.f.close();
    for (const n of nodes) await b.release(n);
    b.close();
    return undefined;
  }
}
