// The system call layer's waits: blocking reads and writes over pipes,
// interruption by signals (and not by blocked ones), deadlines, SIGPIPE.

import * as assert from 'node:assert/strict';
import { performance } from 'node:perf_hooks';
import * as abi from '../../../src/linux/abi.js';
import { EAGAIN, EINTR, EPIPE, isErrno } from '../../../src/linux/errno.js';
import { blockingRead, blockingWrite, waitUntil, Wake } from '../../../src/kernel/files/blocking.js';
import { makePipe } from '../../../src/kernel/files/pipe.js';
import { FakeThread, settle } from './fake-thread.js';

const bytes = (n: number) => new Uint8Array(n).fill(0x41);

describe('kernel/files/blocking', () => {
  it('a blocking read waits for a write, then returns it', async () => {
    const [r, w] = makePipe(0);
    const t = new FakeThread();
    const res = blockingRead(t, r, () => r.read(100));
    assert.ok(res instanceof Promise);
    await settle();
    assert.ok(t.waiting);
    w.write(bytes(7));
    const d = await res;
    assert.ok(!isErrno(d));
    assert.equal(d.length, 7);
  });

  it('a nonblocking read returns EAGAIN at once', () => {
    const [r] = makePipe(abi.O_NONBLOCK);
    assert.equal(blockingRead(new FakeThread(), r, () => r.read(1)), EAGAIN);
  });

  it('the last writer closing wakes a blocked reader with end of file', async () => {
    const [r, w] = makePipe(0);
    const res = blockingRead(new FakeThread(), r, () => r.read(100));
    await settle();
    void w.unref();
    const d = await res;
    assert.ok(!isErrno(d));
    assert.equal(d.length, 0);
  });

  it('a deliverable signal ends the wait with EINTR; a blocked one does not', async () => {
    const [r, w] = makePipe(0);
    const t = new FakeThread();
    const res = blockingRead(t, r, () => r.read(100));
    let done = false;
    void (res as Promise<unknown>).then(() => (done = true));
    await settle();
    t.signal(false);
    await settle();
    assert.equal(done, false, 'a blocked signal leaves the read waiting');
    assert.ok(t.waiting, 'and the wait re-registered for the next one');
    t.signal(true);
    assert.equal(await res, EINTR);
    // The data written later is still there for the next read.
    w.write(bytes(1));
    assert.equal((r.read(10) as Uint8Array).length, 1);
  });

  it('a blocking write larger than the pipe waits between parts and returns the whole count', async () => {
    const [r, w] = makePipe(0);
    const t = new FakeThread();
    const res = blockingWrite(t, w, bytes(150000), (d) => w.write(d));
    assert.ok(res instanceof Promise);
    let got = 0;
    while (got < 150000) {
      await settle();
      const d = r.read(1 << 20);
      if (!isErrno(d)) got += d.length;
    }
    assert.equal(await res, 150000);
  });

  it('no lost wake-up when the reader drains the pipe between a partial write and the writer sleeping', async () => {
    // The reader runs whenever the writer's write wakes it (a microtask later), in 7000-byte reads.
    const [r, w] = makePipe(0);
    const reader = new FakeThread();
    let got = 0;
    const readLoop = (async () => {
      for (;;) {
        const d = await blockingRead(reader, r, () => r.read(7000));
        if (isErrno(d) || d.length === 0) return;
        got += d.length;
      }
    })();
    const writer = new FakeThread();
    let sent = 0;
    const writeLoop = (async () => {
      for (const len of [1, 100, 4096, 4097, 65536, 100000, 513, 100000, 100000]) {
        const n = await blockingWrite(writer, w, bytes(len), (d) => w.write(d));
        assert.equal(n, len);
        sent += len;
      }
      void w.unref();
      await readLoop;
    })();
    await Promise.race([writeLoop, settle(3000).then(() => assert.fail(`the pipeline stalled: ${sent} sent, ${got} read`))]);
    assert.equal(got, sent);
  });

  it('a signal during a partial blocking write returns the count written so far', async () => {
    const [, w] = makePipe(0);
    const t = new FakeThread();
    const res = blockingWrite(t, w, bytes(70000), (d) => w.write(d));
    await settle();
    t.signal();
    assert.equal(await res, 65536);
  });

  it('EPIPE raises SIGPIPE, also when the reader leaves during a blocked write', async () => {
    const [r, w] = makePipe(0);
    const t = new FakeThread();
    const res = blockingWrite(t, w, bytes(70000), (d) => w.write(d));
    await settle();
    void r.unref();
    assert.equal(await res, 65536);
    assert.equal(t.sigpipes, 1);
    assert.equal(blockingWrite(t, w, bytes(1), (d) => w.write(d)), EPIPE);
    assert.equal(t.sigpipes, 2);
  });

  it('waitUntil honours its deadline, and a thread killed while waiting ends the wait', async () => {
    const [r, w] = makePipe(0);
    const t = new FakeThread();
    const start = performance.now();
    const w1 = await waitUntil(t, [{ queue: r.waitQueue, mask: abi.POLLIN }], () => false, start + 30);
    assert.equal(w1, Wake.Timeout);
    assert.ok(performance.now() - start >= 29);
    const p = waitUntil(t, [{ queue: r.waitQueue, mask: abi.POLLIN }], () => false, null);
    t.dead = true;
    w.write(bytes(1));
    assert.equal(await p, Wake.Signal);
    assert.equal(r.waitQueue.waiters, 0, 'no subscription left behind');
  });
});
