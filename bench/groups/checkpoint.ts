// Checkpoint and restore (docs/CHECKPOINT.md), as a user drives them through
// the OCI verbs: ckcount (fixtures/src/ckcount.c: 32 MiB of state, a writer
// thread, a pipe) started cold with `tsvisor run -d` until its first line,
// saved mid-run with `tsvisor checkpoint` (the command's whole run: quiesce,
// save, compress, write, end the container), and brought back with
// `tsvisor restore -d` until the restored program's next line. tsvisor only:
// QEMU has nothing to compare. Every run checks that the lines written
// before and after are the uninterrupted run's (fixtures/expected).

import { spawn } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import type { Benchmark, BenchContext, Figure, Target } from '../measure.js';
import { rowsOfOneMeasurement, WrongOutput } from '../measure.js';
import { stateDir } from '../density-launch.js';
import { makeBundle, removeBundle, repoRoot } from '../../test/util/bundle.js';

const TSVISOR = path.join(repoRoot(), 'bin', 'tsvisor');
/** Lines written before the checkpoint is taken. */
const SAVE_AFTER = 5;
/** Longest wait for a line. */
const LINE_TIMEOUT_MS = 120_000;

interface Measured {
  coldS: number;
  saveS: number;
  restoreS: number;
  imageMiB: number;
}

const secondsSince = (t0: bigint) => Number(process.hrtime.bigint() - t0) / 1e9;

/** `tsvisor ARGS`, stdio ignored; rejects on a non-zero exit. */
function tsvisor(args: string[]): Promise<void> {
  return new Promise((resolve, reject) => {
    const c = spawn(process.execPath, [TSVISOR, ...args], { stdio: ['ignore', 'ignore', 'pipe'] });
    let err = '';
    c.stderr.on('data', (d) => (err += d));
    c.on('error', reject);
    c.on('exit', (code) => (code === 0 ? resolve() : reject(new WrongOutput(`tsvisor ${args[2]}: exit ${code}: ${err.trim()}`))));
  });
}

function lines(file: string): number {
  return fs.existsSync(file) ? fs.readFileSync(file, 'utf8').split('\n').length - 1 : 0;
}

async function untilLines(file: string, n: number): Promise<void> {
  const deadline = Date.now() + LINE_TIMEOUT_MS;
  while (lines(file) < n) {
    if (Date.now() > deadline) throw new WrongOutput(`ckcount wrote ${lines(file)} lines, not ${n}, within ${LINE_TIMEOUT_MS / 1000} s`);
    await new Promise((r) => setTimeout(r, 5));
  }
}

async function measure(target: Target, _ctx: BenchContext): Promise<Measured | null> {
  if (target !== 'tsvisor') return null;
  const expected = fs.readFileSync(path.join(repoRoot(), 'fixtures', 'expected', 'ckcount-file.txt'), 'utf8');
  const bundle = makeBundle({ args: ['/bin/ckcount', '/count.txt'] });
  const root = stateDir();
  const image = fs.mkdtempSync(path.join(os.tmpdir(), 'tsvisor-bench-image-'));
  const out = path.join(bundle, 'rootfs', 'count.txt');
  const id = `ckpt-${process.pid}`;
  try {
    let t0 = process.hrtime.bigint();
    await tsvisor(['--root', root, 'run', '-d', '--bundle', bundle, id]);
    await untilLines(out, 1);
    const coldS = secondsSince(t0);
    await untilLines(out, SAVE_AFTER);
    t0 = process.hrtime.bigint();
    await tsvisor(['--root', root, 'checkpoint', '--image-path', image, id]);
    const saveS = secondsSince(t0);
    const saved = lines(out);
    await tsvisor(['--root', root, 'delete', id]);
    t0 = process.hrtime.bigint();
    await tsvisor(['--root', root, 'restore', '-d', '--image-path', image, '--bundle', bundle, id]);
    await untilLines(out, saved + 1);
    const restoreS = secondsSince(t0);
    const text = fs.readFileSync(out, 'utf8');
    if (!expected.startsWith(text.slice(0, text.lastIndexOf('\n') + 1))) throw new WrongOutput('the restored ckcount wrote lines an uninterrupted run does not');
    return { coldS, saveS, restoreS, imageMiB: fs.statSync(path.join(image, 'checkpoint.img')).size / 2 ** 20 };
  } finally {
    await tsvisor(['--root', root, 'delete', '--force', id]).catch(() => {});
    fs.rmSync(root, { recursive: true, force: true });
    fs.rmSync(image, { recursive: true, force: true });
    removeBundle(bundle);
  }
}

export function checkpointBenchmarks(): Benchmark[] {
  const row = (name: string, what: string): Omit<Benchmark, 'once'> => ({ name, group: 'checkpoint', what, unit: 's', better: 'lower' });
  return rowsOfOneMeasurement(
    [
      row('ckpt-cold-start', 'ckcount (32 MiB of state, 2 threads, a pipe) started cold with `tsvisor run -d` until its first line'),
      row('ckpt-save', '`tsvisor checkpoint` of the same, mid-run: quiesce, save, compress and write the image, end the container'),
      row('ckpt-restore', '`tsvisor restore -d` of that image until the restored program writes its next line'),
    ],
    measure,
    [(m) => ({ value: m.coldS }), (m) => ({ value: m.saveS, note: `image ${m.imageMiB.toFixed(1)} MiB` }), (m) => ({ value: m.restoreS })],
  );
}
