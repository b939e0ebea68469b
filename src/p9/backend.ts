// A FilesystemBackend over a 9P2000.L connection: the kernel's VFS reaches
// the gofer's (or any 9P2000.L server's) files through it, exactly as it
// reaches the rootfs through DirectBackend in direct mode.
//
// Model: a node is a walked fid; an open file is a fid of its own (the node's
// fid is cloned, then Tlopen'ed), so nodes stay walkable while files are
// open. Names pass the contract's checkName (src/backend) before they leave.
//
// Caching: none of what the host may change. A walk fetches the new node's
// attributes in the same round trip and hands them up as the node's `attr`
// snapshot; the VFS caches them by its mount's file-access mode. A symlink's
// target is kept for the node's life (a symlink's target never changes).
// A closed file's fid is clunked without waiting for the answer.
// Large reads and writes are split into msize chunks sent together, so a
// 4 MiB transfer is a few pipelined messages. The open file is ./file.ts;
// attributes in 9P's terms are ./attr.ts.

import { EBADF, EEXIST, EINVAL, EISDIR, ENAMETOOLONG, ENOENT, ENOSYS, ENOTDIR, EOPNOTSUPP, Errno, isErrno } from '../linux/errno.js';
import { AT_REMOVEDIR, O_ACCMODE, O_CREAT, O_EXCL, PATH_MAX, RENAME_EXCHANGE, RENAME_NOREPLACE, S_IFBLK, S_IFCHR, S_IFDIR, S_IFIFO, S_IFLNK, S_IFMT, S_IFREG, S_IFSOCK, ST_RDONLY } from '../linux/abi.js';
import * as p9 from './codec.js';
import { MsgType, type Msg } from './codec.js';
import { checkName, type Attr, type BackendFile, type BackendNode, type FilesystemBackend, type SetAttr, type StatFs } from '../backend/backend.js';
import { P9Client } from './client.js';
import { setattrMsg, toAttr } from './attr.js';
import { P9File, type P9FileOwner } from './file.js';
import type { DonationReceiver } from './donation.js';
import { closeFd } from '../host/ffi.js';
import { fstat } from '../backend/host-attr.js';

/** The S_IFMT values a node may have. */
const FILE_TYPES = new Set([S_IFREG, S_IFDIR, S_IFLNK, S_IFIFO, S_IFCHR, S_IFBLK, S_IFSOCK]);

class P9Node implements BackendNode {
  /** Symlink target, once read. */
  target?: string;
  /** Where it was walked from (directory inode and name), for servers whose fids are paths (see P9Backend.renameat). */
  key?: string;
  constructor(
    readonly owner: P9Backend,
    public fid: number,
    readonly type: number,
    /** As the walk's Tgetattr found them (the contract's snapshot). */
    readonly attr: Attr | undefined,
  ) {}
}

export class P9Backend implements FilesystemBackend, P9FileOwner {
  private rootFid = -1;
  private rootAttr: Attr | undefined;
  /** Where donated fds arrive (./donation.ts); undefined: every read and write is a round trip. */
  private donation: DonationReceiver | undefined;
  /** The server donates (it has not answered Tdonate with EOPNOTSUPP). */
  private donating = true;
  /** Donations: taken (fds in use), refused (a record or fd that failed a check; the file stays on 9P). */
  readonly donations = { taken: 0, refused: 0 };

  private constructor(
    readonly client: P9Client,
    readonly readonly: boolean,
    /** The uid the connection attached as (new files belong to it unless told otherwise). */
    private readonly attachUid: number,
  ) {}

  /**
   * Tversion and Tattach over `client`. `aname` is the export's absolute host
   * path (diod checks it; our gofer takes it or ""), `uid` the user to attach as.
   * The export's root must be a directory (else ENOTDIR), or with `fileRoot`
   * may also be a regular file (a bind mount of one file). With `donation`,
   * regular files are asked for their host fd when opened (our dialect only;
   * a server that refuses Tdonate with EOPNOTSUPP is not asked again).
   */
  static async connect(client: P9Client, opts: { aname: string; uid: number; readonly: boolean; fileRoot?: boolean; donation?: DonationReceiver }): Promise<P9Backend | Errno> {
    const v = await client.version();
    if (isErrno(v)) return v;
    const b = new P9Backend(client, opts.readonly, opts.uid);
    if (client.inOrder) b.donation = opts.donation;
    const fid = client.allocFid();
    const r = await client.rpc({ type: MsgType.Tattach, tag: 0, fid, afid: p9.NOFID, uname: '', aname: opts.aname, nUname: opts.uid >>> 0 });
    if (isErrno(r)) return r;
    b.rootFid = fid;
    const a = await b.fetchAttr(fid);
    if (isErrno(a)) return a;
    const type = a.mode & S_IFMT;
    if (type !== S_IFDIR && !(opts.fileRoot && type === S_IFREG)) return ENOTDIR;
    b.rootAttr = a;
    return b;
  }

