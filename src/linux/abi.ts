// Linux's riscv64 user ABI, mirrored with Linux's own names (docs/ARCHITECTURE.md, convention 4).
// Struct layouts give explicit byte offsets for riscv64 (LP64, little endian,
// asm-generic layouts). Nothing else in the kernel spells these numbers.

// ---- open(2) and friends (asm-generic/fcntl.h) ----
export const O_ACCMODE = 0o3;
export const O_RDONLY = 0o0;
export const O_WRONLY = 0o1;
export const O_RDWR = 0o2;
export const O_CREAT = 0o100;
export const O_EXCL = 0o200;
export const O_NOCTTY = 0o400;
export const O_TRUNC = 0o1000;
export const O_APPEND = 0o2000;
export const O_NONBLOCK = 0o4000;
export const O_DSYNC = 0o10000;
export const O_ASYNC = 0o20000;
export const O_DIRECT = 0o40000;
export const O_LARGEFILE = 0o100000;
export const O_DIRECTORY = 0o200000;
export const O_NOFOLLOW = 0o400000;
export const O_NOATIME = 0o1000000;
export const O_CLOEXEC = 0o2000000;
export const O_SYNC = 0o4010000;
export const O_PATH = 0o10000000;
export const O_TMPFILE = 0o20200000;
/** Status flags F_SETFL may change. */
export const SETFL_MASK = O_APPEND | O_NONBLOCK | O_ASYNC | O_DIRECT | O_NOATIME;

export const AT_FDCWD = -100;
export const AT_SYMLINK_NOFOLLOW = 0x100;
export const AT_REMOVEDIR = 0x200;
export const AT_SYMLINK_FOLLOW = 0x400;
export const AT_NO_AUTOMOUNT = 0x800;
export const AT_EMPTY_PATH = 0x1000;
export const AT_EACCESS = 0x200;
export const AT_STATX_SYNC_TYPE = 0x6000;

export const F_DUPFD = 0;
export const F_GETFD = 1;
export const F_SETFD = 2;
export const F_GETFL = 3;
export const F_SETFL = 4;
export const F_GETLK = 5;
export const F_SETLK = 6;
export const F_SETLKW = 7;
export const F_DUPFD_CLOEXEC = 1030;
export const F_GETPIPE_SZ = 1032;
export const F_SETPIPE_SZ = 1031;
export const F_OFD_GETLK = 36;
export const F_OFD_SETLK = 37;
export const F_OFD_SETLKW = 38;
export const F_RDLCK = 0;
export const F_WRLCK = 1;
export const F_UNLCK = 2;
/** struct flock (riscv64): l_type, l_whence (shorts), l_start, l_len (off_t), l_pid. */
export const FLOCK = { size: 32, l_type: 0, l_whence: 2, l_start: 8, l_len: 16, l_pid: 24 } as const;
export const FD_CLOEXEC = 1;

// poll, select, epoll, eventfd, pipes, splice
export const POLLIN = 0x1;
export const POLLPRI = 0x2;
export const POLLOUT = 0x4;
export const POLLERR = 0x8;
export const POLLHUP = 0x10;
export const POLLNVAL = 0x20;
export const POLLRDNORM = 0x40;
export const POLLRDBAND = 0x80;
export const POLLWRNORM = 0x100;
export const POLLWRBAND = 0x200;
export const POLLMSG = 0x400;
export const POLLRDHUP = 0x2000;
/** struct pollfd: int fd; short events; short revents. */
export const POLLFD = { size: 8, fd: 0, events: 4, revents: 6 } as const;
export const EPOLLEXCLUSIVE = 1 << 28;
export const EPOLLWAKEUP = 1 << 29;
export const EPOLLONESHOT = 1 << 30;
export const EPOLLET = 1 << 31;
export const EPOLL_CTL_ADD = 1;
export const EPOLL_CTL_DEL = 2;
export const EPOLL_CTL_MOD = 3;
export const EPOLL_CLOEXEC = O_CLOEXEC;
/** struct epoll_event on riscv64 (not packed): u32 events, 4 bytes of padding, u64 data. */
export const EPOLL_EVENT = { size: 16, events: 0, data: 8 } as const;
/** The most events one epoll_wait may ask for (Linux's EP_MAX_EVENTS). */
export const EP_MAX_EVENTS = 0x7fffffff / 16;
export const EFD_SEMAPHORE = 1;
export const EFD_CLOEXEC = O_CLOEXEC;
export const EFD_NONBLOCK = O_NONBLOCK;
export const PIPE_BUF = 4096;
export const SPLICE_F_MOVE = 1;
export const SPLICE_F_NONBLOCK = 2;
export const SPLICE_F_MORE = 4;
export const SPLICE_F_GIFT = 8;
/** FD_SETSIZE bits per fd_set word on riscv64 (unsigned long). */
export const NFDBITS = 64;

