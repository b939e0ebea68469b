// OCI hooks (the runtime spec's "hooks"), run on the host as runc runs them:
// each hook is `path` with `args` (args[0] is argv[0]; absent: path) and
// exactly `env`, the container's state JSON on its stdin, killed after
// `timeout` seconds; the hooks of one kind run one after another in the
// spec's order, and the first that fails (a non-zero exit, a signal, the
// timeout, or a path that cannot run) stops the rest.
//
// When each kind runs, and what a failure does (runc's choices):
//   prestart, createRuntime, createContainer  in create, once the sandbox is
//       up and before create returns; a failure ends the sandbox, removes
//       the container and fails create.
//   startContainer  in start, before the container's process starts; a
//       failure ends the sandbox and fails start.
//   poststart  in start, once the process runs; a failure ends the sandbox
//       and fails start.
//   poststop  in delete, once the sandbox is gone and the container removed;
//       a failure fails delete, the container stays removed.
// `tsvisor run` (src/main/run.ts) runs them all in the same order, failing
// with 128 as its own failures do; a failing poststop there is a warning.
// The sandbox's processes are the guest's: hooks see the host, never the
// container's namespaces (there are none to enter).

import { spawn } from 'node:child_process';
import { OciError, type OciState } from './state.js';

export interface Hook {
  path: string;
  args?: string[];
  env?: string[];
  timeout?: number;
}

export type HookKind = 'prestart' | 'createRuntime' | 'createContainer' | 'startContainer' | 'poststart' | 'poststop';
export type Hooks = Partial<Record<HookKind, Hook[]>>;

const KINDS: HookKind[] = ['prestart', 'createRuntime', 'createContainer', 'startContainer', 'poststart', 'poststop'];
/** Most of a hook's output an error line quotes. */
const OUTPUT_SHOWN = 512;

/** The spec's hooks, checked (OciError naming the bad field); undefined when it has none. */
export function checkHooks(raw: unknown): Hooks | undefined {
  if (raw === undefined || raw === null) return undefined;
  if (typeof raw !== 'object' || Array.isArray(raw)) throw new OciError('config.json: hooks must be an object');
  const out: Hooks = {};
  for (const kind of KINDS) {
    const list = (raw as Record<string, unknown>)[kind];
    if (list === undefined) continue;
    if (!Array.isArray(list)) throw new OciError(`config.json: hooks.${kind} must be a list`);
    out[kind] = list.map((h, i) => {
      const where = `config.json: hooks.${kind}[${i}]`;
      if (typeof h !== 'object' || h === null) throw new OciError(`${where} must be an object`);
      const hook = h as Record<string, unknown>;
      if (typeof hook.path !== 'string' || !hook.path.startsWith('/')) throw new OciError(`${where}.path must be an absolute path`);
      for (const f of ['args', 'env'] as const) {
        const v = hook[f];
        if (v !== undefined && (!Array.isArray(v) || v.some((s) => typeof s !== 'string'))) throw new OciError(`${where}.${f} must be a list of strings`);
      }
      if (hook.timeout !== undefined && (typeof hook.timeout !== 'number' || !Number.isInteger(hook.timeout) || hook.timeout <= 0)) throw new OciError(`${where}.timeout must be a positive number of seconds`);
      return { path: hook.path, args: hook.args as string[] | undefined, env: hook.env as string[] | undefined, timeout: hook.timeout as number | undefined };
    });
  }
  return out;
}

/** Runs the hooks of `kind` in order with `state` on their stdin; OciError (runc's wording) for the first that fails. */
export async function runHooks(hooks: Hooks | undefined, kind: HookKind, state: OciState | (Omit<OciState, 'status'> & { status: string })): Promise<void> {
  const list = hooks?.[kind] ?? [];
  const input = JSON.stringify(state);
  for (let i = 0; i < list.length; i++) {
    const why = await runOne(list[i], input);
    if (why) throw new OciError(`error running ${kind} hook #${i}: ${why}`);
  }
}

/** One hook: undefined when it exits 0, else why it failed (one line). */
function runOne(hook: Hook, input: string): Promise<string | undefined> {
  return new Promise((resolve) => {
    const args = hook.args ?? [hook.path];
    const env: Record<string, string> = {};
    for (const kv of hook.env ?? []) {
      const eq = kv.indexOf('=');
      if (eq > 0) env[kv.slice(0, eq)] = kv.slice(eq + 1);
    }
    const child = spawn(hook.path, args.slice(1), { argv0: args[0] ?? hook.path, env, stdio: ['pipe', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    let timedOut = false;
    child.stdout.on('data', (b) => (stdout = (stdout + b).slice(0, OUTPUT_SHOWN)));
    child.stderr.on('data', (b) => (stderr = (stderr + b).slice(0, OUTPUT_SHOWN)));
    child.stdin.on('error', () => {}); // a hook that does not read its stdin
    child.stdin.end(input);
    const timer = hook.timeout ? setTimeout(() => {
      timedOut = true;
      child.kill('SIGKILL');
    }, hook.timeout * 1000) : undefined;
    const output = () => `, stdout: ${oneLine(stdout)}, stderr: ${oneLine(stderr)}`;
    child.on('error', (e) => {
      clearTimeout(timer);
      resolve(`${(e as NodeJS.ErrnoException).code ?? e.message}: ${hook.path}`);
    });
    child.on('close', (code, sig) => {
      clearTimeout(timer);
      if (timedOut) resolve(`timeout after ${hook.timeout}s`);
      else if (sig) resolve(`signal: ${sig}${output()}`);
      else if (code !== 0) resolve(`exit status ${code}${output()}`);
      else resolve(undefined);
    });
  });
}

function oneLine(s: string): string {
  return s.trim().replace(/\s*\n\s*/g, ' | ');
}
