// AF_UNIX sockets (Linux's net/unix/af_unix.c): stream, datagram and
// seqpacket, as an open file description.
//
// Contract:
// - Operations never block: one that cannot go on now returns EAGAIN, and
//   the system call layer waits on the socket's `wq` (files/blocking.ts)
//   unless the call is nonblocking. Readiness (pollEvents) is unix_poll's for
//   stream and seqpacket and unix_dgram_poll's for datagrams, so poll, select
//   and epoll see what a read or write would do.
// - Connections are made as Linux makes them: connect() creates the server's
//   end at once and queues it on the listener (the client is connected and
//   may write before accept); a listener with more than `backlog` queued
//   refuses with EAGAIN, which a blocking connect waits out. accept() takes
//   the oldest.
// - Writes are charged to the writer until read (`wmem` against SO_SNDBUF);
//   a stream write takes what fits, a datagram or seqpacket write is whole or
//   EAGAIN, and larger than SO_SNDBUF is EMSGSIZE. A datagram receiver that
//   is not connected back to the writer also holds at most MAX_DGRAM_QLEN + 1
//   messages.
// - Shutdown and close are Linux's: shutting down one direction shuts the
//   peer's other direction; closing a connected end shuts both of the peer's
//   (it reads end of file, then its writes are EPIPE). Credentials for
//   SO_PEERCRED are taken at connect, listen and socketpair.
// - Files passed in a message are held while in flight and released with
//   the queue when the receiver closes. (A socket passed over itself and then
//   closed keeps itself alive: there is no garbage collector for such cycles.)

import * as abi from '../../linux/abi.js';
import { EAGAIN, ECONNREFUSED, EINVAL, EISCONN, EMSGSIZE, ENOTCONN, EOPNOTSUPP, EPERM, EPIPE, EPROTOTYPE, Errno } from '../../linux/errno.js';
import { File } from '../files/file.js';
import { WaitQueue } from '../files/waitqueue.js';
import { allocIno, makeAttr } from '../vfs/attr.js';
import type { Attr } from '../../backend/backend.js';
import { UNNAMED, type UnixAddress } from './address.js';
import { MessageQueue, type Received, type Sender } from './message-queue.js';
import type { UCred, UnixNamespace } from './names.js';
import { SocketOptions } from './options.js';

/** sk_shutdown bits. */
export const RCV_SHUTDOWN = 1;
export const SEND_SHUTDOWN = 2;
const SHUTDOWN_MASK = RCV_SHUTDOWN | SEND_SHUTDOWN;
/** net.unix.max_dgram_qlen. */
export const MAX_DGRAM_QLEN = 10;
/** net.core.somaxconn: listen's backlog is capped here. */
export const SOMAXCONN = 4096;

const IN = abi.POLLIN | abi.POLLRDNORM;
const OUT = abi.POLLOUT | abi.POLLWRNORM | abi.POLLWRBAND;
const ALL = IN | OUT | abi.POLLERR | abi.POLLHUP | abi.POLLRDHUP;

export type SocketState = 'unconnected' | 'listening' | 'connected';

/** What a send carries besides its bytes. */
export interface SendExtras {
  /** Files to pass (SCM_RIGHTS), one reference each; cleared when a message took them. */
  rights?: File[];
  /** The sender's credentials (SCM_CREDENTIALS or its own). */
  cred: UCred;
  /** A datagram's destination (sendto); null: the connected peer. */
  to?: UnixSocket | null;
}

export class UnixSocket extends File implements Sender {
  readonly wq = new WaitQueue();
  readonly ino = allocIno();
  readonly opts = new SocketOptions();
  state: SocketState = 'unconnected';
  addr: UnixAddress = UNNAMED;
  peer: UnixSocket | null = null;
  /** SO_PEERCRED: the peer's credentials at connect (or the creator's, for socketpair and listen). */
  peerCred: UCred | null = null;
  shutdown = 0;
  /** Bytes this socket sent that nobody has read yet (sk_wmem_alloc). */
  wmem = 0;
  released = false;
  private readonly queue = new MessageQueue();
  private readonly pending: UnixSocket[] = [];
  private backlog = 0;
  /** Datagram sockets connected to this one: told when its queue has room. */
  private readonly dgramWriters = new Set<UnixSocket>();

