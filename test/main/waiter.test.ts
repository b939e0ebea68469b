// src/main/waiter.ts: `tsvisor run`'s Perl waiter, driven as run drives it.
// A child Node spawns a fake boot (holding the other end of a socket pair,
// as boot holds run's control connection) and a fake gofer, then replaces
// itself with the waiter through the real execve; the fake boot answers
// the Wait the waiter sends with a status the test chooses. The test plays
// boot's control server on STATE/control.sock for the signals the waiter
// forwards.

import * as assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as net from 'node:net';
import * as os from 'node:os';
import * as path from 'node:path';
import { spawn, execFileSync } from 'node:child_process';
import { findPerl, holdSignals, NO_WAITER_ENV, releaseSignals } from '../../src/main/waiter.js';
import { alive } from '../util/pids.js';

const DIST = path.join(__dirname, '..', '..');

/**
 * The fake boot (Perl, so its own start is quick): prints the request the
 * waiter sends on fd 3, then reads one line from the FIFO argv[0]: a number
 * is replied as Wait's result, "fail TEXT" as a failed call, "close" closes
 * without a reply. Then it exits 0 (the waiter must take the status from the
 * reply, not from boot's exit).
 */
const FAKE_BOOT = String.raw`
$| = 1;
open(my $c, '+<&=', 3) or die "fd 3: $!";
my $req = '';
sysread($c, $req, 65536, length $req) until $req =~ /\}$/;
print "request $req\n";
open(my $f, '<', $ARGV[0]) or die "fifo: $!";
my $what = <$f>;
chomp $what;
if ($what =~ /^\d+$/) { syswrite($c, qq({"success":true,"err":"","result":$what})); }
elsif ($what =~ /^fail (.*)$/) { syswrite($c, qq({"success":false,"err":"$1","result":null})); }
exit 0;
`;

/** The child Node: spawns the fakes, then execs the waiter (run.ts's order). */
const CHILD = String.raw`
const { spawn } = require('node:child_process');
const ffi = require(process.env.DIST + '/src/host/ffi.js');
const w = require(process.env.DIST + '/src/main/waiter.js');
const [perl, state, fifo, extra, goferSeconds, fakeBoot] = process.argv.slice(1);
const sp = ffi.socketpair(ffi.SOCK_STREAM | ffi.O_CLOEXEC);
const boot = spawn(perl, ['-e', fakeBoot, fifo], { stdio: ['ignore', 'inherit', 'inherit', sp[1]] });
ffi.closeFd(sp[1]);
const gofer = spawn('sleep', [goferSeconds], { stdio: 'ignore' });
process.stdout.write('gofer ' + gofer.pid + '\n');
const r = w.execWaiter(perl, {
  cid: 'waiter-test', bootChild: boot.pid, goferChild: gofer.pid, bootPid: boot.pid, controlFd: sp[0], stateDir: state,
  signals: [{ name: 'SIGTERM', number: 15, action: 'forward' }, { name: 'SIGINT', number: 2, action: 'forward' }],
  goferGraceMs: 1000, remove: [state, extra],
});
process.stdout.write('execve failed ' + r + '\n');
process.exit(99);
`;

interface Waiter {
  pid: number;
  out: () => string;
  err: () => string;
  exited: Promise<number>;
  answer(line: string): void;
  state: string;
  extra: string;
}

