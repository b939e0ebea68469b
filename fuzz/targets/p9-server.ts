// Target "9p-server": the gofer's 9P server (src/fs-gofer/server.ts and
// handlers.ts) over a DirectBackend of a temporary directory, fed mutated
// sessions in this process (no socket: the Connection's receive and send).
//
// An input is the byte stream a client sends; its first byte chooses how it
// is cut into reads. Sessions start as a client's would (Tversion, Tattach)
// and go on with random requests on a few fids, some frames corrupted, some
// random bytes. Required: every reply decodes, is an R-message and answers a
// tag that was sent and not yet answered; unless the server hung up, every
// frame is answered; nothing escapes into an uncaught exception; and after
// the session nothing outside the exported directory has changed (a sibling
// directory with a secret, reachable by symlinks from inside, is checked
// byte for byte, and the parent holds only the two directories).

import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import * as p9 from '../../src/p9/codec.js';
import { MsgType } from '../../src/p9/codec.js';
import { Connection } from '../../src/fs-gofer/server.js';
import { DirectBackend } from '../../src/fs-gofer/direct.js';
import { Rng } from '../rng.js';
import { concat, mutateBytes } from '../mutate.js';
import { COMMON_T, T_TYPES, randomMsg } from '../p9-messages.js';
import type { Target } from '../harness.js';

const SECRET = 'secret: must never change\n';
const FIDS = 6;

export function generateP9Session(rng: Rng, corpus: readonly Uint8Array[]): Uint8Array {
  const control = rng.u32() & 0xff;
  if (corpus.length > 0 && rng.chance(0.3)) {
    return concat(Uint8Array.of(control), mutateBytes(rng, rng.pick(corpus).subarray(1), 6, 1 << 20, rng.pick(corpus)));
  }
  const frames: Uint8Array[] = [];
  let tag = 0;
  if (rng.chance(0.97)) frames.push(p9.encode({ type: MsgType.Tversion, tag: p9.NOTAG, msize: rng.chance(0.9) ? 65536 : rng.pick([8192, 4096, p9.MAX_MSIZE]), version: rng.chance(0.5) ? p9.VERSION : p9.VERSION_IN_ORDER }));
  if (rng.chance(0.95)) frames.push(p9.encode({ type: MsgType.Tattach, tag: tag++, fid: 0, afid: p9.NOFID, uname: '', aname: '', nUname: rng.chance(0.8) ? 0 : rng.u32() }));
  for (let n = rng.size(40); n > 0; n--) {
    const type = rng.chance(0.8) ? rng.pick(COMMON_T) : rng.pick(T_TYPES);
    const t = rng.chance(0.03) ? rng.below(tag + 1) : tag++; // now and then a tag still in flight
    let frame: Uint8Array;
    try {
      frame = p9.encode(randomMsg(rng, type, t & 0xffff, FIDS));
    } catch {
      continue; // a value the codec refuses to send (more than 16 names in a walk)
    }
    if (rng.chance(0.1)) {
      frame = mutateBytes(rng, frame, 3, 1 << 20);
      // Keep most mutated frames framable: the size field tells the truth.
      if (frame.length >= 4 && rng.chance(0.8)) new DataView(frame.buffer, frame.byteOffset).setUint32(0, frame.length, true);
    }
    frames.push(frame);
  }
  if (rng.chance(0.05)) frames.push(rng.bytes(rng.size(64)));
  return concat(Uint8Array.of(control), ...frames);
}

/** Read sizes for `n` bytes, from the control byte. */
function chunking(control: number, n: number): number[] {
  const rng = new Rng(control * 104729 + n);
  const out: number[] = [];
  for (let left = n; left > 0; ) {
    const len = control & 1 ? left : 1 + rng.size(Math.min(left, 1024));
    out.push(Math.min(len, left));
    left -= len;
  }
  return out;
}

/** The whole frames at the head of a stream, and whether the rest is a frame's beginning (not a bad size). */
function splitFrames(body: Buffer): { frames: Buffer[]; framable: boolean } {
  const frames: Buffer[] = [];
  let off = 0;
  while (body.length - off >= 4) {
    const size = body.readUInt32LE(off);
    if (size < p9.HEADER_SIZE || size > p9.MAX_MSIZE) return { frames, framable: false };
    if (body.length - off < size) break;
    frames.push(body.subarray(off, off + size));
    off += size;
  }
  return { frames, framable: true };
}

/** Every entry under `dir` with its type, size, mode and (for files) content: what the escape check compares. */
function snapshot(dir: string): string {
  const out: string[] = [];
  const walk = (d: string) => {
    for (const name of fs.readdirSync(d).sort()) {
      const p = path.join(d, name);
      const st = fs.lstatSync(p);
      out.push(`${path.relative(dir, p)} ${st.mode.toString(8)} ${st.size} ${st.uid} ${st.gid}${st.isFile() ? ' ' + fs.readFileSync(p, 'latin1') : ''}`);
      if (st.isDirectory()) walk(p);
    }
  };
  walk(dir);
  return out.join('\n');
}

