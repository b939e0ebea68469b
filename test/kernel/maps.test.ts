// The kernel's objects keep one V8 map when their counters, guest addresses
// and offsets take the values real programs give them (above 2^31, or heap
// numbers decoded from registers): a field that started as a small integer
// changes representation then, which deprecates the class's maps and throws
// away the optimized code using them (src/kernel/README.md, "Decision: no map
// deprecations in the kernel's classes"). `%HaveSameMap` needs
// --allow-natives-syntax, so the check runs in a child node with that flag,
// as test/vcpu/maps.test.ts does for the vCPU's objects.

import { strict as assert } from 'node:assert';
import { execFileSync } from 'node:child_process';
import * as path from 'node:path';

describe('kernel objects keep their V8 maps', () => {
  it('Task, Process, Kernel, MemoryAccount, MemoryManager, VMAs, sigactions and tmpfs files given values above 2^31 keep the map of fresh ones', function () {
    this.timeout(60_000);
    const dir = path.join(__dirname, '..', '..', 'src');
    const req = (p: string) => `require(${JSON.stringify(path.join(dir, p))})`;
    const script = `
      const { Task, Process } = ${req('kernel/task.js')};
      const { Kernel } = ${req('kernel/kernel.js')};
      const { MemoryAccount, MemoryManager } = ${req('kernel/mm.js')};
      const { Tmpfs } = ${req('kernel/filesystems/tmpfs.js')};
      const { GuestMemory } = ${req('vcpu/memory.js')};
      const high = 0xe0000000, big = 2 ** 33, out = {};
      const same = (name, a, b) => (out[name] = %HaveSameMap(a, b));

      const creds = { ruid: 0, euid: 0, suid: 0, rgid: 0, egid: 0, sgid: 0, groups: [], caps: {}, keepCaps: false };
      const proc = () => new Process(1, 0, {}, {}, {}, {}, creds, []);
      const p1 = proc(), p2 = proc();
      p1.deadInstructions = big; p1.childInstructions = big; p1.endTime = Date.now(); p1.exitStatus = 0;
      same('Process', p1, p2);
      const t1 = new Task(1, p1), t2 = new Task(2, p2);
      t1.clearChildTid = high; t1.robustList = high; t1.robustListLen = 24; t1.instructions = big;
      same('Task', t1, t2);
      p1.sigactions[10].handler = high; p1.sigactions[10].flags = big;
      same('SigAction', p1.sigactions[10], p2.sigactions[11]);

      const config = { hostname: 't', totalMemory: 2 ** 32, cpuNum: 1, vcpuWorkerEntry: '', creds, rlimits: [], umask: 0o22 };
      const k1 = new Kernel(config, {}, {}, () => -1), k2 = new Kernel(config, {}, {}, () => -1);
      k1.exitedInstructions = big;
      same('Kernel', k1, k2);
      const a1 = new MemoryAccount(2 ** 34), a2 = new MemoryAccount(2 ** 34);
      a1.charge(big);
      same('MemoryAccount', a1, a2);

      const mem = GuestMemory.create();
      const m1 = new MemoryManager(mem, a2, () => {}), m2 = new MemoryManager(mem, a2, () => {});
      m1.brkStart = m1.brkEnd = high;
      same('MemoryManager', m1, m2);
      // Two address spaces, so that nothing touches the low mapping after the high one is made (an IC that
      // touches an object moves it off a deprecated map, which would hide the deprecation).
      const m3 = new MemoryManager(mem, a2, () => {});
      if (m2.mapFixed(0x10000, 0x1000, 3, 'low') !== 0 || m3.mapFixed(0xe0000000, 0x1000, 3, 'high') !== 0) throw new Error('mapFixed failed');
      same('Vma', m2.mappings()[0], m3.mappings()[0]);

      const fs = new Tmpfs(new MemoryAccount(2 ** 34), { mode: 0o1777 });
      const root = { uid: 0, gid: 0, groups: [], caps: { effective: -1n } };
      const f1 = fs.root.create('a', 0o102, 0o644, root, '/a'), f2 = fs.root.create('b', 0o102, 0o644, root, '/b');
      if (typeof f1.lseek !== 'function') throw new Error('create failed: ' + JSON.stringify(f1));
      f1.pwrite(Buffer.from('x'), 24 + 0 * big);
      f1.lseek(big, 0);
      same('TmpOpenFile', f1, f2);
      same('TmpFile', f1.inode, f2.inode);

      // Fresh objects still start at 0 (the constructors replace AS_DOUBLE).
      out.zero = [t2.clearChildTid, t2.robustList, t2.robustListLen, t2.instructions, p2.deadInstructions, p2.childInstructions,
        p2.endTime, k2.exitedInstructions, new MemoryAccount(1).used, m2.brkStart, m2.brkEnd, p2.sigactions[1].handler, p2.sigactions[1].flags,
        f2.inode.getattr().size, f2.lseek(0, 1)].every((v) => Object.is(v, 0));
      console.log(JSON.stringify(out));`;
    const res = execFileSync(process.execPath, ['--allow-natives-syntax', '-e', script], { encoding: 'utf8' });
    const got = JSON.parse(res.trim().split('\n').pop() as string) as Record<string, boolean>;
    const names = ['Process', 'Task', 'SigAction', 'Kernel', 'MemoryAccount', 'MemoryManager', 'Vma', 'TmpOpenFile', 'TmpFile', 'zero'];
    assert.deepEqual(got, Object.fromEntries(names.map((n) => [n, true])));
  });
});
