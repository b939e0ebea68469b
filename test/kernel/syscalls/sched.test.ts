// Scheduling policy calls on a process stand-in: Linux's priority ranges,
// policies kept per thread and reported back, EPERM without CAP_SYS_NICE.

import * as assert from 'node:assert/strict';
import { EFAULT, EINVAL, EPERM, ESRCH } from '../../../src/linux/errno.js';
import { UserMemory } from '../../../src/kernel/usercopy.js';
import * as sched from '../../../src/kernel/syscalls/sched.js';
import type { SysCtx, SysResult } from '../../../src/kernel/syscalls/context.js';
import { GuestMemory, PAGE_R, PAGE_SIZE, PAGE_W } from '../../../src/vcpu/memory.js';

const BUF = 0x10000;
const BAD = 0x8;
const [OTHER, FIFO, RR, BATCH, IDLE] = [0, 1, 2, 3, 5];
const CAP_SYS_NICE = 1n << 23n;

describe('kernel/syscalls/sched: scheduling policies', () => {
  const mem = GuestMemory.create();
  const user = new UserMemory(mem);
  mem.pageFlags[BUF / PAGE_SIZE] = PAGE_R | PAGE_W;
  const creds = (uid: number, caps: bigint) => ({ ruid: uid, euid: uid, caps: { effective: caps } });
  let me: { tid: number; sched: { policy: number; priority: number; resetOnFork: boolean }; process: unknown };
  let sibling: typeof me;
  let stranger: typeof me;
  let proc: { creds: ReturnType<typeof creds>; threads: Set<typeof me> };
  let kernel: { processes: Map<number, { threads: Set<typeof me> }> };

  beforeEach(() => {
    proc = { creds: creds(1000, 0n), threads: new Set() };
    const other = { creds: creds(0, 0n), threads: new Set<typeof me>() };
    const fresh = (tid: number, p: unknown) => ({ tid, sched: { policy: OTHER, priority: 0, resetOnFork: false }, process: p });
    me = fresh(10, proc);
    sibling = fresh(11, proc);
    stranger = fresh(20, other);
    proc.threads.add(me).add(sibling);
    other.threads.add(stranger);
    kernel = { processes: new Map([[10, proc], [20, other]]) };
  });

  const call = (fn: (c: SysCtx) => SysResult | Promise<SysResult>, ...args: number[]) => {
    const c = { kernel, proc, task: me, user, i32: (i: number) => (args[i] ?? 0) | 0, u: (i: number) => args[i] ?? 0, u32: (i: number) => (args[i] ?? 0) >>> 0 };
    return fn(c as unknown as SysCtx);
  };
  const param = (p: number) => assert.equal(user.writeU32(BUF, p >>> 0), 0);

  it('priority ranges: 1-99 for FIFO and RR, 0 for the others, EINVAL for unknown policies', () => {
    assert.deepEqual([FIFO, RR, OTHER, BATCH, IDLE].map((p) => [call(sched.sys_sched_get_priority_min, p), call(sched.sys_sched_get_priority_max, p)]), [[1, 99], [1, 99], [0, 0], [0, 0], [0, 0]]);
    assert.equal(call(sched.sys_sched_get_priority_max, -23), EINVAL);
    assert.equal(call(sched.sys_sched_get_priority_min, 4), EINVAL);
  });

  it('getscheduler/getparam: SCHED_OTHER 0 for self, a sibling, another process; EINVAL for a negative pid or null param, ESRCH for nobody', () => {
    assert.equal(call(sched.sys_sched_getscheduler, 0), OTHER);
    assert.equal(call(sched.sys_sched_getscheduler, 20), OTHER);
    assert.equal(call(sched.sys_sched_getscheduler, -1), EINVAL);
    assert.equal(call(sched.sys_sched_getscheduler, 99), ESRCH);
    param(7);
    assert.equal(call(sched.sys_sched_getparam, 11, BUF), 0);
    assert.equal(user.readI32(BUF), 0);
    assert.equal(call(sched.sys_sched_getparam, -1, BUF), EINVAL);
    assert.equal(call(sched.sys_sched_getparam, 0, 0), EINVAL);
    assert.equal(call(sched.sys_sched_getparam, 0, BAD), EFAULT);
  });

  it('setscheduler without CAP_SYS_NICE: BATCH and IDLE for own threads, kept and reported; EPERM for real time, another user, leaving IDLE; EINVAL for bad priorities and policies', () => {
    param(0);
    assert.equal(call(sched.sys_sched_setscheduler, 11, BATCH, BUF), 0);
    assert.equal(call(sched.sys_sched_getscheduler, 11), BATCH);
    assert.equal(call(sched.sys_sched_setparam, 11, BUF), 0, 'same policy');
    assert.equal(call(sched.sys_sched_getscheduler, 11), BATCH);
    assert.equal(call(sched.sys_sched_setscheduler, 0, IDLE | 0x40000000, BUF), 0);
    assert.equal(call(sched.sys_sched_getscheduler, 0), IDLE | 0x40000000, 'SCHED_RESET_ON_FORK reported');
    assert.equal(call(sched.sys_sched_setscheduler, 0, OTHER, BUF), EPERM, 'leaving IDLE');
    assert.equal(call(sched.sys_sched_setscheduler, 20, BATCH, BUF), EPERM, 'another user');
    param(10);
    assert.equal(call(sched.sys_sched_setscheduler, 11, FIFO, BUF), EPERM);
    assert.equal(call(sched.sys_sched_setscheduler, 11, BATCH, BUF), EINVAL, 'priority 10 for BATCH');
    param(100);
    assert.equal(call(sched.sys_sched_setscheduler, 11, RR, BUF), EINVAL);
    param(0);
    assert.equal(call(sched.sys_sched_setscheduler, 11, 4, BUF), EINVAL);
    assert.equal(call(sched.sys_sched_setscheduler, 11, 6, BUF), EINVAL, 'SCHED_DEADLINE needs sched_setattr');
    assert.equal(call(sched.sys_sched_setscheduler, -1, OTHER, BUF), EINVAL);
    assert.equal(call(sched.sys_sched_setscheduler, 0, OTHER, 0), EINVAL);
    assert.equal(call(sched.sys_sched_setscheduler, 99, OTHER, BUF), ESRCH);
    assert.equal(call(sched.sys_sched_setparam, -1, BUF), EINVAL);
  });

  it('with CAP_SYS_NICE: real-time policies for anyone; sched_rr_get_interval 100 ms for RR, 0 for FIFO, 10 ms otherwise', () => {
    proc.creds = creds(1000, CAP_SYS_NICE);
    param(50);
    assert.equal(call(sched.sys_sched_setscheduler, 20, RR, BUF), 0);
    assert.equal(call(sched.sys_sched_getscheduler, 20), RR);
    assert.equal(call(sched.sys_sched_getparam, 20, BUF), 0);
    assert.equal(user.readI32(BUF), 50);
    const interval = (pid: number) => {
      assert.equal(call(sched.sys_sched_rr_get_interval, pid, BUF), 0);
      const dv = new DataView(mem.u8.slice(BUF, BUF + 16).buffer);
      return dv.getBigInt64(0, true) * 1_000_000_000n + dv.getBigInt64(8, true);
    };
    assert.equal(interval(20), 100_000_000n);
    param(1);
    assert.equal(call(sched.sys_sched_setscheduler, 0, FIFO, BUF), 0);
    assert.equal(interval(0), 0n);
    assert.equal(interval(11), 10_000_000n);
    assert.equal(call(sched.sys_sched_rr_get_interval, -1, BUF), EINVAL);
    assert.equal(call(sched.sys_sched_rr_get_interval, 0, BAD), EFAULT);
  });
});

describe('kernel/process-lifecycle: a clone\'s scheduling policy', () => {
  it('is the parent\'s; with SCHED_RESET_ON_FORK a real-time policy becomes SCHED_OTHER and the flag is cleared', async () => {
    const { inheritedSched } = await import('../../../src/kernel/process-lifecycle.js');
    assert.deepEqual(inheritedSched({ policy: 3, priority: 0, resetOnFork: false }), { policy: 3, priority: 0, resetOnFork: false });
    assert.deepEqual(inheritedSched({ policy: 2, priority: 50, resetOnFork: false }), { policy: 2, priority: 50, resetOnFork: false });
    assert.deepEqual(inheritedSched({ policy: 1, priority: 50, resetOnFork: true }), { policy: 0, priority: 0, resetOnFork: false });
    assert.deepEqual(inheritedSched({ policy: 5, priority: 0, resetOnFork: true }), { policy: 5, priority: 0, resetOnFork: false });
  });
});
