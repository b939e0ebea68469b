// The parts of the OCI runtime specification (config.json) that tsvisor reads.
// Field names are the spec's own. Every object may carry fields not listed
// here: they are kept as read (the index signatures), never dropped, so a spec
// can be logged or handed on unchanged.
//
// Numbers are JavaScript numbers. Values that the spec types as uint64 and
// that exceed 2^53 (RLIM_INFINITY = 2^64-1, for one) arrive rounded by
// JSON.parse: treat any value >= 2^64 as "unlimited".

export interface Spec {
  ociVersion?: string;
  process?: Process;
  root?: Root;
  hostname?: string;
  mounts?: Mount[];
  linux?: Linux;
  annotations?: Record<string, string>;
  [extra: string]: unknown;
}

export interface Process {
  /** The program and its arguments; args[0] is looked up in PATH when it has no slash. Non-empty. */
  args: string[];
  /** Environment as "NAME=value" strings. */
  env?: string[];
  /** Working directory inside the container; absolute. */
  cwd: string;
  /** Whether the application's stdio is a terminal. */
  terminal?: boolean;
  consoleSize?: ConsoleSize;
  user?: User;
  capabilities?: Capabilities;
  rlimits?: Rlimit[];
  noNewPrivileges?: boolean;
  [extra: string]: unknown;
}

export interface ConsoleSize {
  height: number;
  width: number;
  [extra: string]: unknown;
}

export interface User {
  uid: number;
  gid: number;
  umask?: number;
  additionalGids?: number[];
  [extra: string]: unknown;
}

/** Capability names as Linux spells them with the CAP_ prefix, e.g. "CAP_KILL". */
export interface Capabilities {
  bounding?: string[];
  effective?: string[];
  inheritable?: string[];
  permitted?: string[];
  ambient?: string[];
  [extra: string]: unknown;
}

export interface Rlimit {
  /** e.g. "RLIMIT_NOFILE". */
  type: string;
  hard: number;
  soft: number;
  [extra: string]: unknown;
}

export interface Root {
  /** The root filesystem; relative paths are relative to the bundle directory. */
  path: string;
  readonly?: boolean;
  [extra: string]: unknown;
}

export interface Mount {
  /** Absolute path inside the container. */
  destination: string;
  /** Filesystem type, e.g. "proc", "tmpfs", "bind". */
  type?: string;
  /** Host path for bind mounts, or a device/name for others. */
  source?: string;
  options?: string[];
  [extra: string]: unknown;
}

export interface Linux {
  resources?: Resources;
  namespaces?: Namespace[];
  maskedPaths?: string[];
  readonlyPaths?: string[];
  uidMappings?: IdMapping[];
  gidMappings?: IdMapping[];
  [extra: string]: unknown;
}

export interface Resources {
  memory?: { limit?: number; [extra: string]: unknown };
  cpu?: { quota?: number; period?: number; cpus?: string; [extra: string]: unknown };
  pids?: { limit: number; [extra: string]: unknown };
  [extra: string]: unknown;
}

export type NamespaceType = 'pid' | 'network' | 'mount' | 'ipc' | 'uts' | 'user' | 'cgroup' | 'time';

export interface Namespace {
  type: NamespaceType;
  path?: string;
  [extra: string]: unknown;
}

export interface IdMapping {
  containerID: number;
  hostID: number;
  size: number;
  [extra: string]: unknown;
}

/** The PATH runc's default spec sets, and where a container's args[0] is searched when its environment has none. */
export const DEFAULT_PATH = '/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin';
