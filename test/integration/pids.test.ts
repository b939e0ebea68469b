// Limits that protect the host: the spec's pids limit (a fork bomb ends in
// EAGAIN inside the sandbox) and --total-memory (allocations past it fail
// with ENOMEM in the guest; the host process does not grow past it).

import * as assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { makeBundle, removeBundle } from '../util/bundle.js';
import { stateRoot, tsvisor } from './run-util.js';

describe('pids limit (linux.resources.pids.limit)', function () {
  this.timeout(120000);
  const root = stateRoot();
  after(() => fs.rmSync(root, { recursive: true, force: true }));

  async function runForkbomb(limit: number | undefined, max: number): Promise<string> {
    const bundle = makeBundle({ args: ['/bin/forkbomb', String(max)] });
    try {
      if (limit !== undefined) {
        const file = path.join(bundle, 'config.json');
        const cfg = JSON.parse(fs.readFileSync(file, 'utf8'));
        cfg.linux.resources = { pids: { limit } };
        fs.writeFileSync(file, JSON.stringify(cfg));
      }
      const r = await tsvisor(['--root', root, 'run', '--bundle', bundle, `pids-${limit}-${max}`]);
      assert.equal(r.code, 0, r.stderr.toString());
      return r.stdout.toString();
    } finally {
      removeBundle(bundle);
    }
  }

  it('stops a fork bomb with EAGAIN at the limit (init counts), then every child is reaped', async () => {
    const out = await runForkbomb(32, 100000);
    assert.equal(out, 'forkbomb: 31 children, then fork failed with EAGAIN\nforkbomb: reaped 31\n');
  });

  it('without a limit, forks as many as asked', async () => {
    const out = await runForkbomb(undefined, 40);
    assert.equal(out, 'forkbomb: 40 children, reached 40\nforkbomb: reaped 40\n');
  });
});

describe('memory limit (--total-memory)', function () {
  this.timeout(120000);
  const root = stateRoot();
  after(() => fs.rmSync(root, { recursive: true, force: true }));

  it('refuses mappings past the cap with ENOMEM; brk and malloc fail too, and the sandbox exits cleanly', async () => {
    const bundle = makeBundle({ args: ['/bin/memhog'] });
    try {
      const r = await tsvisor(['--root', root, 'run', '--bundle', bundle, '--total-memory', String(256 << 20), 'memhog-256']);
      assert.equal(r.code, 0, r.stderr.toString());
      const lines = r.stdout.toString().split('\n');
      const m = /^memhog: (\d+) MiB mapped, then mmap failed with ENOMEM$/.exec(lines[0]);
      assert.ok(m, r.stdout.toString());
      // The program's own image, stack and heap take a few MiB of the 256.
      assert.ok(Number(m[1]) >= 192 && Number(m[1]) <= 256, lines[0]);
      assert.equal(lines[1], 'memhog: sbrk(64 MiB) ENOMEM');
      assert.equal(lines[2], 'memhog: malloc(64 MiB) ENOMEM');
    } finally {
      removeBundle(bundle);
    }
  });
});
