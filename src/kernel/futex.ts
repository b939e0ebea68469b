// Futexes: threads waiting on a 32-bit word of their address space.
//
// Contract (futex(2)): FUTEX_WAIT blocks only while the word still holds the
// expected value (checked and queued in one step: the kernel worker runs one
// system call at a time, so no wake can slip in between); wakes go to the
// oldest waiters first whose bitset intersects the waker's. futex_waitv
// queues one such waiter per word, sharing one sleep: a wake of any of them
// ends it. A word is keyed by its address space and address, unless it is
// a shared futex (no FUTEX_PRIVATE_FLAG) on a shared page (MAP_SHARED, shm:
// src/kernel/mm.ts): then by where it lives in the frame pool, so processes
// mapping it meet there, as Linux keys a shared futex by its page.
//
// Robust futex lists (set_robust_list) are walked when a thread dies: each
// lock it still holds gets FUTEX_OWNER_DIED and one waiter is woken.

import { EAGAIN, EFAULT, EINTR, EINVAL, ETIMEDOUT, Errno, isErrno } from '../linux/errno.js';
import type { AddressSpace } from './address-space.js';
import type { Task } from './task.js';
import type { UserMemory } from './usercopy.js';
import { Parked } from './syscalls/context.js';
import { atDeadline, Deadline } from './deadline.js';

export const FUTEX_BITSET_MATCH_ANY = 0xffffffff;
const FUTEX_WAITERS = 0x80000000;
const FUTEX_OWNER_DIED = 0x40000000;
const FUTEX_TID_MASK = 0x3fffffff;
/** Most robust-list entries walked (Linux's ROBUST_LIST_LIMIT). */
const ROBUST_LIST_LIMIT = 2048;

/** One word of a multi-word wait: sleep while `addr` holds `expected`. */
export interface FutexWord {
  addr: number;
  expected: number;
  /** Wakes whose bitset meets this one wake it (FUTEX_BITSET_MATCH_ANY for futex_waitv). */
  bitset: number;
  /** A shared (not FUTEX_PRIVATE) futex: Linux resolves its key, so reads its page, before any value. */
  shared: boolean;
}

interface Waiter {
  task: Task;
  bitset: number;
  /** Where it waits now (a requeue moves it): its key's space and address. */
  space: object;
  addr: number;
  wake: () => void;
}

/** The key space of futex words on shared pages: offsets in the frame pool. */
const POOL_SPACE = {};

/** The key of the futex word at `addr` of `vm` (`shared`: not FUTEX_PRIVATE): [space, address in it]. */
function keyOf(vm: AddressSpace, addr: number, shared: boolean): [object, number] {
  const off = shared ? vm.user.sharedOffset(addr) : null;
  return off === null ? [vm, addr] : [POOL_SPACE, off];
}

export class FutexTable {
  private readonly queues = new Map<object, Map<number, Waiter[]>>();

  private queue(vm: object, addr: number, create: boolean): Waiter[] | undefined {
    let byAddr = this.queues.get(vm);
    if (!byAddr) {
      if (!create) return undefined;
      byAddr = new Map();
      this.queues.set(vm, byAddr);
    }
    let q = byAddr.get(addr);
    if (!q && create) {
      q = [];
      byAddr.set(addr, q);
    }
    return q;
  }

  private drop(w: Waiter): void {
    const vm = w.space, addr = w.addr;
    const byAddr = this.queues.get(vm);
    const q = byAddr?.get(addr);
    if (!q) return;
    const i = q.indexOf(w);
    if (i >= 0) q.splice(i, 1);
    if (q.length === 0) {
      byAddr!.delete(addr);
      if (byAddr!.size === 0) this.queues.delete(vm);
    }
  }

  /**
   * FUTEX_WAIT(_BITSET): EINVAL for an empty bitset, otherwise `waitMany` on
   * the one word (`shared`: without FUTEX_PRIVATE_FLAG); resolves 0 when woken.
   */
  wait(task: Task, addr: number, expected: number, bitset: number, deadline: Deadline | undefined, shared = false): Errno | Parked {
    if (bitset === 0) return EINVAL;
    return this.waitMany(task, [{ addr, expected, bitset, shared }], deadline);
  }

  /**
   * Sleep on several words at once (futex_waitv; FUTEX_WAIT is the case of
   * one). As Linux's futex_wait_multiple_setup: first every word's key —
   * EINVAL if an address is not 4-byte aligned, EFAULT if a shared word is
   * unreadable —, then, in order, each word's value: EFAULT if unreadable,
   * EAGAIN if it is not `expected` (nothing stays queued). Otherwise one
   * waiter per word is queued (each one an ordinary waiter: woken, counted
   * and requeued alone), all sharing one sleep: the first wake of any of them
   * resolves the index of its word and drops the others; ETIMEDOUT once
   * `deadline` has passed (undefined: never); EINTR when a signal interrupts `task`
   * (Task.interrupt).
   */
  waitMany(task: Task, words: readonly FutexWord[], deadline: Deadline | undefined): Errno | Parked {
    const vm = task.process.vm;
    for (const w of words) {
      if (w.addr % 4 !== 0) return EINVAL;
      if (w.shared && isErrno(vm.user.readU32(w.addr))) return EFAULT;
    }
    for (const w of words) {
      const cur = vm.user.readU32(w.addr);
      if (isErrno(cur)) return EFAULT;
      if (cur !== w.expected >>> 0) return EAGAIN;
    }
    // Woken synchronously (Parked, not a Promise): the waiter can run in its waker's slice.
    const parked = new Parked();
    let cancelTimer = () => {};
    const finish = (r: number | Errno) => {
      cancelTimer();
      for (const q of queued) this.drop(q);
      parked.settle(r);
    };
    const queued: Waiter[] = words.map((w, i) => {
      const [space, key] = keyOf(vm, w.addr, w.shared);
      return { task, bitset: w.bitset, space, addr: key, wake: () => finish(i) };
    });
    for (const q of queued) this.queue(q.space, q.addr, true)!.push(q);
    if (deadline) cancelTimer = atDeadline(deadline, () => finish(ETIMEDOUT));
    task.onInterrupt(() => finish(EINTR));
    return parked;
  }

