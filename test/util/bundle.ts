// Test helper: lays out OCI bundles holding the riscv64 fixtures, and reads
// the fixture cases and their recorded reference outputs.
//
// Contract: the rootfs layout below is the one fixtures/record.js uses to
// record the reference outputs under QEMU, so a sandbox given a bundle from
// makeBundle() sees exactly the files QEMU saw. Changing the layout (a file's
// content, a mode, a name) changes what the fixtures print: re-record
// (`node fixtures/record.js`) and commit the new fixtures/expected/*.json.
//
// Everything here is synchronous and uses only Node's own modules.

import * as crypto from 'node:crypto';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';

export interface BundleOptions {
  /** process.args; args[0] is the program, e.g. "/bin/hello". */
  args: string[];
  /** process.env, "NAME=value" entries; default ["PATH=/bin"]. */
  env?: string[];
  /** process.cwd, absolute; default "/". */
  cwd?: string;
  /** Spec hostname; default "tsvisor-test". Also written to /etc/hostname. */
  hostname?: string;
  /** process.user.uid; default 0. */
  uid?: number;
  /** process.user.gid; default 0. */
  gid?: number;
  /** root.readonly; default false. */
  readonlyRoot?: boolean;
  /** Extra regular files: absolute path in the rootfs -> content (mode 0644). */
  extraFiles?: Record<string, string>;
  /** Spec mounts of type tmpfs (after /proc and /dev), e.g. {destination: "/tmp", options: ["mode=1777"]}. */
  tmpfs?: TmpfsMount[];
  /** linux.namespaces has a network namespace (a new one); default true. Without: the sandbox's network is the caller's (src/main/network.ts). */
  networkNamespace?: boolean;
  /** Capabilities the process holds beside DEFAULT_CAPS (bounding, effective and permitted), e.g. ["CAP_SETUID"]. */
  caps?: string[];
}

/** A tmpfs the spec mounts: the recorder's jail mounts the same one for QEMU. */
export interface TmpfsMount {
  destination: string;
  options?: string[];
}

/** Hostname a bundle gets when BundleOptions.hostname is not given. */
export const DEFAULT_HOSTNAME = 'tsvisor-test';

/** Environment a bundle gets when BundleOptions.env is not given. */
export const DEFAULT_ENV: readonly string[] = ['PATH=/bin'];

/** RLIMIT_NOFILE (soft and hard) the spec asks for; the recorder applies it. */
export const NOFILE_LIMIT = 1024;

/** The capabilities the spec keeps (runc's defaults); the recorder keeps these. */
export const DEFAULT_CAPS: readonly string[] = ['CAP_AUDIT_WRITE', 'CAP_KILL', 'CAP_NET_BIND_SERVICE'];

/** The first line of the rootfs's /etc/passwd; its gecos field is the marker. */
export const PASSWD_MARKER = 'tsvisor-rootfs-passwd';

/** Content of /data/hello.txt: four lines, 129 bytes. */
export const HELLO_TXT =
  'Hello from the tsvisor rootfs.\n' +
  'This file has four lines.\n' +
  '0123456789abcdefghijklmnopqrstuvwxyz\n' +
  'The last line ends with a newline.\n';

const PASSWD =
  `root:x:0:0:${PASSWD_MARKER}:/root:/bin/sh\n` +
  'daemon:x:1:1:daemon:/usr/sbin:/usr/sbin/nologin\n' +
  'user:x:1000:1000:test user:/home/user:/bin/sh\n' +
  'nobody:x:65534:65534:nobody:/nonexistent:/usr/sbin/nologin\n';

const GROUP = 'root:x:0:\n' + 'daemon:x:1:\n' + 'user:x:1000:\n' + 'nogroup:x:65534:\n';

