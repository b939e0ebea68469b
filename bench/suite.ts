// `npm run bench`: the benchmark suite, tsvisor beside QEMU user mode.
// Runs each chosen benchmark --runs times per target (tsvisor and QEMU
// alternating, so both see the same host load), keeps medians, checks every
// run's output, prints one table, and exits 1 when any benchmark failed
// (2 on bad arguments). See bench/cli.ts for the options.

import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { layoutBusyboxRootfs } from '../src/debian/busybox-rootfs.js';
import { makeBundle, removeBundle, repoRoot } from '../test/util/bundle.js';
import { parseBenchArgs, selectBenchmarks, USAGE } from './cli.js';
import { svgChart } from './chart.js';
import { cpuBenchmarks } from './groups/cpu.js';
import { procBenchmarks } from './groups/procs.js';
import { scalingBenchmarks } from './groups/scaling.js';
import { densityBenchmarks } from './groups/density.js';
import { startupBenchmarks } from './groups/startup.js';
import { coldBenchmarks } from './groups/cold.js';
import { checkpointBenchmarks } from './groups/checkpoint.js';
import { fileBenchmarks, syscallBenchmarks } from './groups/syscalls.js';
import { median, ratio, type BenchContext, type Benchmark, type Figure, type Result, type Target } from './measure.js';
import { closeQemu, findQemu, type QemuStatus } from './qemu.js';
import { REPORT_MD, REPORT_SVG, reportMarkdown } from './report.js';
import { describeMachine, jsonDocument, textTable, type BenchDocument } from './table.js';

/** Every benchmark, in report order. */
export function allBenchmarks(): Benchmark[] {
  return [...cpuBenchmarks(), ...syscallBenchmarks(), ...fileBenchmarks(), ...procBenchmarks(), ...startupBenchmarks(), ...scalingBenchmarks(), ...coldBenchmarks(), ...densityBenchmarks(), ...checkpointBenchmarks()];
}

/** The figure whose value is the median's (or nearest it): its note is the row's. */
function nearest(figs: Figure[], m: number): Figure | undefined {
  return [...figs].sort((a, b) => Math.abs(a.value - m) - Math.abs(b.value - m))[0];
}

/** Runs one benchmark; failures become the row's error, never an exception. */
export async function runBenchmark(b: Benchmark, ctx: BenchContext, runs: number): Promise<Result> {
  const figs: Record<Target, Figure[]> = { tsvisor: [], qemu: [] };
  const row: Result = { name: b.name, group: b.group, what: b.what, unit: b.unit, better: b.better, tsvisor: NaN, qemu: NaN, ratio: NaN, note: '', runs: { tsvisor: [], qemu: [] } };
  let qemuRuns = ctx.qemu.kind !== 'absent';
  try {
    for (let i = 0; i < runs; i++) {
      const f = await b.once('tsvisor', ctx);
      if (!f) throw new Error('tsvisor cannot run it');
      figs.tsvisor.push(f);
      if (qemuRuns) {
        const q = await b.once('qemu', ctx);
        if (q) figs.qemu.push(q);
        else qemuRuns = false;
      }
    }
    const ours = figs.tsvisor[0]?.stdout;
    const theirs = figs.qemu[0]?.stdout;
    if (ours !== undefined && theirs !== undefined && ours !== theirs) throw new Error(`tsvisor printed ${JSON.stringify(ours.slice(0, 120))}, QEMU ${JSON.stringify(theirs.slice(0, 120))}`);
  } catch (e) {
    row.error = (e as Error).message.split('\n')[0];
  }
  row.runs = { tsvisor: figs.tsvisor.map((f) => f.value), qemu: figs.qemu.map((f) => f.value) };
  row.tsvisor = median(row.runs.tsvisor);
  row.qemu = median(row.runs.qemu);
  row.ratio = ratio(b.better, row.tsvisor, row.qemu);
  const notes = [nearest(figs.tsvisor, row.tsvisor)?.note, nearest(figs.qemu, row.qemu)?.note].map((n) => n ?? '');
  row.note = notes[0] + (notes[1] ? `; QEMU ${notes[1]}` : '');
  return row;
}

/**
 * Runs `fn` with a benchmark context: the fixtures' rootfs, a busybox rootfs,
 * bundles made on demand; all removed afterwards, with QEMU's jail.
 */
