// The CPython compatibility suite (compat/): how a regrtest log becomes an
// outcome, and the recorded report (compat/REPORT.md, written by
// `npm run compat`, hours of runs, so not re-run here) against the bar the
// suite exists for: at least 40 modules, more passing under tsvisor than
// under QEMU, and none passing under QEMU only. A re-run that regresses a
// module rewrites the report, and this test then fails.

import { strict as assert } from 'node:assert';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { MODULES } from '../../compat/modules.js';
import { readRegrtestLog } from '../../compat/run.js';
import { repoRoot } from '../util/bundle.js';

describe('compat: regrtest logs and the recorded report', () => {
  it('reads the outcome, the counts and the failing tests of a regrtest log', () => {
    const pass = readRegrtestLog('== Tests result: SUCCESS ==\nTotal tests: run=50 skipped=10\nResult: SUCCESS\n', 0, false, 33);
    assert.deepEqual(pass, { outcome: 'PASS', seconds: 33, run: 50, failures: undefined, skipped: 10, failing: [] });
    const fail = readRegrtestLog(
      'FAIL: test_around_4GB (test.test_mmap.LargeMmapTests.test_around_4GB)\nERROR: test_x (test.test_mmap.MmapTests)\nTotal tests: run=50 failures=2 skipped=10\nResult: FAILURE\n',
      2, false, 40,
    );
    assert.equal(fail.outcome, 'FAIL');
    assert.equal(fail.failures, 2);
    assert.deepEqual(fail.failing, ['LargeMmapTests.test_around_4GB', 'MmapTests.test_x'], 'Python 3.13 names the test in the parentheses too; older ones the class alone');
    assert.equal(readRegrtestLog('Result: SUCCESS\n', 1, false, 1).outcome, 'FAIL', 'SUCCESS with a failing exit status is not a pass');
    assert.equal(readRegrtestLog('Result: ENV CHANGED\n', 3, false, 1).outcome, 'ENV');
    assert.equal(readRegrtestLog('Result: NO TESTS RAN\n', 4, false, 1).outcome, 'SKIP');
    assert.equal(readRegrtestLog('Traceback ...\n', 1, false, 1).outcome, 'CRASH');
    assert.equal(readRegrtestLog('Result: SUCCESS\n', 0, true, 600).outcome, 'TIMEOUT');
  });

  it('the report has a row per listed module (40 or more), and more pass under tsvisor than under QEMU, none under QEMU only', () => {
    const text = fs.readFileSync(path.join(repoRoot(), 'compat', 'REPORT.md'), 'utf8');
    const rows = new Map<string, { tsvisor: string; qemu: string }>();
    for (const m of text.matchAll(/^\| (test_\S+) \| (\S+)[^|]*\| (\S+)[^|]*\|/gm)) rows.set(m[1], { tsvisor: m[2], qemu: m[3] });
    assert.ok(MODULES.length >= 40, `${MODULES.length} modules listed`);
    assert.deepEqual(MODULES.map((m) => m.name).filter((n) => !rows.has(n)), [], 'listed modules without a row');
    const tPass = [...rows.values()].filter((r) => r.tsvisor === 'PASS').length;
    const qPass = [...rows.values()].filter((r) => r.qemu === 'PASS').length;
    const qemuOnly = [...rows].filter(([, r]) => r.qemu === 'PASS' && r.tsvisor !== 'PASS').map(([n]) => n);
    assert.deepEqual(qemuOnly, [], 'modules passing under QEMU only');
    assert.ok(tPass > qPass, `tsvisor ${tPass} passes, QEMU ${qPass}`);
    assert.match(text, new RegExp(`Modules run: ${rows.size}\\. Pass under tsvisor: ${tPass}\\. Pass under QEMU: ${qPass}\\. Pass under QEMU but not under tsvisor: 0\\.`), 'the summary line agrees with the table');
  });
});
