// `tsvisor do` end to end: its arguments and errors, --rootfs and --busybox,
// and the fetch-once cache against a fake Debian mirror made here (HTTP on
// the loopback, or file://), so no test needs the network.

import * as assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as http from 'node:http';
import type { AddressInfo } from 'node:net';
import * as os from 'node:os';
import * as path from 'node:path';
import { pathToFileURL } from 'node:url';
import * as zlib from 'node:zlib';
import { fixturesDir } from '../util/bundle.js';
import { makeDeb, makeTar, sha256, tsvisor, Result } from './do-util.js';
import { spawn } from 'node:child_process';
import { TSVISOR } from '../integration/run-util.js';
import { busyboxApplets, layoutBusyboxRootfs } from '../../src/debian/busybox-rootfs.js';
import { cachedTemplate } from '../../src/debian/busybox-template.js';

const BUSYBOX = path.join(fixturesDir(), 'busybox', 'busybox');
const VERSION = '1:1.0-1';
const DEB_PATH = 'pool/main/b/busybox/busybox-static_1.0-1_riscv64.deb';

function tmpdir(tag: string): string {
  return fs.mkdtempSync(path.join(os.tmpdir(), `tsvisor-do-${tag}-`));
}

interface MirrorOptions {
  /** Serve the Release as a clearsigned InRelease (true) or a plain Release (false). */
  inRelease?: boolean;
  /** Corrupt the sha256 the index gives for the .deb. */
  badDebHash?: boolean;
  /** Leave busybox-static out of the index. */
  withoutPackage?: boolean;
}

/** A Debian mirror tree holding busybox-static (the fixture binary, in a gzip .deb) for riscv64 in trixie. */
function makeMirror(opts: MirrorOptions = {}): string {
  const root = tmpdir('mirror');
  const write = (rel: string, data: Buffer | string): void => {
    fs.mkdirSync(path.dirname(path.join(root, rel)), { recursive: true });
    fs.writeFileSync(path.join(root, rel), data);
  };
  const deb = makeDeb('data.tar.gz', zlib.gzipSync(makeTar([{ path: './usr/bin/busybox', data: fs.readFileSync(BUSYBOX) }])));
  write(DEB_PATH, deb);
  const stanza = opts.withoutPackage
    ? 'Package: hello\nVersion: 1\nArchitecture: riscv64\nFilename: pool/h.deb\nSize: 1\nSHA256: ' + '0'.repeat(64) + '\n'
    : `Package: busybox-static\nVersion: ${VERSION}\nArchitecture: riscv64\nFilename: ${DEB_PATH}\nSize: ${deb.length}\nSHA256: ${opts.badDebHash ? 'f'.repeat(64) : sha256(deb)}\n`;
  const packagesGz = zlib.gzipSync(Buffer.from(`Package: other\nArchitecture: riscv64\nVersion: 1\n\n${stanza}`));
  write('dists/trixie/main/binary-riscv64/Packages.gz', packagesGz);
  const release = `Origin: Debian\nSuite: stable\nCodename: trixie\nArchitectures: amd64 riscv64\nSHA256:\n ${sha256(packagesGz)} ${packagesGz.length} main/binary-riscv64/Packages.gz\n`;
  if (opts.inRelease ?? true) {
    write('dists/trixie/InRelease', `-----BEGIN PGP SIGNED MESSAGE-----\nHash: SHA512\n\n${release}-----BEGIN PGP SIGNATURE-----\nnot checked\n-----END PGP SIGNATURE-----\n`);
  } else {
    write('dists/trixie/Release', release);
  }
  return root;
}