/** The repository root: the nearest directory above this file with fixtures/bin. */
function findRepoRoot(): string {
  let dir = __dirname;
  for (;;) {
    if (fs.existsSync(path.join(dir, 'package.json')) && fs.existsSync(path.join(dir, 'fixtures', 'bin'))) {
      return dir;
    }
    const up = path.dirname(dir);
    if (up === dir) throw new Error(`bundle: no fixtures/bin in any directory above ${__dirname}`);
    dir = up;
  }
}

let repoRootCache: string | undefined;

/** Absolute path of the repository root (the directory holding fixtures/). */
export function repoRoot(): string {
  if (repoRootCache === undefined) repoRootCache = findRepoRoot();
  return repoRootCache;
}

/** Absolute path of the fixtures directory. */
export function fixturesDir(): string {
  return path.join(repoRoot(), 'fixtures');
}

/** Absolute path of fixtures/bin/NAME; throws when that fixture was not built. */
export function fixtureBin(name: string): string {
  if (name === '' || name.includes('/') || name.startsWith('.')) {
    throw new Error(`fixtureBin: bad fixture name ${JSON.stringify(name)}`);
  }
  const p = path.join(fixturesDir(), 'bin', name);
  if (!fs.existsSync(p)) throw new Error(`fixtureBin: ${p} does not exist (run fixtures/build.sh)`);
  return p;
}

/** Names of every built fixture, sorted. */
export function fixtureNames(): string[] {
  return fs
    .readdirSync(path.join(fixturesDir(), 'bin'))
    .filter((n) => !n.startsWith('.'))
    .sort();
}

function writeFile(rootfs: string, rel: string, content: string | Buffer, mode: number): void {
  const p = path.join(rootfs, rel);
  fs.writeFileSync(p, content);
  fs.chmodSync(p, mode); // explicit: the umask must not decide what the fixtures print
}

function mkdir(rootfs: string, rel: string, mode: number): void {
  const p = path.join(rootfs, rel);
  fs.mkdirSync(p, { recursive: true });
  fs.chmodSync(p, mode);
}

/** Resolves an absolute rootfs path to a host path that stays inside rootfs. */
function inRootfs(rootfs: string, guestPath: string): string {
  if (!guestPath.startsWith('/')) throw new Error(`extraFiles: ${guestPath} is not absolute`);
  const normal = path.posix.normalize(guestPath);
  if (normal === '/' || normal.split('/').includes('..')) {
    throw new Error(`extraFiles: bad path ${guestPath}`);
  }
  return path.join(rootfs, normal);
}

/**
 * Fills the empty directory `rootfs` with the fixture layout:
 *
 *   /bin/<every fixture>       copies of fixtures/bin/*, mode 0755
 *   /etc/passwd                first line root:x:0:0:tsvisor-rootfs-passwd:/root:/bin/sh
 *   /etc/group, /etc/hostname  (hostname + "\n")
 *   /data/hello.txt            HELLO_TXT, mode 0644
 *   /data/empty                0 bytes
 *   /data/link-to-hello     -> hello.txt
 *   /data/rel-escape        -> ../../../../../etc/passwd
 *   /data/abs-escape        -> /etc/passwd
 *   /data/dir/                 a.txt "a\n", b.txt "bb\n", c.txt "" , sub/deep.txt "deep\n"
 *   /tmp                       mode 1777
 *   /proc, /dev, /root         empty directories (mount points; root's home)
 * plus `extraFiles`. Directories are 0755, files 0644 unless said otherwise.
 */
