// Unpacking Debian packages into a rootfs directory, as dpkg --unpack would
// lay out their files but without dpkg: no maintainer script runs, no
// database is kept. Debian's usr-merge is honoured: /bin, /sbin and /lib
// are links into /usr, and a package's files under them land in /usr.
//
// The archives came from the network, so no entry may reach outside the
// rootfs: paths with ".." are refused, and every directory on the way to a
// file is resolved inside the rootfs (a symlink to "/etc" in a package
// means the rootfs's etc, never the host's), the leaf itself never followed.

import * as fs from 'node:fs';
import * as path from 'node:path';
import { ArchiveError, TarEntry } from './archive.js';
import { DO_HOSTNAME, GROUP, PASSWD } from './busybox-rootfs.js';

/** Top-level directories that Debian keeps in /usr (a link at the top). */
export const MERGED_DIRS = ['bin', 'sbin', 'lib', 'lib32', 'lib64', 'libx32'];

/** The rootfs-relative path where a package's `rel` lands: bin/x → usr/bin/x. */
export function mergedPath(rel: string): string {
  const top = rel.split('/')[0];
  return MERGED_DIRS.includes(top) ? `usr/${rel}` : rel;
}

/** Writes package entries into one rootfs, keeping every write inside it. */
export class RootfsWriter {
  /** Guest directory as named → its real path inside the rootfs (no symlinks), both without a leading "/". */
  private readonly dirs = new Map<string, string>([['', '']]);

  constructor(readonly root: string) {}

  /** An empty rootfs: /usr/{bin,sbin,lib} and the merged-/usr links to them. */
  start(): void {
    fs.mkdirSync(this.root, { recursive: true });
    fs.chmodSync(this.root, 0o755);
    for (const d of ['bin', 'sbin', 'lib']) {
      fs.mkdirSync(path.join(this.root, 'usr', d), { recursive: true, mode: 0o755 });
      fs.symlinkSync(`usr/${d}`, path.join(this.root, d));
    }
  }

  /** The real directory (inside the rootfs) that guest directory `dir` names, made when missing. */
  private realDir(dir: string, depth = 0): string {
    const known = this.dirs.get(dir);
    if (known !== undefined) return known;
    if (depth > 40) throw new ArchiveError(`${dir}: too many levels of symbolic links`);
    const parent = this.realDir(path.posix.dirname(dir) === '.' ? '' : path.posix.dirname(dir), depth);
    const real = parent ? `${parent}/${path.posix.basename(dir)}` : path.posix.basename(dir);
    const host = path.join(this.root, real);
    let result = real;
    let st: fs.Stats | undefined;
    try {
      st = fs.lstatSync(host);
    } catch {
      fs.mkdirSync(host, { mode: 0o755 });
    }
    if (st?.isSymbolicLink()) {
      const target = fs.readlinkSync(host);
      const guest = path.posix.normalize(target.startsWith('/') ? target : `/${parent}/${target}`).replace(/^\/+|\/+$/g, '');
      result = this.realDir(guest, depth + 1);
    } else if (st && !st.isDirectory()) {
      throw new ArchiveError(`${dir}: not a directory in the rootfs`);
    }
    this.dirs.set(dir, result);
    return result;
  }

  /** The host path of the leaf `rel` (its directory resolved, the leaf itself not followed). */
  private leaf(rel: string): string {
    const dir = path.posix.dirname(rel);
    const real = this.realDir(dir === '.' ? '' : dir);
    return path.join(this.root, real, path.posix.basename(rel));
  }

  /** Removes whatever non-directory `host` holds, so a new entry replaces it. */
  private clear(host: string): boolean {
    let st: fs.Stats;
    try {
      st = fs.lstatSync(host);
    } catch {
      return true;
    }
    if (st.isDirectory()) return false;
    fs.unlinkSync(host);
    return true;
  }

