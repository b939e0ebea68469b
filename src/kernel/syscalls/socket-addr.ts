// Socket addresses crossing between the guest and the kernel, for every
// family: copied in and out as Linux's move_addr_to_kernel /
// move_addr_to_user do (a length over sizeof(struct sockaddr_storage) is
// EINVAL; a short buffer gets the first bytes and the full length).

import { EINVAL, Errno, isErrno } from '../../linux/errno.js';
import type { SysCtx } from './context.js';

/** sizeof(struct sockaddr_storage): the longest address a call copies in. */
export const SOCKADDR_STORAGE = 128;

/** A sockaddr of `len` bytes at `addr` from the guest (move_addr_to_kernel). */
export function copyInAddress(c: SysCtx, addr: number, len: number): Uint8Array | Errno {
  if (len < 0 || len > SOCKADDR_STORAGE) return EINVAL;
  return c.user.copyIn(addr, len);
}

/**
 * Give the guest an address (move_addr_to_user): `lenAddr` holds the room at
 * `addr`; the first bytes that fit are copied and the full length written back.
 */
export function copyOutAddress(c: SysCtx, addr: number, lenAddr: number, bytes: Uint8Array): 0 | Errno {
  const room = c.user.readI32(lenAddr);
  if (isErrno(room)) return room;
  if (room < 0) return EINVAL;
  const n = Math.min(room, bytes.length);
  if (n > 0) {
    const w = c.user.copyOut(addr, bytes.subarray(0, n));
    if (isErrno(w)) return w;
  }
  return c.user.writeU32(lenAddr, bytes.length);
}
