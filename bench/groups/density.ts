// Density: what one more sandbox costs a host. (a) N idle sandboxes started
// at once with `tsvisor run` (each with its gofer): their resident size per
// sandbox, over all its host processes, and the time until all of them
// answer; QEMU runs N processes of the same program. (b) A long-running
// busybox shell whose every iteration forks and execs /bin/true, creates a
// file on the rootfs (through the gofer) and lists a directory: the
// sandbox's resident size after the first tenth of the iterations and after
// all of them, which should stay flat (the dentry cache is bounded, dead
// processes leave nothing behind).

import type { Benchmark, BenchContext, Figure, Target } from '../measure.js';
import { rowsOfOneMeasurement, WrongOutput } from '../measure.js';
import { bundleOver, launch, launchRun, pssKb, stateDir, treePssKb, treeRssKb, type Launched } from '../density-launch.js';
import { bundleOptionsFor, compareStream, fixtureBin, loadCases, loadExpected, makeBundle, makeSpec, removeBundle } from '../../test/util/bundle.js';
import { rssKb } from '../boot-launch.js';
import { BUSYBOX_PATH } from './procs.js';
import * as fs from 'node:fs';

/** Sandboxes started at once. */
const FLEET = 4;
/** How long the idle fleet sits before its RSS is read. */
const IDLE_MS = 1500;

let serial = 0;
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const msSince = (t0: bigint) => Number(process.hrtime.bigint() - t0) / 1e6;
const mean = (xs: number[]) => xs.reduce((a, b) => a + b, 0) / xs.length;

interface Fleet {
  /** Mean resident size of one sandbox (kB). */
  rssKb: number;
  /** Mean proportional set size of one sandbox (kB): what one more costs the host, shared pages counted once. */
  pssKb: number;
  /** Launch to the moment every one has echoed a line back (ms). */
  readyMs: number;
}

/** Starts `count` programs at once, each echoing a line when up; their RSS after IDLE_MS; all end when their stdin closes. */
async function fleet(target: Target, ctx: BenchContext, count: number): Promise<Fleet | null> {
  let start: (i: number) => Launched;
  let rss: (l: Launched) => number;
  let pss: (l: Launched) => number;
  let root = '';
  if (target === 'tsvisor') {
    const bundle = ctx.bundle(['/bin/cat']);
    root = stateDir();
    start = (i) => launchRun(root, bundle, `density-${process.pid}-${serial++}-${i}`);
    rss = (l) => treeRssKb(l.child.pid!);
    pss = (l) => treePssKb(l.child.pid!);
  } else {
    if (ctx.qemu.kind === 'absent') return null;
    const qemu = ctx.qemu.tools.qemu;
    start = () => launch(qemu, [fixtureBin('cat')]);
    rss = (l) => rssKb(l.child.pid!);
    pss = (l) => pssKb(l.child.pid!);
  }
  const t0 = process.hrtime.bigint();
  const all = Array.from({ length: count }, (_, i) => start(i));
  try {
    for (const l of all) l.child.stdin!.write('ping\n');
    await Promise.all(all.map((l) => l.waitFor('ping\n')));
    const readyMs = msSince(t0);
    await sleep(IDLE_MS);
    const sizes = all.map(rss);
    const proportional = all.map(pss);
    for (const l of all) l.child.stdin!.end();
    const status = await Promise.all(all.map((l) => l.exited));
    all.forEach((l, i) => {
      if (status[i] !== 0 || l.stdout() !== 'ping\n' || l.stderr() !== 'cat: 5 bytes\n') {
        throw new WrongOutput(`idle cat ${i} on ${target}: status ${status[i]}, stdout ${JSON.stringify(l.stdout())}, stderr ${JSON.stringify(l.stderr().slice(0, 200))}`);
      }
    });
    return { rssKb: mean(sizes), pssKb: mean(proportional), readyMs };
  } finally {
    for (const l of all) if (l.child.exitCode === null && l.child.signalCode === null) l.child.kill('SIGKILL');
    if (root) fs.rmSync(root, { recursive: true, force: true });
  }
}

/** Multi-threaded sandboxes started at once, two vCPUs each (issue 16: eight on a 2-core host). */
const THREADED_FLEET = 8;

/**
 * `count` sandboxes of the threads fixture (8 threads: mutexes, atomics,
 * join, TLS, rwlock, a producer/consumer queue) started at once, each on two
 * vCPUs: the time until the last has exited, every one checked against the
 * recorded QEMU output. QEMU runs `count` processes of the same program.
 */
async function threadedFleet(target: Target, ctx: BenchContext, count: number): Promise<number | null> {
  const c = loadCases().find((k) => k.name === 'threads')!;
  const want = loadExpected(c);
  let start: (i: number) => Launched;
  let root = '';
  let bundle = '';
  if (target === 'tsvisor') {
    bundle = makeBundle(bundleOptionsFor(c));
    root = stateDir();
    start = (i) => launchRun(root, bundle, `fleet-${process.pid}-${serial++}-${i}`, ['--cpu-num', '2']);
  } else {
    if (ctx.qemu.kind === 'absent') return null;
    const qemu = ctx.qemu.tools.qemu;
    start = () => launch(qemu, [fixtureBin('threads'), ...c.args.slice(1)]);
  }
  const t0 = process.hrtime.bigint();
  const all = Array.from({ length: count }, (_, i) => start(i));
  try {
    for (const l of all) l.child.stdin!.end();
    const status = await Promise.all(all.map((l) => l.exited));
    const ms = msSince(t0);
    all.forEach((l, i) => {
      const wrong = compareStream(c, 'stdout', Buffer.from(l.stdout()));
      if (status[i] !== want.exit || wrong !== null) {
        throw new WrongOutput(`threads ${i} of ${count} on ${target}: status ${status[i]}, ${wrong ?? 'stdout right'}; stderr ${JSON.stringify(l.stderr().slice(0, 200))}`);
      }
    });
    return ms;
  } finally {
    for (const l of all) if (l.child.exitCode === null && l.child.signalCode === null) l.child.kill('SIGKILL');
    if (root) fs.rmSync(root, { recursive: true, force: true });
    if (bundle) removeBundle(bundle);
  }
}

