import { strict as assert } from 'node:assert';
import { Tmpfs, parseTmpfsOptions } from '../../../src/kernel/filesystems/tmpfs.js';
import { TmpDir } from '../../../src/kernel/filesystems/tmpfs-dir.js';
import type { TmpInode } from '../../../src/kernel/filesystems/tmpfs-inode.js';
import { MemoryAccount } from '../../../src/kernel/mm.js';
import { FrameAllocator } from '../../../src/kernel/frames.js';
import { EEXIST, EISDIR, ENOENT, ENOSPC, ENOTDIR, ENOTEMPTY, ENXIO, EPERM, EROFS, EXDEV, Errno, isErrno } from '../../../src/linux/errno.js';
import * as abi from '../../../src/linux/abi.js';
import type { File } from '../../../src/kernel/files/file.js';
import type { Inode } from '../../../src/kernel/vfs/inode.js';
import type { Attr, DirEntry } from '../../../src/backend/backend.js';

const ROOT = { uid: 0, gid: 0 };
const CRED = { uid: 0, gid: 0, groups: [] };
const MiB = 1 << 20;

function ok<T>(v: T | Errno): T {
  if (isErrno(v)) assert.fail(`unexpected ${v.name}`);
  return v;
}

async function attr(i: Inode): Promise<Attr> {
  return ok(await i.getattr());
}

function child(dir: Inode, name: string): Inode {
  return ok(dir.lookup(name) as Inode | Errno);
}

function create(dir: TmpDir, name: string, flags = abi.O_RDWR): File {
  return ok(dir.create(name, flags, 0o644, CRED, '/' + name) as File | Errno);
}

async function listAll(f: File, batch = 4096): Promise<DirEntry[]> {
  const out: DirEntry[] = [];
  for (;;) {
    const es = ok(await f.readdir(batch));
    if (es.length === 0) return out;
    out.push(...es);
    f.seekdir(es[es.length - 1].next);
  }
}

