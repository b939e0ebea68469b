// The control server: runsc's "containerManager" urpc service on the
// controller fd that the parent runtime donated to `tsvisor boot`.
//
// Contract:
// - The fd is a unix stream socket that is bound (we listen on it), already
//   listening (we accept on it), or connected (we serve that one peer). Every
//   accepted connection is served until it closes.
// - Each connection carries a stream of JSON values (see urpc.ts). Each value
//   is a call; calls are handed to the manager in arrival order, without
//   waiting for earlier calls to finish (a pending Wait does not hold back a
//   Signal), and their replies are written in arrival order.
// - A value that is not {"method": string, ...} gets an error reply and the
//   connection goes on. A stream that is not JSON, or a value over 1 MiB or
//   nested over 512 deep, gets one error reply ("malformed request: ...") after
//   the replies before it, and the connection is closed.
// - Arguments are checked here, before the manager sees them. A manager that
//   throws or rejects produces an error reply; nothing a peer sends can crash
//   the sandbox.
// - At most MAX_IN_FLIGHT calls per connection await their replies; past that,
//   and while the peer does not read its replies, reading from it pauses.
// - Files (runsc's urpc FilePayload): fds a peer passes with SCM_RIGHTS on the
//   bytes of its first call on a connection belong to that call (exec's
//   stdio). A connection is read with recvmsg until that first call is
//   whole, then as a plain stream: fds sent later are closed by the host
//   unread. A method that takes files owns them; the others' are closed once
//   the call is answered. A donated connected fd is read as a plain stream.

import type * as net from 'node:net';
import { closeFd, listenSocket, recvFds, SOCK_STREAM, socketState, socketType, type SocketState } from '../host/ffi.js';
import { JsonValueSplitter, MalformedStreamError, UrpcClient, nodeNet, oneLine, valuesBeforeFailure } from './urpc.js';
import { ArgError, CallFiles, checkpointArg, containerId, execArg, restoreArg, signalArg, waitPidArg, type CheckpointArg, type ExecArg, type ProcessInfo, type SignalArg, type WaitPidArg } from './control-args.js';

export { UrpcClient };

export type { CheckpointArg, ExecArg, ProcessInfo, SignalArg, WaitPidArg } from './control-args.js';

/** What the sandbox does for each call. Arguments arrive already checked. */
export interface ContainerManager {
  /** Starts the application; resolves once it runs. */
  StartRoot(cid: string): Promise<null>;
  /** Resolves with init's Linux wait status once it has exited. */
  Wait(cid: string): Promise<number>;
  Signal(arg: SignalArg): Promise<null>;
  Processes(cid: string): Promise<ProcessInfo[]>;
  /** Stats: cpu, memory, pids. */
  Event(cid: string): Promise<unknown>;
  /** Starts a new process in the container with `files` as its stdio (the manager owns them); resolves with its pid. */
  ExecuteAsync(arg: ExecArg, files: number[]): Promise<number>;
  /** Resolves with the Linux wait status of a process ExecuteAsync started, once it has exited. */
  WaitPID(arg: WaitPidArg): Promise<number>;
  /** Stops every thread of the sandbox until Resume. */
  Pause(cid: string): Promise<null>;
  Resume(cid: string): Promise<null>;
  /** Saves the running container into the image file `file` (the manager owns it), then ends it unless LeaveRunning. */
  Checkpoint(arg: CheckpointArg, file: number): Promise<null>;
  /** In place of StartRoot: runs the container saved in the image file `file` (the manager owns it). */
  Restore(cid: string, file: number): Promise<null>;
  /** A text dump of every guest thread and vCPU (`tsvisor debug --stacks`), for a sandbox that seems stuck. */
  Stacks(cid: string): Promise<string>;
}

export interface ControlLog {
  debug(msg: string): void;
  warn(msg: string): void;
}

/** Bytes one recvmsg reads while a connection's first call is read (readRaw). */
const RAW_READ_BYTES = 64 * 1024;
/** readRaw's first and longest intervals between polls of a quiet peer. */
const RAW_POLL_FIRST_MS = 1;
const RAW_POLL_MAX_MS = 50;
const EAGAIN_CODE = 11;
const EINTR_CODE = 4;

