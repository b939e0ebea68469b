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
import * as abi from '../linux/abi.js';
import { Errno, isErrno, ENOEXEC, EACCES, ESRCH, EAGAIN, EINVAL, EPERM, ELOOP, ENOENT } from '../linux/errno.js';
import { Stop } from '../vcpu/state.js';
import { PAGE_SIZE } from '../vcpu/memory.js';
import { MemoryAccount, pageAlignUp, PIE_BASE, STACK_TOP } from './mm.js';
import { AddressSpace } from './address-space.js';
import { copyCreds, Creds, Process, Rlimit, Task, TaskState } from './task.js';
import { FdTable } from './fdtable.js';
import { Vfs } from './vfs/vfs.js';
import type { Dentry } from './vfs/inode.js';
import { parseElf, loadElf, ElfImage } from './loader/elf.js';
import { buildStack } from './loader/stack.js';
import { DefaultAction, defaultAction, encodeSigframe, isIgnored, SigInfo, sigbit, UNBLOCKABLE, STOP_SIGNALS } from './signals.js';
import { SyscallDispatcher } from './syscalls/dispatch.js';
import { childStatusValue, exitCode } from './wait.js';
import { FutexTable, releaseRobustList } from './futex.js';
import { RemoteVcpu, RemoteStop, mayRunConcurrently } from './vcpus.js';
import type { File } from './files/file.js';
import type { KernelLogs } from './kernel-logs.js';
import { DEFAULT_PATH } from '../spec/types.js';

/** Longest a burst of guest execution keeps the worker's event loop waiting. */
const SLICE_MS = 10;
/** How long the kernel worker watches busy workers' mailboxes past the last stop, with nothing else to do (spinOnRemotes). */
const SPIN_MS = 0.05;
/** The longest one such watch keeps the event loop waiting. */
const SPIN_MAX_MS = 2;
/** Instructions per CPU.run() call between checks of the slice deadline. */
const BUDGET = 200_000;
/** The same while vCPU workers run threads: the kernel worker looks at their stops between runs. */
const BUDGET_WITH_REMOTES = 20_000;
/** Stack words (from sp) a fault's debug line shows. */
const FAULT_STACK_WORDS = 48;
/** Where each process's signal return trampoline lives (one page, r-x). */
export const SIGRETURN_TRAMPOLINE = STACK_TOP + PAGE_SIZE;

export interface KernelConfig {
  hostname: string;
  totalMemory: number;
  cpuNum: number;
  creds: Creds;
  rlimits: Rlimit[];
  umask: number;
  /** The spec's linux.resources.pids.limit: most tasks (threads and zombies) at once; 0 for none. */
  pidsLimit?: number;
}

/** What clone/clone3/fork/vfork asked for, decoded. */
export interface CloneRequest {
  /** The low 32 bits of the flags (CLONE_*). */
  flags: number;
  /** clone3's CLONE_CLEAR_SIGHAND (bit 32). */
  clearSighand: boolean;
  /** Signal for the parent when the child dies (0: none). */
  exitSignal: number;
  /** New stack pointer, 0 to keep the parent's. */
  stack: number;
  tls: number;
  parentTid: number;
  childTid: number;
}

/** Most `#!` interpreters one execve follows (Linux: BINPRM_MAX_RECURSION). */
const MAX_SCRIPT_DEPTH = 4;

export interface ProcessStats {
  pid: number;
  ppid: number;
  uid: number;
  cmd: string;
  startTime: number;
  cpuInstructions: number;
}

export class Kernel {
  readonly syscalls: SyscallDispatcher;
  readonly processes = new Map<number, Process>();
  readonly futexes = new FutexTable();
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
  /** A session leader died (the terminal layer hangs up its controlling terminal). */
  onSessionLeaderExit?: (sid: number) => void;

  constructor(
    readonly config: KernelConfig,
    readonly vfs: Vfs,
    readonly logs: KernelLogs,
    /** Opens the sandbox's terminal (--console), for /dev/tty; an Errno without one. */
    readonly openTty: (flags: number, path: string) => File | Errno,
  ) {
    this.account = new MemoryAccount(config.totalMemory);
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
    const vm = new AddressSpace(this.account);
    const proc = this.newProcess(0, vm, fds, cwdDentry, this.vfs.root, copyCreds(this.config.creds), this.config.rlimits.map((r) => ({ ...r })));
    proc.umask = this.config.umask;
    const task = this.newTask(proc, proc.pid);
    const r = await this.execve(task, await this.lookPath(path, envp, cwdDentry), argv, envp);
    if (isErrno(r)) {
      vm.release();
      this.processes.delete(proc.pid);
      return r;
    }
    return proc;
  }

  /**
   * The program a container's args[0] names: a name without a slash is
   * searched in the PATH of the process's environment, as runc and runsc do
   * before starting the container (the first regular, executable match).
   */
  private async lookPath(name: string, envp: string[], cwd: Dentry): Promise<string> {
    if (name.includes('/') || name === '') return name;
    const pathVar = envp.find((e) => e.startsWith('PATH='))?.slice(5) ?? DEFAULT_PATH;
    for (const dir of pathVar.split(':')) {
      const candidate = `${dir === '' ? '.' : dir}/${name}`;
      const d = await this.vfs.resolve(this.vfs.root, cwd, candidate, { followLast: true });
      if (isErrno(d)) continue;
      const attr = await d.inode.getattr();
      if (!isErrno(attr) && (attr.mode & abi.S_IFMT) === abi.S_IFREG && (attr.mode & 0o111) !== 0) return candidate;
    }
    return name;
  }

