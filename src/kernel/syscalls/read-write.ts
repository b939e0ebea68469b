// Moving file data: read, write, their positional (pread64, pwrite64) and
// vectored (readv, writev, preadv, pwritev) forms, lseek, the sync calls,
// and fadvise64's hints.
// These are the hot paths: read and write stay synchronous when the file
// answers at once (settle), and only a first segment that must wait blocks.

import * as abi from '../../linux/abi.js';
import { EBADF, EFAULT, EINVAL, ESPIPE, Errno, isErrno } from '../../linux/errno.js';
import { File } from '../files/file.js';
import { blockingRead, blockingWrite, taskBlocker } from '../files/blocking.js';
import type { IoVec } from '../usercopy.js';
import type { SysCtx, SysResult } from './context.js';
import { PAGE_W } from '../../vcpu/memory.js';
import { coherentIo, PageCache } from '../page-cache.js';

function body_read(c: SysCtx): SysResult | Promise<SysResult> {
  const f = c.proc.fds.get(c.i32(0));
  if (isErrno(f)) return f;
  const bad = File.checkReadable(f);
  if (bad) return bad;
  const addr = c.u(1);
  const len = Math.min(c.u(2), abi.MAX_RW_COUNT);
  if (len === 0) return 0;
  // readToUser checks the buffer itself (canWrite: a stricter check than accessible).
  if (f.readTo) return readToUser(c, f, len, null, addr);
  if (!c.user.mem.accessible(addr, len, PAGE_W)) return EFAULT;
  return settle(blockingRead(taskBlocker(c.kernel, c.task), f, () => f.read(len)), (data) => copyData(c, addr, data));
}

function body_pread64(c: SysCtx): SysResult | Promise<SysResult> {
  const f = c.proc.fds.get(c.i32(0));
  if (isErrno(f)) return f;
  const bad = File.checkReadable(f);
  if (bad) return bad;
  const addr = c.u(1);
  const len = Math.min(c.u(2), abi.MAX_RW_COUNT);
  const off = c.s(3);
  if (off < 0) return EINVAL;
  if (f.readTo) return readToUser(c, f, len, off, addr);
  if (!c.user.mem.accessible(addr, len, PAGE_W)) return EFAULT;
  return settle(f.pread(len, off), (data) => copyData(c, addr, data));
}

function copyData(c: SysCtx, addr: number, data: Uint8Array): SysResult {
  const r = c.user.copyOut(addr, data);
  return isErrno(r) ? r : data.length;
}

/**
 * read/pread of a file with readTo (tmpfs): its pages copied straight to
 * the guest's buffer (no intermediate copy). EFAULT, as copyData gives it,
 * when the buffer cannot take the bytes (checked before the file is read).
 */
function readToUser(c: SysCtx, f: File, len: number, offset: number | null, addr: number): SysResult {
  const user = c.user;
  // The buffer is checked once, here (usercopy.ts, "The window"): the pieces then go in without a check each.
  const bad = user.openOut(addr, len);
  if (bad !== 0) return bad;
  const n = f.readTo!(len, offset, user.putOut);
  user.closeOut(n);
  return n;
}

/** write/pwrite of a file with writeFrom (tmpfs): the guest's bytes copied straight into its pages. */
function writeFromUser(c: SysCtx, f: File, len: number, offset: number | null, addr: number): SysResult {
  const user = c.user;
  const bad = user.openIn(addr, len);
  if (bad !== 0) return bad;
  const n = f.writeFrom!(len, offset, user.getIn);
  user.closeIn();
  return n;
}

function body_write(c: SysCtx): SysResult | Promise<SysResult> {
  const f = c.proc.fds.get(c.i32(0));
  if (isErrno(f)) return f;
  const bad = File.checkWritable(f);
  if (bad) return bad;
  const len = Math.min(c.u(2), abi.MAX_RW_COUNT);
  if (len === 0 && !f.writesEmpty) return 0;
  if (f.writeFrom) return writeFromUser(c, f, len, null, c.u(1));
  const data = c.user.copyIn(c.u(1), len);
  if (isErrno(data)) return data;
  return blockingWrite(taskBlocker(c.kernel, c.task), f, data, (d) => f.write(d));
}

