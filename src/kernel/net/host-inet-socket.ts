// --network=host: a guest AF_INET/AF_INET6 socket that is a host socket
// (src/host/inet.ts), opened and polled by the sandbox. The host kernel does
// TCP and UDP; this file only carries the guest's calls over.
//
// Contract:
// - The host socket is always nonblocking: an operation that would block
//   is EAGAIN here, and the system call layer waits on `wq`, which the
//   sandbox's HostPoller feeds (host-poller.ts) while someone waits. After
//   an EAGAIN the poller is rearmed, so readiness that returns is reported.
// - connect() starts the host's nonblocking connect: EINPROGRESS while it
//   goes on (`connecting` until the host fd is writable or in error), and
//   finishConnect reads the host's SO_ERROR.
// - Options pass through only where tsvisor knows them (SOL_SOCKET's
//   ordinary ones, and the IP, IPv6 and TCP options of inet-options.ts);
//   others are ENOPROTOOPT, so a guest cannot use options that need the
//   host process's privileges (SO_MARK, SO_BINDTODEVICE, *BUFFORCE...).
// - Sends never raise SIGPIPE on the host; EPIPE comes back to the system
//   call layer, which raises the guest's. Addresses cross as the guest's
//   sockaddr bytes (the same layout on every host Linux supports).

import * as abi from '../../linux/abi.js';
import { EAGAIN, EINPROGRESS, ENOPROTOOPT, Errno } from '../../linux/errno.js';
import * as host from '../../host/ffi.js';
import { WaitQueue } from '../files/waitqueue.js';
import { decodeInet, encodeInet, type Endpoint } from './inet-address.js';
import { isInetOption } from './inet-options.js';
import { InetSocket, type InetSend } from './inet-socket.js';
import type { HostPoller } from '../files/host-poller.js';
import type { Received } from './message-queue.js';
import { timevalMs } from './options.js';

/** SOL_SOCKET options a guest may set on a host socket. */
const SOCKET_SET = new Set([abi.SO_REUSEADDR, abi.SO_REUSEPORT, abi.SO_KEEPALIVE, abi.SO_LINGER, abi.SO_SNDBUF, abi.SO_RCVBUF, abi.SO_RCVLOWAT, abi.SO_BROADCAST, abi.SO_OOBINLINE, abi.SO_DONTROUTE, abi.SO_RCVTIMEO_OLD, abi.SO_SNDTIMEO_OLD]);
/** And those it may read besides. */
const SOCKET_GET = new Set([...SOCKET_SET, abi.SO_TYPE, abi.SO_DOMAIN, abi.SO_PROTOCOL, abi.SO_ERROR, abi.SO_ACCEPTCONN, abi.SO_SNDLOWAT]);
const OPTION_ROOM = 64;
/** The most one receive takes from the host: a stream read may return less, and no datagram is larger. */
const MAX_STREAM_READ = 4 << 20;
const MAX_DATAGRAM = 65536;

const errno = (r: number): Errno => Errno.of(-r);

/** A new host socket for the guest's socket(family, type). */
export function openHostInetSocket(poller: HostPoller, family: number, type: number, flags: number): InetSocket | Errno {
  const fd = host.inetSocket(family, type);
  if (fd < 0) return errno(fd);
  return new HostInetSocket(poller, family, type, flags, fd);
}

export class HostInetSocket extends InetSocket {
  readonly wq = new WaitQueue((active) => this.watch(active));
  private unwatch: (() => void) | null = null;
  /** The address of a connect the host is still making (for the blocking caller's finishConnect). */
  private pendingConnect: Uint8Array | null = null;
  private closed = false;

  constructor(
    private readonly poller: HostPoller,
    family: number,
    type: number,
    flags: number,
    readonly fd: number,
  ) {
    super(family, type, flags);
  }

  private watch(active: boolean): void {
    if (active && !this.closed) this.unwatch ??= this.poller.watch(this.fd, (rev) => this.wq.notify(rev | (rev & abi.POLLIN ? abi.POLLRDNORM : 0) | (rev & abi.POLLOUT ? abi.POLLWRNORM : 0)));
    else if (!active) {
      this.unwatch?.();
      this.unwatch = null;
    }
  }

  /** A host result as the guest's: EAGAIN rearms the poller (see the contract). */
  private result(r: number): number | Errno {
    if (r >= 0) return r;
    const e = errno(r);
    if (e === EAGAIN) this.poller.rearm(this.fd);
    return e;
  }

  private status(r: number): 0 | Errno {
    const v = this.result(r);
    return v instanceof Errno ? v : 0;
  }

  bind(ep: Endpoint): 0 | Errno {
    return this.status(host.inetBind(this.fd, encodeInet(ep, this.family)));
  }

  listen(backlog: number): 0 | Errno {
    return this.status(host.inetListen(this.fd, backlog));
  }

  override get listening(): boolean {
    const v = host.inetGetsockopt(this.fd, abi.SOL_SOCKET, abi.SO_ACCEPTCONN, 4);
    return typeof v !== 'number' && v.readInt32LE(0) !== 0;
  }

