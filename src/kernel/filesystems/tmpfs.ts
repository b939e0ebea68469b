// tmpfs: the kernel's in-memory filesystem (Linux's mm/shmem.c), for the
// spec's tmpfs mounts and /dev/shm.
//
// Contract:
// - Files, directories, symlinks, hard links, FIFOs and sockets (mknod) live
//   in JS memory. Device nodes are refused (EPERM): the sandbox has no
//   CAP_MKNOD, and its devices are devfs's.
// - File data is kept in 4 KiB pages, made on first write (a truncate up or a
//   write past the end leaves a hole that reads as zeros and costs nothing).
//   Every page is charged to the sandbox's MemoryAccount (the --total-memory
//   cap bounds tmpfs data and guest mappings together) and to the mount's
//   size= limit; either one full is ENOSPC. A file's pages go back when its
//   last name and its last open file are gone.
// - Directory listings survive concurrent changes as Linux's do: each entry
//   carries a sequence number given when it was linked; a cookie is the
//   number of the last entry returned, so entries removed meanwhile are
//   skipped, entries added meanwhile show once, none twice.
// - Permission checks, umask and the new file's owner are the VFS's
//   business (vfs/namei.ts); this module checks what only it knows: EEXIST,
//   ENOENT, ENOTEMPTY, EROFS (an "ro" mount), ENOSPC, EMLINK.

import {
  EEXIST, EFBIG, EINVAL, EISDIR, ELOOP, EMLINK, ENOENT, ENOSPC, ENOTDIR, ENOTEMPTY, ENXIO, EPERM, EROFS, EXDEV, Errno,
} from '../../linux/errno.js';
import * as abi from '../../linux/abi.js';
import { File, type MaybeAsync } from '../files/file.js';
import { Fifo } from '../files/pipe.js';
import { namedPipeOpen } from '../vfs/named-pipe.js';
import { Inode, type Credentials, type FdInodeOps, type NewOwner, type OpenContext } from '../vfs/inode.js';
import type { Attr, DirEntry, SetAttr, StatFs } from '../../backend/backend.js';
import type { MemoryAccount } from '../mm.js';
import { makedev } from './devfs.js';

const PAGE = 4096;
/** Linux's BOGO_DIRENT_SIZE: what each entry adds to a tmpfs directory's st_size. */
const BOGO_DIRENT_SIZE = 20;
/** Largest file size (MAX_LFS_FILESIZE is larger; a JS number indexes bytes exactly up to here). */
const MAX_FILE_SIZE = Number.MAX_SAFE_INTEGER;
/** Most hard links to one inode. */
const LINK_MAX = 0xffffffff;

export interface TmpfsOptions {
  /** size=: the most bytes of file data; 0 means no limit but the memory account. */
  size?: number;
  /** nr_inodes=: 0 means no limit. */
  nrInodes?: number;
  /** mode= of the root directory (default 01777). */
  mode?: number;
  uid?: number;
  gid?: number;
  readonly?: boolean;
}

/**
 * Parses a mount's data options as Linux's shmem_parse_one does: size=
 * (bytes with k/m/g suffix, or N%, of `totalMemory`), nr_inodes=, mode=
 * (octal), uid=, gid=; "ro"/"rw"; the VFS-level flags (nosuid, nodev,
 * noexec, strictatime, relatime...) are accepted and ignored. An unknown or
 * malformed option is an Error naming it.
 */
