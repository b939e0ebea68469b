// How busy the rest of the host was while this process measured something:
// the CPU the whole machine spent (/proc/stat) minus what this process spent
// (all its threads: the sandbox's kernel and vCPU workers, V8's background
// threads, the control's workers), over the wall time, in cores. On this
// shared 2-core host a wall-clock speed-up is only as good as the second core
// was free: a build that takes it for half a second halves a 2-thread run's
// gain, and the scaling rows (bench/groups/scaling.ts) use this to see it.

import * as fs from 'node:fs';
import { performance } from 'node:perf_hooks';

/** Seconds of CPU the machine spent, from /proc/stat's first line (USER_HZ ticks); NaN where there is none. */
function machineCpuSeconds(): number {
  let line: string;
  try {
    line = fs.readFileSync('/proc/stat', 'utf8').split('\n', 1)[0];
  } catch {
    return NaN;
  }
  // cpu user nice system idle iowait irq softirq steal ...: busy is all but idle and iowait.
  const f = line.trim().split(/\s+/).slice(1, 9).map(Number);
  if (f.length < 8 || f.some((x) => !Number.isFinite(x))) return NaN;
  return (f[0] + f[1] + f[2] + f[5] + f[6] + f[7]) / 100;
}

function ownCpuSeconds(): number {
  const u = process.cpuUsage();
  return (u.user + u.system) / 1e6;
}

export interface Loaded<T> {
  result: T;
  /** Wall seconds of the whole call. */
  wall: number;
  /** Cores the host's other processes kept busy on average during the call (NaN without /proc/stat); at best ±0.02 for a 1-second call (10 ms ticks). */
  foreign: number;
}

/** Runs fn and says how busy the rest of the machine was meanwhile. */
export async function withHostLoad<T>(fn: () => Promise<T>): Promise<Loaded<T>> {
  const m0 = machineCpuSeconds(), o0 = ownCpuSeconds(), t0 = performance.now();
  const result = await fn();
  const wall = (performance.now() - t0) / 1000;
  const foreign = (machineCpuSeconds() - m0 - (ownCpuSeconds() - o0)) / wall;
  return { result, wall, foreign: Math.max(0, foreign) };
}
