// BENCHMARKS.md: written by `npm run bench -- --report` from one full run,
// beside its chart (bench/chart.svg), so the committed report is always the
// output of the code that made it.

import { GROUPS, type Result } from './measure.js';
import { fmt, fmtRatio, markdownTable, type BenchDocument } from './table.js';

/** Where --report writes, relative to the repository root. */
export const REPORT_MD = 'BENCHMARKS.md';
export const REPORT_SVG = 'bench/chart.svg';

function find(results: readonly Result[], name: string): Result | undefined {
  return results.find((r) => r.name === name && !r.error);
}

/** One sentence per headline figure present in the results. */
export function headlines(results: readonly Result[]): string[] {
  const out: string[] = [];
  const ratios = results.filter((r) => !r.error && Number.isFinite(r.ratio) && r.unit !== 'x');
  if (ratios.length > 0) {
    const geo = Math.exp(ratios.reduce((s, r) => s + Math.log(r.ratio), 0) / ratios.length);
    const cpu = ratios.filter((r) => r.group === 'cpu');
    const cpuGeo = cpu.length ? Math.exp(cpu.reduce((s, r) => s + Math.log(r.ratio), 0) / cpu.length) : NaN;
    out.push(`Against QEMU user mode: ${fmtRatio(geo)} slower overall (geometric mean of ${ratios.length} ratios)${cpu.length ? `, ${fmtRatio(cpuGeo)} on the CPU kernels` : ''}.`);
  }
  const c = find(results, 'compute');
  if (c) out.push(`compute: ${fmt(c.tsvisor)} s (${c.note || 'no MIPS'}) vs QEMU ${fmt(c.qemu)} s, ${fmtRatio(c.ratio)}.`);
  const g = find(results, 'getpid');
  if (g) out.push(`getpid round trip: ${fmt(g.tsvisor)} µs (QEMU ${fmt(g.qemu)} µs).`);
  const f = find(results, 'futex-pingpong');
  const f2 = find(results, 'futex-pingpong-2vcpu');
  if (f) out.push(`futex wake-up round trip between two threads: ${fmt(f.tsvisor)} µs on one vCPU${f2 ? `, ${fmt(f2.tsvisor)} µs on two` : ''} (QEMU ${fmt(f.qemu)} µs${f2 ? `, ${fmt(f2.qemu)} µs` : ''}).`);
  const s = find(results, 'speedup-1to2-vcpu');
  const j = find(results, 'js-threads-1to2');
  const sh = find(results, 'speedup-share-of-host');
  if (s) out.push(`parallel speed-up from 1 to 2 vCPUs: ${fmt(s.tsvisor)}x (goal 1.8x; QEMU on 1 vs 2 host CPUs: ${fmt(s.qemu)}x${j ? `; two Node worker threads running the loop in WebAssembly on this host: ${fmt(j.tsvisor)}x` : ''}${sh ? `; measured in the same runs as the control, ${fmt(sh.tsvisor)} of the host's ceiling` : ''})${s.tsvisor > 2 ? '; above 2 is not scaling: two threads time-sliced on one vCPU run slower than one thread doing their work, which inflates the 1-vCPU sample (bench/README.md)' : ''}.`);
  const b = find(results, 'boot-to-sync');
  const h = find(results, 'launch-to-hello');
  if (b || h) out.push(`start-up: boot to the start-sync byte ${b ? fmt(b.tsvisor) : '—'} ms, launch to hello's first byte ${h ? fmt(h.tsvisor) : '—'} ms (QEMU ${h ? fmt(h.qemu) : '—'} ms).`);
  const m = find(results, 'idle-rss');
  if (m) out.push(`idle sandbox resident size: ${fmt(m.tsvisor)} MiB (QEMU running the same idle program: ${fmt(m.qemu)} MiB).`);
  return out;
}

export function reportMarkdown(doc: BenchDocument): string {
  const m = doc.machine;
  const load = (l: number[]) => l.map((x) => x.toFixed(2)).join(', ');
  return `# tsvisor benchmarks

The figures below are the output of \`npm run bench -- --report\` (bench/suite.ts), which
ran every benchmark ${doc.runs} times on each target and kept the median. Each run checks the
program's output (exit status and stdout against the answer QEMU gives); a wrong answer
fails the suite. **Ratio** is how many times worse tsvisor is than QEMU user mode: time
over QEMU's time, or QEMU's throughput over ours (below 1x: tsvisor is better).

${headlines(doc.results).map((l) => `- ${l}`).join('\n')}

![tsvisor vs QEMU per benchmark](${'bench/chart.svg'})

## Results

${markdownTable(doc.results)}
${doc.failed ? '\n**Some benchmarks failed in this run** (see the rows marked FAILED).\n' : ''}
## The machine

| | |
|---|---|
| date (UTC) | ${m.date} |
| commit | ${m.commit} |
| CPU | ${m.cores} cores, ${m.model} |
| Node.js | ${m.node} |
| QEMU | ${m.qemu}${doc.qemu.note ? ` (${doc.qemu.note})` : ''} |
| load average (1, 5, 15 min) | ${load(m.loadStart)} at the start, ${load(m.loadEnd)} at the end |

The machine is shared: other jobs ran beside the suite (see the load average, which
counts runnable tasks on ${m.cores} cores), so absolute figures are pessimistic and noisy;
tsvisor and QEMU runs alternate, so the ratios see the same load.${
    m.loadStart[0] > m.cores
      ? ` With more runnable tasks than cores, no core is idle for a second vCPU, so the 1-to-2 vCPU speed-up measures
the cost of the second vCPU's thread more than the sandbox's scaling (QEMU's threads are in the same position).`
      : ''
  }

## How each figure is measured

- **cpu**: wall time of the whole program in the sandbox (kernel worker start to exit, the
  worker thread's own start-up excluded) and of QEMU (process launch to exit). MIPS:
  guest instructions retired (the kernel worker's count) over tsvisor's time.
  \`coremix\` (fixtures/src/coremix.c) is a CoreMark-like mix of our own.
- **syscalls**, **files**: the \`syscalls\` fixture times its own loop with
  CLOCK_MONOTONIC, so neither target's start-up counts; files live in a tmpfs at /tmp.
- **pipe / futex ping-pong**: the \`pingpong\` fixture's own clock around its N round trips,
  over N. **busybox-sh-loop**: wall time of 2N steps minus that of N, over N (start-up
  cancels out).
- **fork-exec-wait**: the \`spawnloop\` fixture's own timing of fork + execv(/bin/hello) + waitpid.
- **startup**: \`tsvisor boot\` launched as runsc's parent launches it (donated spec,
  controller and start-sync fds): launch to the sync byte, and (StartRoot sent at the sync
  byte) to the first byte of \`hello\`'s stdout; QEMU: process launch to its first byte.
  **idle-rss**: VmRSS of the boot process (direct mode, no gofer) while its guest, \`cat\`,
  is blocked reading an open stdin, 1.5 s after StartRoot; QEMU: its process in the same state.
- **scaling**: \`parallel 2 N time warm\` on 1 and then at once on 2 vCPUs (QEMU held to 1
  and 2 host CPUs with taskset). \`warm\` runs the same two threads for N/4 rounds first,
  untimed (their start, the vCPU worker's start and the loop's compiles: QEMU's
  translation likewise), then the guest times the second pass from its first
  pthread_create to its last join; each run's figure is the ratio of its pair, the row the
  median of the runs. **js-threads-1to2**: the control: the same loop written directly in
  WebAssembly over shared memory (bench/js-threads.ts), run on Node's worker threads and
  timed the same way: worker threads started and warmed up on N/4 rounds, then a go word;
  one warm thread running both jobs over two running one each: the ceiling this host gives
  two busy threads of the kind of code the vCPUs' tier 2 runs.
  **speedup-share-of-host**: each run is the median of five passes (one pass alone spans
  ±11% with the control on both sides: bench/README.md); a pass is four samples in this
  process, tsvisor's and the control's interleaved (1 vCPU, 1 control thread, 2 vCPUs, 2
  control threads; the control first in every other pass), and its figure is the tsvisor
  speed-up over the control's from that pass. Beside every sample the CPU the host's other processes used
  meanwhile is measured (/proc/stat less this process, bench/host-load.ts); a sample taken
  while they kept more than 0.1 core busy is taken again (3 tries at most, the quietest
  kept), and the note gives the largest such load left in the pass: on this shared 2-core
  host a busy neighbour takes the second core from a 2-thread sample and not from a
  1-thread one, which no pairing cancels.
  **futex-pingpong-2vcpu**: the futex round trip with the threads on two vCPUs.
- **cold**: the first run of real programs, start-up included, each run in a fresh sandbox (a
  new kernel worker: nothing decoded or compiled survives from an earlier run) and a fresh
  QEMU process: a busybox script of 30-odd applets, Debian's \`bash -c true\` and
  \`python3 -c 'print("ok")'\` (their rootfs built once into the package cache; rows without
  the mirror have no figure). Wall time from the kernel's start to exit (tsvisor; the boot
  process's own start is in **startup**) and from QEMU's launch to its exit. The note
  says where the guest's instructions ran, from the kernel worker's tier counters (on for
  these rows, as \`TSVISOR_ENGINE_STATS=1\` turns them on; src/vcpu/engine-stats.ts): the
  share retired in tier 0 (the interpreter) and in tier 2 (WebAssembly; the rest ran in
  tier 1), the blocks decoded, promoted, traced and moved to tier 2, the run loop's
  dispatches, and the milliseconds spent decoding and compiling (translation).
- QEMU runs in the jail of fixtures/busybox/qemu.js (chroot into the same rootfs, /proc,
  /dev and the /tmp tmpfs mounted, binfmt_misc for the shell's children).

## Reproduce

\`\`\`sh
npm run bench                          # the whole suite, table on stdout (under 10 minutes)
npm run bench -- --group cpu           # one group: ${GROUPS.join(', ')}
npm run bench -- --only getpid         # one benchmark (--list names them)
npm run bench -- --quick               # smaller sizes, one run each
npm run bench -- --json out.json       # machine-readable results
npm run bench -- --report              # rewrite this file and bench/chart.svg
\`\`\`

QEMU comes from Debian's \`qemu-user-static\`; the jail needs root, util-linux
\`unshare\` and a host C compiler. Without root, only the programs that need no rootfs
run under QEMU; without QEMU the table says so and shows tsvisor's figures alone.
`;
}
