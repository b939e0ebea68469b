// The kernel's control surface: what boot reaches the kernel with (start,
// wait, signal, processes, thread dump, stats, exec, waitPid, pause, resume, checkpoint,
// restore, resize, shutdown), cold calls only, never one per system call.
// `kernelApi(config)` makes it, once per thread; the kernel it builds on
// start() runs guest threads on that thread (vCPU 0; see
// src/kernel/README.md for why they share it). Boot calls it on its own main
// thread once it is confined (src/main/boot.ts); kernel-worker.ts serves it
// to another thread over comlink (the bench, tests).

import { buildKernel, BuiltSandbox } from '../sandbox/build.js';
import type { SandboxConfig } from '../sandbox/config.js';
import type { KernelLogs } from '../kernel/kernel-logs.js';
import { createDebugLog, createUserLog } from '../log/log.js';
import { isErrno } from '../linux/errno.js';
import * as abi from '../linux/abi.js';
import type { Process } from '../kernel/task.js';
import { PageCache } from '../kernel/page-cache.js';
import { threadDump } from '../kernel/thread-dump.js';
import { addressSpaceCounts } from '../kernel/address-space.js';
import { engineStats, reportEngineStats, type EngineStats } from '../vcpu/engine-stats.js';
import { copyCreds } from '../kernel/task.js';
import { HostStreamFile, STDIO_NAMES } from '../kernel/files/host-stream.js';
import { closeFd, dupCloexec, terminalSize } from '../host/ffi.js';
import type { HostConsole } from '../kernel/tty/console.js';
import * as fs from 'node:fs';
import { performance } from 'node:perf_hooks';
import { quiesce, restoreKernel, saveKernel, startRestored } from '../kernel/checkpoint.js';
import { decodeImage, encodeImage } from '../kernel/checkpoint-image.js';
import { Unsupported } from '../kernel/checkpoint-records.js';
import { entryScript } from '../bundle/entry.js';
import { Cpu } from '../vcpu/cpu.js';

/** The sandbox's configuration and logs: set once, by kernelApi(). */
let cfg!: SandboxConfig;
let logs!: KernelLogs;
let ownLogs: { close(): void }[] = [];

/**
 * The kernel's control surface for the sandbox `config` (boot's
 * SandboxConfig), with the logs it names opened. Once per thread: the
 * kernel's state is this module's.
 */
export function kernelApi(config: SandboxConfig): KernelApi {
  if (cfg) throw new Error('kernelApi: this thread has a kernel already');
  cfg = config;
  const debugLog = createDebugLog(cfg.log);
  const userLog = createUserLog(cfg.userLogFd);
  const straceLog = cfg.strace ? createDebugLog({ ...cfg.log, debug: true }) : undefined;
  ownLogs = [debugLog, userLog, ...(straceLog ? [straceLog] : [])];
  logs = {
    debug: (m) => debugLog.debug(m),
    warn: (m) => debugLog.warn(m),
    error: (m) => {
      debugLog.error(m);
      if (!cfg.log.debugLogPath) process.stderr.write(`tsvisor: ${m}\n`);
    },
    strace: straceLog ? (line) => straceLog.info(line) : undefined,
    user: (m) => {
      userLog.warn(m);
      debugLog.warn(m);
    },
  };
  return api;
}

export interface KernelStats {
  pids: number;
  memoryUsed: number;
  memoryLimit: number;
  cpuInstructions: number;
  /** Address spaces live now (every process's, threads and vfork children sharing theirs). */
  addressSpaces: number;
  /** Guest memories held: the live address spaces' and the scrubbed ones pooled for reuse. */
  guestMemories: number;
  /** 9P fids held on the gofers (0 in direct mode). */
  fids: number;
  /** This worker's tier counters (vcpu/engine-stats.ts): tier0Insns always, the rest only under TSVISOR_ENGINE_STATS=1. */
  engine: EngineStats;
}

/** A process to start in the running container (the control server's ExecuteAsync, checked). */
export interface ExecRequest {
  /** The program: a path, or a name looked up in the PATH of `envp`. */
  path: string;
  argv: string[];
  envp: string[];
  cwd: string;
  uid: number;
  gid: number;
  groups: number[];
  /** Host fds the process gets as stdin, stdout, stderr, or one terminal with `tty`; this worker owns them from here on. */
  fds: number[];
  tty: boolean;
  /** With `tty`: what the terminal held before it went raw (lines, end-of-file marks), as Tty.receiveLines takes it. */
  consoleInput?: Uint8Array[];
}

