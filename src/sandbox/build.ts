// Assembling a kernel from a SandboxConfig: the root filesystem and mounts
// (bind mounts of directories and of single regular files), the
// application's stdio, credentials and limits.

import * as abi from '../linux/abi.js';
import { Errno } from '../linux/errno.js';
import { Kernel, KernelConfig } from '../kernel/kernel.js';
import { Vfs, type MountInfo } from '../kernel/vfs/vfs.js';
import { BackendInode, BackendMount } from '../kernel/vfs/backend-inode.js';
import { DentryCache } from '../kernel/vfs/dcache.js';
import { makeDevfs } from '../kernel/filesystems/devfs.js';
import { makeProcfs } from '../kernel/filesystems/procfs.js';
import { makeSysfs } from '../kernel/filesystems/sysfs.js';
import { HostStreamFile, STDIO_NAMES } from '../kernel/files/host-stream.js';
import { TtyRegistry } from '../kernel/tty/registry.js';
import { kernelJobControl } from '../kernel/tty/kernel-glue.js';
import type { File } from '../kernel/files/file.js';
import type { Rlimit } from '../kernel/task.js';
import type { KernelLogs } from '../kernel/kernel-logs.js';
import type { SandboxConfig } from './config.js';
import { DirectBackend } from '../fs-gofer/direct.js';
import { connectIoFd, P9Backend } from '../p9/backend.js';
import { DonationReceiver } from '../p9/donation.js';
import type { FilesystemBackend } from '../backend/backend.js';
import { Tmpfs, parseTmpfsOptions } from '../kernel/filesystems/tmpfs.js';
import type { Inode } from '../kernel/vfs/inode.js';
import { makeFileMountPoint } from './mount-point.js';

/** Linux's default limits for a new init, before the spec's rlimits apply. */
function defaultRlimits(): Rlimit[] {
  const inf = abi.RLIM_INFINITY;
  const l: Rlimit[] = Array.from({ length: abi.RLIM_NLIMITS }, () => ({ cur: inf, max: inf }));
  l[abi.RLIMIT_STACK] = { cur: 8n << 20n, max: inf };
  l[abi.RLIMIT_CORE] = { cur: 0n, max: inf };
  l[abi.RLIMIT_NOFILE] = { cur: 1024n, max: 1048576n };
  l[abi.RLIMIT_MEMLOCK] = { cur: 8n << 20n, max: 8n << 20n };
  l[abi.RLIMIT_NPROC] = { cur: 127447n, max: 127447n };
  l[abi.RLIMIT_SIGPENDING] = { cur: 127447n, max: 127447n };
  l[abi.RLIMIT_MSGQUEUE] = { cur: 819200n, max: 819200n };
  l[abi.RLIMIT_NICE] = { cur: 0n, max: 0n };
  l[abi.RLIMIT_RTPRIO] = { cur: 0n, max: 0n };
  return l;
}

/** An OCI rlimit value (uint64 in JSON; may arrive as a lossy number) as the guest's 64-bit value. */
function rlimValue(v: number): bigint {
  return v >= 2 ** 63 || v < 0 ? abi.RLIM_INFINITY : BigInt(Math.trunc(v));
}

/** Init's pid: with --console, init leads the session the console controls. */
const INIT_PID = 1;

export interface BuiltSandbox {
  kernel: Kernel;
  stdio: File[];
  /** The terminals (the console's resize comes through here). */
  ttys: TtyRegistry;
  /** 9P fids the kernel holds on its gofers now (0 in direct mode): bounded however many files the guest went through. */
  liveFids(): number;
  close(): void;
}

/**
 * The backend of the root (index 0) or of the index-th bind mount: a 9P
 * client on that io fd when boot has io fds, else direct mode on the host
 * path. A bind mount's (`fileRoot`) may be one regular file; the root's is
 * a directory.
 */
async function openBackend(cfg: SandboxConfig, index: number, hostPath: string, readonly: boolean, fileRoot: boolean, donation: DonationReceiver | undefined): Promise<FilesystemBackend & { close(): void }> {
  const io = cfg.ioFds ?? [];
  if (io.length === 0) return DirectBackend.open(hostPath, { readonly, fileRoot });
  if (index >= io.length) throw new Error(`no io fd for ${hostPath} (${io.length} io fds)`);
  return connectIoFd(io[index], hostPath, cfg.uid, readonly, fileRoot, donation);
}

