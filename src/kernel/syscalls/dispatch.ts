// The system call layer: one dispatcher for every call (docs/ARCHITECTURE.md, conventions 1-3).
//
// Contract:
// - The table (table.ts) is data: one row per riscv64 number, naming the
//   handler and its argument formats, or the errno and reason when the call is
//   unsupported. It drives --strace and the listing of supported calls.
// - Handlers decode arguments and call shared helpers; they return a value or
//   an Errno (never throw one). This dispatcher alone writes a0: -errno for an
//   Errno. Anything a handler throws is a kernel bug: logged loudly with the
//   call, and the process is killed with SIGSYS rather than given a guess.
// - A handler may return a Promise: the thread then blocks without holding
//   the vCPU, and resumes with the result. A handler that waits registers
//   with Task.onInterrupt how a signal cuts the wait short; when the result
//   is in, the dispatcher asks the task (Task.endWait) whether a signal did,
//   and an EINTR then restarts by the row's policy.
// - Buffers a call names by its arguments (table.ts 'buf' and 'iov') that
//   lie on shared pages not loaded yet (a file mapping before its first
//   touch) are loaded before the handler runs, MAX_ARG_SPAN bytes of each
//   at most: the thread blocks while fault-in.ts faultInRange() loads them,
//   then executes its ecall again, once (usercopy cannot wait for a file).
//   A handler meets absent pages only past that span, in memory it finds
//   through a struct, or when they were taken away meanwhile: EFAULT.

import { ENOSYS, EINTR, isErrno } from '../../linux/errno.js';
import type { Kernel } from '../kernel.js';
import { absentPages, faultInRange } from '../fault-in.js';
import { Task, TaskState } from '../task.js';
import * as abi from '../../linux/abi.js';
import { SYSCALLS, SyscallRow, ArgFormat } from './table.js';
import { SysCtx, NORETURN, Parked, SysResult } from './context.js';

export class SyscallDispatcher {
  private readonly reported = new Set<number>();
  private readonly table: (SyscallRow | undefined)[] = [];

  constructor(private readonly kernel: Kernel) {
    for (const row of SYSCALLS) this.table[row.nr] = row;
  }

  /** Handle the system call `task` stopped on. True when the task blocked. */
  dispatch(task: Task): boolean {
    const regs = task.regs;
    const nr = regs.getU(17);
    const row = nr < this.table.length ? this.table[nr] : undefined;
    task.syscallA0lo = regs.x[20];
    task.syscallA0hi = regs.x[21];
    task.restart = null;
    const ctx = new SysCtx(this.kernel, task);
    if (row?.handler && row.args && task.process.mm.lazyMappings) {
      // Once per call: after the load, the ecall runs again with this cleared.
      const absent = task.loadedForCall ? [] : absentArgPages(ctx, row.args);
      task.loadedForCall = false;
      if (absent.length > 0) {
        this.loadThenRestart(task, absent);
        return true;
      }
    }
    const enter = this.kernel.logs.strace ? this.formatEnter(ctx, nr, row) : '';
    let result: SysResult | Promise<SysResult> | Parked;
    if (!row || !row.handler) {
      this.reportUnsupported(nr, row);
      result = row?.errno ?? ENOSYS;
    } else {
      try {
        this.kernel.current = task;
        result = row.handler(ctx);
      } catch (e) {
        this.kernelBug(task, row, e);
        return true;
      } finally {
        this.kernel.current = null;
      }
    }
    if (result instanceof Parked || result instanceof Promise) {
      this.block(task, result, enter, row);
      return true;
    }
    this.complete(task, result, enter, row);
    return false;
  }

