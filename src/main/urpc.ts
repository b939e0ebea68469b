// runsc's urpc wire format: a stream of self-delimiting JSON values, with
// optional whitespace between them and no length prefix. A request is
// {"method": "...", "arg": ...}; a reply {"success": bool, "err": "...", "result": ...}.
// Replies come in the order of the requests on that connection.
//
// This module has the framing (JsonValueSplitter) and the client side
// (UrpcClient); control-server.ts has the server side.
//
// The peer is untrusted: the splitter bounds one value's size and nesting
// depth, costs O(bytes) however the stream is cut into chunks, and never
// recurses.

import type * as net from 'node:net';
import * as fs from 'node:fs';
import * as os from 'node:os';
import { closeFd, connectUnixSocket, inetShutdown, sendFds } from '../host/ffi.js';
import { SHUT_WR } from '../linux/abi.js';

/**
 * node:net, loaded at its first use rather than with this module: boot
 * imports this module (through its control server) before its sync byte,
 * where net, its streams and the cluster module it pulls in are CPU that the
 * byte need not wait for (docs/STARTUP.md, "Boot to sync for a parent runtime").
 */
export const nodeNet = (): typeof import('node:net') => require('node:net');

/** One request's bytes on the wire (throws for an argument JSON cannot encode). */
export function urpcRequest(method: string, arg: unknown): string {
  return JSON.stringify({ method, arg: arg === undefined ? null : arg });
}

/** The stream is not a sequence of JSON values; it cannot be read further. */
export class MalformedStreamError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'MalformedStreamError';
  }
}

export interface SplitterLimits {
  /** Largest value in bytes (whitespace between values does not count). */
  maxBytes: number;
  /** Deepest nesting of objects and arrays. */
  maxDepth: number;
}

export const DEFAULT_LIMITS: SplitterLimits = { maxBytes: 1024 * 1024, maxDepth: 512 };

const enum Ch {
  Tab = 0x09,
  Lf = 0x0a,
  Cr = 0x0d,
  Space = 0x20,
  Quote = 0x22,
  Backslash = 0x5c,
  LBrace = 0x7b,
  RBrace = 0x7d,
  LBracket = 0x5b,
  RBracket = 0x5d,
}

const enum State {
  /** Between values, skipping whitespace. */
  Between,
  /** Inside an object or array. */
  Container,
  /** Inside a top-level string. */
  TopString,
  /** Inside a top-level number or literal (true, false, null), which ends at the first byte that cannot continue it. */
  Scalar,
  /** A malformed stream was seen; nothing more is read. */
  Failed,
}

function isSpace(b: number): boolean {
  return b === Ch.Space || b === Ch.Lf || b === Ch.Cr || b === Ch.Tab;
}

/** Bytes that may continue a bare number or literal. */
function isScalarByte(b: number): boolean {
  return (b >= 0x30 && b <= 0x39) || (b >= 0x61 && b <= 0x7a) || (b >= 0x41 && b <= 0x5a) || b === 0x2e || b === 0x2b || b === 0x2d;
}

/** Bytes that may start a bare number or literal. */
function isScalarStart(b: number): boolean {
  return (b >= 0x30 && b <= 0x39) || b === 0x2d || b === 0x74 /* t */ || b === 0x66 /* f */ || b === 0x6e /* n */;
}

/**
 * Cuts a byte stream into JSON values, incrementally. Feed it chunks with
 * push(); it returns the values completed so far, parsed. It only tracks
 * strings (with their escapes) and bracket depth to find where a value ends,
 * then hands that value's bytes to JSON.parse, which judges the rest.
 *
 * Throws MalformedStreamError (and stays failed) for bytes that cannot start a
 * value, a value that does not parse, one over the size or depth limit, or a
 * value cut off by end().
 */
export class JsonValueSplitter {
  private state = State.Between;
  private depth = 0;
  private inString = false;
  private escape = false;
  /** Pieces of the value being read. */
  private parts: Buffer[] = [];
  private partsLen = 0;
  private readonly limits: SplitterLimits;

  constructor(limits: Partial<SplitterLimits> = {}) {
    this.limits = { ...DEFAULT_LIMITS, ...limits };
  }

  /** Whether a value has begun and not yet ended. */
  get midValue(): boolean {
    return this.state !== State.Between && this.state !== State.Failed;
  }

