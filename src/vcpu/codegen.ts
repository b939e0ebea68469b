// JavaScript code generation for one decoded instruction.
//
// Contract: emit(i, pc, k) returns the statements that execute instruction
// `i` (at guest address `pc`, the k-th of its block, k instructions already
// retired in the block) inside a block function of this shape:
//
//   function (s: ThreadState, x: Int32Array, fb: Int32Array): number
//     closure: c (the Cpu), dv (DataView of guest memory), pf (page flags),
//              A (alu helpers), F (fp helpers), I4 and F8 (Int32Array and
//              Float64Array over guest memory), SD (a DataView over an
//              8-byte scratch)
//     locals:  a, h, t, u, v, fl, r, q, w; M (c.mt, read once on entry)
//
// A block function returns (retired << 3) | stop, where stop is 0 (go on at
// c.npc) or a Stop value; before returning it stores the next pc in c.npc
// (for a fault, the faulting instruction's pc). Registers are int32 halves:
// x[2i] low, x[2i+1] high. Nothing emitted allocates or throws; guest errors
// are returned as stops through the Cpu's fault helpers.
//
// Single-copy atomicity: while c.mt (M) is set (another vCPU may run a thread of
// this address space), aligned 4- and 8-byte loads and stores are each one
// host access (I4; F8 through the scratch SD, whose double is only copied,
// never computed on, so its bits pass unchanged; one DataView, not two typed
// arrays over one buffer, which TurboFan may take for separate memory and
// forward a stale scratch value), as RVWMO requires of
// aligned accesses; a DataView reads byte by byte until V8 optimizes the
// block, and an 8-byte access through it is always two. Otherwise they go
// through dv, the fastest way.
//
// `ends` tells the block builder that control does not fall through to the
// next instruction (jump, branch, ecall, trap, fence.i).
//
// Loop blocks: when `loop` is true the statements sit inside the body of a
// `for (;;)` that re-runs the block (a block ending in a branch back to its
// own start; see cpu.ts), and the local N holds the instructions retired by
// earlier iterations: every retired count the code returns or passes to a
// helper is then N + k instead of the constant k.

import type { Insn } from './decode.js';
import { PAGE_R, PAGE_W, PAGE_CODE } from './memory.js';
import { AMO_OPS, CSR_KIND, ENDS_BLOCK, FP_RM_OPS, PURE } from './ops.js';

export interface Emitted {
  code: string;
  ends: boolean;
}

const LIMIT = 4294967296;

// Register xi lives in the block's locals xl<i> (low half) and xh<i> (high
// half); finishBlock() loads them and writes back the ones written.
function lo(r: number): string { return r === 0 ? '0' : `xl${r}`; }
function hi(r: number): string { return r === 0 ? '0' : `xh${r}`; }

/** Code that stores the locals of `regs` into x (for a helper that reads x). */
function spill(...regs: number[]): string {
  let c = '';
  for (const r of regs) if (r !== 0) c += `x[${2 * r}]=xl${r};x[${2 * r + 1}]=xh${r};`;
  return c;
}
/** Code that reloads the locals of `r` from x (after a helper wrote it). */
function reload(r: number): string {
  return r === 0 ? '' : `xl${r}=x[${2 * r}];xh${r}=x[${2 * r + 1}];`;
}

/** Write t (low) and u (high) to rd (caller ensures rd != 0), as int32 halves: every local holds its canonical int32 form, so === compares values (an unsigned 4294967295 from >>> is not -1 to ===). */
function wr(rd: number): string { return `${lo(rd)}=t|0;${hi(rd)}=u|0;`; }

/** Write a constant 64-bit value given as signed halves. */
function wrConst(rd: number, l: number, h: number): string {
  return `${lo(rd)}=${l | 0};${hi(rd)}=${h | 0};`;
}

/** A 53-bit-safe integer as halves. */
function split(v: number): [number, number] {
  const h = Math.floor(v / LIMIT);
  return [(v - h * LIMIT) | 0, h | 0];
}

/** Whether the instruction being emitted is inside a loop block (see the file comment). */
let inLoop = false;
/** The retired count k as an expression (N + k in a loop block). */
function kx(k: number): string { return inLoop ? `N+${k}` : `${k}`; }
/** A block function's return value for k retired instructions and stop 0. */
function retx(k: number): string { return inLoop ? `(N+${k})<<3` : `${k << 3}`; }

