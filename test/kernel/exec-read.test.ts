// execve's read of a program's image (src/kernel/exec.ts readWhole): the
// whole file, in reads of at most EXEC_READ_CHUNK bytes, the size the gofer
// serves inline (a larger read started the gofer's I/O worker thread on the
// first program's path: docs/STARTUP.md).

import { strict as assert } from 'node:assert';
import { EXEC_READ_CHUNK, readWhole } from '../../src/kernel/exec.js';
import { MemoryAccount } from '../../src/kernel/mm.js';
import { Tmpfs } from '../../src/kernel/filesystems/tmpfs.js';
import { Dentry, fdInodeOps } from '../../src/kernel/vfs/inode.js';
import { Errno, isErrno } from '../../src/linux/errno.js';
import * as abi from '../../src/linux/abi.js';
import type { File } from '../../src/kernel/files/file.js';

const CRED = { uid: 0, gid: 0, groups: [] };
/** The largest read the gofer serves inline (src/fs-gofer/io-pool.ts, its default inlineMax). */
const GOFER_INLINE_MAX = 64 * 1024;

function ok<T>(v: T | Errno): T {
  if (isErrno(v)) assert.fail(`unexpected ${v.name}`);
  return v;
}

describe('kernel/exec: reading the image', () => {
  it('reads in chunks the gofer serves inline', () => {
    assert.ok(EXEC_READ_CHUNK <= GOFER_INLINE_MAX);
  });

  for (const size of [0, 1, EXEC_READ_CHUNK, 420_840, 3 * EXEC_READ_CHUNK + 17]) {
    it(`reads a ${size}-byte file whole, no read larger than the gofer serves inline`, async () => {
      const fs = new Tmpfs(new MemoryAccount(64 << 20), { mode: 0o1777 });
      const file = ok(fs.root.create('prog', abi.O_RDWR, 0o755, CRED, '/prog') as File | Errno);
      const bytes = new Uint8Array(size).map((_, i) => (i * 7 + (i >> 9)) & 0xff);
      if (size > 0) assert.equal(ok(await file.pwrite(bytes, 0)), size);
      const inode = ok(fdInodeOps(file)?.fdInode?.() ?? Errno.of(22));
      const dentry = new Dentry('prog', new Dentry('', null, fs.root), inode);
      // Every File the image is read through records the lengths asked for.
      const asked: number[] = [];
      const open = inode.open.bind(inode);
      inode.open = async (flags: number, path: string) => {
        const f = await open(flags, path);
        if (isErrno(f)) return f;
        const pread = f.pread.bind(f);
        f.pread = (len: number, off: number) => {
          asked.push(len);
          return pread(len, off);
        };
        // The copy-free read (tmpfs has it, as host-fd files do) is held to the same bound.
        const readTo = f.readTo?.bind(f);
        if (readTo) {
          f.readTo = (len, off, put) => {
            asked.push(len);
            return readTo(len, off, put);
          };
        }
        return f;
      };
      // Without a size, with the exact one (getattr's), and with one too small (the file grew): the same bytes.
      for (const hint of [0, size, Math.floor(size / 3)]) {
        asked.length = 0;
        const got = ok(await readWhole(dentry, hint));
        assert.deepEqual(Buffer.from(got), Buffer.from(bytes), `size hint ${hint}`);
        assert.ok(asked.length > 0 && asked.every((n) => n <= GOFER_INLINE_MAX), `read lengths ${asked.join(', ')}`);
      }
      void file.unref();
    });
  }
});
