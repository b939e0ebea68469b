// Many vCPUs: multi-threaded fixtures give QEMU's output with --cpu-num 1, 2
// and 4, and killing the sandbox while threads spin on vCPU workers ends it
// promptly. tearing would catch aligned 8-byte accesses split in two on vCPUs
// running in parallel (it did, before Cpu.mt); sigrace a signal lost when it
// landed as its thread entered a futex wait on another vCPU (it was, before
// the dispatcher checked for one pending: 8 runs of 8 hung); futexv has futex_waitv woken
// from another thread; goroutines is the Go runtime (its own threads,
// futexes and preemption signals) on each vCPU count.

import * as assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { spawn } from 'node:child_process';
import { bundleOptionsFor, compareStream, loadCases, loadExpected, makeBundle, removeBundle } from '../util/bundle.js';
import { stateRoot, tsvisor, TSVISOR } from './run-util.js';

describe('vCPU workers (--cpu-num)', function () {
  this.timeout(180000);
  const root = stateRoot();
  after(() => fs.rmSync(root, { recursive: true, force: true }));
  const cases = loadCases().filter((c) => ['threads', 'threads-64', 'parallel', 'exitgroup-thread', 'tearing', 'sigrace', 'lockfree', 'futexv', 'goroutines'].includes(c.name));

  for (const cpus of [1, 2, 4]) {
    for (const c of cases) {
      it(`${c.name} with --cpu-num ${cpus} prints what QEMU printed`, async () => {
        const bundle = makeBundle(bundleOptionsFor(c));
        try {
          const r = await tsvisor(['--root', root, 'run', '--bundle', bundle, '--cpu-num', String(cpus), `${c.name}-${cpus}`]);
          const exp = loadExpected(c);
          assert.equal(r.code, exp.exit, r.stderr.toString());
          assert.equal(compareStream(c, 'stdout', r.stdout), null);
        } finally {
          removeBundle(bundle);
        }
      });
    }
  }

  it('boots no vCPU worker for a program that never clones, and the spare from its first clone, handed threads only once started (boot\'s debug log)', async () => {
    const startedIn = async (opts: Parameters<typeof makeBundle>[0], id: string): Promise<string[]> => {
      const bundle = makeBundle(opts);
      const logs = fs.mkdtempSync(path.join(os.tmpdir(), 'tsvisor-vcpu-log-'));
      try {
        const r = await tsvisor(['--root', root, '--debug', '--debug-log', logs + '/', 'run', '--bundle', bundle, '--cpu-num', '2', id]);
        assert.equal(r.code, 0, r.stderr.toString());
        const text = fs.readdirSync(logs).filter((f) => f.includes('.boot.')).map((f) => fs.readFileSync(path.join(logs, f), 'utf8')).join('');
        assert.match(text, /init exited/, 'the boot log was read');
        return text.split('\n').filter((l) => / worker started|: first thread |KERNEL BUG/.test(l));
      } finally {
        removeBundle(bundle);
        fs.rmSync(logs, { recursive: true, force: true });
      }
    };
    assert.deepEqual(await startedIn({ args: ['/bin/hello'] }, 'no-clone'), []);
    const threads = loadCases().find((c) => c.name === 'threads')!;
    const lines = await startedIn(bundleOptionsFor(threads), 'clones');
    // A thread is never handed to a worker before it says it started (RemoteVcpu.run logs a KERNEL BUG if one is);
    // whether one is handed at all depends on how long the threads run meanwhile on vCPU 0.
    assert.ok(lines.length === 1 || lines.length === 2, lines.join('\n'));
    assert.match(lines[0], /vCPU 1: worker started/);
    if (lines.length === 2) assert.match(lines[1], /vCPU 1: first thread \d+, [\d.]+ ms after its worker was created/);
  });

  it('the guest sees --cpu-num CPUs (sysconf, get_nprocs, affinity, /sys), and may narrow its affinity', async () => {
    const bundle = makeBundle({ args: ['/bin/cpus'] });
    try {
      const r = await tsvisor(['--root', root, 'run', '--bundle', bundle, '--cpu-num', '3', 'cpus-3']);
      assert.equal(r.code, 0, r.stderr.toString());
      assert.equal(r.stdout.toString(), 'onln 3 conf 3 nprocs 3\naffinity 3\nonline 0-2\nsetaffinity 0, now 1\ngetcpu 0 node 0 cpu valid yes\n');
    } finally {
      removeBundle(bundle);
    }
  });

  it("takes the vCPU count from the spec's linux.resources.cpu (cpuset, else quota/period) when --cpu-num is not given", async () => {
    for (const [cpu, want] of [[{ cpus: '0-1,3' }, 3], [{ quota: 150000, period: 100000 }, 2]] as const) {
      const bundle = makeBundle({ args: ['/bin/cpus'] });
      try {
        const file = path.join(bundle, 'config.json');
        const cfg = JSON.parse(fs.readFileSync(file, 'utf8'));
        cfg.linux.resources = { cpu };
        fs.writeFileSync(file, JSON.stringify(cfg));
        const r = await tsvisor(['--root', root, 'run', '--bundle', bundle, `cpus-spec-${want}`]);
        assert.equal(r.code, 0, r.stderr.toString());
        assert.match(r.stdout.toString(), new RegExp(`^onln ${want} conf ${want} nprocs ${want}\n`));
      } finally {
        removeBundle(bundle);
      }
    }
  });

  it('ends promptly when killed while threads spin on every vCPU', async () => {
    const bundle = makeBundle({ args: ['/bin/parallel', '4', '100000000'] });
    try {
      const run = spawn(TSVISOR, ['--root', root, 'run', '--bundle', bundle, '--cpu-num', '4', 'spinning'], { stdio: ['ignore', 'pipe', 'pipe'] });
      const exited = new Promise<number>((resolve) => run.on('exit', (code, sig) => resolve(code ?? 128 + (sig ? os.constants.signals[sig] : 0))));
      await new Promise((r) => setTimeout(r, 3000));
      const t0 = Date.now();
      run.kill('SIGTERM');
      assert.equal(await exited, 143);
      assert.ok(Date.now() - t0 < 5000, `took ${Date.now() - t0} ms`);
    } finally {
      removeBundle(bundle);
    }
  });
});
