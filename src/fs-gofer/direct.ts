// The direct-mode filesystem backend: the sandbox's kernel reaches a host
// directory (the bundle's rootfs, or a bind mount's source, which may also be
// a single regular file) itself, with no
// gofer process in between. The gofer serves these same operations over 9P
// (./server.ts); the security contract is the same and is written in
// ./README.md. This file holds the nodes (walking, creating, changing names
// and attributes); the open file is ./direct-file.ts.
//
// Model: every BackendNode owns one host O_PATH fd, opened relative to its
// parent's fd for exactly one name, never following a symlink. No operation
// takes a host path; each names a node's fd, or a node's fd plus one checked
// name. Reopening a node for I/O goes through /proc/self/fd/N of its own fd, so
// it reaches the very inode that was walked to, whatever the directory holds
// by then.
//
// Everything runs synchronously inside and returns resolved Promises; the
// gofer runs large reads and writes on its I/O pool through BackendFile.hostFd.

import * as fs from 'node:fs';
import * as ffi from '../host/ffi.js';
import { AT_REMOVEDIR, O_ACCMODE, O_APPEND, O_DIRECTORY, O_DSYNC, O_RDONLY, O_SYNC, O_TRUNC, PATH_MAX, PROC_SUPER_MAGIC, RENAME_EXCHANGE, RENAME_NOREPLACE, S_IFBLK, S_IFCHR, S_IFDIR, S_IFIFO, S_IFLNK, S_IFMT, S_IFREG, S_IFSOCK, ST_RDONLY } from '../linux/abi.js';
import { EBADF, EINVAL, EISDIR, ELOOP, ENAMETOOLONG, ENOENT, ENOSYS, ENOTDIR, EOPNOTSUPP, EPERM, EROFS, Errno, ESTALE } from '../linux/errno.js';
import { checkName, type Attr, type BackendFile, type BackendNode, type FilesystemBackend, type SetAttr, type StatFs } from '../backend/backend.js';
import { DirectFile } from './direct-file.js';
import { fsErrno, fstat, neg, toAttr } from './direct-host.js';

// Open flags, file types, AT_REMOVEDIR, RENAME_* and ST_RDONLY above are the
// guest's (Linux riscv64 = asm-generic) values, from src/linux/abi.ts; the
// host's open flags are ffi.HOST.

const H = ffi.HOST;
/** Each walk step: one name, below the directory fd, no symlink of any kind. */
const WALK_RESOLVE = ffi.RESOLVE_BENEATH | ffi.RESOLVE_NO_SYMLINKS | ffi.RESOLVE_NO_MAGICLINKS;
const ENOSYS_NEG = -ENOSYS.code;

/** The process umask, read without changing it; undefined if unknown. */
function readUmask(): number | undefined {
  try {
    const m = /^Umask:\s*([0-7]+)$/m.exec(fs.readFileSync('/proc/self/status', 'utf8'));
    return m ? parseInt(m[1], 8) : undefined;
  } catch {
    return undefined;
  }
}

/** A node: one host O_PATH fd naming one file, owned by one backend. */
class DirectNode implements BackendNode {
  constructor(
    readonly owner: DirectBackend,
    /** Host O_PATH fd; -1 once released. */
    public fd: number,
    readonly type: number,
    readonly dev: bigint,
    readonly ino: bigint,
    /** As the walk's fstat found them. */
    readonly attr?: Attr,
  ) {}
}

/**
 * The result of giving a created file the guest's owner: EINVAL (an id this
 * user namespace does not map, rootless) leaves the file the caller's and is
 * success; any other failure stays one.
 */
function chownResult(r: number): number {
  return r === -EINVAL.code ? 0 : r;
}

/** Guest open flags (asm-generic) that pass to the host, translated. */
function hostStatusFlags(flags: number): number {
  let h = flags & O_ACCMODE;
  if (flags & O_TRUNC) h |= H.O_TRUNC;
  if (flags & O_APPEND) h |= H.O_APPEND;
  if ((flags & O_SYNC) === O_SYNC) h |= H.O_SYNC;
  else if (flags & O_DSYNC) h |= H.O_DSYNC;
  // Never O_DIRECT (Node's buffers are not aligned), O_NOATIME (an owner
  // check on host ids that mean nothing to the guest), O_PATH, O_TMPFILE,
  // O_CREAT/O_EXCL (create() does those): the rest is dropped.
  return h | H.O_CLOEXEC | H.O_NOCTTY;
}

