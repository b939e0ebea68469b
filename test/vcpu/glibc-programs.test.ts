import { strict as assert } from 'node:assert';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { memory } from './asm.js';
import { runElf } from './elf.js';
import { describeEngines } from './engines.js';

// Static glibc programs from fixtures/bin (built by fixtures/build.sh), run on
// the vCPU with a test-side loader and a minimal syscall shim (test/vcpu/elf.ts),
// must print exactly what they printed under QEMU (fixtures/expected/*.json).
const ROOT = path.join(__dirname, '..', '..', '..', 'fixtures');

function expected(name: string): { stdout: string; exit: number } {
  return JSON.parse(fs.readFileSync(path.join(ROOT, 'expected', `${name}.json`), 'utf8'));
}

describeEngines('vcpu runs static glibc programs', () => {
  it('hello prints its greeting and argv, as under QEMU', () => {
    const r = runElf(memory(), path.join(ROOT, 'bin', 'hello'), ['/bin/hello'], ['PATH=/bin']);
    assert.equal(r.signal, null);
    assert.equal(r.stdout, expected('hello').stdout);
    assert.equal(r.exit, 0);
  });

  it('fpprint (printf/strtod/libm, all rounding modes, fflags, conversions) prints what it printed under QEMU', () => {
    const r = runElf(memory(), path.join(ROOT, 'bin', 'fpprint'), ['/bin/fpprint'], ['PATH=/bin']);
    assert.equal(r.signal, null);
    assert.equal(r.stdout, expected('fpprint').stdout);
    assert.equal(r.exit, 0);
  });

  it('compute (hash, qsort, matmul with fmadd.d, sieve; ~83M instructions) produces the same checksums', function () {
    this.timeout(120_000);
    const r = runElf(memory(), path.join(ROOT, 'bin', 'compute'), ['/bin/compute'], ['PATH=/bin']);
    assert.equal(r.signal, null);
    assert.equal(r.stdout, expected('compute').stdout);
    assert.equal(r.exit, 0);
  });
});
