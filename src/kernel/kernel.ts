// The kernel: processes, the scheduler of guest threads onto this worker's
// vCPU, program loading, exit and signal delivery.
//
// Threading model (see src/kernel/README.md): all kernel state lives in the
// kernel worker, which also runs guest threads on its own vCPU, so a system
// call is a function call. The worker's event loop stays live: guest code runs
// in slices of at most SLICE_MS between turns of the loop, and a system call
// that must wait (a read of a pipe, a sleep) parks its thread and lets others
// run, without blocking the worker.

import { performance } from 'node:perf_hooks';
import * as abi from './abi.js';
import { Errno, isErrno, ENOEXEC, EACCES, ESRCH } from './errno.js';
import { Cpu } from '../vcpu/cpu.js';
import { Stop } from '../vcpu/state.js';
import { GuestMemory, PAGE_SIZE } from '../vcpu/memory.js';
import { MemoryAccount, MemoryManager, pageAlignUp, PIE_BASE, STACK_TOP } from './mm.js';
import { Creds, Process, Rlimit, Task, TaskState } from './task.js';
import { FdTable } from './fdtable.js';
import { Vfs } from './vfs/vfs.js';
import type { Dentry } from './vfs/inode.js';
import { parseElf, loadElf, ElfImage } from './loader/elf.js';
import { buildStack } from './loader/stack.js';
import { DefaultAction, defaultAction, encodeSigframe, isIgnored, SigInfo, sigbit, UNBLOCKABLE } from './signals.js';
import { SyscallDispatcher } from './syscalls/dispatch.js';
import type { File } from './files/file.js';
import type { KernelLogs } from './logs.js';

/** Longest a burst of guest execution keeps the worker's event loop waiting. */
const SLICE_MS = 10;
/** Instructions per CPU.run() call between checks of the slice deadline. */
const BUDGET = 200_000;
/** Where each process's signal return trampoline lives (one page, r-x). */
export const SIGRETURN_TRAMPOLINE = STACK_TOP + PAGE_SIZE;

export interface KernelConfig {
  hostname: string;
  totalMemory: number;
  cpuNum: number;
  creds: Creds;
  rlimits: Rlimit[];
  umask: number;
}

export interface ProcessStats {
  pid: number;
  ppid: number;
  uid: number;
  cmd: string;
  startTime: number;
  cpuInstructions: number;
}

export class Kernel {
  readonly cpu: Cpu;
  /** The address space this kernel's vCPU runs (init's). */
  readonly mem = GuestMemory.create();
  readonly syscalls: SyscallDispatcher;
  readonly processes = new Map<number, Process>();
  readonly account: MemoryAccount;
  readonly bootTime = Date.now();
  /** Guest instructions retired by processes that have exited. */
  exitedInstructions = 0;
  private nextPid = 1;
  private readonly runQueue: Task[] = [];
  private loopScheduled = false;
  private initExit?: (status: number) => void;
  /** Resolves with init's wait status once it has exited. */
  readonly initExited: Promise<number>;

  constructor(
    readonly config: KernelConfig,
    readonly vfs: Vfs,
    readonly logs: KernelLogs,
    /** Opens the sandbox's terminal (--console), for /dev/tty; an Errno without one. */
    readonly openTty: (flags: number, path: string) => File | Errno,
  ) {
    this.account = new MemoryAccount(config.totalMemory);
    // One vCPU here; its memory is switched with the process it runs.
    this.cpu = new Cpu(this.mem);
    this.syscalls = new SyscallDispatcher(this);
    this.initExited = new Promise((resolve) => (this.initExit = resolve));
  }

  // ---- processes ----

  /** Create init (pid 1) running `argv` with `envp`, files from `stdio`. */
  async spawnInit(path: string, argv: string[], envp: string[], cwd: string, stdio: File[]): Promise<Process | Errno | string> {
    const fds = new FdTable(this.nofileLimit(this.config.rlimits));
    stdio.forEach((f, i) => fds.installAt(i, f, false));
    const cwdDentry = await this.vfs.resolve(this.vfs.root, this.vfs.root, cwd, { followLast: true });
    if (isErrno(cwdDentry)) return `cwd ${cwd}: ${cwdDentry.name}`;
    const proc = this.newProcess(0, fds, cwdDentry, this.vfs.root, { ...this.config.creds, groups: [...this.config.creds.groups] }, this.config.rlimits.map((r) => ({ ...r })));
    proc.umask = this.config.umask;
    const task = this.newTask(proc);
    const r = await this.execve(task, path, argv, envp);
    if (isErrno(r)) {
      this.reap(proc);
      return r;
    }
    return proc;
  }