let sandbox: BuiltSandbox | undefined;
let init: Process | undefined;
/** The wait statuses of the processes exec() started, by pid. */
const execs = new Map<number, Promise<number>>();
/**
 * The host terminals of the processes exec() started with one (exec -t), by
 * pid, with a host fd of their own (a dup, closed when the process exits)
 * to read the size from.
 */
const execTerminals = new Map<number, { terminal: HostConsole; fd: number }>();

/**
 * SIGWINCH for a process exec'd with a host terminal (exec forwards the one
 * it gets when its own terminal is resized): the guest's terminal takes the
 * host terminal's size now, and, as Linux's tty does on a change, signals
 * its foreground group. True when the size changed (the signal is sent);
 * false when there is nothing to follow, and the signal goes as asked.
 */
function followHostTerminalSize(pid: number): boolean {
  const t = execTerminals.get(pid);
  const size = t && terminalSizeOf(t.fd);
  if (!t || !size) return false;
  const old = t.terminal.tty.winsize;
  if (old.rows === size.rows && old.cols === size.cols) return false;
  t.terminal.resize({ rows: size.rows, cols: size.cols, xpixel: 0, ypixel: 0 });
  return true;
}

const api = {
  /**
   * Tier 0's warm-up (src/vcpu/warmup.ts), which the thread's first Cpu
   * would run, now, once per thread (the JavaScript tier 0's alone: none
   * beside the WebAssembly one, Cpu.warmsUp): boot calls it right after loading the
   * kernel, while the parent's StartRoot is on its way (create, then start:
   * maybe long after), so the first program does not wait for it.
   */
  warmUp(): void {
    if (Cpu.warmsUp()) Cpu.warmUp();
  },
  /** Load and start the container's init. Resolves with an error text when it can't start. */
  async start(): Promise<string | null> {
    if (init) return 'already started';
    sandbox = await buildKernel(cfg, logs, entryScript('vcpu-worker'));
    const k = sandbox.kernel;
    const exe = cfg.args[0];
    const r = await k.lifecycle.spawnInit(exe, cfg.args, cfg.env, cfg.cwd, sandbox.stdio);
    if (typeof r === 'string') return r;
    if (isErrno(r)) return `cannot run ${exe}: ${describeErrno(r.name)}`;
    init = r;
    k.lifecycle.startInit(r);
    return null;
  },
  /** Init's wait status, once it has exited. */
  async wait(): Promise<number> {
    if (!sandbox) throw new Error('not started');
    return sandbox.kernel.initExited;
  },
  /**
   * Signal (docs/ARCHITECTURE.md, "The control protocol") mode 0: process `pid` (0 = init); 1: all
   * of them; 2: the foreground group of the terminal controlling process
   * `pid`'s session (0 = init's); 3: process group `pid`.
   */
  async signal(signo: number, pid: number, mode: number): Promise<string | null> {
    if (!sandbox) return 'container not started';
    const k = sandbox.kernel;
    if (signo < 1 || signo > abi.NSIG) return `invalid signal ${signo}`;
    if (signo === abi.SIGWINCH && mode === 0 && followHostTerminalSize(pid)) return null;
    let targets: (Process | undefined)[];
    if (mode === 1) targets = [...k.processes.values()];
    else if (mode === 3) targets = [...k.processes.values()].filter((p) => p.pgid === pid);
    else {
      const p = k.processes.get(pid === 0 ? 1 : pid);
      if (mode === 2) {
        if (!p || !p.alive) return `no such process ${pid}`;
        const fg = sandbox.ttys.cttyOf(p.sid)?.pgrp;
        if (fg === undefined || fg === null) return `process ${p.pid} has no terminal with a foreground process group`;
        targets = [...k.processes.values()].filter((q) => q.pgid === fg);
      } else targets = [p];
    }
    let hit = false;
    for (const p of targets) {
      if (!p || !p.alive) continue;
      hit = true;
      k.signals.signalProcess(p, { signo, code: abi.SI_USER, pid: 0, uid: 0 });
    }
    return hit || mode === 1 ? null : mode === 3 ? `no such process group ${pid}` : `no such process ${pid}`;
  },
  /**
   * Starts a process in the container beside init: the container's root and
   * mounts, the given credentials (the spec's capabilities), its own session,
   * no parent (ppid 0). Resolves with its pid, or an error text (the fds are
   * closed then).
   */
  async exec(req: ExecRequest): Promise<number | string> {
    if (!sandbox || !init || !init.alive) {
      for (const fd of req.fds) closeFd(fd);
      return 'container is not running';
    }
    const k = sandbox.kernel;
    const term = req.tty ? sandbox.ttys.hostTerminalStdio(req.fds[0], terminalSizeOf(req.fds[0])) : undefined;
    if (term && req.consoleInput) term.terminal.tty.receiveLines(req.consoleInput);
    const files = term ? term.files : req.fds.map((fd, i) => new HostStreamFile(fd, i === 0 ? abi.O_RDONLY : abi.O_WRONLY, STDIO_NAMES[i], true));
    const creds = copyCreds(k.config.creds);
    creds.ruid = creds.euid = creds.suid = req.uid;
    creds.rgid = creds.egid = creds.sgid = req.gid;
    creds.groups = [...req.groups];
    // spawn owns the files from here: on failure it closes them (and with them the host fds).
    const r = await k.lifecycle.spawn(req.path, req.argv, req.envp, req.cwd, files, creds);
    if (typeof r === 'string') return r;
    if (isErrno(r)) return `cannot run ${req.path}: ${describeErrno(r.name)}`;
    const sizeFd = term ? dupCloexec(req.fds[0]) : -1;
    if (term && sizeFd >= 0) execTerminals.set(r.pid, { terminal: term.terminal, fd: sizeFd });
    execs.set(r.pid, new Promise<number>((resolve) => (r.onExit = (status) => {
      if (execTerminals.delete(r.pid)) closeFd(sizeFd);
      resolve(status);
    })));
    term?.terminal.tty.acquire(r.pid, r.pid);
    k.lifecycle.startInit(r);
    return r.pid;
  },
  /**
   * The wait status of a process exec() started (or of init, pid 1), once it
   * has exited. Its status is kept until the first such wait has it, as
   * runsc forgets a waited process.
   */
  async waitPid(pid: number): Promise<number | string> {
    if (!sandbox) return 'container not started';
    if (pid === 1) return sandbox.kernel.initExited;
    const w = execs.get(pid);
    if (!w) return `no process ${pid} started by exec in this container (or it was waited for already)`;
    const status = await w;
    execs.delete(pid);
    return status;
  },
  /** Stops every guest thread (resolves once none runs); resume() lets them go on. */
  async pause(): Promise<void> {
    await sandbox?.kernel.scheduler.pause();
  },
  resume(): void {
    sandbox?.kernel.scheduler.resume();
  },
  /**
   * runsc's Checkpoint: quiesce every thread, save the kernel's state and
   * memory as an image into the host fd `fd` (the caller's image file; this
   * worker closes it), then end the container (SIGKILL to every process) or,
   * with `leaveRunning`, let it run on. Resolves with an error text when
   * some state cannot be saved (the container then runs on, untouched).
   */
  async checkpoint(fd: number, leaveRunning: boolean): Promise<string | null> {
    try {
      if (!sandbox || !init || !init.alive) return 'container is not running';
      const k = sandbox.kernel;
      const wasPaused = k.scheduler.isPaused;
      let image: Buffer;
      try {
        const t0 = performance.now();
        await quiesce(k);
        const t1 = performance.now();
        const saved = await saveKernel(k);
        const t2 = performance.now();
        image = encodeImage(saved.kernel, saved.pages);
        logs.debug(`checkpoint: quiesced in ${(t1 - t0).toFixed(1)} ms, saved ${saved.pages.length >> 12} pages in ${(t2 - t1).toFixed(1)} ms, encoded ${image.length} bytes in ${(performance.now() - t2).toFixed(1)} ms`);
      } catch (e) {
        if (!wasPaused) k.scheduler.resume();
        return e instanceof Unsupported ? e.message : `checkpoint failed: ${(e as Error).message}`;
      }
      writeAll(fd, image);
      if (!leaveRunning) {
        for (const p of k.processes.values()) if (p.alive) k.signals.signalProcess(p, { signo: abi.SIGKILL, code: abi.SI_USER, pid: 0, uid: 0 });
        k.scheduler.resume();
      } else if (!wasPaused) k.scheduler.resume();
      return null;
    } catch (e) {
      return `checkpoint failed: ${(e as Error).message}`;
    } finally {
      closeFd(fd);
    }
  },
  /**
   * runsc's Restore, in place of start(): build this sandbox's kernel, then
   * its processes from the image read from host fd `fd` (closed here), and
   * run them on this sandbox's vCPUs. Resolves with an error text when the
   * image is corrupt or cannot be restored here.
   */
  async restore(fd: number): Promise<string | null> {
    if (init) {
      closeFd(fd);
      return 'already started';
    }
    let bytes: Buffer;
    try {
      bytes = readAll(fd);
    } catch (e) {
      return `cannot read the image: ${(e as Error).message}`;
    } finally {
      closeFd(fd);
    }
    try {
      const t0 = performance.now();
      const image = decodeImage(bytes);
      const t1 = performance.now();
      sandbox = await buildKernel(cfg, logs, entryScript('vcpu-worker'));
      const k = sandbox.kernel;
      const t2 = performance.now();
      await restoreKernel(k, image.kernel, image.pages, sandbox.stdio);
      logs.debug(`restore: decoded ${bytes.length} bytes in ${(t1 - t0).toFixed(1)} ms, kernel built in ${(t2 - t1).toFixed(1)} ms, state restored in ${(performance.now() - t2).toFixed(1)} ms`);
      for (const f of sandbox.stdio) void f.unref();
      init = k.processes.get(1);
      if (!init) return 'the image holds no init (pid 1)';
      startRestored(k);
      return null;
    } catch (e) {
      return (e as Error).message;
    }
  },
  /** The host terminal was resized (--console): the console takes the size, SIGWINCH to its foreground group. */
  resize(rows: number, cols: number): void {
    if (sandbox?.ttys.console) sandbox.ttys.console.resize({ rows, cols, xpixel: 0, ypixel: 0 });
    else cfg.consoleSize = { rows, cols };
  },
  processes() {
    return sandbox ? sandbox.kernel.processStats() : [];
  },
  /** What every guest thread and vCPU is doing now (src/kernel/thread-dump.ts): for a sandbox that seems stuck. */
  threadDump(): string {
    return sandbox ? threadDump(sandbox.kernel) : 'the container has not started\n';
  },
  stats(): KernelStats {
    const k = sandbox?.kernel;
    return {
      pids: k ? k.processStats().length : 0,
      memoryUsed: k ? k.account.used : 0,
      memoryLimit: cfg.totalMemory,
      cpuInstructions: k ? k.exitedInstructions + k.processStats().reduce((s, p) => s + p.cpuInstructions, 0) : 0,
      addressSpaces: addressSpaceCounts().live,
      guestMemories: addressSpaceCounts().memories,
      fids: sandbox?.liveFids() ?? 0,
      engine: { ...engineStats },
    };
  },
  async shutdown(): Promise<void> {
    reportEngineStats();
    sandbox?.kernel.drainReleases();
    sandbox?.kernel.scheduler.shutdown();
    // Stores into shared file mappings reach their files before the filesystems close.
    await PageCache.settleAll();
    sandbox?.close();
    for (const log of ownLogs) log.close();
  },
};

