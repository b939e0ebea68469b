// Tier 0: runs a block's pre-decoded form (ops.ts) with no code generation.
//
// Contract: Interpreter.run(b, s, promoteAt, limit) has exactly the contract of a
// compiled block function (codegen.ts): it runs the block's instructions on
// thread state `s` and returns (retired << 3) | stop with the next pc in
// cpu.npc (the faulting instruction's pc for Stop.Fault). Retired counts,
// faults (through the Cpu's segv/trap helpers, so FaultInfo is the same),
// page-flag checks on every access, the PAGE_CODE check after every store,
// single-copy atomic 4- and 8-byte accesses while cpu.mt is set, and the
// exits (ecall, fence.i, a store that overwrote decoded code, a taken branch
// or jump out of the block) are those of the compiled code; it may also run
// on into the tier-0 blocks that follow (chaining, see run()), retiring
// their instructions in the same count. A taken branch
// or jal to one of the block's own instructions continues inside the block;
// a backward one returns to the run loop when LOOP_CHUNK instructions have
// retired in this call, or when the block's heat reaches `promoteAt` (each
// such jump adds LOOP_HEAT), so that a hot loop moves to compiled code promptly.
//
// Registers stay in s.x / s.fbits (int32 halves). The semantics that need
// more than a few integer operations are not repeated here: M goes through
// alu.ts, F/D through fp.ts, Zicsr and A through Cpu.csr / Cpu.amo, exactly
// the helpers compiled code calls.

import type { Cpu } from './cpu.js';
import { Flag, Limit } from './memory.js';
import { BlockCache, Field, Op, Tier0 } from './ops.js';
import type { ThreadState } from './state.js';
import * as alu from './alu.js';
import * as fp from './fp.js';

const TWO32 = 4294967296;
const SIGILL = 4, ILL_ILLOPC = 1, SIGTRAP = 5, TRAP_BRKPT = 1;

/**
 * What the interpreter needs of a block: its start, its pre-decoded form
 * (null once compiled or dropped), its heat (runs + backward jumps), and the
 * block that followed it last time (`next`, for trace.ts), valid while
 * `linkEpoch` equals the Cpu's codeEpoch.
 */

/**
 * Heat a backward jump inside a block adds (a run of the block adds 1): a
 * loop is promoted after PROMOTE_AFTER / LOOP_HEAT iterations, sooner than
 * straight-line code after PROMOTE_AFTER runs (README.md, PROMOTE_AFTER).
 */
const enum Heat { LOOP = 5 }
/** (Heat.LOOP is the same as a literal for the interpreter: memory.ts `Flag` says why.) */
export const LOOP_HEAT: number = Heat.LOOP;
export interface Tier0Block {
  readonly pc: number;
  code: Int32Array | null;
  heat: number;
  next: Tier0Block | null;
  linkEpoch: number;
}

// V8 inlines only so much into one function, and Interpreter.run is large:
// helpers it calls per instruction (the effective address, the flag check,
// 64-bit compares, writing a pc to a register) stayed real calls, a third of
// tier 0's time, so their few operations are written out in the cases
// below. The link and AUIPC values written there lie in (-2^32, 2^33): their
// high half is -1, 0 or 1.

export class Interpreter {
  private readonly pf: Uint8Array;
  /** Guest memory as bytes (the byte loads and stores). */
  private readonly u8: Uint8Array;

  constructor(
    private readonly cpu: Cpu,
    private readonly dv: DataView,
    pageFlags: Uint8Array,
    /** Guest memory as 4- and 8-byte elements and an 8-byte scratch: the single-copy atomic path (codegen.ts). */
    private readonly i32: Int32Array,
    private readonly f64: Float64Array,
    private readonly scratch: DataView,
    /** The vCPU's interrupt flag (checked between chained blocks, as the run loop does between blocks). */
    private readonly interrupt: Int32Array,
    /** The Cpu's direct-mapped block cache (cpu.ts), indexed by (pc >>> 1) & BlockCache.MASK: where chaining finds the next block. */
    private readonly cache: readonly Tier0Block[],
  ) {
    this.pf = pageFlags;
    this.u8 = new Uint8Array(i32.buffer);
  }

  /**
   * Page flags for an access of `size` bytes at `a`: both pages' permissions
   * and either's PAGE_CODE when it straddles a page end; 0 (no permission)
   * when it is not wholly below GUEST_VA_LIMIT.
   */
  private flags(a: number, size: number): number {
    if (a < 0 || a > Limit.GUEST_VA - size) return 0;
    if ((a & 4095) > 4096 - size) return this.cpu.flags2(a, size);
    return this.pf[a >>> 12];
  }