export function layoutRootfs(rootfs: string, hostname: string = DEFAULT_HOSTNAME, extraFiles: Record<string, string> = {}): void {
  fs.mkdirSync(rootfs, { recursive: true });
  fs.chmodSync(rootfs, 0o755);
  for (const d of ['bin', 'etc', 'data', 'data/dir', 'data/dir/sub', 'proc', 'dev', 'root']) mkdir(rootfs, d, 0o755);
  mkdir(rootfs, 'tmp', 0o1777);
  fs.chmodSync(path.join(rootfs, 'root'), 0o700);

  for (const name of fixtureNames()) {
    const dst = path.join(rootfs, 'bin', name);
    fs.copyFileSync(fixtureBin(name), dst);
    fs.chmodSync(dst, 0o755);
  }

  writeFile(rootfs, 'etc/passwd', PASSWD, 0o644);
  writeFile(rootfs, 'etc/group', GROUP, 0o644);
  writeFile(rootfs, 'etc/hostname', `${hostname}\n`, 0o644);

  writeFile(rootfs, 'data/hello.txt', HELLO_TXT, 0o644);
  writeFile(rootfs, 'data/empty', '', 0o644);
  fs.symlinkSync('hello.txt', path.join(rootfs, 'data/link-to-hello'));
  fs.symlinkSync('../../../../../etc/passwd', path.join(rootfs, 'data/rel-escape'));
  fs.symlinkSync('/etc/passwd', path.join(rootfs, 'data/abs-escape'));
  writeFile(rootfs, 'data/dir/a.txt', 'a\n', 0o644);
  writeFile(rootfs, 'data/dir/b.txt', 'bb\n', 0o644);
  writeFile(rootfs, 'data/dir/c.txt', '', 0o644);
  writeFile(rootfs, 'data/dir/sub/deep.txt', 'deep\n', 0o644);

  for (const [guestPath, content] of Object.entries(extraFiles)) {
    const p = inRootfs(rootfs, guestPath);
    fs.mkdirSync(path.dirname(p), { recursive: true });
    fs.writeFileSync(p, content);
    fs.chmodSync(p, 0o644);
  }
}

/** The OCI runtime spec (config.json) of a test bundle, as a plain object. */
export function makeSpec(opts: BundleOptions): Record<string, unknown> {
  if (opts.args.length === 0) throw new Error('makeBundle: args must not be empty');
  const cwd = opts.cwd ?? '/';
  if (!cwd.startsWith('/')) throw new Error(`makeBundle: cwd ${cwd} is not absolute`);
  return {
    ociVersion: '1.0.2',
    process: {
      terminal: false,
      user: { uid: opts.uid ?? 0, gid: opts.gid ?? 0 },
      args: [...opts.args],
      env: [...(opts.env ?? DEFAULT_ENV)],
      cwd,
      capabilities: {
        bounding: [...DEFAULT_CAPS, ...(opts.caps ?? [])],
        effective: [...DEFAULT_CAPS, ...(opts.caps ?? [])],
        permitted: [...DEFAULT_CAPS, ...(opts.caps ?? [])],
      },
      rlimits: [{ type: 'RLIMIT_NOFILE', hard: NOFILE_LIMIT, soft: NOFILE_LIMIT }],
      noNewPrivileges: true,
    },
    root: { path: 'rootfs', readonly: opts.readonlyRoot ?? false },
    hostname: opts.hostname ?? DEFAULT_HOSTNAME,
    mounts: [
      { destination: '/proc', type: 'proc', source: 'proc' },
      {
        destination: '/dev',
        type: 'tmpfs',
        source: 'tmpfs',
        options: ['nosuid', 'strictatime', 'mode=755', 'size=65536k'],
      },
      ...(opts.tmpfs ?? []).map((t) => ({ destination: t.destination, type: 'tmpfs', source: 'tmpfs', options: [...(t.options ?? [])] })),
    ],
    linux: {
      namespaces: [{ type: 'pid' }, { type: 'ipc' }, { type: 'uts' }, { type: 'mount' }, ...(opts.networkNamespace === false ? [] : [{ type: 'network' }])],
    },
  };
}

/**
 * A fresh bundle directory under os.tmpdir(): config.json (makeSpec(opts))
 * and rootfs/ (layoutRootfs). The caller owns it: removeBundle() when done.
 */
