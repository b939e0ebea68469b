// The bound on do's kept busybox trees (src/debian/busybox-prune.ts): at most
// MAX_TREES, the least recently used pruned when a tree is made, a held tree
// (a start's shared lock, kept until its sandbox is gone) never; the
// --busybox index and a dead process's leftovers pruned with them.

import * as assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import * as crypto from 'node:crypto';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { heldTemplate, makeTemplate, TEMPLATE_DIR, TEMPLATE_LAYOUT } from '../../src/debian/busybox-template.js';
import { holdTree, MAX_FILE_INDEX, MAX_TREES, pruneTemplates, STALE_MS } from '../../src/debian/busybox-prune.js';
import { fixturesDir, repoRoot } from '../util/bundle.js';
import { descendants } from '../util/pids.js';

const BUSYBOX = path.join(fixturesDir(), 'busybox', 'busybox');

/** What each fd of process `pid` leads to (readlink of /proc/PID/fd/N). */
function fdTargets(pid: number): string[] {
  const out: string[] = [];
  for (const fd of fs.readdirSync(`/proc/${pid}/fd`)) {
    try {
      out.push(fs.readlinkSync(`/proc/${pid}/fd/${fd}`));
    } catch {
      // closed meanwhile
    }
  }
  return out;
}
const sha = (b: Buffer): string => crypto.createHash('sha256').update(b).digest('hex');