  constructor(
    readonly ns: UnixNamespace<UnixSocket>,
    readonly type: number,
    flags: number,
  ) {
    super(abi.O_RDWR | (flags & abi.O_NONBLOCK), '');
    this.path = `socket:[${this.ino}]`;
  }

  get connectionOriented(): boolean {
    return this.type !== abi.SOCK_DGRAM;
  }

  // ---- names and connections ----

  /** Take `addr`, already reserved in the name space (the caller checked that this socket was unbound). */
  setAddress(addr: UnixAddress): void {
    this.addr = addr;
  }

  get bound(): boolean {
    return this.addr.kind !== 'unnamed';
  }

  listen(backlog: number, cred: UCred): 0 | Errno {
    if (!this.connectionOriented) return EOPNOTSUPP;
    if (this.state === 'connected' || !this.bound) return EINVAL;
    // A negative backlog is a huge unsigned one: capped, as Linux caps it.
    const next = backlog < 0 || backlog > SOMAXCONN ? SOMAXCONN : backlog;
    const grew = next > this.backlog;
    this.backlog = next;
    if (this.state !== 'listening') {
      this.state = 'listening';
      this.peerCred = cred;
    }
    if (grew) this.wq.notify(abi.POLLOUT);
    return 0;
  }

  /** Would a connect to this listener wait (unix_recvq_full)? */
  get backlogFull(): boolean {
    return this.pending.length > this.backlog;
  }

  /**
   * Connect a stream or seqpacket socket to `listener`: its server end is
   * made and queued. EAGAIN when the backlog is full.
   */
  connect(listener: UnixSocket, cred: UCred): 0 | Errno {
    // Linux's order: the listener first (a full backlog is EAGAIN even for a connected socket), then this socket's state.
    if (listener.type !== this.type) return EPROTOTYPE;
    if (listener.released || listener.state !== 'listening' || listener.shutdown & RCV_SHUTDOWN) return ECONNREFUSED;
    if (listener.backlogFull) return EAGAIN;
    if (this.state === 'connected') return EISCONN;
    if (this.state === 'listening') return EINVAL;
    const server = new UnixSocket(this.ns, this.type, 0);
    server.addr = listener.addr;
    server.opts.passcred = listener.opts.passcred;
    server.opts.sndbuf = listener.opts.sndbuf;
    server.opts.rcvbuf = listener.opts.rcvbuf;
    server.peerCred = cred;
    this.peerCred = listener.peerCred;
    pair(this, server);
    listener.pending.push(server);
    listener.wq.notify(IN);
    return 0;
  }

  /** The oldest connection queued on this listener; EAGAIN when none, EINVAL when not listening. */
  accept(): UnixSocket | Errno {
    if (!this.connectionOriented) return EOPNOTSUPP;
    if (this.state !== 'listening') return EINVAL;
    const s = this.pending.shift();
    if (!s) return EAGAIN;
    this.wq.notify(abi.POLLOUT); // a connect waiting for room in the backlog
    return s;
  }

  /** connect() of a datagram socket: `target` becomes the default destination (null: disconnect). */
  connectDgram(target: UnixSocket | null): 0 | Errno {
    if (target && target.type !== this.type) return EPROTOTYPE;
    this.peer?.dgramWriters.delete(this);
    this.peer = target;
    this.state = target ? 'connected' : 'unconnected';
    target?.dgramWriters.add(this);
    this.wq.notify(OUT);
    return 0;
  }

  /** shutdown(2): SHUT_RD, SHUT_WR or SHUT_RDWR (an unconnected socket too); a connected peer's other direction follows. */
  shutdownHow(how: number): 0 | Errno {
    if (how < abi.SHUT_RD || how > abi.SHUT_RDWR) return EINVAL;
    const mode = how + 1;
    this.shutdown |= mode;
    this.wq.notify(ALL);
    const p = this.peer;
    if (p && this.connectionOriented && this.state === 'connected') {
      let peerMode = 0;
      if (mode & RCV_SHUTDOWN) peerMode |= SEND_SHUTDOWN;
      if (mode & SEND_SHUTDOWN) peerMode |= RCV_SHUTDOWN;
      p.shutdown |= peerMode;
      p.wq.notify(ALL);
    }
    return 0;
  }

