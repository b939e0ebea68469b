// Scaling: the parallel fixture (two threads hashing their own buffers) on
// one vCPU and on two (QEMU's threads held to as many host CPUs with
// taskset), beside the same loop in WebAssembly on plain worker threads (the host's
// ceiling, bench/js-threads.ts), and the futex wake-up round trip between two threads that every
// blocking hand-off pays, with both threads on one vCPU and on two.

import { WrongOutput, type Benchmark, type BenchContext, type Figure, type Target } from '../measure.js';
import { checkRun, exactly, guestTime, runOn } from '../program.js';
import { pingpongBench } from './syscalls.js';
import { checkSums, controlPass } from '../js-threads.js';
import { withHostLoad } from '../host-load.js';

/**
 * parallel 2 ROUNDS and the sum QEMU printed for it (full: 1.2 s on one
 * vCPU, 0.6 s on two and on QEMU; its warm pass a quarter of that). Not
 * shorter: a first run on a vCPU worker has a fixed cost of 15-20 ms that
 * the warm pass must absorb (bench/README.md, "The scaling rows' length").
 */
const PARALLEL = { full: [600000, '1750da1d20d97426'], quick: [30000, '7e20f407aacdf164'] } as const;

/**
 * Seconds the parallel fixture's threads took on `cpus` vCPUs: the guest's
 * clock from the timed pass's first pthread_create to its last join, after
 * the fixture's warm-up pass (`time warm`: the same threads for a quarter of
 * the rounds, untimed) has started the threads, the vCPU worker and the
 * compiles. The process's start-up and exit, and that warm-up, stay out.
 */
async function parallelSeconds(target: Target, ctx: BenchContext, cpus: number): Promise<number | null> {
  const [rounds, sum] = ctx.quick ? PARALLEL.quick : PARALLEL.full;
  const r = await runOn(target, ctx, { args: ['/bin/parallel', '2', String(rounds), 'time', 'warm'], cpuNum: cpus, rootfs: ctx.fixturesRootfs }, false);
  if (!r) return null;
  checkRun(`parallel on ${cpus}`, target, r, (stdout) => {
    const last = stdout.trimEnd().split('\n').pop();
    return last === `sum: ${sum}` ? null : exactly(`sum: ${sum}`)(last ? `${last}\n` : '');
  });
  return guestTime(r.stderr, 'parallel').seconds;
}

/** The fixture's seconds on one vCPU and then at once on two (null: the target cannot run it). */
async function parallelPair(target: Target, ctx: BenchContext): Promise<{ one: number; two: number } | null> {
  const one = await parallelSeconds(target, ctx, 1);
  if (one === null) return null;
  const two = await parallelSeconds(target, ctx, 2);
  return two === null ? null : { one, two };
}

/**
 * The 1-to-2 vCPU speed-up, measured in pairs: each run times the fixture on
 * one vCPU and at once on two, and its figure is the ratio of that pair. On
 * this shared machine the load comes in bursts of seconds; a ratio of two
 * neighbouring runs sees the same burst, where a ratio of two medians taken
 * minutes apart did not (it swung from 1.4x to 1.9x between suite runs).
 */
function speedupBench(): Benchmark {
  return {
    name: 'speedup-1to2-vcpu',
    group: 'scaling',
    what: 'parallel: 2 threads hashing their own 4 KiB buffers, time on 1 vCPU over time on 2 (warm: after an untimed pass of the same threads), run in pairs (goal 1.8x on 2 host cores)',
    unit: 'x',
    better: 'higher',
    async once(target: Target, ctx: BenchContext): Promise<Figure | null> {
      const pair = await parallelPair(target, ctx);
      if (pair === null) return null;
      const { one, two } = pair;
      return { value: one / two, note: `1 vCPU ${one.toFixed(2)} s, 2 vCPUs ${two.toFixed(2)} s` };
    },
  };
}

