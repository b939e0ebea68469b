// One 9P2000.L connection of the gofer: a fid table over a FilesystemBackend
// (DirectBackend, which holds the confinement rules of src/fs-gofer/README.md),
// a handler per message type, and the connection's framing and replies.
//
// Contract: the client is untrusted. Every request is decoded with checks
// (src/p9/codec.ts); a request that decodes gets exactly one reply with its
// tag (an Rlerror with Linux's errno on failure); a stream that cannot be
// framed (size out of bounds), a reused tag, or a reply we cannot encode
// closes the connection. Nothing a client sends can make the gofer throw.
// Paths are never built: each fid holds a backend node reached one checked
// name at a time from the root; `..` goes to the fid's recorded parent and
// stops at the root.

import { EBADF, EEXIST, EINVAL, EISDIR, EMFILE, ENODATA, ENOENT, ENOTDIR, EOPNOTSUPP, EPERM, Errno, isErrno } from '../linux/errno.js';
import * as p9 from '../p9/codec.js';
import type { Msg } from '../p9/codec.js';
import { MsgType } from '../p9/codec.js';
import type { Attr, BackendFile, BackendNode, FilesystemBackend, SetAttr } from '../backend/backend.js';
import { hostFdOf } from './direct.js';
import type { IoPool } from './io-pool.js';

const S_IFMT = 0o170000;
const S_IFDIR = 0o040000;
const S_IFLNK = 0o120000;
const S_IFREG = 0o100000;
const S_IFIFO = 0o010000;
const DT_DIR = 4;
const DT_LNK = 10;
const O_ACCMODE = 3;
const O_WRONLY = 1;
const O_CREAT = 0o100;
const O_EXCL = 0o200;
const AT_REMOVEDIR = 0x200;

/** The largest msize we agree to (the client may ask for less). */
export const MAX_MSIZE = 4 * 1024 * 1024 + 4096;
/** Fids one connection may hold (each is a host fd). */
const MAX_FIDS = 65536;
/** Requests in flight before we stop reading the socket. */
const MAX_PENDING = 256;
const NOUID = 0xffffffff;

/** A reference to a backend node, shared by the fids that walked to it; `..` is its parent. */
class Ref {
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

interface Fid {
  ref: Ref;
  file?: BackendFile;
  /** Open for: 0 read, 1 write, 2 both (the lopen access mode). */
  acc?: number;
  /** I/O jobs using the file's fd; close waits for them. */
  inflight: number;
  drained?: () => void;
}

function qidOf(type: number, ino: bigint): p9.Qid {
  const t = type & S_IFMT;
  return { type: t === S_IFDIR ? p9.QTDIR : t === S_IFLNK ? p9.QTSYMLINK : p9.QTFILE, version: 0, path: ino };
}

/** What one connection serves: its backend, and the facts Tattach checks. */
export interface Export {
  backend: FilesystemBackend;
  /** The host path of the export: Tattach's aname must be it (or empty). */
  hostPath: string;
}

export type Send = (b: Buffer) => void;

export class Connection {
  private msize = 8192;
  private versioned = false;
  private readonly fids = new Map<number, Fid>();
  private readonly pending = new Map<number, Promise<void>>();
  private readonly framer = new p9.Framer(MAX_MSIZE);
  private attachUid = 0;
  private closed = false;
  /** The chain of in-order requests (see dispatch). */
  private serial: Promise<unknown> = Promise.resolve();
  /** Counters, for tests and logs. */
  readonly stats = { requests: 0, errors: 0, malformed: 0 };

  constructor(
    private readonly exp: Export,
    private readonly io: IoPool | undefined,
    private readonly send: Send,
    /** Ends the connection (the transport closes); called at most once. */
    private readonly hangup: (why: string) => void,
    private readonly flow?: { pause(): void; resume(): void },
  ) {}

  /** Bytes from the client. */
  receive(chunk: Buffer): void {
    if (this.closed) return;
    const frames = this.framer.push(chunk);
    if (frames instanceof p9.P9DecodeError) return this.fail(frames.reason);
    for (const f of frames) {
      if (this.closed) return;
      this.dispatch(f);
    }
  }

  /** The transport ended: release every fid (after in-flight I/O). */
  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    await Promise.allSettled([...this.pending.values()]);
    await this.clunkAll();
  }