  /**
   * Wake up to `n` waiters on `addr` whose bitset meets `bitset`; the number
   * woken. `shared` (no FUTEX_PRIVATE_FLAG; the kernel's own wakes, as
   * Linux's clear_child_tid and robust-list wakes) reaches waiters of other
   * processes on a shared page.
   */
  wake(vm: AddressSpace, addr: number, n: number, bitset = FUTEX_BITSET_MATCH_ANY, shared = true): number {
    const [space, key] = keyOf(vm, addr, shared);
    const q = this.queue(space, key, false);
    if (!q) return 0;
    let woken = 0;
    for (const w of [...q]) {
      if (woken >= n) break;
      if ((w.bitset & bitset) === 0) continue;
      this.drop(w);
      w.wake();
      woken++;
    }
    return woken;
  }

  /** Wake `n` waiters of `addr`, move up to `moveMax` more to `addr2`; the number woken plus moved. */
  requeue(vm: AddressSpace, addr: number, n: number, addr2: number, moveMax: number, shared = true): number {
    const woken = this.wake(vm, addr, n, FUTEX_BITSET_MATCH_ANY, shared);
    const [space, key] = keyOf(vm, addr, shared);
    const [space2, key2] = keyOf(vm, addr2, shared);
    const q = this.queue(space, key, false);
    if (!q || (space === space2 && key === key2)) return woken;
    let moved = 0;
    while (q.length > 0 && moved < moveMax) {
      const w = q[0];
      this.drop(w);
      w.space = space2;
      w.addr = key2;
      this.queue(space2, key2, true)!.push(w);
      moved++;
    }
    return woken + moved;
  }

  /** Forget every waiter of a discarded address space. */
  forget(vm: AddressSpace): void {
    this.queues.delete(vm);
  }
}

/**
 * FUTEX_WAKE_OP: `*addr2 = op(old, oparg)` and whether `old` passes the
 * comparison encoded in `val3` (EINVAL for undefined ops, EFAULT).
 */
export function wakeOp(user: UserMemory, addr2: number, val3: number): boolean | Errno {
  const op = (val3 >>> 28) & 7;
  const shiftArg = (val3 >>> 28) & 8;
  const cmp = (val3 >>> 24) & 15;
  let oparg = (val3 << 8) >> 20; // bits 23..12, sign-extended
  const cmparg = (val3 << 20) >> 20; // bits 11..0, sign-extended
  if (shiftArg) {
    if (oparg < 0 || oparg > 31) return EINVAL;
    oparg = 1 << oparg;
  }
  if (addr2 % 4 !== 0) return EINVAL;
  const oldRaw = user.readU32(addr2);
  if (isErrno(oldRaw)) return EFAULT;
  const old = oldRaw | 0;
  let next: number;
  switch (op) {
    case 0: next = oparg; break; // SET
    case 1: next = old + oparg; break; // ADD
    case 2: next = old | oparg; break; // OR
    case 3: next = old & ~oparg; break; // ANDN
    case 4: next = old ^ oparg; break; // XOR
    default: return EINVAL;
  }
  const w = user.writeU32(addr2, next >>> 0);
  if (isErrno(w)) return EFAULT;
  switch (cmp) {
    case 0: return old === cmparg;
    case 1: return old !== cmparg;
    case 2: return old < cmparg;
    case 3: return old <= cmparg;
    case 4: return old > cmparg;
    case 5: return old >= cmparg;
    default: return EINVAL;
  }
}

/**
 * A dying thread's robust list: mark each futex it owns FUTEX_OWNER_DIED and
 * wake one waiter. Faults end the walk quietly, as in Linux.
 */
export function releaseRobustList(task: Task, wake: (addr: number) => void): void {
  const head = task.robustList;
  if (!head) return;
  const user = task.process.user;
  const offset = user.readU64(head + 8);
  const pending = user.readU64(head + 16);
  if (isErrno(offset)) return;
  // futex_offset is a signed long.
  const off = offset >= 2 ** 63 ? offset - 2 ** 64 : offset;
  const handle = (entry: number) => {
    const addr = entry + off;
    const word = user.readU32(addr);
    if (isErrno(word) || (word & FUTEX_TID_MASK) !== task.tid) return;
    const next = ((word & FUTEX_WAITERS) | FUTEX_OWNER_DIED) >>> 0;
    if (isErrno(user.writeU32(addr, next))) return;
    if (word & FUTEX_WAITERS) wake(addr);
  };
  // Bit 0 of each link marks a PI futex; the entry is the link without it.
  const unmark = (link: number) => link - (link % 2);
  let entry = user.readU64(head);
  for (let i = 0; i < ROBUST_LIST_LIMIT && !isErrno(entry) && unmark(entry) !== head; i++) {
    entry = unmark(entry);
    if (entry !== pending) handle(entry);
    entry = user.readU64(entry);
  }
  if (!isErrno(pending) && pending) handle(unmark(pending));
  task.robustList = 0;
}
