// Calls on a file descriptor itself rather than on its data: dup, dup3,
// fcntl (fd flags, status flags, record locks, pipe sizes, seals), ioctl's generic
// commands (the rest go to terminals), and flock(2).
//
// Contract: struct flock is decoded and checked here (Linux's
// flock_to_posix_lock: l_whence, negative lengths, EINVAL/EBADF), the lock
// logic lives in files/locks.ts, pipe sizing in files/pipe.ts, seals in
// filesystems/tmpfs-file.ts.

import * as abi from '../../linux/abi.js';
import { EBADF, EBUSY, EINVAL, EOVERFLOW, EPERM, Errno, isErrno } from '../../linux/errno.js';
import { sealsOf, TmpOpenFile } from '../filesystems/tmpfs-file.js';
import { PageCache } from '../page-cache.js';
import type { File } from '../files/file.js';
import { PipeFile } from '../files/pipe.js';
import { flock, setLock, testLock, trackOfd, type LockRange, type LockType } from '../files/locks.js';
import { taskBlocker } from '../files/blocking.js';
import { StructReader, StructWriter } from '../usercopy.js';
import type { SysCtx, SysResult } from './context.js';
import { InetSocket } from '../net/inet-socket.js';
import { UnixSocket } from '../net/unix-socket.js';
import { socketIoctl } from './socket-inet.js';

export function sys_dup(c: SysCtx): SysResult {
  const f = c.proc.fds.get(c.i32(0));
  if (isErrno(f)) return f;
  return c.proc.fds.install(f.ref(), false);
}

export function sys_dup3(c: SysCtx): SysResult | Promise<SysResult> {
  const oldfd = c.i32(0);
  const newfd = c.i32(1);
  const flags = c.i32(2);
  if (flags & ~abi.O_CLOEXEC) return EINVAL;
  if (oldfd === newfd) return EINVAL;
  const f = c.proc.fds.get(oldfd);
  if (isErrno(f)) return f;
  return c.proc.fds.installAt(newfd, f.ref(), (flags & abi.O_CLOEXEC) !== 0);
}

export function sys_fcntl(c: SysCtx): SysResult | Promise<SysResult> {
  const fd = c.i32(0);
  const cmd = c.i32(1);
  const fds = c.proc.fds;
  const f = fds.get(fd);
  if (isErrno(f)) return f;
  switch (cmd) {
    case abi.F_DUPFD:
    case abi.F_DUPFD_CLOEXEC: {
      const min = c.i32(2);
      if (min < 0 || min >= fds.limit) return EINVAL;
      return fds.install(f.ref(), cmd === abi.F_DUPFD_CLOEXEC, min);
    }
    case abi.F_GETFD:
      return fds.cloexec(fd) === true ? abi.FD_CLOEXEC : 0;
    case abi.F_SETFD:
      return fds.setCloexec(fd, (c.i32(2) & abi.FD_CLOEXEC) !== 0);
    case abi.F_GETFL:
      return f.flags & ~abi.O_CLOEXEC;
    case abi.F_SETFL:
      f.flags = (f.flags & ~abi.SETFL_MASK) | (c.i32(2) & abi.SETFL_MASK);
      return 0;
    default:
      return fcntlExtra(c, f, cmd) ?? EINVAL;
  }
}

export function sys_ioctl(c: SysCtx): SysResult | Promise<SysResult> {
  const f = c.proc.fds.get(c.i32(0));
  if (isErrno(f)) return f;
  const cmd = c.u32(1);
  const arg = c.u(2);
  switch (cmd) {
    case abi.FIOCLEX:
      return c.proc.fds.setCloexec(c.i32(0), true);
    case abi.FIONCLEX:
      return c.proc.fds.setCloexec(c.i32(0), false);
    case abi.FIONBIO: {
      const v = c.user.readI32(arg);
      if (isErrno(v)) return v;
      f.flags = v ? f.flags | abi.O_NONBLOCK : f.flags & ~abi.O_NONBLOCK;
      return 0;
    }
    case abi.FIONREAD: {
      const n = f.readableBytes();
      if (isErrno(n)) return n;
      return c.user.writeU32(arg, n);
    }
  }
  // A socket's own: SIOCOUTQ (TIOCOUTQ's number), the interface ioctls.
  if (f instanceof InetSocket || f instanceof UnixSocket) {
    const r = socketIoctl(c, () => (f instanceof InetSocket ? f.unsentBytes() : f.wmem), cmd, arg);
    if (r !== null) return r;
  }
  // Everything else is a terminal's (src/kernel/tty); other files say ENOTTY.
  const term = f.terminal();
  if (isErrno(term)) return term;
  return term.ioctl(cmd, arg, c.user);
}

