// Checkpoint and restore of the whole kernel (docs/CHECKPOINT.md).
//
// Contract:
// - quiesce() leaves every guest thread off its vCPU at an instruction
//   boundary (the scheduler's pause) and outside every system call: a
//   thread asleep in one (a read of an empty pipe, a futex wait, a sleep) is
//   interrupted as a signal would interrupt it, and its call is marked to
//   restart on the way back to user mode, which no guest code can observe
//   (but a relative timeout restarts whole); a call doing work (I/O to the
//   gofer) is waited for. The kernel stays paused until the caller resumes it.
// - saveKernel() walks the kernel's objects and asks each for its record
//   (the save half of the pair kept beside each kind's code); an object
//   shared by several others is saved once and named by index. A kind with
//   no pair throws Unsupported, naming it: no image is written.
// - restoreKernel() rebuilds them in a kernel that has its filesystems,
//   stdio and configuration but no process yet (a fresh sandbox), through
//   each kind's restore half; files of the gofer's filesystems are opened
//   again by path. startRestored() then lets the threads run, on however
//   many vCPUs this sandbox has.

import { isErrno } from '../linux/errno.js';
import * as abi from '../linux/abi.js';
import { AddressSpace } from './address-space.js';
import { PageCache } from './page-cache.js';
import type { SharedBacking } from './shared-object.js';
import { FdTable } from './fdtable.js';
import type { File } from './files/file.js';
import { Pipe, PipeFile } from './files/pipe.js';
import { EventFd } from './files/eventfd.js';
import { EpollFile } from './files/epoll.js';
import { pendingTimerInfo, restoreItimers, restorePosixTimers, savePosixTimers } from './syscalls/timer.js';
import { TaskState, type Task } from './task.js';
import type { Kernel } from './kernel.js';
import type { Dentry } from './vfs/inode.js';
import { TmpDir } from './filesystems/tmpfs-dir.js';
import { type AddressSpaceRecord, type FdTableRecord, type FileRecord, type FileSaveContext, type KernelImage, type PipeRecord, type ProcessRecord } from './checkpoint-records.js';

/** How long quiesce() waits for system calls doing work (not asleep) to finish. */
const QUIESCE_TIMEOUT_MS = 10_000;

/** Pauses the kernel and brings every thread out of its system call (see the file comment). */
export async function quiesce(k: Kernel): Promise<void> {
  await k.scheduler.pause();
  const deadline = Date.now() + QUIESCE_TIMEOUT_MS;
  const interrupted = new Set<Task>();
  for (;;) {
    let busy: Task | null = null;
    for (const p of k.processes.values()) {
      if (!p.alive) continue;
      for (const t of p.threads) {
        if (t.state !== TaskState.Blocked) continue;
        busy = t;
        if (t.isSleeping()) {
          interrupted.add(t);
          t.quiescing = true;
          t.interrupt();
        }
      }
    }
    if (busy === null) break;
    if (Date.now() > deadline) {
      for (const t of interrupted) t.quiescing = false;
      throw new Error(`thread ${busy.tid} of pid ${busy.process.pid} stayed in a system call for ${QUIESCE_TIMEOUT_MS / 1000} s`);
    }
    await new Promise((r) => setTimeout(r, 1));
  }
  // Interrupted by the checkpoint, not by a signal: whatever its policy, the
  // call restarts unless a signal handler runs first (as for SA_RESTART).
  for (const t of interrupted) {
    t.quiescing = false;
    if (t.restart !== null) t.restart = 'sys';
  }
  // Shared file mappings are saved as their files: those files hold what the mappings stored.
  await PageCache.settleAll();
}

/** The kernel's state and the saved guest pages (all 4096 bytes each). The kernel must be quiesced. */
export async function saveKernel(k: Kernel): Promise<{ kernel: KernelImage; pages: Buffer }> {
  const tmpfs = await saveTmpfs(k);
  const chunks: Uint8Array[] = [];
  const data = {
    length: 0,
    // Views of guest memory, copied once by the concat below, before anything runs again.
    add(bytes: Uint8Array) {
      chunks.push(bytes);
      this.length += bytes.length;
    },
  };
  const pipes = indexer<{ save(): PipeRecord }, PipeRecord>((p) => p.save());
  const ctx: FileSaveContext = { pipe: (p) => pipes.index(p), file: (f) => files.index(f as File) };
  const files = indexer<File, FileRecord>((f) => f.save(ctx));
  const fdTables = indexer<FdTable, FdTableRecord>((t) => t.save((f) => files.index(f)));
  const vms = indexer<AddressSpace, AddressSpaceRecord>((vm) => vm.mm.save(data));
  const processes: ProcessRecord[] = [];
  for (const p of [...k.processes.values()].sort((a, b) => a.pid - b.pid)) {
    processes.push(p.save({ vm: vms.index(p.vm), fds: fdTables.index(p.fds), pendingInfo: k.signals.savePendingInfo(p), posixTimers: savePosixTimers(p) }));
  }
  const kernel: KernelImage = {
    nextPid: k.lifecycle.processCount + 1,
    cpuNum: k.config.cpuNum,
    processes,
    addressSpaces: vms.records,
    fdTables: fdTables.records,
    files: files.records,
    pipes: pipes.records,
    tmpfs,
  };
  return { kernel, pages: Buffer.concat(chunks) };
}

