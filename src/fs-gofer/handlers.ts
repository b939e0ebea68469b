// The gofer's 9P2000.L message handlers: one function per T-message, and the
// table (HANDLERS) that ./server.ts dispatches through. A handler answers a
// decoded request with its R-message (the tag is filled in by the connection)
// or an Errno (sent as Rlerror); it reaches files only through the fid table
// (./fids.ts) and the export's backend, so every name a client sends passes
// the backend's checks (src/fs-gofer/README.md) before it reaches the host.

import { EBADF, EBUSY, EEXIST, EINVAL, EISDIR, ENODATA, ENOENT, ENOTDIR, EOPNOTSUPP, EPERM, Errno, isErrno } from '../linux/errno.js';
import { AT_REMOVEDIR, DT_DIR, DT_LNK, O_ACCMODE, O_CREAT, O_EXCL, O_WRONLY, S_IFDIR, S_IFIFO, S_IFMT, S_IFREG, S_IFSOCK } from '../linux/abi.js';
import * as p9 from '../p9/codec.js';
import type { Msg } from '../p9/codec.js';
import { MsgType } from '../p9/codec.js';
import type { SetAttr } from '../backend/backend.js';
import { qidOf, Ref, type Export, type FidTable } from './fids.js';
import type { IoPool } from './io-pool.js';


/** What a handler sees of its connection (./server.ts's Connection). */
export interface Session {
  readonly exp: Export;
  /** The pool for large reads and writes; undefined: all I/O inline. */
  readonly io: IoPool | undefined;
  readonly fids: FidTable;
  /** The msize Tversion agreed (8192 before it). */
  readonly msize: number;
  /** Owner of the files made on this connection (Tattach's n_uname). */
  attachUid: number;
  /** Tversion's outcome: the agreed msize (frames up to it are then taken), or undefined: not versioned. */
  setVersion(msize: number | undefined): void;
  /** The work of request `tag` while it is in flight (Tflush waits for it). */
  inFlight(tag: number): Promise<void> | undefined;
}

async function version(c: Session, m: Msg): Promise<Msg | Errno> {
  await c.fids.clunkAll();
  const ms = Math.min(m.msize as number, p9.MAX_MSIZE);
  // Both dialects are served the same way: dispatch() keeps fid requests in order.
  if ((m.version !== p9.VERSION && m.version !== p9.VERSION_IN_ORDER) || ms < p9.MIN_MSIZE) {
    c.setVersion(undefined);
    return { type: MsgType.Rversion, tag: 0, msize: Math.max(ms, 0), version: 'unknown' };
  }
  c.setVersion(ms);
  return { type: MsgType.Rversion, tag: 0, msize: ms, version: m.version };
}

async function attach(c: Session, m: Msg): Promise<Msg | Errno> {
  if (m.afid !== p9.NOFID) return EINVAL;
  const aname = m.aname as string;
  if (aname !== '' && aname !== c.exp.hostPath) return ENOENT;
  const node = await c.exp.backend.root();
  if (isErrno(node)) return node;
  const a = await c.fids.attrOf(node);
  if (isErrno(a)) {
    await c.exp.backend.release(node);
    return a;
  }
  const bad = c.fids.bind(m.fid as number, { ref: new Ref(node, null, '', a.ino), inflight: 0 });
  if (bad) {
    await c.exp.backend.release(node);
    return bad;
  }
  c.attachUid = m.nUname === p9.NOUID ? 0 : (m.nUname as number);
  return { type: MsgType.Rattach, tag: 0, qid: qidOf(node.type, a.ino) };
}

