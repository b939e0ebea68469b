// The riscv64 system call table (asm-generic/unistd.h numbers), as data.
//
// Each row names the call, its argument formats (for --strace), and either
// its handler or the errno it returns with the reason. Numbers absent from
// the table return ENOSYS. `tsvisor syscalls` lists this table.

import { ENOSYS, EPERM, Errno } from '../../linux/errno.js';
import type { Parked, SysCtx, SysResult } from './context.js';
import type { RestartPolicy } from '../task.js';
import * as open from './open.js';
import * as rw from './read-write.js';
import * as stat from './stat.js';
import * as dirs from './dirs.js';
import * as names from './names.js';
import * as attrs from './attrs.js';
import * as pipe from './pipe.js';
import * as poll from './poll.js';
import * as splice from './splice.js';
import * as fcntl from './fcntl.js';
import * as mm from './mm.js';
import * as proc from './process.js';
import * as sig from './signal.js';
import * as time from './time.js';
import * as children from './children.js';
import * as futex from './futex.js';
import * as timer from './timer.js';
import * as creds from './creds.js';
import * as sock from './socket.js';
import * as msg from './socket-msg.js';
import * as shm from './shm.js';
import * as xattr from './xattr.js';
import * as sched from './sched.js';

/**
 * How an argument prints (--strace), and what the dispatcher knows of it:
 * 'buf' is a pointer to memory the call reads or writes, of the 'size'
 * after it (else a futex word's 8 bytes); 'iov' an iovec array of the
 * 'int' count after it. Their pages are loaded before the call runs when
 * they lie on a file mapping not touched yet (dispatch.ts).
 */
export type ArgFormat = 'fd' | 'dirfd' | 'int' | 'uint' | 'size' | 'hex' | 'ptr' | 'buf' | 'iov' | 'str' | 'oflags' | 'oct' | 'signal';

export interface SyscallRow {
  nr: number;
  name: string;
  args: ArgFormat[];
  handler?: (c: SysCtx) => SysResult | Promise<SysResult> | Parked;
  /** How to print the result (default decimal). */
  ret?: 'hex';
  /**
   * When a signal cuts the call short (it returned EINTR while blocked):
   * 'sys' (default) restarts it if no handler runs or the handler has
   * SA_RESTART; 'nohand' restarts only if no handler runs; 'never' doesn't.
   */
  restart?: RestartPolicy;
  /** For unsupported calls: what they return, and why. */
  errno?: Errno;
  reason?: string;
  /** For supported calls: what they do not support yet (listed by `tsvisor syscalls`). */
  note?: string;
}

function row(nr: number, name: string, args: ArgFormat[], handler: SyscallRow['handler'], ret?: 'hex'): SyscallRow {
  return { nr, name, args, handler, ret };
}

/** A row whose interrupted call restarts only when no handler runs (sleeps, waits for events). */
function rowNoRestart(nr: number, name: string, args: ArgFormat[], handler: SyscallRow['handler']): SyscallRow {
  return { nr, name, args, handler, restart: 'nohand' };
}

function unsupported(nr: number, name: string, args: ArgFormat[], errno: Errno, reason: string): SyscallRow {
  return { nr, name, args, errno, reason };
}

