// The confinement policy of boot and the gofer (src/main/confine.ts): its
// verdicts on the host's own system call numbers (run by the BPF interpreter
// of test/util), and the real thing: a child process that locks itself down
// keeps working for allowed calls and is killed by SIGSYS on a forbidden one.

import { strict as assert } from 'node:assert';
import { spawnSync } from 'node:child_process';
import * as path from 'node:path';
import { confinePolicy } from '../../src/main/confine.js';
import { buildFilter, hostSyscalls, retErrno, seccompAvailable, SECCOMP_RET_ALLOW, SECCOMP_RET_KILL_PROCESS } from '../../src/host/ffi.js';
import { runBpf } from '../util/bpf-interp.js';

const table = hostSyscalls();

describe('main/confine: the seccomp policy', function () {
  before(function () {
    if (!table) this.skip(); // no system call table for this host's architecture (the launch fails closed there)
  });

  const verdict = (hostNetwork: boolean, name: string, args: bigint[] = []) => {
    const t = table!;
    const prog = buildFilter(confinePolicy({ hostNetwork, inetSockets: hostNetwork }, SECCOMP_RET_KILL_PROCESS), t);
    return runBpf(prog, { nr: t.numbers[name], arch: t.auditArch, args });
  };

  it('allows what Node, libuv and tsvisor use: I/O, memory, futexes, threads', () => {
    for (const name of ['read', 'write', 'futex', 'mmap', 'mprotect', 'epoll_pwait', 'openat', 'statx', 'getdents64', 'sendmsg', 'recvmsg']) {
      assert.equal(verdict(false, name), SECCOMP_RET_ALLOW, name);
    }
    // pthread_create's flags
    assert.equal(verdict(false, 'clone', [0x3d0f00n]), SECCOMP_RET_ALLOW);
    assert.equal(verdict(false, 'clone3'), retErrno(38));
  });

  it('kills escapes: mounts, namespaces, new processes, ptrace, execve', () => {
    for (const name of ['mount', 'umount2', 'pivot_root', 'chroot', 'unshare', 'setns', 'ptrace', 'execve']) {
      assert.equal(verdict(false, name), SECCOMP_RET_KILL_PROCESS, name);
    }
    assert.equal(verdict(false, 'clone', [0x11n]), SECCOMP_RET_KILL_PROCESS); // fork: SIGCHLD, no CLONE_THREAD
    assert.equal(verdict(false, 'clone', [0x3d0f00n | 0x10000000n]), SECCOMP_RET_KILL_PROCESS); // a thread in a new user namespace
  });

  it('allows unix sockets only, and the Internet families with the host network', () => {
    assert.equal(verdict(false, 'socket', [1n, 1n, 0n]), SECCOMP_RET_ALLOW);
    assert.equal(verdict(false, 'socket', [2n, 1n, 0n]), SECCOMP_RET_KILL_PROCESS);
    assert.equal(verdict(false, 'socket', [10n, 1n, 0n]), SECCOMP_RET_KILL_PROCESS);
    assert.equal(verdict(true, 'socket', [2n, 1n, 0n]), SECCOMP_RET_ALLOW);
    assert.equal(verdict(true, 'socket', [16n, 3n, 0n]), SECCOMP_RET_KILL_PROCESS); // netlink
  });

  it('allows only the ioctls used (not TIOCSTI) and only reading resource limits', () => {
    assert.equal(verdict(false, 'ioctl', [0n, 0x5401n]), SECCOMP_RET_ALLOW); // TCGETS
    assert.equal(verdict(false, 'ioctl', [0n, 0x5412n]), SECCOMP_RET_KILL_PROCESS); // TIOCSTI
    assert.equal(verdict(false, 'prlimit64', [0n, 7n, 0n, 0x1000n]), SECCOMP_RET_ALLOW);
    assert.equal(verdict(false, 'prlimit64', [0n, 7n, 0x1000n, 0n]), SECCOMP_RET_KILL_PROCESS);
  });
});

