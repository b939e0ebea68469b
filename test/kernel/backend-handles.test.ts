// The backend files the VFS keeps per inode and access mode (gVisor's dentry
// handles, src/kernel/vfs/backend-handle.ts), with a gofer that donates its
// host fds and in direct mode: reads and writes through a held host fd answer
// at once, unused kept handles are bounded (IdleHandles) so that neither
// boot's fds nor the donation channel's room run out, and a kept fd never
// serves a file the name no longer names.

import { strict as assert } from 'node:assert';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { Vfs } from '../../src/kernel/vfs/vfs.js';
import { DentryCache } from '../../src/kernel/vfs/dcache.js';
import { BackendInode, BackendMount, type FileAccess } from '../../src/kernel/vfs/backend-inode.js';
import { IdleHandles } from '../../src/kernel/vfs/backend-handle.js';
import * as namei from '../../src/kernel/vfs/namei.js';
import type { File } from '../../src/kernel/files/file.js';
import { DirectBackend } from '../../src/fs-gofer/direct.js';
import type { P9Backend } from '../../src/p9/backend.js';
import { Errno, isErrno } from '../../src/linux/errno.js';
import * as abi from '../../src/linux/abi.js';
import { connectBackend, startGofer, tmpdir, type LiveGofer } from '../fs-gofer/util.js';

function ok<T>(v: T | Errno): T {
  if (isErrno(v)) assert.fail(`unexpected ${v.name}`);
  return v;
}

/** A value that must be there now, not a Promise (the call did not block). */
function now<T>(v: T | Promise<T>, what: string): T {
  assert.ok(!(v instanceof Promise), `${what} answered with a Promise`);
  return v as T;
}

const ROOT = { euid: 0, egid: 0, groups: [] as number[] };
const text = (u: Uint8Array | Errno) => Buffer.from(ok(u)).toString();

