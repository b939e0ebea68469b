// DirectBackend's open file: a regular file or directory reopened through its
// node's fd (./direct.ts, rule 4 of ./README.md), holding a host fd of its
// own. Reads and writes are pread/pwrite on that fd; setattr, allocate and
// fsync change the inode through it, so they keep working after an unlink.
// The fd is also offered as BackendFile.hostFd, for the gofer's I/O pool.

import * as fs from 'node:fs';
import * as ffi from '../host/ffi.js';
import { S_IFDIR } from '../linux/abi.js';
import { EBADF, EINVAL, EISDIR, ENOTDIR, EROFS, Errno } from '../linux/errno.js';
import type { Attr, BackendFile, DirEntry, SetAttr } from '../backend/backend.js';
import { fsErrno, fstat, neg, preadFd, pwriteFd, toAttr } from './direct-host.js';

/** What a DirectFile needs of the backend that opened it. */
export interface DirectFileOwner {
  readonly readonly: boolean;
  /** The root's inode number: the root directory's ".." reports it. */
  readonly rootIno: bigint;
  /** The file closed itself: the backend stops tracking it. */
  forgetFile(f: DirectFile): void;
}

/** Bytes a linux_dirent64 record of this name takes: what `maxBytes` counts. */
function direntSize(nameBytes: number): number {
  return (19 + nameBytes + 1 + 7) & ~7;
}

/**
 * An open regular file or directory: a host fd of its own (never O_PATH).
 * Directory cookies are small integers, not the host's d_off (a 63-bit hash on
 * ext4, beyond a JS number): cookie i continues after the i-th entry this file
 * has returned, and the file remembers each one's host d_off.
 */
export class DirectFile implements BackendFile {
  private dirOffsets: bigint[] = [0n];
  private dirBuf: Buffer | undefined;

  constructor(
    readonly owner: DirectFileOwner,
    /** Host fd; -1 once closed. */
    private fd: number,
    private readonly type: number,
    /** The backend's root: its ".." entry reports the root's own inode, as Linux's "/" does. */
    private readonly isRoot: boolean,
  ) {}

  /** BackendFile.hostFd: this file's own host fd (never O_PATH), -1 once closed. */
  get hostFd(): number {
    return this.fd;
  }

  read(dst: Uint8Array, offset: number): Promise<number | Errno> {
    if (this.fd < 0) return Promise.resolve(EBADF);
    if (!Number.isSafeInteger(offset) || offset < 0) return Promise.resolve(EINVAL);
    if (dst.length === 0) return Promise.resolve(0);
    return Promise.resolve(preadFd(this.fd, dst, offset));
  }

  write(src: Uint8Array, offset: number): Promise<number | Errno> {
    if (this.fd < 0) return Promise.resolve(EBADF);
    if (!Number.isSafeInteger(offset) || offset < 0) return Promise.resolve(EINVAL);
    if (src.length === 0) return Promise.resolve(0);
    return Promise.resolve(pwriteFd(this.fd, src, offset));
  }

  readdir(cookie: number, maxBytes: number): Promise<DirEntry[] | Errno> {
    return Promise.resolve(this.readdirSync(cookie, maxBytes));
  }

  private readdirSync(cookie: number, maxBytes: number): DirEntry[] | Errno {
    if (this.fd < 0) return EBADF;
    if (this.type !== S_IFDIR) return ENOTDIR;
    if (!Number.isSafeInteger(cookie) || cookie < 0 || cookie >= this.dirOffsets.length) return EINVAL;
    const p = ffi.lseek(this.fd, this.dirOffsets[cookie], ffi.SEEK_SET);
    if (typeof p === 'number') return neg(p);
    this.dirBuf ??= Buffer.alloc(32 * 1024);
    const out: DirEntry[] = [];
    let used = 0;
    let index = cookie;
    for (;;) {
      const n = ffi.getdents64(this.fd, this.dirBuf);
      if (n < 0) return out.length > 0 ? out : neg(n);
      if (n === 0) return out;
      for (const e of ffi.parseDirents(this.dirBuf, n)) {
        const size = direntSize(e.name.length);
        if (out.length > 0 && used + size > maxBytes) return out;
        index++;
        this.dirOffsets[index] = e.off;
        const name = e.name.toString('utf8');
        out.push({ name, ino: name === '..' && this.isRoot ? this.owner.rootIno : e.ino, type: e.type, next: index });
        used += size;
      }
    }
  }

  getattr(): Promise<Attr | Errno> {
    if (this.fd < 0) return Promise.resolve(EBADF);
    const st = fstat(this.fd);
    return Promise.resolve(st instanceof Errno ? st : toAttr(st));
  }

  fsync(dataOnly = false): Promise<0 | Errno> {
    if (this.fd < 0) return Promise.resolve(EBADF);
    if (dataOnly) {
      const r = ffi.fdatasync(this.fd);
      return Promise.resolve(r < 0 ? neg(r) : 0);
    }
    try {
      fs.fsyncSync(this.fd);
      return Promise.resolve(0);
    } catch (e) {
      return Promise.resolve(fsErrno(e));
    }
  }

  setattr(set: SetAttr): Promise<0 | Errno> {
    return Promise.resolve(this.setattrSync(set));
  }

  /** fchown, fchmod, ftruncate, futimens on the open fd itself (a regular file or directory, never a link). */
  private setattrSync(set: SetAttr): 0 | Errno {
    if (this.fd < 0) return EBADF;
    const any = set.mode !== undefined || set.uid !== undefined || set.gid !== undefined || set.size !== undefined || set.atime !== undefined || set.mtime !== undefined;
    if (!any) return 0;
    if (this.owner.readonly) return EROFS;
    if (set.size !== undefined) {
      if (this.type === S_IFDIR) return EISDIR;
      if (!Number.isSafeInteger(set.size) || set.size < 0) return EINVAL;
    }
    try {
      // Owner first: chown may clear set-id bits that a mode in the same call sets.
      if (set.uid !== undefined || set.gid !== undefined) fs.fchownSync(this.fd, set.uid ?? -1, set.gid ?? -1);
      if (set.mode !== undefined) fs.fchmodSync(this.fd, set.mode & 0o7777);
    } catch (e) {
      return fsErrno(e);
    }
    if (set.size !== undefined) {
      const r = ffi.ftruncate(this.fd, set.size);
      if (r < 0) return neg(r);
    }
    if (set.atime !== undefined || set.mtime !== undefined) {
      const ts = (t: SetAttr['atime']): ffi.TimeSpec => (t === undefined ? 'omit' : t);
      const r = ffi.futimens(this.fd, [ts(set.atime), ts(set.mtime)]);
      if (r < 0) return neg(r);
    }
    return 0;
  }

  allocate(offset: number, len: number): Promise<0 | Errno> {
    if (this.fd < 0) return Promise.resolve(EBADF);
    if (this.owner.readonly) return Promise.resolve(EROFS);
    const r = ffi.fallocate(this.fd, 0, offset, len);
    return Promise.resolve(r < 0 ? neg(r) : 0);
  }

  close(): Promise<void> {
    this.closeNow();
    this.owner.forgetFile(this);
    return Promise.resolve();
  }

  /** @internal: closes the host fd (the backend's close() calls this). */
  closeNow(): void {
    if (this.fd >= 0) ffi.closeFd(this.fd);
    this.fd = -1;
  }
}
