// Logs, through winston: the debug log (--debug, --debug-log, --log-format)
// and the user log (--user-log-fd).
//
// Contract:
// - Every line is written synchronously (fs.writeSync) to its fd, so a line
//   logged just before process.exit is not lost, and any thread, main or
//   worker, may log: nothing waits on the main thread's event loop.
// - The debug log file is opened in append mode by each logger, so several
//   worker threads (or processes) may each create one for the same path; each
//   line goes out in one write(2), which O_APPEND keeps whole.
// - A log never throws at its caller once created: a failed write (a closed
//   pipe, a full disk) drops the line.
// - winston is loaded only when a log goes somewhere: a sandbox started
//   without --debug, --debug-log, --strace or a user log never loads it
//   (loading it costs about 100 ms, most of tsvisor's start-up).

import * as fs from 'node:fs';
import type Winston from 'winston';

/** What a debug log offers: winston's logger, or a silent stand-in when the log goes nowhere. */
export interface DebugLog {
  debug(message: string, ...meta: unknown[]): unknown;
  info(message: string, ...meta: unknown[]): unknown;
  warn(message: string, ...meta: unknown[]): unknown;
  error(message: string, ...meta: unknown[]): unknown;
  /** Closes the log's file; lines logged afterwards are dropped. */
  close(): unknown;
}

let winstonModule: typeof Winston | undefined;

/** winston, loaded on first use. */
function winston(): typeof Winston {
  return (winstonModule ??= require('winston') as typeof Winston);
}

export interface LogOptions {
  /** --debug: log at debug level (else warnings and errors only). */
  debug: boolean;
  /** --debug-log: a file to append to. Without it, debug logs go to stderr, and other logs nowhere. */
  debugLogPath?: string;
  /** --log-format: "TIME LEVEL message" lines, or one JSON object per line. */
  format: 'text' | 'json';
}

const MESSAGE = Symbol.for('message');

/** Sleeps the calling thread (main or worker) without spinning. */
function sleepMs(ms: number): void {
  Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, ms);
}

/**
 * Writes all of `buf` to `fd`, retrying partial writes and, for a
 * non-blocking fd that is full, waiting up to about two seconds. Returns
 * false when the bytes could not all be written.
 */
export function writeAllSync(fd: number, buf: Buffer): boolean {
  let off = 0;
  let waited = 0;
  while (off < buf.length) {
    try {
      off += fs.writeSync(fd, buf, off, buf.length - off);
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code === 'EAGAIN' && waited < 2000) {
        sleepMs(1);
        waited++;
        continue;
      }
      return false;
    }
  }
  return true;
}

type TransportCtor = new (opts?: { level?: string; silent?: boolean }) => Winston.transport;

/** A winston transport writing each formatted line to a fd, synchronously. */
interface FdTransport extends Winston.transport {
  close(): void;
}

let fdTransportClass: (new (fd: number, ownsFd: boolean) => FdTransport) | undefined;

/** The FdTransport class, made once winston is loaded (it extends winston's Transport). */
function newFdTransport(fd: number, ownsFd: boolean): FdTransport {
  if (!fdTransportClass) {
    const TransportBase = (winston() as unknown as { Transport: TransportCtor }).Transport;
    fdTransportClass = class extends TransportBase {
      private open = true;

      constructor(private readonly fd: number, private readonly ownsFd: boolean) {
        super({});
      }

      override log(info: Record<string | symbol, unknown>, next: () => void): void {
        if (this.open) {
          const line = info[MESSAGE];
          writeAllSync(this.fd, Buffer.from(`${typeof line === 'string' ? line : JSON.stringify(info)}\n`));
        }
        next();
      }

      override close(): void {
        if (!this.open) return;
        this.open = false;
        if (this.ownsFd) {
          try {
            fs.closeSync(this.fd);
          } catch {
            // already closed: nothing to do
          }
        }
      }
    };
  }
  return new fdTransportClass(fd, ownsFd);
}

/** Fields of a winston info object that are not metadata. */
const RESERVED = new Set(['level', 'message', 'timestamp']);

function metadata(info: Record<string, unknown>): Record<string, unknown> | undefined {
  let meta: Record<string, unknown> | undefined;
  for (const k of Object.keys(info)) {
    if (RESERVED.has(k)) continue;
    (meta ??= {})[k] = info[k];
  }
  return meta;
}

