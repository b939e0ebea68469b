// Target "syscalls": guest system calls with random arguments. Each input is
// the argument line of fixtures/bin/fuzz-syscalls (fixtures/src/fuzz-syscalls.c):
// "random SEED CHILDREN CALLS" (many short-lived children making random
// calls), "efault" (bad buffers must give EFAULT) or "reparent". The
// program runs as init of a sandbox (`tsvisor do --rootfs`, over a fresh
// rootfs holding only the program and /tmp) with the debug log in a file.
// Required: the sandbox exits 0 within the time bound with the program's
// summary line on stdout, its stderr holds no stack trace, and the debug log
// has no "KERNEL BUG" line nor any other ERROR line.

import { spawn } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { Rng } from '../rng.js';
import { fuzzDir, type Target } from '../harness.js';


const SUMMARY: Record<string, RegExp> = {
  random: /^random: \d+ children, \d+ calls, \d+ killed after the alarm$/m,
  efault: /^efault: \d+ checks, 0 not EFAULT$/m,
  reparent: /^reparent: init alive, reaped 1 adopted$/m,
};

export class SyscallsTarget implements Target {
  readonly name = 'syscalls';
  readonly description = 'fixtures/bin/fuzz-syscalls in a sandbox: random system calls from many children, EFAULT probes';
  readonly timeoutMs = 180000;
  readonly minimize = false;
  private work = '';
  private program = '';
  private tsvisor = '';
  private runs = 0;

  /** `children` and `calls` (per child) of generated inputs: the defaults take about 20 s of sandbox time. */
  constructor(private readonly size: { children: number; calls: number } = { children: 12, calls: 200 }) {}

  async setup(): Promise<void> {
    const repo = path.dirname(fuzzDir());
    this.program = path.join(repo, 'fixtures', 'bin', 'fuzz-syscalls');
    this.tsvisor = path.join(repo, 'bin', 'tsvisor');
    this.work = fs.mkdtempSync(path.join(os.tmpdir(), 'tsvisor-fuzz-syscalls-'));
  }

  async teardown(): Promise<void> {
    fs.rmSync(this.work, { recursive: true, force: true });
  }

  generate(rng: Rng): Uint8Array {
    const line = rng.chance(0.05) ? rng.pick(['efault', 'reparent']) : `random ${rng.u32()} ${this.size.children} ${this.size.calls}`;
    return new Uint8Array(Buffer.from(line));
  }

  async run(input: Uint8Array): Promise<string | undefined> {
    const args = Buffer.from(input).toString('latin1').trim().split(/\s+/);
    const mode = args[0];
    if (!SUMMARY[mode]) return undefined; // not an argument line the program takes: nothing to run
    const dir = path.join(this.work, `run-${this.runs++}`);
    const rootfs = path.join(dir, 'rootfs');
    const log = path.join(dir, 'debug.log');
    // A fresh rootfs each run: the children may truncate, rename or remove anything in it.
    for (const d of ['bin', 'tmp', 'dev', 'proc']) fs.mkdirSync(path.join(rootfs, d), { recursive: true });
    fs.chmodSync(path.join(rootfs, 'tmp'), 0o1777);
    fs.copyFileSync(this.program, path.join(rootfs, 'bin', 'fuzz-syscalls'));
    fs.chmodSync(path.join(rootfs, 'bin', 'fuzz-syscalls'), 0o755);
    try {
      const r = await this.sandbox(['--root', path.join(dir, 'state'), '--debug-log', log, 'do', '--rootfs', rootfs, '--', '/bin/fuzz-syscalls', ...args]);
      const logText = fs.existsSync(log) ? fs.readFileSync(log, 'utf8') : '';
      const bad = logText.split('\n').filter((l) => l.includes('KERNEL BUG') || / ERROR /.test(l));
      if (bad.length > 0) return `kernel log: ${bad[0].slice(0, 2000)}\n${bad.slice(1, 5).join('\n')}`;
      if (r.timedOut) return `hang: the sandbox ran past ${this.timeoutMs - 5000} ms`;
      if (/^\s+at /m.test(r.stderr)) return `stack trace on the sandbox's stderr:\n${r.stderr.slice(0, 3000)}`;
      if (r.code !== 0) return `sandbox exit status ${r.code} (${args.join(' ')}); stdout: ${r.stdout.slice(0, 500)} stderr: ${r.stderr.slice(0, 1000)}`;
      if (!SUMMARY[mode].test(r.stdout)) return `no summary line from the program; stdout: ${r.stdout.slice(0, 1000)}`;
      return undefined;
    } finally {
      fs.rmSync(dir, { recursive: true, force: true });
    }
  }

  private sandbox(args: string[]): Promise<{ code: number; stdout: string; stderr: string; timedOut: boolean }> {
    return new Promise((resolve) => {
      const child = spawn(this.tsvisor, args, { stdio: ['ignore', 'pipe', 'pipe'] });
      let stdout = '';
      let stderr = '';
      let timedOut = false;
      child.stdout.on('data', (d) => (stdout += d));
      child.stderr.on('data', (d) => (stderr += d));
      const timer = setTimeout(() => {
        timedOut = true;
        child.kill('SIGKILL');
      }, this.timeoutMs - 5000);
      child.on('close', (code, sig) => {
        clearTimeout(timer);
        resolve({ code: code ?? 128 + (sig ? os.constants.signals[sig] : 0), stdout, stderr, timedOut });
      });
    });
  }
}