export class DirectBackend implements FilesystemBackend {
  private closed = false;
  private readonly nodes = new Set<DirectNode>();
  private readonly files = new Set<DirectFile>();
  private readonly umask: number | undefined;
  /**
   * Give created files the guest's owner (only root may). In a user
   * namespace that maps only the caller to root (rootless: `unshare
   * --map-root-user`), an owner with no host id is EINVAL: the file then
   * keeps the host user, shown as root (`chownResult`).
   */
  private readonly chownCreated: boolean;
  private useOpenat2 = true;

  private constructor(
    readonly readonly: boolean,
    /** O_PATH fd of the root: a directory, or a regular file (a file bind mount's source). */
    private readonly rootFd: number,
    /** S_IFDIR or S_IFREG: what the root is. */
    readonly rootType: number,
    readonly rootDev: bigint,
    readonly rootIno: bigint,
    /** O_PATH fd of /proc/self/fd (checked to be procfs), for reopening nodes. */
    private readonly procFd: number,
  ) {
    this.umask = readUmask();
    this.chownCreated = typeof process.geteuid === 'function' && process.geteuid() === 0;
  }

  /**
   * Opens `rootPath` (a host path chosen by the operator; symlinks in it are
   * followed once, here) as a backend's root: a directory, or with
   * `fileRoot` also a regular file (the source of a bind mount of one file,
   * which then has no names below it: a walk from it is ENOTDIR). Throws an
   * Error if it is neither (devices, fifos, sockets never are roots), or if
   * /proc is not there to reopen files through.
   */
  static open(rootPath: string, opts: { readonly: boolean; fileRoot?: boolean }): DirectBackend {
    if (!ffi.HOST_OFLAGS_KNOWN) throw new Error(`direct backend: open(2) flag values of host architecture ${process.arch} are not known`);
    if (rootPath.includes('\0')) throw new Error(`direct backend: bad root path ${JSON.stringify(rootPath)}`);
    const what = opts.fileRoot ? 'a directory or regular file' : 'a directory';
    const rootFd = ffi.openat(ffi.AT_FDCWD, rootPath, H.O_PATH | (opts.fileRoot ? 0 : H.O_DIRECTORY) | H.O_CLOEXEC);
    if (rootFd < 0) {
      const why = neg(rootFd).name;
      throw new Error(`direct backend: root ${rootPath} is not ${what} we can open (${why})`);
    }
    const st = fstat(rootFd);
    const type = st instanceof Errno ? 0 : Number(st.mode) & S_IFMT;
    if (st instanceof Errno || !(type === S_IFDIR || (opts.fileRoot && type === S_IFREG))) {
      ffi.closeFd(rootFd);
      throw new Error(`direct backend: root ${rootPath} is not ${what}`);
    }
    const procFd = ffi.openat(ffi.AT_FDCWD, '/proc/self/fd', H.O_PATH | H.O_DIRECTORY | H.O_CLOEXEC);
    const sfs = procFd >= 0 ? ffi.fstatfs(procFd) : procFd;
    if (procFd < 0 || typeof sfs === 'number' || sfs.type !== PROC_SUPER_MAGIC) {
      if (procFd >= 0) ffi.closeFd(procFd);
      ffi.closeFd(rootFd);
      throw new Error('direct backend: /proc/self/fd is not procfs; it is needed to reopen files safely');
    }
    return new DirectBackend(opts.readonly, rootFd, type, st.dev, st.ino, procFd);
  }

  /** Releases every host fd: nodes, open files, the root. Idempotent. */
  close(): void {
    if (this.closed) return;
    this.closed = true;
    for (const f of this.files) f.closeNow();
    this.files.clear();
    for (const n of this.nodes) {
      ffi.closeFd(n.fd);
      n.fd = -1;
    }
    this.nodes.clear();
    ffi.closeFd(this.rootFd);
    ffi.closeFd(this.procFd);
  }

  // ---- helpers ----

  /** The live DirectNode behind `n`, or EBADF (released, closed, or another backend's). */
  private own(n: BackendNode): DirectNode | Errno {
    if (this.closed || !(n instanceof DirectNode) || n.owner !== this || n.fd < 0) return EBADF;
    return n;
  }

  private ownDir(n: BackendNode): DirectNode | Errno {
    const d = this.own(n);
    if (d instanceof Errno) return d;
    return d.type === S_IFDIR ? d : ENOTDIR;
  }

