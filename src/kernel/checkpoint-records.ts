// The records of a checkpoint image's kernel state (docs/CHECKPOINT.md).
//
// Contract: every record is plain JSON (numbers, strings, arrays, objects;
// 64-bit values as decimal strings), written by the save half of a kernel
// object's pair and read by its restore half, next to that object's code
// (task.ts, mm.ts, fdtable.ts, files/pipe.ts, ...). Objects shared between
// others (an open file description in two fd tables, a pipe with two ends,
// an address space or fd table shared by CLONE_VM / CLONE_FILES) are saved
// once and named by their index in the image's list of that kind. This file
// imports nothing: every layer may name these types.

/** A kernel object's state cannot be saved: the checkpoint fails with this text, which names what it is. */
export class Unsupported extends Error {
  constructor(what: string) {
    super(`checkpoint does not support ${what}`);
  }
}

export interface RegsRecord {
  /** x1..x31 as 62 int32 halves (low, high), x0 left out. */
  x: number[];
  /** f0..f31 as 64 int32 halves (raw bits). */
  f: number[];
  pc: number;
  fcsr: number;
}

export interface TaskRecord {
  tid: number;
  regs: RegsRecord;
  /** 'runnable' or 'stopped' (job control): a checkpoint never holds a thread inside a system call. */
  state: 'runnable' | 'stopped';
  sigmask: string;
  pending: string;
  clearChildTid: number;
  robustList: number;
  robustListLen: number;
  instructions: number;
  altstack: { sp: number; flags: number; size: number };
  lastCpu: number;
  /**
   * A system call cut short (by the checkpoint's quiescing, or a signal)
   * that restarts on the way back to user mode: a0 at its ecall and its
   * restart policy (signal-delivery.ts restartOrInterrupt); null when none.
   */
  syscallA0: [number, number];
  restart: 'sys' | 'nohand' | 'never' | null;
  /** rt_sigsuspend / ppoll / pselect6: the mask to restore once the call is over. */
  savedSigmask: string | null;
}

export interface SigActionRecord {
  handler: number;
  flags: number;
  mask: string;
}

export interface CredsRecord {
  ruid: number;
  euid: number;
  suid: number;
  rgid: number;
  egid: number;
  sgid: number;
  groups: number[];
  caps: { effective: string; permitted: string; inheritable: string; bounding: string; ambient: string };
  keepCaps: boolean;
}

export interface SigInfoRecord {
  signo: number;
  code: number;
  pid?: number;
  uid?: number;
  addr?: number;
  status?: number;
  value?: string;
  /** SI_TIMER: the timer, whose restored self counts the overruns again. */
  timerId?: number;
}

export interface ProcessRecord {
  pid: number;
  ppid: number;
  pgid: number;
  sid: number;
  umask: number;
  exePath: string;
  comm: string;
  argv: string[];
  envp: string[];
  exitSignal: number;
  execed: boolean;
  stopped: boolean;
  pending: string;
  /** The siginfo of each pending signal of this process, by signal number. */
  pendingInfo: [number, SigInfoRecord][];
  sigactions: SigActionRecord[];
  creds: CredsRecord;
  rlimits: { cur: string; max: string }[];
  deadInstructions: number;
  childInstructions: number;
  /** Armed interval timers (setitimer, alarm): time left and interval, ns. */
  itimers: ItimerRecord[];
  /** timer_create's timers. */
  posixTimers: PosixTimerRecord[];
  /** Index in KernelImage.addressSpaces / fdTables. */
  vm: number;
  fds: number;
  /** Paths from the sandbox's root, resolved again at restore. */
  cwd: string;
  root: string;
  threads: TaskRecord[];
}

export interface ItimerRecord {
  which: number;
  value: string;
  interval: string;
}

export interface PosixTimerRecord {
  id: number;
  clock: number;
  notify: number;
  signo: number;
  sigval: string;
  tid: number;
  /** Time left and interval, ns. */
  value: string;
  interval: string;
  overrun: number;
}

export interface VmaRecord {
  start: number;
  end: number;
  prot: number;
  name: string;
  /** A MAP_SHARED mapping of a file: mapped again from the file's page cache at restore. */
  file?: { path: string; pgoff: number; readOnly: boolean };
}

export interface AddressSpaceRecord {
  vmas: VmaRecord[];
  brkStart: number;
  brkEnd: number;
  stackSize: number;
  mmapTop: number;
  /** Page numbers (address / 4096) of the pages holding data, ascending; their bytes follow each other in the image's page data from `dataOffset`. */
  pages: number[];
  dataOffset: number;
}

export interface FdTableRecord {
  limit: number;
  /** [fd, index in KernelImage.files, cloexec]. */
  slots: [number, number, boolean][];
}

/** An open file description; `kind` picks the restore half (checkpoint.ts's table of kinds). */
export type FileRecord =
  | { kind: 'pipe'; pipe: number; flags: number; path: string; hupAfter: number }
  | { kind: 'stdio'; index: number; flags: number }
  | { kind: 'path'; path: string; flags: number; pos: number }
  | { kind: 'eventfd'; flags: number; count: string; semaphore: boolean }
  | { kind: 'epoll'; flags: number; items: EpollItemRecord[]; ready: number[] };

/** One registration of an epoll instance: the watched file's index, the fd it was added by, events and flags, data. */
export interface EpollItemRecord {
  file: number;
  fd: number;
  events: number;
  data: string;
}

export interface PipeRecord {
  maxSlots: number;
  /** The unread bytes, base64. */
  data: string;
  owner: { uid: number; gid: number };
}

/** What a file's save half may ask of the checkpoint: the index of a shared object, saved once. */
export interface FileSaveContext {
  pipe(pipe: { save(): PipeRecord }): number;
  /** The index of another open file description (an epoll instance's watched files), saved first. */
  file(file: { save(c: FileSaveContext): FileRecord }): number;
}

/** A tmpfs inode's own attributes (its number is not kept: a restored inode gets a new one). */
export interface TmpAttrRecord {
  mode: number;
  uid: number;
  gid: number;
  atime: [number, number];
  mtime: [number, number];
  ctime: [number, number];
}

/** A tmpfs tree: a directory's entries in order; a name of an inode met before is a hard link to it (by order of first meeting). */
export type TmpNodeRecord =
  | { type: 'dir'; attrs: TmpAttrRecord; entries: [string, TmpNodeRecord][] }
  | { type: 'file'; attrs: TmpAttrRecord; data: string }
  | { type: 'symlink'; attrs: TmpAttrRecord; target: string }
  | { type: 'fifo' | 'socket'; attrs: TmpAttrRecord }
  | { type: 'link'; to: number };

export interface KernelImage {
  /** The next pid the restored kernel hands out. */
  nextPid: number;
  /** vCPUs of the sandbox that was saved (informational: restore uses its own host's). */
  cpuNum: number;
  processes: ProcessRecord[];
  addressSpaces: AddressSpaceRecord[];
  fdTables: FdTableRecord[];
  files: FileRecord[];
  pipes: PipeRecord[];
  /** The contents of each tmpfs mount, by where it is mounted: restored into the restoring sandbox's (empty) mount there. */
  tmpfs: { at: string; root: TmpNodeRecord }[];
}