export function parseTmpfsOptions(options: readonly string[], totalMemory: number): TmpfsOptions {
  const o: TmpfsOptions = {};
  const ignored = new Set(['nosuid', 'suid', 'nodev', 'dev', 'noexec', 'exec', 'strictatime', 'relatime', 'noatime', 'nodiratime', 'atime', 'diratime', 'rprivate', 'private', 'rshared', 'shared', 'rslave', 'slave', 'sync', 'async', 'bind', 'rbind']);
  for (const opt of options) {
    const eq = opt.indexOf('=');
    const key = eq < 0 ? opt : opt.slice(0, eq);
    const val = eq < 0 ? '' : opt.slice(eq + 1);
    if (key === 'ro') o.readonly = true;
    else if (key === 'rw') o.readonly = false;
    else if (ignored.has(key) && eq < 0) continue;
    else if (key === 'size') o.size = parseSize(val, totalMemory, opt);
    else if (key === 'nr_inodes') o.nrInodes = parseSize(val, 0, opt);
    else if (key === 'mode' && /^[0-7]{1,4}$/.test(val)) o.mode = parseInt(val, 8);
    else if ((key === 'uid' || key === 'gid') && /^\d+$/.test(val)) o[key] = Number(val);
    else throw new Error(`tmpfs: bad mount option ${JSON.stringify(opt)}`);
  }
  return o;
}

function parseSize(val: string, total: number, opt: string): number {
  const m = /^(\d+)([kKmMgGtTpPeE%]?)$/.exec(val);
  if (!m) throw new Error(`tmpfs: bad mount option ${JSON.stringify(opt)}`);
  const n = Number(m[1]);
  const unit = m[2].toLowerCase();
  if (unit === '%') {
    if (total <= 0) throw new Error(`tmpfs: bad mount option ${JSON.stringify(opt)}`);
    return Math.floor((total * n) / 100);
  }
  const shift = { '': 0, k: 10, m: 20, g: 30, t: 40, p: 50, e: 60 }[unit] ?? 0;
  return n * 2 ** shift;
}

/** Wall-clock time as [sec, nsec], microsecond-accurate. */
function now(): [number, number] {
  const ms = performance.timeOrigin + performance.now();
  const sec = Math.floor(ms / 1000);
  return [sec, Math.floor((ms - sec * 1000) * 1e6)];
}

let nextMinor = 0x40;

/** One mounted tmpfs (Linux's shmem super block): limits, counters, device number. */
export class Tmpfs {
  readonly dev: bigint;
  readonly root: TmpDir;
  readonly readonly: boolean;
  /** Page limit of size= (Infinity without one). */
  private readonly maxPages: number;
  private readonly maxInodes: number;
  private pages = 0;
  private inodes = 0;
  private nextIno = 1n;

  constructor(
    private readonly account: MemoryAccount,
    opts: TmpfsOptions = {},
  ) {
    this.dev = makedev(0, nextMinor++);
    this.readonly = opts.readonly === true;
    this.maxPages = opts.size ? Math.max(1, Math.floor(opts.size / PAGE)) : Infinity;
    this.maxInodes = opts.nrInodes || Infinity;
    this.root = new TmpDir(this, abi.S_IFDIR | ((opts.mode ?? 0o1777) & 0o7777), { uid: opts.uid ?? 0, gid: opts.gid ?? 0 }, null);
  }

  /** @internal: a number and a count for a new inode; ENOSPC past nr_inodes. */
  newIno(): bigint | Errno {
    if (this.inodes >= this.maxInodes) return ENOSPC;
    this.inodes++;
    return this.nextIno++;
  }

  /** @internal */
  freeIno(): void {
    this.inodes--;
  }

  /** @internal: room for `n` more pages, or false (the caller answers ENOSPC). */
  chargePages(n: number): boolean {
    if (this.pages + n > this.maxPages) return false;
    if (!this.account.charge(n * PAGE)) return false;
    this.pages += n;
    return true;
  }

  /** @internal */
  unchargePages(n: number): void {
    this.pages -= n;
    this.account.uncharge(n * PAGE);
  }