  close(): void {
    this.client.close();
  }

  // ---- helpers ----

  private own(n: BackendNode): P9Node | Errno {
    return n instanceof P9Node && n.owner === this && n.fid >= 0 ? n : EBADF;
  }

  private ownDir(n: BackendNode): P9Node | Errno {
    const d = this.own(n);
    if (isErrno(d)) return d;
    return d.type === S_IFDIR ? d : ENOTDIR;
  }

  /** @internal */
  async fetchAttr(fid: number): Promise<Attr | Errno> {
    const r = await this.client.rpc({ type: MsgType.Tgetattr, tag: 0, fid, mask: BigInt(p9.GETATTR_BASIC) });
    return isErrno(r) ? r : toAttr(r);
  }

  /** A new fid for the same file as `fid` (a walk of no names). */
  private async clone(fid: number): Promise<number | Errno> {
    const nf = this.client.allocFid();
    const r = await this.client.rpc({ type: MsgType.Twalk, tag: 0, fid, newfid: nf, names: [] });
    if (isErrno(r)) {
      this.client.freeFid(nf);
      return r;
    }
    return nf;
  }

  /** @internal: clunks a fid we no longer use. */
  clunk(fid: number): Promise<void> {
    return this.client.rpc({ type: MsgType.Tclunk, tag: 0, fid }).then((r) => {
      // A fid the server still holds (the connection broke) is never reused.
      if (!isErrno(r)) this.client.freeFid(fid);
    });
  }

  /**
   * Twalk to one name and Tgetattr of the new fid: sent together (one round
   * trip) to a server that keeps their order (client.inOrder), one after the
   * other to any other.
   */
  private async walkFid(dir: P9Node, name: string): Promise<{ fid: number; attr: Attr } | Errno> {
    const nf = this.client.allocFid();
    const walked = this.client.rpc({ type: MsgType.Twalk, tag: 0, fid: dir.fid, newfid: nf, names: [name] });
    const early = this.client.inOrder ? this.fetchAttr(nf) : null;
    const r = await walked;
    if (isErrno(r)) {
      await early;
      this.client.freeFid(nf);
      return r;
    }
    if ((r.qids as p9.Qid[]).length !== 1) {
      await early;
      this.client.freeFid(nf); // a partial walk binds no fid
      return ENOENT;
    }
    const a = await (early ?? this.fetchAttr(nf));
    if (isErrno(a) || !FILE_TYPES.has(a.mode & S_IFMT)) {
      await this.clunk(nf);
      // A mode of no file type (a broken server) makes no node: EINVAL, as Linux's v9fs refuses such an inode.
      return isErrno(a) ? a : EINVAL;
    }
    return { fid: nf, attr: a };
  }

  /** After making `name` in `dir` as the attach user: give it the guest's owner if that differs (ignored where the server may not chown, as direct mode does rootless). */
  private async chownNew(dir: P9Node, name: string, uid: number): Promise<void> {
    if (uid === this.attachUid) return;
    const w = await this.walkFid(dir, name);
    if (isErrno(w)) return;
    await this.client.rpc(setattrMsg(w.fid, { uid }));
    await this.clunk(w.fid);
  }

  // ---- FilesystemBackend ----

  async root(): Promise<BackendNode | Errno> {
    if (this.rootFid < 0) return EBADF;
    const fid = await this.clone(this.rootFid);
    if (isErrno(fid)) return fid;
    return new P9Node(this, fid, this.rootAttr!.mode & S_IFMT, this.rootAttr);
  }

