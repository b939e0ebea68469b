// The kernel bundle's prime (src/bundle, BundleSpec.prime): a small guest
// program run in a sandbox on this thread while the build makes the kernel
// bundle's code cache, so that the cache holds the bytecode of what a
// sandbox's first program runs through (block building and decoding, tier
// 0's JavaScript side, exec, fork, pipes, page faults, file mappings and
// the system calls of a program's start). Without it V8 compiles each of
// those functions lazily, at its first call, in every sandbox: parsing and
// bytecode generation were ~13% of the kernel thread's time while `bash -c
// true` ran (docs/STARTUP.md, "The kernel's code cache primed by a program").
//
// The program is Debian's static busybox of the busybox differential suite
// (fixtures/busybox) running a shell script, plus the `memory` fixture (brk,
// anonymous and file mappings) when it is there; both are in the repository.
// Without them (an installed copy without fixtures) there is no program to
// run and the cache is made as before. Only the build runs this.

import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import type { SandboxConfig } from '../sandbox/config.js';
import { layoutBusyboxRootfs } from '../debian/busybox-rootfs.js';
import { kernelApi } from './kernel-api.js';

/** The repository's root, from dist/src/workers. */
const REPO = path.join(__dirname, '..', '..', '..');

/**
 * What the guest runs: busybox's shell forking and exec'ing applets through
 * pipes and files on a tmpfs and on the root, then the memory fixture.
 * Every line must succeed (`set -e`): a failure means the kernel the cache
 * is made from is broken; the build says so (load.ts writeCodeCache) and
 * test/bundle/kernel-prime.test.ts fails.
 */
export const PRIME_SCRIPT = [
  'set -e',
  'cd /tmp && seq 1 50 > n && sort -rn n | head -3 > top && wc -l < n > count',
  "awk '{s+=$1} END {print s}' n | grep -q 1275 && sed -n 2p top | grep -q 49",
  'cat /etc/passwd | cut -d: -f1 | sort | tr "\\n" " " > users && test -s users',
  'ls -l /bin > list && md5sum list > sum && mkdir -p d/e && mv sum d/e/ && rm -r d',
  'if [ -x /bin/memory ]; then /bin/memory > mem; fi',
].join('\n');

/** Runs PRIME_SCRIPT in a sandbox of a fresh rootfs on this thread (the kernel's, through the bundle's modules), then shuts it down. */
export async function primeKernelCache(): Promise<void> {
  const busybox = path.join(REPO, 'fixtures', 'busybox', 'busybox');
  if (!fs.existsSync(busybox)) return;
  const rootfs = fs.mkdtempSync(path.join(os.tmpdir(), 'tsvisor-prime-'));
  const nul = fs.openSync('/dev/null', 'r+');
  try {
    layoutBusyboxRootfs(rootfs, busybox);
    const memory = path.join(REPO, 'fixtures', 'bin', 'memory');
    if (fs.existsSync(memory)) fs.copyFileSync(memory, path.join(rootfs, 'bin', 'memory'));
    const cfg: SandboxConfig = {
      containerId: 'prime', rootPath: rootfs, rootReadonly: false, mounts: [{ kind: 'tmpfs', destination: '/tmp', options: ['mode=1777'] }],
      args: ['/bin/sh', '-c', PRIME_SCRIPT], env: ['PATH=/bin'], cwd: '/', hostname: 'prime', uid: 0, gid: 0, additionalGids: [], umask: 0o22,
      rlimits: [], totalMemory: 2 ** 30, cpuNum: 1, stdioFds: [nul, nul, nul], console: false, strace: false, userLogFd: 0, log: { debug: false, format: 'text' },
    };
    const api = kernelApi(cfg);
    const err = await api.start();
    if (err !== null) throw new Error(`the prime's program did not start: ${err}`);
    const status = await api.wait();
    await api.shutdown();
    if (status !== 0) throw new Error(`the prime's program ended with wait status ${status}`);
  } finally {
    fs.closeSync(nul);
    fs.rmSync(rootfs, { recursive: true, force: true });
  }
}
