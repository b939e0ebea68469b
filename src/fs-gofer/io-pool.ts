// The gofer's pool of I/O workers (piscina): reads and writes of regular
// files run there, so one slow pread does not hold up the other requests the
// gofer is serving. Small transfers run inline, where a round trip to a worker
// would cost more than the I/O (a cached page read takes microseconds).
//
// Contract: the caller keeps `fd` open until the returned promise settles.

import * as path from 'node:path';
import * as fs from 'node:fs';
import type { Piscina } from 'piscina';
import { EIO, Errno } from '../linux/errno.js';

export interface IoPoolOptions {
  /** Workers (default: 4). */
  threads?: number;
  /** Transfers of at most this many bytes run inline (default 64 KiB; 0: always the pool). */
  inlineMax?: number;
}

function errnoOf(e: unknown): Errno {
  const n = (e as { errno?: unknown } | null)?.errno;
  return typeof n === 'number' && n < 0 ? Errno.of(-n) : EIO;
}

export class IoPool {
  private made: Piscina | undefined;
  private readonly threads: number;
  private readonly inlineMax: number;

  constructor(opts: IoPoolOptions = {}) {
    const threads = opts.threads ?? 4;
    this.inlineMax = opts.inlineMax ?? 64 * 1024;
    this.threads = threads;
  }

  /**
   * The worker pool, made at the first transfer too large to run inline: a
   * gofer that never has one does not even load piscina (14 modules at each
   * start; docs/STARTUP.md).
   */
  private get pool(): Piscina {
    if (!this.made) {
      const { Piscina: Pool } = require('piscina') as typeof import('piscina');
      this.made = new Pool({ filename: path.join(__dirname, 'io-worker.js'), minThreads: 0, maxThreads: this.threads, idleTimeout: 30_000 });
    }
    return this.made;
  }

  async read(fd: number, offset: number, len: number): Promise<Uint8Array | Errno> {
    if (len <= this.inlineMax) {
      try {
        const buf = Buffer.allocUnsafe(len);
        const n = fs.readSync(fd, buf, 0, len, offset);
        return buf.subarray(0, n);
      } catch (e) {
        return errnoOf(e);
      }
    }
    const r = (await this.pool.run({ op: 'read', fd, offset, len })) as Uint8Array | number;
    return typeof r === 'number' ? Errno.of(-r) : r;
  }

  async write(fd: number, offset: number, data: Uint8Array): Promise<number | Errno> {
    if (data.length <= this.inlineMax) {
      try {
        return fs.writeSync(fd, data, 0, data.length, offset);
      } catch (e) {
        return errnoOf(e);
      }
    }
    // The bytes go to the worker by transfer: copy out of the connection's buffer first.
    const copy = new Uint8Array(data);
    const r = (await this.pool.run({ op: 'write', fd, offset, data: copy }, { transferList: [copy.buffer] })) as number;
    return r < 0 ? Errno.of(-r) : r;
  }

  close(): Promise<void> {
    return this.made ? this.made.destroy() : Promise.resolve();
  }
}
