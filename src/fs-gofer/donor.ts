// The gofer's end of the fd donation channel (the protocol is
// src/p9/donation.ts): Tdonate of an open regular file sends a dup of the
// file's host fd, the one DirectBackend opened after resolving every name
// under the confinement rules of ./README.md, as one record on the channel,
// before the Rdonate that names its token is written.
//
// What the sandbox gets is exactly what the gofer would have read and written
// for it: one open file, with the access mode of its Tlopen (a read-only
// export's files are opened read-only, on a read-only bind in the confined
// gofer's root, so a reopen through /proc/self/fd cannot make them writable).
// Never a directory, an O_PATH node, or anything that resolves names.

import * as ffi from '../host/ffi.js';
import { EAGAIN, Errno } from '../linux/errno.js';
import { encodeDonation } from '../p9/donation.js';

export class Donor {
  private next = 1;
  /** Records sent, and sends that failed (the client then keeps to 9P for that file). */
  readonly stats = { sent: 0, failed: 0 };

  /** `sock`: the gofer's end of the SOCK_SEQPACKET channel (owned: closed by close()). */
  constructor(private readonly sock: number) {}

  /**
   * Sends a dup of `fd` (SCM_RIGHTS), without waiting: a full channel (a
   * sandbox that does not read it) is EAGAIN, never a stalled gofer. The
   * token to answer with, or an Errno.
   */
  send(fd: number): number | Errno {
    const token = this.next;
    this.next = (this.next + 1) >>> 0 || 1;
    const r = ffi.sendFd(this.sock, fd, encodeDonation(token), true);
    if (r < 0) {
      this.stats.failed++;
      return r === -EAGAIN.code ? EAGAIN : Errno.of(-r);
    }
    this.stats.sent++;
    return token;
  }

  close(): void {
    ffi.closeFd(this.sock);
  }
}