  /** Start running init's first thread. */
  startInit(proc: Process): void {
    this.keepSpareRemote();
    for (const t of proc.threads) this.wake(t);
  }

  /** Processes created since boot (/proc/stat's "processes"). */
  get processCount(): number {
    return this.nextPid - 1;
  }

  private newProcess(ppid: number, vm: AddressSpace, fds: FdTable, cwd: Dentry, root: Dentry, creds: Creds, rlimits: Rlimit[]): Process {
    const pid = this.nextPid++;
    const p = new Process(pid, ppid, vm, fds, root, cwd, creds, rlimits);
    this.processes.set(pid, p);
    return p;
  }

  private newTask(proc: Process, tid: number): Task {
    const t = new Task(tid, proc);
    proc.threads.add(t);
    t.state = TaskState.Blocked;
    return t;
  }

  /** Tasks counted against the pids limit: every thread of a live process, and each zombie. */
  private taskCount(): number {
    let n = 0;
    for (const p of this.processes.values()) n += p.alive ? p.threads.size : 1;
    return n;
  }

  /**
   * clone/clone3/fork/vfork: a new process (or, with CLONE_THREAD, a thread of
   * the caller's). Returns the new pid/tid; with CLONE_VFORK the caller's
   * result waits until the child has exec'd or exited.
   */
  clone(task: Task, req: CloneRequest): number | Errno | Promise<number | Errno> {
    const f = req.flags;
    const parent = task.process;
    if (f & abi.CLONE_NEW_ANY) return EPERM;
    if ((f & abi.CLONE_THREAD) && !(f & abi.CLONE_SIGHAND)) return EINVAL;
    if ((f & abi.CLONE_SIGHAND) && !(f & abi.CLONE_VM)) return EINVAL;
    if ((f & abi.CLONE_SIGHAND) && req.clearSighand) return EINVAL;
    if (req.exitSignal < 0 || req.exitSignal > abi.NSIG) return EINVAL;
    const limit = this.config.pidsLimit ?? 0;
    if (limit > 0 && this.taskCount() >= limit) return EAGAIN;
    if (f & abi.CLONE_THREAD) return this.cloneThread(task, req);
    let realParent = parent;
    if (f & abi.CLONE_PARENT) {
      const pp = this.processes.get(parent.ppid);
      if (!pp || !pp.alive) return EINVAL; // the sandbox's init has no parent to share
      realParent = pp;
    }
    let vm: AddressSpace;
    if (f & abi.CLONE_VM) {
      vm = parent.vm;
      vm.users++;
    } else {
      const copy = parent.vm.fork();
      if (isErrno(copy)) return copy;
      vm = copy;
    }
    let fds: FdTable;
    if (f & abi.CLONE_FILES) {
      fds = parent.fds;
      fds.users++;
    } else fds = parent.fds.fork();
    const child = this.newProcess(realParent.pid, vm, fds, parent.cwd, parent.root, copyCreds(parent.creds), parent.rlimits.map((r) => ({ ...r })));
    realParent.children.add(child);
    child.umask = parent.umask;
    child.pgid = parent.pgid;
    child.sid = parent.sid;
    child.exePath = parent.exePath;
    child.comm = parent.comm;
    child.argv = parent.argv;
    child.envp = parent.envp;
    child.exitSignal = req.exitSignal;
    if (f & abi.CLONE_SIGHAND) child.sigactions = parent.sigactions;
    else child.sigactions = parent.sigactions.map((a) => (req.clearSighand && a.handler > abi.SIG_IGN ? { handler: abi.SIG_DFL, flags: 0, mask: 0n } : { ...a }));
    const t = this.newTask(child, child.pid);
    this.startClonedTask(task, t, req);
    if (!(f & abi.CLONE_VFORK)) return child.pid;
    return new Promise((resolve) => {
      child.vforkDone = () => resolve(child.pid);
    });
  }

  private cloneThread(task: Task, req: CloneRequest): number | Errno {
    const t = this.newTask(task.process, this.nextPid++);
    this.startClonedTask(task, t, req);
    return t.tid;
  }

  /** The new task's registers and tid words, then it runs. */
  private startClonedTask(parent: Task, t: Task, req: CloneRequest): void {
    t.regs.copyFrom(parent.regs);
    t.regs.setS(10, 0);
    if (req.stack) t.regs.setS(2, req.stack);
    if (req.flags & abi.CLONE_SETTLS) t.regs.setS(4, req.tls);
    t.sigmask = parent.sigmask;
    if (!(req.flags & abi.CLONE_VM) || (req.flags & abi.CLONE_VFORK)) t.altstack = { ...parent.altstack };
    // Linux ignores faults writing these words; so do we.
    if (req.flags & abi.CLONE_PARENT_SETTID) parent.process.user.writeU32(req.parentTid, t.tid);
    if (req.flags & abi.CLONE_CHILD_SETTID) t.process.user.writeU32(req.childTid, t.tid);
    if (req.flags & abi.CLONE_CHILD_CLEARTID) t.clearChildTid = req.childTid;
    this.wake(t);
  }

