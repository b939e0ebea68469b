// The package path of `--packages`, offline, on small data made here:
// relation fields, the index and the resolver, unpacking with usr-merge kept
// inside the rootfs, zstd data members, and the rootfs cache against a
// file:// mirror.

import * as assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { pathToFileURL } from 'node:url';
import { parseRelations, PackageIndex, resolvePackages } from '../../src/debian/packages.js';
import { RootfsWriter, mergedPath } from '../../src/debian/unpack.js';
import { debDataEntries, readTar, ArchiveError } from '../../src/debian/archive.js';
import { ensurePackageRootfs, parsePackageList } from '../../src/debian/package-rootfs.js';
import { FetchError } from '../../src/debian/fetch.js';
import { makeDeb, makeTar, TarInput, writePackageMirror } from '../main/do-util.js';

function tmpdir(): string {
  return fs.mkdtempSync(path.join(os.tmpdir(), 'tsvisor-pkgtest-'));
}

/** A Packages stanza with a made-up file and hash unless given. */
function stanza(name: string, fields: Record<string, string> = {}): string {
  const f: Record<string, string> = { Version: '1.0', Architecture: 'riscv64', Filename: `pool/${name}.deb`, Size: '10', SHA256: 'a'.repeat(64), ...fields };
  return `Package: ${name}\n${Object.entries(f).map(([k, v]) => `${k}: ${v}`).join('\n')}\nDescription: ${name}\n a longer text\n .\n over lines: with colons\n`;
}

describe('packages: relation fields', () => {
  it('reads groups, alternatives, versions, architecture qualifiers and restrictions', () => {
    assert.deepEqual(parseRelations('libc6 (>= 2.38), python3.13-minimal (= 3.13.5-2+deb13u5) | foo:any, bar:riscv64 [riscv64] <!nocheck>'), [
      [{ name: 'libc6', version: '>= 2.38' }],
      [{ name: 'python3.13-minimal', version: '= 3.13.5-2+deb13u5' }, { name: 'foo' }],
      [{ name: 'bar' }],
    ]);
    assert.deepEqual(parseRelations(undefined), []);
    assert.deepEqual(parseRelations('  '), []);
    assert.throws(() => parseRelations('Bad Name'), FetchError);
  });

  it('splits a --packages list on commas and spaces, sorted, once each', () => {
    assert.deepEqual(parsePackageList('python3,bash coreutils,,bash'), ['bash', 'coreutils', 'python3']);
    assert.throws(() => parsePackageList('python3,../x'), /bad package name/);
  });
});

describe('packages: the index and the resolver', () => {
  const index = new PackageIndex(
    [
      [
        stanza('app', { Depends: 'libfoo (>= 2) | libbar, awk, missing-alt | libc6', 'Pre-Depends': 'libc6 (>= 2.38)' }),
        stanza('libfoo', { Version: '1.0', Depends: 'libc6' }),
        stanza('libfoo', { Version: '2.0', Depends: 'libc6, libz' }),
        stanza('libfoo', { Version: '9.0', Architecture: 'amd64' }),
        stanza('libbar'),
        stanza('libc6', { Depends: 'libgcc-s1' }),
        stanza('libgcc-s1', { Architecture: 'all' }),
        stanza('libz'),
        stanza('gawk', { Provides: 'awk', Priority: 'optional' }),
        stanza('mawk', { Provides: 'awk', Priority: 'required' }),
        stanza('base-files', { Essential: 'yes', 'Pre-Depends': 'awk' }),
        stanza('broken', { Depends: 'nowhere (>= 1) | neither' }),
      ].join('\n'),
    ],
    'riscv64',
  );

  it('keeps the highest version of this architecture (and all), and who provides what', () => {
    assert.equal(index.packages.get('libfoo')?.version, '2.0');
    assert.equal(index.packages.get('libgcc-s1')?.architecture, 'all');
    assert.deepEqual(index.providers.get('awk')?.map((p) => p.name), ['gawk', 'mawk']);
    assert.equal(index.lookup('awk')?.name, 'mawk', 'the provider of the highest priority');
    assert.deepEqual(index.essential(), ['base-files']);
  });

  it('follows Pre-Depends and Depends, first available alternative, virtual names, Essential set', () => {
    const names = resolvePackages(index, ['app']).map((p) => p.name);
    assert.deepEqual(names, ['app', 'base-files', 'libc6', 'libfoo', 'mawk', 'libgcc-s1', 'libz']);
    assert.ok(!names.includes('libbar'), 'the first alternative was had');
    assert.ok(!names.includes('gawk'), 'awk is satisfied once, by mawk');
  });

  it('leaves the Essential set out when asked, and takes a virtual name as a request', () => {
    assert.deepEqual(resolvePackages(index, ['libz'], { essential: false }).map((p) => p.name), ['libz']);
    assert.deepEqual(resolvePackages(index, ['awk'], { essential: false }).map((p) => p.name), ['mawk']);
  });

  it('names the chain when a dependency cannot be had, and an unknown request', () => {
    assert.throws(
      () => resolvePackages(index, ['broken'], { essential: false }),
      (e: Error) => e instanceof FetchError && e.message === 'broken depends on nowhere (>= 1) | neither, which the index does not have',
    );
    assert.throws(() => resolvePackages(index, ['nosuch']), /package nosuch for riscv64 is not in the index/);
  });
});

