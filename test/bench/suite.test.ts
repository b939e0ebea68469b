// The benchmark suite's pieces that do not time anything: argument parsing
// and selection, output checking, medians and ratios, a benchmark row's
// failure paths (with fake benchmarks), and the table, JSON, SVG and report
// text from fixed numbers.

import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { parseBenchArgs, selectBenchmarks } from '../../bench/cli.js';
import { escapeXml, svgChart } from '../../bench/chart.js';
import { shellLoop, shellLoopSum } from '../../bench/groups/procs.js';
import { COLD_SCRIPT, COLD_SCRIPT_OUTPUT, tierNote } from '../../bench/groups/cold.js';
import type { EngineStats } from '../../src/vcpu/engine-stats.js';
import { runInSandbox } from '../../bench/sandbox.js';
import { layoutBusyboxRootfs } from '../../src/debian/busybox-rootfs.js';
import { repoRoot } from '../util/bundle.js';
import { median, ratio, rowsOfOneMeasurement, WrongOutput, type BenchContext, type Benchmark, type Figure, type Result, type Target } from '../../bench/measure.js';
import { checkRun, exactly, guestTime, programBench } from '../../bench/program.js';
import { headlines, reportMarkdown } from '../../bench/report.js';
import { allBenchmarks, qemuLine, runBenchmark, withBenchContext } from '../../bench/suite.js';
import { fmt, jsonDocument, markdownTable, textTable, type BenchDocument } from '../../bench/table.js';

function row(name: string, group: Result['group'], tsvisor: number, qemu: number, extra: Partial<Result> = {}): Result {
  const better = extra.better ?? 'lower';
  return { name, group, what: `what ${name}`, unit: extra.unit ?? 's', better, tsvisor, qemu, ratio: ratio(better, tsvisor, qemu), note: '', runs: { tsvisor: [tsvisor], qemu: [qemu] }, ...extra };
}

const FIXED: Result[] = [
  row('compute', 'cpu', 2, 0.25, { note: '80 MIPS' }),
  row('getpid', 'syscalls', 7, 0.35, { unit: 'µs/op' }),
  row('seq-rw', 'files', 150, 2400, { unit: 'MB/s', better: 'higher' }),
  row('boot-to-sync', 'startup', 400, NaN, { unit: 'ms' }),
  row('bad <one>', 'procs', NaN, 1, { error: 'bad <one> on tsvisor: exit status 1' }),
];

describe('bench: rows read from one measurement', () => {
  it('the first row measures, each other row takes its figure of that measurement, and measures anew when run alone', async () => {
    let n = 0;
    const rows = rowsOfOneMeasurement(
      ['a', 'b', 'c'].map((name) => ({ name, group: 'checkpoint' as const, what: name, unit: 's', better: 'lower' as const })),
      async (target) => (target === 'qemu' ? null : ++n),
      [(m) => ({ value: m * 10 }), (m) => ({ value: m * 100 }), (m) => ({ value: m * 1000 })],
    );
    const ctx = {} as BenchContext;
    assert.deepEqual(await rows[0].once('tsvisor', ctx), { value: 10 });
    assert.deepEqual(await rows[0].once('tsvisor', ctx), { value: 20 });
    assert.deepEqual(await rows[1].once('tsvisor', ctx), { value: 100 });
    assert.deepEqual(await rows[2].once('tsvisor', ctx), { value: 1000 });
    assert.deepEqual(await rows[2].once('tsvisor', ctx), { value: 2000 });
    assert.deepEqual(await rows[2].once('tsvisor', ctx), { value: 3000 });
    assert.equal(n, 3);
    assert.equal(await rows[1].once('qemu', ctx), null);
  });
});