function controlRounds(ctx: BenchContext): number {
  return (ctx.quick ? PARALLEL.quick : PARALLEL.full)[0];
}

/** One pass of the control (bench/js-threads.ts) in this process, on 1 or 2 threads. */
async function controlSeconds(ctx: BenchContext, threads: 1 | 2): Promise<{ seconds: number; sums: number[] }> {
  try {
    return await controlPass(controlRounds(ctx), threads);
  } catch (e) {
    throw new WrongOutput(`js-threads: ${(e as Error).message}`);
  }
}

/**
 * The same speed-up for the loop in WebAssembly on plain worker threads (bench/js-threads.ts), no
 * tsvisor involved: the ceiling this host gives two busy threads of the
 * kind of code the vCPUs run, timed as the fixture is (warm threads, then
 * the timed pass). Only a tsvisor-column figure (QEMU: —).
 */
function jsThreadsBench(): Benchmark {
  return {
    name: 'js-threads-1to2',
    group: 'scaling',
    what: 'control, no tsvisor: the same hash loop in WebAssembly over shared memory, 1 warm thread over 2 warm worker threads',
    unit: 'x',
    better: 'higher',
    async once(target: Target, ctx: BenchContext): Promise<Figure | null> {
      if (target === 'qemu') return null;
      const a = await controlSeconds(ctx, 1);
      const b = await controlSeconds(ctx, 2);
      checkControl(a.sums, b.sums);
      return { value: a.seconds / b.seconds, note: `1 thread ${a.seconds.toFixed(2)} s, 2 threads ${b.seconds.toFixed(2)} s` };
    },
  };
}

function checkControl(one: number[], two: number[]): void {
  try {
    checkSums(one, two);
  } catch (e) {
    throw new WrongOutput((e as Error).message);
  }
}

/** A sample counts as taken on a quiet host when the rest of the machine kept less than this many cores busy meanwhile. */
export const QUIET_CORES = 0.1;
/** The host's other load (cores) from which a pass's note says its figure is not a two-core one. */
const BUSY_CORES = 0.5;
/** Tries per sample at most: a sample taken while the host was busier is taken again, and the quietest kept. */
export const SAMPLE_TRIES = 3;

export interface QuietSample {
  seconds: number;
  /** The host's other load during the kept try, in cores (bench/host-load.ts). */
  foreign: number;
  /** Tries made (1: the first was quiet). */
  tries: number;
}

/** One timed sample, taken again (SAMPLE_TRIES in all) while the host's other processes were busy; the quietest try is kept. */
export async function quietSample(take: () => Promise<number>, measure: typeof withHostLoad = withHostLoad): Promise<QuietSample> {
  let best: QuietSample | undefined;
  for (let tries = 1; tries <= SAMPLE_TRIES; tries++) {
    const { result, foreign } = await measure(take);
    if (!best || foreign < best.foreign) best = { seconds: result, foreign, tries };
    best.tries = tries;
    if (!(foreign >= QUIET_CORES)) break; // quiet, or no /proc/stat to tell
  }
  return best!;
}

/**
 * Passes per run of speedup-share-of-host. Decided before measuring, from an
 * A/A on a quiet host (bench/README.md, "How noisy one pass is"): the
 * statistic with the control on both sides spans ±11% a pass, so one pass
 * cannot tell 0.93 from 1.08; the median of five has about half that spread.
 */
export const SHARE_PASSES = 5;

/**
 * One pass of the share: four samples, tsvisor's and the control's
 * interleaved: 1 vCPU, 1 control thread, 2 vCPUs, 2 control threads (the
 * control first when `controlFirst`), so that each of tsvisor's samples has
 * the control's next to it; its figure is (t1 / t2) / (c1 / c2). Every sample
 * is taken with the rest of the host's CPU use beside it (bench/host-load.ts)
 * and taken again when that was above QUIET_CORES. tsvisor and the control
 * run in this process, both warm (the fixture's `warm` pass, the control's
 * warm-up). Null when tsvisor cannot run it.
 */