/** Limits per connection. */
export const MAX_MESSAGE_BYTES = 1024 * 1024;
export const MAX_NESTING = 512;
export const MAX_IN_FLIGHT = 64;

const noLog: ControlLog = { debug() {}, warn() {} };

type Handler = (m: ContainerManager, arg: unknown, files: CallFiles) => Promise<unknown>;

const METHODS = new Map<string, Handler>([
  ['containerManager.StartRoot', (m, a) => m.StartRoot(containerId('containerManager.StartRoot', a))],
  ['containerManager.Wait', (m, a) => m.Wait(containerId('containerManager.Wait', a))],
  ['containerManager.Signal', (m, a) => m.Signal(signalArg(a))],
  ['containerManager.Processes', (m, a) => m.Processes(containerId('containerManager.Processes', a))],
  ['containerManager.Event', (m, a) => m.Event(containerId('containerManager.Event', a))],
  ['containerManager.ExecuteAsync', (m, a, f) => m.ExecuteAsync(...execArg(a, f))],
  ['containerManager.WaitPID', (m, a) => m.WaitPID(waitPidArg(a))],
  ['containerManager.Pause', (m, a) => m.Pause(containerId('containerManager.Pause', a))],
  ['containerManager.Resume', (m, a) => m.Resume(containerId('containerManager.Resume', a))],
  ['containerManager.Checkpoint', (m, a, f) => m.Checkpoint(...checkpointArg(a, f))],
  ['containerManager.Restore', (m, a, f) => m.Restore(...restoreArg(a, f))],
  ['debug.Stacks', (m, a) => m.Stacks(containerId('debug.Stacks', a))],
]);

/** The text of anything thrown, even an object whose toString throws. */
function errorText(e: unknown): string {
  try {
    return e instanceof Error ? String(e.message) : String(e);
  } catch {
    return 'failed (the error cannot be shown)';
  }
}

function errorReply(err: string): string {
  return JSON.stringify({ success: false, err, result: null });
}

function successReply(result: unknown): string {
  try {
    return JSON.stringify({ success: true, err: '', result: result === undefined ? null : result });
  } catch (e) {
    return errorReply(`cannot encode the result: ${(e as Error).message}`);
  }
}

/** One reply slot, filled when its call settles; written when all before it are. */
interface Slot {
  reply: string | undefined;
}

/** Serves one connection. */
class Connection {
  private readonly splitter = new JsonValueSplitter({ maxBytes: MAX_MESSAGE_BYTES, maxDepth: MAX_NESTING });
  private readonly queue: Slot[] = [];
  /** Calls parsed but not yet dispatched (waiting for room under MAX_IN_FLIGHT). */
  private readonly backlog: unknown[] = [];
  private inFlight = 0;
  /** No more input is read: the peer ended its side, or the stream was malformed. */
  private inputDone = false;
  private destroyed = false;
  private paused = false;
  private pumping = false;
  private ending = false;

  /** Files received while reading the first call (see the contract above). */
  private firstFiles: number[] | undefined;
  private rawTimer: NodeJS.Timeout | undefined;
  private valuesSeen = 0;

  /**
   * `rawFd`: the socket's fd, for a connection accepted paused: its first
   * call is read here with recvmsg (it may carry files) before the stream is
   * handed to `sock`.
   */
  constructor(
    private readonly sock: net.Socket,
    private readonly manager: ContainerManager,
    private readonly log: ControlLog,
    private readonly onGone: (c: Connection) => void,
    rawFd?: number,
  ) {
    if (rawFd === undefined) this.readStream();
    else {
      this.firstFiles = [];
      this.readRaw(rawFd, RAW_POLL_FIRST_MS);
    }
    sock.on('drain', () => this.updateFlow());
    sock.on('error', (e) => {
      this.log.debug(`control: connection error: ${e.message}`);
      this.destroy();
    });
    sock.on('close', () => this.destroy());
  }

