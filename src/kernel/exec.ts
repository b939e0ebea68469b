// Program loading (Linux's fs/exec.c and binfmt_elf/binfmt_script): execve,
// `#!` scripts, the ELF image with its interpreter, the initial stack, and
// the PATH search a container's first program gets.
//
// Contract: the new image is built in a fresh address space and swapped in
// only once it has loaded, so a failure leaves the caller's image intact;
// past that point the old image, its timers, close-on-exec fds and caught
// signal actions are gone, and a vfork parent waiting on the caller resumes.

import * as abi from '../linux/abi.js';
import { Errno, isErrno, ENOEXEC, EACCES, ELOOP, ENOENT, ESRCH } from '../linux/errno.js';
import { PAGE_SIZE } from '../vcpu/memory.js';
import { pageAlignUp, PIE_BASE } from './mm.js';
import { AddressSpace } from './address-space.js';
import type { Creds, Process, Task } from './task.js';
import type { Dentry } from './vfs/inode.js';
import { parseElf, loadElf, ElfImage } from './loader/elf.js';
import { buildStack } from './loader/stack.js';
import { mapSigreturnTrampoline } from './signal-frame.js';
import type { Kernel } from './kernel.js';
import { DEFAULT_PATH } from '../spec/types.js';

/** Most `#!` interpreters one execve follows (Linux: BINPRM_MAX_RECURSION). */
const MAX_SCRIPT_DEPTH = 4;

/**
 * Replace `task`'s process image with the program at `path` (execve). On
 * success the task's registers are the new image's entry state. The new
 * image is built in a fresh address space and swapped in only once it has
 * loaded, so a failure leaves the caller's image intact.
 */
export async function execve(k: Kernel, task: Task, path: string, argv: string[], envp: string[]): Promise<0 | Errno> {
  const proc = task.process;
  const prog = await findProgram(k, proc, path, argv, 0);
  if (isErrno(prog)) return prog;
  const { dentry, bytes, image } = prog;
  argv = prog.argv;
  let interp: { bytes: Uint8Array; image: ElfImage } | undefined;
  if (image.interp) {
    const d = await k.vfs.resolve(proc.root, proc.cwd, image.interp, { followLast: true, caller: proc });
    if (isErrno(d)) return d;
    const ib = await readWhole(d);
    if (isErrno(ib)) return ib;
    const ii = parseElf(ib);
    if ('error' in ii) return ENOEXEC;
    interp = { bytes: ib, image: ii };
  }
  // Killed while the image was read (SIGKILL ends a process at once, even in
  // an execve that is waiting for files): exit has released its address
  // space, so nothing here may touch it again. Nobody reads this result.
  if (!proc.alive) return ESRCH;
  const vm = new AddressSpace(k.account);
  const entry = loadImage(vm, path, bytes, image, interp, argv, envp, proc.creds);
  if (isErrno(entry)) {
    vm.release();
    return entry;
  }
  // Point of no return: the old image goes away.
  const old = proc.vm;
  proc.vm = vm;
  old.release();
  proc.execed = true;
  for (const t of proc.posixTimers.values()) t.timer.disarm();
  proc.posixTimers.clear();
  await proc.fds.closeOnExec();
  if (!proc.alive) return ESRCH; // killed while files were closed: exit released the new image
  if (proc.threads.size === 1) proc.sigactions = proc.sigactions.map((a) => ({ ...a })); // unshare CLONE_SIGHAND
  for (const a of proc.sigactions) if (a.handler > abi.SIG_IGN) Object.assign(a, { handler: abi.SIG_DFL, flags: 0, mask: 0n });
  task.altstack = { sp: 0, flags: 2, size: 0 };
  task.clearChildTid = 0;
  task.robustList = 0;
  proc.exePath = dentry.path();
  proc.comm = Buffer.from(path.split('/').pop() ?? '').subarray(0, 15).toString();
  proc.argv = argv;
  proc.envp = envp;
  const r = task.regs;
  r.x.fill(0);
  r.f.fill(0);
  r.fcsr = 0;
  r.setS(2, entry.sp);
  r.pc = entry.pc;
  vforkRelease(proc);
  return 0;
}

