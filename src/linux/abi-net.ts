// Linux's riscv64 socket ABI: the families, types, options, messages and
// addresses of sockets (AF_UNIX, AF_INET, AF_INET6), with Linux's own names.
// Split from abi.ts, which re-exports all of it: import from either.

// ---- sockets (linux/socket.h, linux/net.h, asm-generic/socket.h, linux/un.h) ----
export const AF_UNSPEC = 0;
export const AF_UNIX = 1;
export const AF_INET = 2;
export const AF_INET6 = 10;
export const AF_NETLINK = 16;
export const SOCK_STREAM = 1;
export const SOCK_DGRAM = 2;
export const SOCK_RAW = 3;
export const SOCK_SEQPACKET = 5;
/** The type bits of socket()'s type argument; the rest are SOCK_NONBLOCK / SOCK_CLOEXEC. */
export const SOCK_TYPE_MASK = 0xf;
/** socket()'s flags are open()'s: O_NONBLOCK and O_CLOEXEC (abi.ts; test/linux/abi.test.ts checks they agree). */
export const SOCK_NONBLOCK = 0o4000;
export const SOCK_CLOEXEC = 0o2000000;
export const SHUT_RD = 0;
export const SHUT_WR = 1;
export const SHUT_RDWR = 2;
/** struct sockaddr_un: sun_family (u16), sun_path[108]. */
export const SOCKADDR_UN = { size: 110, sun_family: 0, sun_path: 2, pathMax: 108 } as const;
export const SOL_SOCKET = 1;
export const SO_DEBUG = 1;
export const SO_REUSEADDR = 2;
export const SO_TYPE = 3;
export const SO_ERROR = 4;
export const SO_DONTROUTE = 5;
export const SO_BROADCAST = 6;
export const SO_SNDBUF = 7;
export const SO_RCVBUF = 8;
export const SO_KEEPALIVE = 9;
export const SO_OOBINLINE = 10;
export const SO_LINGER = 13;
export const SO_REUSEPORT = 15;
export const SO_PASSCRED = 16;
export const SO_PEERCRED = 17;
export const SO_RCVLOWAT = 18;
export const SO_SNDLOWAT = 19;
export const SO_RCVTIMEO_OLD = 20;
export const SO_SNDTIMEO_OLD = 21;
export const SO_ACCEPTCONN = 30;
export const SO_PASSSEC = 34;
export const SO_SNDBUFFORCE = 32;
export const SO_RCVBUFFORCE = 33;
export const SO_PROTOCOL = 38;
export const SO_DOMAIN = 39;
export const SO_PEEK_OFF = 42;
export const SCM_RIGHTS = 1;
export const SCM_CREDENTIALS = 2;
/** SCM_RIGHTS's most fds in one message (SCM_MAX_FD). */
export const SCM_MAX_FD = 253;
/** struct ucred: pid, uid, gid (u32 each). */
export const UCRED = { size: 12, pid: 0, uid: 4, gid: 8 } as const;
/** struct msghdr (64-bit): name, namelen, iov, iovlen, control, controllen, flags. */
export const MSGHDR = { size: 56, name: 0, namelen: 8, iov: 16, iovlen: 24, control: 32, controllen: 40, flags: 48 } as const;
/** struct mmsghdr: a msghdr, then msg_len (u32), padded to 64. */
export const MMSGHDR = { size: 64, hdr: 0, len: 56 } as const;
/** struct cmsghdr (64-bit): cmsg_len (size_t), cmsg_level, cmsg_type; data 8-aligned. */
export const CMSGHDR = { size: 16, len: 0, level: 8, type: 12 } as const;
export const MSG_OOB = 0x1;
export const MSG_PEEK = 0x2;
export const MSG_DONTROUTE = 0x4;
export const MSG_CTRUNC = 0x8;
export const MSG_TRUNC = 0x20;
export const MSG_DONTWAIT = 0x40;
export const MSG_EOR = 0x80;
export const MSG_WAITALL = 0x100;
export const MSG_NOSIGNAL = 0x4000;
export const MSG_MORE = 0x8000;
export const MSG_WAITFORONE = 0x10000;
export const MSG_CMSG_CLOEXEC = 0x40000000;

