// One guest program through the whole sandbox (kernel worker, loader,
// syscalls, vCPUs), in this process, as `tsvisor boot` runs it but without
// the boot process's start-up: the benchmarks time the guest, not Node's
// start. The worker runs the kernel bundle's code with its code cache, as
// boot does (src/workers/kernel-worker.ts). With `gofer`, the root is served over 9P by a gofer Connection on
// this process's main thread (as the gofer process serves it under `tsvisor
// run`), with or without the fd donation channel (src/p9/donation.ts).
// Returns the wall time from start (the worker loaded, the kernel
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
import type { SandboxConfig } from '../src/sandbox/config.js';
import type { SandboxMount } from '../src/spec/mounts.js';
import type { EngineStats } from '../src/vcpu/engine-stats.js';
import { closeFd, socketpair, O_CLOEXEC, SOCK_SEQPACKET, SOCK_STREAM } from '../src/host/ffi.js';
import { DirectBackend } from '../src/fs-gofer/direct.js';
import { WORKER_RESOURCE_LIMITS } from '../src/bundle/entry.js';
import { serveFd } from '../src/fs-gofer/gofer.js';
import { Donor } from '../src/fs-gofer/donor.js';

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
  /** Serve the root read-only (a shared tree such as a cached package rootfs). QEMU's jail ignores it: such runs must not write outside their tmpfs. */
  readonly?: boolean;
  /** Serve the root through a gofer: 'donate' with the fd donation channel, '9p' without (every read and write a round trip). Default: direct mode. */
  gofer?: 'donate' | '9p';
  /** Count every tier counter in the kernel worker (TSVISOR_ENGINE_STATS=1 in its environment only; src/vcpu/engine-stats.ts): GuestResult.engine then holds them all, not only tier0Insns. */
  engineStats?: boolean;
}

/** A gofer for the root on this thread: the sandbox's fds, and what to close once the sandbox is gone. */
function startGofer(run: GuestRun): { ioFd: number; donateFd?: number; close(): void } {
  const sp = socketpair(SOCK_STREAM | O_CLOEXEC);
  if (typeof sp === 'number') throw new Error(`socketpair: errno ${-sp}`);
  const dp = run.gofer === 'donate' ? socketpair(SOCK_SEQPACKET | O_CLOEXEC) : undefined;
  if (typeof dp === 'number') throw new Error(`socketpair: errno ${-dp}`);
  const backend = DirectBackend.open(run.rootfs, { readonly: run.readonly ?? false });
  const donor = dp ? new Donor(dp[0]) : undefined;
  void serveFd(sp[0], { backend, hostPath: run.rootfs, donor }, undefined).then(() => {
    donor?.close();
    backend.close();
  });
  // The sandbox's ends are the kernel worker's (its socket closes with it); the donation end is closed here.
  return { ioFd: sp[1], donateFd: dp?.[1], close: () => dp && closeFd(dp[1]) };
}

export interface GuestResult {
  seconds: number;
  instructions: number;
  status: number;
  stdout: string;
  stderr: string;
  /** The kernel worker's tier counters (tsvisor only; see src/vcpu/engine-stats.ts): the vCPU that runs a one-vCPU sandbox's guest code. */
  engine?: EngineStats;
}

let serial = 0;

export async function runInSandbox(run: GuestRun, timeoutMs = 300_000): Promise<GuestResult> {
  const base = path.join(os.tmpdir(), `tsvisor-bench-${process.pid}-${serial++}`);
  const outFd = fs.openSync(`${base}.out`, 'w+');
  const errFd = fs.openSync(`${base}.err`, 'w+');
  const inFd = fs.openSync('/dev/null', 'r');
  const mounts: SandboxMount[] = (run.tmpfs ?? []).map((destination) => ({ kind: 'tmpfs', destination, options: ['mode=1777'] }));
  const gofer = run.gofer ? startGofer(run) : undefined;
  const cfg: SandboxConfig = {
    ioFds: gofer ? [gofer.ioFd] : undefined, donateFd: gofer?.donateFd,
    containerId: 'bench', rootPath: run.rootfs, rootReadonly: run.readonly ?? false, mounts, args: run.args, env: run.env ?? ['PATH=/bin'], cwd: '/',
    hostname: 'bench', uid: 0, gid: 0, additionalGids: [], umask: 0o22, rlimits: [], totalMemory: 2 ** 31, cpuNum: run.cpuNum ?? 1,
    stdioFds: [inFd, outFd, errFd], console: false, strace: false, userLogFd: 0, log: { debug: false, format: 'text' },
  };
  // The kernel's heap as boot's main thread has it under `tsvisor run`: its
  // young generation capped (BOOT_NODE_FLAGS' semi-spaces of 2 MiB are this
  // 6 MiB young generation), else this worker takes V8's default nursery,
  // scavenges about a third less often than boot does, and the cold rows
  // would not time what run does (docs/STARTUP.md, "GC on the cold path").
  // Boot's other heap flags (BOOT_NODE_FLAGS) are process-wide V8 flags: not
  // set here, as V8 then takes no code cache made without them (the bundles'
  // vCPU workers) and they would outlast the row in a test process.
  const env = run.engineStats ? { ...process.env, TSVISOR_ENGINE_STATS: '1' } : process.env;
  const worker = new Worker(path.join(__dirname, '..', 'src', 'workers', 'kernel-worker.js'), { workerData: cfg, resourceLimits: WORKER_RESOURCE_LIMITS, env });
  const k = Comlink.wrap<KernelApi>(nodeEndpoint(worker));
  // A worker that dies (an exception, process.exit in the worker) would leave
  // the Comlink calls pending forever and let Node exit 0 with nothing alive:
  // its end rejects every call instead, and a watchdog keeps the loop alive.
  let watchdog: NodeJS.Timeout | undefined;
  const died = new Promise<never>((_, reject) => {
    worker.once('error', (e) => reject(new Error(`kernel worker failed: ${e.message}`)));
    worker.once('exit', (code) => reject(new Error(`kernel worker exited (${code}) before the guest finished`)));
    watchdog = setTimeout(() => reject(new Error(`${run.args.join(' ')}: no exit after ${timeoutMs / 1000} s`)), timeoutMs);
  });
  died.catch(() => undefined);
  const call = <T>(p: Promise<T>): Promise<T> => Promise.race([p, died]);
  try {
    // A first round trip: the worker has loaded its modules (wait() before start() only says "not started").
    await call(k.wait()).catch((e: Error) => {
      if (!/not started/.test(e.message)) throw e;
    });
    const t0 = process.hrtime.bigint();
    const err = await call(k.start());
    if (err) throw new Error(err);
    const status = await call(k.wait());
    const seconds = Number(process.hrtime.bigint() - t0) / 1e9;
    const { cpuInstructions, engine } = await call(k.stats());
    await call(k.shutdown());
    return { seconds, instructions: cpuInstructions, engine, status, stdout: fs.readFileSync(`${base}.out`, 'utf8'), stderr: fs.readFileSync(`${base}.err`, 'utf8') };
  } finally {
    clearTimeout(watchdog);
    await worker.terminate();
    gofer?.close();
    for (const fd of [outFd, errFd, inFd]) fs.closeSync(fd);
    fs.rmSync(`${base}.out`, { force: true });
    fs.rmSync(`${base}.err`, { force: true });
  }
}
