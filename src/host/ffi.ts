// The host FFI: src/host is the one place that calls the host's C library
// directly (through koffi), for what Node's own API lacks. This entry module
// gathers the topic modules beside it:
//
//   libc.ts      the koffi library handle, lazy binding, errno plumbing
//   files.ts     host open flags, openat2 and the *at family, statfs,
//                getdents64, and plain fd calls (close, pipe2, dup, poll)
//   sockets.ts   socket state, unix sockets, socketpair, SCM_RIGHTS
//   inet.ts      host TCP/UDP sockets (--network=host, sandbox's NAT and -p)
//   terminal.ts  termios, window size, controlling terminal, ptys
//   process.ts   execve, prctl, capabilities, resource limits
//   mounts.ts    mount, umount2, pivot_root
//   seccomp.ts   seccomp-bpf filters built from an allowlist (with bpf.ts,
//                the assembler, and syscall-numbers.ts, the host's numbers)
//
// memory.ts (madvise on a WebAssembly.Memory's bytes, at a checked host
// address) is not gathered here: the kernel's frame allocator imports it
// directly, so boot's bundle and startup snapshot do not carry it.
//
// Every function returns Linux's result convention turned into values: a
// non-negative result, or a negative errno. Nothing here throws for a failed
// system call. Loaded lazily: importing costs nothing until a call is made.

export * from './files.js';
export * from './sockets.js';
export * from './inet.js';
export * from './terminal.js';
export * from './process.js';
export * from './mounts.js';
export * from './seccomp.js';
export * from './syscall-numbers.js';
