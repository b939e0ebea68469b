// Benchmarks that run one riscv64 program on both targets and read a figure
// from the run: the wall time, or the "time MODE SECONDS OPS BYTES" line our
// benchmark fixtures (syscalls, spawnloop) print on stderr from the guest's
// own CLOCK_MONOTONIC, which leaves the start-up of either target out.

import type { Benchmark, BenchContext, Figure, Group, Target } from './measure.js';
import { WrongOutput } from './measure.js';
import { runInQemu } from './qemu.js';
import { runInSandbox, type GuestResult, type GuestRun } from './sandbox.js';

export interface ProgramSpec {
  name: string;
  group: Group;
  what: string;
  unit: string;
  better: 'lower' | 'higher';
  /** The run; `rootfs` is filled in from `rootfs()` below, else from the context, when absent. */
  run(ctx: BenchContext): Omit<GuestRun, 'rootfs'> & { rootfs?: string };
  /** A rootfs that must be prepared first (built or fetched); null: the row cannot run here and has no figure. */
  rootfs?(ctx: BenchContext): Promise<string | null>;
  /** The program reads /data, /tmp or execs: QEMU needs the jail. */
  needsRootfs: boolean;
  /** Null when stdout is right, else what is wrong. */
  check(stdout: string, ctx: BenchContext): string | null;
  /** The figure from a checked run. */
  figure(r: GuestResult, target: Target): number;
  note?(r: GuestResult, target: Target, value: number): string;
}

/** Checks exit status and stdout; throws WrongOutput naming the target. */
export function checkRun(name: string, target: Target, r: GuestResult, check: (s: string) => string | null): void {
  if (r.status !== 0) throw new WrongOutput(`${name} on ${target}: exit status ${r.status}; stderr: ${r.stderr.trim().slice(0, 300)}`);
  const bad = check(r.stdout);
  if (bad !== null) throw new WrongOutput(`${name} on ${target}: ${bad}`);
}

/** A checker wanting exactly these stdout lines. */
export function exactly(...lines: string[]): (stdout: string) => string | null {
  const want = lines.map((l) => `${l}\n`).join('');
  return (stdout) => (stdout === want ? null : `printed ${JSON.stringify(stdout.slice(0, 300))}, wanted ${JSON.stringify(want)}`);
}

/** The guest-timed line "time MODE SECONDS OPS BYTES" from stderr. */
export function guestTime(stderr: string, mode: string): { seconds: number; ops: number; bytes: number } {
  const m = new RegExp(`^time ${mode} ([0-9.]+) (\\d+) (\\d+)$`, 'm').exec(stderr);
  if (!m) throw new WrongOutput(`no "time ${mode}" line on stderr: ${JSON.stringify(stderr.slice(0, 200))}`);
  return { seconds: Number(m[1]), ops: Number(m[2]), bytes: Number(m[3]) };
}

export async function runOn(target: Target, ctx: BenchContext, run: GuestRun, needsRootfs: boolean): Promise<GuestResult | null> {
  return target === 'tsvisor' ? runInSandbox(run) : runInQemu(ctx.qemu, run, needsRootfs);
}

export function programBench(p: ProgramSpec): Benchmark {
  return {
    name: p.name, group: p.group, what: p.what, unit: p.unit, better: p.better,
    async once(target: Target, ctx: BenchContext): Promise<Figure | null> {
      const spec = p.run(ctx);
      const rootfs = spec.rootfs ?? (p.rootfs ? await p.rootfs(ctx) : ctx.fixturesRootfs);
      if (rootfs === null) return null;
      const run: GuestRun = { ...spec, rootfs };
      const r = await runOn(target, ctx, run, p.needsRootfs);
      if (!r) return null;
      checkRun(p.name, target, r, (s) => p.check(s, ctx));
      const value = p.figure(r, target);
      return { value, stdout: r.stdout, note: p.note?.(r, target, value) };
    },
  };
}

export interface DifferenceSpec {
  name: string;
  group: Group;
  what: string;
  /** Unit of (seconds per step × scale), e.g. µs/rt with scale 1e6. */
  unit: string;
  scale: number;
  /** Steps N of the shorter run (the longer runs 2N), full and quick. */
  full: number;
  quick: number;
  /** QEMU runs this many times the steps (its steps are cheaper; too short a run is all noise). */
  qemuFactor?: number;
  needsRootfs: boolean;
  run(n: number, ctx: BenchContext): Omit<GuestRun, 'rootfs'> & { rootfs?: string };
  check(n: number): (stdout: string) => string | null;
}

/**
 * Cost of one step of a program that does N steps, timed from outside: the
 * wall time of 2N steps minus that of N, over N, which cancels the start-up
 * and exit both runs share (for programs that do not time themselves).
 */
export function differenceBench(d: DifferenceSpec): Benchmark {
  return {
    name: d.name, group: d.group, what: d.what, unit: d.unit, better: 'lower',
    async once(target: Target, ctx: BenchContext): Promise<Figure | null> {
      const n = (ctx.quick ? d.quick : d.full) * (target === 'qemu' ? (d.qemuFactor ?? 1) : 1);
      const tries: string[] = [];
      // On a busy host the difference can come out negative: that is noise, not a figure; try again (3 times at most).
      for (let attempt = 0; attempt < 3; attempt++) {
        const seconds: number[] = [];
        for (const steps of [n, 2 * n]) {
          const spec = d.run(steps, ctx);
          const r = await runOn(target, ctx, { ...spec, rootfs: spec.rootfs ?? ctx.fixturesRootfs }, d.needsRootfs);
          if (!r) return null;
          checkRun(d.name, target, r, d.check(steps));
          seconds.push(r.seconds);
        }
        const per = ((seconds[1] - seconds[0]) / n) * d.scale;
        // Every run's stdout was checked against its exact answer; the targets' step counts may differ, so no stdout to compare.
        if (per > 0) return { value: per };
        tries.push(seconds.map((s) => s.toFixed(3)).join(' s vs '));
      }
      throw new WrongOutput(`${d.name} on ${target}: ${2 * n} steps took no longer than ${n} three times (${tries.join('; ')} s): too noisy to measure`);
    },
  };
}
