// Host files as the contract's values, for the backends that hold host fds
// (DirectBackend's files, and the 9P client's files whose fd the gofer
// donated): Node's fstat becomes an Attr, and a failed call of Node's fs the
// Errno Linux would give (nothing throws for an I/O failure).

import * as fs from 'node:fs';
import type { Attr } from './backend.js';
import { Errno } from '../linux/errno.js';

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

/** pread of `dst.length` bytes at `offset` on a host fd: the count (0 at end of file) or an Errno. */
export function preadFd(fd: number, dst: Uint8Array, offset: number): number | Errno {
  try {
    return fs.readSync(fd, dst, 0, dst.length, offset);
  } catch (e) {
    return fsErrno(e);
  }
}

/** pwrite of `src` at `offset` on a host fd: the count written or an Errno. */
export function pwriteFd(fd: number, src: Uint8Array, offset: number): number | Errno {
  try {
    return fs.writeSync(fd, src, 0, src.length, offset);
  } catch (e) {
    return fsErrno(e);
  }
}
