// Moving data between files inside the kernel: sendfile, copy_file_range,
// splice and tee (Linux's fs/splice.c, fs/read_write.c).
//
// Contract: bytes are copied (there is no page sharing to exploit), with
// Linux's argument checks and blocking rules:
// - sendfile reads with pread from a seekable file (its position, or *offset
//   left untouched), writes to any file; a full pipe blocks unless it is
//   O_NONBLOCK.
// - copy_file_range: regular files only (EISDIR, EINVAL), flags 0, no
//   overlapping range of one file, O_APPEND output is EBADF.
// - splice: one end must be a pipe (and takes no offset: ESPIPE). It waits for
//   data in the input pipe and room in the output pipe unless
//   SPLICE_F_NONBLOCK or the pipe's O_NONBLOCK; at most the pipe's free pages
//   move from a file into a pipe at once.
// - tee: copies between two pipes without consuming.
// - vmsplice: user memory into a pipe's write end (each piece of a segment
//   within one guest page takes a buffer of its own, as pages are spliced on
//   Linux; at most the free buffers' worth, waiting for room first), or out
//   of a read end into user memory (waiting for data, like readv).
// A pipe without readers is EPIPE with SIGPIPE, as for write.

import * as abi from '../../linux/abi.js';
import { EAGAIN, EBADF, EINVAL, EISDIR, EPIPE, ESPIPE, Errno, isErrno } from '../../linux/errno.js';
import type { File, MaybeAsync } from '../files/file.js';
import { PipeFile } from '../files/pipe.js';
import { blockingOp, blockingRead, blockingWrite, taskBlocker, type Blocker } from '../files/blocking.js';
import { SysCtx, SysResult } from './context.js';
import { coherentIo } from '../page-cache.js';

/** The most one sendfile/copy_file_range round moves before re-checking (bytes). */
const CHUNK = 1 << 16;

/** An in/out pair of open files checked for reading and writing. */
function filesOf(c: SysCtx, inFd: number, outFd: number): { fin: File; fout: File } | Errno {
  const fin = c.proc.fds.get(inFd);
  if (isErrno(fin)) return fin;
  const fout = c.proc.fds.get(outFd);
  if (isErrno(fout)) return fout;
  if (!fin.readable || !fout.writable) return EBADF;
  return { fin, fout };
}

/** *offset at `addr` (loff_t), when given; negative offsets are EINVAL. */
function readOffset(c: SysCtx, addr: number): number | null | Errno {
  if (!addr) return null;
  const v = c.user.readI64(addr);
  if (isErrno(v)) return v;
  return v < 0 ? EINVAL : v;
}

/** The file position (SEEK_CUR) of a seekable file. */
async function position(f: File): Promise<number | Errno> {
  return f.lseek(0, abi.SEEK_CUR);
}

// ---- sendfile ----

/** sendfile(out_fd, in_fd, offset*, count). */
async function body_sendfile(c: SysCtx): Promise<SysResult> {
  const files = filesOf(c, c.i32(1), c.i32(0));
  if (isErrno(files)) return files;
  const { fin, fout } = files;
  if (fout.flags & abi.O_APPEND) return EINVAL;
  if (fin instanceof PipeFile) return EINVAL;
  const offAddr = c.u(2);
  const off = readOffset(c, offAddr);
  if (isErrno(off)) return off;
  const start = off ?? (await position(fin));
  if (isErrno(start)) return start;
  const count = Math.min(c.u(3), abi.MAX_RW_COUNT);
  const b = taskBlocker(c.kernel, c.task);
  let done = 0;
  let err: Errno | null = null;
  if (fout instanceof PipeFile) {
    // Into a pipe it is one splice round: at most the room the pipe has (splice_file_to_pipe).
    const n = count === 0 ? 0 : await fileToPipe(b, fin, fout, count, start, fout.nonblocking);
    if (isErrno(n)) err = n === ESPIPE ? EINVAL : n;
    else done = n;
  }
  while (!(fout instanceof PipeFile) && done < count) {
    const data = await fin.pread(Math.min(CHUNK, count - done), start + done);
    if (isErrno(data)) {
      err = data === ESPIPE && done === 0 ? EINVAL : data;
      break;
    }
    if (data.length === 0) break;
    const w = await blockingWrite(b, fout, data, (d) => fout.write(d));
    if (isErrno(w)) {
      err = w;
      break;
    }
    done += w;
    if (w < data.length) break;
  }
  if (done > 0 || !err) {
    if (offAddr) {
      const r = c.user.writeU64(offAddr, start + done);
      if (isErrno(r)) return r;
    } else {
      const r = await fin.lseek(start + done, abi.SEEK_SET);
      if (isErrno(r)) return r;
    }
  }
  return done > 0 ? done : (err ?? 0);
}

