// futex(2): the operations glibc's threads, condition variables and robust
// mutexes use. PI futexes are not supported (ENOSYS, reported once).
// futex_waitv(2) (Linux 5.16+): wait on up to 128 words at once.

import * as abi from '../../linux/abi.js';
import { EFAULT, EINVAL, ENOSYS, Errno, isErrno } from '../../linux/errno.js';
import { FUTEX_BITSET_MATCH_ANY, FutexWord, wakeOp } from '../futex.js';
import { readTimeout, clockNowNs } from './time.js';
import { StructReader } from '../usercopy.js';
import { Parked, SysCtx, SysResult } from './context.js';
import type { Deadline } from '../deadline.js';

const FUTEX_WAIT = 0;
const FUTEX_WAKE = 1;
const FUTEX_REQUEUE = 3;
const FUTEX_CMP_REQUEUE = 4;
const FUTEX_WAKE_OP = 5;
const FUTEX_WAIT_BITSET = 9;
const FUTEX_WAKE_BITSET = 10;
const FUTEX_PRIVATE_FLAG = 128;
const FUTEX_CLOCK_REALTIME = 256;

/** futex_waitv: most words in one call, and struct futex_waitv { u64 val; u64 uaddr; u32 flags; u32 __reserved; }. */
const FUTEX_WAITV_MAX = 128;
const FUTEX_WAITV = { size: 24, val: 0, uaddr: 8, flags: 16, reserved: 20 } as const;
/** futex2 per-word flags: the size field (only U32 is implemented, as in Linux) and private. */
const FUTEX2_SIZE_U32 = 0x02;
const FUTEX2_SIZE_MASK = 0x03;
const FUTEX2_PRIVATE = 128;

/** The deadline of a timeout: absolute on `clock`, or (null) relative on CLOCK_MONOTONIC; undefined: none. */
function timeoutDeadline(c: SysCtx, addr: number, absoluteClock: number | null): Deadline | undefined | Errno {
  if (!addr) return undefined;
  const ns = readTimeout(c, addr);
  if (isErrno(ns)) return ns;
  const clock = absoluteClock ?? abi.CLOCK_MONOTONIC;
  const now = () => clockNowNs(clock);
  return { now, at: absoluteClock === null ? now() + ns : ns };
}

/** futex(uaddr, op, val, timeout|val2, uaddr2, val3). */
export function sys_futex(c: SysCtx): SysResult | Parked {
  const addr = c.u(0);
  const opFull = c.i32(1);
  const cmd = opFull & ~(FUTEX_PRIVATE_FLAG | FUTEX_CLOCK_REALTIME);
  const val = c.u32(2);
  const vm = c.proc.vm;
  const futexes = c.kernel.futexes;
  const realtime = (opFull & FUTEX_CLOCK_REALTIME) !== 0;
  // A shared futex on a shared page is keyed by its frame, so other processes mapping it meet there.
  const shared = (opFull & FUTEX_PRIVATE_FLAG) === 0;
  if (realtime && cmd !== FUTEX_WAIT_BITSET && cmd !== FUTEX_WAIT) return ENOSYS;
  const wait = (bitset: number, absolute: boolean): SysResult | Parked => {
    const t = timeoutDeadline(c, c.u(3), absolute ? (realtime ? abi.CLOCK_REALTIME : abi.CLOCK_MONOTONIC) : null);
    if (isErrno(t)) return t;
    return futexes.wait(c.task, addr, val, bitset, t, shared);
  };
  const count = (n: number) => (n > 0x7fffffff ? 0x7fffffff : n);
  switch (cmd) {
    case FUTEX_WAIT:
      return wait(FUTEX_BITSET_MATCH_ANY, false);
    case FUTEX_WAIT_BITSET:
      return wait(c.u32(5), true);
    case FUTEX_WAKE:
      return addr % 4 ? EINVAL : futexes.wake(vm, addr, count(val), FUTEX_BITSET_MATCH_ANY, shared);
    case FUTEX_WAKE_BITSET: {
      const bitset = c.u32(5);
      if (bitset === 0 || addr % 4) return EINVAL;
      return futexes.wake(vm, addr, count(val), bitset, shared);
    }
    case FUTEX_REQUEUE:
    case FUTEX_CMP_REQUEUE: {
      const addr2 = c.u(4);
      if (addr % 4 || addr2 % 4) return EINVAL;
      const val2 = c.u32(3);
      if ((val | 0) < 0 || (val2 | 0) < 0) return EINVAL;
      if (cmd === FUTEX_CMP_REQUEUE) {
        const cur = c.user.readU32(addr);
        if (isErrno(cur)) return cur;
        if (cur !== c.u32(5)) return Errno.of(11); // EAGAIN
      }
      return futexes.requeue(vm, addr, val, addr2, val2, shared);
    }
    case FUTEX_WAKE_OP: {
      const addr2 = c.u(4);
      if (addr % 4) return EINVAL;
      const hit = wakeOp(c.user, addr2, c.u32(5));
      if (isErrno(hit)) return hit;
      let n = futexes.wake(vm, addr, count(val), FUTEX_BITSET_MATCH_ANY, shared);
      if (hit) n += futexes.wake(vm, addr2, count(c.u32(3)), FUTEX_BITSET_MATCH_ANY, shared);
      return n;
    }
    default:
      return ENOSYS;
  }
}

