// Backend files shared by the open files of one inode (gVisor's dentry
// handles): BackendInode opens a regular file once per access mode and hands
// every later open of that mode a view of the same backend file. Reads and
// writes are positional, so the open files' own positions stay theirs; a view
// closing only lets go of the handle, which its inode closes once unused and
// no longer cached (BackendInode.drop, release).

import { O_APPEND, O_DIRECT, O_SYNC, O_TRUNC } from '../../linux/abi.js';
import type { Errno } from '../../linux/errno.js';
import type { Attr, BackendFile, DirEntry, SetAttr } from '../../backend/backend.js';

/** Open flags that get a backend file of their own rather than the inode's shared handle (the host must see them). */
export const PRIVATE_OPEN = O_APPEND | O_TRUNC | O_SYNC | O_DIRECT;

/** One backend file shared by the open files of an inode (see BackendInode.openShared). */
export class SharedHandle {
  /** Open files using it now. */
  users = 0;

  constructor(
    readonly file: BackendFile,
    private readonly idle: () => void,
  ) {}

  /** A BackendFile for one more open file: everything goes to the shared file but close, which only lets go of it. */
  share(): BackendFile {
    this.users++;
    return new SharedFile(this);
  }

  /** @internal: one of share()'s files closed. */
  unshare(): void {
    if (--this.users === 0) this.idle();
  }
}

/** One open file's view of a SharedHandle. */
class SharedFile implements BackendFile {
  private closed = false;
  private readonly f: BackendFile;

  constructor(private readonly h: SharedHandle) {
    this.f = h.file;
  }

  get hostFd(): number | undefined {
    return this.f.hostFd;
  }

  read(dst: Uint8Array, offset: number): Promise<number | Errno> {
    return this.f.read(dst, offset);
  }

  write(src: Uint8Array, offset: number): Promise<number | Errno> {
    return this.f.write(src, offset);
  }

  readNow(dst: Uint8Array, offset: number): number | Errno | undefined {
    return this.f.readNow?.(dst, offset);
  }

  writeNow(src: Uint8Array, offset: number): number | Errno | undefined {
    return this.f.writeNow?.(src, offset);
  }

  readdir(cookie: number, maxBytes: number): Promise<DirEntry[] | Errno> {
    return this.f.readdir(cookie, maxBytes);
  }

  getattr(): Promise<Attr | Errno> {
    return this.f.getattr();
  }

  setattr(set: SetAttr): Promise<0 | Errno> {
    return this.f.setattr(set);
  }

  allocate(offset: number, len: number): Promise<0 | Errno> {
    return this.f.allocate(offset, len);
  }

  fsync(dataOnly?: boolean): Promise<0 | Errno> {
    return this.f.fsync(dataOnly);
  }

  /** Synchronous: a close of one share is no backend call (the handle is closed when the inode lets it go). */
  close(): void {
    if (this.closed) return;
    this.closed = true;
    this.h.unshare();
  }
}
