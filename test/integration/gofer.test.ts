// The gofer through `tsvisor run` with the spec's bind mounts: each bind
// mount is its own 9P connection. Fixtures run with their directories moved
// to bind mounts give what they gave under QEMU; writes to a read-only bind
// mount change nothing on the host.

import * as assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { spawnSync } from 'node:child_process';
import { bundleOptionsFor, caseStdin, compareStream, loadCases, loadExpected, makeBundle, removeBundle } from '../util/bundle.js';
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
});