  // ---- data ----

  /**
   * Send `data` (see the contract): the count sent, or an Errno (EPIPE: the
   * caller raises SIGPIPE). A message that took the references in `x.rights`
   * clears it; what is left there is still the caller's.
   */
  send(data: Uint8Array, x: SendExtras): number | Errno {
    return this.connectionOriented ? this.sendConnected(data, x) : this.sendDgram(data, x);
  }

  /** Would a send get past EAGAIN now (room under SO_SNDBUF, and in a datagram target's queue)? */
  canSend(to: UnixSocket | null): boolean {
    if (this.wmem >= this.opts.sndbuf) return false;
    const t = to ?? this.peer;
    return this.connectionOriented || !t || t.released || t.peer === this || t.queue.length <= MAX_DGRAM_QLEN;
  }

  private sendConnected(data: Uint8Array, x: SendExtras): number | Errno {
    if (x.to && this.type === abi.SOCK_STREAM) return this.state === 'connected' ? EISCONN : EOPNOTSUPP;
    if (this.state !== 'connected') return ENOTCONN;
    if (this.shutdown & SEND_SHUTDOWN) return EPIPE;
    const p = this.peer!;
    if (p.released || p.shutdown & RCV_SHUTDOWN) return EPIPE;
    const seq = this.type === abi.SOCK_SEQPACKET;
    if (seq && data.length > this.opts.sndbuf - 32) return EMSGSIZE;
    if (this.wmem >= this.opts.sndbuf) return EAGAIN;
    if (!seq && data.length === 0) return 0;
    const n = seq ? data.length : Math.min(data.length, Math.max(this.opts.sndbuf - this.wmem, 1));
    p.queue.push({ data: data.slice(0, n), off: 0, rights: takeRights(x), cred: x.cred, from: this.addr, sender: this });
    p.wq.notify(IN);
    return n;
  }

  private sendDgram(data: Uint8Array, x: SendExtras): number | Errno {
    if (this.shutdown & SEND_SHUTDOWN) return EPIPE;
    const to = x.to ?? this.peer;
    if (!to) return ENOTCONN;
    if (to.released) {
      if (to === this.peer) this.connectDgram(null);
      return ECONNREFUSED;
    }
    if (to.type !== this.type) return EPROTOTYPE;
    if (to.peer && to.peer !== this) return EPERM;
    if (to.shutdown & RCV_SHUTDOWN) return EPIPE;
    if (data.length > this.opts.sndbuf - 32) return EMSGSIZE;
    if (this.wmem >= this.opts.sndbuf) return EAGAIN;
    if (to.peer !== this && to.queue.length > MAX_DGRAM_QLEN) return EAGAIN;
    if (this.opts.passcred && !this.bound) this.addr = this.ns.autobind(this);
    to.queue.push({ data: data.slice(), off: 0, rights: takeRights(x), cred: x.cred, from: this.addr, sender: this });
    to.wq.notify(IN);
    return data.length;
  }

  /**
   * Receive up to `len` bytes: EAGAIN when nothing is there yet, an empty
   * Received at end of file. `peek` leaves the data queued.
   */
  recv(len: number, peek: boolean): Received | Errno {
    if (this.state === 'listening') return EINVAL;
    if (this.type === abi.SOCK_STREAM && this.state !== 'connected') return EINVAL;
    if (this.type === abi.SOCK_SEQPACKET && this.state !== 'connected') return ENOTCONN;
    if (this.queue.length === 0) {
      if (this.shutdown & RCV_SHUTDOWN) return { data: new Uint8Array(0), size: 0, rights: [], cred: null, from: null };
      return EAGAIN;
    }
    if (this.type === abi.SOCK_STREAM) return this.queue.readStream(len, peek, this.opts.passcred);
    const r = this.queue.readMessage(len, peek)!;
    // Room in this queue: senders waiting on it (sendto without a connection) may go on.
    if (!peek && !this.connectionOriented) this.wq.notify(abi.POLLOUT);
    return r;
  }

