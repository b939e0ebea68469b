// I/O multiplexing: ppoll, pselect6, epoll_create1/ctl/pwait/pwait2.
//
// Contract (Linux's fs/select.c and fs/eventpoll.c):
// - Readiness comes from File.pollEvents(); POLLERR|POLLHUP are always
//   reported; a bad fd is POLLNVAL for poll, EBADF for select.
// - One scan first; if nothing is ready, the thread waits on the files'
//   queues (files/blocking.ts) until something is, the timeout passes, or a
//   signal comes (EINTR; poll and select restart only when no handler runs,
//   epoll never: the table rows say so).
// - The optional signal mask applies for the duration of the call; after
//   EINTR it stays until the handler has run (task.savedSigmask), as
//   sigsuspend does.
// - ppoll and pselect6 write the time left back into their timespec.

import { performance } from 'node:perf_hooks';
import * as abi from '../../linux/abi.js';
import { EBADF, EFAULT, EINTR, EINVAL, Errno, isErrno } from '../../linux/errno.js';
import type { File, MaybeAsync } from '../files/file.js';
import { EpollFile } from '../files/epoll.js';
import { Blocker, taskBlocker, waitUntil, Wake, type WaitSource } from '../files/blocking.js';
import { StructReader, StructWriter } from '../usercopy.js';
import { UNBLOCKABLE } from '../signal-delivery.js';
import { SysCtx, SysResult } from './context.js';
import { readTimeout } from './time.js';
import { PAGE_W } from '../../vcpu/memory.js';

// ---- shared: timeouts and the temporary signal mask ----

/** A relative timespec at `addr` as a deadline on performance.now(); null for addr 0 (no timeout). */
function readDeadline(c: SysCtx, addr: number): number | null | Errno {
  if (!addr) return null;
  const ns = readTimeout(c, addr);
  return isErrno(ns) ? ns : performance.now() + Number(ns) / 1e6;
}

/** Write the time left before `deadline` back to the timespec at `addr` (poll_select_finish). */
function writeTimeLeft(c: SysCtx, addr: number, deadline: number | null, zero: boolean): void {
  if (!addr || deadline === null || zero) return;
  const leftNs = Math.max(0, Math.round((deadline - performance.now()) * 1e6));
  c.user.copyOut(addr, new StructWriter(16).u64(0, Math.floor(leftNs / 1e9)).u64(8, leftNs % 1e9).bytes);
}

/** The sigset at `addr` (size must be 8), or null for none. */
function readSigmask(c: SysCtx, addr: number, size: number): bigint | null | Errno {
  if (!addr) return null;
  if (size !== abi.SIGSET_SIZE) return EINVAL;
  return c.user.readBigU64(addr);
}

/**
 * Run `body` with the thread's mask replaced by `mask` (when given). On EINTR
 * the old mask is restored only after the handler runs (savedSigmask);
 * otherwise at once.
 */
function withSigmask(c: SysCtx, mask: bigint | null, body: () => MaybeAsync<SysResult>): MaybeAsync<SysResult> {
  if (mask === null) return body();
  const t = c.task;
  t.savedSigmask = t.sigmask;
  t.sigmask = mask & ~UNBLOCKABLE;
  const done = (r: SysResult): SysResult => {
    if (r !== EINTR && t.savedSigmask !== null) {
      t.sigmask = t.savedSigmask;
      t.savedSigmask = null;
    }
    return r;
  };
  const r = body();
  return r instanceof Promise ? r.then(done) : done(r);
}

/**
 * The poll loop shared by ppoll, pselect6 and epoll: `scan()` counts ready
 * entries (filling its results; an Errno ends the call); when none are, wait
 * on `sources` and scan again.
 */
function pollLoop(b: Blocker, scan: () => number | Errno, sources: WaitSource[], deadline: number | null): MaybeAsync<number | Errno> {
  const n = scan();
  if (n !== 0) return n;
  if (b.signalPending()) return EINTR;
  if (deadline !== null && deadline <= performance.now()) return 0;
  return (async () => {
    let res: number | Errno = 0;
    const w = await waitUntil(b, sources, () => (res = scan()) !== 0, deadline);
    if (w === Wake.Ready) return res;
    if (w === Wake.Timeout) return scan();
    return EINTR;
  })();
}

// ---- ppoll ----

