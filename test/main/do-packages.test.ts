// `tsvisor do --packages` and `tsvisor rootfs --packages` end to end: offline
// against a file:// mirror made here (the fixture busybox as a package), and,
// when the machine's Debian mirror answers, with Debian's own bash.

import * as assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { pathToFileURL } from 'node:url';
import { fixturesDir } from '../util/bundle.js';
import { tsvisor, writePackageMirror } from './do-util.js';
import { chooseRepository, fetchBytes } from '../../src/debian/fetch.js';

const BUSYBOX = path.join(fixturesDir(), 'busybox', 'busybox');

function tmpdir(tag: string): string {
  return fs.mkdtempSync(path.join(os.tmpdir(), `tsvisor-dopkg-${tag}-`));
}

describe('tsvisor do --packages, tsvisor rootfs (a file:// mirror)', function () {
  this.timeout(120000);
  const dirs: string[] = [];
  const track = (d: string): string => (dirs.push(d), d);
  after(() => dirs.forEach((d) => fs.rmSync(d, { recursive: true, force: true })));

  /** bb: busybox at /bin/busybox with sh and cat links (through usr-merge); base-files Essential. */
  function mirror(): string {
    const root = track(tmpdir('mirror'));
    writePackageMirror(root, [
      { name: 'bb', entries: [{ path: './bin/busybox', data: fs.readFileSync(BUSYBOX), mode: 0o755 }, { path: './bin/sh', link: 'busybox' }, { path: './bin/cat', link: 'busybox' }, { path: './bin/touch', link: 'busybox' }, { path: './bin/ls', link: 'busybox' }], fields: { 'Pre-Depends': 'base-files' } },
      { name: 'base-files', entries: [{ path: './etc/os-release', data: Buffer.from('ID=debian\n') }], fields: { Essential: 'yes' } },
    ]);
    return root;
  }

  it('builds the rootfs once, then runs in it read-only with tmpfs scratch dirs; later runs need no mirror', async () => {
    const m = mirror();
    const cache = track(tmpdir('cache'));
    const env = { XDG_CACHE_HOME: cache, TSVISOR_DEBIAN_MIRROR: pathToFileURL(m).toString() };
    const first = await tsvisor(['do', '--packages', 'bb', '--', 'sh', '-c', 'cat /etc/os-release; echo scratch > /tmp/f && cat /tmp/f; touch /root/r /var/tmp/v /run/u && echo writable; touch /etc/x'], env);
    assert.equal(first.stdout, 'ID=debian\nscratch\nwritable\n');
    assert.match(first.stderr, /^tsvisor: fetching 2 of 2 packages \(\d+\.\d MiB\) from file:\/\/\S+ trixie\ntouch: \/etc\/x: Read-only file system\n$/);
    assert.equal(first.code, 1);
    // The mirror is gone; the same list starts from the cache, and nothing the last run wrote is there.
    fs.rmSync(m, { recursive: true, force: true });
    const again = await tsvisor(['do', '--packages', 'bb', '--', 'sh', '-c', 'ls /tmp; echo $HOME; exit 7'], env);
    assert.deepEqual(again, { code: 7, stdout: '/root\n', stderr: '' });
    const missing = await tsvisor(['do', '--packages', 'bb', '--', 'python3'], env);
    assert.deepEqual(missing, { code: 127, stdout: '', stderr: 'tsvisor: python3: not found in the PATH (/bin:/sbin:/usr/bin:/usr/sbin) of the rootfs of bb\n' });
  });

  it('rootfs --packages writes the tree into an empty directory, and refuses a full one', async () => {
    const m = mirror();
    const cache = track(tmpdir('cache'));
    const env = { XDG_CACHE_HOME: cache, TSVISOR_DEBIAN_MIRROR: pathToFileURL(m).toString() };
    const out = path.join(track(tmpdir('out')), 'rootfs');
    const r = await tsvisor(['rootfs', '--packages', 'bb', out], env);
    assert.equal(r.code, 0, r.stderr);
    assert.equal(fs.readlinkSync(path.join(out, 'bin')), 'usr/bin');
    assert.ok(fs.readFileSync(path.join(out, 'usr/bin/busybox')).equals(fs.readFileSync(BUSYBOX)));
    assert.equal(fs.statSync(path.join(out, 'tmp')).mode & 0o7777, 0o1777);
    assert.match(fs.readFileSync(path.join(out, 'etc/passwd'), 'utf8'), /^root:x:0:0:/);
    const full = await tsvisor(['rootfs', '--packages', 'bb', out], env);
    assert.deepEqual(full, { code: 128, stdout: '', stderr: `tsvisor: ${out}: not empty\n` });
    // The copy is the caller's: a run in it (writable) does not reach the cache.
    const w = await tsvisor(['do', '--rootfs', out, '--', 'sh', '-c', 'echo mine > /etc/mine; cat /etc/mine'], env);
    assert.deepEqual(w, { code: 0, stdout: 'mine\n', stderr: '' });
    const cached = await tsvisor(['do', '--packages', 'bb', '--', 'cat', '/etc/mine'], env);
    assert.equal(cached.code, 1);
  });

  it('refuses --packages beside --rootfs, an empty list, a bad name, a package the index lacks', async () => {
    const m = mirror();
    const env = { XDG_CACHE_HOME: track(tmpdir('cache')), TSVISOR_DEBIAN_MIRROR: pathToFileURL(m).toString() };
    const both = await tsvisor(['do', '--packages', 'bb', '--rootfs', '/tmp', '--', 'true'], env);
    assert.equal(both.code, 128);
    assert.match(both.stderr, /--rootfs, --busybox and --packages exclude each other/);
    assert.match((await tsvisor(['do', '--packages', ',', '--', 'true'], env)).stderr, /^tsvisor: --packages: no package named\n/);
    assert.match((await tsvisor(['do', '--packages', 'a/b', '--', 'true'], env)).stderr, /^tsvisor: cannot prepare the rootfs of a\/b: bad package name "a\/b"\n$/);
    const absent = await tsvisor(['rootfs', '--packages', 'nosuch', track(tmpdir('out'))], env);
    assert.deepEqual(absent, { code: 128, stdout: '', stderr: 'tsvisor: cannot prepare the rootfs of nosuch: package nosuch for riscv64 is not in the index\n' });
  });
});

describe("tsvisor do --packages with Debian's own packages (needs the network)", function () {
  this.timeout(600000);

  it('runs bash from the package-built rootfs: echo $BASH_VERSION', async function () {
    let repo;
    try {
      repo = chooseRepository();
      await fetchBytes(`${repo.mirror}/dists/${repo.suite}/InRelease`);
    } catch (e) {
      console.log(`      (skipped: the Debian mirror cannot be reached: ${(e as Error).message})`);
      this.skip();
    }
    // The user's own cache: the packages are downloaded once per machine, not per test run.
    const r = await tsvisor(['do', '--packages', 'bash', '--', 'bash', '-c', 'echo $BASH_VERSION; type -p bash; ls /lib/ld-linux-riscv64-lp64d.so.1'], {}, 590000);
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stdout, /^5\.\d+\.\d+\(\d+\)-release\n\/bin\/bash\n\/lib\/ld-linux-riscv64-lp64d\.so\.1\n$/);
  });
});