  /** The sender of bytes this socket sent read some: writers may go on. */
  writeSpace(): void {
    this.wq.notify(OUT);
    for (const w of this.dgramWriters) w.wq.notify(OUT);
  }

  // ---- File ----

  override read(len: number): Uint8Array | Errno {
    const r = this.recv(len, false);
    if (r instanceof Errno) return r;
    // read(2) has nowhere to put passed files: they are closed.
    for (const f of r.rights) void f.unref();
    return r.data;
  }

  /** An empty write is an empty datagram or seqpacket record. */
  override get writesEmpty(): boolean {
    return this.type !== abi.SOCK_STREAM;
  }

  override write(data: Uint8Array): number | Errno {
    const cred = this.ns.callerCred() ?? this.lastCred;
    this.lastCred = cred;
    return this.send(data, { cred });
  }

  private lastCred: UCred = { pid: 0, uid: 0, gid: 0 };

  override pollEvents(): number {
    let mask = 0;
    if (this.shutdown & RCV_SHUTDOWN) mask |= IN | abi.POLLRDHUP;
    if (this.shutdown === SHUTDOWN_MASK) mask |= abi.POLLHUP;
    if (this.queue.length > 0 || this.pending.length > 0) mask |= IN;
    if (this.connectionOriented && this.state === 'unconnected') mask |= abi.POLLHUP;
    if (this.writable_()) mask |= OUT;
    return mask;
  }

  /** unix_writable, and for a datagram socket the room in its peer's queue. */
  private writable_(): boolean {
    if (this.state === 'listening') return false;
    if (this.wmem * 4 > this.opts.sndbuf) return false;
    const p = this.peer;
    if (!this.connectionOriented && p && !p.released && p.peer !== this && p.queue.length > MAX_DGRAM_QLEN) return false;
    return true;
  }

  override get waitQueue(): WaitQueue {
    return this.wq;
  }

  /** SO_RCVTIMEO / SO_SNDTIMEO. */
  override waitLimitMs(which: 'rcv' | 'snd'): number | null {
    return this.opts.timeoutMs(which);
  }

  /** SIOCINQ / FIONREAD: unread bytes (stream), the next message's length (otherwise). */
  override readableBytes(): number | Errno {
    if (this.state === 'listening') return EINVAL;
    return this.type === abi.SOCK_STREAM ? this.queue.bytes : this.queue.firstLength;
  }

  getattr(): Attr {
    return makeAttr(abi.S_IFSOCK | 0o777, { ino: this.ino, blksize: 4096 });
  }

  protected override release(): void {
    this.released = true;
    this.ns.unbind(this.addr, this);
    for (const s of this.pending.splice(0)) void s.unref();
    this.queue.drop();
    const p = this.peer;
    if (p && this.connectionOriented) {
      p.shutdown = SHUTDOWN_MASK;
      p.wq.notify(ALL);
    } else if (p) {
      p.dgramWriters.delete(this);
    }
    for (const w of this.dgramWriters) w.wq.notify(ALL);
    this.wq.notify(ALL);
  }
}

/** The files a send passes, taken from `x` for its message. */
function takeRights(x: SendExtras): File[] | null {
  const r = x.rights?.length ? x.rights : null;
  x.rights = undefined;
  return r;
}

/** Join two fresh sockets of one type as each other's peer (socketpair, and a connection). */
function pair(a: UnixSocket, b: UnixSocket): void {
  a.peer = b;
  b.peer = a;
  a.state = b.state = 'connected';
  a.wq.notify(OUT);
  b.wq.notify(OUT);
}

/** socketpair(2): two connected sockets of `type`, both with the creator's credentials as SO_PEERCRED. */
export function socketPair(ns: UnixNamespace<UnixSocket>, type: number, flags: number, cred: UCred): [UnixSocket, UnixSocket] {
  const a = new UnixSocket(ns, type, flags);
  const b = new UnixSocket(ns, type, flags);
  if (type === abi.SOCK_DGRAM) {
    a.connectDgram(b);
    b.connectDgram(a);
  } else {
    pair(a, b);
  }
  a.peerCred = b.peerCred = cred;
  return [a, b];
}
