// Init's exit (src/kernel/process-lifecycle.ts exitProcess, Kernel.releaseLater):
// its wait status (Kernel.initExited) is out before its address space is
// scrubbed for the memory pool, which happens on a later turn of the event
// loop, or at once at the kernel's shutdown (drainReleases); either way it
// happens, once.

import { strict as assert } from 'node:assert';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { buildKernel, type BuiltSandbox } from '../../src/sandbox/build.js';
import type { SandboxConfig } from '../../src/sandbox/config.js';
import { addressSpaceCounts } from '../../src/kernel/address-space.js';
import { isErrno } from '../../src/linux/errno.js';

const VCPU_WORKER = path.join(__dirname, '..', '..', 'src', 'workers', 'vcpu-worker.js');
const FIXTURES = path.join(__dirname, '..', '..', '..', 'fixtures', 'bin');
const quiet = { debug: () => {}, warn: () => {}, error: () => {}, user: () => {} };

describe('kernel: init\'s exit', () => {
  let tmp: string;
  let built: BuiltSandbox | undefined;
  beforeEach(() => {
    tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'tsvisor-init-exit-'));
    fs.mkdirSync(path.join(tmp, 'bin'));
    fs.copyFileSync(path.join(FIXTURES, 'exitgroup'), path.join(tmp, 'bin', 'exitgroup'));
    fs.chmodSync(path.join(tmp, 'bin', 'exitgroup'), 0o755);
  });
  afterEach(() => {
    built?.close();
    built = undefined;
    fs.rmSync(tmp, { recursive: true, force: true });
  });

  /** A kernel over the rootfs with init started; its stdio /dev/null. */
  async function started(): Promise<BuiltSandbox> {
    const devNull = fs.openSync('/dev/null', 'r+');
    const cfg = {
      containerId: 't', rootPath: tmp, rootReadonly: true, mounts: [], args: ['/bin/exitgroup', 'return', '7'], env: [], cwd: '/', hostname: 'h',
      uid: 0, gid: 0, additionalGids: [], umask: 0o022, rlimits: [], totalMemory: 1 << 28, cpuNum: 1,
      stdioFds: [devNull, fs.openSync('/dev/null', 'r+'), fs.openSync('/dev/null', 'r+')], console: false, strace: false, userLogFd: 0,
      log: { debug: false, format: 'text' },
    } as SandboxConfig;
    const b = await buildKernel(cfg, quiet, VCPU_WORKER);
    const init = await b.kernel.lifecycle.spawnInit('/bin/exitgroup', ['/bin/exitgroup', 'return', '7'], [], '/', b.stdio);
    assert.ok(typeof init !== 'string' && !isErrno(init), `init did not start: ${String(init)}`);
    b.kernel.lifecycle.startInit(init);
    return b;
  }

  it('answers with its status first, and releases its address space on a later turn', async function () {
    this.timeout(60_000);
    const live = addressSpaceCounts().live;
    built = await started();
    assert.equal(addressSpaceCounts().live, live + 1);
    const status = await built.kernel.initExited;
    assert.equal(status, 7 << 8, `wait status ${status}`);
    assert.equal(addressSpaceCounts().live, live + 1, 'still held when the status is out');
    await new Promise((resolve) => setImmediate(resolve));
    assert.equal(addressSpaceCounts().live, live, 'released on the next turn');
    built.kernel.drainReleases();
    assert.equal(addressSpaceCounts().live, live, 'released once');
  });

  it('releases it at once when the kernel drains what is due (its shutdown)', async function () {
    this.timeout(60_000);
    const live = addressSpaceCounts().live;
    built = await started();
    await built.kernel.initExited;
    built.kernel.drainReleases();
    assert.equal(addressSpaceCounts().live, live);
    await new Promise((resolve) => setImmediate(resolve));
    assert.equal(addressSpaceCounts().live, live, 'the later turn finds nothing left to do');
  });
});