  /**
   * The handler's result comes later: `task` blocks until it does, then
   * completes and is woken. (Kept out of dispatch so that a call answered
   * at once allocates none of these closures.)
   */
  private block(task: Task, result: Parked | Promise<SysResult>, enter: string, row: SyscallRow | undefined): void {
    const proc = task.process;
    const settled = () => {
      proc.handlersInFlight--;
      proc.releaseVmOnceIdle();
    };
    const finish = (r: SysResult) => {
      settled();
      const wasInterrupted = task.endWait();
      if (task.state !== TaskState.Blocked) return;
      if (r === EINTR && wasInterrupted) task.restart = row?.restart ?? 'sys';
      this.complete(task, r, enter, row);
      this.kernel.scheduler.wake(task);
    };
    task.state = TaskState.Blocked;
    proc.handlersInFlight++;
    if (result instanceof Parked) result.bind(finish);
    else {
      result.then(
        finish,
        (e) => {
          settled();
          task.endWait();
          this.kernelBug(task, row!, e);
        },
      );
    }
    // A signal that came while the thread ran guest code, before this call
    // (sent from another vCPU as it stopped for it), found it running, not
    // blocked, and interrupted nothing: as Linux's interruptible sleeps
    // check for a pending signal before they sleep, the wait is cut short now
    // (EINTR, restarted by the row's policy after the handler), instead of
    // sleeping with the signal pending (a bench run's pthread_cancel of a
    // thread entering pthread_cond_wait hung that way; fixture sigrace hung
    // in 8 runs of 8 on 2 vCPUs without this).
    if (this.kernel.signals.hasDeliverable(task)) task.interrupt();
  }

  /** Block `task` while the absent pages of `ranges` ([address, length]) load, then let it execute its ecall again (see the file comment). */
  private loadThenRestart(task: Task, ranges: [number, number][]): void {
    const proc = task.process, mm = proc.mm;
    task.regs.pc -= 4;
    task.loadedForCall = true;
    task.state = TaskState.Blocked;
    proc.handlersInFlight++;
    const load = async () => {
      // Failures are the call's to report (EFAULT when it meets the page).
      for (const [a, len] of ranges) await faultInRange(mm, a, len);
    };
    load().then(
      () => {
        proc.handlersInFlight--;
        proc.releaseVmOnceIdle();
        if (task.state === TaskState.Blocked) this.kernel.scheduler.wake(task);
      },
      (e) => {
        proc.handlersInFlight--;
        this.kernel.logs.error(`KERNEL BUG loading pages for a system call (pid ${proc.pid}): ${e instanceof Error ? e.stack : String(e)}`);
        this.kernel.lifecycle.exitProcess(proc, abi.signalStatus(abi.SIGSYS));
      },
    );
  }

  private complete(task: Task, r: SysResult, enter: string, row: SyscallRow | undefined): void {
    if (r !== NORETURN) {
      if (isErrno(r)) task.regs.setS(10, -r.code);
      else if (typeof r === 'bigint') task.regs.setBig(10, r);
      else task.regs.setS(10, r);
    }
    if (this.kernel.logs.strace) {
      const res = r === NORETURN ? '?' : isErrno(r) ? `-1 ${r.name}` : typeof r === 'bigint' ? r.toString() : formatResult(r, row);
      this.kernel.logs.strace(`${enter} = ${res}`);
    }
  }

  private reportUnsupported(nr: number, row: SyscallRow | undefined): void {
    if (this.reported.has(nr)) return;
    this.reported.add(nr);
    const name = row?.name ?? `syscall ${nr}`;
    const why = row?.reason ? `: ${row.reason}` : '';
    this.kernel.logs.user(`Unsupported syscall ${name} (${nr})${why}; returning ${(row?.errno ?? ENOSYS).name}`);
  }

  private kernelBug(task: Task, row: SyscallRow | undefined, e: unknown): void {
    const what = row ? row.name : 'unknown';
    this.kernel.logs.error(`KERNEL BUG in ${what} (pid ${task.process.pid}, tid ${task.tid}): ${e instanceof Error ? e.stack : String(e)}`);
    this.kernel.lifecycle.exitProcess(task.process, abi.signalStatus(abi.SIGSYS));
  }

  /** The call `task` made last, as --strace shows it entering (the thread dump's "blocked in"). */
  describeCall(task: Task): string {
    const nr = task.regs.getU(17);
    return formatCall(new SysCtx(this.kernel, task), nr, nr < this.table.length ? this.table[nr] : undefined);
  }

