// What the boot process hands the kernel worker (structured-clone safe).

import type { LogOptions } from '../main/log.js';

export interface SandboxConfig {
  containerId: string;
  /** Host path of the rootfs, served in direct mode (no io fds). */
  rootPath: string;
  rootReadonly: boolean;
  args: string[];
  env: string[];
  cwd: string;
  hostname: string;
  uid: number;
  gid: number;
  additionalGids: number[];
  umask: number;
  /** RLIMIT_* index → [soft, hard] as decimal strings ("-1" for unlimited... see rlimits.ts). */
  rlimits: { type: string; soft: number; hard: number }[];
  totalMemory: number;
  cpuNum: number;
  /** Host fds of the application's stdin, stdout, stderr. */
  stdioFds: [number, number, number];
  console: boolean;
  strace: boolean;
  userLogFd: number;
  log: LogOptions;
}
