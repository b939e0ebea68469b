// --debug-log as runsc reads it: a file, or a directory (ending in '/') that
// gets a file per command, with %TIMESTAMP% and %COMMAND% replaced.
import * as assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { debugLogFile } from '../../src/main/common.js';
import { makeBundle, removeBundle } from '../util/bundle.js';
import { stateRoot, tsvisor } from '../integration/run-util.js';

describe('--debug-log', function () {
  this.timeout(120_000);

  it('names a file per command in a directory, and replaces %TIMESTAMP% and %COMMAND%', () => {
    const at = new Date(2026, 11, 3, 9, 5, 7, 42);
    assert.match(debugLogFile('/var/log/ts/', 'boot', at), /^\/var\/log\/ts\/tsvisor\.20261203-090507\.042\d{3}\.boot\.log$/);
    assert.match(debugLogFile('/l/%COMMAND%-%TIMESTAMP%.txt', 'gofer', at), /^\/l\/gofer-20261203-090507\.042\d{3}\.txt$/);
    assert.equal(debugLogFile('/l/plain.log', 'run', at), '/l/plain.log');
    assert.equal(debugLogFile('', 'run', at), '');
  });

  it("gives boot a log file of its own in a directory given with a trailing '/'", async () => {
    const bundle = makeBundle({ args: ['/bin/hello'] });
    const logs = fs.mkdtempSync(path.join(os.tmpdir(), 'tsvisor-debug-logs-'));
    const root = stateRoot();
    try {
      const r = await tsvisor(['--root', root, '--debug', '--debug-log', logs + '/', 'run', '--bundle', bundle, 'dl1']);
      assert.equal(r.code, 0, r.stderr.toString());
      assert.match(r.stdout.toString(), /hello from riscv64/);
      const boot = fs.readdirSync(logs).filter((f) => /^tsvisor\.\d{8}-\d{6}\.\d{6}\.boot\.log$/.test(f));
      assert.equal(boot.length, 1, `files: ${fs.readdirSync(logs).join(', ')}`);
      assert.match(fs.readFileSync(path.join(logs, boot[0]), 'utf8'), /init exited with wait status 0/);
    } finally {
      removeBundle(bundle);
      fs.rmSync(logs, { recursive: true, force: true });
      fs.rmSync(root, { recursive: true, force: true });
    }
  });

  it('says in one line that a directory given without the slash is not a file', async () => {
    const bundle = makeBundle({ args: ['/bin/hello'] });
    const logs = fs.mkdtempSync(path.join(os.tmpdir(), 'tsvisor-debug-logs-'));
    const root = stateRoot();
    try {
      const r = await tsvisor(['--root', root, '--debug-log', logs, 'run', '--bundle', bundle, 'dl2']);
      assert.equal(r.code, 128);
      const err = r.stderr.toString();
      assert.match(err, /^tsvisor: cannot open the debug log .*EISDIR/m);
      assert.doesNotMatch(err, /internal error|\n\s+at /);
    } finally {
      removeBundle(bundle);
      fs.rmSync(logs, { recursive: true, force: true });
      fs.rmSync(root, { recursive: true, force: true });
    }
  });
});
