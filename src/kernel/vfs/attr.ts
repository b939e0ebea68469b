// Building Attr values for files the kernel itself serves (procfs, devfs,
// pipes, host stdio).

import type { Attr } from '../../backend/backend.js';
import { atProcessStart } from '../../bundle/process-start.js';

/** When this process started (ms since the epoch): the times of the kernel's own files. */
let bootTime = 0;
atProcessStart(() => (bootTime = Date.now()));
let nextIno = 1000n;

/** A fresh inode number for a kernel-made file. */
export function allocIno(): bigint {
  return nextIno++;
}

export function makeAttr(mode: number, fields: Partial<Attr> = {}): Attr {
  const sec = Math.floor(bootTime / 1000);
  const nsec = (bootTime % 1000) * 1e6;
  return {
    mode,
    ino: fields.ino ?? allocIno(),
    dev: 0n,
    nlink: 1,
    uid: 0,
    gid: 0,
    rdev: 0n,
    size: 0,
    blksize: 4096,
    blocks: 0,
    atimeSec: sec,
    atimeNsec: nsec,
    mtimeSec: sec,
    mtimeNsec: nsec,
    ctimeSec: sec,
    ctimeNsec: nsec,
    ...fields,
  };
}
