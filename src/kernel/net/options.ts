// Socket options of level SOL_SOCKET (Linux's sk_setsockopt /
// sk_getsockopt), as bytes in and out, for every family of socket.
//
// Contract:
// - setOption takes the guest's option bytes (its optlen of them): an int
//   option needs at least 4 (EINVAL), struct options their size; an option
//   that cannot be set, or that Linux does not know, is ENOPROTOOPT.
// - getOption returns the option's full value as bytes; the system call layer
//   copies at most the guest's optlen of them and reports the length copied,
//   as Linux does.
// - SO_SNDBUF / SO_RCVBUF store twice the value asked (capped at the
//   sysctl maximum, at least Linux's minimum); SO_SNDBUF bounds what a socket
//   may have sent and not yet had read (unix-socket.ts).
// - Options only stored (SO_REUSEADDR, SO_KEEPALIVE, SO_LINGER, timeouts...)
//   read back what was set; they change nothing else for a Unix socket.
//   SO_RCVTIMEO / SO_SNDTIMEO bound every blocking wait of the socket
//   (File.waitLimitMs). TCP and UDP read
//   SO_REUSEADDR / SO_REUSEPORT when binding (`flag`) and SO_LINGER when
//   closing (`lingerZero`).
// - SO_DOMAIN, SO_PROTOCOL and SO_ERROR come from the socket (SocketFacts);
//   reading SO_ERROR clears the socket's pending error, as sock_error does.

import * as abi from '../../linux/abi.js';
import { EDOM, EINVAL, ENOPROTOOPT, Errno } from '../../linux/errno.js';
import type { UCred } from './names.js';
import { ucredBytes } from './control.js';

/** net.core.wmem_default / rmem_default and their maxima. */
export const SNDBUF_DEFAULT = 212992;
export const RCVBUF_DEFAULT = 212992;
const BUF_MAX = 212992;
/** SOCK_MIN_SNDBUF / SOCK_MIN_RCVBUF on 64-bit. */
const MIN_SNDBUF = 4608;
const MIN_RCVBUF = 2304;

/** Options whose value is an int that is stored and read back. */
const STORED_INTS = new Set([abi.SO_DEBUG, abi.SO_REUSEADDR, abi.SO_REUSEPORT, abi.SO_KEEPALIVE, abi.SO_DONTROUTE, abi.SO_BROADCAST, abi.SO_OOBINLINE, abi.SO_PASSSEC]);

/** What getsockopt reports of the socket besides its options. */
export interface SocketFacts {
  type: number;
  listening: boolean;
  peerCred: UCred | null;
  /** AF_UNIX when absent. */
  domain?: number;
  /** 0 when absent. */
  protocol?: number;
  /** Take the pending error (its errno, 0 for none); none when absent. */
  takeError?: () => number;
}

export class SocketOptions {
  passcred = false;
  rcvlowat = 1;
  /** The guest set SO_SNDBUF / SO_RCVBUF (Linux's SOCK_SNDBUF_LOCK / SOCK_RCVBUF_LOCK: no more autotuning). */
  sndbufLocked = false;
  rcvbufLocked = false;

  /** The buffer sizes a socket of this kind starts with (TCP's differ from the core defaults). */
  constructor(
    public sndbuf = SNDBUF_DEFAULT,
    public rcvbuf = RCVBUF_DEFAULT,
  ) {}

  /** SO_RCVTIMEO ('rcv') or SO_SNDTIMEO ('snd') in milliseconds; null when unset (zero: wait for ever). */
  timeoutMs(which: 'rcv' | 'snd'): number | null {
    return timevalMs(which === 'rcv' ? this.rcvtimeo : this.sndtimeo);
  }

  /** A stored boolean option (SO_REUSEADDR, SO_REUSEPORT, SO_KEEPALIVE...). */
  flag(name: number): boolean {
    return (this.ints.get(name) ?? 0) !== 0;
  }

  /** SO_LINGER on with a zero timeout: close resets the connection. */
  get lingerZero(): boolean {
    const dv = new DataView(this.linger.buffer, this.linger.byteOffset, 8);
    return dv.getInt32(0, true) !== 0 && dv.getInt32(4, true) === 0;
  }
  private readonly ints = new Map<number, number>();
  private linger = new Uint8Array(8);
  private rcvtimeo = new Uint8Array(16);
  private sndtimeo = new Uint8Array(16);