  /**
   * Run tier-0 block `b` and, while it leaves for a tier-0 block that the
   * Cpu's block cache holds (`cache`), that one too, and so on
   * (chaining: no return to the run loop between them), as long as fewer
   * than `limit` instructions have retired, the interrupt flag is clear and
   * the next block is not due for promotion. Each block entered adds 1 to
   * its heat, and is linked as the successor (`next`) of the one it follows.
   * Returns the instructions retired by all of them. When it leaves through
   * a jump without chaining, `cpu.linkFrom` is the block left, for the run
   * loop to link to the block it finds.
   */
  run(b: Tier0Block, s: ThreadState, promoteAt: number, limit: number): number {
    const cpu = this.cpu, dv = this.dv, pf = this.pf, i32 = this.i32, u8 = this.u8, x = s.x, fb = s.fbits, intr = this.interrupt, cache = this.cache;
    const M = cpu.mt;
    let code = b.code as Int32Array, base = b.pc;
    // No count per instruction: with the record at `cur` running,
    // k0 + (cur >> 3) + 1 instructions have retired in this call (k0 moves
    // at each jump inside a block and at each block chained into). `>> 3`
    // is the division by Tier0.STRIDE (8 ints a record), written as a shift.
    let o = 0, k0 = 0;
    for (;;) {
      const cur = o;
      const w = code[o], op = w & 0xff, rd = (w >>> 8) & 31, rs1 = (w >>> 13) & 31, rs2 = (w >>> 18) & 31;
      const imm = code[o + Field.IMM];
      o += Tier0.STRIDE;
      let a = 0, t = 0, fl = 0, size = 0, out = -1, lo = 0, u = 0;
      switch (op) {
        case Op.NOP: case Op.FENCE:
          if (op === Op.FENCE && M) Atomics.store(cpu.fenceWord, 0, 0);
          continue;
        case Op.END:
          k0--;
          out = base + code[cur + Field.POS];
          break;
        case Op.LUI: x[2 * rd] = imm; x[2 * rd + 1] = imm >> 31; continue;
        case Op.AUIPC:
          t = base + (code[cur + Field.POS] & 0xffff) + imm;
          x[2 * rd] = t | 0; x[2 * rd + 1] = t < 0 ? -1 : t >= TWO32 ? 1 : 0;
          continue;
        case Op.JAL:
          if (rd !== 0) {
            t = base + (code[cur + Field.POS] & 0xffff) + (code[cur + Field.POS] >>> 16);
            x[2 * rd] = t | 0; x[2 * rd + 1] = t >= TWO32 ? 1 : 0;
          }
          break;
        case Op.JALR: {
          lo = x[2 * rs1]; u = (lo + imm) | 0;
          if (((x[2 * rs1 + 1] + (imm >> 31) + ((u >>> 0) < (lo >>> 0) ? 1 : 0)) | 0) === 0) a = (u & -2) >>> 0;
          else { a = this.addr(x, rs1, imm); a -= a & 1; }
          if (rd !== 0) {
            t = base + (code[cur + Field.POS] & 0xffff) + (code[cur + Field.POS] >>> 16);
            x[2 * rd] = t | 0; x[2 * rd + 1] = t >= TWO32 ? 1 : 0;
          }
          out = a;
          break;
        }
        case Op.BEQ: if (x[2 * rs1] !== x[2 * rs2] || x[2 * rs1 + 1] !== x[2 * rs2 + 1]) continue; break;
        case Op.BNE: if (x[2 * rs1] === x[2 * rs2] && x[2 * rs1 + 1] === x[2 * rs2 + 1]) continue; break;
        case Op.BLT: if (!(x[2 * rs1 + 1] < x[2 * rs2 + 1] || (x[2 * rs1 + 1] === x[2 * rs2 + 1] && (x[2 * rs1] >>> 0) < (x[2 * rs2] >>> 0)))) continue; break;
        case Op.BGE: if (x[2 * rs1 + 1] < x[2 * rs2 + 1] || (x[2 * rs1 + 1] === x[2 * rs2 + 1] && (x[2 * rs1] >>> 0) < (x[2 * rs2] >>> 0))) continue; break;
        case Op.BLTU: if (!((x[2 * rs1 + 1] >>> 0) < (x[2 * rs2 + 1] >>> 0) || (x[2 * rs1 + 1] === x[2 * rs2 + 1] && (x[2 * rs1] >>> 0) < (x[2 * rs2] >>> 0)))) continue; break;
        case Op.BGEU: if ((x[2 * rs1 + 1] >>> 0) < (x[2 * rs2 + 1] >>> 0) || (x[2 * rs1 + 1] === x[2 * rs2 + 1] && (x[2 * rs1] >>> 0) < (x[2 * rs2] >>> 0))) continue; break;

        // The common loads and stores have cases of their own (no second
        // switch, the size a constant), and their effective address is
        // computed in int32 halves: `u` holds its low word when the high
        // word is 0 (every address below Limit.GUEST_VA = 2^32), the only
        // case the fast path takes; any other address, or an access
        // straddling a page, takes flags() and segv() with the exact value.
        case Op.LD:
          lo = x[2 * rs1]; u = (lo + imm) | 0;
          if (((x[2 * rs1 + 1] + (imm >> 31) + ((u >>> 0) < (lo >>> 0) ? 1 : 0)) | 0) === 0 && (u & 4095) <= 4088) fl = pf[u >>> 12];
          else fl = this.flags(this.addr(x, rs1, imm), 8);
          if ((fl & Flag.R) === 0) return cpu.segv(this.addr(x, rs1, imm), 8, Flag.R, base + (code[cur + Field.POS] & 0xffff), k0 + (cur >> 3));
          if (rd !== 0) {
            if ((u & 7) !== 0) { x[2 * rd] = dv.getInt32(u >>> 0, true); x[2 * rd + 1] = dv.getInt32((u >>> 0) + 4, true); }
            else if (M) this.load64(x, rd, u >>> 0);
            else { x[2 * rd] = i32[u >>> 2]; x[2 * rd + 1] = i32[(u >>> 2) + 1]; }
          }
          continue;
        case Op.LW: case Op.LWU:
          lo = x[2 * rs1]; u = (lo + imm) | 0;
          if (((x[2 * rs1 + 1] + (imm >> 31) + ((u >>> 0) < (lo >>> 0) ? 1 : 0)) | 0) === 0 && (u & 4095) <= 4092) fl = pf[u >>> 12];
          else fl = this.flags(this.addr(x, rs1, imm), 4);
          if ((fl & Flag.R) === 0) return cpu.segv(this.addr(x, rs1, imm), 4, Flag.R, base + (code[cur + Field.POS] & 0xffff), k0 + (cur >> 3));
          if (rd !== 0) {
            t = (u & 3) === 0 ? i32[u >>> 2] : dv.getInt32(u >>> 0, true);
            x[2 * rd] = t; x[2 * rd + 1] = op === Op.LW ? t >> 31 : 0;
          }
          continue;
        case Op.LBU:
          lo = x[2 * rs1]; u = (lo + imm) | 0;
          if (((x[2 * rs1 + 1] + (imm >> 31) + ((u >>> 0) < (lo >>> 0) ? 1 : 0)) | 0) === 0) fl = pf[u >>> 12];
          else fl = this.flags(this.addr(x, rs1, imm), 1);
          if ((fl & Flag.R) === 0) return cpu.segv(this.addr(x, rs1, imm), 1, Flag.R, base + (code[cur + Field.POS] & 0xffff), k0 + (cur >> 3));
          if (rd !== 0) { x[2 * rd] = u8[u >>> 0]; x[2 * rd + 1] = 0; }
          continue;
        case Op.SD:
          lo = x[2 * rs1]; u = (lo + imm) | 0;
          if (((x[2 * rs1 + 1] + (imm >> 31) + ((u >>> 0) < (lo >>> 0) ? 1 : 0)) | 0) === 0 && (u & 4095) <= 4088) fl = pf[u >>> 12];
          else fl = this.flags(this.addr(x, rs1, imm), 8);
          if ((fl & Flag.W) === 0) return cpu.segv(this.addr(x, rs1, imm), 8, Flag.W, base + (code[cur + Field.POS] & 0xffff), k0 + (cur >> 3));
          if ((u & 7) !== 0) { dv.setInt32(u >>> 0, x[2 * rs2], true); dv.setInt32((u >>> 0) + 4, x[2 * rs2 + 1], true); }
          else if (M) this.store64(x, rs2, u >>> 0);
          else { i32[u >>> 2] = x[2 * rs2]; i32[(u >>> 2) + 1] = x[2 * rs2 + 1]; }
          if ((fl & Flag.CODE) !== 0 && this.storedToCode(u >>> 0, 8, base + (code[cur + Field.POS] & 0xffff) + (code[cur + Field.POS] >>> 16))) return (k0 + (cur >> 3) + 1) << 3;
          continue;
        case Op.SW:
          lo = x[2 * rs1]; u = (lo + imm) | 0;
          if (((x[2 * rs1 + 1] + (imm >> 31) + ((u >>> 0) < (lo >>> 0) ? 1 : 0)) | 0) === 0 && (u & 4095) <= 4092) fl = pf[u >>> 12];
          else fl = this.flags(this.addr(x, rs1, imm), 4);
          if ((fl & Flag.W) === 0) return cpu.segv(this.addr(x, rs1, imm), 4, Flag.W, base + (code[cur + Field.POS] & 0xffff), k0 + (cur >> 3));
          if ((u & 3) === 0) i32[u >>> 2] = x[2 * rs2]; else dv.setInt32(u >>> 0, x[2 * rs2], true);
          if ((fl & Flag.CODE) !== 0 && this.storedToCode(u >>> 0, 4, base + (code[cur + Field.POS] & 0xffff) + (code[cur + Field.POS] >>> 16))) return (k0 + (cur >> 3) + 1) << 3;
          continue;
        case Op.SB:
          lo = x[2 * rs1]; u = (lo + imm) | 0;
          if (((x[2 * rs1 + 1] + (imm >> 31) + ((u >>> 0) < (lo >>> 0) ? 1 : 0)) | 0) === 0) fl = pf[u >>> 12];
          else fl = this.flags(this.addr(x, rs1, imm), 1);
          if ((fl & Flag.W) === 0) return cpu.segv(this.addr(x, rs1, imm), 1, Flag.W, base + (code[cur + Field.POS] & 0xffff), k0 + (cur >> 3));
          u8[u >>> 0] = x[2 * rs2];
          if ((fl & Flag.CODE) !== 0 && this.storedToCode(u >>> 0, 1, base + (code[cur + Field.POS] & 0xffff) + (code[cur + Field.POS] >>> 16))) return (k0 + (cur >> 3) + 1) << 3;
          continue;

        case Op.LB: case Op.LH: case Op.LHU: case Op.FLW: case Op.FLD:
          size = code[cur + Field.RM];
          a = (x[2 * rs1] >>> 0) + imm;
          if (x[2 * rs1 + 1] !== 0) a += x[2 * rs1 + 1] * TWO32;
          fl = a >= 0 && a < Limit.GUEST_VA && (a & 4095) <= 4096 - size ? pf[a >>> 12] : this.flags(a, size);
          if ((fl & Flag.R) === 0) return cpu.segv(a, size, Flag.R, base + (code[cur + Field.POS] & 0xffff), k0 + (cur >> 3));
          switch (op) {
            case Op.LB: if (rd !== 0) { t = dv.getInt8(a); x[2 * rd] = t; x[2 * rd + 1] = t >> 31; } break;
            case Op.LH: if (rd !== 0) { t = dv.getInt16(a, true); x[2 * rd] = t; x[2 * rd + 1] = t >> 31; } break;
            case Op.LHU: if (rd !== 0) { x[2 * rd] = dv.getUint16(a, true); x[2 * rd + 1] = 0; } break;
            case Op.FLW:
              fb[2 * rd] = M && (a & 3) === 0 ? i32[a >>> 2] : dv.getInt32(a, true);
              fb[2 * rd + 1] = -1;
              break;
            case Op.FLD:
              if (M && (a & 7) === 0) this.load64(fb, rd, a);
              else { fb[2 * rd] = dv.getInt32(a, true); fb[2 * rd + 1] = dv.getInt32(a + 4, true); }
              break;
          }
          continue;
        case Op.SH: case Op.FSW: case Op.FSD:
          size = code[cur + Field.RM];
          a = (x[2 * rs1] >>> 0) + imm;
          if (x[2 * rs1 + 1] !== 0) a += x[2 * rs1 + 1] * TWO32;
          fl = a >= 0 && a < Limit.GUEST_VA && (a & 4095) <= 4096 - size ? pf[a >>> 12] : this.flags(a, size);
          if ((fl & Flag.W) === 0) return cpu.segv(a, size, Flag.W, base + (code[cur + Field.POS] & 0xffff), k0 + (cur >> 3));
          switch (op) {
            case Op.SH: dv.setInt16(a, x[2 * rs2], true); break;
            case Op.FSW: if (M && (a & 3) === 0) i32[a >>> 2] = fb[2 * rs2]; else dv.setInt32(a, fb[2 * rs2], true); break;
            case Op.FSD:
              if (M && (a & 7) === 0) this.store64(fb, rs2, a);
              else { dv.setInt32(a, fb[2 * rs2], true); dv.setInt32(a + 4, fb[2 * rs2 + 1], true); }
              break;
          }
          if ((fl & Flag.CODE) !== 0 && this.storedToCode(a, size, base + (code[cur + Field.POS] & 0xffff) + (code[cur + Field.POS] >>> 16))) return (k0 + (cur >> 3) + 1) << 3;
          continue;

        // 64-bit additions on int32 halves: the carry is an unsigned compare of the low words.
        case Op.ADDI:
          lo = x[2 * rs1]; t = (lo + imm) | 0;
          x[2 * rd + 1] = (x[2 * rs1 + 1] + (imm >> 31) + ((t >>> 0) < (lo >>> 0) ? 1 : 0)) | 0;
          x[2 * rd] = t;
          continue;
        case Op.SLTI: x[2 * rd] = x[2 * rs1 + 1] < imm >> 31 || (x[2 * rs1 + 1] === imm >> 31 && (x[2 * rs1] >>> 0) < (imm >>> 0)) ? 1 : 0; x[2 * rd + 1] = 0; continue;
        case Op.SLTIU: x[2 * rd] = (x[2 * rs1 + 1] >>> 0) < (imm >> 31) >>> 0 || (x[2 * rs1 + 1] === imm >> 31 && (x[2 * rs1] >>> 0) < (imm >>> 0)) ? 1 : 0; x[2 * rd + 1] = 0; continue;
        case Op.XORI: x[2 * rd] = x[2 * rs1] ^ imm; x[2 * rd + 1] = x[2 * rs1 + 1] ^ (imm >> 31); continue;
        case Op.ORI: x[2 * rd] = x[2 * rs1] | imm; x[2 * rd + 1] = x[2 * rs1 + 1] | (imm >> 31); continue;
        case Op.ANDI: x[2 * rd] = x[2 * rs1] & imm; x[2 * rd + 1] = x[2 * rs1 + 1] & (imm >> 31); continue;
        // Shifts by n = 0..63 (the immediate, or rs2's low 6 bits) on the
        // halves: `(v >>> 1) >>> (31 - n)` is `v >>> (32 - n)` for n = 1..31
        // and 0 for n = 0 (where a JavaScript shift by 32 would shift by 0),
        // so that each case has one test; a shift by 32..63 is one by n - 32
        // in JavaScript.
        case Op.SLLI: case Op.SLL:
          t = op === Op.SLLI ? imm : x[2 * rs2] & 63;
          lo = x[2 * rs1];
          if (t >= 32) { x[2 * rd + 1] = lo << t; x[2 * rd] = 0; }
          else { x[2 * rd + 1] = (x[2 * rs1 + 1] << t) | ((lo >>> 1) >>> (31 - t)); x[2 * rd] = lo << t; }
          continue;
        case Op.SRLI: case Op.SRL:
          t = op === Op.SRLI ? imm : x[2 * rs2] & 63;
          u = x[2 * rs1 + 1];
          if (t >= 32) { x[2 * rd] = u >>> t; x[2 * rd + 1] = 0; }
          else { x[2 * rd] = (x[2 * rs1] >>> t) | ((u << 1) << (31 - t)); x[2 * rd + 1] = u >>> t; }
          continue;
        case Op.SRAI: case Op.SRA:
          t = op === Op.SRAI ? imm : x[2 * rs2] & 63;
          u = x[2 * rs1 + 1];
          if (t >= 32) { x[2 * rd] = u >> t; x[2 * rd + 1] = u >> 31; }
          else { x[2 * rd] = (x[2 * rs1] >>> t) | ((u << 1) << (31 - t)); x[2 * rd + 1] = u >> t; }
          continue;
        case Op.ADDIW: t = (x[2 * rs1] + imm) | 0; x[2 * rd] = t; x[2 * rd + 1] = t >> 31; continue;
        case Op.SLLIW: t = x[2 * rs1] << imm; x[2 * rd] = t; x[2 * rd + 1] = t >> 31; continue;
        case Op.SRLIW: t = (x[2 * rs1] >>> imm) | 0; x[2 * rd] = t; x[2 * rd + 1] = t >> 31; continue;
        case Op.SRAIW: t = x[2 * rs1] >> imm; x[2 * rd] = t; x[2 * rd + 1] = t >> 31; continue;
        case Op.ADD:
          lo = x[2 * rs1]; t = (lo + x[2 * rs2]) | 0;
          x[2 * rd + 1] = (x[2 * rs1 + 1] + x[2 * rs2 + 1] + ((t >>> 0) < (lo >>> 0) ? 1 : 0)) | 0;
          x[2 * rd] = t;
          continue;
        case Op.SUB:
          lo = x[2 * rs1]; u = x[2 * rs2]; t = (lo - u) | 0;
          x[2 * rd + 1] = (x[2 * rs1 + 1] - x[2 * rs2 + 1] - ((lo >>> 0) < (u >>> 0) ? 1 : 0)) | 0;
          x[2 * rd] = t;
          continue;
        case Op.XOR: x[2 * rd] = x[2 * rs1] ^ x[2 * rs2]; x[2 * rd + 1] = x[2 * rs1 + 1] ^ x[2 * rs2 + 1]; continue;
        case Op.OR: x[2 * rd] = x[2 * rs1] | x[2 * rs2]; x[2 * rd + 1] = x[2 * rs1 + 1] | x[2 * rs2 + 1]; continue;
        case Op.AND: x[2 * rd] = x[2 * rs1] & x[2 * rs2]; x[2 * rd + 1] = x[2 * rs1 + 1] & x[2 * rs2 + 1]; continue;
        case Op.SLT: x[2 * rd] = x[2 * rs1 + 1] < x[2 * rs2 + 1] || (x[2 * rs1 + 1] === x[2 * rs2 + 1] && (x[2 * rs1] >>> 0) < (x[2 * rs2] >>> 0)) ? 1 : 0; x[2 * rd + 1] = 0; continue;
        case Op.SLTU: x[2 * rd] = (x[2 * rs1 + 1] >>> 0) < (x[2 * rs2 + 1] >>> 0) || (x[2 * rs1 + 1] === x[2 * rs2 + 1] && (x[2 * rs1] >>> 0) < (x[2 * rs2] >>> 0)) ? 1 : 0; x[2 * rd + 1] = 0; continue;
        case Op.ADDW: t = (x[2 * rs1] + x[2 * rs2]) | 0; x[2 * rd] = t; x[2 * rd + 1] = t >> 31; continue;
        case Op.SUBW: t = (x[2 * rs1] - x[2 * rs2]) | 0; x[2 * rd] = t; x[2 * rd + 1] = t >> 31; continue;
        case Op.SLLW: t = x[2 * rs1] << (x[2 * rs2] & 31); x[2 * rd] = t; x[2 * rd + 1] = t >> 31; continue;
        case Op.SRLW: t = (x[2 * rs1] >>> (x[2 * rs2] & 31)) | 0; x[2 * rd] = t; x[2 * rd + 1] = t >> 31; continue;
        case Op.SRAW: t = x[2 * rs1] >> (x[2 * rs2] & 31); x[2 * rd] = t; x[2 * rd + 1] = t >> 31; continue;
        case Op.MUL: alu.mul(x, rd, rs1, rs2); continue;
        case Op.MULH: alu.mulh(x, rd, rs1, rs2); continue;
        case Op.MULHSU: alu.mulhsu(x, rd, rs1, rs2); continue;
        case Op.MULHU: alu.mulhu(x, rd, rs1, rs2); continue;
        case Op.DIV: alu.div(x, rd, rs1, rs2); continue;
        case Op.DIVU: alu.divu(x, rd, rs1, rs2); continue;
        case Op.REM: alu.rem(x, rd, rs1, rs2); continue;
        case Op.REMU: alu.remu(x, rd, rs1, rs2); continue;
        case Op.MULW: alu.mulw(x, rd, rs1, rs2); continue;
        case Op.DIVW: alu.divw(x, rd, rs1, rs2); continue;
        case Op.DIVUW: alu.divuw(x, rd, rs1, rs2); continue;
        case Op.REMW: alu.remw(x, rd, rs1, rs2); continue;
        case Op.REMUW: alu.remuw(x, rd, rs1, rs2); continue;

        case Op.FENCE_I:
          cpu.flushCode();
          cpu.npc = base + (code[cur + Field.POS] & 0xffff) + (code[cur + Field.POS] >>> 16);
          return (k0 + (cur >> 3) + 1) << 3;
        case Op.ECALL:
          cpu.npc = base + (code[cur + Field.POS] & 0xffff) + (code[cur + Field.POS] >>> 16);
          return ((k0 + (cur >> 3) + 1) << 3) | 1;
        case Op.EBREAK: return cpu.trap(SIGTRAP, TRAP_BRKPT, base + (code[cur + Field.POS] & 0xffff), k0 + (cur >> 3));
        case Op.ILLEGAL: return cpu.trap(SIGILL, ILL_ILLOPC, base + (code[cur + Field.POS] & 0xffff), k0 + (cur >> 3));
        case Op.CSRRW: case Op.CSRRS: case Op.CSRRC: case Op.CSRRWI: case Op.CSRRSI: case Op.CSRRCI:
          t = cpu.csr(code[cur + Field.RM], code[cur + Field.AUX], rd, rs1, imm, base + (code[cur + Field.POS] & 0xffff), k0 + (cur >> 3));
          if (t !== 0) return t;
          continue;
        case Op.LR_W: case Op.SC_W: case Op.AMOSWAP_W: case Op.AMOADD_W: case Op.AMOXOR_W: case Op.AMOAND_W:
        case Op.AMOOR_W: case Op.AMOMIN_W: case Op.AMOMAX_W: case Op.AMOMINU_W: case Op.AMOMAXU_W:
        case Op.LR_D: case Op.SC_D: case Op.AMOSWAP_D: case Op.AMOADD_D: case Op.AMOXOR_D: case Op.AMOAND_D:
        case Op.AMOOR_D: case Op.AMOMIN_D: case Op.AMOMAX_D: case Op.AMOMINU_D: case Op.AMOMAXU_D:
          t = cpu.amo(code[cur + Field.AUX], code[cur + Field.RM], rd, rs1, rs2, base + (code[cur + Field.POS] & 0xffff), k0 + (cur >> 3));
          if (t === 0) continue;
          if (t > 0) return t;
          cpu.npc = base + (code[cur + Field.POS] & 0xffff) + (code[cur + Field.POS] >>> 16);
          return (k0 + (cur >> 3) + 1) << 3;

        case Op.FMV_X_W: t = fb[2 * rs1]; x[2 * rd] = t; x[2 * rd + 1] = t >> 31; continue;
        case Op.FMV_W_X: fb[2 * rd] = x[2 * rs1]; fb[2 * rd + 1] = -1; continue;
        case Op.FMV_X_D: x[2 * rd] = fb[2 * rs1]; x[2 * rd + 1] = fb[2 * rs1 + 1]; continue;
        case Op.FMV_D_X: fb[2 * rd] = x[2 * rs1]; fb[2 * rd + 1] = x[2 * rs1 + 1]; continue;
        default: {
          // Every other F/D instruction: a helper of fp.ts. rm 7 (dynamic)
          // with a reserved frm in fcsr is SIGILL before anything changes.
          const rm = code[cur + Field.RM];
          if (rm === 7 && (s.fcsr & 224) > 128) return cpu.trap(SIGILL, ILL_ILLOPC, base + (code[cur + Field.POS] & 0xffff), k0 + (cur >> 3));
          floatOp(s, op, rd, rs1, rs2, code[cur + Field.AUX], rm);
          continue;
        }
      }
      // The switch `break`s only to leave the instruction's sequence: a
      // taken branch or a jal (out < 0: target in AUX), jalr or END (out).
      if (out < 0) {
        const target = code[cur + Field.AUX];
        if (target >= 0) {
          if (target > cur || (k0 + (cur >> 3) + 1 < Tier0.CHUNK && (b.heat += Heat.LOOP) < promoteAt)) { k0 += ((cur - target) >> 3) + 1; o = target; continue; }
          cpu.npc = base + (code[target + Field.POS] & 0xffff);
          return (k0 + (cur >> 3) + 1) << 3;
        }
        out = base + (code[cur + Field.POS] & 0xffff) + imm;
      }
      // Leaving the block for `out`: on into it if the Cpu's block cache
      // holds it in tier 0 (every live block it holds is valid: drops and
      // flushes clear their entries), else back to the run loop. The block
      // is linked as `b`'s successor for trace.ts.
      const nb = cache[(out >>> 1) & BlockCache.MASK], k = k0 + (cur >> 3) + 1;
      if (nb.pc === out && nb.code !== null && k < limit && nb.heat < promoteAt && intr[0] === 0) {
        b.next = nb; b.linkEpoch = cpu.codeEpoch;
        nb.heat++;
        b = nb; code = nb.code; base = nb.pc; o = 0; k0 = k;
        continue;
      }
      cpu.npc = out;
      cpu.linkFrom = b;
      return k << 3;
    }
  }

