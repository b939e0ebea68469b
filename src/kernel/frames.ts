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
// - Freed frames stay committed for reuse (the most recently freed first),
//   up to KEEP_FREE of them; once more than KEEP_FREE + GIVE_BATCH are free,
//   a give-back runs GIVE_BACK_DELAY_MS later (a timer that keeps nothing
//   alive): the oldest freed beyond KEEP_FREE then are given back to the
//   host (madvise MADV_DONTNEED on runs of adjacent frames,
//   src/host/memory.ts), so the host's RSS follows what the guest holds
//   instead of its high-water mark, a moment late. Frames allocated in the
//   meantime are taken from the committed ones, so a file deleted and
//   written again at once costs no host page faults. A frame given back
//   was zeroed when freed and reads zeros again when reused, whatever the
//   mapping's kind. Without a checked host address of the pool (or once a
//   madvise fails) nothing is given back: frames stay committed, as before.
// - One allocator per pool, i.e. per thread that owns a kernel (unit tests
//   may run several kernels over one pool; their frames never collide).

import { FramePool, POOL_FRAMES } from '../vcpu/frames.js';
import { PAGE_SIZE } from '../vcpu/memory.js';
import { dontNeed, hostAddress } from '../host/memory.js';

/** What frames are charged to (mm.ts's MemoryAccount). */
export interface FrameAccount {
  charge(bytes: number): boolean;
  uncharge(bytes: number): void;
}

/** Freed frames kept committed for reuse (4 MiB). */
export const KEEP_FREE = 1024;
/** Frames freed past KEEP_FREE before a give-back is due (1 MiB): one sort and a few madvise calls per batch. */
export const GIVE_BATCH = 256;
/** How long a due give-back waits, so that frames freed and wanted again at once are reused committed (src/kernel/README.md, "Given back a moment late"). */
export const GIVE_BACK_DELAY_MS = 1000;

/** One page of zeros, compared against to skip zeroing untouched frames. */
const ZERO_PAGE = new Uint8Array(PAGE_SIZE);

let local: FrameAllocator | undefined;

export class FrameAllocator {
  private readonly refs = new Int32Array(POOL_FRAMES);
  /** Freed frames still committed, zeroed; the last pushed is reused first. */
  private readonly free: number[] = [];
  /** Freed frames given back to the host (zero, not committed). */
  private readonly given: number[] = [];
  /** Frames never handed out start here. */
  private fresh = 0;
  /** Frames in use now. */
  inUse = 0;
  /** The host address of frame 0, null when there is none to trust. */
  private hostBase: bigint | null;
  /** Frames given back so far (madvise calls: `giveBacks`). */
  framesGiven = 0;
  giveBacks = 0;
  /** The timer of a due give-back, if one is. */
  private giveBackTimer: NodeJS.Timeout | undefined;

  private constructor(readonly pool: FramePool) {
    // Checked while no frame is in use: the check writes a cookie at the
    // pool's first and last bytes (and puts them back).
    this.hostBase = hostAddress(pool.u8) ?? null;
  }

  /** The allocator of this thread's pool. */
  static local(): FrameAllocator {
    return (local ??= new FrameAllocator(FramePool.local()));
  }

  /** Frames alloc() can still hand out (the pool's; the account may allow fewer). */
  get available(): number {
    return POOL_FRAMES - this.inUse;
  }

  /** Freed frames held committed now (at most KEEP_FREE + GIVE_BATCH while give-back works). */
  get committedFree(): number {
    return this.free.length;
  }

  /** A zeroed frame with one reference, or -1 when the account or the pool is full. */
  alloc(account: FrameAccount): number {
    if (this.free.length === 0 && this.given.length === 0 && this.fresh >= POOL_FRAMES) return -1;
    if (!account.charge(PAGE_SIZE)) return -1;
    // A frame never handed out goes through the given-back list, and a
    // given-back one through the free list, so both pops run from the first
    // allocation on: a branch first taken once V8 has optimized alloc (the
    // first reuse after a run of fresh frames; the first given-back frame,
    // which rand-rw's timed pass met half way) would throw its code away
    // ("insufficient type feedback").
    if (this.free.length === 0) {
      if (this.given.length === 0) this.given.push(this.fresh++);
      this.free.push(this.given.pop() as number);
    }
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
    if (this.free.length > KEEP_FREE + GIVE_BATCH && this.hostBase !== null && this.giveBackTimer === undefined) {
      this.giveBackTimer = setTimeout(() => this.giveBackNow(), GIVE_BACK_DELAY_MS);
      this.giveBackTimer.unref();
    }
  }

  /** Run the due give-back now (its timer, and tests): the freed frames beyond KEEP_FREE go back to the host. */
  giveBackNow(): void {
    if (this.giveBackTimer !== undefined) clearTimeout(this.giveBackTimer);
    this.giveBackTimer = undefined;
    if (this.free.length > KEEP_FREE) this.giveBack();
  }

  /** Whether a give-back is due (its timer set). */
  get giveBackDue(): boolean {
    return this.giveBackTimer !== undefined;
  }

  /** The bytes of `frame` (a view into the pool, not a copy). */
  bytes(frame: number): Uint8Array {
    const base = frame * PAGE_SIZE;
    return this.pool.u8.subarray(base, base + PAGE_SIZE);
  }

  /**
   * Give the host back the oldest freed frames beyond KEEP_FREE, one
   * madvise per run of adjacent frames. They are zero already (unref), so a
   * failed madvise loses nothing: give-back is then switched off.
   */
  private giveBack(): void {
    const base = this.hostBase;
    if (base === null) return;
    const old = this.free.splice(0, this.free.length - KEEP_FREE).sort((a, b) => a - b);
    for (let i = 0; i < old.length; ) {
      let j = i + 1;
      while (j < old.length && old[j] === old[j - 1] + 1) j++;
      const r = dontNeed(base + BigInt(old[i] * PAGE_SIZE), (j - i) * PAGE_SIZE);
      this.giveBacks++;
      if (r < 0) {
        this.hostBase = null;
        break;
      }
      i = j;
    }
    this.framesGiven += old.length;
    for (let k = old.length - 1; k >= 0; k--) this.given.push(old[k]);
  }
}