  statfs(): StatFs {
    const limit = Number.isFinite(this.maxPages) ? this.maxPages : Math.floor(this.account.limit / PAGE);
    const free = Math.max(0, Math.min(limit - this.pages, Math.floor((this.account.limit - this.account.used) / PAGE)));
    const files = Number.isFinite(this.maxInodes) ? this.maxInodes : Math.max(this.inodes, Math.floor(this.account.limit / 1024));
    return {
      type: abi.TMPFS_MAGIC,
      bsize: PAGE,
      blocks: limit,
      bfree: free,
      bavail: free,
      files,
      ffree: Math.max(0, files - this.inodes),
      namelen: abi.NAME_MAX,
      frsize: PAGE,
      flags: this.readonly ? abi.ST_RDONLY : 0,
    };
  }
}

/** What every tmpfs inode has: the fields of struct stat, kept here. */
abstract class TmpInode extends Inode {
  readonly ino: bigint;
  mode: number;
  uid: number;
  gid: number;
  nlink = 1;
  atime: [number, number];
  mtime: [number, number];
  ctime: [number, number];

  constructor(
    readonly sb: Tmpfs,
    mode: number,
    owner: NewOwner,
    ino: bigint,
  ) {
    super();
    this.ino = ino;
    this.mode = mode;
    this.uid = owner.uid;
    this.gid = owner.gid;
    this.atime = this.mtime = this.ctime = now();
  }

  get type(): number {
    return this.mode & abi.S_IFMT;
  }

  override get readonlyFs(): boolean {
    return this.sb.readonly;
  }

  protected get size(): number {
    return 0;
  }

  protected get blocks(): number {
    return 0;
  }

  getattr(): Attr {
    return {
      mode: this.mode,
      ino: this.ino,
      dev: this.sb.dev,
      nlink: this.nlink,
      uid: this.uid,
      gid: this.gid,
      rdev: 0n,
      size: this.size,
      blksize: PAGE,
      blocks: this.blocks,
      atimeSec: this.atime[0],
      atimeNsec: this.atime[1],
      mtimeSec: this.mtime[0],
      mtimeNsec: this.mtime[1],
      ctimeSec: this.ctime[0],
      ctimeNsec: this.ctime[1],
    };
  }

  override setattr(set: SetAttr): 0 | Errno {
    if (this.sb.readonly) return EROFS;
    if (set.size !== undefined) {
      const r = this.truncate(set.size);
      if (r !== 0) return r;
    }
    if (set.uid !== undefined) this.uid = set.uid;
    if (set.gid !== undefined) this.gid = set.gid;
    if (set.mode !== undefined) this.mode = (this.mode & abi.S_IFMT) | (set.mode & 0o7777);
    const t = now();
    if (set.atime !== undefined) this.atime = set.atime === 'now' ? t : set.atime;
    if (set.mtime !== undefined) this.mtime = set.mtime === 'now' ? t : set.mtime;
    this.ctime = t;
    return 0;
  }

  /** truncate: only regular files have a size to change. */
  protected truncate(_size: number): 0 | Errno {
    return this.isDir ? EISDIR : EINVAL;
  }

  override statfs(): StatFs {
    return this.sb.statfs();
  }

  touchCtime(): void {
    this.ctime = now();
  }

  /** @internal: one name less; the inode goes when no name and no open file is left. */
  dropLink(): void {
    this.nlink = Math.max(0, this.nlink - 1);
    this.ctime = now();
    if (this.nlink === 0) this.maybeFree();
  }

  /** Release what an inode with no names and no open files holds. */
  protected maybeFree(): void {
    this.sb.freeIno();
  }
}

/** A directory entry: the inode and the sequence number that orders listings. */
interface Entry {
  inode: TmpInode;
  seq: number;
}

/** First sequence number of a real entry: cookies 1 and 2 are "." and "..". */
const FIRST_SEQ = 3;

export class TmpDir extends TmpInode {
  private readonly entries = new Map<string, Entry>();
  private nextSeq = FIRST_SEQ;
  /** null for the mount's root: its ".." is outside this filesystem. */
  parentDir: TmpDir | null;

