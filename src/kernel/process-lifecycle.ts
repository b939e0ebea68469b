// The life of processes and threads (Linux's kernel/fork.c and kernel/exit.c):
// init's creation, clone in its forms, exit of a thread or a whole process,
// zombies and reaping, reparenting to init, and the wake-ups of waiting
// parents. Program loading is exec.ts's.
//
// Contract: a process that dies stays a zombie (in Kernel.processes, on its
// parent's children) until its parent reaps it, or goes at once when nobody
// will wait (an ignored SIGCHLD, a dead parent). Its threads end with it:
// any blocked call of theirs is abandoned, and a thread still on a vCPU
// worker is interrupted and keeps the address space alive until it is back.

import * as abi from '../linux/abi.js';
import { Errno, isErrno, EAGAIN, EINVAL, EPERM } from '../linux/errno.js';
import { AddressSpace } from './address-space.js';
import { copyCreds, restoreCreds, type Creds, Process, Rlimit, type SchedPolicy, Task, TaskState } from './task.js';
import type { ProcessRecord } from './checkpoint-records.js';
import { FdTable } from './fdtable.js';
import type { Dentry } from './vfs/inode.js';
import { childStatusValue, exitCode } from './wait.js';
import { releaseRobustList } from './futex.js';
import { childInfo } from './signal-delivery.js';
import { execve, lookPath, vforkRelease } from './exec.js';
import type { File } from './files/file.js';
import type { Kernel } from './kernel.js';

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

/** The fd table size RLIMIT_NOFILE allows (capped as Linux's nr_open). */
export function nofileLimit(rlimits: Rlimit[]): number {
  const n = rlimits[abi.RLIMIT_NOFILE].cur;
  return n > 1048576n ? 1048576 : Number(n);
}

export class ProcessLifecycle {
  private nextPid = 1;

  constructor(private readonly k: Kernel) {}

  // ---- creation ----

  /** Create init (pid 1) running `argv` with `envp`, files from `stdio`. */
  spawnInit(path: string, argv: string[], envp: string[], cwd: string, stdio: File[]): Promise<Process | Errno | string> {
    return this.spawn(path, argv, envp, cwd, stdio, copyCreds(this.k.config.creds));
  }

  /**
   * A new process with no parent in the sandbox (ppid 0), leading a session
   * and process group of its own, loaded with `path` but not yet running
   * (startInit runs it): init, or a process the runtime execs into the
   * container (runsc's ExecuteAsync). Nobody reaps it: it goes when it dies,
   * after telling `onExit`. The `stdio` files become fds 0.. (the process
   * owns them; on failure they are released). Returns an Errno when the
   * program cannot be loaded, a text when the cwd cannot be resolved.
   */
  async spawn(path: string, argv: string[], envp: string[], cwd: string, stdio: File[], creds: Creds): Promise<Process | Errno | string> {
    const k = this.k;
    const fds = new FdTable(nofileLimit(k.config.rlimits));
    stdio.forEach((f, i) => fds.installAt(i, f, false));
    const cwdDentry = await k.vfs.resolve(k.vfs.root, k.vfs.root, cwd, { followLast: true });
    if (isErrno(cwdDentry)) {
      void fds.closeAll();
      return `cwd ${cwd}: ${cwdDentry.name}`;
    }
    const vm = new AddressSpace(k.account);
    const proc = this.newProcess(0, vm, fds, cwdDentry, k.vfs.root, creds, k.config.rlimits.map((r) => ({ ...r })));
    proc.umask = k.config.umask;
    const task = this.newTask(proc, proc.pid);
    const r = await execve(k, task, await lookPath(k, path, envp, cwdDentry), argv, envp);
    if (isErrno(r)) {
      vm.release();
      k.processes.delete(proc.pid);
      void fds.closeAll();
      return r;
    }
    return proc;
  }

  /**
   * Start running the first thread of a process spawn() made. No vCPU worker
   * is booted for it: a single-threaded program (most commands, an idle
   * shell) never needs one; the first clone boots the spare
   * (startClonedTask).
   */
  startInit(proc: Process): void {
    for (const t of proc.threads) this.k.scheduler.wake(t);
  }

  /**
   * Restore (checkpoint.ts): process `rec.pid` with its threads, over the
   * address space, fd table and directories restored for it. Its threads are
   * Blocked (or Stopped) until the caller wakes them; its parent link is
   * made by linkRestored once every process is back; its timers and pending
   * siginfo are the caller's to restore.
   */
  restoreProcess(rec: ProcessRecord, vm: AddressSpace, fds: FdTable, cwd: Dentry, root: Dentry): Process {
    const p = new Process(rec.pid, rec.ppid, vm, fds, root, cwd, restoreCreds(rec.creds), rec.rlimits.map((l) => ({ cur: BigInt(l.cur), max: BigInt(l.max) })));
    p.restoreFields(rec);
    for (const t of rec.threads) p.threads.add(Task.restore(t, p));
    this.k.processes.set(p.pid, p);
    return p;
  }

  /** Every restored process is back: parents learn their children, and pids go on from `nextPid`. */
  linkRestored(nextPid: number): void {
    for (const p of this.k.processes.values()) this.k.processes.get(p.ppid)?.children.add(p);
    this.nextPid = Math.max(this.nextPid, nextPid);
  }

  /** Processes created since boot (/proc/stat's "processes"). */
  get processCount(): number {
    return this.nextPid - 1;
  }

