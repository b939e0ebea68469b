// What every subcommand shares: the global flags (runsc's top-level options),
// the logs they open, and the one way boot-side failures end the process.

import * as os from 'node:os';
import * as path from 'node:path';
import { FlagDef, FlagValues } from './flags.js';
import { createDebugLog, createUserLog, type DebugLog, type UserLog } from '../log/log.js';
import type { NetworkMode } from '../kernel/net/inet-stack.js';

export const GLOBAL_FLAGS: FlagDef[] = [
  { name: 'root', kind: 'string', usage: 'directory for container state (default /run/tsvisor for root, else $XDG_RUNTIME_DIR/tsvisor, else ~/.local/state/tsvisor)', default: '' },
  { name: 'debug', kind: 'bool', usage: 'enable debug logging', default: false },
  { name: 'debug-log', kind: 'string', usage: "append debug logs to this file; ending in '/', a file of each command's own in that directory; %TIMESTAMP% and %COMMAND% are replaced (as runsc)", default: '' },
  { name: 'log', kind: 'string', usage: 'file for runtime errors (runc convention; same as --debug-log when given)', default: '' },
  { name: 'log-format', kind: 'string', usage: 'log format: text or json', default: 'text' },
  // Passed by container engines (containerd's shim, podman) to any runc; accepted and ignored.
  { name: 'systemd-cgroup', kind: 'bool', usage: 'accepted for runc compatibility; ignored (no host cgroups)', default: false },
  { name: 'criu', kind: 'string', usage: 'accepted for runc compatibility; ignored (no checkpointing yet)', default: '' },
  { name: 'rootless', kind: 'string', usage: 'accepted for runc compatibility (true, false, auto); ignored', default: 'auto' },
  { name: 'strace', kind: 'bool', usage: 'log every system call with its decoded arguments and result', default: false },
  { name: 'no-confine', kind: 'bool', usage: "don't confine boot and the gofer (namespaces, no capabilities, seccomp): for development and debugging only", default: false },
  { name: 'network', kind: 'string', usage: "the guest's AF_INET/AF_INET6 sockets: sandbox (the sandbox's own loopback stack), none (loopback only) or host (host sockets)", default: 'sandbox' },
];

/** --no-confine after `run` or `do`: the same as the global flag. */
export const NO_CONFINE_FLAG: FlagDef = { name: 'no-confine', kind: 'bool', usage: 'the global --no-confine: boot and the gofer unconfined (development only)', default: false };

export interface GlobalOptions {
  root: string;
  debug: boolean;
  debugLog: string;
  logFormat: 'text' | 'json';
  strace: boolean;
  /** Confine boot and the gofer (src/main/confine.ts); false with --no-confine. */
  confine: boolean;
  /** runsc's --network: what the guest's Internet sockets are (src/kernel/net/inet-stack.ts). */
  network: NetworkMode;
  /** The global flags as given, to pass on to a child tsvisor. */
  argv: string[];
}

/**
 * A failure of tsvisor itself: one line on stderr (and the usage text when
 * `usage`), exit `exitCode`: 128 as runsc's boot and run, 1 for runc's OCI
 * verbs (src/main/oci).
 */
export class Fatal extends Error {
  constructor(
    message: string,
    readonly usage = false,
    readonly exitCode = 128,
  ) {
    super(message);
  }
}

export function globalOptions(v: FlagValues, argv: string[]): GlobalOptions {
  const format = v['log-format'] as string;
  if (format !== 'text' && format !== 'json') throw new Fatal(`--log-format must be text or json, got "${format}"`);
  const network = v.network as string;
  if (network !== 'sandbox' && network !== 'none' && network !== 'host') throw new Fatal(`--network must be sandbox, none or host, got "${network}"`, true);
  return {
    root: (v.root as string) || defaultRoot(),
    debug: v.debug as boolean,
    debugLog: (v['debug-log'] as string) || (v.log as string),
    logFormat: format,
    strace: v.strace as boolean,
    confine: !(v['no-confine'] as boolean),
    network,
    argv,
  };
}

/**
 * The global flags for a child tsvisor (boot, the gofer): those given, and
 * --no-confine when a command's own flag asked for it (run --no-confine).
 */
export function childGlobalArgv(g: GlobalOptions): string[] {
  return g.confine ? g.argv : [...g.argv, '--no-confine'];
}

/**
 * runc's default state directory: /run/tsvisor for root; for another user
 * (rootless) $XDG_RUNTIME_DIR/tsvisor, or, without a runtime directory (no
 * login session: su, setpriv, cron), one in the user's own home,
 * $XDG_STATE_HOME/tsvisor or ~/.local/state/tsvisor. Never a directory
 * others may write, such as /tmp, where another user could make the path
 * first.
 */
export function defaultRoot(env: NodeJS.ProcessEnv = process.env, uid = process.getuid?.() ?? 0, home = os.homedir()): string {
  if (uid === 0) return '/run/tsvisor';
  if (env.XDG_RUNTIME_DIR && path.isAbsolute(env.XDG_RUNTIME_DIR)) return path.join(env.XDG_RUNTIME_DIR, 'tsvisor');
  const state = env.XDG_STATE_HOME && path.isAbsolute(env.XDG_STATE_HOME) ? env.XDG_STATE_HOME : path.join(home, '.local', 'state');
  return path.join(state, 'tsvisor');
}

export interface Logs {
  debug: DebugLog;
  user: UserLog;
  close(): void;
}

/**
 * The file a --debug-log value names for one command, as runsc reads it: a
 * value ending in '/' is a directory that gets a file per command
 * (`tsvisor.%TIMESTAMP%.%COMMAND%.log`), and %TIMESTAMP% (local time to the
 * microsecond) and %COMMAND% are replaced. So `run`, its gofer and its boot,
 * each given the same flag, write files of their own.
 */
export function debugLogFile(value: string, command: string, now = new Date()): string {
  if (!value) return value;
  const pattern = value.endsWith('/') ? value + 'tsvisor.%TIMESTAMP%.%COMMAND%.log' : value;
  const p2 = (n: number, w = 2) => String(n).padStart(w, '0');
  const micros = p2(now.getMilliseconds(), 3) + p2(Number(process.hrtime.bigint() % 1000n), 3);
  const stamp = `${now.getFullYear()}${p2(now.getMonth() + 1)}${p2(now.getDate())}-${p2(now.getHours())}${p2(now.getMinutes())}${p2(now.getSeconds())}.${micros}`;
  return pattern.replaceAll('%TIMESTAMP%', stamp).replaceAll('%COMMAND%', command);
}

export function openLogs(g: GlobalOptions, userLogFd: number): Logs {
  let debug: DebugLog;
  try {
    debug = createDebugLog({ debug: g.debug, debugLogPath: g.debugLog || undefined, format: g.logFormat });
  } catch (e) {
    throw new Fatal((e as Error).message);
  }
  const user = createUserLog(userLogFd);
  return {
    debug,
    user,
    close() {
      debug.close();
      user.close();
    },
  };
}
