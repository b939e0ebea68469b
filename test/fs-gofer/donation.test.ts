// Donated host fds (src/p9/donation.ts, src/fs-gofer/donor.ts): the gofer
// opens a regular file and passes its fd on the donation channel; the 9P
// client then reads, writes and fstats through the fd with no round trip.
// Forged and malformed records are refused (their fds closed) and the file
// keeps to 9P; directories and read-only exports get what they should.

import { strict as assert } from 'node:assert';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { closeFd, sendFds, socketpair, O_CLOEXEC, SOCK_SEQPACKET } from '../../src/host/ffi.js';
import { EBADF, EINVAL, EOPNOTSUPP, Errno, isErrno } from '../../src/linux/errno.js';
import * as abi from '../../src/linux/abi.js';
import * as p9 from '../../src/p9/codec.js';
import { encodeDonation, DonationReceiver, DONATION_MAGIC } from '../../src/p9/donation.js';
import type { P9Backend } from '../../src/p9/backend.js';
import type { P9File } from '../../src/p9/file.js';
import type { BackendFile, BackendNode } from '../../src/backend/backend.js';
import { connectBackend, startGofer, tmpdir, type LiveGofer } from './util.js';

function ok<T>(v: T | Errno): T {
  if (isErrno(v)) assert.fail(`unexpected ${v.name}`);
  return v;
}

const openFds = (): number => fs.readdirSync('/proc/self/fd').length;

/** The access mode (O_ACCMODE bits) of one of our fds, from /proc/self/fdinfo. */
function accessMode(fd: number): number {
  const m = /flags:\s*([0-7]+)/.exec(fs.readFileSync(`/proc/self/fdinfo/${fd}`, 'utf8'));
  return parseInt(m![1], 8) & 3;
}