describe('packages: unpacking into a rootfs', () => {
  const dirs: string[] = [];
  after(() => dirs.forEach((d) => fs.rmSync(d, { recursive: true, force: true })));

  const unpack = (root: string, entries: TarInput[]): RootfsWriter => {
    fs.mkdirSync(root, { recursive: true });
    const w = new RootfsWriter(root);
    for (const e of readTar(makeTar(entries))) w.add(e);
    return w;
  };

  it('maps bin, sbin and lib into usr, ignores shipped usr-merge links, keeps modes', () => {
    assert.equal(mergedPath('bin/sh'), 'usr/bin/sh');
    assert.equal(mergedPath('lib/riscv64-linux-gnu/libc.so.6'), 'usr/lib/riscv64-linux-gnu/libc.so.6');
    assert.equal(mergedPath('libexec/x'), 'libexec/x');
    const dir = tmpdir();
    dirs.push(dir);
    const root = path.join(dir, 'root');
    const w = new RootfsWriter(root);
    w.start();
    for (const e of readTar(makeTar([{ path: './bin', link: 'usr/bin' }, { path: './bin/dash', data: Buffer.from('#dash'), mode: 0o755 }, { path: './lib/ld-linux-riscv64-lp64d.so.1', link: 'riscv64-linux-gnu/ld.so' }, { path: './etc/secret', data: Buffer.from('x'), mode: 0o600 }]))) w.add(e);
    assert.equal(fs.readlinkSync(path.join(root, 'bin')), 'usr/bin');
    assert.equal(fs.readFileSync(path.join(root, 'usr/bin/dash'), 'utf8'), '#dash');
    assert.equal(fs.statSync(path.join(root, 'usr/bin/dash')).mode & 0o7777, 0o755);
    assert.equal(fs.statSync(path.join(root, 'etc/secret')).mode & 0o7777, 0o600);
    assert.equal(fs.readlinkSync(path.join(root, 'usr/lib/ld-linux-riscv64-lp64d.so.1')), 'riscv64-linux-gnu/ld.so');
    w.finish('box');
    assert.equal(fs.readlinkSync(path.join(root, 'usr/bin/sh')), 'dash', '/bin/sh as dash\'s configuration makes it');
    assert.equal(fs.statSync(path.join(root, 'tmp')).mode & 0o7777, 0o1777);
    assert.equal(fs.statSync(path.join(root, 'root')).mode & 0o7777, 0o700);
    assert.match(fs.readFileSync(path.join(root, 'etc/passwd'), 'utf8'), /^root:x:0:0:/);
    assert.equal(fs.readFileSync(path.join(root, 'etc/hostname'), 'utf8'), 'box\n');
  });

  it("takes /etc/passwd and /etc/group from base-passwd's masters", () => {
    const dir = tmpdir();
    dirs.push(dir);
    const w = unpack(dir, [{ path: './usr/share/base-passwd/passwd.master', data: Buffer.from('root:*:0:0:master:/root:/bin/sh\n') }, { path: './usr/share/base-passwd/group.master', data: Buffer.from('root:*:0:\n') }]);
    w.finish();
    assert.equal(fs.readFileSync(path.join(dir, 'etc/passwd'), 'utf8'), 'root:*:0:0:master:/root:/bin/sh\n');
    assert.equal(fs.readFileSync(path.join(dir, 'etc/group'), 'utf8'), 'root:*:0:\n');
  });

  it('never writes outside the rootfs: links to absolute or climbing paths resolve inside it, ".." is refused', () => {
    const dir = tmpdir();
    dirs.push(dir);
    const root = path.join(dir, 'root');
    const outside = path.join(dir, 'outside');
    fs.mkdirSync(outside);
    const w = unpack(root, [
      { path: './usr/share/abs', link: outside },
      { path: './usr/share/abs/f', data: Buffer.from('abs') },
      { path: './usr/share/up', link: '../../../../../../outside' },
      { path: './usr/share/up/g', data: Buffer.from('up') },
      { path: './usr/share/leaf', link: path.join(outside, 'leaf') },
      { path: './usr/share/leaf', data: Buffer.from('replaced, not followed') },
    ]);
    assert.deepEqual(fs.readdirSync(outside), []);
    assert.equal(fs.readFileSync(path.join(root, outside, 'f'), 'utf8'), 'abs');
    assert.equal(fs.readFileSync(path.join(root, 'outside', 'g'), 'utf8'), 'up');
    assert.equal(fs.lstatSync(path.join(root, 'usr/share/leaf')).isFile(), true);
    assert.throws(() => w.add({ path: 'usr/../../x', type: 'file', mode: 0o644, data: Buffer.from('x'), linkTarget: '' }), ArchiveError);
    assert.throws(() => w.add({ path: 'usr/h', type: 'hardlink', mode: 0o644, data: Buffer.alloc(0), linkTarget: '../../etc/passwd' }), ArchiveError);
  });

  it('makes hard links inside the rootfs', () => {
    const dir = tmpdir();
    dirs.push(dir);
    unpack(dir, [{ path: './bin/a', data: Buffer.from('same') }, { path: './bin/b', hardlink: './bin/a' }]);
    assert.equal(fs.statSync(path.join(dir, 'usr/bin/b')).ino, fs.statSync(path.join(dir, 'usr/bin/a')).ino);
  });
});