const TRAP_ILL = (pc: number, k: number) => `return c.trap(4,1,${pc},${kx(k)});`;

/** Address computation into `a` and the permission check, for an access of `size` bytes needing `need`. */
function addr(i: Insn, pc: number, k: number, size: number, need: number): string {
  let code: string;
  if (i.rs1 === 0) code = `a=${i.imm};`;
  else code = `a=(${lo(i.rs1)}>>>0)+${i.imm};h=${hi(i.rs1)};if(h!==0)a+=h*4294967296;`;
  code += `if(a<0||a>${LIMIT - size})return c.segv(a,${size},${need},${pc},${kx(k)});fl=pf[a>>>12];`;
  if (size > 1) code += `if((a&4095)>${4096 - size})fl=c.flags2(a,${size});`;
  code += `if((fl&${need})===0)return c.segv(a,${size},${need},${pc},${kx(k)});`;
  return code;
}

/** After a store: drop blocks decoded from the written bytes, and leave this block if any were. */
function smc(size: number, next: number, k: number): string {
  return `if((fl&${PAGE_CODE})!==0&&c.codeWrite(a,${size})){c.npc=${next};return ${retx(k + 1)};}`;
}

/** Load 4 aligned-or-not bytes at `a` into the expression target `dst` (an assignment prefix). */
function load32(dst: string): string {
  return `${dst}=(M&&(a&3)===0)?I4[a>>>2]:dv.getInt32(a,true);`;
}
/** Load 8 bytes at `a` into the targets `l` (low half) and `h` (high half). */
function load64(l: string, h: string): string {
  return `if(M&&(a&7)===0){SD.setFloat64(0,F8[a>>>3],true);${l}=SD.getInt32(0,true);${h}=SD.getInt32(4,true);}else{${l}=dv.getInt32(a,true);${h}=dv.getInt32(a+4,true);}`;
}
function store32(v: string): string {
  return `if(M&&(a&3)===0)I4[a>>>2]=${v};else dv.setInt32(a,${v},true);`;
}
function store64(l: string, h: string): string {
  return `if(M&&(a&7)===0){SD.setInt32(0,${l},true);SD.setInt32(4,${h},true);F8[a>>>3]=SD.getFloat64(0,true);}else{dv.setInt32(a,${l},true);dv.setInt32(a+4,${h},true);}`;
}

/**
 * The low 64 bits of a 64x64 product into t (low) and u (high): the high
 * word is the high half of the unsigned product of the low words (four
 * 16x16-bit products, each exact in a double) plus the two cross products'
 * low words. Uses q, w, a, h, r, v as scratch; reads every operand first.
 */
function mulLow(aL: string, aH: string, bL: string, bH: string): string {
  return `q=${aL}&65535;w=${aL}>>>16;a=${bL}&65535;h=${bL}>>>16;r=q*a;v=q*h;q=w*a;` +
    `u=(w*h+(v>>>16)+(q>>>16)+(((r>>>16)+(v&65535)+(q&65535))>>>16)+Math.imul(${aH},${bL})+Math.imul(${aL},${bH}))|0;` +
    `t=Math.imul(${aL},${bL});`;
}

const BRANCH: Record<string, (a: number, b: number) => string> = {
  beq: (a, b) => `${lo(a)}===${lo(b)}&&${hi(a)}===${hi(b)}`,
  bne: (a, b) => `${lo(a)}!==${lo(b)}||${hi(a)}!==${hi(b)}`,
  blt: (a, b) => `${hi(a)}<${hi(b)}||(${hi(a)}===${hi(b)}&&(${lo(a)}>>>0)<(${lo(b)}>>>0))`,
  bge: (a, b) => `!(${hi(a)}<${hi(b)}||(${hi(a)}===${hi(b)}&&(${lo(a)}>>>0)<(${lo(b)}>>>0)))`,
  bltu: (a, b) => `(${hi(a)}>>>0)<(${hi(b)}>>>0)||(${hi(a)}===${hi(b)}&&(${lo(a)}>>>0)<(${lo(b)}>>>0))`,
  bgeu: (a, b) => `!((${hi(a)}>>>0)<(${hi(b)}>>>0)||(${hi(a)}===${hi(b)}&&(${lo(a)}>>>0)<(${lo(b)}>>>0)))`,
};

