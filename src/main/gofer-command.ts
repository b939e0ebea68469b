// `tsvisor gofer --bundle DIR --spec-fd N --io-fds=a,b,...`: the process that
// serves the container's filesystems over 9P2000.L, one connection per io fd:
// fd 0 of the list serves the rootfs, fd i the spec's i-th bind mount (in
// spec order, as exportsOf lists them). The serving itself is
// src/fs-gofer's (serveExports). The gofer exits 0 when every connection has closed
// (its end of each: boot shuts them down as its kernel closes them).

import { FlagDef, FlagValues, parseFlags } from './flags.js';
import { Fatal, GLOBAL_FLAGS, GlobalOptions } from './common.js';
import { endProcess } from './end-process.js';
import { defaultSpec, parseSpec, readSpecFromFd } from '../spec/load.js';
import { exportsOf, type ExportSpec } from '../spec/mounts.js';
import { serveExports } from '../fs-gofer/gofer.js';
import { capabilityMask, enterConfinedRoot, GOFER_CAPABILITIES, lockDown } from './confine.js';
import { resumeOptimizer } from './jit.js';

/**
 * Requests served before the gofer resumes V8's optimizing compiler (paused
 * at its start, src/main/jit.ts): a sandbox's start stays well under it (the
 * idle cat fixture: 11 requests; busybox's sh running echo: 30; ls of its
 * 270 applets: ~570), and a guest that works its files passes it within
 * milliseconds, after which the gofer's hot paths are optimized as before
 * (without it, creating and listing 3,000 files took the gofer 45% more CPU).
 */
const BUSY_REQUESTS = 1000;

export const GOFER_FLAGS: FlagDef[] = [
  { name: 'bundle', kind: 'string', usage: 'path to the bundle directory (root.path and bind sources are relative to it)', default: '' },
  { name: 'spec-fd', kind: 'int', usage: 'required: fd holding the OCI runtime spec', default: -1 },
  { name: 'io-fds', kind: 'intList', usage: 'required: one connected stream socket per filesystem: the root first, then the bind mounts in spec order', default: [] },
  { name: 'donate-fd', kind: 'int', usage: "a connected SOCK_SEQPACKET socket on which opened files' host fds are passed to the sandbox (Tdonate); absent: every read and write goes over 9P", default: -1 },
];

export const GOFER_SYNOPSIS = 'tsvisor [global flags] gofer --bundle DIR --spec-fd N --io-fds=FD,...';

export async function goferCommand(g: GlobalOptions, flags: FlagValues, positional: string[]): Promise<number> {
  const specFd = flags['spec-fd'] as number;
  const ioFds = flags['io-fds'] as number[];
  if (specFd < 0) throw new Fatal('missing required flag: --spec-fd', true);
  if (ioFds.length === 0) throw new Fatal('missing required flag: --io-fds', true);
  if (positional.length > 0) throw new Fatal(`unexpected argument ${JSON.stringify(positional[0])}`, true);
  const spec = readSpecFromFd(specFd);
  const bundle = (flags.bundle as string) || process.cwd();
  let exps: ExportSpec[];
  try {
    exps = exportsOf(spec, bundle);
  } catch (e) {
    throw new Fatal(`spec mounts: ${(e as Error).message}`);
  }
  // stderr is the container's too: the gofer speaks there only when debugging.
  const log = (m: string) => {
    if (g.debug) process.stderr.write(m + '\n');
  };
  // Confined (src/main/confine.ts): a root holding only the exports and our
  // code, where the exports are opened; then, before serving, the lock-down.
  if (g.confine) enterConfinedRoot(exps.map((e) => ({ path: e.hostPath, readonly: e.readonly })));
  const opened = g.confine ? () => lockDown({ hostNetwork: false, inetSockets: false }, capabilityMask(GOFER_CAPABILITIES)) : undefined;
  try {
    await serveExports(exps, ioFds, log, opened, flags['donate-fd'] as number, { requests: BUSY_REQUESTS, then: resumeOptimizer });
  } catch (e) {
    throw new Fatal((e as Error).message);
  }
  // Every connection has closed, each request answered and the I/O pool's
  // jobs done (serveExports): the gofer ends at once (end-process.ts).
  endProcess(0);
}

/**
 * The build's code-cache step for the gofer's bundle calls this
 * (src/bundle/entry.ts, BundleSpec.warmUp) once every module has loaded:
 * the pure part of the gofer's start (its flags, the spec's check, the
 * exports), so that the cache holds those functions compiled and a gofer
 * does not compile them at its start (docs/STARTUP.md, the thirteenth
 * pass). It reads no process state and touches no file, fd or system call.
 */
export function warmCodeCache(): void {
  const argv = ['--root=/run/tsvisor', 'gofer', '--bundle=/b', '--spec-fd=3', '--io-fds=4,5', '--donate-fd=6'];
  const g = parseFlags(GLOBAL_FLAGS, argv);
  parseFlags(GOFER_FLAGS, g.rest.slice(1));
  exportsOf(parseSpec(JSON.stringify(defaultSpec())), '/b');
}
