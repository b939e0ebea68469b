// Reading and validating the OCI runtime spec (config.json), and the default
// spec that `tsvisor spec` writes.
//
// Contract: parseSpec either returns the parsed object, unknown fields kept,
// or throws a SpecError whose message is one line naming the JSON path of the
// first bad field and what was expected there. Nothing is filled in or
// coerced: a spec is validated, not rewritten.

import * as fs from 'node:fs';
import * as path from 'node:path';
import type { ErrorObject, ValidateFunction } from 'ajv';
import { DEFAULT_PATH, type Spec } from './types.js';

/** A spec that cannot be read or is not valid. The message is one line, fit for a user. */
export class SpecError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'SpecError';
  }
}

/** A spec file larger than this is refused rather than read into memory. */
export const MAX_SPEC_BYTES = 16 * 1024 * 1024;

/** ajv's options for the spec schema, ahead of time (precompile.ts) and here alike. */
export const AJV_OPTIONS = { allErrors: false, strict: true } as const;

/** The schema's validator compiled at build time (precompile.ts), beside this module once built. */
export const PRECOMPILED_VALIDATOR = 'spec-validate.js';

let validator: ValidateFunction | undefined;

/**
 * The spec schema's validator: the one compiled at build time, else (a build
 * that skipped that step) ajv compiling it now. Both answer alike.
 */
function validate(): ValidateFunction {
  if (validator) return validator;
  const built = path.join(__dirname, PRECOMPILED_VALIDATOR);
  // Required by its literal name (PRECOMPILED_VALIDATOR's value), so that the
  // bundles (src/bundle/build.ts) hold it, compiled in their code cache.
  if (fs.existsSync(built)) validator = require('./spec-validate.js') as ValidateFunction;
  else validator = compileValidator();
  return validator;
}

/** The validator compiled by ajv at run time. */
export function compileValidator(): ValidateFunction {
  const { Ajv } = require('ajv') as typeof import('ajv');
  const { specSchema } = require('./schema.js') as typeof import('./schema.js');
  return new Ajv(AJV_OPTIONS).compile(specSchema);
}

/** Collapses a message onto one line and bounds its length. */
function oneLine(s: string, max = 300): string {
  const t = s.replace(/\s+/g, ' ').trim();
  return t.length > max ? t.slice(0, max) + '...' : t;
}

