// Every fuzz target by name (`npm run fuzz -- --target NAME`).

import type { Target } from '../harness.js';
import { UrpcTarget } from './urpc.js';
import { P9ServerTarget } from './p9-server.js';
import { P9ClientTarget } from './p9-client.js';
import { SpecTarget } from './spec.js';
import { ElfTarget } from './elf.js';
import { SyscallsTarget } from './syscalls.js';

export const TARGETS: Record<string, () => Target> = {
  urpc: () => new UrpcTarget(),
  '9p-server': () => new P9ServerTarget(),
  '9p-client': () => new P9ClientTarget(),
  spec: () => new SpecTarget(),
  elf: () => new ElfTarget(),
  syscalls: () => new SyscallsTarget(),
};
