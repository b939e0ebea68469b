// The `tsvisor` command: global flags (runsc/runc style, before the
// subcommand), then a subcommand with its own flags.

import { parseFlags, formatUsage, UsageError, FlagDef, FlagValues } from './flags.js';
import { debugLogFile, Fatal, GLOBAL_FLAGS, GlobalOptions, globalOptions } from './common.js';
import { SpecError } from '../spec/load.js';
import { createDebugLog } from '../log/log.js';
import { pauseOptimizer } from './jit.js';
import { endProcess } from './end-process.js';
/** What a subcommand's module provides once loaded. */
interface CommandModule {
  synopsis: string;
  flags: FlagDef[];
  main(g: GlobalOptions, flags: FlagValues, positional: string[], rawArgs: string[]): Promise<number> | number;
}

interface Command {
  summary: string;
  /**
   * Loads the subcommand's module. Only the command that runs is loaded, so
   * `tsvisor boot` never loads the gofer's server or Debian's fetcher, and
   * each process of a sandbox starts and stays smaller (docs/ARCHITECTURE.md,
   * "Start-up").
   */
  load(): Promise<CommandModule>;
  /**
   * The process mostly waits (run, exec) or may sit idle (the gofer): V8's
   * optimizing compiler is paused before its module loads (./jit.ts); the
   * gofer resumes it once it is busy.
   */
  waits?: true;
  /**
   * The command ends with its sandbox, which is gone when its main returns
   * (run and do when they wait in Node: the container is over, every child
   * reaped, the state removed, everything written, synchronously): the
   * process then ends at once (end-process.ts) rather than through Node's
   * teardown, which joined its threads for ~13-15 ms at the end of a traced
   * `run` of hello (docs/STARTUP.md, the eleventh pass). Failures still
   * return through the usual exit.
   */
  endsAtOnce?: true;
}

