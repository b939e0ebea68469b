// Seccomp-bpf filters: an allowlist of system calls, by name, turned into a
// BPF program (bpf.ts) and installed on every thread of this process.
//
// The program a policy becomes:
//   1. seccomp_data.arch must be the host's native ABI, else the process is
//      killed (a call through another ABI would carry other numbers);
//   2. numbers with the table's foreign-ABI bit (x32 on x86_64) are killed;
//   3. each rule in order: when the number matches, its argument checks run
//      (each on the low 32 bits of an argument, or both halves for `zero`)
//      and the rule's action is returned when they all pass, the policy's
//      default action when one fails;
//   4. any other number gets the default action.
// Rules come first-listed-first-checked, so the frequent calls go first;
// the kernel also caches the verdict of calls that a filter allows whatever
// their arguments, so plain allows cost nothing after the first.
//
// Installation: no_new_privs (a filter needs it when the caller lacks
// CAP_SYS_ADMIN), then seccomp(SECCOMP_SET_MODE_FILTER) with
// SECCOMP_FILTER_FLAG_TSYNC, which puts the filter (and no_new_privs) on
// every thread of the process at once, or fails without installing it.
// Filters only ever add up: one installed cannot be removed or loosened.

import { BpfProgram, NEXT, to } from './bpf.js';
import { bindLazily, koffi, negErrno, type Fn } from './libc.js';
import { hostSyscalls, type HostSyscallTable } from './syscall-numbers.js';
import { prctl, PR_SET_NO_NEW_PRIVS } from './process.js';

// Return values of a filter (linux/seccomp.h).
export const SECCOMP_RET_KILL_PROCESS = 0x80000000;
export const SECCOMP_RET_TRAP = 0x00030000;
export const SECCOMP_RET_ERRNO = 0x00050000;
export const SECCOMP_RET_LOG = 0x7ffc0000;
export const SECCOMP_RET_ALLOW = 0x7fff0000;
/** Fail the call with `errno` instead of running it. */
export const retErrno = (errno: number): number => SECCOMP_RET_ERRNO | (errno & 0xffff);

const SECCOMP_SET_MODE_FILTER = 1;
const SECCOMP_FILTER_FLAG_TSYNC = 1;
const PR_GET_SECCOMP = 21;

// struct seccomp_data: int nr; u32 arch; u64 instruction_pointer; u64 args[6].
const DATA_NR = 0;
const DATA_ARCH = 4;
const argLow = (i: number) => 16 + 8 * i;
const argHigh = (i: number) => 20 + 8 * i;

/** A condition on one argument; a rule passes when all of its checks do. */
export type ArgCheck =
  /** The low 32 bits are one of these values. */
  | { arg: number; oneOf: readonly number[] }
  /** None of these bits is set in the low 32 bits. */
  | { arg: number; clear: number }
  /** All of these bits are set in the low 32 bits. */
  | { arg: number; set: number }
  /** The whole 64-bit argument is zero (a NULL pointer). */
  | { arg: number; zero: true };

export interface SyscallRule {
  /** The call's name in the host's table (syscall-numbers.ts). */
  name: string;
  /** Checks on its arguments; none: any arguments. */
  when?: readonly ArgCheck[];
  /** What a matching call gets; default SECCOMP_RET_ALLOW. */
  action?: number;
}

export interface SeccompPolicy {
  rules: readonly SyscallRule[];
  /** What every other call gets (and a rule whose checks fail): SECCOMP_RET_KILL_PROCESS, or SECCOMP_RET_LOG while developing. */
  defaultAction: number;
}

/**
 * The BPF program of `policy` for the host `table`. Throws for a call the
 * table does not know or a rule that is listed twice: a mistake in the
 * policy, caught before anything is installed.
 */
export function buildFilter(policy: SeccompPolicy, table: HostSyscallTable): Buffer {
  const p = new BpfProgram();
  const deny = policy.defaultAction >>> 0;
  p.load(DATA_ARCH).jeq(table.auditArch, to('native'));
  p.ret(SECCOMP_RET_KILL_PROCESS);
  p.label('native').load(DATA_NR);
  if (table.foreignAbiBit) p.jge(table.foreignAbiBit, NEXT, to('numbered')).ret(SECCOMP_RET_KILL_PROCESS).label('numbered');
  const seen = new Set<number>();
  policy.rules.forEach((rule, j) => {
    const nr = table.numbers[rule.name];
    if (nr === undefined) throw new Error(`seccomp policy: no ${table.arch} number for ${rule.name}`);
    if (seen.has(nr)) throw new Error(`seccomp policy: ${rule.name} is listed twice`);
    seen.add(nr);
    const after = `after${j}`;
    const fail = `fail${j}`;
    p.jeq(nr, NEXT, to(after));
    (rule.when ?? []).forEach((c, k) => {
      if ('oneOf' in c) {
        const pass = `pass${j}.${k}`;
        p.load(argLow(c.arg));
        c.oneOf.forEach((v, n) => (n < c.oneOf.length - 1 ? p.jeq(v >>> 0, to(pass)) : p.jeq(v >>> 0, to(pass), to(fail))));
        if (c.oneOf.length === 0) p.jump(fail);
        p.label(pass);
      } else if ('clear' in c) {
        p.load(argLow(c.arg)).jset(c.clear >>> 0, to(fail));
      } else if ('set' in c) {
        p.load(argLow(c.arg)).and(c.set >>> 0).jeq(c.set >>> 0, NEXT, to(fail));
      } else {
        p.load(argLow(c.arg)).jeq(0, NEXT, to(fail));
        p.load(argHigh(c.arg)).jeq(0, NEXT, to(fail));
      }
    });
    p.ret((rule.action ?? SECCOMP_RET_ALLOW) >>> 0);
    if (rule.when?.length) p.label(fail).ret(deny);
    // Reached only by the number's jump-if-not-equal, so A still holds the number.
    p.label(after);
  });
  p.ret(deny);
  return p.assemble();
}

interface SeccompLib {
  syscall: Fn;
}

const lib = bindLazily(
  (c): SeccompLib =>
    ({
      syscall: c.func('long syscall(long, ...)'),
    }) as unknown as SeccompLib,
);

/**
 * Sets no_new_privs and installs `program` (from buildFilter) on every
 * thread of this process. Returns 0, a negative errno, or -ESRCH when some
 * thread could not be synchronised (nothing was installed then).
 */
export function installFilter(program: Buffer, table: HostSyscallTable): number {
  const nnp = prctl(PR_SET_NO_NEW_PRIVS, 1);
  if (nnp < 0) return nnp;
  // struct sock_fprog: unsigned short len; (padding) struct sock_filter *filter.
  const fprog = Buffer.alloc(16);
  fprog.writeUInt16LE(program.length / 8, 0);
  fprog.writeBigUInt64LE(koffi().address(program) as bigint, 8);
  const r = lib().syscall(table.numbers.seccomp, 'uint', SECCOMP_SET_MODE_FILTER, 'uint', SECCOMP_FILTER_FLAG_TSYNC, 'void *', fprog);
  if (r < 0) return negErrno();
  // With TSYNC, a positive result is the id of a thread that could not be moved to the filter.
  if (r > 0) return -3; // ESRCH
  return 0;
}

/** Whether the host kernel has seccomp filters (PR_GET_SECCOMP answers rather than EINVAL). */
export function seccompAvailable(): boolean {
  return hostSyscalls() !== undefined && prctl(PR_GET_SECCOMP) >= 0;
}
