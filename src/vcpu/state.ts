// The architectural state of one guest thread (hart), and the closed set of
// reasons a CPU stops running guest code.
//
// Contract:
// - Integer registers are 64-bit values held as two int32 halves:
//   x[2*i] is the low half and x[2*i+1] the high half of register xi.
//   x[0] and x[1] (register x0) are always 0.
// - Floating-point registers are 64-bit bit patterns: f[i] views register fi
//   as a double, and fbits[2*i] / fbits[2*i+1] its low / high 32 bits. A single
//   is NaN-boxed (high half all ones), as the F extension requires.
// - pc is the guest address of the next instruction, a non-negative integer
//   below 2^53 (a jump above GUEST_VA_LIMIT faults at fetch).
// - fcsr holds frm (bits 7:5) and fflags (bits 4:0).
// - A ThreadState is owned by exactly one CPU while it runs; the kernel reads
//   and writes it only while the thread is stopped.

/**
 * The first value of number fields that later hold pcs or addresses
 * (above 2^31 in most programs); each class's constructor then sets the
 * real initial value. V8 gives an object field the representation of the
 * first value stored: a small integer first and a larger number later
 * changes it, which deprecates the map of every object of the class and
 * aborts the optimizing compiles in flight that use it ("Maps became
 * deprecated during optimization": the interpreter's, after the warm-up).
 * 0.5 is not a small integer, so such a field holds a double from the
 * start, and a 0 stored later keeps it one.
 */
export const AS_DOUBLE = 0.5;

export class ThreadState {
  /**
   * Registers live in a SharedArrayBuffer, so that one can be a vCPU
   * worker's register file which the kernel fills before a run and reads
   * after it (src/kernel/vcpus.ts). pc and fcsr are plain fields (the hot
   * path reads them); storeScalars()/loadScalars() copy them through
   * `shared` when the registers change hands.
   */
  readonly shared: SharedArrayBuffer;
  readonly x: Int32Array;
  readonly f: Float64Array;
  readonly fbits: Int32Array;
  /**
   * x and f with the gap between them, laid out as the WebAssembly tier 0's
   * register slot is (x at 0, f at FILE_F_OFFSET): one block copy each way
   * at its entries and exits (interp-wasm.ts). The gap holds nothing of the
   * thread's.
   */
  readonly file: Int32Array;
  private readonly scalars: Float64Array;
  pc = AS_DOUBLE;
  fcsr = 0;

  /** Where f starts in the register file (bytes). */
  static readonly FILE_F_OFFSET = 512;
  /** Bytes of a thread's shared register file: x (256), a gap (256), f (256), pc and fcsr (16). */
  static readonly SHARED_BYTES = 784;

  /** A fresh, zeroed register file, or a view of one made elsewhere (in another worker). */
  constructor(shared?: SharedArrayBuffer) {
    this.pc = 0;
    this.shared = shared ?? new SharedArrayBuffer(ThreadState.SHARED_BYTES);
    const F = ThreadState.FILE_F_OFFSET;
    this.x = new Int32Array(this.shared, 0, 64);
    this.f = new Float64Array(this.shared, F, 32);
    this.fbits = new Int32Array(this.shared, F, 64);
    this.file = new Int32Array(this.shared, 0, (F + 256) / 4);
    this.scalars = new Float64Array(this.shared, F + 256, 2);
    if (shared) this.loadScalars();
  }

  /** Publish pc and fcsr to the shared register file (before another thread reads it). */
  storeScalars(): void {
    this.scalars[0] = this.pc;
    this.scalars[1] = this.fcsr;
  }

  /** Take pc and fcsr from the shared register file (after another thread ran this one). */
  loadScalars(): void {
    this.pc = this.scalars[0];
    // `| 0`: fcsr is a small integer field, and the element read is a
    // double; stored as such it turned the field into a double and
    // deprecated every ThreadState's map, which threw away the kernel's
    // optimized interpreter ("wrong map") at the first hand-over to a vCPU
    // worker, inside the 2-vCPU window (src/vcpu/README.md, "Decision: the
    // warm-up's last compile, looked at again").
    this.fcsr = this.scalars[1] | 0;
  }

  /** Register xi as an unsigned number; exact while it is below 2^53. */
  getU(i: number): number {
    return (this.x[2 * i + 1] >>> 0) * 0x100000000 + (this.x[2 * i] >>> 0);
  }

  /** Register xi as a signed number; exact while |value| < 2^53. */
  getS(i: number): number {
    return this.x[2 * i + 1] * 0x100000000 + (this.x[2 * i] >>> 0);
  }

  /** Register xi as a signed 64-bit BigInt (exact). */
  getBig(i: number): bigint {
    return (BigInt(this.x[2 * i + 1]) << 32n) | BigInt(this.x[2 * i] >>> 0);
  }

  /** Low 32 bits of xi, signed (what a C `int` argument is). */
  getI32(i: number): number {
    return this.x[2 * i];
  }

  /** Set xi from a number (integral, |v| < 2^53), sign-extended to 64 bits. */
  setS(i: number, v: number): void {
    if (i === 0) return;
    const lo = v % 0x100000000;
    this.x[2 * i] = lo | 0;
    this.x[2 * i + 1] = Math.floor(v / 0x100000000) | 0;
  }

  /** Set xi from a BigInt (taken modulo 2^64). */
  setBig(i: number, v: bigint): void {
    if (i === 0) return;
    this.x[2 * i] = Number(BigInt.asIntN(32, v));
    this.x[2 * i + 1] = Number(BigInt.asIntN(32, v >> 32n));
  }

  /** Take every register of `o` (f as raw bits: signaling NaNs stay as they are). */
  copyFrom(o: ThreadState): void {
    this.x.set(o.x);
    this.fbits.set(o.fbits);
    this.pc = o.pc;
    this.fcsr = o.fcsr;
  }

  /** Whether `o` holds the same registers, bit for bit. */
  sameAs(o: ThreadState): boolean {
    if (this.pc !== o.pc || this.fcsr !== o.fcsr) return false;
    for (let i = 2; i < 64; i++) if (this.x[i] !== o.x[i]) return false;
    for (let i = 0; i < 64; i++) if (this.fbits[i] !== o.fbits[i]) return false;
    return true;
  }
}

/** Why CPU.run() returned. Switch on it exhaustively. */
export const enum Stop {
  /** An `ecall`: pc already points past it (Linux's sepc + 4). a7 holds the number. */
  Syscall = 1,
  /** A synchronous fault: see the CPU's fault fields (signal, code, address). */
  Fault = 2,
  /** The instruction budget given to run() is spent. */
  Budget = 3,
  /** Another thread raised this vCPU's interrupt flag. */
  Interrupted = 4,
}

/** Details of the last Stop.Fault, in siginfo terms. */
export class FaultInfo {
  /** SIGSEGV, SIGBUS, SIGILL, SIGFPE or SIGTRAP (Linux numbers). */
  signal = 0;
  /** si_code: SEGV_MAPERR, SEGV_ACCERR, ILL_ILLOPC, BUS_ADRALN, TRAP_BRKPT... */
  code = 0;
  /** si_addr: the faulting data address, or the pc for SIGILL/SIGTRAP. */
  addr = AS_DOUBLE;

  constructor() {
    this.addr = 0;
  }
}
