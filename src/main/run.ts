// `tsvisor run`: the parent runtime's role for one container, as runsc's
// parent plays it: launch `boot` with every fd wired (src/main/oci/launch.ts:
// spec, controller socket, start-sync pipe, stdio), read the sync byte,
// StartRoot, Wait, and exit with the container's status, running the spec's
// hooks on the way as runc's run does. With -d (runc's run --detach): create
// then start, and exit 0 with the container running. Once the container
// runs, run replaces itself with a waiter that is not Node when it can
// (src/main/waiter.ts): an idle sandbox then holds no third Node process.

import * as fs from 'node:fs';
import { FlagDef, FlagValues, parseFlags } from './flags.js';
import { Fatal, GLOBAL_FLAGS, GlobalOptions, NO_CONFINE_FLAG } from './common.js';
import { parsePublish } from './network.js';
import { JsonValueSplitter, UrpcClient, urpcRequest } from './urpc.js';
import { exitCodeOf, FILE_ACCESS_FLAGS } from './boot.js';
import { fileAccessOption, launchSandbox, osSignal, readBundle, readSyncByte } from './oci/launch.js';
import { checkHooks, runHooks, type HookKind, type Hooks } from './oci/hooks.js';
import { createdState } from './oci/lifecycle.js';
import { StateStore } from './oci/state.js';
import { execWaiter, findPerl, holdSignals, releaseSignals } from './waiter.js';
import { setCloexec } from '../host/ffi.js';
import { defaultSpec, parseSpec } from '../spec/load.js';
import type { KeptSkeleton } from '../debian/skeleton-spare.js';

export { specCpus } from './oci/launch.js';

export const RUN_FLAGS: FlagDef[] = [
  { name: 'bundle', kind: 'string', usage: 'path to the bundle directory', default: '.' },
  { name: 'pid-file', kind: 'string', usage: "file to write the sandbox process's pid to", default: '' },
  { name: 'cpu-num', kind: 'int', usage: 'number of vCPUs (0: the host CPU count)', default: 0 },
  { name: 'total-memory', kind: 'uint64', usage: 'memory for the guest (0: 2 GiB)', default: 0 },
  { name: 'console-socket', kind: 'string', usage: "unix socket to send the terminal's pty master to (process.terminal: true)", default: '' },
  { name: 'directfs', kind: 'bool', usage: 'no gofer: the sandbox opens the rootfs and bind mounts itself (direct mode)', default: false },
  { name: 'detach', kind: 'bool', usage: 'create and start the container, and exit with it running (as runc run -d)', default: false },
  { name: 'd', kind: 'bool', usage: 'short for --detach', default: false },
  ...FILE_ACCESS_FLAGS,
  { name: 'publish', kind: 'stringList', usage: "publish a port: [HOSTIP:]HOSTPORT:GUESTPORT[/tcp|/udp], the host's port (on HOSTIP, default 0.0.0.0) reaching the guest's loopback port (repeatable)", default: [] },
  { name: 'p', kind: 'stringList', usage: 'short for --publish', default: [] },
  NO_CONFINE_FLAG,
];
export const RUN_SYNOPSIS = 'tsvisor [global flags] run [flags] <container id>';

/**
 * `cleanUp`: paths to remove once the sandbox is gone, after its state
 * (`do`'s generated bundle), as the waiter does when run hands over to it.
 * `keep`: `do`'s skeleton rootfs (it may lie inside `cleanUp`), kept among
 * the spares once the sandbox is gone if the run left it untouched, else
 * removed (src/debian/skeleton-spare.ts).
 * `holdOpen`: fds (close-on-exec) that must stay open until the sandbox is gone
 * (do's lock on the busybox tree it mounts, src/debian/busybox-prune.ts): run
 * keeps them, and its waiter inherits them.
 */
