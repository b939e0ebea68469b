// runc's verbs on an existing container, as runsc implements them: state,
// kill, delete, list, ps, and features (what this runtime supports).

import * as os from 'node:os';
import { FlagDef, FlagValues } from '../flags.js';
import { Fatal, GlobalOptions } from '../common.js';
import { CAPABILITIES } from '../caps.js';
import type { ProcessInfo } from '../control-server.js';
import { ContainerNotExist, control, killBoot, oneId, ociState, OciError, processAlive, StateStore, statusOf, stopsWithin, type StoredState } from './state.js';
import { runHooks } from './hooks.js';

export const STATE_SYNOPSIS = 'tsvisor [global flags] state <container id>';
export const KILL_SYNOPSIS = 'tsvisor [global flags] kill [--all] <container id> [signal]';
export const KILL_FLAGS: FlagDef[] = [
  { name: 'all', kind: 'bool', usage: "send the signal to every process of the container, not only its init", default: false },
  { name: 'a', kind: 'bool', usage: 'short for --all', default: false },
];
export const DELETE_SYNOPSIS = 'tsvisor [global flags] delete [--force] <container id>';
export const DELETE_FLAGS: FlagDef[] = [
  { name: 'force', kind: 'bool', usage: 'kill a running container (SIGKILL) and delete it', default: false },
  { name: 'f', kind: 'bool', usage: 'short for --force', default: false },
];
export const LIST_SYNOPSIS = 'tsvisor [global flags] list [--format table|json] [--quiet]';
export const LIST_FLAGS: FlagDef[] = [
  { name: 'format', kind: 'string', usage: 'table or json', default: 'table' },
  { name: 'f', kind: 'string', usage: 'short for --format', default: '' },
  { name: 'quiet', kind: 'bool', usage: 'print only the container ids', default: false },
  { name: 'q', kind: 'bool', usage: 'short for --quiet', default: false },
];
export const PS_SYNOPSIS = 'tsvisor [global flags] ps [--format table|json] <container id>';
export const PS_FLAGS: FlagDef[] = [
  { name: 'format', kind: 'string', usage: 'table or json (the pids)', default: 'table' },
  { name: 'f', kind: 'string', usage: 'short for --format', default: '' },
];
export const FEATURES_SYNOPSIS = 'tsvisor [global flags] features';

/** How long delete waits for a killed sandbox to exit. */
const KILL_WAIT_MS = 10000;

export function state(global: GlobalOptions, _flags: FlagValues, positional: string[]): number {
  const id = oneId(positional);
  process.stdout.write(JSON.stringify(ociState(new StateStore(global.root).load(id)), null, 2) + '\n');
  return 0;
}

/** A signal as runc's kill takes it: a number, or a name with or without SIG. */
export function parseSignal(raw: string): number {
  if (/^\d+$/.test(raw)) {
    const n = Number(raw);
    if (n >= 1 && n <= 64) return n;
  } else {
    const name = raw.toUpperCase().replace(/^SIG/, '');
    const n = (os.constants.signals as Record<string, number>)[`SIG${name}`];
    if (n !== undefined) return n;
  }
  throw new OciError(`unknown signal "${raw}"`);
}

/** Signals whose default action does not end a process: kill ignores them for a container not started yet. */
const HARMLESS = new Set([os.constants.signals.SIGCHLD, os.constants.signals.SIGCONT, os.constants.signals.SIGURG, os.constants.signals.SIGWINCH]);

export async function kill(global: GlobalOptions, flags: FlagValues, positional: string[]): Promise<number> {
  if (positional.length < 1 || positional.length > 2) throw new Fatal(`expected a container id and at most one signal, got ${positional.length} arguments`, true, 1);
  const id = oneId(positional.slice(0, 1));
  const signo = parseSignal(positional[1] ?? 'SIGTERM');
  const all = (flags.all as boolean) || (flags.a as boolean);
  const store = new StateStore(global.root);
  await store.withLock(id, async () => {
    const st = store.load(id);
    const status = statusOf(st);
    if (status === 'stopped') throw new OciError('container not running');
    if (status === 'created') {
      // The container's process has not started: a signal that would end it ends the sandbox.
      if (!HARMLESS.has(signo)) killBoot(st);
      return;
    }
    try {
      const c = await control(store, id);
      try {
        await c.call('containerManager.Signal', { CID: id, Signo: signo, PID: 0, Mode: all ? 1 : 0 });
      } finally {
        c.close();
      }
    } catch (e) {
      // The sandbox may be ending meanwhile (another kill, its program's
      // exit): its control socket closes before boot exits, so give boot a
      // moment to be gone before calling this a failure.
      if (await stopsWithin(st, EXIT_GRACE_MS)) throw new OciError('container not running');
      throw new OciError((e as Error).message);
    }
  });
  return 0;
}

/** How long kill waits for a sandbox whose control socket failed to be seen gone. */
const EXIT_GRACE_MS = 2000;



async function waitGone(pid: number, start: string): Promise<boolean> {
  const deadline = Date.now() + KILL_WAIT_MS;
  while (processAlive(pid, start)) {
    if (Date.now() > deadline) return false;
    await new Promise((r) => setTimeout(r, 10));
  }
  return true;
}