describe('fs-gofer: host fds donated to the sandbox', function () {
  this.timeout(60_000);
  let host: string;
  let outside: string;
  let g: LiveGofer;
  let b: P9Backend;
  let rpcs: number;

  async function connect(opts: { readonly?: boolean; donate?: boolean } = {}): Promise<void> {
    g = startGofer(host, { readonly: opts.readonly, donate: opts.donate ?? true });
    b = await connectBackend(g, host, opts.readonly ?? false);
    const rpc = b.client.rpc.bind(b.client);
    rpcs = 0;
    b.client.rpc = (m, tag) => {
      rpcs++;
      return rpc(m, tag);
    };
  }
  const walk = async (name: string): Promise<BackendNode> => ok(await b.walk(ok(await b.root()), name));
  /** Walks to `name`, opens it, and lets the walked node go (the open file is a fid of its own). */
  const openFile = async (name: string, flags = abi.O_RDONLY): Promise<BackendFile> => {
    const n = await walk(name);
    const f = ok(await b.open(n, flags));
    await b.release(n);
    return f;
  };
  const settle = () => new Promise((r) => setTimeout(r, 50)); // clunks answered, the gofer's fds closed
  const hostFdOf = (f: BackendFile): number => (f as unknown as { donated: number }).donated;

  beforeEach(() => {
    host = tmpdir('donate');
    outside = tmpdir('donate-outside');
    const data = Buffer.alloc(64 * 1024);
    for (let i = 0; i < data.length; i++) data[i] = (i * 7) & 0xff;
    fs.writeFileSync(path.join(host, 'data.bin'), data);
    fs.mkdirSync(path.join(host, 'dir'));
    fs.writeFileSync(path.join(outside, 'secret'), 'outside the root');
  });

  afterEach(async () => {
    b?.close();
    await g.stop();
    fs.rmSync(host, { recursive: true, force: true });
    fs.rmSync(outside, { recursive: true, force: true });
  });

  it('reads, writes and fstats a regular file through its donated fd with no round trip; close closes the fd', async () => {
    await connect();
    const before = openFds();
    const f = await openFile('data.bin', abi.O_RDWR);
    assert.equal((f as P9File).isDonated, true, 'the fd was donated');
    assert.equal(b.donations.taken, 1);
    const fd = hostFdOf(f);
    assert.equal(accessMode(fd), abi.O_RDWR, 'the fd has the access mode of the open');
    rpcs = 0;
    const buf = new Uint8Array(4096);
    for (let i = 0; i < 10; i++) {
      const at = i * 4096 + 13;
      assert.equal(ok(await f.read(buf, at)), 4096);
      assert.equal(buf[0], (at * 7) & 0xff);
      assert.equal(buf[4095], ((at + 4095) * 7) & 0xff);
    }
    assert.equal(ok(await f.write(Buffer.from('donated'), 65536)), 7);
    const a = ok(await f.getattr());
    assert.equal(a.size, 65536 + 7);
    assert.equal(a.mode & abi.S_IFMT, abi.S_IFREG);
    assert.equal(rpcs, 0, `${rpcs} round trips for 10 preads, a pwrite and an fstat`);
    assert.equal(fs.readFileSync(path.join(host, 'data.bin')).subarray(65536).toString(), 'donated', 'the write reached the host file');
    assert.equal(ok(await f.read(buf, 1 << 20)), 0, 'end of file');
    await f.close();
    assert.equal(isErrno(await f.read(buf, 0)) && (await f.read(buf, 0)) === EBADF, true, 'closed: EBADF');
    assert.throws(() => fs.fstatSync(fd), /EBADF/, 'the donated fd is closed with the file');
    await settle();
    assert.equal(openFds(), before, 'no fd left behind (the gofer in this process included)');
  });

  it('a created file is donated too; a directory never is (readdir stays on 9P)', async () => {
    await connect();
    const c = ok(await b.create(ok(await b.root()), 'new.txt', abi.O_RDWR, 0o644, process.getuid?.() ?? 0, process.getgid?.() ?? 0));
    assert.equal((c.file as P9File).isDonated, true);
    assert.equal(ok(await c.file.write(Buffer.from('made'), 0)), 4);
    await c.file.close();
    assert.equal(fs.readFileSync(path.join(host, 'new.txt'), 'utf8'), 'made');
    const d = await openFile('dir', abi.O_RDONLY | abi.O_DIRECTORY);
    assert.equal((d as P9File).isDonated, false);
    assert.ok(ok(await d.readdir(0, 4096)).some((e) => e.name === '.'));
    await d.close();
  });

  it('a read-only export donates read-only fds', async () => {
    await connect({ readonly: true });
    const f = await openFile('data.bin');
    assert.equal((f as P9File).isDonated, true);
    assert.equal(accessMode(hostFdOf(f)), abi.O_RDONLY);
    assert.throws(() => fs.writeSync(hostFdOf(f), 'x', 0), /EBADF/, 'the host refuses a write on it');
    await f.close();
  });

  it('the gofer answers Tdonate only for an open regular file of the fid; a gofer without a channel answers EOPNOTSUPP once and is not asked again', async () => {
    await connect();
    const root = ok(await b.root()) as unknown as { fid: number };
    assert.equal(await b.client.rpc({ type: p9.MsgType.Tdonate, tag: 0, fid: root.fid }), EBADF, 'a fid that is not open');
    assert.equal(await b.client.rpc({ type: p9.MsgType.Tdonate, tag: 0, fid: 4242 }), EBADF, 'no such fid');
    const d = (await openFile('dir', abi.O_RDONLY | abi.O_DIRECTORY)) as unknown as { fid: number };
    assert.equal(await b.client.rpc({ type: p9.MsgType.Tdonate, tag: 0, fid: d.fid }), EINVAL, 'a directory');
    b.close();
    await g.stop();

    // A client with a channel, a gofer without one: the first open asks and gets EOPNOTSUPP, later ones do not ask.
    g = startGofer(host, { donate: false });
    const dp = socketpair(SOCK_SEQPACKET | O_CLOEXEC) as [number, number];
    g.receiver = new DonationReceiver(dp[1]);
    b = await connectBackend(g, host);
    const sent: p9.MsgType[] = [];
    const rpc = b.client.rpc.bind(b.client);
    b.client.rpc = (m, tag) => {
      sent.push(m.type);
      return rpc(m, tag);
    };
    const f1 = await openFile('data.bin');
    const f2 = await openFile('data.bin');
    assert.equal((f1 as P9File).isDonated || (f2 as P9File).isDonated, false);
    assert.equal(sent.filter((t) => t === p9.MsgType.Tdonate).length, 1, 'asked once, then not again');
    const buf = new Uint8Array(8);
    assert.equal(ok(await f1.read(buf, 8)), 8, 'read over 9P');
    assert.equal(buf[0], 56);
    assert.equal(await rpc({ type: p9.MsgType.Tdonate, tag: 0, fid: (f1 as unknown as { fid: number }).fid }), EOPNOTSUPP, 'what the gofer answers');
    g.receiver.close();
    closeFd(dp[0]);
  });

  it('at most maxHeld donated fds are in use at once: beyond, files keep to 9P; a close makes room again', async () => {
    for (const name of ['a', 'b', 'c', 'd']) fs.writeFileSync(path.join(host, name), name.repeat(10));
    g = startGofer(host, { donate: true, maxHeld: 2 });
    b = await connectBackend(g, host);
    const files = [await openFile('a'), await openFile('b'), await openFile('c')];
    assert.deepEqual(files.map((f) => (f as P9File).isDonated), [true, true, false]);
    const buf = new Uint8Array(3);
    assert.equal(ok(await files[2].read(buf, 0)), 3, 'the third reads over 9P');
    assert.equal(Buffer.from(buf).toString(), 'ccc');
    await files[0].close();
    const d = await openFile('d');
    assert.equal((d as P9File).isDonated, true, 'room again after a close');
    assert.equal(ok(await d.read(buf, 7)), 3);
    assert.equal(Buffer.from(buf).toString(), 'ddd');
    for (const f of [files[1], files[2], d]) await f.close();
    assert.equal(g.receiver!.hasRoom, true);
  });

  it('a forged record (another file under the expected token) and malformed ones are refused and closed; the file keeps to 9P', async () => {
    await connect();
    const before = openFds();
    const secret = fs.openSync(path.join(outside, 'secret'), 'r');
    const dirFd = fs.openSync(host, 'r');
    // The donor's first token is 1: a record naming it arrives first, carrying a file outside the root.
    assert.ok(sendFds(g.donorFd!, [secret], encodeDonation(1), true) > 0);
    const bad = Buffer.alloc(8);
    bad.writeUInt32LE(DONATION_MAGIC ^ 1, 0);
    assert.ok(sendFds(g.donorFd!, [secret], bad, true) > 0, 'wrong magic');
    assert.ok(sendFds(g.donorFd!, [secret, dirFd], encodeDonation(2), true) > 0, 'two fds');
    assert.ok(sendFds(g.donorFd!, [], encodeDonation(2), true) > 0, 'no fd');
    assert.ok(sendFds(g.donorFd!, [secret], Buffer.concat([encodeDonation(2), Buffer.from([0])]), true) > 0, 'too long');
    fs.closeSync(secret);
    fs.closeSync(dirFd);

    rpcs = 0;
    const f = await openFile('data.bin');
    assert.equal((f as P9File).isDonated, false, 'the forged fd (another inode) is not used');
    assert.equal(b.donations.refused, 1);
    const buf = new Uint8Array(16);
    assert.equal(ok(await f.read(buf, 1)), 16);
    assert.equal(buf[0], 7, 'the file read is the walked one, over 9P');
    assert.ok(rpcs >= 4, 'walk, open, donate and the read went to the gofer');
    await f.close();

    // The malformed records are read (and closed) by the next donation, which is the real one.
    const f2 = await openFile('data.bin');
    assert.equal((f2 as P9File).isDonated, true, 'the genuine record for token 2 is taken');
    assert.equal(g.receiver!.stats.refused, 4, 'wrong magic, two fds, no fd, too long');
    await f2.close();
    await settle();
    // Every forged fd was closed; what is left is the genuine record of token 1, never claimed (closed with the receiver).
    assert.equal(openFds(), before + 1);
  });
});