async function walk(c: Session, m: Msg): Promise<Msg | Errno> {
  const f = c.fids.fid(m.fid);
  if (isErrno(f)) return f;
  if (f.file) return EBADF;
  const newfid = m.newfid as number;
  if (newfid !== m.fid && c.fids.has(newfid)) return EEXIST;
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
      const n = await c.exp.backend.walk(cur.node, name);
      if (isErrno(n)) {
        err = n;
        break;
      }
      const a = await c.fids.attrOf(n);
      if (isErrno(a)) {
        await c.exp.backend.release(n);
        err = a;
        break;
      }
      next = new Ref(n, cur, name, a.ino);
    }
    await c.fids.unref(cur);
    cur = next;
    qids.push(qidOf(cur.node.type, cur.ino));
  }
  if (qids.length < names.length) {
    await c.fids.unref(cur);
    if (qids.length === 0) return err ?? ENOENT;
    return { type: MsgType.Rwalk, tag: 0, qids };
  }
  if (newfid === m.fid) {
    if (c.fids.get(newfid) !== f) {
      await c.fids.unref(cur);
      return EBADF; // clunked meanwhile
    }
    const old = f.ref;
    f.ref = cur;
    await c.fids.unref(old);
  } else {
    const bad = c.fids.bind(newfid, { ref: cur, inflight: 0 });
    if (bad) {
      await c.fids.unref(cur);
      return bad;
    }
  }
  return { type: MsgType.Rwalk, tag: 0, qids };
}

async function getattr(c: Session, m: Msg): Promise<Msg | Errno> {
  const f = c.fids.fid(m.fid);
  if (isErrno(f)) return f;
  const a = f.file ? await f.file.getattr() : await c.fids.attrOf(f.ref.node);
  if (isErrno(a)) return a;
  const big = (n: number): bigint => BigInt(Math.trunc(n));
  return {
    type: MsgType.Rgetattr, tag: 0, valid: BigInt(p9.GETATTR_BASIC), qid: qidOf(a.mode, a.ino), mode: a.mode >>> 0, uid: a.uid >>> 0, gid: a.gid >>> 0,
    nlink: big(a.nlink), rdev: a.rdev, size: big(a.size), blksize: big(a.blksize), blocks: big(a.blocks),
    atimeSec: big(a.atimeSec), atimeNsec: big(a.atimeNsec), mtimeSec: big(a.mtimeSec), mtimeNsec: big(a.mtimeNsec), ctimeSec: big(a.ctimeSec), ctimeNsec: big(a.ctimeNsec),
    btimeSec: 0n, btimeNsec: 0n, gen: 0n, dataVersion: 0n,
  };
}

async function setattr(c: Session, m: Msg): Promise<Msg | Errno> {
  const f = c.fids.fid(m.fid);
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
  const r = f.file ? await f.file.setattr(set) : await c.exp.backend.setattr(f.ref.node, set);
  return isErrno(r) ? r : { type: MsgType.Rsetattr, tag: 0 };
}

async function lopen(c: Session, m: Msg): Promise<Msg | Errno> {
  const f = c.fids.fid(m.fid);
  if (isErrno(f)) return f;
  if (f.file) return EBADF;
  const flags = (m.flags as number) & ~(O_CREAT | O_EXCL);
  const file = await c.exp.backend.open(f.ref.node, flags);
  if (isErrno(file)) return file;
  if (c.fids.get(m.fid as number) !== f || f.file) {
    await file.close();
    return EBADF;
  }
  f.file = file;
  f.acc = flags & O_ACCMODE;
  return { type: MsgType.Rlopen, tag: 0, qid: qidOf(f.ref.node.type, f.ref.ino), iounit: c.msize - p9.IO_OVERHEAD };
}

async function lcreate(c: Session, m: Msg): Promise<Msg | Errno> {
  const f = c.fids.dirFid(m.fid);
  if (isErrno(f)) return f;
  const name = m.name as string;
  const flags = m.flags as number;
  const r = await c.exp.backend.create(f.ref.node, name, flags, (m.mode as number) & 0o7777, c.attachUid, m.gid as number);
  if (isErrno(r)) return r;
  const a = await r.file.getattr();
  const ino = isErrno(a) ? 0n : a.ino;
  if (c.fids.get(m.fid as number) !== f || f.file) {
    await r.file.close();
    await c.exp.backend.release(r.node);
    return EBADF;
  }
  // The fid now names the new file, open; its parent keeps the directory.
  f.ref = new Ref(r.node, f.ref, name, ino);
  f.ref.parent!.refs--; // the fid's own reference moves to the child's parent link
  f.file = r.file;
  f.acc = flags & O_ACCMODE;
  return { type: MsgType.Rlcreate, tag: 0, qid: qidOf(S_IFREG, ino), iounit: c.msize - p9.IO_OVERHEAD };
}

