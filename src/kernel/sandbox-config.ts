// What the boot process hands the kernel worker (structured-clone safe).

import * as path from 'node:path';
import type { LogOptions } from '../main/log.js';
import type { Mount } from '../spec/types.js';

/**
 * A filesystem the spec mounts, as the kernel serves it: a tmpfs of its own,
 * or a host directory (a bind mount) in direct mode. The spec's proc, /dev,
 * sysfs, devpts, mqueue and cgroup mounts are the kernel's own filesystems
 * and are not listed.
 */
export type SandboxMount =
  | { kind: 'tmpfs'; destination: string; options: string[] }
  | { kind: 'bind'; destination: string; source: string; readonly: boolean };

/**
 * The spec's mounts that the kernel serves (in spec order): type "tmpfs", and
 * bind mounts (type "bind" or a "bind"/"rbind" option), whose relative
 * sources are relative to the bundle. Read-only when the options hold "ro".
 * An unusable mount (a relative destination, a bind without a source) is an
 * Error naming it.
 */
export function sandboxMounts(mounts: readonly Mount[], bundleDir: string): SandboxMount[] {
  const out: SandboxMount[] = [];
  for (const m of mounts) {
    const opts = m.options ?? [];
    const dest = m.destination;
    if (typeof dest !== 'string' || !dest.startsWith('/')) throw new Error(`mount destination ${JSON.stringify(dest)} is not an absolute path`);
    const destination = path.posix.normalize(dest).replace(/\/+$/, '') || '/';
    const bind = m.type === 'bind' || opts.includes('bind') || opts.includes('rbind');
    if (bind) {
      if (!m.source) throw new Error(`bind mount at ${destination} has no source`);
      out.push({ kind: 'bind', destination, source: path.resolve(bundleDir, m.source), readonly: opts.includes('ro') });
    } else if (m.type === 'tmpfs' && destination !== '/dev') {
      out.push({ kind: 'tmpfs', destination, options: [...opts] });
    }
  }
  return out;
}

export interface SandboxConfig {
  containerId: string;
  /** Host path of the rootfs, served in direct mode (no io fds). */
  rootPath: string;
  rootReadonly: boolean;
  /** The spec's tmpfs and bind mounts, in order (see sandboxMounts). */
  mounts?: SandboxMount[];
  /** 9P2000.L connections (--io-fds): the root's, then one per bind mount in order; absent or empty: direct mode. */
  ioFds?: number[];
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
  /** The spec's process.capabilities as bit sets (CAP_* numbers); absent: none. */
  capabilities?: { effective: bigint; permitted: bigint; inheritable: bigint; bounding: bigint; ambient: bigint };
  /** linux.resources.pids.limit: most tasks (threads and zombies) at once; 0 or absent for none. */
  pidsLimit?: number;
  /** Host fds of the application's stdin, stdout, stderr. */
  stdioFds: [number, number, number];
  console: boolean;
  /** With `console`: the host terminal's size at boot (later changes come through the worker's resize). */
  consoleSize?: { rows: number; cols: number };
  strace: boolean;
  userLogFd: number;
  log: LogOptions;
}
