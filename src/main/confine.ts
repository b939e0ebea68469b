// Confinement of tsvisor's own processes, boot and the gofer: the second of
// gVisor's two walls (docs/SECURITY.md). The first is the kernel in src/kernel,
// which answers every system call of the guest; this one limits what a bug in
// that kernel, in Node or in the gofer could still do to the host.
//
// Three stages, in this order:
//   1. Namespaces (the parent's side, `confinedCommand`): the child is
//      started through util-linux's `unshare` in new mount, PID, IPC and UTS
//      namespaces, and a new network namespace unless boot stays in its
//      caller's (src/main/network.ts); a user namespace too when the caller is not root.
//      `setpriv` narrows the capabilities Node starts with to the two the
//      next stage needs (and, for the gofer, the file ones it keeps): before
//      `unshare` as root, after it in a new user namespace, whose bounding
//      set starts full. A PID namespace cannot be entered by the process
//      that makes it, so `unshare` forks: boot and the gofer are pid 1 of
//      their namespaces, children of the `unshare` process the parent
//      spawned (`confinedPid` finds their pid as the host sees it).
//   2. A root of its own (`enterOwnRoot`, in the child, once Node has
//      started): an empty read-only tmpfs holding only tsvisor's code
//      (read-only: worker threads and lazily loaded modules are read from it
//      after this point), a procfs of the new PID namespace, and the given
//      host paths (the exports, for the gofer and for boot in direct mode),
//      each bound at its own path; then pivot_root into it and detach the
//      host's tree.
//   3. Lock-down (`lockDown`): resource limits, every capability dropped
//      (but the gofer's file ones, GOFER_CAPABILITIES), then a seccomp
//      filter on every thread (`confinePolicy`) whose default is to kill
//      the process.
//
// Boot runs stages 2 and 3 before it starts its kernel worker, i.e. before
// any thread that runs the kernel or the guest exists; the gofer runs stage
// 2, opens its exports, then stage 3. `--no-confine` (a global flag) skips all three.

import * as fs from 'node:fs';
import * as path from 'node:path';
import { Fatal, type GlobalOptions } from './common.js';
import * as ffi from '../host/ffi.js';
import type { NetworkPlan } from './network.js';
import type { SeccompPolicy, SyscallRule } from '../host/seccomp.js';
import { AF_INET, AF_UNIX, FIOCLEX, FIONBIO, TCGETS, TCSETS, TIOCGWINSZ } from '../linux/abi.js';

/** Set by `confinedCommand` for the child: it was started in new namespaces, so stage 2 may remount its root. */
export const CONFINED_LAUNCH_ENV = 'TSVISOR_CONFINED_LAUNCH';
/** Set by `confinedEnv` for a child launched with `newSession`: its first step is setsid (`takeNewSession`). */
export const NEW_SESSION_ENV = 'TSVISOR_NEW_SESSION';
/** Developers: TSVISOR_SECCOMP=log makes a refused call be logged by the host kernel (dmesg, audit) and run, instead of killing the process. */
export const SECCOMP_MODE_ENV = 'TSVISOR_SECCOMP';

/**
 * What the gofer keeps (a mask of CAP_* bits): it creates files for guest
 * users other than root and gives them to their owners (CAP_CHOWN, CAP_FOWNER,
 * CAP_FSETID), and reaches files whatever their modes, as root does
 * (CAP_DAC_OVERRIDE, CAP_DAC_READ_SEARCH); the guest's own permission checks
 * are the kernel's, in boot. After stage 2 these reach nothing but the exports.
 * Boot keeps none.
 */
export const GOFER_CAPABILITIES = ['chown', 'dac_override', 'dac_read_search', 'fowner', 'fsetid'] as const;
const CAP_NUMBERS: Record<(typeof GOFER_CAPABILITIES)[number], number> = { chown: 0, dac_override: 1, dac_read_search: 2, fowner: 3, fsetid: 4 };