function messageText(m: unknown): string {
  if (typeof m === 'string') return m;
  if (m instanceof Error) return m.message;
  try {
    return JSON.stringify(m) ?? String(m);
  } catch {
    return String(m);
  }
}

function safeJson(v: unknown): string {
  try {
    return JSON.stringify(v, (_k, x) => (typeof x === 'bigint' ? x.toString() : x));
  } catch {
    return '"<unencodable>"';
  }
}

/** "TIME LEVEL message key=value...": one line per entry. */
const textFormat = () => winston().format((info) => {
  const meta = metadata(info as Record<string, unknown>);
  let line = `${new Date().toISOString()} ${info.level.toUpperCase()} ${messageText(info.message)}`;
  if (meta) line += ' ' + safeJson(meta);
  (info as Record<symbol, unknown>)[MESSAGE] = line;
  return info;
});

/** {"time", "level", "msg", ...metadata}: one JSON object per line, the field names runsc uses. */
const jsonFormat = () => winston().format((info) => {
  const meta = metadata(info as Record<string, unknown>);
  const entry = { time: new Date().toISOString(), level: info.level, msg: messageText(info.message), ...meta };
  (info as Record<symbol, unknown>)[MESSAGE] = safeJson(entry);
  return info;
});

/**
 * The debug log: to `debugLogPath` (appended to) when given, else to stderr
 * when debugging, else nowhere. Level 'debug' when debugging, else 'warn'.
 * Throws an Error naming the path when the file cannot be opened. close() on
 * the logger closes the file; later lines are dropped.
 */
export function createDebugLog(opts: LogOptions): DebugLog {
  let transport: FdTransport;
  if (opts.debugLogPath !== undefined && opts.debugLogPath !== '') {
    let fd: number;
    try {
      fd = fs.openSync(opts.debugLogPath, 'a', 0o644);
    } catch (e) {
      throw new Error(`cannot open the debug log ${opts.debugLogPath}: ${(e as Error).message}`);
    }
    transport = newFdTransport(fd, true);
  } else if (opts.debug) {
    transport = newFdTransport(2, false);
  } else {
    return silentLog;
  }
  const logger = winston().createLogger({
    level: opts.debug ? 'debug' : 'warn',
    format: opts.format === 'json' ? jsonFormat()() : textFormat()(),
    transports: [transport],
    exitOnError: false,
  });
  logger.on('error', () => {
    // never a crash from logging
  });
  // close() closes the file and silences the logger: lines logged afterwards
  // (by code still running during teardown) are dropped quietly.
  logger.close = () => {
    logger.silent = true;
    transport.close();
    return logger;
  };
  return logger;
}

/** The debug log of a sandbox that logs nowhere (no --debug, no --debug-log). */
const silentLog: DebugLog = { debug() {}, info() {}, warn() {}, error() {}, close() {} };

export interface UserLog {
  info(msg: string): void;
  warn(msg: string): void;
  /** Stops the log. The fd is closed only when the log was created with closeFd. */
  close(): void;
}

const noUserLog: UserLog = { info() {}, warn() {}, close() {} };

/** The level names runsc's user log uses. */
function userLevel(level: string): string {
  return level === 'warn' ? 'warning' : level;
}

/** {"log", "level", "time"}: the Kubernetes-style JSON lines runsc writes to the user log. */
const userFormat = () => winston().format((info) => {
  const line = safeJson({ log: messageText(info.message), level: userLevel(info.level), time: new Date().toISOString() });
  (info as Record<symbol, unknown>)[MESSAGE] = line;
  return info;
});

/**
 * The user log on `fd` (--user-log-fd): JSON lines {"log", "level", "time"}
 * (time in RFC 3339), written synchronously. fd 0 means no user log: a no-op.
 * The fd stays open on close() unless `closeFd` is set, so that several
 * threads may each make a log on the same fd.
 */
export function createUserLog(fd: number, opts: { closeFd?: boolean } = {}): UserLog {
  if (fd === 0) return noUserLog;
  const transport = newFdTransport(fd, opts.closeFd === true);
  const logger = winston().createLogger({ level: 'info', format: userFormat()(), transports: [transport], exitOnError: false });
  logger.on('error', () => {});
  let open = true;
  return {
    info(msg: string) {
      if (open) logger.info(msg);
    },
    warn(msg: string) {
      if (open) logger.warn(msg);
    },
    close() {
      if (!open) return;
      open = false;
      logger.silent = true;
      transport.close();
    },
  };
}
