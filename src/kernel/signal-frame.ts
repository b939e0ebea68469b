// The riscv64 side of signals (arch/riscv/kernel/signal.c): siginfo_t and
// rt_sigframe as the guest's handlers and rt_sigreturn see them, and the
// return trampoline every process has mapped.
//
// Contract: a handler runs on an rt_sigframe built here: siginfo, then a
// ucontext holding the interrupted registers and the signal mask to restore;
// it returns through the trampoline at SIGRETURN_TRAMPOLINE (rt_sigreturn),
// which decodes the same frame. Nothing here decides which signal runs or
// when (signal-delivery.ts does).

import * as abi from '../linux/abi.js';
import type { Errno } from '../linux/errno.js';
import { PAGE_SIZE } from '../vcpu/memory.js';
import type { Task } from './task.js';
import type { AddressSpace } from './address-space.js';
import { STACK_TOP } from './mm.js';
import { StructWriter, StructReader } from './usercopy.js';

/** Where each process's signal return trampoline lives (one page, r-x). */
export const SIGRETURN_TRAMPOLINE = STACK_TOP + PAGE_SIZE;

/** Details carried with a signal into the handler's siginfo. */
export interface SigInfo {
  signo: number;
  code: number;
  pid?: number;
  uid?: number;
  addr?: number;
  /** SIGCHLD: the child's exit code or signal. */
  status?: number;
  /** rt_sigqueueinfo / timers: the sigval. */
  value?: bigint;
  /** POSIX timers: the timer id and overrun count. */
  timerId?: number;
  overrun?: number;
  /**
   * POSIX timers: called when the signal is taken off the queue, to fill in
   * `overrun` (Linux counts a timer's overruns until then).
   */
  collectOverrun?: () => number;
}

/** siginfo_t: 128 bytes; si_signo, si_errno, si_code, then the union at 16. */
export const SIGINFO = {
  size: 128,
  si_signo: 0,
  si_errno: 4,
  si_code: 8,
  si_pid: 16,
  si_uid: 20,
  si_addr: 16,
  si_status: 24,
  si_value: 24,
  si_timerid: 16,
  si_overrun: 20,
} as const;

export function encodeSiginfo(info: SigInfo): Uint8Array {
  const w = new StructWriter(SIGINFO.size).i32(SIGINFO.si_signo, info.signo).i32(SIGINFO.si_code, info.code);
  if (info.addr !== undefined) w.u64(SIGINFO.si_addr, info.addr);
  else if (info.timerId !== undefined) w.i32(SIGINFO.si_timerid, info.timerId).i32(SIGINFO.si_overrun, info.overrun ?? 0);
  else w.i32(SIGINFO.si_pid, info.pid ?? 0).u32(SIGINFO.si_uid, info.uid ?? 0);
  if (info.status !== undefined) w.i32(SIGINFO.si_status, info.status);
  if (info.value !== undefined) w.u64(SIGINFO.si_value, info.value);
  return w.bytes;
}

/**
 * riscv64's struct rt_sigframe: siginfo (128 bytes), then ucontext:
 * uc_flags, uc_link, uc_stack (24 bytes), uc_sigmask (8 bytes, padded to
 * 128), uc_mcontext at 16-byte alignment: sc_regs (pc, x1..x31), then the
 * D-extension state f0..f31 and fcsr, padded to the Q-extension union's 528 bytes.
 */
export const SIGFRAME = {
  info: 0,
  uc: 128,
  uc_flags: 128 + 0,
  uc_link: 128 + 8,
  uc_stack: 128 + 16,
  uc_sigmask: 128 + 40,
  mcontext: 128 + 176,
  regs: 128 + 176,
  fpregs: 128 + 176 + 256,
  fcsr: 128 + 176 + 256 + 256,
  size: 128 + 176 + 256 + 528,
} as const;

/** Build the frame's bytes for `task` about to run a handler. */
export function encodeSigframe(task: Task, info: SigInfo, savedMask: bigint, altstack: { sp: number; flags: number; size: number }): Uint8Array {
  const w = new StructWriter(SIGFRAME.size);
  w.bytes.set(encodeSiginfo(info), SIGFRAME.info);
  w.u64(SIGFRAME.uc_stack, altstack.sp).i32(SIGFRAME.uc_stack + 8, altstack.flags).u64(SIGFRAME.uc_stack + 16, altstack.size);
  w.u64(SIGFRAME.uc_sigmask, savedMask);
  const r = task.regs;
  w.u64(SIGFRAME.regs, r.pc);
  for (let i = 1; i < 32; i++) {
    w.u32(SIGFRAME.regs + 8 * i, r.x[2 * i]).u32(SIGFRAME.regs + 8 * i + 4, r.x[2 * i + 1]);
  }
  for (let i = 0; i < 32; i++) {
    w.u32(SIGFRAME.fpregs + 8 * i, r.fbits[2 * i]).u32(SIGFRAME.fpregs + 8 * i + 4, r.fbits[2 * i + 1]);
  }
  w.u32(SIGFRAME.fcsr, r.fcsr);
  return w.bytes;
}

/**
 * Restore registers from a frame and return the signal mask it saved, as
 * stored: the caller (rt_sigreturn) takes SIGKILL and SIGSTOP out of it.
 */
export function decodeSigframe(task: Task, frame: Uint8Array): bigint {
  const rd = new StructReader(frame);
  const r = task.regs;
  r.pc = rd.u64(SIGFRAME.regs);
  for (let i = 1; i < 32; i++) {
    r.x[2 * i] = rd.i32(SIGFRAME.regs + 8 * i);
    r.x[2 * i + 1] = rd.i32(SIGFRAME.regs + 8 * i + 4);
  }
  for (let i = 0; i < 32; i++) {
    r.fbits[2 * i] = rd.i32(SIGFRAME.fpregs + 8 * i);
    r.fbits[2 * i + 1] = rd.i32(SIGFRAME.fpregs + 8 * i + 4);
  }
  r.fcsr = rd.u32(SIGFRAME.fcsr) & 0xff;
  return rd.big(SIGFRAME.uc_sigmask);
}

/** Map the rt_sigreturn trampoline into a new image's address space (execve). */
export function mapSigreturnTrampoline(vm: AddressSpace): 0 | Errno {
  const r = vm.mm.mapFixed(SIGRETURN_TRAMPOLINE, PAGE_SIZE, abi.PROT_READ | abi.PROT_WRITE, '[vdso]');
  if (r !== 0) return r;
  // li a7, 139 (rt_sigreturn); ecall
  const code = new Uint8Array(8);
  const dv = new DataView(code.buffer);
  dv.setUint32(0, 0x08b00893, true);
  dv.setUint32(4, 0x00000073, true);
  const w = vm.user.copyOut(SIGRETURN_TRAMPOLINE, code);
  if (w !== 0) return w;
  return vm.mm.protect(SIGRETURN_TRAMPOLINE, PAGE_SIZE, abi.PROT_READ | abi.PROT_EXEC);
}
