// Target "elf": the ELF loader (src/kernel/loader/elf.ts parseElf and
// loadElf, src/kernel/exec.ts loadImage with the initial stack), fed
// mutations of the static riscv64 programs of fixtures/bin: header and
// program-header fields set to edge values, the type turned to ET_DYN, a
// program header turned into PT_INTERP or PT_LOAD, the file cut short or
// corrupted. A file naming an interpreter is loaded with itself as the
// interpreter. Required: parseElf gives headers or an error, loadImage a
// start state inside the guest's address space or an Errno, never a throw;
// one load takes under a second (no loop over a 4 GiB range page by page,
// which held the kernel for seconds per segment).

import * as fs from 'node:fs';
import * as path from 'node:path';
import { parseElf } from '../../src/kernel/loader/elf.js';
import { loadImage } from '../../src/kernel/exec.js';
import { AddressSpace } from '../../src/kernel/address-space.js';
import { MemoryAccount } from '../../src/kernel/mm.js';
import type { Creds } from '../../src/kernel/task.js';
import { isErrno } from '../../src/linux/errno.js';
import { GUEST_VA_LIMIT } from '../../src/vcpu/memory.js';
import { Rng } from '../rng.js';
import { mutateBytes, pokeValue } from '../mutate.js';
import { fuzzDir, type Target } from '../harness.js';

/** The fixtures mutated (small, different layouts: C with and without threads, Go). */
const SEEDS = ['hello', 'threads', 'procfs', 'goroutines'];
const EHDR_FIELDS: readonly [number, 1 | 2 | 4 | 8][] = [[4, 1], [5, 1], [16, 2], [18, 2], [20, 4], [24, 8], [32, 8], [40, 8], [48, 4], [52, 2], [54, 2], [56, 2], [58, 2], [60, 2], [62, 2]];
const PHDR_FIELDS: readonly [number, 4 | 8][] = [[0, 4], [4, 4], [8, 8], [16, 8], [24, 8], [32, 8], [40, 8], [48, 8]];
const CREDS: Creds = { ruid: 0, euid: 0, suid: 0, rgid: 0, egid: 0, sgid: 0, groups: [], caps: { effective: 0n, permitted: 0n, inheritable: 0n, bounding: 0n, ambient: 0n }, keepCaps: false } as Creds;

/** A load slower than this, twice in a row, is a finding (a denial of service by execve). */
const SLOW_MS = 1000;

export class ElfTarget implements Target {
  readonly name = 'elf';
  readonly description = 'parseElf and loadImage on mutated fixtures/bin programs';
  readonly timeoutMs = 5000;
  readonly minimize = false; // inputs are whole programs: a finding is kept as is
  private seeds: Uint8Array[] = [];
  private account = new MemoryAccount(512 << 20);

  async setup(): Promise<void> {
    const bin = path.join(path.dirname(fuzzDir()), 'fixtures', 'bin');
    this.seeds = SEEDS.map((n) => new Uint8Array(fs.readFileSync(path.join(bin, n))));
  }

  generate(rng: Rng, corpus: readonly Uint8Array[]): Uint8Array {
    const base = corpus.length > 0 && rng.chance(0.2) ? rng.pick(corpus) : rng.pick(this.seeds);
    const f = Uint8Array.from(base);
    if (f.length < 64) return mutateBytes(rng, f, 4, 1 << 21);
    const dv = new DataView(f.buffer);
    const phoff = Number(dv.getBigUint64(32, true));
    const phnum = dv.getUint16(56, true);
    if (rng.chance(0.3)) dv.setUint16(16, 3, true); // ET_DYN
    for (let n = 1 + rng.size(4); n > 0; n--) {
      const what = rng.below(10);
      if (what < 2) {
        const [off, w] = rng.pick(EHDR_FIELDS);
        pokeValue(rng, f, off, w);
      } else if (what < 7 && phnum > 0 && phoff + phnum * 56 <= f.length) {
        const ph = phoff + rng.below(phnum) * 56;
        const [off, w] = rng.pick(PHDR_FIELDS);
        if (rng.chance(0.2)) dv.setUint32(ph, rng.pick([1, 3, 6, 0x6474e551]), true);
        else if (rng.chance(0.3) && w === 8) {
          // A nearby value: a page more or less, or a size doubled.
          const v = dv.getBigUint64(ph + off, true);
          dv.setBigUint64(ph + off, BigInt.asUintN(64, rng.pick([v + 0x1000n, v - 0x1000n, v * 2n, v + 1n, v << 20n])), true);
        } else pokeValue(rng, f, ph + off, w);
      } else if (what === 7 && phnum > 0 && phoff + phnum * 56 <= f.length) {
        // A PT_INTERP naming a path written into the file.
        const ph = phoff + rng.below(phnum) * 56;
        const at = Math.min(0x200 + rng.below(0x100), f.length - 1);
        const name = Buffer.from(rng.pick(['/lib/ld-linux-riscv64-lp64d.so.1\0', '/\0', 'x', '\0\0', 'a'.repeat(300)]));
        f.set(name.subarray(0, Math.min(name.length, f.length - at)), at);
        dv.setUint32(ph, 3, true);
        dv.setBigUint64(ph + 8, BigInt(at), true);
        dv.setBigUint64(ph + 32, BigInt(rng.chance(0.8) ? name.length : rng.pick([0, 1, 5000, 0xffffffff])), true);
      } else if (what === 8) return mutateBytes(rng, f, 8, 1 << 21);
      else return f.slice(0, rng.below(f.length));
    }
    return f;
  }

  async run(input: Uint8Array): Promise<string | undefined> {
    const t0 = Date.now();
    const wrong = this.load(input);
    if (wrong !== undefined) return wrong;
    const ms = Date.now() - t0;
    if (ms <= SLOW_MS) return undefined;
    // Slow once may be the host (a loaded machine descheduling this thread,
    // a collection): a finding only when the same load is slow again.
    const t1 = Date.now();
    this.load(input);
    const again = Date.now() - t1;
    return again > SLOW_MS ? `slow: one load took ${ms} ms, then ${again} ms` : undefined;
  }

  /** One parse and load of `input` into a fresh address space: what is wrong with the result, or undefined. */
  private load(input: Uint8Array): string | undefined {
    const image = parseElf(input);
    if ('error' in image) {
      if (typeof image.error !== 'string' || image.error === '') return 'parseElf: an error without a reason';
      return undefined;
    }
    const interp = image.interp !== undefined ? { bytes: input, image } : undefined;
    const vm = new AddressSpace(this.account);
    try {
      const r = loadImage(vm, '/bin/fuzzed', input, image, interp, ['fuzzed', 'arg'], ['PATH=/bin'], CREDS);
      if (!isErrno(r) && !(r.pc >= 0 && r.pc < GUEST_VA_LIMIT && r.sp > 0 && r.sp < GUEST_VA_LIMIT)) return `loadImage: start state outside the address space: pc ${r.pc} sp ${r.sp}`;
    } finally {
      vm.release();
    }
    if (this.account.used !== 0) {
      const used = this.account.used;
      this.account = new MemoryAccount(512 << 20);
      return `memory account: ${used} bytes still charged after the address space was released`;
    }
    return undefined;
  }
}