  async walk(dir: BackendNode, name: string): Promise<BackendNode | Errno> {
    const d = this.ownDir(dir);
    if (isErrno(d)) return d;
    const bad = checkName(name);
    if (bad) return bad;
    const w = await this.walkFid(d, name);
    if (isErrno(w)) return w;
    return this.track(new P9Node(this, w.fid, w.attr.mode & S_IFMT, w.attr), d, name);
  }

  async getattr(node: BackendNode): Promise<Attr | Errno> {
    const n = this.own(node);
    if (isErrno(n)) return n;
    return this.fetchAttr(n.fid);
  }

  async readlink(node: BackendNode): Promise<string | Errno> {
    const n = this.own(node);
    if (isErrno(n)) return n;
    if (n.type !== S_IFLNK) return EINVAL;
    if (n.target !== undefined) return n.target;
    const r = await this.client.rpc({ type: MsgType.Treadlink, tag: 0, fid: n.fid });
    if (isErrno(r)) return r;
    n.target = r.target as string;
    return n.target;
  }

  async open(node: BackendNode, flags: number): Promise<BackendFile | Errno> {
    const n = this.own(node);
    if (isErrno(n)) return n;
    // The clone and the Tlopen go together to a server that keeps their order (one round trip).
    const fid = this.client.allocFid();
    const cloned = this.client.rpc({ type: MsgType.Twalk, tag: 0, fid: n.fid, newfid: fid, names: [] });
    const lopen = (): Promise<Msg | Errno> => this.client.rpc({ type: MsgType.Tlopen, tag: 0, fid, flags: flags >>> 0 });
    const early = this.client.inOrder ? lopen() : null;
    // Tdonate goes with them (donation implies inOrder): it runs after the Tlopen.
    const donate = this.asksDonation() && n.type === S_IFREG ? this.client.rpc({ type: MsgType.Tdonate, tag: 0, fid }) : null;
    const c = await cloned;
    if (isErrno(c)) {
      await Promise.all([early, donate]);
      this.client.freeFid(fid);
      return c;
    }
    const r = await (early ?? lopen());
    if (isErrno(r)) {
      await donate;
      await this.clunk(fid);
      return r;
    }
    const hostFd = donate ? this.takeDonation(await donate, (r.qid as p9.Qid).path) : -1;
    return new P9File(this, fid, n.type, r.iounit as number, hostFd);
  }

  /**
   * The fd Rdonate announced, checked: a regular file whose inode is the one
   * the server opened (`ino`, its qid). -1 when there is none or it fails a
   * check (the fd is closed; the file keeps to 9P). An EOPNOTSUPP answer
   * means the server does not donate: it is not asked again.
   */
  private takeDonation(r: Msg | Errno, ino: bigint): number {
    if (isErrno(r)) {
      if (r === EOPNOTSUPP) this.donating = false;
      return -1;
    }
    const fd = this.donation?.take(r.token as number);
    if (fd === undefined) {
      this.donations.refused++;
      return -1;
    }
    const st = fstat(fd);
    if (isErrno(st) || (Number(st.mode) & S_IFMT) !== S_IFREG || st.ino !== ino) {
      this.releaseDonated(fd);
      this.donations.refused++;
      return -1;
    }
    this.donations.taken++;
    return fd;
  }

  /** Whether an open or create asks for the file's host fd: a channel with room, and a server that donates. */
  private asksDonation(): boolean {
    return this.donating && this.donation !== undefined && this.donation.hasRoom;
  }

  /** @internal: a donated fd given back (its P9File closed, or it failed a check). */
  releaseDonated(fd: number): void {
    if (this.donation) this.donation.release(fd);
    else closeFd(fd);
  }

