// Linux errno values (asm-generic/errno-base.h, errno.h), as values.
//
// Contract (docs/ARCHITECTURE.md, convention 2): system call handlers and filesystem backends
// return an Errno, never throw one. A single dispatcher turns it into -code
// in a0. Anything else thrown is a kernel bug.

export class Errno {
  private constructor(readonly code: number, readonly name: string) {}

  private static readonly byCode = new Map<number, Errno>();

  static of(code: number): Errno {
    const e = Errno.byCode.get(code);
    if (e) return e;
    const made = new Errno(code, `E${code}`);
    Errno.byCode.set(code, made);
    return made;
  }

  /** @internal: defines a named errno once. */
  static define(code: number, name: string): Errno {
    const e = new Errno(code, name);
    Errno.byCode.set(code, e);
    return e;
  }

  toString(): string {
    return this.name;
  }
}

export function isErrno(v: unknown): v is Errno {
  return v instanceof Errno;
}

export const EPERM = Errno.define(1, 'EPERM');
export const ENOENT = Errno.define(2, 'ENOENT');
export const ESRCH = Errno.define(3, 'ESRCH');
export const EINTR = Errno.define(4, 'EINTR');
export const EIO = Errno.define(5, 'EIO');
export const ENXIO = Errno.define(6, 'ENXIO');
export const E2BIG = Errno.define(7, 'E2BIG');
export const ENOEXEC = Errno.define(8, 'ENOEXEC');
export const EBADF = Errno.define(9, 'EBADF');
export const ECHILD = Errno.define(10, 'ECHILD');
export const EAGAIN = Errno.define(11, 'EAGAIN');
export const ENOMEM = Errno.define(12, 'ENOMEM');
export const EACCES = Errno.define(13, 'EACCES');
export const EFAULT = Errno.define(14, 'EFAULT');
export const ENOTBLK = Errno.define(15, 'ENOTBLK');
export const EBUSY = Errno.define(16, 'EBUSY');
export const EEXIST = Errno.define(17, 'EEXIST');
export const EXDEV = Errno.define(18, 'EXDEV');
export const ENODEV = Errno.define(19, 'ENODEV');
export const ENOTDIR = Errno.define(20, 'ENOTDIR');
export const EISDIR = Errno.define(21, 'EISDIR');
export const EINVAL = Errno.define(22, 'EINVAL');
export const ENFILE = Errno.define(23, 'ENFILE');
export const EMFILE = Errno.define(24, 'EMFILE');
export const ENOTTY = Errno.define(25, 'ENOTTY');
export const ETXTBSY = Errno.define(26, 'ETXTBSY');
export const EFBIG = Errno.define(27, 'EFBIG');
export const ENOSPC = Errno.define(28, 'ENOSPC');
export const ESPIPE = Errno.define(29, 'ESPIPE');
export const EROFS = Errno.define(30, 'EROFS');
export const EMLINK = Errno.define(31, 'EMLINK');
export const EPIPE = Errno.define(32, 'EPIPE');
export const EDOM = Errno.define(33, 'EDOM');
export const ERANGE = Errno.define(34, 'ERANGE');
export const EDEADLK = Errno.define(35, 'EDEADLK');
export const ENAMETOOLONG = Errno.define(36, 'ENAMETOOLONG');
export const ENOLCK = Errno.define(37, 'ENOLCK');
export const ENOSYS = Errno.define(38, 'ENOSYS');
export const ENOTEMPTY = Errno.define(39, 'ENOTEMPTY');
export const ELOOP = Errno.define(40, 'ELOOP');
export const ENOMSG = Errno.define(42, 'ENOMSG');
export const ENODATA = Errno.define(61, 'ENODATA');
export const ETIME = Errno.define(62, 'ETIME');
export const EOVERFLOW = Errno.define(75, 'EOVERFLOW');
export const EILSEQ = Errno.define(84, 'EILSEQ');
export const ENOTSOCK = Errno.define(88, 'ENOTSOCK');
export const EDESTADDRREQ = Errno.define(89, 'EDESTADDRREQ');
export const EMSGSIZE = Errno.define(90, 'EMSGSIZE');
export const EPROTOTYPE = Errno.define(91, 'EPROTOTYPE');
export const ENOPROTOOPT = Errno.define(92, 'ENOPROTOOPT');
export const EPROTONOSUPPORT = Errno.define(93, 'EPROTONOSUPPORT');
export const ESOCKTNOSUPPORT = Errno.define(94, 'ESOCKTNOSUPPORT');
export const EOPNOTSUPP = Errno.define(95, 'EOPNOTSUPP');
export const EAFNOSUPPORT = Errno.define(97, 'EAFNOSUPPORT');
export const EADDRINUSE = Errno.define(98, 'EADDRINUSE');
export const EADDRNOTAVAIL = Errno.define(99, 'EADDRNOTAVAIL');
export const ENETUNREACH = Errno.define(101, 'ENETUNREACH');
export const ECONNREFUSED = Errno.define(111, 'ECONNREFUSED');
export const EHOSTUNREACH = Errno.define(113, 'EHOSTUNREACH');
export const EALREADY = Errno.define(114, 'EALREADY');
export const EINPROGRESS = Errno.define(115, 'EINPROGRESS');
export const ETIMEDOUT = Errno.define(110, 'ETIMEDOUT');
export const ECONNABORTED = Errno.define(103, 'ECONNABORTED');
export const ECONNRESET = Errno.define(104, 'ECONNRESET');
export const ENOBUFS = Errno.define(105, 'ENOBUFS');
export const EISCONN = Errno.define(106, 'EISCONN');
export const ENOTCONN = Errno.define(107, 'ENOTCONN');
export const ESTALE = Errno.define(116, 'ESTALE');
export const EDQUOT = Errno.define(122, 'EDQUOT');
export const ECANCELED = Errno.define(125, 'ECANCELED');
/** Kernel-internal: restart the system call after a signal handler (never seen by the guest). */
export const ERESTARTSYS = Errno.define(512, 'ERESTARTSYS');