export type KernelApi = typeof api;

/** The kernel's calls as another thread or the control server makes them: each one asynchronous. */
export type AsyncKernelApi = { [K in keyof KernelApi]: (...args: Parameters<KernelApi[K]>) => Promise<Awaited<ReturnType<KernelApi[K]>>> };

/** A host terminal's size, or undefined when it cannot be read. */
function terminalSizeOf(fd: number): { rows: number; cols: number } | undefined {
  const s = terminalSize(fd);
  return typeof s === 'number' || s.rows === 0 ? undefined : s;
}

/** Writes all of `data` to host fd `fd`. */
function writeAll(fd: number, data: Uint8Array): void {
  for (let off = 0; off < data.length; ) off += fs.writeSync(fd, data, off, data.length - off);
}

/** The whole content of host fd `fd` (a regular file), from its start. */
function readAll(fd: number): Buffer {
  const size = fs.fstatSync(fd).size;
  const buf = Buffer.alloc(size);
  let off = 0;
  while (off < size) {
    const n = fs.readSync(fd, buf, off, size - off, off);
    if (n === 0) break;
    off += n;
  }
  return buf.subarray(0, off);
}

function describeErrno(name: string): string {
  const texts: Record<string, string> = {
    ENOENT: 'no such file or directory',
    EACCES: 'permission denied',
    ENOEXEC: 'exec format error',
    ENOTDIR: 'not a directory',
    ELOOP: 'too many levels of symbolic links',
    ENOMEM: 'out of memory',
    E2BIG: 'argument list too long',
  };
  return texts[name] ? `${texts[name]} (${name})` : name;
}
