// Checkpoint and restore (docs/CHECKPOINT.md), as a user drives them through
// the OCI verbs, each beside a cold start of the same program: started with
// `tsvisor run -d` until it is ready, saved with `tsvisor checkpoint` (the
// command's whole run: quiesce, save, compress, write, end the container),
// brought back with `tsvisor restore -d` until the restored program answers.
// Two programs: ckcount (fixtures/src/ckcount.c: 32 MiB of state, a writer
// thread, a pipe; ready at its first line, saved at its fifth, answered at
// its next one, and checked against the uninterrupted run), and Debian's
// python3 with a handful of modules imported (test/util/python-server.ts;
// saved once it says ready, answered when the restored interpreter evaluates
// a line of its stdin; its rootfs is built once into the package cache,
// which needs the mirror the first time: without it those rows have no
// figure). tsvisor only: QEMU has nothing to compare.

import { spawn } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import type { Benchmark, BenchContext, Target } from '../measure.js';
import { rowsOfOneMeasurement, WrongOutput } from '../measure.js';
import { stateDir } from '../density-launch.js';
import { makeBundle, makeSpec, removeBundle, repoRoot } from '../../test/util/bundle.js';
import { PY_ENV, PY_SERVER } from '../../test/util/python-server.js';
import { closeFd, O_CLOEXEC, pipe2 } from '../../src/host/ffi.js';
import { cacheDir } from '../../src/debian/deb-cache.js';
import { ensurePackageRootfs } from '../../src/debian/package-rootfs.js';

const TSVISOR = path.join(repoRoot(), 'bin', 'tsvisor');
/** Longest wait for a program's next output. */
const OUTPUT_TIMEOUT_MS = 600_000;

interface Measured {
  coldS: number;
  saveS: number;
  restoreS: number;
  imageMiB: number;
}

/** A program to save and restore, and how to see its progress. */
interface Subject {
  /** Row names: `${prefix}-cold-start`, `-save`, `-restore`. */
  prefix: string;
  what: string;
  /** Its bundle and a way to remove it; null when it cannot run here. */
  bundle(): Promise<{ dir: string; remove(): void } | null>;
  /** The text to watch: the container's stdout (a file of ours), or a file of its rootfs. */
  watched(bundle: string, stdout: string): string;
  ready(text: string): boolean;
  saveNow(text: string): boolean;
  /** What the restored program is given on its stdin. */
  input: string;
  /** The restored program has answered: `text` is what was watched then, `saved` what it was at the checkpoint. */
  answered(text: string, saved: string): boolean;
  /** Throws WrongOutput unless the output is right. */
  check(text: string): void;
}

const CKCOUNT_EXPECTED = () => fs.readFileSync(path.join(repoRoot(), 'fixtures', 'expected', 'ckcount-file.txt'), 'utf8');
const lineCount = (text: string) => text.split('\n').length - 1;

const CKCOUNT: Subject = {
  prefix: 'ckpt-ckcount',
  what: 'ckcount (32 MiB of state, 2 threads, a pipe)',
  async bundle() {
    const dir = makeBundle({ args: ['/bin/ckcount', '/count.txt'] });
    return { dir, remove: () => removeBundle(dir) };
  },
  watched: (bundle) => path.join(bundle, 'rootfs', 'count.txt'),
  ready: (t) => lineCount(t) >= 1,
  saveNow: (t) => lineCount(t) >= 5,
  input: '',
  answered: (t, saved) => lineCount(t) > lineCount(saved),
  check(t) {
    if (!CKCOUNT_EXPECTED().startsWith(t.slice(0, t.lastIndexOf('\n') + 1))) throw new WrongOutput('the restored ckcount wrote lines an uninterrupted run does not');
  },
};

const PYTHON: Subject = {
  prefix: 'ckpt-python3',
  what: "Debian's python3 with json, decimal, fractions, email, urllib and sqlite3 imported",
  async bundle() {
    let root: string;
    try {
      root = (await ensurePackageRootfs(['python3'], { cache: cacheDir() })).root;
    } catch (e) {
      console.error(`bench: no rootfs of python3 (${(e as Error).message}): its checkpoint rows have no figure`);
      return null;
    }
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'tsvisor-bench-bundle-'));
    const spec = makeSpec({ args: ['/usr/bin/python3', '-u', '-c', PY_SERVER], env: PY_ENV, tmpfs: [{ destination: '/tmp', options: ['mode=1777'] }] });
    spec.root = { path: root, readonly: true };
    fs.writeFileSync(path.join(dir, 'config.json'), JSON.stringify(spec));
    return { dir, remove: () => fs.rmSync(dir, { recursive: true, force: true }) };
  },
  watched: (_bundle, stdout) => stdout,
  ready: (t) => t.includes('ready\n'),
  saveNow: (t) => t.includes('ready\n'),
  input: '6 * 7\n',
  answered: (t) => t.includes('\n'),
  check(t) {
    if (t !== '42\n') throw new WrongOutput(`the restored python3 answered ${JSON.stringify(t)}, not "42\\n"`);
  },
};

const secondsSince = (t0: bigint) => Number(process.hrtime.bigint() - t0) / 1e9;

