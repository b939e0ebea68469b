// P9Backend's open file: a fid of its own, Tlopen'ed (or Tlcreate'd). Reads
// and writes larger than the server's iounit are split into chunks sent
// together; directory cookies are mapped to the server's offsets. A regular
// file whose host fd the gofer donated (./donation.ts) reads, writes and
// fstats through that fd instead, with no round trip; setattr, allocate and
// fsync still go to the gofer (ownership and modes are its to change).

import { EBADF, EINVAL, EIO, ENOSPC, ENOTDIR, type Errno, isErrno } from '../linux/errno.js';
import { NAME_MAX, S_IFDIR } from '../linux/abi.js';
import type { Attr, BackendFile, DirEntry, SetAttr } from '../backend/backend.js';
import * as p9 from './codec.js';
import { MsgType, type Msg } from './codec.js';
import type { P9Client } from './client.js';
import { setattrMsg } from './attr.js';
import { fstat, preadFd, pwriteFd, toAttr } from '../backend/host-attr.js';

/** What a P9File needs of the backend that opened it. */
export interface P9FileOwner {
  readonly client: P9Client;
  /** Tgetattr of `fid`. */
  fetchAttr(fid: number): Promise<Attr | Errno>;
  /** Clunks a fid no longer used. */
  clunk(fid: number): Promise<void>;
  /** Closes a donated host fd the file no longer uses. */
  releaseDonated(fd: number): void;
}

/**
 * An open fid. Directory cookies are small integers (cookie i continues after
 * the i-th entry this file returned), mapped to the server's offsets, which
 * may be 63-bit hashes (diod passes ext4's d_off through).
 */
export class P9File implements BackendFile {
  private readonly chunk: number;
  private readonly dirOffsets: bigint[] = [0n];

  constructor(
    private readonly b: P9FileOwner,
    private fid: number,
    private readonly type: number,
    iounit: number,
    /** The host fd the gofer donated for this open file (owned: closed with it), or -1: all through 9P. */
    private donated = -1,
  ) {
    const max = b.client.msize - p9.IO_OVERHEAD;
    this.chunk = iounit > 0 && iounit <= max ? iounit : max;
  }

  /** Whether reads and writes go straight to a donated host fd. */
  get isDonated(): boolean {
    return this.donated >= 0;
  }

  /** BackendFile.hostFd: the donated fd, which the kernel may pread and pwrite itself; absent without one, -1 once closed. */
  get hostFd(): number | undefined {
    if (this.donated >= 0) return this.donated;
    return this.fid < 0 ? -1 : undefined;
  }

  async read(dst: Uint8Array, offset: number): Promise<number | Errno> {
    if (this.fid < 0) return EBADF;
    if (!Number.isSafeInteger(offset) || offset < 0) return EINVAL;
    if (dst.length === 0) return 0;
    if (this.donated >= 0) return preadFd(this.donated, dst, offset);
    // The chunks go out together; the result is the prefix up to the first short one.
    const parts: Promise<Msg | Errno>[] = [];
    for (let at = 0; at < dst.length; at += this.chunk) {
      parts.push(this.b.client.rpc({ type: MsgType.Tread, tag: 0, fid: this.fid, offset: BigInt(offset + at), count: Math.min(this.chunk, dst.length - at) }));
    }
    const replies = await Promise.all(parts);
    let total = 0;
    for (let i = 0; i < replies.length; i++) {
      const r = replies[i];
      if (isErrno(r)) return total > 0 ? total : r;
      const d = r.data as Uint8Array;
      const want = Math.min(this.chunk, dst.length - i * this.chunk);
      if (d.length > want) return total > 0 ? total : EIO; // more than asked: a broken server
      dst.set(d, i * this.chunk);
      total += d.length;
      if (d.length < want) break;
    }
    return total;
  }

  async write(src: Uint8Array, offset: number): Promise<number | Errno> {
    if (this.fid < 0) return EBADF;
    if (!Number.isSafeInteger(offset) || offset < 0) return EINVAL;
    if (src.length === 0) return 0;
    if (this.donated >= 0) return pwriteFd(this.donated, src, offset);
    const parts: Promise<Msg | Errno>[] = [];
    for (let at = 0; at < src.length; at += this.chunk) {
      parts.push(this.b.client.rpc({ type: MsgType.Twrite, tag: 0, fid: this.fid, offset: BigInt(offset + at), data: src.subarray(at, Math.min(src.length, at + this.chunk)) }));
    }
    const replies = await Promise.all(parts);
    let total = 0;
    for (let i = 0; i < replies.length; i++) {
      const r = replies[i];
      if (isErrno(r)) return total > 0 ? total : r;
      const n = r.count as number;
      const want = Math.min(this.chunk, src.length - i * this.chunk);
      total += Math.min(n, want);
      if (n < want) break;
    }
    return total;
  }