  async create(dir: BackendNode, name: string, flags: number, mode: number, uid: number, gid: number): Promise<{ node: BackendNode; file: BackendFile } | Errno> {
    const d = this.ownDir(dir);
    if (isErrno(d)) return d;
    const bad = checkName(name);
    if (bad) return bad;
    if ((flags & O_ACCMODE) === O_ACCMODE) return EINVAL;
    const fid = await this.clone(d.fid);
    if (isErrno(fid)) return fid;
    // Tlcreate: O_CREAT|O_EXCL semantics are the server's (EEXIST on any existing name).
    const created = this.client.rpc({ type: MsgType.Tlcreate, tag: 0, fid, name, flags: (flags | O_CREAT | O_EXCL) >>> 0, mode: mode & 0o7777, gid: gid >>> 0 });
    const donate = this.asksDonation() ? this.client.rpc({ type: MsgType.Tdonate, tag: 0, fid }) : null; // runs after the Tlcreate
    const r = await created;
    if (isErrno(r)) {
      await donate;
      await this.clunk(fid);
      return r;
    }
    const file = new P9File(this, fid, S_IFREG, r.iounit as number, donate ? this.takeDonation(await donate, (r.qid as p9.Qid).path) : -1);
    if (uid !== this.attachUid) await this.client.rpc(setattrMsg(fid, { uid }));
    const w = await this.walkFid(d, name);
    if (isErrno(w)) {
      await file.close();
      return w;
    }
    return { node: this.track(new P9Node(this, w.fid, w.attr.mode & S_IFMT, w.attr), d, name), file };
  }

  async mkdir(dir: BackendNode, name: string, mode: number, uid: number, gid: number): Promise<0 | Errno> {
    const d = this.ownDir(dir);
    if (isErrno(d)) return d;
    const bad = checkName(name);
    if (bad) return bad;
    const r = await this.client.rpc({ type: MsgType.Tmkdir, tag: 0, fid: d.fid, name, mode: mode & 0o7777, gid: gid >>> 0 });
    if (isErrno(r)) return r;
    await this.chownNew(d, name, uid);
    return 0;
  }

  async symlink(dir: BackendNode, name: string, target: string, uid: number, gid: number): Promise<0 | Errno> {
    const d = this.ownDir(dir);
    if (isErrno(d)) return d;
    const bad = checkName(name);
    if (bad) return bad;
    if (typeof target !== 'string' || target.length === 0) return ENOENT;
    if (target.includes('\0')) return EINVAL;
    if (Buffer.byteLength(target, 'utf8') >= PATH_MAX) return ENAMETOOLONG;
    const r = await this.client.rpc({ type: MsgType.Tsymlink, tag: 0, fid: d.fid, name, target, gid: gid >>> 0 });
    if (isErrno(r)) return r;
    await this.chownNew(d, name, uid);
    return 0;
  }

  mkfifo(dir: BackendNode, name: string, mode: number, uid: number, gid: number): Promise<0 | Errno> {
    return this.mknodOf(S_IFIFO, dir, name, mode, uid, gid);
  }

  mksocket(dir: BackendNode, name: string, mode: number, uid: number, gid: number): Promise<0 | Errno> {
    return this.mknodOf(S_IFSOCK, dir, name, mode, uid, gid);
  }

  /** Tmknod of a FIFO or a socket file (the only node types the gofer makes). */
  private async mknodOf(type: typeof S_IFIFO | typeof S_IFSOCK, dir: BackendNode, name: string, mode: number, uid: number, gid: number): Promise<0 | Errno> {
    const d = this.ownDir(dir);
    if (isErrno(d)) return d;
    const bad = checkName(name);
    if (bad) return bad;
    const r = await this.client.rpc({ type: MsgType.Tmknod, tag: 0, fid: d.fid, name, mode: (type | (mode & 0o7777)) >>> 0, major: 0, minor: 0, gid: gid >>> 0 });
    if (isErrno(r)) return r;
    await this.chownNew(d, name, uid);
    return 0;
  }

  async link(dir: BackendNode, name: string, target: BackendNode): Promise<0 | Errno> {
    const d = this.ownDir(dir);
    if (isErrno(d)) return d;
    const t = this.own(target);
    if (isErrno(t)) return t;
    const bad = checkName(name);
    if (bad) return bad;
    const r = await this.client.rpc({ type: MsgType.Tlink, tag: 0, dfid: d.fid, fid: t.fid, name });
    if (isErrno(r)) return r;
    return 0;
  }

  async unlink(dir: BackendNode, name: string, flags: number): Promise<0 | Errno> {
    const d = this.ownDir(dir);
    if (isErrno(d)) return d;
    const bad = checkName(name);
    if (bad) return bad;
    const r = await this.unlinkat(d, name, flags);
    if (isErrno(r)) return r;
    return 0;
  }

