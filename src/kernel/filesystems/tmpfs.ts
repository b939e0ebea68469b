// tmpfs: the kernel's in-memory filesystem (Linux's mm/shmem.c), for the
// spec's tmpfs mounts and /dev/shm. This file holds the mount: its options,
// limits and counters. The inodes are in tmpfs-inode.ts (what every inode
// has; symlinks, FIFOs, sockets), tmpfs-file.ts (regular files: their pages
// and open files) and tmpfs-dir.ts (directories and their listings).
//
// Contract:
// - Files, directories, symlinks, hard links, FIFOs and sockets (mknod) live
//   in JS memory. Device nodes are refused (EPERM): the sandbox has no
//   CAP_MKNOD, and its devices are devfs's.
// - Every page of file data (tmpfs-file.ts) is charged to the sandbox's
//   MemoryAccount (the --total-memory cap bounds tmpfs data and guest
//   mappings together) and to the mount's size= limit; either one full is
//   ENOSPC.
// - Permission checks, umask and the new file's owner are the VFS's
//   business (vfs/namei.ts); tmpfs checks what only it knows: EEXIST,
//   ENOENT, ENOTEMPTY, EROFS (an "ro" mount), ENOSPC, EMLINK.

import { ENOSPC, Errno } from '../../linux/errno.js';
import * as abi from '../../linux/abi.js';
import type { StatFs } from '../../backend/backend.js';
import type { MemoryAccount } from '../mm.js';
import { makedev } from './devfs.js';
import { PAGE } from './tmpfs-inode.js';
import { TmpDir } from './tmpfs-dir.js';

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
