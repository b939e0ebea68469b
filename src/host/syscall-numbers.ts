// The host's system call numbers, by name, for the architectures tsvisor can
// confine itself on (src/host/seccomp.ts builds its filters from these), and
// the AUDIT_ARCH_* value the kernel puts in seccomp_data.arch for each.
//
// Only the calls tsvisor's own processes make, or must be refused, are
// listed; the numbers are x86_64's (arch/x86/entry/syscalls/syscall_64.tbl).
// A host architecture without a table here cannot be confined: callers get
// `undefined` and fail closed.

export interface HostSyscallTable {
  /** Node's name for the architecture (process.arch). */
  arch: string;
  /** seccomp_data.arch for this architecture's native calls. */
  auditArch: number;
  /**
   * Numbers at or above this are another ABI sharing the architecture's
   * entry (x86_64's x32 calls carry bit 30); a filter refuses them.
   */
  foreignAbiBit: number;
  numbers: Readonly<Record<string, number>>;
}

const X86_64: HostSyscallTable = {
  arch: 'x64',
  auditArch: 0xc000003e, // EM_X86_64 | __AUDIT_ARCH_64BIT | __AUDIT_ARCH_LE
  foreignAbiBit: 0x40000000, // __X32_SYSCALL_BIT
  numbers: {
    read: 0, write: 1, readv: 19, writev: 20, pread64: 17, pwrite64: 18, preadv: 295, pwritev: 296, preadv2: 327,
    pwritev2: 328, close: 3, close_range: 436, lseek: 8, open: 2, openat: 257, openat2: 437, fstat: 5, newfstatat: 262,
    statx: 332, stat: 4, lstat: 6, statfs: 137, fstatfs: 138, getdents64: 217, readlink: 89, readlinkat: 267,
    access: 21, faccessat: 269, faccessat2: 439, fcntl: 72, flock: 73, fsync: 74, fdatasync: 75, ftruncate: 77,
    fallocate: 285, fadvise64: 221, mkdirat: 258, mknodat: 259, unlinkat: 263,
    renameat: 264, renameat2: 316, symlinkat: 266, linkat: 265,
    fchmod: 91, fchmodat: 268, fchown: 93, fchownat: 260, utimensat: 280, fgetxattr: 193,
    flistxattr: 196, fsetxattr: 190, fremovexattr: 199, getxattr: 191, lgetxattr: 192, listxattr: 194, llistxattr: 195,
    dup: 32, dup2: 33, dup3: 292, getcwd: 79, chdir: 80, fchdir: 81, umask: 95, mmap: 9, munmap: 11, mprotect: 10,
    mremap: 25, madvise: 28, brk: 12, msync: 26, mincore: 27, membarrier: 324, pkey_alloc: 330, pkey_free: 331,
    pkey_mprotect: 329, futex: 202, set_robust_list: 273, get_robust_list: 274, rseq: 334, sched_yield: 24,
    sched_getaffinity: 204, sched_getparam: 143, sched_getscheduler: 145, gettid: 186, exit: 60, exit_group: 231,
    sigaltstack: 131, set_tid_address: 218, clone: 56, clone3: 435, restart_syscall: 219, rt_sigaction: 13,
    rt_sigprocmask: 14, rt_sigreturn: 15, kill: 62, tgkill: 234, tkill: 200, epoll_create1: 291, epoll_ctl: 233,
    epoll_wait: 232, epoll_pwait: 281, epoll_pwait2: 441, eventfd2: 290, pipe2: 293, poll: 7, ppoll: 271, socket: 41,
    socketpair: 53, accept: 43, accept4: 288, bind: 49, listen: 50, connect: 42, getsockname: 51, getpeername: 52,
    getsockopt: 55, setsockopt: 54, sendmsg: 46, recvmsg: 47, sendto: 44, recvfrom: 45, shutdown: 48,
    clock_gettime: 228, clock_getres: 229, gettimeofday: 96, nanosleep: 35, clock_nanosleep: 230, times: 100,
    getrusage: 98, getpid: 39, getppid: 110, getuid: 102, geteuid: 107, getgid: 104, getegid: 108, getresuid: 118,
    getresgid: 120, getgroups: 115, getpgrp: 111, getpgid: 121, getsid: 124, uname: 63, sysinfo: 99, getrandom: 318,
    prlimit64: 302, getrlimit: 97, capget: 125, ioctl: 16, prctl: 157, seccomp: 317, pivot_root: 155, mount: 165,
    umount2: 166, ptrace: 101, unshare: 272, setns: 308, chroot: 161, execve: 59,
  },
};

const TABLES: readonly HostSyscallTable[] = [X86_64];

/** The table of the host this process runs on, or undefined when there is none. */
export function hostSyscalls(): HostSyscallTable | undefined {
  return TABLES.find((t) => t.arch === process.arch);
}