/** A zstd frame of raw (stored) blocks: what a decoder must read, made without a compressor. */
function zstdStored(data: Buffer): Buffer {
  assert.ok(data.length >= 256 && data.length < 65536 + 256);
  const header = Buffer.from([0x28, 0xb5, 0x2f, 0xfd, 0x60, 0, 0]); // single segment, 2-byte content size
  header.writeUInt16LE(data.length - 256, 5);
  const blocks: Buffer[] = [header];
  for (let off = 0; off < data.length; off += 65536) {
    const chunk = data.subarray(off, off + 65536);
    const last = off + 65536 >= data.length ? 1 : 0;
    const bh = Buffer.alloc(3);
    bh.writeUIntLE((chunk.length << 3) | last, 0, 3);
    blocks.push(bh, chunk);
  }
  return Buffer.concat(blocks);
}

describe('packages: zstd data members', () => {
  it('reads a data.tar.zst, and refuses a damaged one', async () => {
    const tar = makeTar([{ path: './usr/bin/hello', data: Buffer.from('hi\n') }]);
    const entries = await debDataEntries(makeDeb('data.tar.zst', zstdStored(tar)));
    assert.equal(entries.find((e) => e.path === 'usr/bin/hello')?.data.toString(), 'hi\n');
    await assert.rejects(debDataEntries(makeDeb('data.tar.zst', Buffer.from('not zstd at all'))), /zstd: /);
  });
});

