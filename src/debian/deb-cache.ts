// The user cache of Debian downloads, under $XDG_CACHE_HOME/tsvisor (else
// ~/.cache/tsvisor):
//
//   indexes/SHA256.xz                 Packages indexes, by their sha256 (fetch.ts)
//   debs/NAME_VERSION_ARCH.deb        packages (VERSION with ":" as "%3a")
//
// A .deb is downloaded once: later uses check its sha256 against the index
// entry and download it again only when it is missing or damaged. Files are
// written beside and renamed into place, so concurrent runs see all or nothing.

import * as os from 'node:os';
import * as path from 'node:path';
import { fetchDeb, FetchError, FetchOptions, ProgressSink, readIfHash, writeBeside } from './fetch.js';

/** $XDG_CACHE_HOME/tsvisor, else ~/.cache/tsvisor. */
export function cacheDir(env: NodeJS.ProcessEnv = process.env): string {
  const xdg = env.XDG_CACHE_HOME;
  const base = xdg && path.isAbsolute(xdg) ? xdg : path.join(env.HOME || os.homedir(), '.cache');
  return path.join(base, 'tsvisor');
}

/** A package version as a file name component (":" of an epoch as "%3a"); refuses anything else odd. */
export function versionDir(version: string): string {
  if (!/^[\w.+~:-]+$/.test(version)) throw new FetchError(`bad package version ${JSON.stringify(version)}`);
  return version.replace(/:/g, '%3a');
}

export interface DebRef {
  name: string;
  version: string;
  architecture: string;
  filename: string;
  size: number;
  sha256: string;
}

/** Where the cache keeps the .deb of `p`. */
export function debPath(cache: string, p: DebRef): string {
  return path.join(cache, 'debs', `${p.name}_${versionDir(p.version)}_${p.architecture}.deb`);
}

export interface EnsureDebsOptions {
  cache: string;
  fetch: FetchOptions;
  /** Told once what is missing, before any download (not called when nothing is). */
  onMissing?: (missing: DebRef[], bytes: number) => void;
  /** One sink for all the downloads together. */
  progress?: ProgressSink;
  /** Downloads in flight at once. */
  parallel?: number;
}

/**
 * The verified .deb of every package, downloading those the cache lacks (or
 * holds damaged): their bytes, in the order of `pkgs`.
 */
export async function ensureDebs(pkgs: DebRef[], opts: EnsureDebsOptions): Promise<Buffer[]> {
  const out: (Buffer | undefined)[] = pkgs.map((p) => readIfHash(debPath(opts.cache, p), p.sha256));
  const missing = pkgs.map((p, i) => ({ p, i })).filter(({ i }) => out[i] === undefined);
  if (missing.length === 0) return out as Buffer[];
  const total = missing.reduce((n, { p }) => n + p.size, 0);
  opts.onMissing?.(missing.map(({ p }) => p), total);
  let done = 0;
  const inFlight = new Map<number, number>();
  const report = (): void => opts.progress?.update(done + [...inFlight.values()].reduce((a, b) => a + b, 0), total);
  let next = 0;
  const worker = async (): Promise<void> => {
    while (next < missing.length) {
      const { p, i } = missing[next++];
      inFlight.set(i, 0);
      const sink: ProgressSink = {
        update: (received) => {
          inFlight.set(i, received);
          report();
        },
        done: () => undefined,
      };
      const deb = await fetchDeb(p, { ...opts.fetch, progress: () => sink }, p.name);
      writeBeside(debPath(opts.cache, p), deb);
      inFlight.delete(i);
      done += p.size;
      report();
      out[i] = deb;
    }
  };
  try {
    await Promise.all(Array.from({ length: Math.min(opts.parallel ?? 4, missing.length) }, worker));
  } finally {
    opts.progress?.done();
  }
  return out as Buffer[];
}
