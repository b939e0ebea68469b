// `tsvisor boot`: runsc's boot contract (docs/ARCHITECTURE.md, "The boot contract"). A parent runtime
// launches it with donated fds; it reads the spec, builds the sandbox, brings
// up the control server, writes one zero byte to the start-sync fd, waits for
// StartRoot, runs the application and exits with its status.
//
// Exit codes: the application's exit code, or 128+N when signal N killed it;
// boot's own failures (usage, bad spec, broken fds) exit 128 with one line.

import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { FlagDef, FlagValues, parseFlags } from './flags.js';
import { entryScript, startedFromSnapshot } from '../bundle/entry.js';
import { defaultSpec, parseSpec, readSpecFromFd } from '../spec/load.js';
import type { Spec } from '../spec/types.js';
import { ContainerManager, ControlServer, type CheckpointArg, type ExecArg, ProcessInfo, SignalArg, type WaitPidArg } from './control-server.js';
import type { FileAccess, SandboxConfig } from '../sandbox/config.js';
import { sandboxMounts, type SandboxMount } from '../spec/mounts.js';
import type { AsyncKernelApi, KernelApi } from '../workers/kernel-api.js';
import { Fatal, GLOBAL_FLAGS, GlobalOptions, globalOptions, openLogs } from './common.js';
import { endProcess } from './end-process.js';
import { JsonValueSplitter, urpcRequest } from './urpc.js';
import { containerId } from './control-args.js';
import { applyCapabilities, capMask } from './caps.js';
import { confinePolicy, debugLogBinds, enterConfinedRoot, lockDown, networkConfinement, takeNewSession } from './confine.js';
import { networkPlan, parsePublishArg } from './network.js';
import { exportsOf } from '../spec/mounts.js';
import { buildFilter, closeFd, execve, getTerminalAttr, hostSyscalls, setCloexec, prctl, PR_SET_PDEATHSIG, rawTerminalAttr, SECCOMP_RET_KILL_PROCESS, setControllingTerminal, setTerminalAttr, takeCanonicalInput, TCSADRAIN, terminalSize } from '../host/ffi.js';

/** How the sandbox caches its filesystems' metadata: boot's flags, which `run` and `do` take too and pass on to boot. */
export const FILE_ACCESS_FLAGS: FlagDef[] = [
  { name: 'file-access', kind: 'string', usage: 'the rootfs: exclusive (the sandbox is its only writer: metadata cached) or shared (the host may change it: revalidated)', default: 'exclusive' },
  { name: 'file-access-mounts', kind: 'string', usage: 'bind mounts: shared (revalidated) or exclusive (cached)', default: 'shared' },
];

export const BOOT_FLAGS: FlagDef[] = [
  { name: 'bundle', kind: 'string', usage: 'path to the bundle directory (root.path is relative to it)', default: '' },
  { name: 'spec-fd', kind: 'int', usage: 'required: fd holding the OCI runtime spec', default: -1 },
  { name: 'controller-fd', kind: 'int', usage: 'required: stream socket for the control server', default: -1 },
  { name: 'device-fd', kind: 'int', usage: 'platform device file (unused by the emulator platform)', default: -1 },
  { name: 'io-fds', kind: 'intList', usage: 'one 9P2000.L connection per filesystem: the root first, then the mounts', default: [] },
  { name: 'donate-fd', kind: 'int', usage: "the gofer's SOCK_SEQPACKET channel that passes opened files' host fds (with --io-fds); -1: none", default: -1 },
  { name: 'stdio-fds', kind: 'intList', usage: "the application's stdin, stdout, stderr", default: [] },
  { name: 'console', kind: 'bool', usage: 'stdio is a terminal: allow terminal ioctls', default: false },
  { name: 'apply-caps', kind: 'bool', usage: "apply the spec's capabilities to this process, then re-exec without this flag", default: false },
  { name: 'cpu-num', kind: 'int', usage: 'number of vCPUs (0: the host CPU count)', default: 0 },
  { name: 'total-memory', kind: 'uint64', usage: 'memory reported to the guest, and its cap (0: 2 GiB)', default: 0 },
  ...FILE_ACCESS_FLAGS,
  { name: 'dcache-size', kind: 'int', usage: 'most unused dentries of the rootfs and bind mounts kept cached, each holding a gofer fid (0: 4096)', default: 0 },
  { name: 'user-log-fd', kind: 'int', usage: 'fd for messages meant for the user (0: none)', default: 0 },
  { name: 'publish', kind: 'stringList', usage: 'a published port: FD:GUESTPORT/tcp or /udp, FD a host socket (listening, or bound for udp) whose traffic reaches GUESTPORT in the sandbox (repeatable)', default: [] },
  { name: 'start-sync-fd', kind: 'int', usage: 'required: fd to signal "booted, controller up" with one zero byte', default: -1 },
];

