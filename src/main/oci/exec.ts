// runc's `exec`, as runsc implements it: a new process in a running
// container. The process is described by --process (a runtime-spec process
// object, as containerd's shim writes one) or by the command line (the
// container's own process with the given args, --env appended, --cwd and
// --user replacing its own). It is started through the control socket with
// containerManager.ExecuteAsync, this command's stdin, stdout and stderr (or
// a terminal with -t) passed along with the call, and waited for with
// containerManager.WaitPID; exec then exits with its status (128+N for
// signal N), forwarding the signals it receives to it meanwhile.
//
// --pid-file gets the pid of the exec command that waits (runsc's choice: an
// engine waits for and signals that host process; the guest's own pid means
// nothing outside the sandbox). -d runs that waiting exec in the background
// in a session of its own, and returns once it has started the process.

import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { spawn } from 'node:child_process';
import { FlagDef, FlagValues } from '../flags.js';
import { Fatal, GlobalOptions } from '../common.js';
import { UrpcClient } from '../urpc.js';
import { exitCodeOf } from '../boot.js';
import { closeFd, getTerminalAttr, rawTerminalAttr, setTerminalAttr, takeCanonicalInput, TCSADRAIN } from '../../host/ffi.js';
import type { Process } from '../../spec/types.js';
import { readBundle, openTerminal } from './launch.js';
import { entryScript } from '../../bundle/entry.js';
import { OciError, StateStore, checkId, controlSocket, statusOf, writeWhole } from './state.js';

export const EXEC_SYNOPSIS = 'tsvisor [global flags] exec [-d] [-t] [--process F | <container id> CMD [ARG...]] [--cwd D] [--env K=V]... [--user UID[:GID]] [--console-socket S] [--pid-file F] <container id>';
export const EXEC_FLAGS: FlagDef[] = [
  { name: 'process', kind: 'string', usage: 'path to a process.json (runtime-spec process) describing the process', default: '' },
  { name: 'p', kind: 'string', usage: 'short for --process', default: '' },
  { name: 'detach', kind: 'bool', usage: 'start the process and return; a background exec waits for it', default: false },
  { name: 'd', kind: 'bool', usage: 'short for --detach', default: false },
  { name: 'tty', kind: 'bool', usage: 'give the process a terminal', default: false },
  { name: 't', kind: 'bool', usage: 'short for --tty', default: false },
  { name: 'cwd', kind: 'string', usage: 'working directory in the container', default: '' },
  { name: 'env', kind: 'stringList', usage: 'add an environment variable K=V (repeatable)', default: [] },
  { name: 'e', kind: 'stringList', usage: 'short for --env', default: [] },
  { name: 'user', kind: 'string', usage: 'UID[:GID] to run as', default: '' },
  { name: 'u', kind: 'string', usage: 'short for --user', default: '' },
  { name: 'additional-gids', kind: 'intList', usage: 'supplementary group ids', default: [] },
  { name: 'g', kind: 'intList', usage: 'short for --additional-gids', default: [] },
  { name: 'console-socket', kind: 'string', usage: "with a terminal: unix socket to send the pty master to", default: '' },
  { name: 'pid-file', kind: 'string', usage: 'file to write the pid of the exec command that waits for the process', default: '' },
  // runc's, passed by engines: accepted and ignored.
  { name: 'ignore-paused', kind: 'bool', usage: 'exec in a paused container (the process runs once it is resumed)', default: false },
  { name: 'no-new-privs', kind: 'bool', usage: 'accepted for runc compatibility; ignored', default: false },
  { name: 'preserve-fds', kind: 'int', usage: 'accepted for runc compatibility; ignored', default: 0 },
  { name: 'apparmor', kind: 'string', usage: 'accepted for runc compatibility; ignored', default: '' },
  { name: 'process-label', kind: 'string', usage: 'accepted for runc compatibility; ignored', default: '' },
  { name: 'cap', kind: 'stringList', usage: 'accepted for runc compatibility; ignored (the container\'s capabilities apply)', default: [] },
  { name: 'c', kind: 'stringList', usage: 'short for --cap', default: [] },
];

/** Signals the waiting exec passes on to the process. */
const FORWARDED: NodeJS.Signals[] = ['SIGINT', 'SIGTERM', 'SIGHUP', 'SIGQUIT', 'SIGUSR1', 'SIGUSR2', 'SIGWINCH'];

/** What exec starts, checked. */
interface ExecProcess {
  args: string[];
  env: string[];
  cwd: string;
  uid: number;
  gid: number;
  gids: number[];
  terminal: boolean;
}

const isId = (v: unknown) => typeof v === 'number' && Number.isInteger(v) && v >= 0 && v <= 0xfffffffe;

