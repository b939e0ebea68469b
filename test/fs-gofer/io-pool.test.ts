// The gofer's I/O pool: small transfers inline without loading the pool,
// large ones through piscina's workers, made at the first such transfer.

import * as assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import * as path from 'node:path';

describe('IoPool', () => {
  it('loads piscina only at the first transfer too large to run inline, and both kinds read right', function () {
    this.timeout(60_000);
    const ioPool = path.join(__dirname, '..', '..', 'src', 'fs-gofer', 'io-pool.js');
    const script = `
      const fs = require('node:fs'), os = require('node:os'), path = require('node:path');
      const { IoPool } = require(${JSON.stringify(ioPool)});
      const loaded = () => Object.keys(require.cache).some((k) => k.includes('/piscina/'));
      const file = path.join(fs.mkdtempSync(path.join(os.tmpdir(), 'tsvisor-io-pool-')), 'data');
      const data = Buffer.alloc(1 << 20, 0); for (let i = 0; i < data.length; i++) data[i] = (i * 7) & 0xff;
      fs.writeFileSync(file, data);
      const fd = fs.openSync(file, 'r');
      (async () => {
        const pool = new IoPool({ threads: 1 });
        const small = await pool.read(fd, 100, 4096);
        const before = loaded();
        const large = await pool.read(fd, 0, data.length);
        const after = loaded();
        await pool.close();
        fs.closeSync(fd);
        fs.rmSync(path.dirname(file), { recursive: true });
        console.log(JSON.stringify({ before, after, small: Buffer.compare(Buffer.from(small), data.subarray(100, 4196)) === 0, large: Buffer.compare(Buffer.from(large), data) === 0 }));
      })();`;
    const r = spawnSync(process.execPath, ['-e', script], { encoding: 'utf8' });
    assert.equal(r.status, 0, r.stderr);
    assert.deepEqual(JSON.parse(r.stdout), { before: false, after: true, small: true, large: true });
  });
});