describe('bench: arguments', () => {
  it('defaults to every group, 3 runs; --quick to 1 run unless --runs', () => {
    assert.deepEqual(parseBenchArgs([]), { groups: [], only: [], runs: 3, quick: false, json: null, svg: null, report: false, list: false, help: false });
    assert.equal(parseBenchArgs(['--quick']).runs, 1);
    assert.equal(parseBenchArgs(['--quick', '--runs', '5']).runs, 5);
  });

  it('takes --group and --only repeated, as comma lists and with =', () => {
    const o = parseBenchArgs(['--group', 'cpu,files', '--group=cpu', '--only', 'getpid', '--only=stat,seq-rw', '--json', 'out.json', '--svg=c.svg']);
    assert.deepEqual(o.groups, ['cpu', 'files']);
    assert.deepEqual(o.only, ['getpid', 'stat', 'seq-rw']);
    assert.equal(o.json, 'out.json');
    assert.equal(o.svg, 'c.svg');
  });

  it('rejects unknown groups and flags, bad run counts, missing values, and a partial --report', () => {
    assert.throws(() => parseBenchArgs(['--group', 'gpu']), /unknown group "gpu"/);
    assert.throws(() => parseBenchArgs(['--fast']), /unknown argument "--fast"/);
    for (const n of ['0', '-1', '2.5', 'x', '101']) assert.throws(() => parseBenchArgs(['--runs', n]), /--runs wants a whole number/);
    assert.throws(() => parseBenchArgs(['--json']), /--json needs a value/);
    assert.throws(() => parseBenchArgs(['--quick=yes']), /takes no value/);
    assert.throws(() => parseBenchArgs(['--report', '--group', 'cpu']), /--report wants the whole suite/);
  });

  it('selects by group or name, and names every benchmark of the suite uniquely', () => {
    const all = allBenchmarks();
    const names = all.map((b) => b.name);
    assert.equal(new Set(names).size, names.length);
    for (const want of ['compute', 'coremix-int', 'coremix-fp', 'coremix-mem', 'getpid', 'write-devnull', 'open-close', 'pipe-pingpong-threads', 'pipe-pingpong-procs', 'seq-rw', 'rand-rw', 'rand-rw-gofer', 'rand-rw-9p', 'stat', 'readdir-10k', 'fork-exec-wait', 'busybox-sh-loop', 'boot-to-sync', 'boot-to-sync-run', 'launch-to-hello', 'run-hello', 'do-true', 'idle-rss', 'speedup-1to2-vcpu', 'js-threads-1to2', 'speedup-share-of-host', 'futex-pingpong', 'futex-pingpong-2vcpu', 'cold-busybox-script', 'cold-bash-true', 'cold-python3', 'cold-python3-imports']) {
      assert.ok(names.includes(want), want);
    }
    assert.deepEqual(selectBenchmarks(all, { groups: ['startup'], only: [] }).map((b) => b.name), ['boot-to-sync', 'boot-to-sync-run', 'launch-to-hello', 'run-hello', 'do-true', 'idle-rss']);
    assert.deepEqual(selectBenchmarks(all, { groups: ['startup'], only: ['getpid'] }).map((b) => b.name), ['getpid', 'boot-to-sync', 'boot-to-sync-run', 'launch-to-hello', 'run-hello', 'do-true', 'idle-rss']);
    assert.throws(() => selectBenchmarks(all, { groups: [], only: ['nope'] }), /unknown benchmark "nope"/);
  });
});

