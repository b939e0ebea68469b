// The cold path: the first run of real programs, as a user meets them. Each
// run is a fresh sandbox (a new kernel worker: no decoded or compiled block
// survives from an earlier run) and a fresh QEMU process, timed from start to
// exit; the figure is the whole run, start-up included, because that is what
// the user waits for. Programs: a busybox script of 30-odd applets (a fork and
// exec each), `bash -c true`, `python3 -c pass` and python3 importing a few
// modules compiled from source (warm code) from Debian's packages
// (src/debian: the rootfs is built once into the package cache, which needs
// the mirror the first time; without it those rows have no figure). The
// package rootfs is finished as an installed Debian system would be: python's
// modules byte-compiled by the guest's own python3 in a sandbox, once, cached
// with the rootfs (src/debian/postinst.ts), so python3 loads .pyc files
// under both targets instead of compiling its modules at every start (but in
// cold-python3-imports, which points python at an empty cache tree so that
// it compiles what it imports: warm code, issue 14).

import type { Benchmark, BenchContext } from '../measure.js';
import { exactly, programBench } from '../program.js';
import { runInSandbox, type GuestResult, type GuestRun } from '../sandbox.js';
import type { GuestRunner } from '../../src/debian/postinst.js';
import { cacheDir } from '../../src/debian/deb-cache.js';
import { ensurePackageRootfs } from '../../src/debian/package-rootfs.js';

const PATH = 'PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin';

/** A shell script of common applets; every line of its output is fixed. */
export const COLD_SCRIPT = [
  'cd /tmp && seq 1 300 > n && sort -rn n | head -3 | tr "\\n" " " && echo',
  "awk '{s+=$1} END {print s}' n && sed -n '5,7p' n | tr '\\n' ',' && echo",
  'grep -c 7 n && wc -l < n && cut -c1 n | sort | uniq -c | sort -rn | head -2 | tr -s " "',
  'printf "%s\\n" pear apple fig | sort | xargs echo && md5sum n | cut -d" " -f1 && sha1sum n | cut -c1-12',
  'echo hello world | tr a-z A-Z && basename /a/b/c.txt .txt && dirname /a/b/c.txt && expr 6 \\* 7',
  'date -u -d @0 +%Y && od -An -tx1 -N4 n | tr -s " " && head -c 100 n | tail -c 10 | tr "\\n" " " && echo',
  'rev n | head -2 | tr "\\n" " " && echo && find /tmp -name n && gzip -c n | gunzip | cmp - n && echo same',
  'stat -c %s n && test -f n && echo done',
].join('\n');

export const COLD_SCRIPT_OUTPUT = [
  '300 299 298 ', '45150', '5,6,7,', '57', '300', ' 111 2', ' 111 1', 'apple fig pear',
  'bf4fa7116e26846bba3502a134f9bcba', '8efc7f50e59b', 'HELLO WORLD', 'c', '/a/b', '42', '1970',
  ' 31 0a 32 0a', '34 35 36 3', '1 2 ', '/tmp/n', 'same', '1092', 'done',
];

/** The rootfs builder's way to run the guest's own programs (byte-compiling python): a writable sandbox with /tmp, an hour at most. */
const buildRunner: GuestRunner = async (root, args, env) => {
  const r = await runInSandbox({ rootfs: root, args, env, tmpfs: ['/tmp'] }, 3_600_000);
  return { status: r.status, output: r.stdout + r.stderr };
};

/** Rootfs of Debian packages by package list, built once per suite run (null: no mirror, with why). */
const packageRoots = new Map<string, Promise<string | null>>();
function packageRootfs(packages: string[]): Promise<string | null> {
  const key = packages.join(',');
  let p = packageRoots.get(key);
  if (!p) {
    p = ensurePackageRootfs(packages, { cache: cacheDir(), postinst: buildRunner, log: (line) => process.stderr.write(line) }).then(
      (r) => r.root,
      (e: Error) => {
        console.error(`bench: no rootfs of ${key} (${e.message}): its cold rows have no figure`);
        return null;
      },
    );
    packageRoots.set(key, p);
  }
  return p;
}

interface ColdSpec {
  name: string;
  what: string;
  /** The rootfs, prepared first; null: the row cannot run here. */
  rootfs(ctx: BenchContext): Promise<string | null>;
  run: Omit<GuestRun, 'rootfs'>;
  stdout: string[];
}

