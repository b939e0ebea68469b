// sysfs: the part of /sys programs read to size themselves: the CPUs
// (devices/system/cpu: online, possible, present, one cpuN directory each),
// which glibc's sysconf(_SC_NPROCESSORS_ONLN/CONF) and thread pools consult,
// and the huge page size (kernel/mm/transparent_hugepage).
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
  // Transparent huge pages as a riscv64 Linux with Sv39 reports them (the Go runtime sizes its heap by it).
  const thp = new SynthDir(() => new Map<string, Inode>([
    ['hpage_pmd_size', new SynthFile(() => '2097152\n')],
    ['enabled', new SynthFile(() => 'always [madvise] never\n')],
  ]));
  const mm = new SynthDir(() => new Map<string, Inode>([['transparent_hugepage', thp]]));
  const kernel = new SynthDir(() => new Map<string, Inode>([['mm', mm]]));
  const fs = new SynthDir(() => new Map<string, Inode>([['cgroup', new SynthDir(() => new Map<string, Inode>())]]));
  return new SynthDir(() => new Map<string, Inode>([
    ['devices', devices],
    ['kernel', kernel],
    ['fs', fs],
  ]));
}
