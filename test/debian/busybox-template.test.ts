// The busybox tree `tsvisor do` keeps in the cache (src/debian/busybox-template.ts):
// built once per binary content, found again with a stat, refused and built
// again when its busybox no longer holds the bytes it was made from, and laid
// out for the run alone where the cache cannot be written.

import * as assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import * as crypto from 'node:crypto';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { busyboxApplets, layoutBusyboxRootfs, lookPathInRootfs, BusyboxError } from '../../src/debian/busybox-rootfs.js';
import { busyboxTemplate, cachedTemplate, fileTemplate, makeTemplate, TEMPLATE_DIR } from '../../src/debian/busybox-template.js';
import { fixturesDir } from '../util/bundle.js';

const BUSYBOX = path.join(fixturesDir(), 'busybox', 'busybox');
const sha = (b: Buffer): string => crypto.createHash('sha256').update(b).digest('hex');

/** Every entry under `root`: path, type and mode, link count or target, and a file's content hash. */
function tree(root: string): string[] {
  const out: string[] = [];
  const hashes = new Map<number, string>(); // by inode: the applets are one file
  const hash = (p: string, ino: number): string => hashes.get(ino) ?? hashes.set(ino, sha(fs.readFileSync(p))).get(ino)!;
  const walk = (rel: string): void => {
    for (const name of fs.readdirSync(path.join(root, rel)).sort()) {
      const r = path.join(rel, name);
      const p = path.join(root, r);
      const st = fs.lstatSync(p);
      out.push(`${r} ${st.mode.toString(8)} ${st.isSymbolicLink() ? fs.readlinkSync(p) : st.nlink} ${st.isFile() ? hash(p, st.ino) : ''}`);
      if (st.isDirectory()) walk(r);
    }
  };
  walk('.');
  return out;
}

