// Test helper: runs a classic BPF program (the instructions src/host/bpf.ts
// emits) on seccomp_data as the kernel would, to check a filter's verdicts
// without installing it.

export interface SeccompData {
  nr: number;
  arch: number;
  args?: bigint[];
}

/** Runs an assembled program on seccomp_data the way the kernel does (only the opcodes bpf.ts emits). */
export function runBpf(prog: Buffer, d: SeccompData): number {
  const data = Buffer.alloc(64);
  data.writeInt32LE(d.nr, 0);
  data.writeUInt32LE(d.arch, 4);
  (d.args ?? []).forEach((a, i) => data.writeBigUInt64LE(BigInt.asUintN(64, a), 16 + 8 * i));
  let a = 0;
  for (let pc = 0; pc < prog.length / 8; pc++) {
    const code = prog.readUInt16LE(pc * 8);
    const jt = prog.readUInt8(pc * 8 + 2);
    const jf = prog.readUInt8(pc * 8 + 3);
    const k = prog.readUInt32LE(pc * 8 + 4);
    switch (code) {
      case 0x20: // ld w abs
        a = data.readUInt32LE(k);
        break;
      case 0x54: // and k
        a = (a & k) >>> 0;
        break;
      case 0x15: // jeq
        pc += a === k ? jt : jf;
        break;
      case 0x35: // jge
        pc += a >= k ? jt : jf;
        break;
      case 0x45: // jset
        pc += (a & k) !== 0 ? jt : jf;
        break;
      case 0x05: // ja
        pc += k;
        break;
      case 0x06: // ret
        return k;
      default:
        throw new Error(`unknown opcode ${code.toString(16)} at ${pc}`);
    }
  }
  throw new Error('ran off the end of the program');
}

