// The pieces of `tsvisor do`'s package path, without the network: apt
// configuration, Release/Packages parsing, Debian version order, .deb/ar/tar
// reading, the applet table, the rootfs layout and lookups in it.

import * as assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import * as zlib from 'node:zlib';
import {
  chooseRepository,
  clearsignedBody,
  compareDebianVersions,
  debianMirrorFromSources,
  findPackage,
  parseDeb822Sources,
  parseOneLineSources,
  parseRelease,
  readAptSources,
  terminalProgress,
  FetchError,
} from '../../src/debian/fetch.js';
import { ArchiveError, debDataEntries, findFile, readAr, readTar } from '../../src/debian/archive.js';
import { busyboxApplets, checkRiscv64Elf, layoutBusyboxRootfs, layoutBusyboxSkeleton, lookPathInRootfs, resolveInRootfs, BusyboxError } from '../../src/debian/busybox-rootfs.js';
import { doSpec } from '../../src/main/do.js';
import { CAPABILITIES } from '../../src/main/caps.js';
import { fixturesDir } from '../util/bundle.js';
import { makeDeb, makeTar } from '../main/do-util.js';

const BUSYBOX = path.join(fixturesDir(), 'busybox', 'busybox');
const FAKE_DEB = path.join(fixturesDir(), 'busybox', 'fake-busybox-static.deb');

function tmpdir(): string {
  return fs.mkdtempSync(path.join(os.tmpdir(), 'tsvisor-dotest-'));
}

describe('do: apt sources', () => {
  it('reads one-line entries with options and comments, deb and deb-src', () => {
    const s = parseOneLineSources('# comment\ndeb [arch=amd64 signed-by=/k.gpg] http://m.example/debian bookworm main contrib\ndeb-src http://m.example/debian bookworm main\n\n');
    assert.equal(s.length, 2);
    assert.deepEqual(s[0], { types: ['deb'], uris: ['http://m.example/debian'], suites: ['bookworm'], components: ['main', 'contrib'], enabled: true });
    assert.deepEqual(s[1].types, ['deb-src']);
  });

  it('reads deb822 stanzas with several values, comments and Enabled: no', () => {
    const s = parseDeb822Sources('Types: deb\n# a note\nURIs: http://a.example/debian\nSuites: bookworm bookworm-updates\nComponents: main\n\nTypes: deb\nURIs: http://b.example/debian\nSuites: sid\nComponents: main\nEnabled: no\n');
    assert.equal(s.length, 2);
    assert.deepEqual(s[0].suites, ['bookworm', 'bookworm-updates']);
    assert.equal(s[0].enabled, true);
    assert.equal(s[1].enabled, false);
  });

  it("picks Debian's main archive: not security/updates suites, not third-party or disabled sources", () => {
    const sources = [
      ...parseDeb822Sources('Types: deb\nURIs: http://sec.example/debian-security\nSuites: bookworm-security\nComponents: main\n'),
      ...parseOneLineSources('deb http://vendor.example/apt nodistro main\n'),
      ...parseDeb822Sources('Types: deb\nURIs: http://off.example/debian\nSuites: trixie\nComponents: main\nEnabled: no\n'),
      ...parseDeb822Sources('Types: deb-src\nURIs: http://src.example/debian\nSuites: trixie\nComponents: main\n'),
      ...parseDeb822Sources('Types: deb\nURIs: http://main.example/debian/\nSuites: bookworm bookworm-updates\nComponents: main\n'),
    ];
    assert.equal(debianMirrorFromSources(sources), 'http://main.example/debian');
    assert.equal(debianMirrorFromSources(sources.slice(0, 4)), undefined);
  });

  it('reads sources.list and sources.list.d (*.list, *.sources) from an apt directory', () => {
    const etc = tmpdir();
    try {
      fs.mkdirSync(path.join(etc, 'sources.list.d'));
      fs.writeFileSync(path.join(etc, 'sources.list'), '# empty but for this\n');
      fs.writeFileSync(path.join(etc, 'sources.list.d', 'a.list'), 'deb http://list.example/x nodistro main\n');
      fs.writeFileSync(path.join(etc, 'sources.list.d', 'debian.sources'), 'Types: deb\nURIs: http://deb822.example/debian\nSuites: trixie\nComponents: main\n');
      fs.writeFileSync(path.join(etc, 'sources.list.d', 'ignored.txt'), 'deb http://no.example/debian sid main\n');
      assert.equal(readAptSources(etc).length, 2);
      assert.deepEqual(chooseRepository({}, etc), { mirror: 'http://deb822.example/debian', suite: 'trixie', components: ['main'] });
      assert.deepEqual(chooseRepository({ TSVISOR_DEBIAN_SUITE: 'forky' }, etc), { mirror: 'http://deb822.example/debian', suite: 'forky', components: ['main'] });
    } finally {
      fs.rmSync(etc, { recursive: true, force: true });
    }
  });

  it('prefers $TSVISOR_DEBIAN_MIRROR, refuses a non-URL there, and says so when apt has no Debian mirror', () => {
    const empty = tmpdir();
    try {
      assert.deepEqual(chooseRepository({ TSVISOR_DEBIAN_MIRROR: 'file:///srv/mirror/' }, empty), { mirror: 'file:///srv/mirror', suite: 'trixie', components: ['main'] });
      assert.throws(() => chooseRepository({ TSVISOR_DEBIAN_MIRROR: 'mirror.example' }, empty), /must be an http/);
      assert.throws(() => chooseRepository({}, empty), (e: Error) => e instanceof FetchError && /no Debian mirror in the apt configuration/.test(e.message));
    } finally {
      fs.rmSync(empty, { recursive: true, force: true });
    }
  });
});

