// The dentry cache's bound and the file-access modes, over a live gofer
// connection in this process: walking many files keeps the gofer's fids
// bounded, evicted files are walked to again when used, a dentry that is
// still held is found again (one live dentry per name), exclusive mounts
// cache attributes, shared ones see the host's changes.

import { strict as assert } from 'node:assert';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { Vfs } from '../../src/kernel/vfs/vfs.js';
import { DentryCache } from '../../src/kernel/vfs/dcache.js';
import { BackendInode, BackendMount, type FileAccess } from '../../src/kernel/vfs/backend-inode.js';
import * as namei from '../../src/kernel/vfs/namei.js';
import type { Dentry } from '../../src/kernel/vfs/inode.js';
import type { Attr } from '../../src/backend/backend.js';
import type { P9Backend } from '../../src/p9/backend.js';
import { ENOENT, Errno, isErrno } from '../../src/linux/errno.js';
import * as abi from '../../src/linux/abi.js';
import { connectBackend, startGofer, tmpdir, type LiveGofer } from '../fs-gofer/util.js';
import { closeFd } from '../../src/host/ffi.js';

function ok<T>(v: T | Errno): T {
  if (isErrno(v)) assert.fail(`unexpected ${v.name}`);
  return v;
}

const ROOT = { euid: 0, egid: 0, groups: [] as number[] };

