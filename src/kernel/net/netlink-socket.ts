// AF_NETLINK sockets of protocol NETLINK_ROUTE (Linux's net/netlink/af_netlink.c):
// a datagram socket whose peer is the kernel, which answers route requests
// (rtnetlink.ts) at once into the sender's receive queue. glibc's
// if_nameindex and getifaddrs open one, bind it, send a dump request and
// read the answers.
//
// Contract:
// - socket(): SOCK_RAW or SOCK_DGRAM (else ESOCKTNOSUPPORT); protocol
//   NETLINK_ROUTE only (the others, and numbers past MAX_LINKS,
//   EPROTONOSUPPORT).
// - Port ids, one namespace per kernel (`NetlinkPorts`): bind with nl_pid 0,
//   or a first send, connect or getsockname... of an unbound socket, takes
//   the caller's pid when free, else -4096, -4097...; bind to a port id taken
//   is EADDRINUSE, to another port id once bound EINVAL. A closed socket
//   gives its port id back. Multicast groups may be joined (nl_groups); the
//   sandbox's one interface never changes, so no notification ever comes.
// - send: to the kernel (nl_pid 0, the default destination) the requests
//   are answered before send returns; to another socket's port id the
//   datagram is queued there as from our port id (ECONNREFUSED when no
//   socket has it); sending to groups needs CAP_NET_ADMIN (EPERM). A
//   datagram larger than SO_SNDBUF less 32 bytes is EMSGSIZE.
// - recv: one datagram per call (MSG_TRUNC when cut), its sender's
//   sockaddr_nl as the name. Readiness: POLLIN with a datagram queued,
//   POLLOUT always.
// - listen, accept, shutdown: EOPNOTSUPP (sock_no_*). Options of level
//   SOL_SOCKET are every socket's (options.ts); others are ENOPROTOOPT.

import * as abi from '../../linux/abi.js';
import { EADDRINUSE, EAGAIN, ECONNREFUSED, EINVAL, EMSGSIZE, ENOPROTOOPT, EPERM, EPROTONOSUPPORT, ESOCKTNOSUPPORT, Errno } from '../../linux/errno.js';
import type { Attr } from '../../backend/backend.js';
import { File } from '../files/file.js';
import { WaitQueue } from '../files/waitqueue.js';
import { allocIno, makeAttr } from '../vfs/attr.js';
import { MessageQueue, type Received, type Sender } from './message-queue.js';
import { SocketOptions } from './options.js';
import { answer } from './rtnetlink.js';

const IN = abi.POLLIN | abi.POLLRDNORM;
const OUT = abi.POLLOUT | abi.POLLWRNORM;
/** Where automatic port ids start when the pid is taken (netlink_autobind's rover). */
const AUTOBIND_FIRST = -4096;
/** The kernel's messages cost their sender nothing. */
const UNCHARGED: Sender = { wmem: 0, writeSpace: () => {} };
const KERNEL_CRED = { pid: 0, uid: 0, gid: 0 };

/** A sockaddr_nl (12 bytes). */
export function encodeNetlinkAddress(portid: number, groups: number): Uint8Array {
  const b = new Uint8Array(abi.SOCKADDR_NL.size);
  const dv = new DataView(b.buffer);
  dv.setUint16(abi.SOCKADDR_NL.family, abi.AF_NETLINK, true);
  dv.setUint32(abi.SOCKADDR_NL.pid, portid >>> 0, true);
  dv.setUint32(abi.SOCKADDR_NL.groups, groups >>> 0, true);
  return b;
}

/** A sockaddr_nl from the guest: its port id and groups, or EINVAL (short, or another family). */
export function decodeNetlinkAddress(b: Uint8Array): { portid: number; groups: number } | Errno {
  if (b.length < abi.SOCKADDR_NL.size) return EINVAL;
  const dv = new DataView(b.buffer, b.byteOffset, b.length);
  if (dv.getUint16(abi.SOCKADDR_NL.family, true) !== abi.AF_NETLINK) return EINVAL;
  return { portid: dv.getInt32(abi.SOCKADDR_NL.pid, true), groups: dv.getUint32(abi.SOCKADDR_NL.groups, true) };
}

/** The port ids of a kernel's netlink sockets. */
export class NetlinkPorts {
  private readonly bound = new Map<number, NetlinkSocket>();
  private rover = AUTOBIND_FIRST;

  get(portid: number): NetlinkSocket | undefined {
    return this.bound.get(portid);
  }

  /** Takes `portid` for `s`; EADDRINUSE when another socket has it. */
  take(portid: number, s: NetlinkSocket): 0 | Errno {
    if (this.bound.has(portid)) return EADDRINUSE;
    this.bound.set(portid, s);
    return 0;
  }

  /** A free port id: `pid` when free, else the rover's next. */
  pick(pid: number): number {
    if (!this.bound.has(pid)) return pid;
    while (this.bound.has(this.rover)) this.rover = this.rover > -0x7fffffff ? this.rover - 1 : AUTOBIND_FIRST;
    return this.rover;
  }

  release(portid: number, s: NetlinkSocket): void {
    if (this.bound.get(portid) === s) this.bound.delete(portid);
  }
}

