// One guest address space: its memory, its mappings, the vCPU state that
// caches its decoded code, and the kernel's view for copying in and out.
//
// Contract:
// - Each address space is its own 4 GiB shared WebAssembly.Memory (a virtual
//   reservation; the host commits pages on first touch), so processes can't
//   see each other's memory and a fork is a copy of mapped, non-zero pages.
// - Processes share one only through vfork/CLONE_VM (and threads, which share
//   their Process): `users` counts them; the last user's release() returns
//   the mapped bytes to the sandbox's MemoryAccount.
// - `cpu` is the vCPU that runs this address space's threads in the kernel
//   worker; its decoded blocks belong to this memory, and code changes made
//   through the kernel (mprotect, munmap, writes by copyOut) invalidate them.

import { Cpu } from '../vcpu/cpu.js';
import { GuestMemory } from '../vcpu/memory.js';
import { MemoryAccount, MemoryManager } from './mm.js';
import { UserMemory } from './usercopy.js';
import type { Errno } from './errno.js';

export class AddressSpace {
  readonly mem: GuestMemory;
  readonly cpu: Cpu;
  readonly mm: MemoryManager;
  readonly user: UserMemory;
  /** Processes using this address space (more than one only across vfork). */
  users = 1;

  constructor(account: MemoryAccount, interrupt?: Int32Array) {
    this.mem = GuestMemory.create();
    const cpu = new Cpu(this.mem, interrupt);
    this.cpu = cpu;
    const codeChanged = (addr: number, len: number) => cpu.invalidateCode(addr, len);
    this.mm = new MemoryManager(this.mem, account, codeChanged);
    this.user = new UserMemory(this.mem, codeChanged);
  }

  /** A copy for fork, or ENOMEM past the memory cap. */
  fork(interrupt?: Int32Array): AddressSpace | Errno {
    const child = new AddressSpace(this.mm.account, interrupt);
    const r = this.mm.copyInto(child.mm);
    if (r !== 0) {
      child.release();
      return r;
    }
    return child;
  }

  /** One user is done with this address space; the last one frees it. */
  release(): void {
    if (--this.users > 0) return;
    this.mm.release();
    this.cpu.flushCode();
  }
}