describe('bench: output checks', () => {
  const ok = { seconds: 1, instructions: 0, status: 0, stdout: 'a\nb\n', stderr: 'time getpid 0.250000000 100000 0\n' };

  it('wants exactly the lines given, and a zero exit status', () => {
    assert.equal(exactly('a', 'b')('a\nb\n'), null);
    assert.match(exactly('a', 'b')('a\nc\n') ?? '', /wanted "a\\nb\\n"/);
    assert.doesNotThrow(() => checkRun('x', 'tsvisor', ok, exactly('a', 'b')));
    assert.throws(() => checkRun('x', 'qemu', { ...ok, stdout: 'a\n' }, exactly('a', 'b')), (e: unknown) => e instanceof WrongOutput && /x on qemu: printed/.test(e.message));
    assert.throws(() => checkRun('x', 'tsvisor', { ...ok, status: 139, stderr: 'boom' }, exactly('a', 'b')), /exit status 139; stderr: boom/);
  });

  it("reads the guest's own timing line, and fails without it", () => {
    assert.deepEqual(guestTime(ok.stderr, 'getpid'), { seconds: 0.25, ops: 100000, bytes: 0 });
    assert.throws(() => guestTime(ok.stderr, 'stat'), WrongOutput);
  });

  it('knows what the busybox shell loop prints', () => {
    assert.equal(shellLoopSum(7), 21);
    assert.equal(shellLoopSum(30), 4 * 21 + 0 + 1);
    assert.match(shellLoop(30), /-lt 30 \]/);
  });

  it("runs the cold row's busybox script in the sandbox and gets its recorded output (QEMU's)", async function () {
    this.timeout(300_000);
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'tsvisor-cold-'));
    try {
      layoutBusyboxRootfs(path.join(dir, 'rootfs'), path.join(repoRoot(), 'fixtures', 'busybox', 'busybox'));
      const r = await runInSandbox({ args: ['/bin/sh', '-c', COLD_SCRIPT], rootfs: path.join(dir, 'rootfs'), env: ['PATH=/bin:/usr/bin'], tmpfs: ['/tmp'] });
      checkRun('cold-busybox-script', 'tsvisor', r, exactly(...COLD_SCRIPT_OUTPUT));
      // The kernel worker's tier counters come back with the run: the cold rows' note.
      assert.ok(r.engine !== undefined && r.engine.tier0Insns > 0 && r.engine.tier0Insns <= r.instructions, JSON.stringify(r.engine));
      assert.match(tierNote(r), /^tier 0 \d+\.\d% of \d+\.\d M insns/);
      // With engineStats (as the cold rows run), that worker counts every counter: the note gives the translation time too.
      const counted = await runInSandbox({ args: ['/bin/sh', '-c', 'echo counted'], rootfs: path.join(dir, 'rootfs'), env: ['PATH=/bin:/usr/bin'], tmpfs: ['/tmp'], engineStats: true });
      checkRun('engineStats', 'tsvisor', counted, exactly('counted'));
      assert.ok(counted.engine !== undefined && counted.engine.totalInsns > 0 && counted.engine.tier0Blocks > 0, JSON.stringify(counted.engine));
      assert.match(tierNote(counted), /, decode \d+ ms, compile \d+ ms$/);
      if (process.env.TSVISOR_ENGINE_STATS !== '1') assert.equal(r.engine.totalInsns, 0, 'counters off without engineStats');
    } finally {
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });
});

describe('bench: the cold rows\' tier note', () => {
  const zero: EngineStats = {
    tier0Blocks: 0, tier1Blocks: 0, tier2Blocks: 0, tier2Refused: 0, tier2Declined: 0, demoted: 0, held: 0, caseEntries: 0, caseEntriesBack: 0, tier2Insns: 0, promoted: 0, traces: 0,
    traceBlocks: 0, reusedBlocks: 0, adoptedRegions: 0, tier0Modules: 0, tier0Insns: 0, totalInsns: 0, tier0Calls: 0, compiledCalls: 0, decodeMs: 0, compileMs: 0,
  };
  const run = { seconds: 1, status: 0, stdout: '', stderr: '' };
  it('gives the tier-0 share always, and blocks, promotions and timings when TSVISOR_ENGINE_STATS counted them', () => {
    assert.equal(tierNote({ ...run, instructions: 0 }), '');
    assert.equal(tierNote({ ...run, instructions: 4_000_000, engine: { ...zero, tier0Insns: 3_000_000 } }), 'tier 0 75.0% of 4.0 M insns');
    const full = { ...zero, tier0Insns: 1_000_000, totalInsns: 2_000_000, tier0Blocks: 90, reusedBlocks: 10, promoted: 5, traces: 2, tier2Blocks: 1, tier2Insns: 500_000, demoted: 3, tier0Calls: 150_000, compiledCalls: 100_000, decodeMs: 12.4, compileMs: 3.6 };
    assert.equal(tierNote({ ...run, instructions: 2_000_000, engine: full }),
      'tier 0 50.0% of 2.0 M insns, tier 2 25.0%, 100 blocks (10 reused), 5 promoted (2 traces, 1 in tier 2, 3 back to tier 0), 0.3 M dispatches, decode 12 ms, compile 4 ms');
  });
});