/** A runtime-spec process object (from --process or the bundle), checked field by field. */
export function checkProcess(raw: unknown, where: string): ExecProcess {
  const bad = (what: string) => new OciError(`${where}: ${what}`);
  if (typeof raw !== 'object' || raw === null || Array.isArray(raw)) throw bad('not a JSON object');
  const p = raw as Partial<Process>;
  if (!Array.isArray(p.args) || p.args.length === 0 || p.args.some((a) => typeof a !== 'string')) throw bad('args must be a non-empty list of strings');
  if (p.env !== undefined && (!Array.isArray(p.env) || p.env.some((e) => typeof e !== 'string'))) throw bad('env must be a list of strings');
  const cwd = p.cwd ?? '/';
  if (typeof cwd !== 'string' || !cwd.startsWith('/')) throw bad('cwd must be an absolute path');
  if (p.terminal !== undefined && typeof p.terminal !== 'boolean') throw bad('terminal must be a boolean');
  const user = p.user ?? { uid: 0, gid: 0 };
  if (typeof user !== 'object' || user === null) throw bad('user must be an object');
  if (!isId(user.uid ?? 0) || !isId(user.gid ?? 0)) throw bad('user.uid and user.gid must be integers in 0..4294967294');
  const gids = user.additionalGids ?? [];
  if (!Array.isArray(gids) || !gids.every(isId)) throw bad('user.additionalGids must be a list of group ids');
  return { args: p.args, env: p.env ?? [], cwd, uid: user.uid ?? 0, gid: user.gid ?? 0, gids, terminal: p.terminal === true };
}

/** The process from --process, or the container's own with the command line's changes (runc's getProcess). */
function processOf(flags: FlagValues, bundleDir: string, command: string[]): ExecProcess {
  const file = (flags.p as string) || (flags.process as string);
  if (file) {
    let raw: unknown;
    try {
      raw = JSON.parse(fs.readFileSync(file, 'utf8'));
    } catch (e) {
      throw new OciError(`cannot read the process file ${file}: ${(e as NodeJS.ErrnoException).code ?? (e as Error).message}`);
    }
    return checkProcess(raw, `process file ${file}`);
  }
  if (command.length === 0) throw new OciError('exec: no command given (a command after the container id, or --process)');
  const base = readBundle(bundleDir, 1).spec.process!;
  const p = checkProcess({ ...base, args: command, terminal: false }, 'the container\'s process');
  p.env = [...p.env, ...((flags.env as string[]) ?? []), ...((flags.e as string[]) ?? [])];
  const cwd = flags.cwd as string;
  if (cwd) {
    if (!cwd.startsWith('/')) throw new OciError(`--cwd must be an absolute path, got "${cwd}"`);
    p.cwd = cwd;
  }
  const user = (flags.u as string) || (flags.user as string);
  if (user) {
    const m = /^(\d+)(?::(\d+))?$/.exec(user);
    if (!m || !isId(Number(m[1])) || (m[2] !== undefined && !isId(Number(m[2])))) throw new OciError(`--user must be UID[:GID] (numbers), got "${user}"`);
    p.uid = Number(m[1]);
    if (m[2] !== undefined) p.gid = Number(m[2]);
  }
  const gids = [...((flags['additional-gids'] as number[]) ?? []), ...((flags.g as number[]) ?? [])];
  if (gids.length) p.gids = gids;
  return p;
}

