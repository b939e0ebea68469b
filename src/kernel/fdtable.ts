// A process's file descriptor table: fd → (open file description, FD_CLOEXEC).
//
// Contract: the lowest free fd is allocated, as Linux does; the table holds one
// reference on each File and drops it on close. RLIMIT_NOFILE bounds fds (EMFILE).

import { EBADF, EMFILE, Errno } from '../linux/errno.js';
import type { File, MaybeAsync } from './files/file.js';
import { releasePosixLocks } from './files/locks.js';
import type { FdTableRecord } from './checkpoint-records.js';

interface Slot {
  file: File;
  cloexec: boolean;
}

export class FdTable {
  private readonly slots: (Slot | undefined)[] = [];
  /** Processes sharing this table (CLONE_FILES); the last one to exit closes it. */
  users = 1;

  constructor(public limit: number) {}

  get(fd: number): File | Errno {
    const s = fd >= 0 ? this.slots[fd] : undefined;
    return s ? s.file : EBADF;
  }

  cloexec(fd: number): boolean | Errno {
    const s = fd >= 0 ? this.slots[fd] : undefined;
    return s ? s.cloexec : EBADF;
  }

  setCloexec(fd: number, on: boolean): 0 | Errno {
    const s = fd >= 0 ? this.slots[fd] : undefined;
    if (!s) return EBADF;
    s.cloexec = on;
    return 0;
  }

  /** Install `file` (taking over the caller's reference) at the lowest fd >= minFd. */
  install(file: File, cloexec: boolean, minFd = 0): number | Errno {
    for (let fd = minFd; fd < this.limit; fd++) {
      if (!this.slots[fd]) {
        this.slots[fd] = { file, cloexec };
        return fd;
      }
    }
    void file.unref();
    return EMFILE;
  }

  /** Put `file` at exactly `fd` (dup2/dup3), closing what was there. */
  installAt(fd: number, file: File, cloexec: boolean): MaybeAsync<number | Errno> {
    if (fd < 0 || fd >= this.limit) {
      void file.unref();
      return EBADF;
    }
    const old = this.slots[fd];
    this.slots[fd] = { file, cloexec };
    if (old) {
      releasePosixLocks(this, old.file);
      const r = old.file.unref();
      if (r instanceof Promise) return r.then(() => fd);
    }
    return fd;
  }

  close(fd: number): MaybeAsync<0 | Errno> {
    const s = fd >= 0 ? this.slots[fd] : undefined;
    if (!s) return EBADF;
    this.slots[fd] = undefined;
    // Closing any fd of a file drops this table's POSIX locks on it (locks.ts).
    releasePosixLocks(this, s.file);
    const r = s.file.unref();
    return r instanceof Promise ? r.then(() => 0 as const) : 0;
  }

  /** Every open fd, ascending. */
  fds(): number[] {
    const out: number[] = [];
    this.slots.forEach((s, fd) => s && out.push(fd));
    return out;
  }

  /** A copy for fork: same open file descriptions, one more reference each. */
  fork(): FdTable {
    const t = new FdTable(this.limit);
    this.slots.forEach((s, fd) => {
      if (s) t.slots[fd] = { file: s.file.ref(), cloexec: s.cloexec };
    });
    return t;
  }

  /** Checkpoint: each fd with its file's index (`fileIndex` saves each open file description once). */
  save(fileIndex: (f: File) => number): FdTableRecord {
    const slots: [number, number, boolean][] = [];
    this.slots.forEach((s, fd) => s && slots.push([fd, fileIndex(s.file), s.cloexec]));
    return { limit: this.limit, slots };
  }

  /** The restore half of save(): `files[i]` is the restored file of index i; each fd takes a reference. */
  static restore(rec: FdTableRecord, files: File[]): FdTable {
    const t = new FdTable(rec.limit);
    for (const [fd, index, cloexec] of rec.slots) t.slots[fd] = { file: files[index].ref(), cloexec };
    return t;
  }

  /** Close every FD_CLOEXEC fd (execve). */
  closeOnExec(): Promise<void> {
    return this.closeEach(this.fds().filter((fd) => this.slots[fd]!.cloexec));
  }

  /** Close every fd (the last process using the table exits). */
  closeAll(): Promise<void> {
    return this.closeEach(this.fds());
  }

  /**
   * Every fd goes at once, before this returns: a pipe's last reader or
   * writer is gone by the time an exiting process's parent is woken (Linux
   * closes files before it notifies the parent). Only the releases that
   * finish later (host files) are awaited.
   */
  private async closeEach(fds: number[]): Promise<void> {
    const later: Promise<unknown>[] = [];
    for (const fd of fds) {
      const r = this.close(fd);
      if (r instanceof Promise) later.push(r);
    }
    await Promise.all(later);
  }
}
