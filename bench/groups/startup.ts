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

export function startupBenchmarks(): Benchmark[] {
  return [
    {
      name: 'boot-to-sync',
      group: 'startup',
      what: 'launch of `tsvisor boot` to its start-sync byte (spec read, kernel and control server up)',
      unit: 'ms',
      better: 'lower',
      async once(target: Target, ctx: BenchContext): Promise<Figure | null> {
        if (target === 'qemu') return null;
        const r = await bootOnce(ctx.bundle(['/bin/hello']));
        checkHello(target, r.status, r.stdout);
        return { value: r.syncMs };
      },
    },
    {
      name: 'launch-to-hello',
      group: 'startup',
      what: "launch to the first byte of hello's output (tsvisor: boot, sync, StartRoot; QEMU: the process)",
      unit: 'ms',
      better: 'lower',
      async once(target: Target, ctx: BenchContext): Promise<Figure | null> {
        if (target === 'tsvisor') {
          const r = await bootOnce(ctx.bundle(['/bin/hello']));
          checkHello(target, r.status, r.stdout);
          return { value: r.firstByteMs };
        }
        const q = qemuPath(ctx);
        if (!q) return null;
        const r = await qemuOnce(q, fixtureBin('hello'), []);
        checkHello(target, r.status, r.stdout);
        return { value: r.firstByteMs };
      },
    },
    {
      name: 'idle-rss',
      group: 'startup',
      what: 'resident size of an idle sandbox: the boot process, its guest blocked reading an open stdin (VmRSS)',
      unit: 'MiB',
      better: 'lower',
      async once(target: Target, ctx: BenchContext): Promise<Figure | null> {
        if (target === 'tsvisor') {
          const r = await bootOnce(ctx.bundle(['/bin/cat']), IDLE_MS);
          checkCat(target, r.status, r.stdout, r.stderr);
          return { value: r.rssKb / 1024 };
        }
        const q = qemuPath(ctx);
        if (!q) return null;
        const r = await qemuOnce(q, fixtureBin('cat'), [], IDLE_MS);
        checkCat(target, r.status, r.stdout, r.stderr);
        return { value: r.rssKb / 1024 };
      },
    },
  ];
}
