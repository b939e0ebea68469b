// A 9P2000.L client connection: tags, fids, and request/reply matching over
// one stream socket (an io fd donated by the parent runtime).
//
// Contract: rpc() resolves with the reply (an R-message of the request's
// type) or an Errno: Rlerror's code, or EIO once the connection is broken.
// The server is trusted less than ourselves: a reply that does not decode,
// names no pending tag, or has the wrong type breaks the connection (every
// pending and later call gets EIO); nothing it sends makes us throw.

import * as net from 'node:net';
import * as p9 from './codec.js';
import { MsgType, type Msg } from './codec.js';
import { EIO, Errno } from '../linux/errno.js';
import { inetShutdown } from '../host/inet.js';
import { SHUT_RDWR } from '../linux/abi.js';

/** The byte stream under a client (a net.Socket, or anything with the same few methods). */
export interface Transport {
  write(b: Buffer): unknown;
  on(ev: 'data', f: (b: Buffer) => void): unknown;
  on(ev: 'close', f: () => void): unknown;
  on(ev: 'error', f: (e: Error) => void): unknown;
  destroy(): unknown;
}

export class P9Client {
  msize = p9.MAX_MSIZE;
  /** The server handles fid requests in arrival order (it spoke p9.VERSION_IN_ORDER): a request may use a fid whose Twalk is still in flight. */
  inOrder = false;
  private readonly framer = new p9.Framer(p9.MAX_MSIZE);
  private readonly waiting = new Map<number, { type: MsgType; done: (r: Msg | Errno) => void }>();
  private nextTag = 0;
  private nextFid = 1;
  private readonly freeFids: number[] = [];
  private broken: string | undefined;
  /** The socket and its fd when the client was made over one (overFd). */
  private over: { sock: net.Socket; fd: number } | undefined;

  constructor(private readonly t: Transport) {
    t.on('data', (b) => this.receive(b));
    t.on('close', () => this.breakConn('connection closed'));
    t.on('error', (e) => this.breakConn(e.message));
  }

  /** A client over a connected stream socket fd (it takes the fd over). */
  static overFd(fd: number): P9Client {
    const sock = new net.Socket({ fd, readable: true, writable: true });
    const c = new P9Client(sock);
    c.over = { sock, fd };
    return c;
  }

  /** Why the connection is broken, if it is. */
  get brokenReason(): string | undefined {
    return this.broken;
  }

  /**
   * Tversion: agrees on msize and 9P2000.L, asking first for our in-order
   * dialect (p9.VERSION_IN_ORDER; `inOrder` tells whether the server took it).
   */
  async version(): Promise<0 | Errno> {
    const ask = (version: string) => this.rpc({ type: MsgType.Tversion, tag: p9.NOTAG, msize: p9.MAX_MSIZE, version }, p9.NOTAG);
    let r = await ask(p9.VERSION_IN_ORDER);
    if (this.broken) return EIO;
    if (r instanceof Errno || (r.version !== p9.VERSION_IN_ORDER && r.version !== p9.VERSION)) r = await ask(p9.VERSION);
    if (r instanceof Errno) return r;
    const ms = r.msize as number;
    if ((r.version !== p9.VERSION && r.version !== p9.VERSION_IN_ORDER) || ms < p9.MIN_MSIZE || ms > p9.MAX_MSIZE) {
      this.breakConn(`server speaks ${String(r.version)} with msize ${ms}`);
      return EIO;
    }
    this.inOrder = r.version === p9.VERSION_IN_ORDER;
    this.msize = ms;
    return 0;
  }

  /** Fids allocated and not yet freed (bound on the server, or about to be). */
  get liveFids(): number {
    return this.nextFid - 1 - this.freeFids.length;
  }

  allocFid(): number {
    return this.freeFids.pop() ?? this.nextFid++;
  }

  freeFid(fid: number): void {
    this.freeFids.push(fid);
  }

  /** Sends `m` (its tag is assigned here) and waits for its reply. */
  rpc(m: Msg, fixedTag?: number): Promise<Msg | Errno> {
    if (this.broken) return Promise.resolve(EIO);
    const tag = fixedTag ?? this.takeTag();
    if (tag < 0) return Promise.resolve(Errno.of(11)); // EAGAIN: 65535 requests in flight
    m.tag = tag;
    return new Promise((done) => {
      this.waiting.set(tag, { type: m.type, done });
      this.t.write(p9.encode(m));
    });
  }

  /** Ends the connection; pending calls get EIO. */
  close(): void {
    // Shut down, not only closed: other processes may hold copies of the fd
    // (boot's launchers do until boot has exited), and the server should see
    // its end now (the gofer then exits beside boot, not after it). Not once
    // the socket is destroyed: its number may be another file's by then.
    if (this.over && !this.over.sock.destroyed) inetShutdown(this.over.fd, SHUT_RDWR);
    this.breakConn('closed by the client');
    this.t.destroy();
  }

  private takeTag(): number {
    for (let i = 0; i < 0xffff; i++) {
      const t = this.nextTag;
      this.nextTag = (this.nextTag + 1) % 0xffff; // NOTAG (0xffff) is Tversion's
      if (!this.waiting.has(t)) return t;
    }
    return -1;
  }

  private receive(b: Buffer): void {
    if (this.broken) return;
    const frames = this.framer.push(b);
    if (frames instanceof p9.P9DecodeError) return this.breakConn(frames.reason);
    for (const f of frames) {
      const m = p9.decode(f);
      if (m instanceof p9.P9DecodeError) return this.breakConn(`bad reply: ${m.reason}`);
      const w = this.waiting.get(m.tag);
      if (!w) return this.breakConn(`reply with tag ${m.tag} that no request holds`);
      if (m.type !== w.type + 1 && m.type !== MsgType.Rlerror) return this.breakConn(`${MsgType[m.type]} answers ${MsgType[w.type]}`);
      this.waiting.delete(m.tag);
      if (m.type === MsgType.Rlerror) {
        const code = m.ecode as number;
        w.done(code > 0 && code < 4096 ? Errno.of(code) : EIO);
      } else w.done(m);
    }
  }

  private breakConn(why: string): void {
    if (this.broken) return;
    this.broken = why;
    for (const w of this.waiting.values()) w.done(EIO);
    this.waiting.clear();
    this.t.destroy();
  }
}