  constructor(sb: Tmpfs, mode: number, owner: NewOwner, parent: TmpDir | null, ino: bigint = sb.newIno() as bigint) {
    super(sb, mode, owner, ino);
    this.parentDir = parent;
    this.nlink = 2;
  }

  protected override get size(): number {
    return (this.entries.size + 2) * BOGO_DIRENT_SIZE;
  }

  get empty(): boolean {
    return this.entries.size === 0;
  }

  override lookup(name: string): Inode | Errno {
    return this.entries.get(name)?.inode ?? ENOENT;
  }

  /** The entries after cookie `cookie`, "." and ".." first, at most about `maxBytes` of them. */
  list(cookie: number, maxBytes: number): DirEntry[] {
    const out: DirEntry[] = [];
    let used = 0;
    const push = (name: string, ino: bigint, type: number, next: number): boolean => {
      const size = (19 + Buffer.byteLength(name) + 1 + 7) & ~7;
      if (out.length > 0 && used + size > maxBytes) return false;
      out.push({ name, ino, type, next });
      used += size;
      return true;
    };
    if (cookie < 1 && !push('.', this.ino, abi.DT_DIR, 1)) return out;
    if (cookie < 2 && !push('..', (this.parentDir ?? this).ino, abi.DT_DIR, 2)) return out;
    for (const [name, e] of this.entries) {
      if (e.seq <= cookie) continue;
      if (!push(name, e.inode.ino, abi.dtypeOf(e.inode.mode), e.seq)) break;
    }
    return out;
  }

  private changed(): void {
    this.mtime = this.ctime = now();
  }

  /** @internal: link `inode` under `name` (the caller checked it is free). */
  insert(name: string, inode: TmpInode): void {
    this.entries.set(name, { inode, seq: this.nextSeq++ });
    if (inode instanceof TmpDir) {
      this.nlink++;
      inode.parentDir = this;
    }
    this.changed();
  }

  /** @internal: unlink `name` from this directory (the inode keeps its count; see dropLink). */
  remove(name: string): TmpInode | undefined {
    const e = this.entries.get(name);
    if (!e) return undefined;
    this.entries.delete(name);
    if (e.inode instanceof TmpDir) this.nlink--;
    this.changed();
    return e.inode;
  }

  private writable(): Errno | undefined {
    return this.sb.readonly ? EROFS : undefined;
  }

  /** Checks shared by every creation: a free name on a writable filesystem. */
  private canCreate(name: string): Errno | undefined {
    if (this.nlink === 0) return ENOENT; // removed: no new names
    if (this.entries.has(name)) return EEXIST;
    return this.writable();
  }

  override create(name: string, flags: number, mode: number, cred: Credentials, path: string): File | Errno {
    const bad = this.canCreate(name);
    if (bad) return bad;
    const ino = this.sb.newIno();
    if (ino instanceof Errno) return ino;
    const f = new TmpFile(this.sb, abi.S_IFREG | (mode & 0o7777), cred, ino);
    this.insert(name, f);
    return f.openFile(flags & ~abi.O_TRUNC, path);
  }

  override tmpfile(flags: number, perm: number, owner: NewOwner, path: string): File | Errno {
    const bad = this.writable();
    if (bad) return bad;
    const ino = this.sb.newIno();
    if (ino instanceof Errno) return ino;
    const f = new TmpFile(this.sb, abi.S_IFREG | (perm & 0o7777), owner, ino);
    f.nlink = 0;
    // O_EXCL: never linkable (Linux's I_LINKABLE is withheld).
    f.linkable = (flags & abi.O_EXCL) === 0;
    return f.openFile(flags & ~(abi.O_TMPFILE & ~abi.O_DIRECTORY), path);
  }