export const SEEK_SET = 0;
export const SEEK_CUR = 1;
export const SEEK_END = 2;
export const SEEK_DATA = 3;
export const SEEK_HOLE = 4;

export const F_OK = 0;
export const X_OK = 1;
export const W_OK = 2;
export const R_OK = 4;

// ---- file types and modes (linux/stat.h) ----
export const S_IFMT = 0o170000;
export const S_IFSOCK = 0o140000;
export const S_IFLNK = 0o120000;
export const S_IFREG = 0o100000;
export const S_IFBLK = 0o060000;
export const S_IFDIR = 0o040000;
export const S_IFCHR = 0o020000;
export const S_IFIFO = 0o010000;

export const DT_UNKNOWN = 0;
export const DT_FIFO = 1;
export const DT_CHR = 2;
export const DT_DIR = 4;
export const DT_BLK = 6;
export const DT_REG = 8;
export const DT_LNK = 10;
export const DT_SOCK = 12;

/** d_type for an S_IFMT value. */
export function dtypeOf(mode: number): number {
  return (mode & S_IFMT) >>> 12;
}

/** struct stat (asm-generic/stat.h), 128 bytes. */
export const STAT = {
  size: 128,
  st_dev: 0,
  st_ino: 8,
  st_mode: 16,
  st_nlink: 20,
  st_uid: 24,
  st_gid: 28,
  st_rdev: 32,
  st_size: 48,
  st_blksize: 56,
  st_blocks: 64,
  st_atime: 72,
  st_atime_nsec: 80,
  st_mtime: 88,
  st_mtime_nsec: 96,
  st_ctime: 104,
  st_ctime_nsec: 112,
} as const;

/** struct statx (linux/stat.h), 256 bytes; timestamps are {i64 sec, u32 nsec, i32 pad}. */
export const STATX = {
  size: 256,
  stx_mask: 0,
  stx_blksize: 4,
  stx_attributes: 8,
  stx_nlink: 16,
  stx_uid: 20,
  stx_gid: 24,
  stx_mode: 28,
  stx_ino: 32,
  stx_size: 40,
  stx_blocks: 48,
  stx_attributes_mask: 56,
  stx_atime: 64,
  stx_btime: 80,
  stx_ctime: 96,
  stx_mtime: 112,
  stx_rdev_major: 128,
  stx_rdev_minor: 132,
  stx_dev_major: 136,
  stx_dev_minor: 140,
  stx_mnt_id: 144,
} as const;
export const STATX_BASIC_STATS = 0x7ff;
export const STATX_MNT_ID = 0x1000;

/** struct linux_dirent64: u64 d_ino, i64 d_off, u16 d_reclen, u8 d_type, char d_name[]. */
export const DIRENT64 = { d_ino: 0, d_off: 8, d_reclen: 16, d_type: 18, d_name: 19 } as const;