  async readdir(cookie: number, maxBytes: number): Promise<DirEntry[] | Errno> {
    if (this.fid < 0) return EBADF;
    if (this.type !== S_IFDIR) return ENOTDIR;
    if (!Number.isSafeInteger(cookie) || cookie < 0 || cookie >= this.dirOffsets.length) return EINVAL;
    // Room for at least one entry of the longest name, so a short buffer never reads as the end.
    const count = Math.min(Math.max(maxBytes, 24 + NAME_MAX + 8), this.b.client.msize - p9.RREAD_OVERHEAD);
    const r = await this.b.client.rpc({ type: MsgType.Treaddir, tag: 0, fid: this.fid, offset: this.dirOffsets[cookie], count });
    if (isErrno(r)) return r;
    const ents = p9.decodeDirents(r.data as Uint8Array);
    if (ents instanceof p9.P9DecodeError) return EIO;
    const out: DirEntry[] = [];
    let index = cookie;
    for (const e of ents) {
      // A name no directory can hold (a broken server): EIO, as Linux's readdir refuses an empty name or one with '/'.
      if (e.name === '' || e.name.includes('/') || e.name.includes('\0')) return EIO;
      index++;
      this.dirOffsets[index] = e.offset;
      out.push({ name: e.name, ino: e.qid.path, type: e.type, next: index });
    }
    return out;
  }

  async getattr(): Promise<Attr | Errno> {
    if (this.fid < 0) return EBADF;
    if (this.donated >= 0) {
      const st = fstat(this.donated);
      return isErrno(st) ? st : toAttr(st);
    }
    return this.b.fetchAttr(this.fid);
  }

  async setattr(set: SetAttr): Promise<0 | Errno> {
    if (this.fid < 0) return EBADF;
    const m = setattrMsg(this.fid, set);
    if ((m.valid as number) === 0) return 0;
    const r = await this.b.client.rpc(m);
    return isErrno(r) ? r : 0;
  }

  /**
   * fallocate mode 0. 9P2000.L has no fallocate: the part of the range past
   * the end of the file is written with zeros (so it grows, with its blocks
   * allocated, ENOSPC now rather than later); holes inside the old size stay
   * holes (their data reads as zeros either way).
   */
  async allocate(offset: number, len: number): Promise<0 | Errno> {
    if (this.fid < 0) return EBADF;
    if (!Number.isSafeInteger(offset) || !Number.isSafeInteger(len) || offset < 0 || len <= 0 || !Number.isSafeInteger(offset + len)) return EINVAL;
    const a = await this.getattr();
    if (isErrno(a)) return a;
    const zeros = new Uint8Array(Math.min(this.chunk * 4, 16 * 1024 * 1024));
    for (let at = Math.max(a.size, offset); at < offset + len; ) {
      const n = await this.write(zeros.subarray(0, Math.min(zeros.length, offset + len - at)), at);
      if (isErrno(n)) return n;
      if (n === 0) return ENOSPC;
      at += n;
    }
    return 0;
  }

  async fsync(dataOnly = false): Promise<0 | Errno> {
    if (this.fid < 0) return EBADF;
    const r = await this.b.client.rpc({ type: MsgType.Tfsync, tag: 0, fid: this.fid, datasync: dataOnly ? 1 : 0 });
    return isErrno(r) ? r : 0;
  }

  /**
   * Clunks the fid without waiting for the answer: close(2) costs no round
   * trip. A server that keeps fid requests in order runs the Tclunk before
   * anything sent after it; the fid number is reused only once answered.
   */
  async close(): Promise<void> {
    if (this.fid < 0) return;
    const fid = this.fid;
    this.fid = -1;
    if (this.donated >= 0) this.b.releaseDonated(this.donated);
    this.donated = -1;
    void this.b.clunk(fid);
  }
}