/** The mask of capability names (as setpriv spells them). */
export function capabilityMask(names: readonly (typeof GOFER_CAPABILITIES)[number][]): bigint {
  return names.reduce((m, n) => m | (1n << BigInt(CAP_NUMBERS[n])), 0n);
}

export interface ConfineOptions {
  /**
   * The child stays in its caller's network namespace (no new one). Boot's
   * as src/main/network.ts plans it; never the gofer's.
   */
  hostNetwork: boolean;
  /**
   * Sockets of the Internet families are allowed, with bind and connect:
   * boot's with --network=host, or --network=sandbox when it carries the
   * guest's connections outside (network.ts); never the gofer's, which
   * serves files only.
   */
  inetSockets: boolean;
}

/** Boot's confinement of the network `plan`. */
export function networkConfinement(plan: NetworkPlan): ConfineOptions {
  return { hostNetwork: !plan.newNamespace, inetSockets: plan.inetSockets };
}

// ---- stage 1: the parent's side ----

export interface LaunchShape {
  /** The child must die with the process that spawns it (run's attached sandboxes). */
  dieWithParent: boolean;
  /** The child leads a session of its own (run spawns boot detached). */
  newSession: boolean;
  /** Capabilities the child keeps after its lock-down (setpriv's names): none for boot, GOFER_CAPABILITIES for the gofer. */
  keep: readonly (typeof GOFER_CAPABILITIES)[number][];
  /**
   * The child outlives its launcher (`unshare` without --kill-child): for
   * create's boot, whose launcher is ended once boot is up (`releaseConfined`)
   * so that boot, like runc's container init, is reparented to the caller's
   * subreaper (containerd's shim, which reaps the pid of the pid file) or init.
   */
  outlivesLauncher?: boolean;
}

/**
 * The command that starts `argv` (node and its arguments) confined: the
 * executable and its arguments, to spawn in place of argv (with
 * `confinedEnv(env, shape)` as its environment). Fails closed with a Fatal
 * when this host cannot confine (`checkCanConfine`).
 *
 * As few launchers as the shape allows, each one an exec the child's start
 * waits for (3-5 ms each here, more under load: docs/STARTUP.md, the
 * eleventh pass): `setpriv` narrows the capabilities in the same exec that
 * sets the parent-death signal when it can come before `unshare`, i.e. as
 * root, where unshare makes no user namespace; a new user namespace (not
 * root: --map-root-user) starts with a full bounding set, so there the
 * narrowing setpriv must come after unshare. A new session is the child's
 * own first step (`takeNewSession`) instead of a `setsid` exec.
 */
export function confinedCommand(argv: readonly string[], shape: LaunchShape, o: ConfineOptions): { file: string; args: string[] } {
  const tools = checkCanConfine();
  const root = process.getuid?.() === 0;
  const args: string[] = [];
  // Node starts with only what stage 2 needs (mounts, pivot_root; dropping the bounding set), so threads started before stage 3 never hold more.
  const narrow = ['--inh-caps=-all', `--bounding-set=${['-all', 'sys_admin', 'setpcap', ...shape.keep].join(',+')}`];
  // The outer setpriv: `unshare` dies with our process (its forked child, with it: --kill-child); as root, it narrows the capabilities too.
  const outer = [...(shape.dieWithParent ? ['--pdeathsig', 'KILL'] : []), ...(root ? narrow : [])];
  if (outer.length > 0) args.push(tools.setpriv, ...outer, '--');
  args.push(tools.unshare, '--mount', '--pid', '--ipc', '--uts', '--fork');
  if (!shape.outlivesLauncher) args.push('--kill-child');
  if (!o.hostNetwork) args.push('--net');
  if (!root) args.push('--map-root-user');
  args.push('--');
  if (!root) args.push(tools.setpriv, ...narrow, '--');
  args.push(...argv);
  return { file: args[0], args: args.slice(1) };
}

/**
 * The environment for a confined child: `env`, the mark that it was
 * launched in new namespaces, and, for a shape with `newSession`, the mark
 * that it must lead a session of its own (`takeNewSession`).
 */
