// Processes (thread groups) and tasks (threads), as Linux models them.
//
// Contract: a Task is one guest thread: its registers, signal mask and
// per-thread kernel state. A Process owns what its threads share: the address
// space, fd table, filesystem context, credentials, limits and signal actions.

import { ThreadState } from '../vcpu/state.js';
import { GuestMemory } from '../vcpu/memory.js';
import { MemoryManager } from './mm.js';
import { UserMemory } from './usercopy.js';
import { FdTable } from './fdtable.js';
import type { Dentry } from './vfs/inode.js';
import { NSIG } from './abi.js';

export interface Creds {
  ruid: number;
  euid: number;
  suid: number;
  rgid: number;
  egid: number;
  sgid: number;
  groups: number[];
}

export interface SigAction {
  /** SIG_DFL (0), SIG_IGN (1) or the handler's address. */
  handler: number;
  flags: number;
  mask: bigint;
}

/** An rlimit as the guest sees it: soft and hard, RLIM_INFINITY as bigint all-ones. */
export interface Rlimit {
  cur: bigint;
  max: bigint;
}

export const enum TaskState {
  Runnable,
  Running,
  /** Waiting for a system call to complete (no vCPU held). */
  Blocked,
  Exited,
}

export class Task {
  readonly regs = new ThreadState();
  state = TaskState.Runnable;
  sigmask = 0n;
  /** set_tid_address / CLONE_CHILD_CLEARTID: cleared and futex-woken at exit. */
  clearChildTid = 0;
  robustList = 0;
  robustListLen = 0;
  /** Signals sent to this thread, not yet delivered. */
  pending = 0n;
  /** Guest CPU time of this thread, in instructions retired. */
  instructions = 0;
  /** sigaltstack: ss_sp, ss_flags (SS_DISABLE when none), ss_size. */
  altstack = { sp: 0, flags: 2, size: 0 };

  constructor(
    readonly tid: number,
    readonly process: Process,
  ) {}
}

export class Process {
  readonly threads = new Set<Task>();
  readonly sigactions: SigAction[] = Array.from({ length: NSIG + 1 }, () => ({ handler: 0, flags: 0, mask: 0n }));
  /** Signals sent to the process, not yet delivered. */
  pending = 0n;
  /** Linux wait status once the process is dead (zombie or reaped). */
  exitStatus: number | undefined;
  readonly startTime = Date.now();
  /** Guest instructions retired by threads that have exited. */
  deadInstructions = 0;
  pgid: number;
  sid: number;
  umask = 0o022;
  exePath = '';
  argv: string[] = [];
  envp: string[] = [];
  readonly user: UserMemory;

  constructor(
    readonly pid: number,
    public ppid: number,
    readonly mem: GuestMemory,
    readonly mm: MemoryManager,
    public fds: FdTable,
    public root: Dentry,
    public cwd: Dentry,
    public creds: Creds,
    public rlimits: Rlimit[],
    codeChanged: (addr: number, len: number) => void,
  ) {
    this.pgid = pid;
    this.sid = pid;
    this.user = new UserMemory(mem, codeChanged);
  }

  get alive(): boolean {
    return this.exitStatus === undefined;
  }
}