export const BOOT_SYNOPSIS = 'tsvisor [global flags] boot [flags] <container id>';
const DEFAULT_TOTAL_MEMORY = 2 * 1024 ** 3;

/**
 * Set by `tsvisor run` to its own pid: boot then asks the host kernel for
 * SIGKILL when its parent dies, so a killed `run` never leaves a sandbox
 * behind. A parent runtime that manages boot's life itself does not set it.
 */
export const DIE_WITH_PARENT_ENV = 'TSVISOR_DIE_WITH_PARENT';

function dieWithParent(): void {
  const parent = process.env[DIE_WITH_PARENT_ENV];
  if (!parent) return;
  delete process.env[DIE_WITH_PARENT_ENV];
  prctl(PR_SET_PDEATHSIG, 9);
  // The parent may have died before the prctl: then we are already orphaned.
  if (String(process.ppid) !== parent) process.exit(128 + 9);
}

/**
 * Runs boot. Once the container's status is known and reported, the process
 * ends with it (end-process.ts); boot's own failures reject (Fatal), and the CLI
 * prints them and exits 128.
 */
export async function boot(global: GlobalOptions, flags: FlagValues, positional: string[], argvForReexec: string[]): Promise<number> {
  let code: number;
  // 1. Required fds and exactly one container id.
  const missing = ['spec-fd', 'controller-fd', 'start-sync-fd'].filter((n) => (flags[n] as number) < 0);
  if (missing.length > 0 || positional.length !== 1) {
    const why = missing.length ? `missing required flag${missing.length > 1 ? 's' : ''}: ${missing.map((m) => '--' + m).join(', ')}` : `expected exactly one container id, got ${positional.length}`;
    throw new Fatal(why, true);
  }
  const cid = positional[0];
  // Confined by run or create: a session of its own first (confine.ts), then die-with-parent.
  takeNewSession();
  dieWithParent();
  const logs = openLogs(global, flags['user-log-fd'] as number);
  let restoreConsole = () => {};
  try {
    // 2. The spec.
    const spec = readSpecFromFd(flags['spec-fd'] as number);
    logs.debug.debug(`boot ${cid}: spec ${JSON.stringify(spec)}`);
    logs.debug.debug(`boot ${cid}: ${startedFromSnapshot() ? 'started from the startup snapshot' : 'started without the startup snapshot'}`);
    // 3. Capabilities, then re-exec without --apply-caps.
    if (flags['apply-caps']) {
      applyCapabilities(spec);
      const args = argvForReexec.filter((a) => !/^--?apply-caps(=true)?$/.test(a));
      // Node marks the fds it inherits close-on-exec at its start: the donated ones must reach the next boot.
      for (const fd of donatedFds(flags)) setCloexec(fd, false);
      // argv[1]: the script node was started with (bin/tsvisor, or boot's bundle loader beside --snapshot-blob in execArgv).
      const r = execve(process.execPath, [process.execPath, ...process.execArgv, process.argv[1], ...args], Object.entries(process.env).map(([k, v]) => `${k}=${v}`));
      throw new Fatal(`re-exec after applying capabilities failed: errno ${-r}`);
    }
    // 4. The sandbox.
    const cfg = sandboxConfig(global, flags, spec, cid);
    if (cfg.console) restoreConsole = attachConsole(cfg);
    // Confined (src/main/confine.ts) before the kernel's code runs or any
    // worker starts, so no thread that runs the kernel or the guest ever holds a capability: a root of
    // our own (with the exports in direct mode), no capabilities, seccomp.
    if (global.confine) {
      const direct = (flags['io-fds'] as number[]).length === 0 ? exportsOf(spec, bundleDir(flags)) : [];
      enterConfinedRoot([...direct.map((e) => ({ path: e.hostPath, readonly: e.readonly })), ...debugLogBinds(global)]);
      lockDown(networkConfinement(networkPlan(global.network, spec)));
    }
    // The kernel runs on this thread, loaded once the control server is up (step 6).
    const { kernel, died, load } = kernelOnThisThread(cfg);
    // The host terminal's resizes reach the guest's console: SIGWINCH from the pty boot leads the session of, or passed on by run from its own terminal.
    const onWinch = () => {
      const size = terminalSize(cfg.stdioFds[0]);
      if (typeof size !== 'number') void kernel.resize(size.rows, size.cols).catch(() => {});
    };
    if (cfg.console) process.on('SIGWINCH', onWinch);
    const sandbox = new SandboxController(cid, kernel);
    // 5. The control socket listens (a bound one is made to: listen(2)), then
    // one zero byte on the start-sync fd, then the control server serves it,
    // before this turn ends: a connection made after the byte waits in the
    // socket's queue for that, and the byte does not wait for Node's
    // networking to load (ControlServer.listenFd; docs/STARTUP.md, "Boot to
    // sync for a parent runtime").
    const ctlFd = flags['controller-fd'] as number;
    ControlServer.listenFd(ctlFd);
    const syncFd = flags['start-sync-fd'] as number;
    try {
      fs.writeSync(syncFd, Buffer.from([0]));
      fs.closeSync(syncFd);
    } catch (e) {
      closeFd(ctlFd);
      throw new Fatal(`cannot signal the start-sync fd ${syncFd}: ${(e as Error).message}`);
    }
    const server = await ControlServer.serveFd(ctlFd, sandbox, {
      debug: (m) => logs.debug.debug(m),
      warn: (m) => logs.debug.warn(m),
    });
    // 6. The kernel's code loads now, while the parent reads the sync byte
    // and sends StartRoot (served once it is loaded). 7. Run, wait for init to exit.
    setImmediate(load);
    const status = await Promise.race([sandbox.exited, died]);
    logs.debug.debug(`boot ${cid}: init exited with wait status ${status}`);
    // The status is known and every Wait answered once the server has
    // drained; the kernel's shutdown writes shared mappings' stores through
    // the gofer, then closes its connections (the gofer sees their end then).
    await server.shutdown();
    await kernel.shutdown().catch(() => {});
    process.off('SIGWINCH', onWinch);
    code = exitCodeOf(status);
  } finally {
    restoreConsole();
    logs.close();
  }
  // Boot's last step: the status is known and reported, nothing is left to write (end-process.ts).
  endProcess(code);
}