export async function buildKernel(cfg: SandboxConfig, logs: KernelLogs, vcpuWorkerEntry: string): Promise<BuiltSandbox> {
  // The one receiver of the gofer's donated fds, shared by every 9P connection of the sandbox.
  const donation = (cfg.ioFds ?? []).length > 0 && cfg.donateFd !== undefined && cfg.donateFd >= 0 ? new DonationReceiver(cfg.donateFd) : undefined;
  const backend = await openBackend(cfg, 0, cfg.rootPath, cfg.rootReadonly, false, donation);
  const rootNode = await backend.root();
  if (rootNode instanceof Errno) throw new Error(`cannot open the root filesystem ${cfg.rootPath}: ${rootNode.name}`);
  const rootInode = new BackendInode(new BackendMount(backend, cfg.fileAccess ?? 'exclusive'), rootNode);
  const vfs = new Vfs(rootInode, undefined, new DentryCache(cfg.dcacheSize));
  // Terminals: with --console, stdio is the console (input from the stdin fd,
  // output to the stdout fd), init's controlling terminal as a session leader
  // opening it would make it; without, stdio is the host fds as they are.
  let k: Kernel | undefined;
  const ttys = new TtyRegistry(kernelJobControl(() => k!));
  let stdio: File[];
  if (cfg.console) {
    const con = ttys.attachConsole(cfg.stdioFds[0], cfg.stdioFds[1]);
    if (cfg.consoleSize) con.resize({ rows: cfg.consoleSize.rows, cols: cfg.consoleSize.cols, xpixel: 0, ypixel: 0 });
    if (cfg.consoleInput) con.tty.receiveLines(cfg.consoleInput);
    con.tty.acquire(INIT_PID, INIT_PID);
    // One open file description on fds 0, 1 and 2, as a runtime dup's its terminal.
    const f = ttys.openConsole(abi.O_RDWR | abi.O_NOCTTY, '/dev/console') as File;
    stdio = [f, f.ref(), f.ref()];
  } else {
    stdio = cfg.stdioFds.map((fd, i) => new HostStreamFile(fd, i === 0 ? abi.O_RDONLY : abi.O_WRONLY, STDIO_NAMES[i]));
  }
  const rlimits = defaultRlimits();
  for (const r of cfg.rlimits) {
    const idx = abi.RLIMIT_NAMES.indexOf(r.type);
    if (idx >= 0) rlimits[idx] = { cur: rlimValue(r.soft), max: rlimValue(r.hard) };
  }
  const config: KernelConfig = {
    hostname: cfg.hostname,
    totalMemory: cfg.totalMemory,
    cpuNum: cfg.cpuNum,
    vcpuWorkerEntry,
    pidsLimit: cfg.pidsLimit ?? 0,
    creds: { ruid: cfg.uid, euid: cfg.uid, suid: cfg.uid, rgid: cfg.gid, egid: cfg.gid, sgid: cfg.gid, groups: cfg.additionalGids, caps: cfg.capabilities ? { ...cfg.capabilities } : { effective: 0n, permitted: 0n, inheritable: 0n, bounding: 0n, ambient: 0n }, keepCaps: false },
    rlimits,
    umask: cfg.umask,
    network: cfg.network ?? 'sandbox',
    outbound: cfg.outbound ?? false,
    published: cfg.published ?? [],
  };
  k = new Kernel(config, vfs, logs, (flags, path) => ttys.openCtty(flags, path));
  k.onSessionLeaderExit = (sid) => ttys.sessionLeaderExited(sid);
  const backends: { close(): void }[] = [backend];
  try {
    // The kernel's own: /proc, /dev (whatever the spec says it is), and a
    // /dev/shm tmpfs unless the spec mounts one; then the spec's mounts in order.
    vfs.mount('/proc', makeProcfs(() => k), { fstype: 'proc', source: 'proc', readonly: false });
    vfs.mount('/dev', makeDevfs(ttys), { fstype: 'tmpfs', source: 'none', readonly: false });
    vfs.mount('/sys', makeSysfs(cfg.cpuNum), { fstype: 'sysfs', source: 'sysfs', readonly: true });
    const specShm = (cfg.mounts ?? []).some((m) => m.destination === '/dev/shm');
    if (!specShm) vfs.mount('/dev/shm', new Tmpfs(k.account, { mode: 0o1777 }).root, { fstype: 'tmpfs', source: 'shm', readonly: false });
    for (const m of cfg.mounts ?? []) {
      let root: Inode;
      let info: MountInfo;
      let at = m.destination;
      if (m.kind === 'tmpfs') {
        const opts = parseTmpfsOptions(m.options, cfg.totalMemory);
        root = new Tmpfs(k.account, opts).root;
        info = { fstype: 'tmpfs', source: 'tmpfs', readonly: opts.readonly === true };
      } else {
        const b = await openBackend(cfg, backends.length, m.source, m.readonly, true, donation);
        backends.push(b);
        const node = await b.root();
        if (node instanceof Errno) throw new Error(`bind mount ${m.source}: ${node.name}`);
        root = new BackendInode(new BackendMount(b, cfg.fileAccessMounts ?? 'shared'), node);
        // One file on a file, as mount(2) binds it: its mount point is found and made as runc does.
        if (node.type === abi.S_IFREG) at = await makeFileMountPoint(vfs, m.destination);
        info = { fstype: '9p', source: 'none', readonly: m.readonly };
      }
      vfs.mount(at, root, info);
    }
  } catch (e) {
    for (const b of backends) b.close();
    throw e;
  }
  return {
    kernel: k,
    stdio,
    ttys,
    liveFids: () => backends.reduce((n, b) => n + (b instanceof P9Backend ? b.client.liveFids : 0), 0),
    close: () => {
      ttys.console?.close();
      for (const b of backends) b.close();
    },
  };
}

