// The initial stack of a new program image, laid out as Linux's
// create_elf_tables does for riscv64: argc, argv[], NULL, envp[], NULL, auxv
// pairs ending in AT_NULL, with the strings and AT_RANDOM's 16 bytes above.

import { randomFillSync } from 'node:crypto';
import { Errno } from '../../linux/errno.js';
import * as abi from '../../linux/abi.js';
import { MemoryManager, STACK_TOP } from '../mm.js';
import type { UserMemory } from '../usercopy.js';

export interface StackInput {
  argv: string[];
  envp: string[];
  execfn: string;
  /** auxv entries besides AT_RANDOM, AT_EXECFN and AT_NULL, which this adds. */
  auxv: [number, number][];
}

/** Map the stack and fill it; returns the initial stack pointer. */
export function buildStack(mm: MemoryManager, user: UserMemory, input: StackInput): number | Errno {
  const r = mm.mapFixed(STACK_TOP - mm.stackSize, mm.stackSize, abi.PROT_READ | abi.PROT_WRITE, '[stack]');
  if (r !== 0) return r;
  let top = STACK_TOP;
  const push = (bytes: Uint8Array): number | Errno => {
    top -= bytes.length;
    const w = user.copyOut(top, bytes);
    return w === 0 ? top : w;
  };
  const pushString = (s: string) => push(Buffer.from(s + '\0', 'utf8'));
  const execfn = pushString(input.execfn);
  if (execfn instanceof Errno) return execfn;
  const envPtrs: number[] = [];
  for (let i = input.envp.length - 1; i >= 0; i--) {
    const p = pushString(input.envp[i]);
    if (p instanceof Errno) return p;
    envPtrs.unshift(p);
  }
  const argPtrs: number[] = [];
  for (let i = input.argv.length - 1; i >= 0; i--) {
    const p = pushString(input.argv[i]);
    if (p instanceof Errno) return p;
    argPtrs.unshift(p);
  }
  top -= top % 16; // addresses exceed 2^31: no bitwise arithmetic on them
  const random = push(randomFillSync(new Uint8Array(16)));
  if (random instanceof Errno) return random;
  const auxv: [number, number][] = [...input.auxv, [abi.AT_RANDOM, random], [abi.AT_EXECFN, execfn], [abi.AT_NULL, 0]];
  const words = [argPtrs.length, ...argPtrs, 0, ...envPtrs, 0, ...auxv.flat()];
  const sp = top - words.length * 8 - ((top - words.length * 8) % 16);
  if (STACK_TOP - sp > mm.stackSize / 2) return Errno.of(7); // E2BIG: arguments too large
  const table = new Uint8Array(words.length * 8);
  const dv = new DataView(table.buffer);
  words.forEach((w, i) => dv.setBigUint64(i * 8, BigInt(w), true));
  const wr = user.copyOut(sp, table);
  return wr === 0 ? sp : wr;
}