  private fail(why: string): void {
    if (this.closed) return;
    this.hangup(why);
    void this.close();
  }

  private dispatch(frame: Buffer): void {
    this.stats.requests++;
    const m = p9.decode(frame);
    if (m instanceof p9.P9DecodeError) {
      this.stats.malformed++;
      // A readable header gets an error reply; a tag we cannot know ends the stream.
      if (m.tag === undefined) return this.fail(m.reason);
      if (this.pending.has(m.tag)) return this.fail(`tag ${m.tag} reused while in flight`);
      return this.reply({ type: MsgType.Rlerror, tag: m.tag, ecode: EINVAL.code });
    }
    if (this.pending.has(m.tag)) return this.fail(`tag ${m.tag} reused while in flight`);
    const handler = HANDLERS[m.type];
    if (!handler || (m.type & 1) !== 0) {
      this.stats.malformed++;
      return this.reply({ type: MsgType.Rlerror, tag: m.tag, ecode: EOPNOTSUPP.code });
    }
    if (!this.versioned && m.type !== MsgType.Tversion) return this.reply({ type: MsgType.Rlerror, tag: m.tag, ecode: EINVAL.code });
    const tag = m.tag;
    // Requests that name or bind fids run in arrival order (a client may send
    // Twalk and a Tgetattr of its new fid back to back); reads, writes, fsyncs
    // and flushes run at once, beside them.
    const concurrent = m.type === MsgType.Tread || m.type === MsgType.Twrite || m.type === MsgType.Tfsync || m.type === MsgType.Tflush;
    const run = (): Promise<Msg | Errno> => {
      if (concurrent) return handler(this, m);
      const p = this.serial.then(() => handler(this, m));
      this.serial = p.catch(() => undefined); // a failed request does not stop the ones after it
      return p;
    };
    const work = (async () => {
      let r: Msg | Errno;
      try {
        r = await run();
      } catch (e) {
        // A bug of ours, not the client's doing: answer EIO and keep serving.
        process.stderr.write(`gofer: ${MsgType[m.type]} failed: ${(e as Error)?.stack ?? String(e)}\n`);
        r = Errno.of(5);
      }
      if (isErrno(r)) {
        this.stats.errors++;
        r = { type: MsgType.Rlerror, tag, ecode: r.code };
      } else r.tag = tag;
      this.pending.delete(tag);
      this.reply(r);
      if (this.pending.size === MAX_PENDING - 1) this.flow?.resume();
    })();
    this.pending.set(tag, work);
    if (this.pending.size >= MAX_PENDING) this.flow?.pause();
  }

  private reply(r: Msg): void {
    if (this.closed) return;
    let b: Buffer;
    try {
      b = p9.encode(r);
    } catch (e) {
      return this.fail(`cannot encode ${MsgType[r.type]}: ${(e as Error).message}`);
    }
    if (b.length > this.msize && this.versioned) return this.fail(`reply of ${b.length} bytes over msize ${this.msize}`);
    this.send(b);
  }

  // ---- fids ----

  fid(n: unknown): Fid | Errno {
    return this.fids.get(n as number) ?? EBADF;
  }

  private bind(n: number, f: Fid): Errno | undefined {
    if (n === p9.NOFID) return EBADF;
    if (this.fids.has(n)) return EEXIST;
    if (this.fids.size >= MAX_FIDS) return EMFILE;
    this.fids.set(n, f);
    return undefined;
  }

  private async unref(r: Ref | null): Promise<void> {
    while (r && --r.refs === 0) {
      await this.exp.backend.release(r.node);
      r = r.parent;
    }
  }

