// Inodes of a FilesystemBackend (the rootfs and bind mounts, in direct mode
// or through the gofer), and the File they open. The inode caches its file's
// attributes by the mount's file-access mode (FileAccess below) and gives its
// node back when the dentry cache evicts it (dcache.ts), walking to it again
// by name when next used.

import { EBADF, EISDIR, EINVAL, ENOENT, ENXIO, EOVERFLOW, EPERM, ESTALE, EXDEV, Errno, isErrno } from '../../linux/errno.js';
import { O_DIRECTORY, O_TRUNC, O_APPEND, S_IFDIR, S_IFIFO, S_IFMT, S_IFREG, S_IFSOCK, SEEK_CUR, SEEK_END, SEEK_SET, SEEK_DATA, SEEK_HOLE, O_ACCMODE, O_RDONLY, O_CREAT, O_EXCL, O_WRONLY, AT_REMOVEDIR } from '../../linux/abi.js';
import { File, type MaybeAsync } from '../files/file.js';
import { andThen } from '../files/maybe-async.js';
import { Fifo } from '../files/pipe.js';
import { namedPipeOpen } from './named-pipe.js';
import { Credentials, Inode, type Dentry, type FdInodeOps, type NewOwner, type OpenContext } from './inode.js';
import type { Attr, BackendFile, BackendNode, DirEntry, FilesystemBackend, SetAttr, StatFs } from '../../backend/backend.js';
import { IdleHandles, PRIVATE_OPEN, SharedHandle, sharedIdleHandles } from './backend-handle.js';
import { Unsupported, type FileRecord } from '../checkpoint-records.js';
import { fstat, preadFd, pwriteFd } from '../../backend/host-attr.js';
import { AS_DOUBLE } from '../../vcpu/state.js';

/**
 * The pipes behind a backend's FIFOs, by inode: every open of one FIFO, by
 * whichever name, meets the same pipe. The pipe lives in the sandbox; host
 * processes never share it (the host FIFO is only a name).
 */
const fifos = new WeakMap<FilesystemBackend, Map<string, Fifo>>();

function fifoOf(fs: FilesystemBackend, a: Attr): Fifo {
  let m = fifos.get(fs);
  if (!m) fifos.set(fs, (m = new Map()));
  const key = `${a.dev}:${a.ino}`;
  let f = m.get(key);
  if (!f) m.set(key, (f = new Fifo()));
  return f;
}

/**
 * How far the sandbox trusts what it caches of a mounted backend (runsc's
 * --file-access and --file-access-mounts):
 * - "exclusive": the sandbox is the filesystem's only writer. Attributes stay
 *   cached until the sandbox changes something on that mount, cached
 *   dentries are used without asking the host again.
 * - "shared": the host (or another sandbox) may change it too. A walk that
 *   reaches a cached dentry checks that the name still names the same file
 *   (a walk to it: one gofer round trip) and attributes are fetched each time.
 */
export type FileAccess = 'exclusive' | 'shared';

/** What the inodes of one mounted backend share: the backend, its file-access mode, the generation of cached attributes. */
export class BackendMount {
  /** Bumped by every change made through this mount (names, attributes, data): attributes cached before it are stale. */
  gen = 0;

  constructor(
    readonly fs: FilesystemBackend,
    readonly access: FileAccess = 'exclusive',
    /** Where this mount's unused kept handles wait, bounded (the sandbox's one set by default). */
    readonly idle: IdleHandles = sharedIdleHandles,
  ) {}

  changed(): void {
    this.gen++;
  }
}

export class BackendInode extends Inode {
  readonly type: number;
  readonly fs: FilesystemBackend;
  readonly mount: BackendMount;
  /** The backend node; undefined after drop() (or release()) until it is walked to again. */
  private node: BackendNode | undefined;
  /** The file's inode number, once known: a re-walk must find the same file (else ESTALE). */
  private ino: bigint | undefined;
  private attr: Attr | undefined;
  private attrGen = -1;
  /** The dentry naming this inode (weakly: the dentry holds the inode), to walk to it again after drop(). */
  private home: WeakRef<Dentry> | undefined;
  /** Operations using the node now: drop() waits for them before releasing it. */
  private busy = 0;
  private dropWhenIdle = false;
  private rewalking: Promise<BackendNode | Errno> | undefined;
  private released = false;

