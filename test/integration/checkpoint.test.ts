// runsc's checkpoint and restore through the OCI verbs (docs/CHECKPOINT.md):
// a counting program with 32 MiB of state, a second thread and a pipe
// (fixtures/src/ckcount.c) is saved mid-run and carried on by a new sandbox
// (on another vCPU count) as if nothing happened; --leave-running keeps the
// original going; state without a restore half, and bad images, are refused
// with one line.

import * as assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { makeBundle, makeSpec, removeBundle, repoRoot } from '../util/bundle.js';
import { ensurePackageRootfs } from '../../src/debian/package-rootfs.js';
import { cacheDir } from '../../src/debian/deb-cache.js';
import { PY_ENV, PY_SERVER } from '../util/python-server.js';
import { spawnSync } from 'node:child_process';
import { stateRoot, tsvisor, TSVISOR } from './run-util.js';
import { create, oneLineError, stateOf, stopped, waitFor } from './oci-util.js';
import { decodeImage, IMAGE_FILE } from '../../src/kernel/checkpoint-image.js';

/** What ckcount writes when nothing interrupts it (recorded under QEMU). */
const EXPECTED = fs.readFileSync(path.join(repoRoot(), 'fixtures', 'expected', 'ckcount-file.txt'), 'utf8');

