// The compatibility suite's table: one row per module, tsvisor beside QEMU.

import { FIXED_GAPS, KERNEL_NOTES, MODULES } from './modules.js';

export type Outcome = 'PASS' | 'FAIL' | 'ENV' | 'SKIP' | 'TIMEOUT' | 'CRASH';

export interface RunResult {
  outcome: Outcome;
  seconds: number;
  run?: number;
  failures?: number;
  skipped?: number;
  /** The first failing tests (Class.test_name). */
  failing: string[];
}

export interface ModuleResult {
  module: string;
  tsvisor: RunResult;
  qemu?: RunResult;
}

function cell(r: RunResult | undefined): string {
  if (!r) return '-';
  const counts = r.run !== undefined ? ` ${r.run} run${r.failures ? `, ${r.failures} failed` : ''}${r.skipped ? `, ${r.skipped} skipped` : ''}` : '';
  return `${r.outcome}${counts}`;
}

const passes = (r: RunResult | undefined): boolean => r?.outcome === 'PASS';

/** The report as Markdown (plain: the table alone, for the terminal). */
export function formatReport(results: ModuleResult[], pythonVersion: string, plain = false): string {
  const rows = results.map((r) => {
    const ratio = r.qemu && r.qemu.seconds > 0 ? `${(r.tsvisor.seconds / r.qemu.seconds).toFixed(1)}x` : '-';
    return `| ${r.module} | ${cell(r.tsvisor)} | ${cell(r.qemu)} | ${r.tsvisor.seconds.toFixed(0)} s / ${r.qemu ? r.qemu.seconds.toFixed(0) : '-'} s | ${ratio} |`;
  });
  const table = ['| module | tsvisor | QEMU | time (tsvisor / QEMU) | ratio |', '|---|---|---|---|---|', ...rows].join('\n') + '\n';
  if (plain) return table;
  const tPass = results.filter((r) => passes(r.tsvisor)).length;
  const qPass = results.filter((r) => passes(r.qemu)).length;
  const regress = results.filter((r) => passes(r.qemu) && !passes(r.tsvisor));
  const failing = results.filter((r) => !passes(r.tsvisor));
  const why = (r: ModuleResult): string => {
    const known = MODULES.find((m) => m.name === r.module)?.knownFailure;
    const tests = r.tsvisor.failing.length ? ` (first failing: ${r.tsvisor.failing.join(', ')})` : '';
    return `- **${r.module}** — ${r.tsvisor.outcome}${r.qemu ? `, QEMU ${r.qemu.outcome}` : ''}: ${known ?? 'not yet analysed'}${tests}`;
  };
  return [
    '# CPython regression tests under tsvisor and QEMU',
    '',
    `Written by \`npm run compat\` (compat/run.ts): Debian's python3.13 ${pythonVersion} and libpython3.13-testsuite for riscv64, each module run as`,
    '`python3 -m test -v MODULE` (with `-u RESOURCES` where modules.ts names some) under `tsvisor do --rootfs` and under `qemu-riscv64-static -L` on the same writable rootfs, QEMU first.',
    'PASS: regrtest\'s "Result: SUCCESS"; ENV: passed but changed the environment; SKIP: no tests ran; TIMEOUT: killed at the per-module limit (the time shown); CRASH: no Result line.',
    'Modules may run side by side (`--jobs`, or runners with their own XDG_CACHE_HOME whose rows `--merge` takes), so times depend on the load of the machine: compare ratios rather than times.',
    '',
    `Modules run: ${results.length}. Pass under tsvisor: ${tPass}. Pass under QEMU: ${qPass}. Pass under QEMU but not under tsvisor: ${regress.length}${regress.length ? ` (${regress.map((r) => r.module).join(', ')})` : ''}.`,
    '',
    timeRatios(results),
    '',
    table,
    '## Modules that do not pass under tsvisor',
    '',
    ...(failing.length ? failing.map(why) : ['None.']),
    '',
    '## Kernel gaps still open',
    '',
    ...KERNEL_NOTES.map((n) => `- ${n}`),
    '',
    '## Gaps fixed on the way',
    '',
    ...FIXED_GAPS.map((n) => `- ${n}`),
    '',
  ].join('\n');
}

/** Time under tsvisor against QEMU: the modules both passed (their sums and the median of their ratios), then every module run by both. */
function timeRatios(results: ModuleResult[]): string {
  const both = results.filter((r) => passes(r.tsvisor) && passes(r.qemu));
  const all = results.filter((r) => r.qemu && r.qemu.seconds > 0);
  const sum = (rs: ModuleResult[], which: 'tsvisor' | 'qemu') => rs.reduce((n, r) => n + (r[which]?.seconds ?? 0), 0);
  const ratios = both.map((r) => r.tsvisor.seconds / r.qemu!.seconds).sort((a, b) => a - b);
  const median = ratios.length ? (ratios.length % 2 ? ratios[(ratios.length - 1) >> 1] : (ratios[ratios.length / 2 - 1] + ratios[ratios.length / 2]) / 2) : 0;
  const fmt = (rs: ModuleResult[]) => `${sum(rs, 'tsvisor').toFixed(0)} s against ${sum(rs, 'qemu').toFixed(0)} s (${(sum(rs, 'tsvisor') / Math.max(1, sum(rs, 'qemu'))).toFixed(1)}x)`;
  if (!both.length) return 'Time: no module passed under both.';
  return `Time, the ${both.length} modules that pass under both: ${fmt(both)}, median ratio ${median.toFixed(1)}x (from ${ratios[0].toFixed(1)}x to ${ratios[ratios.length - 1].toFixed(1)}x). Every module run by both, timeouts at their limit: ${fmt(all)}.`;
}
