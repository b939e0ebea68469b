// Start-up and memory: `tsvisor boot` launched as runsc's parent launches
// it (bench/boot-launch.ts). Boot to the start-sync byte has no QEMU
// counterpart; launch to the first byte of hello's output compares with
// QEMU starting the same static binary; the idle sandbox's resident size
// (the boot process, its guest blocked reading an open stdin) compares with
// QEMU's own process in the same state.

import type { Benchmark, BenchContext, Figure, Target } from '../measure.js';
import { WrongOutput } from '../measure.js';
import { bootOnce, qemuOnce } from '../boot-launch.js';
import { fixtureBin } from '../../test/util/bundle.js';

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

export function startupBenchmarks(): Benchmark[] {
  const bootHello = async (ctx: BenchContext) => {
    const r = await bootOnce(ctx.bundle(['/bin/hello']));
    checkHello('tsvisor', r.status, r.stdout);
    return r;
  };
  return [
    startupBench('boot-to-sync', 'launch of `tsvisor boot` to its start-sync byte (spec read, kernel and control server up)', 'ms', async (ctx) => (await bootHello(ctx)).syncMs, null),
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