  override mkdir(name: string, perm: number, owner: NewOwner): 0 | Errno {
    const bad = this.canCreate(name);
    if (bad) return bad;
    if (this.nlink >= LINK_MAX) return EMLINK;
    const ino = this.sb.newIno();
    if (ino instanceof Errno) return ino;
    this.insert(name, new TmpDir(this.sb, abi.S_IFDIR | (perm & 0o7777), owner, this, ino));
    return 0;
  }

  override mknod(name: string, mode: number, _rdev: bigint, owner: NewOwner): 0 | Errno {
    const type = mode & abi.S_IFMT;
    if (type === abi.S_IFCHR || type === abi.S_IFBLK) return EPERM;
    if (type !== abi.S_IFREG && type !== abi.S_IFIFO && type !== abi.S_IFSOCK) return EINVAL;
    const bad = this.canCreate(name);
    if (bad) return bad;
    const ino = this.sb.newIno();
    if (ino instanceof Errno) return ino;
    const perm = mode & 0o7777;
    const inode = type === abi.S_IFREG ? new TmpFile(this.sb, type | perm, owner, ino) : type === abi.S_IFIFO ? new TmpFifo(this.sb, type | perm, owner, ino) : new TmpSocket(this.sb, type | perm, owner, ino);
    this.insert(name, inode);
    return 0;
  }

  override symlink(name: string, target: string, owner: NewOwner): 0 | Errno {
    const bad = this.canCreate(name);
    if (bad) return bad;
    const ino = this.sb.newIno();
    if (ino instanceof Errno) return ino;
    const bytes = Buffer.byteLength(target);
    // Linux keeps short targets in the inode and longer ones in a page of the file's own.
    if (bytes >= 128 && !this.sb.chargePages(1)) {
      this.sb.freeIno();
      return ENOSPC;
    }
    this.insert(name, new TmpSymlink(this.sb, owner, ino, target, bytes >= 128));
    return 0;
  }

  override link(name: string, target: Inode): 0 | Errno {
    if (!(target instanceof TmpInode) || target.sb !== this.sb) return EXDEV;
    if (target.isDir) return EPERM;
    const bad = this.canCreate(name);
    if (bad) return bad;
    if (target.nlink === 0 && !(target instanceof TmpFile && target.linkable)) return ENOENT;
    if (target.nlink >= LINK_MAX) return EMLINK;
    target.nlink++;
    target.touchCtime();
    if (target instanceof TmpFile) target.linkable = target.nlink > 0 && target.linkable;
    this.insert(name, target);
    return 0;
  }

  override unlink(name: string, dir: boolean): 0 | Errno {
    const e = this.entries.get(name);
    if (!e) return ENOENT;
    const bad = this.writable();
    if (bad) return bad;
    const victim = e.inode;
    if (dir) {
      if (!(victim instanceof TmpDir)) return ENOTDIR;
      if (!victim.empty) return ENOTEMPTY;
    } else if (victim.isDir) {
      return EISDIR;
    }
    this.remove(name);
    if (victim instanceof TmpDir) {
      victim.nlink = 1; // its "." goes too; dropLink takes the last
      victim.parentDir = null;
    }
    victim.dropLink();
    return 0;
  }

  override rename(oldName: string, newDirInode: Inode, newName: string, flags: number): 0 | Errno {
    if (!(newDirInode instanceof TmpDir) || newDirInode.sb !== this.sb) return EXDEV;
    const newDir = newDirInode;
    const src = this.entries.get(oldName)?.inode;
    if (!src) return ENOENT;
    const bad = this.writable();
    if (bad) return bad;
    const dst = newDir.entries.get(newName)?.inode;
    if (flags & abi.RENAME_EXCHANGE) {
      if (!dst) return ENOENT;
      if (src === dst) return 0;
      this.entries.delete(oldName);
      newDir.entries.delete(newName);
      // Fix directory link counts when a directory changes parent.
      if (src instanceof TmpDir) this.nlink--;
      if (dst instanceof TmpDir) newDir.nlink--;
      newDir.insert(newName, src);
      this.insert(oldName, dst);
      src.touchCtime();
      dst.touchCtime();
      return 0;
    }
    if (dst) {
      if (flags & abi.RENAME_NOREPLACE) return EEXIST;
      if (src === dst) return 0; // two names of one inode: Linux does nothing
      if (src.isDir) {
        if (!(dst instanceof TmpDir)) return ENOTDIR;
        if (!dst.empty) return ENOTEMPTY;
      } else if (dst.isDir) {
        return EISDIR;
      }
      newDir.remove(newName);
      if (dst instanceof TmpDir) {
        dst.nlink = 1;
        dst.parentDir = null;
      }
      dst.dropLink();
    }
    this.remove(oldName);
    newDir.insert(newName, src);
    src.touchCtime();
    return 0;
  }

