// TCP over the sandbox's loopback (what the guest sees of Linux's
// net/ipv4/tcp*.c and net/ipv4/af_inet.c on lo), without segments: a connection is
// two sockets joined as each other's peer, each with a byte queue of what the
// other sent.
//
// Contract:
// - connect() finds the listener by address and port (inet-stack.ts) and
//   returns EINPROGRESS in every case, as Linux does for a loopback connect
//   on a nonblocking socket: the connection is already made (the server's
//   end queued on the listener, the client connected), refused (nobody
//   listens: the pending error is ECONNREFUSED and the socket is closed), or,
//   while the listener's accept queue holds more than its backlog, waiting
//   for room, made as accept() frees it. A second connect() after success
//   returns 0 once (Linux's SS_CONNECTING), then EISCONN, even after the
//   connection ended; EALREADY while still waiting; after a failure not yet
//   reported, that error (ECONNABORTED once SO_ERROR took it).
// - Bytes written are queued at the peer and charged to the writer until
//   read; the writer may have its send buffer (SO_SNDBUF once the guest set
//   it, else autotuning's 4 MiB maximum, unless the stack's connections hold
//   more than 64 MiB unread) plus the peer's SO_RCVBUF in flight
//   (a full pipe is EAGAIN). SIOCOUTQ counts what is beyond the peer's
//   receive buffer.
// - Ends as Linux ends them: shutdown(SHUT_WR) and close() send a FIN (the
//   peer reads what was queued, then end of file); close() with unread data
//   or SO_LINGER {1, 0} sends a reset (the peer's next call gets ECONNRESET,
//   then end of file; its writes EPIPE). Writing to a peer that has closed
//   succeeds once, and the reset that answers it makes the next write EPIPE
//   (SIGPIPE). A listener closed with connections not yet accepted resets
//   them; connects waiting for room are refused.
// - A connect to an address outside the loopback that the stack's outbound
//   carrier takes (--network=sandbox, nat.ts) is made by the host: an error
//   the host gives at once (ENETUNREACH...) is connect's; otherwise
//   EINPROGRESS, and the socket waits in 'connecting' until the carrier
//   joins it to an end standing for the outside peer (`joinOutside`) or
//   reports the host's errno (`outsideFailed`: ECONNREFUSED, ETIMEDOUT...).
// - Readiness is tcp_poll's: a socket never connected is POLLOUT|POLLHUP, a
//   listener POLLIN when a connection waits, a closed one (reset or refused)
//   POLLHUP with POLLERR while its error is pending.

import * as abi from '../../linux/abi.js';
import { EADDRINUSE, EAGAIN, EALREADY, ECONNABORTED, ECONNREFUSED, ECONNRESET, EINPROGRESS, EINVAL, EISCONN, ENETUNREACH, ENOTCONN, EPIPE, Errno } from '../../linux/errno.js';
import { isV4, type Endpoint } from './inet-address.js';
import { ALL, IN, OUT, RCV_SHUTDOWN, SEND_SHUTDOWN, type InetSend } from './inet-socket.js';
import type { PortOwner, PortTable } from './inet-stack.js';
import { LoopbackSocket, type LoopbackStack } from './loopback-socket.js';
import { MessageQueue, type Received, type Sender } from './message-queue.js';
import { SOMAXCONN } from './unix-socket.js';

const SHUTDOWN_MASK = RCV_SHUTDOWN | SEND_SHUTDOWN;
/** net.ipv4.tcp_wmem[1] and tcp_rmem[1]: a new TCP socket's SO_SNDBUF and SO_RCVBUF. */
export const TCP_SNDBUF = 16384;
export const TCP_RCVBUF = 131072;
/** net.ipv4.tcp_wmem[2]: how far Linux's autotuning grows a send buffer the guest did not set. */
const TCP_WMEM_MAX = 4194304;
/** Unread bytes of every connection of a stack beyond which autotuning stops (Linux's tcp_mem pressure). */
const TCP_MEM_PRESSURE = 64 << 20;