/** The contents of every tmpfs mount that holds anything (checkpoint.ts's part of tmpfs-dir.ts's pair). */
async function saveTmpfs(k: Kernel): Promise<KernelImage['tmpfs']> {
  const vfs = k.vfs;
  const out: KernelImage['tmpfs'] = [];
  for (const at of vfs.mountPoints()) {
    const d = await vfs.resolve(vfs.root, vfs.root, at, { followLast: true });
    if (!isErrno(d) && d.inode instanceof TmpDir && !d.inode.empty) out.push({ at, root: d.inode.save() });
  }
  return out;
}

/** Each saved tmpfs into the restoring sandbox's mount at the same place, which its spec must make (and which starts empty). */
async function restoreTmpfs(k: Kernel, saved: KernelImage['tmpfs']): Promise<void> {
  const vfs = k.vfs;
  for (const { at, root } of saved) {
    const d = await vfs.resolve(vfs.root, vfs.root, at, { followLast: true });
    if (isErrno(d) || !(d.inode instanceof TmpDir) || !vfs.mountPoints().includes(at)) throw new Error(`the image holds a tmpfs mounted at ${at}, but this bundle's spec mounts none there`);
    if (!d.inode.empty) throw new Error(`the tmpfs at ${at} is not empty`);
    d.inode.restore(root, at);
  }
}

/** Saves each object once, in order of first use; `index` names it. */
function indexer<T, R>(save: (o: T) => R): { index(o: T): number; records: R[] } {
  const seen = new Map<T, number>();
  const records: R[] = [];
  return {
    records,
    index(o: T): number {
      let i = seen.get(o);
      if (i === undefined) {
        const r = save(o);
        i = records.push(r) - 1;
        seen.set(o, i);
      }
      return i;
    },
  };
}

/**
 * Rebuilds the saved processes in `k`, which has none yet. `stdio` is this
 * sandbox's own stdio (fds 0-2 of a new init), which the saved stdio files
 * become. Throws an Error with a one-line message when the image cannot be
 * restored here (a file it names is gone, memory past --total-memory, a
 * record that makes no sense).
 */
export async function restoreKernel(k: Kernel, image: KernelImage, pages: Uint8Array, stdio: File[]): Promise<void> {
  checkCapabilities(k, image);
  // Before the files: an open tmpfs file is opened again by its path.
  await restoreTmpfs(k, image.tmpfs ?? []);
  const pipes = image.pipes.map((r) => Pipe.restore(r));
  const files: File[] = [];
  try {
    for (const rec of image.files) files.push(await restoreFile(k, rec, pipes, stdio, files));
    const fdTables = image.fdTables.map((r) => {
      for (const [, index] of r.slots) if (!files[index]) throw new Error(`fd table names file ${index}, which the image lacks`);
      const t = FdTable.restore(r, files);
      t.users = 0;
      return t;
    });
    const vms: AddressSpace[] = [];
    for (const r of image.addressSpaces) {
      const vm = new AddressSpace(k.account);
      const backings = await fileBackings(k, r);
      try {
        const e = vm.mm.restore(r, pages, (i) => backings.get(i)?.backing);
        if (isErrno(e)) throw new Error(`cannot map the saved memory (${e.name}): more than --total-memory?`);
      } finally {
        for (const b of backings.values()) b.release();
      }
      vm.users = 0;
      vms.push(vm);
    }
    for (const rec of image.processes) {
      const vm = vms[rec.vm];
      const fds = fdTables[rec.fds];
      if (!vm || !fds) throw new Error(`process ${rec.pid} names an address space or fd table the image lacks`);
      vm.users++;
      fds.users++;
      const cwd = await directory(k, rec.cwd, `the working directory of pid ${rec.pid}`);
      const root = await directory(k, rec.root, `the root directory of pid ${rec.pid}`);
      const proc = k.lifecycle.restoreProcess(rec, vm, fds, cwd, root);
      restoreItimers(k, proc, rec.itimers ?? []);
      restorePosixTimers(k, proc, rec.posixTimers ?? []);
      k.signals.restorePendingInfo(proc, rec.pendingInfo ?? [], (id) => pendingTimerInfo(proc, id));
    }
    k.lifecycle.linkRestored(image.nextPid);
  } finally {
    // The fd tables hold their own references now.
    for (const f of files) void f.unref();
  }
}

