// runc's `pause` and `resume`, as runsc implements them: every guest thread
// of the sandbox stops at its next safe point (between blocks, or as its
// system call completes) and stays stopped until resume; state shows
// "paused" meanwhile. kill still works on a paused container (a SIGKILL
// needs no guest code to run), and so does delete --force.

import { FlagValues } from '../flags.js';
import { GlobalOptions } from '../common.js';
import { control, OciError, oneId, StateStore, statusOf } from './state.js';

export const PAUSE_SYNOPSIS = 'tsvisor [global flags] pause <container id>';
export const RESUME_SYNOPSIS = 'tsvisor [global flags] resume <container id>';

export function pause(global: GlobalOptions, _flags: FlagValues, positional: string[]): Promise<number> {
  return change(global, oneId(positional), 'running', 'paused', 'containerManager.Pause', 'container not running');
}

export function resume(global: GlobalOptions, _flags: FlagValues, positional: string[]): Promise<number> {
  return change(global, oneId(positional), 'paused', 'running', 'containerManager.Resume', 'container not paused');
}

/** Under the lock: from status `from` (else runc's error `notFrom`), the control call, then `to` in state.json. */
async function change(global: GlobalOptions, id: string, from: 'running' | 'paused', to: 'running' | 'paused', method: string, notFrom: string): Promise<number> {
  const store = new StateStore(global.root);
  await store.withLock(id, async () => {
    const st = store.load(id);
    if (statusOf(st) !== from) throw new OciError(notFrom);
    try {
      const c = await control(store, id);
      try {
        await c.call(method, id);
      } finally {
        c.close();
      }
    } catch (e) {
      throw new OciError((e as Error).message);
    }
    st.status = to;
    store.save(st);
  });
  return 0;
}