const ALL_SEALS = abi.F_SEAL_SEAL | abi.F_SEAL_SHRINK | abi.F_SEAL_GROW | abi.F_SEAL_WRITE | abi.F_SEAL_FUTURE_WRITE | abi.F_SEAL_EXEC;

/**
 * fcntl(F_ADD_SEALS) as Linux's memfd_add_seals, in its order: EPERM from a
 * fd not open for writing, EINVAL for unknown bits or a file without seals,
 * EPERM once F_SEAL_SEAL is set, EBUSY for F_SEAL_WRITE while some process maps the file shared and
 * writable (a mapping that could be made writable counts, as Linux's
 * VM_MAYWRITE).
 */
function addSeals(c: SysCtx, f: File, seals: number): SysResult {
  if (!f.writable) return EPERM;
  if (seals & ~ALL_SEALS || !(f instanceof TmpOpenFile)) return EINVAL;
  const inode = f.inode;
  if (inode.seals & abi.F_SEAL_SEAL) return EPERM;
  if (seals & abi.F_SEAL_WRITE && !(inode.seals & abi.F_SEAL_WRITE) && writablyMapped(c, f)) return EBUSY;
  inode.seals |= seals;
  return 0;
}

/** Whether any address space of the sandbox has a shared mapping of `f`'s file that may write. */
function writablyMapped(c: SysCtx, f: File): boolean {
  const cache = PageCache.of(f);
  if (cache === undefined) return false;
  const seen = new Set<object>();
  for (const p of c.kernel.processes.values()) {
    if (seen.has(p.mm)) continue;
    seen.add(p.mm);
    if (p.mm.mappings().some((v) => v.shared?.obj === cache && !v.shared.readOnly)) return true;
  }
  return false;
}

/** Handle `cmd` if it is a lock, pipe or seal command; undefined otherwise. */
function fcntlExtra(c: SysCtx, f: File, cmd: number): SysResult | Promise<SysResult> | undefined {
  switch (cmd) {
    case abi.F_GETPIPE_SZ:
      return f instanceof PipeFile ? f.pipe.capacity : EBADF;
    case abi.F_GET_SEALS:
      return sealsOf(f) ?? EINVAL;
    case abi.F_ADD_SEALS:
      return addSeals(c, f, c.u32(2));
    case abi.F_SETPIPE_SZ:
      // The sandbox grants no CAP_SYS_RESOURCE: pipes grow to pipe-max-size at most.
      return f instanceof PipeFile ? f.pipe.resize(c.u32(2), false) : EBADF;
    case abi.F_GETLK:
    case abi.F_SETLK:
    case abi.F_SETLKW:
    case abi.F_OFD_GETLK:
    case abi.F_OFD_SETLK:
    case abi.F_OFD_SETLKW:
      return lockCmd(c, f, cmd);
    default:
      return undefined;
  }
}

