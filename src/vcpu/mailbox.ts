// The handshake between the kernel and a vCPU worker: a small shared
// mailbox (Int32 words in a SharedArrayBuffer) for commands and stops, and a
// MessagePort for the rare, larger news (an address space or a thread the
// worker has not seen), which the worker drains synchronously before each
// command.
//
// Protocol: the kernel fills the command words, then bumps CMD_SEQ and
// notifies; the worker (blocked in Atomics.wait on CMD_SEQ) runs the thread
// until it stops, fills the stop words, bumps DONE_SEQ and notifies; the
// kernel learns of it with Atomics.waitAsync or by polling DONE_SEQ. Only the
// kernel writes command words and only between a DONE and the next CMD; only
// the worker writes stop words. INTERRUPT is the worker Cpu's interrupt flag:
// the kernel sets it to get the thread back early (a signal, a kill, a code
// change); the worker clears it when it takes a new command.

import type { MessagePort } from 'node:worker_threads';
import type { SharedGuestMemory } from './memory.js';

export const MB = {
  CMD_SEQ: 0,
  DONE_SEQ: 1,
  CMD: 2,
  MEM_ID: 3,
  TID: 4,
  STOP: 5,
  FAULT_SIGNAL: 6,
  FAULT_CODE: 7,
  FAULT_ADDR_LO: 8,
  FAULT_ADDR_HI: 9,
  INTERRUPT: 10,
  /** Instructions retired by the last run, as two uint32 halves (lo, hi). */
  INSTRET_LO: 11,
  INSTRET_HI: 12,
  /** 1 when another vCPU may run a thread of the same address space (Cpu.mt). */
  MT: 13,
  WORDS: 16,
} as const;

export const CMD_RUN = 1;
export const CMD_QUIT = 2;

/** Port messages from the kernel to a vCPU worker. */
export type VcpuNews =
  | { kind: 'memory'; id: number; shared: SharedGuestMemory; epoch: SharedArrayBuffer }
  | { kind: 'thread'; tid: number; regs: SharedArrayBuffer }
  | { kind: 'forget-thread'; tid: number };

export interface VcpuWorkerData {
  mailbox: SharedArrayBuffer;
  port: MessagePort;
  index: number;
}