/**
 * futex_waitv(waiters, nr_futexes, flags, timeout, clockid), checked in
 * Linux's order: flags (none defined) and nr_futexes in [1, 128] with
 * waiters non-NULL, else EINVAL; a timeout is an absolute time on
 * CLOCK_MONOTONIC or CLOCK_REALTIME (another clock: EINVAL; NULL: none);
 * then each entry: EFAULT if unreadable, EINVAL for flags outside
 * FUTEX2_SIZE_MASK | FUTEX2_PRIVATE, __reserved != 0, a size other than
 * U32, or a val wider than 32 bits (Linux 6.7+; before, it was truncated).
 * The wait itself is FutexTable.waitMany: the index of the word woken.
 */
export function sys_futex_waitv(c: SysCtx): SysResult | Parked {
  const waiters = c.u(0);
  const nr = c.u32(1);
  const clockid = c.i32(4);
  if (c.u32(2) !== 0) return EINVAL;
  if (nr === 0 || nr > FUTEX_WAITV_MAX || !waiters) return EINVAL;
  let t: Deadline | undefined;
  if (c.u(3)) {
    if (clockid !== abi.CLOCK_REALTIME && clockid !== abi.CLOCK_MONOTONIC) return EINVAL;
    const d = timeoutDeadline(c, c.u(3), clockid);
    if (isErrno(d)) return d;
    t = d;
  }
  const words: FutexWord[] = [];
  for (let i = 0; i < nr; i++) {
    const b = c.user.copyIn(waiters + i * FUTEX_WAITV.size, FUTEX_WAITV.size);
    if (isErrno(b)) return EFAULT;
    const rd = new StructReader(b);
    const flags = rd.u32(FUTEX_WAITV.flags);
    if (flags & ~(FUTEX2_SIZE_MASK | FUTEX2_PRIVATE) || rd.u32(FUTEX_WAITV.reserved) !== 0) return EINVAL;
    if ((flags & FUTEX2_SIZE_MASK) !== FUTEX2_SIZE_U32) return EINVAL;
    if (rd.u32(FUTEX_WAITV.val + 4) !== 0) return EINVAL;
    // Past 2^53 no user address exists: keep only the low bits exact, for the alignment check.
    const uaddr = rd.u64(FUTEX_WAITV.uaddr);
    const addr = uaddr <= Number.MAX_SAFE_INTEGER ? uaddr : Number.MAX_SAFE_INTEGER - 3 + (rd.u32(FUTEX_WAITV.uaddr) & 3);
    words.push({ addr, expected: rd.u32(FUTEX_WAITV.val), bitset: FUTEX_BITSET_MATCH_ANY, shared: (flags & FUTEX2_PRIVATE) === 0 });
  }
  return c.kernel.futexes.waitMany(c.task, words, t);
}
