// The gofer process's work: serve each exported host directory (or, for a
// bind mount, regular file) over 9P2000.L on its own connected stream socket
// (an io fd), one `Connection` per fd, each over a `DirectBackend` rooted at
// that directory or file (read-only where the spec says so), with one shared I/O pool for large transfers. The command line
// that starts it is `tsvisor gofer` (src/main/gofer-command.ts); the fds come
// from the parent runtime (src/main/gofer-launch.ts).

import * as net from 'node:net';
import type { ExportSpec } from '../spec/mounts.js';
import { DirectBackend } from './direct.js';
import { Connection, type Export } from './server.js';
import { IoPool } from './io-pool.js';
import { Donor } from './donor.js';

/**
 * Serves `exp` on a connected stream socket fd until the peer closes it.
 * Resolves when the connection is over.
 */
export function serveFd(fd: number, exp: Export, io: IoPool | undefined, log: (m: string) => void = () => {}, served: (requests: number) => void = () => {}): Promise<void> {
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
    sock.on('data', (chunk: Buffer) => {
      const before = conn.stats.requests;
      conn.receive(chunk);
      served(conn.stats.requests - before);
    });
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

/**
 * Serves export i on io fd i until every connection has closed. Opening an
 * export's directory (or, for a bind mount, regular file) fails with an Error naming it, before anything is served.
 * `opened` runs once every export is open, before the first request is read
 * (the gofer command locks itself down there); what it throws ends the serving.
 * `donateFd` (>= 0): the donation channel every connection's Tdonate sends on (./donor.ts).
 * `busy`: `then` runs once, when the connections together have received
 * `requests` requests (the gofer command resumes V8's optimizing compiler there).
 */
export async function serveExports(exps: readonly ExportSpec[], ioFds: readonly number[], log: (m: string) => void, opened: () => void = () => {}, donateFd = -1, busy?: { requests: number; then(): void }): Promise<void> {
  if (ioFds.length !== exps.length) throw new Error(`--io-fds has ${ioFds.length} fds but the spec has ${exps.length} filesystems (the root and ${exps.length - 1} bind mounts)`);
  const backends: DirectBackend[] = [];
  try {
    for (const e of exps) backends.push(DirectBackend.open(e.hostPath, { readonly: e.readonly, fileRoot: e.fileRoot }));
    opened();
  } catch (e) {
    for (const b of backends) b.close();
    throw e;
  }
  const io = new IoPool();
  const donor = donateFd >= 0 ? new Donor(donateFd) : undefined;
  let left = busy?.requests ?? Infinity;
  const served = (n: number) => {
    if (left <= 0 || (left -= n) > 0) return;
    busy!.then();
  };
  await Promise.all(ioFds.map((fd, i) => serveFd(fd, { backend: backends[i], hostPath: exps[i].hostPath, donor }, io, log, served)));
  donor?.close();
  for (const b of backends) b.close();
  await io.close();
}