function startWaiter(goferSeconds = '0.1'): Waiter {
  const perl = findPerl({ PATH: process.env.PATH })!;
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'tsvisor-waiter-'));
  const state = path.join(dir, 'state');
  const extra = path.join(dir, 'bundle');
  fs.mkdirSync(state);
  fs.mkdirSync(path.join(extra, 'rootfs'), { recursive: true });
  fs.writeFileSync(path.join(state, 'state.json'), '{}');
  const fifo = path.join(dir, 'answer');
  execFileSync('mkfifo', [fifo]);
  const child = spawn(process.execPath, ['-e', CHILD, perl, state, fifo, extra, goferSeconds, FAKE_BOOT], { stdio: ['ignore', 'pipe', 'pipe'], env: { ...process.env, DIST } });
  let out = '';
  let err = '';
  child.stdout!.on('data', (b: Buffer) => (out += b.toString()));
  child.stderr!.on('data', (b: Buffer) => (err += b.toString()));
  const exited = new Promise<number>((resolve) => child.on('close', (code, sig) => resolve(code ?? 128 + (sig ? os.constants.signals[sig] : 0))));
  void exited.then(() => fs.rmSync(dir, { recursive: true, force: true }));
  return {
    pid: child.pid!,
    out: () => out,
    err: () => err,
    exited,
    answer: (line) => fs.writeFileSync(fifo, line + '\n'),
    state,
    extra,
  };
}