  /** Writes one tar entry of a package's data archive. */
  add(e: TarEntry): void {
    if (e.path === '' || e.path === '.') return;
    if (e.path.split('/').some((c) => c === '..' || c === '') || e.path.startsWith('/')) throw new ArchiveError(`unsafe path ${JSON.stringify(e.path)} in the package`);
    // The usr-merge links are ours: a package shipping them (base-files does) adds nothing.
    if (MERGED_DIRS.includes(e.path) && e.type === 'symlink') return;
    const rel = mergedPath(e.path);
    switch (e.type) {
      case 'dir': {
        const real = this.realDir(rel);
        fs.chmodSync(path.join(this.root, real), e.mode);
        return;
      }
      case 'file': {
        const host = this.leaf(rel);
        if (!this.clear(host)) throw new ArchiveError(`${e.path}: a directory in the rootfs, a file in the package`);
        fs.writeFileSync(host, e.data, { mode: e.mode });
        fs.chmodSync(host, e.mode);
        return;
      }
      case 'symlink': {
        const host = this.leaf(rel);
        if (this.clear(host)) fs.symlinkSync(e.linkTarget, host);
        return;
      }
      case 'hardlink': {
        const target = e.linkTarget.replace(/^(\.\/)+/, '');
        if (target.split('/').includes('..') || target.startsWith('/')) throw new ArchiveError(`unsafe link target ${JSON.stringify(e.linkTarget)} in the package`);
        const from = this.leaf(mergedPath(target));
        const host = this.leaf(rel);
        if (!this.clear(host)) return;
        try {
          fs.linkSync(from, host);
        } catch {
          fs.copyFileSync(from, host);
        }
        return;
      }
      default:
        return; // devices and fifos: the kernel's devfs serves /dev
    }
  }

  /**
   * What maintainer scripts would have done that a program needs to run:
   * the links of usr-merge for any /usr/lib64-like directory a package made,
   * /etc/passwd and /etc/group (base-passwd's masters, else minimal ones),
   * /etc/hostname and /etc/hosts, /bin/sh and /usr/bin/awk when only an
   * implementation is there, and the usual mount points and scratch dirs.
   */
  finish(hostname = DO_HOSTNAME): void {
    const at = (rel: string): string => path.join(this.root, rel);
    const exists = (rel: string): boolean => {
      try {
        fs.lstatSync(at(rel));
        return true;
      } catch {
        return false;
      }
    };
    for (const d of MERGED_DIRS) if (!exists(d) && exists(`usr/${d}`)) fs.symlinkSync(`usr/${d}`, at(d));
    const dir = (rel: string, mode: number): void => {
      if (!exists(rel)) fs.mkdirSync(at(rel), { recursive: true });
      fs.chmodSync(at(rel), mode);
    };
    for (const d of ['etc', 'proc', 'dev', 'sys', 'run', 'var', 'home']) dir(d, 0o755);
    dir('tmp', 0o1777);
    dir('var/tmp', 0o1777);
    dir('root', 0o700);
    const file = (rel: string, content: string | Buffer): void => {
      if (!exists(rel)) fs.writeFileSync(at(rel), content, { mode: 0o644 });
    };
    const master = (name: string): Buffer | undefined => {
      try {
        return fs.readFileSync(at(`usr/share/base-passwd/${name}.master`));
      } catch {
        return undefined;
      }
    };
    file('etc/passwd', master('passwd') ?? PASSWD);
    file('etc/group', master('group') ?? GROUP);
    file('etc/hostname', `${hostname}\n`);
    file('etc/hosts', `127.0.0.1\tlocalhost\n::1\tlocalhost ip6-localhost ip6-loopback\n127.0.1.1\t${hostname}\n`);
    // update-alternatives and dash's configuration run from maintainer scripts.
    const alternatives: [string, string[]][] = [
      ['usr/bin/sh', ['dash', 'bash']],
      ['usr/bin/awk', ['mawk', 'gawk', 'original-awk']],
    ];
    for (const [link, impls] of alternatives) {
      if (exists(link)) continue;
      const impl = impls.find((i) => exists(`usr/bin/${i}`));
      if (impl) fs.symlinkSync(impl, at(link));
    }
  }
}
