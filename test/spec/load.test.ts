import assert from 'node:assert/strict';
import * as child_process from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { MAX_SPEC_BYTES, PRECOMPILED_VALIDATOR, SpecError, compileValidator, defaultSpec, parseSpec, readSpecFromFd } from '../../src/spec/load.js';
import { precompiledValidatorSource } from '../../src/spec/precompile.js';
import type { Spec } from '../../src/spec/types.js';

function minimal(): Record<string, any> {
  return { ociVersion: '1.0.2', process: { args: ['/bin/true'], cwd: '/' }, root: { path: 'rootfs' } };
}

/** parseSpec of `spec` after `edit`, expecting a SpecError with exactly `message`. */
function rejects(edit: (s: Record<string, any>) => void, message: string) {
  const s = minimal();
  edit(s);
  assert.throws(() => parseSpec(JSON.stringify(s)), (e: unknown) => {
    assert.ok(e instanceof SpecError, `expected SpecError, got ${String(e)}`);
    assert.equal(e.message, message);
    return true;
  });
}

describe('spec: parseSpec', () => {
  it('accepts a minimal spec', () => {
    const s = parseSpec(JSON.stringify(minimal()));
    assert.deepEqual(s.process?.args, ['/bin/true']);
  });

  it('accepts the default spec', () => {
    const s = parseSpec(JSON.stringify(defaultSpec()));
    assert.deepEqual(s, defaultSpec());
  });

  it('keeps unknown fields at every level, unchanged', () => {
    const s = minimal();
    s.future = { a: [1, 2] };
    s.process.ioPriority = { class: 'IOPRIO_CLASS_IDLE' };
    s.root.extra = true;
    s.linux = { seccomp: { defaultAction: 'SCMP_ACT_ALLOW' }, resources: { memory: { limit: 1, swap: 2 } } };
    s.mounts = [{ destination: '/x', type: 'bind', source: '/y', uidMappings: [] }];
    const out = parseSpec(JSON.stringify(s)) as Spec & Record<string, any>;
    assert.deepEqual(out, s);
  });

  it('fills nothing in and coerces nothing', () => {
    const out = parseSpec(JSON.stringify(minimal()));
    assert.equal(out.process?.user, undefined);
    assert.equal(out.hostname, undefined);
  });

  it('skips a leading byte-order mark', () => {
    assert.ok(parseSpec('\ufeff' + JSON.stringify(minimal())));
  });

  describe('rejects, naming the JSON path and the expectation in one line', () => {
    it('text that is not JSON', () => {
      for (const text of ['', '{"process": }', '{\n"a":\n\n', 'null x']) {
        assert.throws(() => parseSpec(text), (e: unknown) => {
          assert.ok(e instanceof SpecError);
          assert.match(e.message, /^invalid spec: not JSON: \S/);
          assert.ok(!e.message.includes('\n'), e.message);
          return true;
        });
      }
    });

    it('a top level that is not an object', () => {
      assert.throws(() => parseSpec('[]'), { message: 'invalid spec: top level: must be object' });
      assert.throws(() => parseSpec('null'), { message: 'invalid spec: top level: must be object' });
    });

    it('missing process or root', () => {
      rejects((s) => delete s.process, 'invalid spec: /process: is required');
      rejects((s) => delete s.root, 'invalid spec: /root: is required');
      rejects((s) => delete s.root.path, 'invalid spec: /root/path: is required');
      rejects((s) => (s.root.path = ''), 'invalid spec: /root/path: must NOT have fewer than 1 characters');
    });

    it('process.args that is missing, not an array, empty, or not all strings', () => {
      rejects((s) => delete s.process.args, 'invalid spec: /process/args: is required');
      rejects((s) => (s.process.args = 'sh'), 'invalid spec: /process/args: must be array');
      rejects((s) => (s.process.args = []), 'invalid spec: /process/args: must NOT have fewer than 1 items');
      rejects((s) => (s.process.args = ['sh', 3]), 'invalid spec: /process/args/1: must be string');
    });

    it('a cwd that is missing or relative', () => {
      rejects((s) => delete s.process.cwd, 'invalid spec: /process/cwd: is required');
      rejects((s) => (s.process.cwd = 'tmp'), 'invalid spec: /process/cwd: must be an absolute path');
      rejects((s) => (s.process.cwd = ''), 'invalid spec: /process/cwd: must be an absolute path');
    });

    it('env that is not a list of strings', () => {
      rejects((s) => (s.process.env = { PATH: '/bin' }), 'invalid spec: /process/env: must be array');
      rejects((s) => (s.process.env = ['A=1', null]), 'invalid spec: /process/env/1: must be string');
    });

    it('terminal, noNewPrivileges and root.readonly that are not booleans', () => {
      rejects((s) => (s.process.terminal = 'yes'), 'invalid spec: /process/terminal: must be boolean');
      rejects((s) => (s.process.noNewPrivileges = 1), 'invalid spec: /process/noNewPrivileges: must be boolean');
      rejects((s) => (s.root.readonly = 'true'), 'invalid spec: /root/readonly: must be boolean');
    });

    it('user ids that are negative, fractional or missing', () => {
      rejects((s) => (s.process.user = { uid: -1, gid: 0 }), 'invalid spec: /process/user/uid: must be >= 0');
      rejects((s) => (s.process.user = { uid: 0, gid: 1.5 }), 'invalid spec: /process/user/gid: must be integer');
      rejects((s) => (s.process.user = { uid: 0 }), 'invalid spec: /process/user/gid: is required');
      rejects((s) => (s.process.user = { uid: 0, gid: 0, additionalGids: [1, -2] }), 'invalid spec: /process/user/additionalGids/1: must be >= 0');
      rejects((s) => (s.process.user = { uid: 0, gid: 0, umask: '022' }), 'invalid spec: /process/user/umask: must be integer');
    });

    it('capability names not of the form CAP_NAME', () => {
      rejects((s) => (s.process.capabilities = { bounding: ['KILL'] }), 'invalid spec: /process/capabilities/bounding/0: must match pattern "^CAP_[A-Z_]+$"');
      rejects((s) => (s.process.capabilities = { ambient: ['cap_kill'] }), 'invalid spec: /process/capabilities/ambient/0: must match pattern "^CAP_[A-Z_]+$"');
      rejects((s) => (s.process.capabilities = { effective: 'CAP_KILL' }), 'invalid spec: /process/capabilities/effective: must be array');
    });

    it('rlimits with a bad type or bound', () => {
      rejects((s) => (s.process.rlimits = [{ type: 'NOFILE', hard: 1, soft: 1 }]), 'invalid spec: /process/rlimits/0/type: must match pattern "^RLIMIT_[A-Z]+$"');
      rejects((s) => (s.process.rlimits = [{ type: 'RLIMIT_NOFILE', hard: 1 }]), 'invalid spec: /process/rlimits/0/soft: is required');
      rejects((s) => (s.process.rlimits = [{ type: 'RLIMIT_NOFILE', hard: -1, soft: 1 }]), 'invalid spec: /process/rlimits/0/hard: must be >= 0');
    });

    it('a consoleSize that is not two non-negative integers', () => {
      rejects((s) => (s.process.consoleSize = { height: 24 }), 'invalid spec: /process/consoleSize/width: is required');
      rejects((s) => (s.process.consoleSize = { height: 24, width: -80 }), 'invalid spec: /process/consoleSize/width: must be >= 0');
    });

    it('mounts with a relative or missing destination', () => {
      rejects((s) => (s.mounts = [{ destination: '/ok' }, { destination: 'tmp', type: 'tmpfs' }]), 'invalid spec: /mounts/1/destination: must be an absolute path');
      rejects((s) => (s.mounts = [{ type: 'tmpfs' }]), 'invalid spec: /mounts/0/destination: is required');
      rejects((s) => (s.mounts = [{ destination: '/x', options: 'ro' }]), 'invalid spec: /mounts/0/options: must be array');
    });

    it('linux resources of the wrong type', () => {
      rejects((s) => (s.linux = { resources: { memory: { limit: '1G' } } }), 'invalid spec: /linux/resources/memory/limit: must be integer');
      rejects((s) => (s.linux = { resources: { cpu: { quota: -2 } } }), 'invalid spec: /linux/resources/cpu/quota: must be >= -1');
      rejects((s) => (s.linux = { resources: { cpu: { cpus: 3 } } }), 'invalid spec: /linux/resources/cpu/cpus: must be string');
      rejects((s) => (s.linux = { resources: { pids: {} } }), 'invalid spec: /linux/resources/pids/limit: is required');
    });

    it('unknown namespace types, listing the allowed ones', () => {
      rejects((s) => (s.linux = { namespaces: [{ type: 'pids' }] }), 'invalid spec: /linux/namespaces/0/type: must be one of "pid", "network", "mount", "ipc", "uts", "user", "cgroup", "time"');
    });

    it('masked and read-only paths that are relative', () => {
      rejects((s) => (s.linux = { maskedPaths: ['proc/kcore'] }), 'invalid spec: /linux/maskedPaths/0: must be an absolute path');
      rejects((s) => (s.linux = { readonlyPaths: [7] }), 'invalid spec: /linux/readonlyPaths/0: must be string');
    });

    it('id mappings with missing or negative fields', () => {
      rejects((s) => (s.linux = { uidMappings: [{ containerID: 0, hostID: 1000 }] }), 'invalid spec: /linux/uidMappings/0/size: is required');
      rejects((s) => (s.linux = { gidMappings: [{ containerID: 0, hostID: -1, size: 1 }] }), 'invalid spec: /linux/gidMappings/0/hostID: must be >= 0');
    });

    it('an ociVersion or hostname that is not a string', () => {
      rejects((s) => (s.ociVersion = 1), 'invalid spec: /ociVersion: must be string');
      rejects((s) => (s.hostname = ['h']), 'invalid spec: /hostname: must be string');
    });
  });

  it('accepts huge rlimit values (RLIM_INFINITY, rounded by JSON)', () => {
    const s = minimal();
    s.process.rlimits = [{ type: 'RLIMIT_NOFILE', hard: 18446744073709551615, soft: 1024 }];
    const text = JSON.stringify(s).replace('18446744073709552000', '18446744073709551615');
    const out = parseSpec(text);
    assert.ok((out.process?.rlimits?.[0].hard ?? 0) >= 2 ** 64);
  });

  it('handles deeply nested unknown fields without crashing', () => {
    const deep = '['.repeat(100000) + ']'.repeat(100000);
    const text = JSON.stringify(minimal()).replace(/}$/, `,"deep":${deep}}`);
    const out = parseSpec(text) as Record<string, unknown>;
    assert.ok(Array.isArray(out.deep));
  });
});

