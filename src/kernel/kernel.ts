// The kernel: the state every part of it shares (processes, futexes, memory
// accounting, the VFS, configuration) and the parts that act on it, each in
// a file of its own:
//
//   process-lifecycle.ts  init, clone, exit, zombies and reaping (exec.ts: program loading)
//   signal-delivery.ts    sending signals, job control, delivery on the way to user mode
//   scheduler.ts          guest threads onto vCPU 0 and the vCPU workers; what a vCPU stop means
//   syscalls/dispatch.ts  the system call dispatcher
//
// Threading model (see src/kernel/README.md): all kernel state lives in the
// kernel worker, which also runs guest threads on its own vCPU, so a system
// call is a function call. The parts hold a back-reference to this core and
// reach each other through it (kernel.signals, kernel.scheduler...): one
// object each, created with the kernel, so calls between them stay
// monomorphic and allocate nothing.

import type { Errno } from '../linux/errno.js';
import { MemoryAccount } from './mm.js';
import type { Creds, Process, Rlimit, Task } from './task.js';
import type { Vfs } from './vfs/vfs.js';
import { SyscallDispatcher } from './syscalls/dispatch.js';
import { FutexTable } from './futex.js';
import { ProcessLifecycle } from './process-lifecycle.js';
import { SignalDelivery } from './signal-delivery.js';
import { Scheduler } from './scheduler.js';
import type { File } from './files/file.js';
import type { KernelLogs } from './kernel-logs.js';
import { UnixNamespace } from './net/names.js';
import type { UnixSocket } from './net/unix-socket.js';
import { InetStack, type NetworkMode } from './net/inet-stack.js';
import { NetlinkPorts } from './net/netlink-socket.js';
import { HostNat } from './net/nat.js';
import { publish, type PublishedPort } from './net/published.js';
import { AS_DOUBLE } from '../vcpu/state.js';

export interface KernelConfig {
  hostname: string;
  totalMemory: number;
  cpuNum: number;
  /**
   * The script a vCPU worker thread runs (src/workers/vcpu-worker.ts, built),
   * named by whoever starts the kernel: the kernel starts those threads but,
   * by the layering rule, never names a folder above it.
   */
  vcpuWorkerEntry: string;
  creds: Creds;
  rlimits: Rlimit[];
  umask: number;
  /** The spec's linux.resources.pids.limit: most tasks (threads and zombies) at once; 0 for none. */
  pidsLimit?: number;
  /** runsc's --network: what AF_INET and AF_INET6 sockets are (net/inet-stack.ts); 'sandbox' when absent. */
  network?: NetworkMode;
  /** With 'sandbox': boot's network namespace may be reached, so outside addresses are carried by host sockets (net/nat.ts). */
  outbound?: boolean;
  /** Host sockets whose traffic reaches guest ports (net/published.ts: run's and do's -p). */
  published?: PublishedPort[];
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
  readonly processes = new Map<number, Process>();
  readonly futexes = new FutexTable();
  readonly account: MemoryAccount;
  readonly bootTime = Date.now();
  /** Guest instructions retired by processes that have exited (a double from the start: task.ts). */
  exitedInstructions = AS_DOUBLE;
  /**
   * The task whose system call handler is running now, synchronously (null
   * between calls and when a blocked call resumes): Linux's `current`, for
   * the terminal layer. Set by the dispatcher around each handler.
   */
  current: Task | null = null;
  /** Resolves with init's wait status once it has exited. */
  readonly initExited: Promise<number>;
  private initExit?: (status: number) => void;
  /** The sandbox's AF_UNIX names (net/names.ts); write(2) on a socket learns its caller's credentials from `current`. */
  readonly unixNames = new UnixNamespace<UnixSocket>(() => {
    const p = this.current?.process;
    return p ? { pid: p.pid, uid: p.creds.ruid, gid: p.creds.rgid } : null;
  });
  /** The sandbox's Internet stack: the network mode and the loopback's port tables. */
  readonly inet: InetStack;
  /** The port ids of AF_NETLINK sockets (net/netlink-socket.ts). */
  readonly netlinkPorts = new NetlinkPorts();
  /** A session leader died (the terminal layer hangs up its controlling terminal). */
  onSessionLeaderExit?: (sid: number) => void;

  readonly lifecycle: ProcessLifecycle;
  readonly signals: SignalDelivery;
  readonly scheduler: Scheduler;
  readonly syscalls: SyscallDispatcher;

  constructor(
    readonly config: KernelConfig,
    readonly vfs: Vfs,
    readonly logs: KernelLogs,
    /** Opens the sandbox's terminal (--console), for /dev/tty; an Errno without one. */
    readonly openTty: (flags: number, path: string) => File | Errno,
  ) {
    this.exitedInstructions = 0;
    this.account = new MemoryAccount(config.totalMemory);
    this.inet = new InetStack(config.network ?? 'sandbox');
    if (this.inet.mode === 'sandbox' && config.outbound) this.inet.outbound = new HostNat(this.inet.poller);
    for (const p of config.published ?? []) publish(this.inet, p);
    this.initExited = new Promise((resolve) => (this.initExit = resolve));
    this.lifecycle = new ProcessLifecycle(this);
    this.signals = new SignalDelivery(this);
    this.scheduler = new Scheduler(this);
    this.syscalls = new SyscallDispatcher(this);
  }

  /** Init has exited with wait status `status` (process-lifecycle.ts): initExited resolves. */
  initDied(status: number): void {
    this.initExit?.(status);
  }

  /** Processes whose address spaces releaseLater put off. */
  private readonly laterReleases: Process[] = [];

  /**
   * Release `proc`'s address space (Process.releaseVmOnceIdle: its memory
   * scrubbed and pooled) on a later turn of the event loop rather than now:
   * init's, so that the wait status its exit resolves goes out first (the
   * scrub of a program's pages was 2-11 ms of `bash -c true`'s exit; the
   * container has ended and nothing waits for that memory). drainReleases()
   * does what is still due at once (the kernel's shutdown).
   */
  releaseLater(proc: Process): void {
    if (this.laterReleases.push(proc) === 1) setImmediate(() => this.drainReleases());
  }

  /** Every release releaseLater put off, now. */
  drainReleases(): void {
    for (const p of this.laterReleases.splice(0)) p.releaseVmOnceIdle();
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
        cpuInstructions: p.cpuInstructions(),
      }));
  }
}