async function mkdir(c: Session, m: Msg): Promise<Msg | Errno> {
  const f = c.fids.dirFid(m.fid);
  if (isErrno(f)) return f;
  const r = await c.exp.backend.mkdir(f.ref.node, m.name as string, (m.mode as number) & 0o7777, c.attachUid, m.gid as number);
  if (isErrno(r)) return r;
  const q = await c.fids.childQid(f.ref.node, m.name as string);
  return isErrno(q) ? q : { type: MsgType.Rmkdir, tag: 0, qid: q };
}

async function symlink(c: Session, m: Msg): Promise<Msg | Errno> {
  const f = c.fids.dirFid(m.fid);
  if (isErrno(f)) return f;
  const r = await c.exp.backend.symlink(f.ref.node, m.name as string, m.target as string, c.attachUid, m.gid as number);
  if (isErrno(r)) return r;
  const q = await c.fids.childQid(f.ref.node, m.name as string);
  return isErrno(q) ? q : { type: MsgType.Rsymlink, tag: 0, qid: q };
}

async function mknod(c: Session, m: Msg): Promise<Msg | Errno> {
  const f = c.fids.dirFid(m.fid);
  if (isErrno(f)) return f;
  const mode = m.mode as number;
  const name = m.name as string;
  const type = mode & S_IFMT;
  let r: 0 | Errno;
  if (type === S_IFIFO) r = await c.exp.backend.mkfifo(f.ref.node, name, mode & 0o7777, c.attachUid, m.gid as number);
  else if (type === S_IFSOCK) r = await c.exp.backend.mksocket(f.ref.node, name, mode & 0o7777, c.attachUid, m.gid as number);
  else if (type === S_IFREG || type === 0) {
    const made = await c.exp.backend.create(f.ref.node, name, O_WRONLY, mode & 0o7777, c.attachUid, m.gid as number);
    if (isErrno(made)) return made;
    await made.file.close();
    await c.exp.backend.release(made.node);
    r = 0;
  } else r = EPERM; // device nodes are never made on the host
  if (isErrno(r)) return r;
  const q = await c.fids.childQid(f.ref.node, name);
  return isErrno(q) ? q : { type: MsgType.Rmknod, tag: 0, qid: q };
}

async function readlink(c: Session, m: Msg): Promise<Msg | Errno> {
  const f = c.fids.fid(m.fid);
  if (isErrno(f)) return f;
  const t = await c.exp.backend.readlink(f.ref.node);
  return isErrno(t) ? t : { type: MsgType.Rreadlink, tag: 0, target: t };
}

async function read(c: Session, m: Msg): Promise<Msg | Errno> {
  const f = c.fids.fid(m.fid);
  if (isErrno(f)) return f;
  if (!f.file || f.acc === O_WRONLY) return EBADF;
  if (f.ref.node.type === S_IFDIR) return EISDIR;
  const off = m.offset as bigint;
  if (off > BigInt(Number.MAX_SAFE_INTEGER)) return EINVAL;
  const count = Math.min(m.count as number, c.msize - p9.RREAD_OVERHEAD);
  const io = c.io;
  const file = f.file;
  const data = await c.fids.withFd(f, async (fd) => {
    if (io) return io.read(fd, Number(off), count);
    const buf = new Uint8Array(count);
    const n = await file.read(buf, Number(off));
    return isErrno(n) ? n : buf.subarray(0, n);
  });
  return isErrno(data) ? data : { type: MsgType.Rread, tag: 0, data };
}

async function write(c: Session, m: Msg): Promise<Msg | Errno> {
  const f = c.fids.fid(m.fid);
  if (isErrno(f)) return f;
  if (!f.file || f.acc === 0) return EBADF;
  const off = m.offset as bigint;
  if (off > BigInt(Number.MAX_SAFE_INTEGER)) return EINVAL;
  const data = m.data as Uint8Array;
  const io = c.io;
  const file = f.file;
  const n = await c.fids.withFd(f, (fd) => (io ? io.write(fd, Number(off), data) : file.write(data, Number(off))));
  return isErrno(n) ? n : { type: MsgType.Rwrite, tag: 0, count: n };
}