  constructor(fsOrMount: FilesystemBackend | BackendMount, node: BackendNode) {
    super();
    this.mount = fsOrMount instanceof BackendMount ? fsOrMount : new BackendMount(fsOrMount);
    this.fs = this.mount.fs;
    this.node = node;
    this.type = node.type & S_IFMT;
    if (node.attr) this.cacheAttr(node.attr, this.mount.gen);
  }

  private cacheAttr(a: Attr, gen: number): void {
    this.ino ??= a.ino;
    this.attr = a;
    this.attrGen = gen;
  }

  /** Runs `op` on the node, walking to the file again first if the cache dropped it. */
  private async use<T>(op: (n: BackendNode) => Promise<T | Errno>): Promise<T | Errno> {
    const n = this.node ?? (await this.rewalk());
    if (isErrno(n)) return n;
    this.busy++;
    try {
      return await op(n);
    } finally {
      if (--this.busy === 0 && this.dropWhenIdle) this.drop();
    }
  }

  private rewalk(): Promise<BackendNode | Errno> {
    return (this.rewalking ??= this.walkHome().finally(() => (this.rewalking = undefined)));
  }

  /** Walk from the parent dentry's inode to this one's name again; the file must be the one this inode was. */
  private async walkHome(): Promise<BackendNode | Errno> {
    const d = this.home?.deref();
    if (this.released || !d || d.deleted || !d.parent) return ENOENT;
    const dir = d.parent.inode;
    if (!(dir instanceof BackendInode) || dir.fs !== this.fs) return ESTALE;
    const n = await dir.use((dn) => this.fs.walk(dn, d.name));
    if (isErrno(n)) return n === ENOENT ? ESTALE : n;
    const a = n.attr ?? (await this.fs.getattr(n));
    if (isErrno(a) || (n.type & S_IFMT) !== this.type || (this.ino !== undefined && a.ino !== this.ino) || this.node || this.released) {
      void this.fs.release(n);
      if (this.node) return this.node; // another caller walked it first
      return isErrno(a) ? a : ESTALE;
    }
    this.node = n;
    this.cacheAttr(a, this.mount.gen);
    return n;
  }

  override named(d: Dentry): void {
    this.home = new WeakRef(d);
  }

  /** A socket file is never evicted: the Unix socket bound to it is found by its inode (net/names.ts). */
  override get evictable(): boolean {
    return this.home !== undefined && this.type !== S_IFSOCK;
  }

  override drop(): boolean {
    const n = this.node;
    if (!n || !this.home) return false;
    if (this.busy > 0) {
      this.dropWhenIdle = true;
      return true;
    }
    this.dropWhenIdle = false;
    this.node = undefined;
    void this.fs.release(n);
    this.closeIdleHandles();
    return true;
  }

  override get cachesNegatives(): boolean {
    return this.mount.access === 'exclusive';
  }

  override get revalidates(): boolean {
    return this.mount.access === 'shared';
  }

  /** shared mode: walk `name` in `dir` again; the same file (type and inode number) keeps this inode, with fresh attributes. */
  override async revalidate(dir: Inode, name: string): Promise<boolean> {
    if (!(dir instanceof BackendInode) || dir.fs !== this.fs) return false;
    const gen = this.mount.gen;
    const n = await dir.use((dn) => this.fs.walk(dn, name));
    if (isErrno(n)) return false;
    const a = n.attr ?? (await this.fs.getattr(n));
    void this.fs.release(n);
    if (isErrno(a) || (a.mode & S_IFMT) !== this.type || (this.ino !== undefined && a.ino !== this.ino)) return false;
    this.cacheAttr(a, gen);
    return true;
  }