describe('do: Release and Packages', () => {
  const sha = (c: string): string => c.repeat(64);

  it('strips the clearsigned armor and dash-escaping of InRelease (the signature is not checked)', () => {
    const signed = '-----BEGIN PGP SIGNED MESSAGE-----\nHash: SHA512\n\nOrigin: Debian\n- -dashed line\n-----BEGIN PGP SIGNATURE-----\nabc\n-----END PGP SIGNATURE-----\n';
    assert.equal(clearsignedBody(signed), 'Origin: Debian\n-dashed line');
    assert.equal(clearsignedBody('Origin: plain\n'), 'Origin: plain\n');
    assert.throws(() => clearsignedBody('-----BEGIN PGP SIGNED MESSAGE-----\nno body'), FetchError);
  });

  it('reads the architectures and SHA256 list of a Release file', () => {
    const r = parseRelease(`Origin: Debian\nArchitectures: amd64 riscv64\nMD5Sum:\n ${'0'.repeat(32)} 10 main/binary-riscv64/Packages\nSHA256:\n ${sha('a')} 12345 main/binary-riscv64/Packages.xz\n ${sha('b')} 99 main/binary-riscv64/Packages.gz\n`);
    assert.deepEqual(r.architectures, ['amd64', 'riscv64']);
    assert.deepEqual(r.files, [
      { sha256: sha('a'), size: 12345, path: 'main/binary-riscv64/Packages.xz' },
      { sha256: sha('b'), size: 99, path: 'main/binary-riscv64/Packages.gz' },
    ]);
    assert.throws(() => parseRelease('Origin: Debian\n'), /no SHA256/);
  });

  it('finds the highest version of a package for the architecture, and refuses unsafe file names', () => {
    const stanza = (v: string, arch: string, file: string): string => `Package: busybox-static\nVersion: ${v}\nArchitecture: ${arch}\nFilename: ${file}\nSize: 10\nSHA256: ${sha('c')}\nDescription: x\n more\n`;
    const text = [stanza('1:1.36.1-9', 'riscv64', 'pool/a.deb'), stanza('1:1.37.0-6+b9', 'riscv64', 'pool/b.deb'), stanza('1:9.0-1', 'amd64', 'pool/c.deb'), 'Package: other\nArchitecture: riscv64\n'].join('\n');
    const e = findPackage(text, 'busybox-static', 'riscv64');
    assert.equal(e?.version, '1:1.37.0-6+b9');
    assert.equal(e?.filename, 'pool/b.deb');
    assert.equal(findPackage(text, 'nonesuch', 'riscv64'), undefined);
    assert.throws(() => findPackage(stanza('1', 'riscv64', '../../etc/passwd'), 'busybox-static', 'riscv64'), /bad Filename/);
  });

  it("orders versions as dpkg does (epochs, ~, letters, numbers, revisions)", () => {
    const ascending = ['1.0~rc1', '1.0', '1.0-1', '1.0-1+b1', '1.0a', '1.2', '1.10', '1:0.1'];
    for (let i = 0; i + 1 < ascending.length; i++) {
      assert.equal(compareDebianVersions(ascending[i], ascending[i + 1]), -1, `${ascending[i]} < ${ascending[i + 1]}`);
      assert.equal(compareDebianVersions(ascending[i + 1], ascending[i]), 1);
    }
    assert.equal(compareDebianVersions('1:1.37.0-6+b9', '1:1.37.0-6+b9'), 0);
  });
});

