// The path walk (Vfs.walkOn) is one step function for cached and waiting
// steps: each step that waits (a directory's attributes for the search
// check, a lookup, a readlink) continues the same walk once it settles. The
// same tree, its inodes answering at once or through Promises, must give
// the same answers: names, `.` and `..`, symlinks relative and absolute,
// followed or not, ELOOP, a trailing slash, the parent and last name of a
// creation, EACCES on the way.

import { strict as assert } from 'node:assert';
import { Vfs } from '../../src/kernel/vfs/vfs.js';
import { Inode, type Dentry } from '../../src/kernel/vfs/inode.js';
import { allocIno, makeAttr } from '../../src/kernel/vfs/attr.js';
import type { MaybeAsync } from '../../src/kernel/files/file.js';
import type { Attr } from '../../src/backend/backend.js';
import { EACCES, EISDIR, ELOOP, ENOENT, ENOTDIR, Errno, isErrno } from '../../src/linux/errno.js';
import { S_IFDIR, S_IFLNK, S_IFREG } from '../../src/linux/abi.js';

/** How the test's inodes answer: at once, or through a Promise. */
type Answer = <T>(v: T) => MaybeAsync<T>;
const now: Answer = (v) => v;
const later: Answer = (v) => Promise.resolve(v);

class TestDir extends Inode {
  readonly type = S_IFDIR;
  readonly ino = allocIno();
  constructor(private readonly answer: Answer, readonly entries: Map<string, Inode>, private readonly mode = 0o755) {
    super();
  }
  getattr(): MaybeAsync<Attr | Errno> {
    return this.answer(makeAttr(S_IFDIR | this.mode, { ino: this.ino, nlink: 2 }));
  }
  override lookup(name: string): MaybeAsync<Inode | Errno> {
    return this.answer(this.entries.get(name) ?? ENOENT);
  }
  open(): Errno {
    return EISDIR;
  }
}

class TestLink extends Inode {
  readonly type = S_IFLNK;
  readonly ino = allocIno();
  constructor(private readonly answer: Answer, private readonly target: string) {
    super();
  }
  getattr(): MaybeAsync<Attr | Errno> {
    return this.answer(makeAttr(S_IFLNK | 0o777, { ino: this.ino }));
  }
  override readlink(): MaybeAsync<string | Errno> {
    return this.answer(this.target);
  }
  open(): Errno {
    return ELOOP;
  }
}

class TestFile extends Inode {
  readonly type = S_IFREG;
  readonly ino = allocIno();
  getattr(): Attr {
    return makeAttr(S_IFREG | 0o644, { ino: this.ino });
  }
  open(): Errno {
    return EISDIR;
  }
}

const USER = { euid: 1000, egid: 1000, groups: [] as number[], caps: { effective: 0n } };
const ROOT = { euid: 0, egid: 0, groups: [] as number[], caps: { effective: 0n } };

for (const [how, answer] of [['answered at once', now], ['answered through Promises', later]] as const) {
  describe(`kernel/vfs: the path walk, every step ${how}`, () => {
    const f = new TestFile(), g = new TestFile();
    const d = new TestDir(answer, new Map<string, Inode>([
      ['f', f],
      ['up', new TestLink(answer, '../d/f')],
      ['loop', new TestLink(answer, 'loop')],
      ['dirlink', new TestLink(answer, '.')],
    ]));
    const closed = new TestDir(answer, new Map<string, Inode>([['g', g]]), 0o700);
    const root = new TestDir(answer, new Map<string, Inode>([['d', d], ['closed', closed], ['abs', new TestLink(answer, '/d')]]));
    const vfs = new Vfs(root);
    const resolve = async (p: string, followLast = true, creds?: typeof USER): Promise<Inode | Errno> => {
      const r = await vfs.resolve(vfs.root, vfs.root, p, { followLast, creds });
      return isErrno(r) ? r : r.inode;
    };

    it('names, "." and "..", symlinks (relative, absolute, in the middle, the last followed or not)', async () => {
      assert.equal(await resolve('/d/f'), f);
      assert.equal(await resolve('/abs/up'), f);
      // Through cached dentries: synchronous to the end when every step is, a Promise from the first step that waits.
      assert.equal(vfs.resolve(vfs.root, vfs.root, '/d/f', { followLast: true }) instanceof Promise, false);
      assert.equal(vfs.resolve(vfs.root, vfs.root, '/abs/up', { followLast: true }) instanceof Promise, answer === later, 'readlinks wait');
      assert.equal(await resolve('//d/./../d//f'), f);
      assert.equal(await resolve('/abs/f'), f, 'an absolute link in the middle');
      assert.equal(await resolve('/abs/up'), f, 'a relative link with ".." followed last');
      assert.equal((await resolve('/abs/up', false) as Inode).type, S_IFLNK, 'not followed: the link itself');
      assert.equal(await resolve('/d/dirlink/dirlink/f'), f);
      assert.equal(await resolve('/d/dirlink/', false), d, 'a trailing slash follows the last link');
      assert.equal(await resolve('/'), root);
      assert.equal(await resolve('/..'), root, 'never above the root');
    });

    it('ENOENT, ENOTDIR (a file in the middle, a trailing slash on a file), ELOOP', async () => {
      assert.equal(await resolve('/d/nope'), ENOENT);
      assert.equal(await resolve('/d/f/x'), ENOTDIR);
      assert.equal(await resolve('/d/f/'), ENOTDIR);
      assert.equal(await resolve('/d/loop'), ELOOP);
      assert.equal((await resolve('/d/loop', false) as Inode).type, S_IFLNK);
    });

    it('the parent and last name of a creation, through links on the way', async () => {
      const r = await vfs.resolveParent(vfs.root, vfs.root, '/abs/new');
      assert.ok(!isErrno(r));
      assert.equal((r.dir as Dentry).inode, d);
      assert.equal(r.name, 'new');
      assert.equal(r.trailingSlash, false);
      const s = await vfs.resolveParent(vfs.root, vfs.root, '/d/newdir/');
      assert.ok(!isErrno(s));
      assert.deepEqual([s.dir.inode === d, s.name, s.trailingSlash], [true, 'newdir', true]);
    });

    it('search permission on the way (EACCES) from the directories\' attributes', async () => {
      assert.equal(await resolve('/closed/g', true, USER), EACCES);
      assert.equal(await resolve('/closed/g', true, ROOT), g, 'the owner may search');
      assert.equal(await resolve('/d/f', true, USER), f);
    });
  });
}