/**
 * The build's code-cache step for boot's bundle calls this (src/bundle,
 * BundleSpec.warmUp) once every module has loaded: the pure part of what
 * boot runs before its sync byte (the flags, the spec's check, the network
 * plan, the seccomp filter's assembly) and, after it, the first requests'
 * reading (urpc's splitter, the container id's check), so that the cache,
 * and boot's startup snapshot (src/bundle/snapshot-entry.ts), hold those
 * functions' bytecode and a boot does not compile them at its start
 * (docs/STARTUP.md, "Boot to sync for a parent runtime", and the thirteenth
 * pass). It reads no process state and touches no file, fd or system call.
 */
export function warmCodeCache(): void {
  const argv = ['--root=/run/tsvisor', 'boot', '--bundle=/b', '--spec-fd=3', '--controller-fd=4', '--start-sync-fd=5', '--stdio-fds=0,1,2', '--io-fds=6,7', '--donate-fd=8', '--cpu-num=2', 'cid'];
  const g = parseFlags(GLOBAL_FLAGS, argv);
  const global = globalOptions(g.flags, argv.slice(0, argv.length - g.rest.length));
  parseFlags(BOOT_FLAGS, g.rest.slice(1));
  const spec = parseSpec(JSON.stringify(defaultSpec()));
  const table = hostSyscalls();
  if (table) buildFilter(confinePolicy(networkConfinement(networkPlan(global.network, spec)), SECCOMP_RET_KILL_PROCESS), table);
  new JsonValueSplitter({ maxBytes: 1 << 20, maxDepth: 64 }).push(Buffer.from(urpcRequest('containerManager.StartRoot', 'cid') + urpcRequest('containerManager.Wait', 'cid')));
  containerId('containerManager.StartRoot', 'cid');
}

