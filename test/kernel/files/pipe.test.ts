// Pipes and FIFOs: Linux's page-ring capacity, readiness, EOF/EPIPE, packet
// mode, resizing, and fifo_open's waits.

import * as assert from 'node:assert/strict';
import * as abi from '../../../src/linux/abi.js';
import { EAGAIN, EBUSY, EINTR, ENXIO, EPERM, EPIPE, isErrno } from '../../../src/linux/errno.js';
import { Fifo, makePipe, PipeFile } from '../../../src/kernel/files/pipe.js';
import { FakeThread, settle } from './fake-thread.js';

const bytes = (n: number, v = 0x61) => new Uint8Array(n).fill(v);

/** Write `chunk`-byte blocks until EAGAIN; the total accepted. */
function fill(w: PipeFile, chunk: number): number {
  let total = 0;
  for (;;) {
    const r = w.write(bytes(chunk));
    if (r === EAGAIN) return total;
    assert.ok(!isErrno(r));
    total += r;
  }
}

function drain(r: PipeFile): number {
  let total = 0;
  for (;;) {
    const d = r.read(1 << 20);
    if (isErrno(d)) return total;
    if (d.length === 0) return total;
    total += d.length;
  }
}

describe('kernel/files/pipe', () => {
  it('holds 16 pages: 1000-byte writes fit 4 a page (64000), 4096-byte and 1-byte writes fill 65536', () => {
    const [r, w] = makePipe(abi.O_NONBLOCK);
    assert.equal(fill(w, 1000), 64000);
    // A byte still merges into the last page.
    assert.equal(w.write(bytes(1)), 1);
    assert.equal(r.readableBytes(), 64001);
    assert.equal(drain(r), 64001);
    assert.equal(fill(w, 4096), 65536);
    assert.equal(drain(r), 65536);
    assert.equal(fill(w, 1), 65536);
  });

  it('a write larger than the room takes what fits; one of at most PIPE_BUF is all or nothing', () => {
    const [r, w] = makePipe(abi.O_NONBLOCK);
    assert.equal(w.write(bytes(100000)), 65536);
    assert.equal((r.read(4000) as Uint8Array).length, 4000);
    // The first page has 96 bytes left, a free slot appeared only after a full page was read.
    assert.equal(w.write(bytes(200)), EAGAIN);
    assert.equal((r.read(96) as Uint8Array).length, 96);
    assert.equal(w.write(bytes(4096)), 4096);
    assert.equal(w.write(bytes(1)), EAGAIN);
  });

  it('reads return what is there, in order, across pages', () => {
    const [r, w] = makePipe(0);
    w.write(new TextEncoder().encode('hello '));
    w.write(bytes(5000, 0x62));
    const d = r.read(10);
    assert.ok(!isErrno(d));
    assert.equal(new TextDecoder().decode(d), 'hello bbbb');
    const rest = r.read(1 << 20);
    assert.ok(!isErrno(rest));
    assert.equal(rest.length, 4996);
  });

  it('reports readiness as pipe_poll does', () => {
    const [r, w] = makePipe(0);
    assert.equal(r.pollEvents(), 0);
    assert.equal(w.pollEvents(), abi.POLLOUT | abi.POLLWRNORM);
    w.write(bytes(1));
    assert.equal(r.pollEvents(), abi.POLLIN | abi.POLLRDNORM);
    void w.unref();
    assert.equal(r.pollEvents(), abi.POLLIN | abi.POLLRDNORM | abi.POLLHUP);
    drain(r);
    assert.equal(r.pollEvents(), abi.POLLHUP);
    const [r2, w2] = makePipe(0);
    void r2.unref();
    assert.equal(w2.pollEvents(), abi.POLLOUT | abi.POLLWRNORM | abi.POLLERR);
  });

  it('end of file once every writer is gone; EPIPE once every reader is', () => {
    const [r, w] = makePipe(0);
    assert.equal(r.read(1), EAGAIN);
    w.write(bytes(3));
    void w.unref();
    assert.equal((r.read(10) as Uint8Array).length, 3);
    assert.equal((r.read(10) as Uint8Array).length, 0);
    const [r2, w2] = makePipe(0);
    void r2.unref();
    assert.equal(w2.write(bytes(1)), EPIPE);
  });

  it('packet mode (O_DIRECT): one write per read, the rest of a packet discarded', () => {
    const [r, w] = makePipe(abi.O_DIRECT | abi.O_NONBLOCK);
    w.write(bytes(3));
    w.write(bytes(4));
    w.write(bytes(5000));
    assert.equal((r.read(100) as Uint8Array).length, 3);
    assert.equal((r.read(2) as Uint8Array).length, 2);
    assert.equal((r.read(10000) as Uint8Array).length, 4096);
    assert.equal((r.read(10000) as Uint8Array).length, 904);
    assert.equal(r.read(1), EAGAIN);
  });

  it('F_SETPIPE_SZ rounds up to a power of two of pages, refuses to drop data, caps unprivileged growth', () => {
    const [r, w] = makePipe(0);
    assert.equal(w.pipe.capacity, 65536);
    assert.equal(w.pipe.resize(5000, false), 8192);
    assert.equal(w.pipe.resize(0, false), 4096);
    w.pipe.resize(8192, false);
    w.write(bytes(2));
    w.write(bytes(4096));
    assert.equal(w.pipe.resize(4096, false), EBUSY);
    assert.equal(w.pipe.resize(2 << 20, false), EPERM);
    assert.equal(w.pipe.resize(2 << 20, true), 2 << 20);
    assert.equal(r.readableBytes(), 4098);
  });

  it('notifies readers on every write and writers when a full ring frees a page', () => {
    const [r, w] = makePipe(abi.O_NONBLOCK);
    const seen: number[] = [];
    const unsub = w.waitQueue.subscribe(abi.POLLIN | abi.POLLOUT, (ev) => seen.push(ev));
    w.write(bytes(1));
    w.write(bytes(1));
    assert.equal(seen.filter((e) => e & abi.POLLIN).length, 2);
    seen.length = 0;
    r.read(2);
    assert.equal(seen.length, 0, 'not full before: no writer wake-up');
    fill(w, 4096);
    r.read(4096);
    assert.ok(seen.some((e) => e & abi.POLLOUT));
    unsub();
  });
});

