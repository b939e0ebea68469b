// The interface between the kernel's VFS and one mounted filesystem whose
// files live outside the sandbox: the bundle's rootfs in direct mode, or a 9P
// connection to a gofer (the same shape as 9P2000.L's fids, so a 9P client can
// implement it unchanged).
//
// Contract:
// - The VFS resolves paths itself, one component at a time: it follows
//   symlinks in the guest's namespace, handles `.` and `..` (never above the
//   mount's root) and crosses mount points. A backend therefore only ever sees
//   single names (no `/`, never `.` or `..`) and never follows a symlink on the
//   host for a walk: a name that is a symlink yields a node of type symlink.
//   This is what keeps every access inside the backend's root. checkName()
//   below is that rule for names: every backend applies it before a name
//   reaches its filesystem.
// - Every operation is asynchronous (a gofer call is a round trip) and returns
//   a value or an Errno (Linux's code, as 9P2000.L's Rlerror carries it); none
//   throws for a failed operation.
// - A node is a reference to one file (like a 9P fid): it stays valid, and
//   keeps naming the same file, until release().
// - A backend caches nothing the host could change (attributes, names): the
//   VFS caches, and knows whether the host may change the files too.

import { NAME_MAX, type Statfs } from '../linux/abi.js';
import { EINVAL, ENAMETOOLONG, ENOENT, type Errno } from '../linux/errno.js';

/**
 * The one name rule of this contract: a name a backend may pass on for one
 * directory is never empty (ENOENT, as Linux for ""), never "." or ".."
 * (EINVAL: the VFS resolves those), holds no "/" or NUL (EINVAL), and is at
 * most NAME_MAX bytes of UTF-8 (ENAMETOOLONG). Undefined when it may.
 */
export function checkName(name: string): Errno | undefined {
  if (typeof name !== 'string' || name.length === 0) return ENOENT;
  if (name === '.' || name === '..') return EINVAL;
  if (name.includes('/') || name.includes('\0')) return EINVAL;
  if (Buffer.byteLength(name, 'utf8') > NAME_MAX) return ENAMETOOLONG;
  return undefined;
}

/** File attributes as Linux's struct stat reports them. */
export interface Attr {
  /** st_mode: S_IFMT type bits and permission bits. */
  mode: number;
  ino: bigint;
  /** Device number the backend reports; the VFS substitutes its own. */
  dev: bigint;
  nlink: number;
  uid: number;
  gid: number;
  rdev: bigint;
  size: number;
  blksize: number;
  blocks: number;
  atimeSec: number;
  atimeNsec: number;
  mtimeSec: number;
  mtimeNsec: number;
  ctimeSec: number;
  ctimeNsec: number;
}

export interface DirEntry {
  name: string;
  ino: bigint;
  /** d_type: DT_REG, DT_DIR, DT_LNK... (Linux's values). */
  type: number;
  /** Opaque cookie to pass to readdir to continue after this entry. */
  next: number;
}

export interface BackendNode {
  /** S_IFMT bits of this file's mode, fixed for the node's life. */
  readonly type: number;
  /**
   * The file's attributes as the walk (or root()) found them, when the
   * backend fetched them anyway: a snapshot, never updated. The VFS takes it
   * as the first getattr's answer rather than asking again; getattr() always
   * asks the filesystem (caching is the VFS's, by its file-access mode).
   */
  readonly attr?: Attr;
}