/** One error of ajv, told as "PATH: expectation". */
function describe(err: ErrorObject): string {
  let path = err.instancePath;
  let what = err.message ?? 'is invalid';
  const params = err.params as Record<string, unknown>;
  switch (err.keyword) {
    case 'required':
      path += '/' + String(params.missingProperty).replace(/~/g, '~0').replace(/\//g, '~1');
      what = 'is required';
      break;
    case 'pattern':
      if (params.pattern === '^/') what = 'must be an absolute path';
      break;
    case 'enum':
      what = `must be one of ${(params.allowedValues as unknown[]).map((v) => JSON.stringify(v)).join(', ')}`;
      break;
  }
  return `${path === '' ? 'top level' : path}: ${what}`;
}

/** Parses and validates a spec's JSON text. Throws SpecError. */
export function parseSpec(text: string): Spec {
  let value: unknown;
  try {
    // A byte-order mark is not JSON, but editors write one; skip it.
    value = JSON.parse(text.charCodeAt(0) === 0xfeff ? text.slice(1) : text);
  } catch (e) {
    throw new SpecError(`invalid spec: not JSON: ${oneLine(e instanceof Error ? e.message : String(e))}`);
  }
  const v = validate();
  if (!v(value)) {
    const err = v.errors?.[0];
    throw new SpecError(`invalid spec: ${err ? oneLine(describe(err)) : 'does not match the schema'}`);
  }
  return value as Spec;
}

/**
 * Reads the whole file behind `fd` from offset 0, whatever the fd's current
 * offset (a parent may have written the spec through the same open file),
 * and parses it. A pipe cannot be read at an offset: it is read from where it
 * stands to its end. The fd is left open, its offset unchanged for files.
 * Throws SpecError, also for I/O errors.
 */
export function readSpecFromFd(fd: number): Spec {
  const chunks: Buffer[] = [];
  let total = 0;
  let position: number | null = 0;
  for (;;) {
    const buf = Buffer.allocUnsafe(64 * 1024);
    let n: number;
    try {
      n = fs.readSync(fd, buf, 0, buf.length, position);
    } catch (e) {
      const code = (e as NodeJS.ErrnoException).code;
      if (code === 'ESPIPE' && position === 0) {
        position = null; // a pipe or socket: read it as a stream
        continue;
      }
      if (code === 'EAGAIN') {
        throw new SpecError(`invalid spec: cannot read spec fd ${fd}: it is non-blocking and has no data yet`);
      }
      throw new SpecError(`invalid spec: cannot read spec fd ${fd}: ${oneLine(e instanceof Error ? e.message : String(e))}`);
    }
    if (n === 0) break;
    total += n;
    if (total > MAX_SPEC_BYTES) throw new SpecError(`invalid spec: spec fd ${fd} holds more than ${MAX_SPEC_BYTES} bytes`);
    chunks.push(buf.subarray(0, n));
    if (position !== null) position += n;
  }
  return parseSpec(Buffer.concat(chunks, total).toString('utf8'));
}

/** The capabilities a default container keeps, as runc's default spec has them. */
const DEFAULT_CAPS = ['CAP_AUDIT_WRITE', 'CAP_KILL', 'CAP_NET_BIND_SERVICE'];

/**
 * The spec `tsvisor spec` writes, in the shape of `runsc spec` (itself runc's
 * default): run `sh` on a terminal in ./rootfs (read-only) as root, with
 * runc's default capabilities, 1024 open files, the usual pseudo-filesystems,
 * and runc's masked and read-only /proc and /sys paths. A fresh object each call.
 */
export function defaultSpec(): Spec {
  return {
    ociVersion: '1.0.2',
    process: {
      terminal: true,
      user: { uid: 0, gid: 0 },
      args: ['sh'],
      env: [`PATH=${DEFAULT_PATH}`, 'TERM=xterm'],
      cwd: '/',
      capabilities: {
        bounding: [...DEFAULT_CAPS],
        effective: [...DEFAULT_CAPS],
        permitted: [...DEFAULT_CAPS],
        ambient: [...DEFAULT_CAPS],
      },
      rlimits: [{ type: 'RLIMIT_NOFILE', hard: 1024, soft: 1024 }],
      noNewPrivileges: true,
    },
    root: { path: 'rootfs', readonly: true },
    hostname: 'tsvisor',
    mounts: [
      { destination: '/proc', type: 'proc', source: 'proc' },
      {
        destination: '/dev',
        type: 'tmpfs',
        source: 'tmpfs',
        options: ['nosuid', 'strictatime', 'mode=755', 'size=65536k'],
      },
      {
        destination: '/dev/pts',
        type: 'devpts',
        source: 'devpts',
        options: ['nosuid', 'noexec', 'newinstance', 'ptmxmode=0666', 'mode=0620', 'gid=5'],
      },
      {
        destination: '/dev/shm',
        type: 'tmpfs',
        source: 'shm',
        options: ['nosuid', 'noexec', 'nodev', 'mode=1777', 'size=65536k'],
      },
      { destination: '/dev/mqueue', type: 'mqueue', source: 'mqueue', options: ['nosuid', 'noexec', 'nodev'] },
      { destination: '/sys', type: 'sysfs', source: 'sysfs', options: ['nosuid', 'noexec', 'nodev', 'ro'] },
    ],
    linux: {
      resources: { devices: [{ allow: false, access: 'rwm' }] },
      namespaces: [{ type: 'pid' }, { type: 'network' }, { type: 'ipc' }, { type: 'uts' }, { type: 'mount' }],
      maskedPaths: [
        '/proc/acpi',
        '/proc/asound',
        '/proc/kcore',
        '/proc/keys',
        '/proc/latency_stats',
        '/proc/timer_list',
        '/proc/timer_stats',
        '/proc/sched_debug',
        '/proc/scsi',
        '/sys/firmware',
      ],
      readonlyPaths: ['/proc/bus', '/proc/fs', '/proc/irq', '/proc/sys', '/proc/sysrq-trigger'],
    },
  };
}