export async function execCommand(global: GlobalOptions, flags: FlagValues, positional: string[], rawArgs: string[]): Promise<number> {
  if (positional.length < 1) throw new Fatal('exec needs a container id', true, 1);
  const id = positional[0];
  checkId(id);
  const store = new StateStore(global.root);
  const st = store.load(id);
  const status = statusOf(st);
  if (status === 'stopped') throw new OciError('cannot exec in a stopped container');
  if (status === 'paused' && !flags['ignore-paused']) throw new OciError('cannot exec in a paused container (use --ignore-paused to override)');
  if (status === 'created') throw new OciError('cannot exec in a created container: start it first');
  const proc = processOf(flags, st.bundle, positional.slice(1));
  if ((flags.t as boolean) || (flags.tty as boolean)) proc.terminal = true;
  const consoleSocket = flags['console-socket'] as string;
  if ((flags.d as boolean) || (flags.detach as boolean)) {
    if (proc.terminal && !consoleSocket) throw new OciError('cannot allocate tty if tsvisor will detach without setting console socket');
    return detach(global, rawArgs, positional, flags['pid-file'] as string);
  }

  // Stdio: ours, or a terminal (a new pty whose master goes to --console-socket, or our own terminal in raw mode).
  let files = [0, 1, 2];
  let restoreTerminal = () => {};
  let closeSlave = () => {};
  let typedAhead: Uint8Array[] = [];
  if (proc.terminal) {
    const t = openTerminal(consoleSocket, undefined);
    if (!t) throw new OciError('cannot allocate a tty: stdin is not a terminal and no --console-socket was given');
    if (t.slave !== undefined) {
      files = [t.slave];
      closeSlave = () => closeFd(t.slave!);
    } else {
      files = [0];
      restoreTerminal = t.restore;
    }
    // The kernel's line discipline does the editing, echo and output processing: the host terminal passes bytes as they are.
    const saved = getTerminalAttr(files[0]);
    if (typeof saved !== 'number') {
      // What our own terminal's line discipline already holds (lines typed ahead, an end-of-file mark
      // from script(1)) goes to the process as typed: raw mode would turn a queued mark into a NUL
      // byte that the guest's echoing terminal shows as "^@" (boot does the same for its console).
      if (t.slave === undefined) typedAhead = takeCanonicalInput(files[0], saved);
      setTerminalAttr(files[0], rawTerminalAttr(saved), TCSADRAIN);
    }
  }
  const sock = controlSocket(store, id);
  let client: UrpcClient;
  let pid: number;
  try {
    const call = UrpcClient.callWithFiles(sock, 'containerManager.ExecuteAsync', {
      ContainerID: id,
      Filename: '',
      Argv: proc.args,
      Envv: proc.env,
      WorkingDirectory: proc.cwd,
      KUID: proc.uid,
      KGID: proc.gid,
      ExtraKGIDs: proc.gids,
      StdioIsPty: proc.terminal,
      ConsoleInput: typedAhead.map((line) => Buffer.from(line).toString('base64')),
    }, files);
    client = call.client;
    pid = (await call.result) as number;
  } catch (e) {
    restoreTerminal();
    throw new OciError((e as Error).message);
  } finally {
    closeSlave();
  }
  const pidFile = flags['pid-file'] as string;
  if (pidFile) writeWhole(pidFile, String(process.pid));
  // Until it exits, the signals sent to this command are the process's.
  const forward = (name: NodeJS.Signals) => {
    void client.call('containerManager.Signal', { CID: id, Signo: os.constants.signals[name], PID: pid, Mode: 0 }).catch(() => {});
  };
  for (const s of FORWARDED) process.on(s, forward);
  try {
    const status = (await client.call('containerManager.WaitPID', { CID: id, PID: pid })) as number;
    return exitCodeOf(status);
  } catch (e) {
    throw new OciError((e as Error).message);
  } finally {
    for (const s of FORWARDED) process.off(s, forward);
    restoreTerminal();
    client.close();
  }
}

/**
 * exec -d: the same command without -d, in the background in a session of
 * its own, with our stdio; it writes its pid to the pid file once the
 * process runs. Returns 0 then, or 1 if it exits first (it has printed why).
 */
async function detach(global: GlobalOptions, rawArgs: string[], positional: string[], pidFile: string): Promise<number> {
  const tmp = pidFile ? '' : fs.mkdtempSync(path.join(os.tmpdir(), 'tsvisor-exec-'));
  const file = pidFile ? path.resolve(pidFile) : path.join(tmp, 'pid');
  // rawArgs: the global flags, "exec", exec's flags, then the positional arguments.
  const execFlags = rawArgs.slice(global.argv.length + 1, rawArgs.length - positional.length);
  const args = [...global.argv, 'exec', '--pid-file', file, ...dropDetach(execFlags), ...positional];
  try {
    fs.rmSync(file, { force: true });
    const child = spawn(process.execPath, [entryScript('cli'), ...args], { stdio: 'inherit', detached: true });
    const exited = new Promise<number>((resolve) => child.on('exit', (code, sig) => resolve(code ?? 128 + (sig ? os.constants.signals[sig] : 0))));
    for (;;) {
      if (fs.existsSync(file)) break;
      const code = await Promise.race([exited, new Promise<null>((r) => setTimeout(() => r(null), 10))]);
      if (code !== null) return code === 0 ? 1 : code;
    }
    child.unref();
    return 0;
  } finally {
    if (tmp) fs.rmSync(tmp, { recursive: true, force: true });
  }
}

/** exec's flags without -d/--detach and --pid-file (with its value). */
function dropDetach(args: string[]): string[] {
  const out: string[] = [];
  for (let i = 0; i < args.length; i++) {
    const a = args[i];
    if (/^--?(d|detach)(=(true|1|t|T|TRUE|True))?$/.test(a)) continue;
    if (/^--?pid-file$/.test(a)) {
      i++;
      continue;
    }
    if (/^--?pid-file=/.test(a)) continue;
    out.push(a);
  }
  return out;
}