describe('do: the kept busybox tree (busybox-template.ts)', function () {
  this.timeout(30000);
  let dir: string;
  let cache: string;
  const bin = fs.readFileSync(BUSYBOX);
  beforeEach(() => {
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'tsvisor-template-'));
    cache = path.join(dir, 'cache');
  });
  afterEach(() => fs.rmSync(dir, { recursive: true, force: true }));

  it("is layoutBusyboxRootfs's tree with hard links, made once and found again without rebuilding", () => {
    const t = makeTemplate(cache, bin, 'fixture busybox');
    assert.equal(t.bin, path.join(t.root, 'bin'));
    assert.ok(t.root.startsWith(path.join(cache, TEMPLATE_DIR) + path.sep));
    layoutBusyboxRootfs(path.join(dir, 'plain'), BUSYBOX, undefined, 'hard');
    assert.deepEqual(tree(t.root), tree(path.join(dir, 'plain')));
    const ino = fs.statSync(path.join(t.bin, 'busybox')).ino;
    assert.deepEqual(cachedTemplate(cache, sha(bin)), t);
    assert.deepEqual(makeTemplate(cache, bin, 'again'), t);
    assert.equal(fs.statSync(path.join(t.bin, 'busybox')).ino, ino, 'not rebuilt');
    // Nothing left beside it: the temporary tree was renamed into place.
    assert.deepEqual(fs.readdirSync(path.join(cache, TEMPLATE_DIR)), [path.basename(path.dirname(t.root))]);
    assert.equal(lookPathInRootfs(t.root, 'true', '/bin:/usr/bin'), '/bin/true');
  });

  it('refuses a binary that is not riscv64 busybox, and keeps nothing', () => {
    assert.throws(() => makeTemplate(cache, fs.readFileSync(process.execPath), 'node'), (e: Error) => e instanceof BusyboxError && /not riscv64/.test(e.message));
    assert.throws(() => makeTemplate(cache, fs.readFileSync(path.join(fixturesDir(), 'bin', 'hello')), 'hello'), /no applet table/);
    assert.equal(fs.existsSync(cache), false);
  });

  it('a busybox no longer holding its bytes is refused and built again; a touched one with the same bytes is kept', () => {
    const t = makeTemplate(cache, bin, 'fixture');
    const own = path.join(t.bin, 'busybox');
    // Same bytes, new times: still the tree (its record updated, so the next check is a stat again).
    const later = new Date(Date.now() + 5000);
    fs.utimesSync(own, later, later);
    assert.deepEqual(cachedTemplate(cache, sha(bin)), t);
    const info = JSON.parse(fs.readFileSync(path.join(path.dirname(t.root), 'info.json'), 'utf8'));
    assert.match(info.busybox, new RegExp(`-${fs.statSync(own, { bigint: true }).ctimeNs}$`));
    // Other bytes of the same size: refused, then built again whole.
    const bad = Buffer.from(bin);
    bad[bad.length - 1] ^= 0xff;
    fs.writeFileSync(own, bad);
    assert.equal(cachedTemplate(cache, sha(bin)), undefined);
    const again = makeTemplate(cache, bin, 'fixture');
    assert.ok(fs.readFileSync(path.join(again.bin, 'ls')).equals(bin));
    assert.equal(fs.statSync(path.join(again.bin, 'busybox')).nlink, new Set([...busyboxApplets(bin), 'busybox']).size);
  });

  it("shares its busybox's inode with linkFrom, so damage to that file shows in the tree", () => {
    const from = path.join(dir, 'cached-busybox');
    fs.writeFileSync(from, bin, { mode: 0o755 });
    const t = makeTemplate(cache, bin, 'fixture', from);
    assert.equal(fs.statSync(path.join(t.bin, 'busybox')).ino, fs.statSync(from).ino);
    fs.writeFileSync(from, 'damaged');
    assert.equal(cachedTemplate(cache, sha(bin)), undefined);
    // A linkFrom with other bytes is not linked: the tree gets a copy.
    const copy = makeTemplate(cache, bin, 'fixture', from);
    assert.notEqual(fs.statSync(path.join(copy.bin, 'busybox')).ino, fs.statSync(from).ino);
    assert.ok(fs.readFileSync(path.join(copy.bin, 'sh')).equals(bin));
  });

  it('finds the tree of a --busybox file by its identity, and sees the file change', () => {
    const file = path.join(dir, 'busybox');
    fs.writeFileSync(file, bin);
    const t = fileTemplate(cache, file);
    assert.deepEqual(fs.readdirSync(path.join(cache, TEMPLATE_DIR, 'files')).length, 1);
    // Unchanged: the index names the tree, and the file is not opened.
    const nodeFs = require('node:fs') as typeof fs; // the module itself, which busybox-template.ts calls through
    const open = nodeFs.openSync;
    const opened: string[] = [];
    nodeFs.openSync = ((p: fs.PathLike, ...rest: unknown[]) => (opened.push(String(p)), (open as (...a: unknown[]) => number)(p, ...rest))) as typeof fs.openSync;
    try {
      assert.deepEqual(fileTemplate(cache, file), t);
    } finally {
      nodeFs.openSync = open;
    }
    assert.deepEqual(opened, []);
    // A copy elsewhere with the same bytes: the same tree.
    const other = path.join(dir, 'other');
    fs.copyFileSync(file, other);
    assert.deepEqual(fileTemplate(cache, other), t);
    // New bytes in the same file: another tree.
    const changed = Buffer.from(bin);
    changed[changed.length - 1] ^= 0xff;
    fs.writeFileSync(file, changed);
    const t2 = fileTemplate(cache, file);
    assert.notEqual(t2.root, t.root);
    assert.ok(fs.readFileSync(path.join(t2.bin, 'busybox')).equals(changed));
  });

  it('four processes making the same tree at once all get the one sound tree, and leave nothing beside it', async () => {
    const script = `const t = require(${JSON.stringify(require.resolve('../../src/debian/busybox-template.js'))}).makeTemplate(process.argv[1], require('node:fs').readFileSync(process.argv[2]), 'fixture'); process.stdout.write(t.root)`;
    const roots = await Promise.all(
      [0, 1, 2, 3].map(
        () =>
          new Promise<string>((resolve, reject) => {
            const c = spawn(process.execPath, ['-e', script, cache, BUSYBOX], { stdio: ['ignore', 'pipe', 'pipe'] });
            let out = '';
            let err = '';
            c.stdout.on('data', (b: Buffer) => (out += b.toString()));
            c.stderr.on('data', (b: Buffer) => (err += b.toString()));
            c.on('close', (code) => (code === 0 ? resolve(out) : reject(new Error(err))));
          }),
      ),
    );
    const t = cachedTemplate(cache, sha(bin));
    assert.ok(t);
    assert.deepEqual(roots, [t.root, t.root, t.root, t.root]);
    assert.deepEqual(fs.readdirSync(path.join(cache, TEMPLATE_DIR)), [path.basename(path.dirname(t.root))]);
    assert.equal(fs.statSync(path.join(t.bin, 'busybox')).nlink, new Set([...busyboxApplets(bin), 'busybox']).size);
  });

  it('lays the tree out under scratch, for this run alone, where the cache cannot be written', async () => {
    const scratch = path.join(dir, 'scratch');
    // A cache below a regular file: ENOTDIR for every write, as root too.
    fs.writeFileSync(path.join(dir, 'file'), '');
    const t = await busyboxTemplate({ cache: path.join(dir, 'file', 'cache'), busybox: BUSYBOX, scratch });
    assert.deepEqual(t, { root: scratch, bin: path.join(scratch, 'bin') });
    layoutBusyboxRootfs(path.join(dir, 'plain'), BUSYBOX, undefined, 'hard');
    assert.deepEqual(tree(scratch), tree(path.join(dir, 'plain')));
    // A binary that cannot serve is refused, not laid out.
    await assert.rejects(busyboxTemplate({ cache: path.join(dir, 'file', 'cache'), busybox: process.execPath, scratch: path.join(dir, 's2') }), BusyboxError);
  });
});