describe('spec: readSpecFromFd', () => {
  let dir: string;
  before(() => {
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'tsvisor-spec-'));
  });
  after(() => {
    fs.rmSync(dir, { recursive: true, force: true });
  });

  it('reads the whole file from offset 0 whatever the fd\'s offset', () => {
    const p = path.join(dir, 'config.json');
    const text = JSON.stringify(minimal());
    fs.writeFileSync(p, text);
    const fd = fs.openSync(p, 'r');
    try {
      fs.readSync(fd, Buffer.alloc(10), 0, 10, null); // move the offset
      assert.deepEqual(readSpecFromFd(fd), minimal());
      // and again: the file is read by position, so a second read also works
      assert.deepEqual(readSpecFromFd(fd), minimal());
    } finally {
      fs.closeSync(fd);
    }
  });

  it('reads a spec larger than one read', () => {
    const s = minimal();
    s.process.env = Array.from({ length: 20000 }, (_, i) => `VAR${i}=${'x'.repeat(10)}`);
    const p = path.join(dir, 'big.json');
    fs.writeFileSync(p, JSON.stringify(s));
    const fd = fs.openSync(p, 'r');
    try {
      assert.equal(readSpecFromFd(fd).process?.env?.length, 20000);
    } finally {
      fs.closeSync(fd);
    }
  });

  it('refuses a file over the size limit', function () {
    const p = path.join(dir, 'huge.json');
    const fd0 = fs.openSync(p, 'w');
    fs.ftruncateSync(fd0, MAX_SPEC_BYTES + 1); // sparse: costs no disk
    fs.closeSync(fd0);
    const fd = fs.openSync(p, 'r');
    try {
      assert.throws(() => readSpecFromFd(fd), (e: unknown) => e instanceof SpecError && /more than/.test(e.message));
    } finally {
      fs.closeSync(fd);
    }
  });

  it('reports an invalid spec in the file as a SpecError', () => {
    const p = path.join(dir, 'bad.json');
    fs.writeFileSync(p, '{"process": {"args": "sh", "cwd": "/"}, "root": {"path": "r"}}');
    const fd = fs.openSync(p, 'r');
    try {
      assert.throws(() => readSpecFromFd(fd), { message: 'invalid spec: /process/args: must be array' });
    } finally {
      fs.closeSync(fd);
    }
  });

  it('turns I/O errors into a SpecError', () => {
    const d = fs.openSync(dir, 'r'); // reading a directory: EISDIR
    try {
      assert.throws(() => readSpecFromFd(d), (e: unknown) => e instanceof SpecError && /cannot read spec fd/.test(e.message));
    } finally {
      fs.closeSync(d);
    }
    assert.throws(() => readSpecFromFd(987654), (e: unknown) => e instanceof SpecError && /EBADF/.test(e.message));
  });

  it('reads a pipe from where it stands to its end', () => {
    // A child reads its stdin, a pipe, which cannot be read at an offset.
    const text = JSON.stringify(minimal());
    const loader = JSON.stringify(path.resolve(__dirname, '../../src/spec/load.js'));
    const r = child_process.spawnSync(process.execPath, [
      '-e',
      `const {readSpecFromFd}=require(${loader}); process.stdout.write(JSON.stringify(readSpecFromFd(0)))`,
    ], { input: text });
    assert.equal(r.status, 0, String(r.stderr));
    assert.deepEqual(JSON.parse(String(r.stdout)), minimal());
  });
});