  /** Start running init's first thread. */
  startInit(proc: Process): void {
    for (const t of proc.threads) this.wake(t);
  }

  private newProcess(ppid: number, fds: FdTable, cwd: Dentry, root: Dentry, creds: Creds, rlimits: Rlimit[]): Process {
    const pid = this.nextPid++;
    const mem = pid === 1 ? this.mem : GuestMemory.create();
    const mm = new MemoryManager(mem, this.account, (a, l) => this.codeChanged(mem, a, l));
    const p = new Process(pid, ppid, mem, mm, fds, root, cwd, creds, rlimits, (a, l) => this.codeChanged(mem, a, l));
    this.processes.set(pid, p);
    return p;
  }

  private newTask(proc: Process): Task {
    const t = new Task(proc.pid, proc);
    proc.threads.add(t);
    t.state = TaskState.Blocked;
    return t;
  }

  private codeChanged(mem: GuestMemory, addr: number, len: number): void {
    if (this.mem === mem) this.cpu.invalidateCode(addr, len);
  }

  nofileLimit(rlimits: Rlimit[]): number {
    const n = rlimits[abi.RLIMIT_NOFILE].cur;
    return n > 1048576n ? 1048576 : Number(n);
  }

  /**
   * Replace `task`'s process image with the program at `path` (execve). On
   * success the task's registers are the new image's entry state.
   */
  async execve(task: Task, path: string, argv: string[], envp: string[]): Promise<0 | Errno> {
    const proc = task.process;
    const dentry = await this.vfs.resolve(proc.root, proc.cwd, path, { followLast: true, caller: proc });
    if (isErrno(dentry)) return dentry;
    if (dentry.inode.isDir) return EACCES;
    const attr = await dentry.inode.getattr();
    if (isErrno(attr)) return attr;
    if ((attr.mode & abi.S_IFMT) !== abi.S_IFREG) return EACCES;
    if (!this.mayExecute(proc.creds, attr.mode, attr.uid, attr.gid)) return EACCES;
    const bytes = await this.readWhole(dentry, path);
    if (isErrno(bytes)) return bytes;
    const image = parseElf(bytes);
    if ('error' in image) {
      this.logs.debug(`execve ${path}: ${image.error}`);
      return ENOEXEC;
    }
    let interp: { bytes: Uint8Array; image: ElfImage } | undefined;
    if (image.interp) {
      const d = await this.vfs.resolve(proc.root, proc.cwd, image.interp, { followLast: true, caller: proc });
      if (isErrno(d)) return d;
      const ib = await this.readWhole(d, image.interp);
      if (isErrno(ib)) return ib;
      const ii = parseElf(ib);
      if ('error' in ii) return ENOEXEC;
      interp = { bytes: ib, image: ii };
    }
    // Point of no return: the old image goes away.
    proc.mm.clear();
    if (this.mem === proc.mem) this.cpu.flushCode();
    const main = loadElf(bytes, image, proc.mm, proc.user, PIE_BASE);
    if (isErrno(main)) return this.execFailed(task, main);
    let entry = main.entry;
    let base = 0;
    if (interp) {
      const li = loadElf(interp.bytes, interp.image, proc.mm, proc.user);
      if (isErrno(li)) return this.execFailed(task, li);
      entry = li.entry;
      base = li.bias;
    }
    proc.mm.setBrkStart(pageAlignUp(main.end));
    const tramp = this.mapSigreturnTrampoline(proc);
    if (tramp !== 0) return this.execFailed(task, tramp);
    const c = proc.creds;
    const sp = buildStack(proc.mm, proc.user, {
      argv,
      envp,
      execfn: path,
      auxv: [
        [abi.AT_PHDR, main.phdrAddr],
        [abi.AT_PHENT, 56],
        [abi.AT_PHNUM, main.phnum],
        [abi.AT_PAGESZ, PAGE_SIZE],
        [abi.AT_BASE, base],
        [abi.AT_FLAGS, 0],
        [abi.AT_ENTRY, main.entry],
        [abi.AT_UID, c.ruid],
        [abi.AT_EUID, c.euid],
        [abi.AT_GID, c.rgid],
        [abi.AT_EGID, c.egid],
        [abi.AT_HWCAP, abi.RISCV_HWCAP_IMAFDC],
        [abi.AT_CLKTCK, 100],
        [abi.AT_SECURE, 0],
      ],
    });
    if (isErrno(sp)) return this.execFailed(task, sp);
    await proc.fds.closeOnExec();
    for (const a of proc.sigactions) if (a.handler > abi.SIG_IGN) Object.assign(a, { handler: abi.SIG_DFL, flags: 0, mask: 0n });
    proc.exePath = dentry.path();
    proc.argv = argv;
    proc.envp = envp;
    const r = task.regs;
    r.x.fill(0);
    r.f.fill(0);
    r.fcsr = 0;
    r.setS(2, sp);
    r.pc = entry;
    return 0;
  }

