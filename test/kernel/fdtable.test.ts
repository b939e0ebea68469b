// The fd table's bulk closes (exit, execve): every fd is closed before the
// call returns, even when an earlier fd's release finishes later.

import * as assert from 'node:assert/strict';
import * as abi from '../../src/linux/abi.js';
import { EPIPE } from '../../src/linux/errno.js';
import { FdTable } from '../../src/kernel/fdtable.js';
import { File, type MaybeAsync } from '../../src/kernel/files/file.js';
import { makePipe } from '../../src/kernel/files/pipe.js';

/** A file whose release finishes later, as a host file's close does. */
class SlowFile extends File {
  released = false;
  constructor() {
    super(abi.O_RDWR, '/slow');
  }
  getattr(): never {
    throw new Error('not used');
  }
  protected override release(): MaybeAsync<void> {
    return new Promise((resolve) => setTimeout(() => {
      this.released = true;
      resolve();
    }, 20));
  }
}

describe('kernel/fdtable', () => {
  for (const how of ['closeAll', 'closeOnExec'] as const) {
    it(`${how} closes every fd at once: a pipe's read end behind a slow release is gone before the call returns`, async () => {
      const t = new FdTable(64);
      const slow = new SlowFile();
      const [r, w] = makePipe(abi.O_NONBLOCK);
      assert.equal(t.install(slow, true), 0);
      assert.equal(t.install(r, true), 1);
      const done = t[how]();
      // Not awaited yet: the slow file's release is still running, the pipe is already readerless.
      assert.equal(w.write(new Uint8Array(1)), EPIPE);
      assert.equal(slow.released, false);
      await done;
      assert.equal(slow.released, true);
      assert.deepEqual(t.fds(), []);
    });
  }
});
