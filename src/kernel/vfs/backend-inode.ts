// Inodes of a FilesystemBackend (the rootfs in direct mode, a gofer later),
// and the File they open.

import { EISDIR, EINVAL, ENXIO, EOVERFLOW, EPERM, EXDEV, Errno, isErrno } from '../../linux/errno.js';
import { O_DIRECTORY, O_TRUNC, O_APPEND, S_IFDIR, S_IFIFO, S_IFMT, S_IFREG, S_IFSOCK, SEEK_CUR, SEEK_END, SEEK_SET, SEEK_DATA, SEEK_HOLE, O_ACCMODE, O_RDONLY, O_CREAT, O_EXCL, O_WRONLY, AT_REMOVEDIR } from '../../linux/abi.js';
import { File, type MaybeAsync } from '../files/file.js';
import { Fifo } from '../files/pipe.js';
import { namedPipeOpen } from './named-pipe.js';
import { Credentials, Inode, type FdInodeOps, type NewOwner, type OpenContext } from './inode.js';
import type { Attr, BackendFile, BackendNode, DirEntry, FilesystemBackend, SetAttr, StatFs } from '../../backend/backend.js';

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

export class BackendInode extends Inode {
  readonly type: number;

  constructor(
    readonly fs: FilesystemBackend,
    readonly node: BackendNode,
  ) {
    super();
    this.type = node.type & S_IFMT;
  }

  getattr(): Promise<Attr | Errno> {
    return this.fs.getattr(this.node);
  }

  override async lookup(name: string): Promise<Inode | Errno> {
    const n = await this.fs.walk(this.node, name);
    return isErrno(n) ? n : new BackendInode(this.fs, n);
  }

  override readlink(): Promise<string | Errno> {
    return this.fs.readlink(this.node);
  }

  async open(flags: number, path: string, ctx?: OpenContext): Promise<File | Errno> {
    if (this.type === S_IFDIR && (flags & O_ACCMODE) !== O_RDONLY) return EISDIR;
    if (this.type === S_IFIFO) {
      const a = await this.getattr();
      if (isErrno(a)) return a;
      return namedPipeOpen(fifoOf(this.fs, a), this, flags, path, ctx);
    }
    if (this.type !== S_IFDIR && this.type !== S_IFREG) return ENXIO;
    const f = await this.fs.open(this.node, flags & ~O_DIRECTORY);
    if (isErrno(f)) return f;
    return new BackendOpenFile(f, flags, path, this.type);
  }

  override async create(name: string, flags: number, mode: number, cred: Credentials, path: string): Promise<File | Errno> {
    const r = await this.fs.create(this.node, name, flags, mode, cred.uid, cred.gid);
    if (isErrno(r)) return r;
    void this.fs.release(r.node);
    return new BackendOpenFile(r.file, flags & ~O_TRUNC, path, S_IFREG);
  }

  override mkdir(name: string, perm: number, owner: NewOwner): Promise<0 | Errno> {
    return this.fs.mkdir(this.node, name, perm, owner.uid, owner.gid);
  }

  /** Regular files are created and closed; FIFOs and sockets get a host FIFO or socket file as their name (the pipe or socket itself is the sandbox's). */
  override async mknod(name: string, mode: number, _rdev: bigint, owner: NewOwner): Promise<0 | Errno> {
    const type = mode & S_IFMT;
    if (type === S_IFREG) {
      const r = await this.fs.create(this.node, name, O_WRONLY | O_CREAT | O_EXCL, mode & 0o7777, owner.uid, owner.gid);
      if (isErrno(r)) return r;
      await r.file.close();
      await this.fs.release(r.node);
      return 0;
    }
    if (type === S_IFIFO) return this.fs.mkfifo(this.node, name, mode & 0o7777, owner.uid, owner.gid);
    if (type === S_IFSOCK) return this.fs.mksocket(this.node, name, mode & 0o7777, owner.uid, owner.gid);
    return EPERM;
  }

  override symlink(name: string, target: string, owner: NewOwner): Promise<0 | Errno> {
    return this.fs.symlink(this.node, name, target, owner.uid, owner.gid);
  }

  override async link(name: string, target: Inode): Promise<0 | Errno> {
    if (!(target instanceof BackendInode) || target.fs !== this.fs) return EXDEV;
    return this.fs.link(this.node, name, target.node);
  }

  override unlink(name: string, dir: boolean): Promise<0 | Errno> {
    return this.fs.unlink(this.node, name, dir ? AT_REMOVEDIR : 0);
  }

  override async rename(oldName: string, newDir: Inode, newName: string, flags: number): Promise<0 | Errno> {
    if (!(newDir instanceof BackendInode) || newDir.fs !== this.fs) return EXDEV;
    return this.fs.rename(this.node, oldName, newDir.node, newName, flags);
  }

  override setattr(set: SetAttr): Promise<0 | Errno> {
    return this.fs.setattr(this.node, set);
  }

  override statfs(): Promise<StatFs | Errno> {
    return this.fs.statfs(this.node);
  }

  override get readonlyFs(): boolean {
    return this.fs.readonly;
  }

  override release(): void {
    void this.fs.release(this.node);
  }
}

/** An open regular file or directory of a backend, with its own position. */
export class BackendOpenFile extends File implements FdInodeOps {
  private pos = 0;
  /** Directory entries fetched but not yet returned by readdir. */
  private dirCookie = 0;

  constructor(
    private readonly file: BackendFile,
    flags: number,
    path: string,
    private readonly type: number,
  ) {
    super(flags, path);
  }

  override async read(len: number): Promise<Uint8Array | Errno> {
    if (this.type === S_IFDIR) return EISDIR;
    const r = await this.pread(len, this.pos);
    if (!isErrno(r)) this.pos += r.length;
    return r;
  }

  override async pread(len: number, offset: number): Promise<Uint8Array | Errno> {
    if (this.type === S_IFDIR) return EISDIR;
    const buf = new Uint8Array(len);
    const n = await this.file.read(buf, offset);
    return isErrno(n) ? n : buf.subarray(0, n);
  }

  override async write(data: Uint8Array): Promise<number | Errno> {
    if (this.flags & O_APPEND) {
      const a = await this.file.getattr();
      if (isErrno(a)) return a;
      this.pos = a.size;
    }
    const n = await this.file.write(data, this.pos);
    if (!isErrno(n)) this.pos += n;
    return n;
  }

  override pwrite(data: Uint8Array, offset: number): Promise<number | Errno> {
    return this.file.write(data, offset);
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

  override fsync(): MaybeAsync<0 | Errno> {
    return this.file.fsync();
  }

  fdSetattr(set: SetAttr): Promise<0 | Errno> {
    return this.file.setattr(set);
  }

  fdAllocate(offset: number, len: number): Promise<0 | Errno> {
    if (this.type === S_IFDIR) return Promise.resolve(EISDIR);
    return this.file.allocate(offset, len);
  }

  protected override release(): Promise<void> {
    return this.file.close();
  }
}
