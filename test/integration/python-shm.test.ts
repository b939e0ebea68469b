// The Python shared-memory suite (fixtures/python-shm): Debian's riscv64
// python3 in `tsvisor do --packages python3` must print what it printed
// under QEMU user mode: multiprocessing's Value, Array, Lock, SharedMemory
// and Pool across forked processes, mmap of a file with MAP_SHARED (a
// child's stores reaching the file and the parent), and sqlite3 in WAL mode
// with two processes on one database (its -shm index shared by mmap).
// Skipped, saying why, without a python3 rootfs (package-suite.ts).

import { describePackageSuite } from './package-suite.js';

describePackageSuite('python3 shared-memory programs (fixtures/python-shm) give what QEMU gave', 'python-shm');
