// sysfs: the part of /sys programs read to size themselves: the CPUs
// (devices/system/cpu: online, possible, present, one cpuN directory each),
// which glibc's sysconf(_SC_NPROCESSORS_ONLN/CONF) and thread pools consult.
// The vCPU count is the sandbox's --cpu-num, so the guest sizes its thread
// pools to the vCPUs it really has.

import { Inode } from '../vfs/inode.js';
import { SynthDir, SynthFile } from './synthetic.js';

export function makeSysfs(cpuNum: number): Inode {
  const range = cpuNum > 1 ? `0-${cpuNum - 1}\n` : '0\n';
  const cpuDir = new Map<string, Inode>([
    ['online', new SynthFile(() => range)],
    ['possible', new SynthFile(() => range)],
    ['present', new SynthFile(() => range)],
    ['kernel_max', new SynthFile(() => `${Math.max(cpuNum - 1, 0)}\n`)],
  ]);
  for (let i = 0; i < cpuNum; i++) {
    cpuDir.set(`cpu${i}`, new SynthDir(() => new Map<string, Inode>([['online', new SynthFile(() => '1\n')]])));
  }
  const cpu = new SynthDir(() => cpuDir);
  const system = new SynthDir(() => new Map<string, Inode>([['cpu', cpu]]));
  const devices = new SynthDir(() => new Map<string, Inode>([['system', system]]));
  const kernel = new SynthDir(() => new Map<string, Inode>());
  const fs = new SynthDir(() => new Map<string, Inode>([['cgroup', new SynthDir(() => new Map<string, Inode>())]]));
  return new SynthDir(() => new Map<string, Inode>([
    ['devices', devices],
    ['kernel', kernel],
    ['fs', fs],
  ]));
}