  open(flags: number, path: string): File | Errno {
    if ((flags & abi.O_ACCMODE) !== abi.O_RDONLY) return EISDIR;
    return new TmpDirFile(this, flags, path);
  }
}

class TmpDirFile extends File {
  private cookie = 0;
  constructor(
    private readonly dir: TmpDir,
    flags: number,
    path: string,
  ) {
    super(flags, path);
  }
  override read(): Errno {
    return EISDIR;
  }
  getattr(): Attr {
    return this.dir.getattr();
  }
  override readdir(maxBytes: number): DirEntry[] {
    return this.dir.list(this.cookie, maxBytes);
  }
  override seekdir(cookie: number): void {
    this.cookie = cookie;
  }
  override lseek(offset: number, whence: number): number | Errno {
    if (whence === abi.SEEK_CUR) offset += this.cookie;
    else if (whence !== abi.SEEK_SET) return EINVAL;
    if (offset < 0) return EINVAL;
    return (this.cookie = offset);
  }
  override fsync(): 0 {
    return 0;
  }
}

export class TmpFile extends TmpInode {
  /** Page index → 4 KiB of data; absent pages are holes (zeros). */
  private readonly data = new Map<number, Uint8Array>();
  private bytes = 0;
  /** Open files of this inode: its pages stay while one is open, even with no name left. */
  private opens = 0;
  /** O_TMPFILE without O_EXCL: linkat may give it a name. */
  linkable = false;

  protected override get size(): number {
    return this.bytes;
  }

  protected override get blocks(): number {
    return this.data.size * (PAGE / 512);
  }

  /** An open file of this inode (also what create and O_TMPFILE return). */
  openFile(flags: number, path: string): File | Errno {
    if ((flags & abi.O_ACCMODE) === abi.O_ACCMODE) return EINVAL;
    const writes = (flags & abi.O_ACCMODE) !== abi.O_RDONLY || (flags & abi.O_TRUNC) !== 0;
    if (writes && this.sb.readonly) return EROFS;
    if (flags & abi.O_TRUNC && (flags & abi.O_ACCMODE) !== abi.O_RDONLY) {
      const r = this.truncate(0);
      if (r !== 0) return r;
      this.mtime = this.ctime = now();
    }
    this.opens++;
    return new TmpOpenFile(this, flags & ~(abi.O_CREAT | abi.O_EXCL | abi.O_TRUNC | abi.O_NOCTTY), path);
  }

  open(flags: number, path: string): File | Errno {
    return this.openFile(flags, path);
  }

  /** @internal: an open file of this inode was released. */
  closed(): void {
    this.opens--;
    if (this.nlink === 0) this.maybeFree();
  }

  protected override maybeFree(): void {
    if (this.nlink > 0 || this.opens > 0) return;
    this.sb.unchargePages(this.data.size);
    this.data.clear();
    this.bytes = 0;
    super.maybeFree();
  }

