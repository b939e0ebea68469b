// Published ports (`-p HOSTPORT:GUESTPORT[/tcp|/udp]` of run and do): a host
// socket, opened and bound by the launcher and handed to boot, whose traffic
// reaches the guest's socket on GUESTPORT of its loopback, as slirp's
// host forwarding does.
//
// Contract:
// - TCP: every connection the host listener accepts becomes a connect of
//   the sandbox's stack to 127.0.0.1:GUESTPORT (then [::1]:GUESTPORT when
//   nothing listens there), and a Relay carries it. The guest's accept sees
//   a peer on its loopback. Nobody listening: the host client is reset.
// - UDP: each host sender gets a socket of the sandbox's stack connected to
//   127.0.0.1:GUESTPORT (kept while the sandbox lives, at most
//   MAX_UDP_PEERS, the oldest dropped); its datagrams are sent from it, and
//   what the guest answers to it goes back to that sender.
// - Published ports live as long as the kernel (publish() returns the way
//   to stop one: unwatched, host socket closed); nothing here blocks.
// - The poller's callbacks act only on readiness: after an EAGAIN the next
//   poll reports the fd whatever its state (host-poller.ts), and acting on
//   a report that holds no POLLIN would retry, get EAGAIN and rearm at every
//   poll: a busy loop for as long as the port is idle.

import * as abi from '../../linux/abi.js';
import { Errno } from '../../linux/errno.js';
import * as host from '../../host/ffi.js';
import { decodeInet, V4_LOOPBACK, V6_LOOPBACK } from './inet-address.js';
import { IN } from './inet-socket.js';
import type { InetStack } from './inet-stack.js';
import { closeHostStream, Relay } from './relay.js';
import { TcpSocket } from './tcp-socket.js';
import { UdpSocket } from './udp-socket.js';

/** One published port as boot receives it: the host socket's fd, the guest's port, the protocol. */
export interface PublishedPort {
  fd: number;
  guestPort: number;
  protocol: 'tcp' | 'udp';
}

const MAX_UDP_PEERS = 256;
const MAX_DATAGRAM = 65536;

/** Start serving `p` into the sandbox's stack; the function returned stops it and closes the host socket. */
export function publish(stack: InetStack, p: PublishedPort): () => void {
  const unwatch = p.protocol === 'tcp' ? publishTcp(stack, p) : publishUdp(stack, p);
  let stopped = false;
  return () => {
    if (stopped) return;
    stopped = true;
    unwatch();
    host.closeFd(p.fd);
  };
}

function publishTcp(stack: InetStack, p: PublishedPort): () => void {
  return stack.poller.watch(p.fd, (rev) => {
    if (!(rev & abi.POLLIN)) return;
    for (;;) {
      const conn = host.inetAccept(p.fd);
      if (conn < 0) {
        stack.poller.rearm(p.fd);
        return;
      }
      connectInside(stack, p.guestPort, conn, [V4_LOOPBACK, V6_LOOPBACK]);
    }
  });
}

/** Connect the sandbox's stack to `port` on the first of `ips` that listens, and relay host connection `conn` to it. */
function connectInside(stack: InetStack, port: number, conn: number, ips: Uint8Array[]): void {
  const [ip, ...rest] = ips;
  const s = new TcpSocket(stack, ip === V4_LOOPBACK ? abi.AF_INET : abi.AF_INET6, abi.O_NONBLOCK);
  s.connect({ ip, port });
  const settle = (): boolean => {
    if (s.connecting) return false;
    if (s.state === 'connected') new Relay(stack.poller, s, conn);
    else {
      void s.unref();
      if (rest.length > 0) connectInside(stack, port, conn, rest);
      else closeHostStream(conn, true);
    }
    return true;
  };
  if (settle()) return;
  // The guest's accept queue is full: wait for room, as a host client's SYN would.
  const unsubscribe = s.wq.subscribe(abi.POLLOUT, () => settle() && unsubscribe());
}

function publishUdp(stack: InetStack, p: PublishedPort): () => void {
  const peers = new Map<string, UdpSocket>();
  const peerFor = (from: Uint8Array): UdpSocket => {
    const key = Buffer.from(from).toString('hex');
    let s = peers.get(key);
    if (s) return s;
    if (peers.size >= MAX_UDP_PEERS) {
      const [oldKey, old] = peers.entries().next().value as [string, UdpSocket];
      peers.delete(oldKey);
      void old.unref();
    }
    s = new UdpSocket(stack, abi.AF_INET, abi.O_NONBLOCK);
    s.connect({ ip: V4_LOOPBACK, port: p.guestPort });
    const back = s;
    const to = new Uint8Array(from);
    back.wq.subscribe(IN, () => {
      for (;;) {
        const r = back.recv(MAX_DATAGRAM, false);
        if (r instanceof Errno || (r.data.length === 0 && r.size === 0 && !r.from)) return;
        host.inetSend(p.fd, r.data, 0, to);
      }
    });
    peers.set(key, s);
    return s;
  };
  return stack.poller.watch(p.fd, (rev) => {
    if (!(rev & abi.POLLIN)) return;
    for (;;) {
      const r = host.inetRecv(p.fd, MAX_DATAGRAM, 0);
      if (typeof r === 'number') {
        stack.poller.rearm(p.fd);
        return;
      }
      if (decodeInet(r.from, abi.AF_INET) instanceof Errno) continue;
      peerFor(r.from).send(r.data.subarray(0, r.n), { to: null });
    }
  });
}