export function makeBundle(opts: BundleOptions): string {
  const spec = makeSpec(opts);
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'tsvisor-bundle-'));
  try {
    fs.chmodSync(dir, 0o755);
    layoutRootfs(path.join(dir, 'rootfs'), opts.hostname ?? DEFAULT_HOSTNAME, opts.extraFiles ?? {});
    fs.writeFileSync(path.join(dir, 'config.json'), JSON.stringify(spec, null, 2) + '\n');
  } catch (e) {
    fs.rmSync(dir, { recursive: true, force: true });
    throw e;
  }
  return dir;
}

/** Removes a bundle made by makeBundle (refuses anything else). */
export function removeBundle(dir: string): void {
  const base = path.basename(dir);
  if (!base.startsWith('tsvisor-bundle-') || path.resolve(path.dirname(dir)) !== path.resolve(os.tmpdir())) {
    throw new Error(`removeBundle: ${dir} is not a bundle made by makeBundle`);
  }
  fs.rmSync(dir, { recursive: true, force: true });
}

// ---------------------------------------------------------------------------
// Fixture cases (fixtures/cases.json) and their recorded outputs
// (fixtures/expected/NAME.json). See fixtures/README.md for the formats.

/** A line whose value differs between QEMU on the recording host and a sandbox, by design. */
export interface HostDependentLine {
  stream: 'stdout' | 'stderr';
  /** Regular expression selecting the line(s) in the recorded output. */
  match: string;
  /** Regular expression the sandbox's line at the same position must match instead. */
  sandbox: string;
  reason: string;
}

export type CaseCheck = 'exit' | 'stdout' | 'stderr';

export interface FixtureCase {
  name: string;
  description: string;
  /** Fixture name: fixtures/bin/BIN, /bin/BIN in the rootfs. */
  bin: string;
  /** process.args (args[0] is "/bin/BIN"). */
  args: string[];
  /** process.env, exactly (no other variables). */
  env: string[];
  cwd?: string;
  hostname?: string;
  uid?: number;
  gid?: number;
  readonlyRoot?: boolean;
  /** Spec tmpfs mounts (BundleOptions.tmpfs). */
  tmpfs?: TmpfsMount[];
  /** Capabilities beside the defaults (BundleOptions.caps). */
  caps?: string[];
  /** Bytes on stdin (UTF-8), then end of file; default none (immediate EOF). */
  stdin?: string;
  /** Repeat `stdin` this many times (large inputs); default 1. */
  stdinRepeat?: number;
  /** Expected exit status: the code, or 128+N for a death by signal N. */
  expectExit: number;
  /** Lines that must appear in stdout, in this order (hand-written from the fixture's documentation). */
  expectStdout?: string[];
  /** Lines that must appear in stderr, in this order. */
  expectStderr?: string[];
  /** Substrings that must not appear in stdout. */
  forbidStdout?: string[];
  /** Which parts of the recorded output a sandbox run must reproduce. */
  checks: CaseCheck[];
  hostDependent?: HostDependentLine[];
  /** Labels: "threads", "writes", "signals", "bench", "slow", ... for selecting cases. */
  tags?: string[];
  /** Generous wall-clock limit for one run, in milliseconds. */
  timeoutMs?: number;
}

/** fixtures/expected/NAME.json: what the program did under QEMU. */
export interface ExpectedOutput {
  name: string;
  recordedWith: string;
  /** Exit status as a shell reports it: code, or 128+N for signal N. */
  exit: number;
  /** Signal number that ended the program, or null when it exited. */
  signal: number | null;
  /** Full stdout text, or null when it was larger than 64 KiB (then use the digest). */
  stdout: string | null;
  stdoutBytes: number;
  stdoutSha256: string;
  stderr: string;
  /** The recorded lines that hostDependent patterns selected, with the reason. */
  hostDependentLines: { stream: 'stdout' | 'stderr'; line: string; reason: string }[];
}

