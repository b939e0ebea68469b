// The OCI verbs' state store: one directory per container under --root
// (--root/ID/), holding boot's control socket, state.json (written whole,
// by rename) and a lock file. The lock is a pid file made by link(), so it
// appears complete or not at all; a lock whose holder is gone (no such
// process, or a different process under a reused pid) is stale and broken.
// A container's status is what its state.json says (created, then running
// once started, paused between pause and resume), or stopped once boot, the
// sandbox, has exited. Every change of state.json happens under the lock.

import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { Fatal } from '../common.js';
import { UrpcClient } from '../urpc.js';
import type { Hooks } from './hooks.js';

/** A failure of an OCI verb: one line, exit 1, as runc gives them. */
export class OciError extends Fatal {
  constructor(message: string) {
    super(message, false, 1);
  }
}

/** runc's error for a container id not in --root. */
export class ContainerNotExist extends OciError {
  constructor() {
    super('container does not exist');
  }
}

/** runc's error for create with an id already in --root. */
export class ContainerExists extends OciError {
  constructor() {
    super('container with given ID already exists');
  }
}

const ID_RE = /^[\w][\w.+-]{0,127}$/;

/** Checks a container id (letters, digits, _ . + -); fails with runc's line, or run's own when `exitCode` is 128. */
export function checkId(id: string, exitCode = 1): void {
  if (ID_RE.test(id)) return;
  if (exitCode === 128) throw new Fatal(`invalid container id "${id}"`);
  throw new OciError(`invalid container ID format: ${id}`);
}

/** The one container id a verb takes. */
export function oneId(positional: string[]): string {
  if (positional.length !== 1) throw new Fatal(`expected exactly one container id, got ${positional.length}`, true, 1);
  checkId(positional[0]);
  return positional[0];
}

/** Where boot's control server listens for container `id`. */
export function controlSocket(store: StateStore, id: string): string {
  return path.join(store.dir(id), 'control.sock');
}

/** Opens the container's control socket. */
export function control(store: StateStore, id: string): Promise<UrpcClient> {
  return UrpcClient.connect(controlSocket(store, id));
}

export type Status = 'created' | 'running' | 'paused' | 'stopped';

/** What state.json holds. */
export interface StoredState {
  ociVersion: string;
  id: string;
  /** boot's pid: the sandbox. */
  pid: number;
  /** boot's start time (/proc/PID/stat field 22), so that a reused pid is not taken for it. */
  pidStart: string;
  goferPid: number;
  goferStart: string;
  bundle: string;
  annotations: Record<string, string>;
  /** RFC 3339 time of create. */
  created: string;
  owner: string;
  /** The spec's hooks, kept for start and delete (the bundle may be gone by then). */
  hooks?: Hooks;
  /** What was last done to it: created, started (running), paused (resume: running again). */
  status: 'created' | 'running' | 'paused';
}

/** The runtime-spec's state, as `tsvisor state` prints it. */
export interface OciState {
  ociVersion: string;
  id: string;
  status: Status;
  pid: number;
  bundle: string;
  annotations: Record<string, string>;
}

/** A process's start time in clock ticks since boot, or null when there is no such live process (a zombie counts as gone). */
export function processStart(pid: number): string | null {
  if (!Number.isInteger(pid) || pid <= 0) return null;
  let text: string;
  try {
    text = fs.readFileSync(`/proc/${pid}/stat`, 'utf8');
  } catch {
    return null;
  }
  // pid (comm) state ppid ...: comm may hold spaces and parentheses, so split after the last ')'.
  const fields = text.slice(text.lastIndexOf(')') + 2).split(' ');
  if (fields[0] === 'Z' || fields[0] === 'X') return null;
  return fields[19] ?? null;
}

/** Whether `pid` is still the process that started at `start`. */
export function processAlive(pid: number, start: string): boolean {
  const now = processStart(pid);
  return now !== null && (start === '' || now === start);
}

function sleepMs(ms: number): void {
  Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, ms);
}

export class StateStore {
  constructor(readonly root: string) {}

  dir(id: string): string {
    return path.join(this.root, id);
  }

