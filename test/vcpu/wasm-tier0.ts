// A driver of src/vcpu/wasm-interp.ts's module for tests and bench/tier0-wasm.ts:
// blocks decoded and pre-decoded as the Cpu builds them, copied to records
// in an engine area of the guest memory at AREA (which the memory's user
// must leave unmapped), chained through the module's table, page flags
// read from the GuestMemory on the module's misses. No code writes (cw
// answers 0): the code under test must not write its own code.

import { decode, type Insn } from '../../src/vcpu/decode.js';
import { GuestMemory, PAGE_CODE, PAGE_R, PAGE_W } from '../../src/vcpu/memory.js';
import { ENDS_BLOCK, predecode } from '../../src/vcpu/ops.js';
import { Area, Exit, toWasmRecords, wasmInterpModule, wasmRecordBytes } from '../../src/vcpu/wasm-interp.js';
import { fpSlowPath } from '../../src/vcpu/wasm-interp-fp.js';

export const AREA = 0x40000000;
/** The register slot: x_r at XS + 8r, f_r at XS + F_SLOT + 8r. */
export const XS = AREA + Area.BYTES;
const RECS = XS + 1024;

export class WasmTier0 {
  readonly run: (hdr: number, limit: number, xs: number, epoch: number, promote: number) => number;
  private readonly blocks = new Map<number, number>();
  private next = RECS;
  /** perBlock: fill no chaining entries (every block returns to drive()). */
  constructor(private readonly m: GuestMemory, private readonly perBlock = false) {
    const i32 = new Int32Array(m.buffer);
    const mod = new WebAssembly.Module(wasmInterpModule(65536));
    const inst = new WebAssembly.Instance(mod, {
      m: { m: m.memory },
      f: {
        pf: (lo: number, hi: number, size: number): number => {
          if (hi !== 0) return 0;
          const a = lo >>> 0, p = a >>> 12;
          const f = m.pageFlags[p] & (((a & 4095) > 4096 - size) ? m.pageFlags[p + 1] : 0xff);
          if ((a & 4095) <= 4096 - size) {
            if (f & PAGE_R) i32[(AREA + Area.RTAB + (p & Area.PAGES_MASK) * 4) >> 2] = p;
            if ((f & PAGE_W) && !(f & PAGE_CODE)) i32[(AREA + Area.WTAB + (p & Area.PAGES_MASK) * 4) >> 2] = p;
          }
          return f;
        },
        cw: (): number => 0,
        // A chaining miss: the block built there (its header), as the Cpu's lookup would; none per block.
        lk: (pc: number): number => (this.perBlock ? 0 : this.block(pc >>> 0)),
        fx: fpSlowPath(AREA + Area.FX, i32),
      },
    });
    this.run = inst.exports.run as (hdr: number, limit: number, xs: number, epoch: number, promote: number) => number;
  }
  reset(): void {
    const i32 = new Int32Array(this.m.buffer);
    i32.fill(-1, (AREA + Area.RTAB) >> 2, (AREA + Area.FX) >> 2);
    // No LR reservation (wasm-interp.ts Res): the module's stays from call to call here, as Cpu.run keeps its own.
    i32.fill(0, (AREA + Area.RES) >> 2, XS >> 2);
    i32[(AREA + Area.RES) >> 2] = -1;
    for (let e = 0; e < 1 << Area.CHAIN_BITS; e++) i32[(AREA + e * 16) >> 2] = 1;
    i32.fill(0, XS >> 2, (XS + 1024) >> 2);
    this.blocks.clear();
    this.next = RECS;
  }
  /** The header address of the block at `pc` (decoded as Cpu.build does). */
  block(pc: number): number {
    const got = this.blocks.get(pc);
    if (got !== undefined) return got;
    const insns: Insn[] = [], pcs: number[] = [];
    let p = pc;
    for (;;) {
      const lo = this.m.view.getUint16(p, true), hi = (lo & 3) === 3 ? this.m.view.getUint16(p + 2, true) : 0;
      const insn = decode(lo, hi);
      insns.push(insn); pcs.push(p);
      p += insn.len;
      if (ENDS_BLOCK.has(insn.op) || insns.length >= 128 || (p >>> 12) !== (pc >>> 12)) break;
    }
    const code = predecode(insns, pcs, p);
    const at = this.next;
    this.next += wasmRecordBytes(code);
    toWasmRecords(code, pc, new Int32Array(this.m.buffer), at);
    this.blocks.set(pc, at);
    if (!this.perBlock) {
      const e = AREA + ((pc >>> 1) & ((1 << Area.CHAIN_BITS) - 1)) * 16;
      const i32 = new Int32Array(this.m.buffer);
      i32[e >> 2] = pc; i32[(e + 4) >> 2] = at; i32[(e + 8) >> 2] = 0;
    }
    return at;
  }
}

/**
 * Run from `start` to the first ecall (which retires: `pc` is the one
 * after it) or instruction the module leaves to JavaScript (`pc` is its),
 * the registers in the slot at XS; returns the instructions retired and pc. With `perBlock`, the
 * registers are copied from an Int32Array of halves (as ThreadState.x) into
 * the slot and back around each call. A fault throws.
 */
export function drive(w: WasmTier0, i32: Int32Array, start: number, perBlock: boolean): { n: number; pc: number } {
  let pc = start, n = 0;
  const x = new Int32Array(64), xs = XS >> 2;
  for (let r = 0; r < 64; r++) x[r] = i32[xs + r];
  for (;;) {
    if (perBlock) for (let r = 2; r < 64; r++) i32[xs + r] = x[r];
    n += w.run(w.block(pc), 16384, XS, 0, 0x7fffffff);
    if (perBlock) for (let r = 2; r < 64; r++) x[r] = i32[xs + r];
    const why = i32[(XS + 280) >> 2];
    pc = i32[(XS + 268) >> 2] === 0 ? i32[(XS + 264) >> 2] >>> 0 : (i32[(XS + 264) >> 2] >>> 0) + i32[(XS + 268) >> 2] * 4294967296;
    if ((why & 15) === Exit.UNSUPPORTED || (why & 15) === Exit.SYSCALL) return { n, pc };
    if ((why & 15) === Exit.FAULT) throw new Error(`fault at ${pc.toString(16)}`);
  }
}

