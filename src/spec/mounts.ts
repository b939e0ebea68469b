// The filesystems a spec gives the sandbox besides its own (proc, /dev, sysfs,
// devpts, mqueue and cgroup are the kernel's): tmpfs mounts, and the host
// directories the gofer exports, the root first, then each bind mount in spec
// order. Boot and the gofer both read the spec through these two functions,
// so io fd i always serves the same filesystem on both sides.

import * as path from 'node:path';
import type { Mount, Spec } from './types.js';

/**
 * A filesystem the spec mounts, as the kernel serves it: a tmpfs of its own,
 * or a host directory or regular file (a bind mount) in direct mode. The spec's proc, /dev,
 * sysfs, devpts, mqueue and cgroup mounts are the kernel's own filesystems
 * and are not listed.
 */
export type SandboxMount =
  | { kind: 'tmpfs'; destination: string; options: string[] }
  | { kind: 'bind'; destination: string; source: string; readonly: boolean };

/**
 * The spec's mounts that the kernel serves (in spec order): type "tmpfs", and
 * bind mounts (type "bind" or a "bind"/"rbind" option), whose relative
 * sources are relative to the bundle. Read-only when the options hold "ro".
 * An unusable mount (a relative destination, a bind without a source) is an
 * Error naming it.
 */
export function sandboxMounts(mounts: readonly Mount[], bundleDir: string): SandboxMount[] {
  const out: SandboxMount[] = [];
  for (const m of mounts) {
    const opts = m.options ?? [];
    const dest = m.destination;
    if (typeof dest !== 'string' || !dest.startsWith('/')) throw new Error(`mount destination ${JSON.stringify(dest)} is not an absolute path`);
    const destination = path.posix.normalize(dest).replace(/\/+$/, '') || '/';
    const bind = m.type === 'bind' || opts.includes('bind') || opts.includes('rbind');
    if (bind) {
      if (!m.source) throw new Error(`bind mount at ${destination} has no source`);
      out.push({ kind: 'bind', destination, source: path.resolve(bundleDir, m.source), readonly: opts.includes('ro') });
    } else if (m.type === 'tmpfs' && destination !== '/dev') {
      out.push({ kind: 'tmpfs', destination, options: [...opts] });
    }
  }
  return out;
}

/**
 * The host directories (and, for bind mounts, regular files) a spec's
 * filesystems come from: the root, then each bind mount in order.
 */
export interface ExportSpec {
  hostPath: string;
  readonly: boolean;
  /** Where the sandbox mounts it ("/" for the root). */
  destination: string;
  /** The export may be one regular file rather than a directory: a bind mount's source may, the rootfs never. */
  fileRoot: boolean;
}

export function exportsOf(spec: Spec, bundle: string): ExportSpec[] {
  const root: ExportSpec = { hostPath: path.resolve(bundle, spec.root!.path), readonly: spec.root!.readonly === true, destination: '/', fileRoot: false };
  const binds = sandboxMounts(spec.mounts ?? [], bundle).flatMap((m) => (m.kind === 'bind' ? [{ hostPath: m.source, readonly: m.readonly, destination: m.destination, fileRoot: true }] : []));
  return [root, ...binds];
}

