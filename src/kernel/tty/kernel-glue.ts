// JobControl over the Kernel: the caller is the kernel's `current`, the task
// whose system call the dispatcher is running now (synchronously); signals
// from a terminal come from the kernel (SI_KERNEL), as Linux's kill_pgrp from
// the tty layer.

import * as abi from '../../linux/abi.js';
import type { Kernel } from '../kernel.js';
import type { Task } from '../task.js';
import { taskBlocker } from '../files/blocking.js';
import { capable, CAP_SYS_ADMIN } from '../creds.js';
import { sigbit } from '../signal-delivery.js';
import type { JobControl, TtyCaller } from './job-control.js';

/** `kernel` is asked on each use (the registry exists before the kernel it serves). */
export function kernelJobControl(kernel: () => Kernel): JobControl {
  return {
    caller: () => {
      const k = kernel();
      const t = k.current;
      return t ? callerOf(k, t) : null;
    },
    signalProcess: (pid, sig) => {
      const p = kernel().processes.get(pid);
      if (p?.alive) kernel().signals.signalProcess(p, { signo: sig, code: abi.SI_KERNEL });
    },
    signalGroup: (pgid, sig) => {
      const k = kernel();
      for (const p of [...k.processes.values()]) if (p.alive && p.pgid === pgid) k.signals.signalProcess(p, { signo: sig, code: abi.SI_KERNEL });
    },
    // Zombies not yet reaped are members still, as Linux counts them (find_vpid).
    groupSession: (pgid) => {
      for (const p of kernel().processes.values()) if (p.pgid === pgid) return p.sid;
      return null;
    },
    isOrphaned: (pgid, sid) => kernel().signals.isOrphanedGroup(pgid, sid),
  };
}

function callerOf(k: Kernel, task: Task): TtyCaller {
  const p = task.process;
  return {
    pid: p.pid,
    pgid: p.pgid,
    sid: p.sid,
    ignoresOrBlocks: (sig) => p.sigactions[sig].handler === abi.SIG_IGN || (task.sigmask & sigbit(sig)) !== 0n,
    restartLater: () => {
      task.restart = 'sys';
    },
    blocker: taskBlocker(k, task),
    sysAdmin: capable(p.creds, CAP_SYS_ADMIN),
  };
}