describe('main/confine: lockDown on the host kernel', function () {
  this.timeout(30000);
  before(function () {
    if (!table || !seccompAvailable()) this.skip(); // no seccomp on this host (the launch fails closed there)
  });

  const confineJs = path.join(__dirname, '..', '..', 'src', 'main', 'confine.js');
  const root = process.geteuid?.() === 0;
  /**
   * A node child that locks itself down and prints its status. As another
   * user than root it runs as tsvisor's confined launches run it then: root
   * of a user namespace of its own (`unshare --map-root-user`).
   * `ordinaryUser`: it locks down as an ordinary user outside any user
   * namespace, as boot started by a parent runtime of its own as that user
   * does (as root, the child loads its modules, then becomes nobody).
   */
  const child = (tail: string, head = '', ordinaryUser = false) => {
    const script = `
      const fs = require('node:fs');
      ${head}
      const confine = require(${JSON.stringify(confineJs)});
      ${ordinaryUser && root ? 'process.setgroups([]); process.setgid(65534); process.setuid(65534);' : ''}
      confine.lockDown({ hostNetwork: false, inetSockets: false });
      const status = fs.readFileSync('/proc/self/status', 'utf8');
      for (const f of ['Seccomp', 'NoNewPrivs', 'CapEff', 'CapPrm', 'CapBnd']) fs.writeSync(1, status.match(new RegExp('^' + f + ':.*$', 'm'))[0] + '\\n');
      ${tail}
      fs.writeSync(1, 'survived\\n');`;
    const env = { ...process.env };
    delete env.TSVISOR_SECCOMP;
    if (!root && !ordinaryUser) return spawnSync('unshare', ['--user', '--map-root-user', process.execPath, '-e', script], { env, encoding: 'utf8' });
    return spawnSync(process.execPath, ['-e', script], { env, encoding: 'utf8' });
  };

  it('leaves the process working, with seccomp, no_new_privs and no capabilities', () => {
    const r = child(`fs.readdirSync('/proc/self/fd'); JSON.parse(JSON.stringify({ big: 'x'.repeat(1 << 20) }));`);
    assert.equal(r.status, 0, r.stderr);
    assert.match(r.stdout, /^Seccomp:\s+2$/m);
    assert.match(r.stdout, /^NoNewPrivs:\s+1$/m);
    assert.match(r.stdout, /^CapEff:\s+0+$/m);
    assert.match(r.stdout, /^CapBnd:\s+0+$/m);
    assert.match(r.stdout, /survived/);
  });

  it('as an ordinary user outside a user namespace: seccomp, no_new_privs, nothing permitted, and the bounding set it may not change left as it was', () => {
    const r = child(`fs.readdirSync('/proc/self/fd');`, '', true);
    assert.equal(r.status, 0, r.stderr);
    assert.match(r.stdout, /^Seccomp:\s+2$/m);
    assert.match(r.stdout, /^NoNewPrivs:\s+1$/m);
    assert.match(r.stdout, /^CapEff:\s+0+$/m);
    assert.match(r.stdout, /^CapPrm:\s+0+$/m);
    assert.match(r.stdout, /survived/);
  });

  it('kills the process on a forbidden call instead of running it (socket(AF_INET))', () => {
    const r = child(`require('koffi').load('libc.so.6').func('int socket(int, int, int)')(2, 1, 0);`);
    assert.match(r.stdout, /^Seccomp:\s+2$/m, r.stderr);
    assert.equal(r.signal, 'SIGSYS');
    assert.doesNotMatch(r.stdout, /survived/);
  });

  it('kills a thread started before the lock-down that tries to fork: the filter is on every thread (TSYNC)', () => {
    const worker = `require('node:worker_threads').parentPort.once('message', () => { require('koffi').load('libc.so.6').func('int fork()')(); require('node:fs').writeSync(1, 'forked\\n'); });`;
    const r = child(`w.postMessage('go'); setTimeout(() => {}, 5000);`, `const w = new (require('node:worker_threads').Worker)(${JSON.stringify(worker)}, { eval: true });`);
    assert.equal(r.signal, 'SIGSYS', r.stderr);
    assert.doesNotMatch(r.stdout, /forked/);
  });
});