  get failed(): boolean {
    return this.state === State.Failed;
  }

  /** Feeds bytes; returns the values they complete, in order. */
  push(chunk: Uint8Array): unknown[] {
    if (this.state === State.Failed) throw new MalformedStreamError('stream already failed');
    const out: unknown[] = [];
    const n = chunk.length;
    let start = 0; // where the current value's bytes begin within this chunk
    let i = 0;
    try {
      while (i < n) {
        const b = chunk[i];
        switch (this.state) {
          case State.Between:
            if (isSpace(b)) {
              i++;
              continue;
            }
            start = i;
            if (b === Ch.LBrace || b === Ch.LBracket) {
              this.state = State.Container;
              this.depth = 1;
              this.inString = false;
              this.escape = false;
            } else if (b === Ch.Quote) {
              this.state = State.TopString;
              this.escape = false;
            } else if (isScalarStart(b)) {
              this.state = State.Scalar;
              i++;
              continue; // the first byte cannot end a scalar
            } else {
              throw new MalformedStreamError(`unexpected byte 0x${b.toString(16).padStart(2, '0')} where a JSON value should start`);
            }
            i++;
            continue;
          case State.Container:
            if (this.inString) {
              if (this.escape) this.escape = false;
              else if (b === Ch.Backslash) this.escape = true;
              else if (b === Ch.Quote) this.inString = false;
            } else if (b === Ch.Quote) {
              this.inString = true;
            } else if (b === Ch.LBrace || b === Ch.LBracket) {
              if (++this.depth > this.limits.maxDepth) {
                throw new MalformedStreamError(`value nested deeper than ${this.limits.maxDepth} levels`);
              }
            } else if (b === Ch.RBrace || b === Ch.RBracket) {
              if (--this.depth === 0) {
                out.push(this.finish(chunk, start, i + 1));
                i++;
                continue;
              }
            }
            i++;
            this.checkSize(i - start);
            continue;
          case State.TopString:
            if (this.escape) this.escape = false;
            else if (b === Ch.Backslash) this.escape = true;
            else if (b === Ch.Quote) {
              out.push(this.finish(chunk, start, i + 1));
              i++;
              continue;
            }
            i++;
            this.checkSize(i - start);
            continue;
          case State.Scalar:
            if (isScalarByte(b)) {
              i++;
              this.checkSize(i - start);
              continue;
            }
            out.push(this.finish(chunk, start, i)); // the delimiter is not consumed
            continue;
          default:
            return out; // State.Failed cannot occur here: checked on entry
        }
      }
      if (this.midValue) {
        // Keep this chunk's share of the unfinished value (a copy, so the caller's buffer is free).
        const piece = Buffer.from(chunk.subarray(start, n));
        this.parts.push(piece);
        this.partsLen += piece.length;
      }
    } catch (e) {
      this.fail();
      if (e instanceof MalformedStreamError) {
        (e as MalformedStreamError & { values?: unknown[] }).values = out;
      }
      throw e;
    }
    return out;
  }

  /**
   * The stream ended. A bare number or literal at the end is complete and
   * returned; any other unfinished value is a malformed stream.
   */
  end(): unknown[] {
    if (this.state === State.Scalar) {
      const v = this.finish(new Uint8Array(0), 0, 0);
      return [v];
    }
    if (this.state === State.Container || this.state === State.TopString) {
      this.fail();
      throw new MalformedStreamError('stream ended inside a JSON value');
    }
    return [];
  }

  private checkSize(inChunk: number): void {
    if (this.partsLen + inChunk > this.limits.maxBytes) {
      throw new MalformedStreamError(`message larger than ${this.limits.maxBytes} bytes`);
    }
  }

  /** Ends the current value at chunk[end) and parses it. */
  private finish(chunk: Uint8Array, start: number, end: number): unknown {
    const tail = chunk.subarray(start, end);
    const bytes = this.partsLen === 0 ? Buffer.from(tail.buffer, tail.byteOffset, tail.length) : Buffer.concat([...this.parts, tail]);
    this.parts = [];
    this.partsLen = 0;
    this.state = State.Between;
    this.depth = 0;
    this.inString = false;
    this.escape = false;
    if (bytes.length > this.limits.maxBytes) throw new MalformedStreamError(`message larger than ${this.limits.maxBytes} bytes`);
    try {
      return JSON.parse(bytes.toString('utf8'));
    } catch (e) {
      throw new MalformedStreamError(`not JSON: ${oneLine(e instanceof Error ? e.message : String(e))}`);
    }
  }

