// The sandbox's own Internet stack: the loopback device and the port tables
// of TCP and UDP (Linux's inet_hashinfo / udp_table, seen through what bind,
// listen, connect and a datagram's delivery decide).
//
// Contract:
// - The only interface is `lo`: 127.0.0.0/8 and ::1 are local, and so are
//   the wildcards. Binding another address is EADDRNOTAVAIL; reaching one is
//   ENETUNREACH (Linux with only lo up). Connecting to a wildcard reaches the
//   loopback address of its family, as Linux does.
// - A port is taken by every socket bound to it, listening, connected or
//   accepted. Two sockets on one port clash when their addresses overlap (an
//   equal address or a wildcard, per family: an AF_INET6 socket bound to ::
//   without IPV6_V6ONLY covers IPv4 too) unless both set SO_REUSEPORT, or
//   both set SO_REUSEADDR and (for TCP) the one already there is not
//   listening: EADDRINUSE. listen() checks again, so of two such sockets
//   only the first to listen may.
// - Port 0 picks a free ephemeral port in Linux's 32768-60999, starting at a
//   random offset; none free is EADDRINUSE (bind) or EADDRNOTAVAIL (connect).
// - Lookups prefer the socket bound to the exact address over a wildcard.
// - With `outbound` set (--network=sandbox when boot may reach a network),
//   an address outside the loopback that `outbound.carries` is not
//   ENETUNREACH: TCP connects and UDP sends to it go to the outbound carrier
//   (nat.ts), which makes them with host sockets. Binding still sees only lo.

import * as abi from '../../linux/abi.js';
import { EADDRINUSE, EADDRNOTAVAIL, ENETUNREACH, Errno } from '../../linux/errno.js';
import { hostPoller, type HostPoller } from '../files/host-poller.js';
import { EPHEMERAL_HIGH, EPHEMERAL_LOW, isAny, isLoopback, isV4, sameIp, V4_LOOPBACK, V6_LOOPBACK, type Endpoint } from './inet-address.js';

/** runsc's --network: the sandbox's own stack, loopback only, or the host's sockets. */
export type NetworkMode = 'sandbox' | 'none' | 'host';

/** What the port tables know of a socket. */
export interface PortOwner {
  readonly family: number;
  /** The bound address and port (port 0: not bound). */
  readonly local: Endpoint;
  readonly v6only: boolean;
  readonly listening: boolean;
  reuseAddr(): boolean;
  reusePort(): boolean;
}

/** One protocol's ports: who is bound where. */
export class PortTable<S extends PortOwner> {
  private readonly ports = new Map<number, Set<S>>();

  constructor(readonly protocol: number) {}

  /** Every socket bound to `port` (for lookups and /proc/net). */
  on(port: number): Iterable<S> {
    return this.ports.get(port) ?? [];
  }

  all(): S[] {
    return [...this.ports.values()].flatMap((s) => [...s]);
  }

  /** Would `s` bound to `ip:port` clash with a socket there (see the contract)? */
  clashes(s: S, ip: Uint8Array, port: number): boolean {
    for (const o of this.on(port)) {
      if (o === s || !overlap(s.family, s.v6only, ip, o.family, o.v6only, o.local.ip)) continue;
      if (s.reusePort() && o.reusePort()) continue;
      if (s.reuseAddr() && o.reuseAddr() && (this.protocol === abi.IPPROTO_UDP || !o.listening)) continue;
      return true;
    }
    return false;
  }

  /** Bind `s` at `ip:port` (0: an ephemeral port): the port, or EADDRINUSE. The caller sets s.local. */
  bind(s: S, ip: Uint8Array, port: number): number | Errno {
    if (port === 0) {
      const span = EPHEMERAL_HIGH - EPHEMERAL_LOW + 1;
      const start = Math.floor(Math.random() * span);
      for (let i = 0; i < span; i++) {
        const p = EPHEMERAL_LOW + ((start + i) % span);
        if (!this.ports.has(p)) return this.take(s, p);
      }
      return EADDRINUSE;
    }
    if (this.clashes(s, ip, port)) return EADDRINUSE;
    return this.take(s, port);
  }

  private take(s: S, port: number): number {
    let set = this.ports.get(port);
    if (!set) this.ports.set(port, (set = new Set()));
    set.add(s);
    return port;
  }

  /** `s` joins the owners of a port it shares (an accepted connection: its listener's). */
  share(s: S, port: number): void {
    this.take(s, port);
  }

  release(s: S, port: number): void {
    const set = this.ports.get(port);
    if (!set) return;
    set.delete(s);
    if (set.size === 0) this.ports.delete(port);
  }

  /** The socket on `port` that takes what is sent to `ip` from `from`, among those `fit`: exact address first. */
  find(ip: Uint8Array, port: number, fit: (s: S) => boolean): S | null {
    let wild: S | null = null;
    for (const s of this.on(port)) {
      if (!fit(s) || !reaches(s, ip)) continue;
      if (!isAny(s.local.ip)) return s;
      wild ??= s;
    }
    return wild;
  }
}

/** Does a socket bound as `s` receive what is sent to `ip`? */
function reaches(s: PortOwner, ip: Uint8Array): boolean {
  return overlap(s.family, s.v6only, s.local.ip, isV4(ip) ? abi.AF_INET : abi.AF_INET6, false, ip) && (isAny(s.local.ip) || sameIp(s.local.ip, ip));
}

