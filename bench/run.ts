// `node dist/bench/run.js [SCALE]`: the compute fixture alone, through the
// whole sandbox beside qemu-riscv64-static, printed as the first bench
// printed it (time, guest MIPS, output check, QEMU's time and the ratio).
// It is the suite's `compute` row (bench/groups/cpu.ts) at another scale, run
// by the suite's own machinery; `npm run bench` runs the whole suite.
//
//   node dist/bench/run.js [SCALE]    (default 20: the recorded compute-bench case; $BENCH_RUNS runs, default 3)

import { computeBench, recordedCompute } from './groups/cpu.js';
import { findQemu } from './qemu.js';
import { qemuLine, runBenchmark, withBenchContext } from './suite.js';
import { fmtRatio } from './table.js';

async function main(): Promise<number> {
  const scale = process.argv[2] ?? '20';
  const runs = Number(process.env.BENCH_RUNS ?? 3);
  const qemu = findQemu();
  const row = await withBenchContext(qemu, false, (ctx) => runBenchmark(computeBench(scale), ctx, runs));
  console.log(`compute ${scale} (${runs} runs, median)`);
  if (row.error) {
    console.error(`bench: ${row.error}`);
    return 1;
  }
  const checked = recordedCompute(scale) === null ? 'not recorded for this scale' : 'matches the QEMU recording';
  console.log(`  tsvisor  ${row.tsvisor.toFixed(3)} s  ${row.note}  output ${checked}`);
  if (Number.isFinite(row.qemu)) console.log(`  qemu     ${row.qemu.toFixed(3)} s  ratio tsvisor/qemu time ${fmtRatio(row.ratio)}`);
  else console.log(`  qemu     no comparison (${qemuLine(qemu)})`);
  return 0;
}

main().then((c) => process.exit(c), (e) => {
  console.error(`bench: ${(e as Error).message}`);
  process.exit(1);
});