/** Unread TCP bytes per stack, for TCP_MEM_PRESSURE. */
const unread = new WeakMap<LoopbackStack, number>();
/** A stream message's credentials: TCP carries none. */
const NO_CRED = { pid: 0, uid: 0, gid: 0 };

export type TcpState = 'closed' | 'listening' | 'connecting' | 'connected';

export class TcpSocket extends LoopbackSocket implements Sender {
  state: TcpState = 'closed';
  peer: TcpSocket | null = null;
  peerEp: Endpoint | null = null;
  /** Bytes this socket sent that the peer has not read (sk_wmem_alloc). */
  wmem = 0;
  /**
   * Linux's sock->state, which connect() answers by: 'connecting' once it
   * started a connection it has not reported, 'connected' once it reported
   * one (or accept made this socket), kept after the connection ends (a
   * later connect is EISCONN) until connect(AF_UNSPEC).
   */
  private sockState: 'unconnected' | 'connecting' | 'connected' = 'unconnected';
  private readonly rx = new MessageQueue<Uint8Array | null>();
  private readonly pending: TcpSocket[] = [];
  /** Connects waiting for room in this listener's accept queue. */
  private readonly synq: TcpSocket[] = [];
  private backlog = 0;
  /** The listener this socket waits on while connecting. */
  private listener: TcpSocket | null = null;
  /** Cancels a connect the outbound carrier is making for this socket. */
  private cancelOutside: (() => void) | null = null;

  constructor(stack: LoopbackStack, family: number, flags: number) {
    super(stack, family, abi.SOCK_STREAM, flags, [TCP_SNDBUF, TCP_RCVBUF]);
  }

  protected get table(): PortTable<PortOwner> {
    return this.stack.tcp;
  }

  override get listening(): boolean {
    return this.state === 'listening';
  }

  override get connecting(): boolean {
    return this.state === 'connecting';
  }

  // ---- connections ----

  listen(backlog: number): 0 | Errno {
    if ((this.state !== 'closed' && this.state !== 'listening') || this.sockState !== 'unconnected') return EINVAL;
    if (this.state === 'closed') {
      if (!this.bound) {
        const r = this.autobind(this.local.ip);
        if (r !== 0) return r;
      } else if (this.table.clashes(this, this.local.ip, this.local.port)) {
        return EADDRINUSE;
      }
    }
    this.backlog = backlog < 0 || backlog > SOMAXCONN ? SOMAXCONN : backlog;
    this.state = 'listening';
    this.admitWaiting();
    return 0;
  }

  connect(ep: Endpoint | null): 0 | Errno {
    if (ep === null) return this.disconnect();
    if (this.sockState === 'connected' || this.state === 'listening') return EISCONN;
    // A connection started before: still waiting, or its outcome not yet reported (a success once, or the error).
    if (this.sockState === 'connecting') return this.finishConnect();
    if (this.family === abi.AF_INET6 && isV4(ep.ip) && this.v6only) return ENETUNREACH;
    if (this.stack.outside(ep.ip)) return this.connectOutside(ep);
    const dst = this.stack.route(ep.ip);
    if (dst instanceof Errno) return dst;
    const src = this.stack.source(this.local.ip, dst);
    if (!this.bound) {
      const r = this.autobind(src);
      if (r !== 0) return r;
    } else {
      this.local = { ip: src, port: this.local.port };
    }
    this.peerEp = { ip: dst, port: ep.port };
    this.sockState = 'connecting';
    const l = this.table.find(dst, ep.port, (s) => s.listening) as TcpSocket | null;
    if (!l) {
      this.fail(ECONNREFUSED);
      return EINPROGRESS;
    }
    this.state = 'connecting';
    this.listener = l;
    l.synq.push(this);
    l.admitWaiting();
    return EINPROGRESS;
  }

