// The BPF assembler and the seccomp filters built with it: programs are run
// here by a small classic-BPF interpreter (test/util/bpf-interp.ts), so
// each rule's verdict is checked for given system call data without
// installing anything; the real kernel runs them in test/main/confine.test.ts.

import { strict as assert } from 'node:assert';
import { BpfProgram, NEXT, to } from '../../src/host/bpf.js';
import { buildFilter, retErrno, SECCOMP_RET_ALLOW, SECCOMP_RET_KILL_PROCESS, SECCOMP_RET_LOG, type SeccompPolicy } from '../../src/host/seccomp.js';
import type { HostSyscallTable } from '../../src/host/syscall-numbers.js';
import { runBpf } from '../util/bpf-interp.js';

const TABLE: HostSyscallTable = {
  arch: 'test',
  auditArch: 0xc000003e,
  foreignAbiBit: 0x40000000,
  numbers: { read: 0, write: 1, ioctl: 16, clone: 56, socket: 41, prlimit64: 302, clone3: 435, mount: 165 },
};

describe('host/bpf', () => {
  it('encodes each instruction as the kernel reads it: u16 code, u8 jt, u8 jf, u32 k', () => {
    const p = new BpfProgram().load(4).jeq(7, to('yes'), NEXT).ret(1).label('yes').ret(0x7fff0000).assemble();
    assert.equal(p.length, 4 * 8);
    assert.deepEqual([p.readUInt16LE(0), p.readUInt32LE(4)], [0x20, 4]);
    assert.deepEqual([p.readUInt16LE(8), p[10], p[11], p.readUInt32LE(12)], [0x15, 1, 0, 7]);
    assert.deepEqual([p.readUInt16LE(16), p.readUInt32LE(20)], [0x06, 1]);
    assert.equal(p.readUInt32LE(28), 0x7fff0000);
  });

  it('refuses a jump to a missing label, a backward jump and a conditional jump beyond 255', () => {
    assert.throws(() => new BpfProgram().jeq(1, to('nowhere')).ret(0).assemble(), /undefined label nowhere/);
    assert.throws(() => new BpfProgram().label('top').ret(0).jeq(1, to('top')).ret(0).assemble(), /backward jump/);
    const far = new BpfProgram().jeq(1, to('end'));
    for (let i = 0; i < 256; i++) far.ret(i);
    far.label('end').ret(0);
    assert.throws(() => far.assemble(), /256 instructions away/);
    assert.throws(() => new BpfProgram().label('a').label('a'), /defined twice/);
  });
});

describe('host/seccomp filters', () => {
  const policy: SeccompPolicy = {
    defaultAction: SECCOMP_RET_KILL_PROCESS,
    rules: [
      { name: 'read' },
      { name: 'clone', when: [{ arg: 0, set: 0x10000 }, { arg: 0, clear: 0x20000 }] },
      { name: 'socket', when: [{ arg: 0, oneOf: [1] }] },
      { name: 'ioctl', when: [{ arg: 1, oneOf: [0x5401, 0x5421] }] },
      { name: 'prlimit64', when: [{ arg: 2, zero: true }] },
      { name: 'clone3', action: retErrno(38) },
      { name: 'write' },
    ],
  };
  const prog = buildFilter(policy, TABLE);
  const verdict = (nr: number, args: bigint[] = [], arch = TABLE.auditArch) => runBpf(prog, { nr, arch, args });

  it('kills a call from another architecture or ABI whatever its number', () => {
    assert.equal(verdict(0, [], 0x40000003), SECCOMP_RET_KILL_PROCESS); // i386
    assert.equal(verdict(0x40000000), SECCOMP_RET_KILL_PROCESS); // x32 read
  });

  it('allows the listed calls and gives every other one the default action', () => {
    assert.equal(verdict(0), SECCOMP_RET_ALLOW);
    assert.equal(verdict(1), SECCOMP_RET_ALLOW); // after rules with checks: the number is compared again, not an argument
    assert.equal(verdict(165), SECCOMP_RET_KILL_PROCESS);
    assert.equal(verdict(435), retErrno(38));
  });

  it('checks arguments: all bits set, bits clear, one of several values, a NULL pointer', () => {
    assert.equal(verdict(56, [0x10000n | 0x100n]), SECCOMP_RET_ALLOW); // a thread
    assert.equal(verdict(56, [0x100n]), SECCOMP_RET_KILL_PROCESS); // a process
    assert.equal(verdict(56, [0x10000n | 0x20000n]), SECCOMP_RET_KILL_PROCESS); // a namespace
    assert.equal(verdict(41, [1n]), SECCOMP_RET_ALLOW);
    assert.equal(verdict(41, [2n]), SECCOMP_RET_KILL_PROCESS);
    assert.equal(verdict(16, [0n, 0x5421n]), SECCOMP_RET_ALLOW);
    assert.equal(verdict(16, [0n, 0x5412n]), SECCOMP_RET_KILL_PROCESS); // TIOCSTI
    assert.equal(verdict(302, [0n, 7n, 0n, 0x1000n]), SECCOMP_RET_ALLOW);
    assert.equal(verdict(302, [0n, 7n, 0x1000n, 0n]), SECCOMP_RET_KILL_PROCESS);
    assert.equal(verdict(302, [0n, 7n, 1n << 40n, 0n]), SECCOMP_RET_KILL_PROCESS); // the high half counts
  });

  it('gives a failed check the default action of the policy (here: log)', () => {
    const logging = buildFilter({ ...policy, defaultAction: SECCOMP_RET_LOG }, TABLE);
    assert.equal(runBpf(logging, { nr: 41, arch: TABLE.auditArch, args: [2n] }), SECCOMP_RET_LOG);
    assert.equal(runBpf(logging, { nr: 0, arch: 0x40000003 }), SECCOMP_RET_KILL_PROCESS);
  });

  it('refuses a policy naming an unknown call or a call twice', () => {
    assert.throws(() => buildFilter({ defaultAction: 0, rules: [{ name: 'frobnicate' }] }, TABLE), /no test number for frobnicate/);
    assert.throws(() => buildFilter({ defaultAction: 0, rules: [{ name: 'read' }, { name: 'read' }] }, TABLE), /read is listed twice/);
  });
});