  /**
   * renameat2. 9P2000.L's Trenameat has no flags, so (the sandbox being the
   * export's only writer, nothing else comes between the steps):
   * RENAME_NOREPLACE is a walk, then the rename; RENAME_EXCHANGE is three
   * renames through a fresh temporary name beside the old one (undone if the
   * second fails). The host sees the middle states; the guest sees Linux's result.
   */
  async rename(oldDir: BackendNode, oldName: string, newDir: BackendNode, newName: string, flags = 0): Promise<0 | Errno> {
    const od = this.ownDir(oldDir);
    if (isErrno(od)) return od;
    const nd = this.ownDir(newDir);
    if (isErrno(nd)) return nd;
    const bad = checkName(oldName) ?? checkName(newName);
    if (bad) return bad;
    if (flags !== 0 && flags !== RENAME_NOREPLACE && flags !== RENAME_EXCHANGE) return EINVAL;
    if (flags === RENAME_EXCHANGE) return this.exchange(od, oldName, nd, newName);
    if (flags === RENAME_NOREPLACE) {
      const w = await this.walkFid(nd, newName);
      if (!isErrno(w)) {
        await this.clunk(w.fid);
        return EEXIST;
      }
      if (w !== ENOENT) return w;
    }
    const r = await this.renameat(od, oldName, nd, newName);
    if (isErrno(r)) return r;
    return 0;
  }

  /** Servers without Trenameat/Tunlinkat (older diod answers EOPNOTSUPP): then Trename/Tremove of a walked fid, as Linux's v9fs falls back. */
  private noRenameat = false;
  private noUnlinkat = false;

  private async renameat(od: P9Node, oldName: string, nd: P9Node, newName: string): Promise<Msg | Errno> {
    if (!this.noRenameat) {
      const r = await this.client.rpc({ type: MsgType.Trenameat, tag: 0, olddirfid: od.fid, oldname: oldName, newdirfid: nd.fid, newname: newName });
      if (r !== EOPNOTSUPP && r !== ENOSYS) return r;
      this.noRenameat = true;
    }
    const w = await this.walkFid(od, oldName);
    if (isErrno(w)) return w;
    const r = await this.client.rpc({ type: MsgType.Trename, tag: 0, fid: w.fid, dfid: nd.fid, name: newName });
    await this.clunk(w.fid);
    if (!isErrno(r)) await this.rewalkRenamed(od, oldName, nd, newName);
    return r;
  }

  /** Live nodes by where they were walked from; see rewalkRenamed. */
  private readonly byKey = new Map<string, Set<P9Node>>();

  private keyOf(dir: P9Node, name: string): string | undefined {
    return dir.attr ? `${dir.attr.ino}/${name}` : undefined;
  }

  private track(n: P9Node, dir: P9Node, name: string): P9Node {
    const k = this.keyOf(dir, name);
    if (k === undefined) return n;
    n.key = k;
    let set = this.byKey.get(k);
    if (!set) this.byKey.set(k, (set = new Set()));
    set.add(n);
    return n;
  }

  private untrack(n: P9Node): void {
    if (n.key === undefined) return;
    const set = this.byKey.get(n.key);
    set?.delete(n);
    if (set?.size === 0) this.byKey.delete(n.key);
    n.key = undefined;
  }

  /**
   * A server whose fids are host paths (diod) leaves the other fids of a
   * file renamed by Trename naming its old path: each live node walked to the
   * old name gets a fid walked to the new one. (Fids below a renamed
   * directory keep their old paths: a known limit with such servers.)
   */
  private async rewalkRenamed(od: P9Node, oldName: string, nd: P9Node, newName: string): Promise<void> {
    const k = this.keyOf(od, oldName);
    const set = k === undefined ? undefined : this.byKey.get(k);
    if (!set) return;
    for (const n of [...set]) {
      if (n.fid < 0) continue;
      const nf = this.client.allocFid();
      const r = await this.client.rpc({ type: MsgType.Twalk, tag: 0, fid: nd.fid, newfid: nf, names: [newName] });
      if (isErrno(r) || (r.qids as p9.Qid[]).length !== 1) {
        if (!isErrno(r)) this.client.freeFid(nf);
        continue;
      }
      const old = n.fid;
      n.fid = nf;
      void this.clunk(old);
      this.untrack(n);
      this.track(n, nd, newName);
    }
  }

