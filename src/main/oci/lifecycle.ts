// runc's `create` and `start`, as runsc implements them. create launches the
// sandbox (launch.ts), waits for boot's start-sync byte, records the state
// and exits, leaving boot waiting for StartRoot in a session of its own with
// create's stdio; start sends StartRoot over the control socket.

import * as fs from 'node:fs';
import * as path from 'node:path';
import { FlagDef, FlagValues } from '../flags.js';
import { GlobalOptions } from '../common.js';
import { fileAccessOption, launchSandbox, readBundle, readSyncByte, type Bundle, type Launched } from './launch.js';
import { control, killBoot, ociState, OciError, oneId, ownerName, processStart, StateStore, statusOf, writeWhole, type StoredState } from './state.js';
import { checkHooks, runHooks, type Hooks } from './hooks.js';

export const CREATE_FLAGS: FlagDef[] = [
  { name: 'bundle', kind: 'string', usage: 'path to the bundle directory', default: '.' },
  { name: 'b', kind: 'string', usage: 'short for --bundle', default: '' },
  { name: 'pid-file', kind: 'string', usage: "file to write the sandbox process's pid to", default: '' },
  { name: 'console-socket', kind: 'string', usage: "unix socket to send the terminal's pty master to (process.terminal: true)", default: '' },
  { name: 'cpu-num', kind: 'int', usage: 'number of vCPUs (0: the host CPU count)', default: 0 },
  { name: 'total-memory', kind: 'uint64', usage: 'memory for the guest (0: 2 GiB)', default: 0 },
  { name: 'directfs', kind: 'bool', usage: 'no gofer: the sandbox opens the rootfs and bind mounts itself (direct mode)', default: false },
  // runc's, passed by engines: accepted and ignored.
  { name: 'no-pivot', kind: 'bool', usage: 'accepted for runc compatibility; ignored', default: false },
  { name: 'no-new-keyring', kind: 'bool', usage: 'accepted for runc compatibility; ignored', default: false },
  { name: 'preserve-fds', kind: 'int', usage: 'accepted for runc compatibility; ignored', default: 0 },
];
export const CREATE_SYNOPSIS = 'tsvisor [global flags] create --bundle DIR [--pid-file F] [--console-socket S] <container id>';
export const START_SYNOPSIS = 'tsvisor [global flags] start <container id>';

export async function create(global: GlobalOptions, flags: FlagValues, positional: string[]): Promise<number> {
  const cid = oneId(positional);
  const bundle = readBundle((flags.b as string) || (flags.bundle as string), 1);
  const consoleSocket = (flags['console-socket'] as string) ?? '';
  if (bundle.spec.process?.terminal === true && !consoleSocket) {
    throw new OciError('cannot allocate tty if tsvisor will detach without setting console socket');
  }
  const hooks = checkHooks(bundle.spec.hooks);
  const store = new StateStore(global.root);
  const l = launchSandbox(global, {
    cid,
    bundle,
    consoleSocket,
    directfs: (flags.directfs as boolean) ?? false,
    cpuNum: (flags['cpu-num'] as number) ?? 0,
    totalMemory: (flags['total-memory'] as number) ?? 0,
    detached: true,
    exitCode: 1,
    fileAccess: fileAccessOption(flags), // run -d's
  });
  try {
    const ready = await readSyncByte(l.syncFd);
    if (!ready) {
      await l.exited;
      throw new OciError('the sandbox died before it was ready (boot exited without writing the start-sync byte)');
    }
    const st = createdState(l, cid, bundle, hooks);
    const pid = st.pid;
    await store.withLock(cid, () => store.save(st));
    const creating = { ...ociState(st), status: 'creating' };
    for (const kind of ['prestart', 'createRuntime', 'createContainer'] as const) await runHooks(hooks, kind, creating);
    if (flags['pid-file']) writeWhole(flags['pid-file'] as string, String(pid));
  } catch (e) {
    l.kill();
    l.gofer?.child.kill('SIGKILL');
    store.remove(cid);
    throw e;
  }
  // Boot goes to our subreaper or init, as runc's init does when create exits (confined, its launcher would reap it instead).
  l.release();
  // The sandbox lives on by itself: nothing of it keeps this command running.
  l.child.unref();
  l.gofer?.child.unref();
  return 0;
}

/**
 * The state of a sandbox whose boot has written its start-sync byte, as
 * `create` records it and as `run` records it for the commands that find a
 * container by id (state, list, ps, kill, exec, pause, events), as runc's run does.
 */
export function createdState(l: Launched, cid: string, bundle: Bundle, hooks: Hooks | undefined): StoredState {
  const pid = l.bootPid();
  const goferPid = l.gofer?.pid() ?? 0;
  return {
    ociVersion: bundle.spec.ociVersion ?? '1.0.2',
    id: cid,
    pid,
    pidStart: processStart(pid) ?? '',
    goferPid,
    goferStart: goferPid ? (processStart(goferPid) ?? '') : '',
    bundle: bundle.dir,
    annotations: bundle.spec.annotations ?? {},
    created: new Date().toISOString(),
    owner: ownerName(),
    hooks,
    status: 'created',
  };
}

/** Runs `f`; if it fails, the sandbox is ended (SIGKILL to boot, as runc terminates the container) and the failure passed on. */
async function endOnFailure(st: StoredState, f: () => Promise<void>): Promise<void> {
  try {
    await f();
  } catch (e) {
    killBoot(st);
    throw e;
  }
}

export async function start(global: GlobalOptions, _flags: FlagValues, positional: string[]): Promise<number> {
  const cid = oneId(positional);
  const store = new StateStore(global.root);
  await store.withLock(cid, async () => {
    const st = store.load(cid);
    const status = statusOf(st);
    if (status === 'stopped') throw new OciError('cannot start a container that has stopped');
    if (status === 'running') throw new OciError('cannot start an already running container');
    await endOnFailure(st, () => runHooks(st.hooks, 'startContainer', ociState(st)));
    const c = await control(store, cid).catch((e: Error) => {
      throw new OciError(e.message);
    });
    try {
      await c.call('containerManager.StartRoot', cid);
    } catch (e) {
      throw new OciError((e as Error).message);
    } finally {
      c.close();
    }
    st.status = 'running';
    store.save(st);
    await endOnFailure(st, () => runHooks(st.hooks, 'poststart', ociState(st)));
  });
  return 0;
}
