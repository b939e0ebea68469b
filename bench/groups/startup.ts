// Start-up and memory: `tsvisor boot` launched as runsc's parent launches
// it (bench/boot-launch.ts), and once as `tsvisor run` starts it (its
// node flags and startup snapshot). Boot to the start-sync byte has no QEMU
// counterpart; launch to the first byte of hello's output compares with
// QEMU starting the same static binary; the idle sandbox's resident size
// (the boot process, its guest blocked reading an open stdin) compares with
// QEMU's own process in the same state. The whole commands as a user types
// them: `tsvisor run` of hello (confined, with its gofer) and `tsvisor do --
// true`, from the command's start to its exit, beside QEMU running the same
// binary (docs/STARTUP.md has the breakdown); bin/tsvisor executed, as a
// shell does for a user (its shell half starts them from their startup
// snapshots, src/bundle/snapshot.ts).

import type { Benchmark, BenchContext, Figure, Target } from '../measure.js';
import { WrongOutput } from '../measure.js';
import { bootOnce, qemuOnce } from '../boot-launch.js';
import { fixtureBin, repoRoot } from '../../test/util/bundle.js';
import { launch, stateDir } from '../density-launch.js';
import { BOOT_NODE_FLAGS, entryScript } from '../../src/bundle/entry.js';
import { bootSnapshotArgs } from '../../src/bundle/snapshot.js';
import * as fs from 'node:fs';
import * as path from 'node:path';

/** The command a user runs (executed: its shell half picks Node's arguments). */
const TSVISOR = path.join(repoRoot(), 'bin', 'tsvisor');
/** hello's first line: the first byte timed is its first. */
const HELLO_FIRST = 'hello from riscv64\n';
/** How long the idle guest sits before its RSS is read. */
const IDLE_MS = 1500;

function checkHello(target: Target, status: number, stdout: string): void {
  if (status !== 0 || !stdout.startsWith(HELLO_FIRST)) throw new WrongOutput(`hello on ${target}: status ${status}, printed ${JSON.stringify(stdout.slice(0, 100))}`);
}

function checkCat(target: Target, status: number, stdout: string, stderr: string): void {
  if (status !== 0 || stdout !== '' || stderr !== 'cat: 0 bytes\n') throw new WrongOutput(`idle cat on ${target}: status ${status}, stdout ${JSON.stringify(stdout)}, stderr ${JSON.stringify(stderr.slice(0, 200))}`);
}

function qemuPath(ctx: BenchContext): string | null {
  return ctx.qemu.kind === 'absent' ? null : ctx.qemu.tools.qemu;
}

/** A start-up row: one boot (or QEMU process) per run, its figure picked by `ours` and `theirs`. */
function startupBench(name: string, what: string, unit: string, ours: (ctx: BenchContext) => Promise<number>, theirs: ((qemu: string) => Promise<number>) | null): Benchmark {
  return {
    name, group: 'startup', what, unit, better: 'lower',
    async once(target: Target, ctx: BenchContext): Promise<Figure | null> {
      if (target === 'tsvisor') return { value: await ours(ctx) };
      const q = qemuPath(ctx);
      return q && theirs ? { value: await theirs(q) } : null;
    },
  };
}

/** A command from its start to its exit: wall time (ms), status and output. */
async function wallOf(start: () => ReturnType<typeof launch>): Promise<{ ms: number; status: number; stdout: string; stderr: string }> {
  const t0 = process.hrtime.bigint();
  const l = start();
  l.child.stdin!.end();
  const status = await l.exited;
  return { ms: Number(process.hrtime.bigint() - t0) / 1e6, status, stdout: l.stdout(), stderr: l.stderr() };
}

let serial = 0;

/** `tsvisor run` of the hello bundle, state in a fresh --root (removed after). */
async function runHello(ctx: BenchContext): Promise<number> {
  const root = stateDir();
  try {
    const r = await wallOf(() => launch(TSVISOR, ['--root', root, 'run', '--bundle', ctx.bundle(['/bin/hello']), `startup-${process.pid}-${serial++}`]));
    checkHello('tsvisor', r.status, r.stdout);
    return r.ms;
  } finally {
    fs.rmSync(root, { recursive: true, force: true });
  }
}

