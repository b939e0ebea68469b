// Scaling: the parallel fixture (two threads hashing their own buffers) on
// one vCPU and on two (QEMU's threads held to as many host CPUs with
// taskset), the speed-up between them, and the futex wake-up round trip
// between two threads that every blocking hand-off pays.

import type { Benchmark, Derived } from '../measure.js';
import { exactly, guestTime, programBench } from '../program.js';
import { pingpongBench } from './syscalls.js';

/** parallel 2 ROUNDS and the sum QEMU printed for it (full: about 2 s of guest time per thread on tsvisor, 0.2 s on QEMU). */
const PARALLEL = { full: [150000, 'b0e839869da98805'], quick: [30000, '7e20f407aacdf164'] } as const;

function parallelBench(cpus: number): Benchmark {
  return programBench({
    name: `parallel-${cpus}vcpu`,
    group: 'scaling',
    what: `parallel: 2 threads hashing their own 4 KiB buffers, on ${cpus} vCPU${cpus > 1 ? 's' : ''}, first pthread_create to last join`,
    unit: 's',
    better: 'lower',
    run: (ctx) => ({ args: ['/bin/parallel', '2', String((ctx.quick ? PARALLEL.quick : PARALLEL.full)[0]), 'time'], cpuNum: cpus }),
    needsRootfs: false,
    check: (stdout, ctx) => {
      const sum = (ctx.quick ? PARALLEL.quick : PARALLEL.full)[1];
      const last = stdout.trimEnd().split('\n').pop();
      return last === `sum: ${sum}` ? null : exactly(`sum: ${sum}`)(last ? `${last}\n` : '');
    },
    // The guest's own clock around the threads' lifetimes: the process's start-up and exit, the same on 1 and 2 vCPUs, stay out of the speed-up.
    figure: (r) => guestTime(r.stderr, 'parallel').seconds,
  });
}

export function scalingBenchmarks(): Benchmark[] {
  return [
    parallelBench(1),
    parallelBench(2),
    pingpongBench('futex-pingpong', 'scaling', 'futex', 2_000, 500, 'FUTEX_WAIT/FUTEX_WAKE hand-off between two threads, per round trip'),
  ];
}

export const SCALING_DERIVED: Derived[] = [
  {
    name: 'speedup-1to2-vcpu',
    group: 'scaling',
    what: 'parallel: time on 1 vCPU over time on 2 (goal 1.8x on 2 host cores)',
    unit: 'x',
    better: 'higher',
    from: ['parallel-1vcpu', 'parallel-2vcpu'],
    combine: (one, two) => one / two,
  },
];