  read(len: number, offset: number): Uint8Array {
    const end = Math.min(this.bytes, offset + len);
    if (end <= offset) return new Uint8Array(0);
    const out = new Uint8Array(end - offset);
    for (let pos = offset; pos < end; ) {
      const idx = Math.floor(pos / PAGE);
      const inPage = pos - idx * PAGE;
      const n = Math.min(PAGE - inPage, end - pos);
      const page = this.data.get(idx);
      if (page) out.set(page.subarray(inPage, inPage + n), pos - offset);
      pos += n;
    }
    this.atime = now();
    return out;
  }

  /** Write at `offset`: the count written (short when the space ran out part way), or ENOSPC/EFBIG/EROFS. */
  write(src: Uint8Array, offset: number): number | Errno {
    if (this.sb.readonly) return EROFS;
    if (offset + src.length > MAX_FILE_SIZE) return EFBIG;
    let done = 0;
    while (done < src.length) {
      const pos = offset + done;
      const idx = Math.floor(pos / PAGE);
      const inPage = pos - idx * PAGE;
      const n = Math.min(PAGE - inPage, src.length - done);
      let page = this.data.get(idx);
      if (!page) {
        if (!this.sb.chargePages(1)) break;
        page = new Uint8Array(PAGE);
        this.data.set(idx, page);
      }
      page.set(src.subarray(done, done + n), inPage);
      done += n;
    }
    if (done === 0 && src.length > 0) return ENOSPC;
    if (offset + done > this.bytes) this.bytes = offset + done;
    this.mtime = this.ctime = now();
    // Linux's file_remove_privs: a write by anyone clears set-user-ID (and group-exec'd set-group-ID).
    if (this.mode & (abi.S_ISUID | abi.S_ISGID)) this.mode &= ~(abi.S_ISUID | ((this.mode & 0o010) ? abi.S_ISGID : 0));
    return done;
  }

  protected override truncate(size: number): 0 | Errno {
    if (!Number.isSafeInteger(size) || size < 0) return EINVAL;
    if (size > MAX_FILE_SIZE) return EFBIG;
    if (size < this.bytes) {
      const keep = Math.ceil(size / PAGE);
      let freed = 0;
      for (const idx of [...this.data.keys()]) {
        if (idx >= keep) {
          this.data.delete(idx);
          freed++;
        }
      }
      this.sb.unchargePages(freed);
      // The tail of the last kept page must read as zeros if the file grows again.
      const last = this.data.get(keep - 1);
      if (last && size % PAGE !== 0) last.fill(0, size % PAGE);
    }
    this.bytes = size;
    this.mtime = this.ctime = now();
    return 0;
  }

  /** fallocate mode 0: pages for [offset, offset+len), the size grown to cover them. */
  allocate(offset: number, len: number): 0 | Errno {
    if (this.sb.readonly) return EROFS;
    const end = offset + len;
    if (end > MAX_FILE_SIZE) return EFBIG;
    // Count first (over the pages that exist, never over the range: it may be huge), charge, then fill.
    const first = Math.floor(offset / PAGE);
    const last = Math.ceil(end / PAGE); // exclusive
    let present = 0;
    for (const idx of this.data.keys()) if (idx >= first && idx < last) present++;
    if (!this.sb.chargePages(last - first - present)) return ENOSPC;
    for (let idx = first; idx < last; idx++) if (!this.data.has(idx)) this.data.set(idx, new Uint8Array(PAGE));
    if (end > this.bytes) this.bytes = end;
    this.ctime = now();
    return 0;
  }

  /** First data byte at or after `offset` (SEEK_DATA) or first hole (SEEK_HOLE); ENXIO past the end. */
  seekData(offset: number, hole: boolean): number | Errno {
    if (offset >= this.bytes) return ENXIO;
    const start = Math.floor(offset / PAGE);
    if (hole) {
      // Walk the run of pages present from here (at most every page there is).
      let idx = start;
      while (this.data.has(idx)) idx++;
      return Math.min(this.bytes, Math.max(offset, idx * PAGE));
    }
    let best = Infinity;
    for (const idx of this.data.keys()) if (idx >= start && idx < best) best = idx;
    const pos = Math.max(offset, best * PAGE);
    return pos < this.bytes ? pos : ENXIO;
  }
}

