// The mocha side of a package suite compared with QEMU
// (fixtures/tools/package-suite.js): one test per script of
// fixtures/DIR/scripts, each running it in `tsvisor do --packages P` with
// the command it declares and comparing exit status, stdout and stderr with
// the recording under QEMU user mode in fixtures/DIR/expected. Each
// package set's rootfs is built from the machine's Debian mirror on first
// use and cached; a script whose rootfs can be had neither way is skipped,
// saying why.

import * as assert from 'node:assert/strict';
import * as path from 'node:path';
import { repoRoot } from '../util/bundle.js';
import { tsvisor } from './run-util.js';

interface Suite {
  TIMEOUT_MS: number;
  scriptNames(): string[];
  script(name: string): Buffer;
  tsvisorArgs(name: string): string[];
  rootfs(name: string): Promise<{ root: string }>;
  loadExpected(name: string): { exit: number; stdout: string; stderr: string };
  compare(expected: { exit: number; stdout: string; stderr: string }, got: { exit: number; stdout: Buffer; stderr: Buffer }): string | null;
}

/** Declares the tests of the suite in fixtures/`dir`. */
export function describePackageSuite(title: string, dir: string): void {
  // eslint-disable-next-line @typescript-eslint/no-require-imports
  const suite = require(path.join(repoRoot(), 'fixtures', dir, 'harness.js')) as Suite;

  describe(title, function () {
    this.timeout(suite.TIMEOUT_MS + 60000);
    /** Script name -> why its rootfs cannot be had. */
    const unavailable = new Map<string, string>();

    before(async function () {
      this.timeout(600000);
      for (const name of suite.scriptNames()) {
        try {
          await suite.rootfs(name);
        } catch (e) {
          unavailable.set(name, (e as Error).message);
        }
      }
    });

    for (const name of suite.scriptNames()) {
      it(name, async function () {
        const why = unavailable.get(name);
        if (why) {
          // No rootfs of the script's packages: the machine's Debian mirror cannot be reached and nothing is cached.
          console.log(`      skipped: no rootfs for ${suite.tsvisorArgs(name)[2]} (${why})`);
          this.skip();
        }
        const r = await tsvisor(suite.tsvisorArgs(name), suite.script(name), suite.TIMEOUT_MS);
        assert.equal(suite.compare(suite.loadExpected(name), { exit: r.code, stdout: r.stdout, stderr: r.stderr }), null);
      });
    }
  });
}
