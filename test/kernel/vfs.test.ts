import { strict as assert } from 'node:assert';
import { Tmpfs } from '../../src/kernel/filesystems/tmpfs.js';
import { MemoryAccount } from '../../src/kernel/mm.js';
import { Vfs } from '../../src/kernel/vfs/vfs.js';
import * as namei from '../../src/kernel/vfs/namei.js';
import type { Dentry, Inode } from '../../src/kernel/vfs/inode.js';
import type { Attr } from '../../src/backend/backend.js';
import { EACCES, EBUSY, EEXIST, EINVAL, EISDIR, ENOENT, ENOTDIR, ENOTEMPTY, EPERM, EROFS, EXDEV, Errno, isErrno } from '../../src/linux/errno.js';
import * as abi from '../../src/linux/abi.js';

const ROOT = { euid: 0, egid: 0, groups: [] as number[] };
const USER = { euid: 1000, egid: 1000, groups: [] as number[] };
const OTHER = { euid: 1001, egid: 1001, groups: [] as number[] };

function ok<T>(v: T | Errno): T {
  if (isErrno(v)) assert.fail(`unexpected ${v.name}`);
  return v;
}

describe('kernel/vfs: namespace operations (namei)', () => {
  let vfs: Vfs;
  let ctx: namei.PathCtx;
  const as = (cred: typeof ROOT, umask = 0o022): namei.PathCtx => ({ vfs, root: vfs.root, cred, umask });
  const resolve = (p: string, follow = false) => vfs.resolve(vfs.root, vfs.root, p, { followLast: follow });
  const attrAt = async (p: string): Promise<Attr> => ok(await (ok(await resolve(p)).inode.getattr() as Attr | Errno));
  const mkfile = async (c: namei.PathCtx, p: string) => ok(await namei.mknodAt(c, vfs.root, p, abi.S_IFREG | 0o644, 0n));

  beforeEach(() => {
    const account = new MemoryAccount(1 << 26);
    vfs = new Vfs(new Tmpfs(account, { mode: 0o755 }).root);
    vfs.mount('/mnt', new Tmpfs(account, { mode: 0o755 }).root);
    vfs.mount('/ro', new Tmpfs(account, { mode: 0o755, readonly: true }).root);
    ctx = as(ROOT);
  });

  it('creates with the umask applied and the caller as owner; a set-group-ID directory passes its group on', async () => {
    ok(await namei.mkdirAt(as(ROOT, 0o027), vfs.root, '/d', 0o777));
    assert.equal((await attrAt('/d')).mode, abi.S_IFDIR | 0o750);
    ok(await namei.mkdirAt(ctx, vfs.root, '/shared', 0o777));
    const shared = ok(await resolve('/shared')).inode;
    ok(await shared.setattr({ mode: 0o2777, gid: 50 }));
    await mkfile(as(USER), '/shared/f');
    const a = await attrAt('/shared/f');
    assert.deepEqual([a.uid, a.gid], [1000, 50]);
    ok(await namei.mkdirAt(as(USER), vfs.root, '/shared/sub', 0o755));
    assert.equal((await attrAt('/shared/sub')).mode & abi.S_ISGID, abi.S_ISGID);
  });

  it('EEXIST for existing names, "/", and dangling symlinks; ENOENT under a missing parent; ENOTDIR under a file', async () => {
    await mkfile(ctx, '/f');
    assert.equal(await namei.mkdirAt(ctx, vfs.root, '/f', 0o755), EEXIST);
    assert.equal(await namei.mkdirAt(ctx, vfs.root, '/', 0o755), EEXIST);
    ok(await namei.symlinkAt(ctx, 'nowhere', vfs.root, '/dl'));
    assert.equal(await namei.mkdirAt(ctx, vfs.root, '/dl', 0o755), EEXIST);
    assert.equal(await namei.mkdirAt(ctx, vfs.root, '/missing/x', 0o755), ENOENT);
    assert.equal(await namei.mkdirAt(ctx, vfs.root, '/f/x', 0o755), ENOTDIR);
    assert.equal(await namei.symlinkAt(ctx, '', vfs.root, '/e'), ENOENT);
  });

  it('EXDEV across mounts; EBUSY for mount points and the root; EROFS on a read-only mount', async () => {
    await mkfile(ctx, '/f');
    const f = ok(await resolve('/f'));
    assert.equal(await namei.renameAt(ctx, vfs.root, '/f', vfs.root, '/mnt/f', 0), EXDEV);
    assert.equal(await namei.linkTo(ctx, f, vfs.mountOf(f), vfs.root, '/mnt/f'), EXDEV);
    assert.equal(await namei.removeAt(ctx, vfs.root, '/mnt', true), EBUSY);
    assert.equal(await namei.renameAt(ctx, vfs.root, '/mnt', vfs.root, '/mnt2', 0), EBUSY);
    assert.equal(await namei.removeAt(ctx, vfs.root, '/', true), EBUSY);
    assert.equal(await namei.mkdirAt(ctx, vfs.root, '/ro/d', 0o755), EROFS);
    assert.equal(await namei.removeAt(ctx, vfs.root, '/ro/missing', false), EROFS);
    assert.equal(await namei.mkdirAt(ctx, vfs.root, '/ro', 0o755), EEXIST, 'EEXIST before EROFS, as filename_create');
  });

  it('a mount point missing from the filesystem below is stood in for by an empty directory', async () => {
    vfs.mount('/deep/er/m', new Tmpfs(new MemoryAccount(1 << 20), { mode: 0o700 }).root);
    const m = ok(await resolve('/deep/er/m'));
    assert.equal(ok(await (m.inode.getattr() as Attr | Errno)).mode, abi.S_IFDIR | 0o700);
    assert.ok(ok(await resolve('/deep/er')).inode.isDir);
    assert.equal(await resolve('/deep/other'), ENOENT);
  });

  it('rmdir of "." is EINVAL, of ".." ENOTEMPTY; unlink of a directory EISDIR', async () => {
    ok(await namei.mkdirAt(ctx, vfs.root, '/d', 0o755));
    assert.equal(await namei.removeAt(ctx, vfs.root, '/d/.', true), EINVAL);
    assert.equal(await namei.removeAt(ctx, vfs.root, '/d/..', true), ENOTEMPTY);
    assert.equal(await namei.removeAt(ctx, vfs.root, '/d', false), EISDIR);
    ok(await namei.removeAt(ctx, vfs.root, '/d', true));
  });

  it('refuses moving a directory below itself (EINVAL) and onto an ancestor (ENOTEMPTY)', async () => {
    ok(await namei.mkdirAt(ctx, vfs.root, '/a', 0o755));
    ok(await namei.mkdirAt(ctx, vfs.root, '/a/b', 0o755));
    assert.equal(await namei.renameAt(ctx, vfs.root, '/a', vfs.root, '/a/b/c', 0), EINVAL);
    assert.equal(await namei.renameAt(ctx, vfs.root, '/a/b', vfs.root, '/a', 0), ENOTEMPTY);
  });

  it('keeps the dentry cache coherent: a renamed directory moves with the dentries below it (a cwd shows its new path)', async () => {
    ok(await namei.mkdirAt(ctx, vfs.root, '/a', 0o755));
    ok(await namei.mkdirAt(ctx, vfs.root, '/a/sub', 0o755));
    const cwd = ok(await resolve('/a/sub'));
    ok(await namei.renameAt(ctx, vfs.root, '/a', vfs.root, '/b', 0));
    assert.equal(cwd.path(), '/b/sub');
    assert.equal(await resolve('/a'), ENOENT);
    await mkfile(ctx, '/b/sub/x');
    assert.equal(ok(await vfs.resolve(vfs.root, cwd, 'x', { followLast: false })).path(), '/b/sub/x');
  });

  it('an unlinked file stays reachable through its dentry, which reports " (deleted)"', async () => {
    await mkfile(ctx, '/gone');
    const d: Dentry = ok(await resolve('/gone'));
    const inode: Inode = d.inode;
    ok(await namei.removeAt(ctx, vfs.root, '/gone', false));
    assert.equal(d.path(), '/gone (deleted)');
    assert.equal(ok(await (inode.getattr() as Attr | Errno)).nlink, 0);
    assert.equal(await resolve('/gone'), ENOENT);
  });

  it('a removed directory (a cwd, say) takes no new names: ENOENT', async () => {
    ok(await namei.mkdirAt(ctx, vfs.root, '/d', 0o755));
    const cwd = ok(await resolve('/d'));
    ok(await namei.removeAt(ctx, vfs.root, '/d', true));
    assert.equal(await namei.mkdirAt(ctx, cwd, 'x', 0o755), ENOENT);
    assert.equal(await namei.symlinkAt(ctx, 't', cwd, 'y'), ENOENT);
    assert.equal(cwd.path(), '/d (deleted)');
  });

  it('RENAME_EXCHANGE swaps cached names; RENAME_NOREPLACE refuses an existing one', async () => {
    await mkfile(ctx, '/x');
    ok(await namei.mkdirAt(ctx, vfs.root, '/y', 0o755));
    const x = ok(await resolve('/x'));
    const y = ok(await resolve('/y'));
    assert.equal(await namei.renameAt(ctx, vfs.root, '/x', vfs.root, '/y', abi.RENAME_NOREPLACE), EEXIST);
    ok(await namei.renameAt(ctx, vfs.root, '/x', vfs.root, '/y', abi.RENAME_EXCHANGE));
    assert.equal(x.path(), '/y');
    assert.equal(y.path(), '/x');
    assert.ok((ok(await resolve('/x'))).inode.isDir);
    assert.equal(await namei.renameAt(ctx, vfs.root, '/x', vfs.root, '/y', abi.RENAME_EXCHANGE | abi.RENAME_NOREPLACE), EINVAL);
  });

  describe('permissions', () => {
    beforeEach(async () => {
      ok(await namei.mkdirAt(ctx, vfs.root, '/tmp', 0o777));
      ok(await ok(await resolve('/tmp')).inode.setattr({ mode: 0o1777 }));
    });

    it('creating needs write and search on the directory (EACCES); search is checked on the way (EACCES)', async () => {
      ok(await namei.mkdirAt(ctx, vfs.root, '/closed', 0o755));
      assert.equal(await namei.mkdirAt(as(USER), vfs.root, '/closed/x', 0o755), EACCES);
      ok(await namei.mkdirAt(ctx, vfs.root, '/closed/inner', 0o777));
      ok(await ok(await resolve('/closed')).inode.setattr({ mode: 0o700 }));
      assert.equal(await namei.mkdirAt(as(USER), vfs.root, '/closed/inner/x', 0o755), EACCES);
      ok(await namei.mkdirAt(ctx, vfs.root, '/closed/inner/x', 0o755)); // root passes
    });

    it('the sticky bit: only the owner (or the directory owner, or root) removes or renames away', async () => {
      await mkfile(as(USER), '/tmp/mine');
      assert.equal(await namei.removeAt(as(OTHER), vfs.root, '/tmp/mine', false), EPERM);
      assert.equal(await namei.renameAt(as(OTHER), vfs.root, '/tmp/mine', vfs.root, '/tmp/theirs', 0), EPERM);
      ok(await namei.renameAt(as(USER), vfs.root, '/tmp/mine', vfs.root, '/tmp/moved', 0));
      ok(await namei.removeAt(ctx, vfs.root, '/tmp/moved', false));
    });

    it('chmod by the owner only; a non-member loses set-group-ID; symlinks have no mode (EOPNOTSUPP)', async () => {
      await mkfile(as(USER), '/tmp/f');
      const f = ok(await resolve('/tmp/f')).inode;
      assert.equal(await namei.chmod(OTHER, f, 0o777), EPERM);
      ok(await namei.chmod(USER, f, 0o2755));
      ok(await f.setattr({ gid: 77 }));
      ok(await namei.chmod(USER, f, 0o2755));
      assert.equal(ok(await (f.getattr() as Attr | Errno)).mode & 0o7777, 0o755);
      ok(await namei.symlinkAt(ctx, 'f', vfs.root, '/tmp/l'));
      assert.equal(await namei.chmod(ROOT, ok(await resolve('/tmp/l')).inode, 0o700), Errno.of(95));
    });

    it('capabilities, not uid 0, override DAC: root without CAP_DAC_OVERRIDE is an ordinary owner', async () => {
      const capRoot = (...caps: number[]) => ({ ...ROOT, caps: { effective: caps.reduce((m, c) => m | (1n << BigInt(c)), 0n) } });
      ok(await namei.mkdirAt(as(USER), vfs.root, '/tmp/u', 0o700));
      await mkfile(as(USER), '/tmp/u/f');
      assert.equal(await namei.mkdirAt(as(capRoot()), vfs.root, '/tmp/u/x', 0o755), EACCES, 'no search, no write');
      assert.equal(await namei.mkdirAt(as(capRoot(2)), vfs.root, '/tmp/u/x', 0o755), EACCES, 'CAP_DAC_READ_SEARCH searches but does not write');
      ok(await namei.mkdirAt(as(capRoot(1)), vfs.root, '/tmp/u/x', 0o755));
      const f = ok(await vfs.resolve(vfs.root, vfs.root, '/tmp/u/f', { followLast: false })).inode;
      assert.equal(await namei.chmod(capRoot(), f, 0o600), EPERM);
      ok(await namei.chmod(capRoot(3), f, 0o600)); // CAP_FOWNER
      assert.equal(await namei.chown(capRoot(), f, 0, -1), EPERM);
      ok(await namei.chown(capRoot(0), f, 0, -1)); // CAP_CHOWN
    });

    it('chown: root gives anything; an owner only its own groups; set-user-ID goes', async () => {
      await mkfile(as(USER), '/tmp/f');
      const f = ok(await resolve('/tmp/f')).inode;
      assert.equal(await namei.chown(USER, f, 0, -1), EPERM);
      assert.equal(await namei.chown(USER, f, -1, 0), EPERM);
      ok(await namei.chown({ ...USER, groups: [5] }, f, -1, 5));
      ok(await f.setattr({ mode: 0o4755 }));
      ok(await namei.chown(ROOT, f, 1, 1));
      const a = ok(await (f.getattr() as Attr | Errno));
      assert.deepEqual([a.uid, a.gid, a.mode & 0o7777], [1, 1, 0o755]);
    });

    it('utimes: explicit times by the owner only (EPERM); "now" with write permission; truncate needs write (EACCES)', async () => {
      await mkfile(as(USER), '/tmp/f');
      const f = ok(await resolve('/tmp/f')).inode;
      assert.equal(await namei.utimes(OTHER, f, [1, 0], 'omit'), EPERM);
      assert.equal(await namei.utimes(OTHER, f, 'now', 'now'), EACCES);
      ok(await f.setattr({ mode: 0o666 }));
      ok(await namei.utimes(OTHER, f, 'now', 'now'));
      ok(await namei.utimes(USER, f, [1, 2], [3, 4]));
      assert.equal(await namei.utimes(OTHER, f, 'omit', 'omit'), 0, 'both omitted: nothing to check');
      ok(await f.setattr({ mode: 0o644 }));
      assert.equal(await namei.truncatePath(OTHER, f, 0), EACCES);
      ok(await namei.truncatePath(USER, f, 10));
      assert.equal(ok(await (f.getattr() as Attr | Errno)).size, 10);
    });
  });
});