// ---- memory (asm-generic/mman-common.h) ----
export const PROT_NONE = 0;
export const PROT_READ = 1;
export const PROT_WRITE = 2;
export const PROT_EXEC = 4;
export const MAP_SHARED = 0x01;
export const MAP_PRIVATE = 0x02;
export const MAP_SHARED_VALIDATE = 0x03;
export const MAP_TYPE = 0x0f;
export const MAP_FIXED = 0x10;
export const MAP_ANONYMOUS = 0x20;
export const MAP_NORESERVE = 0x4000;
export const MAP_GROWSDOWN = 0x0100;
export const MAP_STACK = 0x20000;
export const MAP_POPULATE = 0x8000;
export const MAP_FIXED_NOREPLACE = 0x100000;
export const MREMAP_MAYMOVE = 1;
export const MREMAP_FIXED = 2;

// ---- signals (asm-generic/signal.h) ----
export const SIGHUP = 1;
export const SIGINT = 2;
export const SIGQUIT = 3;
export const SIGILL = 4;
export const SIGTRAP = 5;
export const SIGABRT = 6;
export const SIGBUS = 7;
export const SIGFPE = 8;
export const SIGKILL = 9;
export const SIGUSR1 = 10;
export const SIGSEGV = 11;
export const SIGUSR2 = 12;
export const SIGPIPE = 13;
export const SIGALRM = 14;
export const SIGTERM = 15;
export const SIGSTKFLT = 16;
export const SIGCHLD = 17;
export const SIGCONT = 18;
export const SIGSTOP = 19;
export const SIGTSTP = 20;
export const SIGTTIN = 21;
export const SIGTTOU = 22;
export const SIGURG = 23;
export const SIGXCPU = 24;
export const SIGXFSZ = 25;
export const SIGVTALRM = 26;
export const SIGPROF = 27;
export const SIGWINCH = 28;
export const SIGIO = 29;
export const SIGPWR = 30;
export const SIGSYS = 31;
export const SIGRTMIN = 32;
export const NSIG = 64;

export const SIG_DFL = 0;
export const SIG_IGN = 1;
export const SIG_BLOCK = 0;
export const SIG_UNBLOCK = 1;
export const SIG_SETMASK = 2;

export const SA_NOCLDSTOP = 0x1;
export const SA_NOCLDWAIT = 0x2;
export const SA_SIGINFO = 0x4;
export const SA_ONSTACK = 0x08000000;
export const SA_RESTART = 0x10000000;
export const SA_NODEFER = 0x40000000;
export const SA_RESETHAND = 0x80000000;

/** struct sigaction as riscv64's kernel takes it (no sa_restorer): 24 bytes. */
export const SIGACTION = { size: 24, sa_handler: 0, sa_flags: 8, sa_mask: 16 } as const;
/** The kernel's sigset_t: 64 bits. */
export const SIGSET_SIZE = 8;

export const SIGNAL_NAMES: readonly string[] = [
  '', 'SIGHUP', 'SIGINT', 'SIGQUIT', 'SIGILL', 'SIGTRAP', 'SIGABRT', 'SIGBUS', 'SIGFPE', 'SIGKILL', 'SIGUSR1',
  'SIGSEGV', 'SIGUSR2', 'SIGPIPE', 'SIGALRM', 'SIGTERM', 'SIGSTKFLT', 'SIGCHLD', 'SIGCONT', 'SIGSTOP', 'SIGTSTP',
  'SIGTTIN', 'SIGTTOU', 'SIGURG', 'SIGXCPU', 'SIGXFSZ', 'SIGVTALRM', 'SIGPROF', 'SIGWINCH', 'SIGIO', 'SIGPWR', 'SIGSYS',
];

// ---- si_code values ----
export const SI_USER = 0;
export const SI_TKILL = -6;
export const SI_KERNEL = 0x80;
export const SEGV_MAPERR = 1;
export const SEGV_ACCERR = 2;
export const ILL_ILLOPC = 1;
export const BUS_ADRALN = 1;
export const TRAP_BRKPT = 1;

