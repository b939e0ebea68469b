// A TCP connection carried between the sandbox's loopback stack and a host
// socket, as slirp's socket layer carries a guest connection: bytes read
// from one side are written to the other, in both directions, until both
// have ended. The outbound carrier (nat.ts) relays a guest's connection to
// an outside address; a published port (published.ts) relays a host
// client's connection to the guest's listener.
//
// Contract:
// - `end` is a connected TcpSocket of the sandbox's stack owned by the relay
//   (its peer is the guest's socket); `fd` a connected, nonblocking host TCP
//   socket. The relay owns both and closes both when it finishes.
// - What one side sends reaches the other in order; a side that cannot take
//   more (EAGAIN) holds back at most one chunk read from the other, so the
//   flow control of each side reaches the other.
// - End of file crosses as a FIN: the guest's shutdown(SHUT_WR) or close
//   shuts the host socket's writing; the host peer's FIN makes the guest read
//   end of file. A reset crosses as a reset (the host socket is closed with
//   SO_LINGER {1, 0}; the guest's next call gets ECONNRESET).
// - The relay finishes when both directions have ended and their bytes are
//   delivered, when either side is reset, or when the guest has closed its
//   socket and every byte it sent has gone to the host (the host peer can no
//   longer be heard).
// - It never blocks: it runs when the host poller reports the fd or when
//   the end's wait queue is notified.

import * as abi from '../../linux/abi.js';
import { EAGAIN, Errno } from '../../linux/errno.js';
import * as host from '../../host/ffi.js';
import type { HostPoller } from '../files/host-poller.js';
import { ALL } from './inet-socket.js';
import type { TcpSocket } from './tcp-socket.js';

/** The most one step moves in either direction. */
const CHUNK = 64 << 10;
/** struct linger {1, 0}: close with a reset. */
const LINGER_RESET = Uint8Array.of(1, 0, 0, 0, 0, 0, 0, 0);

/** Close host socket `fd`, with a reset when `reset`. */
export function closeHostStream(fd: number, reset: boolean): void {
  if (reset) host.inetSetsockopt(fd, abi.SOL_SOCKET, abi.SO_LINGER, LINGER_RESET);
  host.inetClose(fd);
}

export class Relay {
  /** Bytes read from the guest that the host has not taken yet. */
  private toHost: Uint8Array | null = null;
  /** Bytes read from the host that the guest's side has not taken yet. */
  private toGuest: Uint8Array | null = null;
  private guestEnded = false;
  private hostEnded = false;
  private finished = false;
  private running = false;
  private readonly unwatch: () => void;
  private readonly unsubscribe: () => void;

  constructor(
    private readonly poller: HostPoller,
    private readonly end: TcpSocket,
    private readonly fd: number,
  ) {
    this.unsubscribe = end.wq.subscribe(ALL, () => this.run());
    // Only readiness that lets a step go on runs it: a report of what the relay does not wait
    // for (POLLOUT with nothing to send) would retry a read, get EAGAIN and rearm at every poll.
    this.unwatch = poller.watch(fd, (rev) => {
      if (rev & (abi.POLLIN | abi.POLLRDHUP | abi.POLLHUP | abi.POLLERR | abi.POLLNVAL) || (rev & abi.POLLOUT && this.toHost)) this.run();
    });
    this.run();
  }

  private run(): void {
    if (this.finished || this.running) return;
    this.running = true;
    try {
      this.guestToHost();
      if (!this.finished) this.hostToGuest();
    } finally {
      this.running = false;
    }
    if (this.finished || this.toHost) return;
    if ((this.guestEnded && this.hostEnded && !this.toGuest) || (this.guestEnded && this.end.peerClosed)) this.finish(false);
  }

  private guestToHost(): void {
    for (;;) {
      if (!this.toHost) {
        if (this.guestEnded) return;
        const r = this.end.recv(CHUNK, false);
        if (r instanceof Errno) {
          if (r !== EAGAIN) this.finish(true);
          return;
        }
        if (r.data.length === 0) {
          this.guestEnded = true;
          host.inetShutdown(this.fd, abi.SHUT_WR);
          return;
        }
        this.toHost = r.data;
      }
      const n = host.inetSend(this.fd, this.toHost, 0, null);
      if (n < 0) {
        if (n === -EAGAIN.code) this.poller.rearm(this.fd);
        else this.finish(true);
        return;
      }
      this.toHost = n < this.toHost.length ? this.toHost.subarray(n) : null;
    }
  }

  private hostToGuest(): void {
    for (;;) {
      if (!this.toGuest) {
        if (this.hostEnded) return;
        const r = host.inetRecv(this.fd, CHUNK, 0);
        if (typeof r === 'number') {
          if (r === -EAGAIN.code) this.poller.rearm(this.fd);
          else this.finish(true);
          return;
        }
        if (r.n === 0) {
          this.hostEnded = true;
          this.end.shutdownHow(abi.SHUT_WR);
          return;
        }
        this.toGuest = r.data.subarray(0, r.n);
      }
      const n = this.end.send(this.toGuest, { to: null });
      if (n instanceof Errno) {
        if (n !== EAGAIN) this.finish(true);
        return;
      }
      this.toGuest = n < this.toGuest.length ? this.toGuest.subarray(n) : null;
    }
  }

  private finish(reset: boolean): void {
    this.finished = true;
    this.unwatch();
    this.unsubscribe();
    closeHostStream(this.fd, reset);
    if (reset) this.end.abort();
    else void this.end.unref();
  }
}