  private adopt(fd: number): DirectNode | Errno {
    const st = fstat(fd);
    if (st instanceof Errno) {
      ffi.closeFd(fd);
      return st;
    }
    const node = new DirectNode(this, fd, Number(st.mode) & S_IFMT, st.dev, st.ino, toAttr(st));
    this.nodes.add(node);
    return node;
  }

  /** O_PATH|O_NOFOLLOW open of one checked name below `dir`: never follows any link. */
  private openPath(dir: DirectNode, name: string, extra = 0): number {
    const flags = H.O_PATH | H.O_NOFOLLOW | H.O_CLOEXEC | extra;
    if (this.useOpenat2) {
      const r = ffi.openat2(dir.fd, name, flags, 0, WALK_RESOLVE);
      if (r !== ENOSYS_NEG) return r;
      this.useOpenat2 = false; // old kernel: a single name with O_NOFOLLOW is the same.
    }
    return ffi.openat(dir.fd, name, flags);
  }

  /**
   * A new fd with `hostFlags` for the inode `node` names, through
   * /proc/self/fd/N of its own O_PATH fd: the same inode it was walked to,
   * never whatever the parent directory holds under that name now. Checked
   * against the node's device and inode numbers.
   */
  private reopen(node: DirectNode, hostFlags: number): number | Errno {
    const fd = ffi.openat(this.procFd, String(node.fd), hostFlags | H.O_CLOEXEC | H.O_NOCTTY);
    if (fd < 0) return neg(fd);
    const st = fstat(fd);
    if (st instanceof Errno || st.dev !== node.dev || st.ino !== node.ino) {
      ffi.closeFd(fd);
      return st instanceof Errno ? st : ESTALE;
    }
    return fd;
  }

  private trackFile(f: DirectFile): DirectFile {
    this.files.add(f);
    return f;
  }

  /** @internal: a DirectFile closed itself. */
  forgetFile(f: DirectFile): void {
    this.files.delete(f);
  }

  // ---- FilesystemBackend ----

  root(): Promise<BackendNode | Errno> {
    if (this.closed) return Promise.resolve(EBADF);
    const fd = ffi.dupCloexec(this.rootFd);
    if (fd < 0) return Promise.resolve(neg(fd));
    const node = new DirectNode(this, fd, this.rootType, this.rootDev, this.rootIno);
    this.nodes.add(node);
    return Promise.resolve(node);
  }

  walk(dir: BackendNode, name: string): Promise<BackendNode | Errno> {
    const d = this.ownDir(dir);
    if (d instanceof Errno) return Promise.resolve(d);
    const bad = checkName(name);
    if (bad) return Promise.resolve(bad);
    const fd = this.openPath(d, name);
    if (fd < 0) return Promise.resolve(neg(fd));
    return Promise.resolve(this.adopt(fd));
  }

  getattr(node: BackendNode): Promise<Attr | Errno> {
    const n = this.own(node);
    if (n instanceof Errno) return Promise.resolve(n);
    const st = fstat(n.fd);
    return Promise.resolve(st instanceof Errno ? st : toAttr(st));
  }

  readlink(node: BackendNode): Promise<string | Errno> {
    const n = this.own(node);
    if (n instanceof Errno) return Promise.resolve(n);
    if (n.type !== S_IFLNK) return Promise.resolve(EINVAL);
    // readlinkat(fd, "") reads the symlink the O_PATH fd itself names.
    const r = ffi.readlinkat(n.fd, '');
    return Promise.resolve(typeof r === 'number' ? neg(r) : r.toString('utf8'));
  }

  open(node: BackendNode, flags: number): Promise<BackendFile | Errno> {
    return Promise.resolve(this.openSync(node, flags));
  }

