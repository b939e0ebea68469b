// Record locks: conflicts between owners, splitting and merging one owner's
// ranges, release on close, F_SETLKW waits, deadlock detection.

import * as assert from 'node:assert/strict';
import * as abi from '../../../src/linux/abi.js';
import { EAGAIN, EDEADLK, EINTR } from '../../../src/linux/errno.js';
import { flock, locksOn, releaseLocks, setLock, testLock, trackOfd } from '../../../src/kernel/files/locks.js';
import { File } from '../../../src/kernel/files/file.js';
import { makeAttr } from '../../../src/kernel/vfs/attr.js';
import { FakeThread, settle } from './fake-thread.js';

class PlainFile extends File {
  getattr() {
    return makeAttr(abi.S_IFREG | 0o644);
  }
}

const WR = abi.F_WRLCK;
const RD = abi.F_RDLCK;
const lock = (owner: object, type: number, start: number, end: number, ofd = false) => ({ owner, type: type as typeof WR, start, end, ofd, pid: 1 });
const ranges = (f: File, owner: object) =>
  locksOn(f)
    .filter((l) => l.owner === owner)
    .map((l) => `${l.type === WR ? 'W' : 'R'}${l.start}-${l.end}`);

describe('kernel/files/locks', () => {
  it('read locks share, a write lock excludes other owners, never the owner itself', () => {
    const f = new PlainFile(abi.O_RDWR, '/f');
    const a = {};
    const b = {};
    assert.equal(setLock(f, lock(a, RD, 0, 9)), 0);
    assert.equal(setLock(f, lock(b, RD, 5, 15)), 0);
    assert.equal(setLock(f, lock(b, WR, 5, 15)), EAGAIN);
    assert.equal(setLock(f, lock(a, WR, 0, 4)), 0, 'its own read lock does not stop a');
    assert.equal(testLock(f, lock(b, WR, 0, 2))?.owner, a);
    assert.equal(testLock(f, lock(a, WR, 0, 20))?.owner, b);
  });

  it('an unlock in the middle splits a range; same-type neighbours merge; a type change replaces', () => {
    const f = new PlainFile(abi.O_RDWR, '/f');
    const a = {};
    setLock(f, lock(a, WR, 0, 9));
    setLock(f, { ...lock(a, WR, 3, 6), type: abi.F_UNLCK });
    assert.deepEqual(ranges(f, a), ['W0-2', 'W7-9']);
    setLock(f, lock(a, RD, 3, 6));
    assert.deepEqual(ranges(f, a), ['W0-2', 'R3-6', 'W7-9']);
    setLock(f, lock(a, WR, 3, 6));
    assert.deepEqual(ranges(f, a), ['W0-9']);
    setLock(f, lock(a, WR, 10, Infinity));
    assert.deepEqual(ranges(f, a), ['W0-Infinity']);
    setLock(f, lock(a, RD, 5, 5));
    assert.deepEqual(ranges(f, a), ['W0-4', 'R5-5', 'W6-Infinity']);
  });

  it('locks hang from the inode: closing another file of it releases the owner\'s locks', () => {
    const inode = {};
    const f1 = new PlainFile(abi.O_RDWR, '/f');
    const f2 = new PlainFile(abi.O_RDONLY, '/f');
    (f1 as { dentry?: unknown }).dentry = { inode };
    (f2 as { dentry?: unknown }).dentry = { inode };
    const table = {};
    setLock(f1, lock(table, WR, 0, 9));
    assert.equal(testLock(f2, lock({}, RD, 0, 0))?.owner, table);
    releaseLocks(f2, table);
    assert.equal(locksOn(f1).length, 0);
  });

  it('OFD locks go with their open file description', () => {
    const f = new PlainFile(abi.O_RDWR, '/f');
    trackOfd(f);
    setLock(f, lock(f, WR, 0, 0, true));
    assert.equal(locksOn(f).length, 1);
    void f.unref();
    assert.equal(locksOn(f).length, 0);
  });

  it('F_SETLKW waits until the range is free; a signal ends the wait with EINTR', async () => {
    const f = new PlainFile(abi.O_RDWR, '/f');
    const a = {};
    const b = {};
    setLock(f, lock(a, WR, 0, 9));
    const t = new FakeThread();
    const got = setLock(f, lock(b, RD, 5, 5), t);
    assert.ok(got instanceof Promise);
    await settle();
    setLock(f, { ...lock(a, WR, 0, 9), type: abi.F_UNLCK });
    assert.equal(await got, 0);
    assert.deepEqual(ranges(f, b), ['R5-5']);
    const c = {};
    const waiting = setLock(f, lock(c, WR, 0, 9), t);
    await settle();
    t.signal();
    assert.equal(await waiting, EINTR);
  });

  it('a POSIX wait that would close a cycle is EDEADLK', async () => {
    const f = new PlainFile(abi.O_RDWR, '/f');
    const a = {};
    const b = {};
    setLock(f, lock(a, WR, 0, 0));
    setLock(f, lock(b, WR, 10, 10));
    const aWaits = setLock(f, lock(a, WR, 10, 10), new FakeThread());
    assert.ok(aWaits instanceof Promise);
    await settle();
    assert.equal(setLock(f, lock(b, WR, 0, 0), new FakeThread()), EDEADLK);
    setLock(f, { ...lock(b, WR, 10, 10), type: abi.F_UNLCK });
    assert.equal(await aWaits, 0);
  });

  it('flock: shared or exclusive per open file, apart from fcntl locks; a conversion drops the old lock first; release frees', async () => {
    const inode = {};
    const a = new PlainFile(abi.O_RDWR, '/f');
    const b = new PlainFile(abi.O_RDONLY, '/f');
    (a as { dentry?: unknown }).dentry = { inode };
    (b as { dentry?: unknown }).dentry = { inode };
    assert.equal(flock(a, WR), 0);
    assert.equal(flock(b, RD), EAGAIN);
    assert.equal(setLock(b, lock({}, RD, 0, Infinity)), 0, 'fcntl locks do not see flock locks');
    assert.equal(flock(a, RD), 0);
    assert.equal(flock(b, RD), 0);
    assert.equal(flock(a, WR), EAGAIN);
    assert.equal(locksOn(a, 'flock').filter((l) => l.owner === a).length, 0, 'the failed conversion left no lock');
    const t = new FakeThread();
    const waiting = flock(a, WR, t);
    assert.ok(waiting instanceof Promise);
    await settle();
    void b.unref();
    assert.equal(await waiting, 0);
  });
});