  private async unlinkat(d: P9Node, name: string, flags: number): Promise<Msg | Errno> {
    if (!this.noUnlinkat) {
      const r = await this.client.rpc({ type: MsgType.Tunlinkat, tag: 0, fid: d.fid, name, flags: flags >>> 0 });
      if (r !== EOPNOTSUPP && r !== ENOSYS) return r;
      this.noUnlinkat = true;
    }
    const w = await this.walkFid(d, name);
    if (isErrno(w)) return w;
    const isDir = (w.attr.mode & S_IFMT) === S_IFDIR;
    if (isDir !== ((flags & AT_REMOVEDIR) !== 0)) {
      await this.clunk(w.fid);
      return isDir ? EISDIR : ENOTDIR;
    }
    // Tremove clunks the fid whatever the outcome.
    const r = await this.client.rpc({ type: MsgType.Tremove, tag: 0, fid: w.fid });
    this.client.freeFid(w.fid);
    return r;
  }

  private async exchange(od: P9Node, oldName: string, nd: P9Node, newName: string): Promise<0 | Errno> {
    // Both names must exist (ENOENT otherwise, as Linux).
    for (const [d, n] of [[od, oldName], [nd, newName]] as const) {
      const w = await this.walkFid(d, n);
      if (isErrno(w)) return w;
      await this.clunk(w.fid);
    }
    if (od === nd && oldName === newName) return 0;
    let tmp = '';
    for (let i = 0; ; i++) {
      tmp = `.tsvisor-exchange-${process.pid}-${Date.now().toString(36)}-${i}`;
      const w = await this.walkFid(od, tmp);
      if (w === ENOENT) break;
      if (isErrno(w)) return w;
      await this.clunk(w.fid);
    }
    let r = await this.renameat(od, oldName, od, tmp);
    if (isErrno(r)) return r;
    r = await this.renameat(nd, newName, od, oldName);
    if (isErrno(r)) {
      await this.renameat(od, tmp, od, oldName);
      return r;
    }
    r = await this.renameat(od, tmp, nd, newName);
    return isErrno(r) ? r : 0;
  }

  async setattr(node: BackendNode, set: SetAttr): Promise<0 | Errno> {
    const n = this.own(node);
    if (isErrno(n)) return n;
    const m = setattrMsg(n.fid, set);
    if (isErrno(m)) return m;
    if ((m.valid as number) === 0) return 0;
    const r = await this.client.rpc(m);
    return isErrno(r) ? r : 0;
  }

  async statfs(node: BackendNode): Promise<StatFs | Errno> {
    const n = this.own(node);
    if (isErrno(n)) return n;
    const r = await this.client.rpc({ type: MsgType.Tstatfs, tag: 0, fid: n.fid });
    if (isErrno(r)) return r;
    const num = (v: unknown): number => Number(v as bigint);
    return {
      type: r.fstype as number,
      bsize: r.bsize as number,
      blocks: num(r.blocks),
      bfree: num(r.bfree),
      bavail: num(r.bavail),
      files: num(r.files),
      ffree: num(r.ffree),
      namelen: r.namelen as number,
      flags: this.readonly ? ST_RDONLY : 0,
    };
  }

  async release(node: BackendNode): Promise<void> {
    if (!(node instanceof P9Node) || node.owner !== this || node.fid < 0) return;
    const fid = node.fid;
    node.fid = -1;
    this.untrack(node);
    await this.clunk(fid);
  }
}

/**
 * The backend of one io fd (a connected stream socket to the gofer, or to any
 * 9P2000.L server exporting `hostPath`): connects and attaches as `uid`.
 * `fileRoot`: the export may be one regular file (a bind mount's source).
 * Throws an Error naming the fd when the server does not answer as it should.
 */
export async function connectIoFd(fd: number, hostPath: string, uid: number, readonly: boolean, fileRoot = false, donation?: DonationReceiver): Promise<P9Backend> {
  const client = P9Client.overFd(fd);
  const b = await P9Backend.connect(client, { aname: hostPath, uid, readonly, fileRoot, donation });
  if (isErrno(b)) {
    const why = client.brokenReason ?? b.name;
    client.close();
    throw new Error(`io fd ${fd} (${hostPath}): 9P attach failed: ${why}`);
  }
  return b;
}
