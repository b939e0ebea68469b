// The default rootfs of `tsvisor do`: one static riscv64 busybox and a link
// for each of its applets. The busybox differential suite
// (fixtures/busybox) lays out its rootfs with the same function, so that
// QEMU and the sandbox see the same tree.

import * as fs from 'node:fs';
import * as path from 'node:path';

/** A busybox binary that cannot serve as the rootfs's (not riscv64, no applet table). */
export class BusyboxError extends Error {}

const EM_RISCV = 0xf3;

/** Throws unless `bin` is a 64-bit little-endian riscv64 ELF executable. */
export function checkRiscv64Elf(bin: Buffer, what: string): void {
  if (bin.length < 64 || bin.readUInt32BE(0) !== 0x7f454c46) throw new BusyboxError(`${what}: not an ELF file`);
  if (bin[4] !== 2 || bin[5] !== 1) throw new BusyboxError(`${what}: not a 64-bit little-endian ELF file`);
  const machine = bin.readUInt16LE(18);
  if (machine !== EM_RISCV) throw new BusyboxError(`${what}: an ELF file for machine ${machine}, not riscv64 (${EM_RISCV})`);
  const type = bin.readUInt16LE(16);
  if (type !== 2 && type !== 3) throw new BusyboxError(`${what}: not an executable (ELF type ${type})`);
}

/**
 * The applet names compiled into a busybox binary, in its own order: busybox
 * keeps them as one string table of NUL-terminated names, sorted (it
 * bsearches them), starting with "[" and "[[" in every configuration that
 * has `test`, and ending with an empty string. This is what `busybox
 * --list` prints.
 */
export function busyboxApplets(bin: Buffer, what = 'busybox'): string[] {
  const NAME = /^[\x21-\x7e]+$/;
  for (let at = bin.indexOf('[\0[[\0'); at >= 0; at = bin.indexOf('[\0[[\0', at + 1)) {
    const names: string[] = [];
    let off = at;
    for (;;) {
      const end = bin.indexOf(0, off);
      if (end < 0) break;
      const name = bin.toString('latin1', off, end);
      if (name === '') break;
      names.push(name);
      off = end + 1;
    }
    const sorted = names.every((n, i) => NAME.test(n) && !n.includes('/') && (i === 0 || Buffer.compare(Buffer.from(names[i - 1], 'latin1'), Buffer.from(n, 'latin1')) < 0));
    if (sorted && names.length >= 3 && names.includes('sh')) return names;
  }
  throw new BusyboxError(`${what}: no applet table (not a busybox binary, or one without "[" and "sh")`);
}

/** The guest's PATH in a `tsvisor do` rootfs. */
export const DO_PATH = '/bin:/sbin:/usr/bin:/usr/sbin';

/** The hostname of a `tsvisor do` sandbox (also /etc/hostname). */
export const DO_HOSTNAME = 'tsvisor';

export const PASSWD = 'root:x:0:0:root:/root:/bin/sh\n' + 'daemon:x:1:1:daemon:/usr/sbin:/bin/false\n' + 'nobody:x:65534:65534:nobody:/nonexistent:/bin/false\n';
export const GROUP = 'root:x:0:\n' + 'daemon:x:1:\n' + 'nogroup:x:65534:\n';

/**
 * Fills the empty (or absent) directory `rootfs`, modes set explicitly so the
 * umask does not decide what a guest sees:
 *
 *   /bin/busybox               a copy of `busybox`, 0755
 *   /bin/APPLET -> busybox     one symlink per applet (busybox --install -s),
 *                              or with `links` 'hard' one hard link to
 *                              /bin/busybox (busybox --install): no inode
 *                              to create per applet (docs/STARTUP.md, the
 *                              fifth pass)
 *   the skeleton               layoutBusyboxSkeleton's
 *
 * Returns the applets linked.
 */
export function layoutBusyboxRootfs(rootfs: string, busybox: string, hostname = DO_HOSTNAME, links: 'symbolic' | 'hard' = 'symbolic'): string[] {
  const bin = fs.readFileSync(busybox);
  checkRiscv64Elf(bin, busybox);
  const applets = busyboxApplets(bin, busybox);
  layoutBusyboxSkeleton(rootfs, hostname);
  writeFile(path.join(rootfs, 'bin', 'busybox'), bin, 0o755);
  linkApplets(path.join(rootfs, 'bin'), applets, links);
  return applets;
}

/** One entry of the skeleton: a directory, a symbolic link or a small file, with its mode. */
export type SkeletonEntry =
  | { rel: string; type: 'dir'; mode: number; children: string[] }
  | { rel: string; type: 'link'; target: string }
  | { rel: string; type: 'file'; mode: number; content: string };

/**
 * Every directory and file of layoutBusyboxRootfs's tree but what /bin holds
 * (left an empty directory, 0755), parents before their children:
 *
 *   /sbin -> bin, /usr/bin -> ../bin, /usr/sbin -> ../bin
 *                              so every path `busybox --list-full` names works
 *   /etc/passwd, /etc/group    root, daemon, nobody; /etc/hostname
 *   /tmp 1777; /proc, /dev (mount points) 0755; /root 0700
 */
