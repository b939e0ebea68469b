// Host stdio files: a write to a host pipe with no room waits, without
// blocking the kernel, on the sandbox's host poller, and ends when the room
// comes back or when the file is released.

import * as assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as abi from '../../../src/linux/abi.js';
import { EPIPE } from '../../../src/linux/errno.js';
import { closeFd, O_CLOEXEC, pipe2, pollWritable } from '../../../src/host/ffi.js';
import { HostStreamFile } from '../../../src/kernel/files/host-stream.js';

/** A host pipe whose write end is a HostStreamFile (owned: closed with it), filled until poll says it has no room for PIPE_BUF more. */
function fullPipe(): { file: HostStreamFile; readFd: number; filled: number } {
  const p = pipe2(O_CLOEXEC);
  if (typeof p === 'number') throw new Error(`pipe2: ${p}`);
  const file = new HostStreamFile(p[1], abi.O_WRONLY, 'stdout', true);
  let filled = 0;
  while (pollWritable(p[1], 0) === 1) {
    const r = file.write(new Uint8Array(abi.PIPE_BUF).fill(0x61));
    if (typeof r !== 'number') throw new Error('a write with room did not go out at once');
    filled += r;
  }
  return { file, readFd: p[0], filled };
}

function drain(fd: number, n: number): number {
  const buf = Buffer.alloc(n);
  return fs.readSync(fd, buf, 0, n, null);
}

const within = <T>(p: Promise<T>, ms: number, what: string) =>
  Promise.race([p, new Promise<never>((_, reject) => setTimeout(() => reject(new Error(`${what}: not settled in ${ms} ms`)), ms))]);

describe('HostStreamFile writes to a full host pipe', function () {
  this.timeout(20000);

  it('waits for room on the host poller and then finishes the write', async () => {
    const { file, readFd, filled } = fullPipe();
    try {
      const data = new Uint8Array(3 * abi.PIPE_BUF).fill(0x62);
      const r = file.write(data);
      assert.ok(r instanceof Promise, 'a write with no room waits');
      let settled = false;
      void r.then(() => (settled = true));
      await new Promise((res) => setTimeout(res, 100));
      assert.equal(settled, false, 'it waits while the pipe stays full');
      // A reader makes room: the rest goes out.
      let read = 0;
      while (read < filled) read += drain(readFd, filled - read);
      assert.equal(await within(r, 5000, 'the write after a drain'), data.length);
      let tail = 0;
      while (tail < data.length) tail += drain(readFd, data.length - tail);
    } finally {
      void file.unref();
      closeFd(readFd);
    }
  });

  it('ends a waiting write as the file is released (EPIPE: nothing written), not at a later poll', async () => {
    const { file, readFd } = fullPipe();
    try {
      const r = file.write(new Uint8Array(abi.PIPE_BUF).fill(0x63));
      assert.ok(r instanceof Promise);
      let result: unknown;
      void r.then((v) => (result = v));
      await new Promise((res) => setTimeout(res, 50));
      void file.unref();
      // Before any timer or poll of the event loop's next turn runs.
      await new Promise((res) => setImmediate(res));
      assert.equal(result, EPIPE);
    } finally {
      closeFd(readFd);
    }
  });
});
