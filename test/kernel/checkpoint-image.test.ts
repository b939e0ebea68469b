// The checkpoint image's bytes (src/kernel/checkpoint-image.ts): what is
// written is read back exactly, and every kind of damage is named in one line
// before anything of the payload is parsed.

import * as assert from 'node:assert/strict';
import { decodeImage, encodeImage, HEADER_BYTES, IMAGE_VERSION, ImageError } from '../../src/kernel/checkpoint-image.js';
import type { FileRecord, FileSaveContext, KernelImage, PipeRecord } from '../../src/kernel/checkpoint-records.js';
import { makePipe, Pipe, PipeFile } from '../../src/kernel/files/pipe.js';
import { EpollFile } from '../../src/kernel/files/epoll.js';
import * as abi from '../../src/linux/abi.js';

const kernel: KernelImage = { nextPid: 7, cpuNum: 2, processes: [], addressSpaces: [], fdTables: [], files: [], tmpfs: [], pipes: [{ maxSlots: 16, data: 'aGk=', owner: { uid: 1, gid: 2 } }] };

function pages(n: number): Uint8Array {
  const p = new Uint8Array(n * 4096);
  for (let i = 0; i < p.length; i++) p[i] = (i * 7 + (i >> 12)) & 0xff;
  return p;
}

function fails(bytes: Uint8Array, re: RegExp): void {
  assert.throws(() => decodeImage(bytes), (e: unknown) => e instanceof ImageError && re.test(e.message) && !e.message.includes('\n'));
}

describe('checkpoint image format', () => {
  const good = encodeImage(kernel, pages(3));

  it('reads back the kernel state and the pages it was given', () => {
    const d = decodeImage(good);
    assert.deepEqual(d.kernel, kernel);
    assert.deepEqual(Buffer.from(d.pages), Buffer.from(pages(3)));
    assert.equal(good.readUInt32LE(8), IMAGE_VERSION);
  });

  it('compresses: zero-heavy pages take far less room than their size', () => {
    const img = encodeImage(kernel, new Uint8Array(64 * 4096));
    assert.ok(img.length < 8192, `${img.length} bytes`);
  });

  it('refuses a file that is not an image', () => fails(Buffer.from('hello world, not an image at all...'), /^not a tsvisor checkpoint image \(bad magic\)$/));
  it('refuses an image cut inside its header', () => fails(good.subarray(0, HEADER_BYTES - 1), /^truncated image: 55 bytes, shorter than its 56-byte header$/));
  it('refuses an image cut inside its payload', () => fails(good.subarray(0, good.length - 1), /^truncated image: \d+ bytes of payload, the header says \d+$/));
  it('refuses bytes after the payload', () => fails(Buffer.concat([good, Buffer.from([0])]), /^1 bytes of garbage after the image's payload$/));

  it('refuses another format version', () => {
    const b = Buffer.from(good);
    b.writeUInt32LE(IMAGE_VERSION + 1, 8);
    fails(b, new RegExp(`^image format version ${IMAGE_VERSION + 1}, but this tsvisor reads version ${IMAGE_VERSION}$`));
  });

  it('refuses any single flipped bit of the payload or the checksum', () => {
    for (const at of [24, 55, HEADER_BYTES, HEADER_BYTES + 1, Math.floor(good.length / 2), good.length - 1]) {
      const b = Buffer.from(good);
      b[at] ^= 0x04;
      fails(b, /^checksum mismatch: the image is corrupt$/);
    }
  });
});

describe('pipe save and restore', () => {
  it('keeps the unread bytes, in order, and the ring size', () => {
    const p = new Pipe({ uid: 5, gid: 6 });
    p.attach(true, true);
    p.resize(8 * 4096, true);
    const data = Buffer.alloc(10000, 0);
    for (let i = 0; i < data.length; i++) data[i] = i & 0xff;
    assert.equal(p.write(data, false), 10000);
    assert.equal((p.read(1000, false) as Uint8Array).length, 1000);
    const rec = p.save();
    assert.equal(rec.maxSlots, 8);
    const q = Pipe.restore(JSON.parse(JSON.stringify(rec)));
    q.attach(true, true);
    assert.equal(q.size, 9000);
    assert.equal(q.capacity, 8 * 4096);
    assert.deepEqual(Buffer.from(q.read(20000, false) as Uint8Array), data.subarray(1000));
    assert.equal(q.attr().uid, 5);
  });
});

describe('epoll save and restore', () => {
  it('keeps the interest list, the data, and the ready list (an edge-triggered item already reported stays quiet)', () => {
    const [r1, w1] = makePipe(0);
    const [r2, w2] = makePipe(0);
    const ep = new EpollFile(abi.O_CLOEXEC);
    assert.equal(ep.ctl(abi.EPOLL_CTL_ADD, 3, r1, abi.POLLIN | abi.EPOLLET, 41n), 0);
    assert.equal(ep.ctl(abi.EPOLL_CTL_ADD, 5, r2, abi.POLLIN, 42n), 0);
    w1.write(Buffer.from('a'));
    w2.write(Buffer.from('b'));
    // r1's edge is reported now, so it is off the ready list; r2 (level-triggered) stays on it.
    assert.deepEqual(ep.harvest(8), [{ events: abi.POLLIN, data: 41n }, { events: abi.POLLIN, data: 42n }]);

    const pipes: PipeRecord[] = [];
    const records: FileRecord[] = [];
    // Each object saved once, as checkpoint.ts's indexer does.
    const seen = new Map<object, number>();
    const once = (o: object, save: () => number) => seen.get(o) ?? seen.set(o, save()).get(o)!;
    const ctx: FileSaveContext = {
      pipe: (p) => once(p, () => pipes.push(p.save()) - 1),
      file: (f) => once(f, () => records.push(f.save(ctx)) - 1),
    };
    for (const f of [w1, w2]) ctx.file(f);
    const rec = ep.save(ctx);
    // The watched files were saved before the instance.
    assert.deepEqual(rec.kind === 'epoll' && rec.items.map((i) => i.file), [2, 3]);

    const restoredPipes = pipes.map((p) => Pipe.restore(p));
    const files = records.map((r) => PipeFile.restore(r as Extract<FileRecord, { kind: 'pipe' }>, restoredPipes[(r as { pipe: number }).pipe]));
    const ep2 = EpollFile.restore(rec as Extract<FileRecord, { kind: 'epoll' }>, files);
    assert.equal(ep2.flags & abi.O_CLOEXEC, abi.O_CLOEXEC);
    assert.deepEqual(ep2.harvest(8), [{ events: abi.POLLIN, data: 42n }]);
    // A new write to the edge-triggered pipe is a new edge.
    files[0].write(Buffer.from('c'));
    assert.deepEqual(ep2.harvest(8), [{ events: abi.POLLIN, data: 42n }, { events: abi.POLLIN, data: 41n }]);
  });
});
