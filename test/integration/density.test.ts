// A long-running guest leaves nothing behind: a busybox shell that forks and
// execs hundreds of children, creating a file on the rootfs and listing a
// directory each time (past the dentry cache's bound, kept small here),
// ends with the same tasks and the same guest memory charged as after its
// first rounds. Run in the kernel worker as boot runs it (direct mode), with
// its stdio on pipes this test holds. (test/kernel/vfs-dcache.test.ts holds
// the cache itself to its bound.)

import { strict as assert } from 'node:assert';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { Worker } from 'node:worker_threads';
import * as Comlink from 'comlink';
import nodeEndpoint from 'comlink/dist/umd/node-adapter';
import type { KernelApi, KernelStats } from '../../src/workers/kernel-worker.js';
import type { SandboxConfig } from '../../src/sandbox/config.js';
import { pipe2, O_CLOEXEC, closeFd } from '../../src/host/ffi.js';
import { layoutBusyboxRootfs } from '../../src/debian/busybox-rootfs.js';
import { repoRoot } from '../util/bundle.js';
import { startGofer } from '../fs-gofer/util.js';

const BUSYBOX = path.join(repoRoot(), 'fixtures', 'busybox', 'busybox');

function pipe(): [number, number] {
  const p = pipe2(O_CLOEXEC);
  if (typeof p === 'number') throw new Error(`pipe2: ${p}`);
  return p;
}