export const SYSCALLS: readonly SyscallRow[] = [
  { ...row(5, 'setxattr', ['str', 'str', 'ptr', 'size', 'hex'], xattr.sys_setxattr), note: 'no filesystem stores extended attributes: list gives none, get/set/remove EOPNOTSUPP (Linux on a filesystem without xattr support)' },
  row(6, 'lsetxattr', ['str', 'str', 'ptr', 'size', 'hex'], xattr.sys_lsetxattr),
  row(7, 'fsetxattr', ['fd', 'str', 'ptr', 'size', 'hex'], xattr.sys_fsetxattr),
  row(8, 'getxattr', ['str', 'str', 'ptr', 'size'], xattr.sys_getxattr),
  row(9, 'lgetxattr', ['str', 'str', 'ptr', 'size'], xattr.sys_lgetxattr),
  row(10, 'fgetxattr', ['fd', 'str', 'ptr', 'size'], xattr.sys_fgetxattr),
  row(11, 'listxattr', ['str', 'ptr', 'size'], xattr.sys_listxattr),
  row(12, 'llistxattr', ['str', 'ptr', 'size'], xattr.sys_llistxattr),
  row(13, 'flistxattr', ['fd', 'ptr', 'size'], xattr.sys_flistxattr),
  row(14, 'removexattr', ['str', 'str'], xattr.sys_removexattr),
  row(15, 'lremovexattr', ['str', 'str'], xattr.sys_lremovexattr),
  row(16, 'fremovexattr', ['fd', 'str'], xattr.sys_fremovexattr),
  row(17, 'getcwd', ['ptr', 'size'], dirs.sys_getcwd),
  row(19, 'eventfd2', ['uint', 'hex'], pipe.sys_eventfd2),
  row(20, 'epoll_create1', ['hex'], poll.sys_epoll_create1),
  row(21, 'epoll_ctl', ['fd', 'int', 'fd', 'ptr'], poll.sys_epoll_ctl),
  { ...row(22, 'epoll_pwait', ['fd', 'ptr', 'int', 'int', 'ptr', 'size'], poll.sys_epoll_pwait), restart: 'never' },
  row(23, 'dup', ['fd'], fcntl.sys_dup),
  row(24, 'dup3', ['fd', 'fd', 'oflags'], fcntl.sys_dup3),
  row(25, 'fcntl', ['fd', 'int', 'hex'], fcntl.sys_fcntl),
  row(29, 'ioctl', ['fd', 'hex', 'hex'], fcntl.sys_ioctl),
  row(33, 'mknodat', ['dirfd', 'str', 'oct', 'hex'], names.sys_mknodat),
  row(34, 'mkdirat', ['dirfd', 'str', 'oct'], names.sys_mkdirat),
  row(35, 'unlinkat', ['dirfd', 'str', 'hex'], names.sys_unlinkat),
  row(36, 'symlinkat', ['str', 'dirfd', 'str'], names.sys_symlinkat),
  row(37, 'linkat', ['dirfd', 'str', 'dirfd', 'str', 'hex'], names.sys_linkat),
  row(38, 'renameat', ['dirfd', 'str', 'dirfd', 'str'], names.sys_renameat),
  row(43, 'statfs', ['str', 'ptr'], stat.sys_statfs),
  row(44, 'fstatfs', ['fd', 'ptr'], stat.sys_fstatfs),
  row(45, 'truncate', ['str', 'int'], attrs.sys_truncate),
  row(46, 'ftruncate', ['fd', 'int'], attrs.sys_ftruncate),
  row(47, 'fallocate', ['fd', 'hex', 'int', 'int'], attrs.sys_fallocate),
  row(32, 'flock', ['fd', 'int'], fcntl.sys_flock),
  row(48, 'faccessat', ['dirfd', 'str', 'int'], (c) => stat.sys_faccessat(c)),
  row(49, 'chdir', ['str'], dirs.sys_chdir),
  row(50, 'fchdir', ['fd'], dirs.sys_fchdir),
  row(52, 'fchmod', ['fd', 'oct'], attrs.sys_fchmod),
  row(53, 'fchmodat', ['dirfd', 'str', 'oct'], attrs.sys_fchmodat),
  row(54, 'fchownat', ['dirfd', 'str', 'int', 'int', 'hex'], attrs.sys_fchownat),
  row(55, 'fchown', ['fd', 'int', 'int'], attrs.sys_fchown),
  row(56, 'openat', ['dirfd', 'str', 'oflags', 'oct'], open.sys_openat),
  row(57, 'close', ['fd'], open.sys_close),
  row(59, 'pipe2', ['ptr', 'oflags'], pipe.sys_pipe2),
  row(61, 'getdents64', ['fd', 'ptr', 'size'], dirs.sys_getdents64),
  row(62, 'lseek', ['fd', 'int', 'int'], rw.sys_lseek),
  row(63, 'read', ['fd', 'buf', 'size'], rw.sys_read),
  row(64, 'write', ['fd', 'buf', 'size'], rw.sys_write),
  row(65, 'readv', ['fd', 'iov', 'int'], rw.sys_readv),
  row(66, 'writev', ['fd', 'iov', 'int'], rw.sys_writev),
  row(67, 'pread64', ['fd', 'buf', 'size', 'int'], rw.sys_pread64),
  row(68, 'pwrite64', ['fd', 'buf', 'size', 'int'], rw.sys_pwrite64),
  row(69, 'preadv', ['fd', 'iov', 'int', 'int'], rw.sys_preadv),
  row(70, 'pwritev', ['fd', 'iov', 'int', 'int'], rw.sys_pwritev),
  row(71, 'sendfile', ['fd', 'fd', 'ptr', 'size'], splice.sys_sendfile),
  { ...row(72, 'pselect6', ['int', 'ptr', 'ptr', 'ptr', 'ptr', 'ptr'], poll.sys_pselect6), restart: 'nohand' },
  { ...row(73, 'ppoll', ['ptr', 'uint', 'ptr', 'ptr', 'size'], poll.sys_ppoll), restart: 'nohand' },
  row(75, 'vmsplice', ['fd', 'ptr', 'size', 'hex'], splice.sys_vmsplice),
  row(76, 'splice', ['fd', 'ptr', 'fd', 'ptr', 'size', 'hex'], splice.sys_splice),
  row(77, 'tee', ['fd', 'fd', 'size', 'hex'], splice.sys_tee),
  row(78, 'readlinkat', ['dirfd', 'str', 'ptr', 'size'], names.sys_readlinkat),
  row(79, 'newfstatat', ['dirfd', 'str', 'ptr', 'hex'], stat.sys_newfstatat),
  row(80, 'fstat', ['fd', 'ptr'], stat.sys_fstat),
  row(81, 'sync', [], rw.sys_sync),
  row(82, 'fsync', ['fd'], rw.sys_fsync),
  row(83, 'fdatasync', ['fd'], rw.sys_fsync),
  { ...row(223, 'fadvise64', ['fd', 'int', 'int', 'int'], rw.sys_fadvise64), note: 'hints accepted and ignored' },
  row(88, 'utimensat', ['dirfd', 'str', 'ptr', 'hex'], attrs.sys_utimensat),
  row(95, 'waitid', ['int', 'int', 'ptr', 'hex', 'ptr'], children.sys_waitid),
  row(90, 'capget', ['ptr', 'ptr'], creds.sys_capget),
  row(91, 'capset', ['ptr', 'ptr'], creds.sys_capset),
  row(93, 'exit', ['int'], proc.sys_exit),
  row(94, 'exit_group', ['int'], proc.sys_exit_group),
  row(96, 'set_tid_address', ['ptr'], proc.sys_set_tid_address),
  row(98, 'futex', ['buf', 'hex', 'int', 'ptr', 'buf', 'hex'], futex.sys_futex),
  row(99, 'set_robust_list', ['ptr', 'size'], proc.sys_set_robust_list),
  rowNoRestart(101, 'nanosleep', ['ptr', 'ptr'], time.sys_nanosleep),
  row(102, 'getitimer', ['int', 'ptr'], timer.sys_getitimer),
  row(103, 'setitimer', ['int', 'ptr', 'ptr'], timer.sys_setitimer),
  row(107, 'timer_create', ['int', 'ptr', 'ptr'], timer.sys_timer_create),
  row(108, 'timer_gettime', ['int', 'ptr'], timer.sys_timer_gettime),
  row(109, 'timer_getoverrun', ['int'], timer.sys_timer_getoverrun),
  row(110, 'timer_settime', ['int', 'hex', 'ptr', 'ptr'], timer.sys_timer_settime),
  row(111, 'timer_delete', ['int'], timer.sys_timer_delete),
  { ...row(112, 'clock_settime', ['int', 'ptr'], time.sys_clock_settime), note: 'EPERM: the wall clock is the host\'s' },
  row(113, 'clock_gettime', ['int', 'ptr'], time.sys_clock_gettime),
  row(114, 'clock_getres', ['int', 'ptr'], time.sys_clock_getres),
  rowNoRestart(115, 'clock_nanosleep', ['int', 'hex', 'ptr', 'ptr'], time.sys_clock_nanosleep),
  row(118, 'sched_setparam', ['int', 'ptr'], sched.sys_sched_setparam),
  { ...row(119, 'sched_setscheduler', ['int', 'int', 'ptr'], sched.sys_sched_setscheduler), note: 'policies are kept and reported, not used for placement' },
  row(120, 'sched_getscheduler', ['int'], sched.sys_sched_getscheduler),
  row(121, 'sched_getparam', ['int', 'ptr'], sched.sys_sched_getparam),
  row(122, 'sched_setaffinity', ['int', 'size', 'ptr'], proc.sys_sched_setaffinity),
  row(123, 'sched_getaffinity', ['int', 'size', 'ptr'], proc.sys_sched_getaffinity),
  row(124, 'sched_yield', [], proc.sys_sched_yield),
  row(125, 'sched_get_priority_max', ['int'], sched.sys_sched_get_priority_max),
  row(126, 'sched_get_priority_min', ['int'], sched.sys_sched_get_priority_min),
  row(127, 'sched_rr_get_interval', ['int', 'ptr'], sched.sys_sched_rr_get_interval),
  row(129, 'kill', ['int', 'signal'], sig.sys_kill),
  row(130, 'tkill', ['int', 'signal'], sig.sys_tkill),
  row(131, 'tgkill', ['int', 'int', 'signal'], sig.sys_tgkill),
  row(132, 'sigaltstack', ['ptr', 'ptr'], sig.sys_sigaltstack),
  rowNoRestart(133, 'rt_sigsuspend', ['ptr', 'size'], sig.sys_rt_sigsuspend),
  row(134, 'rt_sigaction', ['signal', 'ptr', 'ptr', 'size'], sig.sys_rt_sigaction),
  row(135, 'rt_sigprocmask', ['int', 'ptr', 'ptr', 'size'], sig.sys_rt_sigprocmask),
  row(136, 'rt_sigpending', ['ptr', 'size'], sig.sys_rt_sigpending),
  rowNoRestart(137, 'rt_sigtimedwait', ['ptr', 'ptr', 'ptr', 'size'], sig.sys_rt_sigtimedwait),
  row(138, 'rt_sigqueueinfo', ['int', 'signal', 'ptr'], sig.sys_rt_sigqueueinfo),
  row(139, 'rt_sigreturn', [], sig.sys_rt_sigreturn),
  row(143, 'setregid', ['int', 'int'], creds.sys_setregid),
  row(144, 'setgid', ['int'], creds.sys_setgid),
  row(145, 'setreuid', ['int', 'int'], creds.sys_setreuid),
  row(146, 'setuid', ['int'], creds.sys_setuid),
  row(147, 'setresuid', ['int', 'int', 'int'], creds.sys_setresuid),
  row(148, 'getresuid', ['ptr', 'ptr', 'ptr'], proc.sys_getresuid),
  row(149, 'setresgid', ['int', 'int', 'int'], creds.sys_setresgid),
  row(150, 'getresgid', ['ptr', 'ptr', 'ptr'], proc.sys_getresgid),
  row(151, 'setfsuid', ['int'], creds.sys_setfsuid),
  row(152, 'setfsgid', ['int'], creds.sys_setfsgid),
  row(153, 'times', ['ptr'], proc.sys_times),
  row(154, 'setpgid', ['int', 'int'], proc.sys_setpgid),
  row(155, 'getpgid', ['int'], proc.sys_getpgid),
  row(156, 'getsid', ['int'], proc.sys_getsid),
  row(157, 'setsid', [], proc.sys_setsid),
  row(158, 'getgroups', ['int', 'ptr'], proc.sys_getgroups),
  row(159, 'setgroups', ['int', 'ptr'], creds.sys_setgroups),
  row(160, 'uname', ['ptr'], proc.sys_uname),
  row(161, 'sethostname', ['str', 'int'], creds.sys_sethostname),
  row(163, 'getrlimit', ['int', 'ptr'], proc.sys_getrlimit),
  row(164, 'setrlimit', ['int', 'ptr'], proc.sys_setrlimit),
  row(165, 'getrusage', ['int', 'ptr'], proc.sys_getrusage),
  row(166, 'umask', ['oct'], attrs.sys_umask),
  row(167, 'prctl', ['int', 'hex', 'hex', 'hex', 'hex'], proc.sys_prctl),
  row(168, 'getcpu', ['ptr', 'ptr', 'ptr'], proc.sys_getcpu),
  row(169, 'gettimeofday', ['ptr', 'ptr'], time.sys_gettimeofday),
  { ...row(170, 'settimeofday', ['ptr', 'ptr'], time.sys_settimeofday), note: 'EPERM: the wall clock is the host\'s' },
  row(172, 'getpid', [], proc.sys_getpid),
  row(173, 'getppid', [], proc.sys_getppid),
  row(174, 'getuid', [], proc.sys_getuid),
  row(175, 'geteuid', [], proc.sys_geteuid),
  row(176, 'getgid', [], proc.sys_getgid),
  row(177, 'getegid', [], proc.sys_getegid),
  row(178, 'gettid', [], proc.sys_gettid),
  row(179, 'sysinfo', ['ptr'], proc.sys_sysinfo),
  { ...row(198, 'socket', ['int', 'hex', 'int'], sock.sys_socket), note: 'AF_UNIX, AF_INET and AF_INET6 (TCP and UDP), AF_NETLINK (NETLINK_ROUTE: link and address dumps); no raw or packet sockets' },
  row(199, 'socketpair', ['int', 'hex', 'int', 'ptr'], sock.sys_socketpair),
  row(200, 'bind', ['fd', 'ptr', 'int'], sock.sys_bind),
  row(201, 'listen', ['fd', 'int'], sock.sys_listen),
  row(202, 'accept', ['fd', 'ptr', 'ptr'], sock.sys_accept),
  row(203, 'connect', ['fd', 'ptr', 'int'], sock.sys_connect),
  row(204, 'getsockname', ['fd', 'ptr', 'ptr'], sock.sys_getsockname),
  row(205, 'getpeername', ['fd', 'ptr', 'ptr'], sock.sys_getpeername),
  row(206, 'sendto', ['fd', 'buf', 'size', 'hex', 'ptr', 'int'], msg.sys_sendto),
  row(207, 'recvfrom', ['fd', 'buf', 'size', 'hex', 'ptr', 'ptr'], msg.sys_recvfrom),
  row(208, 'setsockopt', ['fd', 'int', 'int', 'ptr', 'int'], sock.sys_setsockopt),
  row(209, 'getsockopt', ['fd', 'int', 'int', 'ptr', 'ptr'], sock.sys_getsockopt),
  row(210, 'shutdown', ['fd', 'int'], sock.sys_shutdown),
  row(211, 'sendmsg', ['fd', 'ptr', 'hex'], msg.sys_sendmsg),
  row(212, 'recvmsg', ['fd', 'ptr', 'hex'], msg.sys_recvmsg),
  row(214, 'brk', ['ptr'], mm.sys_brk, 'hex'),
  row(215, 'munmap', ['ptr', 'size'], mm.sys_munmap),
  row(216, 'mremap', ['ptr', 'size', 'size', 'hex', 'ptr'], mm.sys_mremap, 'hex'),
  row(220, 'clone', ['hex', 'ptr', 'ptr', 'ptr', 'ptr'], children.sys_clone),
  row(221, 'execve', ['str', 'ptr', 'ptr'], proc.sys_execve),
  row(222, 'mmap', ['ptr', 'size', 'hex', 'hex', 'fd', 'hex'], mm.sys_mmap, 'hex'),
  row(226, 'mprotect', ['ptr', 'size', 'hex'], mm.sys_mprotect),
  row(233, 'madvise', ['ptr', 'size', 'int'], mm.sys_madvise),
  row(240, 'rt_tgsigqueueinfo', ['int', 'int', 'signal', 'ptr'], sig.sys_rt_tgsigqueueinfo),
  row(242, 'accept4', ['fd', 'ptr', 'ptr', 'hex'], sock.sys_accept4),
  row(243, 'recvmmsg', ['fd', 'ptr', 'uint', 'hex', 'ptr'], msg.sys_recvmmsg),
  row(259, 'riscv_flush_icache', ['ptr', 'ptr', 'hex'], proc.sys_riscv_flush_icache),
  row(260, 'wait4', ['int', 'ptr', 'hex', 'ptr'], children.sys_wait4),
  row(261, 'prlimit64', ['int', 'int', 'ptr', 'ptr'], proc.sys_prlimit64),
  row(267, 'syncfs', ['fd'], rw.sys_syncfs),
  row(269, 'sendmmsg', ['fd', 'ptr', 'uint', 'hex'], msg.sys_sendmmsg),
  row(276, 'renameat2', ['dirfd', 'str', 'dirfd', 'str', 'hex'], names.sys_renameat2),
  row(278, 'getrandom', ['buf', 'size', 'hex'], proc.sys_getrandom),
  row(285, 'copy_file_range', ['fd', 'ptr', 'fd', 'ptr', 'size', 'hex'], splice.sys_copy_file_range),
  row(291, 'statx', ['dirfd', 'str', 'hex', 'hex', 'ptr'], stat.sys_statx),
  row(435, 'clone3', ['ptr', 'size'], children.sys_clone3),
  { ...row(441, 'epoll_pwait2', ['fd', 'ptr', 'int', 'ptr', 'ptr', 'size'], poll.sys_epoll_pwait2), restart: 'never' },
  row(449, 'futex_waitv', ['ptr', 'uint', 'hex', 'ptr', 'int'], futex.sys_futex_waitv),
  row(452, 'fchmodat2', ['dirfd', 'str', 'oct', 'hex'], attrs.sys_fchmodat2),
  row(439, 'faccessat2', ['dirfd', 'str', 'int', 'hex'], stat.sys_faccessat2),
  row(227, 'msync', ['ptr', 'size', 'hex'], shm.sys_msync),
  { ...row(279, 'memfd_create', ['str', 'hex'], shm.sys_memfd_create), note: 'seals enforced (fcntl F_ADD_SEALS); no MFD_HUGETLB' },
  row(194, 'shmget', ['int', 'size', 'oct'], shm.sys_shmget),
  { ...row(195, 'shmctl', ['int', 'int', 'ptr'], shm.sys_shmctl), note: 'IPC_STAT, IPC_SET, IPC_RMID, IPC_INFO, SHM_INFO, SHM_STAT(_ANY); no SHM_LOCK' },
  row(196, 'shmat', ['int', 'ptr', 'hex'], shm.sys_shmat, 'hex'),
  row(197, 'shmdt', ['ptr'], shm.sys_shmdt),
  unsupported(258, 'riscv_hwprobe', ['ptr', 'size', 'size', 'ptr', 'hex'], ENOSYS, 'no hardware probing; glibc falls back to AT_HWCAP'),
  unsupported(293, 'rseq', ['ptr', 'uint', 'hex', 'hex'], ENOSYS, 'restartable sequences are not supported; glibc works without them'),
  unsupported(142, 'reboot', ['hex', 'hex', 'hex', 'ptr'], EPERM, 'a sandbox cannot reboot the host'),
];