  /** After the point of no return, a failed exec kills the process with SIGSEGV, as Linux does. */
  private execFailed(task: Task, e: Errno): Errno {
    this.logs.debug(`execve failed after the old image was gone: ${e.name}`);
    this.exitProcess(task.process, abi.signalStatus(abi.SIGSEGV));
    return e;
  }

  private mapSigreturnTrampoline(proc: Process): 0 | Errno {
    const r = proc.mm.mapFixed(SIGRETURN_TRAMPOLINE, PAGE_SIZE, abi.PROT_READ | abi.PROT_WRITE, '[vdso]');
    if (r !== 0) return r;
    // li a7, 139 (rt_sigreturn); ecall
    const code = new Uint8Array(8);
    const dv = new DataView(code.buffer);
    dv.setUint32(0, 0x08b00893, true);
    dv.setUint32(4, 0x00000073, true);
    const w = proc.user.copyOut(SIGRETURN_TRAMPOLINE, code);
    if (w !== 0) return w;
    return proc.mm.protect(SIGRETURN_TRAMPOLINE, PAGE_SIZE, abi.PROT_READ | abi.PROT_EXEC);
  }

  private mayExecute(creds: Creds, mode: number, uid: number, gid: number): boolean {
    if (creds.euid === 0) return (mode & 0o111) !== 0;
    if (creds.euid === uid) return (mode & 0o100) !== 0;
    if (creds.egid === gid || creds.groups.includes(gid)) return (mode & 0o010) !== 0;
    return (mode & 0o001) !== 0;
  }

  private async readWhole(dentry: Dentry, path: string): Promise<Uint8Array | Errno> {
    const f = await dentry.inode.open(abi.O_RDONLY, path);
    if (isErrno(f)) return f;
    try {
      const chunks: Uint8Array[] = [];
      let off = 0;
      for (;;) {
        const c = await f.pread(1 << 20, off);
        if (isErrno(c)) return c;
        if (c.length === 0) break;
        chunks.push(c.slice());
        off += c.length;
        if (off > 1 << 30) return ENOEXEC;
      }
      return Buffer.concat(chunks);
    } finally {
      await f.unref();
    }
  }

  // ---- exit ----

  /** The whole process dies with wait status `status` (exit_group, fatal signal). */
  exitProcess(proc: Process, status: number): void {
    if (!proc.alive) return;
    proc.exitStatus = status;
    for (const t of proc.threads) {
      proc.deadInstructions += t.instructions;
      t.state = TaskState.Exited;
    }
    proc.threads.clear();
    this.exitedInstructions += proc.deadInstructions;
    this.removeFromRunQueue(proc);
    proc.mm.clear();
    void proc.fds.closeAll();
    this.logs.debug(`process ${proc.pid} exited with wait status ${status}`);
    if (proc.pid === 1) {
      for (const p of this.processes.values()) if (p !== proc) this.exitProcess(p, abi.signalStatus(abi.SIGKILL));
      this.initExit?.(status);
    }
  }

  /** One thread ends (exit); the last one ends the process. */
  exitThread(task: Task, code: number): void {
    const proc = task.process;
    task.state = TaskState.Exited;
    proc.deadInstructions += task.instructions;
    proc.threads.delete(task);
    if (proc.threads.size === 0) this.exitProcess(proc, abi.exitStatus(code));
  }

