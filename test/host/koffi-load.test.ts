import { strict as assert } from 'node:assert';
import { execFileSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';

// src/host/libc.ts `koffi()`: the native module required directly, without
// koffi's own loader (its ELF read of Node's binary and its JavaScript,
// 17-37 ms a process: docs/STARTUP.md, the eleventh pass).
describe('host/libc koffi()', () => {
  const libcJs = path.resolve(__dirname, '..', '..', 'src', 'host', 'libc.js');
  const run = (code: string): string => execFileSync(process.execPath, ['-e', code], { encoding: 'utf8', env: { ...process.env, NODE_OPTIONS: '' } });

  it("loads koffi's native module for this host without koffi's loader, and it works", () => {
    const out = run(`
      const libc = require(${JSON.stringify(libcJs)});
      const k = libc.koffi();
      const loaded = Object.keys(require.cache);
      const pid = libc.libc().func('int getpid()')();
      console.log(JSON.stringify({
        version: k.version,
        native: loaded.filter((f) => f.endsWith('koffi.node')).map((f) => require('node:path').basename(require('node:path').dirname(f))),
        loader: loaded.filter((f) => /[\\\\/]koffi[\\\\/].*\\.c?js$|koffi-[^\\\\/]+[\\\\/]index\\.js$/.test(f)),
        pid: pid === process.pid,
      }));
    `);
    const r = JSON.parse(out) as { version: string; native: string[]; loader: string[]; pid: boolean };
    assert.equal(r.version, (JSON.parse(fs.readFileSync(path.join(path.dirname(require.resolve('koffi')), 'package.json'), 'utf8')) as { version: string }).version);
    assert.deepEqual(r.native, [`linux_${process.arch}`], 'the glibc build of this architecture');
    assert.deepEqual(r.loader, [], "koffi's own loader did not run");
    assert.ok(r.pid, 'getpid through it is this process');
  });

  it('shares the native module with a later require of koffi', () => {
    const out = run(`
      const libc = require(${JSON.stringify(libcJs)});
      const k = libc.koffi();
      const t = k.struct('tsv_probe', { a: 'int' });
      console.log(require('koffi').default === k, require('koffi').sizeof(t));
    `);
    assert.equal(out.trim(), 'true 4');
  });

  it('binds each libc function at its first use, not every function of its module at the first call of any (bindLazily)', () => {
    const files = path.resolve(__dirname, '..', '..', 'src', 'host', 'files.js');
    const out = run(`
      const libc = require(${JSON.stringify(libcJs)});
      const f = require(${JSON.stringify(files)});
      const p = f.pipe2(0);
      const closed = [f.closeFd(p[0]), f.closeFd(p[1]), f.closeFd(p[1])];
      console.log(JSON.stringify({ bound: libc.lazyBindings, closed }));
    `);
    const r = JSON.parse(out) as { bound: number; closed: number[] };
    // pipe2 and close alone of files.ts's ~25 (the errno's own getter is libc.ts's).
    assert.equal(r.bound, 2);
    assert.deepEqual(r.closed, [0, 0, -9], 'the calls work, and a failed one gives its errno (EBADF)');
  });
});
