// devfs: the kernel's /dev. Character devices are served here, never by the
// host: /dev/null, zero, full, random, urandom, the stdio links, and the
// terminals (tty, console, ptmx, pts/) from the tty layer.

import { randomFillSync } from 'node:crypto';
import { ENOSPC, Errno } from '../../linux/errno.js';
import { S_IFCHR } from '../../linux/abi.js';
import { File } from '../files/file.js';
import { Inode } from '../vfs/inode.js';
import { allocIno, makeAttr } from '../vfs/attr.js';
import type { FileRecord } from '../checkpoint-records.js';
import type { Attr } from '../../backend/backend.js';
import { SynthDir, SynthSymlink } from './synthetic.js';

type DevBehaviour = {
  read(len: number): Uint8Array;
  write(data: Uint8Array): number | Errno;
  /** Writes are thrown away, whatever the bytes: write(2) need not copy them (File.writeFrom). */
  sink?: true;
};

const ZEROS = new Uint8Array(65536);

const behaviours: Record<string, { rdev: [number, number]; dev: DevBehaviour }> = {
  null: { rdev: [1, 3], dev: { read: () => new Uint8Array(0), write: (d) => d.length, sink: true } },
  zero: { rdev: [1, 5], dev: { read: (n) => (n <= ZEROS.length ? ZEROS.subarray(0, n) : new Uint8Array(n)), write: (d) => d.length, sink: true } },
  full: { rdev: [1, 7], dev: { read: (n) => new Uint8Array(n), write: () => ENOSPC } },
  random: { rdev: [1, 8], dev: { read: (n) => randomFillSync(new Uint8Array(n)), write: (d) => d.length } },
  urandom: { rdev: [1, 9], dev: { read: (n) => randomFillSync(new Uint8Array(n)), write: (d) => d.length } },
};

/** Linux's new_encode_dev for st_rdev. */
export function makedev(major: number, minor: number): bigint {
  return BigInt((minor & 0xff) | (major << 8) | ((minor & ~0xff) << 12));
}

class CharDevice extends Inode {
  readonly type = S_IFCHR;
  private readonly attr: Attr;
  constructor(
    private readonly behaviour: DevBehaviour,
    rdev: [number, number],
  ) {
    super();
    this.attr = makeAttr(S_IFCHR | 0o666, { ino: allocIno(), rdev: makedev(rdev[0], rdev[1]) });
  }
  getattr(): Attr {
    return this.attr;
  }
  open(flags: number, path: string): File {
    return this.behaviour.sink ? new SinkDeviceFile(this.behaviour, flags, path, this.attr) : new CharDeviceFile(this.behaviour, flags, path, this.attr);
  }
}

class CharDeviceFile extends File {
  constructor(
    private readonly behaviour: DevBehaviour,
    flags: number,
    path: string,
    private readonly attr: Attr,
  ) {
    super(flags, path);
  }
  override read(len: number): Uint8Array {
    return this.behaviour.read(len);
  }
  override pread(len: number): Uint8Array {
    return this.behaviour.read(len);
  }
  override write(data: Uint8Array): number | Errno {
    return this.behaviour.write(data);
  }
  override pwrite(data: Uint8Array): number | Errno {
    return this.behaviour.write(data);
  }
  override lseek(_offset: number, _whence: number): number {
    return 0; // character devices ignore seeks and report position 0, as Linux's null/zero do
  }
  getattr(): Attr {
    return this.attr;
  }
  /** Checkpoint: these devices hold no state; a restore opens the device again by its path. */
  override save(): FileRecord {
    return { kind: 'path', path: this.dentry?.path() ?? this.path, flags: this.flags, pos: 0 };
  }
}

/** /dev/null and /dev/zero: write(2) checks the caller's buffer (EFAULT, as QEMU does) but copies nothing. */
class SinkDeviceFile extends CharDeviceFile {
  override writeFrom(len: number): number {
    return len;
  }
}

/** The terminal devices devfs serves (src/kernel/tty/registry.ts). */
export interface TerminalDevices {
  /** tty, console, ptmx. */
  devNodes(): Map<string, Inode>;
  /** The devpts directory mounted at /dev/pts. */
  devpts(): Inode;
}

/** The /dev directory; the terminals' nodes (tty, console, ptmx, pts) come from `ttys`. */
export function makeDevfs(ttys: TerminalDevices): Inode {
  const entries = new Map<string, Inode>();
  for (const [name, { rdev, dev }] of Object.entries(behaviours)) entries.set(name, new CharDevice(dev, rdev));
  for (const [name, node] of ttys.devNodes()) entries.set(name, node);
  entries.set('fd', new SynthSymlink(() => '/proc/self/fd'));
  entries.set('stdin', new SynthSymlink(() => '/proc/self/fd/0'));
  entries.set('stdout', new SynthSymlink(() => '/proc/self/fd/1'));
  entries.set('stderr', new SynthSymlink(() => '/proc/self/fd/2'));
  entries.set('shm', new SynthDir(() => new Map(), 0o1777));
  entries.set('pts', ttys.devpts());
  return new SynthDir(() => entries, 0o755);
}
