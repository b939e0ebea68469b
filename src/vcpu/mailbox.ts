// The handshake between the kernel and a vCPU worker: a small shared
// mailbox (Int32 words in a SharedArrayBuffer) for commands and stops, the
// worker's register file (a ThreadState over a SharedArrayBuffer of its own),
// and a MessagePort for the rare, larger news (an address space the worker
// has not seen, tier-2 regions to adopt), which the worker drains
// synchronously before each command, and between slices of a run when the
// kernel has set NEWS.
//
// Protocol: the kernel copies the thread's registers into the worker's
// register file and fills the command words, then bumps CMD_SEQ and
// notifies; the worker (spinning on CMD_SEQ, or blocked in Atomics.wait on
// it) runs the thread until it stops, fills the stop words, bumps DONE_SEQ
// and notifies; the kernel learns of it with Atomics.waitAsync or by polling
// DONE_SEQ. Both sides act on a changed sequence number, never on a wake-up
// alone: a notify can land after its change was already seen and acted on,
// and then wakes the next wait for nothing. Only the
// kernel writes command words and only between a DONE and the next CMD; only
// the worker writes stop words and its register file while it runs; the
// kernel copies the registers back out when it collects the stop. The
// thread's own registers (Task.regs) are thus never shared: nothing the
// kernel does to them while the thread is away can reach the running copy
// (vcpus.ts checks that nothing does). INTERRUPT is the worker Cpu's
// interrupt flag: the kernel sets it to get the thread back early (a signal,
// a kill, a code change) and clears it with each new command, so an
// interrupt sent before the worker takes the command is not lost.

import type { MessagePort } from 'node:worker_threads';
import type { SharedGuestMemory } from './memory.js';
import type { SharedFramePool } from './frames.js';
import type { SharedRegion } from './region-share.js';

export const MB = {
  CMD_SEQ: 0,
  DONE_SEQ: 1,
  CMD: 2,
  MEM_ID: 3,
  STOP: 4,
  FAULT_SIGNAL: 5,
  FAULT_CODE: 6,
  FAULT_ADDR_LO: 7,
  FAULT_ADDR_HI: 8,
  INTERRUPT: 9,
  /** Instructions retired by the last run, as two uint32 halves (lo, hi). */
  INSTRET_LO: 10,
  INSTRET_HI: 11,
  /** 1 when another vCPU may run a thread of the same address space (Cpu.mt). */
  MT: 12,
  /**
   * 1 once the worker has loaded and watches CMD_SEQ (set by the worker, once). Until then the
   * kernel hands it no thread: a Worker takes 30-100 ms to start here, and a thread handed to one
   * still starting would wait that long while vCPU 0 could run it (src/workers/README.md).
   */
  READY: 13,
  /** Set by the kernel after posting news while the worker runs a thread; the worker takes the news between its slices of the run. */
  NEWS: 14,
  /**
   * Tier-0 WebAssembly modules the worker built itself (EngineStats.tier0Modules), written by the
   * worker after each run: 0 when it runs the one it was handed (VcpuWorkerData.tier0).
   */
  TIER0_BUILT: 15,
  /**
   * Instructions the current run has retired so far, in units of PROGRESS_UNIT: written by the
   * worker between its slices of a run, zeroed by the kernel with each command. A lone thread is
   * handed back only at a stop or an interrupt, so this is how the kernel's CPU-time counts see
   * the instructions of a thread still running on a worker (Task.cpuInstructions).
   */
  PROGRESS: 16,
  WORDS: 17,
} as const;

/** MB.PROGRESS counts in these (one word holds 2^31 of them: far more than any run). */
export const PROGRESS_UNIT = 1024;

export const CMD_RUN = 1;
export const CMD_QUIT = 2;

/**
 * Port messages from the kernel to a vCPU worker: an address space to run
 * threads of ('memory'), tier-2 regions the kernel's own Cpu of that space
 * kept since the last such news ('regions': the worker's Cpu adopts them,
 * region-share.ts), and one the kernel has dropped for good ('forget': the
 * worker lets go of its memory and decoded blocks, so they can be freed).
 */
export type VcpuNews =
  | { kind: 'memory'; id: number; shared: SharedGuestMemory; epoch: SharedArrayBuffer }
  | { kind: 'regions'; id: number; regions: SharedRegion[] }
  | { kind: 'forget'; id: number };

export interface VcpuWorkerData {
  mailbox: SharedArrayBuffer;
  /** The register file (ThreadState.SHARED_BYTES) of whatever thread the worker runs. */
  regs: SharedArrayBuffer;
  port: MessagePort;
  index: number;
  /** The sandbox's shared frame pool (frames.ts), adopted once at start-up. */
  frames: SharedFramePool;
  /**
   * The kernel's tier-0 WebAssembly module (interp-wasm.ts tier0Module), absent under the JavaScript
   * tier 0: the worker's Cpus run it instead of building and compiling one of their own.
   */
  tier0?: WebAssembly.Module;
}