const ALU_CALL: Record<string, string> = {
  mul: 'mul', mulh: 'mulh', mulhsu: 'mulhsu', mulhu: 'mulhu', div: 'div', divu: 'divu', rem: 'rem', remu: 'remu',
  mulw: 'mulw', divw: 'divw', divuw: 'divuw', remw: 'remw', remuw: 'remuw',
};

/** The condition under which branch `i` is taken, as a JavaScript expression. */
export function branchCondition(i: Insn): string | null {
  const f = BRANCH[i.op];
  return f === undefined ? null : `(${f(i.rs1, i.rs2)})`;
}

export function emit(i: Insn, pc: number, k: number, loop = false): Emitted {
  inLoop = loop;
  const next = pc + i.len;
  const { rd, rs1, rs2, imm } = i;
  const ret = retx(k + 1);
  const op = i.op;
  if (rd === 0 && PURE.has(op)) return { code: '', ends: false };
  const aL = lo(rs1), aH = hi(rs1), bL = lo(rs2), bH = hi(rs2);
  const immH = imm < 0 ? -1 : 0;
  let code = '';
  switch (op) {
    case 'illegal':
      return { code: TRAP_ILL(pc, k), ends: true };
    case 'lui':
      return { code: wrConst(rd, imm, immH), ends: false };
    case 'auipc': {
      const [l, h] = split(pc + imm);
      return { code: wrConst(rd, l, h), ends: false };
    }
    case 'jal': {
      if (rd !== 0) { const [l, h] = split(next); code = wrConst(rd, l, h); }
      return { code: code + `c.npc=${pc + imm};return ${ret};`, ends: true };
    }
    case 'jalr': {
      code = rs1 === 0 ? `a=${imm};` : `a=(${aL}>>>0)+${imm}+${aH}*4294967296;`;
      code += 'a-=a&1;';
      if (rd !== 0) { const [l, h] = split(next); code += wrConst(rd, l, h); }
      return { code: code + `c.npc=a;return ${ret};`, ends: true };
    }
    case 'beq': case 'bne': case 'blt': case 'bge': case 'bltu': case 'bgeu':
      return { code: `c.npc=(${BRANCH[op](rs1, rs2)})?${pc + imm}:${next};return ${ret};`, ends: true };

    case 'lb': case 'lbu': case 'lh': case 'lhu': case 'lw': case 'lwu': case 'ld': {
      const size = op === 'ld' ? 8 : op[1] === 'w' ? 4 : op[1] === 'h' ? 2 : 1;
      code = addr(i, pc, k, size, PAGE_R);
      if (rd === 0) return { code, ends: false };
      const D = 2 * rd;
      switch (op) {
        case 'lb': code += `t=dv.getInt8(a);${lo(rd)}=t;${hi(rd)}=t>>31;`; break;
        case 'lbu': code += `${lo(rd)}=dv.getUint8(a);${hi(rd)}=0;`; break;
        case 'lh': code += `t=dv.getInt16(a,true);${lo(rd)}=t;${hi(rd)}=t>>31;`; break;
        case 'lhu': code += `${lo(rd)}=dv.getUint16(a,true);${hi(rd)}=0;`; break;
        case 'lw': code += load32('t') + `${lo(rd)}=t;${hi(rd)}=t>>31;`; break;
        case 'lwu': code += load32(lo(rd)) + `${hi(rd)}=0;`; break;
        case 'ld': code += load64(lo(rd), hi(rd)); break;
      }
      return { code, ends: false };
    }
    case 'sb': case 'sh': case 'sw': case 'sd': {
      const size = op === 'sb' ? 1 : op === 'sh' ? 2 : op === 'sw' ? 4 : 8;
      code = addr(i, pc, k, size, PAGE_W);
      switch (op) {
        case 'sb': code += `dv.setInt8(a,${bL});`; break;
        case 'sh': code += `dv.setInt16(a,${bL},true);`; break;
        case 'sw': code += store32(bL); break;
        case 'sd': code += store64(bL, bH); break;
      }
      return { code: code + smc(size, next, k), ends: false };
    }

    case 'addi':
      if (rs1 === 0) return { code: wrConst(rd, imm, immH), ends: false };
      if (imm === 0) return { code: `${lo(rd)}=${aL};${hi(rd)}=${aH};`, ends: false };
      return { code: `t=(${aL}>>>0)+${imm >>> 0};u=(${aH}+${immH}+(t>4294967295?1:0))|0;t=t|0;` + wr(rd), ends: false };
    case 'slti':
      return { code: `${lo(rd)}=(${aH}<${immH}||(${aH}===${immH}&&(${aL}>>>0)<${imm >>> 0}))?1:0;${hi(rd)}=0;`, ends: false };
    case 'sltiu':
      return { code: `${lo(rd)}=((${aH}>>>0)<${immH >>> 0}||(${aH}===${immH}&&(${aL}>>>0)<${imm >>> 0}))?1:0;${hi(rd)}=0;`, ends: false };
    case 'xori':
      return { code: `t=${aL}^${imm};u=${aH}^${immH};` + wr(rd), ends: false };
    case 'ori':
      return { code: `t=${aL}|${imm};u=${aH}|${immH};` + wr(rd), ends: false };
    case 'andi':
      return { code: `t=${aL}&${imm};u=${aH}&${immH};` + wr(rd), ends: false };
    case 'slli': {
      const s = imm;
      if (s === 0) code = `t=${aL};u=${aH};`;
      else if (s < 32) code = `t=${aL};u=(${aH}<<${s})|(t>>>${32 - s});t=t<<${s};`;
      else code = `u=${aL}<<${s - 32};t=0;`;
      return { code: code + wr(rd), ends: false };
    }
    case 'srli': {
      const s = imm;
      if (s === 0) code = `t=${aL};u=${aH};`;
      else if (s < 32) code = `u=${aH};t=(${aL}>>>${s})|(u<<${32 - s});u=u>>>${s};`;
      else code = `t=${aH}>>>${s - 32};u=0;`;
      return { code: code + wr(rd), ends: false };
    }
    case 'srai': {
      const s = imm;
      if (s === 0) code = `t=${aL};u=${aH};`;
      else if (s < 32) code = `u=${aH};t=(${aL}>>>${s})|(u<<${32 - s});u=u>>${s};`;
      else code = `u=${aH};t=u>>${s - 32};u=u>>31;`;
      return { code: code + wr(rd), ends: false };
    }
    case 'addiw':
      return { code: `t=(${aL}+${imm})|0;${lo(rd)}=t;${hi(rd)}=t>>31;`, ends: false };
    case 'slliw':
      return { code: `t=${aL}<<${imm};${lo(rd)}=t;${hi(rd)}=t>>31;`, ends: false };
    case 'srliw':
      return { code: `t=(${aL}>>>${imm})|0;${lo(rd)}=t;${hi(rd)}=t>>31;`, ends: false };
    case 'sraiw':
      return { code: `t=${aL}>>${imm};${lo(rd)}=t;${hi(rd)}=t>>31;`, ends: false };

    case 'add':
      return { code: `t=(${aL}>>>0)+(${bL}>>>0);u=(${aH}+${bH}+(t>4294967295?1:0))|0;t=t|0;` + wr(rd), ends: false };
    case 'sub':
      return { code: `t=(${aL}>>>0)-(${bL}>>>0);u=(${aH}-${bH}-(t<0?1:0))|0;t=t|0;` + wr(rd), ends: false };
    case 'xor': return { code: `t=${aL}^${bL};u=${aH}^${bH};` + wr(rd), ends: false };
    case 'or': return { code: `t=${aL}|${bL};u=${aH}|${bH};` + wr(rd), ends: false };
    case 'and': return { code: `t=${aL}&${bL};u=${aH}&${bH};` + wr(rd), ends: false };
    case 'slt':
      return { code: `${lo(rd)}=(${BRANCH.blt(rs1, rs2)})?1:0;${hi(rd)}=0;`, ends: false };
    case 'sltu':
      return { code: `${lo(rd)}=(${BRANCH.bltu(rs1, rs2)})?1:0;${hi(rd)}=0;`, ends: false };
    case 'sll':
      return { code: `v=${bL}&63;t=${aL};u=${aH};if(v>=32){u=t<<(v-32);t=0;}else if(v!==0){u=(u<<v)|(t>>>(32-v));t=t<<v;}` + wr(rd), ends: false };
    case 'srl':
      return { code: `v=${bL}&63;t=${aL};u=${aH};if(v>=32){t=u>>>(v-32);u=0;}else if(v!==0){t=(t>>>v)|(u<<(32-v));u=u>>>v;}` + wr(rd), ends: false };
    case 'sra':
      return { code: `v=${bL}&63;t=${aL};u=${aH};if(v>=32){t=u>>(v-32);u=u>>31;}else if(v!==0){t=(t>>>v)|(u<<(32-v));u=u>>v;}` + wr(rd), ends: false };
    case 'addw':
      return { code: `t=(${aL}+${bL})|0;${lo(rd)}=t;${hi(rd)}=t>>31;`, ends: false };
    case 'subw':
      return { code: `t=(${aL}-${bL})|0;${lo(rd)}=t;${hi(rd)}=t>>31;`, ends: false };
    case 'sllw':
      return { code: `t=${aL}<<(${bL}&31);${lo(rd)}=t;${hi(rd)}=t>>31;`, ends: false };
    case 'srlw':
      return { code: `t=(${aL}>>>(${bL}&31))|0;${lo(rd)}=t;${hi(rd)}=t>>31;`, ends: false };
    case 'sraw':
      return { code: `t=${aL}>>(${bL}&31);${lo(rd)}=t;${hi(rd)}=t>>31;`, ends: false };

    case 'fence':
      // The host (x86-64) keeps every order RVWMO's fences ask for but one: a
      // store may pass a later load. A seq-cst Atomics store is a full barrier
      // there, so a thread sharing memory pays one per fence; a lone one none.
      return { code: 'if(M)Atomics.store(c.fenceWord,0,0);', ends: false };
    case 'fence.i':
      return { code: `c.flushCode();c.npc=${next};return ${ret};`, ends: true };
    case 'ecall':
      return { code: `c.npc=${next};return ${ret}|1;`, ends: true };
    case 'ebreak':
      return { code: `return c.trap(5,1,${pc},${kx(k)});`, ends: true };
    case 'csrrw': case 'csrrs': case 'csrrc': case 'csrrwi': case 'csrrsi': case 'csrrci':
      return { code: spill(rs1, rd) + `r=c.csr(${CSR_KIND[op]},${i.csr},${rd},${rs1},${imm},${pc},${kx(k)});` + reload(rd) + 'if(r!==0)return r;', ends: false };

    // Floating-point loads and stores move raw bits (no NaN canonicalisation).
    case 'flw':
      return { code: addr(i, pc, k, 4, PAGE_R) + load32(`fb[${2 * rd}]`) + `fb[${2 * rd + 1}]=-1;`, ends: false };
    case 'fld':
      return { code: addr(i, pc, k, 8, PAGE_R) + load64(`fb[${2 * rd}]`, `fb[${2 * rd + 1}]`), ends: false };
    case 'fsw':
      return { code: addr(i, pc, k, 4, PAGE_W) + store32(`fb[${2 * rs2}]`) + smc(4, next, k), ends: false };
    case 'fsd':
      return { code: addr(i, pc, k, 8, PAGE_W) + store64(`fb[${2 * rs2}]`, `fb[${2 * rs2 + 1}]`) + smc(8, next, k), ends: false };
    case 'fmv.x.w':
      return { code: `t=fb[${2 * rs1}];${lo(rd)}=t;${hi(rd)}=t>>31;`, ends: false };
    case 'fmv.w.x':
      return { code: `fb[${2 * rd}]=${aL};fb[${2 * rd + 1}]=-1;`, ends: false };
    case 'fmv.x.d':
      return { code: `${lo(rd)}=fb[${2 * rs1}];${hi(rd)}=fb[${2 * rs1 + 1}];`, ends: false };
    case 'fmv.d.x':
      return { code: `fb[${2 * rd}]=${aL};fb[${2 * rd + 1}]=${aH};`, ends: false };
    case 'fsgnj.d': case 'fsgnjn.d': case 'fsgnjx.d': {
      const sgn = op === 'fsgnj.d' ? `(fb[${2 * rs2 + 1}]&-2147483648)` : op === 'fsgnjn.d'
        ? `(~fb[${2 * rs2 + 1}]&-2147483648)` : `((fb[${2 * rs1 + 1}]^fb[${2 * rs2 + 1}])&-2147483648)`;
      return { code: `u=(fb[${2 * rs1 + 1}]&2147483647)|${sgn};fb[${2 * rd}]=fb[${2 * rs1}];fb[${2 * rd + 1}]=u;`, ends: false };
    }
  }

  // The multiplications compilers emit for arithmetic, inline: no spill of the locals, no call.
  if (op === 'mul') return { code: mulLow(aL, aH, bL, bH) + wr(rd), ends: false };
  if (op === 'mulw') return { code: `t=Math.imul(${aL},${bL});u=t>>31;` + wr(rd), ends: false };
  if (op in ALU_CALL) return { code: spill(rs1, rs2) + `A.${ALU_CALL[op]}(x,${rd},${rs1},${rs2});` + reload(rd), ends: false };

  if (op.startsWith('lr.') || op.startsWith('sc.') || op.startsWith('amo')) {
    const [name, w] = op.split('.');
    const n = AMO_OPS.indexOf(name);
    return {
      code: spill(rs1, rs2, rd) + `r=c.amo(${n},${w === 'd' ? 8 : 4},${rd},${rs1},${rs2},${pc},${kx(k)});` + reload(rd) +
        `if(r!==0){if(r<0){c.npc=${next};return ${ret};}return r;}`,
      ends: false,
    };
  }

  // Remaining FP operations go through helpers.
  const h = fpHelper(i);
  if (h !== null) {
    const pre = FP_RM_OPS.has(op) && i.rm === 7 ? `if((s.fcsr&224)>128)${TRAP_ILL(pc, k)}` : '';
    return { code: pre + spill(h.intSrc, h.intDst) + h.call + ';' + reload(h.intDst), ends: false };
  }
  // Unknown to the generator: treat as illegal (never expected).
  return { code: TRAP_ILL(pc, k), ends: true };
}