describe('kernel/vfs: kept backend handles (donated and direct host fds)', function () {
  this.timeout(60_000);
  let host: string;
  let g: LiveGofer | undefined;
  let b: P9Backend | undefined;
  let direct: DirectBackend | undefined;

  async function overGofer(access: FileAccess, idle: IdleHandles, maxHeld?: number): Promise<Vfs> {
    g = startGofer(host, { donate: true, maxHeld });
    b = await connectBackend(g, host);
    return new Vfs(new BackendInode(new BackendMount(b, access, idle), ok(await b.root())), undefined, new DentryCache(1000));
  }

  async function overDirect(idle: IdleHandles): Promise<Vfs> {
    direct = DirectBackend.open(host, { readonly: false });
    return new Vfs(new BackendInode(new BackendMount(direct, 'exclusive', idle), ok(await direct.root())), undefined, new DentryCache(1000));
  }

  /** Counts b's round trips from now on. */
  function countRpcs(p: P9Backend): { n: number } {
    const count = { n: 0 };
    const rpc = p.client.rpc.bind(p.client);
    p.client.rpc = (m, tag) => {
      count.n++;
      return rpc(m, tag);
    };
    return count;
  }

  const open = async (vfs: Vfs, p: string, flags: number): Promise<File> => {
    const d = ok(await vfs.resolve(vfs.root, vfs.root, p, { followLast: true }));
    return ok(await d.inode.open(flags, p));
  };

  beforeEach(() => {
    host = tmpdir('handles');
  });

  afterEach(async () => {
    b?.close();
    b = undefined;
    await g?.stop();
    g = undefined;
    direct?.close();
    direct = undefined;
    fs.rmSync(host, { recursive: true, force: true });
  });

  it('a donated file\'s read, write, pread and pwrite answer at once, with no round trip, on the host\'s own file', async () => {
    fs.writeFileSync(path.join(host, 'io'), '0123456789');
    const vfs = await overGofer('exclusive', new IdleHandles(8));
    const f = await open(vfs, '/io', abi.O_RDWR);
    const rpcs = countRpcs(b!);
    assert.equal(text(now(f.read(4), 'read')), '0123');
    assert.equal(ok(now(f.write(new TextEncoder().encode('ab')), 'write')), 2);
    assert.equal(ok(now(f.pwrite(new TextEncoder().encode('Z'), 9), 'pwrite')), 1);
    assert.equal(text(now(f.pread(10, 0), 'pread')), '0123ab678Z');
    assert.equal(rpcs.n, 0, `${rpcs.n} round trips`);
    assert.equal(fs.readFileSync(path.join(host, 'io'), 'utf8'), '0123ab678Z');
    await f.unref();
  });

  it('direct mode: reads and writes answer at once', async () => {
    fs.writeFileSync(path.join(host, 'io'), 'abc');
    const vfs = await overDirect(new IdleHandles(8));
    const f = await open(vfs, '/io', abi.O_RDWR);
    assert.equal(ok(now(f.pwrite(new TextEncoder().encode('XY'), 1), 'pwrite')), 2);
    assert.equal(text(now(f.pread(8, 0), 'pread')), 'aXY');
    await f.unref();
  });

  for (const mode of ['direct', 'gofer'] as const) {
    it(`${mode}: write and pwrite on an O_APPEND file append, whatever the offset, as on Linux`, async () => {
      fs.writeFileSync(path.join(host, 'log'), 'ab');
      const vfs = mode === 'direct' ? await overDirect(new IdleHandles(8)) : await overGofer('exclusive', new IdleHandles(8));
      const f = await open(vfs, '/log', abi.O_WRONLY | abi.O_APPEND);
      assert.equal(ok(await f.write(new TextEncoder().encode('cd'))), 2);
      assert.equal(ok(await f.pwrite(new TextEncoder().encode('ef'), 0)), 2);
      assert.equal(fs.readFileSync(path.join(host, 'log'), 'utf8'), 'abcdef');
      await f.unref();
    });
  }

  it('unused kept handles are bounded: every open of many files still gets a donated fd, the newest reopen costs nothing', async () => {
    const files = 40;
    for (let i = 0; i < files; i++) fs.writeFileSync(path.join(host, `f${i}`), `file ${i}`);
    const idle = new IdleHandles(4);
    const vfs = await overGofer('exclusive', idle, 8);
    for (let i = 0; i < files; i++) {
      const f = await open(vfs, `/f${i}`, abi.O_RDONLY);
      assert.equal(text(now(f.pread(16, 0), 'pread')), `file ${i}`, `f${i} reads through a donated fd`);
      await f.unref();
      assert.ok(idle.size <= 4, `${idle.size} unused handles kept`);
    }
    assert.equal(b!.donations.taken, files, 'each open got its fd: the channel (8 in use at most) never filled up');
    const rpcs = countRpcs(b!);
    const again = await open(vfs, `/f${files - 1}`, abi.O_RDONLY);
    assert.equal(rpcs.n, 0, 'the newest file\'s handle is still kept');
    await again.unref();
    const old = await open(vfs, '/f0', abi.O_RDONLY);
    assert.ok(rpcs.n > 0, 'the oldest file\'s handle was closed: opened anew');
    assert.equal(text(await old.pread(16, 0)), 'file 0');
    await old.unref();
    assert.equal(b!.donations.taken, files + 1);
  });

  it('direct mode: opening a thousand files holds at most the bound of host fds once they are closed', async () => {
    const files = 1000;
    for (let i = 0; i < files; i++) fs.writeFileSync(path.join(host, `f${i}`), 'x');
    const vfs = await overDirect(new IdleHandles(16));
    const fdsBefore = fs.readdirSync('/proc/self/fd').length;
    for (let i = 0; i < files; i++) await (await open(vfs, `/f${i}`, abi.O_RDONLY)).unref();
    const grown = fs.readdirSync('/proc/self/fd').length - fdsBefore;
    // Each cached file keeps its O_PATH node (the dentry cache bounds those); the opened fds are bounded by IdleHandles.
    assert.ok(grown <= files + 16 + 4, `${grown} more host fds after ${files} opens and closes`);
    const held = (direct as unknown as { files: Set<unknown> }).files.size;
    assert.ok(held <= 16, `${held} host files open after ${files} opens and closes`);
  });

  it('shared, donated: a file the host put in the name\'s place is opened anew; an unlinked file\'s handle goes with its last close', async () => {
    fs.writeFileSync(path.join(host, 'f'), 'old');
    const vfs = await overGofer('shared', new IdleHandles(8));
    const f1 = await open(vfs, '/f', abi.O_RDONLY);
    assert.equal(text(await f1.pread(8, 0)), 'old');
    await f1.unref();
    // Behind the sandbox's back: a new file renamed over the name (the kept fd names the old one).
    fs.writeFileSync(path.join(host, 'f.new'), 'new!');
    fs.renameSync(path.join(host, 'f.new'), path.join(host, 'f'));
    const f2 = await open(vfs, '/f', abi.O_RDONLY);
    assert.equal(text(await f2.pread(8, 0)), 'new!', 'shared: the host\'s new file, not the kept handle of the old one');
    // The host writes the same file: seen through the donated fd at once.
    fs.writeFileSync(path.join(host, 'f'), 'NEW!');
    assert.equal(text(await f2.pread(8, 0)), 'NEW!');
    const fids = b!.client.liveFids;
    const ctx = { vfs, root: vfs.root, cred: ROOT, umask: 0o22 };
    ok(await namei.removeAt(ctx, vfs.root, '/f', false));
    assert.equal(text(await f2.pread(8, 0)), 'NEW!', 'an open file outlives its name');
    await f2.unref();
    await new Promise((res) => setTimeout(res, 50)); // the clunks' answers
    assert.ok(b!.client.liveFids < fids, `the unlinked file's handle was let go (${b!.client.liveFids} live fids, ${fids} before)`);
  });
});
