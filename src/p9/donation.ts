// Donated host fds: the gofer opens a regular file for the sandbox (resolving
// every name itself, under its confinement rules) and passes a dup of the
// opened host fd, so the sandbox's reads and writes of that file are pread
// and pwrite on the fd, with no 9P round trip (runsc's LISAFS model).
//
// The channel: one connected SOCK_SEQPACKET socket pair per sandbox, apart
// from the 9P streams (a stream socket read by Node drops the fds that come
// with its bytes). Protocol, in our dialect only (VERSION_IN_ORDER):
//
//   client: Tlopen fid, then Tdonate fid (sent together: fid requests run in order)
//   server: sends one record on the channel: DONATION_MAGIC[4] token[4], with
//           exactly one fd (SCM_RIGHTS), THEN answers Rdonate{token}
//           (or Rlerror: the client keeps using 9P for that file)
//   client: on Rdonate, reads the channel without waiting until it finds its token
//
// Since the record is queued before the reply is written, it is there when
// the reply arrives. Several connections (the rootfs, each bind mount) share
// the one channel, so a record read for another token waits for its claimant.
//
// Contract: the server is untrusted. A record of the wrong size or magic,
// with no fd or more than one, or with the control data cut short is refused:
// every fd it carried is closed and counted in `stats.refused`. The client
// checks the fd itself before using it (P9Backend: a regular file whose inode
// is the walked node's). A token never claimed stays at most MAX_WAITING
// records, the oldest closed first.

import * as ffi from '../host/ffi.js';

/** 'TSVD' little-endian: marks a donation record. */
export const DONATION_MAGIC = 0x44565354;
/** Bytes of a donation record: magic[4] token[4]. */
export const DONATION_BYTES = 8;
/** Records read but not yet claimed that are kept; beyond, the oldest is closed. */
const MAX_WAITING = 64;
/** Donated fds in use at once, by default (DonationReceiver's maxHeld). */
const DEFAULT_MAX_HELD = 256;

/** A donation record's bytes. */
export function encodeDonation(token: number): Buffer {
  const b = Buffer.alloc(DONATION_BYTES);
  b.writeUInt32LE(DONATION_MAGIC, 0);
  b.writeUInt32LE(token >>> 0, 4);
  return b;
}

/** The sandbox's end of the channel: fds received by token. */
export class DonationReceiver {
  private readonly waiting = new Map<number, number>();
  private closed = false;
  /** Donated fds taken and not yet released. */
  private held = 0;
  /** received: fds taken into use; refused: records (and the fds they held) thrown away. */
  readonly stats = { received: 0, refused: 0 };

  /**
   * `sock`: the sandbox's end of the channel (owned: closed by close()).
   * `maxHeld`: the most donated fds in use at once (each kept backend
   * handle of a cached inode may hold one, and boot's fd limit is shared
   * with everything else it opens); beyond, files are not asked for
   * theirs and keep to 9P.
   */
  constructor(
    private readonly sock: number,
    readonly maxHeld = DEFAULT_MAX_HELD,
  ) {}

  /** Whether another donated fd may be taken now (the client asks for one only then). */
  get hasRoom(): boolean {
    return !this.closed && this.held < this.maxHeld;
  }

  /** Closes a donated fd that take() gave out. */
  release(fd: number): void {
    ffi.closeFd(fd);
    this.held--;
  }

  /**
   * The fd donated under `token`, or undefined when the channel holds no
   * well-formed record for it. The fd is the caller's (close-on-exec), to
   * give back with release().
   */
  take(token: number): number | undefined {
    if (this.closed) return undefined;
    const t = token >>> 0;
    const fd = this.waiting.get(t);
    if (fd !== undefined) {
      this.waiting.delete(t);
      this.stats.received++;
      this.held++;
      return fd;
    }
    for (;;) {
      const r = ffi.recvFds(this.sock, DONATION_BYTES + 1);
      if (typeof r === 'number') return undefined; // -EAGAIN: nothing (more) queued; else a broken channel
      if (r.data.length === 0 && r.fds.length === 0) return undefined; // the gofer closed its end
      const got = this.record(r);
      if (got === undefined) continue;
      if (got.token === t) {
        this.stats.received++;
        this.held++;
        return got.fd;
      }
      const old = this.waiting.get(got.token);
      if (old !== undefined) ffi.closeFd(old); // a token reused: keep the newest
      this.waiting.set(got.token, got.fd);
      if (this.waiting.size > MAX_WAITING) {
        const [k, v] = this.waiting.entries().next().value as [number, number];
        this.waiting.delete(k);
        ffi.closeFd(v);
        this.stats.refused++;
      }
    }
  }

  /** A well-formed record's token and fd; anything else closed and counted. */
  private record(r: ffi.Received): { token: number; fd: number } | undefined {
    if (r.data.length === DONATION_BYTES && r.data.readUInt32LE(0) === DONATION_MAGIC && r.fds.length === 1 && !r.truncated) {
      return { token: r.data.readUInt32LE(4), fd: r.fds[0] };
    }
    for (const fd of r.fds) ffi.closeFd(fd);
    this.stats.refused++;
    return undefined;
  }

  /** Closes the channel and every fd still waiting. */
  close(): void {
    if (this.closed) return;
    this.closed = true;
    for (const fd of this.waiting.values()) ffi.closeFd(fd);
    this.waiting.clear();
    ffi.closeFd(this.sock);
  }
}
