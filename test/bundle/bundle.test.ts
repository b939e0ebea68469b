// The bundled entry points (src/bundle): what the build writes, that the
// processes and threads of a sandbox start from them, that a bundle keeps
// Node's module semantics, the heap limits and the flags the code caches are made under.

import * as assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import { Worker } from 'node:worker_threads';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { makeBundle, removeBundle, repoRoot } from '../util/bundle.js';
import { asciiOnly, bundleCode, moduleGraph } from '../../src/bundle/build.js';
import { BOOT_NODE_FLAGS, BUNDLE_DIR, BUNDLE_ENTRIES, type BundleSpec, cliBundleFor, entryScript, NO_BUNDLE_ENV, WORKER_RESOURCE_LIMITS } from '../../src/bundle/entry.js';
import { RemoteVcpu } from '../../src/kernel/vcpus.js';
import { bootSnapshotArgs } from '../../src/bundle/snapshot.js';
import { descendants } from '../util/pids.js';

const DIST = path.join(repoRoot(), 'dist');
const node = (args: string[], env: NodeJS.ProcessEnv = {}) => spawnSync(process.execPath, args, { encoding: 'utf8', env: { ...process.env, ...env } });

describe('bundled entry points', () => {
  it('the build wrote every bundle, its code and a code cache', () => {
    for (const name of Object.keys(BUNDLE_ENTRIES)) {
      for (const ext of ['.js', '.code.js', '.cache']) assert.ok(fs.statSync(path.join(DIST, BUNDLE_DIR, name + ext)).size > 0, `${name}${ext}`);
      assert.equal(entryScript(name as keyof typeof BUNDLE_ENTRIES), path.join(DIST, BUNDLE_DIR, `${name}.js`));
    }
  });

  it('bin/tsvisor starts from the CLI bundle alone, with its code cache taken', () => {
    // What a start loads: the bundle's loader and its code, not tsc's modules.
    const probe = `const M = require('node:module'); const seen = []; const orig = M.prototype._compile; M.prototype._compile = function (c, f) { seen.push(f); return orig.call(this, c, f); };
      process.argv = [process.argv[0], ${JSON.stringify(path.join(repoRoot(), 'bin', 'tsvisor'))}, 'spec', '--bundle', process.env.OUT];
      require(process.argv[1]);
      process.on('exit', () => { console.log(JSON.stringify({ seen, cache: require(${JSON.stringify(path.join(DIST, 'src/bundle/load.js'))}).lastCacheAccepted })); });`;
    const out = fs.mkdtempSync(path.join(os.tmpdir(), 'tsvisor-bundle-test-'));
    try {
      const r = node(['-e', probe], { OUT: out });
      assert.equal(r.status, 0, r.stderr);
      assert.ok(fs.existsSync(path.join(out, 'config.json')), 'the spec command ran');
      const { seen, cache } = JSON.parse(r.stdout.trim().split('\n').pop()!) as { seen: string[]; cache: boolean };
      const ours = seen.filter((f) => f.startsWith(DIST));
      assert.deepEqual(ours.map((f) => path.relative(DIST, f)).sort(), ['bundle/cli.js', 'src/bundle/entry.js', 'src/bundle/load.js'].sort());
      assert.equal(cache, true);
    } finally {
      fs.rmSync(out, { recursive: true, force: true });
    }
  });

  it('tsvisor run starts boot and the gofer from their bundles', async function () {
    this.timeout(120_000);
    const bundle = makeBundle({ args: ['/bin/cat'] });
    const root = fs.mkdtempSync(path.join(os.tmpdir(), 'tsvisor-bundle-root-'));
    const child = spawn(process.execPath, [path.join(repoRoot(), 'bin', 'tsvisor'), '--no-confine', '--root', root, 'run', '--bundle', bundle, `bundle-test-${process.pid}`], { stdio: ['pipe', 'pipe', 'pipe'] });
    try {
      child.stdin.write('up\n');
      await new Promise<void>((resolve, reject) => {
        child.stdout.on('data', (d: Buffer) => d.toString().includes('up') && resolve());
        child.on('exit', () => reject(new Error('run ended first')));
      });
      // Each process's node flags, then its script.
      const argvs = descendants(child.pid!).map((pid) => fs.readFileSync(`/proc/${pid}/cmdline`, 'utf8').split('\0').slice(1));
      const started = (name: string) => argvs.find((a) => a.includes(path.join(DIST, BUNDLE_DIR, `${name}.js`)));
      const boot = started('boot'), gofer = started('gofer');
      assert.ok(boot && gofer, argvs.map((a) => a.join(' ')).join('\n'));
      // Boot runs with the flags its bundles' code caches were made under (the kernel's young-generation cap), and from its startup snapshot when the build made a usable one (snapshot.test.ts).
      assert.deepEqual(boot.slice(0, boot.indexOf(path.join(DIST, BUNDLE_DIR, 'boot.js'))), [...BOOT_NODE_FLAGS, ...bootSnapshotArgs()]);
      assert.equal(gofer[0], path.join(DIST, BUNDLE_DIR, 'gofer.js'));
      child.stdin.end();
      await new Promise((r) => child.on('exit', r));
    } finally {
      child.kill('SIGKILL');
      removeBundle(bundle);
      fs.rmSync(root, { recursive: true, force: true });
    }
  });

  it("boot's and the gofer's bundles hold their command only; the CLI's holds every command", () => {
    const boot = moduleGraph(DIST, BUNDLE_ENTRIES.boot);
    const gofer = moduleGraph(DIST, BUNDLE_ENTRIES.gofer);
    const cli = moduleGraph(DIST, BUNDLE_ENTRIES.cli);
    assert.ok(boot.includes('src/main/boot.js') && !boot.includes('src/main/gofer-command.js') && !boot.includes('src/main/do.js'));
    // The spec's validator, built by precompile.ts, is required by its literal name.
    assert.ok(boot.includes('src/spec/spec-validate.js'));
    assert.ok(gofer.includes('src/main/gofer-command.js') && !gofer.includes('src/main/boot.js') && !gofer.some((k) => k.startsWith('src/kernel/syscalls/')));
    for (const k of ['src/main/boot.js', 'src/main/gofer-command.js', 'src/main/do.js', 'src/main/run.js']) assert.ok(cli.includes(k), k);
    assert.equal(boot[0], 'src/main/cli.js');
  });

  it('starting from tsc\'s files (TSVISOR_NO_BUNDLE=1) answers the same', () => {
    const a = node([path.join(repoRoot(), 'bin', 'tsvisor'), 'syscalls']);
    const b = node([path.join(repoRoot(), 'bin', 'tsvisor'), 'syscalls'], { [NO_BUNDLE_ENV]: '1' });
    assert.equal(a.status, 0, a.stderr);
    assert.equal(a.stdout, b.stdout);
    assert.ok(a.stdout.length > 1000);
  });

  it('a bundle older than its entry module is not used', () => {
    const bundle = path.join(DIST, BUNDLE_DIR, 'vcpu-worker.js');
    const st = fs.statSync(bundle);
    const script = `console.log(require(${JSON.stringify(path.join(DIST, 'src/bundle/entry.js'))}).entryScript('vcpu-worker'))`;
    try {
      fs.utimesSync(bundle, st.atime, new Date(Date.now() - 3600_000));
      assert.equal(node(['-e', script]).stdout.trim(), path.join(DIST, 'src/workers/vcpu-worker.js'));
    } finally {
      fs.utimesSync(bundle, st.atime, st.mtime);
    }
    assert.equal(node(['-e', script]).stdout.trim(), bundle);
  });

  describe('module semantics', () => {
    let dist: string;
    before(() => {
      dist = fs.mkdtempSync(path.join(os.tmpdir(), 'tsvisor-bundle-graph-'));
      fs.mkdirSync(path.join(dist, 'src', 'lib'), { recursive: true });
      fs.mkdirSync(path.join(dist, BUNDLE_DIR));
      const w = (f: string, text: string) => fs.writeFileSync(path.join(dist, f), text);
      // A cycle (a -> b -> a), a module.exports replacement, a lazy require, a computed require, paths.
      w('src/main.js', `"use strict";\nconst b = require("./lib/b.js");\nexports.early = b.sawA;\nexports.value = 'main \u2014 ok';\nexports.lazy = () => require('./lib/lazy.js');\nexports.dirs = [__filename, __dirname];\nexports.computed = (p) => require(p);\nexports.isMain = require.main === module;\nexports.paths = module.paths;\n`);
      w('src/lib/b.js', `"use strict";\nconst a = require("../main.js");\nexports.sawA = Object.keys(a).length;\n`);
      w('src/lib/lazy.js', `"use strict";\nmodule.exports = function lazy() { return /\u00b1/.test('\u00b1') && '\u2014'.length; };\n`);
      w('src/lib/outside.js', `"use strict";\nexports.outside = true;\nexports.main = require("../main.js");\n`);
      fs.writeFileSync(path.join(dist, BUNDLE_DIR, 't.code.js'), bundleCode(dist, { entry: 'src/main.js' }));
      fs.writeFileSync(path.join(dist, BUNDLE_DIR, 't.js'), `require(${JSON.stringify(path.join(DIST, 'src/bundle/load.js'))}).runBundle(module, require, __dirname, 't');\n`);
    });
    after(() => fs.rmSync(dist, { recursive: true, force: true }));

    it('holds the modules the literal requires reach, and none other', () => {
      assert.deepEqual(moduleGraph(dist, { entry: 'src/main.js' }), ['src/main.js', 'src/lib/b.js', 'src/lib/lazy.js']);
    });

    it('runs each module once, keeps its paths, serves the rest through Node', () => {
      const m = require(path.join(dist, BUNDLE_DIR, 't.js')) as Record<string, unknown> & { lazy(): () => unknown; computed(p: string): unknown };
      assert.equal(m.early, 0, 'the cycle saw the partial exports');
      assert.equal(m.value, 'main \u2014 ok');
      assert.equal(m.lazy()(), 1);
      assert.equal(m.lazy(), m.lazy());
      assert.deepEqual(m.dirs, [path.join(dist, 'src', 'main.js'), path.join(dist, 'src')]);
      const outside = m.computed('./lib/outside.js') as { outside: boolean; main: unknown };
      assert.equal(outside.outside, true);
      assert.equal(outside.main, m, "a module from outside the bundle gets the bundle's instance");
      assert.equal(m.isMain, false);
      assert.ok((m.paths as string[]).includes(path.join(dist, 'src', 'node_modules')));
      const code = fs.readFileSync(path.join(dist, BUNDLE_DIR, 't.code.js'), 'latin1');
      assert.ok(!/[^\x00-\x7f]/.test(code), 'the code is ASCII');
    });

    it('a bundle started later in the thread takes the modules loaded already (as boot, then the kernel)', () => {
      const m = require(path.join(dist, BUNDLE_DIR, 't.js')) as Record<string, unknown>;
      const b = require(path.join(dist, 'src', 'lib', 'b.js')) as Record<string, unknown>;
      fs.writeFileSync(path.join(dist, BUNDLE_DIR, 't2.code.js'), bundleCode(dist, { entry: 'src/lib/outside.js' }));
      fs.writeFileSync(path.join(dist, BUNDLE_DIR, 't2.js'), `require(${JSON.stringify(path.join(DIST, 'src/bundle/load.js'))}).runBundle(module, require, __dirname, 't2');\n`);
      const later = require(path.join(dist, BUNDLE_DIR, 't2.js')) as { outside: boolean; main: unknown };
      assert.equal(later.outside, true);
      assert.equal(later.main, m, "the later bundle's require of main.js gets the instance loaded first");
      assert.equal(b.sawA, 0, 'b.js ran once, in the first bundle');
    });

    it('asciiOnly keeps strings, regular expressions and templates meaning the same', () => {
      const src = "[ '\u2014', /^[\u00b1\u00e9]+$/.test('\u00e9\u00b1'), `\u00e9${1}`, '\u{1F600}'.length, /\u{1F600}/u.test('\u{1F600}') ]";
      assert.deepEqual(eval(asciiOnly(src)), eval(src));
      assert.ok(!/[^\x00-\x7f]/.test(asciiOnly(src)));
    });
  });
});

