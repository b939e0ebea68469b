// Target "urpc": the control server (src/main/control-server.ts) and its
// framing (src/main/urpc.ts), fed random and mutated request streams.
//
// An input is the byte stream one peer sends on one connection. Its first
// byte chooses how it is cut into writes and whether the peer ends its side
// or vanishes mid-stream. Required of the server: every reply is a JSON value
// {"success": bool, "err": string, ...}, no more replies than values sent
// plus one (the malformed-stream reply), the connection closes within the
// time bound once the peer has ended, and nothing is thrown out of the
// handlers (a throw reaches the harness as an uncaught exception). The
// splitter alone must cut the stream the same way whatever the chunking, and
// throw nothing but MalformedStreamError.

import * as fs from 'node:fs';
import * as net from 'node:net';
import * as os from 'node:os';
import * as path from 'node:path';
import { ControlServer, type CheckpointArg, type ContainerManager, type ExecArg, type ProcessInfo, type SignalArg, type WaitPidArg } from '../../src/main/control-server.js';
import { JsonValueSplitter, MalformedStreamError } from '../../src/main/urpc.js';
import { bindUnixSocket, closeFd } from '../../src/host/ffi.js';
import { Rng } from '../rng.js';
import { concat, mutateBytes } from '../mutate.js';
import type { Target } from '../harness.js';

const METHODS = ['containerManager.StartRoot', 'containerManager.Wait', 'containerManager.Signal', 'containerManager.Processes', 'containerManager.Event', 'containerManager.ExecuteAsync', 'containerManager.WaitPID', 'containerManager.Pause', 'containerManager.Resume', 'containerManager.Checkpoint', 'containerManager.Restore', 'debug.Stacks', 'containerManager.Nope', 'containerManager.', '', 'toString', '__proto__', 'constructor'];
/** Container ids the fake manager treats specially. */
const CIDS = ['c', '', 'throw', 'reject', 'reject-string', 'reject-weird', 'bigint', 'circular', 'slow', 'undefined', '\u0000', 'é'];

/** A manager that answers at once or nearly, in every way a real one might fail. */
class HostileManager implements ContainerManager {
  private answer(cid: string, ok: unknown): Promise<never> | Promise<unknown> {
    switch (cid) {
      case 'throw':
        throw new TypeError('thrown before any promise');
      case 'reject':
        return Promise.reject(new Error('rejected'));
      case 'reject-string':
        return Promise.reject('plain string');
      case 'reject-weird':
        return Promise.reject({
          toString() {
            throw new Error('no');
          },
        });
      case 'bigint':
        return Promise.resolve({ n: 1n });
      case 'circular': {
        const o: Record<string, unknown> = {};
        o.self = o;
        return Promise.resolve(o);
      }
      case 'slow':
        return new Promise((r) => setTimeout(() => r(ok), 5));
      case 'undefined':
        return Promise.resolve(undefined);
      default:
        return Promise.resolve(ok);
    }
  }
  StartRoot(cid: string): Promise<null> {
    return this.answer(cid, null) as Promise<null>;
  }
  Wait(cid: string): Promise<number> {
    return this.answer(cid, 0) as Promise<number>;
  }
  Signal(arg: SignalArg): Promise<null> {
    return this.answer(arg.CID, null) as Promise<null>;
  }
  Processes(cid: string): Promise<ProcessInfo[]> {
    return this.answer(cid, [{ UID: 0, PID: 1, PPID: 0, C: 0, STIME: '00:00', TIME: '0s', Cmd: 'init' }]) as Promise<ProcessInfo[]>;
  }
  Event(cid: string): Promise<unknown> {
    return this.answer(cid, { cpu: { usage: 1 } });
  }
  Stacks(cid: string): Promise<string> {
    return this.answer(cid, 'scheduler: run queue []\n') as Promise<string>;
  }
  ExecuteAsync(arg: ExecArg): Promise<number> {
    return this.answer(arg.ContainerID, 2) as Promise<number>;
  }
  WaitPID(arg: WaitPidArg): Promise<number> {
    return this.answer(arg.CID, 0) as Promise<number>;
  }
  Pause(cid: string): Promise<null> {
    return this.answer(cid, null) as Promise<null>;
  }
  Resume(cid: string): Promise<null> {
    return this.answer(cid, null) as Promise<null>;
  }
  Checkpoint(arg: CheckpointArg, file: number): Promise<null> {
    closeFd(file);
    return this.answer(arg.CID, null) as Promise<null>;
  }
  Restore(cid: string, file: number): Promise<null> {
    closeFd(file);
    return this.answer(cid, null) as Promise<null>;
  }
}

