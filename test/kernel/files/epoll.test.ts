// epoll instances and eventfds: trigger modes, registrations outliving fds,
// nesting, and eventfd's counter rules.

import * as assert from 'node:assert/strict';
import * as abi from '../../../src/linux/abi.js';
import { EAGAIN, EEXIST, EINVAL, ELOOP, ENOENT, EPERM, isErrno } from '../../../src/linux/errno.js';
import { EpollFile } from '../../../src/kernel/files/epoll.js';
import { EventFd } from '../../../src/kernel/files/eventfd.js';
import { makePipe } from '../../../src/kernel/files/pipe.js';
import { File } from '../../../src/kernel/files/file.js';
import { makeAttr } from '../../../src/kernel/vfs/attr.js';

const IN = abi.POLLIN;
const u64 = (v: bigint) => {
  const b = new Uint8Array(8);
  new DataView(b.buffer).setBigUint64(0, v, true);
  return b;
};
const val = (b: Uint8Array | unknown) => new DataView((b as Uint8Array).buffer).getBigUint64(0, true);

class PlainFile extends File {
  getattr() {
    return makeAttr(abi.S_IFREG | 0o644);
  }
}

describe('kernel/files/epoll', () => {
  it('level-triggered: reported while ready, dropped once drained', () => {
    const ep = new EpollFile(0);
    const [r, w] = makePipe(0);
    assert.equal(ep.ctl(abi.EPOLL_CTL_ADD, 3, r, IN, 7n), 0);
    assert.deepEqual(ep.harvest(8), []);
    w.write(new Uint8Array(2));
    assert.deepEqual(ep.harvest(8), [{ events: IN, data: 7n }]);
    assert.deepEqual(ep.harvest(8), [{ events: IN, data: 7n }]);
    r.read(2);
    assert.deepEqual(ep.harvest(8), []);
  });

  it('edge-triggered: once per write; one-shot: once until re-armed', () => {
    const ep = new EpollFile(0);
    const [r, w] = makePipe(0);
    ep.ctl(abi.EPOLL_CTL_ADD, 3, r, IN | abi.EPOLLET, 1n);
    w.write(new Uint8Array(1));
    assert.equal(ep.harvest(8).length, 1);
    assert.equal(ep.harvest(8).length, 0);
    w.write(new Uint8Array(1));
    assert.equal(ep.harvest(8).length, 1, 'every write is an edge');
    const e = new EventFd(0n, false, abi.O_NONBLOCK);
    ep.ctl(abi.EPOLL_CTL_ADD, 4, e, IN | abi.EPOLLONESHOT, 2n);
    e.write(u64(1n));
    assert.deepEqual(ep.harvest(8), [{ events: IN, data: 2n }]);
    e.write(u64(1n));
    assert.deepEqual(ep.harvest(8), []);
    ep.ctl(abi.EPOLL_CTL_MOD, 4, e, IN | abi.EPOLLONESHOT, 3n);
    assert.deepEqual(ep.harvest(8), [{ events: IN, data: 3n }]);
  });

  it('refuses regular files, itself, duplicates, missing entries, exclusive MOD and cycles', () => {
    const ep = new EpollFile(0);
    const ep2 = new EpollFile(0);
    const [r] = makePipe(0);
    assert.equal(ep.ctl(abi.EPOLL_CTL_ADD, 3, new PlainFile(abi.O_RDONLY, '/f'), IN, 0n), EPERM);
    assert.equal(ep.ctl(abi.EPOLL_CTL_ADD, 3, ep, IN, 0n), EINVAL);
    assert.equal(ep.ctl(abi.EPOLL_CTL_MOD, 3, r, IN, 0n), ENOENT);
    assert.equal(ep.ctl(abi.EPOLL_CTL_ADD, 3, r, IN | abi.EPOLLEXCLUSIVE | abi.EPOLLONESHOT, 0n), EINVAL);
    assert.equal(ep.ctl(abi.EPOLL_CTL_ADD, 3, r, IN | abi.EPOLLEXCLUSIVE, 0n), 0);
    assert.equal(ep.ctl(abi.EPOLL_CTL_ADD, 3, r, IN, 0n), EEXIST);
    assert.equal(ep.ctl(abi.EPOLL_CTL_MOD, 3, r, IN, 0n), EINVAL);
    assert.equal(ep2.ctl(abi.EPOLL_CTL_ADD, 5, ep, IN, 0n), 0);
    assert.equal(ep.ctl(abi.EPOLL_CTL_ADD, 6, ep2, IN, 0n), ELOOP);
  });

  it('a registration lives until its open file is released, not when one fd closes', () => {
    const ep = new EpollFile(0);
    const [r, w] = makePipe(0);
    r.ref(); // a dup
    ep.ctl(abi.EPOLL_CTL_ADD, 3, r, IN, 9n);
    void r.unref(); // close(3)
    w.write(new Uint8Array(1));
    assert.deepEqual(ep.harvest(8), [{ events: IN, data: 9n }]);
    void r.unref(); // the dup goes too: released
    assert.deepEqual(ep.harvest(8), []);
    assert.equal(w.waitQueue.waiters, 0, 'the registration stopped listening');
  });

  it('reports POLLHUP and POLLERR unasked, and limits a harvest to maxevents (the rest stays ready)', () => {
    const ep = new EpollFile(0);
    const [r, w] = makePipe(0);
    const [r2, w2] = makePipe(0);
    ep.ctl(abi.EPOLL_CTL_ADD, 4, w, 0, 1n);
    void r.unref();
    assert.deepEqual(ep.harvest(8), [{ events: abi.POLLERR, data: 1n }]);
    ep.ctl(abi.EPOLL_CTL_ADD, 5, r2, IN, 2n);
    w2.write(new Uint8Array(1));
    const first = ep.harvest(1);
    assert.equal(first.length, 1);
    const second = ep.harvest(8);
    assert.equal(second.length, 2);
    assert.deepEqual(second[1], first[0], 'a level-triggered item goes to the tail');
  });

  it('nests: an epoll instance is readable when an instance it watches has events', () => {
    const inner = new EpollFile(0);
    const outer = new EpollFile(0);
    const [r, w] = makePipe(0);
    inner.ctl(abi.EPOLL_CTL_ADD, 3, r, IN, 1n);
    outer.ctl(abi.EPOLL_CTL_ADD, 4, inner, IN, 2n);
    assert.deepEqual(outer.harvest(8), []);
    w.write(new Uint8Array(1));
    assert.deepEqual(outer.harvest(8), [{ events: IN, data: 2n }]);
  });
});

describe('kernel/files/eventfd', () => {
  it('counts, reads all at once, or one at a time in semaphore mode', () => {
    const e = new EventFd(5n, false, 0);
    assert.equal(val(e.read(8)), 5n);
    assert.equal(e.read(8), EAGAIN);
    const s = new EventFd(2n, true, 0);
    assert.equal(val(s.read(8)), 1n);
    assert.equal(val(s.read(8)), 1n);
    assert.equal(s.read(8), EAGAIN);
  });

  it('refuses short buffers and all-ones, and waits (EAGAIN) rather than overflow', () => {
    const e = new EventFd(0n, false, 0);
    assert.equal(e.read(4), EINVAL);
    assert.equal(e.write(new Uint8Array(4)), EINVAL);
    assert.equal(e.write(u64(0xffffffffffffffffn)), EINVAL);
    assert.equal(e.write(u64(0xfffffffffffffffen)), 8);
    assert.equal(e.pollEvents(), abi.POLLIN | abi.POLLRDNORM);
    assert.equal(e.write(u64(1n)), EAGAIN);
    const r = e.read(8);
    assert.ok(!isErrno(r));
    assert.equal(e.pollEvents(), abi.POLLOUT | abi.POLLWRNORM);
  });
});
