import assert from 'node:assert/strict';
import * as child_process from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { Worker } from 'node:worker_threads';
import { createDebugLog, createUserLog } from '../../src/log/log.js';

const LOG_MODULE = JSON.stringify(path.resolve(__dirname, '../../src/log/log.js'));
const ISO_TIME = /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?(Z|[+-]\d\d:\d\d)$/;

/** Runs a snippet in a fresh node with `log` bound to the module; returns its output. */
function runNode(snippet: string): child_process.SpawnSyncReturns<string> {
  return child_process.spawnSync(process.execPath, ['-e', `const log = require(${LOG_MODULE}); ${snippet}`], { encoding: 'utf8' });
}

describe('log: createDebugLog', () => {
  let dir: string;
  let n = 0;
  const file = () => path.join(dir, `debug${n++}.log`);
  before(() => {
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'tsv-log-'));
  });
  after(() => fs.rmSync(dir, { recursive: true, force: true }));

  it('writes "TIME LEVEL message" lines to the file, at debug level when debugging', () => {
    const p = file();
    const log = createDebugLog({ debug: true, debugLogPath: p, format: 'text' });
    log.debug('spec loaded');
    log.warn('careful', { fd: 3 });
    log.close();
    const lines = fs.readFileSync(p, 'utf8').trimEnd().split('\n');
    assert.equal(lines.length, 2);
    const [time, level, ...rest] = lines[0].split(' ');
    assert.match(time, ISO_TIME);
    assert.equal(level, 'DEBUG');
    assert.equal(rest.join(' '), 'spec loaded');
    assert.match(lines[1], / WARN careful \{"fd":3\}$/);
  });

  it('writes one JSON object per line in json format', () => {
    const p = file();
    const log = createDebugLog({ debug: true, debugLogPath: p, format: 'json' });
    log.info('two\nlines', { cid: 'c1' });
    log.close();
    const lines = fs.readFileSync(p, 'utf8').trimEnd().split('\n');
    assert.equal(lines.length, 1);
    const e = JSON.parse(lines[0]);
    assert.equal(e.level, 'info');
    assert.equal(e.msg, 'two\nlines');
    assert.equal(e.cid, 'c1');
    assert.match(e.time, ISO_TIME);
  });

  it('appends to an existing file', () => {
    const p = file();
    fs.writeFileSync(p, 'earlier\n');
    const log = createDebugLog({ debug: true, debugLogPath: p, format: 'text' });
    log.info('later');
    log.close();
    const lines = fs.readFileSync(p, 'utf8').trimEnd().split('\n');
    assert.equal(lines[0], 'earlier');
    assert.match(lines[1], /INFO later$/);
  });

  it('logs only warnings and errors when not debugging', () => {
    const p = file();
    const log = createDebugLog({ debug: false, debugLogPath: p, format: 'text' });
    log.debug('hidden');
    log.info('hidden too');
    log.warn('shown');
    log.error('also shown');
    log.close();
    const text = fs.readFileSync(p, 'utf8');
    assert.ok(!text.includes('hidden'));
    assert.match(text, /WARN shown\n.*ERROR also shown\n$/);
  });

  it('goes to stderr when debugging without a file, and nowhere otherwise', () => {
    const on = runNode(`log.createDebugLog({ debug: true, format: 'text' }).debug('to stderr')`);
    assert.equal(on.status, 0, on.stderr);
    assert.match(on.stderr, /DEBUG to stderr\n$/);
    assert.equal(on.stdout, '');
    const off = runNode(`const l = log.createDebugLog({ debug: false, format: 'text' }); l.warn('x'); l.error('y')`);
    assert.equal(off.status, 0);
    assert.equal(off.stderr, '');
  });

  it('keeps a line logged just before process.exit', () => {
    const p = file();
    const r = runNode(`const l = log.createDebugLog({ debug: true, debugLogPath: ${JSON.stringify(p)}, format: 'json' }); l.debug('last words'); process.exit(3)`);
    assert.equal(r.status, 3);
    assert.equal(JSON.parse(fs.readFileSync(p, 'utf8')).msg, 'last words');
  });

  it('throws a clear error when the file cannot be opened', () => {
    const p = path.join(dir, 'no-such-dir', 'x.log');
    assert.throws(() => createDebugLog({ debug: true, debugLogPath: p, format: 'text' }), (e: unknown) => {
      assert.ok(e instanceof Error);
      assert.ok(e.message.startsWith(`cannot open the debug log ${p}: `), e.message);
      return true;
    });
  });

  it('drops lines logged after close() without complaint', () => {
    const p = file();
    const log = createDebugLog({ debug: true, debugLogPath: p, format: 'text' });
    log.close();
    log.warn('after close');
    assert.equal(fs.readFileSync(p, 'utf8'), '');
  });

  it('lets several worker threads log to the same file at once, each line whole', async function () {
    this.timeout(20000);
    const p = file();
    const workers = 4;
    const lines = 300;
    const code = `
      const { workerData } = require('node:worker_threads');
      const log = require(${LOG_MODULE});
      const l = log.createDebugLog({ debug: true, debugLogPath: workerData.p, format: 'json' });
      for (let i = 0; i < ${lines}; i++) l.debug('worker ' + workerData.w + ' line ' + i + ' ' + 'x'.repeat(200));
      l.close();`;
    await Promise.all(Array.from({ length: workers }, (_, w) => new Promise<void>((resolve, reject) => {
      const wk = new Worker(code, { eval: true, workerData: { p, w } });
      wk.on('error', reject);
      wk.on('exit', (c) => (c === 0 ? resolve() : reject(new Error(`worker exit ${c}`))));
    })));
    const got = fs.readFileSync(p, 'utf8').trimEnd().split('\n').map((l) => JSON.parse(l).msg as string);
    assert.equal(got.length, workers * lines);
    for (let w = 0; w < workers; w++) {
      const mine = got.filter((m) => m.startsWith(`worker ${w} `));
      assert.deepEqual(mine.map((m) => Number(m.split(' ')[3])), Array.from({ length: lines }, (_, i) => i));
    }
  });
});