// ---- copy_file_range ----

/** copy_file_range(fd_in, off_in*, fd_out, off_out*, len, flags). */
async function body_copy_file_range(c: SysCtx): Promise<SysResult> {
  if (c.u32(5) !== 0) return EINVAL;
  const files = filesOf(c, c.i32(0), c.i32(2));
  if (isErrno(files)) return files;
  const { fin, fout } = files;
  if (fout.flags & abi.O_APPEND) return EBADF;
  for (const f of [fin, fout]) {
    const a = await f.getattr();
    if (isErrno(a)) return a;
    const type = a.mode & abi.S_IFMT;
    if (type === abi.S_IFDIR) return EISDIR;
    if (type !== abi.S_IFREG) return EINVAL;
  }
  const inAddr = c.u(1);
  const outAddr = c.u(3);
  const offIn = readOffset(c, inAddr);
  if (isErrno(offIn)) return offIn;
  const offOut = readOffset(c, outAddr);
  if (isErrno(offOut)) return offOut;
  const posIn = offIn ?? (await position(fin));
  if (isErrno(posIn)) return posIn;
  const posOut = offOut ?? (await position(fout));
  if (isErrno(posOut)) return posOut;
  const len = Math.min(c.u(4), abi.MAX_RW_COUNT);
  const sameFile = fin === fout || (fin.dentry !== undefined && fin.dentry?.inode === fout.dentry?.inode);
  if (sameFile && posIn < posOut + len && posOut < posIn + len) return EINVAL;
  let done = 0;
  let err: Errno | null = null;
  while (done < len) {
    const data = await fin.pread(Math.min(CHUNK, len - done), posIn + done);
    if (isErrno(data)) {
      err = data;
      break;
    }
    if (data.length === 0) break;
    const w = await fout.pwrite(data, posOut + done);
    if (isErrno(w)) {
      err = w;
      break;
    }
    done += w;
    if (w < data.length) break;
  }
  if (done === 0 && err) return err;
  const moves: [number, File, number][] = [
    [inAddr, fin, posIn + done],
    [outAddr, fout, posOut + done],
  ];
  for (const [addr, f, pos] of moves) {
    const r = addr ? c.user.writeU64(addr, pos) : await f.lseek(pos, abi.SEEK_SET);
    if (isErrno(r)) return r;
  }
  return done;
}

// ---- splice and tee ----

const SPLICE_FLAGS = abi.SPLICE_F_MOVE | abi.SPLICE_F_NONBLOCK | abi.SPLICE_F_MORE | abi.SPLICE_F_GIFT;

/** splice's and tee's flags (checked) and their two files. */
function spliceFiles(c: SysCtx, flags: number, inFd: number, outFd: number): { fin: File; fout: File } | Errno {
  return flags & ~SPLICE_FLAGS ? EINVAL : filesOf(c, inFd, outFd);
}

/** splice(fd_in, off_in*, fd_out, off_out*, len, flags). */
function body_splice(c: SysCtx): SysResult | Promise<SysResult> {
  const flags = c.u32(5);
  const files = spliceFiles(c, flags, c.i32(0), c.i32(2));
  if (isErrno(files)) return files;
  const { fin, fout } = files;
  const inAddr = c.u(1);
  const outAddr = c.u(3);
  const len = Math.min(c.u(4), abi.MAX_RW_COUNT);
  const b = taskBlocker(c.kernel, c.task);
  const nonblock = (flags & abi.SPLICE_F_NONBLOCK) !== 0;
  if (fin instanceof PipeFile && fout instanceof PipeFile) {
    if (inAddr || outAddr) return ESPIPE;
    if (fin.pipe === fout.pipe) return EINVAL;
    if (len === 0) return 0;
    return pipeToPipe(b, fin, fout, len, nonblock || fin.nonblocking || fout.nonblocking, true);
  }
  if (fin instanceof PipeFile) {
    if (inAddr) return ESPIPE;
    if (fout.flags & abi.O_APPEND) return EINVAL;
    const off = readOffset(c, outAddr);
    if (isErrno(off)) return off;
    if (len === 0) return 0;
    return pipeToFile(c, b, fin, fout, len, off, outAddr, nonblock || fin.nonblocking);
  }
  if (fout instanceof PipeFile) {
    if (outAddr) return ESPIPE;
    const off = readOffset(c, inAddr);
    if (isErrno(off)) return off;
    if (len === 0) return 0;
    const moved = fileToPipe(b, fin, fout, len, off, nonblock || fout.nonblocking);
    const advance = (n: number | Errno): SysResult => {
      if (isErrno(n) || off === null) return n;
      const r = c.user.writeU64(inAddr, off + n);
      return isErrno(r) ? r : n;
    };
    return moved instanceof Promise ? moved.then(advance) : advance(moved);
  }
  return EINVAL;
}

