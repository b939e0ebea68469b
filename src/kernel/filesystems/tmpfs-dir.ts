// tmpfs directories: their entries, the operations that make, remove and
// rename names, and their listings.
//
// Contract: directory listings survive concurrent changes as Linux's do:
// each entry carries a sequence number given when it was linked; a cookie
// is the number of the last entry returned, so entries removed meanwhile
// are skipped, entries added meanwhile show once, none twice.

import {
  EEXIST, EINVAL, EISDIR, EMLINK, ENOENT, ENOSPC, ENOTDIR, ENOTEMPTY, EPERM, EROFS, EXDEV, Errno,
} from '../../linux/errno.js';
import * as abi from '../../linux/abi.js';
import type { File } from '../files/file.js';
import type { Credentials, Inode, NewOwner } from '../vfs/inode.js';
import type { DirEntry } from '../../backend/backend.js';
import type { Tmpfs } from './tmpfs.js';
import { now, TmpFifo, TmpInode, TmpSocket, TmpSymlink } from './tmpfs-inode.js';
import { TmpFile } from './tmpfs-file.js';
import { DirFile } from './dir-file.js';
import type { TmpNodeRecord } from '../checkpoint-records.js';

/** Linux's BOGO_DIRENT_SIZE: what each entry adds to a tmpfs directory's st_size. */
const BOGO_DIRENT_SIZE = 20;
/** Most hard links to one inode. */
const LINK_MAX = 0xffffffff;

/**
 * A directory entry: the inode, the sequence number that orders listings,
 * and what getdents64 reports of it, made once when the name is linked (an
 * inode's number and file type never change), so that listing a large
 * directory allocates nothing per entry.
 */
interface Entry {
  inode: TmpInode;
  seq: number;
  dirent: DirEntry;
  /** Bytes of its linux_dirent64 record (8-aligned). */
  reclen: number;
}