/** The shell loop: `n` iterations, stopping (a line out, a line in) after `first` and after `n`. */
export function densityLoop(first: number, n: number): string {
  return [
    'w=/density-loop; rm -rf $w; mkdir -p $w; cd $w',
    'mkdir $(i=0; while [ $i -lt 100 ]; do echo d$i; i=$((i + 1)); done)',
    'i=0',
    `while [ $i -lt ${n} ]; do`,
    '  /bin/true',
    '  echo $i > d$((i % 100))/f$i',
    '  set -- d$((i % 100))/*',
    '  i=$((i + 1))',
    `  if [ $i -eq ${first} ] || [ $i -eq ${n} ]; then echo "at $i $#"; read x; fi`,
    'done',
    'cd /; rm -rf $w; echo done',
  ].join('\n');
}

interface LoopRss {
  firstKb: number;
  lastKb: number;
}

async function loopRss(target: Target, ctx: BenchContext): Promise<LoopRss | null> {
  if (target !== 'tsvisor') return null;
  const [first, n] = ctx.quick ? [100, 1000] : [300, 3000];
  const bundle = bundleOver(ctx.busyboxRootfs, ['/bin/sh', '-c', densityLoop(first, n)], [BUSYBOX_PATH], makeSpec({ args: ['/bin/sh'] }));
  const root = stateDir();
  const l = launchRun(root, bundle, `density-loop-${process.pid}-${serial++}`);
  // Each bucket holds the files i with i % 100 == the bucket of the last one.
  const inBucket = (i: number) => Math.floor((i - 1) / 100) + 1;
  try {
    const timeout = 600_000;
    await l.waitFor(`at ${first} ${inBucket(first)}\n`, timeout);
    await sleep(300);
    const firstKb = treeRssKb(l.child.pid!);
    l.child.stdin!.write('\n');
    await l.waitFor(`at ${n} ${inBucket(n)}\n`, timeout);
    await sleep(300);
    const lastKb = treeRssKb(l.child.pid!);
    l.child.stdin!.write('\n');
    l.child.stdin!.end();
    const status = await l.exited;
    const want = `at ${first} ${inBucket(first)}\nat ${n} ${inBucket(n)}\ndone\n`;
    if (status !== 0 || l.stdout() !== want) throw new WrongOutput(`density loop on ${target}: status ${status}, printed ${JSON.stringify(l.stdout().slice(0, 200))}; stderr ${JSON.stringify(l.stderr().slice(0, 300))}`);
    return { firstKb, lastKb };
  } finally {
    if (l.child.exitCode === null && l.child.signalCode === null) l.child.kill('SIGKILL');
    fs.rmSync(root, { recursive: true, force: true });
    fs.rmSync(bundle, { recursive: true, force: true });
  }
}

export function densityBenchmarks(): Benchmark[] {
  return [
    ...rowsOfOneMeasurement(
      [
        { name: `idle-rss-${FLEET}`, group: 'density', what: `${FLEET} idle sandboxes (tsvisor run: run, by then its Perl waiter, the gofer, boot) started at once, guest cat blocked on stdin: resident size per sandbox, all its processes (the note: their proportional set size, node's shared code counted once)`, unit: 'MiB', better: 'lower' },
        { name: `ready-${FLEET}`, group: 'density', what: `the same ${FLEET} started at once: launch until every one has echoed a line back`, unit: 'ms', better: 'lower' },
      ],
      (target, ctx) => fleet(target, ctx, FLEET),
      [(m) => ({ value: m.rssKb / 1024, note: `PSS ${(m.pssKb / 1024).toFixed(0)} MiB` }), (m) => ({ value: m.readyMs })],
    ),
    {
      name: `threads-${THREADED_FLEET}`,
      group: 'density',
      what: `${THREADED_FLEET} sandboxes of the threads fixture (8 threads) started at once, 2 vCPUs each: launch until the last has exited, every output checked`,
      unit: 'ms',
      better: 'lower',
      async once(target, ctx) {
        const ms = await threadedFleet(target, ctx, THREADED_FLEET);
        return ms === null ? null : { value: ms };
      },
    },
    ...rowsOfOneMeasurement(
      [
        { name: 'loop-rss-early', group: 'density', what: 'busybox sh loop (fork+exec /bin/true, create a file on the rootfs, list a directory): sandbox RSS (run, gofer, boot) after 300 iterations (quick: 100)', unit: 'MiB', better: 'lower' },
        { name: 'loop-rss-late', group: 'density', what: 'the same loop after 3,000 iterations (quick: 1,000); goal: within 25% of the early figure', unit: 'MiB', better: 'lower' },
      ],
      loopRss,
      [(m) => ({ value: m.firstKb / 1024 }), (m) => ({ value: m.lastKb / 1024, note: `${m.lastKb >= m.firstKb ? '+' : ''}${(((m.lastKb - m.firstKb) / m.firstKb) * 100).toFixed(0)}% over the early figure` })],
    ),
  ];
}