describe('bench: medians, ratios and rows', () => {
  it('takes medians of odd and even counts; ratios read "times worse than QEMU"', () => {
    assert.equal(median([3, 1, 2]), 2);
    assert.equal(median([4, 1, 3, 2]), 2.5);
    assert.ok(Number.isNaN(median([])));
    assert.equal(ratio('lower', 10, 2), 5);
    assert.equal(ratio('higher', 100, 400), 4);
    assert.ok(Number.isNaN(ratio('lower', 1, NaN)));
  });

  const ctx = { qemu: { kind: 'absent', why: 'test' }, quick: true } as unknown as BenchContext;
  function fake(answer: (t: Target, i: number) => Figure | null): Benchmark {
    let i = 0;
    return { name: 'fake', group: 'cpu', what: 'a fake', unit: 's', better: 'lower', once: async (t) => answer(t, i++) };
  }

  it('keeps the median of the runs; a wrong answer or a crash fails the row, not the suite', async () => {
    const good = await runBenchmark(fake((_t, i) => ({ value: [5, 1, 3][i], stdout: 'x' })), ctx, 3);
    assert.equal(good.error, undefined);
    assert.equal(good.tsvisor, 3);
    assert.deepEqual(good.runs.tsvisor, [5, 1, 3]);
    assert.ok(Number.isNaN(good.qemu));
    const wrong = await runBenchmark(fake(() => { throw new WrongOutput('fake on tsvisor: printed "42"'); }), ctx, 3);
    assert.equal(wrong.error, 'fake on tsvisor: printed "42"');
  });

  it('leaves a program row without a figure when its prepared rootfs cannot be had (a cold row without the mirror), starting no sandbox', async () => {
    let ran = false;
    const b = programBench({
      name: 'no-rootfs', group: 'cold', what: 'a row whose rootfs is missing', unit: 's', better: 'lower',
      run: () => {
        ran = true;
        return { args: ['/bin/true'] };
      },
      rootfs: async () => null,
      needsRootfs: true,
      check: exactly(),
      figure: (r) => r.seconds,
    });
    assert.equal(await b.once('tsvisor', ctx), null);
    assert.equal(ran, true, 'the run is described first; its rootfs decides');
    const cold = allBenchmarks().filter((x) => x.group === 'cold').map((x) => x.name);
    assert.deepEqual(cold, ['cold-busybox-script', 'cold-bash-true', 'cold-python3', 'cold-python3-imports']);
  });

  it('fails a row whose two targets printed different things', async () => {
    const withQemu = { ...ctx, qemu: { kind: 'jail', version: 'q', tools: { qemu: 'q', version: 'q' } } } as BenchContext;
    const r = await runBenchmark(fake((t) => ({ value: 1, stdout: t === 'tsvisor' ? 'sum 1\n' : 'sum 2\n' })), withQemu, 1);
    assert.match(r.error ?? '', /tsvisor printed "sum 1\\n", QEMU "sum 2\\n"/);
    const same = await runBenchmark(fake((t) => ({ value: t === 'tsvisor' ? 4 : 2, stdout: 'same' })), withQemu, 1);
    assert.equal(same.error, undefined);
    assert.equal(same.ratio, 2);
  });
});

