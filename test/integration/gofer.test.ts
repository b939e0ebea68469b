// The gofer through `tsvisor run` with the spec's bind mounts: each bind
// mount is its own 9P connection. Fixtures run with their directories moved
// to bind mounts give what they gave under QEMU; writes to a read-only bind
// mount change nothing on the host. Bind mounts of single regular files (as
// podman makes /etc/hosts and /etc/resolv.conf), through the gofer and in
// direct mode: the fixture's file served from one gives QEMU's output, a
// busybox shell reads and writes them as mount(2) would let it, and their
// mount points are made inside the rootfs.

import * as assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { spawnSync } from 'node:child_process';
import { bundleOptionsFor, caseStdin, compareStream, HELLO_TXT, loadCases, loadExpected, makeBundle, removeBundle, repoRoot } from '../util/bundle.js';
import { stateRoot, tsvisor } from './run-util.js';

/** Every file under `dir` with its type, mode and contents: a snapshot to compare. */
function snapshot(dir: string): string[] {
  const out: string[] = [];
  const walk = (d: string) => {
    for (const name of fs.readdirSync(d).sort()) {
      const p = path.join(d, name);
      const st = fs.lstatSync(p);
      const rel = path.relative(dir, p);
      if (st.isDirectory()) {
        out.push(`${rel}/ ${st.mode.toString(8)}`);
        walk(p);
      } else if (st.isSymbolicLink()) out.push(`${rel} -> ${fs.readlinkSync(p)}`);
      else out.push(`${rel} ${st.mode.toString(8)} ${st.size} ${st.isFile() ? fs.readFileSync(p).toString('hex').slice(0, 64) : ''}`);
    }
  };
  walk(dir);
  return out;
}

