// Linux's riscv64 SysV IPC ABI (linux/ipc.h, linux/shm.h, asm-generic
// shmbuf.h): keys, flags, shmctl commands and their structures, with Linux's
// own names. Split from abi.ts, which re-exports all of it: import from either.

export const IPC_PRIVATE = 0;
export const IPC_CREAT = 0o1000;
export const IPC_EXCL = 0o2000;
export const IPC_RMID = 0;
export const IPC_SET = 1;
export const IPC_STAT = 2;
export const IPC_INFO = 3;
export const SHM_STAT = 13;
export const SHM_INFO = 14;
export const SHM_STAT_ANY = 15;
/** The flag glibc may add to IPC commands to ask for the 64-bit structures (the only ones here). */
export const IPC_64 = 0x100;
export const SHM_RDONLY = 0o10000;
export const SHM_RND = 0o20000;
export const SHM_REMAP = 0o40000;
export const SHM_EXEC = 0o100000;
/** shm_perm.mode bit of a segment marked for removal. */
export const SHM_DEST = 0o1000;
/** struct shmid64_ds (asm-generic, 64-bit): struct ipc64_perm (key, uid, gid, cuid, cgid, mode, seq) then the segment's fields. */
export const SHMID_DS = {
  size: 112, key: 0, uid: 4, gid: 8, cuid: 12, cgid: 16, mode: 20, seq: 24,
  segsz: 48, atime: 56, dtime: 64, ctime: 72, cpid: 80, lpid: 84, nattch: 88,
} as const;
/** struct shminfo64 (IPC_INFO): nine unsigned longs, the last four unused. */
export const SHMINFO = { size: 72, shmmax: 0, shmmin: 8, shmmni: 16, shmseg: 24, shmall: 32 } as const;
/** struct shm_info (SHM_INFO): an int, then five unsigned longs. */
export const SHM_INFO_STRUCT = { size: 48, usedIds: 0, shmTot: 8, shmRss: 16, shmSwp: 24, swapAttempts: 32, swapSuccesses: 40 } as const;