describe('do: the kept busybox trees are bounded (busybox-prune.ts)', function () {
  this.timeout(120000);
  let dir: string;
  let cache: string;
  let base: string;
  const bin = fs.readFileSync(BUSYBOX);
  /** The fixture's busybox with one more byte: another content, another tree. */
  const variant = (i: number) => Buffer.concat([bin, Buffer.from([i])]);
  const name = (b: Buffer) => `${TEMPLATE_LAYOUT}-${sha(b)}`;
  const trees = () => fs.readdirSync(base).filter((n) => /^\d+-[0-9a-f]{64}$/.test(n)).sort();
  /** Marks tree `n` as used `ago` seconds back. */
  const usedAgo = (n: string, ago: number) => {
    const t = new Date(Date.now() - ago * 1000);
    fs.utimesSync(path.join(base, n), t, t);
  };
  const open: number[] = [];
  beforeEach(() => {
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'tsvisor-prune-'));
    cache = path.join(dir, 'cache');
    base = path.join(cache, TEMPLATE_DIR);
  });
  afterEach(() => {
    for (const fd of open.splice(0)) fs.closeSync(fd);
    fs.rmSync(dir, { recursive: true, force: true });
  });

  it('keeps at most MAX_TREES, removing the least recently used when one is made', () => {
    const made: string[] = [];
    for (let i = 0; i < MAX_TREES; i++) {
      makeTemplate(cache, variant(i), `variant ${i}`);
      made.push(name(variant(i)));
      // Used in the order 0 (longest ago) .. MAX_TREES-1, then 1 again (most recently).
      usedAgo(made[i], 100 - i);
    }
    usedAgo(made[1], 1);
    assert.deepEqual(trees(), [...made].sort());
    // One more: the least recently used (0) goes, the one used again (1) stays.
    makeTemplate(cache, variant(MAX_TREES), 'one more');
    assert.deepEqual(trees(), [...made.slice(1), name(variant(MAX_TREES))].sort());
    // Nothing is left of the removal beside the trees.
    assert.deepEqual(fs.readdirSync(base).filter((n) => n.startsWith('.')), []);
    // A start marks its tree as used: now 2 is the oldest, and goes next.
    usedAgo(made[2], 200);
    const fd = holdTree(path.join(base, made[2]));
    assert.ok(fd !== undefined);
    open.push(fd);
    fs.closeSync(open.pop()!);
    usedAgo(made[3], 300);
    makeTemplate(cache, variant(MAX_TREES + 1), 'and another');
    assert.equal(trees().length, MAX_TREES);
    assert.ok(trees().includes(made[2]), 'the tree a start just used is kept');
    assert.ok(!trees().includes(made[3]), 'the least recently used is removed');
  });

  it('never removes a tree a start holds, in this process or another, and removes it once let go', async () => {
    const first = name(variant(0));
    makeTemplate(cache, variant(0), 'held');
    usedAgo(first, 1000);
    const fd = holdTree(path.join(base, first));
    assert.ok(fd !== undefined);
    open.push(fd);
    usedAgo(first, 1000); // holdTree marked it used: make it the oldest again
    for (let i = 1; i <= MAX_TREES + 1; i++) makeTemplate(cache, variant(i), `variant ${i}`);
    assert.ok(trees().includes(first), 'held here: kept');
    fs.closeSync(open.pop()!);
    // Held by another process (its lock is its own open file's).
    const child = spawn(process.execPath, ['-e', `const fd = require(${JSON.stringify(require.resolve('../../src/debian/busybox-prune.js'))}).holdTree(process.argv[1]); process.stdout.write(String(fd)); setTimeout(() => {}, 60000)`, path.join(base, first)], { stdio: ['ignore', 'pipe', 'inherit'] });
    try {
      await new Promise<void>((resolve) => child.stdout!.once('data', () => resolve()));
      usedAgo(first, 1000);
      makeTemplate(cache, variant(MAX_TREES + 2), 'while another process holds it');
      assert.ok(trees().includes(first), 'held by another process: kept');
    } finally {
      child.kill('SIGKILL');
      await new Promise((resolve) => child.once('close', resolve));
    }
    // Nobody holds it any more: the next tree made removes it.
    usedAgo(first, 1000);
    makeTemplate(cache, variant(MAX_TREES + 3), 'after');
    assert.ok(!trees().includes(first), 'let go: removed');
    assert.equal(trees().length, MAX_TREES);
  });

  it("never removes the protected trees (the one just made, the cached Debian binary's)", () => {
    for (let i = 0; i < MAX_TREES + 2; i++) {
      makeTemplate(cache, variant(i), `variant ${i}`);
      usedAgo(name(variant(i)), 100 - i);
    }
    const oldest = trees().sort((a, b) => fs.statSync(path.join(base, a)).mtimeMs - fs.statSync(path.join(base, b)).mtimeMs)[0];
    fs.mkdirSync(path.join(base, oldest.replace(/^\d+-/, '9-'))); // another layout's tree counts too
    usedAgo(oldest.replace(/^\d+-/, '9-'), 5000);
    assert.deepEqual(pruneTemplates(base, [oldest]), [oldest.replace(/^\d+-/, '9-')]);
    assert.ok(trees().includes(oldest));
  });

  it("prunes the --busybox index (entries of removed trees, then the oldest) and a dead process's leftovers", () => {
    makeTemplate(cache, variant(0), 'kept');
    const files = path.join(base, 'files');
    fs.mkdirSync(files, { recursive: true });
    const live = sha(variant(0));
    for (let i = 0; i < MAX_FILE_INDEX + 5; i++) {
      fs.writeFileSync(path.join(files, `live-${i}`), live + '\n');
      const t = new Date(Date.now() - (MAX_FILE_INDEX + 5 - i) * 1000);
      fs.utimesSync(path.join(files, `live-${i}`), t, t);
    }
    fs.writeFileSync(path.join(files, 'gone'), sha(variant(9)) + '\n');
    const stale = new Date(Date.now() - STALE_MS - 60_000);
    for (const n of ['.tmp-dead', '.prune-dead', '.tmp-fresh']) {
      fs.mkdirSync(path.join(base, n, 'root'), { recursive: true });
      if (n !== '.tmp-fresh') fs.utimesSync(path.join(base, n), stale, stale);
    }
    pruneTemplates(base, []);
    const left = fs.readdirSync(files).sort();
    assert.equal(left.length, MAX_FILE_INDEX);
    assert.ok(!left.includes('gone'), 'an entry whose tree is gone is removed');
    for (let i = 0; i < 5; i++) assert.ok(!left.includes(`live-${i}`), 'the oldest beyond the bound are removed');
    assert.deepEqual(fs.readdirSync(base).filter((n) => n.startsWith('.')), ['.tmp-fresh'], "a build in progress (fresh) is left alone");
  });

  it('heldTemplate holds the tree for its caller: a lock that keeps prunes away', async () => {
    const { template, held } = await heldTemplate({ cache, busybox: BUSYBOX, scratch: path.join(dir, 'scratch') });
    assert.ok(held !== undefined);
    open.push(held);
    const n = path.basename(path.dirname(template.root));
    usedAgo(n, 1000);
    for (let i = 1; i <= MAX_TREES + 1; i++) makeTemplate(cache, variant(i), `variant ${i}`);
    assert.ok(trees().includes(n));
    // A tree laid out for the run alone (no cache) is not held.
    fs.writeFileSync(path.join(dir, 'file'), '');
    const alone = await heldTemplate({ cache: path.join(dir, 'file', 'cache'), busybox: BUSYBOX, scratch: path.join(dir, 's2') });
    assert.equal(alone.held, undefined);
  });

  it("tsvisor do holds its tree until its sandbox is gone (through run's waiter)", async function () {
    if (!fs.existsSync('/usr/bin/perl') && !fs.existsSync('/bin/perl')) this.skip(); // without Perl run waits in Node: the case above
    const bb = path.join(dir, 'busybox');
    fs.writeFileSync(bb, variant(200), { mode: 0o755 });
    const env = { ...process.env, XDG_CACHE_HOME: path.join(dir) };
    // The cache is dir/tsvisor here.
    base = path.join(dir, 'tsvisor', TEMPLATE_DIR);
    const child = spawn(path.join(repoRoot(), 'bin', 'tsvisor'), ['do', '--busybox', bb, '--', 'sh', '-c', 'echo up; read x; ls /bin/true'], { env, stdio: ['pipe', 'pipe', 'inherit'] });
    let out = '';
    child.stdout!.on('data', (b: Buffer) => (out += b.toString()));
    const closed = new Promise<number | null>((resolve) => child.once('close', (code) => resolve(code)));
    try {
      await new Promise<void>((resolve, reject) => {
        const check = () => (out.includes('up') ? resolve() : undefined);
        child.stdout!.on('data', check);
        void closed.then(() => reject(new Error(`do ended early: ${out}`)));
      });
      // The sandbox runs, and run has become its waiter by now (or waits in Node).
      const n = name(variant(200));
      assert.ok(trees().includes(n));
      // The lock's fd stays with run (its waiter): no process of the sandbox
      // (boot, the gofer, their launchers) holds the tree's directory open.
      const treeDir = path.join(base, n);
      const below = descendants(child.pid!);
      assert.ok(below.length >= 2, `the sandbox's processes: ${below}`);
      for (const pid of below) assert.ok(!fdTargets(pid).includes(treeDir), `process ${pid} (${fs.readFileSync(`/proc/${pid}/cmdline`, 'utf8').split('\0').slice(0, 3).join(' ')}) holds the tree's directory`);
      assert.ok(fdTargets(child.pid!).includes(treeDir), 'run (its waiter) holds the lock');
      usedAgo(n, 1000);
      // Each made in another process, as another do would.
      for (let i = 1; i <= MAX_TREES + 1; i++) {
        const r = spawnSync(process.execPath, ['-e', `require(${JSON.stringify(require.resolve('../../src/debian/busybox-template.js'))}).makeTemplate(process.argv[1], Buffer.concat([require('node:fs').readFileSync(process.argv[2]), Buffer.from([${i}])]), 'v')`, path.join(dir, 'tsvisor'), BUSYBOX], { stdio: 'inherit' });
        assert.equal(r.status, 0);
      }
      assert.ok(trees().includes(n), 'the running sandbox kept its tree');
      child.stdin!.end('go\n');
      assert.equal(await closed, 0);
      assert.match(out, /\/bin\/true/);
    } finally {
      child.kill('SIGKILL');
    }
    // Gone with the sandbox: the next tree made removes it.
    usedAgo(name(variant(200)), 1000);
    makeTemplate(path.join(dir, 'tsvisor'), variant(300), 'after');
    assert.ok(!trees().includes(name(variant(200))));
  });
});