/** `tsvisor ARGS` with stdin `stdinFd` (else none) and stdout into `stdout` (else none); rejects on a non-zero exit. */
function tsvisor(args: string[], stdinFd: number | 'ignore' = 'ignore', stdout: number | 'ignore' = 'ignore'): Promise<void> {
  return new Promise((resolve, reject) => {
    const c = spawn(process.execPath, [TSVISOR, ...args], { stdio: [stdinFd, stdout, 'pipe'] });
    let err = '';
    c.stderr?.on('data', (d) => (err += d));
    c.on('error', reject);
    c.on('exit', (code) => (code === 0 ? resolve() : reject(new WrongOutput(`tsvisor ${args[2]}: exit ${code}: ${err.trim()}`))));
  });
}

const textOf = (file: string) => (fs.existsSync(file) ? fs.readFileSync(file, 'utf8') : '');

async function until(file: string, what: string, done: (text: string) => boolean): Promise<string> {
  const deadline = Date.now() + OUTPUT_TIMEOUT_MS;
  for (;;) {
    const t = textOf(file);
    if (done(t)) return t;
    if (Date.now() > deadline) throw new WrongOutput(`no ${what} within ${OUTPUT_TIMEOUT_MS / 1000} s (output so far: ${JSON.stringify(t.slice(-200))})`);
    await new Promise((r) => setTimeout(r, 5));
  }
}

/**
 * A container started (run -d or restore -d) with a stdin pipe we hold (a
 * sandbox keeps the stdio its command had) and its stdout in a file.
 */
async function launched(args: string[], stdoutFile: string): Promise<{ write(s: string): void; close(): void }> {
  const p = pipe2(O_CLOEXEC);
  if (typeof p === 'number') throw new Error(`pipe2: ${p}`);
  const out = fs.openSync(stdoutFile, 'w');
  try {
    await tsvisor(args, p[0], out);
  } finally {
    fs.closeSync(out);
    closeFd(p[0]);
  }
  return { write: (s) => void fs.writeSync(p[1], s), close: () => closeFd(p[1]) };
}

async function measure(s: Subject, target: Target): Promise<Measured | null> {
  if (target !== 'tsvisor') return null;
  const bundle = await s.bundle();
  if (!bundle) return null;
  const root = stateDir();
  const work = fs.mkdtempSync(path.join(os.tmpdir(), 'tsvisor-bench-image-'));
  const image = path.join(work, 'image');
  const id = `${s.prefix}-${process.pid}`;
  const stdins: { close(): void }[] = [];
  try {
    const out1 = path.join(work, 'out1');
    let t0 = process.hrtime.bigint();
    stdins.push(await launched(['--root', root, 'run', '-d', '--bundle', bundle.dir, id], out1));
    await until(s.watched(bundle.dir, out1), 'first output', s.ready);
    const coldS = secondsSince(t0);
    await until(s.watched(bundle.dir, out1), 'output', s.saveNow);
    t0 = process.hrtime.bigint();
    await tsvisor(['--root', root, 'checkpoint', '--image-path', image, id]);
    const saveS = secondsSince(t0);
    const out2 = path.join(work, 'out2');
    const watched = s.watched(bundle.dir, out2);
    const saved = textOf(watched);
    await tsvisor(['--root', root, 'delete', id]);
    t0 = process.hrtime.bigint();
    const stdin = await launched(['--root', root, 'restore', '-d', '--image-path', image, '--bundle', bundle.dir, id], out2);
    stdins.push(stdin);
    stdin.write(s.input);
    const text = await until(watched, 'answer from the restored program', (t) => s.answered(t, saved));
    const restoreS = secondsSince(t0);
    s.check(text);
    return { coldS, saveS, restoreS, imageMiB: fs.statSync(path.join(image, 'checkpoint.img')).size / 2 ** 20 };
  } finally {
    for (const i of stdins) i.close();
    await tsvisor(['--root', root, 'delete', '--force', id]).catch(() => {});
    fs.rmSync(root, { recursive: true, force: true });
    fs.rmSync(work, { recursive: true, force: true });
    bundle.remove();
  }
}

function subjectRows(s: Subject): Benchmark[] {
  const row = (name: string, what: string): Omit<Benchmark, 'once'> => ({ name: `${s.prefix}-${name}`, group: 'checkpoint', what, unit: 's', better: 'lower' });
  return rowsOfOneMeasurement(
    [
      row('cold-start', `${s.what}: started cold with \`tsvisor run -d\` until it is ready`),
      row('save', '`tsvisor checkpoint` of the same once ready: quiesce, save, compress and write the image, end the container'),
      row('restore', '`tsvisor restore -d` of that image until the restored program answers'),
    ],
    (target: Target, _ctx: BenchContext) => measure(s, target),
    [(m) => ({ value: m.coldS }), (m) => ({ value: m.saveS, note: `image ${m.imageMiB.toFixed(1)} MiB` }), (m) => ({ value: m.restoreS })],
  );
}

export function checkpointBenchmarks(): Benchmark[] {
  return [...subjectRows(CKCOUNT), ...subjectRows(PYTHON)];
}

