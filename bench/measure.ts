// The benchmark model: a benchmark yields one figure per run on a target
// (tsvisor or QEMU), checks the program's output on every run (a wrong
// answer is a WrongOutput, which fails the suite), and the suite keeps the
// median of the runs. Ratios always read "how many times worse than QEMU":
// time over QEMU's time, or QEMU's throughput over ours.

import type { QemuStatus } from './qemu.js';

export const GROUPS = ['cpu', 'syscalls', 'files', 'procs', 'startup', 'scaling', 'cold', 'density', 'checkpoint'] as const;
export type Group = (typeof GROUPS)[number];
export type Target = 'tsvisor' | 'qemu';

export interface Figure {
  value: number;
  /** Extra words for the table (e.g. MIPS). */
  note?: string;
  /** The program's stdout, compared between the targets when both ran. */
  stdout?: string;
}

export interface BenchContext {
  qemu: QemuStatus;
  /** Rootfs with every fixture in /bin (test/util/bundle.ts layout). */
  fixturesRootfs: string;
  /** Rootfs of busybox and its applet links (src/debian/busybox-rootfs.ts layout). */
  busyboxRootfs: string;
  /** Smaller sizes, for a fast look (figures less stable). */
  quick: boolean;
  /** An OCI bundle (test/util/bundle.ts makeBundle) running `args`; made once, removed by the suite. */
  bundle(args: string[]): string;
}

export interface Benchmark {
  name: string;
  group: Group;
  /** One line: what is measured. */
  what: string;
  unit: string;
  better: 'lower' | 'higher';
  /** One run on `target`; null when that target cannot run it. Throws WrongOutput on a wrong answer. */
  once(target: Target, ctx: BenchContext): Promise<Figure | null>;
}

/**
 * Several rows read from one measurement: the first row's run i measures and
 * keeps every figure, each other row's run i takes its own (measuring anew
 * when run alone, as with --only).
 */
export function rowsOfOneMeasurement<T>(
  rows: Omit<Benchmark, 'once'>[],
  measure: (target: Target, ctx: BenchContext) => Promise<T | null>,
  figures: ((m: T) => Figure)[],
): Benchmark[] {
  const kept: Record<Target, T[]>[] = rows.map(() => ({ tsvisor: [], qemu: [] }));
  return rows.map((row, i) => ({
    ...row,
    async once(target: Target, ctx: BenchContext): Promise<Figure | null> {
      if (i === 0) {
        const m = await measure(target, ctx);
        if (m === null) return null;
        for (let j = 1; j < rows.length; j++) kept[j][target].push(m);
        return figures[0](m);
      }
      const m = kept[i][target].shift() ?? (await measure(target, ctx));
      return m === null ? null : figures[i](m);
    },
  }));
}

/** A program printed something other than the right answer, or exited non-zero. */
export class WrongOutput extends Error {}

export function median(xs: readonly number[]): number {
  if (xs.length === 0) return NaN;
  const s = [...xs].sort((a, b) => a - b);
  const m = s.length >> 1;
  return s.length % 2 ? s[m] : (s[m - 1] + s[m]) / 2;
}

/** tsvisor relative to QEMU, >1 meaning tsvisor is worse; NaN when either is missing. */
export function ratio(better: 'lower' | 'higher', ours: number, qemu: number): number {
  if (!Number.isFinite(ours) || !Number.isFinite(qemu) || ours <= 0 || qemu <= 0) return NaN;
  return better === 'lower' ? ours / qemu : qemu / ours;
}

/** One row of the results: medians of each target's runs. */
export interface Result {
  name: string;
  group: Group;
  what: string;
  unit: string;
  better: 'lower' | 'higher';
  tsvisor: number;
  qemu: number;
  ratio: number;
  note: string;
  runs: { tsvisor: number[]; qemu: number[] };
  /** Why the row failed (wrong output, crash); absent when it passed. */
  error?: string;
}