/**
 * An image is guest state, but it names credentials: a process may hold no
 * capability outside the restoring spec's bounding set (an image taken
 * under a more generous spec, or altered, does not grant more here).
 */
function checkCapabilities(k: Kernel, image: KernelImage): void {
  const bounding = k.config.creds.caps.bounding;
  for (const p of image.processes) {
    const c = p.creds?.caps;
    if (!c) throw new Error(`process ${p.pid} has no credentials in the image`);
    for (const set of [c.effective, c.permitted, c.inheritable, c.ambient, c.bounding]) {
      if (BigInt(set) & ~bounding) throw new Error(`process ${p.pid} of the image holds capabilities this bundle's spec does not grant`);
    }
  }
}

/** Lets the restored threads run (all but those of stopped processes). */
export function startRestored(k: Kernel): void {
  k.scheduler.keepSpareRemote();
  for (const p of k.processes.values()) for (const t of p.threads) if (t.state === TaskState.Blocked) k.scheduler.wake(t);
}

/** The restore half of each kind of file (the save halves are File.save overrides beside each kind). */
async function restoreFile(k: Kernel, rec: FileRecord, pipes: Pipe[], stdio: File[], files: File[]): Promise<File> {
  switch (rec.kind) {
    case 'pipe': {
      const pipe = pipes[rec.pipe];
      if (!pipe) throw new Error(`a pipe end names pipe ${rec.pipe}, which the image lacks`);
      return PipeFile.restore(rec, pipe);
    }
    case 'stdio': {
      const f = stdio[rec.index];
      if (!f) throw new Error(`stdio ${rec.index} is not a stdio of this sandbox`);
      return f.ref();
    }
    case 'eventfd':
      return EventFd.restore(rec);
    case 'epoll':
      // The files it watches come before it in the image (saved first), so they are restored already.
      return EpollFile.restore(rec, files);
    case 'path':
      return reopen(k, rec);
    default: {
      const never: never = rec;
      throw new Error(`a file of unknown kind ${JSON.stringify((never as { kind: unknown }).kind)}`);
    }
  }
}

/**
 * The page caches of an address space's shared file mappings, by the index
 * of their records: each file opened again by path (its pages load when
 * touched, as after mmap);
 * `release` once mapped (the mappings hold the cache from then on).
 */
async function fileBackings(k: Kernel, rec: AddressSpaceRecord): Promise<Map<number, { backing: SharedBacking; release(): void }>> {
  const out = new Map<number, { backing: SharedBacking; release(): void }>();
  try {
    for (let i = 0; i < rec.vmas.length; i++) {
      const m = rec.vmas[i].file;
      if (!m) continue;
      const f = await reopen(k, { kind: 'path', path: m.path, flags: m.readOnly ? abi.O_RDONLY : abi.O_RDWR, pos: 0 });
      const pc = await PageCache.map(f, m.pgoff, 0, k.account);
      if (isErrno(pc)) {
        void f.unref();
        throw new Error(`${m.path}: cannot map it again (${pc.name})`);
      }
      out.set(i, { backing: { obj: pc, pgoff: m.pgoff, readOnly: m.readOnly }, release: () => {
          pc.unpin();
          void f.unref();
        } });
    }
  } catch (e) {
    for (const b of out.values()) b.release();
    throw e;
  }
  return out;
}

/** A file of the sandbox's filesystems, opened again by its path, at its saved position. */
async function reopen(k: Kernel, rec: Extract<FileRecord, { kind: 'path' }>): Promise<File> {
  const vfs = k.vfs;
  const d = await vfs.resolve(vfs.root, vfs.root, rec.path, { followLast: true });
  if (isErrno(d)) throw new Error(`${rec.path}, open when the checkpoint was taken, cannot be found (${d.name})`);
  const f = await d.inode.open(rec.flags & ~(abi.O_CREAT | abi.O_EXCL | abi.O_TRUNC), rec.path);
  if (isErrno(f)) throw new Error(`${rec.path}, open when the checkpoint was taken, cannot be opened again (${f.name})`);
  f.dentry = d;
  if (rec.pos !== 0) {
    const r = await f.lseek(rec.pos, abi.SEEK_SET);
    if (isErrno(r)) throw new Error(`${rec.path}: cannot seek back to offset ${rec.pos} (${r.name})`);
  }
  return f;
}

async function directory(k: Kernel, path: string, what: string): Promise<Dentry> {
  const d = await k.vfs.resolve(k.vfs.root, k.vfs.root, path, { followLast: true });
  if (isErrno(d)) throw new Error(`${what}, ${path}, cannot be found (${d.name})`);
  return d;
}
