// `tsvisor do [--rootfs DIR | --busybox FILE | --packages LIST] [flags] [--]
// CMD ARGS...`: runs one command in a sandbox without a bundle, as runsc's
// `do` does. By default it runs in a fresh rootfs around Debian's riscv64
// busybox-static (fetched and verified once into the user cache, see
// src/debian/busybox-cache.ts; or the binary given with --busybox): a small
// skeleton laid out for the run and removed afterwards, with /bin a read-only
// mount of the busybox tree kept in the cache (src/debian/busybox-template.ts); with --rootfs it runs in that directory as it is, writes
// included; with --packages it runs in the cached rootfs of those Debian
// packages (src/debian/package-rootfs.ts), read-only, with a fresh tmpfs on
// each of PACKAGES_SCRATCH so the cache is never written. The generated spec: the command as given (its argv[0] kept;
// found in PATH inside the rootfs, which must hold it), cwd /, PATH=/bin:/sbin:/usr/bin:/usr/sbin, user root, a terminal
// when stdin is one, /proc and /dev mounted, and a network namespace only
// with --network=none (otherwise boot stays in the caller's, whose network
// the sandbox reaches as its mode allows: src/main/network.ts). Ports given
// with -p are published as run publishes them. It runs through `tsvisor run`'s parent-runtime path
// (boot, StartRoot, Wait) and exits with the command's status.

import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { FlagDef, FlagValues, parseFlags } from './flags.js';
import { Fatal, GLOBAL_FLAGS, GlobalOptions, NO_CONFINE_FLAG } from './common.js';
import { defaultSpec, parseSpec } from '../spec/load.js';
import { CAPABILITIES } from './caps.js';
import { run, warmSnapshot as warmRun } from './run.js';
import { FILE_ACCESS_FLAGS } from './boot.js';
import { fileAccessOption } from './oci/launch.js';
import { DO_HOSTNAME, DO_PATH, BusyboxError, busyboxSkeleton, lookPathInRootfs } from '../debian/busybox-rootfs.js';
import { takeSkeleton, type KeptSkeleton } from '../debian/skeleton-spare.js';
import { heldTemplate } from '../debian/busybox-template.js';
import { cacheDir } from '../debian/deb-cache.js';
import { FetchError, terminalProgress } from '../debian/fetch.js';

export const DO_FLAGS: FlagDef[] = [
  { name: 'rootfs', kind: 'string', usage: 'run in this rootfs directory instead of the default busybox one', default: '' },
  { name: 'busybox', kind: 'string', usage: "lay out the default rootfs around this riscv64 busybox binary instead of Debian's (fetched once into the cache)", default: '' },
  { name: 'packages', kind: 'string', usage: "run in a read-only rootfs of these Debian riscv64 packages (comma separated) and all they need, built once into the cache", default: '' },
  { name: 'refresh', kind: 'bool', usage: 'with --packages: read the package index again instead of reusing the rootfs this list gave before', default: false },
  { name: 'cwd', kind: 'string', usage: 'working directory of the command, inside the rootfs', default: '/' },
  { name: 'cpu-num', kind: 'int', usage: 'number of vCPUs (0: the host CPU count)', default: 0 },
  { name: 'total-memory', kind: 'uint64', usage: 'memory for the guest (0: 2 GiB)', default: 0 },
  ...FILE_ACCESS_FLAGS,
  { name: 'publish', kind: 'stringList', usage: "publish a port: [HOSTIP:]HOSTPORT:GUESTPORT[/tcp|/udp], the host's port (on HOSTIP, default 0.0.0.0) reaching the guest's loopback port (repeatable)", default: [] },
  { name: 'p', kind: 'stringList', usage: 'short for --publish', default: [] },
  NO_CONFINE_FLAG,
];
export const DO_SYNOPSIS = 'tsvisor [global flags] do [--rootfs DIR | --busybox FILE | --packages LIST] [flags] [--] CMD [ARGS...]';

/** Where a --packages sandbox may write: a fresh tmpfs each, over the read-only cached rootfs. */
export const PACKAGES_SCRATCH = ['/tmp', '/var/tmp', '/run', '/root'];

/** The exit status of a command that is not found, as shells and container runtimes give it. */
export const NOT_FOUND_STATUS = 127;

