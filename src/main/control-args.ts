// The control protocol's arguments, as runsc names their fields, and their
// checks: every argument a peer sends is checked here before a manager sees
// it (an ArgError is the peer's mistake, answered as an error), and the files
// that came with a call are held until a method takes them.

import { closeFd } from '../host/ffi.js';
import { oneLine } from './urpc.js';

/** containerManager.Signal's argument, with runsc's field names. */
export interface SignalArg {
  CID: string;
  Signo: number;
  PID: number;
  /** 0: one process (PID 0: init); 1: all processes; 2: the terminal's foreground process group; 3: the process group PID. */
  Mode: number;
}

/** One row of containerManager.Processes, as runsc's ps reports it. */
export interface ProcessInfo {
  UID: number;
  PID: number;
  PPID: number;
  C: number;
  STIME: string;
  TIME: string;
  Cmd: string;
}

/**
 * containerManager.ExecuteAsync's argument, runsc's ExecArgs: a new process in
 * the container. Its stdio comes as files with the call: stdin, stdout and
 * stderr, or one terminal when StdioIsPty.
 */
export interface ExecArg {
  ContainerID: string;
  /** The program; "" for Argv[0] (looked up in the PATH of Envv when it has no slash). */
  Filename: string;
  Argv: string[];
  Envv: string[];
  WorkingDirectory: string;
  KUID: number;
  KGID: number;
  ExtraKGIDs: number[];
  /** The files are one terminal (exec -t) rather than three stdio fds. */
  StdioIsPty: boolean;
  /**
   * tsvisor's own field, with StdioIsPty: what the terminal's line discipline
   * held before exec took it raw, one base64 entry per line a canonical read
   * returned (an empty entry: an end-of-file mark). Absent for runsc's callers.
   */
  ConsoleInput?: string[];
}

/** containerManager.WaitPID's argument. */
export interface WaitPidArg {
  CID: string;
  PID: number;
}

const SIGNAL_MODES = 4;
const MAX_SIGNAL = 64;


/**
 * The files that came with a call. A handler that keeps them takes them;
 * whatever is left is closed once the call is answered.
 */
export class CallFiles {
  constructor(private fds: number[]) {}
  take(): number[] {
    const f = this.fds;
    this.fds = [];
    return f;
  }
  closeRest(): void {
    for (const fd of this.take()) closeFd(fd);
  }
}


function describeType(v: unknown): string {
  if (v === undefined) return 'nothing';
  if (v === null) return 'null';
  if (Array.isArray(v)) return 'an array';
  return `a ${typeof v}`;
}

export function containerId(method: string, arg: unknown): string {
  if (typeof arg !== 'string') throw new ArgError(`${method}: arg must be a container id (string), got ${describeType(arg)}`);
  return arg;
}

export function signalArg(arg: unknown): SignalArg {
  const where = 'containerManager.Signal';
  if (typeof arg !== 'object' || arg === null || Array.isArray(arg)) {
    throw new ArgError(`${where}: arg must be an object {"CID", "Signo", "PID", "Mode"}, got ${describeType(arg)}`);
  }
  const a = arg as Record<string, unknown>;
  const int = (name: string, lo: number, hi: number, required: boolean): number => {
    const v = a[name];
    if (v === undefined && !required) return 0; // Go's zero value for an absent field
    if (typeof v !== 'number' || !Number.isInteger(v) || v < lo || v > hi) {
      throw new ArgError(`${where}: ${name} must be an integer in ${lo}..${hi}, got ${v === undefined ? 'nothing' : oneLine(JSON.stringify(v), 40)}`);
    }
    return v;
  };
  const cid = a.CID === undefined ? '' : a.CID;
  if (typeof cid !== 'string') throw new ArgError(`${where}: CID must be a string, got ${describeType(cid)}`);
  return {
    CID: cid,
    Signo: int('Signo', 0, MAX_SIGNAL, true),
    PID: int('PID', 0, 0x7fffffff, false),
    Mode: int('Mode', 0, SIGNAL_MODES - 1, false),
  };
}

export class ArgError extends Error {}

/** The argument as an object, or an ArgError naming `fields`. */
function objectArg(where: string, arg: unknown, fields: string): Record<string, unknown> {
  if (typeof arg !== 'object' || arg === null || Array.isArray(arg)) throw new ArgError(`${where}: arg must be an object {${fields}}, got ${describeType(arg)}`);
  return arg as Record<string, unknown>;
}

function stringField(where: string, a: Record<string, unknown>, name: string): string {
  const v = a[name] ?? '';
  if (typeof v !== 'string') throw new ArgError(`${where}: ${name} must be a string, got ${describeType(v)}`);
  return v;
}

function stringListField(where: string, a: Record<string, unknown>, name: string): string[] {
  const v = a[name] ?? [];
  if (!Array.isArray(v) || v.some((x) => typeof x !== 'string')) throw new ArgError(`${where}: ${name} must be a list of strings`);
  return v as string[];
}

function idField(where: string, a: Record<string, unknown>, name: string): number {
  const v = a[name] ?? 0;
  if (typeof v !== 'number' || !Number.isInteger(v) || v < 0 || v > 0xfffffffe) throw new ArgError(`${where}: ${name} must be an integer in 0..4294967294, got ${oneLine(JSON.stringify(v), 40)}`);
  return v;
}

