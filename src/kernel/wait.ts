// Waiting for children (wait4, waitid): which child state changes a wait may
// report, and consuming them.
//
// Contract: a parent sees the changes of its own children only: an exit
// (the zombie, until reaped), a stop (WUNTRACED/WSTOPPED, reported once per
// stop) and a continue (WCONTINUED, once). By default only children whose
// exit signal is SIGCHLD count; __WCLONE selects the others and __WALL both,
// as in Linux. Reporting an exit reaps the zombie unless WNOWAIT.

import * as abi from '../linux/abi.js';
import type { Kernel } from './kernel.js';
import type { Process } from './task.js';

export interface WaitSelector {
  /** P_ALL, P_PID or P_PGID. */
  idtype: number;
  id: number;
}

export interface WaitOptions {
  exited: boolean;
  stopped: boolean;
  continued: boolean;
  /** Leave the child waitable (WNOWAIT). */
  peek: boolean;
  /** __WCLONE, __WALL bits. */
  clone: boolean;
  all: boolean;
}

export interface WaitReport {
  child: Process;
  /** The wait4 status word. */
  status: number;
  /** siginfo's si_code (CLD_*) and si_status. */
  code: number;
  value: number;
}

/** The first reportable change among `parent`'s children; 'none' when no child matches at all (ECHILD). */
export function findReport(kernel: Kernel, parent: Process, sel: WaitSelector, opts: WaitOptions): WaitReport | 'none' | 'pending' {
  let matched = false;
  for (const child of parent.children) {
    if (!selects(child, sel)) continue;
    if (!opts.all && (child.exitSignal !== abi.SIGCHLD) !== opts.clone) continue;
    matched = true;
    const report = reportOf(child, opts);
    if (!report) continue;
    if (!opts.peek) consume(kernel, parent, report);
    return report;
  }
  return matched ? 'pending' : 'none';
}

function selects(child: Process, sel: WaitSelector): boolean {
  switch (sel.idtype) {
    case abi.P_PID:
      return child.pid === sel.id;
    case abi.P_PGID:
      return child.pgid === sel.id;
    default:
      return true;
  }
}

function reportOf(child: Process, opts: WaitOptions): WaitReport | null {
  if (!child.alive) {
    if (!opts.exited) return null;
    const st = child.exitStatus!;
    return { child, status: st, code: exitCode(st), value: childStatusValue(st) };
  }
  if (opts.stopped && child.unreportedStop) {
    return { child, status: (child.unreportedStop << 8) | 0x7f, code: abi.CLD_STOPPED, value: child.unreportedStop };
  }
  if (opts.continued && child.unreportedContinue) {
    return { child, status: 0xffff, code: abi.CLD_CONTINUED, value: abi.SIGCONT };
  }
  return null;
}

function consume(kernel: Kernel, parent: Process, r: WaitReport): void {
  const child = r.child;
  switch (r.code) {
    case abi.CLD_STOPPED:
      child.unreportedStop = 0;
      return;
    case abi.CLD_CONTINUED:
      child.unreportedContinue = false;
      return;
    default:
      parent.childInstructions += child.deadInstructions + child.childInstructions;
      kernel.lifecycle.reap(child);
  }
}

/** si_code of a SIGCHLD for a child that ended with wait status `status`. */
export function exitCode(status: number): number {
  if ((status & 0x7f) === 0) return abi.CLD_EXITED;
  return status & 0x80 ? abi.CLD_DUMPED : abi.CLD_KILLED;
}

/** si_status of that SIGCHLD: the exit code, or the signal number. */
export function childStatusValue(status: number): number {
  return (status & 0x7f) === 0 ? (status >> 8) & 0xff : status & 0x7f;
}