function body_pwrite64(c: SysCtx): SysResult | Promise<SysResult> {
  const f = c.proc.fds.get(c.i32(0));
  if (isErrno(f)) return f;
  const bad = File.checkWritable(f);
  if (bad) return bad;
  const off = c.s(3);
  if (off < 0) return EINVAL;
  if (f.writeFrom) return writeFromUser(c, f, Math.min(c.u(2), abi.MAX_RW_COUNT), off, c.u(1));
  const data = c.user.copyIn(c.u(1), Math.min(c.u(2), abi.MAX_RW_COUNT));
  if (isErrno(data)) return data;
  return f.pwrite(data, off);
}

async function body_readv(c: SysCtx): Promise<SysResult> {
  return readVector(c, undefined);
}

async function body_preadv(c: SysCtx): Promise<SysResult> {
  const off = c.s(3);
  return off < 0 ? EINVAL : readVector(c, off);
}

/** The file of fd a0 (checked readable or writable) and the iovecs at a1/a2: what every *v() call starts with. */
function vectorArgs(c: SysCtx, check: (f: File) => Errno | undefined): { f: File; iov: IoVec[] } | Errno {
  const f = c.proc.fds.get(c.i32(0));
  if (isErrno(f)) return f;
  const bad = check(f);
  if (bad) return bad;
  const iov = c.user.readIovecs(c.u(1), c.i32(2));
  return isErrno(iov) ? iov : { f, iov };
}

async function readVector(c: SysCtx, offset: number | undefined): Promise<SysResult> {
  const args = vectorArgs(c, File.checkReadable);
  if (isErrno(args)) return args;
  const { f, iov } = args;
  let total = 0;
  for (const v of iov) {
    if (v.len === 0) continue;
    if (!c.user.mem.accessible(v.base, v.len, PAGE_W)) return total > 0 ? total : EFAULT;
    // Only the first segment may wait: once data has moved, a readv returns what it has.
    const data = await (offset !== undefined ? f.pread(v.len, offset + total) : total === 0 ? blockingRead(taskBlocker(c.kernel, c.task), f, () => f.read(v.len)) : f.read(v.len));
    if (isErrno(data)) return total > 0 ? total : data;
    const w = c.user.copyOut(v.base, data);
    if (isErrno(w)) return total > 0 ? total : w;
    total += data.length;
    if (data.length < v.len) break;
  }
  return total;
}

async function body_writev(c: SysCtx): Promise<SysResult> {
  return writeVector(c, undefined);
}

async function body_pwritev(c: SysCtx): Promise<SysResult> {
  const off = c.s(3);
  return off < 0 ? EINVAL : writeVector(c, off);
}

async function writeVector(c: SysCtx, offset: number | undefined): Promise<SysResult> {
  const args = vectorArgs(c, File.checkWritable);
  if (isErrno(args)) return args;
  const { f, iov } = args;
  // Gather first, then write once: a writev is one write to a pipe or terminal.
  const parts: Uint8Array[] = [];
  for (const v of iov) {
    const d = c.user.copyIn(v.base, v.len);
    if (isErrno(d)) return d;
    parts.push(d);
  }
  const data = Buffer.concat(parts);
  if (data.length === 0 && (offset !== undefined || !f.writesEmpty)) return 0;
  return offset === undefined ? blockingWrite(taskBlocker(c.kernel, c.task), f, data, (d) => f.write(d)) : f.pwrite(data, offset);
}

export function sys_lseek(c: SysCtx): SysResult | Promise<SysResult> {
  const f = c.proc.fds.get(c.i32(0));
  if (isErrno(f)) return f;
  const whence = c.i32(2);
  if (whence < abi.SEEK_SET || whence > abi.SEEK_HOLE) return EINVAL;
  return f.lseek(c.s(1), whence);
}