/** The size of the linux_dirent64 record of `name`: 19 bytes of header, the name, its NUL, 8-aligned. */
function reclenOf(name: string): number {
  return (19 + Buffer.byteLength(name) + 1 + 7) & ~7;
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

  /**
   * Where the last listing stopped: a live iterator of `entries` and the
   * entry it had taken but that did not fit, with the cookie a listing
   * resuming there starts from. A Map iterates in insertion order, which is
   * `seq` order (insert() always adds a name that is not there, after
   * every other), and its iterators see later inserts and skip deletes, so
   * resuming is the scan from the start without the entries it would skip:
   * each entry of a large directory listed once, not once per getdents64.
   */
  private listing: { cookie: number; it: IterableIterator<Entry>; held: Entry | undefined } | undefined;

  /** The entries after cookie `cookie`, "." and ".." first, at most about `maxBytes` of them. */
  list(cookie: number, maxBytes: number): DirEntry[] {
    const out: DirEntry[] = [];
    let used = 0;
    const push = (d: DirEntry, size: number): boolean => {
      if (out.length > 0 && used + size > maxBytes) return false;
      out.push(d);
      used += size;
      return true;
    };
    if (cookie < 1 && !push({ name: '.', ino: this.ino, type: abi.DT_DIR, next: 1 }, reclenOf('.'))) return out;
    if (cookie < 2 && !push({ name: '..', ino: (this.parentDir ?? this).ino, type: abi.DT_DIR, next: 2 }, reclenOf('..'))) return out;
    const resume = this.listing !== undefined && this.listing.cookie === cookie && cookie >= FIRST_SEQ ? this.listing : undefined;
    const it = resume ? resume.it : this.entries.values();
    // The entry held back last time, unless it has been unlinked since (a new entry of that name comes later).
    let next = resume?.held && this.entries.get(resume.held.dirent.name) === resume.held ? resume.held : undefined;
    this.listing = undefined;
    for (;;) {
      if (next === undefined) {
        const r = it.next();
        if (r.done) return out;
        next = r.value;
      }
      const e = next;
      if (e.seq > cookie) {
        if (!push(e.dirent, e.reclen)) {
          this.listing = { cookie: out[out.length - 1].next, it, held: next };
          return out;
        }
      }
      next = undefined;
    }
  }

  private changed(): void {
    this.mtime = this.ctime = now();
  }

  /** @internal: link `inode` under `name` (the caller checked it is free). */
  insert(name: string, inode: TmpInode): void {
    const seq = this.nextSeq++;
    this.entries.set(name, { inode, seq, dirent: { name, ino: inode.ino, type: abi.dtypeOf(inode.mode), next: seq }, reclen: reclenOf(name) });
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

  /**
   * Checkpoint: this directory's tree. `seen` numbers the non-directory
   * inodes in the order they are met, so a second name of one (a hard link)
   * is saved as a link to the first.
   */
  save(seen: Map<TmpInode, number> = new Map()): TmpNodeRecord {
    const entries: [string, TmpNodeRecord][] = [];
    for (const [name, { inode }] of this.entries) {
      if (inode instanceof TmpDir) {
        entries.push([name, inode.save(seen)]);
        continue;
      }
      const first = seen.get(inode);
      if (first !== undefined) {
        entries.push([name, { type: 'link', to: first }]);
        continue;
      }
      seen.set(inode, seen.size);
      const attrs = inode.saveAttrs();
      if (inode instanceof TmpFile) entries.push([name, { type: 'file', attrs, data: inode.saveData() }]);
      else if (inode instanceof TmpSymlink) entries.push([name, { type: 'symlink', attrs, target: inode.savedTarget }]);
      else entries.push([name, { type: inode instanceof TmpFifo ? 'fifo' : 'socket', attrs }]);
    }
    return { type: 'dir', attrs: this.saveAttrs(), entries };
  }

  /**
   * The restore half of save(), into this empty directory: every entry made
   * again (new inode numbers), contents written, then modes, owners and
   * times set. Throws an Error naming what could not be made (ENOSPC...).
   */
  restore(rec: TmpNodeRecord, path: string, links: TmpInode[] = []): void {
    if (rec.type !== 'dir') throw new Error(`${path}: not a directory in the image`);
    const owner = { uid: 0, gid: 0 };
    for (const [name, node] of rec.entries) {
      const where = `${path === '/' ? '' : path}/${name}`;
      const fail = (e: Errno) => {
        throw new Error(`${where}: cannot be made again in its tmpfs (${e.name})`);
      };
      let r: 0 | Errno;
      switch (node.type) {
        case 'dir':
          r = this.mkdir(name, 0o700, owner);
          break;
        case 'file':
          r = this.mknod(name, abi.S_IFREG | 0o600, 0n, owner);
          break;
        case 'fifo':
        case 'socket':
          r = this.mknod(name, (node.type === 'fifo' ? abi.S_IFIFO : abi.S_IFSOCK) | 0o600, 0n, owner);
          break;
        case 'symlink':
          r = this.symlink(name, node.target, owner);
          break;
        case 'link': {
          const target = links[node.to];
          if (!target) throw new Error(`${where}: a hard link to inode ${node.to}, which the image lacks`);
          r = this.link(name, target);
          break;
        }
      }
      if (r !== 0) fail(r);
      if (node.type === 'link') continue;
      const inode = this.entries.get(name)!.inode;
      if (node.type === 'dir') (inode as TmpDir).restore(node, where, links);
      else {
        links.push(inode);
        if (node.type === 'file') {
          const d = (inode as TmpFile).restoreData(node.data);
          if (d !== 0) fail(d);
        }
      }
      inode.restoreAttrs(node.attrs);
    }
    this.restoreAttrs(rec.attrs);
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

/**
 * A tmpfs directory open: the shared DirFile, plus what Linux's tmpfs
 * directories (dcache_dir_lseek, noop_fsync) do beyond the synthetic ones:
 * lseek takes SEEK_CUR too, and fsync succeeds (nothing to flush).
 */
class TmpDirFile extends DirFile {
  override lseek(offset: number, whence: number): number | Errno {
    if (whence === abi.SEEK_CUR) return super.lseek(this.cookie + offset, abi.SEEK_SET);
    return super.lseek(offset, whence);
  }

  override fsync(): 0 {
    return 0;
  }
}