  /** connect() to an outside address: the outbound carrier makes it (see the contract). */
  private connectOutside(ep: Endpoint): Errno {
    const src = this.stack.source(this.local.ip, ep.ip);
    if (!this.bound) {
      const r = this.autobind(src);
      if (r !== 0) return r;
    } else {
      this.local = { ip: src, port: this.local.port };
    }
    this.peerEp = { ip: ep.ip, port: ep.port };
    this.sockState = 'connecting';
    this.state = 'connecting';
    const r = this.stack.outbound!.connect(this, ep);
    if (r instanceof Errno) {
      this.state = 'closed';
      this.sockState = 'unconnected';
      this.peerEp = null;
      this.unbindAutomatic();
      return r;
    }
    // The carrier may have joined or failed us already.
    if (this.state === 'connecting') this.cancelOutside = r;
    return EINPROGRESS;
  }

  /** The host made our outside connection: a new end standing for the outside peer, joined to us (the carrier relays it). */
  joinOutside(): TcpSocket {
    this.cancelOutside = null;
    const end = new TcpSocket(this.stack, this.family, abi.O_NONBLOCK);
    this.joinTo(end, this.peerEp!);
    this.wq.notify(OUT);
    return end;
  }

  /** The host could not make our outside connection: `err` is pending, as for a refused loopback connect. */
  outsideFailed(err: Errno): void {
    this.cancelOutside = null;
    if (this.state === 'connecting') this.fail(err);
  }

  /** Has the end this one is connected to closed (or the connection ended)? For a relay that outlives its guest side. */
  get peerClosed(): boolean {
    return this.state !== 'connected' || !this.peer || this.peer.released;
  }

  /** Close with a reset: the peer's next call gets ECONNRESET (a relayed host connection was reset). */
  abort(): void {
    this.peer?.reset(ECONNRESET);
    void this.unref();
  }

  override finishConnect(): 0 | Errno {
    if (this.state === 'connecting') return EALREADY;
    if (this.state === 'connected') {
      this.sockState = 'connected';
      return 0;
    }
    this.sockState = 'unconnected';
    return this.takeError() ?? ECONNABORTED;
  }

  /** connect(AF_UNSPEC): a connection is reset, a listener stops, the automatic port goes. */
  private disconnect(): 0 | Errno {
    if (this.state === 'connected') this.peer?.reset(ECONNRESET);
    if (this.state === 'listening') this.stopListening();
    this.leaveSynq();
    this.state = 'closed';
    this.sockState = 'unconnected';
    this.peer = null;
    this.peerEp = null;
    this.shutdown = 0;
    this.unbindAutomatic();
    this.wq.notify(ALL);
    return 0;
  }

  /** A connect that ended without a connection: closed, with `err` pending. */
  private fail(err: Errno): void {
    this.state = 'closed';
    this.err = err;
    this.listener = null;
    this.shutdown = SHUTDOWN_MASK;
    this.wq.notify(ALL);
  }

  /** Make connections for waiting connects while the accept queue has room (more than backlog queued is full). */
  private admitWaiting(): void {
    while (this.synq.length > 0 && this.pending.length <= this.backlog) this.establish(this.synq.shift()!);
  }

  /** Join `client` to a new server end queued on this listener. */
  private establish(client: TcpSocket): void {
    const server = new TcpSocket(this.stack, this.family, 0);
    server.opts.sndbuf = this.opts.sndbuf;
    server.opts.rcvbuf = this.opts.rcvbuf;
    server.portLocked = true;
    server.addrLocked = true;
    server.inheritReuse(this);
    this.table.share(server, this.local.port);
    client.joinTo(server, { ip: client.peerEp!.ip, port: this.local.port });
    this.pending.push(server);
    this.wq.notify(IN);
    client.wq.notify(OUT);
  }

