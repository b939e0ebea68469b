// Zicsr for user mode: the CSRs a Linux program may touch. fflags, frm and
// fcsr are read-write views of ThreadState.fcsr; cycle, time and instret are
// read-only counters (cycle reads as instret, time at the 10 MHz timebase).

import type { ThreadState } from './state.js';

/**
 * Execute csrrw/csrrs/csrrc (kind 1, 2, 3) or their immediate forms (5, 6,
 * 7) on `csr` for `s`, whose retired count so far is `instret`. Returns
 * false, changing nothing, for an unknown CSR or a write to a read-only one
 * (the caller raises SIGILL).
 */
export function csrAccess(s: ThreadState, instret: number, kind: number, csr: number, rd: number, rs1: number, uimm: number): boolean {
  let old: number;
  switch (csr) {
    case 0x001: old = s.fcsr & 0x1f; break;
    case 0x002: old = (s.fcsr >> 5) & 7; break;
    case 0x003: old = s.fcsr & 0xff; break;
    case 0xc00: case 0xc02: old = instret; break;
    case 0xc01: old = Number(process.hrtime.bigint() / 100n); break;
    default: return false;
  }
  const imm = kind >= 5;
  const src = imm ? uimm : s.x[2 * rs1];
  const op = kind & 3;
  const writes = op === 1 || (imm ? uimm !== 0 : rs1 !== 0);
  if (writes) {
    if (csr >= 0xc00) return false;
    const nv = op === 1 ? src : op === 2 ? old | src : old & ~src;
    if (csr === 0x001) s.fcsr = (s.fcsr & ~0x1f) | (nv & 0x1f);
    else if (csr === 0x002) s.fcsr = (s.fcsr & ~0xe0) | ((nv & 7) << 5);
    else s.fcsr = nv & 0xff;
  }
  if (rd !== 0) {
    const h = Math.floor(old / 4294967296);
    s.x[2 * rd] = (old - h * 4294967296) | 0;
    s.x[2 * rd + 1] = h | 0;
  }
  return true;
}