/**
 * The fp.ts call that runs F/D instruction `i` on a ThreadState `s`
 * (`call`), and the integer registers it reads (`intSrc`: fcvt from an
 * integer) and writes (`intDst`: compares, fclass, fcvt to an integer)
 * through `s.x` (0: none); null for the F/D instructions compiled inline
 * (loads, stores, moves, fsgnj.d) and for every other instruction. Tier 1
 * calls it for the instruction itself, tier 2 (wasm-fp.ts) on its slow path.
 * A dynamic rounding mode under a reserved frm is the caller's to reject.
 */
export function fpHelper(i: Insn): { call: string; intSrc: number; intDst: number } | null {
  const { op, rd, rs1, rs2, rm } = i;
  const [base, fmt] = splitOp(op);
  const D = fmt === 'd';
  const intSrc = /^fcvt\.[sd]\.[wl]/.test(op) ? rs1 : 0;
  const intDst = /^(feq|flt|fle|fclass)\./.test(op) || /^fcvt\.[wl]u?\./.test(op) ? rd : 0;
  const call = (fn: string, args: string) => ({ call: `F.${fn}(s,${args})`, intSrc, intDst });
  switch (base) {
    case 'fadd': return call(D ? 'faddD' : 'faddS', `${rd},${rs1},${rs2},${rm}`);
    case 'fsub': return call(D ? 'fsubD' : 'fsubS', `${rd},${rs1},${rs2},${rm}`);
    case 'fmul': return call(D ? 'fmulD' : 'fmulS', `${rd},${rs1},${rs2},${rm}`);
    case 'fdiv': return call(D ? 'fdivD' : 'fdivS', `${rd},${rs1},${rs2},${rm}`);
    case 'fsqrt': return call(D ? 'fsqrtD' : 'fsqrtS', `${rd},${rs1},${rm}`);
    case 'fmadd': case 'fmsub': case 'fnmsub': case 'fnmadd': {
      const kind = ['fmadd', 'fmsub', 'fnmsub', 'fnmadd'].indexOf(base);
      return call(D ? 'fmaD' : 'fmaS', `${rd},${rs1},${rs2},${i.rs3},${rm},${kind}`);
    }
    case 'fsgnj': case 'fsgnjn': case 'fsgnjx':
      return D ? null : call('fsgnjS', `${rd},${rs1},${rs2},${['fsgnj', 'fsgnjn', 'fsgnjx'].indexOf(base)}`);
    case 'fmin': case 'fmax':
      return call(D ? 'fminmaxD' : 'fminmaxS', `${rd},${rs1},${rs2},${base === 'fmax'}`);
    case 'fle': case 'flt': case 'feq':
      return call(D ? 'fcmpD' : 'fcmpS', `${rd},${rs1},${rs2},${['fle', 'flt', 'feq'].indexOf(base)}`);
    case 'fclass':
      return call(D ? 'fclassD' : 'fclassS', `${rd},${rs1}`);
  }
  // Conversions: fcvt.<to>.<from>.
  const parts = op.split('.');
  if (parts[0] !== 'fcvt') return null;
  const to = parts[1], from = parts[2];
  const ik = ['w', 'wu', 'l', 'lu'];
  if (to === 's' && from === 'd') return call('fcvtSD', `${rd},${rs1},${rm}`);
  if (to === 'd' && from === 's') return call('fcvtDS', `${rd},${rs1}`);
  if (ik.includes(to)) return call(from === 'd' ? 'fcvtIntD' : 'fcvtIntS', `${rd},${rs1},${rm},${ik.indexOf(to)}`);
  return call(to === 'd' ? 'fcvtFromIntD' : 'fcvtFromIntS', `${rd},${rs1},${rm},${ik.indexOf(from)}`);
}

