// A process stand-in for unit tests of system call handlers: guest memory
// with read-write pages at FAKE_PROC_BUF (four unless told; the rest
// unmapped), an fd
// table, root credentials and a root directory; and `callAs`, which runs a
// handler with argument registers as a SysCtx would give them.

import { FdTable } from '../../src/kernel/fdtable.js';
import { UserMemory } from '../../src/kernel/usercopy.js';
import type { SysCtx, SysResult } from '../../src/kernel/syscalls/context.js';
import { GuestMemory, PAGE_R, PAGE_SIZE, PAGE_W } from '../../src/vcpu/memory.js';
import { Tmpfs } from '../../src/kernel/filesystems/tmpfs.js';
import { MemoryAccount } from '../../src/kernel/mm.js';
import { Vfs } from '../../src/kernel/vfs/vfs.js';

/** The first of the mapped pages. */
export const FAKE_PROC_BUF = 0x10000;

export class FakeProc {
  readonly mem = GuestMemory.create();
  readonly user = new UserMemory(this.mem);
  readonly fds = new FdTable(64);
  readonly creds = { ruid: 0, euid: 0, suid: 0, rgid: 0, egid: 0, sgid: 0, groups: [] as number[], caps: { effective: 0n, permitted: 0n, inheritable: 0n, bounding: 0n, ambient: 0n }, keepCaps: false };
  umask = 0o022;
  constructor(
    readonly root: unknown,
    readonly pid = 1,
    pages = 4,
  ) {
    for (let p = 0; p < pages; p++) this.mem.pageFlags[FAKE_PROC_BUF / PAGE_SIZE + p] = PAGE_R | PAGE_W;
  }
  get cwd() {
    return this.root;
  }
}

/** Call handler `fn` as `proc` of `kernel` with these argument registers (a0, a1...). */
export function callAs(kernel: unknown, proc: FakeProc, fn: (c: SysCtx) => SysResult | Promise<SysResult>, ...args: number[]): SysResult | Promise<SysResult> {
  const c = { kernel, proc, task: {}, user: proc.user, i32: (i: number) => (args[i] ?? 0) | 0, u: (i: number) => args[i] ?? 0, u32: (i: number) => (args[i] ?? 0) >>> 0, s: (i: number) => args[i] ?? 0 };
  return fn(c as unknown as SysCtx);
}

/**
 * A FakeProc over a fresh tmpfs (mode 1777) as its root: pages 0-3 of its
 * buffer read-write and page 4 (at `ro`) read-only; `call` runs a handler as
 * that process.
 */
export function tmpfsProc(): { vfs: Vfs; proc: FakeProc; ro: number; call: (fn: (c: SysCtx) => SysResult | Promise<SysResult>, ...args: number[]) => SysResult | Promise<SysResult> } {
  const tmp = new Tmpfs(new MemoryAccount(1 << 24), { mode: 0o1777 });
  const vfs = new Vfs(tmp.root);
  const proc = new FakeProc(vfs.root, 1, 5);
  const ro = FAKE_PROC_BUF + 4 * PAGE_SIZE;
  proc.mem.pageFlags[ro / PAGE_SIZE] = PAGE_R;
  return { vfs, proc, ro, call: (fn, ...args) => callAs({ vfs }, proc, fn, ...args) };
}