/** tee(fd_in, fd_out, len, flags): duplicate up to len bytes of one pipe into another. */
export function sys_tee(c: SysCtx): SysResult | Promise<SysResult> {
  const flags = c.u32(3);
  const files = spliceFiles(c, flags, c.i32(0), c.i32(1));
  if (isErrno(files)) return files;
  const { fin, fout } = files;
  if (!(fin instanceof PipeFile) || !(fout instanceof PipeFile) || fin.pipe === fout.pipe) return EINVAL;
  const len = Math.min(c.u(2), abi.MAX_RW_COUNT);
  if (len === 0) return 0;
  return pipeToPipe(taskBlocker(c.kernel, c.task), fin, fout, len, (flags & abi.SPLICE_F_NONBLOCK) !== 0 || fin.nonblocking || fout.nonblocking, false);
}

/** Move (or with consume=false, copy) up to `len` bytes from one pipe into another: waits for data, then for room. */
function pipeToPipe(b: Blocker, fin: PipeFile, fout: PipeFile, len: number, nonblock: boolean, consume: boolean): MaybeAsync<SysResult> {
  const src = fin.pipe;
  const dst = fout.pipe;
  const op = (): number | Errno => {
    if (dst.readers === 0) return EPIPE;
    if (src.empty) return src.writers > 0 ? EAGAIN : 0;
    if (dst.full) return EAGAIN;
    const data = src.peek(Math.min(len, dst.room));
    const n = dst.write(data, false, false);
    if (isErrno(n)) return n;
    if (consume) src.read(n, false);
    return n;
  };
  const ready = () => dst.readers === 0 || ((!src.empty || src.writers === 0) && !dst.full);
  return blockingOp(b, nonblock, [{ queue: src.wq, mask: abi.POLLIN }, { queue: dst.wq, mask: abi.POLLOUT }], ready, op);
}

/** splice from a pipe into a file: waits for data, writes what it takes (at *off when given). */
function pipeToFile(c: SysCtx, b: Blocker, fin: PipeFile, fout: File, len: number, off: number | null, offAddr: number, nonblock: boolean): MaybeAsync<SysResult> {
  const src = fin.pipe;
  const take = (): Uint8Array | Errno => (src.empty ? (src.writers > 0 ? EAGAIN : new Uint8Array(0)) : src.peek(len));
  const got = blockingOp(b, nonblock, [{ queue: src.wq, mask: abi.POLLIN }], () => !src.empty || src.writers === 0, take);
  const write = async (data: Uint8Array | Errno): Promise<SysResult> => {
    if (isErrno(data)) return data;
    if (data.length === 0) return 0;
    const w = off === null ? await blockingWrite(b, fout, data, (d) => fout.write(d)) : await fout.pwrite(data, off);
    if (isErrno(w)) return w;
    src.read(w, false);
    if (off !== null) {
      const r = c.user.writeU64(offAddr, off + w);
      if (isErrno(r)) return r;
    }
    return w;
  };
  return got instanceof Promise ? got.then(write) : write(got);
}

