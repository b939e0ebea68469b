// One guest program through the whole sandbox (kernel worker, loader,
// syscalls, vCPUs), in this process, as `tsvisor boot` runs it but without
// the boot process's start-up: the benchmarks time the guest, not Node's
// start. Returns the wall time from start (the worker loaded, the kernel
// not yet built) to exit, the guest instructions
// retired (the kernel worker's stats), the exit status and what the program
// wrote on stdout and stderr.

import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { Worker } from 'node:worker_threads';
import * as Comlink from 'comlink';
import nodeEndpoint from 'comlink/dist/umd/node-adapter';
import type { KernelApi } from '../src/workers/kernel-worker.js';
import type { SandboxConfig, SandboxMount } from '../src/kernel/sandbox-config.js';

export interface GuestRun {
  /** argv; args[0] is the program's path in the rootfs. */
  args: string[];
  /** Host directory served as the root (direct mode, writable). */
  rootfs: string;
  env?: string[];
  /** vCPUs; default 1. */
  cpuNum?: number;
  /** tmpfs mount points (e.g. "/tmp"), as the spec's tmpfs mounts. */
  tmpfs?: string[];
}

export interface GuestResult {
  seconds: number;
  instructions: number;
  status: number;
  stdout: string;
  stderr: string;
}

let serial = 0;

export async function runInSandbox(run: GuestRun): Promise<GuestResult> {
  const base = path.join(os.tmpdir(), `tsvisor-bench-${process.pid}-${serial++}`);
  const outFd = fs.openSync(`${base}.out`, 'w+');
  const errFd = fs.openSync(`${base}.err`, 'w+');
  const inFd = fs.openSync('/dev/null', 'r');
  const mounts: SandboxMount[] = (run.tmpfs ?? []).map((destination) => ({ kind: 'tmpfs', destination, options: ['mode=1777'] }));
  const cfg: SandboxConfig = {
    containerId: 'bench', rootPath: run.rootfs, rootReadonly: false, mounts, args: run.args, env: run.env ?? ['PATH=/bin'], cwd: '/',
    hostname: 'bench', uid: 0, gid: 0, additionalGids: [], umask: 0o22, rlimits: [], totalMemory: 2 ** 31, cpuNum: run.cpuNum ?? 1,
    stdioFds: [inFd, outFd, errFd], console: false, strace: false, userLogFd: 0, log: { debug: false, format: 'text' },
  };
  const worker = new Worker(path.join(__dirname, '..', 'src', 'workers', 'kernel-worker.js'), { workerData: cfg });
  const k = Comlink.wrap<KernelApi>(nodeEndpoint(worker));
  try {
    // A first round trip: the worker has loaded its modules (wait() before start() only says "not started").
    await k.wait().catch(() => undefined);
    const t0 = process.hrtime.bigint();
    const err = await k.start();
    if (err) throw new Error(err);
    const status = await k.wait();
    const seconds = Number(process.hrtime.bigint() - t0) / 1e9;
    const { cpuInstructions } = await k.stats();
    await k.shutdown();
    return { seconds, instructions: cpuInstructions, status, stdout: fs.readFileSync(`${base}.out`, 'utf8'), stderr: fs.readFileSync(`${base}.err`, 'utf8') };
  } finally {
    await worker.terminate();
    for (const fd of [outFd, errFd, inFd]) fs.closeSync(fd);
    fs.rmSync(`${base}.out`, { force: true });
    fs.rmSync(`${base}.err`, { force: true });
  }
}
