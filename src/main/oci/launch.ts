// Starting a sandbox for one container, as a parent runtime does: the state
// directory and its control socket, the start-sync pipe, the gofer, the
// terminal, and `tsvisor boot` with every fd wired. Shared by `tsvisor run`
// (src/main/run.ts), which then starts and waits for the container itself,
// and `tsvisor create` (verbs.ts beside this file), which leaves boot waiting
// for StartRoot.

import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import * as tty from 'node:tty';
import { spawn, type ChildProcess } from 'node:child_process';
import { DIE_WITH_PARENT_ENV, fileAccessFlag } from '../boot.js';
import type { FlagValues } from '../flags.js';
import type { FileAccess } from '../../sandbox/config.js';
import { childGlobalArgv, Fatal, GlobalOptions } from '../common.js';
import { confinedCommand, confinedEnv, confinedPid, releaseConfined, networkConfinement } from '../confine.js';
import { closePublished, networkPlan, openPublished, publishArg, type PublishRequest } from '../network.js';
import { parseSpec } from '../../spec/load.js';
import type { Spec } from '../../spec/types.js';
import { bindUnixSocket, closeFd, connectUnixSocket, getTerminalAttr, openPty, pipe2, sendFd, setTerminalAttr, setTerminalSize, O_CLOEXEC, TCSADRAIN } from '../../host/ffi.js';
import { prepareGofer, type RunningGofer } from '../gofer-launch.js';
import { checkId, ContainerExists, OciError } from './state.js';
import { BOOT_NODE_FLAGS, entryScript, sandboxProcessEnv } from '../../bundle/entry.js';
import { bootSnapshotArgs } from '../../bundle/snapshot.js';

/** A bundle's config.json, read and checked. */
export interface Bundle {
  dir: string;
  configPath: string;
  spec: Spec;
}

/**
 * Reads BUNDLE/config.json and checks it against the schema, before anything
 * is launched. `exitCode` is the exit status a failure carries (128 for
 * `tsvisor run`, as before; 1 for runc's verbs).
 */
export function readBundle(dir: string, exitCode: number): Bundle {
  const bundle = path.resolve(dir);
  const configPath = path.join(bundle, 'config.json');
  let text: string;
  try {
    text = fs.readFileSync(configPath, 'utf8');
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    // runc's wording for a bundle without one.
    if (code === 'ENOENT' && exitCode !== 128) throw new OciError(`JSON specification file ${configPath} not found`);
    throw new Fatal(`cannot read ${configPath}: ${code ?? (e as Error).message}`, false, exitCode);
  }
  try {
    return { dir: bundle, configPath, spec: parseSpec(text) };
  } catch (e) {
    if (exitCode === 128) throw e;
    throw new OciError(`invalid ${configPath}: ${(e as Error).message}`);
  }
}

export interface LaunchOptions {
  cid: string;
  bundle: Bundle;
  /** Where the pty master goes (process.terminal: true); '' for none. */
  consoleSocket: string;
  /** No gofer: boot opens the filesystems itself. */
  directfs: boolean;
  /** vCPUs (0: the spec's, else the host's). */
  cpuNum: number;
  /** Guest memory in bytes (0: boot's default). */
  totalMemory: number;
  /**
   * Detached (create): boot outlives this process. Otherwise (run) boot
   * dies with this process (TSVISOR_DIE_WITH_PARENT). Either way boot leads
   * a session of its own.
   */
  detached: boolean;
  /** Exit status a launch failure carries (see readBundle). */
  exitCode: number;
  /** boot's --file-access and --file-access-mounts (absent: boot's defaults). */
  fileAccess?: { rootfs: FileAccess; mounts: FileAccess };
  /** Ports to publish (-p of run and do): host sockets opened here, handed to boot. */
  publish?: PublishRequest[];
}

/**
 * The --file-access and --file-access-mounts a command took (boot.ts
 * FILE_ACCESS_FLAGS), checked before anything is launched; undefined for a
 * command without them.
 */
export function fileAccessOption(flags: FlagValues): LaunchOptions['fileAccess'] {
  if (flags['file-access'] === undefined) return undefined;
  return { rootfs: fileAccessFlag(flags, 'file-access'), mounts: fileAccessFlag(flags, 'file-access-mounts') };
}