// ---- the Internet families (AF_INET, AF_INET6) ----
/** struct sockaddr_in: family, port (big-endian), address; 8 bytes of zero padding. */
export const SOCKADDR_IN = { size: 16, family: 0, port: 2, addr: 4 } as const;
/** struct sockaddr_in6: family, port (big-endian), flow info, 16-byte address, scope id. */
export const SOCKADDR_IN6 = { size: 28, family: 0, port: 2, flowinfo: 4, addr: 8, scopeId: 24 } as const;
export const IPPROTO_IP = 0;
export const IPPROTO_TCP = 6;
export const IPPROTO_UDP = 17;
export const IPPROTO_IPV6 = 41;
export const TCP_NODELAY = 1;
export const TCP_MAXSEG = 2;
export const TCP_CORK = 3;
export const TCP_KEEPIDLE = 4;
export const TCP_KEEPINTVL = 5;
export const TCP_KEEPCNT = 6;
export const TCP_SYNCNT = 7;
export const TCP_LINGER2 = 8;
export const TCP_DEFER_ACCEPT = 9;
export const TCP_QUICKACK = 12;
export const TCP_USER_TIMEOUT = 18;
export const IP_TOS = 1;
export const IP_TTL = 2;
export const IP_RECVERR = 11;
export const IPV6_UNICAST_HOPS = 16;
export const IPV6_V6ONLY = 26;
export const IPV6_TCLASS = 67;
/** SIOCINQ is FIONREAD; SIOCOUTQ is TIOCOUTQ: unsent (or unacknowledged) bytes of a socket. */
export const SIOCOUTQ = 0x5411;
export const SIOCGIFNAME = 0x8910;
export const SIOCGIFCONF = 0x8912;
export const SIOCGIFFLAGS = 0x8913;
export const SIOCGIFADDR = 0x8915;
export const SIOCGIFMTU = 0x8921;
export const SIOCGIFINDEX = 0x8933;
/** struct ifreq: a 16-byte name, then a 24-byte union; struct ifconf: a length (int, padded) and a pointer. */
export const IFREQ = { size: 40, name: 0, union: 16 } as const;
export const IFCONF = { size: 16, len: 0, buf: 8 } as const;
export const IFF_UP = 0x1;
export const IFF_LOOPBACK = 0x8;
export const IFF_RUNNING = 0x40;

// ---- netlink (linux/netlink.h, linux/rtnetlink.h, linux/if_link.h, linux/if_addr.h) ----
export const NETLINK_ROUTE = 0;
/** The protocols numbers go up to (MAX_LINKS): others are EPROTONOSUPPORT. */
export const MAX_LINKS = 32;
export const SOL_NETLINK = 270;
/** struct sockaddr_nl: nl_family (u16), pad (u16), nl_pid (u32), nl_groups (u32). */
export const SOCKADDR_NL = { size: 12, family: 0, pid: 4, groups: 8 } as const;
/** struct nlmsghdr: length (u32, header included), type (u16), flags (u16), seq (u32), pid (u32). */
export const NLMSGHDR = { size: 16, len: 0, type: 4, flags: 6, seq: 8, pid: 12 } as const;
export const NLMSG_NOOP = 1;
export const NLMSG_ERROR = 2;
export const NLMSG_DONE = 3;
/** Types below this are netlink's own (NOOP, ERROR, DONE, OVERRUN). */
export const NLMSG_MIN_TYPE = 0x10;
export const NLM_F_REQUEST = 0x1;
export const NLM_F_MULTI = 0x2;
export const NLM_F_ACK = 0x4;
/** NLM_F_ROOT | NLM_F_MATCH. */
export const NLM_F_DUMP = 0x300;
/** struct nlmsgerr's ack flag: the echoed request carries no payload. */
export const NLM_F_CAPPED = 0x100;
export const RTM_NEWLINK = 16;
export const RTM_GETLINK = 18;
export const RTM_NEWADDR = 20;
export const RTM_GETADDR = 22;
/** The last rtnetlink message type Linux knows (RTM_MAX, 6.x). */
export const RTM_MAX = 123;
/** struct ifinfomsg: family (u8), pad, type (u16), index (i32), flags (u32), change (u32). */
export const IFINFOMSG = { size: 16, family: 0, type: 2, index: 4, flags: 8, change: 12 } as const;
/** struct ifaddrmsg: family, prefixlen, flags, scope (u8 each), index (u32). */
export const IFADDRMSG = { size: 8, family: 0, prefixlen: 1, flags: 2, scope: 3, index: 4 } as const;
/** struct rtattr: length (u16, header included), type (u16); attributes align to 4 bytes. */
export const RTATTR_SIZE = 4;
export const IFLA_ADDRESS = 1;
export const IFLA_BROADCAST = 2;
export const IFLA_IFNAME = 3;
export const IFLA_MTU = 4;
export const IFLA_TXQLEN = 13;
export const IFLA_OPERSTATE = 16;
export const IFA_ADDRESS = 1;
export const IFA_LOCAL = 2;
export const IFA_LABEL = 3;
export const IFA_FLAGS = 8;
export const IFA_F_PERMANENT = 0x80;
export const RT_SCOPE_HOST = 254;
export const ARPHRD_LOOPBACK = 772;
export const IFF_LOWER_UP = 0x10000;
export const AF_PACKET = 17;