  private openSync(node: BackendNode, flags: number): BackendFile | Errno {
    const n = this.own(node);
    if (n instanceof Errno) return n;
    const acc = flags & O_ACCMODE;
    if (acc === O_ACCMODE) return EINVAL;
    const writes = acc !== O_RDONLY || (flags & O_TRUNC) !== 0;
    switch (n.type) {
      case S_IFREG:
        if (flags & O_DIRECTORY) return ENOTDIR;
        break;
      case S_IFDIR:
        if (writes) return EISDIR;
        break;
      case S_IFLNK:
        // The VFS follows symlinks; opening one itself is open(O_NOFOLLOW)'s ELOOP.
        return ELOOP;
      case S_IFCHR:
      case S_IFBLK:
      case S_IFIFO:
      case S_IFSOCK:
      default:
        // Host devices, fifos and sockets are never opened (runsc's gofer: EPERM).
        return EPERM;
    }
    if (writes && this.readonly) return EROFS;
    const hostFlags = hostStatusFlags(flags) | (n.type === S_IFDIR ? H.O_DIRECTORY : 0);
    const fd = this.reopen(n, hostFlags);
    if (fd instanceof Errno) return fd;
    return this.trackFile(new DirectFile(this, fd, n.type, n.type === S_IFDIR && n.dev === this.rootDev && n.ino === this.rootIno));
  }

  create(dir: BackendNode, name: string, flags: number, mode: number, uid: number, gid: number): Promise<{ node: BackendNode; file: BackendFile } | Errno> {
    return Promise.resolve(this.createSync(dir, name, flags, mode, uid, gid));
  }

  private createSync(dir: BackendNode, name: string, flags: number, mode: number, uid: number, gid: number): { node: BackendNode; file: BackendFile } | Errno {
    const d = this.ownDir(dir);
    if (d instanceof Errno) return d;
    const bad = checkName(name);
    if (bad) return bad;
    if (this.readonly) return EROFS;
    if ((flags & O_ACCMODE) === O_ACCMODE) return EINVAL;
    const perm = mode & 0o7777;
    // O_EXCL|O_NOFOLLOW: fails on any existing name, a dangling symlink included.
    const hostFlags = hostStatusFlags(flags) | H.O_CREAT | H.O_EXCL | H.O_NOFOLLOW;
    const fd = ffi.openat(d.fd, name, hostFlags, perm);
    if (fd < 0) return neg(fd);
    // From here on, work on the new fd itself: the name may already be swapped.
    const fail = (e: Errno): Errno => {
      ffi.closeFd(fd);
      return e;
    };
    if (this.chownCreated) {
      const c = chownResult(ffi.fchownat(fd, '', uid, gid, ffi.AT_EMPTY_PATH));
      if (c < 0) return fail(neg(c));
    }
    try {
      // chown may clear set-id bits, and the host umask may have cut some: set the mode last.
      if (this.chownCreated || this.umask === undefined || (perm & this.umask) !== 0 || (perm & 0o7000) !== 0) fs.fchmodSync(fd, perm);
    } catch (e) {
      return fail(fsErrno(e));
    }
    const pfd = ffi.openat(this.procFd, String(fd), H.O_PATH | H.O_CLOEXEC);
    if (pfd < 0) return fail(neg(pfd));
    const node = this.adopt(pfd);
    if (node instanceof Errno) return fail(node);
    const file = this.trackFile(new DirectFile(this, fd, S_IFREG, false));
    return { node, file };
  }

  mkdir(dir: BackendNode, name: string, mode: number, uid: number, gid: number): Promise<0 | Errno> {
    return Promise.resolve(this.makeNamed(dir, name, mode, uid, gid, S_IFDIR));
  }

  mkfifo(dir: BackendNode, name: string, mode: number, uid: number, gid: number): Promise<0 | Errno> {
    return Promise.resolve(this.makeNamed(dir, name, mode, uid, gid, S_IFIFO));
  }

  mksocket(dir: BackendNode, name: string, mode: number, uid: number, gid: number): Promise<0 | Errno> {
    return Promise.resolve(this.makeNamed(dir, name, mode, uid, gid, S_IFSOCK));
  }

