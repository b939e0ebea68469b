// The vCPU's objects keep one V8 map when their pc and address fields take
// values above 2^31, as every program's do (state.ts AS_DOUBLE): a field
// whose first value was a small integer changes representation then, which
// deprecates the class's map and throws away the optimizing compiles in
// flight that use it (the interpreter's, right after the warm-up). V8's
// own test for "same map" (`%HaveSameMap`) needs --allow-natives-syntax,
// so the check runs in a child node with that flag.

import { strict as assert } from 'node:assert';
import { execFileSync } from 'node:child_process';
import * as path from 'node:path';

describe('vcpu objects keep their V8 maps', () => {
  it('a Cpu, its ThreadState, FaultInfo and shared-page helper given pcs and addresses above 2^31 keep the map of fresh ones', function () {
    this.timeout(60_000);
    const dir = path.join(__dirname, '..', '..', 'src', 'vcpu');
    const script = `
      const { Cpu } = require(${JSON.stringify(path.join(dir, 'cpu.js'))});
      const { GuestMemory } = require(${JSON.stringify(path.join(dir, 'memory.js'))});
      Cpu.warmUpFirst = false;
      const m = GuestMemory.create();
      const a = new Cpu(m, undefined, { engine: 'interp' }), b = new Cpu(m, undefined, { engine: 'interp' });
      const high = 0xe0000004;
      a.npc = high; a.instret = 2 ** 33; a.resAddr = high; a.state.pc = high; a.fault.addr = high;
      a.shared.next = high; a.shared.badAddr = high;
      console.log(JSON.stringify([%HaveSameMap(a, b), %HaveSameMap(a.state, b.state), %HaveSameMap(a.fault, b.fault),
        %HaveSameMap(a.shared, b.shared), a.instret === 2 ** 33, [b.instret, b.npc, b.state.pc, b.fault.addr].every((v) => Object.is(v, 0))]));`;
    const out = execFileSync(process.execPath, ['--allow-natives-syntax', '-e', script], { encoding: 'utf8' });
    const [cpu, state, fault, shared, kept, zero] = JSON.parse(out) as boolean[];
    // zero: a fresh object's fields still start at 0, not AS_DOUBLE or -0 (the constructors set them).
    assert.deepEqual({ cpu, state, fault, shared, kept, zero }, { cpu: true, state: true, fault: true, shared: true, kept: true, zero: true });
  });
});