async function sharePass(target: Target, ctx: BenchContext, controlFirst: boolean): Promise<Figure | null> {
  const sums: number[][] = [];
  const samples: QuietSample[] = [];
  let unrunnable = false;
  for (const n of [1, 2] as const) {
    const tsvisor = async (): Promise<number> => {
      const s = await parallelSeconds(target, ctx, n);
      if (s === null) unrunnable = true;
      return s ?? NaN;
    };
    const control = async (): Promise<number> => {
      const c = await controlSeconds(ctx, n);
      sums.push(c.sums);
      return c.seconds;
    };
    for (const take of controlFirst ? [control, tsvisor] : [tsvisor, control]) {
      samples.push(await quietSample(take));
      if (unrunnable) return null;
    }
  }
  checkControl(sums[0], sums[sums.length - 1]);
  const [t1, c1, t2, c2] = controlFirst ? [samples[1], samples[0], samples[3], samples[2]] : samples;
  const ts = t1.seconds / t2.seconds, cs = c1.seconds / c2.seconds;
  const busiest = Math.max(...samples.map((s) => s.foreign));
  const retaken = samples.reduce((n, s) => n + s.tries - 1, 0);
  // With half a core or more taken by others, a 2-thread sample had no two free cores: the figure is the host's share, not a ceiling's.
  const busy = busiest >= BUSY_CORES ? ': host busy, not a two-core figure' : '';
  return {
    value: ts / cs,
    note: `tsvisor ${ts.toFixed(2)}x, control ${cs.toFixed(2)}x; host's other load ≤ ${busiest.toFixed(2)} cores${retaken ? `, ${retaken} sample(s) retaken` : ''}${busy}`,
  };
}

/**
 * The speed-up as a share of the host's ceiling at that moment. Each run is
 * the median of SHARE_PASSES passes (sharePass), the control first in every
 * other pass; its note is the median pass's, with the passes' range.
 */
function speedupShareBench(): Benchmark {
  let passes = 0;
  return {
    name: 'speedup-share-of-host',
    group: 'scaling',
    what: `speedup-1to2-vcpu over js-threads-1to2, their samples interleaved in each pass and taken again while the host was busy, the median of ${SHARE_PASSES} passes a run: the share of this host's two-thread ceiling reached`,
    unit: 'x',
    better: 'higher',
    async once(target: Target, ctx: BenchContext): Promise<Figure | null> {
      if (target === 'qemu') return null;
      const figures: Figure[] = [];
      for (let i = 0; i < SHARE_PASSES; i++) {
        const f = await sharePass(target, ctx, passes++ % 2 === 1);
        if (!f) return null;
        figures.push(f);
      }
      return medianPass(figures);
    },
  };
}

/** The median of an odd number of passes' figures, its note the median pass's with the passes' range. */
export function medianPass(figures: readonly Figure[]): Figure {
  const sorted = [...figures].sort((a, b) => a.value - b.value);
  const mid = sorted[(sorted.length - 1) >> 1];
  const range = `${sorted[0].value.toFixed(3)}-${sorted[sorted.length - 1].value.toFixed(3)}`;
  return { value: mid.value, note: `median of ${sorted.length} passes (${range}); its pass: ${mid.note}` };
}

export function scalingBenchmarks(): Benchmark[] {
  return [
    speedupBench(),
    jsThreadsBench(),
    speedupShareBench(),
    pingpongBench('futex-pingpong', 'scaling', 'futex', 20_000, 5_000, 'FUTEX_WAIT/FUTEX_WAKE hand-off between two threads on one vCPU (QEMU: one host CPU), per round trip', 1),
    pingpongBench('futex-pingpong-2vcpu', 'scaling', 'futex', 20_000, 5_000, 'the same with the two threads on two vCPUs (a wake crosses workers)', 2),
  ];
}
