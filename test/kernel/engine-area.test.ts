// The engine area (src/vcpu/memory.ts ENGINE_BASE .. 4 GiB) belongs to the
// vCPUs (tier 0's regions in WebAssembly, src/vcpu/interp-wasm.ts): the
// address space never maps it, whatever the guest asks, so the guest can
// neither read the records and tables kept there nor change them.

import assert from 'node:assert/strict';
import { MemoryAccount, MemoryManager } from '../../src/kernel/mm.js';
import { parseElf } from '../../src/kernel/loader/elf.js';
import { ENOMEM } from '../../src/linux/errno.js';
import { PROT_READ, PROT_WRITE } from '../../src/linux/abi.js';
import { ENGINE_BASE, GUEST_VA_LIMIT, GuestMemory, PAGE_SIZE } from '../../src/vcpu/memory.js';
import { ENGINE_REGION, ENGINE_REGIONS } from '../../src/vcpu/interp-wasm.js';

const RW = PROT_READ | PROT_WRITE;

/** A riscv64 ET_EXEC with one PT_LOAD of `memsz` bytes at `vaddr`. */
function elfWithSegment(vaddr: number, memsz: number): Uint8Array {
  const file = new Uint8Array(4096);
  const dv = new DataView(file.buffer);
  file.set([0x7f, 0x45, 0x4c, 0x46, 2, 1, 1]);
  const u64 = (off: number, v: number) => { dv.setUint32(off, v % 2 ** 32, true); dv.setUint32(off + 4, Math.floor(v / 2 ** 32), true); };
  dv.setUint16(16, 2, true); // ET_EXEC
  dv.setUint16(18, 243, true); // EM_RISCV
  dv.setUint32(20, 1, true);
  u64(24, vaddr);
  u64(32, 64);
  dv.setUint16(52, 64, true);
  dv.setUint16(54, 56, true);
  dv.setUint16(56, 1, true);
  dv.setUint32(64, 1, true); // PT_LOAD
  dv.setUint32(68, 5, true);
  u64(64 + 16, vaddr);
  u64(64 + 32, 0);
  u64(64 + 40, memsz);
  return file;
}

describe('kernel/mm: the engine area is never mapped', () => {
  it('the regions tier 0 uses lie wholly inside it', () => {
    assert.ok(ENGINE_BASE % PAGE_SIZE === 0);
    assert.equal(ENGINE_BASE + ENGINE_REGIONS * ENGINE_REGION, GUEST_VA_LIMIT);
  });

  it('MAP_FIXED into it, or across its start, fails with ENOMEM and maps nothing; just below it works', () => {
    const mem = GuestMemory.create();
    const mm = new MemoryManager(mem, new MemoryAccount(1 << 30), () => undefined);
    assert.equal(mm.mapFixed(ENGINE_BASE, PAGE_SIZE, RW, 'test'), ENOMEM);
    assert.equal(mm.mapFixed(GUEST_VA_LIMIT - PAGE_SIZE, PAGE_SIZE, RW, 'test'), ENOMEM);
    assert.equal(mm.mapFixed(ENGINE_BASE - PAGE_SIZE, 2 * PAGE_SIZE, RW, 'test'), ENOMEM);
    assert.equal(mm.vmaAt(ENGINE_BASE - PAGE_SIZE), undefined);
    for (let p = ENGINE_BASE / PAGE_SIZE; p < GUEST_VA_LIMIT / PAGE_SIZE; p++) assert.equal(mem.pageFlags[p], 0);
    assert.equal(mm.mapFixed(ENGINE_BASE - PAGE_SIZE, PAGE_SIZE, RW, 'test'), 0);
  });

  it('a hint inside it is not taken: the mapping goes below it', () => {
    const mem = GuestMemory.create();
    const mm = new MemoryManager(mem, new MemoryAccount(1 << 30), () => undefined);
    const at = mm.mapAnywhere(4 * PAGE_SIZE, RW, 'test', ENGINE_BASE + 16 * PAGE_SIZE);
    assert.equal(typeof at, 'number');
    assert.ok((at as number) + 4 * PAGE_SIZE <= ENGINE_BASE, `placed at 0x${(at as number).toString(16)}`);
  });

  it('an executable with a segment in it is refused with a clear error', () => {
    const bad = parseElf(elfWithSegment(ENGINE_BASE, PAGE_SIZE));
    assert.ok('error' in bad && /private address space/.test(bad.error), JSON.stringify(bad));
    const ok = parseElf(elfWithSegment(0x10000, PAGE_SIZE));
    assert.ok(!('error' in ok), JSON.stringify(ok));
  });

  it("a released memory's engine area is given back whole (a pooled memory holds none of tier 0's records)", () => {
    const mem = GuestMemory.create();
    const mm = new MemoryManager(mem, new MemoryAccount(1 << 30), () => undefined);
    assert.equal(mm.mapFixed(0x10000, PAGE_SIZE, RW, 'test'), 0);
    mem.u8[ENGINE_BASE + 123] = 7;
    mem.u8[ENGINE_BASE + ENGINE_REGION + 5] = 8;
    mem.u8[GUEST_VA_LIMIT - 1] = 9;
    mm.release();
    assert.deepEqual([mem.u8[ENGINE_BASE + 123], mem.u8[ENGINE_BASE + ENGINE_REGION + 5], mem.u8[GUEST_VA_LIMIT - 1]], [0, 0, 0]);
  });
});