describe('heap limits and code caches', () => {
  /** Whether V8 takes bundle `name`'s code cache in `code`'s thread (which posts the answer). */
  const cacheProbe = (name: string, plain = false) => `const vm = require('node:vm'), fs = require('node:fs');
        const s = new vm.Script(fs.readFileSync(${JSON.stringify(path.join(DIST, BUNDLE_DIR, name + '.code.js'))}, 'latin1'), { cachedData: fs.readFileSync(${JSON.stringify(path.join(DIST, BUNDLE_DIR, name + (plain ? '.plain.cache' : '.cache')))}) });
        const taken = !s.cachedDataRejected;`;

  it("the vCPU worker's code cache is taken in a thread started with the workers' limits, in boot (its flags) and without them", async () => {
    // Without boot's flags (this test process, the in-process bench): NAME.plain.cache.
    const w = new Worker(`${cacheProbe('vcpu-worker', true)} require('node:worker_threads').parentPort.postMessage(taken);`, { eval: true, resourceLimits: WORKER_RESOURCE_LIMITS });
    const taken = await new Promise((resolve, reject) => {
      w.once('message', resolve);
      w.once('error', reject);
    });
    await w.terminate();
    assert.equal(taken, true);
    // Inside boot, whose flags are the worker's process's: NAME.cache.
    const inBoot = `const { Worker } = require('node:worker_threads');
      const w = new Worker(${JSON.stringify(`${cacheProbe('vcpu-worker')} require('node:worker_threads').parentPort.postMessage(taken);`)}, { eval: true, resourceLimits: ${JSON.stringify(WORKER_RESOURCE_LIMITS)} });
      w.once('message', (t) => { process.stdout.write(String(t)); w.terminate(); });`;
    assert.equal(node([...BOOT_NODE_FLAGS, '-e', inBoot]).stdout, 'true');
  });

  it("every process's bundle has its code cache taken under the node flags it starts with, boot's and the kernel's only under those", () => {
    for (const [name, spec] of Object.entries(BUNDLE_ENTRIES) as [string, BundleSpec][]) {
      if (name === 'vcpu-worker') continue;
      const under = (flags: readonly string[]) => node([...flags, '-e', `${cacheProbe(name)} process.stdout.write(String(taken));`]).stdout;
      assert.equal(under(spec.nodeFlags ?? []), 'true', name);
      if (spec.nodeFlags) assert.equal(under([]), 'false', `${name} without its flags (V8 checks them)`);
    }
    assert.deepEqual(BUNDLE_ENTRIES.boot.nodeFlags, BUNDLE_ENTRIES.kernel.nodeFlags);
  });

  it('boot started with or without its node flags starts from a code cache V8 takes (NAME.cache, NAME.plain.cache)', () => {
    const probe = `require(${JSON.stringify(path.join(DIST, BUNDLE_DIR, 'boot.js'))});
      const load = require(${JSON.stringify(path.join(DIST, 'src/bundle/load.js'))});
      const boot = load.lastCacheAccepted;
      require(${JSON.stringify(path.join(DIST, BUNDLE_DIR, 'kernel.js'))});
      process.stdout.write(JSON.stringify([boot, load.lastCacheAccepted]));`;
    for (const flags of [[...BOOT_NODE_FLAGS], []]) {
      const r = node([...flags, '-e', probe]);
      assert.equal(r.status, 0, r.stderr);
      assert.deepEqual(JSON.parse(r.stdout), [true, true], `flags: ${flags.join(' ') || 'none'}`);
    }
  });

  it('a vCPU worker starts with the young generation capped', async () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'tsvisor-limits-'));
    const entry = path.join(dir, 'probe.js');
    const out = path.join(dir, 'limits.json');
    // Written under another name, then renamed: the file is whole once it exists.
    fs.writeFileSync(entry, `const fs = require('node:fs'); fs.writeFileSync(${JSON.stringify(out + '.part')}, JSON.stringify(require('node:worker_threads').resourceLimits)); fs.renameSync(${JSON.stringify(out + '.part')}, ${JSON.stringify(out)}); process.exit(0);\n`);
    try {
      new RemoteVcpu(1, entry, () => {}, () => {}, (m) => assert.fail(m));
      for (let i = 0; i < 1200 && !fs.existsSync(out); i++) await new Promise((r) => setTimeout(r, 25));
      const limits = JSON.parse(fs.readFileSync(out, 'utf8')) as { maxYoungGenerationSizeMb: number };
      assert.equal(limits.maxYoungGenerationSizeMb, WORKER_RESOURCE_LIMITS.maxYoungGenerationSizeMb);
    } finally {
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });
});