  /** Attributes: cached in exclusive mode until this mount changes anything; fetched each time in shared mode. */
  getattr(): MaybeAsync<Attr | Errno> {
    if (this.attr && this.attrGen === this.mount.gen && this.mount.access === 'exclusive') return this.attr;
    return this.fetchAttr();
  }

  private async fetchAttr(): Promise<Attr | Errno> {
    const gen = this.mount.gen;
    const a = await this.use((n) => this.fs.getattr(n));
    if (!isErrno(a)) this.cacheAttr(a, gen);
    return a;
  }

  /** A change was made through this mount: cached attributes are stale. */
  private changed<T>(r: T): T {
    this.mount.changed();
    return r;
  }

  override async lookup(name: string): Promise<Inode | Errno> {
    const n = await this.use((dn) => this.fs.walk(dn, name));
    return isErrno(n) ? n : new BackendInode(this.mount, n);
  }

  override readlink(): Promise<string | Errno> {
    return this.use((n) => this.fs.readlink(n));
  }

  /** Synchronous for a regular file whose kept handle for the access mode is open (openShared). */
  open(flags: number, path: string, ctx?: OpenContext): MaybeAsync<File | Errno> {
    if (this.type === S_IFDIR && (flags & O_ACCMODE) !== O_RDONLY) return EISDIR;
    if (this.type === S_IFIFO) {
      return andThen(this.getattr(), (a) => (isErrno(a) ? a : namedPipeOpen(fifoOf(this.fs, a), this, flags, path, ctx)));
    }
    if (this.type !== S_IFDIR && this.type !== S_IFREG) return ENXIO;
    const opened = this.type === S_IFREG && !(flags & PRIVATE_OPEN) ? this.openShared(flags & O_ACCMODE) : this.use((n) => this.fs.open(n, flags & ~O_DIRECTORY));
    return andThen(opened, (f) => {
      if (isErrno(f)) return f;
      if (flags & O_TRUNC) this.mount.changed();
      return openFileOf(f, flags, path, this.type, this.mount);
    });
  }

  /**
   * Host-side opens of this regular file kept for reuse, by access mode
   * (gVisor's dentry handles): every open file description of the inode with
   * that mode reads and writes through one backend file, all positional, so
   * a second open costs no gofer round trip. An unused handle stays open
   * until the cache drops the inode (drop), it is released, or it is the
   * oldest of too many unused ones (the mount's IdleHandles).
   */
  private handles: (SharedHandle | undefined)[] | undefined;
  private handleOpening: (Promise<SharedHandle | Errno> | undefined)[] | undefined;

  /** A share of the kept handle for `acc`: at once when it is open, else once the one open of it in flight is done. */
  private openShared(acc: number): MaybeAsync<BackendFile | Errno> {
    const hs = (this.handles ??= []);
    const h = hs[acc];
    if (h) {
      this.mount.idle.unpark(h);
      return h.share();
    }
    const pending = (this.handleOpening ??= []);
    const p = (pending[acc] ??= this.use((n) => this.fs.open(n, acc)).then((f) => {
      pending[acc] = undefined;
      if (isErrno(f)) return f;
      return (hs[acc] = new SharedHandle(f, () => this.handleIdle(acc), () => this.closeHandle(acc)));
    }));
    return p.then((got) => (isErrno(got) ? got : got.share()));
  }

  /**
   * A handle's last open file went away: close it if the inode no longer
   * keeps its handles or its name is gone (unlinked, replaced: no open by
   * name can reach it again), else park it with the mount's unused ones
   * (bounded).
   */
  private handleIdle(acc: number): void {
    if (this.node === undefined || this.released || this.home?.deref()?.deleted) this.closeHandle(acc);
    else this.mount.idle.park(this.handles![acc]!);
  }

  private closeHandle(acc: number): void {
    const h = this.handles?.[acc];
    if (!h || h.users > 0) return;
    this.handles![acc] = undefined;
    this.mount.idle.unpark(h);
    void h.file.close();
  }

  private closeIdleHandles(): void {
    for (let acc = 0; acc < (this.handles?.length ?? 0); acc++) this.closeHandle(acc);
  }

