// Guest memory of one address space.
//
// Contract:
// - The guest's virtual address space is [0, GUEST_VA_LIMIT). A guest virtual
//   address is also its byte offset in one shared WebAssembly.Memory (identity
//   mapping), so every vCPU worker that attaches the same memory sees the same
//   bytes, Atomics work on it, and generated WebAssembly can run on it later.
//   Addresses at or above GUEST_VA_LIMIT are never mapped: any access faults.
// - Which pages are mapped, and how, lives in `pageFlags`: one byte per 4 KiB
//   page in a SharedArrayBuffer shared by every vCPU of the address space.
//   The kernel's mm layer is the only writer of the PROT_* bits; a CPU reads
//   them on every access and raises SIGSEGV when the needed bit is clear.
// - PAGE_CODE marks pages from which some vCPU has decoded instructions; a
//   store to such a page must invalidate the decoded blocks of that page.
// - The backing WebAssembly.Memory is created at its full size once (virtual
//   reservation only: the host commits a page when it is first touched), so no
//   view ever goes stale because of a grow().
// - Physical use is accounted by the kernel's mm (mapped pages), not here.
// - Shared pages (memory several address spaces map: MAP_SHARED, shm, file
//   mappings) do not live in this memory but in the sandbox-wide frame pool
//   (frames.ts). Such a page has PAGE_SHARED set and its R/W/X bits clear,
//   its permissions kept in the SHARED_* bits instead (`PAGE_SHARED |
//   prot << SHARED_SHIFT`), so every access to it fails the CPUs' fast
//   check, which is unchanged, and lands in their slow path (Cpu.segv),
//   which finds the frame in `frames` (one Int32 per page: 0 = no frame,
//   else frame + 1) and does the access on the pool. A shared page without
//   a frame (a file mapping past the end of its file) gives SIGBUS. The
//   bytes of this memory under a shared page are unused (zero).

export const PAGE_SHIFT = 12;
export const PAGE_SIZE = 1 << PAGE_SHIFT;
export const PAGE_MASK = PAGE_SIZE - 1;
/** First address that is never mapped: 4 GiB, the most one WebAssembly.Memory holds. */
export const GUEST_VA_LIMIT = 2 ** 32;
export const GUEST_PAGES = GUEST_VA_LIMIT / PAGE_SIZE;
const WASM_PAGE = 65536;

/** Bits of a pageFlags entry. The low three equal Linux's PROT_READ/WRITE/EXEC. */
export const PAGE_R = 1;
export const PAGE_W = 2;
export const PAGE_X = 4;
/** Instructions were decoded from this page and are cached by some vCPU. */
export const PAGE_CODE = 8;
/** The page is backed by a frame of the shared pool (see the file comment); R/W/X are then clear. */
export const PAGE_SHARED = 16;
/** A shared page's PROT_* bits sit at this shift: PAGE_SHARED | prot << SHARED_SHIFT. */
export const SHARED_SHIFT = 5;

/** The R/W/X permissions of a pageFlags entry, private or shared. */
export function pagePerms(flags: number): number {
  return (flags | (flags >>> SHARED_SHIFT)) & 7;
}

/** What a worker needs to attach to an address space (structured-clone safe). */
export interface SharedGuestMemory {
  memory: WebAssembly.Memory;
  pageFlags: SharedArrayBuffer;
  frames: SharedArrayBuffer;
}

export class GuestMemory {
  readonly memory: WebAssembly.Memory;
  readonly buffer: SharedArrayBuffer;
  readonly u8: Uint8Array;
  readonly u16: Uint16Array;
  readonly u32: Uint32Array;
  readonly i32: Int32Array;
  readonly f64: Float64Array;
  readonly f32: Float32Array;
  readonly view: DataView;
  /** One byte per page: PAGE_R | PAGE_W | PAGE_X | PAGE_CODE. */
  readonly pageFlags: Uint8Array;
  /** One Int32 per page: the shared frame behind it plus one, or 0 (see the file comment). */
  readonly frames: Int32Array;

  private constructor(shared: SharedGuestMemory) {
    this.memory = shared.memory;
    this.buffer = shared.memory.buffer as unknown as SharedArrayBuffer;
    if (this.buffer.byteLength !== GUEST_VA_LIMIT) {
      throw new Error(`guest memory must be ${GUEST_VA_LIMIT} bytes, got ${this.buffer.byteLength}`);
    }
    this.u8 = new Uint8Array(this.buffer);
    this.u16 = new Uint16Array(this.buffer);
    this.u32 = new Uint32Array(this.buffer);
    this.i32 = new Int32Array(this.buffer);
    this.f64 = new Float64Array(this.buffer);
    this.f32 = new Float32Array(this.buffer);
    this.view = new DataView(this.buffer);
    this.pageFlags = new Uint8Array(shared.pageFlags);
    this.frames = new Int32Array(shared.frames);
  }

  /** A new, wholly unmapped address space. */
  static create(): GuestMemory {
    const pages = GUEST_VA_LIMIT / WASM_PAGE;
    const memory = new WebAssembly.Memory({ initial: pages, maximum: pages, shared: true });
    return new GuestMemory({ memory, pageFlags: new SharedArrayBuffer(GUEST_PAGES), frames: new SharedArrayBuffer(GUEST_PAGES * 4) });
  }

  /** Attach (in another worker) to an address space created elsewhere. */
  static attach(shared: SharedGuestMemory): GuestMemory {
    return new GuestMemory(shared);
  }

  share(): SharedGuestMemory {
    return { memory: this.memory, pageFlags: this.pageFlags.buffer as SharedArrayBuffer, frames: this.frames.buffer as SharedArrayBuffer };
  }

  /**
   * True when every byte of [addr, addr+len) lies on pages whose permissions
   * (private or shared) include all bits of `need`. len 0 is always accessible.
   */
  accessible(addr: number, len: number, need: number): boolean {
    if (len === 0) return true;
    if (addr < 0 || len < 0 || addr + len > GUEST_VA_LIMIT) return false;
    const last = (addr + len - 1) >>> PAGE_SHIFT;
    for (let p = addr >>> PAGE_SHIFT; p <= last; p++) {
      if ((pagePerms(this.pageFlags[p]) & need) !== need) return false;
    }
    return true;
  }
}
