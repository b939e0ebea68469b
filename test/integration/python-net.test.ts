// The Python networking suite (fixtures/python-net): Debian's riscv64 python3
// in `tsvisor do --packages python3` must print what it printed under QEMU
// user mode: AF_UNIX stream, datagram and seqpacket sockets passing file
// descriptors, AF_INET and AF_INET6 TCP and UDP on the loopback, and
// http.server answering urllib in the same sandbox. Skipped, saying why,
// without a python3 rootfs (package-suite.ts).

import { describePackageSuite } from './package-suite.js';

describePackageSuite('python3 networking programs (fixtures/python-net) give what QEMU gave', 'python-net');
