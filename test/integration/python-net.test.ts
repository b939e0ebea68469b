// The Python networking suite (fixtures/python-net): Debian's riscv64 python3
// in `tsvisor do --packages python3` must print what it printed under QEMU
// user mode (the recordings in fixtures/python-net/expected): AF_UNIX stream,
// datagram and seqpacket sockets passing file descriptors, AF_INET and
// AF_INET6 TCP and UDP on the loopback, and http.server answering urllib in
// the same sandbox. The python3 rootfs is built from the machine's Debian
// mirror on first use and cached; without a mirror and a cache the suite is
// skipped, saying why.

import * as assert from 'node:assert/strict';
import * as path from 'node:path';
import { repoRoot } from '../util/bundle.js';
import { tsvisor } from './run-util.js';

interface Harness {
  TSVISOR_ARGS: string[];
  TIMEOUT_MS: number;
  scriptNames(): string[];
  script(name: string): Buffer;
  loadExpected(name: string): { exit: number; stdout: string; stderr: string };
  pythonRootfs(): Promise<string>;
  compare(expected: { exit: number; stdout: string; stderr: string }, got: { exit: number; stdout: Buffer; stderr: Buffer }): string | null;
}

// eslint-disable-next-line @typescript-eslint/no-require-imports
const harness = require(path.join(repoRoot(), 'fixtures', 'python-net', 'harness.js')) as Harness;

describe('python3 networking programs (fixtures/python-net) give what QEMU gave', function () {
  this.timeout(harness.TIMEOUT_MS + 60000);
  let unavailable: string | null = null;

  before(async function () {
    this.timeout(600000);
    try {
      await harness.pythonRootfs();
    } catch (e) {
      unavailable = (e as Error).message;
    }
  });

  for (const name of harness.scriptNames()) {
    it(name, async function () {
      if (unavailable) {
        // No python3 rootfs: the machine's Debian mirror cannot be reached and nothing is cached.
        console.log(`      skipped: no python3 rootfs (${unavailable})`);
        this.skip();
      }
      const r = await tsvisor(harness.TSVISOR_ARGS, harness.script(name), harness.TIMEOUT_MS);
      assert.equal(harness.compare(harness.loadExpected(name), { exit: r.code, stdout: r.stdout, stderr: r.stderr }), null);
    });
  }
});
