// Control messages (ancillary data) of sendmsg and recvmsg on Unix sockets:
// SCM_RIGHTS and SCM_CREDENTIALS, in struct cmsghdr framing (Linux's
// __scm_send, put_cmsg, scm_detach_fds).
//
// Contract:
// - parseControl reads the guest's msg_control bytes: each header's
//   cmsg_len must cover its header and fit in what is left (EINVAL);
//   headers of other levels than SOL_SOCKET are skipped; SCM_RIGHTS gives fd
//   numbers (at most SCM_MAX_FD in all, EINVAL), SCM_CREDENTIALS a struct
//   ucred (its exact length, EINVAL); other SOL_SOCKET types are EINVAL.
//   Whether the fds are open and the credentials allowed is the caller's
//   check (EBADF, EPERM).
// - A ControlWriter fills the receiver's buffer as put_cmsg does: a message
//   that does not fit whole is cut to the room left (its header still says
//   the full length) and MSG_CTRUNC is set; less room than a header writes
//   nothing. Each message then takes CMSG_SPACE, 8-aligned.

import * as abi from '../../linux/abi.js';
import { EINVAL, Errno } from '../../linux/errno.js';
import type { UCred } from './names.js';

const HDR = abi.CMSGHDR.size;
const align = (n: number) => (n + 7) & ~7;

export interface ParsedControl {
  fds: number[];
  cred: UCred | null;
}

export function parseControl(buf: Uint8Array): ParsedControl | Errno {
  const out: ParsedControl = { fds: [], cred: null };
  const dv = new DataView(buf.buffer, buf.byteOffset, buf.length);
  let off = 0;
  while (off + HDR <= buf.length) {
    const len = Number(dv.getBigUint64(off + abi.CMSGHDR.len, true));
    const level = dv.getInt32(off + abi.CMSGHDR.level, true);
    const type = dv.getInt32(off + abi.CMSGHDR.type, true);
    if (len < HDR || len > buf.length - off) return EINVAL;
    if (level === abi.SOL_SOCKET) {
      const data = off + HDR;
      const n = len - HDR;
      if (type === abi.SCM_RIGHTS) {
        const count = Math.floor(n / 4);
        if (out.fds.length + count > abi.SCM_MAX_FD) return EINVAL;
        for (let i = 0; i < count; i++) out.fds.push(dv.getInt32(data + 4 * i, true));
      } else if (type === abi.SCM_CREDENTIALS) {
        if (n !== abi.UCRED.size) return EINVAL;
        out.cred = { pid: dv.getInt32(data + abi.UCRED.pid, true), uid: dv.getInt32(data + abi.UCRED.uid, true), gid: dv.getInt32(data + abi.UCRED.gid, true) };
      } else {
        return EINVAL;
      }
    }
    off += align(len);
  }
  return out;
}

/**
 * The most control bytes a receive can produce: SCM_CREDENTIALS and
 * SCM_MAX_FD fds, each with its header, rounded up. A larger guest buffer is
 * treated as this large (it changes nothing but what would be allocated).
 */
const MAX_CONTROL = 2048;

export class ControlWriter {
  private readonly buf: Uint8Array;
  private readonly room: number;
  private used = 0;
  truncated = false;

  /** @param room the guest's msg_controllen. */
  constructor(room: number) {
    this.room = Math.max(0, Math.min(room, MAX_CONTROL));
    this.buf = new Uint8Array(this.room);
  }

  /** How many fds a SCM_RIGHTS message could carry in the room left. */
  fdsThatFit(): number {
    const left = this.room - this.used;
    return left <= HDR ? 0 : Math.floor((left - HDR) / 4);
  }

  /** Append one message; false when it was cut short or left out (MSG_CTRUNC). */
  put(level: number, type: number, data: Uint8Array): boolean {
    const left = this.room - this.used;
    if (left < HDR) {
      this.truncated = true;
      return false;
    }
    const full = HDR + data.length;
    const len = Math.min(full, left);
    const dv = new DataView(this.buf.buffer, this.used, HDR);
    dv.setBigUint64(abi.CMSGHDR.len, BigInt(full), true);
    dv.setInt32(abi.CMSGHDR.level, level, true);
    dv.setInt32(abi.CMSGHDR.type, type, true);
    this.buf.set(data.subarray(0, len - HDR), this.used + HDR);
    this.used = Math.min(this.used + align(full), this.room);
    if (len < full) this.truncated = true;
    return len === full;
  }

  /** The bytes written, which is also the msg_controllen to report. */
  get bytes(): Uint8Array {
    return this.buf.subarray(0, this.used);
  }
}

/** struct ucred bytes. */
export function ucredBytes(c: UCred): Uint8Array {
  const out = new Uint8Array(abi.UCRED.size);
  const dv = new DataView(out.buffer);
  dv.setInt32(abi.UCRED.pid, c.pid, true);
  dv.setInt32(abi.UCRED.uid, c.uid, true);
  dv.setInt32(abi.UCRED.gid, c.gid, true);
  return out;
}
