// `tsvisor gofer --bundle DIR --spec-fd N --io-fds=a,b,...`: the process that
// serves the container's filesystems over 9P2000.L, one connection per io fd:
// fd 0 of the list serves the rootfs, fd i the spec's i-th bind mount (in
// spec order, as sandboxMounts lists them). Each is a DirectBackend rooted at
// that host directory, read-only where the spec says so. The gofer exits 0
// when every connection has closed.

import * as net from 'node:net';
import * as path from 'node:path';
import { FlagDef, FlagValues } from '../main/flags.js';
import { Fatal, GlobalOptions } from '../main/common.js';
import { readSpecFromFd } from '../spec/load.js';
import type { Spec } from '../spec/types.js';
import { sandboxMounts } from '../kernel/sandbox-config.js';
import { DirectBackend } from '../fs-gofer/direct.js';
import { Connection, type Export } from './server.js';
import { IoPool } from './io-pool.js';

export const GOFER_FLAGS: FlagDef[] = [
  { name: 'bundle', kind: 'string', usage: 'path to the bundle directory (root.path and bind sources are relative to it)', default: '' },
  { name: 'spec-fd', kind: 'int', usage: 'required: fd holding the OCI runtime spec', default: -1 },
  { name: 'io-fds', kind: 'intList', usage: 'required: one connected stream socket per filesystem: the root first, then the bind mounts in spec order', default: [] },
];

export const GOFER_SYNOPSIS = 'tsvisor [global flags] gofer --bundle DIR --spec-fd N --io-fds=FD,...';

/** The host directories a spec's filesystems come from: the root, then each bind mount in order. */
export interface ExportSpec {
  hostPath: string;
  readonly: boolean;
  /** Where the sandbox mounts it ("/" for the root). */
  destination: string;
}

export function exportsOf(spec: Spec, bundle: string): ExportSpec[] {
  const root: ExportSpec = { hostPath: path.resolve(bundle, spec.root!.path), readonly: spec.root!.readonly === true, destination: '/' };
  const binds = sandboxMounts(spec.mounts ?? [], bundle).flatMap((m) => (m.kind === 'bind' ? [{ hostPath: m.source, readonly: m.readonly, destination: m.destination }] : []));
  return [root, ...binds];
}

/**
 * Serves `exp` on a connected stream socket fd until the peer closes it.
 * Resolves when the connection is over.
 */
export function serveFd(fd: number, exp: Export, io: IoPool | undefined, log: (m: string) => void = () => {}): Promise<void> {
  return new Promise((resolve) => {
    const sock = new net.Socket({ fd, readable: true, writable: true });
    const conn = new Connection(
      exp,
      io,
      (b) => sock.write(b),
      (why) => {
        log(`gofer: closing io fd ${fd}: ${why}`);
        sock.destroy();
      },
      { pause: () => sock.pause(), resume: () => sock.resume() },
    );
    sock.on('data', (chunk: Buffer) => conn.receive(chunk));
    // The peer going away (EPIPE, ECONNRESET on a late reply) is how a connection ends, not a problem.
    sock.on('error', (e) => {
      const code = (e as NodeJS.ErrnoException).code;
      if (code !== 'EPIPE' && code !== 'ECONNRESET') log(`gofer: io fd ${fd}: ${e.message}`);
    });
    sock.on('close', () => {
      void conn.close().then(resolve);
    });
  });
}

export async function goferCommand(g: GlobalOptions, flags: FlagValues, positional: string[]): Promise<number> {
  const specFd = flags['spec-fd'] as number;
  const ioFds = flags['io-fds'] as number[];
  if (specFd < 0) throw new Fatal('missing required flag: --spec-fd', true);
  if (ioFds.length === 0) throw new Fatal('missing required flag: --io-fds', true);
  if (positional.length > 0) throw new Fatal(`unexpected argument ${JSON.stringify(positional[0])}`, true);
  const spec = readSpecFromFd(specFd);
  const bundle = (flags.bundle as string) || process.cwd();
  let exps: ExportSpec[];
  try {
    exps = exportsOf(spec, bundle);
  } catch (e) {
    throw new Fatal(`spec mounts: ${(e as Error).message}`);
  }
  if (ioFds.length !== exps.length) throw new Fatal(`--io-fds has ${ioFds.length} fds but the spec has ${exps.length} filesystems (the root and ${exps.length - 1} bind mounts)`);
  const backends: DirectBackend[] = [];
  try {
    for (const e of exps) backends.push(DirectBackend.open(e.hostPath, { readonly: e.readonly }));
  } catch (e) {
    for (const b of backends) b.close();
    throw new Fatal((e as Error).message);
  }
  const io = new IoPool();
  // stderr is the container's too: the gofer speaks there only when debugging.
  const log = (m: string) => {
    if (g.debug) process.stderr.write(m + '\n');
  };
  await Promise.all(ioFds.map((fd, i) => serveFd(fd, { backend: backends[i], hostPath: exps[i].hostPath }, io, log)));
  for (const b of backends) b.close();
  await io.close();
  return 0;
}
