// /proc/net/tcp, tcp6, udp and udp6 for the sandbox's loopback stack, in
// the columns Linux prints (tcp4_seq_show, udp4_format_sock and their IPv6
// twins): one line per bound socket of that protocol and family, with its
// addresses in Linux's hex spelling, its state, the queues and its inode.
// Timers, uids and kernel pointers, which the sandbox does not keep, are
// printed as zeros. With --network=host the guest's sockets are the host's,
// so the files are the host's own (/proc/net of boot's network namespace),
// read when opened; where boot cannot read them, the (empty) loopback
// tables are shown instead.

import * as fs from 'node:fs';
import * as abi from '../../linux/abi.js';
import { procEndpoint, type Endpoint } from './inet-address.js';
import type { InetStack } from './inet-stack.js';
import { LoopbackSocket } from './loopback-socket.js';
import { TcpSocket } from './tcp-socket.js';
import { UdpSocket } from './udp-socket.js';

const TCP_HEADER = '  sl  local_address rem_address   st tx_queue rx_queue tr tm->when retrnsmt   uid  timeout inode';
const UDP_HEADER = '   sl  local_address rem_address   st tx_queue rx_queue tr tm->when retrnsmt   uid  timeout inode ref pointer drops';
/** Linux's TCP_ESTABLISHED, TCP_SYN_SENT, TCP_CLOSE and TCP_LISTEN as /proc prints them. */
const TCP_STATE = { connected: 0x01, connecting: 0x02, closed: 0x07, listening: 0x0a } as const;
const UDP_UNCONNECTED = 0x07;
const UDP_CONNECTED = 0x01;

const hex = (n: number, w: number) => n.toString(16).toUpperCase().padStart(w, '0');

function remote(peer: Endpoint | null, family: number): string {
  return procEndpoint(peer ?? { ip: new Uint8Array(16), port: 0 }, family);
}

function num(v: number | { code: number }): number {
  return typeof v === 'number' ? v : 0;
}

/** The file's text: `proto` 'tcp' or 'udp', `family` AF_INET or AF_INET6. */
export function procNet(stack: InetStack, proto: 'tcp' | 'udp', family: number): string {
  if (stack.mode === 'host') {
    try {
      return fs.readFileSync(`/proc/self/net/${proto}${family === abi.AF_INET6 ? '6' : ''}`, 'latin1');
    } catch {
      // no host /proc here: fall through to the loopback tables
    }
  }
  const table = proto === 'tcp' ? stack.tcp : stack.udp;
  const socks = table.all().filter((s): s is LoopbackSocket => s instanceof LoopbackSocket && s.family === family && !s.released);
  if (proto === 'tcp') {
    const lines = [TCP_HEADER.padEnd(149)];
    socks.forEach((s, i) => {
      const t = s as TcpSocket;
      const st = TCP_STATE[t.state];
      const tx = t.listening ? 0 : num(t.unsentBytes());
      const rx = num(t.readableBytes());
      lines.push(`${String(i).padStart(4)}: ${procEndpoint(t.local, family)} ${remote(t.peerEp, family)} ${hex(st, 2)} ${hex(tx, 8)}:${hex(rx, 8)} 00:00000000 00000000 ${'0'.padStart(5)} ${'0'.padStart(8)} ${t.ino} 1 0000000000000000 100 0 0 10 0`.padEnd(149));
    });
    return lines.join('\n') + '\n';
  }
  const lines = [UDP_HEADER.padEnd(127)];
  socks.forEach((s, i) => {
    const u = s as UdpSocket;
    const st = u.peerEp ? UDP_CONNECTED : UDP_UNCONNECTED;
    lines.push(`${String(i).padStart(5)}: ${procEndpoint(u.local, family)} ${remote(u.peerEp, family)} ${hex(st, 2)} 00000000:${hex(u.queuedBytes, 8)} 00:00000000 00000000 ${'0'.padStart(5)} ${'0'.padStart(8)} ${u.ino} 2 0000000000000000 0`.padEnd(127));
  });
  return lines.join('\n') + '\n';
}

/** The files of /proc/net this stack serves, by name. */
export const PROC_NET_FILES: [string, 'tcp' | 'udp', number][] = [
  ['tcp', 'tcp', abi.AF_INET],
  ['tcp6', 'tcp', abi.AF_INET6],
  ['udp', 'udp', abi.AF_INET],
  ['udp6', 'udp', abi.AF_INET6],
];
