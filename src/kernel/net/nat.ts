// --network=sandbox's outbound carrier: what the guest sends to an address
// outside its loopback is carried by host sockets that boot opens, as
// slirp's NAT does (the host kernel does TCP and UDP; the guest's stack never
// sees a segment). The host sockets live in boot's network namespace, so the
// guest reaches exactly what that namespace reaches (see src/main/network.ts
// for which one that is).
//
// Contract:
// - Carried: unicast addresses off the loopback. Multicast, broadcast and
//   the unspecified network 0.0.0.0/8 are not (ENETUNREACH).
// - TCP: connect() starts a nonblocking host connect from a new host socket
//   of the guest socket's family. An errno the host gives at once is
//   connect's; later the outcome reaches the guest socket (joinOutside, and
//   a Relay carries the bytes; or outsideFailed with the host's SO_ERROR).
//   A guest that closes first cancels the host connect.
// - UDP: each guest socket that sends outside gets one host socket, made at
//   its first such send and closed with it; every datagram the host socket
//   receives is delivered to the guest socket as from its sender (a
//   connected guest socket takes only its peer's). A datagram the host cannot
//   queue (EAGAIN) is lost, as on a full device queue; other errnos are the
//   send's. ICMP errors are not reported back.
// - The host's names for these sockets (its addresses and ports) are never
//   shown to the guest: it sees its loopback address as the source.

import * as abi from '../../linux/abi.js';
import { EAGAIN, EINPROGRESS, Errno } from '../../linux/errno.js';
import * as host from '../../host/ffi.js';
import type { HostPoller } from '../files/host-poller.js';
import { decodeInet, encodeInet, isV4, sameEndpoint, type Endpoint } from './inet-address.js';
import type { DatagramClient, Outbound, OutsideClient } from './inet-stack.js';
import { closeHostStream, Relay } from './relay.js';
import type { TcpSocket } from './tcp-socket.js';

const MAX_DATAGRAM = 65536;

/** Is `ip` a unicast address (not multicast, broadcast or in 0.0.0.0/8)? */
export function isUnicast(ip: Uint8Array): boolean {
  if (isV4(ip)) return ip[12] !== 0 && ip[12] < 224;
  return ip[0] !== 0xff;
}

export class HostNat implements Outbound {
  private readonly datagrams = new Map<DatagramClient, { fd: number; unwatch: () => void }>();

  constructor(private readonly poller: HostPoller) {}

  carries(ip: Uint8Array): boolean {
    return isUnicast(ip);
  }

  connect(client: OutsideClient, dst: Endpoint): (() => void) | Errno {
    const fd = host.inetSocket(client.family, abi.SOCK_STREAM);
    if (fd < 0) return Errno.of(-fd);
    const r = host.inetConnect(fd, encodeInet(dst, client.family));
    if (r < 0 && r !== -EINPROGRESS.code) {
      host.inetClose(fd);
      return Errno.of(-r);
    }
    let unwatch: (() => void) | null = null;
    const settle = (): void => {
      unwatch?.();
      unwatch = null;
      const v = host.inetGetsockopt(fd, abi.SOL_SOCKET, abi.SO_ERROR, 4);
      const e = typeof v === 'number' ? -v : v.readInt32LE(0);
      if (e !== 0) {
        host.inetClose(fd);
        client.outsideFailed(Errno.of(e));
        return;
      }
      new Relay(this.poller, client.joinOutside() as TcpSocket, fd);
    };
    unwatch = this.poller.watch(fd, (rev) => {
      if (rev & (abi.POLLOUT | abi.POLLERR | abi.POLLHUP)) settle();
    });
    return () => {
      if (!unwatch) return;
      unwatch();
      unwatch = null;
      closeHostStream(fd, true);
    };
  }

  send(from: DatagramClient, data: Uint8Array, to: Endpoint): number | Errno {
    let d = this.datagrams.get(from);
    if (!d) {
      const fd = host.inetSocket(from.family, abi.SOCK_DGRAM);
      if (fd < 0) return Errno.of(-fd);
      d = { fd, unwatch: this.poller.watch(fd, (rev) => rev & abi.POLLIN && this.receive(from, fd)) };
      this.datagrams.set(from, d);
    }
    const n = host.inetSend(d.fd, data, 0, encodeInet(to, from.family));
    if (n === -EAGAIN.code) return data.length;
    return n < 0 ? Errno.of(-n) : n;
  }

  /** Deliver what the host socket of `to` has received. */
  private receive(to: DatagramClient, fd: number): void {
    for (;;) {
      const r = host.inetRecv(fd, MAX_DATAGRAM, 0);
      if (typeof r === 'number') {
        this.poller.rearm(fd);
        return;
      }
      const from = decodeInet(r.from, to.family);
      if (from instanceof Errno || from === 'unspec') continue;
      if (to.released || (to.peerEp && !sameEndpoint(to.peerEp, from))) continue;
      to.deliver(r.data.subarray(0, r.n), from);
    }
  }

  forget(from: DatagramClient): void {
    const d = this.datagrams.get(from);
    if (!d) return;
    this.datagrams.delete(from);
    d.unwatch();
    host.inetClose(d.fd);
  }
}
