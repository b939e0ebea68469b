// `tsvisor syscalls`: the listing is the dispatcher's own table.

import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import * as path from 'node:path';
import { syscallListing, syscallsCommand } from '../../src/main/syscalls-cmd.js';
import { SYSCALLS } from '../../src/kernel/syscalls/table.js';
import { repoRoot } from '../util/bundle.js';

describe('main/syscalls-cmd: tsvisor syscalls', () => {
  it('lists every row of the table once, in number order, with the errno and reason of unsupported calls', async () => {
    const rows = await syscallListing();
    assert.equal(rows.length, SYSCALLS.length);
    assert.deepEqual(rows.map((r) => r.nr), [...new Set(SYSCALLS.map((r) => r.nr))].sort((a, b) => a - b));
    assert.deepEqual(rows.find((r) => r.name === 'write'), { nr: 64, name: 'write', supported: true });
    const reboot = rows.find((r) => r.name === 'reboot')!;
    assert.equal(reboot.supported, false);
    assert.equal(reboot.errno, 'EPERM');
    assert.match(reboot.reason!, /host/);
  });

  it('prints a table, or JSON with --json', async () => {
    let text = '';
    assert.equal(await syscallsCommand({ json: false }, [], (s) => (text += s)), 0);
    assert.match(text, /^ 64 {2}write +supported$/m);
    assert.match(text, /^\d+ supported, \d+ answered with an errno; any other number returns ENOSYS$/m);
    let json = '';
    await syscallsCommand({ json: true }, [], (s) => (json += s));
    assert.deepEqual(JSON.parse(json), await syscallListing());
  });

  it('from the command line; an extra argument is a usage error (exit 128)', () => {
    const bin = path.join(repoRoot(), 'bin', 'tsvisor');
    const ok = spawnSync(process.execPath, [bin, 'syscalls', '--json'], { encoding: 'utf8' });
    assert.equal(ok.status, 0, ok.stderr);
    assert.equal(JSON.parse(ok.stdout).length, SYSCALLS.length);
    const bad = spawnSync(process.execPath, [bin, 'syscalls', 'x'], { encoding: 'utf8' });
    assert.equal(bad.status, 128);
    assert.match(bad.stderr, /^tsvisor: unexpected argument "x"\n/);
  });
});