  /** setsockopt(SOL_SOCKET, name, bytes). */
  set(name: number, v: Uint8Array): 0 | Errno {
    const int = () => (v.length >= 4 ? new DataView(v.buffer, v.byteOffset, 4).getInt32(0, true) : null);
    switch (name) {
      case abi.SO_LINGER:
        if (v.length < 8) return EINVAL;
        this.linger = v.slice(0, 8);
        return 0;
      case abi.SO_RCVTIMEO_OLD:
      case abi.SO_SNDTIMEO_OLD: {
        if (v.length < 16) return EINVAL;
        const usec = new DataView(v.buffer, v.byteOffset, 16).getBigInt64(8, true);
        if (usec < 0n || usec >= 1000000n) return EDOM;
        if (name === abi.SO_RCVTIMEO_OLD) this.rcvtimeo = v.slice(0, 16);
        else this.sndtimeo = v.slice(0, 16);
        return 0;
      }
    }
    const val = int();
    if (val === null) return isKnown(name) ? EINVAL : ENOPROTOOPT;
    switch (name) {
      case abi.SO_PASSCRED:
        this.passcred = val !== 0;
        return 0;
      case abi.SO_SNDBUF:
      case abi.SO_SNDBUFFORCE:
        this.sndbuf = Math.max(Math.min(val >>> 0, BUF_MAX) * 2, MIN_SNDBUF);
        this.sndbufLocked = true;
        return 0;
      case abi.SO_RCVBUF:
      case abi.SO_RCVBUFFORCE:
        this.rcvbuf = Math.max(Math.min(val >>> 0, BUF_MAX) * 2, MIN_RCVBUF);
        this.rcvbufLocked = true;
        return 0;
      case abi.SO_RCVLOWAT:
        this.rcvlowat = val < 0 ? 0x7fffffff : Math.max(val, 1);
        return 0;
    }
    if (STORED_INTS.has(name)) {
      this.ints.set(name, val !== 0 ? 1 : 0);
      return 0;
    }
    return ENOPROTOOPT;
  }

  /** getsockopt(SOL_SOCKET, name): the whole value. */
  get(name: number, s: SocketFacts): Uint8Array | Errno {
    switch (name) {
      case abi.SO_TYPE:
        return i32(s.type);
      case abi.SO_DOMAIN:
        return i32(s.domain ?? abi.AF_UNIX);
      case abi.SO_PROTOCOL:
        return i32(s.protocol ?? 0);
      case abi.SO_ERROR:
        return i32(s.takeError?.() ?? 0);
      case abi.SO_ACCEPTCONN:
        return i32(s.listening ? 1 : 0);
      case abi.SO_PASSCRED:
        return i32(this.passcred ? 1 : 0);
      case abi.SO_SNDBUF:
        return i32(this.sndbuf);
      case abi.SO_RCVBUF:
        return i32(this.rcvbuf);
      case abi.SO_RCVLOWAT:
        return i32(this.rcvlowat);
      case abi.SO_SNDLOWAT:
        return i32(1);
      case abi.SO_LINGER:
        return this.linger.slice();
      case abi.SO_RCVTIMEO_OLD:
        return this.rcvtimeo.slice();
      case abi.SO_SNDTIMEO_OLD:
        return this.sndtimeo.slice();
      case abi.SO_PEERCRED:
        // No peer: pid 0, uid and gid -1 (cred_to_ucred without credentials).
        return ucredBytes(s.peerCred ?? { pid: 0, uid: -1, gid: -1 });
    }
    if (STORED_INTS.has(name)) return i32(this.ints.get(name) ?? 0);
    return ENOPROTOOPT;
  }
}

function isKnown(name: number): boolean {
  return STORED_INTS.has(name) || [abi.SO_PASSCRED, abi.SO_SNDBUF, abi.SO_SNDBUFFORCE, abi.SO_RCVBUF, abi.SO_RCVBUFFORCE, abi.SO_RCVLOWAT].includes(name);
}

/** A struct timeval's bytes as milliseconds; null for zero (no timeout). */
export function timevalMs(v: Uint8Array): number | null {
  if (v.length < 16) return null;
  const dv = new DataView(v.buffer, v.byteOffset, 16);
  const ms = Number(dv.getBigInt64(0, true)) * 1000 + Number(dv.getBigInt64(8, true)) / 1000;
  return ms > 0 ? ms : null;
}

/** An int option's bytes. */
export function i32(v: number): Uint8Array {
  const out = new Uint8Array(4);
  new DataView(out.buffer).setInt32(0, v, true);
  return out;
}
