import { strict as assert } from 'node:assert';
import * as fs from 'node:fs';
import * as path from 'node:path';
import * as zlib from 'node:zlib';
import { memory } from './asm.js';
import { runElf } from './elf.js';
import { describeEngines } from './engines.js';

// The recorded differential set: random programs from fixtures/random/gen.js
// (integer, M with edge values, compressed, F/D with random static and dynamic
// rounding modes and fflags, misaligned and page-crossing loads/stores,
// AMOs, LR/SC, forward branches), each block starting from a seeded state and
// writing a 528-byte record (x0..x31, f0..f31 raw bits, fcsr, a checksum of
// its scratch buffer). fixtures/random/expected holds what each program wrote
// under qemu-riscv64-static; the vCPU must write the same bytes. The live
// version (fresh seeds, QEMU needed) is `node fixtures/random/check.js`.
const DIR = path.join(__dirname, '..', '..', '..', 'fixtures', 'random');
const RECORD = 528;
const FIELDS = [...Array.from({ length: 32 }, (_, i) => `x${i}`), ...Array.from({ length: 32 }, (_, i) => `f${i}`), 'fcsr', 'scratch checksum'];

interface Manifest { per: number; seeds: number[]; recordedWith: string }

/** The first differing record of two outputs, described; null when they are equal. */
function firstDifference(seed: number, want: Buffer, got: Buffer): string | null {
  if (want.equals(got)) return null;
  const n = Math.min(want.length, got.length);
  for (let off = 0; off + 8 <= n; off += 8) {
    const w = want.readBigUInt64LE(off), g = got.readBigUInt64LE(off);
    if (w !== g) {
      const block = Math.floor(off / RECORD), field = FIELDS[(off % RECORD) / 8];
      return `block ${block} (node fixtures/random/gen.js --seed ${seed} --show ${block}): ${field} is ` +
        `0x${g.toString(16)}, QEMU 0x${w.toString(16)}`;
    }
  }
  return `output length ${got.length}, QEMU ${want.length}`;
}

describeEngines('vcpu differential set recorded under QEMU', function () {
  this.timeout(120_000);
  const manifest = JSON.parse(fs.readFileSync(path.join(DIR, 'manifest.json'), 'utf8')) as Manifest;

  it('holds at least 800 recorded random blocks', () => {
    assert.ok(manifest.seeds.length * manifest.per >= 800, `${manifest.seeds.length} x ${manifest.per}`);
  });

  // Each set runs twice: as a lone thread, and as one of several threads
  // (Cpu.mt), where aligned 4- and 8-byte accesses take the typed-array path.
  for (const mt of [false, true]) {
    for (const seed of manifest.seeds) {
      it(`rand-${seed}${mt ? ' (shared address space)' : ''}: ${manifest.per} random blocks end in the registers, fflags and memory QEMU recorded`, () => {
        const exe = path.join(DIR, 'bin', `rand-${seed}`);
        const want = zlib.gunzipSync(fs.readFileSync(path.join(DIR, 'expected', `rand-${seed}.out.gz`)));
        assert.equal(want.length, manifest.per * RECORD);
        const r = runElf(memory(), exe, [exe], [], 2e8, mt);
        assert.equal(r.signal, null, `died of signal ${r.signal}`);
        assert.equal(r.exit, 0);
        assert.equal(firstDifference(seed, want, Buffer.from(r.stdout, 'latin1')), null);
      });
    }
  }
});