/**
 * The kernel on boot's main thread (docs/ARCHITECTURE.md, "Threads"): its
 * calls, each of which waits for `load()`, which requires the kernel's code
 * (its own bundle, src/bundle) and makes kernelApi(cfg); and `died`, which
 * rejects when that load fails or an exception escapes the kernel (an error
 * no one caught on this thread), as the kernel worker's death did: boot then
 * ends with one line and 128. Called after the lock-down, so the kernel's
 * code first runs confined.
 */
function kernelOnThisThread(cfg: SandboxConfig): { kernel: AsyncKernelApi; died: Promise<never>; load: () => void } {
  let dieWith!: (e: Error) => void;
  const died = new Promise<never>((_, reject) => (dieWith = reject));
  died.catch(() => {});
  let loaded!: (api: KernelApi) => void;
  let failed!: (e: Error) => void;
  const ready = new Promise<KernelApi>((resolve, reject) => ((loaded = resolve), (failed = reject)));
  ready.catch(() => {});
  process.on('uncaughtException', (e) => dieWith(e));
  const load = () => {
    try {
      const { kernelApi } = require(entryScript('kernel')) as typeof import('../workers/kernel-api.js');
      const api = kernelApi(cfg);
      loaded(api);
      // Tier 0's warm-up on the next turn, not at the first Cpu: a StartRoot
      // already here goes first as far as its first wait for the gofer, and the
      // warm-up then runs in that wait; one that comes later finds it done.
      // (The JavaScript tier 0's alone: beside the WebAssembly one it does nothing, Cpu.warmsUp.)
      setImmediate(() => api.warmUp());
    } catch (e) {
      failed(e as Error);
      dieWith(e as Error);
    }
  };
  const kernel = new Proxy({} as AsyncKernelApi, {
    get: (_, name) => {
      // Not a thenable: only the kernel's calls are properties.
      if (typeof name !== 'string' || name === 'then') return undefined;
      return async (...args: unknown[]) => {
        const api = await ready;
        return (api[name as keyof KernelApi] as (...a: unknown[]) => unknown)(...args);
      };
    },
  });
  return { kernel, died, load };
}

/**
 * --console: the stdio fds are a host terminal, and the guest's console
 * (the kernel's tty layer, in src/kernel) is its line discipline: the host terminal goes to raw
 * mode (no echo, editing, signals or output processing of its own) until
 * the returned function restores it (boot's way out, or process exit). A
 * session leader without a controlling terminal (run starts boot so for
 * --console-socket) takes it, so that resizes reach boot as SIGWINCH; the
 * guest's console starts at the host terminal's size.
 */
