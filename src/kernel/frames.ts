// The kernel's allocator of shared frames (the pool itself: src/vcpu/frames.ts).
//
// Contract:
// - A frame is in use while its reference count is above zero. Each page
//   table entry naming it (GuestMemory.frames of some address space) holds
//   one reference, and so does each object keeping it (a file's page cache,
//   a memfd or shm segment): the frame is freed when the last one lets go.
// - alloc() gives a zeroed frame with one reference, charging PAGE_SIZE to
//   the MemoryAccount given; the last unref() zeroes it (only if it holds
//   data: zeroing an untouched frame would commit it), clears its dirty byte
//   and uncharges the same account. A shared page thus counts once against
//   --total-memory, however many address spaces map it.
// - One allocator per pool, i.e. per thread that owns a kernel (unit tests
//   may run several kernels over one pool; their frames never collide).

import { FramePool, POOL_FRAMES } from '../vcpu/frames.js';
import { PAGE_SIZE } from '../vcpu/memory.js';

/** What frames are charged to (mm.ts's MemoryAccount). */
export interface FrameAccount {
  charge(bytes: number): boolean;
  uncharge(bytes: number): void;
}

/** One page of zeros, compared against to skip zeroing untouched frames. */
const ZERO_PAGE = new Uint8Array(PAGE_SIZE);

let local: FrameAllocator | undefined;

export class FrameAllocator {
  private readonly refs = new Int32Array(POOL_FRAMES);
  private readonly free: number[] = [];
  /** Frames never handed out start here. */
  private fresh = 0;
  /** Frames in use now. */
  inUse = 0;

  private constructor(readonly pool: FramePool) {}

  /** The allocator of this thread's pool. */
  static local(): FrameAllocator {
    return (local ??= new FrameAllocator(FramePool.local()));
  }

  /** Frames alloc() can still hand out (the pool's; the account may allow fewer). */
  get available(): number {
    return POOL_FRAMES - this.inUse;
  }

  /** A zeroed frame with one reference, or -1 when the account or the pool is full. */
  alloc(account: FrameAccount): number {
    if (this.free.length === 0 && this.fresh >= POOL_FRAMES) return -1;
    if (!account.charge(PAGE_SIZE)) return -1;
    // A frame never handed out goes through the free list too, so the pop
    // below runs from the first allocation on: a branch first taken once
    // V8 has optimized its callers (the first reuse, after a run of fresh
    // frames) would throw their code away ("insufficient type feedback").
    if (this.free.length === 0) this.free.push(this.fresh++);
    const f = this.free.pop() as number;
    this.refs[f] = 1;
    this.inUse++;
    return f;
  }

  ref(frame: number): void {
    this.refs[frame]++;
  }

  /** References to `frame` now. */
  count(frame: number): number {
    return this.refs[frame];
  }

  /** Drop one reference; the last one frees the frame and uncharges `account`. */
  unref(frame: number, account: FrameAccount): void {
    if (--this.refs[frame] > 0) return;
    const base = frame * PAGE_SIZE;
    const bytes = this.pool.u8.subarray(base, base + PAGE_SIZE);
    if (Buffer.compare(ZERO_PAGE, bytes) !== 0) bytes.fill(0);
    this.pool.dirty[frame] = 0;
    this.free.push(frame);
    this.inUse--;
    account.uncharge(PAGE_SIZE);
  }

  /** The bytes of `frame` (a view into the pool, not a copy). */
  bytes(frame: number): Uint8Array {
    const base = frame * PAGE_SIZE;
    return this.pool.u8.subarray(base, base + PAGE_SIZE);
  }
}