describe('packages: the rootfs cache against a file:// mirror', function () {
  this.timeout(30000);
  const dirs: string[] = [];
  after(() => dirs.forEach((d) => fs.rmSync(d, { recursive: true, force: true })));

  /** A mirror with hello (Depends: libc6), libc6, and base-files (Essential). */
  function mirror(badHash = false): string {
    const root = tmpdir();
    dirs.push(root);
    writePackageMirror(root, [
      { name: 'hello', entries: [{ path: './usr/bin/hello', data: Buffer.from('#!/bin/sh\necho hello\n'), mode: 0o755 }], fields: { Depends: 'libc6' } },
      { name: 'libc6', entries: [{ path: './usr/lib/ld-linux-riscv64-lp64d.so.1', data: Buffer.from('ld') }, { path: './lib/riscv64-linux-gnu/libc.so.6', data: Buffer.from('libc') }], fields: badHash ? { SHA256: 'b'.repeat(64) } : {} },
      { name: 'base-files', entries: [{ path: './etc/os-release', data: Buffer.from('ID=debian\n') }, { path: './bin', link: 'usr/bin' }], fields: { Essential: 'yes' } },
    ]);
    return root;
  }

  it('resolves, downloads, checks and unpacks once; the same request is then served offline', async () => {
    const m = mirror();
    const cache = tmpdir();
    dirs.push(cache);
    const lines: string[] = [];
    const repository = { mirror: pathToFileURL(m).toString(), suite: 'trixie', components: ['main'] };
    const first = await ensurePackageRootfs(['hello'], { cache, repository, log: (l) => lines.push(l) });
    assert.equal(first.cached, false);
    assert.deepEqual(first.info.packages.map((p) => p.name), ['base-files', 'hello', 'libc6']);
    assert.match(lines.join(''), /^tsvisor: fetching 3 of 3 packages \(0\.0 MiB\) from file:\/\/\S+ trixie\n$/);
    assert.equal(fs.readFileSync(path.join(first.root, 'usr/lib/riscv64-linux-gnu/libc.so.6'), 'utf8'), 'libc');
    assert.equal(fs.readFileSync(path.join(first.root, 'lib/ld-linux-riscv64-lp64d.so.1'), 'utf8'), 'ld', 'the loader at its PT_INTERP path, through /lib');
    assert.equal(fs.readFileSync(path.join(first.root, 'bin/hello'), 'utf8'), '#!/bin/sh\necho hello\n');
    assert.equal(fs.readdirSync(path.join(cache, 'debs')).length, 3);
    // The mirror is gone: the same request needs nothing from it.
    fs.rmSync(m, { recursive: true, force: true });
    const again = await ensurePackageRootfs(['hello'], { cache, repository, log: (l) => lines.push(l) });
    assert.deepEqual({ root: again.root, cached: again.cached }, { root: first.root, cached: true });
    assert.equal(lines.length, 1);
    await assert.rejects(ensurePackageRootfs(['hello'], { cache, repository, refresh: true }), /not found/);
  });

  it('refuses a .deb whose sha256 differs from the index, and caches no rootfs', async () => {
    const m = mirror(true);
    const cache = tmpdir();
    dirs.push(cache);
    const repository = { mirror: pathToFileURL(m).toString(), suite: 'trixie' };
    await assert.rejects(ensurePackageRootfs(['hello'], { cache, repository }), /libc6_1\.0_riscv64\.deb: sha256 [0-9a-f]{64} does not match the index's b{64}/);
    const kept = fs.existsSync(path.join(cache, 'rootfs')) ? fs.readdirSync(path.join(cache, 'rootfs')) : [];
    assert.deepEqual(kept, []);
  });
});

describe('packages: postinst steps (python byte-compiled by the guest\'s own python)', function () {
  this.timeout(30000);
  const dirs: string[] = [];
  after(() => dirs.forEach((d) => fs.rmSync(d, { recursive: true, force: true })));

  /** A mirror with python3.13-minimal (an interpreter and one module), libc6 and an Essential base-files. */
  function pythonMirror(): { repository: { mirror: string; suite: string }; cache: string } {
    const m = tmpdir();
    const cache = tmpdir();
    dirs.push(m, cache);
    writePackageMirror(m, [
      { name: 'python3.13-minimal', entries: [{ path: './usr/bin/python3.13', data: Buffer.from('\x7fELF'), mode: 0o755 }, { path: './usr/lib/python3.13/os.py', data: Buffer.from('sep = "/"\n') }], fields: { Depends: 'libc6' } },
      { name: 'libc6', entries: [{ path: './usr/lib/riscv64-linux-gnu/libc.so.6', data: Buffer.from('libc') }] },
      { name: 'base-files', entries: [{ path: './etc/os-release', data: Buffer.from('ID=debian\n') }], fields: { Essential: 'yes' } },
    ]);
    return { repository: { mirror: pathToFileURL(m).toString(), suite: 'trixie' }, cache };
  }

  it('runs the interpreter over its library once, in the tree being built, and caches the result under a key of its own', async () => {
    const { repository, cache } = pythonMirror();
    const calls: { root: string; args: string[]; sawModule: boolean }[] = [];
    const postinst = async (root: string, args: string[]) => {
      calls.push({ root, args, sawModule: fs.existsSync(path.join(root, 'usr/lib/python3.13/os.py')) });
      fs.mkdirSync(path.join(root, 'usr/lib/python3.13/__pycache__'));
      fs.writeFileSync(path.join(root, 'usr/lib/python3.13/__pycache__/os.cpython-313.pyc'), 'pyc');
      return { status: 0, output: '' };
    };
    const plain = await ensurePackageRootfs(['python3.13-minimal'], { cache, repository });
    assert.equal(fs.existsSync(path.join(plain.root, 'usr/lib/python3.13/__pycache__')), false);
    const built = await ensurePackageRootfs(['python3.13-minimal'], { cache, repository, postinst });
    assert.notEqual(built.root, plain.root, 'a byte-compiled tree is not the plain one');
    assert.deepEqual(calls.map((c) => ({ args: c.args, sawModule: c.sawModule })), [
      { args: ['/usr/bin/python3.13', '-E', '-s', '-m', 'compileall', '-q', '/usr/lib/python3.13'], sawModule: true },
    ]);
    assert.notEqual(calls[0].root, built.root, 'compiled before the tree is renamed into place');
    assert.equal(fs.readFileSync(path.join(built.root, 'usr/lib/python3.13/__pycache__/os.cpython-313.pyc'), 'utf8'), 'pyc');
    const again = await ensurePackageRootfs(['python3.13-minimal'], { cache, repository, postinst });
    assert.deepEqual({ root: again.root, cached: again.cached, calls: calls.length }, { root: built.root, cached: true, calls: 1 });
  });

  it('leaves a set without python as it was, and caches nothing when the compile fails', async () => {
    const { repository, cache } = pythonMirror();
    let ran = 0;
    const failing = async () => {
      ran++;
      return { status: 1, output: 'Compiling ...\n*** SyntaxError: bad input\n' };
    };
    const libc = await ensurePackageRootfs(['libc6'], { cache, repository });
    const libcWith = await ensurePackageRootfs(['libc6'], { cache, repository, postinst: failing });
    assert.deepEqual({ root: libcWith.root, ran }, { root: libc.root, ran: 0 });
    await assert.rejects(ensurePackageRootfs(['python3.13-minimal'], { cache, repository, postinst: failing }), /byte-compiling python3\.13's modules failed \(exit status 1\): Compiling \.\.\. \/ \*\*\* SyntaxError: bad input/);
    const trees = fs.readdirSync(path.join(cache, 'rootfs')).filter((d) => d !== 'requests');
    assert.deepEqual(trees, [path.basename(path.dirname(libc.root))], 'only the set without python is kept');
  });
});