describe('the CLI bundle for a command line', () => {
  it('picks the first word past the global flags that names a command with a bundle', () => {
    assert.equal(cliBundleFor(['boot', '--bundle=/b', 'id']), 'boot');
    assert.equal(cliBundleFor(['--root=/r', '--log-format=json', 'gofer', '--io-fds=4']), 'gofer');
    assert.equal(cliBundleFor(['--root', '/r', 'run', 'id']), 'run');
    assert.equal(cliBundleFor(['--debug', 'do', '--', 'true']), 'do');
    assert.equal(cliBundleFor(['--root', '/r', 'state', 'run']), 'cli');
    assert.equal(cliBundleFor(['spec', 'run']), 'cli');
    assert.equal(cliBundleFor([]), 'cli');
    // A guess: a flag's value that names a command picks that command's bundle.
    assert.equal(cliBundleFor(['--root', 'boot', 'run', 'id']), 'boot');
  });

  it('a wrong guess still runs the command, its modules sharing the bundle\'s instances', () => {
    // `tsvisor syscalls` from the gofer's bundle, which does not hold it: cli.ts's require of syscalls-cmd.js goes to tsc's file.
    const bundled = node(['-e', `const { main } = require(${JSON.stringify(path.join(DIST, BUNDLE_DIR, 'gofer.js'))}); main(['syscalls']).then((c) => process.exit(c));`]);
    const plain = node([path.join(repoRoot(), 'bin', 'tsvisor'), 'syscalls'], { [NO_BUNDLE_ENV]: '1' });
    assert.equal(bundled.status, 0, bundled.stderr);
    assert.equal(bundled.stdout, plain.stdout);
    // An unknown flag of that command: the UsageError class is the bundle's own, so the CLI reports it as a usage error (exit 128 and the usage), not an internal error.
    const bad = node(['-e', `const { main } = require(${JSON.stringify(path.join(DIST, BUNDLE_DIR, 'gofer.js'))}); main(['syscalls', '--no-such-flag']).then((c) => process.exit(c));`]);
    const badPlain = node([path.join(repoRoot(), 'bin', 'tsvisor'), 'syscalls', '--no-such-flag'], { [NO_BUNDLE_ENV]: '1' });
    assert.equal(bad.status, badPlain.status);
    assert.equal(bad.stderr, badPlain.stderr);
  });

  it('each bundle warm-up (BundleSpec.warmUp) is pure: it opens, reads and changes nothing of the process', () => {
    for (const [name, spec] of Object.entries(BUNDLE_ENTRIES) as [string, BundleSpec][]) {
      if (!spec.warmUp) continue;
      const script = `const fs = require('node:fs'); const warm = require(${JSON.stringify(path.join(DIST, spec.warmUp.module))})[${JSON.stringify(spec.warmUp.export)}];
        const state = () => JSON.stringify([fs.readdirSync('/proc/self/fd').length, process.env, process.cwd(), fs.readFileSync('/proc/self/status', 'utf8').match(/^(Seccomp|CapEff|NoNewPrivs):.*$/gm)]);
        const before = state(); warm(); warm(); console.log(before === state());`;
      const r = spawnSync(process.execPath, ['-e', script], { encoding: 'utf8' });
      assert.equal(r.status, 0, `${name}: ${r.stderr}`);
      assert.equal(r.stdout.trim(), 'true', name);
    }
  });

  it("the gofer's code cache holds its start's spec check compiled (its warm-up): a gofer compiles no bytecode for it", () => {
    // The gofer's bundle loaded with its cache, its command loaded through the
    // CLI (a usage error), then the first spec check, as a gofer's start makes
    // it: without the warm-up V8 compiled ~29 KB of bytecode there.
    const spec = path.join(DIST, 'src', 'spec', 'load.js');
    const script = `const v8 = require('node:v8');
      const { main } = require(${JSON.stringify(path.join(DIST, BUNDLE_DIR, 'gofer.js'))});
      process.stderr.write = () => true;
      main(['gofer']).then(() => {
        const load = require.cache[${JSON.stringify(spec)}];
        if (!load) { console.log('no spec module loaded by the gofer command'); process.exit(3); }
        const text = JSON.stringify(load.exports.defaultSpec());
        const before = v8.getHeapCodeStatistics().bytecode_and_metadata_size;
        load.exports.parseSpec(text);
        console.log(v8.getHeapCodeStatistics().bytecode_and_metadata_size - before);
        process.exit(0);
      });`;
    const r = spawnSync(process.execPath, ['-e', script], { encoding: 'utf8', env: { ...process.env, NODE_OPTIONS: '' } });
    assert.equal(r.status, 0, r.stdout + r.stderr);
    assert.ok(Number(r.stdout) < 2048, `the gofer's first spec check compiled ${r.stdout.trim()} bytes of bytecode`);
  });
});