function attachConsole(cfg: SandboxConfig): () => void {
  const fd = cfg.stdioFds[0];
  setControllingTerminal(fd); // EPERM when not a session leader or already attached: nothing to do
  const size = terminalSize(fd);
  if (typeof size !== 'number' && size.rows > 0 && size.cols > 0) cfg.consoleSize = size;
  const saved = getTerminalAttr(fd);
  if (typeof saved === 'number') return () => {}; // not a terminal (pipes): nothing to set or restore
  // Lines typed ahead and end-of-file marks go to the guest as the host's
  // line discipline made them; raw mode would turn a queued mark into a NUL
  // byte, which the guest's canonical, echoing console showed as "^@".
  cfg.consoleInput = takeCanonicalInput(fd, saved);
  setTerminalAttr(fd, rawTerminalAttr(saved), TCSADRAIN);
  const restore = () => {
    process.off('exit', restore);
    setTerminalAttr(fd, saved, TCSADRAIN);
  };
  process.on('exit', restore);
  return restore;
}

/** A Linux wait status as a shell exit code. */
export function exitCodeOf(status: number): number {
  const sig = status & 0x7f;
  return sig === 0 ? (status >> 8) & 0xff : 128 + sig;
}

function mountsOf(spec: Spec, bundle: string): SandboxMount[] {
  try {
    return sandboxMounts(spec.mounts ?? [], bundle);
  } catch (e) {
    throw new Fatal(`spec mounts: ${(e as Error).message}`);
  }
}

/** --bundle, else the working directory. */
function bundleDir(flags: FlagValues): string {
  return (flags.bundle as string) || process.cwd();
}

/** --file-access / --file-access-mounts: exclusive or shared, as runsc spells them. */
export function fileAccessFlag(flags: FlagValues, name: string): FileAccess {
  const v = flags[name] as string;
  if (v !== 'exclusive' && v !== 'shared') throw new Fatal(`--${name} must be exclusive or shared, got ${JSON.stringify(v)}`);
  return v;
}

function sandboxConfig(global: GlobalOptions, flags: FlagValues, spec: Spec, cid: string): SandboxConfig {
  const proc = spec.process!;
  const ioFds = flags['io-fds'] as number[];
  const stdio = flags['stdio-fds'] as number[];
  if (stdio.length !== 0 && stdio.length !== 3) throw new Fatal(`--stdio-fds needs three fds (stdin, stdout, stderr), got ${stdio.length}`);
  const bundle = bundleDir(flags);
  const rootPath = path.resolve(bundle, spec.root!.path);
  if (!fs.existsSync(rootPath) || !fs.statSync(rootPath).isDirectory()) throw new Fatal(`root.path ${rootPath}: not a directory`);
  const cpuNum = (flags['cpu-num'] as number) || os.cpus().length;
  if (cpuNum < 0) throw new Fatal(`--cpu-num must not be negative, got ${cpuNum}`);
  const totalMemory = (flags['total-memory'] as number) || DEFAULT_TOTAL_MEMORY;
  const mounts = mountsOf(spec, bundle);
  const fileAccess = fileAccessFlag(flags, 'file-access');
  const fileAccessMounts = fileAccessFlag(flags, 'file-access-mounts');
  const dcacheSize = flags['dcache-size'] as number;
  if (dcacheSize < 0) throw new Fatal(`--dcache-size must not be negative, got ${dcacheSize}`);
  // --io-fds: one 9P2000.L connection per filesystem the gofer serves, the root's first, then each bind mount's.
  const filesystems = 1 + mounts.filter((m) => m.kind === 'bind').length;
  if (ioFds.length > 0 && ioFds.length !== filesystems) throw new Fatal(`--io-fds has ${ioFds.length} fds but the spec has ${filesystems} filesystems (the root and ${filesystems - 1} bind mounts)`);
  return {
    containerId: cid,
    rootPath,
    rootReadonly: spec.root!.readonly === true,
    mounts,
    ioFds,
    donateFd: ioFds.length > 0 && (flags['donate-fd'] as number) >= 0 ? (flags['donate-fd'] as number) : undefined,
    fileAccess,
    fileAccessMounts,
    dcacheSize: dcacheSize || undefined,
    args: proc.args,
    env: proc.env ?? [],
    cwd: proc.cwd,
    hostname: spec.hostname ?? '',
    uid: proc.user?.uid ?? 0,
    gid: proc.user?.gid ?? 0,
    additionalGids: proc.user?.additionalGids ?? [],
    umask: proc.user?.umask ?? 0o022,
    rlimits: (proc.rlimits ?? []).map((r) => ({ type: r.type, soft: r.soft, hard: r.hard })),
    totalMemory,
    cpuNum,
    pidsLimit: Math.max(0, spec.linux?.resources?.pids?.limit ?? 0),
    capabilities: {
      effective: capMask(proc.capabilities?.effective),
      permitted: capMask(proc.capabilities?.permitted),
      inheritable: capMask(proc.capabilities?.inheritable),
      bounding: capMask(proc.capabilities?.bounding),
      ambient: capMask(proc.capabilities?.ambient),
    },
    stdioFds: stdio.length === 3 ? [stdio[0], stdio[1], stdio[2]] : [0, 1, 2],
    console: flags.console === true,
    strace: global.strace,
    network: global.network,
    outbound: networkPlan(global.network, spec).outbound,
    published: parsePublishArg(flags.publish as string[]),
    userLogFd: flags['user-log-fd'] as number,
    // Absolute: the kernel opens it again (a log of its own), from the root of a confined boot (src/main/confine.ts).
    log: { debug: global.debug, debugLogPath: global.debugLog ? path.resolve(global.debugLog) : undefined, format: global.logFormat },
  };
}