function randomScalar(rng: Rng): unknown {
  switch (rng.below(9)) {
    case 0:
      return null;
    case 1:
      return rng.chance(0.5);
    case 2:
      return rng.pick([0, -1, 1, 9, 15, 64, 65, 2 ** 31, 2 ** 31 - 1, 2 ** 53, 1.5, -0, 1e308]);
    case 3:
      return rng.pick(CIDS);
    case 4:
      return rng.pick(METHODS);
    case 5:
      return 'x'.repeat(rng.size(5000));
    case 6:
      return String.fromCharCode(...Array.from({ length: rng.size(20) }, () => rng.below(0x3000)));
    default:
      return rng.u32() - 2 ** 31;
  }
}

function randomValue(rng: Rng, depth: number): unknown {
  if (depth > 4 || rng.chance(0.5)) return randomScalar(rng);
  if (rng.chance(0.4)) return Array.from({ length: rng.size(6) }, () => randomValue(rng, depth + 1));
  const o: Record<string, unknown> = {};
  for (let i = rng.size(6); i > 0; i--) o[rng.pick(['CID', 'Signo', 'PID', 'Mode', 'method', 'arg', '__proto__', 'x'])] = randomValue(rng, depth + 1);
  return o;
}

/** A call: mostly well formed, with arguments of the right shape or nearly. */
function randomCall(rng: Rng): unknown {
  const method = rng.chance(0.9) ? rng.pick(METHODS.slice(0, 5)) : rng.chance(0.5) ? rng.pick(METHODS) : randomValue(rng, 2);
  let arg: unknown;
  if (method === 'containerManager.Signal' && rng.chance(0.7)) {
    const sig: Record<string, unknown> = { CID: rng.pick(CIDS), Signo: rng.range(-1, 66), PID: rng.range(-1, 3), Mode: rng.range(-1, 4) };
    if (rng.chance(0.3)) sig[rng.pick(['CID', 'Signo', 'PID', 'Mode'])] = randomValue(rng, 3);
    if (rng.chance(0.1)) delete sig[rng.pick(['CID', 'Signo', 'PID', 'Mode'])];
    arg = sig;
  } else arg = rng.chance(0.7) ? rng.pick(CIDS) : randomValue(rng, 1);
  const call: Record<string, unknown> = { method, arg };
  if (rng.chance(0.05)) delete call.arg;
  if (rng.chance(0.05)) delete call.method;
  return rng.chance(0.9) ? call : randomValue(rng, 0);
}

const SPACES = [' ', '\n', '\t', '\r\n', ''];

function encodeValue(v: unknown): string {
  const s = JSON.stringify(v);
  return s === undefined ? 'null' : s;
}

/** Nesting `depth` levels deep, optionally unclosed. */
function deepValue(depth: number, close: boolean): string {
  return '['.repeat(depth) + (close ? ']'.repeat(depth) : '');
}

export function generateUrpc(rng: Rng, corpus: readonly Uint8Array[]): Uint8Array {
  const control = rng.u32() & 0xff;
  if (corpus.length > 0 && rng.chance(0.3)) {
    const base = rng.pick(corpus);
    return concat(Uint8Array.of(control), mutateBytes(rng, base.subarray(1), 6, 1 << 21, rng.pick(corpus)));
  }
  const parts: string[] = [];
  for (let n = rng.size(12); n >= 0; n--) {
    parts.push(rng.pick(SPACES));
    const kind = rng.below(40);
    if (kind === 0) parts.push(deepValue(rng.range(500, 520), rng.chance(0.5)));
    else if (kind === 1 && rng.chance(0.05)) parts.push(JSON.stringify({ method: 'containerManager.Wait', arg: 'x'.repeat(rng.range((1 << 20) - 40, (1 << 20) + 40)) }));
    else if (kind === 2) parts.push(rng.pick(['tru', 'nul', '-', '1e', '"\\', '{"method":', '"\\u12', 'NaN', 'Infinity', '1.2.3', '}', ']', ',', ':', '\u0000']));
    else if (kind < 6) parts.push(encodeValue(randomValue(rng, 0)));
    else parts.push(encodeValue(randomCall(rng)));
  }
  let body: Uint8Array = new Uint8Array(Buffer.from(parts.join(''), 'utf8'));
  if (rng.chance(0.25)) body = mutateBytes(rng, body, 4, 1 << 21);
  if (rng.chance(0.1)) body = body.slice(0, rng.below(body.length + 1)); // cut mid-value
  return concat(Uint8Array.of(control), body);
}

/** Write lengths for `n` bytes, decided by the input's control byte and its length. */
function chunking(control: number, n: number): number[] {
  const rng = new Rng(control * 7919 + n);
  const out: number[] = [];
  const style = control & 3;
  for (let left = n; left > 0; ) {
    // At most 2000 cuts: the rest goes in one write (a socket write per byte of a 1 MiB value would test the harness).
    const len = out.length >= 2000 ? left : style === 0 ? left : style === 1 ? 1 + rng.below(3) : 1 + rng.size(Math.min(left, 4096));
    out.push(Math.min(len, left));
    left -= len;
  }
  return out;
}

