// What TCP and UDP sockets of the sandbox's own stack share: the local
// address and its place in the port table, the options of every level, the
// pending error (sk_err), shutdown bits, and release from the port table.
//
// Contract:
// - An unbound socket's name is the family's wildcard with port 0. bind()
//   of a bound socket is EINVAL; an AF_INET6 socket with IPV6_V6ONLY cannot
//   bind a v4-mapped address (EINVAL); a non-local address is EADDRNOTAVAIL;
//   a taken port EADDRINUSE (inet-stack.ts). A port or address the guest
//   chose is "locked": disconnecting keeps it, an automatic one goes.
// - `err` is the pending error Linux keeps in sk_err: set by what happened
//   to the connection, returned once by the next call that looks (or by
//   SO_ERROR), then cleared.

import * as abi from '../../linux/abi.js';
import { EINVAL, ENOPROTOOPT, Errno } from '../../linux/errno.js';
import { WaitQueue } from '../files/waitqueue.js';
import { isAny, isV4, V4_ANY, V6_ANY, type Endpoint } from './inet-address.js';
import { InetOptions } from './inet-options.js';
import { InetSocket } from './inet-socket.js';
import type { InetStack, PortOwner, PortTable } from './inet-stack.js';
import { SocketOptions } from './options.js';

/** The stack a loopback socket lives in. */
export type LoopbackStack = InetStack<PortOwner, PortOwner>;

export abstract class LoopbackSocket extends InetSocket implements PortOwner {
  readonly wq = new WaitQueue();
  readonly opts: SocketOptions;
  readonly iopts: InetOptions;
  local: Endpoint;
  /** The guest chose the port / the address (bind), so a disconnect keeps them. */
  portLocked = false;
  addrLocked = false;
  shutdown = 0;
  err: Errno | null = null;
  released = false;

  constructor(
    readonly stack: LoopbackStack,
    family: number,
    type: number,
    flags: number,
    bufs: [sndbuf: number, rcvbuf: number],
  ) {
    super(family, type, flags);
    this.local = { ip: this.wildcard, port: 0 };
    this.opts = new SocketOptions(bufs[0], bufs[1]);
    const levels = [abi.IPPROTO_IP, ...(family === abi.AF_INET6 ? [abi.IPPROTO_IPV6] : []), ...(type === abi.SOCK_STREAM ? [abi.IPPROTO_TCP] : [])];
    this.iopts = new InetOptions(family, levels);
  }

  /** This protocol's port table. */
  protected abstract get table(): PortTable<PortOwner>;

  get wildcard(): Uint8Array {
    return this.family === abi.AF_INET ? V4_ANY : V6_ANY;
  }

  get v6only(): boolean {
    return this.family === abi.AF_INET6 && this.iopts.int(abi.IPPROTO_IPV6, abi.IPV6_V6ONLY) !== 0;
  }

  reuseAddr(): boolean {
    return this.opts.flag(abi.SO_REUSEADDR);
  }

  reusePort(): boolean {
    return this.opts.flag(abi.SO_REUSEPORT);
  }

  get bound(): boolean {
    return this.local.port !== 0;
  }

  bind(ep: Endpoint): 0 | Errno {
    if (this.bound) return EINVAL;
    if (this.family === abi.AF_INET6 && isV4(ep.ip) && this.v6only) return EINVAL;
    const ok = this.stack.canBind(ep.ip);
    if (ok !== 0) return ok;
    const port = this.table.bind(this, ep.ip, ep.port);
    if (port instanceof Errno) return port;
    this.local = { ip: ep.ip, port };
    this.portLocked = ep.port !== 0;
    this.addrLocked = !isAny(ep.ip);
    return 0;
  }

  /** Take an ephemeral port for an unbound socket (connect, listen, a first send), at `ip`; EADDRINUSE when none is free. */
  protected autobind(ip: Uint8Array): 0 | Errno {
    if (this.bound) return 0;
    const port = this.table.bind(this, ip, 0);
    if (port instanceof Errno) return port;
    this.local = { ip, port };
    return 0;
  }

  /** Give back an automatic port and address (a disconnect, a failed connect). */
  protected unbindAutomatic(): void {
    if (!this.addrLocked) this.local = { ip: this.wildcard, port: this.local.port };
    if (!this.portLocked && this.bound) {
      this.table.release(this, this.local.port);
      this.local = { ip: this.local.ip, port: 0 };
    }
  }

  name(): Endpoint {
    return this.local;
  }

  override waitLimitMs(which: 'rcv' | 'snd'): number | null {
    return this.opts.timeoutMs(which);
  }

  /** The pending error, cleared (sock_error). */
  takeError(): Errno | null {
    const e = this.err;
    this.err = null;
    return e;
  }

  setOption(level: number, name: number, v: Uint8Array): 0 | Errno {
    if (level === abi.SOL_SOCKET) return this.opts.set(name, v);
    // IPV6_V6ONLY cannot change once the socket has a port (Linux: EINVAL).
    if (level === abi.IPPROTO_IPV6 && name === abi.IPV6_V6ONLY && this.family === abi.AF_INET6 && this.bound) return EINVAL;
    if (level === abi.IPPROTO_IPV6 && this.family === abi.AF_INET) return ENOPROTOOPT;
    return this.iopts.set(level, name, v);
  }

  getOption(level: number, name: number): Uint8Array | Errno {
    if (level === abi.SOL_SOCKET) {
      return this.opts.get(name, {
        type: this.type,
        listening: this.listening,
        peerCred: null,
        domain: this.family,
        protocol: this.protocol,
        takeError: () => this.takeError()?.code ?? 0,
      });
    }
    return this.iopts.get(level, name);
  }

  protected override release(): void {
    this.released = true;
    if (this.bound) this.table.release(this, this.local.port);
  }
}