describe('density: many forks leave no tasks or memory behind', function () {
  this.timeout(600_000);
  let dir: string;

  before(function () {
    if (!fs.existsSync(BUSYBOX)) this.skip();
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'tsvisor-density-'));
    layoutBusyboxRootfs(path.join(dir, 'rootfs'), BUSYBOX);
  });
  after(() => dir && fs.rmSync(dir, { recursive: true, force: true }));

  /**
   * The shell loop, run as boot runs it: in direct mode, or (`gofer`) with
   * the rootfs served by a gofer in this process over a socket pair, as
   * `tsvisor run` does. Each round forks and execs, creates a file, reads it
   * back (open, read, close), stats a name and lists the directory; the
   * kernel's stats are taken after `marks[0]` and `marks[1]` rounds.
   */
  async function shellLoop(marks: [number, number], gofer: boolean): Promise<KernelStats[]> {
    const rootfs = path.join(dir, 'rootfs');
    const script = [
      'mkdir -p /w && cd /w',
      'i=0',
      `while [ $i -lt ${marks[1]} ]; do`,
      '  /bin/true',
      '  echo $i > f$i',
      '  read v < f$i',
      '  [ -e f$v ] || exit 3',
      '  set -- f*',
      '  i=$((i + 1))',
      `  if [ $i -eq ${marks[0]} ] || [ $i -eq ${marks[1]} ]; then echo "at $i $#"; read x; fi`,
      'done',
      'echo done',
    ].join('\n');
    fs.rmSync(path.join(rootfs, 'w'), { recursive: true, force: true });
    const g = gofer ? startGofer(rootfs) : undefined;
    const [inR, inW] = pipe();
    const [outR, outW] = pipe();
    const errFd = fs.openSync(path.join(dir, 'stderr'), 'w+');
    const cfg: SandboxConfig = {
      containerId: 'density', rootPath: rootfs, rootReadonly: false, ioFds: g ? [g.clientFd] : undefined, args: ['/bin/sh', '-c', script], env: ['PATH=/bin:/sbin:/usr/bin:/usr/sbin'], cwd: '/',
      hostname: 'density',
      // The guest runs as the owner of the rootfs it writes in: this kernel worker runs unconfined, in no user
      // namespace, so an ordinary user's files are that user's (not root's) to the guest too.
      uid: process.getuid?.() ?? 0, gid: process.getgid?.() ?? 0, additionalGids: [], umask: 0o22, rlimits: [], totalMemory: 2 ** 31, cpuNum: 1,
      stdioFds: [inR, outW, errFd], console: false, strace: false, userLogFd: 0, log: { debug: false, format: 'text' },
      // A small bound, so 400 files on the rootfs go past it.
      dcacheSize: 64,
    };
    const worker = new Worker(path.join(repoRoot(), 'dist', 'src', 'workers', 'kernel-worker.js'), { workerData: cfg });
    const k = Comlink.wrap<KernelApi>(nodeEndpoint(worker));
    const out = fs.createReadStream('', { fd: outR, autoClose: true });
    let text = '';
    const waiters: (() => void)[] = [];
    out.on('data', (d) => {
      text += d.toString();
      for (const w of waiters.splice(0)) w();
    });
    let exited: number | undefined;
    // Once the shell has exited, the test writes END into the same pipe: everything the guest wrote comes before
    // it, so a wait gives up only when END has been read without the text (the exit can be seen before the
    // stream has read the shell's last line).
    const END = '\u0000end-of-output\n';
    const waitFor = (s: string) => new Promise<void>((resolve, reject) => {
      const check = () => {
        if (text.includes(s)) resolve();
        else if (text.includes(END)) reject(new Error(`the shell exited (${exited}) before printing ${JSON.stringify(s)}: ${fs.readFileSync(path.join(dir, 'stderr'), 'utf8').slice(0, 500)}`));
        else waiters.push(check);
      };
      check();
    });
    try {
      await k.wait().catch(() => undefined); // the worker has loaded
      assert.equal(await k.start(), null);
      // A shell that fails early ends the test at once, not at its timeout.
      const shellExit = k.wait();
      void shellExit.then((status) => {
        exited = status;
        try { fs.writeSync(outW, END); } catch { /* the test has already ended and closed the pipe */ }
      }, () => undefined);
      const stats = [];
      for (const m of marks) {
        await waitFor(`at ${m} ${m}\n`);
        stats.push(await k.stats());
        fs.writeSync(inW, '\n');
      }
      await waitFor('done\n');
      assert.equal(await shellExit, 0, fs.readFileSync(path.join(dir, 'stderr'), 'utf8'));
      assert.equal(fs.readdirSync(path.join(rootfs, 'w')).length, marks[1]);
      return stats;
    } finally {
      await k.shutdown().catch(() => undefined);
      await worker.terminate();
      // The worker shares this process's fds: its stdio ends close only now.
      for (const fd of [inW, inR, outW]) closeFd(fd);
      fs.closeSync(errFd);
      // The kernel's end of the socket pair closed with its backend: the gofer's serving ends.
      await g?.stop();
    }
  }

  it('a shell forking 400 children: the same task count, guest memory and address spaces after 40 and after 400', async () => {
    const [early, late] = await shellLoop([40, 400], false);
    assert.equal(early.pids, 1, 'only the shell is left after the first rounds');
    assert.equal(late.pids, 1, 'and after all of them: every child reaped, no task kept');
    // Guest memory charged: the shell's own, unchanged by 360 more children (a leaked address space would add megabytes).
    assert.ok(late.memoryUsed <= early.memoryUsed + (1 << 20), `memory charged ${early.memoryUsed} after 40, ${late.memoryUsed} after 400`);
    // Each child's address space is released when it exits: only the shell's is live; the memories held
    // (live ones and the scrubbed pool) stay where the first rounds left them.
    assert.equal(early.addressSpaces, 1);
    assert.equal(late.addressSpaces, 1, 'every exited child released its address space');
    assert.ok(late.guestMemories <= early.guestMemories, `guest memories held: ${early.guestMemories} after 40, ${late.guestMemories} after 400`);
  });

  it('through a gofer: 400 rounds of file operations (2,000 calls and 400 fork+execs) leave the fids where 40 rounds left them, and no address space behind', async () => {
    // 400 rounds of create, open+read+close, stat, a listing of the growing directory and a fork+exec, past a dentry cache of 64
    // (about 2 minutes on a 2-core host at load average 20; 600 rounds took 6).
    const [early, late] = await shellLoop([40, 400], true);
    assert.equal(late.pids, 1);
    assert.equal(late.addressSpaces, 1, 'every exited child released its address space');
    assert.ok(early.fids > 0, 'the rootfs is served over 9P');
    // Bounded by the dentry cache (64) and the directories walked, not by the 400 files made, read and listed.
    assert.ok(late.fids <= early.fids + 16, `fids held: ${early.fids} after 40 rounds, ${late.fids} after 400`);
    assert.ok(late.fids < 200, `fids held after 400 rounds: ${late.fids}`);
  });
});