  override async create(name: string, flags: number, mode: number, cred: Credentials, path: string): Promise<File | Errno> {
    const r = await this.use((n) => this.fs.create(n, name, flags, mode, cred.uid, cred.gid));
    if (isErrno(r)) return r;
    this.mount.changed();
    void this.fs.release(r.node);
    return openFileOf(r.file, flags & ~O_TRUNC, path, S_IFREG, this.mount);
  }

  override async mkdir(name: string, perm: number, owner: NewOwner): Promise<0 | Errno> {
    return this.changed(await this.use((n) => this.fs.mkdir(n, name, perm, owner.uid, owner.gid)));
  }

  /** Regular files are created and closed; FIFOs and sockets get a host FIFO or socket file as their name (the pipe or socket itself is the sandbox's). */
  override async mknod(name: string, mode: number, _rdev: bigint, owner: NewOwner): Promise<0 | Errno> {
    const type = mode & S_IFMT;
    if (type === S_IFREG) {
      const r = await this.use((n) => this.fs.create(n, name, O_WRONLY | O_CREAT | O_EXCL, mode & 0o7777, owner.uid, owner.gid));
      if (isErrno(r)) return r;
      this.mount.changed();
      await r.file.close();
      await this.fs.release(r.node);
      return 0;
    }
    if (type === S_IFIFO) return this.changed(await this.use((n) => this.fs.mkfifo(n, name, mode & 0o7777, owner.uid, owner.gid)));
    if (type === S_IFSOCK) return this.changed(await this.use((n) => this.fs.mksocket(n, name, mode & 0o7777, owner.uid, owner.gid)));
    return EPERM;
  }

  override async symlink(name: string, target: string, owner: NewOwner): Promise<0 | Errno> {
    return this.changed(await this.use((n) => this.fs.symlink(n, name, target, owner.uid, owner.gid)));
  }

  override async link(name: string, target: Inode): Promise<0 | Errno> {
    if (!(target instanceof BackendInode) || target.fs !== this.fs) return EXDEV;
    return this.changed(await this.use((n) => target.use((t) => this.fs.link(n, name, t))));
  }

  override async unlink(name: string, dir: boolean): Promise<0 | Errno> {
    return this.changed(await this.use((n) => this.fs.unlink(n, name, dir ? AT_REMOVEDIR : 0)));
  }

  override async rename(oldName: string, newDir: Inode, newName: string, flags: number): Promise<0 | Errno> {
    if (!(newDir instanceof BackendInode) || newDir.fs !== this.fs) return EXDEV;
    return this.changed(await this.use((n) => newDir.use((nd) => this.fs.rename(n, oldName, nd, newName, flags))));
  }

  override async setattr(set: SetAttr): Promise<0 | Errno> {
    return this.changed(await this.use((n) => this.fs.setattr(n, set)));
  }

  override statfs(): Promise<StatFs | Errno> {
    return this.use((n) => this.fs.statfs(n));
  }

  override get readonlyFs(): boolean {
    return this.fs.readonly;
  }

  override release(): void {
    this.released = true;
    const n = this.node;
    this.node = undefined;
    if (n) void this.fs.release(n);
    this.closeIdleHandles();
  }
}

/** An open regular file or directory of a backend, with its own position. */
export class BackendOpenFile extends File implements FdInodeOps {
  // Offsets set by lseek and cookies from the backend: doubles from the start (src/kernel/task.ts, AS_DOUBLE).
  protected pos = AS_DOUBLE;
  /** Directory entries fetched but not yet returned by readdir. */
  private dirCookie = AS_DOUBLE;

  constructor(
    protected readonly file: BackendFile,
    flags: number,
    path: string,
    private readonly type: number,
    /** Where changes through this file are announced (cached attributes go stale). */
    protected readonly mount: BackendMount,
  ) {
    super(flags, path);
    this.pos = this.dirCookie = 0;
  }

  override read(len: number): MaybeAsync<Uint8Array | Errno> {
    return this.readAt(len, null);
  }

  override pread(len: number, offset: number): MaybeAsync<Uint8Array | Errno> {
    return this.readAt(len, offset);
  }