export interface Launched {
  /** What was spawned: boot itself, or, confined, the launcher boot runs under (its exit status is boot's). */
  child: ChildProcess;
  /**
   * Boot's pid as this process sees it, for pid files and the OCI state
   * (confined, boot is a child of `child`); call once boot is up (the sync byte).
   */
  bootPid(): number;
  /**
   * Detached (create), once bootPid() is known and nothing can fail any
   * more: confined, ends boot's launcher, so that boot is reparented to our
   * subreaper (a containerd shim waits for the pid in the pid file) or
   * init, as it is unconfined when create exits. Nothing unconfined.
   */
  release(): void;
  /** Ends the sandbox being launched (SIGKILL to boot, and to its launcher when confined). */
  kill(): void;
  gofer: RunningGofer | null;
  /** --root/ID */
  stateDir: string;
  /** The control socket boot serves. */
  sockPath: string;
  /** The application's terminal, when it has one. */
  term: Terminal | null;
  /** Boot's exit status as a shell reports it (128+N for signal N). */
  exited: Promise<number>;
  /** The read end of the start-sync pipe (readSyncByte closes it). */
  syncFd: number;
}

/**
 * Makes --root/ID (a container that exists already fails) and starts the
 * gofer and boot. On a failure before boot runs, the state directory is
 * removed again.
 */
export function launchSandbox(global: GlobalOptions, o: LaunchOptions): Launched {
  const { cid, bundle } = o;
  checkId(cid, o.exitCode);
  const spec = bundle.spec;
  if (o.consoleSocket && spec.process?.terminal !== true) throw new Fatal('--console-socket needs process.terminal: true in the spec', false, o.exitCode);
  const stateDir = path.join(global.root, cid);
  fs.mkdirSync(global.root, { recursive: true, mode: 0o711 });
  try {
    fs.mkdirSync(stateDir, { mode: 0o700 });
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'EEXIST') {
      if (o.exitCode === 128) throw new Fatal(`container "${cid}" already exists (state in ${stateDir})`);
      throw new ContainerExists();
    }
    throw e;
  }
  try {
    return launchIn(global, o, spec, stateDir);
  } catch (e) {
    fs.rmSync(stateDir, { recursive: true, force: true });
    throw e;
  }
}

