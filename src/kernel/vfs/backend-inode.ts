// Inodes of a FilesystemBackend (the rootfs in direct mode, a gofer later),
// and the File they open.

import { EISDIR, EINVAL, ENXIO, EOVERFLOW, Errno, isErrno } from '../errno.js';
import { O_DIRECTORY, O_TRUNC, O_APPEND, S_IFDIR, S_IFMT, S_IFREG, SEEK_CUR, SEEK_END, SEEK_SET, SEEK_DATA, SEEK_HOLE, O_ACCMODE, O_RDONLY } from '../abi.js';
import { File, type MaybeAsync } from '../files/file.js';
import { Credentials, Inode } from './inode.js';
import type { Attr, BackendFile, BackendNode, DirEntry, FilesystemBackend } from './backend.js';

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

  async open(flags: number, path: string): Promise<File | Errno> {
    if (this.type === S_IFDIR && (flags & O_ACCMODE) !== O_RDONLY) return EISDIR;
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

  override release(): void {
    void this.fs.release(this.node);
  }
}

/** An open regular file or directory of a backend, with its own position. */
export class BackendOpenFile extends File {
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

  protected override release(): Promise<void> {
    return this.file.close();
  }
}
