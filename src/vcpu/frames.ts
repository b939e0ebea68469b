// The sandbox-wide pool of shared page frames: the memory behind every page
// that more than one address space may map (MAP_SHARED, memfd, shm, file
// mappings).
//
// Contract:
// - One pool per sandbox: a shared WebAssembly.Memory of POOL_FRAMES 4 KiB
//   frames, reserved at full size once (the host commits a frame when it is
//   first touched), so no view ever goes stale. The kernel worker makes it
//   (FramePool.local()) and hands it to each vCPU worker once, at start-up
//   (FramePool.adopt); every thread then sees the same bytes, and Atomics on
//   the pool are atomic across workers.
// - Frame f holds bytes [f * PAGE_SIZE, (f + 1) * PAGE_SIZE) of the pool.
//   Which frames are in use, and by whom, is the kernel's business (its
//   frame allocator, src/kernel/frames.ts); this module holds only memory.
// - `dirty` has one byte per frame: a CPU or the kernel writing a frame sets
//   it to 1; whoever writes the frame back to a file clears it first.
// - An address space names the frame behind each of its shared pages in its
//   frame table (GuestMemory.frames: 0 = none, FRAME_ABSENT = not loaded
//   yet, else frame + 1), or above 4 GiB in its high table (high-pages.ts).

import { PAGE_SIZE } from './memory.js';

/** Frames in the pool: 4 GiB, the most one WebAssembly.Memory holds. */
export const POOL_FRAMES = 2 ** 20;
const WASM_PAGE = 65536;

/** What a worker needs to attach to the pool (structured-clone safe). */
export interface SharedFramePool {
  memory: WebAssembly.Memory;
  dirty: SharedArrayBuffer;
}

let local: FramePool | undefined;

export class FramePool {
  readonly memory: WebAssembly.Memory;
  readonly u8: Uint8Array;
  readonly i16: Int16Array;
  readonly i32: Int32Array;
  readonly i64: BigInt64Array;
  readonly view: DataView;
  /** One byte per frame: written since last cleaned. */
  readonly dirty: Uint8Array;

  private constructor(shared: SharedFramePool) {
    this.memory = shared.memory;
    const buffer = shared.memory.buffer as unknown as SharedArrayBuffer;
    this.u8 = new Uint8Array(buffer);
    this.i16 = new Int16Array(buffer);
    this.i32 = new Int32Array(buffer);
    this.i64 = new BigInt64Array(buffer);
    this.view = new DataView(buffer);
    this.dirty = new Uint8Array(shared.dirty);
  }

  /** This thread's pool: the one adopted from the kernel worker, or a new one made on first use. */
  static local(): FramePool {
    if (local === undefined) {
      const pages = (POOL_FRAMES * PAGE_SIZE) / WASM_PAGE;
      const memory = new WebAssembly.Memory({ initial: pages, maximum: pages, shared: true });
      local = new FramePool({ memory, dirty: new SharedArrayBuffer(POOL_FRAMES) });
    }
    return local;
  }

  /** Make `shared` (another thread's pool) this thread's pool; a vCPU worker does so before attaching any memory. */
  static adopt(shared: SharedFramePool): FramePool {
    local = new FramePool(shared);
    return local;
  }

  share(): SharedFramePool {
    return { memory: this.memory, dirty: this.dirty.buffer as SharedArrayBuffer };
  }

  /** Byte offset in the pool of frame `frame`. */
  static base(frame: number): number {
    return frame * PAGE_SIZE;
  }
}
