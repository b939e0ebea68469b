// The sandbox's teardown as a user sees it (docs/STARTUP.md, the tenth
// pass: boot and the gofer end with _exit once the container's status is
// reported, boot shuts its 9P connections down so the gofer ends beside it,
// run's Perl waiter removes the state without modules). However fast the
// exit gets, when `tsvisor do` (run's path) returns: its status is the
// command's, no host process of the sandbox is left (boot, the gofer, their
// launchers), what the guest wrote just before it ended is on the host in
// full, and the temporary bundle and state are gone. Both ways run waits:
// in its Perl waiter and in Node (TSVISOR_NO_WAITER=1).

import * as assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { fixturesDir } from '../util/bundle.js';
import { spawn } from 'node:child_process';
import { TSVISOR } from '../integration/run-util.js';
import { layoutBusyboxRootfs } from '../../src/debian/busybox-rootfs.js';

const BUSYBOX = path.join(fixturesDir(), 'busybox', 'busybox');
const WAITS = [{}, { TSVISOR_NO_WAITER: '1' }];

/** Host processes whose command line names `marker` (every process of a sandbox names its bundle, which lies under `do`'s TMPDIR). */
function processesNaming(marker: string): string[] {
  const found: string[] = [];
  for (const pid of fs.readdirSync('/proc')) {
    if (!/^\d+$/.test(pid) || Number(pid) === process.pid) continue;
    let cmdline: string;
    try {
      cmdline = fs.readFileSync(`/proc/${pid}/cmdline`, 'latin1').split('\0').join(' ');
    } catch {
      continue; // gone meanwhile
    }
    if (cmdline.includes(marker)) found.push(`${pid}: ${cmdline.slice(0, 300)}`);
  }
  return found;
}

describe('tsvisor do/run: the teardown', function () {
  this.timeout(120000);
  let work: string;
  let rootfs: string;

  beforeEach(() => {
    work = fs.mkdtempSync(path.join(os.tmpdir(), 'tsvisor-teardown-'));
    rootfs = path.join(work, 'rootfs');
    layoutBusyboxRootfs(rootfs, BUSYBOX, undefined, 'hard');
  });
  afterEach(() => fs.rmSync(work, { recursive: true, force: true }));

  /**
   * `do --rootfs ROOTFS -- sh -c SCRIPT` with its TMPDIR (the bundle and
   * state) in a directory of its own. What is left is looked at the moment
   * the command has exited, as a shell's wait returns (not once its output
   * pipes have closed, which a process left behind would hold open).
   */
  async function doIn(env: NodeJS.ProcessEnv, script: string) {
    const tmp = fs.mkdtempSync(path.join(work, 'tmp-'));
    const child = spawn(TSVISOR, ['do', '--rootfs', rootfs, '--', 'sh', '-c', script], { stdio: ['ignore', 'pipe', 'pipe'], env: { ...process.env, ...env, TMPDIR: tmp } });
    let stderr = '';
    child.stdout.resume();
    child.stderr.on('data', (d) => (stderr += d));
    const timer = setTimeout(() => child.kill('SIGKILL'), 60000);
    const closed = new Promise((resolve) => child.on('close', resolve));
    const { code, left, files } = await new Promise<{ code: number; left: string[]; files: string[] }>((resolve, reject) => {
      child.on('error', reject);
      child.on('exit', (c, sig) => resolve({ code: c ?? 128 + (sig ? os.constants.signals[sig] : 0), left: processesNaming(tmp), files: fs.readdirSync(tmp) }));
    });
    clearTimeout(timer);
    await closed;
    return { r: { code, stderr }, left, files };
  }

  it("exits with the command's status, with no process or file of the sandbox left, and the files it wrote last complete on the host", async () => {
    for (const env of WAITS) {
      const what = JSON.stringify(env);
      fs.rmSync(path.join(rootfs, 'big'), { force: true });
      // 4 MiB in 256 KiB writes (over the gofer's inline size: its I/O pool
      // or a donated fd writes them), then a last line, then the exit.
      const { r, left, files } = await doIn(env, 'dd if=/dev/zero of=/big bs=262144 count=16 2>/dev/null && echo last >> /big; exit 5');
      assert.equal(r.code, 5, `${what}: ${r.stderr}`);
      assert.equal(r.stderr, '', what);
      assert.deepEqual(left, [], `${what}: processes left behind`);
      assert.deepEqual(files, [], `${what}: left in TMPDIR`);
      const big = fs.readFileSync(path.join(rootfs, 'big'));
      assert.equal(big.length, 4 * 1024 * 1024 + 5, what);
      assert.equal(big.subarray(-5).toString(), 'last\n', what);
    }
  });

  it('gives 128+N for a command killed by signal N, with nothing left behind', async () => {
    for (const env of WAITS) {
      const what = JSON.stringify(env);
      const { r, left, files } = await doIn(env, 'kill -TERM $$; sleep 5');
      assert.equal(r.code, 128 + os.constants.signals.SIGTERM, `${what}: ${r.stderr}`);
      assert.deepEqual(left, [], `${what}: processes left behind`);
      assert.deepEqual(files, [], `${what}: left in TMPDIR`);
    }
  });

  it('ends with init even while other processes of the container still run, none of them left on the host', async () => {
    for (const env of WAITS) {
      const what = JSON.stringify(env);
      // init (sh) leaves a background job running and exits at once: the
      // sandbox ends with init, as runsc's does, its other processes with it.
      const start = Date.now();
      const { r, left, files } = await doIn(env, 'sleep 30 & exit 3');
      assert.equal(r.code, 3, `${what}: ${r.stderr}`);
      assert.ok(Date.now() - start < 25000, `${what}: waited for the background sleep`);
      assert.deepEqual(left, [], `${what}: processes left behind`);
      assert.deepEqual(files, [], `${what}: left in TMPDIR`);
    }
  });
});
