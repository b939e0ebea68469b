import * as assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { Errno, isErrno } from '../../src/linux/errno.js';
import type { BackendNode, FilesystemBackend } from '../../src/backend/backend.js';
import { connectIoFd } from '../../src/p9/backend.js';
import { connectBackend, startGofer, tmpdir } from './util.js';

function ok<T>(v: T | Errno): T {
  if (isErrno(v)) throw new Error(`unexpected ${v.name}`);
  return v;
}

async function walkPath(b: FilesystemBackend, root: BackendNode, p: string): Promise<BackendNode | Errno> {
  let n = root;
  for (const name of p.split('/').filter(Boolean)) {
    const next = await b.walk(n, name);
    if (isErrno(next)) return next;
    n = next;
  }
  return n;
}

for (const pool of [false, true]) {
  describe(`gofer over 9P: file operations (${pool ? 'I/O pool' : 'inline I/O'})`, () => {
    it('creates, writes, reads, lists, renames, links and removes files; attributes and statfs', async () => {
      const root = tmpdir('p9ops');
      fs.writeFileSync(path.join(root, 'hello.txt'), 'hello, world\n');
      fs.mkdirSync(path.join(root, 'sub'));
      fs.symlinkSync('../hello.txt', path.join(root, 'sub', 'link'));
      const g = startGofer(root, { pool });
      const b = await connectBackend(g, root);
      const r = ok(await b.root());
      const hello = ok(await b.walk(r, 'hello.txt'));
      assert.equal(hello.type, 0o100000);
      const a = ok(await b.getattr(hello));
      assert.equal(a.size, 13);
      assert.equal(a.ino, BigInt(fs.statSync(path.join(root, 'hello.txt')).ino));
      const f = ok(await b.open(hello, 0));
      const buf = new Uint8Array(100);
      assert.equal(ok(await f.read(buf, 7)), 6);
      assert.equal(Buffer.from(buf.subarray(0, 6)).toString(), 'world\n');
      await f.close();
      assert.equal(await b.walk(r, 'missing'), Errno.of(2));
      const sub = ok(await b.walk(r, 'sub'));
      const link = ok(await b.walk(sub, 'link'));
      assert.equal(link.type, 0o120000);
      assert.equal(ok(await b.readlink(link)), '../hello.txt');
      // create + big write (several msize chunks) + read back
      const c = ok(await b.create(r, 'big.bin', 2, 0o640, process.getuid!(), process.getgid!()));
      const data = Buffer.alloc(9 * 1024 * 1024 + 123);
      for (let i = 0; i < data.length; i++) data[i] = (i * 31) & 0xff;
      assert.equal(ok(await c.file.write(data, 0)), data.length);
      const back = new Uint8Array(data.length + 10);
      assert.equal(ok(await c.file.read(back, 0)), data.length);
      assert.ok(Buffer.from(back.subarray(0, data.length)).equals(data));
      assert.equal(ok(await b.getattr(c.node)).size, data.length);
      assert.equal(fs.statSync(path.join(root, 'big.bin')).mode & 0o777, 0o640);
      await c.file.close();
      // mkdir, symlink, mkfifo, link, rename, readdir, unlink
      ok(await b.mkdir(r, 'd', 0o755, 0, 0));
      ok(await b.symlink(r, 's', '/etc/passwd', 0, 0));
      ok(await b.mkfifo(r, 'p', 0o600, 0, 0));
      assert.ok(fs.statSync(path.join(root, 'p')).isFIFO());
      // A socket file through Tmknod (bind() of a Unix socket in the sandbox); device nodes stay refused.
      ok(await b.mksocket(r, 'sock', 0o600, 0, 0));
      assert.ok(fs.lstatSync(path.join(root, 'sock')).isSocket());
      ok(await b.unlink(r, 'sock', 0));
      ok(await b.link(r, 'hello2', hello));
      assert.equal(fs.statSync(path.join(root, 'hello2')).ino, fs.statSync(path.join(root, 'hello.txt')).ino);
      ok(await b.rename(r, 'hello2', sub, 'moved'));
      assert.equal(await b.rename(r, 'hello.txt', sub, 'moved', 1), Errno.of(17));
      const dir = ok(await b.open(r, 0o200000));
      const names: string[] = [];
      let cookie = 0;
      for (;;) {
        const ents = ok(await dir.readdir(cookie, 64));
        if (ents.length === 0) break;
        for (const e of ents) names.push(e.name);
        cookie = ents[ents.length - 1].next;
      }
      await dir.close();
      assert.deepEqual(names.sort(), ['.', '..', 'big.bin', 'd', 'hello.txt', 'p', 's', 'sub']);
      ok(await b.unlink(r, 'big.bin', 0));
      ok(await b.unlink(r, 'd', 0x200));
      assert.equal(await b.unlink(r, 'sub', 0x200), Errno.of(39));
      assert.deepEqual(fs.readdirSync(root).sort(), ['hello.txt', 'p', 's', 'sub']);
      // setattr: truncate, mode, times
      ok(await b.setattr(hello, { size: 5, mode: 0o600, mtime: [1000, 5] }));
      const st = fs.statSync(path.join(root, 'hello.txt'));
      assert.equal(st.size, 5);
      assert.equal(st.mode & 0o777, 0o600);
      assert.equal(Math.floor(st.mtimeMs), 1000000);
      assert.equal(ok(await b.getattr(hello)).size, 5, 'the attribute cache saw the change');
      const sfs = ok(await b.statfs(r));
      assert.ok(sfs.bsize > 0 && sfs.namelen > 0);
      b.close();
      await g.stop();
    });
  });
}