export function confinedEnv(env: NodeJS.ProcessEnv, shape: Pick<LaunchShape, 'newSession'>): NodeJS.ProcessEnv {
  return { ...env, [CONFINED_LAUNCH_ENV]: '1', ...(shape.newSession ? { [NEW_SESSION_ENV]: '1' } : {}) };
}

/**
 * A confined child launched with `newSession` (boot) calls this first:
 * setsid(2), before anything that depends on its session (taking a
 * terminal as its controlling one). Reads and forgets the mark. It cannot
 * lead a process group already: it is unshare's forked child, in its
 * parent's group. Throws a Fatal if setsid fails.
 */
export function takeNewSession(): void {
  const asked = process.env[NEW_SESSION_ENV] === '1';
  delete process.env[NEW_SESSION_ENV];
  if (!asked) return;
  const r = ffi.setsid();
  if (r < 0) throw new Fatal(`cannot start a session of its own: setsid: errno ${-r}`);
}

interface Tools {
  unshare: string;
  setpriv: string;
}

/**
 * Whether this host can confine tsvisor's processes: util-linux's unshare
 * and setpriv, a system call table for this architecture, seccomp
 * filters, and, when not root, user namespaces. Throws a one-line Fatal
 * naming what is missing.
 */
export function checkCanConfine(): Tools {
  const hint = '; pass --no-confine to run without it (development only)';
  const find = (name: string): string => {
    for (const dir of (process.env.PATH || '/usr/sbin:/usr/bin:/sbin:/bin').split(':')) {
      const p = path.join(dir || '.', name);
      try {
        fs.accessSync(p, fs.constants.X_OK);
        return p;
      } catch {
        // next
      }
    }
    throw new Fatal(`cannot confine the sandbox: ${name} (util-linux) is not in the PATH${hint}`);
  };
  const tools = { unshare: find('unshare'), setpriv: find('setpriv') };
  if (!ffi.hostSyscalls()) throw new Fatal(`cannot confine the sandbox: no seccomp filter for ${process.arch} hosts yet${hint}`);
  if (!ffi.seccompAvailable()) throw new Fatal(`cannot confine the sandbox: the host kernel has no seccomp${hint}`);
  if (process.getuid?.() !== 0) {
    const max = readNumber('/proc/sys/user/max_user_namespaces');
    const unpriv = readNumber('/proc/sys/kernel/unprivileged_userns_clone');
    if (max === 0 || unpriv === 0) throw new Fatal(`cannot confine the sandbox: user namespaces are disabled on this host and tsvisor is not running as root${hint}`);
  }
  return tools;
}

function readNumber(file: string): number | undefined {
  try {
    return Number(fs.readFileSync(file, 'utf8').trim());
  } catch {
    return undefined;
  }
}

/**
 * The pid, as this process sees it, of the tsvisor process that a confined
 * launch (`launcherPid`, the spawned unshare) started: unshare's only child.
 * Call once the child has said it is up (boot's sync byte). Returns
 * launcherPid itself when it has no child (it has exited).
 */
export function confinedPid(launcherPid: number): number {
  // The outer setpriv execs unshare in place, so the spawned pid is unshare's.
  try {
    const kids = fs.readFileSync(`/proc/${launcherPid}/task/${launcherPid}/children`, 'utf8').trim().split(/\s+/).filter(Boolean).map(Number);
    return kids.length > 0 ? kids[0] : launcherPid;
  } catch {
    return launcherPid;
  }
}

/**
 * Ends the launcher of a child started with `outlivesLauncher` (SIGKILL:
 * unshare blocks SIGTERM while it waits), once `confinedPid` has named the
 * child. The child is then reparented, as a runc container's init is when
 * `runc create` exits, to the nearest subreaper among our ancestors (a
 * containerd shim) or to init: whoever waits for the pid in the pid file
 * then reaps that very process and gets its exit status. While the
 * launcher lived, it reaped boot, and a shim waiting for boot's pid waited
 * forever.
 */
export function releaseConfined(launcher: { kill(sig: NodeJS.Signals): boolean }): void {
  launcher.kill('SIGKILL');
}