  /** This connecting socket and `end` (named `endLocal`) become each other's peer, connected. */
  private joinTo(end: TcpSocket, endLocal: Endpoint): void {
    end.local = endLocal;
    end.peerEp = this.local;
    end.peer = this;
    end.state = 'connected';
    end.sockState = 'connected';
    this.peer = end;
    this.listener = null;
    this.state = 'connected';
    this.shutdown = 0;
  }

  private reuse: [boolean, boolean] | null = null;

  private inheritReuse(l: TcpSocket): void {
    this.reuse = [l.reuseAddr(), l.reusePort()];
  }

  override reuseAddr(): boolean {
    return this.reuse ? this.reuse[0] : super.reuseAddr();
  }

  override reusePort(): boolean {
    return this.reuse ? this.reuse[1] : super.reusePort();
  }

  accept(): TcpSocket | Errno {
    if (this.state !== 'listening') return EINVAL;
    const s = this.pending.shift();
    if (!s) return EAGAIN;
    this.admitWaiting();
    return s;
  }

  /** A listener stops (close, shutdown SHUT_RD, disconnect): queued connections are reset, waiting connects refused. */
  private stopListening(): void {
    for (const s of this.pending.splice(0)) {
      s.peer?.reset(ECONNRESET);
      void s.unref();
    }
    for (const c of this.synq.splice(0)) c.fail(ECONNREFUSED);
    this.state = 'closed';
    this.wq.notify(ALL);
  }

  /** Stop waiting for a connection: leave the listener's queue, or cancel the carrier's connect. */
  private leaveSynq(): void {
    this.cancelOutside?.();
    this.cancelOutside = null;
    const l = this.listener;
    if (!l) return;
    const i = l.synq.indexOf(this);
    if (i >= 0) l.synq.splice(i, 1);
    this.listener = null;
  }

  /** The peer reset the connection: `err` pending (EPIPE once we had its FIN, as in CLOSE_WAIT), both directions shut. */
  reset(err: Errno): void {
    if (this.released || this.state !== 'connected') return;
    this.err = this.shutdown & RCV_SHUTDOWN ? EPIPE : err;
    this.state = 'closed';
    this.shutdown = SHUTDOWN_MASK;
    this.peer = null;
    this.wq.notify(ALL);
  }

  /** The peer sent a FIN: end of file after what is queued. */
  private finReceived(): void {
    this.shutdown |= RCV_SHUTDOWN;
    this.wq.notify(ALL);
  }

  shutdownHow(how: number): 0 | Errno {
    if (how < abi.SHUT_RD || how > abi.SHUT_RDWR) return EINVAL;
    const mode = how + 1;
    switch (this.state) {
      case 'closed':
        this.shutdown |= mode;
        this.wq.notify(ALL);
        return ENOTCONN;
      case 'listening':
        if (mode & RCV_SHUTDOWN) this.stopListening();
        return 0;
      case 'connecting':
        this.leaveSynq();
        this.state = 'closed';
        this.sockState = 'unconnected';
        this.wq.notify(ALL);
        return 0;
    }
    const before = this.shutdown;
    this.shutdown |= mode;
    if (mode & SEND_SHUTDOWN && !(before & SEND_SHUTDOWN)) this.peer?.finReceived();
    this.wq.notify(ALL);
    return 0;
  }

  peerName(): Endpoint | Errno {
    return this.state === 'connected' && this.peerEp ? this.peerEp : ENOTCONN;
  }

  // ---- data ----

  /**
   * Bytes that may still go out: the send buffer plus the peer's SO_RCVBUF,
   * less what is in flight. A send buffer the guest did not set counts as
   * autotuning's maximum (Linux grows it while the reader keeps up).
   */
  private get room(): number {
    return this.sendBuffer + (this.peer?.opts.rcvbuf ?? 0) - this.wmem;
  }

  private get sendBuffer(): number {
    if (this.opts.sndbufLocked || (unread.get(this.stack) ?? 0) >= TCP_MEM_PRESSURE) return this.opts.sndbuf;
    return TCP_WMEM_MAX;
  }