  private formatEnter(ctx: SysCtx, nr: number, row: SyscallRow | undefined): string {
    return `[${ctx.proc.pid}:${ctx.task.tid}] ${formatCall(ctx, nr, row)}`;
  }
}

/** Most bytes of one buffer argument loaded before a call (16 MiB: 256 reads of the file at most). */
const MAX_ARG_SPAN = 16 << 20;

/** The ranges of the call's buffers (see the file comment) that hold absent shared pages: [address, length] each. */
function absentArgPages(ctx: SysCtx, fmts: ArgFormat[]): [number, number][] {
  const mm = ctx.proc.mm;
  const out: [number, number][] = [];
  const add = (addr: number, len: number) => {
    len = Math.min(len, MAX_ARG_SPAN);
    if (addr !== 0 && absentPages(mm, addr, len).length > 0) out.push([addr, len]);
  };
  for (let i = 0; i < fmts.length; i++) {
    if (fmts[i] === 'buf') add(ctx.u(i), fmts[i + 1] === 'size' ? ctx.u(i + 1) : 8);
    else if (fmts[i] === 'iov') {
      const iovs = ctx.user.readIovecs(ctx.u(i), ctx.i32(i + 1));
      if (!isErrno(iovs)) for (const v of iovs) add(v.base, v.len);
    }
  }
  return out;
}

function formatResult(r: number, row: SyscallRow | undefined): string {
  return row?.ret === 'hex' ? '0x' + r.toString(16) : String(r);
}

/** A call and its arguments, as strace writes them. */
function formatCall(ctx: SysCtx, nr: number, row: SyscallRow | undefined): string {
  const fmts: ArgFormat[] = row?.args ?? [];
  return `${row?.name ?? `syscall_${nr}`}(${fmts.map((f, i) => formatArg(ctx, f, i)).join(', ')})`;
}

function formatArg(ctx: SysCtx, f: ArgFormat, i: number): string {
  switch (f) {
    case 'fd':
    case 'int':
      return String(ctx.i32(i));
    case 'dirfd':
      return ctx.i32(i) === abi.AT_FDCWD ? 'AT_FDCWD' : String(ctx.i32(i));
    case 'uint':
    case 'size':
      return String(ctx.u(i));
    case 'hex':
    case 'ptr':
    case 'buf':
    case 'iov':
      return '0x' + ctx.u(i).toString(16);
    case 'oct':
      return '0' + ctx.u(i).toString(8);
    case 'signal':
      return abi.SIGNAL_NAMES[ctx.i32(i)] || String(ctx.i32(i));
    case 'str': {
      const s = ctx.proc.user.readCString(ctx.u(i), 4096);
      if (isErrno(s)) return '0x' + ctx.u(i).toString(16);
      return JSON.stringify(s.length > 64 ? s.slice(0, 64) + '...' : s);
    }
    case 'oflags':
      return formatOpenFlags(ctx.i32(i));
  }
}

function formatOpenFlags(flags: number): string {
  const acc = ['O_RDONLY', 'O_WRONLY', 'O_RDWR', 'O_ACCMODE'][flags & abi.O_ACCMODE];
  const names: [number, string][] = [
    [abi.O_CREAT, 'O_CREAT'],
    [abi.O_EXCL, 'O_EXCL'],
    [abi.O_NOCTTY, 'O_NOCTTY'],
    [abi.O_TRUNC, 'O_TRUNC'],
    [abi.O_APPEND, 'O_APPEND'],
    [abi.O_NONBLOCK, 'O_NONBLOCK'],
    [abi.O_DIRECTORY, 'O_DIRECTORY'],
    [abi.O_NOFOLLOW, 'O_NOFOLLOW'],
    [abi.O_CLOEXEC, 'O_CLOEXEC'],
    [abi.O_PATH, 'O_PATH'],
  ];
  return [acc, ...names.filter(([b]) => (flags & b) === b).map(([, n]) => n)].join('|');
}

