// What a terminal needs from the process core (Linux's tty_check_change,
// job_control, kill_pgrp, is_current_pgrp_orphaned), as an interface so the
// line discipline can be tested without a kernel. kernel-glue.ts implements
// it over the Kernel.

import type { Blocker } from '../files/blocking.js';

/** The process making the current call on a terminal. */
export interface TtyCaller {
  pid: number;
  pgid: number;
  sid: number;
  /** Does the caller ignore or block `sig` (then SIGTTIN reads get EIO, SIGTTOU writes go ahead)? */
  ignoresOrBlocks(sig: number): boolean;
  /**
   * The call ends now with EINTR after a job-control signal, and restarts
   * once the caller runs again (Linux's -ERESTARTSYS from job_control).
   */
  restartLater(): void;
  /** For waits: the calling thread. */
  blocker: Blocker;
  /** CAP_SYS_ADMIN (TIOCSCTTY stealing a terminal). */
  sysAdmin: boolean;
}

export interface JobControl {
  /** The caller of the system call being served now; null outside one (a retry after a wait). */
  caller(): TtyCaller | null;
  /** Send `sig` to process `pid` (from the kernel: SI_KERNEL). */
  signalProcess(pid: number, sig: number): void;
  /** Send `sig` to every member of process group `pgid` (from the kernel: SI_KERNEL). */
  signalGroup(pgid: number, sig: number): void;
  /** The session of process group `pgid`, or null when it has no member (zombies not yet reaped count). */
  groupSession(pgid: number): number | null;
  /** POSIX orphaned process group: terminal stop signals are not sent to it. */
  isOrphaned(pgid: number, sid: number): boolean;
}
