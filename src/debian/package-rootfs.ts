// A rootfs assembled from Debian packages, cached by package set, for
// `tsvisor do --packages` and `tsvisor rootfs --packages`:
//
//   rootfs/KEY/root/          the assembled tree (KEY: a hash of the sorted
//                             resolved list, name version architecture sha256)
//   rootfs/KEY/info.json      what it holds; written last, so its presence
//                             says the tree is complete
//   rootfs/requests/RKEY.json the KEY a request (packages asked for, mirror,
//                             suite, components) resolved to, so that a later
//                             run with the same request starts at once, offline
//
// beside the indexes and .debs of deb-cache.ts. Building: the indexes
// (checked through Release), the closure of the request with Debian's
// Essential set (packages.ts), each .deb downloaded once and checked against
// the index (deb-cache.ts), unpacked with usr-merge (unpack.ts) in a
// temporary directory renamed into place. With a `GuestRunner`, the tree is
// then finished as the maintainer scripts would have finished it
// (postinst.ts: python's modules byte-compiled by the rootfs's own python)
// before it is renamed into place; such a tree has a key of its own.

import * as crypto from 'node:crypto';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { ArchiveError, debDataEntries } from './archive.js';
import { ensureDebs } from './deb-cache.js';
import { chooseRepository, fetchIndexes, FetchError, ProgressSink, Repository, writeBeside } from './fetch.js';
import { PackageIndex, resolvePackages } from './packages.js';
import { RootfsWriter } from './unpack.js';
import { byteCompile, GuestRunner, postinstKey } from './postinst.js';

export const PACKAGES_ARCH = 'riscv64';
/** Bumped when the layout of an assembled rootfs changes, so older trees are not reused. */
const LAYOUT_VERSION = 1;

export interface RootfsInfo {
  layout: number;
  requested: string[];
  packages: { name: string; version: string; architecture: string; sha256: string }[];
  mirror: string;
  suite: string;
  /** Sum of the .deb sizes. */
  debBytes: number;
}

export interface PackageRootfs {
  /** The assembled tree (read it, copy it; do not write into it). */
  root: string;
  info: RootfsInfo;
  /** True when it came from the cache without any download. */
  cached: boolean;
}

export interface PackageRootfsOptions {
  cache: string;
  repository?: Repository;
  /** Makes a progress sink for one download (a terminal's bar), or none. */
  progress?: (label: string) => ProgressSink | undefined;
  /** Plain lines about what is being done (for a stderr that is not a terminal). */
  log?: (line: string) => void;
  /** Resolve again even when the request was resolved before. */
  refresh?: boolean;
  /**
   * Runs the rootfs's own programs (a sandbox; see postinst.ts): given, the
   * tree gets what the packages' postinst scripts would have made, python's
   * .pyc files. A tree built without it is not taken for one built with it.
   */
  postinst?: GuestRunner;
}

/** The package names of a `--packages` list: comma or space separated, sorted, without duplicates; throws on a malformed name. */
export function parsePackageList(list: string): string[] {
  const names = list.split(/[\s,]+/).filter(Boolean);
  for (const n of names) if (!/^[a-z0-9][a-z0-9+.-]+$/.test(n)) throw new FetchError(`bad package name ${JSON.stringify(n)}`);
  return [...new Set(names)].sort();
}

function hash(text: string): string {
  return crypto.createHash('sha256').update(text).digest('hex').slice(0, 32);
}

function readInfo(dir: string): RootfsInfo | undefined {
  try {
    const info = JSON.parse(fs.readFileSync(path.join(dir, 'info.json'), 'utf8')) as RootfsInfo;
    return info.layout === LAYOUT_VERSION && fs.statSync(path.join(dir, 'root')).isDirectory() ? info : undefined;
  } catch {
    return undefined;
  }
}