  /** mkdir or mknod(S_IFIFO or S_IFSOCK) of `name`, then the guest's owner and exact mode. */
  private makeNamed(dir: BackendNode, name: string, mode: number, uid: number, gid: number, type: typeof S_IFDIR | typeof S_IFIFO | typeof S_IFSOCK): 0 | Errno {
    const d = this.ownDir(dir);
    if (d instanceof Errno) return d;
    const bad = checkName(name);
    if (bad) return bad;
    if (this.readonly) return EROFS;
    const perm = mode & 0o7777;
    const r = type === S_IFDIR ? ffi.mkdirat(d.fd, name, perm) : ffi.mknodat(d.fd, name, type | perm, 0n);
    if (r < 0) return neg(r);
    const fixMode = this.umask === undefined || (perm & this.umask) !== 0 || (perm & 0o7000) !== 0;
    if (!this.chownCreated && !fixMode) return 0;
    // Fix owner and mode through an O_PATH fd of the new name (never a
    // symlink: O_NOFOLLOW), checked to be of the type just made. If the
    // guest swapped the name in the meantime this touches its other file of
    // that type, still inside the root.
    const pfd = this.openPath(d, name, type === S_IFDIR ? H.O_DIRECTORY : 0);
    if (pfd < 0) return neg(pfd);
    const st = fstat(pfd);
    let res = st instanceof Errno ? -st.code : (Number(st.mode) & S_IFMT) === type ? 0 : -ESTALE.code;
    if (res >= 0 && this.chownCreated) res = chownResult(ffi.fchownat(pfd, '', uid, gid, ffi.AT_EMPTY_PATH | ffi.AT_SYMLINK_NOFOLLOW));
    if (res >= 0) res = ffi.fchmodat(this.procFd, String(pfd), perm, 0);
    ffi.closeFd(pfd);
    return res < 0 ? neg(res) : 0;
  }

  symlink(dir: BackendNode, name: string, target: string, uid: number, gid: number): Promise<0 | Errno> {
    const d = this.ownDir(dir);
    if (d instanceof Errno) return Promise.resolve(d);
    const bad = checkName(name);
    if (bad) return Promise.resolve(bad);
    if (this.readonly) return Promise.resolve(EROFS);
    // The target is only text: it is resolved later, by the VFS, in the guest's namespace.
    if (typeof target !== 'string' || target.length === 0) return Promise.resolve(ENOENT);
    if (target.includes('\0')) return Promise.resolve(EINVAL);
    // PATH_MAX counts the NUL: the longest target Linux accepts is one byte less.
    if (Buffer.byteLength(target, 'utf8') >= PATH_MAX) return Promise.resolve(ENAMETOOLONG);
    const r = ffi.symlinkat(target, d.fd, name);
    if (r < 0) return Promise.resolve(neg(r));
    if (this.chownCreated) {
      // AT_SYMLINK_NOFOLLOW: changes whatever is at `name`, never a file it points to.
      const c = chownResult(ffi.fchownat(d.fd, name, uid, gid, ffi.AT_SYMLINK_NOFOLLOW));
      if (c < 0) return Promise.resolve(neg(c));
    }
    return Promise.resolve(0);
  }

  link(dir: BackendNode, name: string, target: BackendNode): Promise<0 | Errno> {
    const d = this.ownDir(dir);
    if (d instanceof Errno) return Promise.resolve(d);
    const t = this.own(target);
    if (t instanceof Errno) return Promise.resolve(t);
    const bad = checkName(name);
    if (bad) return Promise.resolve(bad);
    if (this.readonly) return Promise.resolve(EROFS);
    if (t.type === S_IFDIR) return Promise.resolve(EPERM);
    // Link the inode the target node's fd holds (a symlink links as itself).
    let r = ffi.linkat(t.fd, '', d.fd, name, ffi.AT_EMPTY_PATH);
    if (r === -ENOENT.code || r === -EPERM.code) {
      // Without CAP_DAC_READ_SEARCH AT_EMPTY_PATH fails with ENOENT; procfs'
      // magic link names the same inode (linkat(2)), symlinks included.
      r = ffi.linkat(this.procFd, String(t.fd), d.fd, name, ffi.AT_SYMLINK_FOLLOW);
    }
    return Promise.resolve(r < 0 ? neg(r) : 0);
  }

  unlink(dir: BackendNode, name: string, flags: number): Promise<0 | Errno> {
    const d = this.ownDir(dir);
    if (d instanceof Errno) return Promise.resolve(d);
    const bad = checkName(name);
    if (bad) return Promise.resolve(bad);
    if ((flags & ~AT_REMOVEDIR) !== 0) return Promise.resolve(EINVAL);
    if (this.readonly) return Promise.resolve(EROFS);
    const r = ffi.unlinkat(d.fd, name, flags & AT_REMOVEDIR ? ffi.AT_REMOVEDIR : 0);
    return Promise.resolve(r < 0 ? neg(r) : 0);
  }

