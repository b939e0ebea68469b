// A regular file on a fresh tmpfs, opened read-write with a dentry, for
// unit tests of what maps or caches files (the page cache, mappings loaded
// on touch); and `ok`, which unwraps a value or fails the test on an Errno.

import { strict as assert } from 'node:assert';
import type { File } from '../../src/kernel/files/file.js';
import { Tmpfs } from '../../src/kernel/filesystems/tmpfs.js';
import type { MemoryAccount } from '../../src/kernel/mm.js';
import { Dentry, fdInodeOps } from '../../src/kernel/vfs/inode.js';
import * as abi from '../../src/linux/abi.js';
import { Errno, isErrno } from '../../src/linux/errno.js';

/** `v`, or the test fails naming the error. */
export function ok<T>(v: T | Errno): T {
  if (isErrno(v)) assert.fail(`unexpected ${v.name}`);
  return v;
}

/** /f on a new tmpfs charged to `account`, open O_RDWR, with its dentry set. */
export function tmpfsFile(account: MemoryAccount): File {
  const fs = new Tmpfs(account, { mode: 0o1777 });
  const file = ok(fs.root.create('f', abi.O_RDWR, 0o644, { uid: 0, gid: 0, groups: [] }, '/f') as File | Errno);
  const root = new Dentry('', null, fs.root);
  file.dentry = new Dentry('f', root, ok(fdInodeOps(file)?.fdInode?.() ?? Errno.of(22)));
  return file;
}

/**
 * Close a file tmpfsFile made and unlink its name, so its pages (frames of
 * the pool, kernel/filesystems/tmpfs-file.ts) go back: a test that counts
 * the pool's frames in use sees none left by the file.
 */
export async function dropTmpfsFile(file: File): Promise<void> {
  const d = file.dentry;
  if (!d?.parent) assert.fail('not a file made by tmpfsFile');
  assert.equal(await d.parent.inode.unlink(d.name, false), 0);
  await file.unref();
}