describe('tsvisor checkpoint and restore', function () {
  this.timeout(240000);
  const root = stateRoot();
  const images = fs.mkdtempSync(path.join(os.tmpdir(), 'tsvisor-ckpt-'));
  const bundles: string[] = [];
  after(async () => {
    for (const id of fs.existsSync(root) ? fs.readdirSync(root) : []) await tsvisor(['--root', root, 'delete', '--force', id]);
    fs.rmSync(root, { recursive: true, force: true });
    fs.rmSync(images, { recursive: true, force: true });
    for (const b of bundles) removeBundle(b);
  });

  /** A bundle running ckcount, appending to /count.txt of its rootfs (served by the gofer). */
  function counter(file = '/count.txt'): { bundle: string; out: string } {
    const bundle = makeBundle({ args: ['/bin/ckcount', file] });
    bundles.push(bundle);
    return { bundle, out: path.join(bundle, 'rootfs', 'count.txt') };
  }

  /** ckcount started with `run -d` on 2 vCPUs as container `id`, once it has written `lines` lines. */
  async function counting(id: string, lines: number): Promise<{ bundle: string; out: string; stdin: { end(): void } }> {
    const { bundle, out } = counter();
    const r = await create(root, bundle, id, ['--cpu-num', '2'], ['run', '-d']);
    assert.equal(r.code, 0, fs.readFileSync(r.errFile, 'utf8'));
    await atLeast(out, lines);
    return { bundle, out, stdin: r.stdin };
  }

  /** What the first test's program had written when it was saved. */
  let savedCount = '';
  const linesOf = (file: string) => (fs.existsSync(file) ? fs.readFileSync(file, 'utf8').split('\n').length - 1 : 0);
  const atLeast = (file: string, n: number) => waitFor(`${n} lines in ${file}`, async () => (linesOf(file) >= n ? true : undefined), 120000);

  it('a program saved mid-run on 2 vCPUs and restored on 1 writes every number once, in order, with the checksums of an uninterrupted run', async () => {
    const { bundle, out, stdin } = await counting('count', 8);
    const image = path.join(images, 'count');
    const c = await tsvisor(['--root', root, 'checkpoint', '--image-path', image, 'count']);
    assert.equal(c.code, 0, c.stderr.toString());
    // Saved, then ended: nothing more is written by the original.
    assert.equal((await stateOf(root, 'count')).status, 'stopped');
    const saved = fs.readFileSync(out, 'utf8');
    savedCount = saved;
    const savedLines = saved.split('\n').length - 1;
    assert.ok(savedLines >= 8 && savedLines < 60, `checkpointed mid-run (${savedLines} lines)`);
    assert.ok(EXPECTED.startsWith(saved), `the original's lines are the uninterrupted run's first ${savedLines}`);
    await new Promise((res) => setTimeout(res, 500));
    assert.equal(fs.readFileSync(out, 'utf8'), saved, 'the original is gone');
    assert.ok(fs.statSync(path.join(image, IMAGE_FILE)).size > 0);
    assert.equal((await tsvisor(['--root', root, 'delete', 'count'])).code, 0);

    const rr = await create(root, bundle, 'count', ['--cpu-num', '1'], ['restore', '-d', '--image-path', image]);
    assert.equal(rr.code, 0, fs.readFileSync(rr.errFile, 'utf8'));
    assert.equal((await stateOf(root, 'count')).status, 'running');
    await stopped(root, 'count');
    assert.equal(fs.readFileSync(out, 'utf8'), EXPECTED);
    assert.equal(fs.readFileSync(rr.errFile, 'utf8'), '');
    rr.stdin.end();
    stdin.end();
  });

  it('the same image restored again, into another bundle, without -d: restore waits for the program and exits with its status', async () => {
    assert.ok(savedCount, 'the first test saved its image');
    const { bundle, out } = counter();
    fs.writeFileSync(out, savedCount);
    const r = await tsvisor(['--root', root, 'restore', '--image-path', path.join(images, 'count'), '--bundle', bundle, 'again'], Buffer.alloc(0), 180000);
    assert.equal(r.code, 0, r.stderr.toString());
    assert.equal(fs.readFileSync(out, 'utf8'), EXPECTED);
    oneLineError(await tsvisor(['--root', root, 'state', 'again']), /container does not exist$/);
  });

  it('--leave-running saves the program and lets it carry on to its end', async () => {
    const { out, stdin } = await counting('leave', 5);
    const image = path.join(images, 'leave');
    const c = await tsvisor(['--root', root, 'checkpoint', '--leave-running', '--image-path', image, 'leave']);
    assert.equal(c.code, 0, c.stderr.toString());
    assert.equal((await stateOf(root, 'leave')).status, 'running');
    assert.ok(fs.statSync(path.join(image, IMAGE_FILE)).size > 0);
    await stopped(root, 'leave');
    assert.equal(fs.readFileSync(out, 'utf8'), EXPECTED);
    stdin.end();
  });

  it('state that cannot be saved fails the checkpoint with one line naming it, and the program runs on unharmed', async () => {
    const { out, stdin } = await counting('refused', 3);
    // A process started by exec holds stdio that ends with this sandbox: it has no restore half.
    // (Not through tsvisor(): exec -d keeps the stdio it passed open in the background, and that waits for them to close.)
    const e = spawnSync(TSVISOR, ['--root', root, 'exec', '-d', 'refused', '/bin/ckcount', '/dev/null', '60', '100'], { stdio: ['ignore', 'ignore', 'ignore'], timeout: 60000 });
    assert.equal(e.status, 0);
    const image = path.join(images, 'refused');
    const c = await tsvisor(['--root', root, 'checkpoint', '--image-path', image, 'refused']);
    oneLineError(c, /checkpoint does not support the stdio of a process started by exec \(stdin\)$/);
    assert.ok(!fs.existsSync(path.join(image, IMAGE_FILE)), 'no image is left behind');
    assert.equal((await stateOf(root, 'refused')).status, 'running');
    // Its threads were brought out of their system calls and let go again: nothing shows.
    await stopped(root, 'refused');
    assert.equal(fs.readFileSync(out, 'utf8'), EXPECTED);
    stdin.end();
  });

  it("a tmpfs's contents and a file open there travel in the image; the restored program appends to its file", async () => {
    const bundle = makeBundle({ args: ['/bin/ckcount', '/tmp/count.txt'], tmpfs: [{ destination: '/tmp', options: ['mode=1777'] }] });
    bundles.push(bundle);
    const r = await create(root, bundle, 'tmpfs', [], ['run', '-d']);
    assert.equal(r.code, 0, fs.readFileSync(r.errFile, 'utf8'));
    /** /tmp/count.txt as an image of the container holds it, after a checkpoint with `flags`. */
    const countIn = async (name: string, flags: string[]): Promise<string> => {
      const dir = path.join(images, name);
      const c = await tsvisor(['--root', root, 'checkpoint', ...flags, '--image-path', dir, 'tmpfs']);
      assert.equal(c.code, 0, c.stderr.toString());
      const t = decodeImage(fs.readFileSync(path.join(dir, IMAGE_FILE))).kernel.tmpfs.find((m) => m.at === '/tmp');
      const file = t?.root.type === 'dir' ? t.root.entries.find(([n]) => n === 'count.txt')?.[1] : undefined;
      return file?.type === 'file' ? Buffer.from(file.data, 'base64').toString() : '';
    };
    await waitFor('ckcount to write 3 lines in its tmpfs', async () => ((await countIn('tmpfs-probe', ['--leave-running'])).split('\n').length > 3 ? true : undefined), 120000);
    const saved = await countIn('tmpfs', []);
    assert.ok(EXPECTED.startsWith(saved) && saved.length > 0, saved);
    assert.equal((await tsvisor(['--root', root, 'delete', 'tmpfs'])).code, 0);
    const rr = await create(root, bundle, 'tmpfs', [], ['restore', '-d', '--image-path', path.join(images, 'tmpfs')]);
    assert.equal(rr.code, 0, fs.readFileSync(rr.errFile, 'utf8'));
    // The restored sandbox's /tmp holds what was saved, and the program goes on appending to it.
    const later = await waitFor('the restored ckcount to append', async () => {
      const t = await countIn('tmpfs-after', ['--leave-running']);
      return t.length > saved.length ? t : undefined;
    }, 120000);
    assert.ok(later.startsWith(saved) && EXPECTED.startsWith(later), later);
    await tsvisor(['--root', root, 'delete', '--force', 'tmpfs']);
    rr.stdin.end();
    r.stdin.end();
  });

  for (const kind of ['interval', 'POSIX'] as const) {
    it(`an armed ${kind} timer is saved with the time it had left and fires after the restore`, async () => {
      const bundle = makeBundle({ args: ['/bin/ckalarm', '/alarm.txt', '8', ...(kind === 'POSIX' ? ['posix'] : [])] });
      bundles.push(bundle);
      const id = `alarm-${kind.toLowerCase()}`;
      const out = path.join(bundle, 'rootfs', 'alarm.txt');
      const r = await create(root, bundle, id, [], ['run', '-d']);
      assert.equal(r.code, 0, fs.readFileSync(r.errFile, 'utf8'));
      await atLeast(out, 1);
      const image = path.join(images, id);
      const c = await tsvisor(['--root', root, 'checkpoint', '--image-path', image, id]);
      assert.equal(c.code, 0, c.stderr.toString());
      assert.equal(fs.readFileSync(out, 'utf8'), 'armed\n', 'saved before the timer fired (if this fails, the host was too slow for the 8 s timer)');
      assert.equal((await tsvisor(['--root', root, 'delete', id])).code, 0);
      const rr = await create(root, bundle, id, [], ['restore', '-d', '--image-path', image]);
      assert.equal(rr.code, 0, fs.readFileSync(rr.errFile, 'utf8'));
      // Without its timer the restored program would wait in pause() for ever.
      await stopped(root, id);
      assert.equal(fs.readFileSync(out, 'utf8'), 'armed\nalarm\n');
      rr.stdin.end();
      r.stdin.end();
    });
  }

  describe('bad images', () => {
    let good: Buffer;
    let bundle: string;
    before(() => {
      const file = path.join(images, 'count', IMAGE_FILE);
      if (!fs.existsSync(file)) throw new Error('the first test did not leave its image');
      good = fs.readFileSync(file);
      bundle = counter().bundle;
    });

    async function refused(name: string, bytes: Buffer | null, re: RegExp): Promise<void> {
      const dir = path.join(images, name);
      fs.mkdirSync(dir, { recursive: true });
      if (bytes) fs.writeFileSync(path.join(dir, IMAGE_FILE), bytes);
      const r = await tsvisor(['--root', root, 'restore', '-d', '--image-path', dir, '--bundle', bundle, name]);
      oneLineError(r, re);
      // Refused before any sandbox started.
      oneLineError(await tsvisor(['--root', root, 'state', name]), /container does not exist$/);
    }

    it('a truncated image', () => refused('trunc', good.subarray(0, good.length - 1000), /truncated image: \d+ bytes of payload, the header says \d+$/));
    it('an image cut inside its header', () => refused('trunchdr', good.subarray(0, 20), /truncated image: 20 bytes, shorter than its 56-byte header$/));
    it('an image of another format version', () => {
      const b = Buffer.from(good);
      b.writeUInt32LE(99, 8);
      return refused('version', b, /image format version 99, but this tsvisor reads version 1$/);
    });
    it('a bit flipped in the payload', () => {
      const b = Buffer.from(good);
      b[Math.floor(b.length / 2)] ^= 0x10;
      return refused('flip', b, /checksum mismatch: the image is corrupt$/);
    });
    it('a bit flipped in the checksum', () => {
      const b = Buffer.from(good);
      b[30] ^= 1;
      return refused('flipsum', b, /checksum mismatch: the image is corrupt$/);
    });
    it('a file that is no image', () => refused('foreign', Buffer.from('{"not": "an image"}\n'), /not a tsvisor checkpoint image \(bad magic\)$/));
    it('no image at all', () => refused('missing', null, /cannot read the checkpoint image .*checkpoint\.img: ENOENT$/));

    it('an image whose open file is gone from the bundle: one line naming it, and no container left', async () => {
      // `bundle` is a fresh ckcount bundle: no /count.txt in its rootfs.
      const r = await tsvisor(['--root', root, 'restore', '-d', '--image-path', path.join(images, 'count'), '--bundle', bundle, 'gone']);
      oneLineError(r, /restoring container "gone": \/count\.txt, open when the checkpoint was taken, cannot be found \(ENOENT\)$/);
      oneLineError(await tsvisor(['--root', root, 'state', 'gone']), /container does not exist$/);
    });
  });
});

