// The busybox differential suite (fixtures/busybox): every shell script runs
// under Debian's riscv64 busybox `sh` in tsvisor (`tsvisor do --rootfs`, a
// rootfs laid out as `do` lays out its default one) and must give the
// stdout, stderr and exit status QEMU user mode gave it (expected/NAME.json,
// recorded by fixtures/busybox/record.js; `node fixtures/busybox/check.js`
// compares with QEMU live).
//
// Scripts that cannot pass yet are listed, each with its reason, in
// fixtures/busybox/not-yet.json (shared with check.js, whose --all says
// which of them now pass and can be taken off the list).

import * as assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { repoRoot } from '../util/bundle.js';
import { RunResult, tsvisor } from './run-util.js';

interface Expected {
  name: string;
  exit: number;
  stdout: string;
  stderr: string;
}

interface Harness {
  SCRIPTS: string;
  scriptNames(): string[];
  makeRootfs(name: string): string;
  removeRootfs(rootfs: string): void;
  argv(name: string): string[];
  loadExpected(name: string): Expected;
  notYet(): Record<string, string>;
  compare(expected: Expected, got: { exit: number; stdout: Buffer; stderr: Buffer }): string | null;
}

// eslint-disable-next-line @typescript-eslint/no-require-imports
const harness = require(path.join(repoRoot(), 'fixtures', 'busybox', 'harness.js')) as Harness;

const NOT_YET = harness.notYet();
const SCRIPT_TIMEOUT_MS = 300000;
/** Sandboxes run side by side: each is mostly one busy thread, and ~2 s of it is start-up. */
const CONCURRENCY = Math.max(1, Math.min(4, os.cpus().length));

/** Runs one script in a fresh rootfs through `tsvisor do --rootfs`. */
async function runScript(name: string): Promise<RunResult> {
  const rootfs = harness.makeRootfs(name);
  try {
    return await tsvisor(['do', '--rootfs', rootfs, '--', ...harness.argv(name)], Buffer.alloc(0), SCRIPT_TIMEOUT_MS);
  } finally {
    harness.removeRootfs(rootfs);
  }
}

/** Starts every script, CONCURRENCY at a time, in order; each test awaits its own. */
function startAll(names: string[]): Map<string, Promise<RunResult>> {
  const results = new Map<string, Promise<RunResult>>();
  const queue: (() => void)[] = [];
  let running = 0;
  const next = (): void => {
    while (running < CONCURRENCY && queue.length > 0) {
      running++;
      queue.shift()!();
    }
  };
  for (const name of names) {
    const p = new Promise<RunResult>((resolve, reject) => {
      queue.push(() => {
        runScript(name)
          .then(resolve, reject)
          .finally(() => {
            running--;
            next();
          });
      });
    });
    p.catch(() => {}); // reported by its test
    results.set(name, p);
  }
  next();
  return results;
}

describe('busybox suite: sh scripts in tsvisor give what QEMU gave', function () {
  // A test waits for its script, which may queue behind CONCURRENCY others.
  this.timeout(3 * SCRIPT_TIMEOUT_MS);
  const names = harness.scriptNames();
  let results: Map<string, Promise<RunResult>>;
  before(() => {
    results = startAll(names.filter((n) => !NOT_YET[n]));
  });

  it('has at least 60 scripts, each recorded, and a reason for every one not yet run', () => {
    assert.ok(names.length >= 60, `only ${names.length} scripts`);
    for (const n of names) {
      const exp = harness.loadExpected(n);
      assert.equal(exp.name, n);
      assert.equal(typeof exp.exit, 'number');
    }
    for (const [n, why] of Object.entries(NOT_YET)) {
      assert.ok(names.includes(n), `not-yet.json names ${n}, which is no script`);
      assert.ok(why.length > 10, `not-yet.json: ${n} needs a reason`);
    }
    const running = names.filter((n) => !NOT_YET[n]);
    assert.ok(running.length > 0, 'every script is listed as not yet: the suite would test nothing');
  });

  for (const name of names) {
    const skip = NOT_YET[name];
    const title = fs.readFileSync(path.join(harness.SCRIPTS, `${name}.sh`), 'utf8').split('\n')[0].replace(/^#\s*/, '');
    (skip ? it.skip : it)(`${name}: ${title}${skip ? ` (not yet: ${skip})` : ''}`, async () => {
      const r = await results.get(name)!;
      const diff = harness.compare(harness.loadExpected(name), { exit: r.code, stdout: r.stdout, stderr: r.stderr });
      assert.equal(diff, null, `${name}: ${diff}\nstdout:\n${r.stdout.toString().slice(0, 1500)}\nstderr:\n${r.stderr.toString().slice(0, 1500)}`);
    });
  }
});