/** A vfork child has exec'd or exited: its parent's vfork returns. */
export function vforkRelease(proc: Process): void {
  const done = proc.vforkDone;
  proc.vforkDone = undefined;
  done?.();
}

/**
 * The program a container's args[0] names: a name without a slash is
 * searched in the PATH of the process's environment, as runc and runsc do
 * before starting the container (the first regular, executable match).
 */
export async function lookPath(k: Kernel, name: string, envp: string[], cwd: Dentry): Promise<string> {
  if (name.includes('/') || name === '') return name;
  const pathVar = envp.find((e) => e.startsWith('PATH='))?.slice(5) ?? DEFAULT_PATH;
  for (const dir of pathVar.split(':')) {
    const candidate = `${dir === '' ? '.' : dir}/${name}`;
    const d = await k.vfs.resolve(k.vfs.root, cwd, candidate, { followLast: true });
    if (isErrno(d)) continue;
    const attr = await d.inode.getattr();
    if (!isErrno(attr) && (attr.mode & abi.S_IFMT) === abi.S_IFREG && (attr.mode & 0o111) !== 0) return candidate;
  }
  return name;
}

/**
 * The ELF file execve runs for `path`: follows `#!` lines (the interpreter
 * with its optional argument, then the script's path, replace argv[0]).
 */
async function findProgram(k: Kernel, proc: Process, path: string, argv: string[], depth: number): Promise<{ dentry: Dentry; bytes: Uint8Array; image: ElfImage; argv: string[] } | Errno> {
  if (path === '') return ENOENT;
  const dentry = await k.vfs.resolve(proc.root, proc.cwd, path, { followLast: true, caller: proc });
  if (isErrno(dentry)) return dentry;
  if (dentry.inode.isDir) return EACCES;
  const attr = await dentry.inode.getattr();
  if (isErrno(attr)) return attr;
  if ((attr.mode & abi.S_IFMT) !== abi.S_IFREG) return EACCES;
  if (!mayExecute(proc.creds, attr.mode, attr.uid, attr.gid)) return EACCES;
  const bytes = await readWhole(dentry, attr.size);
  if (isErrno(bytes)) return bytes;
  if (bytes[0] === 0x23 && bytes[1] === 0x21) {
    if (depth >= MAX_SCRIPT_DEPTH) return ELOOP;
    const line = parseShebang(bytes);
    if (!line) return ENOEXEC;
    const next = [line.interp, ...(line.arg !== undefined ? [line.arg] : []), path, ...argv.slice(1)];
    return findProgram(k, proc, line.interp, next, depth + 1);
  }
  const image = parseElf(bytes);
  if ('error' in image) {
    k.logs.debug(`execve ${path}: ${image.error}`);
    return ENOEXEC;
  }
  return { dentry, bytes, image, argv };
}

/** Load a program (and its interpreter) into `vm`: the entry pc and initial sp. */
/** Maps `image` (and its interpreter) into `vm` and builds the initial stack: the new pc and sp, or an Errno (ENOEXEC, ENOMEM, EFAULT...). Exported for the ELF fuzz target. */
export function loadImage(vm: AddressSpace, path: string, bytes: Uint8Array, image: ElfImage, interp: { bytes: Uint8Array; image: ElfImage } | undefined, argv: string[], envp: string[], c: Creds): { pc: number; sp: number } | Errno {
  const main = loadElf(bytes, image, vm.mm, vm.user, PIE_BASE);
  if (isErrno(main)) return main;
  let pc = main.entry;
  let base = 0;
  if (interp) {
    const li = loadElf(interp.bytes, interp.image, vm.mm, vm.user);
    if (isErrno(li)) return li;
    pc = li.entry;
    base = li.bias;
  }
  vm.mm.setBrkStart(pageAlignUp(main.end));
  const tramp = mapSigreturnTrampoline(vm);
  if (tramp !== 0) return tramp;
  const sp = buildStack(vm.mm, vm.user, {
    argv,
    envp,
    execfn: path,
    auxv: [
      [abi.AT_PHDR, main.phdrAddr],
      [abi.AT_PHENT, 56],
      [abi.AT_PHNUM, main.phnum],
      [abi.AT_PAGESZ, PAGE_SIZE],
      [abi.AT_BASE, base],
      [abi.AT_FLAGS, 0],
      [abi.AT_ENTRY, main.entry],
      [abi.AT_UID, c.ruid],
      [abi.AT_EUID, c.euid],
      [abi.AT_GID, c.rgid],
      [abi.AT_EGID, c.egid],
      [abi.AT_HWCAP, abi.RISCV_HWCAP_IMAFDC],
      [abi.AT_CLKTCK, 100],
      [abi.AT_SECURE, 0],
    ],
  });
  if (isErrno(sp)) return sp;
  return { pc, sp };
}

