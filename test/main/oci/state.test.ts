// The OCI verbs' state store (src/main/oci/state.ts): state.json round trips,
// status from boot's liveness, the lock (held, waited for, stale and broken,
// shared by processes), ids, and kill's signal names.

import * as assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { acquireLock, checkId, ContainerNotExist, ociState, processStart, StateStore, statusOf, type StoredState } from '../../../src/main/oci/state.js';
import { parseSignal } from '../../../src/main/oci/verbs.js';

function sample(id: string, pid: number, pidStart: string, status: 'created' | 'running' = 'created'): StoredState {
  return { ociVersion: '1.0.2', id, pid, pidStart, goferPid: 0, goferStart: '', bundle: '/b', annotations: { a: 'b' }, created: new Date(0).toISOString(), owner: 'me', status };
}

/** The pid of a process that has exited (and been reaped). */
function deadPid(): number {
  return spawnSync(process.execPath, ['-e', '0']).pid!;
}

describe('oci state store', () => {
  let root: string;
  let store: StateStore;
  beforeEach(() => {
    root = fs.mkdtempSync(path.join(os.tmpdir(), 'tsvisor-oci-state-'));
    store = new StateStore(root);
  });
  afterEach(() => fs.rmSync(root, { recursive: true, force: true }));

  it('saves and loads state.json whole, and lists the ids that have one', () => {
    fs.mkdirSync(store.dir('b'));
    fs.mkdirSync(store.dir('a'));
    fs.mkdirSync(store.dir('no-state'));
    store.save(sample('b', 1, ''));
    store.save(sample('a', 1, ''));
    assert.deepEqual(store.load('a'), sample('a', 1, ''));
    assert.deepEqual(store.ids(), ['a', 'b']);
    assert.deepEqual(fs.readdirSync(store.dir('a')), ['state.json'], 'no temporary file left');
    store.remove('a');
    assert.deepEqual(store.ids(), ['b']);
  });

  it('says "container does not exist" for an unknown id, and rejects ids that are not names', () => {
    assert.throws(() => store.load('nosuch'), (e: unknown) => e instanceof ContainerNotExist && e.message === 'container does not exist' && e.exitCode === 1);
    for (const bad of ['', '../x', 'a/b', '.hidden', 'x'.repeat(129)]) assert.throws(() => checkId(bad), /invalid container ID format/);
    checkId('ok-id_1.2+3');
  });

  it('reports stopped (pid 0) once the pid is gone or belongs to another process', () => {
    const me = processStart(process.pid)!;
    assert.match(me, /^\d+$/);
    assert.equal(statusOf(sample('x', process.pid, me, 'running')), 'running');
    assert.equal(statusOf(sample('x', process.pid, String(Number(me) + 1), 'running')), 'stopped', 'a reused pid is not the sandbox');
    const dead = ociState(sample('x', deadPid(), '1', 'running'));
    assert.equal(dead.status, 'stopped');
    assert.equal(dead.pid, 0);
    assert.deepEqual(Object.keys(ociState(sample('x', process.pid, me))), ['ociVersion', 'id', 'status', 'pid', 'bundle', 'annotations']);
  });

  it('holds the lock until released; a second taker times out with the holder named', () => {
    fs.mkdirSync(store.dir('l'));
    const release = acquireLock(store.dir('l'), 'l', 1000);
    assert.throws(() => acquireLock(store.dir('l'), 'l', 50), new RegExp(`timed out waiting for the lock on container l \\(held by pid ${process.pid}\\)`));
    release();
    acquireLock(store.dir('l'), 'l', 50)();
    assert.deepEqual(fs.readdirSync(store.dir('l')), []);
  });

  it('breaks a stale lock whose holder is gone, or whose pid now names another process', () => {
    fs.mkdirSync(store.dir('s'));
    fs.writeFileSync(path.join(store.dir('s'), 'lock'), `${deadPid()} 12345`);
    acquireLock(store.dir('s'), 's', 1000)();
    fs.writeFileSync(path.join(store.dir('s'), 'lock'), `${process.pid} 1`);
    acquireLock(store.dir('s'), 's', 1000)();
    assert.deepEqual(fs.readdirSync(store.dir('s')), []);
  });

  it('fails with "container does not exist" when locking a container that has no directory', async () => {
    await assert.rejects(store.withLock('gone', () => 1), ContainerNotExist);
  });

  it('serialises processes: concurrent read-modify-write under the lock loses no update', async () => {
    fs.mkdirSync(store.dir('c'));
    const counter = path.join(root, 'counter');
    fs.writeFileSync(counter, '0');
    const mod = require.resolve('../../../src/main/oci/state.js');
    const script = `
      const fs = require('fs'); const { acquireLock } = require(${JSON.stringify(mod)});
      for (let i = 0; i < 25; i++) {
        const release = acquireLock(${JSON.stringify(store.dir('c'))}, 'c', 30000);
        const n = Number(fs.readFileSync(${JSON.stringify(counter)}, 'utf8'));
        Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, 1);
        fs.writeFileSync(${JSON.stringify(counter)}, String(n + 1));
        release();
      }`;
    const runs = Array.from({ length: 4 }, () => new Promise<number | null>((resolve) => spawn(process.execPath, ['-e', script], { stdio: 'inherit' }).on('exit', resolve)));
    assert.deepEqual(await Promise.all(runs), [0, 0, 0, 0]);
    assert.equal(fs.readFileSync(counter, 'utf8'), '100');
  }).timeout(60000);

  it("reads kill's signals as runc does: numbers, names with or without SIG, any case", () => {
    assert.equal(parseSignal('9'), 9);
    assert.equal(parseSignal('KILL'), 9);
    assert.equal(parseSignal('SIGTERM'), 15);
    assert.equal(parseSignal('hup'), 1);
    for (const bad of ['0', '65', 'NOPE', 'SIG', '-1']) assert.throws(() => parseSignal(bad), new RegExp(`unknown signal "${bad}"`));
  });
});