function launchIn(global: GlobalOptions, o: LaunchOptions, spec: Spec, stateDir: string): Launched {
  const { cid, bundle } = o;
  const sockPath = path.join(stateDir, 'control.sock');
  const ctrlFd = bindUnixSocket(sockPath);
  if (ctrlFd < 0) throw new Fatal(`cannot bind the control socket ${sockPath}: errno ${-ctrlFd}`, false, o.exitCode);
  const sync = pipe2(O_CLOEXEC);
  if (typeof sync === 'number') throw new Fatal(`pipe2: errno ${-sync}`, false, o.exitCode);
  const specFd = fs.openSync(bundle.configPath, 'r');
  // The application's terminal (src/main/README.md, "Terminals"): a pty sent to
  // --console-socket, or this command's own terminal, in raw mode while the
  // sandbox lives; without a terminal on stdin, plain stdio. A detached
  // sandbox never takes this command's terminal.
  const term = spec.process?.terminal === true && (o.consoleSocket || !o.detached) ? openTerminal(o.consoleSocket, spec.process.consoleSize) : null;
  // The gofer's socket pairs (src/fs-gofer, started by gofer-launch.ts): boot reaches the filesystems through it, one pair each.
  const globalArgv = childGlobalArgv(global);
  const goferPlan = o.directfs ? null : prepareGofer(entryScript('gofer'), globalArgv, global.confine, bundle.dir, bundle.configPath, spec, term?.slave ?? 'inherit');
  // The gofer's fds: its io fds from 6, then the donation channel's end.
  const goferFds = goferPlan ? [...goferPlan.bootEnds, goferPlan.donateEnd] : [];
  const ioFdArgs = goferPlan ? [`--io-fds=${goferPlan.bootEnds.map((_, i) => 6 + i).join(',')}`, `--donate-fd=${6 + goferPlan.bootEnds.length}`] : [];
  // Published ports: host sockets opened in our own network namespace (src/main/network.ts), after the gofer's fds.
  const published = openPublished(o.publish ?? [], o.exitCode);
  const publishFdBase = 6 + goferFds.length;
  const publishArgs = publishArg(published, published.map((_, i) => publishFdBase + i));
  const cpus = o.cpuNum || specCpus(spec);
  const bootArgs = [
    ...globalArgv,
    'boot',
    `--bundle=${bundle.dir}`,
    '--spec-fd=3',
    '--controller-fd=4',
    '--start-sync-fd=5',
    '--stdio-fds=0,1,2',
    ...ioFdArgs,
    ...publishArgs,
    ...(term ? ['--console'] : []),
    ...(cpus ? [`--cpu-num=${cpus}`] : []),
    ...(o.totalMemory ? [`--total-memory=${o.totalMemory}`] : []),
    ...(o.fileAccess ? [`--file-access=${o.fileAccess.rootfs}`, `--file-access-mounts=${o.fileAccess.mounts}`] : []),
    cid,
  ];
  const stdio: (number | 'inherit')[] = term?.slave !== undefined ? [term.slave, term.slave, term.slave] : ['inherit', 'inherit', 'inherit'];
  // Attached (run): the sandbox must not outlive this command, even if it is
  // SIGKILLed: boot asks for SIGKILL when its parent dies (boot.ts,
  // TSVISOR_DIE_WITH_PARENT). Detached (create): it must.
  // Confined (src/main/confine.ts), boot runs in namespaces of its own under
  // a launcher that dies with us when asked, and boot with the launcher.
  // Without what only slows a Node start down (entry.ts SANDBOX_UNSET_ENV).
  let env = sandboxProcessEnv(process.env);
  delete env[DIE_WITH_PARENT_ENV];
  let file = process.execPath;
  // Attached (run, do), from boot's startup snapshot when the build made a
  // usable one (src/bundle/snapshot.ts): boot reaches its sync byte ~40 ms
  // of CPU sooner, for ~10 MiB more of private memory while it lives (the
  // blob, read into memory). Detached (create, run --detach), from its bundle:
  // a container that outlives the command is a service, whose memory counts
  // for longer than its start (docs/STARTUP.md, the fourth pass), unless
  // TSVISOR_SNAPSHOT=1 asks for the snapshot there too (as it does of
  // bin/tsvisor for a parent runtime's boot).
  let args = [...BOOT_NODE_FLAGS, ...bootSnapshotArgs(o.detached), entryScript('boot'), ...bootArgs];
  if (global.confine) {
    const shape = { dieWithParent: !o.detached, newSession: true, keep: [], outlivesLauncher: o.detached };
    ({ file, args } = confinedCommand([file, ...args], shape, networkConfinement(networkPlan(global.network, spec))));
    env = confinedEnv(env, shape);
  } else if (!o.detached) {
    env[DIE_WITH_PARENT_ENV] = String(process.pid);
  }
  const child = spawn(file, args, {
    stdio: [...stdio, specFd, ctrlFd, sync[1], ...goferFds, ...published.map((p) => p.fd)],
    env,
    // Boot (confined: its launcher too) leads a session of its own, out of
    // this command's process group. A signal for the whole group (Ctrl-C on
    // a terminal, `timeout`'s SIGTERM, a terminal's hang-up) then reaches
    // only this command, which passes it to the container's init, as runc
    // does: the container runs its handler or dies of it, and run exits with
    // its status (130 for SIGINT). With a pty of its own, boot makes that pty
    // its controlling terminal (resizes reach it as SIGWINCH). On our own
    // terminal, the controlling terminal of our session, boot reads and
    // writes it from outside that session, where no job control applies
    // (raw, so Ctrl-C arrives as a byte for the guest's line discipline),
    // and run passes it the terminal's SIGWINCH (run.ts).
    detached: true,
  });
  // The gofer right after boot, whose start (a Node start, its spec and
  // lock-down, then the kernel's load after its sync byte) is the longer
  // road: boot first asks the gofer for anything once its kernel has loaded.
  let gofer: RunningGofer | null = null;
  try {
    gofer = goferPlan?.start() ?? null;
  } catch (e) {
    // Boot without its gofer is no sandbox. (What can throw here, the spec
    // file's open and the confinement check, passed for boot a moment ago.)
    child.kill('SIGKILL');
    throw e;
  }
  if (term?.slave !== undefined) fs.closeSync(term.slave);
  closeFd(sync[1]);
  closeFd(ctrlFd);
  goferPlan?.closeBootEnds();
  closePublished(published);
  fs.closeSync(specFd);
  const exited = new Promise<number>((resolve) => child.on('exit', (code, sig) => resolve(code ?? 128 + (sig ? osSignal(sig) : 0))));
  // Confined, boot is the launcher's child; remembered once found, as the launcher may be gone later (release).
  let confinedBoot = 0;
  const bootPid = () => {
    if (!global.confine) return child.pid!;
    if (!confinedBoot) {
      const pid = confinedPid(child.pid!);
      if (pid !== child.pid) confinedBoot = pid;
      return pid;
    }
    return confinedBoot;
  };
  const release = () => {
    if (!global.confine || !o.detached) return;
    bootPid();
    releaseConfined(child);
  };
  const kill = () => {
    // Detached, the launcher does not take boot with it (no --kill-child), so
    // boot is killed too; the launcher first: util-linux's unshare, seeing its
    // child killed by a signal, fails to re-raise SIGKILL on itself and says
    // so on the stderr we share ("sigprocmask unblock failed").
    const pid = global.confine && o.detached ? bootPid() : child.pid;
    child.kill('SIGKILL');
    if (pid !== child.pid && pid !== undefined) {
      try {
        process.kill(pid, 'SIGKILL');
      } catch {
        // gone already
      }
    }
  };
  return { child, bootPid, release, kill, gofer, stateDir, sockPath, term, exited, syncFd: sync[0] };
}