describe('kernel/files/pipe: FIFO opens', () => {
  it('a nonblocking read open succeeds alone; a nonblocking write open without reader is ENXIO', () => {
    const fifo = new Fifo();
    assert.equal(fifo.open(abi.O_WRONLY | abi.O_NONBLOCK, '/f'), ENXIO);
    const r = fifo.open(abi.O_RDONLY | abi.O_NONBLOCK, '/f') as PipeFile;
    assert.ok(r instanceof PipeFile);
    // No writer yet: no POLLHUP until one has come and gone.
    assert.equal(r.pollEvents(), 0);
    const w = fifo.open(abi.O_WRONLY | abi.O_NONBLOCK, '/f') as PipeFile;
    assert.ok(w instanceof PipeFile);
    void w.unref();
    assert.equal(r.pollEvents(), abi.POLLHUP);
  });

  it('a blocking read open waits for a writer, and a write open for a reader', async () => {
    const fifo = new Fifo();
    const t = new FakeThread();
    const pending = fifo.open(abi.O_RDONLY, '/f', t);
    assert.ok(pending instanceof Promise);
    let opened = false;
    void pending.then(() => (opened = true));
    await settle();
    assert.equal(opened, false);
    const w = fifo.open(abi.O_WRONLY, '/f', t);
    assert.ok(w instanceof PipeFile, 'the reader is there: no wait');
    const r = await pending;
    assert.ok(r instanceof PipeFile);
    w.write(bytes(3));
    assert.equal((r.read(10) as Uint8Array).length, 3);
  });

  it('O_RDWR never waits; a signal cuts a waiting open short (EINTR)', async () => {
    const fifo = new Fifo();
    assert.ok(fifo.open(abi.O_RDWR, '/f') instanceof PipeFile);
    const other = new Fifo();
    const t = new FakeThread();
    const pending = other.open(abi.O_WRONLY, '/g', t);
    await settle();
    t.signal();
    assert.equal(await pending, EINTR);
  });

  it('data goes with the last close; a new open finds an empty pipe', () => {
    const fifo = new Fifo();
    const rw = fifo.open(abi.O_RDWR, '/f') as PipeFile;
    rw.write(bytes(10));
    void rw.unref();
    const r = fifo.open(abi.O_RDONLY | abi.O_NONBLOCK, '/f') as PipeFile;
    assert.equal(r.readableBytes(), 0);
  });
});
