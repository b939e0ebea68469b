// `npm run bench`: the compute fixture through the whole sandbox (kernel
// worker, loader, syscalls), timed end to end, with its output checked
// against the QEMU recording; beside it the same binary under
// qemu-riscv64-static when installed. Prints guest MIPS and the time ratio.
//
//   npm run bench [-- SCALE]      (default 20: the recorded compute-bench case)

import { spawnSync } from 'node:child_process';
import * as path from 'node:path';
import { Worker } from 'node:worker_threads';
import * as Comlink from 'comlink';
import nodeEndpoint from 'comlink/dist/umd/node-adapter';
import { fixtureBin, loadCases, loadExpected, makeBundle, removeBundle } from '../test/util/bundle.js';
import type { KernelApi } from '../src/workers/kernel-worker.js';
import type { SandboxConfig } from '../src/kernel/sandbox-config.js';
import * as fs from 'node:fs';
import * as os from 'node:os';

interface Sample {
  seconds: number;
  instructions: number;
  stdout: string;
}

async function runInSandbox(args: string[]): Promise<Sample> {
  const bundle = makeBundle({ args });
  const outPath = path.join(os.tmpdir(), `tsvisor-bench-${process.pid}.out`);
  const outFd = fs.openSync(outPath, 'w+');
  const cfg: SandboxConfig = {
    containerId: 'bench', rootPath: path.join(bundle, 'rootfs'), rootReadonly: false, args, env: ['PATH=/bin'], cwd: '/',
    hostname: 'bench', uid: 0, gid: 0, additionalGids: [], umask: 0o22, rlimits: [], totalMemory: 2 ** 31, cpuNum: 1,
    stdioFds: [0, outFd, 2], console: false, strace: false, userLogFd: 0, log: { debug: false, format: 'text' },
  };
  const worker = new Worker(path.join(__dirname, '..', 'src', 'workers', 'kernel-worker.js'), { workerData: cfg });
  const k = Comlink.wrap<KernelApi>(nodeEndpoint(worker));
  try {
    const t0 = process.hrtime.bigint();
    const err = await k.start();
    if (err) throw new Error(err);
    const status = await k.wait();
    const seconds = Number(process.hrtime.bigint() - t0) / 1e9;
    if (status !== 0) throw new Error(`exit status ${status}`);
    const { cpuInstructions } = await k.stats();
    await k.shutdown();
    return { seconds, instructions: cpuInstructions, stdout: fs.readFileSync(outPath, 'utf8') };
  } finally {
    await worker.terminate();
    fs.closeSync(outFd);
    fs.rmSync(outPath, { force: true });
    removeBundle(bundle);
  }
}

function runInQemu(args: string[]): { seconds: number; stdout: string } | null {
  const probe = spawnSync('qemu-riscv64-static', ['--version']);
  if (probe.error || probe.status !== 0) return null;
  const t0 = process.hrtime.bigint();
  const r = spawnSync('qemu-riscv64-static', [fixtureBin('compute'), ...args.slice(1)], { encoding: 'utf8', maxBuffer: 1 << 26 });
  return { seconds: Number(process.hrtime.bigint() - t0) / 1e9, stdout: r.stdout };
}

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.floor(s.length / 2)];
}

async function main(): Promise<number> {
  const scale = process.argv[2] ?? '20';
  const runs = Number(process.env.BENCH_RUNS ?? 3);
  const args = ['/bin/compute', scale];
  const recorded = loadCases().find((c) => c.bin === 'compute' && c.args.join(' ') === args.join(' '));
  const expected = recorded ? loadExpected(recorded).stdout : null;
  let failed = false;
  const ours: Sample[] = [];
  for (let i = 0; i < runs; i++) ours.push(await runInSandbox(args));
  for (const s of ours) {
    if (expected !== null && s.stdout !== expected) {
      console.error('bench: compute printed something other than the QEMU recording');
      failed = true;
    }
  }
  const t = median(ours.map((s) => s.seconds));
  const insns = ours[0].instructions;
  console.log(`compute ${scale} (${runs} runs, median)`);
  console.log(`  tsvisor  ${t.toFixed(3)} s  ${(insns / 1e6).toFixed(0)} M guest instructions  ${(insns / t / 1e6).toFixed(1)} MIPS  output ${expected === null ? 'not recorded for this scale' : failed ? 'WRONG' : 'matches QEMU'}`);
  const q: number[] = [];
  for (let i = 0; i < runs; i++) {
    const r = runInQemu(args);
    if (!r) break;
    if (ours[0].stdout !== r.stdout) {
      console.error('bench: tsvisor and QEMU printed different output');
      failed = true;
    }
    q.push(r.seconds);
  }
  if (q.length === 0) console.log('  qemu     not installed (qemu-riscv64-static): no comparison');
  else console.log(`  qemu     ${median(q).toFixed(3)} s  ${(insns / median(q) / 1e6).toFixed(1)} MIPS  ratio tsvisor/qemu time ${(t / median(q)).toFixed(2)}x`);
  return failed ? 1 : 0;
}

main().then((c) => process.exit(c), (e) => {
  console.error(`bench: ${(e as Error).message}`);
  process.exit(1);
});
