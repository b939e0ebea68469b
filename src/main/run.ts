// `tsvisor run`: the parent runtime's role for one container, as runsc's
// parent plays it: launch `boot` with every fd wired (spec, controller socket,
// start-sync pipe, stdio), read the sync byte, StartRoot, Wait, and exit with
// the container's status.

import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { spawn } from 'node:child_process';
import { DIE_WITH_PARENT_ENV } from './boot.js';
import { FlagDef, FlagValues } from './flags.js';
import { Fatal, GlobalOptions } from './common.js';
import { parseSpec } from '../spec/load.js';
import type { Spec } from '../spec/types.js';
import { UrpcClient } from './urpc.js';
import * as tty from 'node:tty';
import { bindUnixSocket, closeFd, connectUnixSocket, getTerminalAttr, openPty, pipe2, sendFd, setTerminalAttr, setTerminalSize, O_CLOEXEC, TCSADRAIN } from '../host/ffi.js';
import { exitCodeOf } from './boot.js';
import { startGofer } from './gofer-launch.js';

export const RUN_FLAGS: FlagDef[] = [
  { name: 'bundle', kind: 'string', usage: 'path to the bundle directory', default: '.' },
  { name: 'pid-file', kind: 'string', usage: "file to write the sandbox process's pid to", default: '' },
  { name: 'cpu-num', kind: 'int', usage: 'number of vCPUs (0: the host CPU count)', default: 0 },
  { name: 'total-memory', kind: 'uint64', usage: 'memory for the guest (0: 2 GiB)', default: 0 },
  { name: 'console-socket', kind: 'string', usage: "unix socket to send the terminal's pty master to (process.terminal: true)", default: '' },
  { name: 'directfs', kind: 'bool', usage: 'no gofer: the sandbox opens the rootfs and bind mounts itself (direct mode)', default: false },
];
export const RUN_SYNOPSIS = 'tsvisor [global flags] run [flags] <container id>';

