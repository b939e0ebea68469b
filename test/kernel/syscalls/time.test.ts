// Clock calls on a process stand-in: CPU clock ids as glibc makes them
// (clock_getcpuclockid, pthread_getcpuclockid), and setting clocks, which
// Linux's checks pass or refuse before the sandbox's EPERM.

import * as assert from 'node:assert/strict';
import * as abi from '../../../src/linux/abi.js';
import { EFAULT, EINVAL, EPERM } from '../../../src/linux/errno.js';
import { UserMemory } from '../../../src/kernel/usercopy.js';
import * as time from '../../../src/kernel/syscalls/time.js';
import type { SysCtx, SysResult } from '../../../src/kernel/syscalls/context.js';
import { GuestMemory, PAGE_R, PAGE_SIZE, PAGE_W } from '../../../src/vcpu/memory.js';

const BUF = 0x10000;
const BAD = 0x8;

/** glibc's MAKE_PROCESS_CPUCLOCK / MAKE_THREAD_CPUCLOCK with CPUCLOCK_SCHED. */
const processClock = (pid: number) => (~pid << 3) | 2;
const threadClock = (tid: number) => (~tid << 3) | 4 | 2;

describe('kernel/syscalls/time: CPU clock ids and setting clocks', () => {
  const mem = GuestMemory.create();
  const user = new UserMemory(mem);
  for (let p = 0; p < 2; p++) mem.pageFlags[BUF / PAGE_SIZE + p] = PAGE_R | PAGE_W;
  // Stand-ins with Task's and Process's CPU counts (a thread's retired instructions; the process adds the dead threads').
  const standInThread = (tid: number, instructions: number) => ({ tid, cpuInstructions: () => instructions });
  const standInProcess = (pid: number, threads: ReturnType<typeof standInThread>[], deadInstructions: number) =>
    ({ pid, threads: new Set(threads), cpuInstructions: () => threads.reduce((n, t) => n + t.cpuInstructions(), deadInstructions) });
  const t1 = standInThread(10, 5_000);
  const t2 = standInThread(11, 7_000_000_123);
  const proc = standInProcess(10, [t1, t2], 1_000);
  const other = standInProcess(20, [standInThread(20, 3)], 0);
  const kernel = { processes: new Map<number, unknown>([[10, proc], [20, other]]) };

  const call = (fn: (c: SysCtx) => SysResult | Promise<SysResult>, ...args: number[]) => {
    const c = { kernel, proc, task: t1, user, i32: (i: number) => (args[i] ?? 0) | 0, u: (i: number) => args[i] ?? 0, u32: (i: number) => (args[i] ?? 0) >>> 0 };
    return fn(c as unknown as SysCtx);
  };
  const readNs = () => {
    const dv = new DataView(mem.u8.slice(BUF, BUF + 16).buffer);
    return dv.getBigInt64(0, true) * 1_000_000_000n + dv.getBigInt64(8, true);
  };
  const putTimespec = (sec: number, nsec: number) => {
    const dv = new DataView(new ArrayBuffer(16));
    dv.setBigInt64(0, BigInt(sec), true);
    dv.setBigInt64(8, BigInt(nsec), true);
    assert.equal(user.copyOut(BUF, new Uint8Array(dv.buffer)), 0);
  };

  it('clock_gettime of a thread CPU clock id: the caller (tid 0), another thread of the process; EINVAL for a thread elsewhere', async () => {
    assert.equal(await call(time.sys_clock_gettime, threadClock(0), BUF), 0);
    assert.equal(readNs(), 5_000n);
    assert.equal(await call(time.sys_clock_gettime, threadClock(11), BUF), 0);
    assert.equal(readNs(), 7_000_000_123n);
    assert.equal(await call(time.sys_clock_gettime, threadClock(20), BUF), EINVAL);
    assert.equal(await call(time.sys_clock_gettime, threadClock(11) | 3, BUF), EINVAL, 'which = 3');
  });

  it('clock_gettime of a process CPU clock id: the caller (pid 0) counts every thread and the dead ones; another process by pid; EINVAL for nobody', async () => {
    assert.equal(await call(time.sys_clock_gettime, processClock(0), BUF), 0);
    assert.equal(readNs(), 7_000_006_123n);
    assert.equal(await call(time.sys_clock_gettime, processClock(20), BUF), 0);
    assert.equal(readNs(), 3n);
    assert.equal(await call(time.sys_clock_gettime, processClock(99), BUF), EINVAL);
    assert.equal(await call(time.sys_clock_getres, threadClock(0), BUF), 0);
    assert.equal(readNs(), 1n);
    assert.equal(await call(time.sys_clock_nanosleep, threadClock(0), 0, BUF, 0), EINVAL);
  });

  it('clock_settime: EPERM for CLOCK_REALTIME and CPU clocks; EINVAL for MONOTONIC, unknown clocks and bad times; EFAULT', async () => {
    putTimespec(1_700_000_000, 5);
    assert.equal(await call(time.sys_clock_settime, abi.CLOCK_REALTIME, BUF), EPERM);
    assert.equal(await call(time.sys_clock_settime, processClock(0), BUF), EPERM);
    assert.equal(await call(time.sys_clock_settime, processClock(99), BUF), EINVAL);
    assert.equal(await call(time.sys_clock_settime, abi.CLOCK_MONOTONIC, BUF), EINVAL);
    assert.equal(await call(time.sys_clock_settime, abi.CLOCK_BOOTTIME, BUF), EINVAL);
    assert.equal(await call(time.sys_clock_settime, 77, BUF), EINVAL);
    assert.equal(await call(time.sys_clock_settime, abi.CLOCK_REALTIME, BAD), EFAULT);
    putTimespec(1, 1_000_000_000);
    assert.equal(await call(time.sys_clock_settime, abi.CLOCK_REALTIME, BUF), EINVAL);
    putTimespec(-1, 0);
    assert.equal(await call(time.sys_clock_settime, abi.CLOCK_REALTIME, BUF), EINVAL);
  });

  it('settimeofday: EPERM (also with no arguments); EINVAL for a bad tv_usec; EFAULT', async () => {
    putTimespec(1_700_000_000, 999_999);
    assert.equal(await call(time.sys_settimeofday, BUF, 0), EPERM);
    assert.equal(await call(time.sys_settimeofday, 0, 0), EPERM);
    assert.equal(await call(time.sys_settimeofday, BUF, BUF + 0x100), EPERM);
    putTimespec(1_700_000_000, 1_000_000);
    assert.equal(await call(time.sys_settimeofday, BUF, 0), EINVAL);
    assert.equal(await call(time.sys_settimeofday, BAD, 0), EFAULT);
    putTimespec(0, 0);
    assert.equal(await call(time.sys_settimeofday, BUF, BAD), EFAULT);
  });
});