const COMMANDS: Record<string, Command> = {
  boot: {
    summary: 'run a sandbox (launched by a parent runtime, as runsc boot)',
    load: async () => { const m = (require('./boot.js') as typeof import('./boot.js')); return { synopsis: m.BOOT_SYNOPSIS, flags: m.BOOT_FLAGS, main: m.boot }; },
  },
  run: {
    summary: 'create and run a container from a bundle',
    waits: true,
    endsAtOnce: true,
    load: async () => { const m = (require('./run.js') as typeof import('./run.js')); return { synopsis: m.RUN_SYNOPSIS, flags: m.RUN_FLAGS, main: (g, f, p) => m.run(g, f, p) }; },
  },
  create: {
    summary: 'create a container from a bundle: the sandbox waits for start (runc create)',
    load: async () => { const m = (require('./oci/lifecycle.js') as typeof import('./oci/lifecycle.js')); return { synopsis: m.CREATE_SYNOPSIS, flags: m.CREATE_FLAGS, main: (g, f, p) => m.create(g, f, p) }; },
  },
  start: {
    summary: 'start a created container',
    load: async () => { const m = (require('./oci/lifecycle.js') as typeof import('./oci/lifecycle.js')); return { synopsis: m.START_SYNOPSIS, flags: [], main: (g, f, p) => m.start(g, f, p) }; },
  },
  state: {
    summary: "print a container's state (runtime-spec JSON)",
    load: async () => { const m = (require('./oci/verbs.js') as typeof import('./oci/verbs.js')); return { synopsis: m.STATE_SYNOPSIS, flags: [], main: (g, f, p) => m.state(g, f, p) }; },
  },
  kill: {
    summary: "send a signal to a container's init (or every process: --all)",
    load: async () => { const m = (require('./oci/verbs.js') as typeof import('./oci/verbs.js')); return { synopsis: m.KILL_SYNOPSIS, flags: m.KILL_FLAGS, main: (g, f, p) => m.kill(g, f, p) }; },
  },
  delete: {
    summary: 'delete a stopped container (--force: any)',
    load: async () => { const m = (require('./oci/verbs.js') as typeof import('./oci/verbs.js')); return { synopsis: m.DELETE_SYNOPSIS, flags: m.DELETE_FLAGS, main: (g, f, p) => m.deleteCommand(g, f, p) }; },
  },
  list: {
    summary: 'list the containers under --root',
    load: async () => { const m = (require('./oci/verbs.js') as typeof import('./oci/verbs.js')); return { synopsis: m.LIST_SYNOPSIS, flags: m.LIST_FLAGS, main: (g, f) => m.list(g, f) }; },
  },
  ps: {
    summary: "list a container's processes",
    load: async () => { const m = (require('./oci/verbs.js') as typeof import('./oci/verbs.js')); return { synopsis: m.PS_SYNOPSIS, flags: m.PS_FLAGS, main: (g, f, p) => m.ps(g, f, p) }; },
  },
  debug: {
    summary: "show what a running sandbox's threads are doing (--stacks)",
    load: async () => { const m = (require('./oci/debug.js') as typeof import('./oci/debug.js')); return { synopsis: m.DEBUG_SYNOPSIS, flags: m.DEBUG_FLAGS, main: (g, f, p) => m.debugCommand(g, f, p) }; },
  },
  exec: {
    summary: 'run a new process in a running container',
    waits: true,
    load: async () => { const m = (require('./oci/exec.js') as typeof import('./oci/exec.js')); return { synopsis: m.EXEC_SYNOPSIS, flags: m.EXEC_FLAGS, main: (g, f, p, raw) => m.execCommand(g, f, p, raw) }; },
  },
  pause: {
    summary: 'stop every process of a running container until resume',
    load: async () => { const m = (require('./oci/pause.js') as typeof import('./oci/pause.js')); return { synopsis: m.PAUSE_SYNOPSIS, flags: [], main: (g, f, p) => m.pause(g, f, p) }; },
  },
  resume: {
    summary: 'let a paused container run again',
    load: async () => { const m = (require('./oci/pause.js') as typeof import('./oci/pause.js')); return { synopsis: m.RESUME_SYNOPSIS, flags: [], main: (g, f, p) => m.resume(g, f, p) }; },
  },
  checkpoint: {
    summary: 'save a running container into an image (--image-path), then end it unless --leave-running',
    load: async () => { const m = (require('./oci/checkpoint.js') as typeof import('./oci/checkpoint.js')); return { synopsis: m.CHECKPOINT_SYNOPSIS, flags: m.CHECKPOINT_FLAGS, main: (g, f, p) => m.checkpoint(g, f, p) }; },
  },
  restore: {
    summary: 'create a container from a bundle and run it from a checkpoint image (-d: detached)',
    load: async () => { const m = (require('./oci/checkpoint.js') as typeof import('./oci/checkpoint.js')); return { synopsis: m.RESTORE_SYNOPSIS, flags: m.RESTORE_FLAGS, main: (g, f, p) => m.restore(g, f, p) }; },
  },
  events: {
    summary: "print a container's stats as JSON events (--stats: once)",
    load: async () => { const m = (require('./oci/events.js') as typeof import('./oci/events.js')); return { synopsis: m.EVENTS_SYNOPSIS, flags: m.EVENTS_FLAGS, main: (g, f, p) => m.events(g, f, p) }; },
  },
  features: {
    summary: 'print what this runtime supports (JSON)',
    load: async () => { const m = (require('./oci/verbs.js') as typeof import('./oci/verbs.js')); return { synopsis: m.FEATURES_SYNOPSIS, flags: [], main: () => m.features() }; },
  },
  do: {
    summary: 'run a command in a default riscv64 busybox rootfs (or --rootfs DIR, or --packages LIST), no bundle needed',
    endsAtOnce: true,
    load: async () => { const m = (require('./do.js') as typeof import('./do.js')); return { synopsis: m.DO_SYNOPSIS, flags: m.DO_FLAGS, main: (g, f, p) => m.doCommand(g, f, p) }; },
  },
  rootfs: {
    summary: 'write a rootfs of Debian riscv64 packages and their dependencies into a directory (cached by package set)',
    load: async () => { const m = (require('./rootfs-cmd.js') as typeof import('./rootfs-cmd.js')); return { synopsis: m.ROOTFS_SYNOPSIS, flags: m.ROOTFS_FLAGS, main: (_g, f, p) => m.rootfsCommand(f, p) }; },
  },
  gofer: {
    summary: "serve the container's filesystems over 9P2000.L on the io fds (started by run)",
    waits: true,
    load: async () => { const m = (require('./gofer-command.js') as typeof import('./gofer-command.js')); return { synopsis: m.GOFER_SYNOPSIS, flags: m.GOFER_FLAGS, main: (g, f, p) => m.goferCommand(g, f, p) }; },
  },
  spec: {
    summary: 'write a default config.json',
    load: async () => { const m = (require('./spec-cmd.js') as typeof import('./spec-cmd.js')); return { synopsis: m.SPEC_SYNOPSIS, flags: m.SPEC_FLAGS, main: (_g, f, p) => m.specCommand(f, p) }; },
  },
  syscalls: {
    summary: 'list the system calls the sandbox serves, and the errno of the rest',
    load: async () => { const m = (require('./syscalls-cmd.js') as typeof import('./syscalls-cmd.js')); return { synopsis: m.SYSCALLS_SYNOPSIS, flags: m.SYSCALLS_FLAGS, main: (_g, f, p) => m.syscallsCommand(f, p) }; },
  },
};