export async function run(global: GlobalOptions, flags: FlagValues, positional: string[]): Promise<number> {
  if (positional.length !== 1) throw new Fatal(`expected exactly one container id, got ${positional.length}`, true);
  const cid = positional[0];
  if (!/^[\w][\w.+-]{0,127}$/.test(cid)) throw new Fatal(`invalid container id "${cid}"`);
  const bundle = path.resolve(flags.bundle as string);
  const configPath = path.join(bundle, 'config.json');
  let text: string;
  try {
    text = fs.readFileSync(configPath, 'utf8');
  } catch (e) {
    throw new Fatal(`cannot read ${configPath}: ${(e as NodeJS.ErrnoException).code ?? (e as Error).message}`);
  }
  const spec = parseSpec(text); // fail here, clearly, before launching anything
  const consoleSocket = flags['console-socket'] as string;
  if (consoleSocket && spec.process?.terminal !== true) throw new Fatal('--console-socket needs process.terminal: true in the spec');
  const stateDir = path.join(global.root, cid);
  fs.mkdirSync(global.root, { recursive: true, mode: 0o711 });
  try {
    fs.mkdirSync(stateDir, { mode: 0o700 });
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'EEXIST') throw new Fatal(`container "${cid}" already exists (state in ${stateDir})`);
    throw e;
  }
  const sockPath = path.join(stateDir, 'control.sock');
  const ctrlFd = bindUnixSocket(sockPath);
  if (ctrlFd < 0) throw new Fatal(`cannot bind the control socket ${sockPath}: errno ${-ctrlFd}`);
  const sync = pipe2(O_CLOEXEC);
  if (typeof sync === 'number') throw new Fatal(`pipe2: errno ${-sync}`);
  const specFd = fs.openSync(configPath, 'r');
  // The application's terminal (src/main/README.md, "Terminals"): a pty sent to
  // --console-socket, or this command's own terminal, in raw mode while the
  // sandbox lives; without a terminal on stdin, plain stdio.
  const term = spec.process?.terminal === true ? openTerminal(consoleSocket, spec.process.consoleSize) : null;
  const cli = path.join(__dirname, 'cli.js');
  // The gofer first (src/fs-gofer, started by gofer-launch.ts): boot reaches the filesystems through it, one socket pair each.
  const gofer = flags.directfs ? null : startGofer(cli, global.argv, bundle, configPath, spec);
  const ioFdArgs = gofer ? [`--io-fds=${gofer.bootEnds.map((_, i) => 6 + i).join(',')}`] : [];
  const bootArgs = [
    ...global.argv,
    'boot',
    `--bundle=${bundle}`,
    '--spec-fd=3',
    '--controller-fd=4',
    '--start-sync-fd=5',
    '--stdio-fds=0,1,2',
    ...ioFdArgs,
    ...(term ? ['--console'] : []),
    ...((flags['cpu-num'] as number) || specCpus(spec) ? [`--cpu-num=${(flags['cpu-num'] as number) || specCpus(spec)}`] : []),
    ...(flags['total-memory'] ? [`--total-memory=${flags['total-memory']}`] : []),
    cid,
  ];
  // The sandbox must not outlive this command, even if it is SIGKILLed: boot
  // asks for SIGKILL when its parent dies (boot.ts, TSVISOR_DIE_WITH_PARENT).
  const stdio: (number | 'inherit')[] = term?.slave !== undefined ? [term.slave, term.slave, term.slave] : ['inherit', 'inherit', 'inherit'];
  const child = spawn(process.execPath, [cli, ...bootArgs], {
    stdio: [...stdio, specFd, ctrlFd, sync[1], ...(gofer?.bootEnds ?? [])],
    env: { ...process.env, [DIE_WITH_PARENT_ENV]: String(process.pid) },
    // Boot leads a session of its own, out of this command's process group,
    // unless it shares this command's own terminal. A signal for the whole
    // group (Ctrl-C on the terminal, `timeout`'s SIGTERM) then reaches only
    // this command, which passes it to the container's init (onSignal), as
    // runc does: the container runs its handler or dies of it, and run exits
    // with its status (130 for SIGINT). With a pty of its own, boot makes
    // that pty its controlling terminal (resizes reach it as SIGWINCH). On our
    // own terminal, boot stays in our group: it reads the terminal (raw, so
    // Ctrl-C arrives as a byte for the guest's line discipline) and gets
    // SIGWINCH as the terminal's foreground group.
    detached: !term?.own,
  });
  if (term?.slave !== undefined) fs.closeSync(term.slave);
  closeFd(sync[1]);
  closeFd(ctrlFd);
  gofer?.closeBootEnds();
  fs.closeSync(specFd);
  const childExit = new Promise<number>((resolve) => child.on('exit', (code, sig) => resolve(code ?? 128 + (sig ? osSignal(sig) : 0))));
  // Like runc/runsc run: signals sent to this command go to the container's
  // init once it runs; before that, they end the sandbox (it never started).
  let started = false;
  let aborted: NodeJS.Signals | null = null;
  const onSignal = (sig: NodeJS.Signals) => {
    if (started) {
      // With our own terminal, boot (in our process group) gets SIGWINCH itself and resizes the guest's terminal.
      if (sig === 'SIGWINCH' && term?.own) return;
      void UrpcClient.connect(sockPath)
        .then((c) => c.call('containerManager.Signal', { CID: cid, Signo: osSignal(sig), PID: 0, Mode: 0 }).finally(() => c.close()))
        .catch(() => undefined);
    } else if (sig !== 'SIGWINCH' && !aborted) {
      aborted = sig;
      child.kill('SIGKILL');
    }
  };
  for (const sig of FORWARDED_SIGNALS) process.on(sig, onSignal);
  const abortedStatus = async () => {
    await childExit;
    return 128 + osSignal(aborted!);
  };
  try {
    if (flags['pid-file']) fs.writeFileSync(flags['pid-file'] as string, String(child.pid));
    const ready = await readSyncByte(sync[0]);
    if (aborted) return await abortedStatus();
    if (!ready) {
      await childExit;
      throw new Fatal(`the sandbox died before it was ready (boot exited without writing the start-sync byte)`);
    }
    const client = await UrpcClient.connect(sockPath);
    try {
      await client.call('containerManager.StartRoot', cid);
    } catch (e) {
      client.close();
      child.kill('SIGKILL');
      if (aborted) return await abortedStatus();
      await childExit;
      throw new Fatal((e as Error).message);
    }
    if (aborted) {
      client.close();
      return await abortedStatus();
    }
    started = true;
    const status = (await client.call('containerManager.Wait', cid)) as number;
    client.close();
    await childExit;
    return exitCodeOf(status);
  } finally {
    for (const sig of FORWARDED_SIGNALS) process.off(sig, onSignal);
    // Boot has exited here on every path but an internal error, so the gofer's connections are closed and it ends.
    await gofer?.finished(GOFER_GRACE_MS);
    term?.restore();
    fs.rmSync(stateDir, { recursive: true, force: true });
  }
}

interface Terminal {
  /** A pty slave to hand boot as its stdio (closed here once boot has it). */
  slave?: number;
  /** This command's own terminal (not a pty sent away). */
  own: boolean;
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
function openTerminal(consoleSocket: string, size: { height: number; width: number } | undefined): Terminal | null {
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
  return { own: true, restore };
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

/** Signals `tsvisor run` passes on to the container's init. */
/** How long run waits for the gofer to end by itself once boot is gone, before killing it. */
const GOFER_GRACE_MS = 5000;

const FORWARDED_SIGNALS: NodeJS.Signals[] = ['SIGINT', 'SIGTERM', 'SIGHUP', 'SIGQUIT', 'SIGUSR1', 'SIGUSR2', 'SIGWINCH'];

/** Resolves true on the zero byte, false on end-of-file. */
function readSyncByte(fd: number): Promise<boolean> {
  return new Promise((resolve) => {
    const buf = Buffer.alloc(1);
    fs.read(fd, buf, 0, 1, null, (err, n) => {
      fs.closeSync(fd);
      resolve(!err && n === 1 && buf[0] === 0);
    });
  });
}

function osSignal(name: NodeJS.Signals): number {
  return os.constants.signals[name] ?? 0;
}