  private newProcess(ppid: number, vm: AddressSpace, fds: FdTable, cwd: Dentry, root: Dentry, creds: Creds, rlimits: Rlimit[]): Process {
    const pid = this.nextPid++;
    const p = new Process(pid, ppid, vm, fds, root, cwd, creds, rlimits);
    this.k.processes.set(pid, p);
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
    for (const p of this.k.processes.values()) n += p.alive ? p.threads.size : 1;
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
    const limit = this.k.config.pidsLimit ?? 0;
    if (limit > 0 && this.taskCount() >= limit) return EAGAIN;
    if (f & abi.CLONE_VM) parent.vm.mm.prepareForThreads();
    if (f & abi.CLONE_THREAD) return this.cloneThread(task, req);
    let realParent = parent;
    if (f & abi.CLONE_PARENT) {
      const pp = this.k.processes.get(parent.ppid);
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
    t.sched = inheritedSched(task.sched);
    this.startClonedTask(task, t, req);
    if (!(f & abi.CLONE_VFORK)) return child.pid;
    return new Promise((resolve) => {
      child.vforkDone = () => resolve(child.pid);
    });
  }

  private cloneThread(task: Task, req: CloneRequest): number | Errno {
    const t = this.newTask(task.process, this.nextPid++);
    t.sched = inheritedSched(task.sched);
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
    // From the sandbox's second task on, a vCPU worker is kept booted ahead of demand (Scheduler.keepSpareRemote).
    this.k.scheduler.keepSpareRemote();
    this.k.scheduler.wake(t);
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
    const k = this.k;
    proc.exitStatus = status;
    proc.endTime = Date.now();
    proc.onExit?.(status);
    proc.stopped = false;
    let stillRunning = 0;
    for (const t of proc.threads) {
      proc.deadInstructions += t.instructions;
      t.state = TaskState.Exited;
      if (t.remote) {
        t.remote.interrupt();
        stillRunning++;
      }
      t.abandonWait();
      this.releaseThreadFutexes(t);
    }
    proc.threads.clear();
    for (const t of proc.itimers) t?.disarm();
    for (const t of proc.posixTimers.values()) t.timer.disarm();
    proc.posixTimers.clear();
    k.exitedInstructions += proc.deadInstructions;
    k.scheduler.removeFromRunQueue(proc);
    // A vCPU worker still running one of its threads (until it sees the
    // interrupt, between blocks), or a system call handler still running,
    // must not find the memory scrubbed and handed to another process: the
    // last of them releases it.
    proc.remoteThreadsAtExit = stillRunning;
    // Init's memory after its status is out (the container ends here: Kernel.releaseLater).
    if (proc.pid === 1) k.releaseLater(proc);
    else proc.releaseVmOnceIdle();
    if (--proc.fds.users === 0) void proc.fds.closeAll();
    vforkRelease(proc);
    if (proc.sid === proc.pid) k.onSessionLeaderExit?.(proc.sid);
    k.logs.debug(`process ${proc.pid} exited with wait status ${status}`);
    if (proc.pid === 1) {
      for (const p of k.processes.values()) if (p !== proc) this.exitProcess(p, abi.signalStatus(abi.SIGKILL));
      k.initDied(status);
      k.scheduler.shutdown();
      return;
    }
    this.reparentChildren(proc);
    const parent = k.processes.get(proc.ppid);
    if (!parent || !parent.alive) {
      k.processes.delete(proc.pid);
      return;
    }
    const act = parent.sigactions[abi.SIGCHLD];
    if (proc.exitSignal === abi.SIGCHLD && (act.handler === abi.SIG_IGN || act.flags & abi.SA_NOCLDWAIT)) {
      // Nobody will wait: no zombie (Linux's autoreap).
      this.reap(proc);
    } else if (proc.exitSignal > 0) {
      k.signals.signalProcess(parent, childInfo(proc, proc.exitSignal, exitCode(status), childStatusValue(status)));
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
    const futexes = this.k.futexes;
    releaseRobustList(task, (addr) => futexes.wake(vm, addr, 1));
    if (task.clearChildTid && task.process.user.writeU32(task.clearChildTid, 0) === 0) futexes.wake(vm, task.clearChildTid, 1);
    task.clearChildTid = 0;
  }

  /** Remove a zombie for good (wait reaped it). */
  reap(proc: Process): void {
    this.k.processes.delete(proc.pid);
    this.k.processes.get(proc.ppid)?.children.delete(proc);
  }

  /** Children of a dying process pass to init; zombies among them are init's to reap. */
  private reparentChildren(proc: Process): void {
    if (proc.children.size === 0) return;
    const init = this.k.processes.get(1);
    let zombies = false;
    for (const c of proc.children) {
      c.ppid = 1;
      // Init is told of an adopted child's death by SIGCHLD, whatever exit signal its clone asked for (as Linux's reparent_leader: nobody may slay init so).
      c.exitSignal = abi.SIGCHLD;
      if (init && init.alive) {
        init.children.add(c);
        if (!c.alive) zombies = true;
      }
      // A stopped process group that is orphaned now gets SIGHUP then SIGCONT (POSIX).
    }
    proc.children.clear();
    if (zombies && init) {
      this.k.signals.signalProcess(init, { signo: abi.SIGCHLD, code: abi.CLD_EXITED });
      this.notifyWaiters(init);
    }
  }

  /** Wake the waits (wait4, waitid) of `parent` so they look at their children again. */
  notifyWaiters(parent: Process): void {
    const ws = [...parent.childWaiters];
    parent.childWaiters.clear();
    for (const w of ws) w();
  }
}

/** What a clone's thread starts with: the parent's policy, or SCHED_OTHER when it asked for SCHED_RESET_ON_FORK (sched_fork). */
export function inheritedSched(s: SchedPolicy): SchedPolicy {
  const rt = s.policy === 1 || s.policy === 2;
  return s.resetOnFork ? { policy: rt ? 0 : s.policy, priority: 0, resetOnFork: false } : { ...s };
}