export function busyboxSkeleton(hostname = DO_HOSTNAME): SkeletonEntry[] {
  const dir = (rel: string, mode: number, children: string[] = []): SkeletonEntry => ({ rel, type: 'dir', mode, children });
  return [
    dir('.', 0o755, ['bin', 'dev', 'etc', 'proc', 'root', 'sbin', 'tmp', 'usr']),
    dir('bin', 0o755),
    dir('etc', 0o755, ['group', 'hostname', 'passwd']),
    dir('usr', 0o755, ['bin', 'sbin']),
    dir('proc', 0o755),
    dir('dev', 0o755),
    dir('tmp', 0o1777),
    dir('root', 0o700),
    { rel: 'sbin', type: 'link', target: 'bin' },
    { rel: 'usr/bin', type: 'link', target: '../bin' },
    { rel: 'usr/sbin', type: 'link', target: '../bin' },
    { rel: 'etc/passwd', type: 'file', mode: 0o644, content: PASSWD },
    { rel: 'etc/group', type: 'file', mode: 0o644, content: GROUP },
    { rel: 'etc/hostname', type: 'file', mode: 0o644, content: `${hostname}\n` },
  ];
}

/**
 * Lays out busyboxSkeleton at `rootfs` (empty or absent), modes set
 * explicitly so the umask does not decide what a guest sees. `tsvisor do`
 * runs in one at every start, its /bin a mount of the kept tree
 * (src/debian/busybox-template.ts).
 */
export function layoutBusyboxSkeleton(rootfs: string, hostname = DO_HOSTNAME): void {
  for (const e of busyboxSkeleton(hostname)) {
    const p = path.join(rootfs, e.rel);
    if (e.type === 'dir') {
      fs.mkdirSync(p, { recursive: true });
      fs.chmodSync(p, e.mode);
    } else if (e.type === 'link') {
      fs.symlinkSync(e.target, p);
    } else {
      writeFile(p, e.content, e.mode);
    }
  }
}

/**
 * True when `rootfs` holds exactly busyboxSkeleton: no other name, every
 * entry of its type, mode, owner (this process's) and content.
 */
export function isBusyboxSkeleton(rootfs: string, hostname = DO_HOSTNAME): boolean {
  const uid = process.geteuid?.();
  const gid = process.getegid?.();
  try {
    for (const e of busyboxSkeleton(hostname)) {
      const p = path.join(rootfs, e.rel);
      const st = fs.lstatSync(p);
      if ((uid !== undefined && st.uid !== uid) || (gid !== undefined && st.gid !== gid)) return false;
      if (e.type === 'dir') {
        if (!st.isDirectory() || (st.mode & 0o7777) !== e.mode) return false;
        if (fs.readdirSync(p).sort().join('/') !== e.children.join('/')) return false;
      } else if (e.type === 'link') {
        if (!st.isSymbolicLink() || fs.readlinkSync(p) !== e.target) return false;
      } else if (!st.isFile() || (st.mode & 0o7777) !== e.mode || st.nlink !== 1 || fs.readFileSync(p, 'utf8') !== e.content) {
        return false;
      }
    }
  } catch {
    return false;
  }
  return true;
}

/** Links each applet but busybox itself in `binDir` to `binDir`/busybox. */
export function linkApplets(binDir: string, applets: readonly string[], links: 'symbolic' | 'hard'): void {
  const own = path.join(binDir, 'busybox');
  for (const a of applets) {
    if (a === 'busybox') continue;
    if (links === 'hard') fs.linkSync(own, path.join(binDir, a));
    else fs.symlinkSync('busybox', path.join(binDir, a));
  }
}

function writeFile(p: string, content: string | Buffer, mode: number): void {
  fs.writeFileSync(p, content);
  fs.chmodSync(p, mode);
}

/**
 * Resolves `cmd` the way runc does before exec: a name without "/" is looked
 * up in each directory of `searchPath` inside `rootfs` (symlinks followed,
 * absolute ones relative to the rootfs, never out of it); a path is used as
 * given. Returns the guest path, or undefined when no executable file is found.
 */
export function lookPathInRootfs(rootfs: string, cmd: string, searchPath: string): string | undefined {
  const candidates = cmd.includes('/') ? [cmd.startsWith('/') ? cmd : `/${cmd}`] : searchPath.split(':').filter((d) => d.startsWith('/')).map((d) => path.posix.join(d, cmd));
  for (const guest of candidates) {
    const host = resolveInRootfs(rootfs, guest);
    if (host === undefined) continue;
    try {
      const st = fs.statSync(host);
      if (st.isFile() && st.mode & 0o111) return cmd.includes('/') ? cmd : guest;
    } catch {
      // not there
    }
  }
  return undefined;
}

/** The host path of guest path `guest` with every symlink resolved inside `rootfs`; undefined when missing or looping. */
export function resolveInRootfs(rootfs: string, guest: string): string | undefined {
  const todo = guest.split('/').filter(Boolean);
  const done: string[] = [];
  let links = 0;
  while (todo.length > 0) {
    const part = todo.shift()!;
    if (part === '.') continue;
    if (part === '..') {
      done.pop(); // ".." at the root stays at the root
      continue;
    }
    const host = path.join(rootfs, ...done, part);
    let st: fs.Stats;
    try {
      st = fs.lstatSync(host);
    } catch {
      return undefined;
    }
    if (st.isSymbolicLink()) {
      if (++links > 40) return undefined;
      const target = fs.readlinkSync(host);
      if (target.startsWith('/')) done.length = 0;
      todo.unshift(...target.split('/').filter(Boolean));
      continue;
    }
    done.push(part);
  }
  return path.join(rootfs, ...done);
}