// ---- the ELF auxiliary vector (linux/auxvec.h) ----
export const AT_NULL = 0;
export const AT_IGNORE = 1;
export const AT_PHDR = 3;
export const AT_PHENT = 4;
export const AT_PHNUM = 5;
export const AT_PAGESZ = 6;
export const AT_BASE = 7;
export const AT_FLAGS = 8;
export const AT_ENTRY = 9;
export const AT_UID = 11;
export const AT_EUID = 12;
export const AT_GID = 13;
export const AT_EGID = 14;
export const AT_PLATFORM = 15;
export const AT_HWCAP = 16;
export const AT_CLKTCK = 17;
export const AT_SECURE = 23;
export const AT_RANDOM = 25;
export const AT_HWCAP2 = 26;
export const AT_EXECFN = 31;
export const AT_MINSIGSTKSZ = 51;
/** AT_HWCAP for RV64IMAFDC: one bit per single-letter extension ('a' is bit 0). */
export const RISCV_HWCAP_IMAFDC = ['i', 'm', 'a', 'f', 'd', 'c'].reduce((m, c) => m | (1 << (c.charCodeAt(0) - 97)), 0);

// ---- clocks and time ----
export const CLOCK_REALTIME = 0;
export const CLOCK_MONOTONIC = 1;
export const CLOCK_PROCESS_CPUTIME_ID = 2;
export const CLOCK_THREAD_CPUTIME_ID = 3;
export const CLOCK_MONOTONIC_RAW = 4;
export const CLOCK_REALTIME_COARSE = 5;
export const CLOCK_MONOTONIC_COARSE = 6;
export const CLOCK_BOOTTIME = 7;
export const TIMER_ABSTIME = 1;
/** struct timespec / timeval: two i64. */
export const TIMESPEC = { size: 16, tv_sec: 0, tv_nsec: 8 } as const;
export const TIMEVAL = { size: 16, tv_sec: 0, tv_usec: 8 } as const;

// ---- identity and resources ----
/** struct new_utsname: six char[65]. */
export const UTSNAME = { size: 390, field: 65, sysname: 0, nodename: 65, release: 130, version: 195, machine: 260, domainname: 325 } as const;

/** struct sysinfo (LP64): 112 bytes. */
export const SYSINFO = {
  size: 112,
  uptime: 0,
  loads: 8,
  totalram: 32,
  freeram: 40,
  sharedram: 48,
  bufferram: 56,
  totalswap: 64,
  freeswap: 72,
  procs: 80,
  totalhigh: 88,
  freehigh: 96,
  mem_unit: 104,
} as const;

export const RLIMIT_CPU = 0;
export const RLIMIT_FSIZE = 1;
export const RLIMIT_DATA = 2;
export const RLIMIT_STACK = 3;
export const RLIMIT_CORE = 4;
export const RLIMIT_RSS = 5;
export const RLIMIT_NPROC = 6;
export const RLIMIT_NOFILE = 7;
export const RLIMIT_MEMLOCK = 8;
export const RLIMIT_AS = 9;
export const RLIMIT_LOCKS = 10;
export const RLIMIT_SIGPENDING = 11;
export const RLIMIT_MSGQUEUE = 12;
export const RLIMIT_NICE = 13;
export const RLIMIT_RTPRIO = 14;
export const RLIMIT_RTTIME = 15;
export const RLIM_NLIMITS = 16;
export const RLIMIT_NAMES: readonly string[] = [
  'RLIMIT_CPU', 'RLIMIT_FSIZE', 'RLIMIT_DATA', 'RLIMIT_STACK', 'RLIMIT_CORE', 'RLIMIT_RSS', 'RLIMIT_NPROC',
  'RLIMIT_NOFILE', 'RLIMIT_MEMLOCK', 'RLIMIT_AS', 'RLIMIT_LOCKS', 'RLIMIT_SIGPENDING', 'RLIMIT_MSGQUEUE',
  'RLIMIT_NICE', 'RLIMIT_RTPRIO', 'RLIMIT_RTTIME',
];
/** RLIM_INFINITY as the guest sees it (all ones, 64 bits). */
export const RLIM_INFINITY = 0xffffffffffffffffn;

// ---- random ----
export const GRND_NONBLOCK = 1;
export const GRND_RANDOM = 2;
export const GRND_INSECURE = 4;