/** splice from a file into a pipe: waits for room, then reads (at `off` when given) at most the free pages' worth. */
function fileToPipe(b: Blocker, fin: File, fout: PipeFile, len: number, off: number | null, nonblock: boolean): MaybeAsync<number | Errno> {
  const dst = fout.pipe;
  const room = (): number | Errno => (dst.readers === 0 ? EPIPE : dst.full ? EAGAIN : dst.room);
  const space = blockingOp(b, nonblock, [{ queue: dst.wq, mask: abi.POLLOUT }], () => dst.readers === 0 || !dst.full, room);
  const fill = async (free: number | Errno): Promise<number | Errno> => {
    if (isErrno(free)) return free;
    const want = Math.min(len, free);
    const data = off === null ? await blockingRead(b, fin, () => fin.read(want)) : await fin.pread(want, off);
    if (isErrno(data)) return data;
    if (data.length === 0) return 0;
    const n = dst.write(data, false, false);
    if (n === EPIPE) b.sigpipe();
    return n;
  };
  return space instanceof Promise ? space.then(fill) : fill(space);
}

/** vmsplice(fd, iov, nr_segs, flags). */
export function sys_vmsplice(c: SysCtx): SysResult | Promise<SysResult> {
  const flags = c.u32(3);
  if (flags & ~SPLICE_FLAGS) return EINVAL;
  const f = c.proc.fds.get(c.i32(0));
  if (isErrno(f)) return f;
  if (!(f instanceof PipeFile)) return EBADF;
  const iov = c.user.readIovecs(c.u(1), c.i32(2));
  if (isErrno(iov)) return iov;
  const b = taskBlocker(c.kernel, c.task);
  // Only SPLICE_F_NONBLOCK counts: vmsplice ignores the pipe's O_NONBLOCK (wait_for_space).
  const nonblock = (flags & abi.SPLICE_F_NONBLOCK) !== 0;
  const p = f.pipe;
  if (f.writable) {
    const pieces: Uint8Array[] = [];
    for (const v of iov) {
      for (let at = v.base; at < v.base + v.len; ) {
        const n = Math.min(v.base + v.len, (Math.floor(at / PAGE) + 1) * PAGE) - at;
        const d = c.user.copyIn(at, n);
        if (isErrno(d)) return d;
        pieces.push(d);
        at += n;
      }
    }
    if (pieces.length === 0) return 0;
    const op = (): number | Errno => {
      if (p.readers === 0) return EPIPE;
      if (p.full) return EAGAIN;
      let done = 0;
      for (const d of pieces) {
        if (p.full) break;
        const n = p.write(d, true, false);
        if (isErrno(n)) return done > 0 ? done : n;
        done += n;
      }
      return done;
    };
    return blockingOp(b, nonblock, [{ queue: p.wq, mask: abi.POLLOUT }], () => p.readers === 0 || !p.full, op);
  }
  const total = iov.reduce((t, v) => t + v.len, 0);
  if (total === 0) return 0;
  const take = (): Uint8Array | Errno => p.read(total, false);
  const got = blockingOp(b, nonblock, [{ queue: p.wq, mask: abi.POLLIN }], () => !p.empty || p.writers === 0, take);
  const scatter = (data: Uint8Array | Errno): SysResult => {
    if (isErrno(data)) return data;
    let off = 0;
    for (const v of iov) {
      if (off >= data.length) break;
      const part = data.subarray(off, off + v.len);
      const r = c.user.copyOut(v.base, part);
      if (isErrno(r)) return off > 0 ? off : r;
      off += part.length;
    }
    return off;
  };
  return got instanceof Promise ? got.then(scatter) : scatter(got);
}

const PAGE = 4096;

/**
 * A copy from the file of fd argument `inArg` to that of `outArg`, coherent
 * with their shared mappings (src/kernel/page-cache.ts).
 */
function coherentCopy(c: SysCtx, inArg: number, outArg: number, body: (c: SysCtx) => SysResult | Promise<SysResult>): SysResult | Promise<SysResult> {
  const from = c.proc.fds.get(c.i32(inArg)), to = c.proc.fds.get(c.i32(outArg));
  return coherentIo(isErrno(from) ? undefined : from, isErrno(to) ? undefined : to, () => body(c));
}

export const sys_sendfile = (c: SysCtx): SysResult | Promise<SysResult> => coherentCopy(c, 1, 0, body_sendfile);
export const sys_copy_file_range = (c: SysCtx): SysResult | Promise<SysResult> => coherentCopy(c, 0, 2, body_copy_file_range);
export const sys_splice = (c: SysCtx): SysResult | Promise<SysResult> => coherentCopy(c, 0, 2, body_splice);
