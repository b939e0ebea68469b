// runc's command line as an engine drives it: create, start, state, kill,
// delete, list, ps, features, with a temporary --root, concurrent calls, and
// runc's error lines and exit status (1) for bad input.

import * as assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { makeBundle, removeBundle } from '../util/bundle.js';
import { stateRoot, tsvisor } from './run-util.js';
import { create, oneLineError, stateOf, stopped, waitFor } from './oci-util.js';

describe('tsvisor OCI verbs (runc command line)', function () {
  this.timeout(90000);
  const root = stateRoot();
  let cat: string;
  let hello: string;
  before(() => {
    cat = makeBundle({ args: ['/bin/cat'] });
    hello = makeBundle({ args: ['/bin/hello', 'oci'] });
    const cfg = JSON.parse(fs.readFileSync(path.join(hello, 'config.json'), 'utf8'));
    cfg.annotations = { 'org.example.key': 'value' };
    fs.writeFileSync(path.join(hello, 'config.json'), JSON.stringify(cfg));
  });
  after(async () => {
    // Nothing may be left running: delete --force whatever a failed test left behind.
    for (const id of fs.existsSync(root) ? fs.readdirSync(root) : []) await tsvisor(['--root', root, 'delete', '--force', id]);
    fs.rmSync(root, { recursive: true, force: true });
    removeBundle(cat);
    removeBundle(hello);
  });

  it('create → created, start → running, kill → stopped, delete; stdio given to create reaches the program', async () => {
    const pidFile = path.join(root, 'c1.pid');
    const c = await create(root, cat, 'c1', ['--pid-file', pidFile]);
    assert.equal(c.code, 0, fs.readFileSync(c.errFile, 'utf8'));
    let st = await stateOf(root, 'c1');
    assert.equal(st.status, 'created');
    assert.equal(st.id, 'c1');
    assert.equal(st.bundle, cat);
    assert.equal(st.ociVersion, '1.0.2');
    assert.deepEqual(st.annotations, {});
    assert.equal(Number(fs.readFileSync(pidFile, 'utf8')), st.pid);
    assert.ok(fs.existsSync(`/proc/${st.pid}`), 'boot runs after create exited');
    // As runc's init: boot's parent is not a launcher of ours (which would reap it) but whoever reaps orphans here
    // (init, or a subreaper such as containerd's shim, which waits for the pid in the pid file).
    const ppid = Number(/\) \S+ (\d+)/.exec(fs.readFileSync(`/proc/${st.pid}/stat`, 'utf8'))![1]);
    assert.doesNotMatch(fs.readFileSync(`/proc/${ppid}/cmdline`, 'utf8').split('\0')[0], /unshare|setpriv|setsid/, 'boot is not left under its launcher');
    const list = await tsvisor(['--root', root, 'list']);
    assert.match(list.stdout.toString(), /^ID\s+PID\s+STATUS\s+BUNDLE\s+CREATED\s+OWNER\n/);
    assert.match(list.stdout.toString(), new RegExp(`\\nc1\\s+${st.pid}\\s+created\\s+${cat}\\s`));

    const s = await tsvisor(['--root', root, 'start', 'c1']);
    assert.equal(s.code, 0, s.stderr.toString());
    st = await stateOf(root, 'c1');
    assert.equal(st.status, 'running');
    oneLineError(await tsvisor(['--root', root, 'start', 'c1']), /cannot start an already running container$/);
    oneLineError(await tsvisor(['--root', root, 'delete', 'c1']), /cannot delete container c1 that is not stopped: running$/);

    c.stdin.write('ping through create\n');
    await waitFor('cat to echo', async () => (fs.readFileSync(c.outFile, 'utf8').includes('ping through create\n') ? true : undefined));
    const ps = await tsvisor(['--root', root, 'ps', '--format', 'json', 'c1']);
    assert.equal(ps.code, 0, ps.stderr.toString());
    assert.deepEqual(JSON.parse(ps.stdout.toString()), [1]);
    const psTable = await tsvisor(['--root', root, 'ps', 'c1']);
    assert.match(psTable.stdout.toString(), /^UID\s+PID\s+PPID\s+C\s+STIME\s+TIME\s+CMD\n0\s+1\s+0\s/);

    const k = await tsvisor(['--root', root, 'kill', 'c1', 'KILL']);
    assert.equal(k.code, 0, k.stderr.toString());
    await stopped(root, 'c1');
    st = await stateOf(root, 'c1');
    assert.equal(st.pid, 0);
    oneLineError(await tsvisor(['--root', root, 'kill', 'c1']), /container not running$/);
    oneLineError(await tsvisor(['--root', root, 'start', 'c1']), /cannot start a container that has stopped$/);
    const d = await tsvisor(['--root', root, 'delete', 'c1']);
    assert.equal(d.code, 0, d.stderr.toString());
    oneLineError(await tsvisor(['--root', root, 'state', 'c1']), /container does not exist$/);
    c.stdin.end();
  });

  it("a started program's output reaches the stdout given to create, and it stops by itself", async () => {
    const c = await create(root, hello, 'h1');
    assert.equal(c.code, 0, fs.readFileSync(c.errFile, 'utf8'));
    c.stdin.end();
    assert.deepEqual((await stateOf(root, 'h1')).annotations, { 'org.example.key': 'value' });
    assert.equal(fs.readFileSync(c.outFile, 'utf8'), '', 'nothing runs before start');
    assert.equal((await tsvisor(['--root', root, 'start', 'h1'])).code, 0);
    await stopped(root, 'h1');
    assert.match(fs.readFileSync(c.outFile, 'utf8'), /^hello from riscv64\nargc=2\nargv\[0\]=\/bin\/hello\nargv\[1\]=oci\n/);
    const json = await tsvisor(['--root', root, 'list', '--format', 'json']);
    const h1 = (JSON.parse(json.stdout.toString()) as { id: string; status: string }[]).find((x) => x.id === 'h1');
    assert.equal(h1?.status, 'stopped');
    assert.equal((await tsvisor(['--root', root, 'delete', 'h1'])).code, 0);
    assert.equal(fs.existsSync(path.join(root, 'h1')), false);
  });

  it('kill and delete (without --force) a created container, as runc allows', async () => {
    const c = await create(root, cat, 'k1');
    assert.equal(c.code, 0, fs.readFileSync(c.errFile, 'utf8'));
    const k = await tsvisor(['--root', root, 'kill', 'k1', '15']);
    assert.equal(k.code, 0, k.stderr.toString());
    await stopped(root, 'k1');
    const c2 = await create(root, cat, 'k2');
    assert.equal(c2.code, 0);
    const pid = (await stateOf(root, 'k2')).pid;
    assert.equal((await tsvisor(['--root', root, 'delete', 'k2'])).code, 0);
    assert.equal(fs.existsSync(`/proc/${pid}/stat`) && !/\) Z /.test(fs.readFileSync(`/proc/${pid}/stat`, 'utf8')), false, 'delete ended the sandbox');
    assert.equal((await tsvisor(['--root', root, 'delete', 'k1'])).code, 0);
    c.stdin.end();
    c2.stdin.end();
  });

  it('serves concurrent state and kill calls on one container', async () => {
    const c = await create(root, cat, 'cc');
    assert.equal(c.code, 0, fs.readFileSync(c.errFile, 'utf8'));
    assert.equal((await tsvisor(['--root', root, 'start', 'cc'])).code, 0);
    const calls = [
      ...Array.from({ length: 4 }, () => tsvisor(['--root', root, 'state', 'cc'])),
      ...Array.from({ length: 3 }, () => tsvisor(['--root', root, 'kill', '--all', 'cc', 'SIGKILL'])),
    ];
    const results = await Promise.all(calls);
    for (const r of results.slice(0, 4)) {
      assert.equal(r.code, 0, r.stderr.toString());
      assert.match(JSON.parse(r.stdout.toString()).status, /^(running|stopped)$/);
    }
    const kills = results.slice(4);
    assert.ok(kills.some((r) => r.code === 0), kills.map((r) => r.stderr.toString()).join(''));
    for (const r of kills) if (r.code !== 0) oneLineError(r, /container not running$/);
    await stopped(root, 'cc');
    const d = await tsvisor(['--root', root, 'delete', 'cc']);
    assert.equal(d.code, 0, d.stderr.toString());
    c.stdin.end();
  });

  it('run -d creates and starts the container, and exits 0 with it running', async () => {
    const c = await create(root, cat, 'd1', [], ['run', '-d']);
    assert.equal(c.code, 0, fs.readFileSync(c.errFile, 'utf8'));
    assert.equal((await stateOf(root, 'd1')).status, 'running');
    c.stdin.write('detached\n');
    await waitFor('cat to echo', async () => (fs.readFileSync(c.outFile, 'utf8').includes('detached\n') ? true : undefined));
    c.stdin.end();
    await stopped(root, 'd1');
    assert.equal((await tsvisor(['--root', root, 'delete', 'd1'])).code, 0);
  });

  it('delete --force kills a running container', async () => {
    const c = await create(root, cat, 'f1');
    assert.equal(c.code, 0);
    assert.equal((await tsvisor(['--root', root, 'start', 'f1'])).code, 0);
    const d = await tsvisor(['--root', root, 'delete', '--force', 'f1']);
    assert.equal(d.code, 0, d.stderr.toString());
    assert.equal(fs.existsSync(path.join(root, 'f1')), false);
    c.stdin.end();
  });

  it("gives runc's error lines, exit 1, for unknown containers, ids in use, bad ids and bad signals", async () => {
    for (const verb of [['state'], ['start'], ['kill'], ['delete'], ['ps']]) {
      oneLineError(await tsvisor(['--root', root, ...verb, 'nosuch']), /^tsvisor: container does not exist$/);
    }
    assert.equal((await tsvisor(['--root', root, 'delete', '--force', 'nosuch'])).code, 0);
    oneLineError(await tsvisor(['--root', root, 'state', '../x']), /invalid container ID format: \.\.\/x$/);
    const c = await create(root, cat, 'dup');
    assert.equal(c.code, 0);
    const again = await tsvisor(['--root', root, 'create', '--bundle', cat, 'dup']);
    oneLineError(again, /container with given ID already exists$/);
    assert.equal((await stateOf(root, 'dup')).status, 'created', 'the first container is untouched');
    oneLineError(await tsvisor(['--root', root, 'kill', 'dup', 'NOPE']), /unknown signal "NOPE"$/);
    assert.equal((await tsvisor(['--root', root, 'delete', 'dup'])).code, 0);
    c.stdin.end();
  });

  it('rejects a malformed or missing config.json with one line, exit 1, leaving no state', async () => {
    const bundle = makeBundle({ args: ['/bin/hello'] });
    try {
      fs.writeFileSync(path.join(bundle, 'config.json'), '{"ociVersion": "1.0.2", "process": ');
      oneLineError(await tsvisor(['--root', root, 'create', '--bundle', bundle, 'bad1']), /^tsvisor: invalid .*config\.json: /);
      const cfg = JSON.parse(fs.readFileSync(path.join(hello, 'config.json'), 'utf8'));
      cfg.process.cwd = 'relative';
      fs.writeFileSync(path.join(bundle, 'config.json'), JSON.stringify(cfg));
      oneLineError(await tsvisor(['--root', root, 'create', '--bundle', bundle, 'bad2']), /\/process\/cwd/);
      fs.rmSync(path.join(bundle, 'config.json'));
      oneLineError(await tsvisor(['--root', root, 'create', '--bundle', bundle, 'bad3']), /JSON specification file .*config\.json not found$/);
      for (const id of ['bad1', 'bad2', 'bad3']) assert.equal(fs.existsSync(path.join(root, id)), false);
    } finally {
      removeBundle(bundle);
    }
  });

  it('features prints JSON; engine flags (--systemd-cgroup, --criu, --rootless) are accepted', async () => {
    const f = await tsvisor(['--root', root, 'features']);
    assert.equal(f.code, 0);
    const j = JSON.parse(f.stdout.toString());
    assert.equal(j.ociVersionMin, '1.0.0');
    assert.ok(j.linux.capabilities.includes('CAP_KILL'));
    const l = await tsvisor(['--root', root, '--systemd-cgroup', '--criu', '/usr/sbin/criu', '--rootless=true', '--log', path.join(root, 'log'), '--log-format', 'json', 'list', '-q']);
    assert.equal(l.code, 0, l.stderr.toString());
  });
});