// ---- terminal ioctls (asm-generic/ioctls.h) ----
export const TCGETS = 0x5401;
export const TCSETS = 0x5402;
export const TCSETSW = 0x5403;
export const TCSETSF = 0x5404;
export const TIOCSCTTY = 0x540e;
export const TIOCGPGRP = 0x540f;
export const TIOCSPGRP = 0x5410;
export const TIOCGWINSZ = 0x5413;
export const TIOCSWINSZ = 0x5414;
export const FIONREAD = 0x541b;
export const TIOCNOTTY = 0x5422;
export const FIONBIO = 0x5421;
export const FIOCLEX = 0x5451;
export const FIONCLEX = 0x5450;
/** struct termios (asm-generic): four u32 flags, c_line, c_cc[19]: 36 bytes. */
export const TERMIOS = { size: 36, c_iflag: 0, c_oflag: 4, c_cflag: 8, c_lflag: 12, c_line: 16, c_cc: 17 } as const;
/** struct winsize: four u16. */
export const WINSIZE = { size: 8, ws_row: 0, ws_col: 2, ws_xpixel: 4, ws_ypixel: 6 } as const;
export const TCSBRK = 0x5409;
export const TCXONC = 0x540a;
export const TCFLSH = 0x540b;
export const TIOCOUTQ = 0x5411;
export const TIOCGETD = 0x5424;
export const TCSBRKP = 0x5425;
export const TIOCGSID = 0x5429;
export const TIOCGPTN = 0x80045430;
export const TIOCSPTLCK = 0x40045431;
export const TIOCGPTLCK = 0x80045439;
export const TIOCGPTPEER = 0x5441;
export const TIOCSTI = 0x5412;
// tcflush/tcflow arguments
export const TCIFLUSH = 0;
export const TCOFLUSH = 1;
export const TCIOFLUSH = 2;
export const TCOOFF = 0;
export const TCOON = 1;
export const TCIOFF = 2;
export const TCION = 3;
// c_cc indices
export const VINTR = 0;
export const VQUIT = 1;
export const VERASE = 2;
export const VKILL = 3;
export const VEOF = 4;
export const VTIME = 5;
export const VMIN = 6;
export const VSWTC = 7;
export const VSTART = 8;
export const VSTOP = 9;
export const VSUSP = 10;
export const VEOL = 11;
export const VREPRINT = 12;
export const VDISCARD = 13;
export const VWERASE = 14;
export const VLNEXT = 15;
export const VEOL2 = 16;
export const NCCS = 19;
// c_iflag
export const IGNBRK = 0o1;
export const BRKINT = 0o2;
export const IGNPAR = 0o4;
export const ISTRIP = 0o40;
export const INLCR = 0o100;
export const IGNCR = 0o200;
export const ICRNL = 0o400;
export const IUCLC = 0o1000;
export const IXON = 0o2000;
export const IXANY = 0o4000;
export const IXOFF = 0o10000;
export const IMAXBEL = 0o20000;
export const IUTF8 = 0o40000;
// c_oflag
export const OPOST = 0o1;
export const OLCUC = 0o2;
export const ONLCR = 0o4;
export const OCRNL = 0o10;
export const ONOCR = 0o20;
export const ONLRET = 0o40;
export const TABDLY = 0o14000;
export const XTABS = 0o14000;
// c_cflag
export const B38400 = 0o17;
export const CS8 = 0o60;
export const CREAD = 0o200;
export const HUPCL = 0o2000;
// c_lflag
export const ISIG = 0o1;
export const ICANON = 0o2;
export const ECHO = 0o10;
export const ECHOE = 0o20;
export const ECHOK = 0o40;
export const ECHONL = 0o100;
export const NOFLSH = 0o200;
export const TOSTOP = 0o400;
export const ECHOCTL = 0o1000;
export const ECHOPRT = 0o2000;
export const ECHOKE = 0o4000;
export const FLUSHO = 0o10000;
export const PENDIN = 0o40000;
export const IEXTEN = 0o100000;
export const EXTPROC = 0o200000;