describe('do: .deb archives', () => {
  it('reads a real dpkg-deb package with an xz data member (fixtures/busybox/fake-busybox-static.deb)', async () => {
    const deb = fs.readFileSync(FAKE_DEB);
    assert.deepEqual(readAr(deb).map((m) => m.name), ['debian-binary', 'control.tar.xz', 'data.tar.xz']);
    const entries = await debDataEntries(deb);
    const file = findFile(entries, ['usr/bin/busybox']);
    assert.ok(file);
    assert.deepEqual(busyboxApplets(file.data), ['[', '[[', 'echo', 'false', 'sh', 'true']);
    assert.ok(entries.some((e) => e.path === 'usr/bin' && e.type === 'dir'));
  });

  it('reads gzip data members, follows links inside the package, and rejects damage', async () => {
    const tar = makeTar([
      { path: './usr/bin/busybox', data: Buffer.from('payload') },
      { path: './bin/busybox', link: '../usr/bin/busybox' },
      { path: './bin/hard', hardlink: './usr/bin/busybox' },
    ]);
    const deb = makeDeb('data.tar.gz', zlib.gzipSync(tar));
    const entries = await debDataEntries(deb);
    assert.equal(findFile(entries, ['bin/busybox'])?.data.toString(), 'payload');
    assert.equal(findFile(entries, ['bin/hard'])?.data.toString(), 'payload');
    assert.equal(findFile(entries, ['nope']), undefined);
    const corrupt = Buffer.from(tar);
    corrupt[0] ^= 1; // checksum no longer matches
    assert.throws(() => readTar(corrupt), /checksum/);
    assert.throws(() => readAr(Buffer.from('not an archive')), ArchiveError);
    await assert.rejects(debDataEntries(makeDeb('data.tar.bz2', Buffer.alloc(10))), /unsupported compression/);
    await assert.rejects(debDataEntries(makeDeb('data.tar.xz', Buffer.from('not xz'))), /xz/);
    const truncated = deb.subarray(0, deb.length - 20);
    assert.throws(() => readAr(truncated), /runs past the end/);
  });
});