/** The containerManager side of the control protocol, backed by the kernel (on this thread). */
class SandboxController implements ContainerManager {
  private state: 'created' | 'starting' | 'running' | 'stopped' = 'created';
  private resolveExit!: (status: number) => void;
  readonly exited = new Promise<number>((r) => (this.resolveExit = r));
  private exitStatus: number | undefined;

  constructor(
    private readonly cid: string,
    private readonly kernel: AsyncKernelApi,
  ) {}

  private checkId(cid: string): void {
    if (cid !== this.cid) throw new Error(`no container with id "${cid}" in this sandbox (it holds "${this.cid}")`);
  }

  async StartRoot(cid: string): Promise<null> {
    return this.startWith(cid, 'starting', () => this.kernel.start());
  }

  /** runsc's Restore: the container starts from the image in `file` instead of its spec's process. */
  async Restore(cid: string, file: number): Promise<null> {
    if (cid !== this.cid || this.state !== 'created') closeFd(file);
    return this.startWith(cid, 'restoring', () => this.kernel.restore(file));
  }

  /** StartRoot and Restore: once, while created; a failure ends the sandbox, as runsc's does (boot exits 128). */
  private async startWith(cid: string, what: string, start: () => Promise<string | null>): Promise<null> {
    this.checkId(cid);
    if (this.state !== 'created') throw new Error(`container "${cid}" was already started`);
    this.state = 'starting';
    const err = await start();
    if (err) {
      this.state = 'stopped';
      setTimeout(() => this.finish(-1), 50);
      throw new Error(`${what} container "${cid}": ${err}`);
    }
    this.state = 'running';
    this.kernel.wait().then((s) => this.finish(s), () => this.finish(-1));
    return null;
  }

  /** runsc's Checkpoint: the image goes into `file`; the container ends unless LeaveRunning. */
  async Checkpoint(arg: CheckpointArg, file: number): Promise<null> {
    try {
      this.requireRunning(arg.CID, 'checkpoint');
    } catch (e) {
      closeFd(file);
      throw e;
    }
    const err = await this.kernel.checkpoint(file, arg.LeaveRunning);
    if (err) throw new Error(err);
    return null;
  }

  private finish(status: number): void {
    if (this.exitStatus !== undefined) return;
    this.exitStatus = status;
    this.state = 'stopped';
    this.resolveExit(status);
  }

  async Wait(cid: string): Promise<number> {
    this.checkId(cid);
    const s = await this.exited;
    if (s < 0) throw new Error(`container "${cid}" did not start`);
    return s;
  }