  private reap(proc: Process): void {
    this.processes.delete(proc.pid);
  }

  private removeFromRunQueue(proc: Process): void {
    for (let i = this.runQueue.length - 1; i >= 0; i--) if (this.runQueue[i].process === proc) this.runQueue.splice(i, 1);
  }

  // ---- signals ----

  /** Send `sig` to a process (kill). Signal 0 only checks. */
  signalProcess(proc: Process, info: SigInfo): 0 | Errno {
    if (!proc.alive) return ESRCH;
    const sig = info.signo;
    if (sig === 0) return 0;
    if (isIgnored(proc, sig)) return 0;
    proc.pending |= sigbit(sig);
    this.pendingInfo.set(`${proc.pid}:${sig}`, info);
    if (sig === abi.SIGKILL) {
      this.exitProcess(proc, abi.signalStatus(abi.SIGKILL));
      return 0;
    }
    for (const t of proc.threads) if (t.state === TaskState.Blocked) this.syscalls.interrupt(t);
    return 0;
  }

  /** Send `sig` to one thread (tgkill). */
  signalThread(task: Task, info: SigInfo): 0 | Errno {
    const proc = task.process;
    if (!proc.alive || task.state === TaskState.Exited) return ESRCH;
    if (info.signo === 0) return 0;
    if (isIgnored(proc, info.signo)) return 0;
    if (info.signo === abi.SIGKILL) return this.signalProcess(proc, info);
    task.pending |= sigbit(info.signo);
    this.pendingInfo.set(`${proc.pid}:${info.signo}`, info);
    if (task.state === TaskState.Blocked) this.syscalls.interrupt(task);
    return 0;
  }

  private readonly pendingInfo = new Map<string, SigInfo>();

  /** Does `task` have a signal it would act on now? */
  hasDeliverable(task: Task): boolean {
    return ((task.pending | task.process.pending) & ~(task.sigmask & ~UNBLOCKABLE)) !== 0n;
  }

  /**
   * Act on pending signals before `task` returns to user mode. Returns false
   * when the task is gone (its process was killed).
   */
  deliverSignals(task: Task): boolean {
    const proc = task.process;
    for (;;) {
      const deliverable = (task.pending | proc.pending) & ~(task.sigmask & ~UNBLOCKABLE);
      if (deliverable === 0n) return proc.alive;
      let sig = 1;
      while (!(deliverable & sigbit(sig))) sig++;
      const bit = sigbit(sig);
      if (task.pending & bit) task.pending &= ~bit;
      else proc.pending &= ~bit;
      const info = this.pendingInfo.get(`${proc.pid}:${sig}`) ?? { signo: sig, code: abi.SI_USER };
      this.pendingInfo.delete(`${proc.pid}:${sig}`);
      const act = proc.sigactions[sig];
      if (act.handler === abi.SIG_IGN && sig !== abi.SIGKILL && sig !== abi.SIGSTOP) continue;
      if (act.handler === abi.SIG_DFL || sig === abi.SIGKILL || sig === abi.SIGSTOP) {
        switch (defaultAction(sig)) {
          case DefaultAction.Ignore:
          case DefaultAction.Continue:
          case DefaultAction.Stop: // job control stops arrive with issue 4
            continue;
          case DefaultAction.Terminate:
            this.exitProcess(proc, abi.signalStatus(sig));
            return false;
          case DefaultAction.Core:
            this.exitProcess(proc, abi.signalStatus(sig, true));
            return false;
        }
      }
      if (!this.setupHandlerFrame(task, sig, info)) return false;
    }
  }