async function readdir(c: Session, m: Msg): Promise<Msg | Errno> {
  const f = c.fids.fid(m.fid);
  if (isErrno(f)) return f;
  if (!f.file) return EBADF;
  if (f.ref.node.type !== S_IFDIR) return ENOTDIR;
  const off = m.offset as bigint;
  if (off > BigInt(Number.MAX_SAFE_INTEGER)) return EINVAL;
  const count = Math.min(m.count as number, c.msize - p9.RREAD_OVERHEAD);
  const ents = await f.file.readdir(Number(off), count);
  if (isErrno(ents)) return ents;
  const { data } = p9.encodeDirents(
    ents.map((e) => ({ qid: { type: e.type === DT_DIR ? p9.QTDIR : e.type === DT_LNK ? p9.QTSYMLINK : p9.QTFILE, version: 0, path: e.ino }, offset: BigInt(e.next), type: e.type, name: e.name })),
    count,
  );
  return { type: MsgType.Rreaddir, tag: 0, data };
}

async function statfs(c: Session, m: Msg): Promise<Msg | Errno> {
  const f = c.fids.fid(m.fid);
  if (isErrno(f)) return f;
  const s = await c.exp.backend.statfs(f.ref.node);
  if (isErrno(s)) return s;
  const u = (n: number): bigint => BigInt(Math.max(0, Math.trunc(n)));
  return { type: MsgType.Rstatfs, tag: 0, fstype: s.type >>> 0, bsize: s.bsize >>> 0, blocks: u(s.blocks), bfree: u(s.bfree), bavail: u(s.bavail), files: u(s.files), ffree: u(s.ffree), fsid: 0n, namelen: s.namelen >>> 0 };
}

async function fsync(c: Session, m: Msg): Promise<Msg | Errno> {
  const f = c.fids.fid(m.fid);
  if (isErrno(f)) return f;
  if (!f.file) return EBADF;
  const r = await f.file.fsync(m.datasync !== 0);
  return isErrno(r) ? r : { type: MsgType.Rfsync, tag: 0 };
}

async function link(c: Session, m: Msg): Promise<Msg | Errno> {
  const d = c.fids.dirFid(m.dfid);
  if (isErrno(d)) return d;
  const t = c.fids.fid(m.fid);
  if (isErrno(t)) return t;
  const r = await c.exp.backend.link(d.ref.node, m.name as string, t.ref.node);
  return isErrno(r) ? r : { type: MsgType.Rlink, tag: 0 };
}

async function renameat(c: Session, m: Msg): Promise<Msg | Errno> {
  const od = c.fids.dirFid(m.olddirfid);
  if (isErrno(od)) return od;
  const nd = c.fids.dirFid(m.newdirfid);
  if (isErrno(nd)) return nd;
  const r = await c.exp.backend.rename(od.ref.node, m.oldname as string, nd.ref.node, m.newname as string);
  return isErrno(r) ? r : { type: MsgType.Rrenameat, tag: 0 };
}

async function rename(c: Session, m: Msg): Promise<Msg | Errno> {
  const f = c.fids.fid(m.fid);
  if (isErrno(f)) return f;
  const nd = c.fids.dirFid(m.dfid);
  if (isErrno(nd)) return nd;
  const parent = f.ref.parent;
  if (!parent) return EBUSY_ROOT;
  const r = await c.exp.backend.rename(parent.node, f.ref.name, nd.ref.node, m.name as string);
  if (isErrno(r)) return r;
  // The fid's node moved: its `..` is now the new directory.
  nd.ref.refs++;
  f.ref.parent = nd.ref;
  f.ref.name = m.name as string;
  await c.fids.unref(parent);
  return { type: MsgType.Rrename, tag: 0 };
}

async function unlinkat(c: Session, m: Msg): Promise<Msg | Errno> {
  const d = c.fids.dirFid(m.fid);
  if (isErrno(d)) return d;
  const flags = m.flags as number;
  if (flags & ~AT_REMOVEDIR) return EINVAL;
  const r = await c.exp.backend.unlink(d.ref.node, m.name as string, flags);
  return isErrno(r) ? r : { type: MsgType.Runlinkat, tag: 0 };
}

async function remove(c: Session, m: Msg): Promise<Msg | Errno> {
  const f = c.fids.fid(m.fid);
  if (isErrno(f)) return f;
  const parent = f.ref.parent;
  const r = parent ? await c.exp.backend.unlink(parent.node, f.ref.name, f.ref.node.type === S_IFDIR ? AT_REMOVEDIR : 0) : EBUSY_ROOT;
  await c.fids.clunk(m.fid as number); // Tremove clunks the fid whatever the outcome
  return isErrno(r) ? r : { type: MsgType.Rremove, tag: 0 };
}

