// Sequential read and write throughput of a 256 MiB file inside the sandbox,
// through the gofer (9P2000.L) and in direct mode, against the host's own
// cat and dd on the same file. Needs riscv64-linux-gnu-gcc (builds
// bench/gofer-io.c) and a built tree (npx tsc -p .).
//
//   node dist/bench/gofer-throughput.js [--mib 256]

import * as fs from 'node:fs';
import * as path from 'node:path';
import { execFileSync, spawnSync } from 'node:child_process';
import { makeBundle, removeBundle, repoRoot } from '../test/util/bundle.js';

const mibArg = process.argv.indexOf('--mib');
const MIB = mibArg > 0 ? Number(process.argv[mibArg + 1]) : 256;

function hostSeconds(cmd: string): number {
  const t0 = process.hrtime.bigint();
  execFileSync('sh', ['-c', cmd], { stdio: 'ignore' });
  return Number(process.hrtime.bigint() - t0) / 1e9;
}

function sandbox(bundle: string, args: string[], directfs: boolean): number {
  const spec = JSON.parse(fs.readFileSync(path.join(bundle, 'config.json'), 'utf8'));
  spec.process.args = args;
  fs.writeFileSync(path.join(bundle, 'config.json'), JSON.stringify(spec));
  const state = fs.mkdtempSync(path.join(bundle, 'state-'));
  const r = spawnSync(path.join(repoRoot(), 'bin', 'tsvisor'), ['--root', state, 'run', '--bundle', bundle, ...(directfs ? ['--directfs'] : []), `bench-${process.pid}`], { encoding: 'utf8' });
  const m = /bytes=(\d+) seconds=([\d.]+)/.exec(r.stdout);
  if (r.status !== 0 || !m) throw new Error(`sandbox run failed (${r.status}): ${r.stdout} ${r.stderr}`);
  if (Number(m[1]) !== MIB * 1048576) throw new Error(`moved ${m[1]} bytes, not ${MIB} MiB`);
  return Number(m[2]);
}

function main(): void {
  const bundle = makeBundle({ args: ['/bin/gofer-io'] });
  try {
    const rootfs = path.join(bundle, 'rootfs');
    const bin = path.join(rootfs, 'bin', 'gofer-io');
    fs.mkdirSync(path.dirname(bin), { recursive: true });
    execFileSync('riscv64-linux-gnu-gcc', ['-static', '-O2', '-o', bin, path.join(repoRoot(), 'bench', 'gofer-io.c')]);
    const data = path.join(rootfs, 'data.bin');
    execFileSync('dd', ['if=/dev/urandom', `of=${data}`, 'bs=1M', `count=${MIB}`, 'status=none']);
    const rate = (s: number) => (MIB / s).toFixed(0);
    const rows: [string, number][] = [];
    // Warm the page cache, as every reader below finds it.
    hostSeconds(`cat '${data}' > /dev/null`);
    rows.push(['host cat (read)', hostSeconds(`cat '${data}' > /dev/null`)]);
    rows.push(['host dd (write, fsync)', hostSeconds(`dd if=/dev/zero of='${rootfs}/out.bin' bs=1M count=${MIB} conv=fsync status=none`)]);
    rows.push(['sandbox read, gofer', sandbox(bundle, ['/bin/gofer-io', 'read', '/data.bin'], false)]);
    rows.push(['sandbox write, gofer', sandbox(bundle, ['/bin/gofer-io', 'write', '/out.bin', String(MIB)], false)]);
    rows.push(['sandbox read, direct', sandbox(bundle, ['/bin/gofer-io', 'read', '/data.bin'], true)]);
    rows.push(['sandbox write, direct', sandbox(bundle, ['/bin/gofer-io', 'write', '/out.bin', String(MIB)], true)]);
    const host = { read: rows[0][1], write: rows[1][1] };
    console.log(`${MIB} MiB, sequential, 1 MiB per call`);
    for (const [name, s] of rows) {
      const base = name.includes('read') ? host.read : host.write;
      console.log(`${name.padEnd(24)} ${s.toFixed(3).padStart(8)} s ${rate(s).padStart(7)} MiB/s   ${(base / s).toFixed(2)} x host`);
    }
  } finally {
    removeBundle(bundle);
  }
}

main();
