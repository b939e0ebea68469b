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
// - Released memories are scrubbed (data pages zeroed, all pages unmapped)
//   and kept in a small pool for the next fork or exec. This is not only
//   speed: V8 frees a dropped WebAssembly.Memory only when its garbage
//   collector runs, which JavaScript allocation drives, not guest memory, so
//   a shell forking in a loop would otherwise pile up gigabytes. A fresh
//   memory also pays a host page fault per page it touches (measured ~6 µs
//   per 4 KiB page, 13 ms to fill 8 MiB, against ~5 ms warm).
// - `cpu` is the vCPU that runs this address space's threads in the kernel
//   worker; its decoded blocks belong to this memory, and code changes made
//   through the kernel (mprotect, munmap, writes by copyOut) invalidate them.

import { Cpu } from '../vcpu/cpu.js';
import { GuestMemory } from '../vcpu/memory.js';
import { MemoryAccount, MemoryManager } from './mm.js';
import { UserMemory } from './usercopy.js';
import type { Errno } from '../linux/errno.js';

/** Most scrubbed memories kept for reuse; more processes than this at once allocate fresh ones. */
const POOL_MAX = 32;
/** A memory with what stays attached to it across reuse: this worker's vCPU, its id, its code epoch, its drop hook. */
interface PooledMemory {
  mem: GuestMemory;
  cpu: Cpu;
  id: number;
  epoch: Int32Array;
  onDrop?: () => void;
}
const pool: PooledMemory[] = [];
let nextMemId = 1;
/** Address spaces made and not yet released by their last user. */
let liveSpaces = 0;
/** Guest memories made and not yet dropped: those of live address spaces and the pool's. */
let heldMemories = 0;

/**
 * How many address spaces are live and how many guest memories this worker
 * holds (live ones plus at most POOL_MAX pooled): a leak of either shows as
 * growth under a long fork/exec loop (test/integration/density.test.ts).
 */
export function addressSpaceCounts(): { live: number; memories: number } {
  return { live: liveSpaces, memories: heldMemories };
}

export class AddressSpace {
  readonly mem: GuestMemory;
  readonly cpu: Cpu;
  readonly mm: MemoryManager;
  readonly user: UserMemory;
  /** Names this memory to vCPU workers (stable while the memory is pooled and reused). */
  readonly memId: number;
  /**
   * Bumped whenever code in this memory may have changed under the kernel's
   * hands (munmap, mprotect, a kernel write to a code page, reuse): vCPU
   * workers compare it before running a thread and drop their blocks.
   */
  readonly codeEpoch: Int32Array;
  /** Set by the scheduler: stop remote vCPUs running this address space (a code change). */
  onCodeChange?: () => void;
  /**
   * Set by the scheduler once a vCPU worker has seen this memory, and kept
   * with the memory across pooling: called when the memory is dropped
   * (released and not pooled, so its id is never used again), to tell the
   * workers to let go of it.
   */
  onDrop?: () => void;
  /** Processes using this address space (more than one only across vfork). */
  users = 1;

  constructor(account: MemoryAccount) {
    const reused = pool.pop();
    if (!reused) heldMemories++;
    liveSpaces++;
    this.mem = reused?.mem ?? GuestMemory.create();
    const cpu = reused?.cpu ?? new Cpu(this.mem);
    this.cpu = cpu;
    this.memId = reused?.id ?? nextMemId++;
    this.codeEpoch = reused?.epoch ?? new Int32Array(new SharedArrayBuffer(4));
    this.onDrop = reused?.onDrop;
    const codeChanged = (addr: number, len: number) => {
      cpu.invalidateCode(addr, len);
      Atomics.add(this.codeEpoch, 0, 1);
      this.onCodeChange?.();
    };
    this.mm = new MemoryManager(this.mem, account, codeChanged);
    this.user = new UserMemory(this.mem, codeChanged);
  }

  /** A copy for fork, or ENOMEM past the memory cap. */
  fork(): AddressSpace | Errno {
    const child = new AddressSpace(this.mm.account);
    const r = this.mm.copyInto(child.mm);
    if (r !== 0) {
      child.release();
      return r;
    }
    return child;
  }

  /** One user is done with this address space; the last one frees it. */
  release(): void {
    if (this.users <= 0) {
      // A second release would pool one memory twice: two processes would
      // then share it and scrub each other's pages. Refused, and said loudly.
      console.error(`tsvisor: KERNEL BUG: address space ${this.memId} released twice`);
      return;
    }
    if (--this.users > 0) return;
    liveSpaces--;
    this.mm.release();
    this.cpu.flushCode();
    Atomics.add(this.codeEpoch, 0, 1);
    if (pool.length < POOL_MAX) pool.push({ mem: this.mem, cpu: this.cpu, id: this.memId, epoch: this.codeEpoch, onDrop: this.onDrop });
    else {
      heldMemories--;
      this.onDrop?.();
    }
  }
}