export async function run(globalFlags: GlobalOptions, flags: FlagValues, positional: string[], cleanUp: string[] = [], keep?: KeptSkeleton, holdOpen: number[] = []): Promise<number> {
  const global = flags['no-confine'] ? { ...globalFlags, confine: false } : globalFlags;
  if (positional.length !== 1) throw new Fatal(`expected exactly one container id, got ${positional.length}`, true);
  const publish = parsePublish([...((flags.publish as string[] | undefined) ?? []), ...((flags.p as string[] | undefined) ?? [])]);
  if (publish.length > 0 && global.network !== 'sandbox') throw new Fatal(`-p publishes into the sandbox's own network: it needs --network=sandbox, not ${global.network}`, true);
  if (flags.detach || flags.d) {
    if (publish.length > 0) throw new Fatal('-p is not supported with --detach', true);
    const { create, start } = (require('./oci/lifecycle.js') as typeof import('./oci/lifecycle.js'));
    const code = await create(global, flags, positional);
    return code === 0 ? start(global, {}, positional) : code;
  }
  const cid = positional[0];
  const bundle = readBundle(flags.bundle as string, 128); // fail here, clearly, before launching anything
  const fileAccess = fileAccessOption(flags);
  let hooks: Hooks | undefined;
  try {
    hooks = checkHooks(bundle.spec.hooks);
  } catch (e) {
    throw new Fatal((e as Error).message); // run's own failures exit 128
  }
  const l = launchSandbox(global, {
    cid,
    bundle,
    consoleSocket: flags['console-socket'] as string,
    directfs: flags.directfs as boolean,
    cpuNum: flags['cpu-num'] as number,
    totalMemory: flags['total-memory'] as number,
    detached: false,
    exitCode: 128,
    fileAccess,
    publish,
  });
  const { child, sockPath, term, gofer } = l;
  // The spec's hooks, as runc's run runs them (src/main/oci/hooks.ts); a failure before the container runs ends the sandbox.
  const state = (status: string) => ({ ociVersion: bundle.spec.ociVersion ?? '1.0.2', id: cid, status, pid: status === 'stopped' ? 0 : l.bootPid(), bundle: bundle.dir, annotations: bundle.spec.annotations ?? {} });
  const hook = async (kinds: HookKind[], status: string) => {
    try {
      for (const kind of kinds) await runHooks(hooks, kind, state(status));
    } catch (e) {
      child.kill('SIGKILL');
      await l.exited;
      throw new Fatal((e as Error).message);
    }
  };
  let ran = false;
  // Like runc/runsc run: signals sent to this command go to the container's
  // init once it runs; before that, they end the sandbox (it never started).
  let started = false;
  let aborted: NodeJS.Signals | null = null;
  // On our own terminal, its resizes (SIGWINCH, for the terminal's foreground
  // group: ours) go to boot, which reads the new size and resizes the guest's
  // console; boot leads a session of its own (launch.ts), so it gets none itself.
  let bootUp = false;
  const resizeConsole = () => {
    if (!bootUp) return; // boot reads the size when it takes the terminal
    try {
      process.kill(l.bootPid(), 'SIGWINCH');
    } catch {
      // boot is gone
    }
  };
  // Signals on their way to init: the hand-over to the waiter waits for them.
  const forwarding = new Set<Promise<unknown>>();
  const onSignal = (sig: NodeJS.Signals) => {
    if (sig === 'SIGWINCH' && term?.own) return resizeConsole();
    if (started) {
      const sent = UrpcClient.connect(sockPath)
        .then((c) => c.call('containerManager.Signal', { CID: cid, Signo: osSignal(sig), PID: 0, Mode: 0 }).finally(() => c.close()))
        .catch(() => undefined);
      forwarding.add(sent);
      void sent.finally(() => forwarding.delete(sent));
    } else if (sig !== 'SIGWINCH' && !aborted) {
      aborted = sig;
      child.kill('SIGKILL');
    }
  };
  for (const sig of FORWARDED_SIGNALS) process.on(sig, onSignal);
  const abortedStatus = async () => {
    await l.exited;
    return 128 + osSignal(aborted!);
  };
  try {
    const ready = await readSyncByte(l.syncFd);
    if (aborted) return await abortedStatus();
    if (!ready) {
      await l.exited;
      throw new Fatal(`the sandbox died before it was ready (boot exited without writing the start-sync byte)`);
    }
    // Boot's own pid, known once it is up (confined, it runs under a launcher).
    if (flags['pid-file']) fs.writeFileSync(flags['pid-file'] as string, String(l.bootPid()));
    bootUp = true;
    resizeConsole(); // a resize while boot was starting

    // Recorded as create records it (the directory is launch's, removed below
    // when the sandbox is gone), so that state, list, ps, kill, exec, pause
    // and events find a container started with run, as with runc's run.
    // Without its hooks: run runs them itself (poststop below), so a
    // `delete --force` meanwhile must not run poststop a second time.
    const store = new StateStore(global.root);
    const recorded = createdState(l, cid, bundle, undefined);
    await store.withLock(cid, () => store.save(recorded));
    ran = true;
    await hook(['prestart', 'createRuntime', 'createContainer'], 'creating');
    await hook(['startContainer'], 'created');
    const client = await UrpcClient.connect(sockPath);
    try {
      await client.call('containerManager.StartRoot', cid);
    } catch (e) {
      client.close();
      child.kill('SIGKILL');
      if (aborted) return await abortedStatus();
      await l.exited;
      throw new Fatal((e as Error).message);
    }
    if (aborted) {
      client.close();
      return await abortedStatus();
    }
    started = true;
    // Wait goes out now, on the connection StartRoot went over, which is then
    // shut for writing: boot answers it as init exits and ends the connection
    // by itself, so neither the Wait nor boot's exit waits for run's last
    // steps, its execve and Perl's start (a program as short as hello exits
    // within them; docs/STARTUP.md, the eleventh pass). The waiter, if run
    // becomes it, only reads the reply.
    const wait = client.callAndEnd('containerManager.Wait', cid);
    wait?.reply.catch(() => undefined); // awaited below, unless a failure on the way closes the client first
    recorded.status = 'running';
    await store.withLock(cid, () => store.save(recorded));
    await hook(['poststart'], 'running').catch((e: Error) => {
      client.close();
      throw e;
    });
    // From here run only waits: it hands that over to the waiter when it can
    // (src/main/waiter.ts; poststop hooks are run's own code, so it waits
    // for them itself). The execve returns only if it failed.
    const perl = (hooks?.poststop ?? []).length === 0 ? findPerl() : undefined;
    const held = FORWARDED_SIGNALS.map(osSignal);
    if (perl && client.fd !== undefined && wait?.whole && (await holdSignals(held, () => [...forwarding])) === 0) {
      // Boot or the gofer reaped already (Node reaps in its event loop, so
      // not between this check and the execve): the waiter could not wait
      // for it. Nor could it read a reply Node has read already (the
      // container is over then: run ends in Node).
      const gone = (c: { exitCode: number | null; signalCode: NodeJS.Signals | null }) => c.exitCode !== null || c.signalCode !== null;
      if (!gone(child) && !wait.answered()) {
        // Past the execve (no spawn comes after it): the waiter holds them until it exits.
        for (const fd of holdOpen) setCloexec(fd, false);
        execWaiter(perl, {
          waitSent: true,
          cid,
          bootChild: child.pid!,
          goferChild: gofer && !gone(gofer.child) ? gofer.child.pid! : 0,
          bootPid: l.bootPid(),
          controlFd: client.fd,
          stateDir: l.stateDir,
          signals: FORWARDED_SIGNALS.map((sig) => ({ name: sig, number: osSignal(sig), action: sig === 'SIGWINCH' && term?.own ? 'resize' : 'forward' })),
          terminal: term?.own ? term.saved : undefined,
          goferGraceMs: GOFER_GRACE_MS,
          remove: [l.stateDir, ...cleanUp],
          keep,
        });
        for (const fd of holdOpen) setCloexec(fd, true);
      }
      releaseSignals(held); // run waits in Node: its own handlers take the signals again
    }
    const status = (await (wait?.reply ?? client.call('containerManager.Wait', cid))) as number;
    client.close();
    await l.exited;
    return exitCodeOf(status);
  } finally {
    for (const sig of FORWARDED_SIGNALS) process.off(sig, onSignal);
    // Boot has exited here on every path but an internal error, so the gofer's connections are closed and it ends.
    await gofer?.finished(GOFER_GRACE_MS);
    term?.restore();
    fs.rmSync(l.stateDir, { recursive: true, force: true });
    // Kept only once boot is gone (here on every path but an internal error).
    if (keep) (child.exitCode !== null || child.signalCode !== null ? keep.finish() : fs.rmSync(keep.path, { recursive: true, force: true }));
    for (const p of cleanUp) fs.rmSync(p, { recursive: true, force: true });
    // Once the container is gone; run's status stays the container's (runc only warns).
    if (ran) await runHooks(hooks, 'poststop', state('stopped')).catch((e: Error) => process.stderr.write(`tsvisor: warning: ${e.message}\n`));
  }
}