  rename(oldDir: BackendNode, oldName: string, newDir: BackendNode, newName: string, flags = 0): Promise<0 | Errno> {
    const od = this.ownDir(oldDir);
    if (od instanceof Errno) return Promise.resolve(od);
    const nd = this.ownDir(newDir);
    if (nd instanceof Errno) return Promise.resolve(nd);
    const bad = checkName(oldName) ?? checkName(newName);
    if (bad) return Promise.resolve(bad);
    if ((flags & ~(RENAME_NOREPLACE | RENAME_EXCHANGE)) !== 0 || flags === (RENAME_NOREPLACE | RENAME_EXCHANGE)) return Promise.resolve(EINVAL);
    if (this.readonly) return Promise.resolve(EROFS);
    // Both names are single checked components below directory fds: renameat
    // never follows a symlink in the last component, so a swapped-in link is
    // moved as itself.
    const r = flags === 0 ? ffi.renameat(od.fd, oldName, nd.fd, newName) : ffi.renameat2(od.fd, oldName, nd.fd, newName, flags);
    return Promise.resolve(r < 0 ? neg(r) : 0);
  }

  setattr(node: BackendNode, set: SetAttr): Promise<0 | Errno> {
    return Promise.resolve(this.setattrSync(node, set));
  }

  private setattrSync(node: BackendNode, set: SetAttr): 0 | Errno {
    const n = this.own(node);
    if (n instanceof Errno) return n;
    const any = set.mode !== undefined || set.uid !== undefined || set.gid !== undefined || set.size !== undefined || set.atime !== undefined || set.mtime !== undefined;
    if (!any) return 0;
    if (this.readonly) return EROFS;
    if (set.mode !== undefined && n.type === S_IFLNK) return EOPNOTSUPP; // Linux has no lchmod.
    if (set.size !== undefined) {
      if (n.type === S_IFDIR) return EISDIR;
      if (n.type !== S_IFREG) return EINVAL;
      if (!Number.isSafeInteger(set.size) || set.size < 0) return EINVAL;
    }
    // Owner first: chown may clear set-id bits that a mode in the same call sets.
    if (set.uid !== undefined || set.gid !== undefined) {
      const r = ffi.fchownat(n.fd, '', set.uid ?? -1, set.gid ?? -1, ffi.AT_EMPTY_PATH | ffi.AT_SYMLINK_NOFOLLOW);
      if (r < 0) return neg(r);
    }
    if (set.mode !== undefined) {
      // chmod of /proc/self/fd/N: the node's own inode (never a symlink, refused above).
      const r = ffi.fchmodat(this.procFd, String(n.fd), set.mode & 0o7777, 0);
      if (r < 0) return neg(r);
    }
    if (set.size !== undefined) {
      const wfd = this.reopen(n, H.O_WRONLY);
      if (wfd instanceof Errno) return wfd;
      const r = ffi.ftruncate(wfd, set.size);
      ffi.closeFd(wfd);
      if (r < 0) return neg(r);
    }
    if (set.atime !== undefined || set.mtime !== undefined) {
      const ts = (t: SetAttr['atime']): ffi.TimeSpec => (t === undefined ? 'omit' : t);
      const times: [ffi.TimeSpec, ffi.TimeSpec] = [ts(set.atime), ts(set.mtime)];
      let r = ffi.utimensat(n.fd, '', times, ffi.AT_EMPTY_PATH | ffi.AT_SYMLINK_NOFOLLOW);
      if (r === -EINVAL.code && n.type !== S_IFLNK) {
        // Kernels without AT_EMPTY_PATH for utimensat: through procfs.
        r = ffi.utimensat(this.procFd, String(n.fd), times, 0);
      }
      if (r < 0) return neg(r);
    }
    return 0;
  }

  statfs(node: BackendNode): Promise<StatFs | Errno> {
    const n = this.own(node);
    if (n instanceof Errno) return Promise.resolve(n);
    const s = ffi.fstatfs(n.fd);
    if (typeof s === 'number') return Promise.resolve(neg(s));
    return Promise.resolve({
      type: s.type,
      bsize: s.bsize,
      blocks: s.blocks,
      bfree: s.bfree,
      bavail: s.bavail,
      files: s.files,
      ffree: s.ffree,
      namelen: s.namelen,
      frsize: s.frsize,
      flags: s.flags | (this.readonly ? ST_RDONLY : 0),
    });
  }

  release(node: BackendNode): Promise<void> {
    if (node instanceof DirectNode && node.owner === this && node.fd >= 0 && this.nodes.delete(node)) {
      ffi.closeFd(node.fd);
      node.fd = -1;
    }
    return Promise.resolve();
  }
}