  /** From here on the stream is read by Node (no files). */
  private readStream(): void {
    this.sock.on('data', (chunk: Buffer) => this.onData(chunk));
    this.sock.on('end', () => this.onEnd());
    this.sock.resume();
  }

  /**
   * Reads with recvmsg until the first call is whole. Node gives no
   * readiness without reading, so the socket is polled: at once, then at
   * intervals doubling up to RAW_POLL_MAX_MS while the peer sends nothing
   * (a peer usually writes its call as it connects).
   */
  private readRaw(fd: number, waitMs: number): void {
    this.rawTimer = undefined;
    for (;;) {
      if (this.destroyed || this.inputDone) return;
      const r = recvFds(fd, RAW_READ_BYTES);
      if (r === -EAGAIN_CODE) {
        this.rawTimer = setTimeout(() => this.readRaw(fd, Math.min(waitMs * 2, RAW_POLL_MAX_MS)), waitMs);
        return;
      }
      if (typeof r === 'number') {
        if (r === -EINTR_CODE) continue;
        this.log.debug(`control: connection error: recvmsg: errno ${-r}`);
        this.destroy();
        return;
      }
      if (this.firstFiles) this.firstFiles.push(...r.fds);
      else for (const f of r.fds) closeFd(f);
      if (r.data.length === 0) {
        this.onEnd();
        return;
      }
      this.onData(r.data);
      if (this.valuesSeen > 0) break;
    }
    if (!this.destroyed && !this.inputDone) this.readStream();
  }

  /** Ends the connection now, dropping replies not yet written. */
  destroy(): void {
    if (this.destroyed) return;
    this.destroyed = true;
    clearTimeout(this.rawTimer);
    this.closeFirstFiles();
    this.backlog.length = 0;
    this.queue.length = 0;
    this.sock.destroy();
    this.onGone(this);
  }

  private onData(chunk: Buffer): void {
    if (this.inputDone || this.destroyed) return;
    let values: unknown[];
    try {
      values = this.splitter.push(chunk);
    } catch (e) {
      this.enqueue(valuesBeforeFailure(e));
      this.malformed(e);
      return;
    }
    this.enqueue(values);
  }

  private onEnd(): void {
    if (this.inputDone || this.destroyed) return;
    try {
      this.enqueue(this.splitter.end());
    } catch (e) {
      this.malformed(e);
      return;
    }
    this.inputDone = true;
    this.finishIfIdle();
  }

  private malformed(e: unknown): void {
    const msg = e instanceof MalformedStreamError ? e.message : String(e);
    this.log.warn(`control: malformed request stream, closing the connection: ${msg}`);
    this.inputDone = true;
    // Answered after every call before it, like any other reply.
    this.backlog.push(new MalformedMarker(`malformed request: ${msg}`));
    this.pump();
  }

  private enqueue(values: unknown[]): void {
    this.valuesSeen += values.length;
    for (const v of values) this.backlog.push(v);
    this.pump();
  }

  /** Dispatches backlog calls while there is room. */
  private pump(): void {
    if (this.pumping) return; // calls answered synchronously come back here: the loop below goes on
    this.pumping = true;
    try {
      while (!this.destroyed && this.backlog.length > 0 && this.inFlight < MAX_IN_FLIGHT) {
        this.dispatch(this.backlog.shift());
      }
    } finally {
      this.pumping = false;
    }
    this.updateFlow();
    this.finishIfIdle();
  }

