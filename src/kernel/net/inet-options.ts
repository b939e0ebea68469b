// Socket options of the levels below SOL_SOCKET for TCP and UDP sockets:
// IPPROTO_IP, IPPROTO_IPV6 and IPPROTO_TCP (Linux's do_ip_setsockopt,
// do_ipv6_setsockopt, do_tcp_setsockopt and their getters), as bytes.
//
// Contract:
// - Every option here is an int: fewer than 4 bytes is EINVAL; a value out
//   of Linux's range is EINVAL; an option Linux does not have at that level
//   is ENOPROTOOPT. getOption returns the 4 bytes (the system call layer
//   copies at most the guest's optlen).
// - The values are stored and read back; the loopback stack takes nothing
//   from them but IPV6_V6ONLY (which addresses a socket binds and reaches;
//   refused with EINVAL once the socket is bound, as Linux refuses it) and
//   TCP_NODELAY's read-back. A level the socket lacks (TCP's on a UDP
//   socket, IPv6's on an AF_INET socket) is ENOPROTOOPT when set; when read
//   it is EOPNOTSUPP on an AF_INET socket and ENOPROTOOPT on an AF_INET6 one,
//   as Linux answers.

import * as abi from '../../linux/abi.js';
import { EINVAL, ENOPROTOOPT, EOPNOTSUPP, Errno } from '../../linux/errno.js';

interface IntOption {
  /** The value a new socket reads. */
  init: number;
  /** Is `v` accepted (Linux's range checks)? */
  ok?: (v: number) => boolean;
  /** Stored as a boolean (any non-zero is 1). */
  bool?: boolean;
}

const BOOL: IntOption = { init: 0, bool: true };
const ttl = (v: number) => v === -1 || (v >= 1 && v <= 255);

const LEVELS: Record<number, Map<number, IntOption>> = {
  [abi.IPPROTO_IP]: new Map([
    [abi.IP_TOS, { init: 0, ok: (v) => v >= 0 && v <= 255 }],
    [abi.IP_TTL, { init: 64, ok: ttl }],
    [abi.IP_RECVERR, BOOL],
  ]),
  [abi.IPPROTO_IPV6]: new Map([
    [abi.IPV6_V6ONLY, BOOL],
    [abi.IPV6_UNICAST_HOPS, { init: 64, ok: ttl }],
    [abi.IPV6_TCLASS, { init: 0, ok: (v) => v >= -1 && v <= 255 }],
  ]),
  [abi.IPPROTO_TCP]: new Map([
    [abi.TCP_NODELAY, BOOL],
    [abi.TCP_CORK, BOOL],
    [abi.TCP_QUICKACK, { init: 1, bool: true }],
    [abi.TCP_MAXSEG, { init: 536, ok: (v) => v === 0 || (v >= 88 && v <= 65535) }],
    [abi.TCP_KEEPIDLE, { init: 7200, ok: (v) => v >= 1 && v <= 32767 }],
    [abi.TCP_KEEPINTVL, { init: 75, ok: (v) => v >= 1 && v <= 32767 }],
    [abi.TCP_KEEPCNT, { init: 9, ok: (v) => v >= 1 && v <= 127 }],
    [abi.TCP_SYNCNT, { init: 6, ok: (v) => v >= 1 && v <= 127 }],
    [abi.TCP_LINGER2, { init: 60 }],
    [abi.TCP_DEFER_ACCEPT, { init: 0 }],
    [abi.TCP_USER_TIMEOUT, { init: 0, ok: (v) => v >= 0 }],
  ]),
};

/** Is `name` an option of `level` that this table knows (IP, IPv6, TCP)? Host sockets pass only these through. */
export function isInetOption(level: number, name: number): boolean {
  return LEVELS[level]?.has(name) ?? false;
}

/** The IP-level and TCP options of one socket. */
export class InetOptions {
  private readonly values = new Map<string, number>();

  /** `levels`: the levels this socket has (IP always; IPv6 for AF_INET6; TCP for TCP). */
  constructor(
    private readonly family: number,
    private readonly levels: number[],
  ) {}

  /** setsockopt(level, name, bytes). */
  set(level: number, name: number, v: Uint8Array): 0 | Errno {
    const opt = this.levels.includes(level) ? LEVELS[level]?.get(name) : undefined;
    if (!opt) return ENOPROTOOPT;
    if (v.length < 4) return EINVAL;
    const val = new DataView(v.buffer, v.byteOffset, 4).getInt32(0, true);
    if (opt.ok && !opt.ok(val)) return EINVAL;
    this.values.set(`${level}:${name}`, opt.bool ? (val !== 0 ? 1 : 0) : val);
    return 0;
  }

  /** getsockopt(level, name): the option's 4 bytes. */
  get(level: number, name: number): Uint8Array | Errno {
    // A level the socket lacks: ip_getsockopt says EOPNOTSUPP, ipv6_getsockopt ENOPROTOOPT.
    if (!this.levels.includes(level)) return this.family === abi.AF_INET6 ? ENOPROTOOPT : EOPNOTSUPP;
    const opt = LEVELS[level]?.get(name);
    if (!opt) return ENOPROTOOPT;
    const out = new Uint8Array(4);
    let v = this.int(level, name);
    if (v === -1 && (name === abi.IP_TTL || name === abi.IPV6_UNICAST_HOPS)) v = 64; // -1 reads as the route's default
    new DataView(out.buffer).setInt32(0, v, true);
    return out;
  }

  /** The option's value now. */
  int(level: number, name: number): number {
    return this.values.get(`${level}:${name}`) ?? LEVELS[level]?.get(name)?.init ?? 0;
  }
}