  async Signal(arg: SignalArg): Promise<null> {
    this.checkId(arg.CID);
    if (this.state === 'created') throw new Error(`container "${arg.CID}" is not running`);
    const err = await this.kernel.signal(arg.Signo, arg.PID, arg.Mode);
    if (err) throw new Error(err);
    return null;
  }

  async Processes(cid: string): Promise<ProcessInfo[]> {
    this.checkId(cid);
    const list = await this.kernel.processes();
    return list.map((p) => ({
      UID: p.uid,
      PID: p.pid,
      PPID: p.ppid,
      C: 0,
      STIME: new Date(p.startTime).toTimeString().slice(0, 5),
      TIME: formatCpuTime(p.cpuInstructions),
      Cmd: p.cmd,
    }));
  }

  /** The thread dump (src/kernel/thread-dump.ts): what every guest thread and vCPU is doing now. */
  async Stacks(cid: string): Promise<string> {
    this.checkId(cid);
    return this.kernel.threadDump();
  }

  private requireRunning(cid: string, what: string): void {
    this.checkId(cid);
    if (this.state !== 'running') throw new Error(`cannot ${what} container "${cid}": it is ${this.state === 'starting' ? 'starting' : this.state === 'created' ? 'not started' : 'stopped'}`);
  }

  async ExecuteAsync(arg: ExecArg, files: number[]): Promise<number> {
    try {
      this.requireRunning(arg.ContainerID, 'exec in');
    } catch (e) {
      for (const fd of files) closeFd(fd);
      throw e;
    }
    const path = arg.Filename || arg.Argv[0];
    const r = await this.kernel.exec({ path, argv: arg.Argv.length ? arg.Argv : [path], envp: arg.Envv, cwd: arg.WorkingDirectory, uid: arg.KUID, gid: arg.KGID, groups: arg.ExtraKGIDs, fds: files, tty: arg.StdioIsPty, consoleInput: arg.ConsoleInput?.map((line) => Uint8Array.from(Buffer.from(line, 'base64'))) });
    if (typeof r === 'string') throw new Error(r);
    return r;
  }

  async WaitPID(arg: WaitPidArg): Promise<number> {
    this.checkId(arg.CID);
    const r = await this.kernel.waitPid(arg.PID);
    if (typeof r === 'string') throw new Error(r);
    return r;
  }

  async Pause(cid: string): Promise<null> {
    this.requireRunning(cid, 'pause');
    await this.kernel.pause();
    return null;
  }

  async Resume(cid: string): Promise<null> {
    this.requireRunning(cid, 'resume');
    await this.kernel.resume();
    return null;
  }

  async Event(cid: string): Promise<unknown> {
    this.checkId(cid);
    const s = await this.kernel.stats();
    return {
      type: 'stats',
      id: cid,
      data: {
        cpu: { usage: { total: s.cpuInstructions } },
        memory: { usage: { usage: s.memoryUsed, limit: s.memoryLimit } },
        pids: { current: s.pids },
      },
    };
  }
}

/** Every fd the parent runtime donated on boot's command line (they stay open across --apply-caps's re-exec). */
function donatedFds(flags: FlagValues): number[] {
  const single = ['spec-fd', 'controller-fd', 'device-fd', 'donate-fd', 'user-log-fd', 'start-sync-fd'].map((n) => flags[n] as number);
  const lists = [...(flags['io-fds'] as number[]), ...(flags['stdio-fds'] as number[]), ...parsePublishArg(flags.publish as string[]).map((p) => p.fd)];
  return [...single, ...lists].filter((fd) => fd > 2);
}

/** Guest CPU time as ps prints it, from instructions at a nominal 1 ns each. */
function formatCpuTime(instructions: number): string {
  const secs = Math.floor(instructions / 1e9);
  const h = Math.floor(secs / 3600);
  const m = Math.floor((secs % 3600) / 60);
  const s = secs % 60;
  return `${String(h).padStart(2, '0')}:${String(m).padStart(2, '0')}:${String(s).padStart(2, '0')}`;
}