describe('kernel/fs/tmpfs', () => {
  let account: MemoryAccount;
  let fs: Tmpfs;
  let root: TmpDir;

  beforeEach(() => {
    account = new MemoryAccount(64 * MiB);
    fs = new Tmpfs(account, { mode: 0o1777 });
    root = fs.root;
  });

  describe('mount options', () => {
    it('parses size (suffixes and %), nr_inodes, mode, uid, gid, ro; ignores VFS flags', () => {
      assert.deepEqual(parseTmpfsOptions(['nosuid', 'nodev', 'size=64k', 'mode=755', 'uid=5', 'gid=6', 'ro'], 0), { size: 65536, mode: 0o755, uid: 5, gid: 6, readonly: true });
      assert.equal(parseTmpfsOptions(['size=50%'], 1000).size, 500);
      assert.equal(parseTmpfsOptions(['size=2m'], 0).size, 2 * MiB);
      assert.equal(parseTmpfsOptions(['nr_inodes=10'], 0).nrInodes, 10);
    });

    it('refuses unknown or malformed options with an Error naming them', () => {
      assert.throws(() => parseTmpfsOptions(['size=lots'], 0), /size=lots/);
      assert.throws(() => parseTmpfsOptions(['mode=999'], 0), /mode=999/);
      assert.throws(() => parseTmpfsOptions(['bogus'], 0), /bogus/);
    });

    it('gives the root the mode, owner and a device number of its own', async () => {
      const other = new Tmpfs(account, { mode: 0o700, uid: 7, gid: 8 });
      const a = await attr(other.root);
      assert.equal(a.mode, abi.S_IFDIR | 0o700);
      assert.equal(a.uid, 7);
      assert.equal(a.gid, 8);
      assert.notEqual(a.dev, (await attr(root)).dev);
    });
  });

  describe('files', () => {
    it('writes, reads back, and grows sparsely: holes read as zeros and cost no pages', async () => {
      const f = create(root, 'f');
      assert.equal(await f.pwrite(Buffer.from('hello'), 0), 5);
      assert.equal(await f.pwrite(Buffer.from('end'), 10 * MiB), 3);
      const a = await attr(child(root, 'f'));
      assert.equal(a.size, 10 * MiB + 3);
      assert.equal(a.blocks, 2 * 8, 'two pages');
      assert.equal(account.used, 2 * 4096);
      assert.deepEqual(Buffer.from(ok(await f.pread(8, 0))), Buffer.from('hello\0\0\0'));
      assert.deepEqual(Buffer.from(ok(await f.pread(4, 5 * MiB))), Buffer.alloc(4));
      assert.equal(await f.lseek(0, abi.SEEK_HOLE), 4096);
      assert.equal(await f.lseek(4096, abi.SEEK_DATA), 10 * MiB);
      assert.equal(await f.lseek(20 * MiB, abi.SEEK_DATA), ENXIO);
    });

    it('O_APPEND writes at the end; read advances the position', async () => {
      const f = create(root, 'log');
      await f.write(Buffer.from('abc'));
      const g = ok(await child(root, 'log').open(abi.O_RDWR | abi.O_APPEND, '/log'));
      await g.lseek(0, abi.SEEK_SET);
      assert.equal(await g.write(Buffer.from('de')), 2);
      assert.equal(await g.lseek(0, abi.SEEK_CUR), 5);
      await f.lseek(0, abi.SEEK_SET);
      assert.equal(Buffer.from(ok(await f.read(10))).toString(), 'abcde');
    });

    it('truncate frees pages; growing again reads zeros past the old end', async () => {
      const f = create(root, 't');
      await f.pwrite(Buffer.alloc(3 * 4096, 0x61), 0);
      assert.equal(account.used, 3 * 4096);
      ok(await child(root, 't').setattr({ size: 10 }));
      assert.equal(account.used, 4096);
      ok(await child(root, 't').setattr({ size: 20 }));
      assert.deepEqual(Buffer.from(ok(await f.pread(20, 0))), Buffer.concat([Buffer.alloc(10, 0x61), Buffer.alloc(10)]));
    });

    it('readTo and writeFrom (the copy-free read/write): page by page, holes as zeros, positions and O_APPEND as read and write', () => {
      const f = create(root, 'z');
      const src = Buffer.alloc(2 * 4096 + 100);
      for (let i = 0; i < src.length; i++) src[i] = (i * 7) & 0xff;
      // writeFrom at an offset that starts mid-page: the pieces given to fill are the file's page parts, in order.
      const pieces: [number, number][] = [];
      assert.equal(f.writeFrom!(src.length, 4000, (dst, pos) => {
        pieces.push([pos, dst.length]);
        dst.set(src.subarray(pos, pos + dst.length));
      }), src.length);
      assert.deepEqual(pieces, [[0, 96], [96, 4096], [4192, 4096], [8288, 4]]);
      const out = Buffer.alloc(src.length + 4000 + 50, 0xee);
      const n = f.readTo!(out.length, 0, (bytes, pos) => out.set(bytes, pos));
      assert.equal(n, 4000 + src.length, 'up to the end of the file');
      assert.deepEqual(out.subarray(0, 4000), Buffer.alloc(4000), 'the hole reads as zeros');
      assert.deepEqual(out.subarray(4000, n), src);
      assert.equal(f.readTo!(10, n, () => assert.fail('nothing past the end')), 0);
      // null offset: at the file position, which advances; O_APPEND writes at the end whatever the offset.
      const g = ok(child(root, 'z').open(abi.O_RDWR | abi.O_APPEND, '/z') as File | Errno);
      assert.equal(g.writeFrom!(3, 0, (dst) => dst.set(Buffer.from('xyz'))), 3);
      assert.equal(g.writeFrom!(2, null, (dst) => dst.set(Buffer.from('!!'))), 2);
      const size = 4000 + src.length + 5;
      assert.equal(g.lseek(0, abi.SEEK_CUR), size);
      const tail = Buffer.alloc(5);
      assert.equal(f.readTo!(5, size - 5, (bytes, pos) => tail.set(bytes, pos)), 5);
      assert.equal(tail.toString(), 'xyz!!');
      assert.equal(f.lseek(size - 2, abi.SEEK_SET), size - 2);
      const last = Buffer.alloc(2);
      assert.equal(f.readTo!(10, null, (bytes, pos) => last.set(bytes, pos)), 2);
      assert.equal(last.toString(), '!!');
      assert.equal(f.lseek(0, abi.SEEK_CUR), size);
    });

    it('O_TRUNC empties a file on open for writing', async () => {
      const f = create(root, 'x');
      await f.write(Buffer.from('data'));
      ok(await child(root, 'x').open(abi.O_WRONLY | abi.O_TRUNC, '/x'));
      assert.equal((await attr(child(root, 'x'))).size, 0);
    });
  });

  describe('space', () => {
    it('size= bounds file data: ENOSPC, or a short write when some fitted', async () => {
      const small = new Tmpfs(account, { size: 2 * 4096 });
      const f = ok(small.root.create('f', abi.O_RDWR, 0o644, CRED, '/f') as File | Errno);
      assert.equal(await f.pwrite(Buffer.alloc(3 * 4096), 0), 2 * 4096);
      assert.equal(await f.pwrite(Buffer.alloc(1), 5 * 4096), ENOSPC);
      const s = ok(await small.root.statfs());
      assert.equal(s.blocks, 2);
      assert.equal(s.bfree, 0);
      assert.equal(s.type, abi.TMPFS_MAGIC);
    });

    it('the sandbox memory account (--total-memory) bounds every tmpfs together', async () => {
      const tight = new MemoryAccount(3 * 4096);
      const a = new Tmpfs(tight);
      const b = new Tmpfs(tight);
      const fa = ok(a.root.create('f', abi.O_RDWR, 0o644, CRED, '/f') as File | Errno);
      const fb = ok(b.root.create('f', abi.O_RDWR, 0o644, CRED, '/f') as File | Errno);
      assert.equal(await fa.pwrite(Buffer.alloc(2 * 4096), 0), 2 * 4096);
      assert.equal(await fb.pwrite(Buffer.alloc(2 * 4096), 0), 4096);
      assert.equal(await fb.pwrite(Buffer.alloc(1), 8192), ENOSPC);
      ok(await a.root.unlink('f', false));
      assert.equal(tight.used, 3 * 4096, 'still open: pages kept');
      await fa.unref();
      assert.equal(tight.used, 4096, 'last name and last open file gone: pages back');
    });

    it('a huge sparse file answers SEEK_DATA/SEEK_HOLE and a too-large fallocate at once', async () => {
      const f = create(root, 'huge');
      assert.equal(await f.pwrite(Buffer.from('x'), 2 ** 40), 1);
      assert.equal(await f.lseek(0, abi.SEEK_DATA), 2 ** 40);
      assert.equal(await f.lseek(0, abi.SEEK_HOLE), 0);
      assert.equal(await f.lseek(2 ** 40, abi.SEEK_HOLE), 2 ** 40 + 1);
      const t0 = Date.now();
      assert.equal(await (f as unknown as { fdAllocate(o: number, l: number): 0 | Errno }).fdAllocate(0, 2 ** 40), ENOSPC);
      assert.ok(Date.now() - t0 < 1000);
      assert.equal(account.used, 4096);
    });

    it('file pages are frames of the pool, charged once: a truncate and the last close of an unlinked file give them back, zeroed for the next file', async () => {
      const alloc = FrameAllocator.local();
      const before = alloc.inUse;
      const setSize = (file: File, size: number) => (file as unknown as { fdSetattr(set: { size: number }): 0 | Errno }).fdSetattr({ size });
      const f = create(root, 'paged');
      assert.equal(await f.pwrite(Buffer.alloc(3 * 4096, 0x5a), 0), 3 * 4096);
      assert.equal(alloc.inUse, before + 3, 'one frame per page written');
      assert.equal(account.used, 3 * 4096, 'charged by the mount only, not again by the allocator');
      ok(setSize(f, 4096 + 10));
      assert.equal(alloc.inUse, before + 2, 'the page past the new size is freed');
      assert.equal(account.used, 2 * 4096);
      assert.deepEqual([...ok(await f.pread(4, 4096 + 8))], [0x5a, 0x5a], 'the end is the new size');
      ok(setSize(f, 3 * 4096));
      assert.ok(ok(await f.pread(4096, 4096 + 10)).every((b) => b === 0), 'the kept page tail reads as zeros once the file grows');
      ok(await root.unlink('paged', false));
      assert.equal(alloc.inUse, before + 2, 'open: the pages stay');
      await f.unref();
      assert.equal(alloc.inUse, before, 'last name and open file gone');
      assert.equal(account.used, 0);
      const g = create(root, 'next');
      assert.equal(await g.pwrite(Buffer.from('y'), 4096 + 100), 1);
      assert.equal(alloc.inUse, before + 1, 'a recycled frame');
      const page = ok(await g.pread(8192, 0));
      assert.equal(page.length, 4096 + 101);
      assert.ok(page.every((b, i) => b === (i === 4096 + 100 ? 0x79 : 0)), 'a hole, then a recycled page holding nothing of the old file');
      ok(await root.unlink('next', false));
      await g.unref();
      assert.equal(alloc.inUse, before);
    });

    it('nr_inodes bounds the number of files', async () => {
      const few = new Tmpfs(account, { nrInodes: 2 });
      ok(few.root.mkdir('a', 0o755, ROOT));
      assert.equal(few.root.mkdir('b', 0o755, ROOT), ENOSPC);
    });
  });

  describe('directories', () => {
    it('mkdir, EEXIST, nlink counts subdirectories, rmdir ENOTEMPTY then 0', async () => {
      ok(root.mkdir('d', 0o755, ROOT));
      assert.equal(root.mkdir('d', 0o755, ROOT), EEXIST);
      assert.equal((await attr(root)).nlink, 3);
      const d = child(root, 'd') as TmpDir;
      ok(d.mkdir('sub', 0o700, { uid: 5, gid: 6 }));
      const sub = await attr(child(d, 'sub'));
      assert.equal(sub.mode, abi.S_IFDIR | 0o700);
      assert.equal(sub.uid, 5);
      assert.equal(root.unlink('d', true), ENOTEMPTY);
      assert.equal(root.unlink('d', false), EISDIR);
      ok(d.unlink('sub', true));
      ok(root.unlink('d', true));
      assert.equal((await attr(root)).nlink, 2);
      assert.equal(root.lookup('d'), ENOENT);
    });

    it('rmdir of a file is ENOTDIR; unlink of a missing name ENOENT', () => {
      create(root, 'f');
      assert.equal(root.unlink('f', true), ENOTDIR);
      assert.equal(root.unlink('nope', false), ENOENT);
    });

    it('lists ".", ".." and every entry once across small batches', async () => {
      for (let i = 0; i < 40; i++) create(root, `f${i}`);
      const names = (await listAll(ok(root.open(abi.O_RDONLY, '/')), 64)).map((e) => e.name);
      assert.equal(names.length, 42);
      assert.deepEqual(names.slice(0, 2), ['.', '..']);
      assert.equal(new Set(names).size, 42);
    });

    it('a listing survives removals and additions part way: no entry twice, no survivor missed', async () => {
      for (let i = 0; i < 30; i++) create(root, `f${i}`);
      const dir = ok(root.open(abi.O_RDONLY, '/'));
      const first = ok(await dir.readdir(200));
      dir.seekdir(first[first.length - 1].next);
      const seen = new Set(first.map((e) => e.name));
      for (let i = 1; i < 30; i += 2) root.unlink(`f${i}`, false);
      for (let i = 0; i < 10; i++) create(root, `n${i}`);
      const rest = await listAll(dir, 200);
      for (const e of rest) {
        assert.ok(!seen.has(e.name), `${e.name} twice`);
        seen.add(e.name);
      }
      for (let i = 0; i < 30; i += 2) assert.ok(seen.has(`f${i}`), `f${i} missed`);
      for (let i = 0; i < 10; i++) assert.ok(seen.has(`n${i}`), `n${i} added after the cursor shows`);
      for (const e of rest) assert.ok(!/^f\d*[13579]$/.test(e.name), `${e.name} was removed before it was reached`);
    });
  });

  describe('listings resumed where the last one stopped', () => {
    /** Entries of one getdents-sized batch, moving the file's cookie past them. */
    async function batch(f: File, bytes: number): Promise<string[]> {
      const es = ok(await f.readdir(bytes));
      if (es.length > 0) f.seekdir(es[es.length - 1].next);
      return es.map((e) => e.name);
    }

    it('the entry held back at a batch boundary is dropped if unlinked, shown once if made again', async () => {
      for (let i = 0; i < 20; i++) create(root, `f${i}`);
      const dir = ok(root.open(abi.O_RDONLY, '/'));
      const first = await batch(dir, 24 * 6); // ".", "..", f0..f3: f4 is the one that did not fit
      assert.deepEqual(first, ['.', '..', 'f0', 'f1', 'f2', 'f3']);
      root.unlink('f4', false);
      root.unlink('f5', false);
      create(root, 'f5'); // the same name again: a new entry, at the end
      const rest: string[] = [];
      for (let b = await batch(dir, 24 * 3); b.length > 0; b = await batch(dir, 24 * 3)) rest.push(...b);
      assert.deepEqual(rest, [...Array.from({ length: 14 }, (_, i) => `f${i + 6}`), 'f5']);
    });

    it('a rename part way gives the entry a new place at the end, with its inode and type; an exchange swaps them', async () => {
      for (let i = 0; i < 6; i++) create(root, `f${i}`);
      ok(root.mkdir('d', 0o755, ROOT));
      const ino = (name: string) => (root.lookup(name) as TmpInode).ino;
      const f0 = ino('f0');
      const dir = ok(root.open(abi.O_RDONLY, '/'));
      assert.deepEqual(await batch(dir, 24 * 4), ['.', '..', 'f0', 'f1']);
      assert.equal(root.rename('f0', root, 'g0', 0), 0); // already listed: shows again under its new name, as Linux's stable offsets do
      assert.equal(root.rename('f3', root, 'g3', 0), 0); // not yet listed: shows once, at the end
      assert.equal(root.rename('f4', root, 'd', abi.RENAME_EXCHANGE), 0);
      const rest = ok(await dir.readdir(1 << 16));
      assert.deepEqual(rest.map((e) => e.name), ['f2', 'f5', 'g0', 'g3', 'd', 'f4']);
      const by = new Map(rest.map((e) => [e.name, e]));
      assert.equal(by.get('g0')!.ino, f0);
      assert.equal(by.get('g0')!.type, abi.DT_REG);
      assert.equal(by.get('d')!.type, abi.DT_REG, 'd names the file now');
      assert.equal(by.get('f4')!.type, abi.DT_DIR, 'f4 names the directory now');
      for (const e of rest) assert.equal(e.ino, ino(e.name), e.name);
      // Cookies keep growing in listing order, and a listing from a cookie resumes after it.
      assert.ok(rest.every((e, i) => i === 0 || e.next > rest[i - 1].next));
      dir.seekdir(rest[2].next);
      assert.deepEqual(ok(await dir.readdir(1 << 16)).map((e) => e.name), ['g3', 'd', 'f4']);
    });

    it('two open files listing one directory in turns, and a rewind, each see every entry once', async () => {
      for (let i = 0; i < 50; i++) create(root, `e${i}`);
      const a = ok(root.open(abi.O_RDONLY, '/'));
      const b = ok(root.open(abi.O_RDONLY, '/'));
      const seenA: string[] = [], seenB: string[] = [];
      for (;;) {
        const x = await batch(a, 24 * 7);
        const y = await batch(b, 24 * 5);
        seenA.push(...x);
        seenB.push(...y);
        if (x.length === 0 && y.length === 0) break;
      }
      const want = ['.', '..', ...Array.from({ length: 50 }, (_, i) => `e${i}`)];
      assert.deepEqual(seenA, want);
      assert.deepEqual(seenB, want);
      a.seekdir(0);
      assert.deepEqual(await listAll(a, 24 * 9), (await listAll(ok(root.open(abi.O_RDONLY, '/')), 1 << 16)));
    });
  });

  describe('links and renames', () => {
    it('hard links share an inode and count names; EXDEV across filesystems, EPERM for directories', async () => {
      const f = create(root, 'f');
      await f.write(Buffer.from('shared'));
      ok(root.link('g', child(root, 'f')));
      assert.equal((await attr(child(root, 'g'))).nlink, 2);
      ok(root.unlink('f', false));
      assert.equal((await attr(child(root, 'g'))).nlink, 1);
      const other = new Tmpfs(account);
      assert.equal(other.root.link('x', child(root, 'g')), EXDEV);
      ok(root.mkdir('d', 0o755, ROOT));
      assert.equal(root.link('d2', child(root, 'd')), EPERM);
    });

    it('symlinks keep their target as text', async () => {
      ok(root.symlink('l', '../some/where', ROOT));
      const l = child(root, 'l');
      assert.equal(l.type, abi.S_IFLNK);
      assert.equal(l.readlink(), '../some/where');
      assert.equal((await attr(l)).size, 13);
    });

    it('rename replaces, refuses NOREPLACE over a name, exchanges, and keeps directory counts right', async () => {
      create(root, 'a');
      create(root, 'b');
      ok(root.mkdir('d', 0o755, ROOT));
      ok(root.rename('a', root, 'b', 0));
      assert.equal(root.lookup('a'), ENOENT);
      create(root, 'a');
      assert.equal(root.rename('a', root, 'b', abi.RENAME_NOREPLACE), EEXIST);
      const d = child(root, 'd') as TmpDir;
      ok(root.rename('a', d, 'a', 0));
      ok(root.rename('b', d, 'a', abi.RENAME_EXCHANGE));
      assert.equal(root.lookup('b') instanceof Errno, false);
      ok(d.mkdir('sub', 0o755, ROOT));
      ok(d.rename('sub', root, 'sub', 0));
      assert.equal((await attr(d)).nlink, 2);
      assert.equal((await attr(root)).nlink, 4);
      assert.equal(root.rename('sub', root, 'b', 0), ENOTDIR);
      assert.equal(root.rename('b', root, 'sub', 0), EISDIR);
      assert.equal(root.rename('nope', root, 'x', 0), ENOENT);
      assert.equal(root.rename('b', new Tmpfs(account).root, 'x', 0), EXDEV);
    });
  });

  describe('special files', () => {
    it('mknod makes FIFOs and sockets, refuses devices (EPERM)', async () => {
      ok(root.mknod('p', abi.S_IFIFO | 0o600, 0n, ROOT));
      assert.equal((await attr(child(root, 'p'))).mode, abi.S_IFIFO | 0o600);
      ok(root.mknod('s', abi.S_IFSOCK | 0o600, 0n, ROOT));
      assert.equal(await child(root, 's').open(abi.O_RDONLY, '/s'), ENXIO);
      assert.equal(root.mknod('c', abi.S_IFCHR | 0o600, 0x103n, ROOT), EPERM);
    });

    it('a FIFO joins its readers and writers through one pipe, and fstat shows the FIFO', async () => {
      ok(root.mknod('p', abi.S_IFIFO | 0o644, 0n, ROOT));
      const p = child(root, 'p');
      assert.equal(await p.open(abi.O_WRONLY | abi.O_NONBLOCK, '/p'), ENXIO);
      const r = ok(await p.open(abi.O_RDONLY | abi.O_NONBLOCK, '/p'));
      const w = ok(await p.open(abi.O_WRONLY | abi.O_NONBLOCK, '/p'));
      assert.equal(await w.write(Buffer.from('ping')), 4);
      assert.equal(Buffer.from(ok(await r.read(16))).toString(), 'ping');
      assert.equal((await w.getattr() as Attr).mode, abi.S_IFIFO | 0o644);
    });

    it('O_TMPFILE: an unnamed file (nlink 0) whose pages go when it closes', async () => {
      const t = ok(root.tmpfile(abi.O_RDWR | abi.O_TMPFILE, 0o600, ROOT, '/#tmp') as File | Errno);
      await t.write(Buffer.alloc(4096));
      assert.equal((ok(await t.getattr()) as Attr).nlink, 0);
      assert.equal(account.used, 4096);
      await t.unref();
      assert.equal(account.used, 0);
    });
  });

  describe('attributes and read-only mounts', () => {
    it('setattr changes mode, owner and times with nanoseconds', async () => {
      create(root, 'f');
      const f = child(root, 'f');
      ok(await f.setattr({ mode: 0o4711, uid: 3, gid: 4, atime: [10, 20], mtime: [30, 40] }));
      const a = await attr(f);
      assert.equal(a.mode, abi.S_IFREG | 0o4711);
      assert.deepEqual([a.uid, a.gid, a.atimeSec, a.atimeNsec, a.mtimeSec, a.mtimeNsec], [3, 4, 10, 20, 30, 40]);
    });

    it('a read-only tmpfs refuses every change with EROFS', async () => {
      const ro = new Tmpfs(account, { readonly: true });
      assert.equal(ro.root.mkdir('d', 0o755, ROOT), EROFS);
      assert.equal(ro.root.create('f', abi.O_RDWR, 0o644, CRED, '/f'), EROFS);
      assert.equal(ro.root.symlink('l', 'x', ROOT), EROFS);
      assert.equal(await ro.root.setattr({ mode: 0o700 }), EROFS);
      assert.equal(ro.root.readonlyFs, true);
      assert.equal(((await ro.root.statfs()) as { flags: number }).flags & abi.ST_RDONLY, abi.ST_RDONLY);
    });
  });
});