/** The values of a stream, or where it failed: what the server's framing sees. */
function splitAll(body: Uint8Array, chunks: number[]): { values: string[]; failed: string | undefined } {
  const s = new JsonValueSplitter();
  const values: string[] = [];
  let off = 0;
  try {
    for (const len of chunks) {
      for (const v of s.push(body.subarray(off, off + len))) values.push(JSON.stringify(v));
      off += len;
    }
    for (const v of s.end()) values.push(JSON.stringify(v));
    return { values, failed: undefined };
  } catch (e) {
    if (!(e instanceof MalformedStreamError)) throw e;
    const before = (e as MalformedStreamError & { values?: unknown[] }).values ?? [];
    for (const v of before) values.push(JSON.stringify(v));
    return { values, failed: 'malformed' };
  }
}

export class UrpcTarget implements Target {
  readonly name = 'urpc';
  readonly description = 'control-server request streams: random and mutated JSON calls, partial values, huge and deep values, wrong types';
  readonly timeoutMs = 5000;
  readonly minimize = true;
  private dir = '';
  private sockPath = '';
  private server: ControlServer | undefined;

  async setup(): Promise<void> {
    this.dir = fs.mkdtempSync(path.join(os.tmpdir(), 'tsvisor-fuzz-urpc-'));
    this.sockPath = path.join(this.dir, 'control.sock');
    const fd = bindUnixSocket(this.sockPath);
    if (fd < 0) throw new Error(`bind ${this.sockPath}: errno ${-fd}`);
    this.server = await ControlServer.serveFd(fd, new HostileManager());
  }

  async teardown(): Promise<void> {
    await this.server?.close();
    fs.rmSync(this.dir, { recursive: true, force: true });
  }

  generate(rng: Rng, corpus: readonly Uint8Array[]): Uint8Array {
    return generateUrpc(rng, corpus);
  }

  async run(input: Uint8Array): Promise<string | undefined> {
    const control = input.length > 0 ? input[0] : 0;
    const body = input.subarray(1);
    const chunks = chunking(control, body.length);
    // The framing alone: the same values whatever the cutting.
    const whole = splitAll(body, [body.length]);
    const cut = splitAll(body, chunks);
    if (whole.failed !== cut.failed || whole.values.join('\n') !== cut.values.join('\n')) {
      return `splitter depends on chunking: whole ${whole.values.length} values/${whole.failed}, cut ${cut.values.length} values/${cut.failed}`;
    }
    const vanish = (control & 0x1c) === 0x1c; // the peer disappears without ending its side
    const reply = await this.exchange(body, chunks, vanish);
    if (reply.error) return reply.error;
    if (vanish) return undefined;
    if (!reply.closed) return `hang: the server kept the connection open after the peer ended (${reply.text.length} reply bytes)`;
    const rs = new JsonValueSplitter({ maxBytes: 1 << 26 });
    let replies: unknown[];
    try {
      replies = [...rs.push(Buffer.from(reply.text, 'utf8')), ...rs.end()];
    } catch (e) {
      return `reply stream is not JSON: ${(e as Error).message}`;
    }
    for (const r of replies) {
      const o = r as { success?: unknown; err?: unknown };
      if (typeof o !== 'object' || o === null || typeof o.success !== 'boolean' || typeof o.err !== 'string') return `malformed reply ${JSON.stringify(r).slice(0, 200)}`;
      if (!o.success && o.err === '') return 'failed reply without an error text';
    }
    const expected = whole.values.length + (whole.failed ? 1 : 0);
    if (replies.length !== expected) return `reply count: ${replies.length} replies to ${whole.values.length} values${whole.failed ? ' and a malformed stream' : ''}`;
    return undefined;
  }

  private exchange(body: Uint8Array, chunks: number[], vanish: boolean): Promise<{ text: string; closed: boolean; error?: string }> {
    return new Promise((resolve) => {
      const sock = net.createConnection({ path: this.sockPath, allowHalfOpen: true });
      const got: Buffer[] = [];
      let settled = false;
      const finish = (closed: boolean, error?: string) => {
        if (settled) return;
        settled = true;
        clearTimeout(timer);
        sock.destroy();
        resolve({ text: Buffer.concat(got).toString('utf8'), closed, error });
      };
      const timer = setTimeout(() => finish(false), this.timeoutMs - 500);
      sock.on('data', (d: Buffer) => got.push(d));
      sock.on('end', () => finish(true));
      sock.on('close', () => finish(true));
      // The server may close on us while we still write (after a malformed value): not a failure.
      sock.on('error', (e: NodeJS.ErrnoException) => (e.code === 'EPIPE' || e.code === 'ECONNRESET' ? finish(true) : finish(false, `client socket error ${e.message}`)));
      sock.on('connect', () => {
        let off = 0;
        for (const len of chunks) {
          if (sock.destroyed) return;
          sock.write(body.subarray(off, off + len));
          off += len;
        }
        if (vanish) setImmediate(() => finish(true));
        else sock.end();
      });
    });
  }
}