const MAX_EXEC_STRINGS = 65536;

export function execArg(arg: unknown, files: CallFiles): [ExecArg, number[]] {
  const where = 'containerManager.ExecuteAsync';
  const a = objectArg(where, arg, '"ContainerID", "Argv", "Envv", "WorkingDirectory", "KUID", "KGID", ...');
  const e: ExecArg = {
    ContainerID: stringField(where, a, 'ContainerID'),
    Filename: stringField(where, a, 'Filename'),
    Argv: stringListField(where, a, 'Argv'),
    Envv: stringListField(where, a, 'Envv'),
    WorkingDirectory: stringField(where, a, 'WorkingDirectory') || '/',
    KUID: idField(where, a, 'KUID'),
    KGID: idField(where, a, 'KGID'),
    ExtraKGIDs: [],
    StdioIsPty: a.StdioIsPty === true,
  };
  if (a.ConsoleInput !== undefined) e.ConsoleInput = consoleInputField(where, a.ConsoleInput);
  const extra = a.ExtraKGIDs ?? [];
  if (!Array.isArray(extra)) throw new ArgError(`${where}: ExtraKGIDs must be a list of group ids`);
  e.ExtraKGIDs = extra.map((_, i) => idField(where, extra as unknown as Record<string, unknown>, String(i)));
  if (e.Argv.length === 0 && e.Filename === '') throw new ArgError(`${where}: Argv must name a program`);
  if (e.Argv.length + e.Envv.length > MAX_EXEC_STRINGS) throw new ArgError(`${where}: too many arguments and environment strings`);
  if (!e.WorkingDirectory.startsWith('/')) throw new ArgError(`${where}: WorkingDirectory must be absolute, got ${oneLine(JSON.stringify(e.WorkingDirectory), 80)}`);
  const want = e.StdioIsPty ? 1 : 3;
  const fds = files.take();
  if (fds.length !== want) {
    for (const fd of fds) closeFd(fd);
    throw new ArgError(`${where}: expected ${want} file${want > 1 ? 's (stdin, stdout, stderr)' : ' (the terminal)'} passed with the call, got ${fds.length}`);
  }
  return [e, fds];
}

/** A terminal's queue holds at most this many bytes (Linux's N_TTY_BUF_SIZE); so many entries, each at least a mark. */
const MAX_CONSOLE_INPUT = 4096;

function consoleInputField(where: string, v: unknown): string[] {
  if (!Array.isArray(v) || v.length > MAX_CONSOLE_INPUT) throw new ArgError(`${where}: ConsoleInput must be a list of at most ${MAX_CONSOLE_INPUT} base64 strings`);
  let total = 0;
  for (const entry of v) {
    if (typeof entry !== 'string' || !/^[A-Za-z0-9+/]*={0,2}$/.test(entry)) throw new ArgError(`${where}: ConsoleInput must be a list of base64 strings, got ${oneLine(JSON.stringify(entry), 40)}`);
    total += Math.floor((entry.length * 3) / 4);
    if (total > MAX_CONSOLE_INPUT * 2) throw new ArgError(`${where}: ConsoleInput holds more than a terminal's queue`);
  }
  return v as string[];
}

export function waitPidArg(arg: unknown): WaitPidArg {
  const where = 'containerManager.WaitPID';
  const a = objectArg(where, arg, '"CID", "PID"');
  const pid = a.PID;
  if (typeof pid !== 'number' || !Number.isInteger(pid) || pid < 1 || pid > 0x7fffffff) throw new ArgError(`${where}: PID must be an integer in 1..2147483647, got ${pid === undefined ? 'nothing' : oneLine(JSON.stringify(pid), 40)}`);
  return { CID: stringField(where, a, 'CID'), PID: pid };
}


/** containerManager.Checkpoint's argument: the container, and whether it runs on once saved (runsc's --leave-running). */
export interface CheckpointArg {
  CID: string;
  LeaveRunning: boolean;
}

/** Checkpoint and Restore take one file with the call: the image file, open for writing or for reading. */
function imageFile(where: string, files: CallFiles): number {
  const fds = files.take();
  if (fds.length !== 1) {
    for (const fd of fds) closeFd(fd);
    throw new ArgError(`${where}: expected the image file passed with the call, got ${fds.length} files`);
  }
  return fds[0];
}

export function checkpointArg(arg: unknown, files: CallFiles): [CheckpointArg, number] {
  const where = 'containerManager.Checkpoint';
  const a = objectArg(where, arg, '"CID", "LeaveRunning"');
  const leave = a.LeaveRunning ?? false;
  if (typeof leave !== 'boolean') throw new ArgError(`${where}: LeaveRunning must be a boolean, got ${describeType(leave)}`);
  const cid = stringField(where, a, 'CID');
  return [{ CID: cid, LeaveRunning: leave }, imageFile(where, files)];
}

/** containerManager.Restore's argument: the container id; the image file comes with the call. */
export function restoreArg(arg: unknown, files: CallFiles): [string, number] {
  const where = 'containerManager.Restore';
  const a = objectArg(where, arg, '"CID"');
  return [stringField(where, a, 'CID'), imageFile(where, files)];
}
