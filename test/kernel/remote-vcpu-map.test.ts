// The kernel's RemoteVcpu (src/kernel/vcpus.ts) keeps one V8 map when it is
// first handed a thread: run() stores performance.now(), a double, in
// runSince. From a small integer first, that store changed the field's
// representation, deprecated the class's map and threw away the optimized
// code of ready() and its callers at the first hand-over, inside the 2-vCPU
// window of the scaling row (src/workers/README.md). V8's "same map" test
// needs --allow-natives-syntax, so the check runs in a child node.

import { strict as assert } from 'node:assert';
import { execFileSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';

describe('RemoteVcpu keeps its V8 map', () => {
  it('a RemoteVcpu whose run began (runSince = performance.now()) has the map of a fresh one', function () {
    this.timeout(60_000);
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'tsvisor-remote-map-'));
    try {
      // A worker entry that does nothing: the check needs the objects, not the workers.
      const entry = path.join(dir, 'idle.js');
      fs.writeFileSync(entry, '');
      const vcpus = path.join(__dirname, '..', '..', 'src', 'kernel', 'vcpus.js');
      const script = `
        const { RemoteVcpu } = require(${JSON.stringify(vcpus)});
        const make = (i) => new RemoteVcpu(i, ${JSON.stringify(entry)}, () => {}, () => {}, () => {});
        const a = make(1), b = make(2);
        a.runSince = performance.now();
        console.log(JSON.stringify({ same: %HaveSameMap(a, b), fresh: b.runSince }));
        a.terminate();
        b.terminate();`;
      const out = execFileSync(process.execPath, ['--allow-natives-syntax', '-e', script], { encoding: 'utf8' });
      assert.deepEqual(JSON.parse(out), { same: true, fresh: 0 });
    } finally {
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });
});
