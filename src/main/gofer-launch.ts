// The parent runtime's side of the gofer: start `tsvisor gofer` for a
// bundle, with one socket pair per filesystem (the root, then each bind
// mount in spec order), and hand back the other ends for boot's --io-fds;
// and one SOCK_SEQPACKET pair on which the gofer donates opened files' host
// fds to boot (--donate-fd of both; src/p9/donation.ts).

import * as fs from 'node:fs';
import { spawn, type ChildProcess } from 'node:child_process';
import { closeFd, socketpair, O_CLOEXEC, SOCK_SEQPACKET, SOCK_STREAM } from '../host/ffi.js';
import { Fatal } from './common.js';
import { confinedCommand, confinedEnv, confinedPid, GOFER_CAPABILITIES } from './confine.js';
import type { Spec } from '../spec/types.js';
import { sandboxProcessEnv } from '../bundle/entry.js';
import { exportsOf } from '../spec/mounts.js';

export interface RunningGofer {
  /** What was spawned: the gofer, or, confined, the launcher it runs under. */
  child: ChildProcess;
  /** The gofer's pid as this process sees it (confined, a child of `child`); call once boot is up. */
  pid(): number;
  /**
   * Resolves once the gofer has exited, so that nothing it prints comes after
   * the caller's last word. It exits by itself when boot's connections close;
   * one still running `graceMs` after this is called is killed.
   */
  finished(graceMs: number): Promise<void>;
}

/** The gofer's socket pairs, made before boot starts; the gofer itself is spawned by `start`. */
export interface GoferPlan {
  /** The sandbox's ends, in --io-fds order (close them once boot has them). */
  bootEnds: number[];
  /** The sandbox's end of the donation channel, for boot's --donate-fd. */
  donateEnd: number;
  /** Closes the sandbox's ends here (boot holds its own copies). */
  closeBootEnds(): void;
  /** Spawns the gofer over its ends (once), and closes them here. */
  start(): RunningGofer;
}

/**
 * The gofer's side of a sandbox: `cli` is the tsvisor entry point,
 * `globalArgv` the global flags to pass on; `confine`: in namespaces of its
 * own (src/main/confine.ts). The socket pairs are made here; `start`
 * spawns the gofer, which exits by itself once every connection closes
 * (boot exits, or dies). launch.ts spawns boot first and the gofer right
 * after: boot's start is the longer one, and it reaches the gofer only once
 * its kernel has loaded, after its sync byte (docs/STARTUP.md, the eleventh
 * pass). Throws a Fatal (nothing left open) when the spec's mounts cannot
 * be served or a pair cannot be made.
 *
 * `stderr`: where the gofer's own messages go: boot's stderr, so that the
 * gofer holds nothing boot does not (a caller that reads create's output to
 * its end, as containerd's shim does with a console socket, must see it end
 * once create exits).
 */
export function prepareGofer(cli: string, globalArgv: string[], confine: boolean, bundle: string, configPath: string, spec: Spec, stderr: number | 'inherit' = 'inherit'): GoferPlan {
  let n: number;
  try {
    n = exportsOf(spec, bundle).length;
  } catch (e) {
    throw new Fatal(`spec mounts: ${(e as Error).message}`);
  }
  const goferEnds: number[] = [];
  const bootEnds: number[] = [];
  for (let i = 0; i < n; i++) {
    const sp = socketpair(SOCK_STREAM | O_CLOEXEC);
    if (typeof sp === 'number') {
      for (const fd of [...goferEnds, ...bootEnds]) closeFd(fd);
      throw new Fatal(`socketpair: errno ${-sp}`);
    }
    goferEnds.push(sp[0]);
    bootEnds.push(sp[1]);
  }
  const donate = socketpair(SOCK_SEQPACKET | O_CLOEXEC);
  if (typeof donate === 'number') {
    for (const fd of [...goferEnds, ...bootEnds]) closeFd(fd);
    throw new Fatal(`socketpair: errno ${-donate}`);
  }
  const start = (): RunningGofer => {
    const specFd = fs.openSync(configPath, 'r');
    const ioFds = goferEnds.map((_, i) => 4 + i);
    let file = process.execPath;
    let args = [cli, ...globalArgv, 'gofer', `--bundle=${bundle}`, '--spec-fd=3', `--io-fds=${ioFds.join(',')}`, `--donate-fd=${4 + n}`];
    // The gofer needs no die-with-parent: it ends when boot's connections close.
    const shape = { dieWithParent: false, newSession: false, keep: GOFER_CAPABILITIES };
    if (confine) ({ file, args } = confinedCommand([file, ...args], shape, { hostNetwork: false, inetSockets: false }));
    const child = spawn(file, args, {
      env: confine ? confinedEnv(sandboxProcessEnv(process.env), shape) : sandboxProcessEnv(process.env),
      stdio: ['ignore', 'ignore', stderr, specFd, ...goferEnds, donate[0]],
      // A session of its own: a signal for run's process group (Ctrl-C, `timeout`)
      // must not end the gofer under a sandbox that carries on.
      detached: true,
    });
    fs.closeSync(specFd);
    for (const fd of [...goferEnds, donate[0]]) closeFd(fd);
    const exited = new Promise<void>((resolve) => {
      if (child.exitCode !== null || child.signalCode !== null) resolve();
      else child.once('exit', () => resolve());
    });
    return {
      child,
      pid: () => (confine ? confinedPid(child.pid!) : child.pid!),
      finished: async (graceMs) => {
        const timer = setTimeout(() => child.kill('SIGKILL'), graceMs);
        await exited;
        clearTimeout(timer);
      },
    };
  };
  return {
    bootEnds,
    donateEnd: donate[1],
    closeBootEnds: () => {
      for (const fd of [...bootEnds, donate[1]]) closeFd(fd);
    },
    start,
  };
}
