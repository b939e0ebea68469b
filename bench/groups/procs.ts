// Processes: fork+exec+wait of a static program (spawnloop's own timing),
// and a busybox shell loop whose every iteration forks a command
// substitution running an applet (per iteration, from the 2N-minus-N
// difference of wall times).

import type { Benchmark } from '../measure.js';
import { differenceBench, exactly, guestTime, programBench } from '../program.js';

/** PATH of the busybox rootfs (src/debian/busybox-rootfs.ts DO_PATH). */
export const BUSYBOX_PATH = 'PATH=/bin:/sbin:/usr/bin:/usr/sbin';

/** The shell loop: N iterations, each `$(expr I % 7)`; prints the sum. */
export function shellLoop(n: number): string {
  return `i=0; s=0; while [ $i -lt ${n} ]; do s=$((s + $(expr $i % 7))); i=$((i + 1)); done; echo $s`;
}

/** What shellLoop(n) prints: the sum of i % 7 for i < n. */
export function shellLoopSum(n: number): number {
  let s = 0;
  for (let i = 0; i < n; i++) s += i % 7;
  return s;
}

export function procBenchmarks(): Benchmark[] {
  return [
    programBench({
      name: 'fork-exec-wait',
      group: 'procs',
      what: 'fork, exec of the static /bin/hello (stdout to /dev/null), waitpid; per child',
      unit: 'ms/op',
      better: 'lower',
      run: (ctx) => ({ args: ['/bin/spawnloop', String(ctx.quick ? 10 : 40), '/bin/hello'] }),
      needsRootfs: true,
      check: (stdout, ctx) => {
        const n = ctx.quick ? 10 : 40;
        return exactly(`spawnloop: ${n} children, ${n} exited 0`)(stdout);
      },
      figure: (r) => {
        const t = guestTime(r.stderr, 'spawn');
        return (t.seconds / t.ops) * 1e3;
      },
    }),
    differenceBench({
      name: 'busybox-sh-loop',
      group: 'procs',
      what: 'busybox sh loop: one forked $(expr ...) per iteration; per iteration',
      unit: 'ms/iter',
      scale: 1e3,
      full: 30,
      quick: 10,
      needsRootfs: true,
      run: (n, ctx) => ({ args: ['/bin/sh', '-c', shellLoop(n)], rootfs: ctx.busyboxRootfs, env: [BUSYBOX_PATH], tmpfs: ['/tmp'] }),
      check: (n) => exactly(String(shellLoopSum(n))),
    }),
  ];
}