describe('kernel/fs/tmpfs checkpoint', () => {
  it('saves a tree (directories, files with holes, symlinks, hard links, FIFOs, modes, owners, times) and restores it into an empty tmpfs', async () => {
    const account = new MemoryAccount(64 * MiB);
    const a = new Tmpfs(account, { mode: 0o1777 });
    ok(a.root.mkdir('d', 0o750, { uid: 5, gid: 6 }) as 0 | Errno);
    const d = child(a.root, 'd') as TmpDir;
    const f = create(d, 'f');
    ok(f.pwrite(Buffer.from('hello'), 0) as number | Errno);
    ok(f.pwrite(Buffer.from('end'), 3 * 4096) as number | Errno);
    await f.unref();
    ok(a.root.link('hard', child(d, 'f')) as 0 | Errno);
    ok(a.root.symlink('s', 'd/f', { uid: 7, gid: 8 }) as 0 | Errno);
    ok(a.root.mknod('p', abi.S_IFIFO | 0o640, 0n, ROOT) as 0 | Errno);
    ok(child(d, 'f').setattr({ mode: 0o604, uid: 9, gid: 10, atime: [100, 1], mtime: [200, 2] }) as 0 | Errno);
    const rec = JSON.parse(JSON.stringify(a.root.save()));

    const b = new Tmpfs(account, { mode: 0o1777 });
    b.root.restore(rec, '/');
    const bf = child(child(b.root, 'd'), 'f');
    assert.equal(child(b.root, 'hard'), bf, 'a hard link stays one inode');
    const fa = await attr(bf);
    assert.deepEqual([fa.mode, fa.uid, fa.gid, fa.nlink, fa.size, fa.atimeSec, fa.mtimeSec], [abi.S_IFREG | 0o604, 9, 10, 2, 3 * 4096 + 3, 100, 200]);
    const data = ok(ok(bf.open(abi.O_RDONLY, '/d/f') as File | Errno).pread(4 * 4096, 0) as Uint8Array | Errno);
    assert.equal(Buffer.from(data.subarray(0, 5)).toString(), 'hello');
    assert.equal(Buffer.from(data.subarray(3 * 4096)).toString(), 'end');
    assert.ok(data.subarray(5, 3 * 4096).every((x) => x === 0));
    const da = await attr(child(b.root, 'd'));
    assert.deepEqual([da.mode, da.uid, da.gid], [abi.S_IFDIR | 0o750, 5, 6]);
    assert.equal(ok(child(b.root, 's').readlink() as string | Errno), 'd/f');
    assert.equal((await attr(child(b.root, 's'))).uid, 7);
    assert.equal((await attr(child(b.root, 'p'))).mode, abi.S_IFIFO | 0o640);
  });

  it('a restore that does not fit the mount fails with an Error naming the file', () => {
    const account = new MemoryAccount(64 * MiB);
    const a = new Tmpfs(account, {});
    const f = create(a.root, 'big');
    ok(f.pwrite(new Uint8Array(3 * 4096).fill(1), 0) as number | Errno);
    const small = new Tmpfs(account, { size: 2 * 4096 });
    assert.throws(() => small.root.restore(a.root.save(), '/tmp'), /^Error: \/tmp\/big: cannot be made again in its tmpfs \(ENOSPC\)$/);
  });
});