  nofileLimit(rlimits: Rlimit[]): number {
    const n = rlimits[abi.RLIMIT_NOFILE].cur;
    return n > 1048576n ? 1048576 : Number(n);
  }

  /**
   * Replace `task`'s process image with the program at `path` (execve). On
   * success the task's registers are the new image's entry state. The new
   * image is built in a fresh address space and swapped in only once it has
   * loaded, so a failure leaves the caller's image intact.
   */
  async execve(task: Task, path: string, argv: string[], envp: string[]): Promise<0 | Errno> {
    const proc = task.process;
    const prog = await this.findProgram(proc, path, argv, 0);
    if (isErrno(prog)) return prog;
    const { dentry, bytes, image } = prog;
    argv = prog.argv;
    let interp: { bytes: Uint8Array; image: ElfImage } | undefined;
    if (image.interp) {
      const d = await this.vfs.resolve(proc.root, proc.cwd, image.interp, { followLast: true, caller: proc });
      if (isErrno(d)) return d;
      const ib = await this.readWhole(d);
      if (isErrno(ib)) return ib;
      const ii = parseElf(ib);
      if ('error' in ii) return ENOEXEC;
      interp = { bytes: ib, image: ii };
    }
    const vm = new AddressSpace(this.account);
    const entry = this.loadImage(vm, path, bytes, image, interp, argv, envp, proc.creds);
    if (isErrno(entry)) {
      vm.release();
      return entry;
    }
    // Point of no return: the old image goes away.
    const old = proc.vm;
    proc.vm = vm;
    old.release();
    proc.execed = true;
    for (const t of proc.posixTimers.values()) t.timer.disarm();
    proc.posixTimers.clear();
    await proc.fds.closeOnExec();
    if (proc.threads.size === 1) proc.sigactions = proc.sigactions.map((a) => ({ ...a })); // unshare CLONE_SIGHAND
    for (const a of proc.sigactions) if (a.handler > abi.SIG_IGN) Object.assign(a, { handler: abi.SIG_DFL, flags: 0, mask: 0n });
    task.altstack = { sp: 0, flags: 2, size: 0 };
    task.clearChildTid = 0;
    task.robustList = 0;
    proc.exePath = dentry.path();
    proc.comm = Buffer.from(path.split('/').pop() ?? '').subarray(0, 15).toString();
    proc.argv = argv;
    proc.envp = envp;
    const r = task.regs;
    r.x.fill(0);
    r.f.fill(0);
    r.fcsr = 0;
    r.setS(2, entry.sp);
    r.pc = entry.pc;
    this.vforkRelease(proc);
    return 0;
  }

  /**
   * The ELF file execve runs for `path`: follows `#!` lines (the interpreter
   * with its optional argument, then the script's path, replace argv[0]).
   */
  private async findProgram(proc: Process, path: string, argv: string[], depth: number): Promise<{ dentry: Dentry; bytes: Uint8Array; image: ElfImage; argv: string[] } | Errno> {
    if (path === '') return ENOENT;
    const dentry = await this.vfs.resolve(proc.root, proc.cwd, path, { followLast: true, caller: proc });
    if (isErrno(dentry)) return dentry;
    if (dentry.inode.isDir) return EACCES;
    const attr = await dentry.inode.getattr();
    if (isErrno(attr)) return attr;
    if ((attr.mode & abi.S_IFMT) !== abi.S_IFREG) return EACCES;
    if (!this.mayExecute(proc.creds, attr.mode, attr.uid, attr.gid)) return EACCES;
    const bytes = await this.readWhole(dentry);
    if (isErrno(bytes)) return bytes;
    if (bytes[0] === 0x23 && bytes[1] === 0x21) {
      if (depth >= MAX_SCRIPT_DEPTH) return ELOOP;
      const line = parseShebang(bytes);
      if (!line) return ENOEXEC;
      const next = [line.interp, ...(line.arg !== undefined ? [line.arg] : []), path, ...argv.slice(1)];
      return this.findProgram(proc, line.interp, next, depth + 1);
    }
    const image = parseElf(bytes);
    if ('error' in image) {
      this.logs.debug(`execve ${path}: ${image.error}`);
      return ENOEXEC;
    }
    return { dentry, bytes, image, argv };
  }