  /** Push an rt_sigframe and enter the handler; kills the process (SIGSEGV) if the stack is bad. */
  private setupHandlerFrame(task: Task, sig: number, info: SigInfo): boolean {
    const proc = task.process;
    const act = proc.sigactions[sig];
    const r = task.regs;
    const alt = task.altstack;
    let sp = r.getU(2);
    const onAlt = (act.flags & abi.SA_ONSTACK) !== 0 && alt.size > 0 && !(sp > alt.sp && sp <= alt.sp + alt.size);
    if (onAlt) sp = alt.sp + alt.size;
    const frame = encodeSigframe(task, info, task.sigmask, alt);
    sp -= frame.length;
    sp -= sp % 16;
    if (proc.user.copyOut(sp, frame) !== 0) {
      this.exitProcess(proc, abi.signalStatus(abi.SIGSEGV, true));
      return false;
    }
    let mask = task.sigmask | act.mask;
    if (!(act.flags & abi.SA_NODEFER)) mask |= sigbit(sig);
    task.sigmask = mask & ~UNBLOCKABLE;
    if (act.flags & abi.SA_RESETHAND) Object.assign(act, { handler: abi.SIG_DFL, flags: 0, mask: 0n });
    r.setS(2, sp);
    r.setS(1, SIGRETURN_TRAMPOLINE); // ra
    r.setS(10, sig); // a0
    r.setS(11, sp); // a1: siginfo
    r.setS(12, sp + 128); // a2: ucontext
    r.pc = act.handler;
    return true;
  }

  // ---- scheduling ----

  /** Make a blocked or new task runnable. */
  wake(task: Task): void {
    if (task.state === TaskState.Exited || task.state === TaskState.Runnable) return;
    task.state = TaskState.Runnable;
    this.runQueue.push(task);
    this.kick();
  }

  private kick(): void {
    if (this.loopScheduled) return;
    this.loopScheduled = true;
    setImmediate(() => this.runSlice());
  }

  private runSlice(): void {
    this.loopScheduled = false;
    const until = performance.now() + SLICE_MS;
    while (this.runQueue.length > 0 && performance.now() < until) {
      const task = this.runQueue.shift()!;
      if (task.state !== TaskState.Runnable) continue;
      this.runTask(task, until);
    }
    if (this.runQueue.length > 0) this.kick();
  }

  private runTask(task: Task, until: number): void {
    const cpu = this.cpu;
    const proc = task.process;
    if (this.mem !== proc.mem) {
      this.logs.warn(`process ${proc.pid} has its own address space; this build runs one address space per kernel`);
      this.exitProcess(proc, abi.signalStatus(abi.SIGKILL));
      return;
    }
    task.state = TaskState.Running;
    cpu.state = task.regs;
    for (;;) {
      if (!this.deliverSignals(task)) return;
      const before = cpu.instret;
      const stop = cpu.run(BUDGET);
      task.instructions += cpu.instret - before;
      switch (stop) {
        case Stop.Syscall: {
          const blocked = this.syscalls.dispatch(task);
          if (blocked || task.state !== TaskState.Running) return;
          break;
        }
        case Stop.Fault: {
          const f = cpu.fault;
          this.forceSignal(task, { signo: f.signal, code: f.code, addr: f.addr });
          break;
        }
        case Stop.Budget:
          if (performance.now() >= until) {
            task.state = TaskState.Runnable;
            this.runQueue.push(task);
            return;
          }
          break;
        case Stop.Interrupted:
          task.state = TaskState.Runnable;
          this.runQueue.push(task);
          return;
        default: {
          const never: never = stop;
          throw new Error(`unknown CPU stop ${String(never)}`);
        }
      }
    }
  }

  /**
   * A synchronous fault: the signal can't be blocked or ignored for this
   * instruction (Linux's force_sig_fault): if blocked or ignored, the default
   * action runs.
   */
  forceSignal(task: Task, info: SigInfo): void {
    const proc = task.process;
    const act = proc.sigactions[info.signo];
    const bit = sigbit(info.signo);
    if (act.handler === abi.SIG_IGN || (task.sigmask & bit) !== 0n) {
      act.handler = abi.SIG_DFL;
      task.sigmask &= ~bit;
    }
    task.pending |= bit;
    this.pendingInfo.set(`${proc.pid}:${info.signo}`, info);
  }

  // ---- introspection (control server) ----

  processStats(): ProcessStats[] {
    return [...this.processes.values()]
      .filter((p) => p.alive)
      .map((p) => ({
        pid: p.pid,
        ppid: p.ppid,
        uid: p.creds.ruid,
        cmd: p.argv.join(' ') || p.exePath,
        startTime: p.startTime,
        cpuInstructions: p.deadInstructions + [...p.threads].reduce((s, t) => s + t.instructions, 0),
      }));
  }
}