// ---- wait ----
/** Linux wait status for a normal exit. */
export function exitStatus(code: number): number {
  return (code & 0xff) << 8;
}
/** Linux wait status for death by a signal (with the core-dump bit when `core`). */
export function signalStatus(sig: number, core = false): number {
  return (sig & 0x7f) | (core ? 0x80 : 0);
}

// ---- iovec ----
export const IOVEC = { size: 16, iov_base: 0, iov_len: 8 } as const;
export const UIO_MAXIOV = 1024;
export const PATH_MAX = 4096;
export const NAME_MAX = 255;
export const MAX_RW_COUNT = 0x7ffff000;

// ---- misc ----
export const CLONE_VM = 0x100;
export const CLONE_FS = 0x200;
export const CLONE_FILES = 0x400;
export const CLONE_SIGHAND = 0x800;
export const CLONE_VFORK = 0x4000;
export const CLONE_THREAD = 0x10000;
export const CLONE_SETTLS = 0x80000;
export const CLONE_PARENT_SETTID = 0x100000;
export const CLONE_CHILD_CLEARTID = 0x200000;
export const CLONE_CHILD_SETTID = 0x1000000;
export const CLONE_PARENT = 0x8000;
export const CLONE_SYSVSEM = 0x40000;
export const CLONE_DETACHED = 0x400000;
export const CLONE_UNTRACED = 0x800000;
export const CLONE_PTRACE = 0x2000;
export const CLONE_IO = 0x80000000;
export const CLONE_PIDFD = 0x1000;
export const CLONE_CLEAR_SIGHAND = 0x100000000;
/** Namespace flags: a sandboxed guest may not create namespaces (EPERM, as for an unprivileged user in runsc). */
export const CLONE_NEW_ANY = 0x02000000 | 0x04000000 | 0x08000000 | 0x10000000 | 0x20000000 | 0x40000000 | 0x00020000 | 0x00000080;
/** struct clone_args (clone3) field offsets; the smallest size accepted is CLONE_ARGS_SIZE_VER0. */
export const CLONE_ARGS = { flags: 0, pidfd: 8, child_tid: 16, parent_tid: 24, exit_signal: 32, stack: 40, stack_size: 48, tls: 56, set_tid: 64, set_tid_size: 72, cgroup: 80 } as const;
export const CLONE_ARGS_SIZE_VER0 = 64;

// wait4 / waitid
export const WNOHANG = 1;
export const WUNTRACED = 2;
export const WSTOPPED = 2;
export const WEXITED = 4;
export const WCONTINUED = 8;
export const WNOWAIT = 0x01000000;
export const __WNOTHREAD = 0x20000000;
export const __WALL = 0x40000000;
export const __WCLONE = 0x80000000;
export const P_ALL = 0;
export const P_PID = 1;
export const P_PGID = 2;
export const P_PIDFD = 3;
export const CLD_EXITED = 1;
export const CLD_KILLED = 2;
export const CLD_DUMPED = 3;
export const CLD_TRAPPED = 4;
export const CLD_STOPPED = 5;
export const CLD_CONTINUED = 6;
/** struct rusage: two timevals then 14 longs. */
export const RUSAGE_SIZE = 144;
export const RUSAGE_SELF = 0;
export const RUSAGE_CHILDREN = -1;
export const RUSAGE_THREAD = 1;

