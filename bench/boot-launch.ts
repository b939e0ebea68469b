// Start-up and memory, measured the way a parent runtime sees them: `tsvisor
// boot` launched with its fds donated as runsc's parent does (spec, a bound
// controller socket, the start-sync pipe, stdio pipes), timed from the
// launch to the start-sync byte and, after StartRoot, to the first byte of
// the application's stdout; and the resident size of the boot process while
// its guest sits blocked in a read of an open stdin.

import { spawn, ChildProcess } from 'node:child_process';
import * as fs from 'node:fs';
import * as net from 'node:net';
import * as os from 'node:os';
import * as path from 'node:path';
import { bindUnixSocket, closeFd, pipe2, O_CLOEXEC } from '../src/host/ffi.js';
import { UrpcClient } from '../src/main/urpc.js';
import { repoRoot } from '../test/util/bundle.js';
import { sandboxProcessEnv } from '../src/bundle/entry.js';

export interface BootRun {
  /** Launch to the start-sync byte. */
  syncMs: number;
  /** Launch to the first byte of the application's stdout (StartRoot sent at the sync byte). */
  firstByteMs: number;
  /** VmRSS of the boot process while `whileRunning` ran (kB), when asked. */
  rssKb: number;
  status: number;
  stdout: string;
  stderr: string;
}

/** Resident set size of a process (VmRSS, kB) from /proc/PID/status; 0 when gone. */
export function rssKb(pid: number): number {
  try {
    const m = /^VmRSS:\s+(\d+) kB$/m.exec(fs.readFileSync(`/proc/${pid}/status`, 'utf8'));
    return m ? Number(m[1]) : 0;
  } catch {
    return 0;
  }
}

function ms(t0: bigint): number {
  return Number(process.hrtime.bigint() - t0) / 1e6;
}

/**
 * Boots the bundle, starts it, and waits for it to exit: `bin/tsvisor boot`,
 * executed as a parent runtime executes it (its shell half picks Node's
 * flags), or `node` with `nodeArgs` (Node's flags and the script). With `idleMs`, the
 * application's stdin stays open that long after StartRoot
 * (so a reader blocks), its RSS is sampled, then stdin is closed.
 */
export async function bootOnce(bundle: string, idleMs = 0, timeoutMs = 120_000, nodeArgs?: string[]): Promise<BootRun> {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'tsvisor-bench-boot-'));
  const sockPath = path.join(dir, 'ctl.sock');
  const ctrl = bindUnixSocket(sockPath);
  if (ctrl < 0) throw new Error(`bind ${sockPath}: errno ${-ctrl}`);
  const specFd = fs.openSync(path.join(bundle, 'config.json'), 'r');
  const sync = pipe2(O_CLOEXEC);
  if (typeof sync === 'number') throw new Error(`pipe2: errno ${-sync}`);
  const t0 = process.hrtime.bigint();
  let child: ChildProcess;
  try {
    const [exe, ...args] = nodeArgs ? [process.execPath, ...nodeArgs] : [path.join(repoRoot(), 'bin', 'tsvisor')];
    child = spawn(exe, [...args, 'boot', `--bundle=${bundle}`, '--spec-fd=3', '--controller-fd=4', '--start-sync-fd=5', '--stdio-fds=6,7,8', 'bench'], {
      stdio: ['ignore', 'ignore', 'pipe', specFd, ctrl, sync[1], 'pipe', 'pipe', 'pipe'],
      // Node started directly: the environment run gives boot (bin/tsvisor's shell part makes its own).
      env: nodeArgs ? sandboxProcessEnv(process.env) : process.env,
    });
  } finally {
    closeFd(ctrl);
    closeFd(sync[1]);
    fs.closeSync(specFd);
  }
  const stdio = child.stdio as unknown as net.Socket[];
  const killer = setTimeout(() => child.kill('SIGKILL'), timeoutMs);
  const exited = new Promise<number>((resolve) => child.on('exit', (code, sig) => resolve(code ?? 128 + (sig ? os.constants.signals[sig] : 0))));
  try {
    const out: Buffer[] = [];
    const err: Buffer[] = [];
    let bootErr = '';
    child.stderr!.on('data', (d: Buffer) => (bootErr += d.toString()));
    let firstByteMs = NaN;
    stdio[7].on('data', (d: Buffer) => {
      if (out.length === 0) firstByteMs = ms(t0);
      out.push(d);
    });
    stdio[8].on('data', (d: Buffer) => err.push(d));
    const outDone = new Promise<void>((resolve) => stdio[7].on('close', () => resolve()));
    if (idleMs === 0) stdio[6].end();
    const syncMs = await new Promise<number>((resolve, reject) => {
      const rs = fs.createReadStream('', { fd: sync[0] });
      let at = NaN;
      rs.on('data', () => (at = Number.isNaN(at) ? ms(t0) : at));
      rs.on('close', () => (Number.isNaN(at) ? reject(new Error(`boot exited without the start-sync byte: ${bootErr.trim()}`)) : resolve(at)));
      rs.on('error', reject);
    });
    const client = await UrpcClient.connect(sockPath);
    let rss = 0;
    try {
      await client.call('containerManager.StartRoot', 'bench');
      if (idleMs > 0) {
        await new Promise((r) => setTimeout(r, idleMs));
        rss = rssKb(child.pid!);
        stdio[6].end();
      }
      await client.call('containerManager.Wait', 'bench');
    } finally {
      client.close();
    }
    const status = await exited;
    await outDone;
    return { syncMs, firstByteMs, rssKb: rss, status, stdout: Buffer.concat(out).toString(), stderr: Buffer.concat(err).toString() };
  } finally {
    clearTimeout(killer);
    if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
    await exited;
    fs.rmSync(dir, { recursive: true, force: true });
  }
}

/** QEMU's counterpart: launch to the first stdout byte, and RSS after idleMs with stdin open. */
export async function qemuOnce(qemu: string, program: string, args: string[], idleMs = 0, timeoutMs = 60_000): Promise<{ firstByteMs: number; rssKb: number; status: number; stdout: string; stderr: string }> {
  const t0 = process.hrtime.bigint();
  const child = spawn(qemu, [program, ...args], { stdio: ['pipe', 'pipe', 'pipe'] });
  const killer = setTimeout(() => child.kill('SIGKILL'), timeoutMs);
  const out: Buffer[] = [];
  const err: Buffer[] = [];
  let firstByteMs = NaN;
  child.stdout.on('data', (d: Buffer) => {
    if (out.length === 0) firstByteMs = ms(t0);
    out.push(d);
  });
  child.stderr.on('data', (d: Buffer) => err.push(d));
  const exited = new Promise<number>((resolve) => child.on('close', (code, sig) => resolve(code ?? 128 + (sig ? os.constants.signals[sig] : 0))));
  let rss = 0;
  if (idleMs > 0) {
    await new Promise((r) => setTimeout(r, idleMs));
    rss = rssKb(child.pid!);
  }
  child.stdin.end();
  const status = await exited;
  clearTimeout(killer);
  return { firstByteMs, rssKb: rss, status, stdout: Buffer.concat(out).toString(), stderr: Buffer.concat(err).toString() };
}