  /** wmem as the stack's count last saw it. */
  private counted = 0;

  /** Bring the stack's count of unread bytes up to date with this socket's wmem. */
  private recount(): void {
    unread.set(this.stack, (unread.get(this.stack) ?? 0) + this.wmem - this.counted);
    this.counted = this.wmem;
  }

  send(data: Uint8Array, _x: InetSend): number | Errno {
    const e = this.takeError();
    if (e) return e;
    if (this.shutdown & SEND_SHUTDOWN) return EPIPE;
    if (this.state === 'connecting') return EAGAIN;
    if (this.state !== 'connected') return EPIPE;
    const p = this.peer!;
    if (p.released) {
      // The peer closed: this segment is answered by a reset.
      this.reset(ECONNRESET);
      return data.length;
    }
    if (data.length === 0) return 0;
    const room = this.room;
    if (room <= 0) return EAGAIN;
    const n = Math.min(data.length, room);
    p.rx.push({ data: data.slice(0, n), off: 0, rights: null, cred: NO_CRED, from: null, sender: this });
    this.recount();
    p.wq.notify(IN);
    return n;
  }

  canSend(): boolean {
    return this.state !== 'connecting' && (this.state !== 'connected' || this.room > 0);
  }

  recv(len: number, peek: boolean): Received<Uint8Array> | Errno {
    if (this.state === 'listening') return ENOTCONN;
    if (this.rx.length > 0 && len > 0) return { ...this.rx.readStream(len, peek, false), from: null };
    const eof: Received<Uint8Array> = { data: new Uint8Array(0), size: 0, rights: [], cred: null, from: null };
    if (this.rx.length > 0) return eof; // a zero-length read of a readable socket
    const e = this.takeError();
    if (e) return e;
    if (this.shutdown & RCV_SHUTDOWN) return eof;
    if (this.state === 'closed') return ENOTCONN;
    return EAGAIN;
  }

  /** Bytes of ours were read (or dropped with the reader): writers may go on. */
  writeSpace(): void {
    this.recount();
    this.wq.notify(OUT);
  }

  /** SIOCINQ / FIONREAD. */
  override readableBytes(): number | Errno {
    return this.state === 'listening' ? EINVAL : this.rx.bytes;
  }

  unsentBytes(): number | Errno {
    if (this.state === 'listening') return EINVAL;
    return Math.max(0, this.wmem - (this.peer?.opts.rcvbuf ?? 0));
  }

  override pollEvents(): number {
    if (this.state === 'listening') return this.pending.length > 0 ? IN : 0;
    let mask = 0;
    if (this.shutdown === SHUTDOWN_MASK || this.state === 'closed') mask |= abi.POLLHUP;
    if (this.shutdown & RCV_SHUTDOWN) mask |= IN | abi.POLLRDHUP;
    if (this.state !== 'connecting') {
      if (this.rx.bytes >= Math.max(this.opts.rcvlowat, 1)) mask |= IN;
      if (this.shutdown & SEND_SHUTDOWN || this.hasRoom()) mask |= OUT;
    }
    if (this.err) mask |= abi.POLLERR;
    return mask;
  }

  /** sk_stream_is_writeable: the free send buffer is at least half of what is queued in it. */
  private hasRoom(): boolean {
    if (this.state !== 'connected') return true;
    const queued = Math.max(0, this.wmem - (this.peer?.opts.rcvbuf ?? 0));
    return this.room > 0 && this.sendBuffer - queued >= queued / 2;
  }

  protected override release(): void {
    if (this.state === 'listening') this.stopListening();
    this.leaveSynq();
    const p = this.peer;
    if (this.state === 'connected' && p) {
      if (this.rx.bytes > 0 || this.opts.lingerZero) p.reset(ECONNRESET);
      else if (!(this.shutdown & SEND_SHUTDOWN)) p.finReceived();
    }
    this.rx.drop();
    super.release();
    this.wq.notify(ALL);
  }
}