// Debian's python3 (src/debian: its rootfs is built once into the package
// cache, which needs the machine's Debian mirror the first time): saved after
// importing modules, restored, and answering on its stdin. Slow: the
// interpreter's cold start under emulation takes a minute or more on a busy
// host, which is what a restore saves.
describe('tsvisor checkpoint and restore of python3', function () {
  this.timeout(900000);
  const root = stateRoot();
  const images = fs.mkdtempSync(path.join(os.tmpdir(), 'tsvisor-ckpt-py-'));
  let bundle = '';
  before(async function () {
    let rootfs: string;
    try {
      rootfs = (await ensurePackageRootfs(['python3'], { cache: cacheDir() })).root;
    } catch (e) {
      console.log(`      (skipped: no python3 rootfs: ${(e as Error).message})`);
      this.skip();
    }
    bundle = fs.mkdtempSync(path.join(os.tmpdir(), 'tsvisor-ckpt-pyb-'));
    const spec = makeSpec({ args: ['/usr/bin/python3', '-u', '-c', PY_SERVER], env: PY_ENV, tmpfs: [{ destination: '/tmp', options: ['mode=1777'] }] });
    spec.root = { path: rootfs, readonly: true };
    fs.writeFileSync(path.join(bundle, 'config.json'), JSON.stringify(spec));
  });
  after(async () => {
    for (const id of fs.existsSync(root) ? fs.readdirSync(root) : []) await tsvisor(['--root', root, 'delete', '--force', id]);
    fs.rmSync(root, { recursive: true, force: true });
    fs.rmSync(images, { recursive: true, force: true });
    if (bundle) fs.rmSync(bundle, { recursive: true, force: true });
  });

  const outOf = (c: { outFile: string }) => fs.readFileSync(c.outFile, 'utf8');

  it('python3 saved after importing modules is restored and answers on its stdin', async () => {
    const r = await create(root, bundle, 'py', [], ['run', '-d']);
    assert.equal(r.code, 0, fs.readFileSync(r.errFile, 'utf8'));
    await waitFor('python3 to import its modules', async () => (outOf(r).includes('ready\n') ? true : undefined), 600000);
    r.stdin.write('6 * 7\n');
    await waitFor('an answer', async () => (outOf(r).includes('42\n') ? true : undefined), 60000);
    const image = path.join(images, 'py');
    const c = await tsvisor(['--root', root, 'checkpoint', '--image-path', image, 'py']);
    assert.equal(c.code, 0, c.stderr.toString());
    assert.equal((await tsvisor(['--root', root, 'delete', 'py'])).code, 0);
    r.stdin.end();

    const rr = await create(root, bundle, 'py', [], ['restore', '-d', '--image-path', image]);
    assert.equal(rr.code, 0, fs.readFileSync(rr.errFile, 'utf8'));
    rr.stdin.write('json.dumps({"n": str(decimal.Decimal("1.10") + 2)}) + " " + repr(fractions.Fraction(3, 6))\n');
    await waitFor('the restored interpreter to answer', async () => (outOf(rr).includes('\n') ? true : undefined), 60000);
    rr.stdin.end();
    await stopped(root, 'py');
    // Modules imported before the checkpoint are there; its stdout is the restoring sandbox's.
    assert.equal(outOf(rr), `'{"n": "3.10"} Fraction(1, 2)'\nbye\n`);
    assert.equal(fs.readFileSync(rr.errFile, 'utf8'), '');
  });
});