/** The IPv4 address a socket bound to `ip` covers (null: none), per its family and IPV6_V6ONLY. */
function v4Side(family: number, v6only: boolean, ip: Uint8Array): Uint8Array | 'any' | null {
  if (isV4(ip)) return ip[12] === 0 && ip[13] === 0 && ip[14] === 0 && ip[15] === 0 ? 'any' : ip;
  if (family === abi.AF_INET6 && !v6only && isAny(ip)) return 'any';
  return null;
}

function v6Side(family: number, ip: Uint8Array): Uint8Array | 'any' | null {
  if (family !== abi.AF_INET6 || isV4(ip)) return null;
  return isAny(ip) ? 'any' : ip;
}

function sidesMeet(a: Uint8Array | 'any' | null, b: Uint8Array | 'any' | null): boolean {
  if (a === null || b === null) return false;
  return a === 'any' || b === 'any' || sameIp(a, b);
}

function overlap(fa: number, v6a: boolean, a: Uint8Array, fb: number, v6b: boolean, b: Uint8Array): boolean {
  return sidesMeet(v4Side(fa, v6a, a), v4Side(fb, v6b, b)) || sidesMeet(v6Side(fa, a), v6Side(fb, b));
}

/** A TCP socket connecting outside, as the outbound carrier sees it (tcp-socket.ts). */
export interface OutsideClient {
  readonly family: number;
  /** The host made the connection: the end of it that stands for the outside peer, joined to this socket. */
  joinOutside(): unknown;
  /** The host could not make it: the errno the guest gets (SO_ERROR). */
  outsideFailed(err: Errno): void;
}

/** A UDP socket sending outside, as the outbound carrier sees it (udp-socket.ts). */
export interface DatagramClient {
  readonly family: number;
  readonly released: boolean;
  /** The connected peer, whose datagrams alone a connected socket takes; null when unconnected. */
  readonly peerEp: Endpoint | null;
  /** A datagram from outside arrives, sent by `from`. */
  deliver(data: Uint8Array, from: Endpoint): void;
}

/** What carries the sandbox's connections and datagrams to addresses outside it (nat.ts). */
export interface Outbound {
  /** Is `ip` outside the sandbox and carried (a unicast address not on lo)? */
  carries(ip: Uint8Array): boolean;
  /** Start a TCP connection from `client` to `dst`: an errno at once, or the cancel (the client closed first); the client hears the outcome. */
  connect(client: OutsideClient, dst: Endpoint): (() => void) | Errno;
  /** Send one datagram of `from` to `to` outside: the count or the host's errno. */
  send(from: DatagramClient, data: Uint8Array, to: Endpoint): number | Errno;
  /** `from` is closed: its host socket goes. */
  forget(from: DatagramClient): void;
}

/** The sandbox's network: its mode and the loopback stack's port tables (one per kernel). */
export class InetStack<T extends PortOwner = PortOwner, U extends PortOwner = PortOwner> {
  readonly tcp: PortTable<T>;
  readonly udp: PortTable<U>;
  /** Watches host sockets' fds (--network=host, and sandbox's outbound carrier and published ports). */
  readonly poller: HostPoller = hostPoller;
  /** Carries what goes outside the loopback (--network=sandbox with a network to reach); null: nothing does (ENETUNREACH). */
  outbound: Outbound | null = null;

  constructor(readonly mode: NetworkMode = 'sandbox') {
    this.tcp = new PortTable<T>(abi.IPPROTO_TCP);
    this.udp = new PortTable<U>(abi.IPPROTO_UDP);
  }

  /** May a socket bind `ip`? (0 or EADDRNOTAVAIL) */
  canBind(ip: Uint8Array): 0 | Errno {
    return isAny(ip) || isLoopback(ip) ? 0 : EADDRNOTAVAIL;
  }

  /** Where a connect or send to `ip` goes: a local address (a wildcard becomes loopback), or ENETUNREACH. */
  route(ip: Uint8Array): Uint8Array | Errno {
    if (isAny(ip)) return isV4(ip) ? V4_LOOPBACK : V6_LOOPBACK;
    return isLoopback(ip) ? ip : ENETUNREACH;
  }

  /** Is `ip` an outside address the outbound carrier takes (see the contract)? */
  outside(ip: Uint8Array): boolean {
    return this.outbound !== null && !isAny(ip) && !isLoopback(ip) && this.outbound.carries(ip);
  }

  /** The source address for reaching `dst` from a socket bound to `bound` (a wildcard takes the loopback address of dst's family). */
  source(bound: Uint8Array, dst: Uint8Array): Uint8Array {
    if (!isAny(bound)) return bound;
    return isV4(dst) ? V4_LOOPBACK : V6_LOOPBACK;
  }
}

/** The loopback device, the sandbox's one interface (SIOCGIF* ioctls, rtnetlink): name, index, flags, MTU. */
export const LOOPBACK_NAME = 'lo';
export const LOOPBACK_INDEX = 1;
export const LOOPBACK_FLAGS = abi.IFF_UP | abi.IFF_LOOPBACK | abi.IFF_RUNNING;
export const LOOPBACK_MTU = 65536;
