import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as net from 'node:net';
import * as os from 'node:os';
import * as path from 'node:path';
import koffi from 'koffi';
import {
  ContainerManager,
  ExecArg,
  CheckpointArg,
  WaitPidArg,
  ControlServer,
  MAX_IN_FLIGHT,
  ProcessInfo,
  SignalArg,
  UrpcClient,
} from '../../src/main/control-server.js';
import { JsonValueSplitter, MalformedStreamError, valuesBeforeFailure } from '../../src/main/urpc.js';
import { closeFd, pipe2, O_CLOEXEC } from '../../src/host/ffi.js';

// ---- raw sockets for the tests: Node cannot make a bound-but-not-listening socket ----

const AF_UNIX = 1;
const SOCK_STREAM = 1;
const SOCK_DGRAM = 2;
let libc: {
  socket(d: number, t: number, p: number): number;
  bind(fd: number, addr: Buffer, len: number): number;
  listen(fd: number, backlog: number): number;
  socketpair(d: number, t: number, p: number, sv: Int32Array): number;
  close(fd: number): number;
} | undefined;

function c() {
  if (!libc) {
    const l = koffi.load('libc.so.6');
    libc = {
      socket: l.func('int socket(int, int, int)'),
      bind: l.func('int bind(int, const void *, uint32_t)'),
      listen: l.func('int listen(int, int)'),
      socketpair: l.func('int socketpair(int, int, int, int *)'),
      close: l.func('int close(int)'),
    } as unknown as typeof libc;
  }
  return libc!;
}

function unixSocket(type = SOCK_STREAM): number {
  const fd = c().socket(AF_UNIX, type, 0);
  assert.ok(fd >= 0, 'socket()');
  return fd;
}

function bindTo(fd: number, p: string): void {
  const addr = Buffer.alloc(110);
  addr.writeUInt16LE(AF_UNIX, 0);
  addr.write(p, 2);
  assert.equal(c().bind(fd, addr, 2 + Buffer.byteLength(p) + 1), 0, 'bind()');
}

function socketPair(): [number, number] {
  const sv = new Int32Array(2);
  assert.equal(c().socketpair(AF_UNIX, SOCK_STREAM, 0, sv), 0, 'socketpair()');
  return [sv[0], sv[1]];
}

// ---- a manager whose behaviour each test shapes ----

class FakeManager implements ContainerManager {
  calls: string[] = [];
  started = false;
  waiters: Array<(status: number) => void> = [];
  signals: SignalArg[] = [];
  processes: ProcessInfo[] = [{ UID: 0, PID: 1, PPID: 0, C: 0, STIME: '10:00', TIME: '0s', Cmd: 'sh' }];

  async StartRoot(cid: string): Promise<null> {
    this.calls.push(`StartRoot ${cid}`);
    if (cid === 'throw-sync') throw new Error('boom sync');
    if (this.started) throw new Error('container already started');
    this.started = true;
    return null;
  }
  Wait(cid: string): Promise<number> {
    this.calls.push(`Wait ${cid}`);
    if (cid === 'unknown') return Promise.reject(new Error(`no container ${JSON.stringify(cid)}`));
    return new Promise((resolve) => this.waiters.push(resolve));
  }
  async Signal(arg: SignalArg): Promise<null> {
    this.calls.push(`Signal ${arg.Signo}`);
    this.signals.push(arg);
    return null;
  }
  Stacks(cid: string): Promise<string> {
    this.calls.push(`Stacks ${cid}`);
    return Promise.resolve(`threads of ${cid}\n`);
  }
  Processes(cid: string): Promise<ProcessInfo[]> {
    this.calls.push(`Processes ${cid}`);
    if (cid === 'reject-string') return Promise.reject('plain string');
    if (cid === 'throw-now') throw new TypeError('thrown before any promise');
    if (cid === 'reject-weird') return Promise.reject({ toString() { throw new Error('no'); } });
    return Promise.resolve(this.processes);
  }
  async Event(cid: string): Promise<unknown> {
    this.calls.push(`Event ${cid}`);
    if (cid === 'bigint') return { n: 1n };
    return { cpu: { usage: 1 }, memory: { usage: 2 }, pids: { current: 1 } };
  }
  execs: Array<{ arg: ExecArg; files: number[] }> = [];
  async ExecuteAsync(arg: ExecArg, files: number[]): Promise<number> {
    this.calls.push(`ExecuteAsync ${arg.Argv.join(' ')}`);
    this.execs.push({ arg, files });
    return 7;
  }
  async WaitPID(arg: WaitPidArg): Promise<number> {
    this.calls.push(`WaitPID ${arg.PID}`);
    return 3 << 8;
  }
  async Pause(cid: string): Promise<null> {
    this.calls.push(`Pause ${cid}`);
    return null;
  }
  async Resume(cid: string): Promise<null> {
    this.calls.push(`Resume ${cid}`);
    return null;
  }
  async Checkpoint(arg: CheckpointArg, file: number): Promise<null> {
    closeFd(file);
    this.calls.push(`Checkpoint ${arg.CID} ${arg.LeaveRunning}`);
    return null;
  }
  async Restore(cid: string, file: number): Promise<null> {
    closeFd(file);
    this.calls.push(`Restore ${cid}`);
    return null;
  }
}