  /** Removes fid `n`: closes its file once its I/O is done, drops its node. */
  private async clunk(n: number): Promise<0 | Errno> {
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

  private async clunkAll(): Promise<void> {
    for (const n of [...this.fids.keys()]) await this.clunk(n);
  }

  private async attrOf(node: BackendNode): Promise<Attr | Errno> {
    return this.exp.backend.getattr(node);
  }

  /** The qid of the child `name` of `dir` (after a create): one walk and stat. */
  private async childQid(dir: BackendNode, name: string): Promise<p9.Qid | Errno> {
    const n = await this.exp.backend.walk(dir, name);
    if (isErrno(n)) return n;
    const a = await this.attrOf(n);
    await this.exp.backend.release(n);
    return isErrno(a) ? a : qidOf(a.mode, a.ino);
  }

  private dirFid(n: unknown): Fid | Errno {
    const f = this.fid(n);
    if (isErrno(f)) return f;
    if (f.file) return EBADF;
    return f.ref.node.type === S_IFDIR ? f : ENOTDIR;
  }

  /** Runs `job` on an open file's host fd, keeping the fd open until it ends. */
  private async withFd<T>(f: Fid, job: (fd: number) => Promise<T>): Promise<T | Errno> {
    const fd = f.file ? hostFdOf(f.file) : -1;
    if (fd < 0) return EBADF;
    f.inflight++;
    try {
      return await job(fd);
    } finally {
      if (--f.inflight === 0 && f.drained) f.drained();
    }
  }

  // ---- handlers (one per T-message; see HANDLERS) ----

  async version(m: Msg): Promise<Msg | Errno> {
    await this.clunkAll();
    const ms = Math.min(m.msize as number, MAX_MSIZE);
    // Both dialects are served the same way: dispatch() keeps fid requests in order.
    if ((m.version !== p9.VERSION && m.version !== p9.VERSION_IN_ORDER) || ms < p9.MIN_MSIZE) {
      this.versioned = false;
      return { type: MsgType.Rversion, tag: 0, msize: Math.max(ms, 0), version: 'unknown' };
    }
    this.msize = ms;
    this.framer.maxSize = ms;
    this.versioned = true;
    return { type: MsgType.Rversion, tag: 0, msize: ms, version: m.version };
  }

  async attach(m: Msg): Promise<Msg | Errno> {
    if (m.afid !== p9.NOFID) return EINVAL;
    const aname = m.aname as string;
    if (aname !== '' && aname !== this.exp.hostPath) return ENOENT;
    const node = await this.exp.backend.root();
    if (isErrno(node)) return node;
    const a = await this.attrOf(node);
    if (isErrno(a)) {
      await this.exp.backend.release(node);
      return a;
    }
    const bad = this.bind(m.fid as number, { ref: new Ref(node, null, '', a.ino), inflight: 0 });
    if (bad) {
      await this.exp.backend.release(node);
      return bad;
    }
    this.attachUid = m.nUname === NOUID ? 0 : (m.nUname as number);
    return { type: MsgType.Rattach, tag: 0, qid: qidOf(S_IFDIR, a.ino) };
  }

  async walk(m: Msg): Promise<Msg | Errno> {
    const f = this.fid(m.fid);
    if (isErrno(f)) return f;
    if (f.file) return EBADF;
    const newfid = m.newfid as number;
    if (newfid !== m.fid && this.fids.has(newfid)) return EEXIST;
    const names = m.names as string[];
    let cur = f.ref;
    cur.refs++;
    const qids: p9.Qid[] = [];
    let err: Errno | undefined;
    for (const name of names) {
      let next: Ref;
      if (name === '..') {
        next = cur.parent ?? cur;
        next.refs++;
      } else if (name === '.' || name === '' || name.includes('/')) {
        err = name === '' ? ENOENT : EINVAL;
        break;
      } else {
        const n = await this.exp.backend.walk(cur.node, name);
        if (isErrno(n)) {
          err = n;
          break;
        }
        const a = await this.attrOf(n);
        if (isErrno(a)) {
          await this.exp.backend.release(n);
          err = a;
          break;
        }
        next = new Ref(n, cur, name, a.ino);
      }
      await this.unref(cur);
      cur = next;
      qids.push(qidOf(cur.node.type, cur.ino));
    }
    if (qids.length < names.length) {
      await this.unref(cur);
      if (qids.length === 0) return err ?? ENOENT;
      return { type: MsgType.Rwalk, tag: 0, qids };
    }
    if (newfid === m.fid) {
      if (this.fids.get(newfid) !== f) {
        await this.unref(cur);
        return EBADF; // clunked meanwhile
      }
      const old = f.ref;
      f.ref = cur;
      await this.unref(old);
    } else {
      const bad = this.bind(newfid, { ref: cur, inflight: 0 });
      if (bad) {
        await this.unref(cur);
        return bad;
      }
    }
    return { type: MsgType.Rwalk, tag: 0, qids };
  }

  async getattr(m: Msg): Promise<Msg | Errno> {
    const f = this.fid(m.fid);
    if (isErrno(f)) return f;
    const a = f.file ? await f.file.getattr() : await this.attrOf(f.ref.node);
    if (isErrno(a)) return a;
    const big = (n: number): bigint => BigInt(Math.trunc(n));
    return {
      type: MsgType.Rgetattr, tag: 0, valid: BigInt(p9.GETATTR_BASIC), qid: qidOf(a.mode, a.ino), mode: a.mode >>> 0, uid: a.uid >>> 0, gid: a.gid >>> 0,
      nlink: big(a.nlink), rdev: a.rdev, size: big(a.size), blksize: big(a.blksize), blocks: big(a.blocks),
      atimeSec: big(a.atimeSec), atimeNsec: big(a.atimeNsec), mtimeSec: big(a.mtimeSec), mtimeNsec: big(a.mtimeNsec), ctimeSec: big(a.ctimeSec), ctimeNsec: big(a.ctimeNsec),
      btimeSec: 0n, btimeNsec: 0n, gen: 0n, dataVersion: 0n,
    };
  }

  async setattr(m: Msg): Promise<Msg | Errno> {
    const f = this.fid(m.fid);
    if (isErrno(f)) return f;
    const v = m.valid as number;
    const set: SetAttr = {};
    if (v & p9.SETATTR_MODE) set.mode = (m.mode as number) & 0o7777;
    if (v & p9.SETATTR_UID) set.uid = m.uid as number;
    if (v & p9.SETATTR_GID) set.gid = m.gid as number;
    if (v & p9.SETATTR_SIZE) {
      const size = m.size as bigint;
      if (size > BigInt(Number.MAX_SAFE_INTEGER)) return EINVAL;
      set.size = Number(size);
    }
    const time = (sec: unknown, nsec: unknown): [number, number] | Errno => {
      const s = BigInt.asIntN(64, sec as bigint);
      const ns = nsec as bigint;
      if (ns >= 1_000_000_000n || s > BigInt(Number.MAX_SAFE_INTEGER) || s < -BigInt(Number.MAX_SAFE_INTEGER)) return EINVAL;
      return [Number(s), Number(ns)];
    };
    if (v & p9.SETATTR_ATIME) {
      const t = v & p9.SETATTR_ATIME_SET ? time(m.atimeSec, m.atimeNsec) : 'now';
      if (isErrno(t)) return t;
      set.atime = t;
    }
    if (v & p9.SETATTR_MTIME) {
      const t = v & p9.SETATTR_MTIME_SET ? time(m.mtimeSec, m.mtimeNsec) : 'now';
      if (isErrno(t)) return t;
      set.mtime = t;
    }
    const r = f.file ? await f.file.setattr(set) : await this.exp.backend.setattr(f.ref.node, set);
    return isErrno(r) ? r : { type: MsgType.Rsetattr, tag: 0 };
  }

  async lopen(m: Msg): Promise<Msg | Errno> {
    const f = this.fid(m.fid);
    if (isErrno(f)) return f;
    if (f.file) return EBADF;
    const flags = (m.flags as number) & ~(O_CREAT | O_EXCL);
    const file = await this.exp.backend.open(f.ref.node, flags);
    if (isErrno(file)) return file;
    if (this.fids.get(m.fid as number) !== f || f.file) {
      await file.close();
      return EBADF;
    }
    f.file = file;
    f.acc = flags & O_ACCMODE;
    return { type: MsgType.Rlopen, tag: 0, qid: qidOf(f.ref.node.type, f.ref.ino), iounit: this.msize - p9.IO_OVERHEAD };
  }

  async lcreate(m: Msg): Promise<Msg | Errno> {
    const f = this.dirFid(m.fid);
    if (isErrno(f)) return f;
    const name = m.name as string;
    const flags = m.flags as number;
    const r = await this.exp.backend.create(f.ref.node, name, flags, (m.mode as number) & 0o7777, this.attachUid, m.gid as number);
    if (isErrno(r)) return r;
    const a = await r.file.getattr();
    const ino = isErrno(a) ? 0n : a.ino;
    if (this.fids.get(m.fid as number) !== f || f.file) {
      await r.file.close();
      await this.exp.backend.release(r.node);
      return EBADF;
    }
    // The fid now names the new file, open; its parent keeps the directory.
    f.ref = new Ref(r.node, f.ref, name, ino);
    f.ref.parent!.refs--; // the fid's own reference moves to the child's parent link
    f.file = r.file;
    f.acc = flags & O_ACCMODE;
    return { type: MsgType.Rlcreate, tag: 0, qid: qidOf(S_IFREG, ino), iounit: this.msize - p9.IO_OVERHEAD };
  }

  async mkdir(m: Msg): Promise<Msg | Errno> {
    const f = this.dirFid(m.fid);
    if (isErrno(f)) return f;
    const r = await this.exp.backend.mkdir(f.ref.node, m.name as string, (m.mode as number) & 0o7777, this.attachUid, m.gid as number);
    if (isErrno(r)) return r;
    const q = await this.childQid(f.ref.node, m.name as string);
    return isErrno(q) ? q : { type: MsgType.Rmkdir, tag: 0, qid: q };
  }

  async symlink(m: Msg): Promise<Msg | Errno> {
    const f = this.dirFid(m.fid);
    if (isErrno(f)) return f;
    const r = await this.exp.backend.symlink(f.ref.node, m.name as string, m.target as string, this.attachUid, m.gid as number);
    if (isErrno(r)) return r;
    const q = await this.childQid(f.ref.node, m.name as string);
    return isErrno(q) ? q : { type: MsgType.Rsymlink, tag: 0, qid: q };
  }

  async mknod(m: Msg): Promise<Msg | Errno> {
    const f = this.dirFid(m.fid);
    if (isErrno(f)) return f;
    const mode = m.mode as number;
    const name = m.name as string;
    const type = mode & S_IFMT;
    let r: 0 | Errno;
    if (type === S_IFIFO) r = await this.exp.backend.mkfifo(f.ref.node, name, mode & 0o7777, this.attachUid, m.gid as number);
    else if (type === S_IFREG || type === 0) {
      const c = await this.exp.backend.create(f.ref.node, name, O_WRONLY, mode & 0o7777, this.attachUid, m.gid as number);
      if (isErrno(c)) return c;
      await c.file.close();
      await this.exp.backend.release(c.node);
      r = 0;
    } else r = EPERM; // device nodes and sockets are never made on the host
    if (isErrno(r)) return r;
    const q = await this.childQid(f.ref.node, name);
    return isErrno(q) ? q : { type: MsgType.Rmknod, tag: 0, qid: q };
  }

  async readlink(m: Msg): Promise<Msg | Errno> {
    const f = this.fid(m.fid);
    if (isErrno(f)) return f;
    const t = await this.exp.backend.readlink(f.ref.node);
    return isErrno(t) ? t : { type: MsgType.Rreadlink, tag: 0, target: t };
  }

  async read(m: Msg): Promise<Msg | Errno> {
    const f = this.fid(m.fid);
    if (isErrno(f)) return f;
    if (!f.file || f.acc === O_WRONLY) return EBADF;
    if (f.ref.node.type === S_IFDIR) return EISDIR;
    const off = m.offset as bigint;
    if (off > BigInt(Number.MAX_SAFE_INTEGER)) return EINVAL;
    const count = Math.min(m.count as number, this.msize - 11);
    const io = this.io;
    const file = f.file;
    const data = await this.withFd(f, async (fd) => {
      if (io) return io.read(fd, Number(off), count);
      const buf = new Uint8Array(count);
      const n = await file.read(buf, Number(off));
      return isErrno(n) ? n : buf.subarray(0, n);
    });
    return isErrno(data) ? data : { type: MsgType.Rread, tag: 0, data };
  }

  async write(m: Msg): Promise<Msg | Errno> {
    const f = this.fid(m.fid);
    if (isErrno(f)) return f;
    if (!f.file || f.acc === 0) return EBADF;
    const off = m.offset as bigint;
    if (off > BigInt(Number.MAX_SAFE_INTEGER)) return EINVAL;
    const data = m.data as Uint8Array;
    const io = this.io;
    const file = f.file;
    const n = await this.withFd(f, (fd) => (io ? io.write(fd, Number(off), data) : file.write(data, Number(off))));
    return isErrno(n) ? n : { type: MsgType.Rwrite, tag: 0, count: n };
  }

  async readdir(m: Msg): Promise<Msg | Errno> {
    const f = this.fid(m.fid);
    if (isErrno(f)) return f;
    if (!f.file) return EBADF;
    if (f.ref.node.type !== S_IFDIR) return ENOTDIR;
    const off = m.offset as bigint;
    if (off > BigInt(Number.MAX_SAFE_INTEGER)) return EINVAL;
    const count = Math.min(m.count as number, this.msize - 11);
    const ents = await f.file.readdir(Number(off), count);
    if (isErrno(ents)) return ents;
    const { data } = p9.encodeDirents(
      ents.map((e) => ({ qid: { type: e.type === DT_DIR ? p9.QTDIR : e.type === DT_LNK ? p9.QTSYMLINK : p9.QTFILE, version: 0, path: e.ino }, offset: BigInt(e.next), type: e.type, name: e.name })),
      count,
    );
    return { type: MsgType.Rreaddir, tag: 0, data };
  }

  async statfs(m: Msg): Promise<Msg | Errno> {
    const f = this.fid(m.fid);
    if (isErrno(f)) return f;
    const s = await this.exp.backend.statfs(f.ref.node);
    if (isErrno(s)) return s;
    const u = (n: number): bigint => BigInt(Math.max(0, Math.trunc(n)));
    return { type: MsgType.Rstatfs, tag: 0, fstype: s.type >>> 0, bsize: s.bsize >>> 0, blocks: u(s.blocks), bfree: u(s.bfree), bavail: u(s.bavail), files: u(s.files), ffree: u(s.ffree), fsid: 0n, namelen: s.namelen >>> 0 };
  }

  async fsync(m: Msg): Promise<Msg | Errno> {
    const f = this.fid(m.fid);
    if (isErrno(f)) return f;
    if (!f.file) return EBADF;
    const r = await f.file.fsync(m.datasync !== 0);
    return isErrno(r) ? r : { type: MsgType.Rfsync, tag: 0 };
  }

  async link(m: Msg): Promise<Msg | Errno> {
    const d = this.dirFid(m.dfid);
    if (isErrno(d)) return d;
    const t = this.fid(m.fid);
    if (isErrno(t)) return t;
    const r = await this.exp.backend.link(d.ref.node, m.name as string, t.ref.node);
    return isErrno(r) ? r : { type: MsgType.Rlink, tag: 0 };
  }

  async renameat(m: Msg): Promise<Msg | Errno> {
    const od = this.dirFid(m.olddirfid);
    if (isErrno(od)) return od;
    const nd = this.dirFid(m.newdirfid);
    if (isErrno(nd)) return nd;
    const r = await this.exp.backend.rename(od.ref.node, m.oldname as string, nd.ref.node, m.newname as string);
    return isErrno(r) ? r : { type: MsgType.Rrenameat, tag: 0 };
  }

  async rename(m: Msg): Promise<Msg | Errno> {
    const f = this.fid(m.fid);
    if (isErrno(f)) return f;
    const nd = this.dirFid(m.dfid);
    if (isErrno(nd)) return nd;
    const parent = f.ref.parent;
    if (!parent) return EBUSY_ROOT;
    const r = await this.exp.backend.rename(parent.node, f.ref.name, nd.ref.node, m.name as string);
    if (isErrno(r)) return r;
    // The fid's node moved: its `..` is now the new directory.
    nd.ref.refs++;
    f.ref.parent = nd.ref;
    f.ref.name = m.name as string;
    await this.unref(parent);
    return { type: MsgType.Rrename, tag: 0 };
  }

  async unlinkat(m: Msg): Promise<Msg | Errno> {
    const d = this.dirFid(m.fid);
    if (isErrno(d)) return d;
    const flags = m.flags as number;
    if (flags & ~AT_REMOVEDIR) return EINVAL;
    const r = await this.exp.backend.unlink(d.ref.node, m.name as string, flags);
    return isErrno(r) ? r : { type: MsgType.Runlinkat, tag: 0 };
  }

  async remove(m: Msg): Promise<Msg | Errno> {
    const f = this.fid(m.fid);
    if (isErrno(f)) return f;
    const parent = f.ref.parent;
    const r = parent ? await this.exp.backend.unlink(parent.node, f.ref.name, f.ref.node.type === S_IFDIR ? AT_REMOVEDIR : 0) : EBUSY_ROOT;
    await this.clunk(m.fid as number); // Tremove clunks the fid whatever the outcome
    return isErrno(r) ? r : { type: MsgType.Rremove, tag: 0 };
  }

  async clunkMsg(m: Msg): Promise<Msg | Errno> {
    const r = await this.clunk(m.fid as number);
    return isErrno(r) ? r : { type: MsgType.Rclunk, tag: 0 };
  }

  async flush(m: Msg): Promise<Msg | Errno> {
    // The flushed request is answered first (we do not cancel file work midway).
    const p = this.pending.get(m.oldtag as number);
    if (p && m.oldtag !== m.tag) await p;
    return { type: MsgType.Rflush, tag: 0 };
  }

  async xattrwalk(m: Msg): Promise<Msg | Errno> {
    const f = this.fid(m.fid);
    if (isErrno(f)) return f;
    // No extended attributes are exported: listing (empty name) and every name have no data.
    return ENODATA;
  }

  /**
   * POSIX locks are kept by the sandbox's kernel (it is this export's only
   * client): the gofer grants every request and reports no conflict.
   */
  async lock(m: Msg): Promise<Msg | Errno> {
    const f = this.fid(m.fid);
    if (isErrno(f)) return f;
    return { type: MsgType.Rlock, tag: 0, status: p9.LOCK_SUCCESS };
  }

  async getlock(m: Msg): Promise<Msg | Errno> {
    const f = this.fid(m.fid);
    if (isErrno(f)) return f;
    return { type: MsgType.Rgetlock, tag: 0, ltype: p9.LOCK_TYPE_UNLCK, start: m.start, length: m.length, procId: m.procId, clientId: m.clientId };
  }
}

const EBUSY_ROOT = Errno.of(16); // EBUSY: the export's root cannot be renamed or removed

type Handler = (c: Connection, m: Msg) => Promise<Msg | Errno>;

/** The handler table: one entry per T-message the gofer serves. */
const HANDLERS: Partial<Record<MsgType, Handler>> = {
  [MsgType.Tversion]: (c, m) => c.version(m),
  [MsgType.Tauth]: async () => EOPNOTSUPP,
  [MsgType.Tattach]: (c, m) => c.attach(m),
  [MsgType.Tflush]: (c, m) => c.flush(m),
  [MsgType.Twalk]: (c, m) => c.walk(m),
  [MsgType.Tgetattr]: (c, m) => c.getattr(m),
  [MsgType.Tsetattr]: (c, m) => c.setattr(m),
  [MsgType.Tlopen]: (c, m) => c.lopen(m),
  [MsgType.Tlcreate]: (c, m) => c.lcreate(m),
  [MsgType.Tmkdir]: (c, m) => c.mkdir(m),
  [MsgType.Tsymlink]: (c, m) => c.symlink(m),
  [MsgType.Tmknod]: (c, m) => c.mknod(m),
  [MsgType.Treadlink]: (c, m) => c.readlink(m),
  [MsgType.Tread]: (c, m) => c.read(m),
  [MsgType.Twrite]: (c, m) => c.write(m),
  [MsgType.Treaddir]: (c, m) => c.readdir(m),
  [MsgType.Tstatfs]: (c, m) => c.statfs(m),
  [MsgType.Tfsync]: (c, m) => c.fsync(m),
  [MsgType.Tlink]: (c, m) => c.link(m),
  [MsgType.Trenameat]: (c, m) => c.renameat(m),
  [MsgType.Trename]: (c, m) => c.rename(m),
  [MsgType.Tunlinkat]: (c, m) => c.unlinkat(m),
  [MsgType.Tremove]: (c, m) => c.remove(m),
  [MsgType.Tclunk]: (c, m) => c.clunkMsg(m),
  [MsgType.Txattrwalk]: (c, m) => c.xattrwalk(m),
  [MsgType.Txattrcreate]: async () => EOPNOTSUPP,
  [MsgType.Tlock]: (c, m) => c.lock(m),
  [MsgType.Tgetlock]: (c, m) => c.getlock(m),
};
