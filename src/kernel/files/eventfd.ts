// eventfd (Linux's fs/eventfd.c): a 64-bit counter as a file.
//
// Contract: read(8+ bytes) returns the counter and zeroes it, or with
// EFD_SEMAPHORE returns 1 and decrements it; EAGAIN while it is 0. write(8+
// bytes) adds a value (all-ones is EINVAL), EAGAIN while the sum would pass
// 0xfffffffffffffffe. Shorter buffers are EINVAL. POLLIN while the counter is
// non-zero, POLLOUT while 1 more could be added; the system call layer waits
// (files/blocking.ts).

import { EAGAIN, EINVAL, Errno } from '../../linux/errno.js';
import * as abi from '../../linux/abi.js';
import { File } from './file.js';
import { WaitQueue } from './waitqueue.js';
import { allocIno, makeAttr } from '../vfs/attr.js';
import type { Attr } from '../../backend/backend.js';
import type { FileRecord } from '../checkpoint-records.js';

const MAX = 0xfffffffffffffffen;

export class EventFd extends File {
  private readonly wq = new WaitQueue();
  private readonly ino = allocIno();

  constructor(
    private count: bigint,
    private readonly semaphore: boolean,
    flags: number,
  ) {
    super(abi.O_RDWR | flags, 'anon_inode:[eventfd]');
  }

  /** The counter (for /proc/PID/fdinfo's eventfd-count). */
  get value(): bigint {
    return this.count;
  }

  override read(len: number): Uint8Array | Errno {
    if (len < 8) return EINVAL;
    if (this.count === 0n) return EAGAIN;
    const v = this.semaphore ? 1n : this.count;
    this.count -= v;
    this.wq.notify(abi.POLLOUT | abi.POLLWRNORM);
    const out = new Uint8Array(8);
    new DataView(out.buffer).setBigUint64(0, v, true);
    return out;
  }

  override write(data: Uint8Array): number | Errno {
    if (data.length < 8) return EINVAL;
    const v = new DataView(data.buffer, data.byteOffset, 8).getBigUint64(0, true);
    if (v === 0xffffffffffffffffn) return EINVAL;
    if (MAX - this.count < v) return EAGAIN;
    this.count += v;
    this.wq.notify(abi.POLLIN | abi.POLLRDNORM);
    return 8;
  }

  override pollEvents(): number {
    let mask = 0;
    if (this.count > 0n) mask |= abi.POLLIN | abi.POLLRDNORM;
    if (this.count < MAX) mask |= abi.POLLOUT | abi.POLLWRNORM;
    return mask;
  }

  override get waitQueue(): WaitQueue {
    return this.wq;
  }

  getattr(): Attr {
    return makeAttr(0o600, { ino: this.ino, blksize: 4096 });
  }

  override save(): FileRecord {
    return { kind: 'eventfd', flags: this.flags, count: this.count.toString(), semaphore: this.semaphore };
  }

  static restore(rec: Extract<FileRecord, { kind: 'eventfd' }>): EventFd {
    return new EventFd(BigInt(rec.count), rec.semaphore, rec.flags & ~abi.O_ACCMODE);
  }
}