async function lockCmd(c: SysCtx, f: File, cmd: number): Promise<SysResult> {
  const F = abi.FLOCK;
  const addr = c.u(2);
  const raw = c.user.copyIn(addr, F.size);
  if (isErrno(raw)) return raw;
  const rd = new StructReader(raw);
  const type = (raw[F.l_type] | (raw[F.l_type + 1] << 8)) << 16 >> 16;
  const whence = (raw[F.l_whence] | (raw[F.l_whence + 1] << 8)) << 16 >> 16;
  const ofd = cmd === abi.F_OFD_GETLK || cmd === abi.F_OFD_SETLK || cmd === abi.F_OFD_SETLKW;
  if (ofd && rd.i32(F.l_pid) !== 0) return EINVAL;
  if (type !== abi.F_RDLCK && type !== abi.F_WRLCK && type !== abi.F_UNLCK) return EINVAL;
  const range = await lockRange(f, whence, rd.i64(F.l_start), rd.i64(F.l_len));
  if (isErrno(range)) return range;
  const owner: object = ofd ? f : c.proc.fds;
  if (cmd === abi.F_GETLK || cmd === abi.F_OFD_GETLK) {
    if (type === abi.F_UNLCK) return EINVAL;
    const conflict = testLock(f, { ...range, type, owner, ofd });
    const w = new StructWriter(F.size).u16(F.l_whence, abi.SEEK_SET);
    if (!conflict) {
      // Only l_type changes when the range is free.
      raw.set(new Uint8Array([abi.F_UNLCK, 0]), F.l_type);
      const r = c.user.copyOut(addr, raw);
      return isErrno(r) ? r : 0;
    }
    w.u16(F.l_type, conflict.type)
      .u64(F.l_start, conflict.start)
      .u64(F.l_len, conflict.end === Infinity ? 0 : conflict.end - conflict.start + 1)
      .i32(F.l_pid, conflict.ofd ? -1 : conflict.pid);
    const r = c.user.copyOut(addr, w.bytes);
    return isErrno(r) ? r : 0;
  }
  if (type === abi.F_RDLCK && !f.readable) return EBADF;
  if (type === abi.F_WRLCK && !f.writable) return EBADF;
  if (ofd) trackOfd(f);
  const wait = cmd === abi.F_SETLKW || cmd === abi.F_OFD_SETLKW;
  return setLock(f, { ...range, type, owner, ofd, pid: c.proc.pid }, wait ? taskBlocker(c.kernel, c.task) : undefined);
}

/** struct flock's range as inclusive offsets (flock64_to_posix_lock). */
async function lockRange(f: File, whence: number, start: number, len: number): Promise<LockRange | Errno> {
  let base: number;
  switch (whence) {
    case abi.SEEK_SET:
      base = 0;
      break;
    case abi.SEEK_CUR: {
      const pos = await f.lseek(0, abi.SEEK_CUR);
      if (isErrno(pos)) return pos;
      base = pos;
      break;
    }
    case abi.SEEK_END: {
      const a = await f.getattr();
      if (isErrno(a)) return a;
      base = a.size;
      break;
    }
    default:
      return EINVAL;
  }
  let s = base + start;
  if (s < 0) return EINVAL;
  let end: number;
  if (len > 0) {
    end = s + len - 1;
    if (!Number.isSafeInteger(end)) return EOVERFLOW;
  } else if (len === 0) {
    end = Infinity;
  } else {
    end = s - 1;
    s += len;
    if (s < 0) return EINVAL;
  }
  return { start: s, end };
}

const LOCK_SH = 1;
const LOCK_EX = 2;
const LOCK_NB = 4;
const LOCK_UN = 8;

/** flock(fd, operation): LOCK_SH, LOCK_EX or LOCK_UN, with LOCK_NB for no waiting. */
export function sys_flock(c: SysCtx): SysResult | Promise<SysResult> {
  const f = c.proc.fds.get(c.i32(0));
  if (isErrno(f)) return f;
  const op = c.i32(1);
  const kind = op & ~LOCK_NB;
  const type = kind === LOCK_SH ? abi.F_RDLCK : kind === LOCK_EX ? abi.F_WRLCK : kind === LOCK_UN ? abi.F_UNLCK : -1;
  if (type < 0) return EINVAL;
  if (f.flags & abi.O_PATH) return EBADF;
  return flock(f, type as LockType | typeof abi.F_UNLCK, op & LOCK_NB ? undefined : taskBlocker(c.kernel, c.task));
}
