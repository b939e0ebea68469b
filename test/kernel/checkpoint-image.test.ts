// The checkpoint image's bytes (src/kernel/checkpoint-image.ts): what is
// written is read back exactly, and every kind of damage is named in one line
// before anything of the payload is parsed.

import * as assert from 'node:assert/strict';
import { decodeImage, encodeImage, HEADER_BYTES, IMAGE_VERSION, ImageError } from '../../src/kernel/checkpoint-image.js';
import type { KernelImage } from '../../src/kernel/checkpoint-records.js';
import { Pipe } from '../../src/kernel/files/pipe.js';

const kernel: KernelImage = { nextPid: 7, cpuNum: 2, processes: [], addressSpaces: [], fdTables: [], files: [], pipes: [{ maxSlots: 16, data: 'aGk=', owner: { uid: 1, gid: 2 } }] };

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
