// An AF_INET or AF_INET6 socket as the system calls see it, whatever carries
// it: the sandbox's loopback stack (tcp-socket.ts, udp-socket.ts) or a host
// socket (host-inet-socket.ts, --network=host).
//
// Contract:
// - Operations never block (as every File): one that cannot go on returns
//   EAGAIN and the system call layer waits on `wq` unless the call is
//   nonblocking. connect() that starts a connection returns EINPROGRESS,
//   whatever the outcome; a blocking caller then waits until `connecting` is
//   false and asks `finishConnect()` for the result (0, or the error that
//   ended it, taken as SO_ERROR takes it).
// - Addresses come in and go out as Endpoints (inet-address.ts): the
//   system call layer decodes and encodes the guest's sockaddr bytes.
// - recv returns Received whose `from` is the sender's sockaddr bytes in
//   this socket's family (datagrams), or null (streams: recvfrom reports no
//   address, as Linux's TCP does).
// - send's EPIPE means SIGPIPE for the caller (unless MSG_NOSIGNAL).

import * as abi from '../../linux/abi.js';
import { Errno } from '../../linux/errno.js';
import type { Attr } from '../../backend/backend.js';
import { File } from '../files/file.js';
import type { WaitQueue } from '../files/waitqueue.js';
import { allocIno, makeAttr } from '../vfs/attr.js';
import type { Endpoint } from './inet-address.js';
import type { Received } from './message-queue.js';

/** sk_shutdown bits, as unix-socket.ts has them. */
export { RCV_SHUTDOWN, SEND_SHUTDOWN } from './unix-socket.js';

export const IN = abi.POLLIN | abi.POLLRDNORM;
export const OUT = abi.POLLOUT | abi.POLLWRNORM;
export const ALL = IN | OUT | abi.POLLWRBAND | abi.POLLERR | abi.POLLHUP | abi.POLLRDHUP;

/** What one send carries besides its bytes. */
export interface InetSend {
  /** sendto's destination; null: the connected peer. */
  to: Endpoint | null;
}

export abstract class InetSocket extends File {
  readonly ino = allocIno();
  abstract readonly wq: WaitQueue;

  constructor(
    readonly family: number,
    readonly type: number,
    flags: number,
  ) {
    super(abi.O_RDWR | (flags & abi.O_NONBLOCK), '');
    this.path = `socket:[${this.ino}]`;
  }

  get protocol(): number {
    return this.type === abi.SOCK_STREAM ? abi.IPPROTO_TCP : abi.IPPROTO_UDP;
  }

  /** bind(2) to `ep` (port 0: an ephemeral one). */
  abstract bind(ep: Endpoint): 0 | Errno;
  abstract listen(backlog: number): 0 | Errno;
  get listening(): boolean {
    return false;
  }
  /** connect(2) to `ep`, or dissolve the association (null: AF_UNSPEC). See the contract for EINPROGRESS. */
  abstract connect(ep: Endpoint | null): 0 | Errno;
  /** Is a connection started by connect() still being made? */
  get connecting(): boolean {
    return false;
  }
  /** The outcome of the connection connect() started (see the contract). */
  finishConnect(): 0 | Errno {
    return 0;
  }
  /** The oldest established connection of a listener; EAGAIN when none. */
  abstract accept(): InetSocket | Errno;
  /** getsockname's endpoint. */
  abstract name(): Endpoint;
  /** getpeername's endpoint, or ENOTCONN. */
  abstract peerName(): Endpoint | Errno;
  abstract shutdownHow(how: number): 0 | Errno;
  abstract send(data: Uint8Array, x: InetSend): number | Errno;
  /** Would send get past EAGAIN now? */
  abstract canSend(): boolean;
  abstract recv(len: number, peek: boolean): Received<Uint8Array> | Errno;
  abstract setOption(level: number, name: number, v: Uint8Array): 0 | Errno;
  abstract getOption(level: number, name: number): Uint8Array | Errno;
  /** SIOCOUTQ: bytes sent and not yet taken by the other end. */
  abstract unsentBytes(): number | Errno;
  /** SO_RCVTIMEO ('rcv') or SO_SNDTIMEO ('snd') in milliseconds; null: wait for ever. */
  abstract override waitLimitMs(which: 'rcv' | 'snd'): number | null;

  override read(len: number): Uint8Array | Errno {
    const r = this.recv(len, false);
    return r instanceof Errno ? r : r.data;
  }

  override write(data: Uint8Array): number | Errno {
    return this.send(data, { to: null });
  }

  /** An empty write(2) is an empty datagram. */
  override get writesEmpty(): boolean {
    return this.type === abi.SOCK_DGRAM;
  }

  override get waitQueue(): WaitQueue {
    return this.wq;
  }

  getattr(): Attr {
    return makeAttr(abi.S_IFSOCK | 0o777, { ino: this.ino, blksize: 4096 });
  }
}