/** ppoll(fds, nfds, tsp, sigmask, sigsetsize). */
export function sys_ppoll(c: SysCtx): SysResult | Promise<SysResult> {
  const addr = c.u(0);
  const nfds = c.u(1);
  if (nfds > Number(c.proc.rlimits[abi.RLIMIT_NOFILE].cur)) return EINVAL;
  const tsp = c.u(2);
  const deadline = readDeadline(c, tsp);
  if (isErrno(deadline)) return deadline;
  const zeroTimeout = deadline !== null && deadline <= performance.now();
  const mask = readSigmask(c, c.u(3), c.u(4));
  if (isErrno(mask)) return mask;
  const P = abi.POLLFD;
  const raw = c.user.copyIn(addr, nfds * P.size);
  if (isErrno(raw)) return raw;
  const dv = new DataView(raw.buffer, raw.byteOffset, raw.byteLength);
  const entries: { file: File | null; events: number }[] = [];
  const sources: WaitSource[] = [];
  for (let i = 0; i < nfds; i++) {
    const fd = dv.getInt32(i * P.size + P.fd, true);
    const events = dv.getUint16(i * P.size + P.events, true);
    const f = fd < 0 ? null : c.proc.fds.get(fd);
    const file = isErrno(f) ? null : f;
    entries.push({ file, events });
    const q = file?.waitQueue;
    if (q) sources.push({ queue: q, mask: events });
  }
  const scan = (): number => {
    let n = 0;
    for (let i = 0; i < nfds; i++) {
      const fd = dv.getInt32(i * P.size + P.fd, true);
      const { file, events } = entries[i];
      let rev = 0;
      if (fd >= 0) rev = file ? file.pollEvents() & (events | abi.POLLERR | abi.POLLHUP) : abi.POLLNVAL;
      dv.setUint16(i * P.size + P.revents, rev, true);
      if (rev) n++;
    }
    return n;
  };
  const finish = (r: number | Errno): SysResult => {
    writeTimeLeft(c, tsp, deadline, zeroTimeout);
    if (isErrno(r)) return r;
    const w = c.user.copyOut(addr, raw);
    return isErrno(w) ? w : r;
  };
  return withSigmask(c, mask, () => {
    const r = pollLoop(taskBlocker(c.kernel, c.task), scan, sources, deadline);
    return r instanceof Promise ? r.then(finish) : finish(r);
  });
}

// ---- pselect6 ----

const POLLIN_SET = abi.POLLRDNORM | abi.POLLRDBAND | abi.POLLIN | abi.POLLHUP | abi.POLLERR;
const POLLOUT_SET = abi.POLLWRBAND | abi.POLLWRNORM | abi.POLLOUT | abi.POLLERR;
const POLLEX_SET = abi.POLLPRI;

/** pselect6(nfds, readfds, writefds, exceptfds, tsp, {sigmask, size}*): fd_sets of 64-bit words. */
export function sys_pselect6(c: SysCtx): SysResult | Promise<SysResult> {
  let nfds = c.i32(0);
  if (nfds < 0) return EINVAL;
  nfds = Math.min(nfds, c.proc.fds.limit);
  const words = Math.ceil(nfds / abi.NFDBITS);
  const setAddrs = [c.u(1), c.u(2), c.u(3)];
  const tsp = c.u(4);
  const deadline = readDeadline(c, tsp);
  if (isErrno(deadline)) return deadline;
  const zeroTimeout = deadline !== null && deadline <= performance.now();
  let mask: bigint | null = null;
  if (c.u(5)) {
    const sd = c.user.copyIn(c.u(5), 16);
    if (isErrno(sd)) return sd;
    const rd = new StructReader(sd);
    const m = readSigmask(c, rd.u64(0), rd.u64(8));
    if (isErrno(m)) return m;
    mask = m;
  }
  const ins: (bigint[] | null)[] = [];
  for (const a of setAddrs) {
    if (!a) {
      ins.push(null);
      continue;
    }
    const b = c.user.copyIn(a, words * 8);
    if (isErrno(b)) return b;
    const rd = new StructReader(b);
    ins.push(Array.from({ length: words }, (_, i) => rd.big(i * 8)));
  }
  const bit = (set: bigint[] | null, fd: number) => set !== null && (set[fd >> 6] >> BigInt(fd & 63)) & 1n;
  // Every fd named in any set must be open (EBADF otherwise).
  const files: { fd: number; file: File; want: number }[] = [];
  const sources: WaitSource[] = [];
  for (let fd = 0; fd < nfds; fd++) {
    const wantIn = bit(ins[0], fd);
    const wantOut = bit(ins[1], fd);
    const wantEx = bit(ins[2], fd);
    if (!wantIn && !wantOut && !wantEx) continue;
    const f = c.proc.fds.get(fd);
    if (isErrno(f)) return EBADF;
    const want = (wantIn ? POLLIN_SET : 0) | (wantOut ? POLLOUT_SET : 0) | (wantEx ? POLLEX_SET : 0);
    files.push({ fd, file: f, want });
    if (f.waitQueue) sources.push({ queue: f.waitQueue, mask: want });
  }
  const outs = [0, 1, 2].map(() => new Array<bigint>(words).fill(0n));
  const scan = (): number => {
    for (const o of outs) o.fill(0n);
    let n = 0;
    for (const { fd, file } of files) {
      const ev = file.pollEvents();
      const sets = [ev & POLLIN_SET && bit(ins[0], fd), ev & POLLOUT_SET && bit(ins[1], fd), ev & POLLEX_SET && bit(ins[2], fd)];
      sets.forEach((on, i) => {
        if (on) {
          outs[i][fd >> 6] |= 1n << BigInt(fd & 63);
          n++;
        }
      });
    }
    return n;
  };
  const finish = (r: number | Errno): SysResult => {
    writeTimeLeft(c, tsp, deadline, zeroTimeout);
    if (isErrno(r)) return r;
    for (let i = 0; i < 3; i++) {
      if (!setAddrs[i]) continue;
      const w = new StructWriter(words * 8);
      outs[i].forEach((v, j) => w.u64(j * 8, v));
      if (isErrno(c.user.copyOut(setAddrs[i], w.bytes))) return EFAULT;
    }
    return r;
  };
  return withSigmask(c, mask, () => {
    const r = pollLoop(taskBlocker(c.kernel, c.task), scan, sources, deadline);
    return r instanceof Promise ? r.then(finish) : finish(r);
  });
}