  /** read (`offset` null: at the file's position, which moves on) and pread. */
  private async readAt(len: number, offset: number | null): Promise<Uint8Array | Errno> {
    if (this.type === S_IFDIR) return EISDIR;
    const buf = new Uint8Array(len);
    const n = await this.file.read(buf, offset ?? this.pos);
    if (isErrno(n)) return n;
    if (offset === null) this.pos += n;
    return buf.subarray(0, n);
  }

  override write(data: Uint8Array): MaybeAsync<number | Errno> {
    return this.writeAt(data, null);
  }

  override pwrite(data: Uint8Array, offset: number): MaybeAsync<number | Errno> {
    return this.writeAt(data, offset);
  }

  /** write (`offset` null: at the file's position, or its end with O_APPEND; the position moves on) and pwrite. */
  private async writeAt(data: Uint8Array, offset: number | null): Promise<number | Errno> {
    let at = offset ?? this.pos;
    if (offset === null && this.flags & O_APPEND) {
      const a = await this.file.getattr();
      if (isErrno(a)) return a;
      at = a.size;
    }
    const n = await this.file.write(data, at);
    this.mount.changed();
    if (offset === null && !isErrno(n)) this.pos = at + n;
    return n;
  }

  override async lseek(offset: number, whence: number): Promise<number | Errno> {
    let base: number;
    switch (whence) {
      case SEEK_SET:
        base = 0;
        break;
      case SEEK_CUR:
        base = this.pos;
        break;
      case SEEK_END:
      case SEEK_DATA:
      case SEEK_HOLE: {
        const a = await this.file.getattr();
        if (isErrno(a)) return a;
        if (whence === SEEK_END) base = a.size;
        else if (offset >= a.size) return ENXIO;
        else return (this.pos = whence === SEEK_DATA ? offset : a.size);
        break;
      }
      default:
        return EINVAL;
    }
    const next = base + offset;
    if (next < 0) return EINVAL;
    if (!Number.isSafeInteger(next)) return EOVERFLOW;
    this.pos = next;
    if (this.type === S_IFDIR) this.dirCookie = next;
    return next;
  }

  getattr(): Promise<Attr | Errno> {
    return this.file.getattr();
  }

  override async readdir(maxBytes: number): Promise<DirEntry[] | Errno> {
    if (this.type !== S_IFDIR) return super.readdir(maxBytes) as Errno;
    return this.file.readdir(this.dirCookie, maxBytes);
  }

  override seekdir(cookie: number): void {
    this.dirCookie = cookie;
    this.pos = cookie;
  }

  /**
   * Checkpoint: a file of the gofer's (or direct mode's) filesystems is saved
   * by its path, open flags and position, and opened again by that path at
   * restore (checkpoint.ts): the file's bytes stay on the host. A file
   * deleted since it was opened has no path to open again.
   */
  override save(): FileRecord {
    if (!this.dentry || this.dentry.deleted) throw new Unsupported(`an open file that was deleted (${this.path})`);
    return { kind: 'path', path: this.dentry.path(), flags: this.flags, pos: this.pos };
  }

  override fsync(): MaybeAsync<0 | Errno> {
    return this.file.fsync();
  }

  async fdSetattr(set: SetAttr): Promise<0 | Errno> {
    const r = await this.file.setattr(set);
    this.mount.changed();
    return r;
  }

  async fdAllocate(offset: number, len: number): Promise<0 | Errno> {
    if (this.type === S_IFDIR) return EISDIR;
    const r = await this.file.allocate(offset, len);
    this.mount.changed();
    return r;
  }

  protected override release(): MaybeAsync<void> {
    return this.file.close();
  }
}

/** A BackendOpenFile, or a HostBackedFile for a regular file whose backend file is a host fd held here. */
function openFileOf(f: BackendFile, flags: number, path: string, type: number, mount: BackendMount): BackendOpenFile {
  const fd = f.hostFd;
  return type === S_IFREG && fd !== undefined && fd >= 0 ? new HostBackedFile(f, flags, path, type, mount) : new BackendOpenFile(f, flags, path, type, mount);
}