/**
 * Where a tsvisor run's instructions ran (the note of a cold row): the share
 * retired in tier 0 (the interpreter) of all the guest retired, and, when the
 * run counted every tier counter (GuestRun.engineStats, which the cold rows
 * set; src/vcpu/engine-stats.ts), the share in tier 2, blocks decoded and
 * promoted, traces and tier-2 blocks, promoted blocks sent back to tier 0,
 * the run loop's dispatches (entries into tier 0 and calls of compiled
 * blocks), and the time spent decoding and compiling (the rest ran in tier 1).
 * Counted by the kernel worker, whose vCPU runs every guest thread of a
 * one-vCPU sandbox.
 */
export function tierNote(r: GuestResult): string {
  const e = r.engine;
  if (e === undefined || r.instructions === 0) return '';
  const share = (100 * e.tier0Insns) / r.instructions;
  let note = `tier 0 ${share.toFixed(1)}% of ${(r.instructions / 1e6).toFixed(1)} M insns`;
  if (e.totalInsns > 0) {
    note += `, tier 2 ${((100 * e.tier2Insns) / r.instructions).toFixed(1)}%, ${e.tier0Blocks + e.reusedBlocks} blocks (${e.reusedBlocks} reused), ` +
      `${e.promoted} promoted (${e.traces} traces, ${e.tier2Blocks} in tier 2, ${e.demoted} back to tier 0), ` +
      `${((e.tier0Calls + e.compiledCalls) / 1e6).toFixed(1)} M dispatches, decode ${e.decodeMs.toFixed(0)} ms, compile ${e.compileMs.toFixed(0)} ms`;
  }
  return note;
}

/** A cold row: the whole run's wall time, its stdout checked line by line. */
function coldBench(s: ColdSpec): Benchmark {
  return programBench({
    name: s.name, group: 'cold', what: s.what, unit: 's', better: 'lower',
    // Every tier counter on: the note gives the tiers' shares and the time spent translating (issue 14).
    run: () => ({ ...s.run, engineStats: true }),
    rootfs: s.rootfs,
    needsRootfs: true,
    check: exactly(...s.stdout),
    figure: (r) => r.seconds,
    note: (r, target) => (target === 'tsvisor' ? tierNote(r) : ''),
  });
}

export function coldBenchmarks(): Benchmark[] {
  const readonlyRun = { readonly: true, tmpfs: ['/tmp'], env: [PATH, 'PYTHONDONTWRITEBYTECODE=1', 'HOME=/tmp'] };
  return [
    coldBench({
      name: 'cold-busybox-script',
      what: 'first run of a busybox sh script of 30-odd applets (seq, sort, awk, sed, md5sum, gzip...), each forked and exec\'d',
      rootfs: async (ctx) => ctx.busyboxRootfs,
      run: { args: ['/bin/sh', '-c', COLD_SCRIPT], env: [PATH], tmpfs: ['/tmp'] },
      stdout: COLD_SCRIPT_OUTPUT,
    }),
    coldBench({
      name: 'cold-bash-true',
      what: "first run of Debian's bash: `bash -c true` (dynamic: ld.so, libc, libtinfo)",
      rootfs: () => packageRootfs(['bash']),
      run: { args: ['/bin/bash', '-c', 'true; echo ok'], ...readonlyRun },
      stdout: ['ok'],
    }),
    coldBench({
      name: 'cold-python3',
      what: "first run of Debian's python3: `python3 -c` printing one line (the interpreter's start-up: site, encodings, ~40 modules)",
      rootfs: () => packageRootfs(['python3']),
      run: { args: ['/usr/bin/python3', '-c', 'print("ok")'], ...readonlyRun },
      stdout: ['ok'],
    }),
    coldBench({
      name: 'cold-python3-imports',
      what: "Debian's python3 importing json, decimal, fractions, email.parser, urllib.parse and sqlite3 compiled from source (no .pyc read: PYTHONPYCACHEPREFIX names an empty tree), ~1 G instructions of warm code in CPython's compiler",
      rootfs: () => packageRootfs(['python3']),
      run: { args: ['/usr/bin/python3', '-c', PY_IMPORTS], ...readonlyRun, env: [...readonlyRun.env, 'PYTHONPYCACHEPREFIX=/tmp/no-pyc'] },
      stdout: ['ready'],
    }),
  ];
}

/** The imports of the cold-python3-imports row (issue 14: warm code, src/vcpu/README.md "Decision: warm code stays in tier 0"). */
export const PY_IMPORTS = 'import json, decimal, fractions, email.parser, urllib.parse, sqlite3, sys\nprint("ready")';

