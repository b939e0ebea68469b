// `tsvisor rootfs --packages LIST DIR`: writes the rootfs of those Debian
// riscv64 packages (and all they need) into DIR, for a bundle's root.path:
// the same tree `tsvisor do --packages` runs in (src/debian/package-rootfs.ts),
// built once into the cache and copied from there, so DIR is the caller's to
// change.

import * as fs from 'node:fs';
import * as path from 'node:path';
import { FlagDef, FlagValues } from './flags.js';
import { Fatal } from './common.js';
import { packageRootfs } from './do.js';

export const ROOTFS_FLAGS: FlagDef[] = [
  { name: 'packages', kind: 'string', usage: 'the Debian riscv64 packages to install (comma separated); their dependencies and Debian\'s Essential set come too', default: '' },
  { name: 'refresh', kind: 'bool', usage: 'read the package index again instead of reusing the rootfs this list gave before', default: false },
];
export const ROOTFS_SYNOPSIS = 'tsvisor rootfs --packages LIST [--refresh] DIR';

export async function rootfsCommand(flags: FlagValues, positional: string[]): Promise<number> {
  if (!flags.packages) throw new Fatal('--packages is required', true);
  if (positional.length !== 1) throw new Fatal('one target directory is needed', true);
  const target = path.resolve(positional[0]);
  let entries: string[] = [];
  try {
    entries = fs.readdirSync(target);
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code !== 'ENOENT') throw new Fatal(`${target}: ${(e as NodeJS.ErrnoException).code === 'ENOTDIR' ? 'not a directory' : (e as Error).message}`);
  }
  if (entries.length > 0) throw new Fatal(`${target}: not empty`);
  const tree = await packageRootfs(flags.packages as string, flags.refresh === true);
  fs.cpSync(tree, target, { recursive: true, verbatimSymlinks: true, preserveTimestamps: true });
  // cpSync makes directories with the umask applied: give each its own mode back.
  const modes = (src: string, dst: string): void => {
    for (const d of fs.readdirSync(src, { withFileTypes: true })) {
      if (!d.isDirectory()) continue;
      modes(path.join(src, d.name), path.join(dst, d.name));
    }
    fs.chmodSync(dst, fs.statSync(src).mode & 0o7777);
  };
  modes(tree, target);
  return 0;
}