  /**
   * The exact value of register rs1 plus `imm` as a number (exact below
   * 2^53): the address or target off the fast paths, which compute it in
   * int32 halves. One function for every case, so that its type feedback
   * (large and negative values) is gathered once for all (warmup.ts).
   */
  /**
   * A store of `size` bytes at `a` landed on a page holding code: true when it
   * changed code this vCPU must stop for (Cpu.codeWrite), with cpu.npc set to
   * `next`, the pc after the store.
   */
  private storedToCode(a: number, size: number, next: number): boolean {
    if (!this.cpu.codeWrite(a, size)) return false;
    this.cpu.npc = next;
    return true;
  }

  private addr(x: Int32Array, rs1: number, imm: number): number {
    return (x[2 * rs1] >>> 0) + imm + x[2 * rs1 + 1] * TWO32;
  }

  /** The 8 bytes at `a` (a multiple of 8) into r[2i], r[2i+1] as one host access: single-copy atomic (see codegen.ts). */
  private load64(r: Int32Array, i: number, a: number): void {
    const sd = this.scratch;
    sd.setFloat64(0, this.f64[a >>> 3], true);
    r[2 * i] = sd.getInt32(0, true);
    r[2 * i + 1] = sd.getInt32(4, true);
  }

  /** r[2i], r[2i+1] to the 8 bytes at `a` (a multiple of 8) as one host access. */
  private store64(r: Int32Array, i: number, a: number): void {
    const sd = this.scratch;
    sd.setInt32(0, r[2 * i], true);
    sd.setInt32(4, r[2 * i + 1], true);
    this.f64[a >>> 3] = sd.getFloat64(0, true);
  }
}

