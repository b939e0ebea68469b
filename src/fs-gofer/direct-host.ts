// Host results as values, for DirectBackend and its open files: a negative
// errno from src/host, or a failed call of Node's fs, becomes the Errno Linux
// would give (rule 8 of ./README.md: nothing throws for an I/O failure); and
// Node's fstat becomes the contract's Attr.

import * as fs from 'node:fs';
import type { Attr } from '../backend/backend.js';
import { Errno } from '../linux/errno.js';

/** A negative errno from ffi as an Errno value. */
export function neg(r: number): Errno {
  return Errno.of(-r);
}

/**
 * Node's fs reports a failed system call as an Error whose `errno` is the
 * negated Linux errno; that becomes a value. Anything else is a bug: rethrown.
 */
export function fsErrno(e: unknown): Errno {
  const n = (e as { errno?: unknown } | null)?.errno;
  if (typeof n === 'number' && n < 0) return Errno.of(-n);
  throw e;
}

function splitNs(ns: bigint): [number, number] {
  let sec = ns / 1_000_000_000n;
  let nsec = ns % 1_000_000_000n;
  if (nsec < 0n) {
    sec -= 1n;
    nsec += 1_000_000_000n;
  }
  return [Number(sec), Number(nsec)];
}

export function toAttr(s: fs.BigIntStats): Attr {
  const [atimeSec, atimeNsec] = splitNs(s.atimeNs);
  const [mtimeSec, mtimeNsec] = splitNs(s.mtimeNs);
  const [ctimeSec, ctimeNsec] = splitNs(s.ctimeNs);
  return {
    mode: Number(s.mode),
    ino: s.ino,
    dev: s.dev,
    nlink: Number(s.nlink),
    uid: Number(s.uid),
    gid: Number(s.gid),
    rdev: s.rdev,
    size: Number(s.size),
    blksize: Number(s.blksize),
    blocks: Number(s.blocks),
    atimeSec,
    atimeNsec,
    mtimeSec,
    mtimeNsec,
    ctimeSec,
    ctimeNsec,
  };
}

export function fstat(fd: number): fs.BigIntStats | Errno {
  try {
    return fs.fstatSync(fd, { bigint: true });
  } catch (e) {
    return fsErrno(e);
  }
}