export async function doCommand(global: GlobalOptions, flags: FlagValues, positional: string[]): Promise<number> {
  if (positional.length === 0) throw new Fatal('no command given', true);
  const given = flags.rootfs as string;
  const busyboxFile = flags.busybox as string;
  const packages = flags.packages as string;
  if ([given, busyboxFile, packages].filter(Boolean).length > 1) throw new Fatal('--rootfs, --busybox and --packages exclude each other', true);
  const cwd = flags.cwd as string;
  if (!cwd.startsWith('/')) throw new Fatal(`--cwd must be an absolute path, got "${cwd}"`);
  fileAccessOption(flags); // a bad mode fails here, before any download or layout

  const work = fs.mkdtempSync(path.join(os.tmpdir(), 'tsvisor-do-'));
  try {
    let rootfs: string;
    let readonly = false;
    // The default rootfs's kept tree: the command is looked up in it, its bin mounted at /bin.
    let template: { root: string; bin: string } | undefined;
    let keep: KeptSkeleton | undefined;
    // The kept tree's lock (busybox-prune.ts): open until the sandbox is gone, so no prune removes the tree under it.
    let held: number | undefined;
    if (packages) {
      rootfs = await packageRootfs(packages, flags.refresh === true);
      readonly = true;
    } else if (given) {
      rootfs = path.resolve(given);
      let st: fs.Stats;
      try {
        st = fs.statSync(rootfs);
      } catch (e) {
        throw new Fatal(`--rootfs ${rootfs}: ${(e as NodeJS.ErrnoException).code === 'ENOENT' ? 'no such directory' : (e as Error).message}`);
      }
      if (!st.isDirectory()) throw new Fatal(`--rootfs ${rootfs}: not a directory`);
    } else {
      rootfs = path.join(work, 'rootfs');
      ({ template, keep, held } = await defaultRootfs(rootfs, busyboxFile, path.join(work, 'busybox')));
    }
    if (lookPathInRootfs(template?.root ?? rootfs, positional[0], DO_PATH) === undefined) {
      process.stderr.write(`tsvisor: ${positional[0]}: ${positional[0].includes('/') ? 'no executable file at that path' : `not found in the PATH (${DO_PATH})`} of ${given ? `the rootfs ${rootfs}` : packages ? `the rootfs of ${packages}` : 'the default rootfs'}\n`);
      return NOT_FOUND_STATUS;
    }
    // The command keeps its argv[0] as typed (runc and runsc do the same): the
    // sandbox's kernel finds it in PATH at start; the lookup above only turns a
    // missing command into status 127 before anything boots.
    const spec = doSpec(rootfs, positional, cwd, process.stdin.isTTY === true, readonly, global.network !== 'none', template?.bin);
    fs.writeFileSync(path.join(work, 'config.json'), JSON.stringify(spec, null, 2) + '\n');
    // State under --root when the user gave one; else in the bundle's own
    // directory (work/CID: one directory fewer to make and remove, each a
    // block freed, which this host's ext4 discards synchronously: ~2-4 ms of
    // the end), so that `do` needs no writable /var/run. run removes `work`
    // at the end, also when its waiter (src/main/waiter.ts) has replaced this process.
    const explicitRoot = parseFlags(GLOBAL_FLAGS, global.argv).seen.has('root');
    const g = explicitRoot ? global : { ...global, root: work };
    const cid = `do-${process.pid}-${Math.random().toString(36).slice(2, 8)}`;
    return await run(g, { bundle: work, 'pid-file': '', 'cpu-num': flags['cpu-num'], 'total-memory': flags['total-memory'], 'file-access': flags['file-access'], 'file-access-mounts': flags['file-access-mounts'], 'no-confine': flags['no-confine'], publish: flags.publish, p: flags.p }, [cid], [work], keep, held === undefined ? [] : [held]);
  } finally {
    fs.rmSync(work, { recursive: true, force: true });
  }
}

/** The cached rootfs of a --packages list, built first when the cache has none. */
export async function packageRootfs(list: string, refresh: boolean): Promise<string> {
  // Loaded here: the default busybox rootfs does not need Debian's package resolver and unpacker.
  const { ensurePackageRootfs, parsePackageList } = require('../debian/package-rootfs.js') as typeof import('../debian/package-rootfs.js');
  try {
    const names = parsePackageList(list);
    if (names.length === 0) throw new Fatal('--packages: no package named');
    const got = await ensurePackageRootfs(names, {
      cache: cacheDir(),
      refresh,
      progress: (label) => terminalProgress(process.stderr, label),
      log: process.stderr.isTTY ? undefined : (line) => process.stderr.write(line),
    });
    return got.root;
  } catch (e) {
    if (e instanceof FetchError) throw new Fatal(`cannot prepare the rootfs of ${list}: ${e.message}`);
    throw e;
  }
}

