// Many sandboxes on one host, measured as a user starts them: `tsvisor run`
// (which starts the gofer and boot) with stdio pipes, and the resident size
// of each sandbox counted over all its host processes (run, which is its Perl
// waiter once the container runs, src/main/waiter.ts; the gofer; boot).
// QEMU's counterpart is its one process per program.

import { spawn, type ChildProcess } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { rssKb } from './boot-launch.js';
import { repoRoot } from '../test/util/bundle.js';

/** A program started with stdio pipes, its output gathered. */
export interface Launched {
  child: ChildProcess;
  stdout(): string;
  stderr(): string;
  /** Resolves once stdout holds `text` (rejects when the program ends first). */
  waitFor(text: string, timeoutMs?: number): Promise<void>;
  /** The exit status (128+N for signal N). */
  exited: Promise<number>;
}

export function launch(cmd: string, args: string[]): Launched {
  const child = spawn(cmd, args, { stdio: ['pipe', 'pipe', 'pipe'] });
  let out = '';
  let err = '';
  const waiters: (() => void)[] = [];
  child.stdout!.on('data', (d: Buffer) => {
    out += d.toString();
    for (const w of waiters.splice(0)) w();
  });
  child.stderr!.on('data', (d: Buffer) => (err += d.toString()));
  const exited = new Promise<number>((resolve) => child.on('close', (code, sig) => resolve(code ?? 128 + (sig ? os.constants.signals[sig] : 0))));
  let over = false;
  void exited.then(() => {
    over = true;
    for (const w of waiters.splice(0)) w();
  });
  return {
    child,
    stdout: () => out,
    stderr: () => err,
    exited,
    waitFor(text, timeoutMs = 120_000) {
      return new Promise((resolve, reject) => {
        const timer = setTimeout(() => reject(new Error(`no ${JSON.stringify(text)} after ${timeoutMs / 1000} s; stderr: ${err.slice(0, 300)}`)), timeoutMs);
        const check = () => {
          if (out.includes(text)) {
            clearTimeout(timer);
            resolve();
          } else if (over) {
            clearTimeout(timer);
            reject(new Error(`ended before printing ${JSON.stringify(text)}; stderr: ${err.slice(0, 300)}`));
          } else waiters.push(check);
        };
        check();
      });
    },
  };
}

/** `tsvisor run` of `bundle` (with its gofer), state under `root`. */
export function launchRun(root: string, bundle: string, id: string, extra: string[] = []): Launched {
  return launch(process.execPath, [path.join(repoRoot(), 'bin', 'tsvisor'), '--root', root, 'run', ...extra, '--bundle', bundle, id]);
}

/** Every descendant of `pid` (from /proc's parent links). */
export function descendants(pid: number): number[] {
  const parentOf = new Map<number, number>();
  for (const e of fs.readdirSync('/proc')) {
    if (!/^\d+$/.test(e)) continue;
    try {
      // The parent is the 2nd field after the command name, which may hold spaces and parentheses.
      const stat = fs.readFileSync(`/proc/${e}/stat`, 'utf8');
      parentOf.set(Number(e), Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1]));
    } catch {
      // gone meanwhile
    }
  }
  const out: number[] = [];
  const walk = (p: number) => {
    for (const [c, pp] of parentOf) {
      if (pp === p) {
        out.push(c);
        walk(c);
      }
    }
  };
  walk(pid);
  return out;
}

/** VmRSS (kB) of `pid` and all its descendants: a sandbox's run, gofer and boot. */
export function treeRssKb(pid: number): number {
  return [pid, ...descendants(pid)].reduce((s, p) => s + rssKb(p), 0);
}

/** Proportional set size (kB) of a process from /proc/PID/smaps_rollup: its shared pages (node's own code, mapped by every process) divided among their users; 0 when gone. */
export function pssKb(pid: number): number {
  try {
    const m = /^Pss:\s+(\d+) kB$/m.exec(fs.readFileSync(`/proc/${pid}/smaps_rollup`, 'utf8'));
    return m ? Number(m[1]) : 0;
  } catch {
    return 0;
  }
}

/** PSS (kB) of `pid` and all its descendants. */
export function treePssKb(pid: number): number {
  return [pid, ...descendants(pid)].reduce((s, p) => s + pssKb(p), 0);
}

/** A fresh state directory for `tsvisor --root`. */
export function stateDir(): string {
  return fs.mkdtempSync(path.join(os.tmpdir(), 'tsvisor-bench-state-'));
}

/** A bundle whose root is `rootfs` (an absolute path, shared, not copied), running `args` with `env`. */
export function bundleOver(rootfs: string, args: string[], env: string[], spec: Record<string, unknown>): string {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'tsvisor-bench-bundle-'));
  const s = { ...spec, root: { path: rootfs, readonly: false }, process: { ...(spec.process as object), args, env } };
  fs.writeFileSync(path.join(dir, 'config.json'), JSON.stringify(s, null, 2) + '\n');
  return dir;
}
