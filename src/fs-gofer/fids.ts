// The fid table of one gofer connection: each fid holds a counted reference
// (Ref) to a backend node, reached from the export's root one checked name at
// a time; `..` is the Ref's recorded parent, and the root has none. An open
// fid also holds its BackendFile, and counts the I/O jobs using that file's
// host fd, so a clunk closes the file only after they end (no fd-number reuse
// race).

import type { Donor } from './donor.js';
import { EBADF, EEXIST, EMFILE, ENOTDIR, Errno, isErrno } from '../linux/errno.js';
import { S_IFDIR, S_IFLNK, S_IFMT } from '../linux/abi.js';
import * as p9 from '../p9/codec.js';
import type { Attr, BackendFile, BackendNode, FilesystemBackend } from '../backend/backend.js';

/** Fids one connection may hold (each is a host fd). */
const MAX_FIDS = 65536;

/** A reference to a backend node, shared by the fids that walked to it; `..` is its parent. */
export class Ref {
  refs = 1;
  constructor(
    readonly node: BackendNode,
    public parent: Ref | null,
    public name: string,
    readonly ino: bigint,
  ) {
    if (parent) parent.refs++;
  }
}

export interface Fid {
  ref: Ref;
  file?: BackendFile;
  /** Open for: 0 read, 1 write, 2 both (the lopen access mode). */
  acc?: number;
  /** I/O jobs using the file's fd; close waits for them. */
  inflight: number;
  drained?: () => void;
}

export function qidOf(type: number, ino: bigint): p9.Qid {
  const t = type & S_IFMT;
  return { type: t === S_IFDIR ? p9.QTDIR : t === S_IFLNK ? p9.QTSYMLINK : p9.QTFILE, version: 0, path: ino };
}

/** What one connection serves: its backend, and the facts Tattach checks. */
export interface Export {
  backend: FilesystemBackend;
  /** The host path of the export: Tattach's aname must be it (or empty). */
  hostPath: string;
  /** Where Tdonate sends open files' host fds (./donor.ts); undefined: Tdonate is EOPNOTSUPP. */
  donor?: Donor;
}

/** The fids of one connection, over its export's backend. */
export class FidTable {
  private readonly fids = new Map<number, Fid>();

  constructor(private readonly backend: FilesystemBackend) {}

  /** Fid `n` as bound now (undefined when free): handlers check that a fid they awaited on is still theirs. */
  get(n: number): Fid | undefined {
    return this.fids.get(n);
  }

  has(n: number): boolean {
    return this.fids.has(n);
  }

  /** Fid `n`, or EBADF. */
  fid(n: unknown): Fid | Errno {
    return this.fids.get(n as number) ?? EBADF;
  }

  /** Binds fid `n` to `f`: EBADF for NOFID, EEXIST when bound, EMFILE past MAX_FIDS. */
  bind(n: number, f: Fid): Errno | undefined {
    if (n === p9.NOFID) return EBADF;
    if (this.fids.has(n)) return EEXIST;
    if (this.fids.size >= MAX_FIDS) return EMFILE;
    this.fids.set(n, f);
    return undefined;
  }

  /** Drops one reference to `r`, releasing each node (and parent) no longer referenced. */
  async unref(r: Ref | null): Promise<void> {
    while (r && --r.refs === 0) {
      await this.backend.release(r.node);
      r = r.parent;
    }
  }

  /** Removes fid `n`: closes its file once its I/O is done, drops its node. */
  async clunk(n: number): Promise<0 | Errno> {
    const f = this.fids.get(n);
    if (!f) return EBADF;
    this.fids.delete(n);
    if (f.file) {
      if (f.inflight > 0) await new Promise<void>((res) => (f.drained = res));
      await f.file.close();
    }
    await this.unref(f.ref);
    return 0;
  }

  /** Clunks every fid (Tversion, and the end of the connection). */
  async clunkAll(): Promise<void> {
    for (const n of [...this.fids.keys()]) await this.clunk(n);
  }

  async attrOf(node: BackendNode): Promise<Attr | Errno> {
    return this.backend.getattr(node);
  }

  /** The qid of the child `name` of `dir` (after a create): one walk and stat. */
  async childQid(dir: BackendNode, name: string): Promise<p9.Qid | Errno> {
    const n = await this.backend.walk(dir, name);
    if (isErrno(n)) return n;
    const a = await this.attrOf(n);
    await this.backend.release(n);
    return isErrno(a) ? a : qidOf(a.mode, a.ino);
  }

  /** Fid `n` when it names a directory and is not open (EBADF, ENOTDIR). */
  dirFid(n: unknown): Fid | Errno {
    const f = this.fid(n);
    if (isErrno(f)) return f;
    if (f.file) return EBADF;
    return f.ref.node.type === S_IFDIR ? f : ENOTDIR;
  }

  /** Runs `job` on an open file's host fd, keeping the fd open until it ends. */
  async withFd<T>(f: Fid, job: (fd: number) => Promise<T>): Promise<T | Errno> {
    const fd = f.file?.hostFd ?? -1;
    if (fd < 0) return EBADF;
    f.inflight++;
    try {
      return await job(fd);
    } finally {
      if (--f.inflight === 0 && f.drained) f.drained();
    }
  }
}