/**
 * Puts the default rootfs's skeleton at `rootfs` (a spare one from the
 * cache when there is one: src/debian/skeleton-spare.ts; `keep` says how to
 * keep it at the end) and returns the kept busybox tree around
 * `busyboxFile` or the cached Debian binary, whose bin the sandbox mounts
 * read-only at /bin: no start copies busybox or links its ~270 applets,
 * nor removes them (docs/STARTUP.md, "do's own cost"). `scratch`: where the
 * tree is laid out for this run alone when the cache cannot be written.
 */
async function defaultRootfs(rootfs: string, busyboxFile: string, scratch: string): Promise<{ template: { root: string; bin: string }; keep?: KeptSkeleton; held?: number }> {
  if (busyboxFile && !fs.existsSync(busyboxFile)) throw new Fatal(`--busybox ${busyboxFile}: no such file`);
  try {
    const cache = cacheDir();
    const { template, held } = await heldTemplate({ cache, busybox: busyboxFile || undefined, scratch, progress: (label) => terminalProgress(process.stderr, label) });
    return { template, keep: takeSkeleton(cache, rootfs), held };
  } catch (e) {
    if (e instanceof FetchError || e instanceof BusyboxError) throw new Fatal(`cannot prepare the default rootfs: ${e.message}`);
    throw e;
  }
}

/**
 * The OCI spec `do` runs: runsc spec's defaults, narrowed to what `do`
 * promises. `bin`: a host directory mounted read-only at /bin (the default
 * rootfs's kept busybox tree).
 */
export function doSpec(rootfs: string, args: string[], cwd: string, terminal: boolean, readonly = false, callerNetwork = false, bin?: string): Record<string, unknown> {
  const spec = defaultSpec();
  const proc = spec.process!;
  proc.args = args;
  proc.cwd = cwd;
  proc.terminal = terminal;
  proc.user = { uid: 0, gid: 0 };
  // As runsc do: the command's root holds every capability (inside the sandbox's own kernel; boot and the gofer stay confined).
  const all = [...CAPABILITIES];
  proc.capabilities = { bounding: all, effective: [...all], permitted: [...all], inheritable: [...all], ambient: [...all] };
  proc.env = [`PATH=${DO_PATH}`, ...(terminal ? ['TERM=xterm'] : [])];
  spec.root = { path: rootfs, readonly };
  // With a network to reach (sandbox or host mode), no network namespace: boot stays in ours (src/main/network.ts).
  if (callerNetwork && spec.linux) spec.linux.namespaces = (spec.linux.namespaces ?? []).filter((n) => n.type !== 'network');
  spec.hostname = DO_HOSTNAME;
  spec.mounts = (spec.mounts ?? []).filter((m) => m.destination === '/proc' || m.destination === '/dev');
  if (bin !== undefined) spec.mounts.push({ destination: '/bin', type: 'bind', source: bin, options: ['rbind', 'ro'] });
  if (readonly) {
    proc.env.push('HOME=/root');
    for (const d of PACKAGES_SCRATCH) spec.mounts.push({ destination: d, type: 'tmpfs', source: 'tmpfs', options: ['nosuid', 'nodev', d === '/root' ? 'mode=700' : 'mode=1777'] });
  }
  return spec as unknown as Record<string, unknown>;
}

/**
 * The pure part of do's start (its flags, its spec made and checked, the
 * skeleton's description) and run's (run.ts warmSnapshot), run once while
 * do's startup snapshot and code cache are made (src/bundle/entry.ts
 * BundleSpec.warmUp): a start then finds those functions compiled
 * (docs/STARTUP.md, the thirteenth pass). It reads no process state and
 * touches no file, fd or system call.
 */
export function warmSnapshot(): void {
  warmRun();
  const argv = ['do', '--busybox', '/b', '--', 'true'];
  const g = parseFlags(GLOBAL_FLAGS, argv);
  parseFlags(DO_FLAGS, g.rest.slice(1));
  parseSpec(JSON.stringify(doSpec('/w/rootfs', ['true'], '/', false, false, false, '/c/bin')));
  busyboxSkeleton(DO_HOSTNAME);
}