  /** Load a program (and its interpreter) into `vm`: the entry pc and initial sp. */
  private loadImage(vm: AddressSpace, path: string, bytes: Uint8Array, image: ElfImage, interp: { bytes: Uint8Array; image: ElfImage } | undefined, argv: string[], envp: string[], c: Creds): { pc: number; sp: number } | Errno {
    const main = loadElf(bytes, image, vm.mm, vm.user, PIE_BASE);
    if (isErrno(main)) return main;
    let pc = main.entry;
    let base = 0;
    if (interp) {
      const li = loadElf(interp.bytes, interp.image, vm.mm, vm.user);
      if (isErrno(li)) return li;
      pc = li.entry;
      base = li.bias;
    }
    vm.mm.setBrkStart(pageAlignUp(main.end));
    const tramp = this.mapSigreturnTrampoline(vm);
    if (tramp !== 0) return tramp;
    const sp = buildStack(vm.mm, vm.user, {
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
    if (isErrno(sp)) return sp;
    return { pc, sp };
  }

  /** A vfork child has exec'd or exited: its parent's vfork returns. */
  private vforkRelease(proc: Process): void {
    const done = proc.vforkDone;
    proc.vforkDone = undefined;
    done?.();
  }

  private mapSigreturnTrampoline(vm: AddressSpace): 0 | Errno {
    const r = vm.mm.mapFixed(SIGRETURN_TRAMPOLINE, PAGE_SIZE, abi.PROT_READ | abi.PROT_WRITE, '[vdso]');
    if (r !== 0) return r;
    // li a7, 139 (rt_sigreturn); ecall
    const code = new Uint8Array(8);
    const dv = new DataView(code.buffer);
    dv.setUint32(0, 0x08b00893, true);
    dv.setUint32(4, 0x00000073, true);
    const w = vm.user.copyOut(SIGRETURN_TRAMPOLINE, code);
    if (w !== 0) return w;
    return vm.mm.protect(SIGRETURN_TRAMPOLINE, PAGE_SIZE, abi.PROT_READ | abi.PROT_EXEC);
  }

  private mayExecute(creds: Creds, mode: number, uid: number, gid: number): boolean {
    if (creds.euid === 0) return (mode & 0o111) !== 0;
    if (creds.euid === uid) return (mode & 0o100) !== 0;
    if (creds.egid === gid || creds.groups.includes(gid)) return (mode & 0o010) !== 0;
    return (mode & 0o001) !== 0;
  }

  private async readWhole(dentry: Dentry): Promise<Uint8Array | Errno> {
    const f = await dentry.inode.open(abi.O_RDONLY, dentry.path());
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

  /**
   * The whole process dies with wait status `status` (exit_group, fatal
   * signal): its threads stop, its resources go, its children pass to init,
   * and it stays a zombie until its parent reaps it (or is reaped at once
   * when the parent ignores SIGCHLD).
   */
  exitProcess(proc: Process, status: number): void {
    if (!proc.alive) return;
    proc.exitStatus = status;
    proc.endTime = Date.now();
    proc.stopped = false;
    let stillRunning = 0;
    for (const t of proc.threads) {
      proc.deadInstructions += t.instructions;
      t.state = TaskState.Exited;
      if (t.remote) {
        t.remote.interrupt();
        stillRunning++;
      }
      this.syscalls.abandon(t);
      this.releaseThreadFutexes(t);
    }
    proc.threads.clear();
    for (const t of proc.itimers) t?.disarm();
    for (const t of proc.posixTimers.values()) t.timer.disarm();
    proc.posixTimers.clear();
    this.exitedInstructions += proc.deadInstructions;
    this.removeFromRunQueue(proc);
    // A vCPU worker still running one of its threads (until it sees the
    // interrupt, between blocks) must not find the memory scrubbed and handed
    // to another process: the last such thread to come back releases it.
    if (stillRunning === 0) proc.vm.release();
    else proc.remoteThreadsAtExit = stillRunning;
    if (--proc.fds.users === 0) void proc.fds.closeAll();
    this.vforkRelease(proc);
    if (proc.sid === proc.pid) this.onSessionLeaderExit?.(proc.sid);
    this.logs.debug(`process ${proc.pid} exited with wait status ${status}`);
    if (proc.pid === 1) {
      for (const p of this.processes.values()) if (p !== proc) this.exitProcess(p, abi.signalStatus(abi.SIGKILL));
      this.initExit?.(status);
      this.shutdown();
      return;
    }
    this.reparentChildren(proc);
    const parent = this.processes.get(proc.ppid);
    if (!parent || !parent.alive) {
      this.processes.delete(proc.pid);
      return;
    }
    const act = parent.sigactions[abi.SIGCHLD];
    if (proc.exitSignal === abi.SIGCHLD && (act.handler === abi.SIG_IGN || act.flags & abi.SA_NOCLDWAIT)) {
      // Nobody will wait: no zombie (Linux's autoreap).
      this.reap(proc);
    } else if (proc.exitSignal > 0) {
      this.signalProcess(parent, this.childInfo(proc, proc.exitSignal, exitCode(status), childStatusValue(status)));
    }
    this.notifyWaiters(parent);
  }

  /** One thread ends (exit); the last one ends the process. */
  exitThread(task: Task, code: number): void {
    const proc = task.process;
    task.state = TaskState.Exited;
    proc.deadInstructions += task.instructions;
    proc.threads.delete(task);
    this.releaseThreadFutexes(task);
    if (proc.threads.size === 0) this.exitProcess(proc, abi.exitStatus(code));
  }

  /**
   * A thread dies: its robust futexes are marked owner-died, and its
   * CLONE_CHILD_CLEARTID word is zeroed with a wake (how pthread_join learns).
   * Only while the address space lives on in other threads.
   */
  private releaseThreadFutexes(task: Task): void {
    const vm = task.process.vm;
    if (task.process.threads.size === 0 && vm.users === 1) return;
    releaseRobustList(task, (addr) => this.futexes.wake(vm, addr, 1));
    if (task.clearChildTid && task.process.user.writeU32(task.clearChildTid, 0) === 0) this.futexes.wake(vm, task.clearChildTid, 1);
    task.clearChildTid = 0;
  }

  /** Remove a zombie for good (wait reaped it). */
  reap(proc: Process): void {
    this.processes.delete(proc.pid);
    this.processes.get(proc.ppid)?.children.delete(proc);
  }

  /** Children of a dying process pass to init; zombies among them are init's to reap. */
  private reparentChildren(proc: Process): void {
    if (proc.children.size === 0) return;
    const init = this.processes.get(1);
    let zombies = false;
    for (const c of proc.children) {
      c.ppid = 1;
      if (init && init.alive) {
        init.children.add(c);
        if (!c.alive) zombies = true;
      }
      // A stopped process group that is orphaned now gets SIGHUP then SIGCONT (POSIX).
    }
    proc.children.clear();
    if (zombies && init) {
      this.signalProcess(init, { signo: abi.SIGCHLD, code: abi.CLD_EXITED });
      this.notifyWaiters(init);
    }
  }

  /** The siginfo of a SIGCHLD about `child`. */
  private childInfo(child: Process, signo: number, code: number, status: number): SigInfo {
    return { signo, code, pid: child.pid, uid: child.creds.ruid, status };
  }

  /** Wake the waits (wait4, waitid) of `parent` so they look at their children again. */
  notifyWaiters(parent: Process): void {
    const ws = [...parent.childWaiters];
    parent.childWaiters.clear();
    for (const w of ws) w();
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
    this.jobControlOnSend(proc, sig);
    if (isIgnored(proc, sig)) return 0;
    if (sig === abi.SIGKILL) {
      this.exitProcess(proc, abi.signalStatus(abi.SIGKILL));
      return 0;
    }
    proc.pending |= sigbit(sig);
    this.pendingInfo.set(`${proc.pid}:${sig}`, info);
    // Linux wakes one thread that can take it; a blocked call it is in is cut short.
    for (const t of proc.threads) {
      if (t.state === TaskState.Blocked && (t.sigmask & sigbit(sig)) === 0n) {
        this.syscalls.interrupt(t);
        break;
      }
    }
    for (const t of proc.threads) t.remote?.interrupt();
    return 0;
  }

  /** Send `sig` to one thread (tgkill). */
  signalThread(task: Task, info: SigInfo): 0 | Errno {
    const proc = task.process;
    if (!proc.alive || task.state === TaskState.Exited) return ESRCH;
    if (info.signo === 0) return 0;
    this.jobControlOnSend(proc, info.signo);
    if (isIgnored(proc, info.signo)) return 0;
    if (info.signo === abi.SIGKILL) return this.signalProcess(proc, info);
    task.pending |= sigbit(info.signo);
    this.pendingInfo.set(`${proc.pid}:${info.signo}`, info);
    if (task.state === TaskState.Blocked && (task.sigmask & sigbit(info.signo)) === 0n) this.syscalls.interrupt(task);
    task.remote?.interrupt();
    return 0;
  }

  /**
   * What sending a job-control signal does at once, before any thread sees it
   * (Linux's prepare_signal): SIGCONT resumes a stopped process and discards
   * pending stop signals; a stop signal discards a pending SIGCONT.
   */
  private jobControlOnSend(proc: Process, sig: number): void {
    if (sig === abi.SIGCONT) {
      proc.pending &= ~STOP_SIGNALS;
      for (const t of proc.threads) t.pending &= ~STOP_SIGNALS;
      if (proc.stopped) this.continueProcess(proc);
    } else if (STOP_SIGNALS & sigbit(sig)) {
      const cont = sigbit(abi.SIGCONT);
      proc.pending &= ~cont;
      for (const t of proc.threads) t.pending &= ~cont;
    }
  }

  /** Stop every thread of `proc` (a stop signal's default action) and tell its parent. */
  private stopProcess(proc: Process, sig: number): void {
    if (proc.stopped) return;
    proc.stopped = true;
    for (const t of proc.threads) t.remote?.interrupt(); // they park on their way back
    proc.unreportedStop = sig;
    proc.unreportedContinue = false;
    this.logs.debug(`process ${proc.pid} stopped by signal ${sig}`);
    this.notifyParentOfJobControl(proc, abi.CLD_STOPPED, sig);
  }

  private continueProcess(proc: Process): void {
    proc.stopped = false;
    proc.unreportedStop = 0;
    proc.unreportedContinue = true;
    for (const t of proc.threads) if (t.state === TaskState.Stopped) this.wake(t);
    this.notifyParentOfJobControl(proc, abi.CLD_CONTINUED, abi.SIGCONT);
  }

  private notifyParentOfJobControl(proc: Process, code: number, sig: number): void {
    const parent = this.processes.get(proc.ppid);
    if (!parent || !parent.alive) return;
    if (!(parent.sigactions[abi.SIGCHLD].flags & abi.SA_NOCLDSTOP)) this.signalProcess(parent, this.childInfo(proc, abi.SIGCHLD, code, sig));
    this.notifyWaiters(parent);
  }

  /**
   * Is `pgid` orphaned (POSIX): no member has a parent in the same session
   * but another group? Terminal stop signals to such a group are discarded.
   */
  isOrphanedGroup(pgid: number, sid: number): boolean {
    for (const p of this.processes.values()) {
      if (!p.alive || p.pgid !== pgid) continue;
      const parent = this.processes.get(p.ppid);
      if (parent && parent.alive && parent.pgid !== pgid && parent.sid === sid) return false;
    }
    return true;
  }

  private readonly pendingInfo = new Map<string, SigInfo>();

  /**
   * Take the lowest pending signal in `set` off `task` (its own first, then
   * its process's) with its siginfo: rt_sigtimedwait. null when none.
   */
  dequeueSignal(task: Task, set: bigint): SigInfo | null {
    const proc = task.process;
    const ready = (task.pending | proc.pending) & set;
    if (ready === 0n) return null;
    let sig = 1;
    while (!(ready & sigbit(sig))) sig++;
    const bit = sigbit(sig);
    if (task.pending & bit) task.pending &= ~bit;
    else proc.pending &= ~bit;
    const key = `${proc.pid}:${sig}`;
    const info = this.pendingInfo.get(key) ?? { signo: sig, code: abi.SI_USER };
    this.pendingInfo.delete(key);
    return info;
  }

  /** Does `task` have a signal it would act on now? */
  hasDeliverable(task: Task): boolean {
    return ((task.pending | task.process.pending) & ~(task.sigmask & ~UNBLOCKABLE)) !== 0n;
  }

  /**
   * Act on pending signals before `task` returns to user mode. Returns false
   * when the task must not run now (its process was killed or stopped).
   */
  deliverSignals(task: Task): boolean {
    const proc = task.process;
    for (;;) {
      if (!proc.alive) return false;
      if (proc.stopped) {
        task.state = TaskState.Stopped;
        return false;
      }
      const deliverable = (task.pending | proc.pending) & ~(task.sigmask & ~UNBLOCKABLE);
      if (deliverable === 0n) break;
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
            continue;
          case DefaultAction.Stop:
            if (sig !== abi.SIGSTOP && this.isOrphanedGroup(proc.pgid, proc.sid)) continue;
            this.stopProcess(proc, sig);
            continue; // the loop parks the task
          case DefaultAction.Terminate:
            this.exitProcess(proc, abi.signalStatus(sig));
            return false;
          case DefaultAction.Core:
            // No core file is written (as with Linux's default RLIMIT_CORE of 0), so no core bit either.
            this.exitProcess(proc, abi.signalStatus(sig));
            return false;
        }
      }
      this.restartOrInterrupt(task, act.flags & abi.SA_RESTART ? 'sys' : 'handler');
      if (!this.setupHandlerFrame(task, sig, info)) return false;
    }
    // No handler ran for the interrupted call: it restarts (Linux's -ERESTART* without a handler).
    this.restartOrInterrupt(task, 'nohandler');
    if (task.savedSigmask !== null) {
      task.sigmask = task.savedSigmask;
      task.savedSigmask = null;
    }
    return true;
  }

  /**
   * Before returning to user mode after a system call a signal cut short:
   * restart it (back up to the ecall with its first argument restored) or
   * leave EINTR in a0, by the call's restart policy and what runs next.
   */
  private restartOrInterrupt(task: Task, next: 'sys' | 'handler' | 'nohandler'): void {
    const policy = task.restart;
    if (policy === null) return;
    task.restart = null;
    const restart = policy !== 'never' && (next === 'nohandler' || (next === 'sys' && policy === 'sys'));
    if (!restart) return;
    const r = task.regs;
    r.x[20] = task.syscallA0lo;
    r.x[21] = task.syscallA0hi;
    r.pc -= 4;
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
    // After rt_sigsuspend (and ppoll/pselect), the handler returns to the mask from before the call.
    const restoreMask = task.savedSigmask ?? task.sigmask;
    task.savedSigmask = null;
    const frame = encodeSigframe(task, info, restoreMask, alt);
    sp -= frame.length;
    sp -= sp % 16;
    if (proc.user.copyOut(sp, frame) !== 0) {
      this.exitProcess(proc, abi.signalStatus(abi.SIGSEGV));
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

  /** Make a blocked, stopped or new task runnable. */
  wake(task: Task): void {
    if (task.state === TaskState.Exited || task.state === TaskState.Runnable) return;
    task.state = TaskState.Runnable;
    this.runQueue.push(task);
    this.kick();
  }

  /**
   * Schedule a slice. Within the current turn of the event loop (less than
   * SLICE_MS of guest time since it began) the slice runs as a microtask, so
   * a thread woken by another's system call (a pipe write, a futex wake
   * settled through a Promise) runs without waiting a whole event-loop turn
   * (measured 35-57 us per wake-up); past that, it waits for the next turn
   * so host I/O and timers are served.
   */
  private kick(): void {
    if (this.loopScheduled) return;
    this.loopScheduled = true;
    if (performance.now() - this.turnStart < SLICE_MS) queueMicrotask(() => this.runSlice(false));
    else setImmediate(() => this.runSlice(true));
  }

  /** When the current event-loop turn started running guest code. */
  private turnStart = -Infinity;

  private runSlice(newTurn: boolean): void {
    this.loopScheduled = false;
    if (newTurn) this.turnStart = performance.now();
    const until = this.turnStart + SLICE_MS;
    this.pollRemotes();
    this.feedRemotes();
    while (this.runQueue.length > 0 && performance.now() < until) {
      const task = this.runQueue.shift()!;
      if (task.state !== TaskState.Runnable) continue;
      this.runTask(task, until);
      this.pollRemotes();
      this.feedRemotes();
    }
    if (this.runQueue.length > 0) this.kick();
    else this.spinOnRemotes();
  }

  // ---- vCPU workers (--cpu-num > 1) ----

  /**
   * With nothing to run here while workers run threads, watch their
   * mailboxes for a short while before going back to the event loop: a
   * thread on a worker stops for a system call every few microseconds in
   * a futex or pipe ping-pong, and the wake-up through the event loop costs
   * tens of microseconds each way on this machine. Spins SPIN_MS past the
   * last stop seen, SPIN_MAX_MS at most, and stops as soon as a thread is
   * queued for this worker's own vCPU.
   */
  private spinOnRemotes(): void {
    const start = performance.now();
    let quietUntil = start + SPIN_MS;
    for (let now = start; now < quietUntil && now - start < SPIN_MAX_MS; now = performance.now()) {
      if (this.runQueue.length > 0) {
        this.kick();
        return;
      }
      if (!this.remotes.some((v) => v.task !== null)) return;
      for (const v of this.remotes) if (v.poll()) quietUntil = performance.now() + SPIN_MS;
    }
  }

  /** vCPU workers, created when more threads are runnable than this worker's vCPU can run. */
  private readonly remotes: RemoteVcpu[] = [];

  /** Whether this worker's own vCPU is running a thread now (runTask is on the stack). */
  private ownVcpuBusy = false;

  /**
   * Give queued threads to idle vCPU workers, keeping the oldest for this
   * worker's own vCPU when it is free (runSlice takes it next).
   */
  private feedRemotes(): void {
    while (this.runQueue.length > (this.ownVcpuBusy ? 0 : 1)) {
      const vcpu = this.idleRemote();
      if (!vcpu) return;
      const task = this.runQueue.pop()!;
      if (task.state !== TaskState.Runnable) continue;
      this.startRemote(vcpu, task);
      this.keepSpareRemote();
    }
  }

  private idleRemote(): RemoteVcpu | null {
    for (const v of this.remotes) if (v.task === null) return v;
    return this.addRemote();
  }

  /** Start one more vCPU worker, unless --cpu-num are there already. */
  private addRemote(): RemoteVcpu | null {
    if (this.remotes.length + 1 >= this.config.cpuNum) return null;
    const v = new RemoteVcpu(
      this.remotes.length + 1,
      (vcpu, task, stop) => this.remoteStopped(vcpu, task, stop),
      () => this.spinOnRemotes(),
      (msg) => this.logs.error(`KERNEL BUG: ${msg}`),
    );
    this.remotes.push(v);
    return v;
  }

  /**
   * Keep one idle vCPU worker booted ahead of demand. A Worker takes tens of
   * milliseconds to start (measured: the second thread of a program waited
   * 75-150 ms for its first system call on a worker started on demand), so
   * the next thread to need one finds it ready; at most one worker idles
   * unused, however large --cpu-num is.
   */
  private keepSpareRemote(): void {
    if (this.remotes.every((v) => v.task !== null)) this.addRemote();
  }

  private startRemote(vcpu: RemoteVcpu, task: Task): void {
    task.state = TaskState.Running;
    if (!this.deliverSignals(task) || task.state !== TaskState.Running) return;
    const vm = task.process.vm;
    vm.onCodeChange ??= () => {
      for (const v of this.remotes) if (v.task && v.task.process.vm === vm) v.interrupt();
    };
    task.remote = vcpu;
    task.lastCpu = vcpu.index;
    vcpu.run(task, vm);
    this.startSweep();
  }

  /**
   * Collect threads the workers have handed back (cheap when none has), and
   * preempt a worker whose thread has had its slice while others wait: a
   * worker runs its thread until a stop or this interrupt, so a lone thread
   * on a worker is never handed back just because its slice ended.
   */
  private pollRemotes(): void {
    for (const v of this.remotes) v.poll();
    // Threads queued beyond the one vCPU 0 takes next when free: vCPU 0's own
    // thread, queued at the end of its slice, is no reason to preempt a worker.
    if (this.runQueue.length > (this.ownVcpuBusy ? 0 : 1)) {
      const now = performance.now();
      for (const v of this.remotes) v.preemptAfter(SLICE_MS, now);
    }
  }

  /**
   * While any worker runs a thread, a 1 ms timer polls the workers. It
   * keeps Node's event loop alive (a pending Atomics.waitAsync does not),
   * preempts workers when threads wait with vCPU 0 idle, and collects a
   * stop whose waitAsync wake-up never came: on Node 20 one run in a few
   * hundred of a 64-thread program left a handed-back thread uncollected
   * forever, and the sandbox hung. The wake-up stays the fast path; the
   * sweep bounds a lost one to 1 ms.
   */
  private sweep: NodeJS.Timeout | undefined;

  private startSweep(): void {
    if (this.sweep) return;
    this.sweep = setInterval(() => {
      this.pollRemotes();
      this.feedRemotes();
      this.kickIfQueued();
      if (this.remotes.every((v) => v.task === null)) {
        clearInterval(this.sweep);
        this.sweep = undefined;
      }
    }, 1);
  }

  /** A worker handed `task` back: serve its system call or fault, then let it run on, here or elsewhere. */
  private remoteStopped(vcpu: RemoteVcpu, task: Task, stop: RemoteStop): void {
    task.remote = null;
    task.instructions += stop.instructions;
    if (task.state === TaskState.Exited) {
      const proc = task.process;
      if (!proc.alive && proc.remoteThreadsAtExit > 0 && --proc.remoteThreadsAtExit === 0) proc.vm.release();
      this.feedRemotes();
      return;
    }
    switch (stop.stop) {
      case Stop.Syscall: {
        const blocked = this.syscalls.dispatch(task);
        if (blocked || task.state !== TaskState.Running) {
          this.feedRemotes();
          this.kickIfQueued();
          return;
        }
        break;
      }
      case Stop.Fault:
        this.takeFault(task, stop.fault, vcpu.index);
        break;
      case Stop.Budget:
      case Stop.Interrupted:
        break;
    }
    if (task.yieldRequested || vcpu.preempted || (stop.stop === Stop.Budget && this.runQueue.length > 0)) {
      task.yieldRequested = false;
      task.state = TaskState.Runnable;
      this.runQueue.push(task);
      this.feedRemotes();
      this.kickIfQueued();
      return;
    }
    this.startRemote(vcpu, task);
    if (vcpu.task === null) this.feedRemotes();
    this.kickIfQueued();
  }

  private kickIfQueued(): void {
    if (this.runQueue.length > 0) this.kick();
  }

  /** Stop the vCPU workers (the sandbox is shutting down). */
  shutdown(): void {
    clearInterval(this.sweep);
    this.sweep = undefined;
    for (const v of this.remotes) v.terminate();
    this.remotes.length = 0;
  }

  private runTask(task: Task, until: number): void {
    this.ownVcpuBusy = true;
    try {
      this.runOwnVcpu(task, until);
    } finally {
      this.ownVcpuBusy = false;
    }
  }

  private runOwnVcpu(task: Task, until: number): void {
    const proc = task.process;
    task.state = TaskState.Running;
    task.lastCpu = 0;
    for (;;) {
      if (!this.deliverSignals(task)) return;
      // execve may have replaced the address space (and with it the vCPU's memory).
      const cpu = proc.cpu;
      cpu.state = task.regs;
      const before = cpu.instret;
      const remotes = this.remotes.length > 0;
      cpu.mt = remotes && mayRunConcurrently(task);
      const stop = cpu.run(remotes ? BUDGET_WITH_REMOTES : BUDGET);
      task.instructions += cpu.instret - before;
      if (remotes) {
        // Serve the workers' stops now rather than after this slice; they may end or stop this thread.
        this.pollRemotes();
        this.feedRemotes();
        // Killed while we looked away (a stop is taken at the next signal check).
        if ((task.state as TaskState) === TaskState.Exited) return;
      }
      switch (stop) {
        case Stop.Syscall: {
          const blocked = this.syscalls.dispatch(task);
          if (blocked || task.state !== TaskState.Running) return;
          // A thread making system calls in a loop never spends its budget: end its turn by the clock too.
          if (task.yieldRequested || performance.now() >= until) {
            task.yieldRequested = false;
            task.state = TaskState.Runnable;
            this.runQueue.push(task);
            return;
          }
          break;
        }
        case Stop.Fault:
          this.takeFault(task, cpu.fault, 0);
          break;
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

  /** A vCPU stopped `task` on a fault: log where, and force its signal. */
  private takeFault(task: Task, f: { signal: number; code: number; addr: number }, vcpu: number): void {
    const r = task.regs;
    // The stack's first words hold the callers' return addresses: enough for a backtrace by hand (with the binary's symbols).
    const sp = r.getU(2);
    const words: string[] = [];
    for (let i = 0; i < FAULT_STACK_WORDS; i++) {
      const w = task.process.user.readU64(sp + 8 * i);
      if (isErrno(w)) break;
      words.push(w.toString(16));
    }
    this.logs.debug(`pid ${task.process.pid} tid ${task.tid} (vCPU ${vcpu}): fault signal ${f.signal} code ${f.code} addr 0x${f.addr.toString(16)} pc 0x${r.pc.toString(16)} ra 0x${r.getU(1).toString(16)} sp 0x${sp.toString(16)} instructions ${task.instructions}; stack ${words.join(' ')}`);
    this.forceSignal(task, { signo: f.signal, code: f.code, addr: f.addr });
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

/** The interpreter line of a `#!` script (Linux reads at most 256 bytes of it). */
function parseShebang(bytes: Uint8Array): { interp: string; arg?: string } | null {
  let end = bytes.indexOf(0x0a);
  if (end < 0 || end > 256) end = Math.min(bytes.length, 256);
  const line = Buffer.from(bytes.subarray(2, end)).toString('latin1').replace(/[ \t]+$/, '');
  const m = /^[ \t]*([^ \t]+)(?:[ \t]+(.*))?$/.exec(line);
  if (!m) return null;
  const interp = Buffer.from(m[1], 'latin1').toString('utf8');
  return m[2] !== undefined ? { interp, arg: Buffer.from(m[2], 'latin1').toString('utf8') } : { interp };
}