export class NetlinkSocket extends File {
  readonly ino = allocIno();
  readonly wq = new WaitQueue();
  readonly opts = new SocketOptions();
  /** 0 until bound (explicitly or automatically). */
  portid = 0;
  groups = 0;
  /** connect()'s destination: the kernel (0) by default. */
  dstPortid = 0;
  dstGroups = 0;
  private readonly rx = new MessageQueue<Uint8Array>();

  /** `pid`: the creator's, the port id automatic binding tries first. */
  constructor(
    private readonly ports: NetlinkPorts,
    private readonly pid: number,
    readonly type: number,
    readonly protocol: number,
    flags: number,
  ) {
    super(abi.O_RDWR | (flags & abi.O_NONBLOCK), '');
    this.path = `socket:[${this.ino}]`;
  }

  /** socket()'s checks (netlink_create): null when a socket can be made, else the errno. */
  static check(type: number, protocol: number): Errno | null {
    if (type !== abi.SOCK_RAW && type !== abi.SOCK_DGRAM) return ESOCKTNOSUPPORT;
    if (protocol !== abi.NETLINK_ROUTE) return EPROTONOSUPPORT; // unknown, or past MAX_LINKS
    return null;
  }

  get bound(): boolean {
    return this.portid !== 0;
  }

  /** bind(): an explicit port id (0: automatic) and the groups to join. */
  bind(portid: number, groups: number): 0 | Errno {
    if (this.bound) {
      if (portid !== 0 && portid !== this.portid) return EINVAL;
    } else {
      const r = portid !== 0 ? this.ports.take(portid, this) : this.autobind();
      if (r !== 0) return r;
      if (portid !== 0) this.portid = portid;
    }
    this.groups = groups;
    return 0;
  }

  /** The automatic port id of a socket used unbound (netlink_autobind). */
  autobind(): 0 | Errno {
    if (this.bound) return 0;
    const id = this.ports.pick(this.pid);
    const r = this.ports.take(id, this);
    if (r === 0) this.portid = id;
    return r;
  }

  /** connect(): the default destination (null: AF_UNSPEC, back to the kernel). */
  connect(to: { portid: number; groups: number } | null): 0 | Errno {
    if (to === null) {
      this.dstPortid = 0;
      this.dstGroups = 0;
      return 0;
    }
    if (to.groups !== 0) return EPERM;
    const r = this.autobind();
    if (r !== 0) return r;
    this.dstPortid = to.portid;
    this.dstGroups = 0;
    return 0;
  }

  /** One datagram to `to` (null: the connected destination); see the contract. */
  send(data: Uint8Array, to: { portid: number; groups: number } | null): number | Errno {
    const dst = to ?? { portid: this.dstPortid, groups: this.dstGroups };
    if (dst.groups !== 0) return EPERM;
    if (data.length > this.opts.sndbuf - 32) return EMSGSIZE;
    const r = this.autobind();
    if (r !== 0) return r;
    if (dst.portid === 0) {
      for (const reply of answer(data, this.portid)) this.deliver(reply, 0);
      return data.length;
    }
    const peer = this.ports.get(dst.portid);
    if (!peer) return ECONNREFUSED;
    peer.deliver(data.slice(), this.portid);
    return data.length;
  }

  /** Queue a datagram from port id `from` (0: the kernel). */
  deliver(data: Uint8Array, from: number): void {
    this.rx.push({ data, off: 0, rights: null, cred: KERNEL_CRED, from: encodeNetlinkAddress(from, 0), sender: UNCHARGED });
    this.wq.notify(IN);
  }

  canSend(): boolean {
    return true;
  }

  recv(len: number, peek: boolean): Received<Uint8Array> | Errno {
    return this.rx.readMessage(len, peek) ?? EAGAIN;
  }

  setOption(level: number, name: number, v: Uint8Array): 0 | Errno {
    return level === abi.SOL_SOCKET ? this.opts.set(name, v) : ENOPROTOOPT;
  }

  getOption(level: number, name: number): Uint8Array | Errno {
    if (level !== abi.SOL_SOCKET) return ENOPROTOOPT;
    return this.opts.get(name, { type: this.type, listening: false, peerCred: null, domain: abi.AF_NETLINK, protocol: this.protocol });
  }

  override waitLimitMs(which: 'rcv' | 'snd'): number | null {
    return this.opts.timeoutMs(which);
  }

  override pollEvents(): number {
    return OUT | (this.rx.length > 0 ? IN : 0);
  }

  override get waitQueue(): WaitQueue {
    return this.wq;
  }

  override read(len: number): Uint8Array | Errno {
    const r = this.recv(len, false);
    return r instanceof Errno ? r : r.data;
  }

  override write(data: Uint8Array): number | Errno {
    return this.send(data, null);
  }

  /** An empty write(2) is an empty datagram. */
  override get writesEmpty(): boolean {
    return true;
  }

  getattr(): Attr {
    return makeAttr(abi.S_IFSOCK | 0o777, { ino: this.ino, blksize: 4096 });
  }

  protected override release(): void {
    this.ports.release(this.portid, this);
    this.rx.drop();
  }
}