// ---- stage 2: a root of its own ----

export interface HostBind {
  path: string;
  readonly: boolean;
}

/**
 * Whether this process was launched by `confinedCommand` (and may remount
 * its root): reads and forgets the mark, so that it is not passed on.
 */
function takeConfinedLaunchMark(): boolean {
  const marked = process.env[CONFINED_LAUNCH_ENV] === '1';
  delete process.env[CONFINED_LAUNCH_ENV];
  return marked;
}

/**
 * The debug log file (--debug-log), writable in the new root at its
 * absolute path: the kernel worker opens it after the root has changed.
 * Made here when missing (a bind needs something to bind).
 */
export function debugLogBinds(g: GlobalOptions): HostBind[] {
  if (!g.debugLog) return [];
  const file = path.resolve(g.debugLog);
  try {
    fs.closeSync(fs.openSync(file, 'a', 0o644));
  } catch {
    return []; // openLogs reports an unusable log path
  }
  return [{ path: file, readonly: false }];
}

/** The directories tsvisor's code is loaded from: the package, and the node_modules it resolves through that lie outside it. */
function codeBinds(): HostBind[] {
  const pkg = path.resolve(__dirname, '..', '..', '..');
  const out: HostBind[] = [{ path: pkg, readonly: true }];
  for (const dir of module.paths) {
    let real: string;
    try {
      real = fs.realpathSync(dir);
    } catch {
      continue;
    }
    if (!isUnder(real, pkg)) out.push({ path: real, readonly: true });
  }
  return out;
}

function isUnder(p: string, dir: string): boolean {
  return p === dir || p.startsWith(dir.endsWith('/') ? dir : dir + '/');
}

/** Where the new root is assembled before pivot_root (a tmpfs over it, in our own mount namespace only). */
const STAGE = '/tmp';

/**
 * Stage 2: replaces this mount namespace's root with an empty read-only
 * tmpfs holding `binds` (each at its own host path, read-only where asked)
 * and /proc (this PID namespace's). Only for a process launched in new
 * namespaces (`enterConfinedRoot`). Throws a Fatal naming the step
 * that failed.
 */
function enterOwnRoot(binds: readonly HostBind[]): void {
  const fail = (what: string, r: number): never => {
    throw new Fatal(`cannot confine the sandbox: ${what}: errno ${-r}; pass --no-confine to run without it (development only)`);
  };
  // Outermost first; a path already inside an earlier bind comes with it (unless it asks for other access).
  // One path asked for both read-only and read-write (one host file bound at two places) is bound
  // read-write once: a read-only bind over it would make the read-write export read-only too, and
  // each export's backend refuses writes to a read-only one itself (src/fs-gofer/README.md, rule 7).
  const sorted = [...binds]
    .filter((b) => !(b.readonly && binds.some((o) => o.path === b.path && !o.readonly)))
    .sort((a, b) => a.path.length - b.path.length);
  const kept: HostBind[] = [];
  for (const b of sorted) {
    const outer = kept.find((k) => isUnder(b.path, k.path));
    if (!outer || outer.readonly !== b.readonly) kept.push(b);
  }
  // Hold every source open first: the stage's tmpfs may hide some of them.
  const sources = kept.map((b) => {
    const fd = ffi.openat(ffi.AT_FDCWD, b.path, ffi.HOST.O_PATH | ffi.O_CLOEXEC);
    if (fd < 0) fail(`open ${b.path}`, fd);
    return fd;
  });
  try {
    let r = ffi.mount(null, '/', null, ffi.MS_REC | ffi.MS_PRIVATE);
    if (r < 0) fail('make the mount tree private', r);
    r = ffi.mount('tmpfs', STAGE, 'tmpfs', ffi.MS_NOSUID | ffi.MS_NODEV, 'mode=0755,size=1m');
    if (r < 0) fail('mount the new root', r);
    kept.forEach((b, i) => {
      const target = path.join(STAGE, b.path);
      const isDir = fs.statSync(`/proc/self/fd/${sources[i]}`).isDirectory();
      makeMountPoint(target, isDir);
      r = ffi.mount(`/proc/self/fd/${sources[i]}`, target, null, ffi.MS_BIND | ffi.MS_REC);
      if (r < 0) fail(`bind ${b.path}`, r);
      if (b.readonly) {
        r = ffi.mount(null, target, null, ffi.MS_REMOUNT | ffi.MS_BIND | ffi.MS_RDONLY | ffi.MS_NOSUID | ffi.MS_NODEV);
        if (r < 0) fail(`make ${b.path} read-only`, r);
      }
    });
    makeMountPoint(path.join(STAGE, 'proc'), true);
    r = ffi.mount('proc', path.join(STAGE, 'proc'), 'proc', ffi.MS_NOSUID | ffi.MS_NODEV | ffi.MS_NOEXEC);
    if (r < 0) fail('mount /proc', r);
  } finally {
    for (const fd of sources) if (fd >= 0) ffi.closeFd(fd);
  }
  process.chdir(STAGE);
  // pivot_root(".", "."): the old root ends up stacked on the new one, and is detached at once.
  let r = ffi.pivotRoot('.', '.');
  if (r < 0) fail('pivot_root', r);
  r = ffi.umount2('.', ffi.MNT_DETACH);
  if (r < 0) fail("detach the host's root", r);
  process.chdir('/');
  r = ffi.mount(null, '/', null, ffi.MS_REMOUNT | ffi.MS_BIND | ffi.MS_RDONLY | ffi.MS_NOSUID | ffi.MS_NODEV);
  if (r < 0) fail('make the new root read-only', r);
}

