// The mocha side of a Python suite compared with QEMU
// (fixtures/tools/python-suite.js): one test per script of
// fixtures/DIR/scripts, each running it in `tsvisor do --packages python3`
// and comparing exit status, stdout and stderr with the recording under QEMU
// user mode in fixtures/DIR/expected. The python3 rootfs is built from the
// machine's Debian mirror on first use and cached; without a mirror and a
// cache every test is skipped, saying why.

import * as assert from 'node:assert/strict';
import * as path from 'node:path';
import { repoRoot } from '../util/bundle.js';
import { tsvisor } from './run-util.js';

interface Suite {
  TSVISOR_ARGS: string[];
  TIMEOUT_MS: number;
  scriptNames(): string[];
  script(name: string): Buffer;
  loadExpected(name: string): { exit: number; stdout: string; stderr: string };
  pythonRootfs(): Promise<string>;
  compare(expected: { exit: number; stdout: string; stderr: string }, got: { exit: number; stdout: Buffer; stderr: Buffer }): string | null;
}

/** Declares the tests of the suite in fixtures/`dir`. */
export function describePythonSuite(title: string, dir: string): void {
  // eslint-disable-next-line @typescript-eslint/no-require-imports
  const suite = require(path.join(repoRoot(), 'fixtures', dir, 'harness.js')) as Suite;

  describe(title, function () {
    this.timeout(suite.TIMEOUT_MS + 60000);
    let unavailable: string | null = null;

    before(async function () {
      this.timeout(600000);
      try {
        await suite.pythonRootfs();
      } catch (e) {
        unavailable = (e as Error).message;
      }
    });

    for (const name of suite.scriptNames()) {
      it(name, async function () {
        if (unavailable) {
          // No python3 rootfs: the machine's Debian mirror cannot be reached and nothing is cached.
          console.log(`      skipped: no python3 rootfs (${unavailable})`);
          this.skip();
        }
        const r = await tsvisor(suite.TSVISOR_ARGS, suite.script(name), suite.TIMEOUT_MS);
        assert.equal(suite.compare(suite.loadExpected(name), { exit: r.code, stdout: r.stdout, stderr: r.stderr }), null);
      });
    }
  });
}