describe('spec: defaultSpec', () => {
  it('describes sh on a terminal in ./rootfs at /', () => {
    const s = defaultSpec();
    assert.deepEqual(s.process?.args, ['sh']);
    assert.equal(s.process?.terminal, true);
    assert.equal(s.process?.cwd, '/');
    assert.equal(s.root?.path, 'rootfs');
    assert.ok(s.process?.env?.some((e) => e.startsWith('PATH=/')));
    assert.ok(s.process?.env?.includes('TERM=xterm'));
  });

  it('keeps runc\'s default capabilities and 1024 open files', () => {
    const s = defaultSpec();
    assert.deepEqual(s.process?.capabilities?.bounding, ['CAP_AUDIT_WRITE', 'CAP_KILL', 'CAP_NET_BIND_SERVICE']);
    assert.deepEqual(s.process?.rlimits, [{ type: 'RLIMIT_NOFILE', hard: 1024, soft: 1024 }]);
  });

  it('mounts the usual pseudo-filesystems and masks /proc like runc', () => {
    const s = defaultSpec();
    assert.deepEqual(s.mounts?.map((m) => m.destination), ['/proc', '/dev', '/dev/pts', '/dev/shm', '/dev/mqueue', '/sys']);
    assert.ok(s.linux?.maskedPaths?.includes('/proc/kcore'));
    assert.ok(s.linux?.readonlyPaths?.includes('/proc/sys'));
    assert.ok(s.linux?.namespaces?.some((n) => n.type === 'pid'));
  });

  it('returns a fresh object each call', () => {
    const a = defaultSpec();
    a.process!.args.push('x');
    assert.deepEqual(defaultSpec().process?.args, ['sh']);
  });
});

