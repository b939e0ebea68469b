// UDP over the sandbox's loopback (what the guest sees of Linux's
// net/ipv4/udp.c and net/core/datagram.c on lo): a send finds the receiving socket
// by address and port and queues the datagram there at once.
//
// Contract:
// - A datagram goes to the socket bound to its destination (the exact
//   address before a wildcard); a socket connected elsewhere does not take
//   it. Nobody there: the datagram is lost, and a sender connected to that
//   destination gets ECONNREFUSED from its next send or receive (the ICMP
//   port unreachable Linux would report). A receiver whose queue is over its
//   SO_RCVBUF drops what arrives.
// - The sender is never charged (loopback hands the datagram over at once),
//   so a UDP socket is always writable. Payloads over 65507 bytes (IPv4) or
//   65527 (IPv6) are EMSGSIZE; a destination port of 0 is EINVAL; no
//   destination at all EDESTADDRREQ.
// - connect() sets the default destination and the source address (taking
//   an ephemeral port); AF_UNSPEC dissolves it and gives back an automatic
//   port. A first send from an unbound socket takes an ephemeral port.
// - A destination outside the loopback that the stack's outbound carrier
//   takes (--network=sandbox, nat.ts) is sent through a host socket of this
//   socket's own; what comes back to that host socket is delivered here as
//   from its sender (a connected socket takes only its peer's).
// - Readiness is datagram_poll's: POLLIN with a datagram queued, POLLOUT
//   always, POLLERR while an error is pending, shutdown bits as TCP's.

import * as abi from '../../linux/abi.js';
import { EAGAIN, EDESTADDRREQ, ECONNREFUSED, EINVAL, EMSGSIZE, ENETUNREACH, ENOTCONN, EOPNOTSUPP, EPIPE, Errno } from '../../linux/errno.js';
import { encodeInet, isV4, sameEndpoint, type Endpoint } from './inet-address.js';
import { ALL, IN, OUT, RCV_SHUTDOWN, SEND_SHUTDOWN, type InetSend } from './inet-socket.js';
import type { PortOwner, PortTable } from './inet-stack.js';
import { LoopbackSocket, type LoopbackStack } from './loopback-socket.js';
import { MessageQueue, type Received, type Sender } from './message-queue.js';
import { RCVBUF_DEFAULT, SNDBUF_DEFAULT } from './options.js';

const SHUTDOWN_MASK = RCV_SHUTDOWN | SEND_SHUTDOWN;
const MAX_V4_PAYLOAD = 65507;
const MAX_V6_PAYLOAD = 65527;
/** What Linux charges a receiver per datagram beyond its bytes (roughly an skb's truesize). */
const DATAGRAM_OVERHEAD = 768;
const NO_CRED = { pid: 0, uid: 0, gid: 0 };
/** A UDP sender is not charged for its datagrams. */
const UNCHARGED: Sender = { wmem: 0, writeSpace: () => {} };

export class UdpSocket extends LoopbackSocket {
  peerEp: Endpoint | null = null;
  private readonly rx = new MessageQueue<Uint8Array>();

  constructor(stack: LoopbackStack, family: number, flags: number) {
    super(stack, family, abi.SOCK_DGRAM, flags, [SNDBUF_DEFAULT, RCVBUF_DEFAULT]);
  }

  protected get table(): PortTable<PortOwner> {
    return this.stack.udp;
  }

  listen(): 0 | Errno {
    return EOPNOTSUPP;
  }

  accept(): Errno {
    return EOPNOTSUPP;
  }

  connect(ep: Endpoint | null): 0 | Errno {
    if (ep === null) {
      this.peerEp = null;
      this.unbindAutomatic();
      return 0;
    }
    const routed = this.route(ep.ip);
    if (routed instanceof Errno) return routed;
    const dst = routed === 'outside' ? ep.ip : routed;
    const src = this.stack.source(this.local.ip, dst);
    const r = this.autobind(src);
    if (r !== 0) return r;
    this.local = { ip: src, port: this.local.port };
    this.peerEp = { ip: dst, port: ep.port };
    return 0;
  }