export class P9ServerTarget implements Target {
  readonly name = '9p-server';
  readonly description = 'the gofer Connection over a temporary directory: mutated 9P sessions and random bytes';
  readonly timeoutMs = 10000;
  readonly minimize = true;
  private outer = '';
  private root = '';
  private outside = '';
  private backend: DirectBackend | undefined;
  private outsideBefore = '';

  async setup(): Promise<void> {
    this.outer = fs.mkdtempSync(path.join(os.tmpdir(), 'tsvisor-fuzz-9p-'));
    this.root = path.join(this.outer, 'root');
    this.outside = path.join(this.outer, 'outside');
    fs.mkdirSync(this.outside);
    fs.writeFileSync(path.join(this.outside, 'secret'), SECRET, { mode: 0o644 });
    fs.mkdirSync(path.join(this.outside, 'sub'));
    this.outsideBefore = snapshot(this.outside);
    fs.mkdirSync(this.root);
    this.backend = DirectBackend.open(this.root, { readonly: false });
  }

  async teardown(): Promise<void> {
    this.backend?.close();
    fs.rmSync(this.outer, { recursive: true, force: true });
  }

  /** The export's contents before each session: files, a directory, symlinks pointing out. */
  private resetRoot(): void {
    for (const name of fs.readdirSync(this.root)) fs.rmSync(path.join(this.root, name), { recursive: true, force: true });
    fs.writeFileSync(path.join(this.root, 'f'), 'file f\n');
    fs.writeFileSync(path.join(this.root, 'file'), Buffer.alloc(70000, 0x61));
    fs.mkdirSync(path.join(this.root, 'dir'));
    fs.writeFileSync(path.join(this.root, 'dir', 'a'), 'a\n');
    fs.mkdirSync(path.join(this.root, 'dir', 'sub'));
    fs.symlinkSync('../outside', path.join(this.root, 'escape'));
    fs.symlinkSync(path.join(this.outside, 'secret'), path.join(this.root, 'abs'));
    fs.symlinkSync('f', path.join(this.root, 'link'));
    fs.symlinkSync('../../outside/sub', path.join(this.root, 'dir', 'b'));
  }

  generate(rng: Rng, corpus: readonly Uint8Array[]): Uint8Array {
    return generateP9Session(rng, corpus);
  }

  async run(input: Uint8Array): Promise<string | undefined> {
    this.resetRoot();
    const control = input.length > 0 ? input[0] : 0;
    const body = Buffer.from(input.buffer, input.byteOffset + 1, Math.max(0, input.length - 1));
    // What the client sent, frame by frame (our own framing, as the server's with the largest msize).
    const sentTags = new Map<number, number>();
    const { frames, framable } = splitFrames(body);
    for (const f of frames) sentTags.set(f.readUInt16LE(5), (sentTags.get(f.readUInt16LE(5)) ?? 0) + 1);
    let problem: string | undefined;
    let replies = 0;
    let hungUp = false;
    const conn = new Connection(
      { backend: this.backend!, hostPath: this.root },
      undefined,
      (b) => {
        replies++;
        const m = p9.decode(b);
        if (m instanceof p9.P9DecodeError) problem ??= `undecodable reply: ${m.reason}`;
        else if ((m.type & 1) === 0) problem ??= `reply of T-type ${MsgType[m.type] ?? m.type}`;
        else {
          const left = sentTags.get(m.tag) ?? 0;
          if (left <= 0) problem ??= `${MsgType[m.type]} to tag ${m.tag}, which no request left unanswered holds`;
          sentTags.set(m.tag, left - 1);
        }
      },
      () => {
        hungUp = true;
      },
    );
    let off = 0;
    for (const len of chunking(control, body.length)) {
      conn.receive(body.subarray(off, off + len));
      off += len;
      if (control & 2) await new Promise((r) => setImmediate(r));
    }
    // Let the requests finish: the pending map empties (or the connection hung up).
    const pending = (conn as unknown as { pending: Map<number, Promise<void>> }).pending;
    for (let i = 0; i < 2000 && pending.size > 0 && !hungUp; i++) await Promise.allSettled([...pending.values()]);
    await conn.close();
    if (problem) return problem;
    if (!hungUp && framable) {
      const unanswered = [...sentTags.entries()].filter(([, n]) => n > 0);
      if (unanswered.length > 0) return `unanswered requests without a hang-up: tags ${unanswered.map(([t]) => t).slice(0, 5).join(', ')}`;
    }
    const outerNow = fs.readdirSync(this.outer).sort().join(',');
    if (outerNow !== 'outside,root') return `escape: the export's parent now holds ${outerNow}`;
    const outsideNow = snapshot(this.outside);
    if (outsideNow !== this.outsideBefore) return `escape: a directory outside the export changed:\n${outsideNow}`;
    return undefined;
  }
}