/** Settle a maybe-async value, then map it (shared by read paths). */
function settle<T>(v: T | Errno | Promise<T | Errno>, then: (t: T) => SysResult): SysResult | Promise<SysResult> {
  if (v instanceof Promise) return v.then((x) => (isErrno(x) ? x : then(x as T)));
  return isErrno(v) ? v : then(v as T);
}

// ---- sync ----

export function sys_sync(): SysResult {
  return 0; // every filesystem here writes through: nothing is held back
}

export function sys_syncfs(c: SysCtx): SysResult {
  const f = c.proc.fds.get(c.i32(0));
  return isErrno(f) ? f : 0;
}

/** POSIX_FADV_NORMAL (0) to POSIX_FADV_NOREUSE (5): the advice fadvise64 knows. */
const POSIX_FADV_LAST = 5;

/**
 * fadvise64(fd, offset, len, advice): a hint the kernel may ignore, and this
 * one does (the page cache reads as it reads). Linux's answers otherwise:
 * EBADF (O_PATH too), ESPIPE for a pipe or FIFO, EINVAL for a negative
 * length or unknown advice.
 */
export async function sys_fadvise64(c: SysCtx): Promise<SysResult> {
  const f = c.proc.fds.get(c.i32(0));
  if (isErrno(f)) return f;
  if (f.flags & abi.O_PATH) return EBADF;
  const attr = await f.getattr();
  if (!isErrno(attr) && (attr.mode & abi.S_IFMT) === abi.S_IFIFO) return ESPIPE;
  const advice = c.i32(3);
  if (c.s(2) < 0 || advice < 0 || advice > POSIX_FADV_LAST) return EINVAL;
  return 0;
}

async function body_fsync(c: SysCtx): Promise<SysResult> {
  const f = c.proc.fds.get(c.i32(0));
  if (isErrno(f)) return f;
  if (f.flags & abi.O_PATH) return EBADF;
  return f.fsync();
}

/**
 * A call on the file of fd a0 that must agree with its shared mappings
 * (src/kernel/page-cache.ts): stores made through them are written back
 * first, and a call that `changes` the file refreshes them after. Files
 * nobody maps pay one lookup.
 */
function coherent(c: SysCtx, body: (c: SysCtx) => SysResult | Promise<SysResult>, changes: boolean, range?: (c: SysCtx) => [number, number]): SysResult | Promise<SysResult> {
  const f = c.proc.fds.get(c.i32(0));
  // Unmapped (the common case): the body at once, with no closure made for coherentIo.
  if (isErrno(f) || PageCache.of(f) === undefined) return body(c);
  return changes ? coherentIo(undefined, f, () => body(c), range?.(c)) : coherentIo(f, undefined, () => body(c));
}

/** The bytes a pwrite64 may change (an O_APPEND file's size change makes refresh() look at every page anyway). */
const pwriteRange = (c: SysCtx): [number, number] => [c.s(3), c.s(3) + Math.min(c.u(2), abi.MAX_RW_COUNT)];

export const sys_read = (c: SysCtx): SysResult | Promise<SysResult> => coherent(c, body_read, false);
export const sys_pread64 = (c: SysCtx): SysResult | Promise<SysResult> => coherent(c, body_pread64, false);
export const sys_readv = (c: SysCtx): SysResult | Promise<SysResult> => coherent(c, body_readv, false);
export const sys_preadv = (c: SysCtx): SysResult | Promise<SysResult> => coherent(c, body_preadv, false);
export const sys_write = (c: SysCtx): SysResult | Promise<SysResult> => coherent(c, body_write, true);
export const sys_pwrite64 = (c: SysCtx): SysResult | Promise<SysResult> => coherent(c, body_pwrite64, true, pwriteRange);
export const sys_writev = (c: SysCtx): SysResult | Promise<SysResult> => coherent(c, body_writev, true);
export const sys_pwritev = (c: SysCtx): SysResult | Promise<SysResult> => coherent(c, body_pwritev, true);
export const sys_fsync = (c: SysCtx): SysResult | Promise<SysResult> => coherent(c, body_fsync, false);