async function clunkMsg(c: Session, m: Msg): Promise<Msg | Errno> {
  const r = await c.fids.clunk(m.fid as number);
  return isErrno(r) ? r : { type: MsgType.Rclunk, tag: 0 };
}

async function flush(c: Session, m: Msg): Promise<Msg | Errno> {
  // The flushed request is answered first (we do not cancel file work midway).
  const p = c.inFlight(m.oldtag as number);
  if (p && m.oldtag !== m.tag) await p;
  return { type: MsgType.Rflush, tag: 0 };
}

async function xattrwalk(c: Session, m: Msg): Promise<Msg | Errno> {
  const f = c.fids.fid(m.fid);
  if (isErrno(f)) return f;
  // No extended attributes are exported: listing (empty name) and every name have no data.
  return ENODATA;
}

/**
 * POSIX locks are kept by the sandbox's kernel (it is this export's only
 * client): the gofer grants every request and reports no conflict.
 */
async function lock(c: Session, m: Msg): Promise<Msg | Errno> {
  const f = c.fids.fid(m.fid);
  if (isErrno(f)) return f;
  return { type: MsgType.Rlock, tag: 0, status: p9.LOCK_SUCCESS };
}

/**
 * Tdonate (our dialect, src/p9/donation.ts): a dup of an open regular file's
 * host fd goes out on the donation channel; the reply names its token.
 */
async function donate(c: Session, m: Msg): Promise<Msg | Errno> {
  const donor = c.exp.donor;
  if (!donor) return EOPNOTSUPP;
  const f = c.fids.fid(m.fid);
  if (isErrno(f)) return f;
  if (!f.file) return EBADF;
  const fd = f.file.hostFd;
  if ((f.ref.node.type & S_IFMT) !== S_IFREG || fd === undefined || fd < 0) return EINVAL;
  const token = donor.send(fd);
  return isErrno(token) ? token : { type: MsgType.Rdonate, tag: 0, token };
}

async function getlock(c: Session, m: Msg): Promise<Msg | Errno> {
  const f = c.fids.fid(m.fid);
  if (isErrno(f)) return f;
  return { type: MsgType.Rgetlock, tag: 0, ltype: p9.LOCK_TYPE_UNLCK, start: m.start, length: m.length, procId: m.procId, clientId: m.clientId };
}

/** The export's root cannot be renamed or removed. */
const EBUSY_ROOT = EBUSY;

export type Handler = (c: Session, m: Msg) => Promise<Msg | Errno>;

/** The handler table: one entry per T-message the gofer serves. */
export const HANDLERS: Partial<Record<MsgType, Handler>> = {
  [MsgType.Tversion]: version,
  [MsgType.Tauth]: async () => EOPNOTSUPP,
  [MsgType.Tattach]: attach,
  [MsgType.Tflush]: flush,
  [MsgType.Twalk]: walk,
  [MsgType.Tgetattr]: getattr,
  [MsgType.Tsetattr]: setattr,
  [MsgType.Tlopen]: lopen,
  [MsgType.Tlcreate]: lcreate,
  [MsgType.Tmkdir]: mkdir,
  [MsgType.Tsymlink]: symlink,
  [MsgType.Tmknod]: mknod,
  [MsgType.Treadlink]: readlink,
  [MsgType.Tread]: read,
  [MsgType.Twrite]: write,
  [MsgType.Treaddir]: readdir,
  [MsgType.Tstatfs]: statfs,
  [MsgType.Tfsync]: fsync,
  [MsgType.Tlink]: link,
  [MsgType.Trenameat]: renameat,
  [MsgType.Trename]: rename,
  [MsgType.Tunlinkat]: unlinkat,
  [MsgType.Tremove]: remove,
  [MsgType.Tclunk]: clunkMsg,
  [MsgType.Txattrwalk]: xattrwalk,
  [MsgType.Txattrcreate]: async () => EOPNOTSUPP,
  [MsgType.Tlock]: lock,
  [MsgType.Tgetlock]: getlock,
  [MsgType.Tdonate]: donate,
};