function mayExecute(creds: Creds, mode: number, uid: number, gid: number): boolean {
  if (creds.euid === 0) return (mode & 0o111) !== 0;
  if (creds.euid === uid) return (mode & 0o100) !== 0;
  if (creds.egid === gid || creds.groups.includes(gid)) return (mode & 0o010) !== 0;
  return (mode & 0o001) !== 0;
}

/**
 * The size of each read of a program's image. 64 KiB is a transfer the gofer
 * serves inline (src/fs-gofer/io-pool.ts): a larger one goes to its I/O
 * worker pool, and the first such read of a sandbox starts a worker thread,
 * which held the first program back by ~100 ms of CPU (several hundred ms of
 * wall time on a loaded host) and kept 11-13 MiB in the gofer for 30 s
 * (docs/STARTUP.md). Read inline, a 420 KiB static binary takes 7 round trips
 * of well under a millisecond each.
 */
export const EXEC_READ_CHUNK = 64 * 1024;

/**
 * A program's whole image, read in EXEC_READ_CHUNK reads; ENOEXEC past 1 GiB.
 * The bytes go into one array sized by `sizeHint` (the size getattr gave;
 * doubled when the file is longer), straight from the file's pages or host
 * fd where it has the copy-free read (File.readTo), else one pread per
 * chunk: an exec of busybox (1.6 MB) allocates 1.6 MB, where a chunk list
 * copied and joined allocated three times that, and the garbage collector
 * ran a full collection every few execs of a shell loop to free it
 * (src/kernel/README.md, "Freed frames given back to the host").
 */
export async function readWhole(dentry: Dentry, sizeHint = 0): Promise<Uint8Array | Errno> {
  const f = await dentry.inode.open(abi.O_RDONLY, dentry.path());
  if (isErrno(f)) return f;
  try {
    // One byte more than the hint, so the read that finds the end asks for one byte, not a new array.
    let out = new Uint8Array(sizeHint > 0 ? Math.min(sizeHint, 1 << 30) + 1 : EXEC_READ_CHUNK);
    let off = 0;
    const put = (bytes: Uint8Array, pos: number): void => out.set(bytes, off + pos);
    for (;;) {
      if (off === out.length) {
        const grown = new Uint8Array(out.length * 2);
        grown.set(out);
        out = grown;
      }
      const len = Math.min(EXEC_READ_CHUNK, out.length - off);
      let n: number;
      if (f.readTo) {
        const r = f.readTo(len, off, put);
        if (isErrno(r)) return r;
        n = r;
      } else {
        const c = await f.pread(len, off);
        if (isErrno(c)) return c;
        n = Math.min(c.length, len);
        out.set(c.subarray(0, n), off);
      }
      if (n === 0) break;
      off += n;
      if (off > 1 << 30) return ENOEXEC;
    }
    return out.subarray(0, off);
  } finally {
    await f.unref();
  }
}

/** The interpreter line of a `#!` script (Linux reads at most 256 bytes of it). */
function parseShebang(bytes: Uint8Array): { interp: string; arg?: string } | null {
  let end = bytes.indexOf(0x0a);
  if (end < 0 || end > 256) end = Math.min(bytes.length, 256);
  const line = Buffer.from(bytes.subarray(2, end)).toString('latin1').replace(/[ \t]+$/, '');
  const m = /^[ \t]*([^ \t]+)(?:[ \t]+(.*))?$/.exec(line);
  if (!m) return null;
  const interp = Buffer.from(m[1], 'latin1').toString('utf8');
  return m[2] !== undefined ? { interp, arg: Buffer.from(m[2], 'latin1').toString('utf8') } : { interp };
}