describe('gofer over 9P: confinement', () => {
  it('a read-only export refuses every change with EROFS and changes nothing', async () => {
    const root = tmpdir('p9ro');
    fs.writeFileSync(path.join(root, 'f'), 'x');
    const before = fs.readdirSync(root);
    const g = startGofer(root, { readonly: true });
    const b = await connectBackend(g, root, true);
    const r = ok(await b.root());
    const f = ok(await b.walk(r, 'f'));
    const EROFS = Errno.of(30);
    assert.equal(await b.create(r, 'n', 1, 0o644, 0, 0), EROFS);
    assert.equal(await b.mkdir(r, 'n', 0o755, 0, 0), EROFS);
    assert.equal(await b.symlink(r, 'n', 'x', 0, 0), EROFS);
    assert.equal(await b.link(r, 'n', f), EROFS);
    assert.equal(await b.unlink(r, 'f', 0), EROFS);
    assert.equal(await b.rename(r, 'f', r, 'g'), EROFS);
    assert.equal(await b.setattr(f, { size: 0 }), EROFS);
    assert.equal(await b.open(f, 1), EROFS);
    assert.equal(await b.open(f, 0o1000), EROFS);
    assert.deepEqual(fs.readdirSync(root), before);
    assert.equal(fs.readFileSync(path.join(root, 'f'), 'utf8'), 'x');
    b.close();
    await g.stop();
  });

  it('an export of one regular file: attached as a file, read and written, nothing walked below it; read-only refuses writes', async () => {
    const dir = tmpdir('p9file');
    const src = path.join(dir, 'hosts');
    fs.writeFileSync(src, '127.0.0.1 localhost\n');
    for (const readonly of [false, true]) {
      const g = startGofer(src, { readonly, fileRoot: true });
      const b = await connectBackend(g, src, readonly, true);
      const r = ok(await b.root());
      assert.equal(r.type, 0o100000);
      assert.equal(ok(await b.getattr(r)).size, fs.statSync(src).size);
      assert.equal(await b.walk(r, 'x'), Errno.of(20));
      assert.equal(await walkPath(b, r, '../etc'), Errno.of(20));
      assert.equal(await b.create(r, 'x', 1, 0o644, 0, 0), Errno.of(20));
      if (readonly) {
        assert.equal(await b.open(r, 1), Errno.of(30));
        assert.equal(await b.setattr(r, { size: 0 }), Errno.of(30));
      } else {
        const f = ok(await b.open(r, 2));
        assert.equal(ok(await f.write(Buffer.from('10.0.0.1 added\n'), fs.statSync(src).size)), 15);
        await f.close();
      }
      b.close();
      await g.stop();
    }
    assert.equal(fs.readFileSync(src, 'utf8'), '127.0.0.1 localhost\n10.0.0.1 added\n');
    assert.deepEqual(fs.readdirSync(dir), ['hosts']);
    // Where the client expects a directory (a rootfs), a file export is refused at attach.
    const g = startGofer(src, { fileRoot: true });
    await assert.rejects(connectIoFd(g.clientFd, src, 0, false), /9P attach failed: ENOTDIR/);
    await g.stop();
  });

  it('symlinks out of the root are never followed, `..` stops at the root, device files do not open', async () => {
    const outside = tmpdir('p9out');
    fs.writeFileSync(path.join(outside, 'secret'), 'SECRET');
    const root = tmpdir('p9esc');
    fs.symlinkSync(path.join(outside, 'secret'), path.join(root, 'abs'));
    fs.symlinkSync(path.relative(root, path.join(outside, 'secret')), path.join(root, 'rel'));
    fs.symlinkSync(outside, path.join(root, 'dirlink'));
    const g = startGofer(root);
    const b = await connectBackend(g, root);
    const r = ok(await b.root());
    for (const n of ['abs', 'rel']) {
      const l = ok(await b.walk(r, n));
      assert.equal(l.type, 0o120000);
      assert.equal(await b.open(l, 0), Errno.of(40), 'opening a symlink is ELOOP, never its target');
      assert.equal(await b.setattr(l, { mode: 0o777 }), Errno.of(95));
    }
    const dl = ok(await b.walk(r, 'dirlink'));
    assert.equal(await b.walk(dl, 'secret'), Errno.of(20), 'walking below a symlink is ENOTDIR');
    assert.equal(await b.walk(r, '..'), Errno.of(22));
    assert.equal(await b.walk(r, 'a/b'), Errno.of(22));
    // A raw `..` walk at the root stays at the root.
    const p9 = await import('../../src/p9/codec.js');
    const fid = b.client.allocFid();
    const w = await b.client.rpc({ type: p9.MsgType.Twalk, tag: 0, fid: (r as unknown as { fid: number }).fid, newfid: fid, names: ['..', '..', '..'] });
    assert.ok(!isErrno(w));
    const ga = await b.client.rpc({ type: p9.MsgType.Tgetattr, tag: 0, fid, mask: 0x7ffn });
    assert.ok(!isErrno(ga));
    assert.equal((ga.qid as { path: bigint }).path, BigInt(fs.statSync(root).ino));
    // /dev/null bind-mounted in? A device node in the tree: make one only as root.
    if (process.getuid?.() === 0) {
      fs.mkdirSync(path.join(root, 'dev'));
      require('node:child_process').execFileSync('mknod', [path.join(root, 'dev', 'null'), 'c', '1', '3']);
      const dn = ok(await walkPath(b, r, 'dev/null'));
      assert.equal(await b.open(dn, 2), Errno.of(1), 'device files are refused (EPERM)');
    }
    assert.equal(fs.readFileSync(path.join(outside, 'secret'), 'utf8'), 'SECRET');
    b.close();
    await g.stop();
  });

  it('a symlink swapped in during walks never leads out (race, many iterations)', async () => {
    const outside = tmpdir('p9raceout');
    fs.writeFileSync(path.join(outside, 'secret'), 'SECRET');
    const root = tmpdir('p9race');
    fs.mkdirSync(path.join(root, 'd'));
    fs.writeFileSync(path.join(root, 'd', 'secret'), 'inside');
    const g = startGofer(root);
    const b = await connectBackend(g, root);
    const r = ok(await b.root());
    // A host process flips d between a real directory and a symlink to outside.
    const flipper = require('node:child_process').spawn('sh', ['-c', `cd '${root}'; while :; do mv d d.real 2>/dev/null; ln -s '${outside}' d; rm -f d; mv d.real d 2>/dev/null; done`]);
    let leaks = 0;
    let reads = 0;
    try {
      for (let i = 0; i < 1500; i++) {
        const d = await b.walk(r, 'd');
        if (isErrno(d)) continue;
        const s = await b.walk(d, 'secret');
        await b.release(d);
        if (isErrno(s)) continue;
        const f = await b.open(s, 0);
        await b.release(s);
        if (isErrno(f)) continue;
        const buf = new Uint8Array(16);
        const n = ok(await f.read(buf, 0));
        reads++;
        if (Buffer.from(buf.subarray(0, n)).toString() === 'SECRET') leaks++;
        await f.close();
      }
    } finally {
      flipper.kill();
    }
    assert.equal(leaks, 0);
    assert.ok(reads > 0, 'some walks reached the inside file');
    b.close();
    await g.stop();
  });

  it('hard links can only name files of the export', async () => {
    const outside = tmpdir('p9lnout');
    fs.writeFileSync(path.join(outside, 'secret'), 'SECRET');
    const root = tmpdir('p9ln');
    fs.symlinkSync(path.join(outside, 'secret'), path.join(root, 'abs'));
    const g = startGofer(root);
    const b = await connectBackend(g, root);
    const r = ok(await b.root());
    // Linking the symlink links the symlink itself, never its target.
    const l = ok(await b.walk(r, 'abs'));
    ok(await b.link(r, 'hard', l));
    assert.ok(fs.lstatSync(path.join(root, 'hard')).isSymbolicLink());
    assert.equal(fs.statSync(path.join(outside, 'secret')).nlink, 1);
    // A fid number the connection never walked is EBADF.
    const p9 = await import('../../src/p9/codec.js');
    const bad = await b.client.rpc({ type: p9.MsgType.Tlink, tag: 0, dfid: (r as unknown as { fid: number }).fid, fid: 99999, name: 'x' });
    assert.equal(bad, Errno.of(9));
    b.close();
    await g.stop();
  });
});