describe('spec: the validator compiled at build time', () => {
  // Specs that pass, and specs that fail in different ways, for comparing
  // the precompiled validator with ajv compiling the schema now.
  const specs: unknown[] = [
    minimal(),
    defaultSpec(),
    { ...minimal(), process: { args: [], cwd: 'relative' } },
    { ...minimal(), root: { path: 7 } },
    { ...minimal(), mounts: [{ destination: '/x', type: 'bind' }, { destination: 3 }] },
    { ...minimal(), linux: { resources: { pids: { limit: 'x' } } } },
    { ...minimal(), process: { args: ['/bin/sh'], cwd: '/', rlimits: [{ type: 'RLIMIT_NOFILE', soft: -1, hard: 2 }] } },
    [],
    null,
    'text',
  ];

  it('is built by npm run build, from the schema as it is now', () => {
    const built = path.join(__dirname, '..', '..', 'src', 'spec', PRECOMPILED_VALIDATOR);
    assert.ok(fs.existsSync(built), `${built} is missing: run npm run build (tsc alone does not make it)`);
    assert.equal(fs.readFileSync(built, 'utf8'), precompiledValidatorSource());
  });

  it('answers as ajv compiling the schema at run time does, errors included', () => {
    const built = require(path.join(__dirname, '..', '..', 'src', 'spec', PRECOMPILED_VALIDATOR)) as (d: unknown) => boolean;
    const now = compileValidator();
    for (const s of specs) {
      const a = built(s);
      const b = now(s);
      assert.equal(a, b, JSON.stringify(s));
      assert.deepEqual((built as unknown as { errors: unknown }).errors, now.errors, JSON.stringify(s));
    }
  });
});