function makeMountPoint(target: string, dir: boolean): void {
  if (dir) fs.mkdirSync(target, { recursive: true });
  else {
    fs.mkdirSync(path.dirname(target), { recursive: true });
    fs.closeSync(fs.openSync(target, 'a'));
  }
}

/**
 * Stage 2 for a process launched by `confinedCommand`: a new root with
 * tsvisor's code and `binds`. Nothing for one started otherwise (by a
 * parent runtime of its own): it is in the host's mount namespace, which
 * must not be touched; stage 3 still applies to it.
 */
export function enterConfinedRoot(binds: readonly HostBind[]): void {
  if (takeConfinedLaunchMark()) enterOwnRoot([...codeBinds(), ...binds]);
}

// ---- stage 3: lock-down ----

/**
 * Stage 3: RLIMIT_CORE 0 (no core file of a process holding the sandbox's
 * memory), RLIMIT_NOFILE's hard limit down to its soft one, every
 * capability of this thread dropped but those in `keep`, then the seccomp filter of
 * `confinePolicy` on every thread. Throws a Fatal naming the step that
 * failed; nothing is loosened by a later failure.
 */
export function lockDown(o: ConfineOptions, keep = 0n): void {
  const fail = (what: string, r: number): never => {
    throw new Fatal(`cannot confine the sandbox: ${what}: errno ${-r}; pass --no-confine to run without it (development only)`);
  };
  const table = ffi.hostSyscalls();
  if (!table) throw new Fatal(`cannot confine the sandbox: no seccomp filter for ${process.arch} hosts yet; pass --no-confine to run without it (development only)`);
  let r = ffi.setrlimit(ffi.RLIMIT_CORE, { soft: 0n, hard: 0n });
  if (r < 0) fail('RLIMIT_CORE', r);
  const nofile = ffi.getrlimit(ffi.RLIMIT_NOFILE);
  if (typeof nofile === 'number') fail('RLIMIT_NOFILE', nofile);
  else {
    r = ffi.setrlimit(ffi.RLIMIT_NOFILE, { soft: nofile.soft, hard: nofile.soft });
    if (r < 0) fail('RLIMIT_NOFILE', r);
  }
  r = ffi.keepOnlyCapabilities(keep);
  if (r < 0) fail('drop capabilities', r);
  const log = process.env[SECCOMP_MODE_ENV] === 'log';
  const program = ffi.buildFilter(confinePolicy(o, log ? ffi.SECCOMP_RET_LOG : ffi.SECCOMP_RET_KILL_PROCESS), table);
  r = ffi.installFilter(program, table);
  if (r < 0) fail('install the seccomp filter', r);
}