  private dispatch(value: unknown): void {
    const slot: Slot = { reply: undefined };
    this.queue.push(slot);
    this.inFlight++;
    const settle = (reply: string) => {
      slot.reply = reply;
      this.inFlight--;
      this.flush();
      this.pump();
    };
    if (value instanceof MalformedMarker || typeof value !== 'object' || value === null || Array.isArray(value)) this.closeFirstFiles();
    if (value instanceof MalformedMarker) {
      settle(errorReply(value.message));
      return;
    }
    if (typeof value !== 'object' || value === null || Array.isArray(value) || typeof (value as { method?: unknown }).method !== 'string') {
      settle(errorReply('bad request: expected an object {"method": string, "arg": ...}'));
      return;
    }
    const { method, arg } = value as { method: string; arg?: unknown };
    const handler = METHODS.get(method);
    if (!handler) {
      settle(errorReply(`unknown method ${oneLine(JSON.stringify(method), 200)}`));
      return;
    }
    this.log.debug(`control: call ${method}`);
    const files = new CallFiles(this.firstFiles ?? []);
    this.firstFiles = undefined;
    let p: Promise<unknown>;
    try {
      p = Promise.resolve(handler(this.manager, arg, files));
    } catch (e) {
      p = Promise.reject(e);
    }
    p.then(
      (result) => {
        this.log.debug(`control: ${method} done`);
        files.closeRest();
        settle(successReply(result));
      },
      (e: unknown) => {
        const msg = errorText(e);
        if (!(e instanceof ArgError)) this.log.debug(`control: ${method} failed: ${msg}`);
        files.closeRest();
        settle(errorReply(msg === '' ? `${method} failed` : msg));
      },
    );
  }

  /** Files that came with a first call that will not take them. */
  private closeFirstFiles(): void {
    for (const fd of this.firstFiles ?? []) closeFd(fd);
    this.firstFiles = undefined;
  }

  /** Writes the replies at the head of the queue that are ready. */
  private flush(): void {
    if (this.destroyed) return;
    while (this.queue.length > 0 && this.queue[0].reply !== undefined) {
      this.sock.write(this.queue.shift()!.reply!);
    }
  }

  /** Reads from the peer only while it has room: few calls in flight and its replies being read. */
  private updateFlow(): void {
    if (this.destroyed || this.inputDone) return;
    const full = this.backlog.length > 0 || this.inFlight >= MAX_IN_FLIGHT || this.sock.writableNeedDrain;
    if (full && !this.paused) {
      this.paused = true;
      this.sock.pause();
    } else if (!full && this.paused) {
      this.paused = false;
      this.sock.resume();
    }
  }

  /**
   * Keep serving this peer until it closes its side (its replies all
   * written), or for at most `graceMs`; then the connection is cut.
   */
  drain(graceMs: number): Promise<void> {
    if (this.destroyed) return Promise.resolve();
    return new Promise((resolve) => {
      // Held (not unref'd): the caller awaits this, and may have nothing
      // else keeping its event loop alive (boot, once its kernel is shut down).
      const grace = setTimeout(() => {
        this.destroy();
        resolve();
      }, graceMs);
      this.sock.once('close', () => {
        clearTimeout(grace);
        resolve();
      });
    });
  }

  /** After the input is done and every reply is written, closes our side. */
  private finishIfIdle(): void {
    if (this.destroyed || !this.inputDone) return;
    if (this.ending || this.backlog.length > 0 || this.queue.length > 0) return;
    this.ending = true;
    this.sock.end();
    // The peer may never close its side after a malformed stream: do not wait for it forever.
    setTimeout(() => this.destroy(), 1000).unref();
  }
}

/** listen(2)'s backlog for a bound controller socket: Node's own for server.listen. */
const LISTEN_BACKLOG = 511;

/** A malformed-stream reply, queued behind the calls that came before it. */
class MalformedMarker {
  constructor(readonly message: string) {}
}

/** The fd under an accepted socket (Node's pipe handle shows it), or undefined. */
function handleFd(sock: net.Socket): number | undefined {
  const fd = (sock as unknown as { _handle?: { fd?: unknown } })._handle?.fd;
  return typeof fd === 'number' && fd >= 0 ? fd : undefined;
}

export class ControlServer {
  private readonly conns = new Set<Connection>();
  private closed = false;

  private constructor(
    private readonly manager: ContainerManager,
    private readonly log: ControlLog,
    private readonly server: net.Server | undefined,
  ) {}