// ---- file creation and change (fs/namei.c, fs/open.c, fs/statfs.c) ----
export const S_ISUID = 0o4000;
export const S_ISGID = 0o2000;
export const S_ISVTX = 0o1000;
/** renameat2 flags. */
export const RENAME_NOREPLACE = 1;
export const RENAME_EXCHANGE = 2;
export const RENAME_WHITEOUT = 4;
/** utimensat's special tv_nsec values. */
export const UTIME_NOW = (1 << 30) - 1;
export const UTIME_OMIT = (1 << 30) - 2;
/** fallocate modes. */
export const FALLOC_FL_KEEP_SIZE = 1;
export const FALLOC_FL_PUNCH_HOLE = 2;
/** struct statfs (asm-generic, 64-bit): f_type, f_bsize, f_blocks, f_bfree, f_bavail, f_files, f_ffree, f_fsid, f_namelen, f_frsize, f_flags, f_spare[4]. */
export const STATFS = { size: 120, f_type: 0, f_bsize: 8, f_blocks: 16, f_bfree: 24, f_bavail: 32, f_files: 40, f_ffree: 48, f_fsid: 56, f_namelen: 64, f_frsize: 72, f_flags: 80 } as const;
/** struct statfs's fields as numbers, Linux's names without the f_ (f_fsid left out: the sandbox reports 0). */
export interface Statfs {
  type: number;
  bsize: number;
  blocks: number;
  bfree: number;
  bavail: number;
  files: number;
  ffree: number;
  namelen: number;
  frsize: number;
  /** ST_RDONLY, ST_NOSUID... */
  flags: number;
}
/** statfs f_flags (ST_*). */
export const ST_RDONLY = 1;
export const ST_NOSUID = 2;
export const ST_NODEV = 4;
export const ST_NOEXEC = 8;
export const ST_RELATIME = 0x400;
/** f_type magic numbers. */
export const TMPFS_MAGIC = 0x01021994;
export const PROC_SUPER_MAGIC = 0x9fa0;
export const V9FS_MAGIC = 0x01021997;

// ---- interval and POSIX timers ----
export const SI_TIMER = -2;
export const SI_QUEUE = -1;
export const ITIMER_REAL = 0;
export const ITIMER_VIRTUAL = 1;
export const ITIMER_PROF = 2;
export const SIGEV_SIGNAL = 0;
export const SIGEV_NONE = 1;
export const SIGEV_THREAD = 2;
export const SIGEV_THREAD_ID = 4;
/** struct sigevent: sigev_value (8), sigev_signo, sigev_notify, then the union (tid first). */
export const SIGEVENT = { size: 64, sigev_value: 0, sigev_signo: 8, sigev_notify: 12, sigev_notify_thread_id: 16 } as const;

// Shared memory: msync(2), memfd_create(2), SysV IPC and shm (asm-generic).
export const MS_ASYNC = 1;
export const MS_INVALIDATE = 2;
export const MS_SYNC = 4;
export const MFD_CLOEXEC = 0x1;
export const MFD_ALLOW_SEALING = 0x2;
export const MFD_HUGETLB = 0x4;
export const MFD_NOEXEC_SEAL = 0x8;
export const MFD_EXEC = 0x10;
/** Longest memfd name: NAME_MAX less the "memfd:" prefix. */
export const MFD_NAME_MAX = 249;
export const IPC_PRIVATE = 0;
export const IPC_CREAT = 0o1000;
export const IPC_EXCL = 0o2000;
export const IPC_RMID = 0;
export const IPC_SET = 1;
export const IPC_STAT = 2;
/** The flag glibc may add to IPC commands to ask for the 64-bit structures (the only ones here). */
export const IPC_64 = 0x100;
export const SHM_RDONLY = 0o10000;
export const SHM_RND = 0o20000;
export const SHM_REMAP = 0o40000;
export const SHM_EXEC = 0o100000;
/** shm_perm.mode bit of a segment marked for removal. */
export const SHM_DEST = 0o1000;
/** struct shmid64_ds (asm-generic, 64-bit): struct ipc64_perm (key, uid, gid, cuid, cgid, mode, seq) then the segment's fields. */
export const SHMID_DS = {
  size: 112, key: 0, uid: 4, gid: 8, cuid: 12, cgid: 16, mode: 20, seq: 24,
  segsz: 48, atime: 56, dtime: 64, ctime: 72, cpid: 80, lpid: 84, nattch: 88,
} as const;
/** madvise(2): the one advice with an effect on what memory holds. */
export const MADV_DONTNEED = 4;

// The socket ABI lives in abi-net.ts.
export * from './abi-net.js';
