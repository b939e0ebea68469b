// Spare skeletons (src/debian/skeleton-spare.ts): a run's skeleton is kept
// for a later run only when nothing in it changed: every way of changing an
// entry shows in its change time, and such a tree is removed.

import * as assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { busyboxSkeleton, isBusyboxSkeleton, layoutBusyboxSkeleton } from '../../src/debian/busybox-rootfs.js';
import { keepOrRemove, MAX_SPARES, sparesDir, takeSkeleton, untouched } from '../../src/debian/skeleton-spare.js';

describe('do: spare skeletons (skeleton-spare.ts)', function () {
  this.timeout(30000);
  let dir: string;
  let cache: string;
  beforeEach(() => {
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'tsvisor-spare-'));
    cache = path.join(dir, 'cache');
  });
  afterEach(() => fs.rmSync(dir, { recursive: true, force: true }));

  it('lays out a fresh skeleton, keeps it untouched, and gives it to the next run', () => {
    const first = takeSkeleton(cache, path.join(dir, 'run1'));
    assert.ok(first);
    assert.ok(isBusyboxSkeleton(first.path));
    assert.equal(first.entries.length, busyboxSkeleton().length);
    assert.ok(untouched(first));
    const ino = fs.statSync(first.path).ino;
    keepOrRemove(first);
    assert.equal(fs.existsSync(first.path), false);
    assert.equal(fs.readdirSync(sparesDir(cache)).length, 1);
    const second = takeSkeleton(cache, path.join(dir, 'run2'));
    assert.ok(second);
    assert.equal(fs.statSync(second.path).ino, ino, 'the spare, not a new one');
    assert.deepEqual(fs.readdirSync(sparesDir(cache)), []);
    assert.ok(untouched(second), 'identities recorded after the take');
  });

  const changes: [string, (root: string) => void][] = [
    ['a file written', (r) => fs.appendFileSync(path.join(r, 'etc/passwd'), 'x:x:5:5::/:/bin/sh\n')],
    ['a file truncated', (r) => fs.truncateSync(path.join(r, 'etc/hostname'), 0)],
    ['a file rewritten with the same bytes', (r) => fs.writeFileSync(path.join(r, 'etc/group'), fs.readFileSync(path.join(r, 'etc/group')))],
    ['a mode changed', (r) => fs.chmodSync(path.join(r, 'tmp'), 0o777)],
    ['times set back to their own values', (r) => {
      const st = fs.statSync(path.join(r, 'etc/passwd'));
      fs.utimesSync(path.join(r, 'etc/passwd'), st.atime, st.mtime);
    }],
    ['a file added in /tmp', (r) => fs.writeFileSync(path.join(r, 'tmp/left'), 'secret')],
    ['a directory made and removed again', (r) => {
      fs.mkdirSync(path.join(r, 'root/d'));
      fs.rmdirSync(path.join(r, 'root/d'));
    }],
    ['a hard link made elsewhere to a file', (r) => fs.linkSync(path.join(r, 'etc/passwd'), path.join(r, 'root/p'))],
    ['a link replaced by the same link', (r) => {
      fs.unlinkSync(path.join(r, 'sbin'));
      fs.symlinkSync('bin', path.join(r, 'sbin'));
    }],
    ['a file renamed away and back', (r) => {
      fs.renameSync(path.join(r, 'etc/passwd'), path.join(r, 'etc/p'));
      fs.renameSync(path.join(r, 'etc/p'), path.join(r, 'etc/passwd'));
    }],
  ];
  for (const [what, change] of changes) {
    it(`removes a skeleton with ${what}, keeping no spare`, () => {
      const k = takeSkeleton(cache, path.join(dir, 'run'));
      assert.ok(k);
      change(k.path);
      assert.equal(untouched(k), false);
      keepOrRemove(k);
      assert.equal(fs.existsSync(k.path), false);
      assert.deepEqual(fs.readdirSync(sparesDir(cache)), []);
    });
  }

  it('refuses a spare that is not exactly the skeleton, and lays out a fresh one', () => {
    for (const [name, spoil] of [
      ['extra', (r: string) => fs.writeFileSync(path.join(r, 'tmp/x'), '')],
      ['mode', (r: string) => fs.chmodSync(path.join(r, 'root'), 0o755)],
      ['content', (r: string) => fs.writeFileSync(path.join(r, 'etc/hostname'), 'other\n')],
    ] as const) {
      const spare = path.join(sparesDir(cache), name);
      layoutBusyboxSkeleton(spare);
      spoil(spare);
      const k = takeSkeleton(cache, path.join(dir, `run-${name}`));
      assert.ok(k && isBusyboxSkeleton(k.path), name);
      assert.deepEqual(fs.readdirSync(sparesDir(cache)), [], `${name}: taken and removed`);
      fs.rmSync(k.path, { recursive: true });
    }
  });

  it(`keeps at most ${MAX_SPARES} spares`, () => {
    const runs = Array.from({ length: MAX_SPARES + 2 }, (_, i) => takeSkeleton(cache, path.join(dir, `run${i}`))!);
    for (const k of runs) keepOrRemove(k);
    assert.equal(fs.readdirSync(sparesDir(cache)).length, MAX_SPARES);
    for (const k of runs) assert.equal(fs.existsSync(k.path), false);
  });

  it('without a cache that can hold spares, lays out a skeleton and keeps nothing', () => {
    fs.writeFileSync(path.join(dir, 'file'), '');
    const k = takeSkeleton(path.join(dir, 'file', 'cache'), path.join(dir, 'run'));
    assert.equal(k, undefined);
    assert.ok(isBusyboxSkeleton(path.join(dir, 'run')));
  });
});
