// `tsvisor syscalls [--json]`: the riscv64 system call table as the kernel
// serves it, one call a line in number order: its number, its name, and
// "supported" (with what it lacks yet, when its row has a note) or the errno
// it returns with the reason. Numbers the table does not hold return ENOSYS
// and are not listed. The listing reads the same table
// the dispatcher and --strace use (src/kernel/syscalls/table.ts), so it can't
// drift from what the sandbox does. The table (and with it every handler
// module) is loaded only when this command runs: other commands start
// without it.

import { Fatal } from './common.js';
import type { FlagDef, FlagValues } from './flags.js';

export const SYSCALLS_FLAGS: FlagDef[] = [{ name: 'json', kind: 'bool', usage: 'one JSON array instead of a table', default: false }];

export const SYSCALLS_SYNOPSIS = 'tsvisor [global flags] syscalls [--json]';

export interface SyscallListing {
  nr: number;
  name: string;
  supported: boolean;
  /** For unsupported calls: the errno name and why. */
  errno?: string;
  reason?: string;
  /** For supported calls: what they do not support yet. */
  note?: string;
}

export async function syscallListing(): Promise<SyscallListing[]> {
  const { SYSCALLS } = (require('../kernel/syscalls/table.js') as typeof import('../kernel/syscalls/table.js'));
  return [...SYSCALLS]
    .sort((a, b) => a.nr - b.nr)
    .map((r) => (r.handler ? { nr: r.nr, name: r.name, supported: true, ...(r.note ? { note: r.note } : {}) } : { nr: r.nr, name: r.name, supported: false, errno: r.errno?.name ?? 'ENOSYS', reason: r.reason ?? '' }));
}

export async function syscallsCommand(flags: FlagValues, positional: string[], out: (s: string) => void = (s) => process.stdout.write(s)): Promise<number> {
  if (positional.length > 0) throw new Fatal(`unexpected argument ${JSON.stringify(positional[0])}`, true);
  const rows = await syscallListing();
  if (flags.json) {
    out(JSON.stringify(rows, null, 2) + '\n');
    return 0;
  }
  const lines = rows.map((r) => `${String(r.nr).padStart(3)}  ${r.name.padEnd(22)} ${r.supported ? (r.note ? `supported; ${r.note}` : 'supported') : `${r.errno}: ${r.reason}`}`);
  const supported = rows.filter((r) => r.supported).length;
  out(`${lines.join('\n')}\n${supported} supported, ${rows.length - supported} answered with an errno; any other number returns ENOSYS\n`);
  return 0;
}