/** The rootfs holding `requested` (package names) and everything they need, from the cache or built into it. */
export async function ensurePackageRootfs(requested: string[], opts: PackageRootfsOptions): Promise<PackageRootfs> {
  const base = path.join(opts.cache, 'rootfs');
  const repository = opts.repository ?? chooseRepository();
  const request = [...new Set(requested)].sort();
  const postinst = opts.postinst ? { postinst: true } : {};
  const requestFile = path.join(base, 'requests', `${hash(JSON.stringify({ layout: LAYOUT_VERSION, arch: PACKAGES_ARCH, repository, request, ...postinst }))}.json`);
  if (!opts.refresh) {
    try {
      const key = (JSON.parse(fs.readFileSync(requestFile, 'utf8')) as { key: string }).key;
      const info = /^[0-9a-f]{32}$/.test(key) ? readInfo(path.join(base, key)) : undefined;
      if (info) return { root: path.join(base, key, 'root'), info, cached: true };
    } catch {
      // not resolved before
    }
  }
  const fetch = { repository, progress: opts.progress, indexCache: path.join(opts.cache, 'indexes') };
  const index = new PackageIndex(await fetchIndexes(PACKAGES_ARCH, fetch), PACKAGES_ARCH);
  const pkgs = resolvePackages(index, request);
  const steps = opts.postinst ? postinstKey(pkgs.map((p) => p.name)) : '';
  const key = hash(`tsvisor rootfs ${LAYOUT_VERSION}\n${pkgs.map((p) => `${p.name} ${p.version} ${p.architecture} ${p.sha256}\n`).sort().join('')}${steps}`);
  const dir = path.join(base, key);
  const remember = (): void => writeBeside(requestFile, JSON.stringify({ key, request }) + '\n');
  const have = readInfo(dir);
  if (have) {
    remember();
    return { root: path.join(dir, 'root'), info: have, cached: true };
  }
  const debBytes = pkgs.reduce((n, p) => n + p.size, 0);
  const debs = await ensureDebs(pkgs, {
    cache: opts.cache,
    fetch,
    progress: opts.progress?.(`${pkgs.length} packages`),
    onMissing: (missing, bytes) => opts.log?.(`tsvisor: fetching ${missing.length} of ${pkgs.length} packages (${(bytes / 1048576).toFixed(1)} MiB) from ${repository.mirror} ${repository.suite}\n`),
  });
  fs.mkdirSync(base, { recursive: true });
  const tmp = fs.mkdtempSync(path.join(base, '.tmp-'));
  try {
    const writer = new RootfsWriter(path.join(tmp, 'root'));
    writer.start();
    // Dependencies were chosen after their dependents: unpack them first, as dpkg would.
    for (let i = pkgs.length - 1; i >= 0; i--) {
      try {
        for (const e of await debDataEntries(debs[i])) writer.add(e);
      } catch (e) {
        if (e instanceof ArchiveError) throw new FetchError(`${pkgs[i].name} ${pkgs[i].version}: ${e.message}`);
        throw e;
      }
    }
    writer.finish();
    if (steps && opts.postinst) await byteCompile(path.join(tmp, 'root'), opts.postinst, opts.log);
    const info: RootfsInfo = {
      layout: LAYOUT_VERSION,
      requested: request,
      packages: pkgs.map((p) => ({ name: p.name, version: p.version, architecture: p.architecture, sha256: p.sha256 })).sort((a, b) => (a.name < b.name ? -1 : 1)),
      mirror: repository.mirror,
      suite: repository.suite,
      debBytes,
    };
    fs.writeFileSync(path.join(tmp, 'info.json'), JSON.stringify(info, null, 2) + '\n');
    try {
      fs.renameSync(tmp, dir);
    } catch (e) {
      const code = (e as NodeJS.ErrnoException).code;
      if (code !== 'ENOTEMPTY' && code !== 'EEXIST') throw e; // else another run just built the same set
    }
  } finally {
    fs.rmSync(tmp, { recursive: true, force: true });
  }
  const info = readInfo(dir);
  if (!info) throw new FetchError(`the cache at ${dir} did not keep the rootfs`);
  remember();
  return { root: path.join(dir, 'root'), info, cached: false };
}