const tick = (ms = 20) => new Promise((r) => setTimeout(r, ms));

/** Connects, sends `writes` (with a pause between them), collects replies until the server closes or `ms` pass. */
function rawExchange(
  target: string | number,
  writes: Array<string | Buffer>,
  opts: { ms?: number; endAfter?: boolean; gapMs?: number } = {},
): Promise<{ replies: unknown[]; closedByServer: boolean; text: string }> {
  return new Promise((resolve, reject) => {
    const sock = typeof target === 'string'
      ? net.createConnection({ path: target, allowHalfOpen: true })
      : new net.Socket({ fd: target, readable: true, writable: true, allowHalfOpen: true });
    let text = '';
    let done = false;
    const finish = (closedByServer: boolean) => {
      if (done) return;
      done = true;
      clearTimeout(timer);
      sock.destroy();
      const splitter = new JsonValueSplitter({ maxBytes: 1 << 26 });
      resolve({ replies: [...splitter.push(Buffer.from(text)), ...splitter.end()], closedByServer, text });
    };
    const timer = setTimeout(() => finish(false), opts.ms ?? 500);
    sock.on('data', (d) => (text += d.toString('utf8')));
    sock.on('end', () => finish(true));
    sock.on('error', (e) => (done ? undefined : reject(e)));
    (async () => {
      for (const w of writes) {
        if (sock.destroyed) return;
        sock.write(w);
        if (opts.gapMs) await tick(opts.gapMs);
      }
      if (opts.endAfter) sock.end();
    })().catch(reject);
  });
}

const call = (method: string, arg: unknown) => JSON.stringify({ method, arg });

