// System calls and files: per-call costs measured inside the guest (the
// syscalls fixture's CLOCK_MONOTONIC around each loop, so neither target's
// start-up counts), and round trips between two threads or two processes
// (pingpong's own clock around its N round trips, over N).

import type { Benchmark, BenchContext } from '../measure.js';
import { exactly, guestTime, programBench } from '../program.js';

type Per = 'us-per-op' | 'MB/s' | 'ms-per-op';

/**
 * `syscalls MODE N warm` read as µs per operation, ms per operation, or MB/s
 * moved. `warm`: the fixture runs its loop four times untimed before the
 * timed one, on both targets alike (once was not enough for V8 to have
 * optimized the paths measured: bench/README.md, "The syscall and file
 * rows' warm pass"). These rows measure a call's steady cost; the
 * cost of a sandbox's first few thousand calls (V8 compiling the vCPU's
 * interpreter and the kernel's paths, a major GC of the start-up's heap)
 * was most of a 5,000-iteration loop, which made the figure depend on N
 * (open-close 47 µs at N=5,000, 8.7 µs at 50,000), while QEMU translates
 * its loop in microseconds. Start-up has rows of its own (docs/FILES.md,
 * "The warm-up pass").
 */
function syscallsBench(name: string, group: 'syscalls' | 'files', mode: string, full: number, quick: number, per: Per, what: string, stdout: (n: number) => string, gofer?: 'donate' | '9p'): Benchmark {
  const size = (ctx: BenchContext) => (ctx.quick ? quick : full);
  return programBench({
    name,
    group,
    what,
    unit: per === 'us-per-op' ? 'µs/op' : per === 'ms-per-op' ? 'ms/op' : 'MB/s',
    better: per === 'MB/s' ? 'higher' : 'lower',
    // With a gofer, /tmp is the rootfs's own directory (the file lives on the host, served over 9P); else a tmpfs.
    run: (ctx) => ({ args: ['/bin/syscalls', mode, String(size(ctx)), 'warm'], tmpfs: gofer ? [] : ['/tmp'], gofer }),
    needsRootfs: true,
    check: (out, ctx) => exactly(stdout(size(ctx)))(out),
    figure: (r) => {
      const t = guestTime(r.stderr, mode);
      if (per === 'MB/s') return t.bytes / t.seconds / 1e6;
      return (t.seconds / t.ops) * (per === 'us-per-op' ? 1e6 : 1e3);
    },
  });
}

/**
 * pingpong MODE: µs per round trip, from the guest's clock around the round
 * trips (the time of 2N runs minus N, tried first, drowned a 10 µs round
 * trip in the start-up's noise). `cpus`: vCPUs for the sandbox, host CPUs
 * for QEMU (default: one).
 */
export function pingpongBench(name: string, group: 'syscalls' | 'scaling', mode: string, full: number, quick: number, what: string, cpus?: number): Benchmark {
  const size = (ctx: BenchContext) => (ctx.quick ? quick : full);
  return programBench({
    name, group, what, unit: 'µs/rt', better: 'lower', needsRootfs: false,
    run: (ctx) => ({ args: ['/bin/pingpong', mode, String(size(ctx)), 'time'], cpuNum: cpus }),
    check: (out, ctx) => exactly(`pingpong ${mode}: ${size(ctx)} round trips`)(out),
    figure: (r) => {
      const t = guestTime(r.stderr, 'pingpong');
      return (t.seconds / t.ops) * 1e6;
    },
  });
}

/**
 * `inet bench`: one TCP connection over the loopback between a parent and a
 * forked child (TCP_NODELAY), from the guest's clock: 'rtt' is µs per
 * 1-byte round trip, 'stream' MB/s of 64 KiB writes one way.
 */
function tcpBench(name: string, kind: 'rtt' | 'stream', full: number, quick: number, what: string): Benchmark {
  const size = (ctx: BenchContext) => (ctx.quick ? quick : full);
  const args = (ctx: BenchContext) => (kind === 'rtt' ? [size(ctx), 0] : [1, size(ctx)]);
  return programBench({
    name, group: 'syscalls', what, unit: kind === 'rtt' ? 'µs/rt' : 'MB/s', better: kind === 'rtt' ? 'lower' : 'higher', needsRootfs: false,
    run: (ctx) => ({ args: ['/bin/inet', 'bench', ...args(ctx).map(String)] }),
    check: (out, ctx) => exactly(`rounds=${args(ctx)[0]} bytes=${args(ctx)[1] * 1048576} child=0`)(out),
    figure: (r) => {
      const t = guestTime(r.stderr, `tcp-${kind}`);
      return kind === 'rtt' ? (t.seconds / t.ops) * 1e6 : t.bytes / t.seconds / 1e6;
    },
  });
}

