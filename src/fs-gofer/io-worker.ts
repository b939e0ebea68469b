// A piscina worker of the gofer's I/O pool: one pread or pwrite on a host fd
// that the gofer's main thread owns (fds are the process's, shared by its
// threads). The main thread guarantees the fd stays open until the job ends.
// Failures come back as a negative errno, never as a thrown error.

import * as fs from 'node:fs';
import { move } from 'piscina';

export interface IoJob {
  op: 'read' | 'write';
  fd: number;
  offset: number;
  /** read: bytes wanted. */
  len?: number;
  /** write: the bytes (transferred). */
  data?: Uint8Array;
}

function errnoOf(e: unknown): number {
  const n = (e as { errno?: unknown } | null)?.errno;
  return typeof n === 'number' && n < 0 ? n : -5; // EIO for anything without an errno
}

/** read: the bytes read (moved back, short only at end of file) or -errno; write: the count written or -errno. */
export default function ioJob(job: IoJob): Uint8Array | number {
  try {
    if (job.op === 'read') {
      const buf = new Uint8Array(job.len ?? 0);
      let got = 0;
      // A regular file's pread may come back short only at end of file or on a signal: loop until either.
      while (got < buf.length) {
        const n = fs.readSync(job.fd, buf, got, buf.length - got, job.offset + got);
        if (n === 0) break;
        got += n;
      }
      const out = got === buf.length ? buf : buf.slice(0, got);
      return move(out) as Uint8Array;
    }
    const d = job.data ?? new Uint8Array(0);
    let put = 0;
    while (put < d.length) put += fs.writeSync(job.fd, d, put, d.length - put, job.offset + put);
    return put;
  } catch (e) {
    return errnoOf(e);
  }
}
