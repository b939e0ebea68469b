// `tsvisor do`'s default rootfs made once per busybox binary and kept in the
// user cache, so that a start lays out only a small skeleton
// (busybox-rootfs.ts `layoutBusyboxSkeleton`) and mounts the kept /bin over
// its empty one, read-only (src/main/do.ts; docs/STARTUP.md, "do's own
// cost"). Under the cache directory (deb-cache.ts `cacheDir`):
//
//   busybox-rootfs/L-SHA256/root/      layoutBusyboxRootfs's tree (hard
//                                      links) for the binary of that content
//                                      hash (L: TEMPLATE_LAYOUT); never
//                                      written once in place
//   busybox-rootfs/L-SHA256/info.json  the hash, the applet count, and the
//                                      identity of root/bin/busybox (device,
//                                      inode, size, change and modify times)
//   busybox-rootfs/files/IDENTITY      the content hash of a --busybox file,
//                                      by that file's identity (any path to
//                                      the same inode in the same state)
//
// At most busybox-prune.ts's MAX_TREES trees are kept, the least recently
// used pruned when a tree is made; a start holds its tree (a shared lock) for
// the sandbox's life, and a held tree is never removed (heldTemplate).
//
// A tree is built in a temporary directory beside and renamed into place, so
// a concurrent `do` sees none or a whole one. A start checks the tree with
// one stat: any write to the binary (or a new link to it) changes its
// identity, and then the binary is hashed again: the same content only
// updates info.json; other content removes the tree, which is built again.
// For the cached Debian binary (busybox-cache.ts) the tree's busybox is a
// hard link to it where the filesystem allows, so damage to the cache shows
// here too and is fetched again as before.

import * as fs from 'node:fs';
import * as path from 'node:path';
import { sha256, writeBeside } from './fetch.js';
import { BusyboxError, busyboxApplets, checkRiscv64Elf, DO_HOSTNAME, layoutBusyboxRootfs, layoutBusyboxSkeleton, linkApplets } from './busybox-rootfs.js';
import { currentBusyboxSha256, ensureBusybox, EnsureOptions } from './busybox-cache.js';
import { holdTree, pruneTemplates } from './busybox-prune.js';

/** Bumped when the tree's layout changes, so that older trees are not used. */
export const TEMPLATE_LAYOUT = 1;
/** The templates' directory under the cache. */
export const TEMPLATE_DIR = 'busybox-rootfs';

export interface BusyboxTemplate {
  /** The whole tree (what a command's lookup resolves in). */
  root: string;
  /** Its bin directory: what the sandbox mounts read-only at /bin. */
  bin: string;
}

interface TemplateInfo {
  layout: number;
  sha256: string;
  applets: number;
  busybox: string;
}

/**
 * A file's identity: what any change to its content, mode or links changes
 * (the change time, which no call can set back, moves with each of them).
 */
function identity(st: fs.BigIntStats): string {
  return [st.dev, st.ino, st.size, st.mtimeNs, st.ctimeNs].join('-');
}

function templateDir(cache: string, hash: string): string {
  if (!/^[0-9a-f]{64}$/.test(hash)) throw new Error(`bad sha256 ${JSON.stringify(hash)}`);
  return path.join(cache, TEMPLATE_DIR, `${TEMPLATE_LAYOUT}-${hash}`);
}

function templateAt(dir: string): BusyboxTemplate {
  const root = path.join(dir, 'root');
  return { root, bin: path.join(root, 'bin') };
}

/**
 * The kept tree of the binary with content hash `hash`, or undefined when
 * there is none or its busybox no longer holds that content.
 */
export function cachedTemplate(cache: string, hash: string): BusyboxTemplate | undefined {
  const dir = templateDir(cache, hash);
  const t = templateAt(dir);
  let info: TemplateInfo;
  let st: fs.BigIntStats;
  try {
    info = JSON.parse(fs.readFileSync(path.join(dir, 'info.json'), 'utf8')) as TemplateInfo;
    st = fs.statSync(path.join(t.bin, 'busybox'), { bigint: true });
  } catch {
    return undefined;
  }
  if (info.layout !== TEMPLATE_LAYOUT || info.sha256 !== hash) return undefined;
  if (info.busybox === identity(st)) return t;
  // Touched since: still the same bytes?
  try {
    const bin = fs.readFileSync(path.join(t.bin, 'busybox'));
    const now = fs.statSync(path.join(t.bin, 'busybox'), { bigint: true });
    if (sha256(bin) !== hash || identity(now) !== identity(st)) return undefined;
    info.busybox = identity(now);
  } catch {
    return undefined;
  }
  try {
    writeBeside(path.join(dir, 'info.json'), JSON.stringify(info) + '\n');
  } catch {
    // a cache we may not write: checked again next time
  }
  return t;
}

/**
 * Builds the tree for `bin` (a riscv64 busybox, checked here: `what` names it
 * in errors) under `cache`, or returns the one there. `linkFrom`: a file
 * holding the same bytes to hard-link as the tree's busybox instead of a copy.
 * Throws BusyboxError for a binary that cannot serve, and the filesystem's
 * error when the cache cannot be written.
 */
