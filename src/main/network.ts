// Which network a sandbox gets, from runsc's global --network and the spec's
// network namespace, and the ports that run and do publish (-p).
//
// runsc starts its sandbox in the spec's network namespace when the spec
// names one with a path (unless --network=none), in the host's with
// --network=host and no network namespace in the spec, and in a new, empty
// one otherwise: a spec that asks for a new network namespace gets one even
// with --network=host, and --network=sandbox copies the interfaces of the
// namespace it runs in (a new one has only lo). tsvisor has no interfaces to
// copy; its sandbox mode reaches outside through host sockets that boot
// opens (src/kernel/net/nat.ts), so the namespace boot runs in plays that
// part:
//
// | --network | spec has a network namespace | spec has none |
// |---|---|---|
// | none | new namespace, loopback only | new namespace, loopback only |
// | sandbox | new namespace: the sandbox's loopback, outside unreachable (ENETUNREACH) | the caller's namespace: outside addresses carried by host sockets |
// | host | new namespace: host sockets of an empty namespace | the caller's namespace: the guest's sockets are host sockets |
//
// A namespace given by path is not joined (tsvisor cannot enter one yet): it
// is treated as a new one, the narrower choice. Without confinement
// (--no-confine) boot makes no namespace, so where the table says "new
// namespace", sandbox mode carries nothing outside (the kernel answers
// ENETUNREACH itself) and host mode uses the caller's network.
//
// Published ports are host sockets the launcher (run, do) opens in its own
// namespace and hands to boot, so they are reached from the caller's
// network whichever namespace boot is in, as Docker's -p reaches into a
// container's.

import { Fatal } from './common.js';
import * as host from '../host/ffi.js';
import type { NetworkMode } from '../kernel/net/inet-stack.js';
import type { PublishedPort } from '../kernel/net/published.js';
import type { Spec } from '../spec/types.js';

const AF_INET = 2;
const SOCK_STREAM = 1;
const SOCK_DGRAM = 2;
const SOL_SOCKET = 1;
const SO_REUSEADDR = 2;
/** Linux's SOMAXCONN: the host listener's backlog. */
const BACKLOG = 4096;

export interface NetworkPlan {
  mode: NetworkMode;
  /** Boot starts in a new network namespace (when confined). */
  newNamespace: boolean;
  /** Boot opens host Internet sockets (its seccomp filter must allow them). */
  inetSockets: boolean;
  /** Sandbox mode: outside addresses are carried by host sockets. */
  outbound: boolean;
}

/** Does the spec ask for a network namespace (new, or by path)? */
export function specHasNetworkNamespace(spec: Pick<Spec, 'linux'>): boolean {
  return (spec.linux?.namespaces ?? []).some((n) => n.type === 'network');
}

/** The network of a sandbox (see the table above). */
export function networkPlan(mode: NetworkMode, spec: Pick<Spec, 'linux'>): NetworkPlan {
  const newNamespace = mode === 'none' || specHasNetworkNamespace(spec);
  const outbound = mode === 'sandbox' && !newNamespace;
  return { mode, newNamespace, inetSockets: mode === 'host' || outbound, outbound };
}

/** One -p value: `[HOSTIP:]HOSTPORT:GUESTPORT[/tcp|/udp]`. */
export interface PublishRequest {
  hostIp: string;
  hostPort: number;
  guestPort: number;
  protocol: 'tcp' | 'udp';
}

const PUBLISH_RE = /^(?:(\d{1,3}(?:\.\d{1,3}){3}):)?(\d+):(\d+)(?:\/(tcp|udp))?$/;

/** The -p values of run or do, checked; a malformed one is a usage error. */
export function parsePublish(values: readonly string[]): PublishRequest[] {
  return values.map((v) => {
    const m = PUBLISH_RE.exec(v);
    const hostIp = m?.[1] ?? '0.0.0.0';
    const hostPort = Number(m?.[2]);
    const guestPort = Number(m?.[3]);
    if (!m || hostPort < 1 || hostPort > 65535 || guestPort < 1 || guestPort > 65535 || hostIp.split('.').some((b) => Number(b) > 255)) {
      throw new Fatal(`-p ${v}: expected [HOSTIP:]HOSTPORT:GUESTPORT[/tcp|/udp] with ports 1-65535 and an IPv4 HOSTIP`, true);
    }
    return { hostIp, hostPort, guestPort, protocol: (m[4] ?? 'tcp') as 'tcp' | 'udp' };
  });
}

/** sockaddr_in of `ip:port`. */
function sockaddrIn(ip: string, port: number): Uint8Array {
  const a = new Uint8Array(16);
  new DataView(a.buffer).setUint16(0, AF_INET, true);
  new DataView(a.buffer).setUint16(2, port, false);
  a.set(ip.split('.').map(Number), 4);
  return a;
}

/** Open the host sockets of `requests` (listening for TCP, bound for UDP); a port the host refuses fails the command. */
export function openPublished(requests: readonly PublishRequest[], exitCode: number): PublishedPort[] {
  const opened: PublishedPort[] = [];
  try {
    for (const r of requests) {
      const fd = host.inetSocket(AF_INET, r.protocol === 'tcp' ? SOCK_STREAM : SOCK_DGRAM);
      if (fd < 0) throw new Fatal(`-p ${r.hostPort}: socket: errno ${-fd}`, false, exitCode);
      opened.push({ fd, guestPort: r.guestPort, protocol: r.protocol });
      if (r.protocol === 'tcp') host.inetSetsockopt(fd, SOL_SOCKET, SO_REUSEADDR, Uint8Array.of(1, 0, 0, 0));
      const b = host.inetBind(fd, sockaddrIn(r.hostIp, r.hostPort));
      if (b < 0) throw new Fatal(`-p ${r.hostIp}:${r.hostPort}/${r.protocol}: cannot bind the host port (errno ${-b}${-b === 98 ? ', in use' : -b === 13 ? ', permission denied' : ''})`, false, exitCode);
      const l = r.protocol === 'tcp' ? host.inetListen(fd, BACKLOG) : 0;
      if (l < 0) throw new Fatal(`-p ${r.hostPort}: listen: errno ${-l}`, false, exitCode);
    }
    return opened;
  } catch (e) {
    closePublished(opened);
    throw e;
  }
}

export function closePublished(ports: readonly PublishedPort[]): void {
  for (const p of ports) host.inetClose(p.fd);
}

/** Boot's --publish value for ports handed to it as fds `fds` (in order): FD:GUESTPORT/PROTO each. */
export function publishArg(ports: readonly PublishedPort[], fds: readonly number[]): string[] {
  return ports.map((p, i) => `--publish=${fds[i]}:${p.guestPort}/${p.protocol}`);
}

/** Boot's side: the --publish values back into published ports. */
export function parsePublishArg(values: readonly string[]): PublishedPort[] {
  return values.map((v) => {
    const m = /^(\d+):(\d+)\/(tcp|udp)$/.exec(v);
    if (!m) throw new Fatal(`--publish ${v}: expected FD:GUESTPORT/tcp or /udp`, true);
    return { fd: Number(m[1]), guestPort: Number(m[2]), protocol: m[3] as 'tcp' | 'udp' };
  });
}