/** Reads and writes of every HostBackedFile pass through it (one kernel thread; grown up to SCRATCH_MAX, a longer call goes in pieces). */
let scratch = new Uint8Array(64 * 1024);
const SCRATCH_MAX = 1024 * 1024;

function scratchFor(len: number): Uint8Array {
  if (len > scratch.length && scratch.length < SCRATCH_MAX) scratch = new Uint8Array(Math.min(SCRATCH_MAX, 2 ** Math.ceil(Math.log2(len))));
  return scratch;
}

/**
 * A regular file whose backend file is a host fd held in this process
 * (BackendFile.hostFd: direct mode's files, a 9P file whose fd the gofer
 * donated): read, write and their positional forms are pread and pwrite on
 * that fd, at once (File.readTo/writeFrom, through one reused buffer), so
 * they neither block the guest's thread nor allocate. A host pread of a file
 * the host has cached costs a few microseconds; one that must reach the disk
 * holds the kernel thread as direct mode's reads always did.
 */
export class HostBackedFile extends BackendOpenFile {
  /** The fd, or EBADF once the backend file closed it. */
  private fd(): number | Errno {
    const fd = this.file.hostFd ?? -1;
    return fd >= 0 ? fd : EBADF;
  }

  override readTo(len: number, offset: number | null, put: (bytes: Uint8Array, pos: number) => void): number | Errno {
    const fd = this.fd();
    if (isErrno(fd)) return fd;
    const at = offset ?? this.pos;
    const buf = scratchFor(len);
    let done = 0;
    while (done < len) {
      const want = Math.min(len - done, buf.length);
      const n = preadFd(fd, want === buf.length ? buf : buf.subarray(0, want), at + done);
      if (isErrno(n)) {
        if (done === 0) return n;
        break;
      }
      if (n > 0) put(n === buf.length ? buf : buf.subarray(0, n), done);
      done += n;
      if (n < want) break;
    }
    if (offset === null) this.pos += done;
    return done;
  }

  /** With O_APPEND (at open or set since), at the size the host reports now. */
  override writeFrom(len: number, offset: number | null, get: (dst: Uint8Array, pos: number) => void): number | Errno {
    const fd = this.fd();
    if (isErrno(fd)) return fd;
    let at = offset ?? this.pos;
    if (offset === null && this.flags & O_APPEND) {
      const st = fstat(fd);
      if (isErrno(st)) return st;
      at = Number(st.size);
    }
    const buf = scratchFor(len);
    let done = 0;
    while (done < len) {
      const want = Math.min(len - done, buf.length);
      const chunk = want === buf.length ? buf : buf.subarray(0, want);
      get(chunk, done);
      const n = pwriteFd(fd, chunk, at + done);
      if (isErrno(n)) {
        if (done === 0) return n;
        break;
      }
      done += n;
      if (n < want) break;
    }
    this.mount.changed();
    if (offset === null) this.pos = at + done;
    return done;
  }

  override pread(len: number, offset: number): MaybeAsync<Uint8Array | Errno> {
    return this.readCopy(len, offset);
  }

  override read(len: number): MaybeAsync<Uint8Array | Errno> {
    return this.readCopy(len, null);
  }

  /** readTo into a new array of its own (read, pread). */
  private readCopy(len: number, offset: number | null): Uint8Array | Errno {
    const out = new Uint8Array(len);
    const n = this.readTo(len, offset, (bytes, pos) => out.set(bytes, pos));
    return isErrno(n) ? n : out.subarray(0, n);
  }

  override pwrite(data: Uint8Array, offset: number): MaybeAsync<number | Errno> {
    return this.writeFrom(data.length, offset, (dst, pos) => dst.set(data.subarray(pos, pos + dst.length)));
  }

  override write(data: Uint8Array): MaybeAsync<number | Errno> {
    return this.writeFrom(data.length, null, (dst, pos) => dst.set(data.subarray(pos, pos + dst.length)));
  }
}