  connect(ep: Endpoint | null): 0 | Errno {
    const addr = ep ? encodeInet(ep, this.family) : Uint8Array.of(abi.AF_UNSPEC, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0);
    const r = this.status(host.inetConnect(this.fd, addr));
    if (r === EINPROGRESS) {
      this.pendingConnect = addr;
      this.poller.rearm(this.fd);
    }
    return r;
  }

  override get connecting(): boolean {
    if (!this.pendingConnect) return false;
    return (this.pollEvents() & (abi.POLLOUT | abi.POLLERR | abi.POLLHUP)) === 0;
  }

  /**
   * A blocking connect's outcome (the host's SO_ERROR). The host's connect is
   * then called once more, as a blocking connect on Linux settles the socket
   * before it returns: connected (a later connect is EISCONN), or, after a
   * failure, unconnected (a later connect tries again).
   */
  override finishConnect(): 0 | Errno {
    const addr = this.pendingConnect;
    this.pendingConnect = null;
    const v = host.inetGetsockopt(this.fd, abi.SOL_SOCKET, abi.SO_ERROR, 4);
    if (addr) host.inetConnect(this.fd, addr);
    if (typeof v === 'number') return errno(v);
    const e = v.readInt32LE(0);
    return e === 0 ? 0 : Errno.of(e);
  }

  accept(): InetSocket | Errno {
    const r = this.result(host.inetAccept(this.fd));
    return r instanceof Errno ? r : new HostInetSocket(this.poller, this.family, this.type, 0, r);
  }

  name(): Endpoint {
    const ep = this.endpoint(host.inetName(this.fd, false));
    return ep instanceof Errno ? { ip: new Uint8Array(16), port: 0 } : ep;
  }

  peerName(): Endpoint | Errno {
    return this.endpoint(host.inetName(this.fd, true));
  }

  private endpoint(bytes: Buffer | number): Endpoint | Errno {
    if (typeof bytes === 'number') return errno(bytes);
    const ep = decodeInet(bytes, this.family);
    return ep === 'unspec' ? { ip: new Uint8Array(16), port: 0 } : ep;
  }

  shutdownHow(how: number): 0 | Errno {
    return this.status(host.inetShutdown(this.fd, how));
  }

  send(data: Uint8Array, x: InetSend): number | Errno {
    return this.result(host.inetSend(this.fd, data, 0, x.to ? encodeInet(x.to, this.family) : null));
  }

  canSend(): boolean {
    return (this.pollEvents() & abi.POLLOUT) !== 0;
  }

  recv(len: number, peek: boolean): Received<Uint8Array> | Errno {
    const dgram = this.type === abi.SOCK_DGRAM;
    // A stream read may return less; a datagram beyond the room is cut (MSG_TRUNC tells its size).
    const r = host.inetRecv(this.fd, Math.min(len, dgram ? MAX_DATAGRAM : MAX_STREAM_READ), (peek ? abi.MSG_PEEK : 0) | (dgram ? abi.MSG_TRUNC : 0));
    if (typeof r === 'number') return this.result(r) as Errno;
    const got = Math.min(r.n, r.data.length);
    const data = new Uint8Array(r.data.buffer, r.data.byteOffset, got);
    return { data, size: r.n, rights: [], cred: null, from: dgram && r.from.length > 0 ? new Uint8Array(r.from) : null };
  }

  setOption(level: number, name: number, v: Uint8Array): 0 | Errno {
    if (level === abi.SOL_SOCKET ? !SOCKET_SET.has(name) : !isInetOption(level, name)) return ENOPROTOOPT;
    return this.status(host.inetSetsockopt(this.fd, level, name, v));
  }

  getOption(level: number, name: number): Uint8Array | Errno {
    if (level === abi.SOL_SOCKET ? !SOCKET_GET.has(name) : !isInetOption(level, name)) return ENOPROTOOPT;
    const v = host.inetGetsockopt(this.fd, level, name, OPTION_ROOM);
    return typeof v === 'number' ? errno(v) : new Uint8Array(v);
  }

  /** The timeout the guest set on the host socket (read back from the host: it holds the option). */
  override waitLimitMs(which: 'rcv' | 'snd'): number | null {
    const v = host.inetGetsockopt(this.fd, abi.SOL_SOCKET, which === 'rcv' ? abi.SO_RCVTIMEO_OLD : abi.SO_SNDTIMEO_OLD, 16);
    return typeof v === 'number' ? null : timevalMs(v);
  }

  override readableBytes(): number | Errno {
    return this.result(host.inetInq(this.fd));
  }

  unsentBytes(): number | Errno {
    return this.result(host.inetOutq(this.fd));
  }

  override pollEvents(): number {
    if (this.closed) return abi.POLLNVAL;
    const r = host.pollMany([{ fd: this.fd, events: abi.POLLIN | abi.POLLOUT | abi.POLLPRI | abi.POLLRDHUP }], 0);
    if (typeof r === 'number') return abi.POLLERR;
    const rev = r[0];
    return rev | (rev & abi.POLLIN ? abi.POLLRDNORM : 0) | (rev & abi.POLLOUT ? abi.POLLWRNORM : 0);
  }

  protected override release(): void {
    this.closed = true;
    this.unwatch?.();
    this.unwatch = null;
    host.inetClose(this.fd);
    this.wq.notify(abi.POLLIN | abi.POLLOUT | abi.POLLHUP);
  }
}