export async function deleteCommand(global: GlobalOptions, flags: FlagValues, positional: string[]): Promise<number> {
  const id = oneId(positional);
  const force = (flags.force as boolean) || (flags.f as boolean);
  const store = new StateStore(global.root);
  try {
    await store.withLock(id, async () => {
      let st: StoredState;
      try {
        st = store.load(id);
      } catch (e) {
        // A directory without state.json: a create that never finished. runc removes it too.
        if (e instanceof ContainerNotExist) store.remove(id);
        throw e;
      }
      const status = statusOf(st);
      if ((status === 'running' || status === 'paused') && !force) throw new OciError(`cannot delete container ${id} that is not stopped: ${status}`);
      if (status !== 'stopped') {
        killBoot(st);
        if (!(await waitGone(st.pid, st.pidStart))) throw new OciError(`container ${id}: the sandbox (pid ${st.pid}) did not exit after SIGKILL`);
      }
      // The gofer ends by itself once boot is gone; one still there is killed.
      if (st.goferPid && processAlive(st.goferPid, st.goferStart)) {
        try {
          process.kill(st.goferPid, 'SIGKILL');
        } catch {
          // gone meanwhile
        }
      }
      store.remove(id);
      // Once the container is gone, as runc: a failing hook fails delete all the same.
      await runHooks(st.hooks, 'poststop', { ...ociState(st), status: 'stopped', pid: 0 });
    });
  } catch (e) {
    if (e instanceof ContainerNotExist && force) return 0;
    throw e;
  }
  return 0;
}

/** Pads each column to its widest cell, as Go's tabwriter does for runc. */
function table(rows: string[][]): string {
  const widths = rows[0].map((_, i) => Math.max(...rows.map((r) => r[i].length)));
  return rows.map((r) => r.map((c, i) => (i === r.length - 1 ? c : c.padEnd(Math.max(widths[i] + 3, 12)))).join('').trimEnd() + '\n').join('');
}

function formatOf(flags: FlagValues): 'table' | 'json' {
  const f = (flags.f as string) || (flags.format as string);
  if (f !== 'table' && f !== 'json') throw new OciError(`invalid format option "${f}"`);
  return f;
}

export function list(global: GlobalOptions, flags: FlagValues): number {
  const format = formatOf(flags);
  const store = new StateStore(global.root);
  const all: StoredState[] = [];
  for (const id of store.ids()) {
    try {
      all.push(store.load(id));
    } catch {
      // deleted meanwhile
    }
  }
  if ((flags.quiet as boolean) || (flags.q as boolean)) {
    process.stdout.write(all.map((s) => s.id + '\n').join(''));
    return 0;
  }
  if (format === 'json') {
    const out = all.map((s) => ({ ...ociState(s), rootfs: '', created: s.created, owner: s.owner }));
    process.stdout.write(JSON.stringify(out) + '\n');
    return 0;
  }
  const rows = [['ID', 'PID', 'STATUS', 'BUNDLE', 'CREATED', 'OWNER']];
  for (const s of all) {
    const o = ociState(s);
    rows.push([s.id, String(o.pid), o.status, s.bundle, s.created, s.owner]);
  }
  process.stdout.write(table(rows));
  return 0;
}


export async function ps(global: GlobalOptions, flags: FlagValues, positional: string[]): Promise<number> {
  const format = formatOf(flags);
  const id = oneId(positional.slice(0, 1));
  const store = new StateStore(global.root);
  const st = store.load(id);
  if (statusOf(st) === 'stopped') throw new OciError('container not running');
  let rows: ProcessInfo[];
  try {
    const c = await control(store, id);
    try {
      rows = (await c.call('containerManager.Processes', id)) as ProcessInfo[];
    } finally {
      c.close();
    }
  } catch (e) {
    throw new OciError((e as Error).message);
  }
  if (format === 'json') {
    process.stdout.write(JSON.stringify(rows.map((r) => r.PID)) + '\n');
    return 0;
  }
  const t = [['UID', 'PID', 'PPID', 'C', 'STIME', 'TIME', 'CMD'], ...rows.map((r) => [String(r.UID), String(r.PID), String(r.PPID), String(r.C), r.STIME, r.TIME, r.Cmd])];
  process.stdout.write(table(t));
  return 0;
}

/** runc's `features`: what this runtime accepts from a spec. */
export function features(): number {
  const out = {
    ociVersionMin: '1.0.0',
    ociVersionMax: '1.1.0',
    hooks: ['prestart', 'createRuntime', 'createContainer', 'startContainer', 'poststart', 'poststop'],
    mountOptions: ['ro', 'rw', 'nosuid', 'nodev', 'noexec', 'bind', 'rbind', 'mode', 'size'],
    linux: {
      namespaces: ['pid', 'ipc', 'uts', 'mount', 'network', 'user', 'cgroup'],
      capabilities: [...CAPABILITIES],
      cgroup: { v1: false, v2: false, systemd: false, systemdUser: false },
      seccomp: { enabled: false },
      apparmor: { enabled: false },
      selinux: { enabled: false },
    },
    annotations: { 'dev.tsvisor.sandbox': 'riscv64 emulated in TypeScript' },
  };
  process.stdout.write(JSON.stringify(out, null, 2) + '\n');
  return 0;
}
