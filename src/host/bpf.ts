// A small assembler for classic BPF, the language of seccomp filters
// (linux/filter.h, linux/bpf_common.h). A program is a list of instructions
// with symbolic labels; `assemble` resolves every jump to its label and
// encodes the result as the kernel reads it: one 8-byte `struct sock_filter`
// (u16 code, u8 jt, u8 jf, u32 k, little-endian on every host we run on)
// per instruction.
//
// Only what a seccomp filter needs is here: loads of a 32-bit word of the
// input (seccomp_data), compares against constants, bit tests, and returns.
// Conditional jumps only go forward, and by at most 255 instructions (the
// u8 offsets); `assemble` throws for a jump that goes backwards, too far, or
// to a label that is missing, so a bad program fails when it is built, never
// in the kernel.

// Opcode parts (linux/bpf_common.h).
const BPF_LD = 0x00;
const BPF_ALU = 0x04;
const BPF_JMP = 0x05;
const BPF_RET = 0x06;
const BPF_W = 0x00;
const BPF_ABS = 0x20;
const BPF_AND = 0x50;
const BPF_JA = 0x00;
const BPF_JEQ = 0x10;
const BPF_JGE = 0x30;
const BPF_JSET = 0x40;
const BPF_K = 0x00;

/** The most instructions the kernel takes in one filter (BPF_MAXINSNS). */
export const BPF_MAXINSNS = 4096;

/** Where a jump goes: the next instruction, or a label. */
export type Target = { next: true } | { label: string };
export const NEXT: Target = { next: true };
export const to = (label: string): Target => ({ label });

type Insn =
  | { op: 'ld'; offset: number }
  | { op: 'and'; k: number }
  | { op: 'jeq' | 'jge' | 'jset'; k: number; jt: Target; jf: Target }
  | { op: 'ja'; target: string }
  | { op: 'ret'; k: number }
  | { op: 'label'; name: string };

/** A program being written: call the instruction methods in order, then `assemble`. */
export class BpfProgram {
  private readonly insns: Insn[] = [];
  /** The labels defined so far (a set: boot assembles its ~500-instruction filter before its sync byte, where a scan per label cost ~1-2 ms). */
  private readonly labels = new Set<string>();

  /** A = the 32-bit word at byte `offset` of the input. */
  load(offset: number): this {
    return this.push({ op: 'ld', offset });
  }

  /** A &= k */
  and(k: number): this {
    return this.push({ op: 'and', k });
  }

  /** Jump to jt when A == k, else to jf. */
  jeq(k: number, jt: Target, jf: Target = NEXT): this {
    return this.push({ op: 'jeq', k, jt, jf });
  }

  /** Jump to jt when A >= k (unsigned), else to jf. */
  jge(k: number, jt: Target, jf: Target = NEXT): this {
    return this.push({ op: 'jge', k, jt, jf });
  }

  /** Jump to jt when A & k is not zero, else to jf. */
  jset(k: number, jt: Target, jf: Target = NEXT): this {
    return this.push({ op: 'jset', k, jt, jf });
  }

  /** Jump unconditionally (a 32-bit offset: no distance limit). */
  jump(label: string): this {
    return this.push({ op: 'ja', target: label });
  }

  /** Return k: the filter's verdict (a SECCOMP_RET_* value). */
  ret(k: number): this {
    return this.push({ op: 'ret', k });
  }

  /** Names the position of the next instruction. */
  label(name: string): this {
    if (this.labels.has(name)) throw new Error(`bpf: label ${name} defined twice`);
    this.labels.add(name);
    return this.push({ op: 'label', name });
  }

  private push(i: Insn): this {
    this.insns.push(i);
    return this;
  }

  /** Encodes the program: 8 bytes per instruction. */
  assemble(): Buffer {
    // Instruction index of every label.
    const at = new Map<string, number>();
    let n = 0;
    for (const i of this.insns) {
      if (i.op === 'label') at.set(i.name, n);
      else n++;
    }
    if (n === 0) throw new Error('bpf: empty program');
    if (n > BPF_MAXINSNS) throw new Error(`bpf: ${n} instructions, more than the kernel's ${BPF_MAXINSNS}`);
    const out = Buffer.alloc(n * 8);
    let pc = 0;
    const offsetOf = (t: Target | string, max: number): number => {
      if (typeof t !== 'string' && 'next' in t) return 0;
      const name = typeof t === 'string' ? t : t.label;
      const dest = at.get(name);
      if (dest === undefined) throw new Error(`bpf: jump to undefined label ${name}`);
      const off = dest - (pc + 1);
      if (off < 0) throw new Error(`bpf: backward jump to ${name} (instruction ${pc})`);
      if (off > max) throw new Error(`bpf: jump to ${name} is ${off} instructions away, more than ${max} (instruction ${pc})`);
      return off;
    };
    for (const i of this.insns) {
      if (i.op === 'label') continue;
      let code: number;
      let jt = 0;
      let jf = 0;
      let k = 0;
      switch (i.op) {
        case 'ld':
          code = BPF_LD | BPF_W | BPF_ABS;
          k = i.offset;
          break;
        case 'and':
          code = BPF_ALU | BPF_AND | BPF_K;
          k = i.k;
          break;
        case 'jeq':
        case 'jge':
        case 'jset':
          code = BPF_JMP | (i.op === 'jeq' ? BPF_JEQ : i.op === 'jge' ? BPF_JGE : BPF_JSET) | BPF_K;
          k = i.k;
          jt = offsetOf(i.jt, 255);
          jf = offsetOf(i.jf, 255);
          break;
        case 'ja':
          code = BPF_JMP | BPF_JA;
          k = offsetOf(i.target, 0xffffffff);
          break;
        case 'ret':
          code = BPF_RET | BPF_K;
          k = i.k;
          break;
      }
      const o = pc * 8;
      out.writeUInt16LE(code, o);
      out.writeUInt8(jt, o + 2);
      out.writeUInt8(jf, o + 3);
      out.writeUInt32LE(k >>> 0, o + 4);
      pc++;
    }
    return out;
  }
}
