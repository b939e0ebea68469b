// The thread dump: a text picture of what every guest thread and vCPU is
// doing now, for a person looking at a sandbox that seems stuck (`tsvisor
// debug --stacks`, the control server's debug.Stacks). It reads the
// kernel's state and changes nothing; it costs a walk over the processes,
// so it is never on a hot path.
//
// What each part says:
// - the scheduler: the threads queued for a vCPU, whether a slice is
//   scheduled (a queued thread with no slice scheduled and vCPU 0 idle
//   would never run), whether the workers' mailbox sweep is armed;
// - each vCPU worker: the thread it runs and for how long, and its mailbox
//   counters (commands sent, stops reported, stops collected: a stop
//   reported and not collected is a wake-up the kernel missed);
// - each process and thread: its state and, for a thread blocked in a
//   system call, the call with its arguments as --strace prints them; the
//   signals pending and blocked. A thread on a worker has its registers
//   there, so its pc is not shown.

import { performance } from 'node:perf_hooks';
import type { Kernel } from './kernel.js';
import { TaskState, type Process, type Task } from './task.js';

const STATE_NAMES: Record<TaskState, string> = {
  [TaskState.Runnable]: 'runnable',
  [TaskState.Running]: 'running',
  [TaskState.Blocked]: 'blocked',
  [TaskState.Stopped]: 'stopped',
  [TaskState.Exited]: 'exited',
};

const hex = (n: number | bigint): string => '0x' + n.toString(16);

/** The dump of `k`'s threads and vCPUs, one fact per line. */
export function threadDump(k: Kernel, now = performance.now()): string {
  const s = k.scheduler.describe(now);
  const lines = [
    `scheduler: run queue [${s.runQueue.join(', ')}], slice scheduled ${yesNo(s.sliceScheduled)}, vCPU 0 busy ${yesNo(s.ownVcpuBusy)}, vCPU 0 budget ${s.lookBudget}, paused ${yesNo(s.paused)}, worker sweep ${yesNo(s.sweeping)}`,
  ];
  for (const v of s.remotes) {
    const what = v.tid === null ? (v.ready ? 'idle' : 'starting') : `thread ${v.tid} for ${v.runningMs.toFixed(1)} ms${v.preempted ? ' (preempted)' : ''}`;
    lines.push(`vCPU ${v.index}: ${what}; mailbox: ${v.commands} commands, ${v.stops} stops reported, ${v.collected} collected, interrupt ${v.interrupt}`);
  }
  const procs = [...k.processes.values()].sort((a, b) => a.pid - b.pid);
  for (const p of procs) {
    lines.push(describeProcess(p));
    const threads = [...p.threads].sort((a, b) => a.tid - b.tid);
    for (const t of threads) lines.push('  ' + describeThread(k, t));
  }
  return lines.join('\n') + '\n';
}

function yesNo(b: boolean): string {
  return b ? 'yes' : 'no';
}

function describeProcess(p: Process): string {
  const life = p.alive ? (p.stopped ? 'stopped' : 'alive') : `dead (wait status ${p.exitStatus ?? '?'})`;
  return `process ${p.pid} (${p.comm || p.exePath || '?'}): parent ${p.ppid}, ${life}, ${p.threads.size} thread${p.threads.size === 1 ? '' : 's'}, signals pending ${hex(p.pending)}`;
}

function describeThread(k: Kernel, t: Task): string {
  const head = `thread ${t.tid}: ${STATE_NAMES[t.state] ?? String(t.state)}`;
  const signals = `signals pending ${hex(t.pending)}, blocked ${hex(t.sigmask)}`;
  switch (t.state) {
    case TaskState.Blocked:
      return `${head} in ${k.syscalls.describeCall(t)}${t.isSleeping() ? ', interruptible' : ''}; pc ${hex(t.regs.pc)}; ${signals}`;
    case TaskState.Running:
      return `${head} on vCPU ${t.remote ? t.remote.index : 0}; ${signals}`;
    default:
      return `${head}; pc ${hex(t.regs.pc)}; ${signals}`;
  }
}