  /** Where a datagram to `ip` goes: a loopback address, 'outside' (the outbound carrier), or ENETUNREACH. */
  private route(ip: Uint8Array): Uint8Array | 'outside' | Errno {
    if (this.family === abi.AF_INET6 && isV4(ip) && this.v6only) return ENETUNREACH;
    if (this.stack.outside(ip)) return 'outside';
    return this.stack.route(ip);
  }

  shutdownHow(how: number): 0 | Errno {
    if (how < abi.SHUT_RD || how > abi.SHUT_RDWR) return EINVAL;
    this.shutdown |= how + 1;
    this.wq.notify(ALL);
    return this.peerEp ? 0 : ENOTCONN;
  }

  peerName(): Endpoint | Errno {
    return this.peerEp ?? ENOTCONN;
  }

  send(data: Uint8Array, x: InetSend): number | Errno {
    const e = this.takeError();
    if (e) return e;
    if (this.shutdown & SEND_SHUTDOWN) return EPIPE;
    const to = x.to ?? this.peerEp;
    if (!to) return EDESTADDRREQ;
    if (to.port === 0) return EINVAL;
    const routed = this.route(to.ip);
    if (routed instanceof Errno) return routed;
    const dst = routed === 'outside' ? to.ip : routed;
    if (data.length > (isV4(dst) ? MAX_V4_PAYLOAD : MAX_V6_PAYLOAD)) return EMSGSIZE;
    // A first send takes a port but, unlike connect, leaves the address a wildcard.
    const b = this.autobind(this.local.ip);
    if (b !== 0) return b;
    if (routed === 'outside') return this.stack.outbound!.send(this, data, { ip: dst, port: to.port });
    const from: Endpoint = { ip: this.stack.source(this.local.ip, dst), port: this.local.port };
    const target = this.table.find(dst, to.port, (s) => {
      const u = s as UdpSocket;
      return !u.released && (!u.peerEp || sameEndpoint(u.peerEp, from));
    }) as UdpSocket | null;
    if (!target) {
      if (this.peerEp && sameEndpoint(this.peerEp, { ip: dst, port: to.port })) {
        this.err = ECONNREFUSED;
        this.wq.notify(abi.POLLERR);
      }
      return data.length;
    }
    target.deliver(data, from);
    return data.length;
  }

  /** Queue a datagram from `from` (dropped over SO_RCVBUF). */
  deliver(data: Uint8Array, from: Endpoint): void {
    if (this.rx.bytes + this.rx.length * DATAGRAM_OVERHEAD > this.opts.rcvbuf) return;
    this.rx.push({ data: data.slice(), off: 0, rights: null, cred: NO_CRED, from: encodeInet(from, this.family), sender: UNCHARGED });
    this.wq.notify(IN);
  }

  canSend(): boolean {
    return true;
  }

  recv(len: number, peek: boolean): Received<Uint8Array> | Errno {
    const e = this.takeError();
    if (e) return e;
    const r = this.rx.readMessage(len, peek);
    if (r) return r;
    if (this.shutdown & RCV_SHUTDOWN) return { data: new Uint8Array(0), size: 0, rights: [], cred: null, from: null };
    return EAGAIN;
  }

  /** Bytes of every datagram queued (/proc/net/udp's rx_queue). */
  get queuedBytes(): number {
    return this.rx.bytes;
  }

  /** SIOCINQ / FIONREAD: the next datagram's length. */
  override readableBytes(): number {
    return this.rx.firstLength;
  }

  unsentBytes(): number {
    return 0;
  }

  override pollEvents(): number {
    let mask = OUT | abi.POLLWRBAND;
    if (this.err) mask |= abi.POLLERR;
    if (this.shutdown & RCV_SHUTDOWN) mask |= IN | abi.POLLRDHUP;
    if (this.shutdown === SHUTDOWN_MASK) mask |= abi.POLLHUP;
    if (this.rx.length > 0) mask |= IN;
    return mask;
  }

  protected override release(): void {
    this.stack.outbound?.forget(this);
    this.rx.drop();
    super.release();
    this.wq.notify(ALL);
  }
}