export interface Terminal {
  /** A pty slave to hand boot as its stdio (closed here once boot has it). */
  slave?: number;
  /** This command's own terminal (not a pty sent away). */
  own: boolean;
  /** Its settings before boot started (own terminal only): what restore() puts back. */
  saved?: Buffer;
  /** Put the terminal back as it was before boot (which makes it raw) started. */
  restore(): void;
}

/**
 * process.terminal: true. With a console socket: a new host pty whose master
 * goes to the socket (SCM_RIGHTS, with the slave's name, as runc sends it)
 * and whose slave is boot's stdio, sized by process.consoleSize. Otherwise our own stdin, if it is a
 * terminal: boot --console puts it in raw mode for the sandbox's life (and
 * restores it when it exits); its settings are saved here first, and
 * restore() puts them back on every way out of run (a normal exit, boot
 * dying or killed, signals: run handles every signal it forwards), with an
 * 'exit' hook for an uncaught error. null: no terminal (stdin is not one).
 */
export function openTerminal(consoleSocket: string, size: { height: number; width: number } | undefined): Terminal | null {
  if (consoleSocket) {
    const pty = openPty();
    if (typeof pty === 'number') throw new Fatal(`cannot open a pseudo-terminal: errno ${-pty}`);
    try {
      // The spec's process.consoleSize is the new pty's size, as runc sets it.
      if (size) setTerminalSize(pty.master, size.height, size.width);
      const sock = connectUnixSocket(consoleSocket);
      if (sock < 0) throw new Fatal(`cannot connect to the console socket ${consoleSocket}: errno ${-sock}`);
      const sent = sendFd(sock, pty.master, Buffer.from(pty.slavePath));
      closeFd(sock);
      if (sent < 0) throw new Fatal(`cannot send the pty master to ${consoleSocket}: errno ${-sent}`);
      const slave = fs.openSync(pty.slavePath, fs.constants.O_RDWR | fs.constants.O_NOCTTY);
      return { slave, own: false, restore: () => {} };
    } finally {
      closeFd(pty.master);
    }
  }
  if (!tty.isatty(0)) return null;
  const saved = getTerminalAttr(0);
  if (typeof saved === 'number') return null;
  const restore = () => {
    process.off('exit', restore);
    setTerminalAttr(0, saved, TCSADRAIN);
  };
  process.on('exit', restore);
  return { own: true, saved, restore };
}

/**
 * vCPUs the spec's linux.resources.cpu asks for: the CPUs its cpuset names
 * ("0-3,6"), else its quota over its period rounded up; 0 when it says
 * neither (boot then uses the host's CPU count).
 */
export function specCpus(spec: Spec): number {
  const cpu = spec.linux?.resources?.cpu;
  if (!cpu) return 0;
  if (typeof cpu.cpus === 'string' && cpu.cpus.trim() !== '') {
    let n = 0;
    for (const part of cpu.cpus.split(',')) {
      const m = /^\s*(\d+)(?:-(\d+))?\s*$/.exec(part);
      if (!m) throw new Fatal(`linux.resources.cpu.cpus: cannot read ${JSON.stringify(cpu.cpus)}`);
      const lo = Number(m[1]);
      const hi = m[2] === undefined ? lo : Number(m[2]);
      if (hi < lo) throw new Fatal(`linux.resources.cpu.cpus: bad range ${part.trim()}`);
      n += hi - lo + 1;
    }
    return n;
  }
  if (cpu.quota && cpu.quota > 0) return Math.max(1, Math.ceil(cpu.quota / (cpu.period && cpu.period > 0 ? cpu.period : 100000)));
  return 0;
}

/** Resolves true on the zero byte, false on end-of-file. */
export function readSyncByte(fd: number): Promise<boolean> {
  return new Promise((resolve) => {
    const buf = Buffer.alloc(1);
    fs.read(fd, buf, 0, 1, null, (err, n) => {
      fs.closeSync(fd);
      resolve(!err && n === 1 && buf[0] === 0);
    });
  });
}

export function osSignal(name: NodeJS.Signals): number {
  return os.constants.signals[name] ?? 0;
}