function splitOp(op: string): [string, string] {
  const j = op.lastIndexOf('.');
  return j < 0 ? [op, ''] : [op.slice(0, j), op.slice(j + 1)];
}

/** Target of a direct jump or branch, or null. */
export function directTarget(i: Insn, pc: number): number | null {
  return i.op === 'jal' || BRANCH[i.op] !== undefined ? pc + i.imm : null;
}

/** Instructions `insns` at `pcs`, consecutive and ending at `end` (a block's decoded code). */
export interface Piece {
  insns: Insn[];
  pcs: number[];
  end: number;
  /** Pcs of this piece (not its first) that are cases too: an indirect jump's targets (region.ts regionFrom). */
  entries?: number[];
}

/**
 * The pcs inside `pieces` that control can reach by a jump from inside
 * them (the entry cases of a region; see compileRegion): every piece's
 * start but the first's, targets of taken branches and jal that are
 * instructions of a piece, return addresses (after a linking jal/jalr) that
 * are, and a piece's fall-through end that is. Empty: straight-line code.
 */
export function regionLabels(pieces: readonly Piece[]): Set<number> {
  const at = new Set<number>();
  for (const p of pieces) for (const pc of p.pcs) at.add(pc);
  const labels = new Set<number>();
  for (const p of pieces.slice(1)) labels.add(p.pcs[0]);
  for (const p of pieces) for (const pc of p.entries ?? []) labels.add(pc);
  for (const p of pieces) {
    p.insns.forEach((ins, j) => {
      const t = directTarget(ins, p.pcs[j]);
      if (t !== null && at.has(t)) labels.add(t);
      const back = p.pcs[j] + ins.len;
      if ((ins.op === 'jal' || ins.op === 'jalr') && ins.rd !== 0 && at.has(back)) labels.add(back);
    });
    if (!ENDS_BLOCK.has(p.insns[p.insns.length - 1].op) && at.has(p.end)) labels.add(p.end);
  }
  return labels;
}