/**
 * The pure part of run's start before its first spawn (the flags, the spec's
 * check) and of its calls to boot (urpc's requests and replies): the
 * warm-up of run's bundle (src/bundle/entry.ts BundleSpec.warmUp), which
 * the build runs before it takes the bundle's code cache and run's startup
 * snapshot (src/bundle/snapshot-entry.ts), so that a start finds those
 * functions compiled (run's spec check before boot's spawn: 2.3 -> 0.46 ms
 * of wall; docs/STARTUP.md, the thirteenth pass). It reads no process
 * state and touches no file, fd or system call.
 */
export function warmSnapshot(): void {
  const argv = ['--root=/run/tsvisor', 'run', '--bundle=/b', 'cid'];
  const g = parseFlags(GLOBAL_FLAGS, argv);
  parseFlags(RUN_FLAGS, g.rest.slice(1));
  parsePublish([]);
  parseSpec(JSON.stringify(defaultSpec()));
  // StartRoot's and Wait's requests, and their replies read.
  urpcRequest('containerManager.StartRoot', 'cid');
  new JsonValueSplitter({ maxBytes: 1 << 20, maxDepth: 64 }).push(Buffer.from('{"success":true,"err":"","result":null}{"success":true,"err":"","result":0}'));
}

/** How long run waits for the gofer to end by itself once boot is gone, before killing it. */
const GOFER_GRACE_MS = 5000;

/** Signals `tsvisor run` passes on to the container's init. */
const FORWARDED_SIGNALS: NodeJS.Signals[] = ['SIGINT', 'SIGTERM', 'SIGHUP', 'SIGQUIT', 'SIGUSR1', 'SIGUSR2', 'SIGWINCH'];
