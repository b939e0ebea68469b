// AF_INET and AF_INET6 addresses as the kernel keeps them, and their
// encoding to and from the guest's struct sockaddr_in / sockaddr_in6.
//
// Contract:
// - An address is kept as 16 bytes in IPv6 form whatever the family: an
//   IPv4 address A.B.C.D is the v4-mapped ::ffff:A.B.C.D (so 0.0.0.0 is
//   ::ffff:0.0.0.0, distinct from IPv6's ::). An `Endpoint` is an address
//   and a port (host order).
// - decodeInet checks what the connects and sends check: a length short of
//   sockaddr_in (16) or of RFC 2133's sockaddr_in6 (24) is EINVAL, another
//   family EAFNOSUPPORT, and AF_UNSPEC is reported as such (connect's
//   disconnect); decodeBind is bind's reading (inet_bind / inet6_bind).
// - encodeInet gives the bytes Linux reports for getsockname, getpeername,
//   accept and recvfrom, in the socket's family: an AF_INET6 socket sees an
//   IPv4 peer as v4-mapped.

import * as abi from '../../linux/abi.js';
import { EAFNOSUPPORT, EINVAL, Errno } from '../../linux/errno.js';

export interface Endpoint {
  /** 16 bytes, IPv6 form (v4 as v4-mapped). */
  ip: Uint8Array;
  port: number;
}

/** Linux's ip_local_port_range default: where ephemeral ports come from. */
export const EPHEMERAL_LOW = 32768;
export const EPHEMERAL_HIGH = 60999;

/** RFC 2133's sockaddr_in6 without sin6_scope_id: the shortest an AF_INET6 call takes. */
const SIN6_LEN_RFC2133 = 24;

/** The v4-mapped form of the four bytes of an IPv4 address. */
export function v4(a: number, b: number, c: number, d: number): Uint8Array {
  return Uint8Array.of(0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff, a, b, c, d);
}

export const V4_ANY = v4(0, 0, 0, 0);
export const V4_LOOPBACK = v4(127, 0, 0, 1);
export const V6_ANY = new Uint8Array(16);
export const V6_LOOPBACK = Uint8Array.of(0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1);

/** Is `ip` an IPv4 address (v4-mapped)? */
export function isV4(ip: Uint8Array): boolean {
  for (let i = 0; i < 10; i++) if (ip[i] !== 0) return false;
  return ip[10] === 0xff && ip[11] === 0xff;
}

/** INADDR_ANY or in6addr_any. */
export function isAny(ip: Uint8Array): boolean {
  return sameIp(ip, V6_ANY) || sameIp(ip, V4_ANY);
}

/** 127.0.0.0/8 or ::1 (the loopback device's addresses). */
export function isLoopback(ip: Uint8Array): boolean {
  return (isV4(ip) && ip[12] === 127) || sameIp(ip, V6_LOOPBACK);
}

export function sameIp(a: Uint8Array, b: Uint8Array): boolean {
  for (let i = 0; i < 16; i++) if (a[i] !== b[i]) return false;
  return true;
}

export function sameEndpoint(a: Endpoint, b: Endpoint): boolean {
  return a.port === b.port && sameIp(a.ip, b.ip);
}

/** The guest's sockaddr bytes for a socket of `family`: an endpoint, 'unspec' for AF_UNSPEC (connect's disconnect), or the errno. */
export function decodeInet(bytes: Uint8Array, family: number): Endpoint | 'unspec' | Errno {
  const dv = new DataView(bytes.buffer, bytes.byteOffset, bytes.length);
  if (bytes.length >= 2 && dv.getUint16(0, true) === abi.AF_UNSPEC) return 'unspec';
  if (bytes.length < (family === abi.AF_INET ? abi.SOCKADDR_IN.size : SIN6_LEN_RFC2133)) return EINVAL;
  if (dv.getUint16(0, true) !== family) return EAFNOSUPPORT;
  const port = dv.getUint16(abi.SOCKADDR_IN.port);
  if (family === abi.AF_INET) {
    const a = abi.SOCKADDR_IN.addr;
    return { ip: v4(bytes[a], bytes[a + 1], bytes[a + 2], bytes[a + 3]), port };
  }
  return { ip: bytes.slice(abi.SOCKADDR_IN6.addr, abi.SOCKADDR_IN6.addr + 16), port };
}

/**
 * bind's reading of the guest's bytes: the length is checked before the
 * family, and an AF_INET socket takes AF_UNSPEC with INADDR_ANY as AF_INET
 * (inet_bind's compatibility rule); any other AF_UNSPEC is EAFNOSUPPORT.
 */
export function decodeBind(bytes: Uint8Array, family: number): Endpoint | Errno {
  if (bytes.length < (family === abi.AF_INET ? abi.SOCKADDR_IN.size : SIN6_LEN_RFC2133)) return EINVAL;
  const d = decodeInet(bytes, family);
  if (d !== 'unspec') return d;
  const dv = new DataView(bytes.buffer, bytes.byteOffset, bytes.length);
  if (family !== abi.AF_INET || dv.getUint32(abi.SOCKADDR_IN.addr) !== 0) return EAFNOSUPPORT;
  return { ip: V4_ANY, port: dv.getUint16(abi.SOCKADDR_IN.port) };
}

/** sockaddr_in (16 bytes) or sockaddr_in6 (28 bytes) for `ep`, in `family`. */
export function encodeInet(ep: Endpoint, family: number): Uint8Array {
  if (family === abi.AF_INET) {
    const out = new Uint8Array(abi.SOCKADDR_IN.size);
    const dv = new DataView(out.buffer);
    dv.setUint16(0, abi.AF_INET, true);
    dv.setUint16(abi.SOCKADDR_IN.port, ep.port);
    out.set(ep.ip.subarray(12), abi.SOCKADDR_IN.addr);
    return out;
  }
  const out = new Uint8Array(abi.SOCKADDR_IN6.size);
  const dv = new DataView(out.buffer);
  dv.setUint16(0, abi.AF_INET6, true);
  dv.setUint16(abi.SOCKADDR_IN6.port, ep.port);
  out.set(ep.ip, abi.SOCKADDR_IN6.addr);
  return out;
}

/** /proc/net/{tcp,udp} spelling: the address as the host-order words Linux prints ("0100007F"), then ":PORT" in hex. */
export function procEndpoint(ep: Endpoint, family: number): string {
  const words = family === abi.AF_INET ? [ep.ip.subarray(12)] : [0, 4, 8, 12].map((o) => ep.ip.subarray(o, o + 4));
  const hex = words.map((w) => [...w].reverse().map((b) => b.toString(16).padStart(2, '0')).join('')).join('').toUpperCase();
  return `${hex}:${ep.port.toString(16).padStart(4, '0').toUpperCase()}`;
}
