// bin/tsvisor's shell half (its comment says why it is one): executed, it
// starts `tsvisor run` and `tsvisor do` from their startup snapshots, and
// `tsvisor boot` with boot's Node flags, and from its snapshot when
// TSVISOR_SNAPSHOT=1, when the build's check file says the blob and
// everything it was made from are as the build left them; anything else
// goes to Node on bin/tsvisor itself. A copy of bin/tsvisor beside a
// copy of those files, and a `node` first on PATH that prints the arguments
// it was given, show each decision; the last test runs the real one.

import * as assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { repoRoot } from '../util/bundle.js';
import { BOOT_NODE_FLAGS, cliBundleFor, SANDBOX_UNSET_ENV, sandboxProcessEnv } from '../../src/bundle/entry.js';
import { checkOf, launcherFiles, LAUNCHER_CHECK, NO_SNAPSHOT_ENV, SNAPSHOT_ENV, SNAPSHOT_FLAGS, writeLauncherCheck, type SnapshotName } from '../../src/bundle/snapshot.js';

const DIST = path.join(repoRoot(), 'dist');
const TSVISOR = path.join(repoRoot(), 'bin', 'tsvisor');

interface Copy {
  top: string;
  bin: string;
  dist: string;
  fakeBin: string;
}

const NAMES = Object.keys(SNAPSHOT_FLAGS) as SnapshotName[];

/** bin/tsvisor and each snapshot's launcherFiles copied under a folder of their own, a fake node, and the check files written for them. */
function copyTree(): Copy {
  const top = fs.mkdtempSync(path.join(os.tmpdir(), 'tsvisor-launcher-'));
  const bin = path.join(top, 'bin', 'tsvisor');
  const dist = path.join(top, 'dist');
  fs.mkdirSync(path.dirname(bin));
  fs.copyFileSync(TSVISOR, bin);
  fs.chmodSync(bin, 0o755);
  for (const f of new Set(NAMES.flatMap(launcherFiles))) {
    fs.mkdirSync(path.dirname(path.join(dist, f)), { recursive: true });
    fs.copyFileSync(path.join(DIST, f), path.join(dist, f));
  }
  const fakeBin = path.join(top, 'fake-bin');
  fs.mkdirSync(fakeBin);
  // Its arguments on stdout; on stderr, the environment's NODE_EXTRA_CA_CERTS and TSVISOR_EXTRA_CA_CERTS, or that each is unset.
  fs.writeFileSync(path.join(fakeBin, 'node'), '#!/bin/sh\nfor a in "$@"; do printf "%s\\n" "$a"; done\nprintf "%s %s\\n" "${NODE_EXTRA_CA_CERTS-(unset)}" "${TSVISOR_EXTRA_CA_CERTS-(unset)}" >&2\n', { mode: 0o755 });
  for (const name of NAMES) writeLauncherCheck(path.join(dist, 'bundle'), dist, path.join(fakeBin, 'node'), name);
  return { top, bin, dist, fakeBin };
}

/** The arguments the (fake) node got from the copy's bin/tsvisor for `args`. */
function nodeArgs(c: Copy, args: string[], env: NodeJS.ProcessEnv = {}): string[] {
  const r = spawnSync(c.bin, args, {
    encoding: 'utf8',
    env: { PATH: `${c.fakeBin}:${process.env.PATH}`, NODE_OPTIONS: '', [NO_SNAPSHOT_ENV]: '', [SNAPSHOT_ENV]: '1', ...env },
  });
  assert.equal(r.status, 0, r.stderr);
  return r.stdout.split('\n').slice(0, -1);
}

/** Sets a file's modification time one second later (a rewrite by anything but the build). */
function touch(file: string): void {
  const st = fs.statSync(file);
  fs.utimesSync(file, st.atime, new Date(st.mtimeMs + 1000));
}