export function makeTemplate(cache: string, bin: Buffer, what: string, linkFrom?: string): BusyboxTemplate {
  checkRiscv64Elf(bin, what);
  const applets = busyboxApplets(bin, what);
  const hash = sha256(bin);
  const have = cachedTemplate(cache, hash);
  if (have) return have;
  const final = templateDir(cache, hash);
  fs.mkdirSync(path.dirname(final), { recursive: true });
  const tmp = fs.mkdtempSync(path.join(path.dirname(final), '.tmp-'));
  try {
    const root = path.join(tmp, 'root');
    layoutBusyboxSkeleton(root);
    const own = path.join(root, 'bin', 'busybox');
    let linked = false;
    if (linkFrom !== undefined) {
      try {
        fs.linkSync(linkFrom, own);
        linked = fs.readFileSync(own).equals(bin);
        if (!linked) fs.unlinkSync(own);
      } catch {
        // another filesystem, or links refused: a copy
      }
    }
    if (!linked) fs.writeFileSync(own, bin);
    fs.chmodSync(own, 0o755);
    linkApplets(path.join(root, 'bin'), applets, 'hard');
    const info: TemplateInfo = { layout: TEMPLATE_LAYOUT, sha256: hash, applets: applets.length, busybox: identity(fs.statSync(own, { bigint: true })) };
    fs.writeFileSync(path.join(tmp, 'info.json'), JSON.stringify(info) + '\n');
    // Into place. A tree already there is another `do`'s, just made, and
    // used as it is (a run may be starting in it: a sound tree is never
    // removed), or a damaged one, moved aside and removed.
    for (let attempt = 0; ; attempt++) {
      try {
        fs.renameSync(tmp, final);
        break;
      } catch (e) {
        const code = (e as NodeJS.ErrnoException).code;
        if ((code !== 'ENOTEMPTY' && code !== 'EEXIST') || attempt > 0) throw e;
        const theirs = cachedTemplate(cache, hash);
        if (theirs) return theirs;
        const aside = `${tmp}.damaged`;
        fs.renameSync(final, aside);
        fs.rmSync(aside, { recursive: true, force: true });
      }
    }
  } finally {
    fs.rmSync(tmp, { recursive: true, force: true });
  }
  // The cache grew: the least recently used trees beyond the bound go (never
  // this one, the cached Debian binary's, or one a start holds).
  const current = currentBusyboxSha256(cache);
  pruneTemplates(path.dirname(final), [path.basename(final), ...(current === undefined ? [] : [`${TEMPLATE_LAYOUT}-${current}`])]);
  return templateAt(final);
}

/**
 * The tree for the busybox binary at `file` (--busybox). Its content hash is
 * remembered by the file's identity, so a start with the file unchanged reads
 * nothing of it and hashes nothing: a stat, one small file, and
 * cachedTemplate's check. Errors as makeTemplate's.
 */
export function fileTemplate(cache: string, file: string): BusyboxTemplate {
  const abs = path.resolve(file);
  const st = fs.statSync(abs, { bigint: true });
  const index = path.join(cache, TEMPLATE_DIR, 'files', identity(st));
  try {
    const hash = fs.readFileSync(index, 'utf8').trim();
    const t = cachedTemplate(cache, hash);
    if (t) return t;
  } catch {
    // not seen in this state yet
  }
  const fd = fs.openSync(abs, 'r');
  let bin: Buffer;
  let same: boolean;
  try {
    bin = fs.readFileSync(fd);
    same = identity(fs.fstatSync(fd, { bigint: true })) === identity(st);
  } finally {
    fs.closeSync(fd);
  }
  const t = makeTemplate(cache, bin, file);
  // Remembered only when the bytes read are those of the identity stat saw.
  if (same) writeBeside(index, sha256(bin) + '\n');
  return t;
}

/** Whether `t` is a tree kept in `cache` (not one laid out for a run alone). */
function isKept(cache: string, t: BusyboxTemplate): boolean {
  return path.dirname(path.dirname(t.root)) === path.join(cache, TEMPLATE_DIR);
}

/**
 * busyboxTemplate's tree, held for the caller: `held` is an fd with a shared
 * lock on the kept tree (busybox-prune.ts holdTree), which no prune removes
 * while it is open; the caller keeps it open until the sandbox that uses the
 * tree is gone. Absent for a tree laid out for the run alone.
 */
export async function heldTemplate(opts: EnsureOptions & { busybox?: string; scratch: string }): Promise<{ template: BusyboxTemplate; held?: number }> {
  for (let attempt = 0; ; attempt++) {
    const template = await busyboxTemplate(opts);
    if (!isKept(opts.cache, template)) return { template };
    const held = holdTree(path.dirname(template.root));
    if (held !== undefined) return { template, held };
    // Pruned between the lookup and the lock: look it up (build it) again.
    if (attempt === 2) throw new Error(`the busybox tree at ${path.dirname(template.root)} keeps being removed`);
  }
}

/**
 * The tree `tsvisor do` runs in by default: the one kept for the cached
 * Debian busybox-static (fetched first when the cache has none or a damaged
 * one: busybox-cache.ts), or for `busybox` when given. Where the cache
 * cannot be written, the same tree is laid out under `scratch` (which the
 * caller removes) for this run alone.
 */
export async function busyboxTemplate(opts: EnsureOptions & { busybox?: string; scratch: string }): Promise<BusyboxTemplate> {
  const { cache } = opts;
  const fallback = (e: unknown, binary: string): BusyboxTemplate => {
    if (e instanceof BusyboxError || (e as NodeJS.ErrnoException).code === undefined) throw e;
    layoutBusyboxRootfs(opts.scratch, binary, DO_HOSTNAME, 'hard');
    return { root: opts.scratch, bin: path.join(opts.scratch, 'bin') };
  };
  if (opts.busybox !== undefined) {
    try {
      return fileTemplate(cache, opts.busybox);
    } catch (e) {
      return fallback(e, opts.busybox);
    }
  }
  const current = currentBusyboxSha256(cache);
  const kept = current === undefined ? undefined : cachedTemplate(cache, current);
  if (kept) return kept;
  const got = await ensureBusybox(opts);
  try {
    return makeTemplate(cache, fs.readFileSync(got.binary), `${got.package} ${got.version}`, got.binary);
  } catch (e) {
    return fallback(e, got.binary);
  }
}