describe('gofer: bind mounts through tsvisor run', function () {
  this.timeout(120000);
  const root = stateRoot();
  const hostDirs: string[] = [];
  after(() => {
    fs.rmSync(root, { recursive: true, force: true });
    for (const d of hostDirs) fs.rmSync(d, { recursive: true, force: true });
  });
  let n = 0;

  /** Runs fixture `name` with `binds` (destination -> host dir, ro?) added to its spec. */
  async function runWithBinds(name: string, binds: { destination: string; source: string; ro: boolean }[]) {
    const c = loadCases().find((x) => x.name === name)!;
    const bundle = makeBundle(bundleOptionsFor(c));
    try {
      const cfg = path.join(bundle, 'config.json');
      const spec = JSON.parse(fs.readFileSync(cfg, 'utf8'));
      for (const b of binds) spec.mounts.push({ destination: b.destination, type: 'bind', source: b.source, options: ['rbind', b.ro ? 'ro' : 'rw'] });
      fs.writeFileSync(cfg, JSON.stringify(spec));
      const r = await tsvisor(['--root', root, 'run', '--bundle', bundle, `gofer-${process.pid}-${n++}`], caseStdin(c), 90000);
      return { c, r, bundle: undefined as unknown };
    } finally {
      removeBundle(bundle);
    }
  }

  function hostDir(tag: string, mode = 0o1777): string {
    const d = fs.mkdtempSync(path.join(os.tmpdir(), `tsvisor-bind-${tag}-`));
    fs.chmodSync(d, mode);
    hostDirs.push(d);
    return d;
  }

  it('fileops in a read-write bind mount at /tmp gives what QEMU gave on the rootfs, and its files land in the host directory', async () => {
    const tmp = hostDir('rw');
    fs.utimesSync(tmp, 1000, 1000);
    const { c, r } = await runWithBinds('fileops', [{ destination: '/tmp', source: tmp, ro: false }]);
    const exp = loadExpected(c);
    const context = `stderr was: ${r.stderr.toString().slice(0, 2000)}`;
    assert.equal(r.code, exp.exit, context);
    assert.equal(compareStream(c, 'stdout', r.stdout), null, context);
    assert.ok(fs.statSync(tmp).mtimeMs > 1000 * 1000, 'fileops made and removed /tmp/work in the host directory');
  });

  it('fileops in a read-only bind mount changes nothing in the host directory', async () => {
    const tmp = hostDir('ro');
    fs.mkdirSync(path.join(tmp, 'work'));
    fs.writeFileSync(path.join(tmp, 'work', 'keep.txt'), 'keep me');
    fs.symlinkSync('/etc/passwd', path.join(tmp, 'work', 'out'));
    const parent = path.dirname(tmp);
    const before = snapshot(tmp);
    const siblings = fs.readdirSync(parent).length;
    const { r } = await runWithBinds('fileops', [{ destination: '/tmp', source: tmp, ro: true }]);
    assert.match(r.stdout.toString() + r.stderr.toString(), /EROFS|Read-only file system/, `the guest was told EROFS: ${r.stdout.toString().slice(0, 500)} ${r.stderr.toString().slice(0, 500)}`);
    assert.deepEqual(snapshot(tmp), before, 'the read-only bind mount is unchanged');
    assert.ok(fs.readdirSync(parent).length <= siblings + 2, 'nothing appeared beside it');
    assert.equal(fs.readFileSync('/etc/passwd', 'utf8').includes('tsvisor-rootfs'), false);
  });

  it('run --directfs serves the same files without a gofer; with one, the gofer ends with the sandbox', async () => {
    const c = loadCases().find((x) => x.name === 'files')!;
    for (const directfs of [true, false]) {
      const bundle = makeBundle(bundleOptionsFor(c));
      try {
        const r = await tsvisor(['--root', root, 'run', '--bundle', bundle, ...(directfs ? ['--directfs'] : []), `gofer-${process.pid}-${n++}`], caseStdin(c), 90000);
        const context = `directfs ${directfs}; stderr was: ${r.stderr.toString().slice(0, 2000)}`;
        assert.equal(r.code, loadExpected(c).exit, context);
        assert.equal(compareStream(c, 'stdout', r.stdout), null, context);
        // No gofer of this bundle outlives the run.
        let left = '';
        for (let i = 0; i < 40; i++) {
          left = spawnSync('pgrep', ['-f', `gofer --bundle=${bundle}`], { encoding: 'utf8' }).stdout.trim();
          if (!left) break;
          await new Promise((res) => setTimeout(res, 100));
        }
        assert.equal(left, '', `gofer processes left: ${left}`);
      } finally {
        removeBundle(bundle);
      }
    }
  });

  it('escape attempts from a bind-mounted /data still land in the rootfs', async () => {
    const c = loadCases().find((x) => x.name === 'escape-from-data')!;
    // /data's files, as the rootfs has them, in a host directory of its own.
    const probe = makeBundle(bundleOptionsFor(c));
    const data = hostDir('data', 0o755);
    fs.cpSync(path.join(probe, 'rootfs', 'data'), data, { recursive: true });
    removeBundle(probe);
    const { r } = await runWithBinds('escape-from-data', [{ destination: '/data', source: data, ro: true }]);
    const context = `stderr was: ${r.stderr.toString().slice(0, 2000)}`;
    assert.equal(r.code, loadExpected(c).exit, context);
    assert.equal(compareStream(c, 'stdout', r.stdout), null, context);
  });

  describe('bind mounts of single files', () => {
    /** Adds `binds` to the spec of `bundle`. */
    function addBinds(bundle: string, binds: { destination: string; source: string; ro: boolean }[]): void {
      const cfg = path.join(bundle, 'config.json');
      const spec = JSON.parse(fs.readFileSync(cfg, 'utf8'));
      for (const b of binds) spec.mounts.push({ destination: b.destination, type: 'bind', source: b.source, options: ['rbind', b.ro ? 'ro' : 'rw'] });
      fs.writeFileSync(cfg, JSON.stringify(spec));
    }

    for (const directfs of [false, true]) {
      const mode = directfs ? 'in direct mode' : 'through the gofer';
      it(`files, with /data/hello.txt a read-only bind mount of a host file the rootfs lacks, gives what QEMU gave (${mode})`, async () => {
        const c = loadCases().find((x) => x.name === 'files')!;
        const src = path.join(hostDir('file-src', 0o755), 'hello.txt');
        fs.writeFileSync(src, HELLO_TXT, { mode: 0o644 });
        fs.chmodSync(src, 0o644);
        const bundle = makeBundle(bundleOptionsFor(c));
        try {
          fs.rmSync(path.join(bundle, 'rootfs', 'data', 'hello.txt'));
          addBinds(bundle, [{ destination: '/data/hello.txt', source: src, ro: true }]);
          const r = await tsvisor(['--root', root, 'run', '--bundle', bundle, ...(directfs ? ['--directfs'] : []), `gofer-${process.pid}-${n++}`], caseStdin(c), 90000);
          const context = `stderr was: ${r.stderr.toString().slice(0, 2000)}`;
          assert.equal(r.code, loadExpected(c).exit, context);
          assert.equal(compareStream(c, 'stdout', r.stdout), null, context);
          const made = fs.statSync(path.join(bundle, 'rootfs', 'data', 'hello.txt'));
          assert.deepEqual([made.isFile(), made.size, made.mode & 0o7777], [true, 0, 0o644], 'the mount point was made in the rootfs, empty');
          assert.equal(fs.readFileSync(src, 'utf8'), HELLO_TXT);
        } finally {
          removeBundle(bundle);
        }
      });

      it(`a shell reads and writes a read-write file mount, cannot change a read-only one, remove, rename or walk below either, and mount points stay in the rootfs (${mode})`, async () => {
        const host = hostDir('files', 0o755);
        const rw = path.join(host, 'hosts');
        const ro = path.join(host, 'resolv.conf');
        fs.writeFileSync(rw, '127.0.0.1 localhost\n');
        fs.writeFileSync(ro, 'nameserver 10.0.0.1\n');
        fs.chmodSync(rw, 0o644);
        fs.chmodSync(ro, 0o644);
        const outside = hostDir('outside', 0o755);
        const script = [
          'cat /etc/hosts /etc/resolv.conf',
          'echo "10.1.1.1 added" >> /etc/hosts',
          'echo "nameserver 6.6.6.6" > /etc/resolv.conf || echo "ro write refused"',
          'rm /etc/hosts; mv /etc/resolv.conf /etc/moved; cat /etc/hosts/x',
          'cat /deep/er/file /linked/file; echo listed: $(ls /deep/er) $(ls /linked)',
          'echo done',
        ].join('\n');
        const bundle = makeBundle({ args: ['/bin/busybox', 'sh', '-c', script], env: ['PATH=/bin'] });
        try {
          const rootfs = path.join(bundle, 'rootfs');
          fs.copyFileSync(path.join(repoRoot(), 'fixtures', 'busybox', 'busybox'), path.join(rootfs, 'bin', 'busybox'));
          fs.chmodSync(path.join(rootfs, 'bin', 'busybox'), 0o755);
          // A symlink out of the rootfs on the host: in the guest's namespace it stays inside.
          fs.symlinkSync(outside, path.join(rootfs, 'linked'));
          addBinds(bundle, [
            { destination: '/etc/hosts', source: rw, ro: false },
            { destination: '/etc/resolv.conf', source: ro, ro: true },
            { destination: '/deep/er/file', source: ro, ro: true },
            { destination: '/linked/file', source: rw, ro: true },
          ]);
          const r = await tsvisor(['--root', root, 'run', '--bundle', bundle, ...(directfs ? ['--directfs'] : []), `gofer-${process.pid}-${n++}`], Buffer.alloc(0), 90000);
          const out = r.stdout.toString();
          const err = r.stderr.toString();
          const context = `stdout: ${out}\nstderr: ${err}`;
          assert.equal(r.code, 0, context);
          assert.match(out, /^127\.0\.0\.1 localhost\nnameserver 10\.0\.0\.1\n/, context);
          assert.equal(fs.readFileSync(rw, 'utf8'), '127.0.0.1 localhost\n10.1.1.1 added\n', `the write reached the host file; ${context}`);
          assert.equal(fs.readFileSync(ro, 'utf8'), 'nameserver 10.0.0.1\n', 'the read-only file is unchanged');
          assert.match(out, /ro write refused/, context);
          assert.match(err, /Read-only file system/, context);
          assert.match(err, /rm: can't remove '\/etc\/hosts': (Device or )?[Rr]esource busy/, context);
          assert.match(err, /mv: can't rename '\/etc\/resolv\.conf': (Device or )?[Rr]esource busy/, context);
          assert.match(err, /cat: can't open '\/etc\/hosts\/x': Not a directory/, context);
          assert.match(out, /nameserver 10\.0\.0\.1\n127\.0\.0\.1 localhost\n10\.1\.1\.1 added\nlisted: file file\ndone\n$/, context);
          // The mount points: made in the rootfs, parents too; the symlinked one below the rootfs, never in the host's directory.
          assert.equal(fs.statSync(path.join(rootfs, 'etc', 'hosts')).size, 0);
          assert.ok(fs.statSync(path.join(rootfs, 'deep', 'er', 'file')).isFile());
          assert.ok(fs.statSync(path.join(rootfs, outside, 'file')).isFile(), 'made where the symlink leads inside the rootfs');
          assert.deepEqual(fs.readdirSync(outside), [], 'nothing made in the host directory the symlink names');
          assert.deepEqual(fs.readdirSync(host).sort(), ['hosts', 'resolv.conf'], 'nothing made beside the sources');
        } finally {
          removeBundle(bundle);
        }
      });
    }
  });
});
