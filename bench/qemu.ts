// The reference beside the sandbox: the same riscv64 program under QEMU user
// mode (qemu-riscv64-static), with the view the sandbox gives it. The view
// comes from fixtures/busybox/qemu.js (the busybox suite's and the recorder's
// jail: chrooted into the same rootfs, /proc and /dev mounted, tmpfs mounts,
// binfmt_misc registered so that a shell's riscv64 children run under QEMU
// too). Without root (no jail), programs that need no rootfs still run under
// QEMU directly; the rest have no QEMU figure.

import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { repoRoot } from '../test/util/bundle.js';
import type { GuestResult, GuestRun } from './sandbox.js';

interface QemuTools {
  qemu: string;
  version: string;
  jail?: string;
  unshare?: string;
  close?: () => void;
}

interface QemuJs {
  findTools(): { qemu: string; unshare: string; version: string } | { missing: string };
  setup(): { qemu: string; unshare: string; version: string; jail: string; close: () => void };
}

/** What QEMU this machine offers: a jail (full view), direct runs only, or none (with why). */
export type QemuStatus =
  | { kind: 'jail' | 'direct'; version: string; tools: QemuTools; why?: string }
  | { kind: 'absent'; why: string };

export function findQemu(): QemuStatus {
  // eslint-disable-next-line @typescript-eslint/no-require-imports
  const q = require(path.join(repoRoot(), 'fixtures', 'busybox', 'qemu.js')) as QemuJs;
  const qemu = process.env.QEMU || 'qemu-riscv64-static';
  const probe = spawnSync(qemu, ['--version'], { encoding: 'utf8' });
  if (probe.error || probe.status !== 0) return { kind: 'absent', why: `${qemu} not found (apt-get install qemu-user-static, or set $QEMU)` };
  const version = probe.stdout.split('\n')[0].trim();
  try {
    const t = q.setup();
    return { kind: 'jail', version, tools: t };
  } catch (e) {
    return { kind: 'direct', version, tools: { qemu, version }, why: `no jail (${(e as Error).message}): only programs that need no rootfs run under QEMU` };
  }
}

/** With run.cpuNum, QEMU's threads are held to that many host CPUs (taskset), as the sandbox's are to its vCPUs. */
function pinned(run: GuestRun): string[] {
  return run.cpuNum ? ['taskset', '-c', `0-${run.cpuNum - 1}`] : [];
}

export function closeQemu(s: QemuStatus): void {
  if (s.kind !== 'absent') s.tools.close?.();
}

/**
 * Runs `run` under QEMU; null when this QEMU cannot give the program its
 * view (direct mode and `needsRootfs`). Instructions are not counted (0).
 */
export function runInQemu(s: QemuStatus, run: GuestRun, needsRootfs: boolean, timeoutMs = 300_000): GuestResult | null {
  if (s.kind === 'absent' || (s.kind === 'direct' && needsRootfs)) return null;
  const t = s.tools;
  if (s.kind === 'direct') {
    const program = path.join(run.rootfs, run.args[0]);
    const t0 = process.hrtime.bigint();
    const [cmd, ...args] = [...pinned(run), t.qemu, '-0', run.args[0], program, ...run.args.slice(1)];
    const r = spawnSync(cmd, args, { encoding: 'utf8', maxBuffer: 1 << 28, timeout: timeoutMs, stdio: ['ignore', 'pipe', 'pipe'] });
    const seconds = Number(process.hrtime.bigint() - t0) / 1e9;
    if (r.error) throw new Error(`qemu: ${r.error.message}`);
    return { seconds, instructions: 0, status: r.status ?? 128 + (r.signal ? os.constants.signals[r.signal] : 0), stdout: r.stdout, stderr: r.stderr };
  }
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'tsvisor-bench-qemu-'));
  const statusFile = path.join(dir, 'status');
  try {
    const jailArgs = ['--root', run.rootfs, '--cwd', '/', '--hostname', 'bench', '--uid', '0', '--gid', '0', '--status', statusFile, '--qemu', t.qemu, '--nofile', '1024'];
    for (const d of run.tmpfs ?? []) jailArgs.push('--tmpfs', `${d}=mode=1777`);
    jailArgs.push('--', run.args[0], ...run.args);
    const env: Record<string, string> = {};
    for (const e of run.env ?? ['PATH=/bin']) env[e.slice(0, e.indexOf('='))] = e.slice(e.indexOf('=') + 1);
    const t0 = process.hrtime.bigint();
    const [cmd, ...args] = [...pinned(run), t.unshare!, '--uts', '--mount', '--pid', '--fork', '--kill-child', '--', t.jail!, ...jailArgs];
    const r = spawnSync(cmd, args, {
      env, encoding: 'utf8', maxBuffer: 1 << 28, timeout: timeoutMs, killSignal: 'SIGKILL', stdio: ['ignore', 'pipe', 'pipe'],
    });
    const seconds = Number(process.hrtime.bigint() - t0) / 1e9;
    if (r.error) throw new Error(`qemu: ${r.error.message}`);
    let st: string;
    try {
      st = fs.readFileSync(statusFile, 'utf8').trim();
    } catch {
      throw new Error(`qemu: no status from the jail (unshare status ${r.status}); stderr: ${r.stderr.trim()}`);
    }
    const m = /^(exit|signal) (\d+)$/.exec(st);
    if (!m) throw new Error(`qemu: bad jail status ${JSON.stringify(st)}`);
    return { seconds, instructions: 0, status: m[1] === 'exit' ? Number(m[2]) : 128 + Number(m[2]), stdout: r.stdout, stderr: r.stderr };
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
}