// ---- epoll ----

export function sys_epoll_create1(c: SysCtx): SysResult {
  const flags = c.i32(0);
  if (flags & ~abi.EPOLL_CLOEXEC) return EINVAL;
  return c.proc.fds.install(new EpollFile(0), (flags & abi.EPOLL_CLOEXEC) !== 0);
}

/** epoll_ctl(epfd, op, fd, event). */
export function sys_epoll_ctl(c: SysCtx): SysResult {
  const op = c.i32(1);
  let events = 0;
  let data = 0n;
  if (op !== abi.EPOLL_CTL_DEL) {
    const b = c.user.copyIn(c.u(3), abi.EPOLL_EVENT.size);
    if (isErrno(b)) return b;
    const rd = new StructReader(b);
    events = rd.u32(abi.EPOLL_EVENT.events);
    data = rd.big(abi.EPOLL_EVENT.data);
  }
  const ep = c.proc.fds.get(c.i32(0));
  if (isErrno(ep)) return ep;
  const target = c.proc.fds.get(c.i32(2));
  if (isErrno(target)) return target;
  if (!(ep instanceof EpollFile)) return EINVAL;
  return ep.ctl(op, c.i32(2), target, events, data);
}

/** epoll_pwait(epfd, events, maxevents, timeout ms, sigmask, size). */
export function sys_epoll_pwait(c: SysCtx): SysResult | Promise<SysResult> {
  const ms = c.i32(3);
  return epollWait(c, ms < 0 ? null : performance.now() + ms);
}

/** epoll_pwait2(epfd, events, maxevents, timespec, sigmask, size). */
export function sys_epoll_pwait2(c: SysCtx): SysResult | Promise<SysResult> {
  const deadline = readDeadline(c, c.u(3));
  if (isErrno(deadline)) return deadline;
  return epollWait(c, deadline);
}

function epollWait(c: SysCtx, deadline: number | null): SysResult | Promise<SysResult> {
  const addr = c.u(1);
  const max = c.i32(2);
  if (max <= 0 || max > abi.EP_MAX_EVENTS) return EINVAL;
  if (!c.user.mem.accessible(addr, max * abi.EPOLL_EVENT.size, PAGE_W)) return EFAULT;
  const ep = c.proc.fds.get(c.i32(0));
  if (isErrno(ep)) return ep;
  if (!(ep instanceof EpollFile)) return EINVAL;
  const mask = readSigmask(c, c.u(4), c.u(5));
  if (isErrno(mask)) return mask;
  const E = abi.EPOLL_EVENT;
  const deliver = (): number | Errno => {
    const evs = ep.harvest(max);
    if (evs.length === 0) return 0;
    const w = new StructWriter(evs.length * E.size);
    evs.forEach((e, i) => w.u32(i * E.size + E.events, e.events).u64(i * E.size + E.data, e.data));
    const r = c.user.copyOut(addr, w.bytes);
    return isErrno(r) ? r : evs.length;
  };
  const b = taskBlocker(c.kernel, c.task);
  return withSigmask(c, mask, () => pollLoop(b, deliver, [{ queue: ep.waitQueue, mask: abi.POLLIN }], deadline));
}