async function until(what: string, cond: () => boolean, ms = 30000): Promise<void> {
  const end = Date.now() + ms;
  while (!cond()) {
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

/** The waiter has its handlers in place once it has sent Wait (the fake boot prints it). */
const waiting = (w: Waiter) => until('the Wait request', () => /request /.test(w.out()));

describe("main/waiter: run's last stretch in Perl", function () {
  this.timeout(60000);
  before(function () {
    if (!findPerl({ PATH: process.env.PATH })) this.skip(); // no perl on this host (or no syscall table): run waits in Node
  });

  it('sends Wait on the handed connection, exits with the status as a shell gives it, reaps boot and the gofer, removes the paths', async () => {
    const w = startWaiter();
    await waiting(w);
    assert.match(w.out(), /^request \{"method":"containerManager.Wait","arg":"waiter-test"\}$/m);
    assert.equal(fs.readFileSync(`/proc/${w.pid}/cmdline`, 'utf8').replace(/\0/g, ' ').trim(), 'tsvisor run waiter-test (waiting)');
    assert.match(fs.readlinkSync(`/proc/${w.pid}/exe`), /perl/);
    w.answer(String(3 << 8)); // exited with 3
    assert.equal(await w.exited, 3, w.err());
    assert.equal(fs.existsSync(w.state), false, 'the state directory is removed');
    assert.equal(fs.existsSync(w.extra), false, "do's bundle is removed");
    assert.equal(w.err(), '');
  });

  it("removes a tree as the guest may have left it: symbolic links removed, never followed; directories without permissions; deep paths", async () => {
    const outside = fs.mkdtempSync(path.join(os.tmpdir(), 'tsvisor-waiter-outside-'));
    try {
      fs.writeFileSync(path.join(outside, 'keep'), 'keep');
      const w = startWaiter();
      const root = path.join(w.extra, 'rootfs');
      fs.symlinkSync(outside, path.join(root, 'to-dir'));
      fs.symlinkSync(path.join(outside, 'keep'), path.join(root, 'to-file'));
      fs.mkdirSync(path.join(root, 'a', 'b', 'c'), { recursive: true });
      fs.writeFileSync(path.join(root, 'a', 'b', 'c', 'f'), 'x');
      fs.linkSync(path.join(root, 'a', 'b', 'c', 'f'), path.join(root, 'a', 'hard'));
      fs.mkdirSync(path.join(root, 'locked'));
      fs.writeFileSync(path.join(root, 'locked', 'f'), 'x');
      fs.chmodSync(path.join(root, 'locked'), 0);
      await waiting(w);
      w.answer('0');
      assert.equal(await w.exited, 0, w.err());
      assert.equal(w.err(), '');
      assert.equal(fs.existsSync(w.extra), false, 'the tree is removed');
      assert.deepEqual(fs.readdirSync(outside), ['keep'], 'what the links pointed at is untouched');
      assert.equal(fs.readFileSync(path.join(outside, 'keep'), 'utf8'), 'keep');
    } finally {
      fs.rmSync(outside, { recursive: true, force: true });
    }
  });

  it('passes a signal it gets to init (containerManager.Signal on control.sock); a container killed by it gives 128+N', async () => {
    const w = startWaiter();
    const got: string[] = [];
    const server = net.createServer((c) => c.on('data', (b) => {
      got.push(b.toString());
      c.write('{"success":true,"err":"","result":null}');
    }));
    await new Promise<void>((resolve) => server.listen(path.join(w.state, 'control.sock'), resolve));
    try {
      await waiting(w);
      process.kill(w.pid, 'SIGTERM');
      process.kill(w.pid, 'SIGINT');
      await until('both signals at the control server', () => got.length >= 2);
      assert.deepEqual(got.map((g) => JSON.parse(g)).sort((a, b) => a.arg.Signo - b.arg.Signo), [
        { method: 'containerManager.Signal', arg: { CID: 'waiter-test', Signo: 2, PID: 0, Mode: 0 } },
        { method: 'containerManager.Signal', arg: { CID: 'waiter-test', Signo: 15, PID: 0, Mode: 0 } },
      ]);
      assert.equal(alive(w.pid), true, 'the waiter outlives the signals it passes on');
      w.answer('15'); // init killed by SIGTERM: wait status 15
      assert.equal(await w.exited, 143, w.err());
    } finally {
      server.close();
    }
  });

  it('kills a gofer that outlives boot by its grace period', async () => {
    const w = startWaiter('60');
    await waiting(w);
    const gofer = Number(/^gofer (\d+)$/m.exec(w.out())![1]);
    assert.equal(alive(gofer), true);
    const t0 = Date.now();
    w.answer('0');
    assert.equal(await w.exited, 0, w.err());
    assert.ok(Date.now() - t0 >= 900, 'the gofer had its grace');
    assert.equal(alive(gofer), false, 'the gofer is gone');
  });

  it('a failed Wait, or boot gone without a reply: 128 and one line saying why', async () => {
    const failed = startWaiter();
    await waiting(failed);
    failed.answer('fail container \\"x\\" is gone'); // JSON-escaped, as the server writes it
    assert.equal(await failed.exited, 128);
    assert.equal(failed.err(), 'tsvisor: the sandbox ended: container "x" is gone\n');
    const closed = startWaiter();
    await waiting(closed);
    closed.answer('close');
    assert.equal(await closed.exited, 128);
    assert.equal(closed.err(), "tsvisor: the sandbox ended: boot exited without giving the container's status\n");
    assert.equal(fs.existsSync(closed.state), false);
  });

  it("holdSignals: a signal Node's handler took before the block reaches run's handler before it returns, and its forward is awaited", async () => {
    const SIGUSR2 = os.constants.signals.SIGUSR2;
    let taken = 0;
    let forwarded = false;
    const forwards: Promise<unknown>[] = [];
    const onSignal = () => {
      taken++;
      forwards.push(new Promise<void>((resolve) => setTimeout(() => { forwarded = true; resolve(); }, 20)));
    };
    process.on('SIGUSR2', onSignal);
    try {
      // Node's handler takes it at once and writes it into the loop's pipe; the JavaScript event
      // comes only at a later poll, which an execve right after the block would never reach.
      process.kill(process.pid, 'SIGUSR2');
      assert.equal(taken, 0);
      assert.equal(await holdSignals([SIGUSR2], () => forwards.splice(0)), 0);
      assert.equal(taken, 1, 'the signal reached the handler');
      assert.ok(forwarded, 'and its forward finished');
    } finally {
      releaseSignals([SIGUSR2]);
      process.off('SIGUSR2', onSignal);
    }
  });

  it('findPerl: none with TSVISOR_NO_WAITER=1 or without perl in PATH', () => {
    assert.ok(findPerl({ PATH: process.env.PATH }));
    assert.equal(findPerl({ PATH: process.env.PATH, [NO_WAITER_ENV]: '1' }), undefined);
    assert.equal(findPerl({ PATH: '/nonexistent' }), undefined);
  });
});
