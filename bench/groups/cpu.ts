// CPU: guest instruction throughput on integer, floating point and memory
// bound kernels. `compute` is the fixture the first bench timed (hashing,
// qsort, matrix multiply, sieve; its output checked against the QEMU
// recording of the same scale), with guest MIPS, timed from the start of
// the program to its exit; `coremix` is our CoreMark-like mix, one row per
// kernel, timed by the guest itself, checked against the answers QEMU gave
// for these sizes.

import { loadCases, loadExpected } from '../../test/util/bundle.js';
import type { Benchmark, BenchContext } from '../measure.js';
import { exactly, guestTime, programBench } from '../program.js';

/** The compute scale timed: the recorded `compute` case (scale 1, ≈0.15 s under QEMU). */
export const COMPUTE_SCALE = '1';

/**
 * What QEMU printed for coremix KERNEL ITERATIONS at the sizes below. The
 * full sizes run a few seconds in the sandbox, so that compiling the guest's
 * blocks (the first few hundred milliseconds) is not most of the figure.
 */
const COREMIX: Record<string, { full: [number, string]; quick: [number, string] }> = {
  int: { full: [3000, 'coremix int: 3000 iterations, crc 172c'], quick: [200, 'coremix int: 200 iterations, crc e2fe'] },
  fp: {
    full: [2000, 'coremix fp: 2000 iterations, energy 5.799036e+00 poly 7.921538e+02 dot -7.750062e+04'],
    quick: [100, 'coremix fp: 100 iterations, energy 8.532567e-01 poly 6.605517e+00 dot -2.020288e+02'],
  },
  mem: { full: [8, 'coremix mem: 8 iterations, crc dbc1'], quick: [2, 'coremix mem: 2 iterations, crc 47b4'] },
};

const WHAT: Record<string, string> = {
  int: 'CoreMark-like integer mix: list find/reverse/merge sort, int16 matrix, state machine, CRC-16',
  fp: 'double precision: 32-body gravity step (sqrt, divide), Horner polynomial, dot product',
  mem: 'memory bound: pointer chase through a 16 MiB random cycle, strided sums',
};

function coremixSize(kernel: string, ctx: BenchContext): [number, string] {
  return ctx.quick ? COREMIX[kernel].quick : COREMIX[kernel].full;
}

/** The recorded stdout of the compute case at `scale`, or null when none is recorded. */
export function recordedCompute(scale: string): string | null {
  const args = ['/bin/compute', ...(scale === '1' ? [] : [scale])];
  const c = loadCases().find((k) => k.bin === 'compute' && k.args.join(' ') === args.join(' '));
  return c ? loadExpected(c).stdout : null;
}

/**
 * compute SCALE: seconds, with guest MIPS in the note (QEMU's MIPS counts
 * the instructions the sandbox retired, the same program and input).
 */
export function computeBench(scale: string): Benchmark {
  let instructions = 0;
  const expected = recordedCompute(scale);
  return programBench({
    name: 'compute',
    group: 'cpu',
    what: `compute ${scale}: FNV-1a hashing, qsort of 100k ints, 96x96 double matmul, sieve`,
    unit: 's',
    better: 'lower',
    run: () => ({ args: ['/bin/compute', scale] }),
    needsRootfs: false,
    check: (stdout) => {
      if (!stdout.startsWith(`compute: scale=${scale}\n`)) return `printed ${JSON.stringify(stdout.slice(0, 100))}`;
      if (expected !== null && stdout !== expected) return 'output differs from the QEMU recording (fixtures/expected)';
      return null;
    },
    figure: (r, target) => {
      if (target === 'tsvisor') instructions = r.instructions;
      return r.seconds;
    },
    note: (_r, _t, seconds) => (instructions ? `${(instructions / seconds / 1e6).toFixed(0)} MIPS` : ''),
  });
}

export function cpuBenchmarks(): Benchmark[] {
  return [
    computeBench(COMPUTE_SCALE),
    ...['int', 'fp', 'mem'].map((kernel) =>
      programBench({
        name: `coremix-${kernel}`,
        group: 'cpu',
        what: WHAT[kernel],
        unit: 's',
        better: 'lower',
        run: (ctx) => ({ args: ['/bin/coremix', kernel, String(coremixSize(kernel, ctx)[0])] }),
        needsRootfs: false,
        check: (stdout, ctx) => exactly(coremixSize(kernel, ctx)[1])(stdout),
        // The guest's own clock around the kernel: neither target's start-up counts.
        figure: (r) => guestTime(r.stderr, kernel).seconds,
        note: (r, target, seconds) => (target === 'tsvisor' ? `${(r.instructions / seconds / 1e6).toFixed(0)} MIPS` : ''),
      }),
    ),
  ];
}