/** An open file of a backend (like an lopen'ed fid). */
export interface BackendFile {
  /**
   * Present when the file is a host fd its holder may pread and pwrite itself
   * (DirectBackend's files, which the gofer's I/O pool uses; a 9P file whose
   * fd the gofer donated, which the kernel reads and writes without a round
   * trip or a wait); -1 once closed. The file still owns the fd: the holder
   * never closes it, and never uses it after close() (the gofer waits for its
   * I/O before closing).
   */
  readonly hostFd?: number;
  /** pread: reads at most dst.length bytes at `offset`; 0 at end of file. */
  read(dst: Uint8Array, offset: number): Promise<number | Errno>;
  /** pwrite: writes src at `offset`, returns the count written. */
  write(src: Uint8Array, offset: number): Promise<number | Errno>;
  /** Entries from cookie `cookie` (0: the start), at most about `maxBytes` of them. */
  readdir(cookie: number, maxBytes: number): Promise<DirEntry[] | Errno>;
  getattr(): Promise<Attr | Errno>;
  /** fchmod/fchown/ftruncate/futimens on the open file itself (it works after an unlink). */
  setattr(set: SetAttr): Promise<0 | Errno>;
  /** fallocate(2) mode 0 (allocate, growing the size) of [offset, offset+len). */
  allocate(offset: number, len: number): Promise<0 | Errno>;
  /** fsync (or fdatasync with `dataOnly`). */
  fsync(dataOnly?: boolean): Promise<0 | Errno>;
  /** Lets go of the file; synchronous where nothing waits on the host (a share of a kept handle, src/kernel/vfs/backend-handle.ts), so close(2) of it does not block. */
  close(): void | Promise<void>;
}

/**
 * statfs(2)'s answer as a backend reports it to the VFS: Linux's struct statfs
 * (src/linux), with f_frsize (default: bsize) and f_flags (default 0)
 * optional, since a 9P server sends neither. The host's fstatfs result is one.
 */
export type StatFs = Omit<Statfs, 'frsize' | 'flags'> & Partial<Pick<Statfs, 'frsize' | 'flags'>>;

export interface FilesystemBackend {
  readonly readonly: boolean;
  root(): Promise<BackendNode | Errno>;
  /** The child `name` of directory `dir` (ENOENT, ENOTDIR as Linux). */
  walk(dir: BackendNode, name: string): Promise<BackendNode | Errno>;
  getattr(node: BackendNode): Promise<Attr | Errno>;
  readlink(node: BackendNode): Promise<string | Errno>;
  /** Open with Linux O_* access and status flags (O_CREAT/O_EXCL are the VFS's business). */
  open(node: BackendNode, flags: number): Promise<BackendFile | Errno>;
  /** Create and open a regular file `name` in `dir` (O_EXCL semantics: EEXIST if present). */
  create(dir: BackendNode, name: string, flags: number, mode: number, uid: number, gid: number): Promise<{ node: BackendNode; file: BackendFile } | Errno>;
  mkdir(dir: BackendNode, name: string, mode: number, uid: number, gid: number): Promise<0 | Errno>;
  symlink(dir: BackendNode, name: string, target: string, uid: number, gid: number): Promise<0 | Errno>;
  /** A FIFO named `name` (mknod S_IFIFO); the kernel serves its pipe, the backend only keeps the name. */
  mkfifo(dir: BackendNode, name: string, mode: number, uid: number, gid: number): Promise<0 | Errno>;
  /**
   * A socket file named `name` (mknod S_IFSOCK, as bind() of a Unix socket
   * makes): the kernel keeps the socket and binds it to this name's inode;
   * on the host it is an inert socket file that nothing listens on.
   */
  mksocket(dir: BackendNode, name: string, mode: number, uid: number, gid: number): Promise<0 | Errno>;
  link(dir: BackendNode, name: string, target: BackendNode): Promise<0 | Errno>;
  /** flags: 0 or AT_REMOVEDIR. */
  unlink(dir: BackendNode, name: string, flags: number): Promise<0 | Errno>;
  /** renameat2; `flags`: 0, RENAME_NOREPLACE or RENAME_EXCHANGE (Linux's values). */
  rename(oldDir: BackendNode, oldName: string, newDir: BackendNode, newName: string, flags?: number): Promise<0 | Errno>;
  /** Change attributes: any of mode, uid, gid, size, atime, mtime (times as [sec, nsec]). */
  setattr(node: BackendNode, set: SetAttr): Promise<0 | Errno>;
  statfs(node: BackendNode): Promise<StatFs | Errno>;
  release(node: BackendNode): Promise<void>;
}

export interface SetAttr {
  mode?: number;
  uid?: number;
  gid?: number;
  size?: number;
  atime?: [number, number] | 'now';
  mtime?: [number, number] | 'now';
}
