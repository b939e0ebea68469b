// What the boot process hands the kernel worker (structured-clone safe).

import type { LogOptions } from '../log/log.js';
import type { SandboxMount } from '../spec/mounts.js';
import type { NetworkMode } from '../kernel/net/inet-stack.js';
import type { PublishedPort } from '../kernel/net/published.js';
import type { FileAccess } from '../kernel/vfs/backend-inode.js';

export type { FileAccess };

export interface SandboxConfig {
  containerId: string;
  /** Host path of the rootfs, served in direct mode (no io fds). */
  rootPath: string;
  rootReadonly: boolean;
  /** The spec's tmpfs and bind mounts, in order (see sandboxMounts). */
  mounts?: SandboxMount[];
  /**
   * How far cached metadata of the rootfs is trusted (--file-access):
   * "exclusive" (default: the sandbox is its only writer) or "shared" (the
   * host may change it; names are revalidated, attributes fetched each time).
   */
  fileAccess?: FileAccess;
  /** The same for bind mounts (--file-access-mounts); default "shared", as runsc. */
  fileAccessMounts?: FileAccess;
  /** Most evictable dentries the VFS keeps cached (--dcache-size); default DEFAULT_DCACHE_SIZE. */
  dcacheSize?: number;
  /** 9P2000.L connections (--io-fds): the root's, then one per bind mount in order; absent or empty: direct mode. */
  ioFds?: number[];
  /** The gofer's fd donation channel (--donate-fd; src/p9/donation.ts); absent: reads and writes of its files go over 9P. */
  donateFd?: number;
  args: string[];
  env: string[];
  cwd: string;
  hostname: string;
  uid: number;
  gid: number;
  additionalGids: number[];
  umask: number;
  /** The spec's process.rlimits as given (type "RLIMIT_*", soft, hard); build.ts applies them over Linux's defaults (2^63 and above, or negative: unlimited; unknown types ignored). */
  rlimits: { type: string; soft: number; hard: number }[];
  totalMemory: number;
  cpuNum: number;
  /** runsc's --network (the global flag): what the guest's AF_INET/AF_INET6 sockets are; 'sandbox' when absent. */
  network?: NetworkMode;
  /** With network 'sandbox': outside addresses are reached through host sockets in boot's network namespace (src/kernel/net/nat.ts). */
  outbound?: boolean;
  /** Published ports: host sockets (fds boot holds) and the guest ports they reach. */
  published?: PublishedPort[];
  /** The spec's process.capabilities as bit sets (CAP_* numbers); absent: none. */
  capabilities?: { effective: bigint; permitted: bigint; inheritable: bigint; bounding: bigint; ambient: bigint };
  /** linux.resources.pids.limit: most tasks (threads and zombies) at once; 0 or absent for none. */
  pidsLimit?: number;
  /** Host fds of the application's stdin, stdout, stderr. */
  stdioFds: [number, number, number];
  console: boolean;
  /** With `console`: the host terminal's size at boot (later changes come through the worker's resize). */
  consoleSize?: { rows: number; cols: number };
  /**
   * With `console`: what the host terminal, still canonical, held for its
   * reader when boot took it over (host/terminal.ts takeCanonicalInput):
   * lines already echoed by the host, and end-of-file marks (empty entries).
   * The console's line discipline queues them before any other input.
   */
  consoleInput?: Uint8Array[];
  strace: boolean;
  userLogFd: number;
  log: LogOptions;
}
