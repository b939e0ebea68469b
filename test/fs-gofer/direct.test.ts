import { strict as assert } from 'node:assert';
import { spawn, spawnSync, execFileSync, type ChildProcess } from 'node:child_process';
import * as fs from 'node:fs';
import * as net from 'node:net';
import * as os from 'node:os';
import * as path from 'node:path';
import { DirectBackend } from '../../src/fs-gofer/direct.js';
import { Errno, isErrno, EBADF, EEXIST, EINVAL, EISDIR, ELOOP, ENAMETOOLONG, ENOENT, ENOTDIR, ENOTEMPTY, EOPNOTSUPP, EPERM, EROFS } from '../../src/linux/errno.js';
import type { BackendFile, BackendNode } from '../../src/backend/backend.js';

const S_IFMT = 0o170000;
const S_IFREG = 0o100000;
const S_IFDIR = 0o040000;
const S_IFLNK = 0o120000;
const S_IFCHR = 0o020000;
const S_IFIFO = 0o010000;
const S_IFSOCK = 0o140000;
const O_RDONLY = 0;
const O_WRONLY = 1;
const O_RDWR = 2;
const O_TRUNC = 0o1000;
const O_APPEND = 0o2000;
const O_DIRECTORY = 0o200000;
const AT_REMOVEDIR = 0x200;
const RENAME_NOREPLACE = 1;
const RENAME_EXCHANGE = 2;
const DT_DIR = 4;
const DT_REG = 8;
const DT_LNK = 10;

const MARKER = 'MARKER: a host file outside the root';

/** The value, or a failed assertion naming the errno. */
function ok<T>(v: T | Errno): T {
  if (isErrno(v)) assert.fail(`unexpected ${v.name}`);
  return v;
}

function openFds(): number {
  return fs.readdirSync('/proc/self/fd').length;
}

/**
 * tmp/outside/marker       the file the guest must never see or change
 * tmp/root/etc/hello       "hello"
 * tmp/root/abs -> tmp/outside          (absolute, out)
 * tmp/root/absfile -> tmp/outside/marker
 * tmp/root/rel -> ../outside           (relative, out)
 * tmp/root/etc/relfile -> ../../outside/marker
 * tmp/root/dangling -> ../outside/created
 */
function makeTree(): { tmp: string; root: string; outside: string; marker: string } {
  const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'tsvisor-direct-'));
  const root = path.join(tmp, 'root');
  const outside = path.join(tmp, 'outside');
  const marker = path.join(outside, 'marker');
  fs.mkdirSync(path.join(root, 'etc'), { recursive: true });
  fs.mkdirSync(outside);
  fs.writeFileSync(marker, MARKER);
  fs.writeFileSync(path.join(root, 'etc', 'hello'), 'hello');
  fs.symlinkSync(outside, path.join(root, 'abs'));
  fs.symlinkSync(marker, path.join(root, 'absfile'));
  fs.symlinkSync('../outside', path.join(root, 'rel'));
  fs.symlinkSync('../../outside/marker', path.join(root, 'etc', 'relfile'));
  fs.symlinkSync('../outside/created', path.join(root, 'dangling'));
  return { tmp, root, outside, marker };
}