  /** The container's saved state; ContainerNotExist without one. */
  load(id: string): StoredState {
    checkId(id);
    let text: string;
    try {
      text = fs.readFileSync(path.join(this.dir(id), 'state.json'), 'utf8');
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code === 'ENOENT' || (e as NodeJS.ErrnoException).code === 'ENOTDIR') throw new ContainerNotExist();
      throw e;
    }
    try {
      return JSON.parse(text) as StoredState;
    } catch (e) {
      throw new OciError(`cannot read the state of container ${id}: ${(e as Error).message}`);
    }
  }

  /** Writes state.json whole: a reader sees the old file or the new one. */
  save(st: StoredState): void {
    const file = path.join(this.dir(st.id), 'state.json');
    const tmp = `${file}.${process.pid}.tmp`;
    fs.writeFileSync(tmp, JSON.stringify(st) + '\n', { mode: 0o600 });
    fs.renameSync(tmp, file);
  }

  /** Ids of every container in the root (directories with a state.json), sorted. */
  ids(): string[] {
    let names: string[];
    try {
      names = fs.readdirSync(this.root);
    } catch {
      return [];
    }
    return names.filter((n) => ID_RE.test(n) && fs.existsSync(path.join(this.root, n, 'state.json'))).sort();
  }

  /** Removes the container's directory. */
  remove(id: string): void {
    fs.rmSync(this.dir(id), { recursive: true, force: true });
  }

  /** Runs `fn` holding the container's lock; ContainerNotExist when its directory is missing. */
  async withLock<T>(id: string, fn: () => Promise<T> | T, timeoutMs = 15000): Promise<T> {
    checkId(id);
    const release = acquireLock(this.dir(id), id, timeoutMs);
    try {
      return await fn();
    } finally {
      release();
    }
  }
}

/** The container's status now: stopped once boot has exited. */
export function statusOf(st: StoredState): Status {
  return processAlive(st.pid, st.pidStart) ? st.status : 'stopped';
}

/** Ends the sandbox: SIGKILL to boot, if it still runs. */
export function killBoot(st: StoredState): void {
  if (!processAlive(st.pid, st.pidStart)) return;
  try {
    process.kill(st.pid, 'SIGKILL');
  } catch {
    // gone meanwhile
  }
}

/** Whether the sandbox is seen stopped within `ms` (its control socket closes just before boot exits). */
export async function stopsWithin(st: StoredState, ms: number): Promise<boolean> {
  const until = Date.now() + ms;
  for (;;) {
    if (statusOf(st) === 'stopped') return true;
    if (Date.now() >= until) return false;
    await new Promise((r) => setTimeout(r, 20));
  }
}

/** The runtime-spec state (pid 0 once stopped, as runc shows it). */
export function ociState(st: StoredState): OciState {
  const status = statusOf(st);
  return { ociVersion: st.ociVersion, id: st.id, status, pid: status === 'stopped' ? 0 : st.pid, bundle: st.bundle, annotations: st.annotations ?? {} };
}

/**
 * Takes DIR/lock: a file with the holder's "pid start", made under a
 * temporary name and linked into place (link fails when the lock exists, so
 * there is no moment with a half-written lock). A stale lock is renamed away
 * (only one breaker wins the rename) and the attempt repeats. Returns the
 * release function.
 */
export function acquireLock(dir: string, id: string, timeoutMs: number): () => void {
  const lock = path.join(dir, 'lock');
  const me = `${process.pid} ${processStart(process.pid) ?? ''}`;
  const tmp = path.join(dir, `lock.${process.pid}.${Math.random().toString(36).slice(2)}`);
  try {
    fs.writeFileSync(tmp, me);
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'ENOENT' || (e as NodeJS.ErrnoException).code === 'ENOTDIR') throw new ContainerNotExist();
    throw e;
  }
  const deadline = Date.now() + timeoutMs;
  try {
    for (;;) {
      try {
        fs.linkSync(tmp, lock);
        break;
      } catch (e) {
        if ((e as NodeJS.ErrnoException).code !== 'EEXIST') throw e;
      }
      let holder: string;
      try {
        holder = fs.readFileSync(lock, 'utf8');
      } catch {
        continue; // released meanwhile
      }
      const [pid, start] = holder.split(' ');
      if (!processAlive(Number(pid), start ?? '')) {
        breakStale(lock, holder);
        continue;
      }
      if (Date.now() > deadline) throw new OciError(`timed out waiting for the lock on container ${id} (held by pid ${pid})`);
      sleepMs(5);
    }
  } finally {
    fs.rmSync(tmp, { force: true });
  }
  return () => {
    try {
      if (fs.readFileSync(lock, 'utf8') === me) fs.unlinkSync(lock);
    } catch {
      // the container's directory is gone (delete)
    }
  };
}

function breakStale(lock: string, holder: string): void {
  const aside = `${lock}.stale.${process.pid}`;
  try {
    fs.renameSync(lock, aside);
  } catch {
    return; // another caller broke it first
  }
  // Between our read and the rename another caller may have broken the stale
  // lock and taken it: then put the live one back.
  if (fs.readFileSync(aside, 'utf8') !== holder) {
    try {
      fs.linkSync(aside, lock);
    } catch {
      // taken again meanwhile: nothing to restore
    }
  }
  fs.rmSync(aside, { force: true });
}

/** Writes a file whole (runc writes --pid-file through a temporary file and a rename). */
export function writeWhole(file: string, text: string): void {
  const tmp = path.join(path.dirname(path.resolve(file)), `.${path.basename(file)}.${process.pid}`);
  fs.writeFileSync(tmp, text);
  fs.renameSync(tmp, file);
}

/** The user running this command, for list's OWNER column. */
export function ownerName(): string {
  try {
    return os.userInfo().username;
  } catch {
    return `#${process.getuid?.() ?? 0}`;
  }
}