describe('log: createUserLog', () => {
  let dir: string;
  before(() => {
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'tsv-ulog-'));
  });
  after(() => fs.rmSync(dir, { recursive: true, force: true }));

  it('is a no-op for fd 0', () => {
    const log = createUserLog(0);
    log.info('nothing');
    log.warn('nothing');
    log.close();
  });

  it('writes {"log","level","time"} JSON lines synchronously', () => {
    const p = path.join(dir, 'user1.log');
    const fd = fs.openSync(p, 'w');
    const log = createUserLog(fd);
    log.info('unsupported syscall 999');
    assert.equal(fs.readFileSync(p, 'utf8').split('\n').length, 2, 'written before info() returns');
    log.warn('two\nlines "quoted"');
    log.close();
    fs.closeSync(fd);
    const entries = fs.readFileSync(p, 'utf8').trimEnd().split('\n').map((l) => JSON.parse(l));
    assert.deepEqual(entries.map((e) => Object.keys(e)), [['log', 'level', 'time'], ['log', 'level', 'time']]);
    assert.deepEqual(entries.map((e) => e.log), ['unsupported syscall 999', 'two\nlines "quoted"']);
    assert.deepEqual(entries.map((e) => e.level), ['info', 'warning']);
    for (const e of entries) assert.match(e.time, ISO_TIME);
  });

  it('leaves the fd open on close() unless asked to close it', () => {
    const p = path.join(dir, 'user2.log');
    const fd = fs.openSync(p, 'w');
    const a = createUserLog(fd);
    a.close();
    a.info('dropped');
    fs.fstatSync(fd); // still open
    const b = createUserLog(fd, { closeFd: true });
    b.info('kept');
    b.close();
    assert.throws(() => fs.fstatSync(fd), /EBADF/);
    assert.equal(JSON.parse(fs.readFileSync(p, 'utf8')).log, 'kept');
  });

  it('works from a worker thread', async () => {
    const p = path.join(dir, 'user3.log');
    const fd = fs.openSync(p, 'w');
    const code = `
      const { workerData } = require('node:worker_threads');
      const log = require(${LOG_MODULE});
      const l = log.createUserLog(workerData.fd);
      l.warn('from a worker');
      l.close();`;
    await new Promise<void>((resolve, reject) => {
      const wk = new Worker(code, { eval: true, workerData: { fd } });
      wk.on('error', reject);
      wk.on('exit', (c) => (c === 0 ? resolve() : reject(new Error(`worker exit ${c}`))));
    });
    fs.closeSync(fd);
    assert.equal(JSON.parse(fs.readFileSync(p, 'utf8')).log, 'from a worker');
  });

  it('does not throw when the fd is a pipe whose reader is gone', () => {
    const r = runNode(`
      const fs = require('node:fs');
      // a pipe with its read end closed: every write fails with EPIPE
      const [rd, wr] = require(${JSON.stringify(path.resolve(__dirname, '../../src/host/ffi.js'))}).pipe2(0);
      fs.closeSync(rd);
      const l = log.createUserLog(wr);
      l.warn('nobody reads this');
      l.info('nor this');
      process.stdout.write('ok');`);
    assert.equal(r.status, 0, r.stderr);
    assert.equal(r.stdout, 'ok');
  });

  it('does not throw for a closed fd', () => {
    const log = createUserLog(987_654);
    log.warn('lost');
    log.close();
  });
});