  /**
   * What serveFd checks first, alone and synchronously, without Node's
   * networking: throws the same Error for an fd that is not a bound,
   * listening or connected stream socket, and makes a bound one listen
   * (listen(2), the backlog Node's own listen gives it), so that from here
   * on a peer's connect succeeds and its connection waits in the socket's
   * queue until serveFd accepts it. Boot calls it before its sync byte and
   * serveFd right after (boot.ts): the byte still means that the control
   * socket takes connections, without waiting for node:net to load.
   * Returns the socket's state as found.
   */
  static listenFd(fd: number): Exclude<SocketState, 'unbound' | 'not-a-socket'> {
    if (!Number.isInteger(fd) || fd < 0) throw new Error(`controller fd ${fd}: not a file descriptor`);
    const state = socketState(fd);
    if (state === 'not-a-socket') throw new Error(`controller fd ${fd}: not a socket (or not open)`);
    const type = socketType(fd);
    if (type !== SOCK_STREAM) throw new Error(`controller fd ${fd}: not a stream socket (SO_TYPE ${type})`);
    if (state !== 'bound' && state !== 'listening' && state !== 'connected') throw new Error(`controller fd ${fd}: a socket that is neither bound, listening nor connected (${state})`);
    if (state === 'bound') {
      const r = listenSocket(fd, LISTEN_BACKLOG);
      if (r < 0) throw new Error(`controller fd ${fd}: cannot listen: errno ${-r}`);
    }
    return state;
  }

  /**
   * Serves the donated controller socket `fd` (see the contract above); the
   * server owns the fd from here on. Resolves once listening (bound or
   * listening fd) or serving (connected fd); rejects with a clear Error for an
   * fd that is none of these (listenFd's checks).
   */
  static async serveFd(fd: number, manager: ContainerManager, log: ControlLog = noLog): Promise<ControlServer> {
    const state = ControlServer.listenFd(fd);
    const { createServer, Socket } = nodeNet();
    switch (state) {
      case 'bound':
      case 'listening': {
        const server = createServer({ allowHalfOpen: true, pauseOnConnect: true });
        const cs = new ControlServer(manager, log, server);
        server.on('connection', (sock) => cs.serve(sock, handleFd(sock)));
        await new Promise<void>((resolve, reject) => {
          server.once('error', reject);
          server.listen({ fd }, () => {
            server.off('error', reject);
            resolve();
          });
        }).catch((e: Error) => {
          throw new Error(`controller fd ${fd}: cannot listen: ${e.message}`);
        });
        server.on('error', (e) => log.warn(`control: server error: ${e.message}`));
        log.debug(`control: listening on fd ${fd} (${state})`);
        return cs;
      }
      case 'connected': {
        const cs = new ControlServer(manager, log, undefined);
        let sock: net.Socket;
        try {
          sock = new Socket({ fd, readable: true, writable: true, allowHalfOpen: true });
        } catch (e) {
          throw new Error(`controller fd ${fd}: cannot use the connected socket: ${(e as Error).message}`);
        }
        cs.serve(sock);
        log.debug(`control: serving the connected socket on fd ${fd}`);
        return cs;
      }
    }
  }

  /** Number of connections being served. */
  get connections(): number {
    return this.conns.size;
  }

  /** `rawFd`: the fd of a connection accepted paused, whose first call is read with recvmsg. */
  private serve(sock: net.Socket, rawFd?: number): void {
    if (this.closed) {
      sock.destroy();
      return;
    }
    this.log.debug('control: new connection');
    const c = new Connection(sock, this.manager, this.log, (gone) => this.conns.delete(gone), rawFd);
    this.conns.add(c);
  }

  /**
   * Stops accepting connections; connected peers are still served (a Wait
   * sent just after the container exited gets its status) until they close,
   * or for at most `graceMs`.
   */
  async shutdown(graceMs = 1000): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    const closing = this.server ? new Promise<void>((resolve) => this.server!.close(() => resolve())) : Promise.resolve();
    await Promise.all([...[...this.conns].map((c) => c.drain(graceMs)), closing]);
  }

  /** Stops accepting and ends every connection (replies not yet written are dropped). */
  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    for (const c of [...this.conns]) c.destroy();
    if (this.server) {
      await new Promise<void>((resolve) => this.server!.close(() => resolve()));
    }
  }
}
