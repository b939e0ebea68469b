// A fleet on one host: eight sandboxes started at once with `tsvisor run`,
// each running a multi-threaded program on two vCPUs (so each sandbox holds
// its gofer, boot, boot's kernel worker and a vCPU worker), all on a host of
// two cores. Every one must print what QEMU printed (the recorded reference)
// and exit as it did, and once they have all exited no host process of any
// of them may remain: not a gofer, not a boot, not a confinement launcher.

import * as assert from 'node:assert/strict';
import * as fs from 'node:fs';
import { bundleOptionsFor, compareStream, loadCases, loadExpected, makeBundle, removeBundle } from '../util/bundle.js';
import { stateRoot, tsvisor } from './run-util.js';

/** Sandboxes started at once (issue 16's Done-when: eight, each with threads on two vCPUs). */
const FLEET = 8;
/** When a sandbox still running is taken for stuck (the fleet takes ~10 s on a quiet host, a few minutes under heavy load). */
const STUCK_MS = 300000;

/** Pids of the host processes whose command line mentions `word` (a container id or a bundle path). */
function processesMentioning(word: string): number[] {
  const found: number[] = [];
  for (const e of fs.readdirSync('/proc')) {
    if (!/^\d+$/.test(e) || Number(e) === process.pid) continue;
    try {
      if (fs.readFileSync(`/proc/${e}/cmdline`, 'latin1').includes(word)) found.push(Number(e));
    } catch {
      // gone meanwhile, or not ours to read
    }
  }
  return found;
}

describe('a fleet: eight sandboxes at once, threads on two vCPUs each', function () {
  this.timeout(600000);
  const root = stateRoot();
  after(() => fs.rmSync(root, { recursive: true, force: true }));

  it('every sandbox prints what QEMU printed, and none leaves a host process or state behind', async () => {
    // Two programs taken in turn: threads (mutex, atomics, join, TLS, rwlock,
    // a producer/consumer queue on 8 threads) and parallel (4 threads hashing).
    const cases = ['threads', 'parallel'].map((name) => loadCases().find((c) => c.name === name)!);
    const members = Array.from({ length: FLEET }, (_, i) => {
      const c = cases[i % cases.length];
      return { c, id: `fleet-${process.pid}-${i}-${c.name}`, bundle: makeBundle(bundleOptionsFor(c)) };
    });
    try {
      const exited = new Set<string>();
      const runs = members.map((m) => tsvisor(['--root', root, 'run', '--bundle', m.bundle, '--cpu-num', '2', m.id], Buffer.alloc(0), 540000).finally(() => exited.add(m.id)));
      // A sandbox still running long after the others is stuck: its thread
      // dump goes to the test's output before run's time limit ends it, so a
      // rare hang leaves what its threads waited for.
      const watchdog = setTimeout(() => {
        for (const m of members.filter((m) => !exited.has(m.id))) {
          void tsvisor(['--root', root, 'debug', '--stacks', m.id]).then((d) => console.error(`${m.id} still runs after ${STUCK_MS / 1000} s; its thread dump:\n${d.stdout}${d.stderr}`));
        }
      }, STUCK_MS);
      const results = await Promise.all(runs).finally(() => clearTimeout(watchdog));
      members.forEach((m, i) => {
        const r = results[i];
        assert.equal(r.code, loadExpected(m.c).exit, `${m.id}: ${r.stderr.toString()}`);
        assert.equal(compareStream(m.c, 'stdout', r.stdout), null, m.id);
      });
      // run exits after boot and the gofer have (src/main/oci/launch.ts); allow
      // a moment for an orphan to show itself before looking.
      await new Promise((r) => setTimeout(r, 300));
      for (const m of members) {
        assert.deepEqual(processesMentioning(m.id), [], `${m.id}: host processes left`);
        assert.deepEqual(processesMentioning(m.bundle), [], `${m.id}: host processes of its bundle left`);
      }
      assert.deepEqual(fs.readdirSync(root).filter((e) => members.some((m) => e.includes(m.id))), [], 'container state left under --root');
    } finally {
      for (const m of members) removeBundle(m.bundle);
    }
  });
});