  private fail(): void {
    this.state = State.Failed;
    this.parts = [];
    this.partsLen = 0;
  }
}

/** Collapses a message onto one line and bounds its length (messages may quote peer bytes). */
export function oneLine(s: string, max = 200): string {
  const t = s.replace(/\s+/g, ' ').trim();
  return t.length > max ? t.slice(0, max) + '...' : t;
}

/** The values a push() completed before it threw, so they can still be answered. */
export function valuesBeforeFailure(e: unknown): unknown[] {
  const v = (e as { values?: unknown[] } | undefined)?.values;
  return Array.isArray(v) ? v : [];
}

/** A reply on the wire. */
export interface UrpcReply {
  success: boolean;
  err: string;
  result?: unknown;
}

interface Pending {
  resolve(v: unknown): void;
  reject(e: Error): void;
}

/**
 * A urpc client: the parent runtime's side of the control socket, and the
 * tests'. Calls may be issued without waiting; replies are matched to calls
 * by order. When the connection ends, calls still waiting reject.
 */
export class UrpcClient {
  private readonly pending: Pending[] = [];
  private readonly splitter: JsonValueSplitter;
  private closedError: Error | undefined;

  /**
   * The connection's fd, for a client made by connect(): what `tsvisor run`
   * hands to its waiter across an execve (src/main/waiter.ts), once no call
   * is pending; undefined for one over a socket made elsewhere.
   */
  readonly fd: number | undefined;

  private constructor(private readonly sock: net.Socket, maxReplyBytes: number, fd?: number) {
    this.fd = fd;
    this.splitter = new JsonValueSplitter({ maxBytes: maxReplyBytes, maxDepth: 1000 });
    sock.on('data', (chunk: Buffer) => this.onData(chunk));
    sock.on('error', (e) => this.shutdown(new Error(`urpc connection closed: ${e.message}`)));
    sock.on('close', () => this.shutdown(new Error('urpc connection closed')));
    sock.on('end', () => this.shutdown(new Error('urpc connection closed by the server')));
  }

  /**
   * Connects to a unix socket path (through src/host, which also reaches a
   * path longer than sun_path holds, as a deep --root makes them).
   */
  static connect(path: string, opts: { maxReplyBytes?: number } = {}): Promise<UrpcClient> {
    const fd = connectUnixSocket(path);
    if (fd < 0) {
      const code = Object.entries(os.constants.errno).find(([, n]) => n === -fd)?.[0] ?? `errno ${-fd}`;
      return Promise.reject(new Error(`urpc: cannot connect to ${path}: connect ${code} ${path}`));
    }
    return Promise.resolve(new UrpcClient(new (nodeNet().Socket)({ fd, readable: true, writable: true }), opts.maxReplyBytes ?? 64 * 1024 * 1024, fd));
  }

  /**
   * Connects to the unix socket `path` and makes `method` its first call,
   * with `files` passed alongside it (SCM_RIGHTS on the call's bytes): how
   * runsc's urpc carries a FilePayload, and how exec hands its stdio to the
   * sandbox (the server takes files only with a connection's first call).
   * The files stay open here too. Resolves once the call is sent, with the
   * client (for further calls) and the call's result.
   */
  static callWithFiles(path: string, method: string, arg: unknown, files: number[], opts: { maxReplyBytes?: number } = {}): { client: UrpcClient; result: Promise<unknown> } {
    const text = Buffer.from(urpcRequest(method, arg));
    const fd = connectUnixSocket(path);
    if (fd < 0) throw new Error(`urpc: cannot connect to ${path}: errno ${-fd}`);
    const sent = sendFds(fd, files, text);
    if (sent !== text.length) {
      closeFd(fd);
      throw new Error(`urpc: cannot send ${method} to ${path}: ${sent < 0 ? `errno ${-sent}` : 'short write'}`);
    }
    const client = new UrpcClient(new (nodeNet().Socket)({ fd, readable: true, writable: true }), opts.maxReplyBytes ?? 64 * 1024 * 1024);
    const result = new Promise<unknown>((resolve, reject) => client.pending.push({ resolve, reject }));
    return { client, result };
  }