describe('urpc: JsonValueSplitter', () => {
  it('splits several values in one chunk, with or without whitespace between them', () => {
    const s = new JsonValueSplitter();
    assert.deepEqual(s.push(Buffer.from('{"a":1}{"b":2} \n\t[3] "x"{}')), [{ a: 1 }, { b: 2 }, [3], 'x', {}]);
    assert.equal(s.midValue, false);
  });

  it('assembles a value fed one byte at a time', () => {
    const s = new JsonValueSplitter();
    const text = '{"method":"containerManager.Wait","arg":"c1","x":[1,{"y":"}]"}]}';
    const got: unknown[] = [];
    for (const b of Buffer.from(text)) got.push(...s.push(Buffer.from([b])));
    assert.deepEqual(got, [JSON.parse(text)]);
  });

  it('is not fooled by brackets, quotes and backslashes inside strings', () => {
    const s = new JsonValueSplitter();
    const v1 = { a: '}]{["\\', b: '\\"}' };
    const text = JSON.stringify(v1) + JSON.stringify('\\') + JSON.stringify(['"', '\\\\"]']);
    assert.deepEqual(s.push(Buffer.from(text)), [v1, '\\', ['"', '\\\\"]']]);
  });

  it('decodes multi-byte UTF-8 split across chunks', () => {
    const s = new JsonValueSplitter();
    const bytes = Buffer.from('{"k":"é😀"}');
    const cut = bytes.indexOf(0xc3) + 1; // inside é
    assert.deepEqual(s.push(bytes.subarray(0, cut)), []);
    assert.deepEqual(s.push(bytes.subarray(cut)), [{ k: 'é😀' }]);
  });

  it('ends a top-level number or literal at a delimiter, or at end of stream', () => {
    const s = new JsonValueSplitter();
    assert.deepEqual(s.push(Buffer.from('1 -2.5e3 true{}null')), [1, -2500, true, {}]);
    assert.equal(s.midValue, true);
    assert.deepEqual(s.end(), [null]);
  });

  it('fails on bytes that cannot start a value, and stays failed', () => {
    const s = new JsonValueSplitter();
    assert.throws(() => s.push(Buffer.from([0x00, 0xff])), (e: unknown) => e instanceof MalformedStreamError && /unexpected byte 0x00/.test(e.message));
    assert.equal(s.failed, true);
    assert.throws(() => s.push(Buffer.from('{}')), MalformedStreamError);
  });

  it('keeps the values completed before a failure in the same chunk', () => {
    const s = new JsonValueSplitter();
    try {
      s.push(Buffer.from('{"a":1} ]'));
      assert.fail('expected a failure');
    } catch (e) {
      assert.ok(e instanceof MalformedStreamError);
      assert.deepEqual(valuesBeforeFailure(e), [{ a: 1 }]);
    }
  });

  it('fails on a delimited value that is not JSON', () => {
    for (const text of ['{"a" 1}', '{]', '[1,]', '{"a":"\u0001"}', 'tru ', '01 ']) {
      const s = new JsonValueSplitter();
      assert.throws(() => s.push(Buffer.from(text)), (e: unknown) => e instanceof MalformedStreamError && /^not JSON: /.test(e.message), text);
    }
  });

  it('fails when the stream ends inside a value', () => {
    const s = new JsonValueSplitter();
    s.push(Buffer.from('{"a":'));
    assert.throws(() => s.end(), /stream ended inside a JSON value/);
    const t = new JsonValueSplitter();
    t.push(Buffer.from('"abc'));
    assert.throws(() => t.end(), /stream ended inside/);
  });

  it('refuses a value over the size limit without waiting for its end', () => {
    const s = new JsonValueSplitter({ maxBytes: 1000 });
    s.push(Buffer.from('{"a":"' + 'x'.repeat(500)));
    assert.throws(() => s.push(Buffer.from('x'.repeat(600))), /message larger than 1000 bytes/);
    const t = new JsonValueSplitter({ maxBytes: 10 });
    assert.throws(() => t.push(Buffer.from('12345678901234')), /larger than 10 bytes/);
    const u = new JsonValueSplitter({ maxBytes: 10 });
    assert.throws(() => u.push(Buffer.from('"1234567890123"')), /larger than 10 bytes/);
  });

  it('counts only the value, not whitespace between values, against the limit', () => {
    const s = new JsonValueSplitter({ maxBytes: 10 });
    assert.deepEqual(s.push(Buffer.from(' '.repeat(10000) + '{"a":1}' + '\n'.repeat(10000) + '[2]')), [{ a: 1 }, [2]]);
  });

  it('refuses nesting past the depth limit', () => {
    const s = new JsonValueSplitter({ maxDepth: 5 });
    assert.deepEqual(s.push(Buffer.from('[[[[[]]]]]')), [[[[[[]]]]]]);
    assert.throws(() => s.push(Buffer.from('[[[[[[]]]]]]')), /nested deeper than 5 levels/);
  });

  it('finds the same values however a stream of random values is cut (seeded)', () => {
    let seed = 12345;
    const rnd = (n: number) => {
      seed = (seed * 1103515245 + 12345) & 0x7fffffff;
      return seed % n;
    };
    const strings = ['', 'a', '{', '}', '[', ']', '"', '\\', '\\"', 'é', '😀', '\n', '\u0000x'];
    const gen = (depth: number): unknown => {
      switch (rnd(depth > 3 ? 4 : 6)) {
        case 0: return rnd(1000) - 500;
        case 1: return strings[rnd(strings.length)] + strings[rnd(strings.length)];
        case 2: return [true, false, null][rnd(3)];
        case 3: return rnd(100) / 8;
        case 4: return Array.from({ length: rnd(4) }, () => gen(depth + 1));
        default: {
          const o: Record<string, unknown> = {};
          for (let i = rnd(4); i > 0; i--) o[strings[rnd(strings.length)] + i] = gen(depth + 1);
          return o;
        }
      }
    };
    const spaces = ['', ' ', '\n', '\t', '\r\n  '];
    for (let round = 0; round < 200; round++) {
      const values = Array.from({ length: 1 + rnd(6) }, () => gen(0));
      // Bare numbers and literals need a delimiter after them; give every value one.
      const text = Buffer.from(values.map((v) => JSON.stringify(v) + (spaces[rnd(spaces.length)] || ' ')).join(''));
      const s = new JsonValueSplitter();
      const got: unknown[] = [];
      let at = 0;
      while (at < text.length) {
        const len = 1 + rnd(12);
        got.push(...s.push(text.subarray(at, at + len)));
        at += len;
      }
      got.push(...s.end());
      assert.deepEqual(got, values, text.toString());
    }
  });

  it('never throws anything but MalformedStreamError on random bytes (seeded)', () => {
    let seed = 777;
    const rnd = (n: number) => {
      seed = (seed * 1103515245 + 12345) & 0x7fffffff;
      return seed % n;
    };
    const alphabet = Buffer.from('{}[]":,\\ 0123456789-eE.tfnulrsa\n\xff\x00');
    for (let round = 0; round < 500; round++) {
      const s = new JsonValueSplitter({ maxBytes: 256, maxDepth: 8 });
      try {
        for (let k = 0; k < 8; k++) {
          s.push(Buffer.from(Array.from({ length: rnd(40) }, () => alphabet[rnd(alphabet.length)])));
        }
        s.end();
      } catch (e) {
        assert.ok(e instanceof MalformedStreamError, String(e));
      }
    }
  });

  it('stays linear in the input when a large value arrives one byte per chunk', () => {
    const s = new JsonValueSplitter();
    const text = Buffer.from(JSON.stringify({ s: 'y'.repeat(300_000) }));
    const t0 = Date.now();
    let got: unknown[] = [];
    for (let i = 0; i < text.length; i++) got = got.concat(s.push(text.subarray(i, i + 1)));
    assert.equal(got.length, 1);
    assert.ok(Date.now() - t0 < 5000, `took ${Date.now() - t0} ms`);
  });
});