/**
 * The statements of a block: instructions `insns` at `pcs` (consecutive,
 * ending at `end`), where only the last may end control flow and conditional
 * branches may sit anywhere. See compileRegion.
 */
export function compileBlock(insns: Insn[], pcs: number[], end: number, chunk: number): string {
  return compileRegion([{ insns, pcs, end }], chunk);
}

/**
 * The statements of one function running `pieces` (the first is entered;
 * pcs disjoint). A taken branch, a jal or a piece's fall-through end that
 * lands on an instruction of any piece jumps there inside the function: the
 * code is then a region, `for(;;){switch(P){case pc: ...}}` with one case
 * per such target, per piece start and per return address (the instruction
 * after a call), N counting the instructions retired by finished segments
 * (a segment runs from a case label to the next), and every jump to a pc not
 * above its own returning to the run loop once N reaches `chunk` (every
 * cycle has such a jump, so no loop runs longer). In a region a jalr (a
 * return, a call through a pointer) goes through the same switch: a target
 * that is a case runs on inside, any other leaves by the switch's end, so
 * a return predicted by nothing stale can only land on code the function
 * holds now. Other code is straight-line with early exits. Retired counts
 * at every exit are exact.
 */
export function compileRegion(pieces: Piece[], chunk: number): string {
  const start = pieces[0].pcs[0];
  const labels = regionLabels(pieces);
  const region = labels.size > 0;
  inLoop = region;
  /** Go on at t, `retired` instructions of this segment done, coming from the instruction at `from`. */
  const go = (t: number, from: number, retired: number): string =>
    `N+=${retired};` + (t <= from ? `if(N>=${chunk}){c.npc=${t};return N<<3;}` : '') + `P=${t};continue;`;
  let out = '';
  for (const piece of pieces) {
    const { insns, pcs } = piece;
    let k = 0; // instructions of the current segment before this one
    let ended = false;
    for (let j = 0; j < insns.length; j++) {
      const ins = insns[j], pc = pcs[j];
      if (region && labels.has(pc) && pc !== start) {
        if (k > 0) out += `N+=${k};`;
        out += `case ${pc}:\n`;
        k = 0;
      }
      inLoop = region;
      if (ins.op === 'jalr' && region) {
        let code = ins.rs1 === 0 ? `a=${ins.imm};` : `a=(${lo(ins.rs1)}>>>0)+${ins.imm}+${hi(ins.rs1)}*4294967296;`;
        code += 'a-=a&1;';
        if (ins.rd !== 0) { const [l, h] = split(pc + ins.len); code += wrConst(ins.rd, l, h); }
        // P stays a small integer (a double there would box it on every pass).
        out += code + `N+=${k + 1};if(N>=${chunk}||a<0||a>=2147483648){c.npc=a;return N<<3;}P=a|0;continue;\n`;
        ended = true;
        break;
      }
      const t = directTarget(ins, pc);
      if (t === null) {
        const e = emit(ins, pc, k, region);
        out += e.code + '\n';
        k++;
        if (e.ends) { ended = true; break; }
        continue;
      }
      inLoop = region;
      const to = region && labels.has(t) ? go(t, pc, k + 1) : `c.npc=${t};return ${retx(k + 1)};`;
      if (ins.op === 'jal') {
        if (ins.rd !== 0) { const [l, h] = split(pc + ins.len); out += wrConst(ins.rd, l, h); }
        out += to + '\n';
        ended = true;
        break;
      }
      out += `if${branchCondition(ins)}{${to}}\n`;
      k++;
    }
    inLoop = region;
    if (!ended) out += region && labels.has(piece.end) ? go(piece.end, pcs[pcs.length - 1], k) + '\n' : `c.npc=${piece.end};return ${retx(k)};\n`;
  }
  if (!region) return out;
  return `let N=0,P=${start};\nfor(;;){switch(P){case ${start}:\n${out}}c.npc=P;return N<<3;}`;
}

/**
 * The body of a block function from the statements of its instructions:
 * declares and loads the register locals the statements use, and turns every
 * `return X;` into a jump to one exit that stores the locals some statement
 * writes back into x and then returns X (statements never contain `;` inside
 * a return expression).
 */
export function finishBlock(body: string): string {
  const used = new Set<number>(), written = new Set<number>();
  for (const m of body.matchAll(/\bx[lh](\d+)(=(?!=))?/g)) {
    used.add(Number(m[1]));
    if (m[2] !== undefined) written.add(Number(m[1]));
  }
  const regs = [...used].sort((a, b) => a - b);
  const decl = regs.length === 0 ? '' : 'let ' + regs.map((r) => `xl${r}=x[${2 * r}],xh${r}=x[${2 * r + 1}]`).join(',') + ';\n';
  if (written.size === 0) return decl + body;
  const wb = [...written].sort((a, b) => a - b).map((r) => `x[${2 * r}]=xl${r};x[${2 * r + 1}]=xh${r};`).join('');
  return `${decl}let R=0;\nexit:{\n${body.replace(/\breturn ([^;]*);/g, '{R=$1;break exit;}')}\n}\n${wb}return R;`;
}
