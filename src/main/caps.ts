// --apply-caps: give this process exactly the spec's capabilities (bounding,
// effective, permitted, inheritable) before boot re-executes itself.

import { Fatal } from './common.js';
import type { Spec } from '../spec/types.js';
import { capset, prctl, PR_CAPBSET_DROP, PR_CAPBSET_READ } from '../host/ffi.js';

/** Linux capability numbers (linux/capability.h). */
export const CAPABILITIES: readonly string[] = [
  'CAP_CHOWN', 'CAP_DAC_OVERRIDE', 'CAP_DAC_READ_SEARCH', 'CAP_FOWNER', 'CAP_FSETID', 'CAP_KILL', 'CAP_SETGID',
  'CAP_SETUID', 'CAP_SETPCAP', 'CAP_LINUX_IMMUTABLE', 'CAP_NET_BIND_SERVICE', 'CAP_NET_BROADCAST', 'CAP_NET_ADMIN',
  'CAP_NET_RAW', 'CAP_IPC_LOCK', 'CAP_IPC_OWNER', 'CAP_SYS_MODULE', 'CAP_SYS_RAWIO', 'CAP_SYS_CHROOT', 'CAP_SYS_PTRACE',
  'CAP_SYS_PACCT', 'CAP_SYS_ADMIN', 'CAP_SYS_BOOT', 'CAP_SYS_NICE', 'CAP_SYS_RESOURCE', 'CAP_SYS_TIME',
  'CAP_SYS_TTY_CONFIG', 'CAP_MKNOD', 'CAP_LEASE', 'CAP_AUDIT_WRITE', 'CAP_AUDIT_CONTROL', 'CAP_SETFCAP',
  'CAP_MAC_OVERRIDE', 'CAP_MAC_ADMIN', 'CAP_SYSLOG', 'CAP_WAKE_ALARM', 'CAP_BLOCK_SUSPEND', 'CAP_AUDIT_READ',
  'CAP_PERFMON', 'CAP_BPF', 'CAP_CHECKPOINT_RESTORE',
];

export function capMask(names: string[] | undefined): bigint {
  let m = 0n;
  for (const n of names ?? []) {
    const i = CAPABILITIES.indexOf(n);
    if (i < 0) throw new Fatal(`unknown capability ${n}`);
    m |= 1n << BigInt(i);
  }
  return m;
}

export function applyCapabilities(spec: Spec): void {
  const caps = spec.process?.capabilities ?? {};
  const bounding = capMask(caps.bounding);
  for (let i = 0; i < CAPABILITIES.length; i++) {
    if (bounding & (1n << BigInt(i))) continue;
    if (prctl(PR_CAPBSET_READ, i) <= 0) continue;
    const r = prctl(PR_CAPBSET_DROP, i);
    if (r < 0) throw new Fatal(`dropping ${CAPABILITIES[i]} from the bounding set failed: errno ${-r}`);
  }
  const r = capset({ effective: capMask(caps.effective), permitted: capMask(caps.permitted), inheritable: capMask(caps.inheritable) });
  if (r < 0) throw new Fatal(`capset failed: errno ${-r}`);
}