export async function withBenchContext<T>(qemu: QemuStatus, quick: boolean, fn: (ctx: BenchContext) => Promise<T>): Promise<T> {
  const fixtureBundle = makeBundle({ args: ['/bin/hello'] });
  const bbDir = fs.mkdtempSync(path.join(os.tmpdir(), 'tsvisor-bench-bb-'));
  const bundles = new Map<string, string>();
  const ctx: BenchContext = {
    qemu,
    fixturesRootfs: path.join(fixtureBundle, 'rootfs'),
    busyboxRootfs: path.join(bbDir, 'rootfs'),
    quick,
    bundle(args) {
      const key = JSON.stringify(args);
      if (!bundles.has(key)) bundles.set(key, makeBundle({ args }));
      return bundles.get(key)!;
    },
  };
  try {
    layoutBusyboxRootfs(ctx.busyboxRootfs, path.join(repoRoot(), 'fixtures', 'busybox', 'busybox'));
    return await fn(ctx);
  } finally {
    closeQemu(qemu);
    removeBundle(fixtureBundle);
    for (const b of bundles.values()) removeBundle(b);
    fs.rmSync(bbDir, { recursive: true, force: true });
  }
}

/** The line saying which QEMU the figures stand beside, or plainly that there is none. */
export function qemuLine(q: QemuStatus): string {
  if (q.kind === 'absent') return `QEMU: absent — ${q.why}. The table shows tsvisor alone.`;
  return `QEMU: ${q.version}${q.kind === 'direct' ? ` — ${q.why}` : ' (in the jail of fixtures/busybox/qemu.js)'}`;
}

export async function main(argv: readonly string[]): Promise<number> {
  let o;
  try {
    o = parseBenchArgs(argv);
  } catch (e) {
    console.error(`bench: ${(e as Error).message}\n${USAGE}`);
    return 2;
  }
  if (o.help) {
    console.log(USAGE);
    return 0;
  }
  const all = allBenchmarks();
  if (o.list) {
    for (const b of all) console.log(`${b.group.padEnd(9)} ${b.name.padEnd(22)} ${b.what}`);
    return 0;
  }
  let chosen: Benchmark[];
  try {
    chosen = selectBenchmarks(all, o);
  } catch (e) {
    console.error(`bench: ${(e as Error).message}`);
    return 2;
  }
  const loadStart = os.loadavg();
  const t0 = Date.now();
  const qemu = findQemu();
  console.log(qemuLine(qemu));
  console.log(`host: ${os.cpus().length} cores, load average ${loadStart.map((l) => l.toFixed(2)).join(' ')}; ${o.runs} run(s) per target${o.quick ? ', quick sizes' : ''}`);
  const results: Result[] = [];
  await withBenchContext(qemu, o.quick, async (ctx) => {
    for (const b of chosen) {
      const s = Date.now();
      const r = await runBenchmark(b, ctx, o.runs);
      results.push(r);
      console.log(`  ${b.group}/${b.name}: ${r.error ? `FAILED: ${r.error}` : 'ok'} (${((Date.now() - s) / 1000).toFixed(1)} s)`);
    }
  });
  const failed = results.some((r) => r.error);
  console.log('');
  process.stdout.write(textTable(results));
  console.log(`\nratio: times worse than QEMU (time / QEMU time, or QEMU throughput / ours). ${((Date.now() - t0) / 1000).toFixed(0)} s in all; load average now ${os.loadavg().map((l) => l.toFixed(2)).join(' ')}.`);
  if (qemu.kind === 'absent') console.log('QEMU is not installed: no comparison was made.');
  const machine = describeMachine(qemu.kind === 'absent' ? `absent (${qemu.why})` : qemu.version, loadStart);
  const doc: BenchDocument = {
    machine, runs: o.runs, quick: o.quick, failed, results,
    qemu: { present: qemu.kind !== 'absent', mode: qemu.kind, note: qemu.kind === 'jail' ? 'chrooted into the same rootfs' : (qemu.why ?? '') },
  };
  const title = `tsvisor vs QEMU user mode (${machine.cores} cores, ${machine.date.slice(0, 10)})`;
  if (o.json) fs.writeFileSync(o.json, jsonDocument(doc));
  if (o.svg) fs.writeFileSync(o.svg, svgChart(results, title));
  if (o.report) {
    fs.writeFileSync(path.join(repoRoot(), REPORT_SVG), svgChart(results, title));
    fs.writeFileSync(path.join(repoRoot(), REPORT_MD), reportMarkdown(doc));
    console.log(`wrote ${REPORT_MD} and ${REPORT_SVG}`);
  }
  if (failed) console.error(`bench: ${results.filter((r) => r.error).length} benchmark(s) failed`);
  return failed ? 1 : 0;
}

if (require.main === module) {
  // Node exits 0 when nothing is left alive; a suite that stopped half way must not look like a pass.
  process.on('beforeExit', () => {
    console.error('bench: stopped before the suite finished (a run left nothing alive to wait on)');
    process.exit(1);
  });
  main(process.argv.slice(2)).then((c) => process.exit(c), (e) => {
    console.error(`bench: ${(e as Error).stack ?? e}`);
    process.exit(1);
  });
}
