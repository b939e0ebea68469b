// Tier-2 regions handed from one vCPU's Cpu to another's (region-share.ts,
// Cpu.adopt): a Cpu lists the regions it kept; another Cpu over the same
// memory takes one as the compiled block at its pc only while the bytes it
// was compiled from are there; the record survives a MessagePort (as the
// kernel posts it to a worker); a flush starts a new list.
//
// To see that an adopted region is what runs (and not code the adopting
// Cpu decoded itself), a record is compiled from a loop adding 2 and then
// re-labelled with the bytes of a loop adding 1 that the memory holds: a
// Cpu that adopts it adds 2, one that refuses it adds 1.

import { strict as assert } from 'node:assert';
import { MessageChannel, receiveMessageOnPort } from 'node:worker_threads';
import { Cpu, Stop } from '../../src/vcpu/cpu.js';
import type { SharedRegion } from '../../src/vcpu/region-share.js';
import { PAGE_SHIFT, PAGE_X, type GuestMemory } from '../../src/vcpu/memory.js';
import { Asm, CODE, getReg, resetMemory, rv, setReg } from './asm.js';

/** x6 += step, x5 times, then an ecall; `tag` (in the loop) keeps the bytes apart from other tests' (Cpus of a thread share blocks by bytes). */
function loop(step: number, tag: number): Asm {
  return new Asm().w(
    rv.addi(0, 0, tag),      // the loop
    rv.addi(6, 6, step),
    rv.addi(5, 5, -1),
    rv.bne(5, 0, -12),      // to CODE
    rv.ecall(),
  );
}

const PASSES = 1_000_000n;

/** Run `cpu` from CODE with x5 = PASSES, x6 = 0 to the ecall; x6 after. */
function runLoop(cpu: Cpu): bigint {
  cpu.state.pc = CODE;
  setReg(cpu, 5, PASSES);
  setReg(cpu, 6, 0n);
  for (let i = 0; i < 10_000; i++) {
    const stop = cpu.run(1_000_000);
    if (stop === Stop.Syscall) return getReg(cpu, 6);
    assert.equal(stop, Stop.Budget);
  }
  throw new Error('the loop never ended');
}

/** The region a Cpu kept for the loop adding 2 (the memory then holds that loop). */
function keptRegion(tag: number): SharedRegion {
  const m = resetMemory(loop(2, tag).bytes());
  const a = new Cpu(m, undefined, { engine: 'auto', promoteAfter: 2, wasm: true });
  assert.equal(runLoop(a), 2n * PASSES);
  assert.equal(a.regions.list.length, 1, `kept regions at ${a.regions.list.map((r) => r.pc.toString(16)).join(' ')}`);
  assert.equal(a.regions.list[0].pc, CODE);
  return a.regions.list[0];
}

/** `r` claiming the bytes `m` holds over its ranges now. */
function relabelled(r: SharedRegion, m: GuestMemory): SharedRegion {
  const ranges = [r.pc, r.end, ...(r.extra ?? [])];
  const parts: number[] = [];
  for (let i = 0; i < ranges.length; i += 2) parts.push(...m.u8.subarray(ranges[i], ranges[i + 1]));
  return { ...r, bytes: Uint8Array.from(parts) };
}

/** `r` as it comes out of a MessagePort (what a vCPU worker receives). */
function posted(r: SharedRegion): SharedRegion {
  const { port1, port2 } = new MessageChannel();
  port1.postMessage(r);
  const got = receiveMessageOnPort(port2)?.message as SharedRegion;
  port1.close();
  return got;
}

describe('tier-2 regions handed between vCPUs (region-share.ts)', () => {
  it('a Cpu adopts a posted region whose bytes are in memory, and runs it without compiling its own', () => {
    const r = keptRegion(101);
    // The memory now holds the loop adding 1; the record claims those bytes.
    const m = resetMemory(loop(1, 101).bytes());
    const forged = posted(relabelled(r, m));
    assert.ok(forged.region.module instanceof WebAssembly.Module);
    const b = new Cpu(m, undefined, { engine: 'auto', wasm: true });
    b.adopt(forged);
    assert.equal(runLoop(b), 2n * PASSES, 'the adopted function ran');
    assert.equal(b.wasmCompiled, 0, 'nothing compiled to tier 2 here');
    assert.equal(b.compiled, 0, 'nor to tier 1');
  });

  it("refuses a region whose bytes are no longer there or not executable, and under 'interp'", () => {
    const r = keptRegion(102);
    const m = resetMemory(loop(1, 102).bytes());
    const b = new Cpu(m, undefined, { engine: 'auto', wasm: true });
    b.adopt(posted(r));
    assert.equal(runLoop(b), PASSES, 'the code in memory ran');
    const forged = relabelled(r, m);
    m.pageFlags[CODE >>> PAGE_SHIFT] &= ~PAGE_X; // the bytes match, but the page is not executable
    const c = new Cpu(m, undefined, { engine: 'auto', wasm: true });
    c.adopt(posted(forged));
    m.pageFlags[CODE >>> PAGE_SHIFT] |= PAGE_X;
    assert.equal(runLoop(c), PASSES);
    const d = new Cpu(m, undefined, { engine: 'interp' });
    d.adopt(posted(forged));
    assert.equal(runLoop(d), PASSES, "an 'interp' Cpu runs tier 0 only");
  });

  it('replaces a tier-0 block at its pc, never a compiled one', () => {
    const r = keptRegion(103);
    const m = resetMemory(loop(1, 103).bytes());
    const forged = relabelled(r, m);
    // A Cpu that has run the loop in tier 0 (never promoted): the adopted region takes the block's place.
    const cold = new Cpu(m, undefined, { engine: 'auto', promoteAfter: 1e12, wasm: true });
    assert.equal(runLoop(cold), PASSES);
    cold.adopt(forged);
    assert.equal(runLoop(cold), 2n * PASSES);
    // One that compiled the loop itself keeps its own.
    const hot = new Cpu(m, undefined, { engine: 'auto', promoteAfter: 2, wasm: true });
    assert.equal(runLoop(hot), PASSES);
    hot.adopt(forged);
    assert.equal(runLoop(hot), PASSES);
  });

  it('a flush starts a new, empty list; the regions kept before stay in the old one', () => {
    const m = resetMemory(loop(2, 104).bytes());
    const a = new Cpu(m, undefined, { engine: 'auto', promoteAfter: 2, wasm: true });
    runLoop(a);
    const before = a.regions.list;
    assert.equal(before.length, 1);
    a.flushCode();
    assert.notEqual(a.regions.list, before);
    assert.equal(a.regions.list.length, 0);
    assert.equal(before.length, 1);
  });
});
