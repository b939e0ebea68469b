// Mounts and the root of this process's mount namespace: mount(2),
// umount2(2), pivot_root(2). Used to give a confined tsvisor process a root
// of its own (src/main/confine.ts); they need CAP_SYS_ADMIN over the mount
// namespace, which a process started in a new one has.

import { bindLazily, check, EINVAL_NEG, hasNul, type Fn } from './libc.js';
import { hostSyscalls } from './syscall-numbers.js';

// mount(2) flags (linux/mount.h; the same on every architecture).
export const MS_RDONLY = 0x1;
export const MS_NOSUID = 0x2;
export const MS_NODEV = 0x4;
export const MS_NOEXEC = 0x8;
export const MS_REMOUNT = 0x20;
export const MS_BIND = 0x1000;
export const MS_REC = 0x4000;
export const MS_PRIVATE = 0x40000;
/** umount2: detach now, release once no longer busy. */
export const MNT_DETACH = 0x2;

interface MountLib {
  mount: Fn;
  umount2: Fn;
  syscall: Fn;
}

const lib = bindLazily(
  (c): MountLib =>
    ({
      mount: c.func('int mount(const char *, const char *, const char *, unsigned long, const char *)'),
      umount2: c.func('int umount2(const char *, int)'),
      syscall: c.func('long syscall(long, ...)'),
    }) as unknown as MountLib,
);

/** mount(2); a null source, type or data is passed as NULL. */
export function mount(source: string | null, target: string, fstype: string | null, flags: number, data: string | null = null): number {
  if (hasNul(source ?? '', target, fstype ?? '', data ?? '')) return EINVAL_NEG;
  return check(lib().mount(source, target, fstype, flags, data));
}

export function umount2(target: string, flags: number): number {
  if (hasNul(target)) return EINVAL_NEG;
  return check(lib().umount2(target, flags));
}

/** pivot_root(2) (glibc has no wrapper): -ENOSYS on a host without a system call table here. */
export function pivotRoot(newRoot: string, putOld: string): number {
  if (hasNul(newRoot, putOld)) return EINVAL_NEG;
  const t = hostSyscalls();
  if (!t) return -38; // ENOSYS
  return check(lib().syscall(t.numbers.pivot_root, 'const char *', newRoot, 'const char *', putOld));
}