describe('bench: table, JSON, SVG and report from fixed numbers', () => {
  it('prints aligned rows under group headings, FAILED rows with their reason, — for a missing figure', () => {
    const t = textTable(FIXED);
    const lines = t.trimEnd().split('\n');
    assert.match(lines[0], /^benchmark\s+unit\s+tsvisor\s+QEMU\s+ratio\s+note$/);
    assert.deepEqual(lines.filter((l) => l.startsWith('[')), ['[cpu]', '[syscalls]', '[files]', '[startup]', '[procs]']);
    assert.match(t, /^compute\s+s\s+2\.00\s+0\.250\s+8\.0x\s+80 MIPS$/m);
    assert.match(t, /^getpid\s+µs\/op\s+7\.00\s+0\.350\s+20x$/m);
    assert.match(t, /^seq-rw\s+MB\/s\s+150\s+2400\s+16x$/m);
    assert.match(t, /^boot-to-sync\s+ms\s+400\s+—\s+—$/m);
    assert.match(t, /^bad <one>\s+s\s+FAILED\s+1\.00\s+—\s+bad <one> on tsvisor: exit status 1$/m);
    assert.equal(fmt(0.0601), '0.0601');
    assert.equal(fmt(1234.5), '1235');
  });

  it('writes a markdown table and JSON with nulls for missing figures', () => {
    const md = markdownTable(FIXED);
    assert.match(md, /^\| cpu \| compute \| s \| 2\.00 \| 0\.250 \| 8\.0x \| what compute \(80 MIPS\) \|$/m);
    assert.equal(md.trimEnd().split('\n').length, 2 + FIXED.length);
    const doc: BenchDocument = {
      machine: { cores: 2, model: 'Test CPU', node: 'v20.0.0', qemu: 'qemu 7.2', loadStart: [1, 2, 3], loadEnd: [4, 5, 6], date: '2026-01-01T00:00:00Z', commit: 'abc1234' },
      qemu: { present: true, mode: 'jail', note: 'chrooted' }, runs: 3, quick: false, failed: true, results: FIXED,
    };
    const j = JSON.parse(jsonDocument(doc));
    assert.equal(j.failed, true);
    assert.equal(j.results[3].qemu, null);
    assert.equal(j.results[3].ratio, null);
    assert.equal(j.results[0].ratio, 8);
    const report = reportMarkdown(doc);
    assert.match(report, /\| CPU \| 2 cores, Test CPU \|/);
    assert.match(report, /1\.00, 2\.00, 3\.00 at the start, 4\.00, 5\.00, 6\.00 at the end/);
    assert.match(report, /!\[tsvisor vs QEMU per benchmark\]\(bench\/chart\.svg\)/);
    assert.match(report, /Some benchmarks failed/);
    assert.ok(headlines(FIXED).some((l) => /^getpid round trip: 7\.00 µs \(QEMU 0\.350 µs\)\.$/.test(l)));
  });

  it('draws one row per benchmark: bars for ratios, text for missing and failed figures, escaped', () => {
    const svg = svgChart(FIXED, 'a <title> & more');
    assert.match(svg, /^<svg xmlns="http:\/\/www\.w3\.org\/2000\/svg"/);
    assert.match(svg, /<\/svg>\n$/);
    assert.match(svg, /a &lt;title&gt; &amp; more/);
    assert.equal((svg.match(/<rect x=/g) ?? []).length, 3, 'one bar per row with a ratio');
    assert.match(svg, /boot-to-sync<\/text>/);
    assert.match(svg, /no QEMU figure/);
    assert.match(svg, /FAILED: bad &lt;one&gt; on tsvisor/);
    assert.ok(!/<one>/.test(svg), 'no unescaped text');
    assert.equal(escapeXml('"&"'), '&quot;&amp;&quot;');
    // Bars grow with the ratio (log scale from the 1x line).
    const widths = [...svg.matchAll(/<rect x="[\d.]+" y="[\d.]+" width="([\d.]+)"/g)].map((m) => Number(m[1]));
    assert.ok(widths[1] > widths[2] && widths[2] > widths[0], `20x > 16x > 8x: ${widths}`);
  });
});

describe('bench: context and QEMU', () => {
  it('says plainly when QEMU is absent', () => {
    assert.equal(qemuLine({ kind: 'absent', why: 'qemu-riscv64-static not found' }), 'QEMU: absent — qemu-riscv64-static not found. The table shows tsvisor alone.');
    assert.match(qemuLine({ kind: 'jail', version: 'qemu-riscv64 version 7.2', tools: { qemu: 'q', version: 'v' } }), /^QEMU: qemu-riscv64 version 7\.2 \(in the jail/);
  });

  it('lays out the fixtures and busybox rootfs and bundles for the run, and removes them after', async () => {
    let seen: string[] = [];
    await withBenchContext({ kind: 'absent', why: 'test' }, true, async (ctx) => {
      const b = ctx.bundle(['/bin/cat']);
      assert.equal(ctx.bundle(['/bin/cat']), b, 'one bundle per argv');
      assert.ok(fs.statSync(path.join(ctx.fixturesRootfs, 'bin', 'spawnloop')).isFile());
      assert.equal(fs.readlinkSync(path.join(ctx.busyboxRootfs, 'bin', 'sh')), 'busybox');
      assert.ok(fs.existsSync(path.join(b, 'config.json')));
      seen = [ctx.fixturesRootfs, ctx.busyboxRootfs, b];
    });
    for (const p of seen) assert.ok(!fs.existsSync(p), `${p} removed`);
  });
});