describe('fs-gofer/direct: DirectBackend', () => {
  let t: ReturnType<typeof makeTree>;
  let be: DirectBackend;
  let root: BackendNode;
  let markerStat: fs.BigIntStats;

  const walkPath = async (...names: string[]): Promise<BackendNode | Errno> => {
    let n: BackendNode = root;
    for (const name of names) {
      const next = await be.walk(n, name);
      if (isErrno(next)) return next;
      n = next;
    }
    return n;
  };
  const hostPath = (...p: string[]) => path.join(t.root, ...p);
  const readAll = async (f: BackendFile): Promise<string> => {
    const buf = new Uint8Array(4096);
    const n = ok(await f.read(buf, 0));
    return Buffer.from(buf.subarray(0, n)).toString();
  };

  beforeEach(async () => {
    t = makeTree();
    markerStat = fs.statSync(t.marker, { bigint: true });
    be = DirectBackend.open(t.root, { readonly: false });
    root = ok(await be.root());
  });

  afterEach(() => {
    be.close();
    // The marker outside the root is never modified, moved, linked or chmod'ed.
    const now = fs.statSync(t.marker, { bigint: true });
    assert.equal(fs.readFileSync(t.marker, 'utf8'), MARKER);
    assert.equal(now.ino, markerStat.ino);
    assert.equal(now.nlink, 1n);
    assert.equal(now.mode, markerStat.mode);
    assert.equal(now.uid, markerStat.uid);
    assert.equal(now.mtimeNs, markerStat.mtimeNs);
    assert.deepEqual(fs.readdirSync(t.outside), ['marker']);
    fs.rmSync(t.tmp, { recursive: true, force: true });
  });

  describe('open', () => {
    it('throws a clear Error when the root is not a directory', () => {
      assert.throws(() => DirectBackend.open(t.marker, { readonly: false }), /not a directory/);
      assert.throws(() => DirectBackend.open(path.join(t.tmp, 'missing'), { readonly: true }), /ENOENT/);
    });

    it('with fileRoot, one regular file is the root: read and written through it, nothing walked or made below it, EROFS when read-only', async () => {
      const src = hostPath('etc', 'hello');
      const b = DirectBackend.open(src, { readonly: false, fileRoot: true });
      try {
        assert.equal(b.rootType, S_IFREG);
        const r = ok(await b.root());
        assert.equal(r.type, S_IFREG);
        assert.equal(ok(await b.getattr(r)).ino, BigInt(fs.statSync(src).ino));
        assert.equal(await b.walk(r, 'x'), ENOTDIR);
        assert.equal(await b.create(r, 'x', O_RDWR, 0o644, 0, 0), ENOTDIR);
        assert.equal(await b.mkdir(r, 'x', 0o755, 0, 0), ENOTDIR);
        assert.equal(await b.symlink(r, 'x', '/etc/passwd', 0, 0), ENOTDIR);
        assert.equal(await b.open(r, O_RDONLY | O_DIRECTORY), ENOTDIR);
        const f = ok(await b.open(r, O_RDWR));
        assert.equal(ok(await f.write(Buffer.from('J'), 0)), 1);
        assert.equal(await readAll(f), 'Jello');
        await f.close();
      } finally {
        b.close();
      }
      assert.equal(fs.readFileSync(src, 'utf8'), 'Jello');
      assert.deepEqual(fs.readdirSync(hostPath('etc')).sort(), ['hello', 'relfile'], 'nothing made beside it');
      const ro = DirectBackend.open(src, { readonly: true, fileRoot: true });
      try {
        const r = ok(await ro.root());
        assert.equal(await ro.open(r, O_WRONLY), EROFS);
        assert.equal(await ro.open(r, O_RDONLY | O_TRUNC), EROFS);
        assert.equal(await ro.setattr(r, { size: 0 }), EROFS);
        assert.equal(await ro.setattr(r, { mode: 0o777 }), EROFS);
        assert.equal(await readAll(ok(await ro.open(r, O_RDONLY))), 'Jello');
      } finally {
        ro.close();
      }
      assert.equal(fs.readFileSync(src, 'utf8'), 'Jello');
      // Without fileRoot a file is refused, and devices, fifos and sockets never are roots.
      assert.throws(() => DirectBackend.open(src, { readonly: true }), /is not a directory/);
      execFileSync('mkfifo', [path.join(t.tmp, 'fifo')]);
      assert.throws(() => DirectBackend.open(path.join(t.tmp, 'fifo'), { readonly: true, fileRoot: true }), /is not a directory or regular file/);
      assert.throws(() => DirectBackend.open('/dev/null', { readonly: true, fileRoot: true }), /is not a directory or regular file/);
    });

    it('close() releases every host fd it holds', async () => {
      const before = openFds();
      const b = DirectBackend.open(t.root, { readonly: false });
      const r = ok(await b.root());
      const etc = ok(await b.walk(r, 'etc'));
      const hello = ok(await b.walk(etc, 'hello'));
      ok(await b.open(hello, O_RDONLY));
      ok(await b.open(etc, O_RDONLY));
      ok(await b.create(etc, 'new', O_RDWR, 0o644, 0, 0));
      assert.ok(openFds() > before);
      b.close();
      assert.equal(openFds(), before);
      assert.equal(await b.walk(r, 'etc'), EBADF);
      assert.equal(await b.root(), EBADF);
    });

    it('release() closes a node, which is then refused', async () => {
      const etc = ok(await be.walk(root, 'etc'));
      const before = openFds();
      await be.release(etc);
      assert.equal(openFds(), before - 1);
      assert.equal(await be.walk(etc, 'hello'), EBADF);
      assert.equal(await be.getattr(etc), EBADF);
      await be.release(etc); // twice is harmless
    });
  });

  describe('walk', () => {
    it('walks to files and directories with their types', async () => {
      const etc = ok(await be.walk(root, 'etc'));
      assert.equal(etc.type, S_IFDIR);
      const hello = ok(await be.walk(etc, 'hello'));
      assert.equal(hello.type, S_IFREG);
    });

    it('returns ENOENT for a missing name and ENOTDIR below a file', async () => {
      assert.equal(await be.walk(root, 'missing'), ENOENT);
      const hello = ok(await walkPath('etc', 'hello'));
      assert.equal(await be.walk(hello, 'x'), ENOTDIR);
    });

    it('rejects "", ".", "..", names with "/" or NUL, and names over 255 bytes', async () => {
      assert.equal(await be.walk(root, ''), ENOENT);
      assert.equal(await be.walk(root, '.'), EINVAL);
      assert.equal(await be.walk(root, '..'), EINVAL);
      assert.equal(await be.walk(root, '../outside'), EINVAL);
      assert.equal(await be.walk(root, 'etc/hello'), EINVAL);
      assert.equal(await be.walk(root, '/etc'), EINVAL);
      assert.equal(await be.walk(root, 'etc\0'), EINVAL);
      assert.equal(await be.walk(root, 'x'.repeat(256)), ENAMETOOLONG);
      const etc = ok(await be.walk(root, 'etc'));
      assert.equal(await be.walk(etc, '..'), EINVAL);
    });

    it('yields a symlink node for a symlink, never what it points to', async () => {
      for (const name of ['abs', 'absfile', 'rel', 'dangling']) {
        const n = ok(await be.walk(root, name));
        assert.equal(n.type, S_IFLNK, name);
        const a = ok(await be.getattr(n));
        assert.equal(a.mode & S_IFMT, S_IFLNK);
        assert.notEqual(a.ino, markerStat.ino);
        // Walking through it fails: it is not a directory.
        assert.equal(await be.walk(n, 'marker'), ENOTDIR);
      }
      const relfile = ok(await walkPath('etc', 'relfile'));
      assert.equal(relfile.type, S_IFLNK);
    });

    it('refuses a node of another backend, even one rooted outside', async () => {
      const other = DirectBackend.open(t.outside, { readonly: false });
      try {
        const oroot = ok(await other.root());
        const marker = ok(await other.walk(oroot, 'marker'));
        assert.equal(await be.walk(oroot, 'marker'), EBADF);
        assert.equal(await be.open(marker, O_RDWR), EBADF);
        assert.equal(await be.link(root, 'stolen', marker), EBADF);
        assert.equal(await be.getattr(marker), EBADF);
        assert.equal(await be.setattr(marker, { size: 0 }), EBADF);
        assert.equal(await be.rename(oroot, 'marker', root, 'stolen'), EBADF);
        assert.equal(fs.existsSync(hostPath('stolen')), false);
      } finally {
        other.close();
      }
    });
  });

  describe('getattr, readlink, statfs', () => {
    it('getattr reports stat with nanosecond times', async () => {
      fs.utimesSync(hostPath('etc', 'hello'), 1000.5, 2000.25);
      const a = ok(await be.getattr(ok(await walkPath('etc', 'hello'))));
      const st = fs.statSync(hostPath('etc', 'hello'), { bigint: true });
      assert.equal(a.mode, Number(st.mode));
      assert.equal(a.ino, st.ino);
      assert.equal(a.size, 5);
      assert.equal(a.nlink, 1);
      assert.deepEqual([a.atimeSec, a.atimeNsec], [1000, 500000000]);
      assert.deepEqual([a.mtimeSec, a.mtimeNsec], [2000, 250000000]);
      assert.equal(BigInt(a.ctimeSec) * 1_000_000_000n + BigInt(a.ctimeNsec), st.ctimeNs);
    });

    it('readlink returns the target text; EINVAL on a non-symlink', async () => {
      assert.equal(await be.readlink(ok(await be.walk(root, 'rel'))), '../outside');
      assert.equal(await be.readlink(ok(await be.walk(root, 'abs'))), t.outside);
      assert.equal(await be.readlink(ok(await be.walk(root, 'etc'))), EINVAL);
    });

    it('statfs reports the host filesystem', async () => {
      const s = ok(await be.statfs(root));
      assert.ok(s.bsize > 0);
      assert.equal(s.namelen, 255);
      assert.ok(s.blocks >= s.bfree);
    });
  });

  describe('open, read, write', () => {
    it('reads and writes at offsets', async () => {
      const hello = ok(await walkPath('etc', 'hello'));
      const f = ok(await be.open(hello, O_RDWR));
      assert.equal(await readAll(f), 'hello');
      const buf = new Uint8Array(3);
      assert.equal(await f.read(buf, 1), 3);
      assert.equal(Buffer.from(buf).toString(), 'ell');
      assert.equal(await f.read(buf, 5), 0);
      assert.equal(await f.write(Buffer.from('J'), 0), 1);
      assert.equal(await f.write(Buffer.from('!!'), 7), 2);
      assert.equal(fs.readFileSync(hostPath('etc', 'hello'), 'latin1'), 'Jello\0\0!!');
      assert.equal(ok(await f.getattr()).size, 9);
      assert.equal(await f.read(buf, -1), EINVAL);
      assert.equal(await f.fsync(), 0);
      await f.close();
      assert.equal(await f.read(buf, 0), EBADF);
    });

    it('O_TRUNC truncates; O_APPEND writes at the end', async () => {
      const hello = ok(await walkPath('etc', 'hello'));
      const a = ok(await be.open(hello, O_WRONLY | O_APPEND));
      assert.equal(await a.write(Buffer.from('!'), 0), 1);
      assert.equal(fs.readFileSync(hostPath('etc', 'hello'), 'utf8'), 'hello!');
      await a.close();
      const tr = ok(await be.open(hello, O_WRONLY | O_TRUNC));
      assert.equal(fs.statSync(hostPath('etc', 'hello')).size, 0);
      await tr.close();
    });

    it('a read-only open cannot write', async () => {
      const f = ok(await be.open(ok(await walkPath('etc', 'hello')), O_RDONLY));
      assert.equal(await f.write(Buffer.from('x'), 0), EBADF);
      assert.equal(fs.readFileSync(hostPath('etc', 'hello'), 'utf8'), 'hello');
    });

    it('refuses a directory for writing, a file with O_DIRECTORY, a symlink with ELOOP', async () => {
      const etc = ok(await be.walk(root, 'etc'));
      assert.equal(await be.open(etc, O_WRONLY), EISDIR);
      assert.equal(await be.open(etc, O_RDONLY | O_TRUNC), EISDIR);
      assert.equal(await be.open(ok(await be.walk(etc, 'hello')), O_RDONLY | O_DIRECTORY), ENOTDIR);
      assert.equal(await be.open(ok(await be.walk(root, 'absfile')), O_RDONLY), ELOOP);
      assert.equal(await be.open(ok(await be.walk(root, 'absfile')), O_RDWR | O_TRUNC), ELOOP);
      assert.equal(await be.open(etc, 3), EINVAL);
    });

    it('opens the inode it walked to, even after the name is swapped for a symlink out', async () => {
      const hello = ok(await walkPath('etc', 'hello'));
      fs.renameSync(hostPath('etc', 'hello'), hostPath('etc', 'moved'));
      fs.symlinkSync(t.marker, hostPath('etc', 'hello'));
      const f = ok(await be.open(hello, O_RDWR));
      assert.equal(await readAll(f), 'hello');
      assert.equal(await f.write(Buffer.from('J'), 0), 1);
      assert.equal(fs.readFileSync(hostPath('etc', 'moved'), 'utf8'), 'Jello');
      ok(await be.setattr(hello, { size: 1, mode: 0o600, mtime: [5, 6] }));
      assert.equal(fs.readFileSync(hostPath('etc', 'moved'), 'utf8'), 'J');
    });
  });

  describe('readdir', () => {
    it('lists entries with d_type, including "." and ".."', async () => {
      const f = ok(await be.open(ok(await be.walk(root, 'etc')), O_RDONLY));
      const ents = ok(await f.readdir(0, 1 << 16));
      const byName = new Map(ents.map((e) => [e.name, e]));
      assert.deepEqual([...byName.keys()].sort(), ['.', '..', 'hello', 'relfile']);
      assert.equal(byName.get('hello')!.type, DT_REG);
      assert.equal(byName.get('relfile')!.type, DT_LNK);
      assert.equal(byName.get('.')!.type, DT_DIR);
      assert.equal(byName.get('hello')!.ino, fs.statSync(hostPath('etc', 'hello'), { bigint: true }).ino);
      const last = ents[ents.length - 1];
      assert.deepEqual(await f.readdir(last.next, 1 << 16), []);
    });

    it('continues from a cookie in small batches, without loss or repeats', async () => {
      const names: string[] = [];
      for (let i = 0; i < 60; i++) {
        const n = `file-${i}-${'x'.repeat(i % 17)}`;
        names.push(n);
        fs.writeFileSync(hostPath(n), '');
      }
      const f = ok(await be.open(root, O_RDONLY));
      const seen: string[] = [];
      const cookies: number[] = [];
      let cookie = 0;
      for (;;) {
        const batch = ok(await f.readdir(cookie, 200));
        if (batch.length === 0) break;
        assert.ok(batch.length < 20);
        for (const e of batch) {
          seen.push(e.name);
          cookies.push(e.next);
        }
        cookie = batch[batch.length - 1].next;
      }
      assert.equal(new Set(seen).size, seen.length);
      const want = ['.', '..', 'abs', 'absfile', 'dangling', 'etc', 'rel', ...names];
      assert.deepEqual([...seen].sort(), want.sort());
      // Seeking back to an earlier cookie gives the same following entries.
      const again = ok(await f.readdir(cookies[9], 1 << 16));
      assert.deepEqual(again.map((e) => e.name), seen.slice(10));
      assert.equal(await f.readdir(123456, 100), EINVAL);
    });

    it('reports the root\'s ".." as the root itself, never its host parent', async () => {
      const f = ok(await be.open(root, O_RDONLY));
      const ents = ok(await f.readdir(0, 1 << 16));
      const dot = ents.find((e) => e.name === '.')!;
      const dotdot = ents.find((e) => e.name === '..')!;
      assert.equal(dotdot.ino, dot.ino);
      assert.notEqual(dotdot.ino, fs.statSync(t.tmp, { bigint: true }).ino);
    });

    it('readdir on a regular file is ENOTDIR', async () => {
      const f = ok(await be.open(ok(await walkPath('etc', 'hello')), O_RDONLY));
      assert.equal(await f.readdir(0, 100), ENOTDIR);
    });
  });

  describe('create, mkdir, symlink', () => {
    it('create makes and opens a file with the exact mode', async () => {
      const etc = ok(await be.walk(root, 'etc'));
      const { node, file } = ok(await be.create(etc, 'new', O_RDWR, 0o666, process.getuid!(), process.getgid!()));
      assert.equal(node.type, S_IFREG);
      assert.equal(await file.write(Buffer.from('data'), 0), 4);
      assert.equal(await readAll(file), 'data');
      const st = fs.statSync(hostPath('etc', 'new'));
      assert.equal(st.mode & 0o7777, 0o666);
      assert.equal(ok(await be.getattr(node)).ino, BigInt(st.ino));
      assert.equal(await be.create(etc, 'new', O_RDWR, 0o644, 0, 0), EEXIST);
    });

    it('create never follows a dangling symlink out of the root', async () => {
      assert.equal(await be.create(root, 'dangling', O_RDWR, 0o644, 0, 0), EEXIST);
      assert.equal(await be.create(root, 'absfile', O_RDWR | O_TRUNC, 0o644, 0, 0), EEXIST);
      assert.equal(fs.existsSync(path.join(t.outside, 'created')), false);
    });

    it('create, mkdir and symlink give the guest\'s owner (as root)', async function () {
      if (process.geteuid?.() !== 0) this.skip();
      const c = ok(await be.create(root, 'f', O_WRONLY, 0o4755, 1000, 1001));
      await c.file.close();
      ok(await be.mkdir(root, 'd', 0o2770, 1002, 1003));
      ok(await be.symlink(root, 's', 'f', 1004, 1005));
      const f = fs.statSync(hostPath('f'));
      assert.deepEqual([f.uid, f.gid, f.mode & 0o7777], [1000, 1001, 0o4755]);
      const d = fs.statSync(hostPath('d'));
      assert.deepEqual([d.uid, d.gid, d.mode & 0o7777], [1002, 1003, 0o2770]);
      const s = fs.lstatSync(hostPath('s'));
      assert.deepEqual([s.uid, s.gid], [1004, 1005]);
    });

    it('mkdir makes a directory; EEXIST when present', async () => {
      ok(await be.mkdir(root, 'newdir', 0o777, process.getuid!(), process.getgid!()));
      const st = fs.statSync(hostPath('newdir'));
      assert.ok(st.isDirectory());
      assert.equal(st.mode & 0o7777, 0o777);
      assert.equal(await be.mkdir(root, 'newdir', 0o755, 0, 0), EEXIST);
      assert.equal(await be.mkdir(root, 'abs', 0o755, 0, 0), EEXIST);
      assert.equal(await be.mkdir(root, '..', 0o755, 0, 0), EINVAL);
    });

    it('symlink stores the target as text, resolving nothing', async () => {
      ok(await be.symlink(root, 'up', '../../../../etc/passwd', 0, 0));
      assert.equal(fs.readlinkSync(hostPath('up')), '../../../../etc/passwd');
      const n = ok(await be.walk(root, 'up'));
      assert.equal(n.type, S_IFLNK);
      assert.equal(await be.readlink(n), '../../../../etc/passwd');
      assert.equal(await be.symlink(root, 'e', '', 0, 0), ENOENT);
      assert.equal(await be.symlink(root, 'e', 'a\0b', 0, 0), EINVAL);
      assert.equal(await be.symlink(root, 'e', 'x'.repeat(4096), 0, 0), ENAMETOOLONG);
      assert.equal(await be.symlink(root, 'a/b', 'x', 0, 0), EINVAL);
    });
  });

  describe('link, unlink, rename', () => {
    it('link makes a hard link to a walked node', async () => {
      const hello = ok(await walkPath('etc', 'hello'));
      ok(await be.link(root, 'hl', hello));
      assert.equal(fs.statSync(hostPath('etc', 'hello')).nlink, 2);
      assert.equal(fs.readFileSync(hostPath('hl'), 'utf8'), 'hello');
      assert.equal(await be.link(root, 'hl', hello), EEXIST);
      assert.equal(await be.link(root, 'dir', ok(await be.walk(root, 'etc'))), EPERM);
    });

    it('link to a symlink out of the root links the symlink, never the file outside', async () => {
      for (const name of ['absfile', 'abs', 'rel']) {
        const sl = ok(await be.walk(root, name));
        ok(await be.link(root, `hl-${name}`, sl));
        assert.ok(fs.lstatSync(hostPath(`hl-${name}`)).isSymbolicLink());
      }
      const relfile = ok(await walkPath('etc', 'relfile'));
      ok(await be.link(root, 'hl-relfile', relfile));
      assert.ok(fs.lstatSync(hostPath('hl-relfile')).isSymbolicLink());
      // afterEach checks the marker still has one link.
    });

    it('unlink removes files; AT_REMOVEDIR removes empty directories', async () => {
      ok(await be.unlink(root, 'absfile', 0));
      assert.equal(fs.existsSync(t.marker), true);
      assert.equal(fs.existsSync(hostPath('absfile')), false);
      const etc = ok(await be.walk(root, 'etc'));
      assert.equal(await be.unlink(root, 'etc', 0), EISDIR);
      assert.equal(await be.unlink(root, 'etc', AT_REMOVEDIR), ENOTEMPTY);
      assert.equal(await be.unlink(etc, 'hello', AT_REMOVEDIR), ENOTDIR);
      ok(await be.unlink(etc, 'hello', 0));
      ok(await be.unlink(etc, 'relfile', 0));
      ok(await be.unlink(root, 'etc', AT_REMOVEDIR));
      assert.equal(fs.existsSync(hostPath('etc')), false);
      assert.equal(await be.unlink(root, 'missing', 0), ENOENT);
      assert.equal(await be.unlink(root, '..', AT_REMOVEDIR), EINVAL);
      assert.equal(await be.unlink(root, 'x', 0x100), EINVAL);
    });

    it('rename moves within and across directories', async () => {
      const etc = ok(await be.walk(root, 'etc'));
      ok(await be.rename(etc, 'hello', root, 'hello2'));
      assert.equal(fs.readFileSync(hostPath('hello2'), 'utf8'), 'hello');
      ok(await be.rename(root, 'hello2', root, 'hello3'));
      assert.equal(await be.rename(root, 'missing', root, 'x'), ENOENT);
      fs.mkdirSync(hostPath('d1'));
      fs.mkdirSync(hostPath('d2', 'sub'), { recursive: true });
      assert.equal(await be.rename(root, 'd1', root, 'd2'), ENOTEMPTY);
      assert.equal(await be.rename(root, 'hello3', root, '..'), EINVAL);
      assert.equal(await be.rename(root, 'hello3', root, '../outside/marker'), EINVAL);
      // Renaming a symlink out of the root moves the symlink.
      ok(await be.rename(root, 'abs', etc, 'abs'));
      assert.ok(fs.lstatSync(hostPath('etc', 'abs')).isSymbolicLink());
    });
  });

  describe('setattr', () => {
    it('changes mode, size and times with nanoseconds', async () => {
      const hello = ok(await walkPath('etc', 'hello'));
      ok(await be.setattr(hello, { mode: 0o640 }));
      assert.equal(fs.statSync(hostPath('etc', 'hello')).mode & 0o7777, 0o640);
      ok(await be.setattr(hello, { size: 2 }));
      assert.equal(fs.readFileSync(hostPath('etc', 'hello'), 'utf8'), 'he');
      ok(await be.setattr(hello, { size: 10 }));
      assert.equal(fs.statSync(hostPath('etc', 'hello')).size, 10);
      ok(await be.setattr(hello, { atime: [100, 1], mtime: [200, 999999999] }));
      let st = fs.statSync(hostPath('etc', 'hello'), { bigint: true });
      assert.equal(st.atimeNs, 100_000000001n);
      assert.equal(st.mtimeNs, 200_999999999n);
      ok(await be.setattr(hello, { mtime: 'now' }));
      st = fs.statSync(hostPath('etc', 'hello'), { bigint: true });
      assert.equal(st.atimeNs, 100_000000001n);
      assert.ok(st.mtimeNs > 1_600_000_000_000_000_000n);
      ok(await be.setattr(hello, {}));
    });

    it('changes the owner (as root)', async function () {
      if (process.geteuid?.() !== 0) this.skip();
      const hello = ok(await walkPath('etc', 'hello'));
      ok(await be.setattr(hello, { uid: 1234 }));
      ok(await be.setattr(hello, { gid: 4321 }));
      const st = fs.statSync(hostPath('etc', 'hello'));
      assert.deepEqual([st.uid, st.gid], [1234, 4321]);
    });

    it('on a symlink out of the root touches the symlink only', async () => {
      const sl = ok(await be.walk(root, 'absfile'));
      assert.equal(await be.setattr(sl, { mode: 0o777 }), EOPNOTSUPP);
      assert.equal(await be.setattr(sl, { size: 0 }), EINVAL);
      ok(await be.setattr(sl, { atime: [1, 2], mtime: [3, 4] }));
      assert.equal(fs.lstatSync(hostPath('absfile'), { bigint: true }).mtimeNs, 3_000000004n);
      if (process.geteuid?.() === 0) {
        ok(await be.setattr(sl, { uid: 77, gid: 77 }));
        assert.equal(fs.lstatSync(hostPath('absfile')).uid, 77);
      }
      // afterEach checks the marker is unchanged.
    });

    it('truncating a directory is EISDIR', async () => {
      assert.equal(await be.setattr(ok(await be.walk(root, 'etc')), { size: 0 }), EISDIR);
    });
  });

  describe('device files, fifos and sockets', () => {
    it('are walked and stat\'ed but never opened (EPERM, as runsc\'s gofer)', async function () {
      try {
        execFileSync('mknod', [hostPath('null'), 'c', '1', '3'], { stdio: 'ignore' });
      } catch {
        this.skip();
      }
      const dev = ok(await be.walk(root, 'null'));
      assert.equal(dev.type, S_IFCHR);
      assert.equal(ok(await be.getattr(dev)).rdev, BigInt(fs.statSync(hostPath('null')).rdev));
      assert.equal(await be.open(dev, O_RDONLY), EPERM);
      assert.equal(await be.open(dev, O_RDWR), EPERM);
    });

    it('refuses fifos and sockets for open', async () => {
      execFileSync('mkfifo', [hostPath('fifo')]);
      const fifo = ok(await be.walk(root, 'fifo'));
      assert.equal(fifo.type, S_IFIFO);
      assert.equal(await be.open(fifo, O_RDONLY), EPERM);
      const srv = net.createServer();
      await new Promise<void>((res) => srv.listen(hostPath('sock'), res));
      try {
        const sock = ok(await be.walk(root, 'sock'));
        assert.equal(sock.type, S_IFSOCK);
        assert.equal(await be.open(sock, O_RDWR), EPERM);
      } finally {
        await new Promise((res) => srv.close(res));
      }
    });
  });

  describe('renameat2 flags, mkfifo, and changes through an open file', () => {
    it('RENAME_NOREPLACE refuses an existing name; RENAME_EXCHANGE swaps; both together are EINVAL', async () => {
      fs.writeFileSync(hostPath('a'), 'A');
      fs.writeFileSync(hostPath('b'), 'B');
      assert.equal(await be.rename(root, 'a', root, 'b', RENAME_NOREPLACE), EEXIST);
      ok(await be.rename(root, 'a', root, 'b', RENAME_EXCHANGE));
      assert.equal(fs.readFileSync(hostPath('a'), 'utf8'), 'B');
      assert.equal(fs.readFileSync(hostPath('b'), 'utf8'), 'A');
      assert.equal(await be.rename(root, 'a', root, 'b', RENAME_NOREPLACE | RENAME_EXCHANGE), EINVAL);
      assert.equal(await be.rename(root, 'a', root, 'b', 4), EINVAL);
      ok(await be.rename(root, 'a', root, 'c', RENAME_NOREPLACE));
      assert.equal(fs.existsSync(hostPath('a')), false);
    });

    it('RENAME_EXCHANGE with a symlink out of the root moves the symlink itself', async () => {
      fs.writeFileSync(hostPath('f'), 'inside');
      ok(await be.rename(root, 'f', root, 'absfile', RENAME_EXCHANGE));
      assert.equal(fs.readlinkSync(hostPath('f')), t.marker);
      assert.equal(fs.readFileSync(hostPath('absfile'), 'utf8'), 'inside');
    });

    it('mkfifo makes a host FIFO with the exact mode; the node walks as a FIFO and never opens on the host', async () => {
      ok(await be.mkfifo(root, 'p', 0o640, 0, 0));
      const st = fs.lstatSync(hostPath('p'));
      assert.ok(st.isFIFO());
      assert.equal(st.mode & 0o7777, 0o640);
      const p = ok(await be.walk(root, 'p'));
      assert.equal(p.type, S_IFIFO);
      assert.equal(await be.open(p, O_RDONLY), EPERM);
      assert.equal(await be.mkfifo(root, 'p', 0o640, 0, 0), EEXIST);
      assert.equal(await be.mkfifo(root, 'dangling', 0o640, 0, 0), EEXIST);
      assert.equal(await be.mkfifo(root, '..', 0o640, 0, 0), EINVAL);
    });

    it('mksocket makes an inert host socket file with the exact mode (what bind() names); it walks as a socket and never opens on the host', async () => {
      ok(await be.mksocket(root, 'sock', 0o751, 0, 0));
      const st = fs.lstatSync(hostPath('sock'));
      assert.ok(st.isSocket());
      assert.equal(st.mode & 0o7777, 0o751);
      const s = ok(await be.walk(root, 'sock'));
      assert.equal(s.type, S_IFSOCK);
      assert.equal(await be.open(s, O_RDONLY), EPERM);
      assert.equal(await be.mksocket(root, 'sock', 0o640, 0, 0), EEXIST);
      assert.equal(await be.mksocket(root, '..', 0o640, 0, 0), EINVAL);
    });

    it('an open file changes its own inode (mode, size, times) after its name is gone, and allocates space', async () => {
      const { node, file } = ok(await be.create(root, 'g', O_RDWR, 0o600, 0, 0));
      ok(await be.unlink(root, 'g', 0));
      ok(await file.setattr({ mode: 0o640, size: 3, atime: [7, 8], mtime: [9, 10] }));
      const a = ok(await file.getattr());
      assert.deepEqual([a.mode & 0o7777, a.size, a.atimeSec, a.atimeNsec, a.mtimeSec, a.mtimeNsec, a.nlink], [0o640, 3, 7, 8, 9, 10, 0]);
      ok(await file.allocate(0, 8192));
      assert.equal(ok(await file.getattr()).size, 8192);
      assert.equal(await file.allocate(-1, 5), EINVAL);
      ok(await file.fsync(true));
      ok(await file.fsync());
      await file.close();
      await be.release(node);
    });
  });

  describe('a read-only backend', () => {
    it('refuses every mutation with EROFS and leaves the files unchanged', async () => {
      const snapshot = () =>
        execFileSync('find', [t.root, '-printf', '%p %y %m %s %n %T@ %l\\n']).toString() + fs.readFileSync(hostPath('etc', 'hello'), 'utf8');
      const before = snapshot();
      const ro = DirectBackend.open(t.root, { readonly: true });
      try {
        assert.equal(ro.readonly, true);
        const r = ok(await ro.root());
        const etc = ok(await ro.walk(r, 'etc'));
        const hello = ok(await ro.walk(etc, 'hello'));
        assert.equal(await ro.open(hello, O_WRONLY), EROFS);
        assert.equal(await ro.open(hello, O_RDWR), EROFS);
        assert.equal(await ro.open(hello, O_RDONLY | O_TRUNC), EROFS);
        assert.equal(await ro.open(hello, O_WRONLY | O_APPEND), EROFS);
        assert.equal(await ro.create(etc, 'new', O_RDWR, 0o644, 0, 0), EROFS);
        assert.equal(await ro.mkdir(etc, 'new', 0o755, 0, 0), EROFS);
        assert.equal(await ro.symlink(etc, 'new', 'x', 0, 0), EROFS);
        assert.equal(await ro.link(etc, 'new', hello), EROFS);
        assert.equal(await ro.unlink(etc, 'hello', 0), EROFS);
        assert.equal(await ro.unlink(r, 'etc', AT_REMOVEDIR), EROFS);
        assert.equal(await ro.rename(etc, 'hello', r, 'moved'), EROFS);
        assert.equal(await ro.rename(etc, 'hello', r, 'moved', RENAME_EXCHANGE), EROFS);
        assert.equal(await ro.mkfifo(etc, 'p', 0o644, 0, 0), EROFS);
        for (const set of [{ mode: 0o777 }, { uid: 1 }, { gid: 1 }, { size: 0 }, { atime: 'now' as const }, { mtime: [1, 1] as [number, number] }]) {
          assert.equal(await ro.setattr(hello, set), EROFS, JSON.stringify(set));
        }
        // Reading still works; the open file cannot change its inode either.
        const f = ok(await ro.open(hello, O_RDONLY));
        assert.equal(await f.setattr({ mode: 0o777 }), EROFS);
        assert.equal(await f.allocate(0, 10), EROFS);
        assert.equal(await readAll(f), 'hello');
        assert.equal(await f.write(Buffer.from('x'), 0), EBADF);
        ok(await ro.getattr(hello));
        ok(await ro.statfs(r));
      } finally {
        ro.close();
      }
      assert.equal(snapshot(), before);
    });
  });

  describe('rootless', () => {
    it('links (through procfs) and creates as an unprivileged user, still inside the root', function () {
      if (process.geteuid?.() !== 0) this.skip();
      execFileSync('chown', ['-R', '65534:65534', t.root]);
      fs.chownSync(t.tmp, 65534, 65534); // to reach the root; the marker keeps its owner
      // The child loads its modules as root, then becomes nobody: the checkout
      // (dist/, node_modules/) need not be readable by nobody (a clone under
      // /root or in a mkdtemp directory is not).
      const script = `
        const { DirectBackend } = require(${JSON.stringify(path.resolve(__dirname, '../../src/fs-gofer/direct.js'))});
        process.setgroups([]);
        process.setgid(65534);
        process.setuid(65534);
        (async () => {
          const b = DirectBackend.open(${JSON.stringify(t.root)}, { readonly: false });
          const r = await b.root();
          const hello = await b.walk(await b.walk(r, 'etc'), 'hello');
          const out = [
            String(await b.link(r, 'hl', hello)),
            String(await b.link(r, 'hl-abs', await b.walk(r, 'absfile'))),
            String((await b.create(r, 'new', 2, 0o640, 0, 0)).node !== undefined),
            String(await b.mkdir(r, 'd', 0o777, 0, 0)),
          ];
          b.close();
          process.stdout.write(out.join(' '));
        })();`;
      const out = execFileSync(process.execPath, ['-e', script]).toString();
      assert.equal(out, '0 0 true 0');
      assert.equal(fs.statSync(hostPath('hl')).ino, fs.statSync(hostPath('etc', 'hello')).ino);
      assert.ok(fs.lstatSync(hostPath('hl-abs')).isSymbolicLink());
      const st = fs.statSync(hostPath('new'));
      assert.deepEqual([st.uid, st.mode & 0o7777], [65534, 0o640]);
      assert.equal(fs.statSync(hostPath('d')).mode & 0o7777, 0o777);
    });
  });

  describe('in a user namespace that maps only the caller (rootless)', () => {
    it('creates files, directories and symlinks for a guest owner it cannot map: they stay the caller\'s', function () {
      const probe = spawnSync('unshare', ['--user', '--map-root-user', 'true']);
      if (probe.status !== 0) {
        console.log(`      (skipped: no user namespaces here: ${probe.error?.message ?? probe.stderr.toString().trim()})`);
        this.skip();
      }
      const script = `
        const { DirectBackend } = require(${JSON.stringify(path.resolve(__dirname, '../../src/fs-gofer/direct.js'))});
        (async () => {
          const b = DirectBackend.open(${JSON.stringify(t.root)}, { readonly: false });
          const r = await b.root();
          const made = await b.create(r, 'new', 2, 0o640, 1000, 1000);
          const out = [
            String(made.node !== undefined),
            String(await b.mkdir(r, 'd', 0o750, 1000, 1000)),
            String(await b.symlink(r, 's', 'new', 1000, 1000)),
            String(await b.mkfifo(r, 'p', 0o600, 1000, 1000)),
          ];
          b.close();
          process.stdout.write(out.join(' '));
        })();`;
      const out = execFileSync('unshare', ['--user', '--map-root-user', process.execPath, '-e', script]).toString();
      assert.equal(out, 'true 0 0 0');
      const me = process.geteuid!();
      for (const [name, mode] of [['new', 0o640], ['d', 0o750], ['p', 0o600]] as const) {
        const st = fs.statSync(hostPath(name));
        assert.deepEqual([st.uid, st.mode & 0o7777], [me, mode], name);
      }
      assert.equal(fs.lstatSync(hostPath('s')).uid, me);
    });
  });

  describe('confinement under races', () => {
    let child: ChildProcess | undefined;

    afterEach(async () => {
      if (child && child.exitCode === null) {
        const done = new Promise((res) => child!.once('exit', res));
        child.kill('SIGKILL');
        await done;
      }
      child = undefined;
    });

    /** Runs `script` (with `root` and `outside` defined) in a second process until killed; resolves once it has started swapping. */
    const startSwapper = async (script: string): Promise<void> => {
      const code = `const fs = require('fs'); const path = require('path');
        const root = ${JSON.stringify(t.root)}; const outside = ${JSON.stringify(t.outside)};
        let first = true;
        for (;;) { ${script}; if (first) { first = false; process.stdout.write('go\\n'); } }`;
      child = spawn(process.execPath, ['-e', code], { stdio: ['ignore', 'pipe', 'inherit'] });
      await new Promise<void>((res, rej) => {
        child!.stdout!.once('data', () => res());
        child!.once('exit', (c) => rej(new Error(`swapper exited ${c}`)));
      });
    };

    it('a symlink swapped in for a directory between walks never yields a file outside', async () => {
      // root/d is a directory holding f ("inside"); root/lnk a symlink to
      // outside/ (whose marker is also reachable as outside/f through a link
      // we make here, outside the root). A second process keeps swapping them.
      fs.mkdirSync(hostPath('d'));
      fs.writeFileSync(hostPath('d', 'f'), 'inside');
      fs.symlinkSync(t.outside, hostPath('lnk'));
      fs.symlinkSync('marker', path.join(t.outside, 'f'));
      await startSwapper(`
        try { fs.renameSync(path.join(root, 'd'), path.join(root, 'tmp')); } catch {}
        try { fs.renameSync(path.join(root, 'lnk'), path.join(root, 'd')); } catch {}
        try { fs.renameSync(path.join(root, 'd'), path.join(root, 'lnk')); } catch {}
        try { fs.renameSync(path.join(root, 'tmp'), path.join(root, 'd')); } catch {}`);
      const counts = { read: 0, symlink: 0, enoent: 0, enotdir: 0, other: 0 };
      const buf = new Uint8Array(64);
      // A few thousand rounds, and on a loaded machine more until both sides of the swap were seen.
      const deadline = Date.now() + 20_000;
      for (let i = 0; i < 3000 || ((counts.read === 0 || counts.symlink + counts.enotdir === 0) && Date.now() < deadline); i++) {
        const d = await be.walk(root, 'd');
        if (isErrno(d)) {
          counts[d === ENOENT ? 'enoent' : 'other']++;
          continue;
        }
        if (d.type === S_IFLNK) counts.symlink++;
        const f = await be.walk(d, 'f');
        if (isErrno(f)) {
          counts[f === ENOTDIR ? 'enotdir' : f === ENOENT ? 'enoent' : 'other']++;
        } else {
          const file = await be.open(f, O_RDWR);
          if (isErrno(file)) {
            counts.other++;
          } else {
            const n = ok(await file.read(buf, 0));
            const text = Buffer.from(buf.subarray(0, n)).toString();
            assert.equal(text, 'inside');
            assert.equal(await file.write(Buffer.from('i'), 0), 1);
            await file.close();
            counts.read++;
          }
          await be.release(f);
        }
        await be.release(d);
      }
      assert.equal(counts.other, 0, JSON.stringify(counts));
      // The race was really run: both sides of the swap were seen.
      assert.ok(counts.read > 0 && counts.symlink + counts.enotdir > 0, JSON.stringify(counts));
      fs.unlinkSync(path.join(t.outside, 'f'));
    });

    it('unlink, rename, link and mkfifo in a directory swapped for a symlink out act inside only', async () => {
      // root/d is a directory; root/lnk a symlink to outside/ (which holds
      // "marker"). Each round puts a "marker" into d and removes, renames,
      // links it through the walked node of d while a second process keeps
      // swapping d and lnk. afterEach checks outside/ is untouched.
      fs.mkdirSync(hostPath('d'));
      fs.symlinkSync(t.outside, hostPath('lnk'));
      await startSwapper(`
        try { fs.renameSync(path.join(root, 'd'), path.join(root, 'tmp')); } catch {}
        try { fs.renameSync(path.join(root, 'lnk'), path.join(root, 'd')); } catch {}
        try { fs.renameSync(path.join(root, 'd'), path.join(root, 'lnk')); } catch {}
        try { fs.renameSync(path.join(root, 'tmp'), path.join(root, 'd')); } catch {}`);
      const counts = { done: 0, symlink: 0, enoent: 0, other: 0 };
      const deadline = Date.now() + 20_000;
      for (let i = 0; i < 2000 || ((counts.done === 0 || counts.symlink === 0) && Date.now() < deadline); i++) {
        const d = await be.walk(root, 'd');
        if (isErrno(d)) {
          counts[d === ENOENT ? 'enoent' : 'other']++;
          continue;
        }
        if (d.type === S_IFLNK) {
          counts.symlink++;
          assert.equal(await be.unlink(d, 'marker', 0), ENOTDIR);
          assert.equal(await be.rename(d, 'marker', root, 'stolen'), ENOTDIR);
          assert.equal(await be.mkfifo(d, 'p', 0o644, 0, 0), ENOTDIR);
        } else {
          const c = await be.create(d, 'marker', O_WRONLY, 0o644, 0, 0);
          if (!isErrno(c)) {
            await c.file.close();
            ok(await be.link(d, 'hl', c.node));
            ok(await be.rename(d, 'hl', d, 'hl2', RENAME_NOREPLACE));
            ok(await be.rename(d, 'marker', d, 'hl2', RENAME_EXCHANGE));
            ok(await be.unlink(d, 'hl2', 0));
            ok(await be.unlink(d, 'marker', 0));
            ok(await be.mkfifo(d, 'p', 0o644, 0, 0));
            ok(await be.unlink(d, 'p', 0));
            await be.release(c.node);
            counts.done++;
          } else {
            counts.other++;
          }
        }
        await be.release(d);
      }
      assert.equal(counts.other, 0, JSON.stringify(counts));
      assert.ok(counts.done > 0 && counts.symlink > 0, JSON.stringify(counts));
    });

    it('a name swapped between a file and a symlink out is renamed, linked and removed as itself', async () => {
      // root/v alternates between a regular file and a symlink to the marker.
      fs.writeFileSync(hostPath('vf'), 'inside');
      fs.symlinkSync(t.marker, hostPath('vs'));
      await startSwapper(`
        try { fs.renameSync(path.join(root, 'vf'), path.join(root, 'v')); } catch {}
        try { fs.renameSync(path.join(root, 'v'), path.join(root, 'vf')); } catch {}
        try { fs.renameSync(path.join(root, 'vs'), path.join(root, 'v')); } catch {}
        try { fs.renameSync(path.join(root, 'v'), path.join(root, 'vs')); } catch {}`);
      let acted = 0;
      const deadline = Date.now() + 20_000;
      for (let i = 0; i < 2000 || (acted === 0 && Date.now() < deadline); i++) {
        const v = await be.walk(root, 'v');
        if (isErrno(v)) continue;
        const l = await be.link(root, 'copy', v);
        if (l === 0) {
          // The link names what was walked: a symlink stays a symlink, never the marker.
          const st = fs.lstatSync(hostPath('copy'));
          assert.ok(st.isSymbolicLink() || fs.readFileSync(hostPath('copy'), 'utf8') === 'inside');
          ok(await be.unlink(root, 'copy', 0));
          acted++;
        }
        if ((await be.rename(root, 'v', root, 'held', RENAME_NOREPLACE)) === 0) {
          const st = fs.lstatSync(hostPath('held'));
          assert.ok(st.isSymbolicLink() || st.isFile());
          ok(await be.rename(root, 'held', root, st.isSymbolicLink() ? 'vs2' : 'vf2'));
          // Put it back where the swapper expects it.
          fs.renameSync(hostPath(st.isSymbolicLink() ? 'vs2' : 'vf2'), hostPath(st.isSymbolicLink() ? 'vs' : 'vf'));
          acted++;
        }
        await be.release(v);
      }
      assert.ok(acted > 0);
    });

    it('a file swapped with a symlink out is never opened through the symlink', async () => {
      fs.writeFileSync(hostPath('f'), 'inside');
      fs.symlinkSync(t.marker, hostPath('s'));
      await startSwapper(`
        try { fs.renameSync(path.join(root, 'f'), path.join(root, 'tmp')); } catch {}
        try { fs.renameSync(path.join(root, 's'), path.join(root, 'f')); } catch {}
        try { fs.renameSync(path.join(root, 'f'), path.join(root, 's')); } catch {}
        try { fs.renameSync(path.join(root, 'tmp'), path.join(root, 'f')); } catch {}`);
      const counts = { read: 0, symlink: 0, enoent: 0, other: 0 };
      const buf = new Uint8Array(64);
      const deadline = Date.now() + 20_000;
      for (let i = 0; i < 3000 || ((counts.read === 0 || counts.symlink === 0) && Date.now() < deadline); i++) {
        const f = await be.walk(root, 'f');
        if (isErrno(f)) {
          counts[f === ENOENT ? 'enoent' : 'other']++;
          continue;
        }
        if (f.type === S_IFLNK) {
          counts.symlink++;
          assert.equal(await be.open(f, O_RDWR | O_TRUNC), ELOOP);
          assert.equal(await be.setattr(f, { size: 0 }), EINVAL);
          assert.equal(await be.setattr(f, { mode: 0o777 }), EOPNOTSUPP);
        } else {
          const file = ok(await be.open(f, O_RDWR));
          const n = ok(await file.read(buf, 0));
          assert.equal(Buffer.from(buf.subarray(0, n)).toString(), 'inside');
          ok(await be.setattr(f, { mode: 0o644, size: 6 }));
          await file.close();
          counts.read++;
        }
        await be.release(f);
      }
      assert.equal(counts.other, 0, JSON.stringify(counts));
      assert.ok(counts.read > 0 && counts.symlink > 0, JSON.stringify(counts));
    });
  });
});