  /** Talks over an already connected socket. */
  static fromSocket(sock: net.Socket, opts: { maxReplyBytes?: number } = {}): UrpcClient {
    return new UrpcClient(sock, opts.maxReplyBytes ?? 64 * 1024 * 1024);
  }

  /** Calls `method` (e.g. "containerManager.Wait"); resolves with the result, rejects with Error(err) on failure. */
  call(method: string, arg: unknown): Promise<unknown> {
    if (this.closedError) return Promise.reject(this.closedError);
    let text: string;
    try {
      text = urpcRequest(method, arg);
    } catch (e) {
      return Promise.reject(new Error(`urpc: cannot encode the argument of ${method}: ${(e as Error).message}`));
    }
    return new Promise((resolve, reject) => {
      this.pending.push({ resolve, reject });
      this.sock.write(text);
    });
  }

  /**
   * `method` as this connection's last call, for a client made by
   * connect() with no call pending: its request written at once (a
   * synchronous write(2) on the fd), then this side shut for writing
   * (shutdown(2) SHUT_WR), so the server, which answers a half-closed
   * connection's calls and then ends it (control-server.ts), does not wait
   * for this process to close it. `tsvisor run` sends Wait so as soon as
   * StartRoot is answered; when it then becomes its waiter (waiter.ts), the
   * waiter reads the reply, unless `answered()` says Node has read it
   * already (run then waits in Node). Returns the
   * reply's promise (for a caller that goes on in Node after all), with
   * `whole` false when the request could not go out at once and went the
   * usual way (written and ended by Node's socket, later in the loop: only
   * this process can then read the reply); undefined when this client
   * cannot (no fd, closed).
   */
  callAndEnd(method: string, arg: unknown): { reply: Promise<unknown>; whole: boolean; answered(): boolean } | undefined {
    if (this.closedError || this.fd === undefined) return undefined;
    const text = Buffer.from(urpcRequest(method, arg));
    let n = 0;
    try {
      n = fs.writeSync(this.fd, text);
    } catch {
      // EAGAIN (a full socket): the whole request goes through the socket below
    }
    // Set as the reply is read (Node reads in its poll phase and settles in
    // the same callback), so a caller that finds it unset knows the reply is
    // still in the socket until its next turn of the loop.
    let settled = false;
    const reply = new Promise<unknown>((resolve, reject) =>
      this.pending.push({
        resolve: (v) => ((settled = true), resolve(v)),
        reject: (e) => ((settled = true), reject(e)),
      }),
    );
    const answered = () => settled;
    if (n === text.length && inetShutdown(this.fd, SHUT_WR) === 0) return { reply, whole: true, answered };
    if (n < text.length) this.sock.write(text.subarray(n));
    this.sock.end();
    return { reply, whole: false, answered };
  }

  /** Closes the connection; calls still waiting reject. */
  close(): void {
    this.shutdown(new Error('urpc client closed'));
  }

  private onData(chunk: Buffer): void {
    let values: unknown[];
    try {
      values = this.splitter.push(chunk);
    } catch (e) {
      for (const v of valuesBeforeFailure(e)) this.onReply(v);
      this.shutdown(new Error(`urpc: malformed reply stream: ${(e as Error).message}`));
      return;
    }
    for (const v of values) this.onReply(v);
  }

  private onReply(v: unknown): void {
    if (this.closedError) return;
    const p = this.pending.shift();
    if (!p) {
      this.shutdown(new Error('urpc: reply without a call'));
      return;
    }
    if (typeof v !== 'object' || v === null || typeof (v as UrpcReply).success !== 'boolean') {
      p.reject(new Error('urpc: reply is not {"success": bool, ...}'));
      this.shutdown(new Error('urpc: malformed reply'));
      return;
    }
    const r = v as UrpcReply;
    if (r.success) p.resolve(r.result === undefined ? null : r.result);
    else p.reject(new Error(typeof r.err === 'string' && r.err !== '' ? r.err : 'urpc call failed'));
  }

  private shutdown(err: Error): void {
    if (this.closedError) return;
    this.closedError = err;
    this.sock.destroy();
    for (const p of this.pending.splice(0)) p.reject(err);
  }
}