// ---- the filter ----

// Flags of clone(2) that make namespaces (linux/sched.h): never from a confined process.
const CLONE_NEWTIME = 0x80;
const CLONE_NEWNS = 0x20000;
const CLONE_NEWCGROUP = 0x2000000;
const CLONE_NEWUTS = 0x4000000;
const CLONE_NEWIPC = 0x8000000;
const CLONE_NEWUSER = 0x10000000;
const CLONE_NEWPID = 0x20000000;
const CLONE_NEWNET = 0x40000000;
const CLONE_NAMESPACES = CLONE_NEWTIME | CLONE_NEWNS | CLONE_NEWCGROUP | CLONE_NEWUTS | CLONE_NEWIPC | CLONE_NEWUSER | CLONE_NEWPID | CLONE_NEWNET;
const CLONE_THREAD = 0x10000;
const AF_INET6 = 10;
const ENOSYS = 38;

// prctl options Node, V8 and glibc use while running (linux/prctl.h).
const PR_GET_DUMPABLE = 3;
const PR_SET_NAME = 15;
const PR_GET_NAME = 16;
const PR_GET_SECCOMP = 21;
const PR_CAPBSET_READ = 23;
const PR_GET_NO_NEW_PRIVS = 39;
const PR_SET_VMA = 0x53564d41;

// ioctl requests on host fds (asm-generic numbers, which x86_64 shares).
const FIONCLEX = 0x5450;
const FIONREAD = 0x541b;
const TCSETSW = 0x5403;
const TCSETSF = 0x5404;
const TIOCGPGRP = 0x540f;
const TIOCSWINSZ = 0x5414;
/** libuv asks it of every terminal it opens a stream on (is it a pty's slave?). */
const TIOCGPTN = 0x80045430;
/** Unsent bytes of a socket (the number of TIOCOUTQ): host sockets under --network=host. */
const SIOCOUTQ = 0x5411;

/**
 * The system calls boot and the gofer may make once confined, with why, as
 * measured with strace over whole runs (docs/SECURITY.md, "What the filter
 * allows"). Frequent calls first. Everything else gets `defaultAction`.
 */