describe('kernel/vfs: the bounded dentry cache and file-access modes (over the gofer)', function () {
  this.timeout(120_000);
  let host: string;
  let g: LiveGofer;
  let b: P9Backend;

  async function vfsOver(access: FileAccess, limit: number): Promise<Vfs> {
    b = await connectBackend(g, host);
    return new Vfs(new BackendInode(new BackendMount(b, access), ok(await b.root())), undefined, new DentryCache(limit));
  }
  const resolve = (vfs: Vfs, p: string) => vfs.resolve(vfs.root, vfs.root, p, { followLast: true });
  const statOf = async (vfs: Vfs, p: string): Promise<Attr> => ok(await ok(await resolve(vfs, p)).inode.getattr());
  const readAll = async (d: Dentry): Promise<string> => {
    const f = ok(await d.inode.open(abi.O_RDONLY, d.path()));
    const data = ok(await f.read(4096));
    await f.unref();
    return Buffer.from(data).toString();
  };

  beforeEach(() => {
    host = tmpdir('dcache');
    g = startGofer(host);
  });

  afterEach(async () => {
    b?.close();
    await g.stop();
    fs.rmSync(host, { recursive: true, force: true });
  });

  it('walking 20,000 distinct files keeps the live fids bounded; evicted files are walked to again on demand', async () => {
    const dirs = 20;
    const per = 1000;
    for (let d = 0; d < dirs; d++) {
      fs.mkdirSync(path.join(host, `d${d}`));
      for (let i = 0; i < per; i++) fs.writeFileSync(path.join(host, `d${d}`, `f${i}`), `${d}/${i}`);
    }
    const limit = 200;
    const vfs = await vfsOver('exclusive', limit);
    let peak = 0;
    for (let d = 0; d < dirs; d++) {
      for (let i = 0; i < per; i++) {
        const a = await statOf(vfs, `/d${d}/f${i}`);
        assert.equal(a.size, `${d}/${i}`.length);
        peak = Math.max(peak, b.client.liveFids);
      }
    }
    // The root's, one per directory holding cached children, the evictable ones; a little slack for fids in flight.
    assert.ok(peak <= limit + dirs + 8, `peak live fids ${peak} with a bound of ${limit}`);
    assert.ok(vfs.dcache.size <= limit);
    assert.ok(vfs.dcache.evictions >= dirs * per - limit - dirs);
    // The first files were evicted long ago: walked to again, they read the same.
    for (let i = 0; i < 5; i++) assert.equal(await readAll(ok(await resolve(vfs, `/d0/f${i}`))), `0/${i}`);
    assert.ok(b.client.liveFids <= limit + dirs + 8);
  });

  it('a held dentry survives eviction as itself: found again by its name, renamed with it, its inode walked to again', async () => {
    fs.mkdirSync(path.join(host, 'keep'));
    fs.writeFileSync(path.join(host, 'keep', 'data'), 'kept');
    for (let i = 0; i < 50; i++) fs.writeFileSync(path.join(host, `x${i}`), '');
    const vfs = await vfsOver('exclusive', 4);
    const held = ok(await resolve(vfs, '/keep')); // a cwd, say
    const file = ok(await resolve(vfs, '/keep/data'));
    for (let i = 0; i < 50; i++) await statOf(vfs, `/x${i}`);
    assert.ok(vfs.dcache.evictions > 0);
    // Found again by name: the same dentry, not a second one.
    assert.equal(ok(await resolve(vfs, '/keep')), held);
    for (let i = 0; i < 50; i++) await statOf(vfs, `/x${i}`);
    // Its inode walks to its file again when used (relative lookups from it, reads).
    assert.equal(await readAll(ok(await vfs.resolve(vfs.root, held, 'data', { followLast: true }))), 'kept');
    assert.equal(await readAll(file), 'kept');
    // A rename moves the held dentry (a cwd shows its new path).
    ok(await namei.renameAt({ vfs, root: vfs.root, cred: ROOT, umask: 0o22 }, vfs.root, '/keep', vfs.root, '/moved', 0));
    assert.equal(held.path(), '/moved');
    assert.ok(fs.existsSync(path.join(host, 'moved', 'data')));
    for (let i = 0; i < 50; i++) await statOf(vfs, `/x${i}`);
    assert.equal(await readAll(ok(await vfs.resolve(vfs.root, held, 'data', { followLast: true }))), 'kept');
    // Unlinked while evicted: the name is gone, the held dentry is marked deleted.
    ok(await namei.removeAt({ vfs, root: vfs.root, cred: ROOT, umask: 0o22 }, vfs.root, '/moved/data', false));
    assert.equal(await resolve(vfs, '/moved/data'), ENOENT);
  });

  it('open files of one inode share one backend file per access mode: a second open costs no fid, positions stay their own', async () => {
    fs.writeFileSync(path.join(host, 's'), '0123456789');
    const vfs = await vfsOver('exclusive', 100);
    const d = ok(await resolve(vfs, '/s'));
    const text = (u: Uint8Array | Errno) => Buffer.from(ok(u)).toString();
    const r1 = ok(await d.inode.open(abi.O_RDONLY, '/s'));
    const fids = b.client.liveFids;
    const r2 = ok(await d.inode.open(abi.O_RDONLY, '/s'));
    assert.equal(b.client.liveFids, fids, 'the second read-only open shares the first one\'s fid');
    assert.equal(text(await r1.read(4)), '0123');
    assert.equal(text(await r2.read(2)), '01');
    assert.equal(text(await r1.read(2)), '45');
    const w = ok(await d.inode.open(abi.O_WRONLY, '/s'));
    assert.equal(b.client.liveFids, fids + 1, 'another access mode, another fid');
    assert.equal(ok(await w.pwrite(new TextEncoder().encode('ab'), 0)), 2);
    assert.equal(text(await r2.pread(3, 0)), 'ab2');
    for (const f of [r1, r2, w]) await f.unref();
    // Kept for the next opens while the inode is cached.
    const r3 = ok(await d.inode.open(abi.O_RDONLY, '/s'));
    assert.equal(b.client.liveFids, fids + 1);
    assert.equal(text(await r3.read(10)), 'ab23456789');
    await r3.unref();
    // Dropped with the inode (eviction): the handles' fids go too.
    assert.equal(d.inode.drop(), true);
    await new Promise((res) => setTimeout(res, 50)); // the clunks' answers
    assert.equal(b.client.liveFids, fids - 2, 'the node and both handles clunked');
    assert.equal(await readAll(d), 'ab23456789', 'walked to again on demand');
  });

  /** Round trips to the gofer of 10 stat+open+pread+close of /data/hello.txt after a first one (which walks and opens). */
  async function roundTripsOfCachedOpens(access: FileAccess, donate = false): Promise<{ vfs: Vfs; rpcs: number }> {
    fs.mkdirSync(path.join(host, 'data'));
    fs.writeFileSync(path.join(host, 'data', 'hello.txt'), 'hello');
    if (donate) {
      // A gofer with a donation channel (src/p9/donation.ts) in place of beforeEach's.
      closeFd(g.clientFd);
      await g.stop();
      g = startGofer(host, { donate: true });
    }
    const vfs = await vfsOver(access, 100);
    const client = b.client;
    let rpcs = 0;
    const rpc = client.rpc.bind(client);
    client.rpc = (m, tag) => {
      rpcs++;
      return rpc(m, tag);
    };
    const statOpenClose = async (): Promise<string> => {
      const d = ok(await resolve(vfs, '/data/hello.txt'));
      const size = ok(await d.inode.getattr()).size;
      const f = ok(await d.inode.open(abi.O_RDONLY, d.path()));
      const text = Buffer.from(ok(await f.pread(16, 0))).toString();
      await f.unref();
      return `${size} ${text}`;
    };
    assert.equal(await statOpenClose(), '5 hello');
    rpcs = 0;
    for (let i = 0; i < 10; i++) assert.equal(await statOpenClose(), '5 hello');
    return { vfs, rpcs };
  }

  it('round trips, exclusive: a cached file\'s walk, stat, open and close cost none (only the reads reach the gofer)', async () => {
    const { vfs, rpcs } = await roundTripsOfCachedOpens('exclusive');
    assert.equal(rpcs, 10, `${rpcs} round trips for 10 stat+open+pread+close of a cached file`);
    fs.writeFileSync(path.join(host, 'data', 'hello.txt'), 'hello, world'); // behind the sandbox's back
    assert.equal((await statOf(vfs, '/data/hello.txt')).size, 5, 'exclusive: the cached size');
  });

  it('round trips, exclusive, with donated fds: none at all (the preads go to the donated host fd)', async () => {
    const { vfs, rpcs } = await roundTripsOfCachedOpens('exclusive', true);
    assert.equal(rpcs, 0, `${rpcs} round trips for 10 stat+open+pread+close of a cached file`);
    assert.equal(b.donations.taken, 1, 'one open file, kept by the inode and shared');
    fs.writeFileSync(path.join(host, 'data', 'hello.txt'), 'HELLO'); // same size, behind the sandbox's back
    const d = ok(await resolve(vfs, '/data/hello.txt'));
    assert.equal(await readAll(d), 'HELLO', 'the data is the host file\'s own');
  });

  it('round trips, shared: every walk revalidates and every stat fetches, so a change on the host is seen', async () => {
    const { vfs, rpcs } = await roundTripsOfCachedOpens('shared');
    // Two revalidating walks (data, hello.txt) and a getattr on top of each read.
    assert.ok(rpcs >= 40, `${rpcs} round trips for 10`);
    fs.writeFileSync(path.join(host, 'data', 'hello.txt'), 'hello, world');
    assert.equal((await statOf(vfs, '/data/hello.txt')).size, 12, 'shared: the host\'s write is seen');
  });

  it('exclusive: attributes stay cached until the sandbox changes something', async () => {
    fs.writeFileSync(path.join(host, 'f'), 'abc');
    const ex = await vfsOver('exclusive', 100);
    assert.equal((await statOf(ex, '/f')).size, 3);
    fs.writeFileSync(path.join(host, 'f'), 'abcdef'); // behind the sandbox's back
    assert.equal((await statOf(ex, '/f')).size, 3, 'exclusive: cached');
    const fd = ok(await ok(await resolve(ex, '/f')).inode.open(abi.O_WRONLY, '/f'));
    ok(await fd.pwrite(new Uint8Array(8), 0)); // a change through the sandbox
    await fd.unref();
    assert.equal((await statOf(ex, '/f')).size, 8, 'exclusive: a write of ours invalidates');
  });

  it('exclusive: absent names are remembered (bounded as the rest) until the sandbox makes them', async () => {
    const ex = await vfsOver('exclusive', 50);
    const ctx = { vfs: ex, root: ex.root, cred: ROOT, umask: 0o22 };
    assert.equal(await resolve(ex, '/late'), ENOENT);
    fs.writeFileSync(path.join(host, 'late'), 'behind our back');
    assert.equal(await resolve(ex, '/late'), ENOENT, 'the negative dentry answers');
    fs.rmSync(path.join(host, 'late'));
    ok(await namei.mknodAt(ctx, ex.root, '/late', abi.S_IFREG | 0o644, 0n));
    assert.equal((await statOf(ex, '/late')).size, 0, 'a creation of ours replaces it');
    ok(await namei.removeAt(ctx, ex.root, '/late', false));
    assert.equal(await resolve(ex, '/late'), ENOENT);
    for (let i = 0; i < 1000; i++) assert.equal(await resolve(ex, `/missing${i}`), ENOENT);
    assert.ok(ex.dcache.size <= 50, `${ex.dcache.size} cached`);
    const fids = b.client.liveFids;
    assert.ok(fids <= 4, `${fids} live fids after 1000 negative lookups`);
  });

  it('shared: the host\'s changes are seen; a name the host replaced gets a new dentry', async () => {
    fs.writeFileSync(path.join(host, 'f'), 'abcdefgh');
    const sh = await vfsOver('shared', 100);
    const before = ok(await resolve(sh, '/f'));
    assert.equal((await statOf(sh, '/f')).size, 8);
    fs.writeFileSync(path.join(host, 'f'), 'x');
    assert.equal((await statOf(sh, '/f')).size, 1, 'shared: the host\'s write is seen');
    assert.equal(ok(await resolve(sh, '/f')), before, 'shared: the same file keeps its dentry');
    // The host replaces the file: the name now names another file, and gets a new dentry.
    fs.rmSync(path.join(host, 'f'));
    fs.writeFileSync(path.join(host, 'f'), 'new file');
    const after = ok(await resolve(sh, '/f'));
    assert.notEqual(after, before);
    assert.equal(before.deleted, true);
    assert.equal(await readAll(after), 'new file');
    fs.rmSync(path.join(host, 'f'));
    assert.equal(await resolve(sh, '/f'), ENOENT, 'shared: a name the host removed is gone');
    fs.writeFileSync(path.join(host, 'f'), 'back');
    assert.equal(await readAll(ok(await resolve(sh, '/f'))), 'back', 'shared: no negative dentry hides a new name');
  });
});