/** Serves `root` over HTTP on the loopback; records the paths asked for. */
async function serve(root: string): Promise<{ url: string; requests: string[]; close(): Promise<void> }> {
  const requests: string[] = [];
  const server = http.createServer((req, res) => {
    const rel = decodeURIComponent(new URL(req.url ?? '/', 'http://x').pathname);
    requests.push(rel);
    const file = path.join(root, path.normalize(rel));
    if (!file.startsWith(root + path.sep) || !fs.existsSync(file) || !fs.statSync(file).isFile()) {
      res.writeHead(404).end();
      return;
    }
    const data = fs.readFileSync(file);
    res.writeHead(200, { 'content-length': data.length }).end(data);
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const port = (server.address() as AddressInfo).port;
  return { url: `http://127.0.0.1:${port}/`, requests, close: () => new Promise((r) => server.close(() => r())) };
}

/** A loopback port with nothing listening. */
async function closedPort(): Promise<number> {
  const s = http.createServer();
  await new Promise<void>((r) => s.listen(0, '127.0.0.1', r));
  const port = (s.address() as AddressInfo).port;
  await new Promise<void>((r) => s.close(() => r()));
  return port;
}

describe('tsvisor do: arguments and errors', function () {
  this.timeout(60000);

  it('needs a command: usage, exit 128', async () => {
    const r = await tsvisor(['do']);
    assert.equal(r.code, 128);
    assert.match(r.stderr, /^tsvisor: no command given\nUsage: tsvisor \[global flags\] do /);
  });

  it('refuses --rootfs with --busybox, a missing rootfs, a rootfs that is a file', async () => {
    const both = await tsvisor(['do', '--rootfs', '/tmp', '--busybox', BUSYBOX, '--', 'true']);
    assert.equal(both.code, 128);
    assert.match(both.stderr, /--rootfs, --busybox and --packages exclude each other/);
    const missing = await tsvisor(['do', '--rootfs', '/nonexistent/rootfs', '--', 'true']);
    assert.equal(missing.code, 128);
    assert.equal(missing.stderr, 'tsvisor: --rootfs /nonexistent/rootfs: no such directory\n');
    const file = await tsvisor(['do', '--rootfs', BUSYBOX, '--', 'true']);
    assert.equal(file.code, 128);
    assert.equal(file.stderr, `tsvisor: --rootfs ${BUSYBOX}: not a directory\n`);
    const rel = await tsvisor(['do', '--busybox', BUSYBOX, '--cwd', 'tmp', '--', 'true']);
    assert.equal(rel.code, 128);
    assert.match(rel.stderr, /--cwd must be an absolute path/);
  });

  it('refuses a --busybox that is missing, not riscv64, or not busybox', async () => {
    const missing = await tsvisor(['do', '--busybox', '/nonexistent/busybox', '--', 'true']);
    assert.equal(missing.code, 128);
    assert.match(missing.stderr, /--busybox \/nonexistent\/busybox: no such file/);
    const host = await tsvisor(['do', '--busybox', process.execPath, '--', 'true']);
    assert.equal(host.code, 128);
    assert.match(host.stderr, /^tsvisor: cannot prepare the default rootfs: .*not riscv64 \(243\)\n$/);
    const hello = await tsvisor(['do', '--busybox', path.join(fixturesDir(), 'bin', 'hello'), '--', 'true']);
    assert.equal(hello.code, 128);
    assert.match(hello.stderr, /no applet table/);
  });

  it('gives 127 and one line for a command the rootfs lacks', async () => {
    const r = await tsvisor(['do', '--busybox', BUSYBOX, '--', 'no-such-command', 'x']);
    assert.equal(r.code, 127);
    assert.equal(r.stderr, 'tsvisor: no-such-command: not found in the PATH (/bin:/sbin:/usr/bin:/usr/sbin) of the default rootfs\n');
    const abs = await tsvisor(['do', '--busybox', BUSYBOX, '--', '/etc/passwd']);
    assert.equal(abs.code, 127);
    assert.match(abs.stderr, /\/etc\/passwd: no executable file at that path/);
  });
});

describe('tsvisor do: running busybox', function () {
  this.timeout(60000);

  it('runs applets with --busybox: echo, true, false, sh -c, and exits with their status', async () => {
    const echo = await tsvisor(['do', '--busybox', BUSYBOX, '--', 'echo', 'hello', 'from', 'busybox']);
    assert.deepEqual(echo, { code: 0, stdout: 'hello from busybox\n', stderr: '' });
    assert.equal((await tsvisor(['do', '--busybox', BUSYBOX, '--', 'true'])).code, 0);
    assert.equal((await tsvisor(['do', '--busybox', BUSYBOX, '--', 'false'])).code, 1);
    const sh = await tsvisor(['do', '--busybox', BUSYBOX, '--', 'sh', '-c', 'echo $((6*7)); echo "$PATH" >&2; exit 42']);
    assert.deepEqual(sh, { code: 42, stdout: '42\n', stderr: '/bin:/sbin:/usr/bin:/usr/sbin\n' });
  });

  it('leaves nothing behind in the temporary directory: its rootfs and state go when the command ends, also when run waited in Perl (src/main/waiter.ts) or in Node', async () => {
    for (const env of [{}, { TSVISOR_NO_WAITER: '1' }]) {
      const tmp = tmpdir('left');
      try {
        const r = await tsvisor(['do', '--busybox', BUSYBOX, '--', 'sh', '-c', 'exit 7'], { ...env, TMPDIR: tmp });
        assert.equal(r.code, 7, r.stderr);
        assert.deepEqual(fs.readdirSync(tmp), [], JSON.stringify(env));
      } finally {
        fs.rmSync(tmp, { recursive: true, force: true });
      }
    }
  });

  it('keeps the command\'s argv[0] as typed (runsc and runc do), the program found in PATH inside the sandbox', async () => {
    // Shells name themselves in messages by argv[0]: Debian's bash said "/bin/bash: line 1: ..." where Linux says "bash: ...".
    const r = await tsvisor(['do', '--busybox', BUSYBOX, '--', 'sh', '-c', 'echo "$0"']);
    assert.deepEqual(r, { code: 0, stdout: 'sh\n', stderr: '' });
    const full = await tsvisor(['do', '--busybox', BUSYBOX, '--', '/bin/sh', '-c', 'echo "$0"']);
    assert.deepEqual(full, { code: 0, stdout: '/bin/sh\n', stderr: '' });
  });

  it('a shell waiting for a background job that kill -9 or kill -TERM ended says "Killed" / "Terminated", as under Linux', async () => {
    // Linux ends the job after kill returns (it dies when it next runs), so
    // the shell is in `wait` when it learns of it and prints its note; the
    // sandbox ended a SIGKILLed process inside the sender's kill, the shell
    // reaped it before `wait` and printed nothing.
    // One vCPU: with more, the job's death races host threads (the shell's
    // vCPU worker descheduled by a loaded host), as on Linux SMP under load.
    const script = 'sleep 30 & p=$!; kill -9 $p; wait $p; echo "KILL status=$?"; sleep 30 & p=$!; kill -TERM $p; wait $p; echo "TERM status=$?"';
    const r = await tsvisor(['do', '--busybox', BUSYBOX, '--cpu-num', '1', '--', 'sh', '-c', script]);
    assert.deepEqual(r, { code: 0, stdout: 'KILL status=137\nTERM status=143\n', stderr: 'Killed\nTerminated\n' });
  });

  it('says "Killed" for each of ten jobs killed with kill -9 then waited for, where the shell\'s turn on vCPU 0 can end at its kill()', async () => {
    // A thread's turn on vCPU 0 ended by the clock right after a system call:
    // after kill -9, the victim's death and the shell's SIGCHLD came before the
    // shell's next instruction (1 pair in 4 lost its note). Preempted at the
    // call's entry, the shell makes the call at the start of its next turn and reaches `wait` first.
    const script = 'for i in 1 2 3 4 5 6 7 8 9 10; do sleep 30 & p=$!; kill -9 $p; wait $p; echo "$i=$?"; done';
    const r = await tsvisor(['do', '--busybox', BUSYBOX, '--cpu-num', '1', '--', 'sh', '-c', script]);
    assert.deepEqual(r, { code: 0, stdout: Array.from({ length: 10 }, (_, i) => `${i + 1}=137\n`).join(''), stderr: 'Killed\n'.repeat(10) });
  });

  it('passes --file-access and --file-access-mounts on to boot: with shared, a host change to the rootfs shows in the sandbox', async () => {
    const dir = tmpdir('file-access');
    const rootfs = path.join(dir, 'rootfs');
    layoutBusyboxRootfs(rootfs, BUSYBOX);
    fs.writeFileSync(path.join(rootfs, 'f'), 'x');
    try {
      // The guest changes nothing on the rootfs (exclusive mode would drop its
      // cached attributes then): it looks at /f until the host has grown it.
      // Exclusive, boot's default, keeps the size it first saw: "1" twice, after 30 s.
      const script = 'stat -c %s /f; i=0; while [ "$(stat -c %s /f)" = 1 ] && [ $i -lt 300 ]; do sleep 0.1; i=$((i+1)); done; stat -c %s /f';
      const child = spawn(TSVISOR, ['do', '--rootfs', rootfs, '--file-access=shared', '--file-access-mounts', 'exclusive', '--', 'sh', '-c', script], { stdio: ['ignore', 'pipe', 'pipe'] });
      let stdout = '';
      let stderr = '';
      child.stderr!.on('data', (b: Buffer) => (stderr += b.toString()));
      child.stdout!.on('data', (b: Buffer) => {
        stdout += b.toString();
        if (stdout === '1\n') fs.writeFileSync(path.join(rootfs, 'f'), 'grown'); // once the guest has seen it
      });
      const code = await new Promise<number | null>((resolve) => child.on('close', (c) => resolve(c)));
      assert.deepEqual({ code, stdout, stderr }, { code: 0, stdout: '1\n5\n', stderr: '' });
      const bad = await tsvisor(['do', '--rootfs', rootfs, '--file-access=cached', '--', 'true']);
      assert.deepEqual(bad, { code: 128, stdout: '', stderr: 'tsvisor: --file-access must be exclusive or shared, got "cached"\n' });
    } finally {
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });

  it('sees the laid-out tree: hostname, passwd, applet aliases, --cwd', async () => {
    const r = await tsvisor(['do', '--busybox', BUSYBOX, '--cwd', '/tmp', '--', 'sh', '-c', 'pwd; hostname; head -n 1 /etc/passwd; /usr/sbin/chroot --help >/dev/null 2>&1; echo "chroot applet: $?"; id -u']);
    assert.equal(r.stderr, '');
    assert.equal(r.stdout, '/tmp\ntsvisor\nroot:x:0:0:root:/root:/bin/sh\nchroot applet: 0\n0\n');
    assert.equal(r.code, 0);
    // /bin is the kept tree's (src/debian/busybox-template.ts), mounted over
    // the skeleton's empty one: every applet is there.
    const applets = busyboxApplets(fs.readFileSync(BUSYBOX));
    const ls = await tsvisor(['do', '--busybox', BUSYBOX, '--', 'ls', '/bin']);
    assert.equal(ls.code, 0, ls.stderr);
    assert.deepEqual(ls.stdout.split(/\s+/).filter(Boolean).sort(), [...new Set([...applets, 'busybox'])].sort());
  });

  it("keeps the guest's writes off the cached /bin (a read-only mount of the kept tree) and its other writes in the run's own rootfs", async () => {
    const dir = tmpdir('kept');
    try {
      const env = { XDG_CACHE_HOME: path.join(dir, 'cache') };
      const bin = fs.readFileSync(BUSYBOX);
      const first = await tsvisor(['do', '--busybox', BUSYBOX, '--', 'true'], env);
      assert.equal(first.code, 0, first.stderr);
      const kept = cachedTemplate(path.join(dir, 'cache', 'tsvisor'), sha256(bin));
      assert.ok(kept, 'the tree is kept in the cache');
      const snapshot = (): string[] =>
        fs.readdirSync(kept.bin).sort().map((n) => {
          const st = fs.lstatSync(path.join(kept.bin, n));
          return `${n} ${st.ino} ${st.mode.toString(8)} ${st.nlink} ${st.size} ${st.mtimeMs} ${st.ctimeMs}`;
        });
      const before = snapshot();
      // Every way a root guest could change a file or the directory: none may work.
      const ops = ['echo x > /bin/new', 'echo x > /bin/busybox', 'echo x >> /usr/bin/ls', ': > /sbin/cat', 'rm /bin/ls', 'mv /bin/cat /bin/cat2', 'chmod 4777 /bin/sh', 'chown 1:1 /bin/sh',
        'touch /bin/true', 'ln -s busybox /bin/link', 'ln /bin/busybox /bin/hard', 'ln /bin/busybox /tmp/hard', 'mkdir /bin/d', 'rmdir /bin', 'mv /bin /gone', 'chmod 700 /bin'];
      const script = ops.map((op) => `if (${op}) 2>/dev/null; then echo "changed: ${op.replace(/"/g, '')}"; fi`).join('; ') +
        '; echo x > /bin/new; echo y > /etc/new && echo z > /new && cat /etc/new /new';
      const r = await tsvisor(['do', '--busybox', BUSYBOX, '--', 'sh', '-c', script], env);
      assert.deepEqual(r, { code: 0, stdout: 'y\nz\n', stderr: "sh: can't create /bin/new: Read-only file system\n" });
      assert.deepEqual(snapshot(), before);
      assert.ok(fs.readFileSync(path.join(kept.bin, 'busybox')).equals(bin));
      // The next run starts from a fresh rootfs around the same tree.
      const next = await tsvisor(['do', '--busybox', BUSYBOX, '--', 'sh', '-c', 'ls /etc /; ls /bin | wc -l'], env);
      assert.equal(next.code, 0, next.stderr);
      assert.doesNotMatch(next.stdout, /\bnew\b/);
      assert.match(next.stdout, new RegExp(`\\n${new Set([...busyboxApplets(bin), 'busybox']).size}\\n$`));
    } finally {
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });

  it('keeps a skeleton its run left untouched for the next run, and removes one the guest changed (the waiter in Perl, and run in Node)', async function () {
    this.timeout(180000);
    // What every run must find: a skeleton as laid out, whatever the runs before it did.
    const PRISTINE = 'ls -A /tmp /root; stat -c %a /etc; cat /etc/hostname';
    const CLEAN = '/root:\n\n/tmp:\n755\ntsvisor\n';
    for (const extra of [{}, { TSVISOR_NO_WAITER: '1' }]) {
      const dir = tmpdir('spare');
      try {
        const env = { ...extra, XDG_CACHE_HOME: path.join(dir, 'cache'), TMPDIR: path.join(dir, 'tmp') };
        fs.mkdirSync(env.TMPDIR);
        const spares = (): string[] => fs.readdirSync(path.join(dir, 'cache', 'tsvisor', 'busybox-rootfs', 'spare'));
        const run = async (script: string): Promise<string> => {
          const r = await tsvisor(['do', '--busybox', BUSYBOX, '--', 'sh', '-c', script], env);
          assert.equal(r.code, 0, `${script}: ${r.stderr}`);
          return r.stdout;
        };
        const first = await run(`ls -id / | cut -d" " -f1; ${PRISTINE}`);
        assert.match(first, new RegExp(`^\\d+\\n${CLEAN}$`));
        assert.equal(spares().length, 1);
        assert.equal(await run(`ls -id / | cut -d" " -f1; ${PRISTINE}`), first, 'the same skeleton again');
        assert.equal(spares().length, 1);
        // A change of any kind, however quick (the check is to the nanosecond): removed, no spare left.
        const ops = 'TSVISOR_NO_WAITER' in extra ? ['chmod 700 /etc'] : ['echo x > /tmp/x', 'chmod 700 /etc', 'touch /etc/passwd', 'ln /etc/passwd /root/p'];
        for (const op of ops) {
          assert.equal(await run(`${PRISTINE}; ${op}`), CLEAN, op);
          assert.deepEqual(spares(), [], op);
        }
        assert.equal(await run(PRISTINE), CLEAN);
        assert.equal(spares().length, 1);
        assert.deepEqual(fs.readdirSync(env.TMPDIR), []);
      } finally {
        fs.rmSync(dir, { recursive: true, force: true });
      }
    }
  });

  it('with --rootfs runs in that directory as it is, and its writes stay there', async () => {
    const dir = tmpdir('rootfs');
    try {
      const rootfs = path.join(dir, 'rootfs');
      layoutBusyboxRootfs(rootfs, BUSYBOX);
      fs.writeFileSync(path.join(rootfs, 'etc/motd'), 'from the host\n');
      const r = await tsvisor(['do', '--rootfs', rootfs, '--', 'sh', '-c', 'cat /etc/motd; echo written > /tmp/out']);
      assert.deepEqual(r, { code: 0, stdout: 'from the host\n', stderr: '' });
      assert.equal(fs.readFileSync(path.join(rootfs, 'tmp/out'), 'utf8'), 'written\n');
    } finally {
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });
});

describe('tsvisor do: fetching busybox-static once into the cache', function () {
  this.timeout(90000);
  const dirs: string[] = [];
  const track = (d: string): string => (dirs.push(d), d);
  after(() => {
    for (const d of dirs) fs.rmSync(d, { recursive: true, force: true });
  });

  it('fetches, verifies and caches it from the mirror, then runs without the network', async () => {
    const mirror = track(makeMirror());
    const cache = track(tmpdir('cache'));
    const server = await serve(mirror);
    let first: Result;
    try {
      first = await tsvisor(['do', '--', 'echo', 'fetched'], { XDG_CACHE_HOME: cache, TSVISOR_DEBIAN_MIRROR: server.url });
    } finally {
      await server.close();
    }
    assert.deepEqual(first, { code: 0, stdout: 'fetched\n', stderr: '' }, 'no progress bar when stderr is not a terminal');
    assert.deepEqual(server.requests, ['/dists/trixie/InRelease', '/dists/trixie/main/binary-riscv64/Packages.gz', `/${DEB_PATH}`]);
    const info = JSON.parse(fs.readFileSync(path.join(cache, 'tsvisor', 'busybox-static', 'current.json'), 'utf8'));
    assert.equal(info.version, VERSION);
    assert.equal(info.sha256, sha256(fs.readFileSync(BUSYBOX)));
    assert.equal(info.applets, 272);
    assert.ok(fs.readFileSync(path.join(cache, 'tsvisor', 'busybox-static', '1%3a1.0-1', 'busybox')).equals(fs.readFileSync(BUSYBOX)));
    // The server is gone and the mirror unreachable: the cache serves.
    const offline = { XDG_CACHE_HOME: cache, TSVISOR_DEBIAN_MIRROR: `http://127.0.0.1:${await closedPort()}` };
    assert.deepEqual(await tsvisor(['do', '--', 'sh', '-c', 'exit 42'], offline), { code: 42, stdout: '', stderr: '' });
    assert.equal((await tsvisor(['do', '--', 'false'], offline)).code, 1);
    // A damaged cache is not used: it is fetched again (and here cannot be).
    fs.writeFileSync(path.join(cache, 'tsvisor', 'busybox-static', '1%3a1.0-1', 'busybox'), 'damaged');
    const damaged = await tsvisor(['do', '--', 'true'], offline);
    assert.equal(damaged.code, 128);
    assert.match(damaged.stderr, /^tsvisor: cannot prepare the default rootfs: cannot reach http:\/\/127\.0\.0\.1:\d+ \(ECONNREFUSED\): no network\?\n$/);
  });

  it('takes a file:// mirror with a plain Release file', async () => {
    const mirror = track(makeMirror({ inRelease: false }));
    const cache = track(tmpdir('cache'));
    const r = await tsvisor(['do', '--', 'sh', '-c', 'echo via file; exit 3'], { XDG_CACHE_HOME: cache, TSVISOR_DEBIAN_MIRROR: pathToFileURL(mirror).toString() });
    assert.deepEqual(r, { code: 3, stdout: 'via file\n', stderr: '' });
  });

  it('refuses a package whose sha256 differs from the index, and caches nothing', async () => {
    const mirror = track(makeMirror({ badDebHash: true }));
    const cache = track(tmpdir('cache'));
    const r = await tsvisor(['do', '--', 'true'], { XDG_CACHE_HOME: cache, TSVISOR_DEBIAN_MIRROR: pathToFileURL(mirror).toString() });
    assert.equal(r.code, 128);
    assert.match(r.stderr, /^tsvisor: cannot prepare the default rootfs: .*busybox-static_1\.0-1_riscv64\.deb: sha256 [0-9a-f]{64} does not match the index's f{64}\n$/);
    assert.equal(fs.existsSync(path.join(cache, 'tsvisor', 'busybox-static', 'current.json')), false);
  });

  it('says so when the package or the suite is missing', async () => {
    const mirror = track(makeMirror({ withoutPackage: true }));
    const cache = track(tmpdir('cache'));
    const env = { XDG_CACHE_HOME: cache, TSVISOR_DEBIAN_MIRROR: pathToFileURL(mirror).toString() };
    const r = await tsvisor(['do', '--', 'true'], env);
    assert.equal(r.code, 128);
    assert.match(r.stderr, /^tsvisor: cannot prepare the default rootfs: package busybox-static for riscv64 is not in trixie main of file:\/\/.*\n$/);
    const suite = await tsvisor(['do', '--', 'true'], { ...env, TSVISOR_DEBIAN_SUITE: 'nosuch' });
    assert.equal(suite.code, 128);
    assert.match(suite.stderr, /dists\/nosuch\/Release: not found\n$/);
  });
});