/** Every case of fixtures/cases.json, in file order. */
export function loadCases(): FixtureCase[] {
  const text = fs.readFileSync(path.join(fixturesDir(), 'cases.json'), 'utf8');
  const doc = JSON.parse(text) as { cases: FixtureCase[] };
  return doc.cases;
}

/** The recorded reference output of a case. */
export function loadExpected(c: FixtureCase | string): ExpectedOutput {
  const name = typeof c === 'string' ? c : c.name;
  const text = fs.readFileSync(path.join(fixturesDir(), 'expected', `${name}.json`), 'utf8');
  return JSON.parse(text) as ExpectedOutput;
}

/** The bytes a case feeds to stdin. */
export function caseStdin(c: FixtureCase): Buffer {
  return Buffer.from((c.stdin ?? '').repeat(c.stdinRepeat ?? 1), 'utf8');
}

/** The bundle options that run a case. */
export function bundleOptionsFor(c: FixtureCase): BundleOptions {
  const o: BundleOptions = { args: c.args, env: c.env };
  if (c.cwd !== undefined) o.cwd = c.cwd;
  if (c.hostname !== undefined) o.hostname = c.hostname;
  if (c.uid !== undefined) o.uid = c.uid;
  if (c.gid !== undefined) o.gid = c.gid;
  if (c.readonlyRoot !== undefined) o.readonlyRoot = c.readonlyRoot;
  if (c.tmpfs !== undefined) o.tmpfs = c.tmpfs;
  if (c.caps !== undefined) o.caps = c.caps;
  return o;
}

export function sha256(data: Buffer | string): string {
  return crypto.createHash('sha256').update(data).digest('hex');
}

function splitLines(text: string): string[] {
  const lines = text.split('\n');
  if (lines.length > 0 && lines[lines.length - 1] === '') lines.pop();
  return lines;
}

/**
 * Compares one stream of a sandbox run with the recording. Lines selected by
 * the case's hostDependent entries for that stream must match the entry's
 * `sandbox` pattern instead of being equal. Returns null when they agree, or
 * a short description of the first difference.
 */
export function compareStream(c: FixtureCase, stream: 'stdout' | 'stderr', actual: Buffer | string): string | null {
  const exp = loadExpected(c);
  const actualBuf = typeof actual === 'string' ? Buffer.from(actual, 'utf8') : actual;
  const expectedText = stream === 'stdout' ? exp.stdout : exp.stderr;
  if (expectedText === null) {
    // Large output: only the digest was recorded.
    if (actualBuf.length !== exp.stdoutBytes) return `${stream}: ${actualBuf.length} bytes, expected ${exp.stdoutBytes}`;
    return sha256(actualBuf) === exp.stdoutSha256 ? null : `${stream}: sha256 differs from the recording`;
  }
  const rules = (c.hostDependent ?? []).filter((h) => h.stream === stream);
  const want = splitLines(expectedText);
  const got = splitLines(actualBuf.toString('utf8'));
  const n = Math.max(want.length, got.length);
  for (let i = 0; i < n; i++) {
    const w = want[i];
    const g = got[i];
    if (w === undefined) return `${stream} line ${i + 1}: unexpected extra line ${JSON.stringify(g)}`;
    if (g === undefined) return `${stream} line ${i + 1}: missing, expected ${JSON.stringify(w)}`;
    const rule = rules.find((r) => new RegExp(r.match).test(w));
    if (rule) {
      if (!new RegExp(rule.sandbox).test(g)) {
        return `${stream} line ${i + 1}: ${JSON.stringify(g)} does not match /${rule.sandbox}/ (${rule.reason})`;
      }
    } else if (w !== g) {
      return `${stream} line ${i + 1}: got ${JSON.stringify(g)}, expected ${JSON.stringify(w)}`;
    }
  }
  if (expectedText.endsWith('\n') !== actualBuf.toString('utf8').endsWith('\n') && got.length > 0) {
    return `${stream}: final newline differs`;
  }
  return null;
}