export function confinePolicy(o: ConfineOptions, defaultAction: number): SeccompPolicy {
  const allow = (...names: string[]): SyscallRule[] => names.map((name) => ({ name }));
  const families = o.inetSockets ? [AF_UNIX, AF_INET, AF_INET6] : [AF_UNIX];
  const rules: SyscallRule[] = [
    // The hot ones: V8's and libuv's thread wake-ups, the event loop, fd I/O (stdio, 9P sockets, the gofer's files).
    ...allow('futex', 'epoll_pwait', 'epoll_wait', 'read', 'write', 'readv', 'writev', 'pread64', 'pwrite64', 'preadv', 'pwritev', 'preadv2', 'pwritev2'),
    // V8's heap and JIT code, the guest's WebAssembly memory, thread stacks; pkeys guard JIT pages where the CPU has them.
    ...allow('mmap', 'munmap', 'mprotect', 'madvise', 'mremap', 'brk', 'msync', 'mincore', 'pkey_alloc', 'pkey_free', 'pkey_mprotect'),
    // Threads: only new threads of this process, never new processes or namespaces.
    { name: 'clone', when: [{ arg: 0, set: CLONE_THREAD }, { arg: 0, clear: CLONE_NAMESPACES }] },
    // clone3 passes its flags in memory a filter cannot read: ENOSYS makes glibc fall back to clone.
    { name: 'clone3', action: ffi.retErrno(ENOSYS) },
    ...allow('set_robust_list', 'get_robust_list', 'rseq', 'set_tid_address', 'sigaltstack', 'sched_yield', 'sched_getaffinity', 'sched_getparam', 'sched_getscheduler', 'gettid', 'exit', 'exit_group', 'restart_syscall'),
    // Signals: Node's handlers, libuv's signal pipe; kill reaches only this PID namespace.
    ...allow('rt_sigaction', 'rt_sigprocmask', 'rt_sigreturn', 'kill', 'tgkill', 'tkill'),
    // libuv's event loop and wake-ups; poll for src/host's pollReadable.
    ...allow('epoll_create1', 'epoll_ctl', 'epoll_pwait2', 'eventfd2', 'pipe2', 'poll', 'ppoll'),
    // Files: modules and worker scripts from the read-only code directory (Node's loader also uses the old
    // path calls: open, stat, lstat, access, readlink), and the exports (the gofer; boot in direct mode), which
    // are changed only through the *at calls on fds (src/fs-gofer), never through the old path calls.
    ...allow('close', 'close_range', 'lseek', 'openat', 'openat2', 'open', 'fstat', 'newfstatat', 'statx', 'stat', 'lstat', 'statfs', 'fstatfs', 'getdents64', 'readlink', 'readlinkat', 'access', 'faccessat', 'faccessat2'),
    ...allow('fcntl', 'flock', 'fsync', 'fdatasync', 'ftruncate', 'fallocate', 'fadvise64', 'dup', 'dup2', 'dup3', 'getcwd', 'chdir', 'fchdir', 'umask'),
    ...allow('mkdirat', 'mknodat', 'unlinkat', 'renameat', 'renameat2', 'symlinkat', 'linkat', 'fchmod', 'fchmodat', 'fchown', 'fchownat', 'utimensat'),
    ...allow('fgetxattr', 'flistxattr', 'fsetxattr', 'fremovexattr', 'getxattr', 'lgetxattr', 'listxattr', 'llistxattr'),
    // Sockets: the control socket (donated, bound: listen and accept), the 9P connections, SCM_RIGHTS; only unix
    // ones are made. With Internet sockets (--network=host, or sandbox's outside connections), those too, with bind and connect.
    { name: 'socket', when: [{ arg: 0, oneOf: families }] },
    { name: 'socketpair', when: [{ arg: 0, oneOf: [AF_UNIX] }] },
    ...allow('accept', 'accept4', 'listen', 'getsockname', 'getpeername', 'getsockopt', 'setsockopt', 'sendmsg', 'recvmsg', 'sendto', 'recvfrom', 'shutdown'),
    ...(o.inetSockets ? allow('bind', 'connect') : []),
    // Time, identity and limits (read only).
    ...allow('clock_gettime', 'clock_getres', 'gettimeofday', 'nanosleep', 'clock_nanosleep', 'times', 'getrusage'),
    ...allow('getpid', 'getppid', 'getuid', 'geteuid', 'getgid', 'getegid', 'getresuid', 'getresgid', 'getgroups', 'getpgrp', 'getpgid', 'getsid', 'uname', 'sysinfo', 'getrandom', 'getrlimit', 'capget'),
    { name: 'prlimit64', when: [{ arg: 2, zero: true }] },
    // Terminal and fd ioctls: non-blocking and close-on-exec, bytes pending, the host terminal's mode (raw while --console), size and pty number. Not TIOCSTI.
    // With Internet sockets, a host socket's unsent bytes too (SIOCOUTQ, the number of TIOCOUTQ).
    { name: 'ioctl', when: [{ arg: 1, oneOf: [FIONBIO, FIOCLEX, FIONCLEX, FIONREAD, TCGETS, TCSETS, TCSETSW, TCSETSF, TIOCGWINSZ, TIOCSWINSZ, TIOCGPGRP, TIOCGPTN, ...(o.inetSockets ? [SIOCOUTQ] : [])] }] },
    // Thread names, anonymous mapping names, and reading this process's own state.
    { name: 'prctl', when: [{ arg: 0, oneOf: [PR_SET_NAME, PR_GET_NAME, PR_SET_VMA, PR_GET_DUMPABLE, PR_GET_SECCOMP, PR_CAPBSET_READ, PR_GET_NO_NEW_PRIVS] }] },
  ];
  return { rules, defaultAction };
}