describe('control server', function () {
  this.timeout(10000);
  let dir: string;
  let n = 0;
  const servers: ControlServer[] = [];
  const clients: UrpcClient[] = [];

  before(() => {
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'tsv-ctl-'));
  });
  afterEach(async () => {
    for (const cl of clients.splice(0)) cl.close();
    for (const s of servers.splice(0)) await s.close();
  });
  after(() => fs.rmSync(dir, { recursive: true, force: true }));

  /** A control server on a freshly bound (optionally listening) socket; returns its path. */
  async function serveOnPath(m: ContainerManager, listening = false, log?: { debug(m: string): void; warn(m: string): void }): Promise<{ path: string; server: ControlServer }> {
    const p = path.join(dir, `s${n++}`);
    const fd = unixSocket();
    bindTo(fd, p);
    if (listening) assert.equal(c().listen(fd, 16), 0);
    const server = await ControlServer.serveFd(fd, m, log);
    servers.push(server);
    return { path: p, server };
  }

  async function client(p: string): Promise<UrpcClient> {
    const cl = await UrpcClient.connect(p);
    clients.push(cl);
    return cl;
  }

  describe('the donated socket', () => {
    it('listens on a bound socket and serves calls', async () => {
      const m = new FakeManager();
      const { path: p } = await serveOnPath(m, false);
      const cl = await client(p);
      assert.equal(await cl.call('containerManager.StartRoot', 'c1'), null);
      assert.deepEqual(m.calls, ['StartRoot c1']);
    });

    it('accepts on an already listening socket', async () => {
      const m = new FakeManager();
      const { path: p } = await serveOnPath(m, true);
      const cl = await client(p);
      assert.deepEqual(await cl.call('containerManager.Processes', 'c1'), m.processes);
    });

    it('serves debug.Stacks (the thread dump) with the container id', async () => {
      const m = new FakeManager();
      const { path: p } = await serveOnPath(m, true);
      const cl = await client(p);
      assert.equal(await cl.call('debug.Stacks', 'c1'), 'threads of c1\n');
      await assert.rejects(cl.call('debug.Stacks', 5), /container id/);
      assert.deepEqual(m.calls, ['Stacks c1']);
    });

    it('serves every connection it accepts, at once', async () => {
      const m = new FakeManager();
      const { path: p } = await serveOnPath(m, true);
      const a = await client(p);
      const b = await client(p);
      const wait = a.call('containerManager.Wait', 'c1');
      assert.equal(await b.call('containerManager.Signal', { CID: 'c1', Signo: 9, PID: 0, Mode: 0 }), null);
      while (m.waiters.length === 0) await tick(5);
      m.waiters[0](9);
      assert.equal(await wait, 9);
    });

    it('serves the one peer of a connected socket', async () => {
      const m = new FakeManager();
      const [mine, theirs] = socketPair();
      const server = await ControlServer.serveFd(mine, m);
      servers.push(server);
      const cl = UrpcClient.fromSocket(new net.Socket({ fd: theirs, readable: true, writable: true }));
      clients.push(cl);
      assert.deepEqual(await cl.call('containerManager.Event', 'c1'), { cpu: { usage: 1 }, memory: { usage: 2 }, pids: { current: 1 } });
      assert.equal(server.connections, 1);
    });

    it('listenFd (boot, before its sync byte) makes a bound socket listen: a call made before serveFd waits in its queue and is answered once served', async () => {
      const m = new FakeManager();
      const p = path.join(dir, `s${n++}`);
      const fd = unixSocket();
      bindTo(fd, p);
      assert.equal(ControlServer.listenFd(fd), 'bound');
      // connect(2) succeeds with no server yet: the socket listens.
      const cl = await client(p);
      const answer = cl.call('containerManager.StartRoot', 'c1');
      await tick(50);
      assert.deepEqual(m.calls, [], 'nothing is served before serveFd');
      assert.equal(ControlServer.listenFd(fd), 'listening', 'listenFd again finds it listening');
      const server = await ControlServer.serveFd(fd, m);
      servers.push(server);
      assert.equal(await answer, null);
      assert.deepEqual(m.calls, ['StartRoot c1']);
    });

    it('listenFd refuses, synchronously, what serveFd refuses', () => {
      const unbound = unixSocket();
      assert.throws(() => ControlServer.listenFd(unbound), /controller fd \d+: a socket that is neither bound, listening nor connected \(unbound\)/);
      c().close(unbound);
      const dgram = unixSocket(SOCK_DGRAM);
      bindTo(dgram, path.join(dir, `d${n++}`));
      assert.throws(() => ControlServer.listenFd(dgram), /controller fd \d+: not a stream socket/);
      c().close(dgram);
      assert.throws(() => ControlServer.listenFd(999_999), /not a socket/);
      assert.throws(() => ControlServer.listenFd(-1), /not a file descriptor/);
    });

    it('rejects an unbound socket, a datagram socket, a non-socket and a closed fd with a clear error', async () => {
      const m = new FakeManager();
      const unbound = unixSocket();
      await assert.rejects(ControlServer.serveFd(unbound, m), /controller fd \d+: a socket that is neither bound, listening nor connected \(unbound\)/);
      c().close(unbound);
      const dgram = unixSocket(SOCK_DGRAM);
      bindTo(dgram, path.join(dir, `d${n++}`));
      await assert.rejects(ControlServer.serveFd(dgram, m), /controller fd \d+: not a stream socket/);
      c().close(dgram);
      const file = fs.openSync(path.join(dir, `f${n++}`), 'w');
      await assert.rejects(ControlServer.serveFd(file, m), /controller fd \d+: not a socket/);
      fs.closeSync(file);
      await assert.rejects(ControlServer.serveFd(999_999, m), /not a socket/);
      await assert.rejects(ControlServer.serveFd(-1, m), /not a file descriptor/);
    });

    it('stops accepting and ends connections on close()', async () => {
      const m = new FakeManager();
      const { path: p, server } = await serveOnPath(m, true);
      const cl = await client(p);
      const pending = cl.call('containerManager.Wait', 'c1');
      while (m.waiters.length === 0) await tick(5);
      await server.close();
      await assert.rejects(pending, /closed/);
      await assert.rejects(UrpcClient.connect(p), /cannot connect/);
    });
  });

  describe('calls', () => {
    let m: FakeManager;
    let p: string;
    beforeEach(async () => {
      m = new FakeManager();
      p = (await serveOnPath(m, true)).path;
    });

    it('answers each method with its result', async () => {
      const cl = await client(p);
      assert.equal(await cl.call('containerManager.StartRoot', 'c1'), null);
      assert.equal(await cl.call('containerManager.Signal', { CID: 'c1', Signo: 15, PID: 3, Mode: 3 }), null);
      assert.deepEqual(m.signals, [{ CID: 'c1', Signo: 15, PID: 3, Mode: 3 }]);
      assert.deepEqual(await cl.call('containerManager.Processes', 'c1'), m.processes);
      assert.ok(await cl.call('containerManager.Event', 'c1'));
      const w = cl.call('containerManager.Wait', 'c1');
      while (m.waiters.length === 0) await tick(5);
      m.waiters[0](0x100);
      assert.equal(await w, 0x100);
    });

    it('writes replies in the shape {"success", "err", "result"}', async () => {
      const { replies } = await rawExchange(p, [call('containerManager.Processes', 'c1') + call('containerManager.Wait', 5)], { ms: 200 });
      assert.deepEqual(replies[0], { success: true, err: '', result: m.processes });
      assert.deepEqual(replies[1], { success: false, err: 'containerManager.Wait: arg must be a container id (string), got a number', result: null });
    });

    it('turns the manager\'s failures into error replies: rejections, sync throws, non-Error rejections', async () => {
      const cl = await client(p);
      await assert.rejects(cl.call('containerManager.Wait', 'unknown'), { message: 'no container "unknown"' });
      await assert.rejects(cl.call('containerManager.StartRoot', 'throw-sync'), { message: 'boom sync' });
      await assert.rejects(cl.call('containerManager.Processes', 'throw-now'), { message: 'thrown before any promise' });
      await assert.rejects(cl.call('containerManager.Processes', 'reject-string'), { message: 'plain string' });
      await assert.rejects(cl.call('containerManager.Processes', 'reject-weird'), { message: 'failed (the error cannot be shown)' });
      await cl.call('containerManager.StartRoot', 'c1');
      await assert.rejects(cl.call('containerManager.StartRoot', 'c1'), { message: 'container already started' });
      // and the connection still works
      assert.ok(await cl.call('containerManager.Event', 'c1'));
    });

    it('answers a result that cannot be encoded with an error', async () => {
      const cl = await client(p);
      await assert.rejects(cl.call('containerManager.Event', 'bigint'), /cannot encode the result/);
    });

    it('rejects unknown methods by name, including prototype names', async () => {
      const cl = await client(p);
      await assert.rejects(cl.call('containerManager.Nope', 'c1'), { message: 'unknown method "containerManager.Nope"' });
      await assert.rejects(cl.call('StartRoot', 'c1'), { message: 'unknown method "StartRoot"' });
      await assert.rejects(cl.call('__proto__', 'c1'), { message: 'unknown method "__proto__"' });
      await assert.rejects(cl.call('containerManager.constructor', 'c1'), /unknown method/);
      assert.deepEqual(m.calls, []);
    });

    it('checks container-id arguments before calling the manager', async () => {
      const cl = await client(p);
      for (const method of ['StartRoot', 'Wait', 'Processes', 'Event']) {
        await assert.rejects(cl.call(`containerManager.${method}`, { id: 'c' }), { message: `containerManager.${method}: arg must be a container id (string), got a object` });
        await assert.rejects(cl.call(`containerManager.${method}`, null), { message: `containerManager.${method}: arg must be a container id (string), got null` });
      }
      const { replies } = await rawExchange(p, ['{"method":"containerManager.Wait"}'], { ms: 150 });
      assert.deepEqual(replies, [{ success: false, err: 'containerManager.Wait: arg must be a container id (string), got nothing', result: null }]);
      assert.deepEqual(m.calls, []);
    });

    it('checks Signal arguments: an object, integer Signo, PID >= 0, Mode 0..3', async () => {
      const cl = await client(p);
      const bad: Array<[unknown, RegExp]> = [
        ['c1', /arg must be an object \{"CID", "Signo", "PID", "Mode"\}, got a string/],
        [[9], /got an array/],
        [{ CID: 'c1', PID: 0, Mode: 0 }, /Signo must be an integer in 0..64, got nothing/],
        [{ CID: 'c1', Signo: '9', PID: 0, Mode: 0 }, /Signo must be an integer in 0..64, got "9"/],
        [{ CID: 'c1', Signo: 1.5 }, /Signo must be an integer/],
        [{ CID: 'c1', Signo: 65 }, /Signo must be an integer in 0..64, got 65/],
        [{ CID: 'c1', Signo: 9, PID: -1 }, /PID must be an integer in 0..2147483647, got -1/],
        [{ CID: 'c1', Signo: 9, Mode: 4 }, /Mode must be an integer in 0..3, got 4/],
        [{ CID: 7, Signo: 9 }, /CID must be a string, got a number/],
      ];
      for (const [arg, re] of bad) await assert.rejects(cl.call('containerManager.Signal', arg), re, JSON.stringify(arg));
      assert.deepEqual(m.signals, []);
    });

    it('gives absent Signal fields Go\'s zero values, and passes only the known fields on', async () => {
      const cl = await client(p);
      await cl.call('containerManager.Signal', { Signo: 2, Extra: 'x' });
      assert.deepEqual(m.signals, [{ CID: '', Signo: 2, PID: 0, Mode: 0 }]);
    });

    it('answers values that are not {"method": string} with an error and keeps the connection', async () => {
      const bad = ['42', '"str"', '[]', 'null', '{"method": 1}', '{"arg": "c1"}', 'true'];
      const { replies, closedByServer } = await rawExchange(p, [bad.join(' ') + ' ' + call('containerManager.Event', 'c1')], { ms: 200 });
      assert.equal(closedByServer, false);
      assert.equal(replies.length, bad.length + 1);
      for (const r of replies.slice(0, -1)) {
        assert.deepEqual(r, { success: false, err: 'bad request: expected an object {"method": string, "arg": ...}', result: null });
      }
      assert.equal((replies.at(-1) as { success: boolean }).success, true);
    });
  });

  describe('files passed with a call (exec)', () => {
    const execArg = { ContainerID: 'c1', Argv: ['/bin/sh'], Envv: ['A=1'], WorkingDirectory: '/', KUID: 5, KGID: 6 };

    it("hands the stdio fds sent with a connection's first call to ExecuteAsync, open and usable", async () => {
      const m = new FakeManager();
      const { path: p } = await serveOnPath(m, true);
      const pipes = [0, 1, 2].map(() => pipe2(O_CLOEXEC) as [number, number]);
      const { client: cl, result } = UrpcClient.callWithFiles(p, 'containerManager.ExecuteAsync', execArg, pipes.map((x) => x[1]));
      clients.push(cl);
      assert.equal(await result, 7);
      assert.equal(m.execs.length, 1);
      const { arg, files } = m.execs[0];
      assert.deepEqual(arg, { ...execArg, Filename: '', ExtraKGIDs: [], StdioIsPty: false });
      assert.equal(files.length, 3);
      // Each received fd is the write end of our pipe: what goes in comes out of ours.
      files.forEach((fd, i) => fs.writeSync(fd, `to ${i}`));
      pipes.forEach(([r], i) => {
        const buf = Buffer.alloc(16);
        assert.equal(buf.toString('utf8', 0, fs.readSync(r, buf)), `to ${i}`);
      });
      for (const fd of files) closeFd(fd);
      for (const [r, w] of pipes) {
        closeFd(w);
        closeFd(r);
      }
      // The connection goes on as a plain stream.
      assert.equal(await cl.call('containerManager.WaitPID', { CID: 'c1', PID: 7 }), 3 << 8);
    });

    it('refuses ExecuteAsync without its files, and closes files sent with a call that takes none', async () => {
      const m = new FakeManager();
      const { path: p } = await serveOnPath(m, true);
      const cl = await client(p);
      await assert.rejects(cl.call('containerManager.ExecuteAsync', execArg), /expected 3 files \(stdin, stdout, stderr\) passed with the call, got 0/);
      await assert.rejects(cl.call('containerManager.ExecuteAsync', { ...execArg, WorkingDirectory: 'rel' }), /WorkingDirectory must be absolute/);
      await assert.rejects(cl.call('containerManager.ExecuteAsync', { ...execArg, StdioIsPty: true, ConsoleInput: 'line' }), /ConsoleInput must be a list of at most 4096 base64 strings/);
      await assert.rejects(cl.call('containerManager.ExecuteAsync', { ...execArg, StdioIsPty: true, ConsoleInput: ['not base64!'] }), /ConsoleInput must be a list of base64 strings/);
      await assert.rejects(cl.call('containerManager.ExecuteAsync', { ...execArg, StdioIsPty: true, ConsoleInput: ['QUFB'.repeat(3000), 'QUFB'.repeat(3000)] }), /more than a terminal's queue/);
      await assert.rejects(cl.call('containerManager.WaitPID', { CID: 'c1', PID: 0 }), /PID must be an integer in 1\.\.2147483647/);
      const [r, w] = pipe2(O_CLOEXEC) as [number, number];
      const { client: other, result } = UrpcClient.callWithFiles(p, 'containerManager.Event', 'c1', [w]);
      clients.push(other);
      await result;
      closeFd(w);
      // The server closed its copy of the write end: our read end sees end of file.
      assert.equal(fs.readFileSync(r).length, 0);
      closeFd(r);
      assert.equal(m.execs.length, 0);
    });

    it('hands Checkpoint and Restore their image file, and refuses them without one', async () => {
      const m = new FakeManager();
      const { path: p } = await serveOnPath(m, true);
      for (const [method, arg, call] of [
        ['containerManager.Checkpoint', { CID: 'c1', LeaveRunning: true }, 'Checkpoint c1 true'],
        ['containerManager.Checkpoint', { CID: 'c1' }, 'Checkpoint c1 false'],
        ['containerManager.Restore', { CID: 'c1' }, 'Restore c1'],
      ] as const) {
        const [r, w] = pipe2(O_CLOEXEC) as [number, number];
        const { client: cl, result } = UrpcClient.callWithFiles(p, method, arg, [w]);
        clients.push(cl);
        assert.equal(await result, null);
        closeFd(w);
        // The manager got (and closed) the file: our read end sees end of file.
        assert.equal(fs.readFileSync(r).length, 0);
        closeFd(r);
        assert.equal(m.calls.at(-1), call);
      }
      const cl = await client(p);
      await assert.rejects(cl.call('containerManager.Checkpoint', { CID: 'c1' }), /Checkpoint: expected the image file passed with the call, got 0 files/);
      await assert.rejects(cl.call('containerManager.Restore', { CID: 'c1' }), /Restore: expected the image file passed with the call, got 0 files/);
      await assert.rejects(cl.call('containerManager.Checkpoint', { CID: 'c1', LeaveRunning: 'yes' }), /LeaveRunning must be a boolean, got a string/);
    });
  });

  describe('ordering', () => {
    it('answers in request order while an earlier Wait is pending, yet runs the later call at once', async () => {
      const m = new FakeManager();
      const { path: p } = await serveOnPath(m, true);
      const cl = await client(p);
      const order: string[] = [];
      const wait = cl.call('containerManager.Wait', 'c1').then((v) => { order.push('wait'); return v; });
      const sig = cl.call('containerManager.Signal', { CID: 'c1', Signo: 9, PID: 0, Mode: 1 }).then(() => order.push('signal'));
      while (m.signals.length === 0) await tick(5);
      await tick(50);
      assert.deepEqual(order, [], 'the Signal reply waits behind the Wait reply');
      assert.deepEqual(m.calls, ['Wait c1', 'Signal 9']);
      m.waiters[0](9);
      assert.equal(await wait, 9);
      await sig;
      assert.deepEqual(order, ['wait', 'signal']);
    });

    it('answers many pipelined calls (more than may be in flight) in order', async () => {
      const m = new FakeManager();
      const { path: p } = await serveOnPath(m, true);
      const count = MAX_IN_FLIGHT * 4;
      const msgs = Array.from({ length: count }, (_, i) => call('containerManager.Event', `c${i}`)).join('');
      const { replies } = await rawExchange(p, [msgs], { ms: 1000, endAfter: true });
      assert.equal(replies.length, count);
      assert.deepEqual(m.calls, Array.from({ length: count }, (_, i) => `Event c${i}`));
    });

    it('holds later calls back while MAX_IN_FLIGHT calls are pending', async () => {
      const m = new FakeManager();
      const { path: p } = await serveOnPath(m, true);
      const cl = await client(p);
      const waits = Array.from({ length: MAX_IN_FLIGHT }, () => cl.call('containerManager.Wait', 'c1'));
      const ev = cl.call('containerManager.Event', 'late');
      while (m.waiters.length < MAX_IN_FLIGHT) await tick(5);
      await tick(50);
      assert.ok(!m.calls.includes('Event late'), 'not dispatched while the connection is full');
      m.waiters[0](0);
      await waits[0];
      while (!m.calls.includes('Event late')) await tick(5);
      for (const w of m.waiters.slice(1)) w(0);
      await Promise.all(waits);
      assert.ok(await ev);
    });
  });

  describe('hostile input', () => {
    let m: FakeManager;
    let p: string;
    const warnings: string[] = [];
    beforeEach(async () => {
      m = new FakeManager();
      warnings.length = 0;
      p = (await serveOnPath(m, true, { debug() {}, warn: (s) => warnings.push(s) })).path;
    });

    it('assembles one message split over many packets', async () => {
      const msg = call('containerManager.Processes', 'c1');
      const pieces = [msg.slice(0, 3), msg.slice(3, 10), msg.slice(10, 11), msg.slice(11)];
      const { replies } = await rawExchange(p, pieces, { gapMs: 20, ms: 300 });
      assert.deepEqual(replies, [{ success: true, err: '', result: m.processes }]);
    });

    it('answers several messages arriving in one packet', async () => {
      const msg = call('containerManager.Event', 'a') + '\n' + call('containerManager.Event', 'b') + call('containerManager.Event', 'c');
      const { replies } = await rawExchange(p, [msg], { ms: 200 });
      assert.equal(replies.length, 3);
      assert.deepEqual(m.calls, ['Event a', 'Event b', 'Event c']);
    });

    it('answers garbage bytes with one malformed-request reply, then closes', async () => {
      const { replies, closedByServer } = await rawExchange(p, [Buffer.from([0xde, 0xad, 0xbe, 0xef, 0x7b])], { ms: 2000 });
      assert.equal(closedByServer, true);
      assert.deepEqual(replies, [{ success: false, err: 'malformed request: unexpected byte 0xde where a JSON value should start', result: null }]);
      assert.equal(warnings.length, 1);
    });

    it('answers the calls before a malformed value, then the error, then closes', async () => {
      const { replies, closedByServer } = await rawExchange(p, [call('containerManager.Event', 'a') + '{"method": nope}' + call('containerManager.Event', 'b')], { ms: 2000 });
      assert.equal(closedByServer, true);
      assert.equal(replies.length, 2);
      assert.equal((replies[0] as { success: boolean }).success, true);
      assert.match((replies[1] as { err: string }).err, /^malformed request: not JSON: /);
      assert.deepEqual(m.calls, ['Event a']);
    });

    it('refuses a message over 1 MiB without buffering it whole', async () => {
      const head = '{"method":"containerManager.Wait","arg":"';
      const chunk = 'x'.repeat(256 * 1024);
      const { replies, closedByServer } = await rawExchange(p, [head, ...Array(8).fill(chunk)], { ms: 2000, gapMs: 5 });
      assert.equal(closedByServer, true);
      assert.deepEqual(replies, [{ success: false, err: 'malformed request: message larger than 1048576 bytes', result: null }]);
    });

    it('refuses deep nesting', async () => {
      const { replies, closedByServer } = await rawExchange(p, ['['.repeat(100_000)], { ms: 2000 });
      assert.equal(closedByServer, true);
      assert.deepEqual(replies, [{ success: false, err: 'malformed request: value nested deeper than 512 levels', result: null }]);
    });

    it('answers a call whose sender then closes its side, then closes', async () => {
      const { replies, closedByServer } = await rawExchange(p, [call('containerManager.Event', 'a')], { ms: 2000, endAfter: true });
      assert.equal(closedByServer, true);
      assert.equal(replies.length, 1);
    });

    it('treats a stream that ends inside a value as malformed', async () => {
      const { replies, closedByServer } = await rawExchange(p, ['{"method":"containerManager.Event","arg":"a"'], { ms: 2000, endAfter: true });
      assert.equal(closedByServer, true);
      assert.deepEqual(replies, [{ success: false, err: 'malformed request: stream ended inside a JSON value', result: null }]);
    });

    it('survives a peer that vanishes with a call pending, and keeps serving others', async () => {
      const sock = net.createConnection(p);
      await new Promise((r) => sock.once('connect', r));
      sock.write(call('containerManager.Wait', 'c1'));
      while (m.waiters.length === 0) await tick(5);
      sock.destroy();
      await tick(20);
      m.waiters[0](0); // the reply has nowhere to go
      await tick(20);
      const cl = await client(p);
      assert.ok(await cl.call('containerManager.Event', 'c1'));
    });
  });
});

