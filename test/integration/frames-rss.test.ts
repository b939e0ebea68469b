// Freed frames go back to the host under `tsvisor run` (src/kernel/frames.ts,
// given back with madvise, which boot's seccomp allowlist must let through):
// a busybox guest fills 64 MiB of /dev/shm (tmpfs pages are frames of the
// pool), then removes the file; boot's resident size falls by most of it
// (a moment later: the give-back waits frames.ts GIVE_BACK_DELAY_MS).
// Pages written afterwards reuse frames given back, and the bytes the guest
// did not write in them read as zeros.

import { strict as assert } from 'node:assert';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { bundleOver, descendants, launchRun, stateDir } from '../../bench/density-launch.js';
import { rssKb } from '../../bench/boot-launch.js';
import { makeSpec } from '../util/bundle.js';
import { layoutBusyboxRootfs } from '../../src/debian/busybox-rootfs.js';
import { repoRoot } from '../util/bundle.js';

const BUSYBOX = path.join(repoRoot(), 'fixtures', 'busybox', 'busybox');

/** The pid of the `tsvisor boot` process under `pid` (found by its command line: the node process, not a launcher shell's), or undefined. */
function bootUnder(pid: number): number | undefined {
  let found: number | undefined;
  for (const p of descendants(pid)) {
    try {
      if (fs.readFileSync(`/proc/${p}/cmdline`, 'utf8').split('\0').includes('boot') && (found === undefined || rssKb(p) > rssKb(found))) found = p;
    } catch {
      // gone meanwhile
    }
  }
  return found;
}

describe('frames given back under tsvisor run', function () {
  this.timeout(300_000);
  let dir = '';
  let root = '';
  let bundle = '';

  before(function () {
    if (!fs.existsSync(BUSYBOX)) this.skip();
    dir = fs.mkdtempSync('/tmp/tsvisor-frames-');
    layoutBusyboxRootfs(path.join(dir, 'rootfs'), BUSYBOX);
    root = stateDir();
    const script = [
      'dd if=/dev/zero bs=65536 count=1024 2>/dev/null | tr "\\000" x > /dev/shm/big',
      'echo full; read a',
      'rm /dev/shm/big; echo freed; read a',
      // 8 MiB of new pages take the frames kept committed, and more; then three pages written only at their ends.
      'dd if=/dev/zero bs=65536 count=128 2>/dev/null | tr "\\000" y > /dev/shm/again',
      'for k in 0 1 2; do printf abc | dd of=/dev/shm/t bs=1 seek=$((k * 4096 + 4093)) conv=notrunc 2>/dev/null; done',
      'echo "size $(wc -c < /dev/shm/t) rest $(tr -d "\\000" < /dev/shm/t)"',
    ].join('\n');
    bundle = bundleOver(path.join(dir, 'rootfs'), ['/bin/sh', '-c', script], ['PATH=/bin:/sbin:/usr/bin'], makeSpec({ args: ['/bin/sh'] }));
  });
  after(() => {
    for (const d of [dir, root, bundle]) if (d) fs.rmSync(d, { recursive: true, force: true });
  });

  it("a guest's 64 MiB of tmpfs, removed, leaves boot's RSS down; reused frames read zeros where unwritten", async () => {
    const l = launchRun(root, bundle, `frames-${process.pid}`);
    try {
      await l.waitFor('full\n', 240_000);
      const boot = bootUnder(l.child.pid!);
      assert.ok(boot, 'boot process found');
      const full = rssKb(boot);
      l.child.stdin!.write('\n');
      await l.waitFor('freed\n', 60_000);
      // The give-back runs a moment after the frees (frames.ts GIVE_BACK_DELAY_MS): watched until RSS falls, or 60 s.
      let freed = rssKb(boot);
      for (const end = Date.now() + 60_000; full - freed < 32 * 1024 && Date.now() < end; freed = rssKb(boot)) await new Promise((r) => setTimeout(r, 100));
      l.child.stdin!.write('\n');
      l.child.stdin!.end();
      const status = await l.exited;
      assert.equal(status, 0, l.stderr());
      assert.equal(l.stdout(), 'full\nfreed\nsize 12288 rest abcabcabc\n');
      // 64 MiB held, then given back but for the 5 MiB the allocator keeps; half of it is a wide margin for the heaps' moves.
      assert.ok(full - freed >= 32 * 1024, `boot's RSS ${full} -> ${freed} kB`);
    } finally {
      if (l.child.exitCode === null && l.child.signalCode === null) l.child.kill('SIGKILL');
    }
  });
});