/** The F/D instructions that go through fp.ts: aux is rs3 for the fused multiply-adds. */
function floatOp(s: ThreadState, op: Op, d: number, a: number, b: number, aux: number, rm: number): void {
  switch (op) {
    case Op.FADD_S: fp.faddS(s, d, a, b, rm); return;
    case Op.FSUB_S: fp.fsubS(s, d, a, b, rm); return;
    case Op.FMUL_S: fp.fmulS(s, d, a, b, rm); return;
    case Op.FDIV_S: fp.fdivS(s, d, a, b, rm); return;
    case Op.FSQRT_S: fp.fsqrtS(s, d, a, rm); return;
    case Op.FADD_D: fp.faddD(s, d, a, b, rm); return;
    case Op.FSUB_D: fp.fsubD(s, d, a, b, rm); return;
    case Op.FMUL_D: fp.fmulD(s, d, a, b, rm); return;
    case Op.FDIV_D: fp.fdivD(s, d, a, b, rm); return;
    case Op.FSQRT_D: fp.fsqrtD(s, d, a, rm); return;
    case Op.FMADD_S: case Op.FMSUB_S: case Op.FNMSUB_S: case Op.FNMADD_S:
      fp.fmaS(s, d, a, b, aux, rm, op - Op.FMADD_S); return;
    case Op.FMADD_D: case Op.FMSUB_D: case Op.FNMSUB_D: case Op.FNMADD_D:
      fp.fmaD(s, d, a, b, aux, rm, op - Op.FMADD_D); return;
    case Op.FSGNJ_S: case Op.FSGNJN_S: case Op.FSGNJX_S: fp.fsgnjS(s, d, a, b, op - Op.FSGNJ_S); return;
    case Op.FSGNJ_D: case Op.FSGNJN_D: case Op.FSGNJX_D: fp.fsgnjD(s, d, a, b, op - Op.FSGNJ_D); return;
    case Op.FMIN_S: case Op.FMAX_S: fp.fminmaxS(s, d, a, b, op === Op.FMAX_S); return;
    case Op.FMIN_D: case Op.FMAX_D: fp.fminmaxD(s, d, a, b, op === Op.FMAX_D); return;
    case Op.FLE_S: case Op.FLT_S: case Op.FEQ_S: fp.fcmpS(s, d, a, b, op === Op.FLE_S ? 0 : op === Op.FLT_S ? 1 : 2); return;
    case Op.FLE_D: case Op.FLT_D: case Op.FEQ_D: fp.fcmpD(s, d, a, b, op === Op.FLE_D ? 0 : op === Op.FLT_D ? 1 : 2); return;
    case Op.FCLASS_S: fp.fclassS(s, d, a); return;
    case Op.FCLASS_D: fp.fclassD(s, d, a); return;
    case Op.FCVT_W_S: case Op.FCVT_WU_S: case Op.FCVT_L_S: case Op.FCVT_LU_S: fp.fcvtIntS(s, d, a, rm, op - Op.FCVT_W_S); return;
    case Op.FCVT_W_D: case Op.FCVT_WU_D: case Op.FCVT_L_D: case Op.FCVT_LU_D: fp.fcvtIntD(s, d, a, rm, op - Op.FCVT_W_D); return;
    case Op.FCVT_S_W: case Op.FCVT_S_WU: case Op.FCVT_S_L: case Op.FCVT_S_LU: fp.fcvtFromIntS(s, d, a, rm, op - Op.FCVT_S_W); return;
    case Op.FCVT_D_W: case Op.FCVT_D_WU: case Op.FCVT_D_L: case Op.FCVT_D_LU: fp.fcvtFromIntD(s, d, a, rm, op - Op.FCVT_D_W); return;
    case Op.FCVT_S_D: fp.fcvtSD(s, d, a, rm); return;
    case Op.FCVT_D_S: fp.fcvtDS(s, d, a); return;
  }
}
