// runc's exec, pause/resume and events against a `run -d` sandbox whose init
// (cat) waits on a stdin pipe the test holds: a second process's output,
// exit status, stdin and credentials; exec -d with --pid-file; bad process
// files and unknown or stopped containers; pause stopping the guest (its
// CPU count stands still) and resume; events' stats.

import * as assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { makeBundle, removeBundle } from '../util/bundle.js';
import { closeFd, pipe2, O_CLOEXEC } from '../../src/host/ffi.js';
import { stateRoot, tsvisor, TSVISOR } from './run-util.js';
import { create, oneLineError, stateOf, stopped, waitFor, type Created } from './oci-util.js';

interface Stats {
  type: string;
  id: string;
  data: { cpu: { usage: { total: number } }; memory: { usage: { usage: number; limit: number } }; pids: { current: number } };
}

describe('tsvisor exec, pause/resume, events (runc command line)', function () {
  this.timeout(120000);
  const root = stateRoot();
  let cat: string;
  before(() => {
    cat = makeBundle({ args: ['/bin/cat'], env: ['PATH=/bin', 'FROM_SPEC=spec'] });
  });
  after(async () => {
    for (const id of fs.existsSync(root) ? fs.readdirSync(root) : []) await tsvisor(['--root', root, 'delete', '--force', id]);
    fs.rmSync(root, { recursive: true, force: true });
    removeBundle(cat);
  });

  async function runDetached(id: string): Promise<Created> {
    const c = await create(root, cat, id, [], ['run', '-d']);
    assert.equal(c.code, 0, fs.readFileSync(c.errFile, 'utf8'));
    assert.equal((await stateOf(root, id)).status, 'running');
    return c;
  }

  async function stats(id: string): Promise<Stats> {
    const r = await tsvisor(['--root', root, 'events', '--stats', id]);
    assert.equal(r.code, 0, r.stderr.toString());
    const lines = r.stdout.toString().trim().split('\n');
    assert.equal(lines.length, 1, r.stdout.toString());
    return JSON.parse(lines[0]);
  }

  async function pids(id: string): Promise<number[]> {
    const r = await tsvisor(['--root', root, 'ps', '--format', 'json', id]);
    assert.equal(r.code, 0, r.stderr.toString());
    return JSON.parse(r.stdout.toString());
  }

  it("runs a second process in the container: its output, exit status, stdin, env and user; init's output is untouched", async () => {
    const c = await runDetached('x1');
    const h = await tsvisor(['--root', root, 'exec', '--env', 'EXTRA=1', 'x1', '/bin/hello', 'FROM_SPEC', 'EXTRA', '--exit', '3']);
    assert.equal(h.code, 3, h.stderr.toString());
    assert.match(h.stdout.toString(), /^hello from riscv64\nargc=5\nargv\[0\]=\/bin\/hello\n[^]*FROM_SPEC=spec\nEXTRA=1\n$/);
    const piped = await tsvisor(['--root', root, 'exec', 'x1', 'cat'], Buffer.from('through exec\n'));
    assert.equal(piped.code, 0, piped.stderr.toString());
    assert.equal(piped.stdout.toString(), 'through exec\n');
    const killed = await tsvisor(['--root', root, 'exec', 'x1', '/bin/killself', '15']);
    assert.equal(killed.code, 128 + 15, killed.stderr.toString());
    const who = await tsvisor(['--root', root, 'exec', '--user', '1000:1001', 'x1', '/bin/creds']);
    assert.match(who.stdout.toString(), /uid 1000\/1000\/1000 gid 1001\/1001\/1001/);
    // Init still runs and still owns its stdio.
    c.stdin.write('init still here\n');
    await waitFor('init to echo', async () => (fs.readFileSync(c.outFile, 'utf8') === 'init still here\n' ? true : undefined));
    assert.deepEqual(await pids('x1'), [1]);
    const ps = await tsvisor(['--root', root, 'ps', 'x1']);
    assert.doesNotMatch(ps.stdout.toString(), /hello/);
    c.stdin.end();
    await stopped(root, 'x1');
    oneLineError(await tsvisor(['--root', root, 'exec', 'x1', '/bin/hello']), /^tsvisor: cannot exec in a stopped container$/);
    assert.equal((await tsvisor(['--root', root, 'delete', 'x1'])).code, 0);
  });

  it('runs the process of a --process file, as containerd does; -d returns at once and --pid-file names the exec that waits', async () => {
    const c = await runDetached('x2');
    const proc = path.join(root, 'process.json');
    fs.writeFileSync(proc, JSON.stringify({ args: ['/bin/hello', 'P'], env: ['P=from-process-json'], cwd: '/', user: { uid: 0, gid: 0 }, terminal: false }));
    const h = await tsvisor(['--root', root, 'exec', '--process', proc, 'x2']);
    assert.equal(h.code, 0, h.stderr.toString());
    assert.match(h.stdout.toString(), /\nP=from-process-json\n$/);

    // exec -d: a cat that waits on a pipe of ours (not Node's, which it closes when exec -d exits), in the background.
    const pidFile = path.join(root, 'exec.pid');
    const outFile = path.join(root, 'exec.out');
    const out = fs.openSync(outFile, 'w');
    const p = pipe2(O_CLOEXEC);
    if (typeof p === 'number') throw new Error(`pipe2: ${p}`);
    const d = spawn(TSVISOR, ['--root', root, 'exec', '-d', '--pid-file', pidFile, 'x2', '/bin/cat'], { stdio: [p[0], out, 'pipe'] });
    fs.closeSync(out);
    closeFd(p[0]);
    let err = '';
    d.stderr!.on('data', (b) => (err += b));
    const code = await new Promise<number | null>((resolve) => d.on('exit', resolve));
    assert.equal(code, 0, err);
    const waiter = Number(fs.readFileSync(pidFile, 'utf8'));
    assert.ok(waiter > 0 && fs.existsSync(`/proc/${waiter}`), 'the waiting exec runs on');
    await waitFor('the second process', async () => ((await pids('x2')).length === 2 ? true : undefined));
    fs.writeSync(p[1], 'detached input\n');
    closeFd(p[1]);
    await waitFor('the detached cat to echo', async () => (fs.readFileSync(outFile, 'utf8') === 'detached input\n' ? true : undefined));
    await waitFor('the detached cat to end', async () => ((await pids('x2')).length === 1 ? true : undefined));
    // A signal to the waiting exec reaches the process it waits for.
    const d2 = spawn(TSVISOR, ['--root', root, 'exec', '--pid-file', pidFile, 'x2', '/bin/cat'], { stdio: ['pipe', 'ignore', 'ignore'] });
    await waitFor('the third process', async () => ((await pids('x2')).length === 2 ? true : undefined));
    // The pid file is written once ExecuteAsync has answered, which may come just after the process shows in ps.
    await waitFor('the pid file to name the waiting exec', async () => (Number(fs.readFileSync(pidFile, 'utf8')) === d2.pid ? true : undefined));
    process.kill(d2.pid!, 'SIGTERM');
    const [c2, sig] = await new Promise<[number | null, string | null]>((resolve) => d2.on('exit', (a, b) => resolve([a, b])));
    assert.deepEqual([c2, sig], [128 + 15, null]);
    d2.stdin!.destroy();
    c.stdin.end();
    await stopped(root, 'x2');
  });

  it("keeps serving while an exec'd process blocks writing to a pipe nobody reads", async () => {
    const c = await runDetached('x4');
    const out = pipe2(O_CLOEXEC);
    if (typeof out === 'number') throw new Error(`pipe2: ${out}`);
    const zero = fs.openSync('/dev/zero', 'r');
    // cat copies /dev/zero into a pipe whose reader (ours) never reads: its write blocks, the sandbox must not.
    const writer = spawn(TSVISOR, ['--root', root, 'exec', 'x4', '/bin/cat'], { stdio: [zero, out[1], 'ignore'] });
    fs.closeSync(zero);
    closeFd(out[1]);
    await waitFor('the writer to run', async () => ((await pids('x4')).length === 2 ? true : undefined));
    await new Promise((r) => setTimeout(r, 1000));
    const h = await tsvisor(['--root', root, 'exec', 'x4', '/bin/hello'], Buffer.alloc(0), 30000);
    assert.equal(h.code, 0, h.stderr.toString());
    assert.match(h.stdout.toString(), /^hello from riscv64\n/);
    c.stdin.write('init too\n');
    await waitFor('init to echo', async () => (fs.readFileSync(c.outFile, 'utf8') === 'init too\n' ? true : undefined));
    closeFd(out[0]); // the writer gets EPIPE now
    const code = await new Promise<number | null>((resolve) => writer.on('exit', resolve));
    assert.notEqual(code, 0);
    c.stdin.end();
    await stopped(root, 'x4');
  });

  it('refuses bad process files, missing programs and cwds, and unknown containers with one line, exit 1', async () => {
    const c = await runDetached('x3');
    const proc = path.join(root, 'bad.json');
    fs.writeFileSync(proc, '{"args": ');
    oneLineError(await tsvisor(['--root', root, 'exec', '--process', proc, 'x3']), /^tsvisor: cannot read the process file .*bad\.json: /);
    fs.writeFileSync(proc, JSON.stringify({ args: [], cwd: '/' }));
    oneLineError(await tsvisor(['--root', root, 'exec', '--process', proc, 'x3']), /bad\.json: args must be a non-empty list of strings$/);
    fs.writeFileSync(proc, JSON.stringify({ args: ['/bin/hello'], cwd: 'relative' }));
    oneLineError(await tsvisor(['--root', root, 'exec', '--process', proc, 'x3']), /bad\.json: cwd must be an absolute path$/);
    oneLineError(await tsvisor(['--root', root, 'exec', '--process', path.join(root, 'none.json'), 'x3']), /cannot read the process file .*none\.json: ENOENT$/);
    oneLineError(await tsvisor(['--root', root, 'exec', 'x3', '/bin/nosuch']), /^tsvisor: cannot run \/bin\/nosuch: no such file or directory \(ENOENT\)$/);
    oneLineError(await tsvisor(['--root', root, 'exec', '--cwd', '/nosuch', 'x3', '/bin/hello']), /^tsvisor: cwd \/nosuch: ENOENT$/);
    oneLineError(await tsvisor(['--root', root, 'exec', 'x3']), /no command given/);
    oneLineError(await tsvisor(['--root', root, 'exec', 'nosuch', '/bin/hello']), /^tsvisor: container does not exist$/);
    // With --log, the failure is also an entry there (containerd's shim reads its log.json).
    const logFile = path.join(root, 'log.json');
    oneLineError(await tsvisor(['--root', root, '--log', logFile, '--log-format', 'json', 'exec', 'nosuch', '/bin/hello']), /container does not exist$/);
    const entry = JSON.parse(fs.readFileSync(logFile, 'utf8').trim());
    assert.equal(entry.level, 'error');
    assert.equal(entry.msg, 'container does not exist');
    oneLineError(await tsvisor(['--root', root, 'exec', '-d', '-t', 'x3', '/bin/hello']), /cannot allocate tty if tsvisor will detach without setting console socket$/);
    // Nothing was left behind in the sandbox.
    assert.deepEqual(await pids('x3'), [1]);
    c.stdin.end();
    await stopped(root, 'x3');
  });

  it('pause stops every guest thread until resume; kill works while paused; events --stats reports memory and pids', async () => {
    const c = await runDetached('p1');
    const s0 = await stats('p1');
    assert.equal(s0.type, 'stats');
    assert.equal(s0.id, 'p1');
    assert.ok(s0.data.memory.usage.usage > 0 && s0.data.memory.usage.limit > 0, JSON.stringify(s0));
    assert.equal(s0.data.pids.current, 1);
    // A long computation beside init.
    const busy = spawn(TSVISOR, ['--root', root, 'exec', 'p1', '/bin/compute', '1000'], { stdio: 'ignore' });
    await waitFor('the computation to run', async () => ((await stats('p1')).data.cpu.usage.total > s0.data.cpu.usage.total + 1e6 ? true : undefined));
    assert.equal((await tsvisor(['--root', root, 'pause', 'p1'])).code, 0);
    assert.equal((await stateOf(root, 'p1')).status, 'paused');
    oneLineError(await tsvisor(['--root', root, 'pause', 'p1']), /container not running$/);
    oneLineError(await tsvisor(['--root', root, 'exec', 'p1', '/bin/hello']), /cannot exec in a paused container/);
    oneLineError(await tsvisor(['--root', root, 'delete', 'p1']), /cannot delete container p1 that is not stopped: paused$/);
    const a = (await stats('p1')).data.cpu.usage.total;
    await new Promise((r) => setTimeout(r, 700));
    const b = (await stats('p1')).data.cpu.usage.total;
    assert.equal(b, a, 'no guest instruction runs while paused');
    assert.equal((await tsvisor(['--root', root, 'resume', 'p1'])).code, 0);
    assert.equal((await stateOf(root, 'p1')).status, 'running');
    oneLineError(await tsvisor(['--root', root, 'resume', 'p1']), /container not paused$/);
    await waitFor('the computation to go on', async () => ((await stats('p1')).data.cpu.usage.total > b ? true : undefined));
    assert.equal((await stats('p1')).data.pids.current, 2);
    // Paused again, then killed.
    assert.equal((await tsvisor(['--root', root, 'pause', 'p1'])).code, 0);
    const k = await tsvisor(['--root', root, 'kill', 'p1', 'KILL']);
    assert.equal(k.code, 0, k.stderr.toString());
    await stopped(root, 'p1');
    busy.kill('SIGKILL');
    c.stdin.end();
    assert.equal((await tsvisor(['--root', root, 'delete', 'p1'])).code, 0);
  });

  it('events without --stats prints an event per interval until the container stops', async () => {
    const c = await runDetached('v1');
    const ev = spawn(TSVISOR, ['--root', root, 'events', '--interval', '200ms', 'v1'], { stdio: ['ignore', 'pipe', 'pipe'] });
    let text = '';
    ev.stdout!.on('data', (b) => (text += b));
    await waitFor('two events', async () => (text.split('\n').length > 2 ? true : undefined));
    c.stdin.end();
    const code = await new Promise<number | null>((resolve) => ev.on('exit', resolve));
    assert.equal(code, 0);
    for (const line of text.trim().split('\n')) assert.equal(JSON.parse(line).type, 'stats');
    oneLineError(await tsvisor(['--root', root, 'events', '--interval', 'soon', 'v1']), /invalid --interval "soon"/);
    await stopped(root, 'v1');
  });

  it('runs OCI hooks in order with the state on stdin, args and env from the spec; a failing createRuntime hook fails create', async () => {
    const log = path.join(root, 'hooks.log');
    const hook = (kind: string) => ({ path: '/bin/sh', args: ['sh', '-c', `read -r s; echo "${kind} $0 $X $s" >> ${log}`, 'arg0'], env: ['X=envx'], timeout: 10 });
    const bundle = makeBundle({ args: ['/bin/hello'] });
    try {
      const cfgPath = path.join(bundle, 'config.json');
      const cfg = JSON.parse(fs.readFileSync(cfgPath, 'utf8'));
      cfg.hooks = { createRuntime: [hook('createRuntime')], createContainer: [hook('createContainer')], startContainer: [hook('startContainer')], poststart: [hook('poststart')], poststop: [hook('poststop')] };
      fs.writeFileSync(cfgPath, JSON.stringify(cfg));
      const c = await create(root, bundle, 'hk1');
      assert.equal(c.code, 0, fs.readFileSync(c.errFile, 'utf8'));
      c.stdin.end();
      assert.equal((await tsvisor(['--root', root, 'start', 'hk1'])).code, 0);
      await stopped(root, 'hk1');
      const d = await tsvisor(['--root', root, 'delete', 'hk1']);
      assert.equal(d.code, 0, d.stderr.toString());
      const lines = fs.readFileSync(log, 'utf8').trim().split('\n');
      assert.deepEqual(lines.map((l) => l.split(' ').slice(0, 3).join(' ')), ['createRuntime arg0 envx', 'createContainer arg0 envx', 'startContainer arg0 envx', 'poststart arg0 envx', 'poststop arg0 envx']);
      const states = lines.map((l) => JSON.parse(l.split(' ').slice(3).join(' ')));
      assert.deepEqual(states.map((s) => s.status), ['creating', 'creating', 'created', 'running', 'stopped']);
      for (const st of states) assert.equal(st.id, 'hk1');
      assert.ok(states[0].pid > 0);

      cfg.hooks = { createRuntime: [{ path: '/bin/sh', args: ['sh', '-c', 'echo failing; exit 3'] }] };
      fs.writeFileSync(cfgPath, JSON.stringify(cfg));
      const bad = await create(root, bundle, 'hk2');
      assert.equal(bad.code, 1);
      assert.match(fs.readFileSync(bad.errFile, 'utf8'), /^tsvisor: error running createRuntime hook #0: exit status 3, stdout: failing, stderr: \n$/);
      bad.stdin.end();
      assert.equal(fs.existsSync(path.join(root, 'hk2')), false, 'create removed the container');
    } finally {
      removeBundle(bundle);
    }
  });

  it('tsvisor run runs the hooks too; a failing startContainer hook ends the sandbox before the program runs (exit 128)', async () => {
    const log = path.join(root, 'run-hooks.log');
    const hook = (kind: string) => ({ path: '/bin/sh', args: ['sh', '-c', `read -r s; echo "${kind} $s" >> ${log}`] });
    const bundle = makeBundle({ args: ['/bin/hello', 'run'] });
    try {
      const cfgPath = path.join(bundle, 'config.json');
      const cfg = JSON.parse(fs.readFileSync(cfgPath, 'utf8'));
      cfg.hooks = { prestart: [hook('prestart')], createRuntime: [hook('createRuntime')], createContainer: [hook('createContainer')], startContainer: [hook('startContainer')], poststart: [hook('poststart')], poststop: [hook('poststop')] };
      fs.writeFileSync(cfgPath, JSON.stringify(cfg));
      const r = await tsvisor(['--root', root, 'run', '--bundle', bundle, 'rh1']);
      assert.equal(r.code, 0, r.stderr.toString());
      assert.match(r.stdout.toString(), /^hello from riscv64\n/);
      const lines = fs.readFileSync(log, 'utf8').trim().split('\n');
      assert.deepEqual(lines.map((l) => [l.split(' ')[0], JSON.parse(l.slice(l.indexOf(' ') + 1)).status]), [
        ['prestart', 'creating'], ['createRuntime', 'creating'], ['createContainer', 'creating'], ['startContainer', 'created'], ['poststart', 'running'], ['poststop', 'stopped'],
      ]);
      cfg.hooks = { startContainer: [{ path: '/bin/sh', args: ['sh', '-c', 'exit 1'] }] };
      fs.writeFileSync(cfgPath, JSON.stringify(cfg));
      const bad = await tsvisor(['--root', root, 'run', '--bundle', bundle, 'rh2']);
      assert.equal(bad.code, 128);
      assert.equal(bad.stdout.toString(), '', 'the program never ran');
      assert.match(bad.stderr.toString(), /^tsvisor: error running startContainer hook #0: exit status 1, stdout: , stderr: \n$/);
      assert.equal(fs.existsSync(path.join(root, 'rh2')), false);
    } finally {
      removeBundle(bundle);
    }
  });
});