/** The busybox binary the bench lays its busybox rootfs out around (suite.ts). */
const busybox = () => path.join(repoRoot(), 'fixtures', 'busybox', 'busybox');

function checkTrue(target: Target, r: { status: number; stdout: string; stderr: string }): void {
  if (r.status !== 0 || r.stdout !== '' || r.stderr !== '') throw new WrongOutput(`true on ${target}: status ${r.status}, stdout ${JSON.stringify(r.stdout.slice(0, 100))}, stderr ${JSON.stringify(r.stderr.slice(0, 200))}`);
}

/** `tsvisor do -- true` over the default busybox rootfs (--busybox: that binary, not the user cache, so no download is timed). */
async function doTrue(): Promise<number> {
  const r = await wallOf(() => launch(TSVISOR, ['do', '--busybox', busybox(), '--', 'true']));
  checkTrue('tsvisor', r);
  return r.ms;
}

export function startupBenchmarks(): Benchmark[] {
  const bootHello = async (ctx: BenchContext) => {
    const r = await bootOnce(ctx.bundle(['/bin/hello']));
    checkHello('tsvisor', r.status, r.stdout);
    return r;
  };
  return [
    startupBench('boot-to-sync', 'launch of `tsvisor boot` to its start-sync byte (spec read, kernel and control server up)', 'ms', async (ctx) => (await bootHello(ctx)).syncMs, null),
    startupBench(
      'boot-to-sync-run',
      "launch of boot as `tsvisor run` starts it (its node flags and startup snapshot, src/bundle/snapshot.ts) to its start-sync byte",
      'ms',
      async (ctx) => {
        const r = await bootOnce(ctx.bundle(['/bin/hello']), 0, 120_000, [...BOOT_NODE_FLAGS, ...bootSnapshotArgs(), entryScript('boot')]);
        checkHello('tsvisor', r.status, r.stdout);
        return r.syncMs;
      },
      null,
    ),
    startupBench(
      'launch-to-hello',
      "launch to the first byte of hello's output (tsvisor: boot, sync, StartRoot; QEMU: the process)",
      'ms',
      async (ctx) => (await bootHello(ctx)).firstByteMs,
      async (q) => {
        const r = await qemuOnce(q, fixtureBin('hello'), []);
        checkHello('qemu', r.status, r.stdout);
        return r.firstByteMs;
      },
    ),
    startupBench(
      'run-hello',
      '`tsvisor run` of hello (confined, gofer and boot started by run) from the command\'s start to its exit; QEMU: the same binary, start to exit',
      'ms',
      runHello,
      async (q) => {
        const r = await wallOf(() => launch(q, [fixtureBin('hello')]));
        checkHello('qemu', r.status, r.stdout);
        return r.ms;
      },
    ),
    startupBench(
      'do-true',
      '`tsvisor do -- true` (a fresh rootfs: a skeleton, laid out or a spare one, with the busybox tree kept in the cache mounted read-only at /bin; confined run) from start to exit; QEMU: busybox true, start to exit',
      'ms',
      doTrue,
      async (q) => {
        const r = await wallOf(() => launch(q, [busybox(), 'true']));
        checkTrue('qemu', r);
        return r.ms;
      },
    ),
    startupBench(
      'idle-rss',
      'resident size of an idle sandbox: the boot process, its guest blocked reading an open stdin (VmRSS)',
      'MiB',
      async (ctx) => {
        const r = await bootOnce(ctx.bundle(['/bin/cat']), IDLE_MS);
        checkCat('tsvisor', r.status, r.stdout, r.stderr);
        return r.rssKb / 1024;
      },
      async (q) => {
        const r = await qemuOnce(q, fixtureBin('cat'), [], IDLE_MS);
        checkCat('qemu', r.status, r.stdout, r.stderr);
        return r.rssKb / 1024;
      },
    ),
  ];
}
