// The read-modify-write operations of the A extension (amoswap .. amomaxu)
// on a word of guest memory or of the shared frame pool, each one single-copy
// atomic across vCPUs (Atomics on the shared memory). LR/SC are not here: they
// keep a per-vCPU reservation (cpu.ts).

/** op: 2 amoswap, 3 amoadd, 4 amoxor, 5 amoand, 6 amoor, 7 amomin, 8 amomax, 9 amominu, 10 amomaxu. Returns the old 32-bit word. */
export function amo32(m: Int32Array, i: number, op: number, v: number): number {
  switch (op) {
    case 2: return Atomics.exchange(m, i, v);
    case 3: return Atomics.add(m, i, v);
    case 4: return Atomics.xor(m, i, v);
    case 5: return Atomics.and(m, i, v);
    case 6: return Atomics.or(m, i, v);
  }
  for (;;) {
    const old = Atomics.load(m, i);
    let nv: number;
    if (op === 7) nv = old < v ? old : v;
    else if (op === 8) nv = old > v ? old : v;
    else if (op === 9) nv = (old >>> 0) < (v >>> 0) ? old : v;
    else nv = (old >>> 0) > (v >>> 0) ? old : v;
    if (Atomics.compareExchange(m, i, old, nv) === old) return old;
  }
}

/** The same on a 64-bit doubleword; returns the old value. */
export function amo64(m: BigInt64Array, i: number, op: number, v: bigint): bigint {
  switch (op) {
    case 2: return Atomics.exchange(m, i, v);
    case 3: return Atomics.add(m, i, v);
    case 4: return Atomics.xor(m, i, v);
    case 5: return Atomics.and(m, i, v);
    case 6: return Atomics.or(m, i, v);
  }
  for (;;) {
    const old = Atomics.load(m, i);
    let nv: bigint;
    if (op === 7) nv = old < v ? old : v;
    else if (op === 8) nv = old > v ? old : v;
    else {
      const ou = BigInt.asUintN(64, old), vu = BigInt.asUintN(64, v);
      nv = op === 9 ? (ou < vu ? old : v) : (ou > vu ? old : v);
    }
    if (Atomics.compareExchange(m, i, old, nv) === old) return old;
  }
}
