// The `tsvisor` command: global flags (runsc/runc style, before the
// subcommand), then a subcommand with its own flags.

import { parseFlags, formatUsage, UsageError, FlagDef, FlagValues } from './flags.js';
import { Fatal, GLOBAL_FLAGS, GlobalOptions, globalOptions } from './common.js';
import { SpecError } from '../spec/load.js';
import { boot, BOOT_FLAGS, BOOT_SYNOPSIS } from './boot.js';
import { run, RUN_FLAGS, RUN_SYNOPSIS } from './run.js';
import { specCommand, SPEC_FLAGS, SPEC_SYNOPSIS } from './spec-cmd.js';
import { doCommand, DO_FLAGS, DO_SYNOPSIS } from './do.js';
import { rootfsCommand, ROOTFS_FLAGS, ROOTFS_SYNOPSIS } from './rootfs-cmd.js';
import { goferCommand, GOFER_FLAGS, GOFER_SYNOPSIS } from './gofer-command.js';
import { syscallsCommand, SYSCALLS_FLAGS, SYSCALLS_SYNOPSIS } from './syscalls-cmd.js';

interface Command {
  synopsis: string;
  flags: FlagDef[];
  summary: string;
  main(g: GlobalOptions, flags: FlagValues, positional: string[], rawArgs: string[]): Promise<number> | number;
}

const COMMANDS: Record<string, Command> = {
  boot: { synopsis: BOOT_SYNOPSIS, flags: BOOT_FLAGS, summary: 'run a sandbox (launched by a parent runtime, as runsc boot)', main: (g, f, p, raw) => boot(g, f, p, raw) },
  run: { synopsis: RUN_SYNOPSIS, flags: RUN_FLAGS, summary: 'create and run a container from a bundle', main: (g, f, p) => run(g, f, p) },
  do: { synopsis: DO_SYNOPSIS, flags: DO_FLAGS, summary: 'run a command in a default riscv64 busybox rootfs (or --rootfs DIR, or --packages LIST), no bundle needed', main: (g, f, p) => doCommand(g, f, p) },
  rootfs: { synopsis: ROOTFS_SYNOPSIS, flags: ROOTFS_FLAGS, summary: "write a rootfs of Debian riscv64 packages and their dependencies into a directory (cached by package set)", main: (_g, f, p) => rootfsCommand(f, p) },
  gofer: { synopsis: GOFER_SYNOPSIS, flags: GOFER_FLAGS, summary: "serve the container's filesystems over 9P2000.L on the io fds (started by run)", main: (g, f, p) => goferCommand(g, f, p) },
  spec: { synopsis: SPEC_SYNOPSIS, flags: SPEC_FLAGS, summary: 'write a default config.json', main: (_g, f, p) => specCommand(f, p) },
  syscalls: { synopsis: SYSCALLS_SYNOPSIS, flags: SYSCALLS_FLAGS, summary: 'list the system calls the sandbox serves, and the errno of the rest', main: (_g, f, p) => syscallsCommand(f, p) },
};

const BOOT_FAILURE = 128;

function topUsage(): string {
  const lines = ['Usage: tsvisor [global flags] <command> [flags] [args]', '', 'Commands:'];
  for (const [name, c] of Object.entries(COMMANDS)) lines.push(`  ${name.padEnd(8)} ${c.summary}`);
  return lines.join('\n') + '\n\n' + formatUsage('Global flags:', GLOBAL_FLAGS);
}

export async function main(argv: string[]): Promise<number> {
  let usage = topUsage();
  let debug = false;
  try {
    const g = parseFlags(GLOBAL_FLAGS, argv);
    const globalArgv = argv.slice(0, argv.length - g.rest.length);
    const opts = globalOptions(g.flags, globalArgv);
    debug = opts.debug;
    const [name, ...rest] = g.rest;
    if (!name) throw new Fatal('no command given', true);
    const cmd = COMMANDS[name];
    if (!cmd) throw new Fatal(`unknown command "${name}"`, true);
    usage = formatUsage(cmd.synopsis, cmd.flags);
    const parsed = parseFlags(cmd.flags, rest);
    return await cmd.main(opts, parsed.flags, parsed.rest, argv);
  } catch (e) {
    if (e instanceof Fatal || e instanceof UsageError || e instanceof SpecError) {
      process.stderr.write(`tsvisor: ${e.message}\n`);
      if (e instanceof UsageError || (e instanceof Fatal && e.usage)) process.stderr.write(usage);
      return BOOT_FAILURE;
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
