// The user cache of Debian's riscv64 busybox-static for `tsvisor do`:
// fetched and verified once (fetch.ts), the binary extracted from the
// .deb (archive.ts), kept under $XDG_CACHE_HOME/tsvisor (else
// ~/.cache/tsvisor):
//
//   busybox-static/VERSION/busybox      the binary (VERSION with ":" as "%3a")
//   busybox-static/VERSION/info.json    package, version, sha256s, origin
//   busybox-static/current.json         the info.json of the version in use
//
// Later runs use current.json without the network, after checking the
// binary's sha256 against it (a damaged cache is fetched again).

import * as fs from 'node:fs';
import * as path from 'node:path';
import { debDataEntries, findFile, ArchiveError } from './archive.js';
import { chooseRepository, fetchPackage, FetchError, ProgressSink, Repository, sha256 } from './fetch.js';
import { busyboxApplets, checkRiscv64Elf } from './busybox-rootfs.js';
import { versionDir } from './deb-cache.js';


export const BUSYBOX_PACKAGE = 'busybox-static';
export const BUSYBOX_ARCH = 'riscv64';
/** Where the package keeps the binary, newest layout first. */
const BUSYBOX_PATHS = ['usr/bin/busybox', 'bin/busybox'];

export interface CachedBusybox {
  package: string;
  version: string;
  architecture: string;
  /** sha256 of the .deb, as the package index gave it. */
  debSha256: string;
  /** sha256 of the extracted binary. */
  sha256: string;
  mirror: string;
  suite: string;
  /** Absolute path of the cached binary. */
  binary: string;
  applets: number;
}

const currentFile = (cache: string): string => path.join(cache, BUSYBOX_PACKAGE, 'current.json');

/**
 * The sha256 current.json gives for the binary in use, without reading the
 * binary (busybox-template.ts checks its own copy); undefined without one.
 */
export function currentBusyboxSha256(cache: string): string | undefined {
  try {
    const hash = (JSON.parse(fs.readFileSync(currentFile(cache), 'utf8')) as Partial<CachedBusybox>).sha256;
    return typeof hash === 'string' && /^[0-9a-f]{64}$/.test(hash) ? hash : undefined;
  } catch {
    return undefined;
  }
}

/** The cached busybox, if present and intact. */
export function cachedBusybox(cache: string): CachedBusybox | undefined {
  let info: CachedBusybox;
  try {
    info = JSON.parse(fs.readFileSync(currentFile(cache), 'utf8')) as CachedBusybox;
    const bin = fs.readFileSync(path.join(cache, BUSYBOX_PACKAGE, versionDir(info.version), 'busybox'));
    if (sha256(bin) !== info.sha256) return undefined;
  } catch {
    return undefined;
  }
  return { ...info, binary: path.join(cache, BUSYBOX_PACKAGE, versionDir(info.version), 'busybox') };
}

export interface EnsureOptions {
  cache: string;
  repository?: Repository;
  progress?: (label: string) => ProgressSink | undefined;
}

/** The cached busybox, fetching it first when the cache has none (or a damaged one). */
export async function ensureBusybox(opts: EnsureOptions): Promise<CachedBusybox> {
  const have = cachedBusybox(opts.cache);
  if (have) return have;
  const repository = opts.repository ?? chooseRepository();
  const got = await fetchPackage(BUSYBOX_PACKAGE, BUSYBOX_ARCH, { repository, progress: opts.progress });
  let bin: Buffer;
  try {
    const file = findFile(await debDataEntries(got.deb), BUSYBOX_PATHS);
    if (!file) throw new ArchiveError(`no ${BUSYBOX_PATHS.join(' or ')} in the package`);
    bin = file.data;
  } catch (e) {
    if (e instanceof ArchiveError) throw new FetchError(`${BUSYBOX_PACKAGE} ${got.entry.version}: ${e.message}`);
    throw e;
  }
  const what = `${BUSYBOX_PACKAGE} ${got.entry.version}`;
  checkRiscv64Elf(bin, what);
  const applets = busyboxApplets(bin, what).length;
  const info: Omit<CachedBusybox, 'binary'> = {
    package: BUSYBOX_PACKAGE,
    version: got.entry.version,
    architecture: BUSYBOX_ARCH,
    debSha256: got.entry.sha256,
    sha256: sha256(bin),
    mirror: repository.mirror,
    suite: repository.suite,
    applets,
  };
  // Written beside, then renamed into place: a concurrent `do` sees either
  // nothing or a complete version directory.
  const pkgDir = path.join(opts.cache, BUSYBOX_PACKAGE);
  fs.mkdirSync(pkgDir, { recursive: true });
  const final = path.join(pkgDir, versionDir(info.version));
  const tmp = fs.mkdtempSync(path.join(pkgDir, '.tmp-'));
  try {
    fs.writeFileSync(path.join(tmp, 'busybox'), bin, { mode: 0o755 });
    fs.writeFileSync(path.join(tmp, 'info.json'), JSON.stringify(info, null, 2) + '\n');
    fs.rmSync(final, { recursive: true, force: true });
    try {
      fs.renameSync(tmp, final);
    } catch (e) {
      const code = (e as NodeJS.ErrnoException).code;
      if (code !== 'ENOTEMPTY' && code !== 'EEXIST') throw e; // else another run just put it there
    }
  } finally {
    fs.rmSync(tmp, { recursive: true, force: true });
  }
  const current = currentFile(opts.cache);
  fs.writeFileSync(`${current}.${process.pid}`, JSON.stringify(info, null, 2) + '\n');
  fs.renameSync(`${current}.${process.pid}`, current);
  const cached = cachedBusybox(opts.cache);
  if (!cached) throw new FetchError(`the cache at ${pkgDir} did not keep ${what}`);
  return cached;
}
