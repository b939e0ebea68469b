// runsc's `debug` verb, the part that applies to this sandbox: `--stacks`
// prints the sandbox's thread dump (src/kernel/thread-dump.ts: the
// scheduler, each vCPU worker's mailbox, every guest thread's state and the
// system call it is blocked in), asked over the control socket
// (debug.Stacks). runsc prints its Go stacks there; a hung tsvisor sandbox
// is better explained by what its guest threads wait for.

import { FlagDef, FlagValues, UsageError } from '../flags.js';
import { GlobalOptions } from '../common.js';
import { control, oneId, OciError, StateStore, statusOf } from './state.js';

export const DEBUG_SYNOPSIS = 'tsvisor [global flags] debug --stacks <container id>';
export const DEBUG_FLAGS: FlagDef[] = [
  { name: 'stacks', kind: 'bool', usage: "print what every guest thread and vCPU of the sandbox is doing (the kernel's thread dump)", default: false },
];

export async function debugCommand(global: GlobalOptions, flags: FlagValues, positional: string[]): Promise<number> {
  if (!flags.stacks) throw new UsageError('debug: say what to show (--stacks)');
  const id = oneId(positional);
  const store = new StateStore(global.root);
  if (statusOf(store.load(id)) === 'stopped') throw new OciError('container not running');
  let dump: unknown;
  try {
    const c = await control(store, id);
    try {
      dump = await c.call('debug.Stacks', id);
    } finally {
      c.close();
    }
  } catch (e) {
    throw new OciError((e as Error).message);
  }
  process.stdout.write(String(dump));
  return 0;
}