export function syscallBenchmarks(): Benchmark[] {
  return [
    syscallsBench('getpid', 'syscalls', 'getpid', 100_000, 20_000, 'us-per-op', 'getpid (never cached): the round trip into the kernel and back', (n) => `syscalls getpid: ${n} calls, 0 wrong`),
    syscallsBench('write-devnull', 'syscalls', 'devnull', 50_000, 10_000, 'us-per-op', 'write of 1 byte to /dev/null', (n) => `syscalls devnull: ${n} writes, ${n} bytes written`),
    syscallsBench('open-close', 'syscalls', 'openclose', 5_000, 1_000, 'us-per-op', 'open+close of /data/hello.txt (rootfs file)', (n) => `syscalls openclose: ${n} opens`),
    pingpongBench('pipe-pingpong-threads', 'syscalls', 'pipe-threads', 20_000, 5_000, 'a byte each way over two pipes between two threads, per round trip'),
    pingpongBench('pipe-pingpong-procs', 'syscalls', 'pipe-procs', 20_000, 5_000, 'a byte each way over two pipes between parent and forked child, per round trip'),
    pingpongBench('shm-pingpong-procs', 'syscalls', 'shm-procs', 20_000, 5_000, 'a token each way through a word of MAP_SHARED memory (process-shared futex) between parent and forked child, per round trip'),
    tcpBench('tcp-loopback-rtt', 'rtt', 20_000, 5_000, 'a byte each way over a loopback TCP connection between parent and forked child, per round trip'),
    tcpBench('tcp-loopback-stream', 'stream', 256, 64, 'one way over a loopback TCP connection between parent and forked child, 64 KiB writes'),
  ];
}

export function fileBenchmarks(): Benchmark[] {
  return [
    syscallsBench('seq-rw', 'files', 'seqrw', 32, 8, 'MB/s', 'sequential write then read of a file in /tmp (tmpfs), 64 KiB at a time', (n) => `syscalls seqrw: ${n} MiB written and read, fnv ${SEQ_FNV[n] ?? '?'}`),
    syscallsBench('rand-rw', 'files', 'randrw', 2_000, 500, 'MB/s', '4 KiB pwrites then preads at random offsets in a 16 MiB file in /tmp', (n) => `syscalls randrw: ${n} writes and ${n} reads of 4 KiB, fnv ${RAND_FNV[n] ?? '?'}`),
    syscallsBench('rand-rw-gofer', 'files', 'randrw', 2_000, 500, 'MB/s', 'rand-rw on a rootfs file served by a gofer (a Connection on the bench\'s main thread) that donates its host fd: preads and pwrites on the fd', (n) => `syscalls randrw: ${n} writes and ${n} reads of 4 KiB, fnv ${RAND_FNV[n] ?? '?'}`, 'donate'),
    syscallsBench('rand-rw-9p', 'files', 'randrw', 2_000, 500, 'MB/s', 'rand-rw-gofer without the donation channel: each 4 KiB pread or pwrite is a 9P round trip', (n) => `syscalls randrw: ${n} writes and ${n} reads of 4 KiB, fnv ${RAND_FNV[n] ?? '?'}`, '9p'),
    syscallsBench('stat', 'files', 'stat', 5_000, 1_000, 'us-per-op', 'stat of 1000 files in a /tmp directory, round robin', (n) => `syscalls stat: ${n} stats over 1000 files, ${n} regular`),
    syscallsBench('readdir-10k', 'files', 'readdir', 10_000, 2_000, 'us-per-op', 'readdir of a 10k-entry /tmp directory (10 passes), per entry', (n) => `syscalls readdir: 10 passes over ${n} entries, ${10 * n} seen`),
  ];
}

/** The checksums QEMU printed for these sizes (what was read back). */
const SEQ_FNV: Record<number, string> = { 32: '74f8e77e0c5ce183', 8: '2881423bdd09bb03' };
const RAND_FNV: Record<number, string> = { 2000: '69281e69cbd3b0ae', 500: 'eebed2e87d3df770' };
