// Freed frames go back to the host past the allocator's watermark (frames.ts
// KEEP_FREE): the resident size of the pool's mapping falls, and frames
// reused afterwards read as zeros. Measured on the pool's own mapping in
// /proc/self/smaps, so other memory of the test process does not blur it.

import { strict as assert } from 'node:assert';
import * as fs from 'node:fs';
import koffi from 'koffi';
import { FrameAllocator, GIVE_BACK_DELAY_MS, GIVE_BATCH, KEEP_FREE } from '../../src/kernel/frames.js';
import { MemoryAccount } from '../../src/kernel/mm.js';
import { PAGE_SIZE } from '../../src/vcpu/memory.js';
import { dontNeed, hostAddress } from '../../src/host/memory.js';

/** Resident KiB of the mapping holding host address `addr` (its smaps Rss), or undefined without /proc. */
function residentKb(addr: bigint): number | undefined {
  let text: string;
  try {
    text = fs.readFileSync('/proc/self/smaps', 'utf8');
  } catch {
    return undefined;
  }
  let inside = false;
  for (const line of text.split('\n')) {
    const range = /^([0-9a-f]+)-([0-9a-f]+) /.exec(line);
    if (range) inside = BigInt(`0x${range[1]}`) <= addr && addr < BigInt(`0x${range[2]}`);
    else if (inside && line.startsWith('Rss:')) return Number(/(\d+)/.exec(line)![1]);
  }
  return undefined;
}

/** Resolves once `cond` holds (checked every 20 ms); rejects after `ms`. */
async function until(cond: () => boolean, ms: number): Promise<void> {
  const end = Date.now() + ms;
  while (!cond()) {
    if (Date.now() > end) throw new Error(`condition not met in ${ms} ms`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

describe('frames given back to the host', () => {
  const alloc = FrameAllocator.local();
  const account = new MemoryAccount(2 ** 34);
  const base = koffi.address(alloc.pool.u8);

  it('hostAddress vouches for a WebAssembly.Memory view and refuses what is not page aligned', () => {
    const mem = new WebAssembly.Memory({ initial: 4, maximum: 4, shared: true });
    const u8 = new Uint8Array(mem.buffer as unknown as SharedArrayBuffer);
    u8[5] = 7;
    const a = hostAddress(u8);
    assert.equal(typeof a, 'bigint');
    assert.equal(u8[5], 7, 'the cookie was put back');
    assert.equal(u8.every((b, i) => b === (i === 5 ? 7 : 0)), true);
    assert.equal(hostAddress(u8.subarray(8)), undefined);
    assert.equal(hostAddress(u8.subarray(0, 16)), undefined);
    // What dontNeed does to a private anonymous mapping: the page reads zeros again.
    u8.fill(9, 4096, 8192);
    assert.equal(dontNeed(a! + 4096n, 4096), 0);
    assert.equal(u8.subarray(4096, 8192).every((b) => b === 0), true);
    assert.equal(u8[5], 7, 'the page before is untouched');
  });

  it('a guest-sized burst of frames, freed, leaves the pool resident size down once the give-back is due; reused frames read zeros', async function () {
    this.timeout(60_000);
    const n = 16_384; // 64 MiB
    const before = residentKb(base);
    if (before === undefined) this.skip(); // no /proc/self/smaps on this host
    const frames: number[] = [];
    for (let i = 0; i < n; i++) {
      const f = alloc.alloc(account);
      assert.ok(f >= 0);
      alloc.bytes(f).fill((i % 255) + 1);
      frames.push(f);
    }
    const full = residentKb(base)!;
    assert.ok(full - before! >= (n * 4 * 9) / 10, `the burst is resident: ${before} -> ${full} KiB`);
    const given = alloc.framesGiven;
    const freeing = Date.now(); // the give-back falls due part way through these frees
    for (const f of frames) alloc.unref(f, account);
    // Given back a moment late (GIVE_BACK_DELAY_MS): until then every freed frame stays committed.
    assert.equal(alloc.giveBackDue, true);
    assert.equal(alloc.framesGiven, given, 'nothing given back at once');
    assert.ok(alloc.committedFree >= n);
    await until(() => !alloc.giveBackDue, GIVE_BACK_DELAY_MS + 30_000);
    assert.ok(Date.now() - freeing >= GIVE_BACK_DELAY_MS - 50, 'not before its delay');
    assert.ok(alloc.framesGiven - given >= n - KEEP_FREE, `given back: ${alloc.framesGiven - given} frames`);
    assert.ok(alloc.committedFree <= KEEP_FREE);
    const after = residentKb(base)!;
    assert.ok(full - after >= ((n - KEEP_FREE - GIVE_BATCH) * 4 * 9) / 10, `resident KiB ${full} -> ${after}`);

    // Reuse: every frame reads zeros, those given back and those kept alike.
    const again: number[] = [];
    const zero = new Uint8Array(PAGE_SIZE);
    for (let i = 0; i < n; i++) {
      const f = alloc.alloc(account);
      assert.equal(Buffer.compare(alloc.bytes(f), zero), 0, `frame ${f} reused with data`);
      again.push(f);
    }
    for (const f of again) alloc.unref(f, account);
    assert.equal(account.used, 0);
  });
  it('frames freed and allocated again before the give-back is due are the committed ones: none given back, none faulted in', async function () {
    this.timeout(60_000);
    alloc.giveBackNow();
    const n = KEEP_FREE + GIVE_BATCH + 512;
    const frames: number[] = [];
    for (let i = 0; i < n; i++) frames.push(alloc.alloc(account));
    for (const f of frames) alloc.bytes(f)[100] = 7;
    const given = alloc.framesGiven;
    for (const f of frames) alloc.unref(f, account);
    assert.equal(alloc.giveBackDue, true);
    // Written again at once (a file deleted, then another written): the same committed frames, zeroed.
    const again = new Set<number>();
    for (let i = 0; i < n; i++) {
      const f = alloc.alloc(account);
      assert.equal(alloc.bytes(f)[100], 0, `frame ${f} reused with data`);
      again.add(f);
    }
    assert.deepEqual([...again].sort((a, b) => a - b), [...frames].sort((a, b) => a - b));
    assert.equal(alloc.committedFree, 0);
    await until(() => !alloc.giveBackDue, GIVE_BACK_DELAY_MS + 30_000);
    assert.equal(alloc.framesGiven, given, 'nothing was left to give back');
    for (const f of again) alloc.unref(f, account);
    alloc.giveBackNow();
    assert.ok(alloc.committedFree <= KEEP_FREE);
    assert.equal(account.used, 0);
  });
});