describe("bin/tsvisor's shell half", function () {
  this.timeout(60_000);
  const bootArgs = ['--root', '/run/x', 'boot', '--bundle', '/b', 'cid'];

  it('writes a check file at build time for each snapshot that names every file it checks', () => {
    for (const name of NAMES) {
      const text = fs.readFileSync(path.join(DIST, 'bundle', checkOf(name)), 'utf8');
      assert.match(text, new RegExp(`^snap_flags='${SNAPSHOT_FLAGS[name].join(' ')}'$`, 'm'), name);
      for (const f of launcherFiles(name)) assert.ok(text.includes(`"$dist"/'${f}'`), `${name}: ${f}`);
    }
  });

  it('starts run and do from their snapshots, without flags, with or without TSVISOR_SNAPSHOT', () => {
    const c = copyTree();
    try {
      const bundles = `${c.top}/bin/../dist/bundle`;
      for (const args of [['--root', '/run/x', 'run', '--bundle', '/b', 'cid'], ['--debug', 'do', '--', 'true'], ['run', '--bundle', '/b', 'boot'], ['--root', 'run', 'boot']]) {
        const name = args.find((a) => a === 'run' || a === 'do')!;
        assert.equal(cliBundleFor(args), name, `entry.ts agrees: ${args.join(' ')}`);
        for (const env of [{}, { [SNAPSHOT_ENV]: '' }]) assert.deepEqual(nodeArgs(c, args, env), ['--snapshot-blob', `${bundles}/${name}.blob`, `${bundles}/${name}.js`, ...args], args.join(' '));
        assert.deepEqual(nodeArgs(c, args, { [NO_SNAPSHOT_ENV]: '1' }), [c.bin, ...args], `${NO_SNAPSHOT_ENV}: ${args.join(' ')}`);
        assert.deepEqual(nodeArgs(c, args, { NODE_OPTIONS: '--max-old-space-size=100' }), [c.bin, ...args], `NODE_OPTIONS: ${args.join(' ')}`);
      }
    } finally {
      fs.rmSync(c.top, { recursive: true, force: true });
    }
  });

  it('turns away a copy of the tree whose files kept their sizes and times (the blob holds the paths of the build)', () => {
    const c = copyTree();
    try {
      const args = ['run', '--bundle', '/b', 'cid'];
      const blob = path.join(c.dist, 'bundle', 'run.blob');
      // A time of whole milliseconds, which utimes can set again exactly.
      const when = new Date(Math.floor(Date.now() / 1000) * 1000 - 60_000);
      fs.utimesSync(blob, when, when);
      writeLauncherCheck(path.join(c.dist, 'bundle'), c.dist, path.join(c.fakeBin, 'node'), 'run');
      assert.equal(nodeArgs(c, args)[0], '--snapshot-blob', 'the copy as its check file was written');
      fs.copyFileSync(blob, `${blob}.new`);
      fs.renameSync(`${blob}.new`, blob);
      fs.utimesSync(blob, when, when);
      assert.deepEqual(nodeArgs(c, args), [c.bin, ...args], 'the same bytes, size and time in another file');
    } finally {
      fs.rmSync(c.top, { recursive: true, force: true });
    }
  });

  it('starts boot from the snapshot with its flags when asked and everything is as the build left it', () => {
    const c = copyTree();
    try {
      const bundles = `${c.top}/bin/../dist/bundle`;
      assert.deepEqual(nodeArgs(c, bootArgs), [...BOOT_NODE_FLAGS, '--snapshot-blob', `${bundles}/boot.blob`, `${bundles}/boot.js`, ...bootArgs]);
    } finally {
      fs.rmSync(c.top, { recursive: true, force: true });
    }
  });

  it('finds its files through a symbolic link to it (a runtime configured with /usr/local/bin/tsvisor)', () => {
    const c = copyTree();
    try {
      const link = path.join(c.top, 'link-to-tsvisor');
      fs.symlinkSync(c.bin, link);
      const r = spawnSync(link, bootArgs, { encoding: 'utf8', env: { PATH: `${c.fakeBin}:${process.env.PATH}`, NODE_OPTIONS: '', [SNAPSHOT_ENV]: '1' } });
      assert.equal(r.status, 0, r.stderr);
      const top = fs.realpathSync(c.top);
      assert.deepEqual(r.stdout.split('\n').slice(0, BOOT_NODE_FLAGS.length + 3), [...BOOT_NODE_FLAGS, '--snapshot-blob', `${top}/bin/../dist/bundle/boot.blob`, `${top}/bin/../dist/bundle/boot.js`]);
    } finally {
      fs.rmSync(c.top, { recursive: true, force: true });
    }
  });

  it('otherwise starts boot with its flags alone, and every other command but run and do as Node on itself', () => {
    const c = copyTree();
    try {
      const plain = (args: string[]) => [c.bin, ...args];
      const flagsOnly = (args: string[]) => [...BOOT_NODE_FLAGS, c.bin, ...args];
      assert.deepEqual(nodeArgs(c, bootArgs, { [SNAPSHOT_ENV]: '' }), flagsOnly(bootArgs), 'a long-lived boot by default');
      assert.deepEqual(nodeArgs(c, bootArgs, { NODE_OPTIONS: '--max-old-space-size=100' }), flagsOnly(bootArgs), 'NODE_OPTIONS');
      assert.deepEqual(nodeArgs(c, bootArgs, { [NO_SNAPSHOT_ENV]: '1' }), flagsOnly(bootArgs), NO_SNAPSHOT_ENV);
      assert.deepEqual(nodeArgs(c, bootArgs, { TSVISOR_NO_BUNDLE: '1' }), flagsOnly(bootArgs), 'TSVISOR_NO_BUNDLE');
      for (const args of [['spec'], ['gofer'], []]) {
        assert.deepEqual(nodeArgs(c, args), plain(args), args.join(' '));
        assert.ok(!['boot', 'run', 'do'].includes(cliBundleFor(args)), `entry.ts agrees: ${args.join(' ')}`);
      }
      for (const args of [['boot'], ['--root=/x', 'boot'], ['--debug', '--root', '/x', 'boot', 'run']]) assert.equal(cliBundleFor(args), 'boot', args.join(' '));
      assert.deepEqual(nodeArgs(c, ['--debug', '--root', '/x', 'boot', 'run']).slice(0, BOOT_NODE_FLAGS.length + 1), [...BOOT_NODE_FLAGS, '--snapshot-blob']);
    } finally {
      fs.rmSync(c.top, { recursive: true, force: true });
    }
  });

  it('turns away a blob that is damaged, truncated, missing or stale, another Node, or a tsc run since the build', () => {
    const blob = (c: Copy) => path.join(c.dist, 'bundle', 'boot.blob');
    const cases: [string, (c: Copy) => void][] = [
      ['damaged in place', (c) => {
        const fd = fs.openSync(blob(c), 'r+');
        fs.writeSync(fd, Buffer.from('x'), 0, 1, 4096);
        fs.closeSync(fd);
        touch(blob(c));
      }],
      ['truncated', (c) => fs.truncateSync(blob(c), 4096)],
      ['missing', (c) => fs.rmSync(blob(c))],
      ["the kernel's bundle rebuilt", (c) => touch(path.join(c.dist, 'bundle', 'kernel.code.js'))],
      ['tsc ran since', (c) => touch(path.join(c.dist, 'src', 'main', 'cli.js'))],
      ['another Node', (c) => fs.appendFileSync(path.join(c.fakeBin, 'node'), '# another build\n')],
    ];
    for (const [what, spoil] of cases) {
      const c = copyTree();
      try {
        assert.equal(nodeArgs(c, bootArgs)[BOOT_NODE_FLAGS.length], '--snapshot-blob', `${what}: the intact copy is usable`);
        spoil(c);
        assert.deepEqual(nodeArgs(c, bootArgs), [...BOOT_NODE_FLAGS, c.bin, ...bootArgs], what);
      } finally {
        fs.rmSync(c.top, { recursive: true, force: true });
      }
    }
  });

  it("starts every command without NODE_EXTRA_CA_CERTS (a cost to each Node start): boot and the gofer without the file, the others with it as TSVISOR_EXTRA_CA_CERTS", () => {
    const c = copyTree();
    try {
      const certs = '/etc/ssl/certs/some-bundle.crt';
      const seen = (args: string[], env: NodeJS.ProcessEnv = {}) => {
        const r = spawnSync(c.bin, args, { encoding: 'utf8', env: { PATH: `${c.fakeBin}:${process.env.PATH}`, NODE_OPTIONS: '', NODE_EXTRA_CA_CERTS: certs, ...env } });
        assert.equal(r.status, 0, r.stderr);
        return r.stderr.trim();
      };
      for (const env of [{ [SNAPSHOT_ENV]: '1' }, { [SNAPSHOT_ENV]: '' }, { [NO_SNAPSHOT_ENV]: '1' }]) {
        assert.equal(seen(bootArgs, env), '(unset) (unset)', `boot, ${JSON.stringify(env)}`);
        assert.equal(seen(bootArgs, { ...env, TSVISOR_EXTRA_CA_CERTS: certs }), '(unset) (unset)', `boot given the moved name, ${JSON.stringify(env)}`);
      }
      assert.equal(seen(['--debug', 'gofer', '--bundle=/b']), '(unset) (unset)', 'gofer');
      for (const args of [['run', '--bundle', '/b', 'cid'], ['do', '--', 'true'], ['spec'], []]) assert.equal(seen(args), `(unset) ${certs}`, args.join(' ') || 'no command');
      // Without NODE_EXTRA_CA_CERTS, a TSVISOR_EXTRA_CA_CERTS of the caller's own goes through; with neither, neither is set.
      assert.equal(seen(['do', '--', 'true'], { NODE_EXTRA_CA_CERTS: undefined, TSVISOR_EXTRA_CA_CERTS: '/x.pem' }), '(unset) /x.pem');
      assert.equal(seen(['do', '--', 'true'], { NODE_EXTRA_CA_CERTS: undefined }), '(unset) (unset)');
      // The shell part's list is entry.ts's, which run and create apply to the boot and gofer they start.
      const unset = /^\s*boot\|gofer\) unset ([A-Z_ ]+) ;;$/m.exec(fs.readFileSync(TSVISOR, 'utf8'));
      assert.ok(unset, "bin/tsvisor's unset line");
      assert.deepEqual(unset[1].trim().split(/ +/), [...SANDBOX_UNSET_ENV]);
      assert.deepEqual(sandboxProcessEnv({ NODE_EXTRA_CA_CERTS: certs, TSVISOR_EXTRA_CA_CERTS: certs, PATH: '/bin', TSVISOR_SNAPSHOT: '1' }), { PATH: '/bin', TSVISOR_SNAPSHOT: '1' });
    } finally {
      fs.rmSync(c.top, { recursive: true, force: true });
    }
  });

  it('without the check file (a build whose snapshot step failed), boot and run go to Node as before', () => {
    const c = copyTree();
    try {
      fs.rmSync(path.join(c.dist, 'bundle', LAUNCHER_CHECK));
      fs.rmSync(path.join(c.dist, 'bundle', checkOf('run')));
      assert.deepEqual(nodeArgs(c, bootArgs), [c.bin, ...bootArgs]);
      const runArgs = ['run', '--bundle', '/b', 'cid'];
      assert.deepEqual(nodeArgs(c, runArgs), [c.bin, ...runArgs]);
    } finally {
      fs.rmSync(c.top, { recursive: true, force: true });
    }
  });

  it('is still a Node script: `node bin/tsvisor` runs the CLI, and so does bin/tsvisor executed', () => {
    for (const cmd of [[process.execPath, TSVISOR], [TSVISOR]]) {
      const r = spawnSync(cmd[0], [...cmd.slice(1), 'boot'], { encoding: 'utf8', env: { ...process.env, NODE_OPTIONS: '', [SNAPSHOT_ENV]: '1' } });
      assert.equal(r.status, 128, r.stderr);
      assert.match(r.stderr, /^tsvisor: missing required flags: --spec-fd, --controller-fd, --start-sync-fd$/m);
      const s = spawnSync(cmd[0], [...cmd.slice(1), 'spec', '--bundle', os.tmpdir(), '--no-such-flag'], { encoding: 'utf8' });
      assert.equal(s.status, 128, s.stderr);
      assert.match(s.stderr, /no-such-flag/);
      // run and do: from their snapshots when executed (their usage errors come from the CLI's main there).
      for (const [args, line] of [[['run'], /^tsvisor: expected exactly one container id, got 0$/m], [['do'], /^tsvisor: no command given$/m]] as const) {
        const u = spawnSync(cmd[0], [...cmd.slice(1), ...args], { encoding: 'utf8', env: { ...process.env, NODE_OPTIONS: '', [NO_SNAPSHOT_ENV]: '' } });
        assert.equal(u.status, 128, `${args.join(' ')}: ${u.stderr}`);
        assert.match(u.stderr, line);
      }
    }
  });
});