describe('do: busybox binary and rootfs', () => {
  it('reads the applet table exactly as `busybox --list` prints it under QEMU', () => {
    const applets = busyboxApplets(fs.readFileSync(BUSYBOX));
    const listed = fs.readFileSync(path.join(fixturesDir(), 'busybox', 'applets.txt'), 'utf8').split('\n').filter(Boolean);
    assert.deepEqual(applets, listed);
    assert.ok(applets.length > 200);
  });

  it('refuses binaries that are not riscv64 busybox', () => {
    assert.throws(() => checkRiscv64Elf(fs.readFileSync(process.execPath), 'node'), (e: Error) => e instanceof BusyboxError && /not riscv64/.test(e.message));
    assert.throws(() => checkRiscv64Elf(Buffer.from('#!/bin/sh\n'.padEnd(80)), 'script'), /not an ELF file/);
    assert.throws(() => busyboxApplets(fs.readFileSync(path.join(fixturesDir(), 'bin', 'hello'))), /no applet table/);
  });

  it("lays out the rootfs with hard links (tsvisor do's): each applet is busybox's inode", () => {
    const dir = tmpdir();
    const rootfs = path.join(dir, 'rootfs');
    try {
      const applets = layoutBusyboxRootfs(rootfs, BUSYBOX, undefined, 'hard');
      const own = fs.lstatSync(path.join(rootfs, 'bin/busybox'));
      assert.equal(own.nlink, new Set([...applets, 'busybox']).size);
      for (const a of applets.filter((x) => x !== 'busybox')) {
        const st = fs.lstatSync(path.join(rootfs, 'bin', a));
        assert.ok(st.isFile() && st.ino === own.ino && (st.mode & 0o7777) === 0o755, a);
      }
      assert.equal(lookPathInRootfs(rootfs, 'true', '/usr/bin'), '/usr/bin/true');
    } finally {
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });

  it('lays out the rootfs: busybox, a link per applet, usr/sbin aliases, etc files, modes', () => {
    const dir = tmpdir();
    const rootfs = path.join(dir, 'rootfs');
    try {
      const applets = layoutBusyboxRootfs(rootfs, BUSYBOX);
      const st = (p: string): fs.Stats => fs.lstatSync(path.join(rootfs, p));
      assert.ok(fs.readFileSync(path.join(rootfs, 'bin/busybox')).equals(fs.readFileSync(BUSYBOX)));
      assert.equal(st('bin/busybox').mode & 0o7777, 0o755);
      for (const a of applets.filter((x) => x !== 'busybox')) assert.equal(fs.readlinkSync(path.join(rootfs, 'bin', a)), 'busybox', a);
      assert.equal(fs.readdirSync(path.join(rootfs, 'bin')).length, new Set([...applets, 'busybox']).size);
      assert.equal(fs.readlinkSync(path.join(rootfs, 'sbin')), 'bin');
      assert.equal(fs.readlinkSync(path.join(rootfs, 'usr/bin')), '../bin');
      assert.equal(fs.readlinkSync(path.join(rootfs, 'usr/sbin')), '../bin');
      assert.equal(st('tmp').mode & 0o7777, 0o1777);
      assert.equal(st('root').mode & 0o7777, 0o700);
      assert.ok(st('proc').isDirectory() && st('dev').isDirectory());
      assert.match(fs.readFileSync(path.join(rootfs, 'etc/passwd'), 'utf8'), /^root:x:0:0:root:\/root:\/bin\/sh\n/);
      assert.match(fs.readFileSync(path.join(rootfs, 'etc/group'), 'utf8'), /^root:x:0:\n/);
      assert.equal(fs.readFileSync(path.join(rootfs, 'etc/hostname'), 'utf8'), 'tsvisor\n');
      // Every path --list-full would name reaches busybox.
      assert.equal(lookPathInRootfs(rootfs, 'sh', '/bin'), '/bin/sh');
      assert.equal(lookPathInRootfs(rootfs, 'acpid', '/usr/local/bin:/sbin'), '/sbin/acpid');
      assert.equal(resolveInRootfs(rootfs, '/usr/sbin/chroot'), path.join(rootfs, 'bin/busybox'));
    } finally {
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });

  it("lays out the skeleton (tsvisor do's per run): layoutBusyboxRootfs's tree but an empty /bin", () => {
    const dir = tmpdir();
    try {
      const one = path.join(dir, 'one');
      const two = path.join(dir, 'two');
      layoutBusyboxRootfs(one, BUSYBOX, undefined, 'hard');
      layoutBusyboxSkeleton(two);
      assert.deepEqual(fs.readdirSync(path.join(two, 'bin')), []);
      assert.equal(lookPathInRootfs(two, 'sh', '/bin:/usr/bin'), undefined);
      const tree = (root: string): string[] => {
        const out: string[] = [];
        const walk = (rel: string): void => {
          for (const name of fs.readdirSync(path.join(root, rel)).sort()) {
            const r = path.join(rel, name);
            const st = fs.lstatSync(path.join(root, r));
            out.push(`${r} ${st.mode.toString(8)} ${st.isSymbolicLink() ? fs.readlinkSync(path.join(root, r)) : st.nlink} ${st.isFile() && st.size < 4096 ? fs.readFileSync(path.join(root, r), 'latin1') : ''}`);
            if (st.isDirectory()) walk(r);
          }
        };
        walk('.');
        return out;
      };
      assert.deepEqual(tree(two), tree(one).filter((e) => !e.startsWith('bin/')));
    } finally {
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });

  it('resolves commands inside the rootfs only: absolute links and .. stay in it', () => {
    const dir = tmpdir();
    try {
      fs.mkdirSync(path.join(dir, 'usr/bin'), { recursive: true });
      fs.writeFileSync(path.join(dir, 'usr/bin/tool'), '', { mode: 0o755 });
      fs.writeFileSync(path.join(dir, 'usr/bin/data'), '', { mode: 0o644 });
      fs.symlinkSync('/usr/bin', path.join(dir, 'bin')); // absolute: means the rootfs's /usr/bin
      fs.symlinkSync('../../../../../../etc', path.join(dir, 'usr/bin/up'));
      fs.symlinkSync('loop2', path.join(dir, 'loop1'));
      fs.symlinkSync('loop1', path.join(dir, 'loop2'));
      assert.equal(lookPathInRootfs(dir, 'tool', '/bin'), '/bin/tool');
      assert.equal(lookPathInRootfs(dir, 'data', '/bin'), undefined, 'not executable');
      assert.equal(lookPathInRootfs(dir, 'missing', '/bin:/usr/bin'), undefined);
      assert.equal(lookPathInRootfs(dir, '/usr/bin/tool', ''), '/usr/bin/tool');
      assert.equal(resolveInRootfs(dir, '/usr/bin/up'), undefined, 'the rootfs has no /etc yet');
      fs.mkdirSync(path.join(dir, 'etc'));
      assert.equal(resolveInRootfs(dir, '/usr/bin/up'), path.join(dir, 'etc'));
      assert.equal(resolveInRootfs(dir, '/loop1'), undefined);
    } finally {
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });

  it("generates do's spec: the command, cwd, PATH only, root, no terminal unless asked, /proc and /dev, a network namespace", () => {
    const spec = doSpec('/abs/rootfs', ['/bin/sh', '-c', 'x'], '/tmp', false) as {
      process: { args: string[]; cwd: string; env: string[]; terminal: boolean; user: { uid: number; gid: number } };
      root: { path: string; readonly: boolean };
      mounts: { destination: string }[];
      linux: { namespaces: { type: string }[] };
      hostname: string;
    };
    assert.deepEqual(spec.process.args, ['/bin/sh', '-c', 'x']);
    assert.equal(spec.process.cwd, '/tmp');
    assert.deepEqual(spec.process.env, ['PATH=/bin:/sbin:/usr/bin:/usr/sbin']);
    assert.equal(spec.process.terminal, false);
    assert.deepEqual(spec.process.user, { uid: 0, gid: 0 });
    // Every capability in every set, as runsc do gives.
    const caps = (spec.process as unknown as { capabilities: Record<string, string[]> }).capabilities;
    for (const set of ['bounding', 'effective', 'permitted', 'inheritable', 'ambient']) assert.deepEqual(caps[set], [...CAPABILITIES], set);
    assert.deepEqual(spec.root, { path: '/abs/rootfs', readonly: false });
    assert.deepEqual(spec.mounts.map((m) => m.destination), ['/proc', '/dev']);
    assert.ok(spec.linux.namespaces.some((n) => n.type === 'network'));
    assert.equal(spec.hostname, 'tsvisor');
    // With a network to reach (--network sandbox or host), boot stays in the caller's network namespace.
    const reaching = doSpec('/r', ['/bin/sh'], '/', false, false, true) as { linux: { namespaces: { type: string }[] } };
    assert.deepEqual(reaching.linux.namespaces.map((n) => n.type).filter((t) => t === 'network'), []);
    assert.ok(reaching.linux.namespaces.length > 0, 'the other namespaces stay');
    const tty = doSpec('/r', ['/bin/sh'], '/', true) as { process: { terminal: boolean; env: string[] } };
    assert.equal(tty.process.terminal, true);
    assert.ok(tty.process.env.includes('TERM=xterm'));
  });
});

describe('do: progress bar', () => {
  it('draws on a terminal, with percentages, and ends the line; nothing when not a terminal', () => {
    const out: string[] = [];
    const fake = { isTTY: true, write: (s: string) => out.push(s) } as unknown as NodeJS.WriteStream;
    const p = terminalProgress(fake, 'busybox-static 1.0');
    assert.ok(p);
    p.update(0, 2048);
    p.update(2048, 2048);
    p.done();
    const text = out.join('');
    assert.match(text, /\r\x1b\[Ktsvisor: fetching busybox-static 1\.0 \[ +\] +0% 0 KiB\/2 KiB/);
    assert.match(text, /\[#{30}\] 100% 2 KiB\/2 KiB/);
    assert.ok(text.endsWith('\n'));
    assert.equal(terminalProgress({ isTTY: false, write: () => true } as unknown as NodeJS.WriteStream, 'x'), undefined);
  });
});