/** An open regular file of a tmpfs. */
export class TmpOpenFile extends File implements FdInodeOps {
  private pos = 0;

  constructor(
    readonly inode: TmpFile,
    flags: number,
    path: string,
  ) {
    super(flags, path);
  }

  override read(len: number): Uint8Array {
    const out = this.inode.read(len, this.pos);
    this.pos += out.length;
    return out;
  }

  override pread(len: number, offset: number): Uint8Array {
    return this.inode.read(len, offset);
  }

  override write(data: Uint8Array): number | Errno {
    if (this.flags & abi.O_APPEND) this.pos = this.inode.getattr().size;
    const n = this.inode.write(data, this.pos);
    if (typeof n === 'number') this.pos += n;
    return n;
  }

  override pwrite(data: Uint8Array, offset: number): number | Errno {
    // Linux: pwrite on an O_APPEND file appends, whatever the offset.
    return this.inode.write(data, this.flags & abi.O_APPEND ? this.inode.getattr().size : offset);
  }

  override lseek(offset: number, whence: number): number | Errno {
    let next: number | Errno;
    switch (whence) {
      case abi.SEEK_SET:
        next = offset;
        break;
      case abi.SEEK_CUR:
        next = this.pos + offset;
        break;
      case abi.SEEK_END:
        next = this.inode.getattr().size + offset;
        break;
      case abi.SEEK_DATA:
      case abi.SEEK_HOLE:
        if (offset < 0) return ENXIO;
        next = this.inode.seekData(offset, whence === abi.SEEK_HOLE);
        break;
      default:
        return EINVAL;
    }
    if (next instanceof Errno) return next;
    if (next < 0) return EINVAL;
    return (this.pos = next);
  }

  getattr(): Attr {
    return this.inode.getattr();
  }

  override fsync(): 0 {
    return 0;
  }

  fdSetattr(set: SetAttr): 0 | Errno {
    return this.inode.setattr(set);
  }

  fdAllocate(offset: number, len: number): 0 | Errno {
    return this.inode.allocate(offset, len);
  }

  fdInode(): Inode {
    return this.inode;
  }

  protected override release(): void {
    this.inode.closed();
  }
}

class TmpSymlink extends TmpInode {
  constructor(
    sb: Tmpfs,
    owner: NewOwner,
    ino: bigint,
    private readonly target: string,
    /** The target took a page of its own (charged). */
    private readonly paged: boolean,
  ) {
    super(sb, abi.S_IFLNK | 0o777, owner, ino);
  }

  protected override get size(): number {
    return Buffer.byteLength(this.target);
  }

  protected override get blocks(): number {
    return this.paged ? PAGE / 512 : 0;
  }

  override readlink(): string {
    this.atime = now();
    return this.target;
  }

  open(): Errno {
    return ELOOP; // the VFS follows symlinks before opening; O_NOFOLLOW gets here
  }

  protected override maybeFree(): void {
    if (this.paged) this.sb.unchargePages(1);
    super.maybeFree();
  }
}

/** A named pipe: every open meets the one pipe behind it (files/pipe.ts Fifo). */
class TmpFifo extends TmpInode {
  private readonly fifo = new Fifo();

  open(flags: number, path: string, ctx?: OpenContext): MaybeAsync<File | Errno> {
    if (this.sb.readonly && (flags & abi.O_ACCMODE) !== abi.O_RDONLY) return EROFS;
    return namedPipeOpen(this.fifo, this, flags, path, ctx);
  }
}

/** A socket file (mknod S_IFSOCK): it names a socket; opening it is ENXIO, as on Linux. */
class TmpSocket extends TmpInode {
  open(): Errno {
    return ENXIO;
  }
}
