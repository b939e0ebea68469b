// One 9P2000.L connection of the gofer: the connection's framing, dispatch
// and replies. Its fid table is ./fids.ts (over a FilesystemBackend:
// DirectBackend, which holds the confinement rules of src/fs-gofer/README.md),
// its message handlers ./handlers.ts.
//
// Contract: the client is untrusted. Every request is decoded with checks
// (src/p9/codec.ts); a request that decodes gets exactly one reply with its
// tag (an Rlerror with Linux's errno on failure); a stream that cannot be
// framed (size out of bounds), a reused tag, or a reply we cannot encode
// closes the connection. Nothing a client sends can make the gofer throw.
// Paths are never built: each fid holds a backend node reached one checked
// name at a time from the root; `..` goes to the fid's recorded parent and
// stops at the root.

import { EINVAL, EIO, EOPNOTSUPP, Errno, isErrno } from '../linux/errno.js';
import * as p9 from '../p9/codec.js';
import type { Msg } from '../p9/codec.js';
import { MsgType } from '../p9/codec.js';
import { FidTable, type Export } from './fids.js';
import { HANDLERS, type Session } from './handlers.js';
import type { IoPool } from './io-pool.js';

export type { Export } from './fids.js';

/** Requests in flight before we stop reading the socket. */
const MAX_PENDING = 256;

export type Send = (b: Buffer) => void;

export class Connection implements Session {
  /** Session.msize: changed only by setVersion. */
  msize = 8192;
  private versioned = false;
  readonly fids: FidTable;
  private readonly pending = new Map<number, Promise<void>>();
  private readonly framer = new p9.Framer(p9.MAX_MSIZE);
  /** Session.attachUid: set by Tattach. */
  attachUid = 0;
  private closed = false;
  /** The chain of in-order requests (see dispatch). */
  private serial: Promise<unknown> = Promise.resolve();
  /** Counters, for tests and logs. */
  readonly stats = { requests: 0, errors: 0, malformed: 0 };

  constructor(
    readonly exp: Export,
    readonly io: IoPool | undefined,
    private readonly send: Send,
    /** Ends the connection (the transport closes); called at most once. */
    private readonly hangup: (why: string) => void,
    private readonly flow?: { pause(): void; resume(): void },
  ) {
    this.fids = new FidTable(exp.backend);
  }

  /** Bytes from the client. */
  receive(chunk: Buffer): void {
    if (this.closed) return;
    const frames = this.framer.push(chunk);
    if (frames instanceof p9.P9DecodeError) return this.fail(frames.reason);
    for (const f of frames) {
      if (this.closed) return;
      this.dispatch(f);
    }
  }

  /** The transport ended: release every fid (after in-flight I/O). */
  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    await Promise.allSettled([...this.pending.values()]);
    await this.fids.clunkAll();
  }

  private fail(why: string): void {
    if (this.closed) return;
    this.hangup(why);
    void this.close();
  }

  private dispatch(frame: Buffer): void {
    this.stats.requests++;
    const m = p9.decode(frame);
    if (m instanceof p9.P9DecodeError) {
      this.stats.malformed++;
      // A readable header gets an error reply; a tag we cannot know ends the stream.
      if (m.tag === undefined) return this.fail(m.reason);
      if (this.pending.has(m.tag)) return this.fail(`tag ${m.tag} reused while in flight`);
      return this.reply({ type: MsgType.Rlerror, tag: m.tag, ecode: EINVAL.code });
    }
    if (this.pending.has(m.tag)) return this.fail(`tag ${m.tag} reused while in flight`);
    const handler = HANDLERS[m.type];
    if (!handler || (m.type & 1) !== 0) {
      this.stats.malformed++;
      return this.reply({ type: MsgType.Rlerror, tag: m.tag, ecode: EOPNOTSUPP.code });
    }
    if (!this.versioned && m.type !== MsgType.Tversion) return this.reply({ type: MsgType.Rlerror, tag: m.tag, ecode: EINVAL.code });
    const tag = m.tag;
    // Requests that name or bind fids run in arrival order (a client may send
    // Twalk and a Tgetattr of its new fid back to back); reads, writes, fsyncs
    // and flushes run at once, beside them.
    const concurrent = m.type === MsgType.Tread || m.type === MsgType.Twrite || m.type === MsgType.Tfsync || m.type === MsgType.Tflush;
    const run = (): Promise<Msg | Errno> => {
      if (concurrent) return handler(this, m);
      const p = this.serial.then(() => handler(this, m));
      this.serial = p.catch(() => undefined); // a failed request does not stop the ones after it
      return p;
    };
    const work = (async () => {
      let r: Msg | Errno;
      try {
        r = await run();
      } catch (e) {
        // A bug of ours, not the client's doing: answer EIO and keep serving.
        process.stderr.write(`gofer: ${MsgType[m.type]} failed: ${(e as Error)?.stack ?? String(e)}\n`);
        r = EIO;
      }
      if (isErrno(r)) {
        this.stats.errors++;
        r = { type: MsgType.Rlerror, tag, ecode: r.code };
      } else r.tag = tag;
      this.pending.delete(tag);
      this.reply(r);
      if (this.pending.size === MAX_PENDING - 1) this.flow?.resume();
    })();
    this.pending.set(tag, work);
    if (this.pending.size >= MAX_PENDING) this.flow?.pause();
  }

  private reply(r: Msg): void {
    if (this.closed) return;
    let b: Buffer;
    try {
      b = p9.encode(r);
    } catch (e) {
      return this.fail(`cannot encode ${MsgType[r.type]}: ${(e as Error).message}`);
    }
    if (b.length > this.msize && this.versioned) return this.fail(`reply of ${b.length} bytes over msize ${this.msize}`);
    this.send(b);
  }

  // ---- Session, for the handlers ----

  setVersion(msize: number | undefined): void {
    if (msize === undefined) {
      this.versioned = false;
      return;
    }
    this.msize = msize;
    this.framer.maxSize = msize;
    this.versioned = true;
  }

  inFlight(tag: number): Promise<void> | undefined {
    return this.pending.get(tag);
  }
}
