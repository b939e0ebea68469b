// AF_UNIX addresses (struct sockaddr_un) as the kernel keeps them, and their
// encoding to and from the guest's bytes.
//
// Contract:
// - A Unix socket's address is one of: unnamed (never bound, or a socketpair
//   end), a path name in the filesystem (sun_path up to its first NUL), or an
//   abstract name (sun_path[0] == 0: every byte after it that the address
//   length covers, NULs included, is the name).
// - decodeUnixAddress checks what unix_validate_addr checks: a length that
//   covers more than sun_family and at most sizeof(struct sockaddr_un), and a
//   sun_family of AF_UNIX; anything else is EINVAL. A length of exactly
//   sun_family asks for autobind (bind only), which decode reports as 'auto'.
// - encodeUnixAddress gives the bytes Linux reports for getsockname,
//   getpeername, accept and recvfrom: sun_family, then a path with its NUL, or
//   the abstract name's leading NUL and bytes; unnamed is sun_family alone.
//   The length it returns is the full one, which the caller reports even when
//   it copies less (the guest's buffer was short).

import * as abi from '../../linux/abi.js';
import { EINVAL, Errno } from '../../linux/errno.js';

export type UnixAddress = { kind: 'unnamed' } | { kind: 'path'; path: Uint8Array } | { kind: 'abstract'; name: Uint8Array };

export const UNNAMED: UnixAddress = { kind: 'unnamed' };

/** The bytes of struct sockaddr_un `bytes` (the guest's address length of them) as an address, 'auto' for autobind. */
export function decodeUnixAddress(bytes: Uint8Array): UnixAddress | 'auto' | Errno {
  const len = bytes.length;
  if (len < abi.SOCKADDR_UN.sun_path || len > abi.SOCKADDR_UN.size) return EINVAL;
  const family = bytes[0] | (bytes[1] << 8);
  if (family !== abi.AF_UNIX) return EINVAL;
  if (len === abi.SOCKADDR_UN.sun_path) return 'auto';
  const path = bytes.subarray(abi.SOCKADDR_UN.sun_path);
  if (path[0] === 0) return { kind: 'abstract', name: path.slice(1) };
  const nul = path.indexOf(0);
  return { kind: 'path', path: path.slice(0, nul < 0 ? path.length : nul) };
}

/** struct sockaddr_un bytes for `addr`: exactly the length Linux reports. */
export function encodeUnixAddress(addr: UnixAddress): Uint8Array {
  const body = addr.kind === 'path' ? addr.path.length + 1 : addr.kind === 'abstract' ? addr.name.length + 1 : 0;
  const out = new Uint8Array(abi.SOCKADDR_UN.sun_path + body);
  out[0] = abi.AF_UNIX & 0xff;
  out[1] = abi.AF_UNIX >> 8;
  if (addr.kind === 'path') out.set(addr.path, abi.SOCKADDR_UN.sun_path);
  else if (addr.kind === 'abstract') out.set(addr.name, abi.SOCKADDR_UN.sun_path + 1);
  return out;
}

/** The map key of an abstract name (names are bytes and may hold NULs). */
export function abstractKey(name: Uint8Array): string {
  return Buffer.from(name).toString('latin1');
}

/** An address as text for /proc and logs: the path, "@name" for an abstract one, "" unnamed. */
export function describeUnixAddress(addr: UnixAddress): string {
  if (addr.kind === 'path') return Buffer.from(addr.path).toString('utf8');
  if (addr.kind === 'abstract') return '@' + Buffer.from(addr.name).toString('latin1').replace(/\0/g, '@');
  return '';
}