describe('urpc: UrpcClient', function () {
  this.timeout(5000);

  /** A client talking to a hand-written server on a socketpair. */
  function pair(): { cl: UrpcClient; peer: net.Socket } {
    const [a, b] = socketPair();
    const peer = new net.Socket({ fd: a, readable: true, writable: true });
    const cl = UrpcClient.fromSocket(new net.Socket({ fd: b, readable: true, writable: true }));
    return { cl, peer };
  }

  it('sends {"method", "arg"} with a null arg when none is given', async () => {
    const { cl, peer } = pair();
    const got = new Promise<string>((r) => peer.once('data', (d) => r(d.toString())));
    const res = cl.call('containerManager.Wait', undefined);
    assert.deepEqual(JSON.parse(await got), { method: 'containerManager.Wait', arg: null });
    peer.write('{"success":true,"err":"","result":7}');
    assert.equal(await res, 7);
    cl.close();
    peer.destroy();
  });

  it('matches replies to calls by order and rejects with err on failure', async () => {
    const { cl, peer } = pair();
    const a = cl.call('x', 1);
    const b = cl.call('y', 2);
    peer.write('{"success":true,"err":"","result":"A"}{"success":false,"err":"nope","result":null}');
    assert.equal(await a, 'A');
    await assert.rejects(b, { message: 'nope' });
    cl.close();
    peer.destroy();
  });

  it('rejects pending calls when the connection closes, and later calls at once', async () => {
    const { cl, peer } = pair();
    const a = cl.call('x', 1);
    peer.destroy();
    await assert.rejects(a, /closed/);
    await assert.rejects(cl.call('y', 2), /closed/);
  });

  it('closes on a malformed reply or a reply without a call', async () => {
    const { cl, peer } = pair();
    const a = cl.call('x', 1);
    peer.write('{"ok":1}');
    await assert.rejects(a, /reply is not/);
    peer.destroy();
    const q = pair();
    q.peer.write('{"success":true,"err":""}');
    await tick(50);
    await assert.rejects(q.cl.call('x', 1), /reply without a call/);
    q.peer.destroy();
  });

  it('refuses an argument it cannot encode', async () => {
    const { cl, peer } = pair();
    await assert.rejects(cl.call('x', { n: 1n }), /cannot encode the argument/);
    cl.close();
    peer.destroy();
  });
});