const BOOT_FAILURE = 128;

function topUsage(): string {
  const lines = ['Usage: tsvisor [global flags] <command> [flags] [args]', '', 'Commands:'];
  for (const [name, c] of Object.entries(COMMANDS)) lines.push(`  ${name.padEnd(9)} ${c.summary}`);
  return lines.join('\n') + '\n\n' + formatUsage('Global flags:', GLOBAL_FLAGS);
}

/** The failure as an error entry of the --log file (--log-format's layout), when there is one. */
function logFailure(g: GlobalOptions, message: string): void {
  if (!g.debugLog) return;
  try {
    const log = createDebugLog({ debug: false, debugLogPath: g.debugLog, format: g.logFormat });
    log.error(message);
    log.close();
  } catch {
    // the log cannot be written: stderr still says it
  }
}

export async function main(argv: string[]): Promise<number> {
  // Formatted only when an error prints it (a few ms of every start otherwise).
  let usage = topUsage;
  let debug = false;
  let opts: GlobalOptions | undefined;
  try {
    const g = parseFlags(GLOBAL_FLAGS, argv);
    const globalArgv = argv.slice(0, argv.length - g.rest.length);
    opts = globalOptions(g.flags, globalArgv);
    debug = opts.debug;
    const [name, ...rest] = g.rest;
    if (!name) throw new Fatal('no command given', true);
    const cmd = COMMANDS[name];
    if (!cmd) throw new Fatal(`unknown command "${name}"`, true);
    opts.debugLog = debugLogFile(opts.debugLog, name);
    if (cmd.waits) pauseOptimizer();
    const mod = await cmd.load();
    usage = () => formatUsage(mod.synopsis, mod.flags);
    const parsed = parseFlags(mod.flags, rest);
    const code = await mod.main(opts, parsed.flags, parsed.rest, argv);
    if (cmd.endsAtOnce) endProcess(code);
    return code;
  } catch (e) {
    // An engine reads why a verb failed from --log (containerd's shim: its log.json), as runc writes it there.
    if (opts) logFailure(opts, e instanceof Error ? e.message : String(e));
    if (e instanceof Fatal || e instanceof UsageError || e instanceof SpecError) {
      process.stderr.write(`tsvisor: ${e.message}\n`);
      if (e instanceof UsageError || (e instanceof Fatal && e.usage)) process.stderr.write(usage());
      return e instanceof Fatal ? e.exitCode : BOOT_FAILURE;
    }
    process.stderr.write(`tsvisor: internal error: ${debug && e instanceof Error ? e.stack : (e as Error).message ?? String(e)}\n`);
    return BOOT_FAILURE;
  }
}

if (require.main === module) {
  main(process.argv.slice(2)).then(
    (code) => process.exit(code),
    () => process.exit(BOOT_FAILURE),
  );
}
