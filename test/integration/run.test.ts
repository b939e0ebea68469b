// tsvisor run as a user meets it: clear failures, --strace, tsvisor spec.

import * as assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { makeBundle, removeBundle } from '../util/bundle.js';
import { execFileSync, spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { stateRoot, tsvisor, TSVISOR } from './run-util.js';
import { findPerl } from '../../src/main/waiter.js';
import { alive } from '../util/pids.js';

describe('tsvisor run', function () {
  this.timeout(60000);
  const root = stateRoot();
  after(() => fs.rmSync(root, { recursive: true, force: true }));

  it("never optimizes a function in run's own process (V8's optimizing compiler stays paused: src/main/jit.ts)", () => {
    // Before the pause, run optimized path.normalize's inner loop while koffi
    // was looked up, mapping 3.5-4.5 MiB of node's compiler code (docs/STARTUP.md).
    const bundle = makeBundle({ args: ['/bin/hello'] });
    try {
      const r = spawnSync(process.execPath, ['--trace-opt', TSVISOR, '--root', root, 'run', '--no-confine', '--bundle', bundle, 'no-turbofan'], { encoding: 'utf8', env: { ...process.env, NODE_OPTIONS: '' } });
      assert.equal(r.status, 0, r.stderr);
      assert.match(r.stdout, /hello from riscv64/);
      assert.doesNotMatch(r.stdout, /TURBOFAN/, 'run optimized a function');
    } finally {
      removeBundle(bundle);
    }
  });

  it('says in one line that the sandbox died when boot exits before the start-sync byte', async () => {
    const bundle = makeBundle({ args: ['/bin/hello'] });
    try {
      const cfg = JSON.parse(fs.readFileSync(path.join(bundle, 'config.json'), 'utf8'));
      cfg.root.path = 'no-such-rootfs';
      fs.writeFileSync(path.join(bundle, 'config.json'), JSON.stringify(cfg));
      const r = await tsvisor(['--root', root, 'run', '--bundle', bundle, 'dies-early']);
      assert.equal(r.code, 128);
      const lines = r.stderr.toString().trim().split('\n');
      assert.match(lines[lines.length - 1], /^tsvisor: the sandbox died before it was ready/);
      assert.ok(lines.some((l) => /no-such-rootfs: not a directory/.test(l)), r.stderr.toString());
      assert.equal(r.stdout.length, 0);
    } finally {
      removeBundle(bundle);
    }
  });

  it("finds args[0] in the PATH of the spec's environment when it has no slash, as runc does", async () => {
    const bundle = makeBundle({ args: ['hello', 'GREETING'], env: ['PATH=/nowhere:/bin', 'GREETING=found'] });
    try {
      const r = await tsvisor(['--root', root, 'run', '--bundle', bundle, 'lookpath']);
      assert.equal(r.code, 0, r.stderr.toString());
      assert.match(r.stdout.toString(), /^hello from riscv64\nargc=2\nargv\[0\]=hello\n/);
      assert.match(r.stdout.toString(), /GREETING=found/);
    } finally {
      removeBundle(bundle);
    }
  });

  it('fails StartRoot clearly when the executable does not exist, exit 128', async () => {
    const bundle = makeBundle({ args: ['/bin/nope'] });
    try {
      const r = await tsvisor(['--root', root, 'run', '--bundle', bundle, 'no-exe']);
      assert.equal(r.code, 128);
      assert.match(r.stderr.toString(), /cannot run \/bin\/nope: no such file or directory \(ENOENT\)/);
    } finally {
      removeBundle(bundle);
    }
  });

  it('rejects a schema-violating config.json with one line naming the field', async () => {
    const bundle = makeBundle({ args: ['/bin/hello'] });
    try {
      const cfg = JSON.parse(fs.readFileSync(path.join(bundle, 'config.json'), 'utf8'));
      cfg.process.cwd = 'relative/dir';
      fs.writeFileSync(path.join(bundle, 'config.json'), JSON.stringify(cfg));
      const r = await tsvisor(['--root', root, 'run', '--bundle', bundle, 'bad-spec']);
      assert.equal(r.code, 128);
      assert.equal(r.stderr.toString().trim().split('\n').length, 1);
      assert.match(r.stderr.toString(), /\/process\/cwd/);
    } finally {
      removeBundle(bundle);
    }
  });

  it('--strace logs each system call with decoded arguments and its result', async () => {
    const bundle = makeBundle({ args: ['/bin/hello'] });
    const log = path.join(os.tmpdir(), `tsvisor-strace-${process.pid}.log`);
    try {
      const r = await tsvisor(['--root', root, '--strace', '--debug-log', log, 'run', '--bundle', bundle, 'straced']);
      assert.equal(r.code, 0);
      const text = fs.readFileSync(log, 'utf8');
      assert.match(text, /\[1:1\] write\(1, 0x[0-9a-f]+, \d+\) = \d+/);
      assert.match(text, /\[1:1\] exit_group\(0\) = \?/);
      assert.match(text, /\[1:1\] brk\(0x0\) = 0x[0-9a-f]+/);
    } finally {
      fs.rmSync(log, { force: true });
      removeBundle(bundle);
    }
  });
});

describe('tsvisor run and the sandbox it starts', function () {
  this.timeout(60000);
  const root = stateRoot();
  after(() => fs.rmSync(root, { recursive: true, force: true }));

  /**
   * Start `tsvisor run` of /bin/cat once cat is running (its pid-file names
   * boot). Its stdin is a FIFO this test holds open for reading and writing,
   * so cat never sees end-of-file from anything but the sandbox's own end.
   */
  async function startCat(id: string, opts: { ownGroup?: boolean; env?: NodeJS.ProcessEnv } = {}): Promise<{ run: ChildProcess; bootPid: number; exited: Promise<number>; bundle: string; stdinFd: number }> {
    const bundle = makeBundle({ args: ['/bin/cat'] });
    const pidFile = path.join(bundle, 'boot.pid');
    const fifo = path.join(bundle, 'stdin.fifo');
    execFileSync('mkfifo', [fifo]);
    const stdinFd = fs.openSync(fifo, fs.constants.O_RDWR);
    const run = spawn(TSVISOR, ['--root', root, 'run', '--bundle', bundle, '--pid-file', pidFile, id], { stdio: [stdinFd, 'pipe', 'pipe'], detached: opts.ownGroup === true, env: { ...process.env, ...opts.env } });
    const exited = new Promise<number>((resolve) => run.on('exit', (code, sig) => resolve(code ?? 128 + (sig ? os.constants.signals[sig] : 0))));
    fs.writeSync(stdinFd, 'ready\n');
    // cat echoes the line once the container runs.
    await new Promise<void>((resolve, reject) => {
      run.stdout!.once('data', () => resolve());
      run.once('exit', () => reject(new Error('run exited early')));
    });
    return { run, bootPid: Number(fs.readFileSync(pidFile, 'utf8')), exited, bundle, stdinFd };
  }

  it('records the container as runc run does: list, state and ps find it, exec runs in it, kill reaches it, and its state goes with it', async () => {
    const c = await startCat('recorded-run');
    try {
      const list = await tsvisor(['--root', root, 'list']);
      assert.match(list.stdout.toString(), new RegExp(`^recorded-run\\s+${c.bootPid}\\s+running\\s`, 'm'));
      const state = JSON.parse((await tsvisor(['--root', root, 'state', 'recorded-run'])).stdout.toString()) as { status: string; pid: number; bundle: string };
      assert.deepEqual([state.status, state.pid, state.bundle], ['running', c.bootPid, c.bundle]);
      const ps = await tsvisor(['--root', root, 'ps', 'recorded-run']);
      assert.match(ps.stdout.toString(), /\s1\s+0\s.*\/bin\/cat$/m, ps.stderr.toString());
      const exec = await tsvisor(['--root', root, 'exec', 'recorded-run', '/bin/hello']);
      assert.equal(exec.code, 0, exec.stderr.toString());
      assert.match(exec.stdout.toString(), /^hello from riscv64$/m);
      const kill = await tsvisor(['--root', root, 'kill', 'recorded-run', 'TERM']);
      assert.equal(kill.code, 0, kill.stderr.toString());
      assert.equal(await c.exited, 143);
      assert.equal(fs.existsSync(path.join(root, 'recorded-run')), false, 'the state directory is removed with the container');
      assert.equal((await tsvisor(['--root', root, 'state', 'recorded-run'])).code, 1);
    } finally {
      fs.closeSync(c.stdinFd);
      removeBundle(c.bundle);
    }
  });

  /** VmRSS of a process, in KiB. */
  function rssKb(pid: number): number {
    return Number(/^VmRSS:\s+(\d+) kB/m.exec(fs.readFileSync(`/proc/${pid}/status`, 'utf8'))![1]);
  }

  it('waits in Perl once the container runs (src/main/waiter.ts): run is no Node process any more, a few MiB, and still ends with the container', async function () {
    if (!findPerl()) this.skip(); // no perl here: run waits in Node (the next test)
    const c = await startCat('perl-waiter');
    try {
      // The execve follows StartRoot's reply; cat may echo before it. Perl then names
      // itself ($0) as its script's first line: the exe changes before the command line.
      const cmdline = () => fs.readFileSync(`/proc/${c.run.pid}/cmdline`, 'utf8').replace(/\0/g, ' ').trim();
      const deadline = Date.now() + 20000;
      while (!(/perl/.test(fs.readlinkSync(`/proc/${c.run.pid}/exe`)) && cmdline().endsWith('(waiting)')) && Date.now() < deadline) await new Promise((r) => setTimeout(r, 20));
      assert.match(fs.readlinkSync(`/proc/${c.run.pid}/exe`), /perl/);
      assert.equal(cmdline(), 'tsvisor run perl-waiter (waiting)');
      assert.ok(rssKb(c.run.pid!) < 16 * 1024, `the waiter holds ${rssKb(c.run.pid!)} KiB`);
      fs.writeSync(c.stdinFd, 'still there\n');
      const kill = await tsvisor(['--root', root, 'kill', 'perl-waiter', 'KILL']);
      assert.equal(kill.code, 0, kill.stderr.toString());
      assert.equal(await c.exited, 137);
      assert.equal(fs.existsSync(path.join(root, 'perl-waiter')), false, 'the state directory is removed with the container');
    } finally {
      fs.closeSync(c.stdinFd);
      removeBundle(c.bundle);
    }
  });

  it("sends Wait before it becomes the waiter: boot ends without waiting for Perl's start, and the waiter still reads init's status", async function () {
    const perl = findPerl();
    if (!perl) this.skip(); // no perl here: run waits in Node
    // A perl that starts only once boot has exited (its pid, the waiter's 4th
    // argument after the script, gone or a zombie), then says so and runs the
    // real one. Had boot waited for the waiter's Wait, it would have cut the
    // connection after its drain's grace and the status would be lost (128).
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'tsvisor-late-perl-'));
    const mark = path.join(dir, 'boot-gone');
    fs.writeFileSync(
      path.join(dir, 'perl'),
      `#!/bin/sh\nboot=$6\nn=0\nwhile [ -d /proc/$boot ] && ! grep -q '^State:.*Z' /proc/$boot/status 2>/dev/null; do\n  n=$((n+1)); [ $n -gt 1200 ] && break; sleep 0.05\ndone\n[ -d /proc/$boot ] && ! grep -q '^State:.*Z' /proc/$boot/status 2>/dev/null || : > ${mark}\nexec ${perl} "$@"\n`,
      { mode: 0o755 },
    );
    const bundle = makeBundle({ args: ['/bin/exitgroup', '_exit', '6', '7'] });
    try {
      const r = spawnSync(TSVISOR, ['--root', root, 'run', '--bundle', bundle, 'late-perl'], { encoding: 'utf8', env: { ...process.env, PATH: `${dir}:${process.env.PATH}` }, timeout: 120000 });
      assert.equal(r.status, 42, r.stderr);
      assert.match(r.stdout, /exitgroup: _exit\(42\)/);
      assert.ok(fs.existsSync(mark), 'the waiter started after boot had exited');
      assert.equal(fs.existsSync(path.join(root, 'late-perl')), false, 'the state directory is removed');
    } finally {
      removeBundle(bundle);
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });

  it('waits in Node with TSVISOR_NO_WAITER=1, with the same outcome', async () => {
    const c = await startCat('node-waiter', { env: { TSVISOR_NO_WAITER: '1' } });
    try {
      await new Promise((r) => setTimeout(r, 300));
      assert.match(fs.readlinkSync(`/proc/${c.run.pid}/exe`), /\/node[^/]*$/);
      c.run.kill('SIGTERM');
      assert.equal(await c.exited, 143);
      assert.equal(fs.existsSync(path.join(root, 'node-waiter')), false, 'the state directory is removed with the container');
    } finally {
      fs.closeSync(c.stdinFd);
      removeBundle(c.bundle);
    }
  });

  it("exec never optimizes a function in its own process either (it only waits: src/main/jit.ts)", async () => {
    const c = await startCat('exec-no-turbofan');
    try {
      const r = spawnSync(process.execPath, ['--trace-opt', TSVISOR, '--root', root, 'exec', 'exec-no-turbofan', '/bin/hello'], { encoding: 'utf8', env: { ...process.env, NODE_OPTIONS: '' } });
      assert.equal(r.status, 0, r.stderr);
      assert.match(r.stdout, /hello from riscv64/);
      assert.doesNotMatch(r.stdout, /TURBOFAN/, 'exec optimized a function');
      c.run.kill('SIGTERM');
      assert.equal(await c.exited, 143);
    } finally {
      fs.closeSync(c.stdinFd);
      removeBundle(c.bundle);
    }
  });

  it("debug --stacks prints the sandbox's thread dump: cat's one thread blocked reading stdin", async () => {
    const c = await startCat('stacks-run');
    try {
      const r = await tsvisor(['--root', root, 'debug', '--stacks', 'stacks-run']);
      assert.equal(r.code, 0, r.stderr.toString());
      const out = r.stdout.toString();
      assert.match(out, /^scheduler: run queue \[\], slice scheduled no, vCPU 0 busy no, vCPU 0 budget 20000, paused no/m, out);
      assert.match(out, /^process 1 \(cat\): parent 0, alive, 1 thread,/m, out);
      assert.match(out, /^ {2}thread 1: blocked in read\(0, 0x[0-9a-f]+, \d+\), interruptible; pc 0x[0-9a-f]+;/m, out);
      const usage = await tsvisor(['--root', root, 'debug', 'stacks-run']);
      assert.notEqual(usage.code, 0);
      assert.match(usage.stderr.toString(), /--stacks/);
      c.run.kill('SIGTERM');
      assert.equal(await c.exited, 143);
    } finally {
      fs.closeSync(c.stdinFd);
      removeBundle(c.bundle);
    }
  });

  it('passes SIGTERM on to the container: cat dies of it and run exits 143', async () => {
    const c = await startCat('forward-term');
    try {
      c.run.kill('SIGTERM');
      assert.equal(await c.exited, 143);
    } finally {
      fs.closeSync(c.stdinFd);
      removeBundle(c.bundle);
    }
  });

  for (const [sig, status, as] of [
    ['SIGINT', 130, 'Ctrl-C on a terminal'],
    ['SIGTERM', 143, 'timeout N tsvisor run'],
    ['SIGHUP', 129, 'a terminal hanging up'],
    ['SIGQUIT', 131, 'Ctrl-\\ on a terminal'],
    ['SIGUSR1', 138, 'kill -USR1 -PGID'],
  ] as const) {
    it(`a ${sig} to run's whole process group (${as}) reaches the container alone: run exits ${status}, no internal error`, async () => {
      const c = await startCat(`group-${sig}`, { ownGroup: true });
      let stderr = '';
      c.run.stderr!.on('data', (b: Buffer) => (stderr += b.toString()));
      try {
        process.kill(-c.run.pid!, sig);
        assert.equal(await c.exited, status, stderr);
        assert.doesNotMatch(stderr, /internal error|urpc/);
      } finally {
        fs.closeSync(c.stdinFd);
        removeBundle(c.bundle);
      }
    });
  }

  it("under timeout(1): the SIGTERM timeout sends run and run's process group at its limit ends the container alone; run exits 143", async function () {
    if (spawnSync('timeout', ['--version'], { stdio: 'ignore' }).status !== 0) this.skip();
    const bundle = makeBundle({ args: ['/bin/cat'] });
    const fifo = path.join(bundle, 'stdin.fifo');
    execFileSync('mkfifo', [fifo]);
    const stdinFd = fs.openSync(fifo, fs.constants.O_RDWR);
    try {
      // timeout leads a process group of its own; the SIGTERM it gets here it relays
      // as at its limit: to run, then to its whole group (run, and boot and the gofer unless they left it).
      const t = spawn('timeout', ['600', TSVISOR, '--root', root, 'run', '--bundle', bundle, 'under-timeout'], { stdio: [stdinFd, 'pipe', 'pipe'] });
      let stderr = '';
      t.stderr!.on('data', (b: Buffer) => (stderr += b.toString()));
      const exited = new Promise<number | null>((resolve) => t.on('exit', (code) => resolve(code)));
      fs.writeSync(stdinFd, 'ready\n');
      await new Promise<void>((resolve, reject) => {
        t.stdout!.once('data', () => resolve());
        t.once('exit', () => reject(new Error(`run exited early: ${stderr}`)));
      });
      t.kill('SIGTERM');
      assert.equal(await exited, 143, stderr);
      assert.doesNotMatch(stderr, /internal error|urpc/);
    } finally {
      fs.closeSync(stdinFd);
      removeBundle(bundle);
    }
  });

  it('takes the sandbox down when run itself is SIGKILLed', async () => {
    const c = await startCat('killed-run');
    try {
      assert.ok(alive(c.bootPid));
      c.run.kill('SIGKILL');
      await c.exited;
      const deadline = Date.now() + 10000;
      while (alive(c.bootPid) && Date.now() < deadline) await new Promise((r) => setTimeout(r, 50));
      assert.equal(alive(c.bootPid), false, 'boot outlived its run');
    } finally {
      if (alive(c.bootPid)) process.kill(c.bootPid, 'SIGKILL');
      fs.closeSync(c.stdinFd);
      removeBundle(c.bundle);
    }
  });
});

describe('tsvisor spec', () => {
  it('writes a default config.json that tsvisor run accepts', async () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'tsvisor-spec-'));
    try {
      const r = await tsvisor(['spec', '--bundle', dir]);
      assert.equal(r.code, 0);
      const spec = JSON.parse(fs.readFileSync(path.join(dir, 'config.json'), 'utf8'));
      assert.deepEqual(spec.process.args, ['sh']);
      assert.equal(spec.root.path, 'rootfs');
      const again = await tsvisor(['spec', '--bundle', dir]);
      assert.equal(again.code, 128, 'refuses to overwrite');
    } finally {
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });
});
