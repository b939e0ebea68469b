import { strict as assert } from 'node:assert';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { Stop, SIGILL } from '../../src/vcpu/cpu.js';
import { Asm, boot, fop, fp, getRegU, memory, rv, setReg, DATA, R4 } from './asm.js';
import { describeEngines } from './engines.js';

// Reference vectors recorded under qemu-riscv64-static by
// fixtures/vcpu/gen/gen-fp.js: for each of 56 F/D operations, random and
// special operands (NaNs, infinities, zeros, subnormals, ties, unboxed
// singles, integers at conversion limits) in all five rounding modes (frm,
// dynamic rm), with the full 64-bit result register and the fflags raised.
// fp-ops.json: { ops: [{ name, kind, word }] } where word is the instruction
// (dest f0 or x3; sources f1, f2, f3 or x1). fp-vectors.bin: 36-byte records
// { u8 op, u8 rm, u8 fflags, u8 0, u64 a, u64 b, u64 c, u64 result }.
const FIX = path.join(__dirname, '..', '..', '..', 'fixtures', 'vcpu');

interface OpInfo { name: string; kind: string; word: number }

const fmvDX = (fd: number, rs: number) => fop(0x79, fd, rs, 0, 0);
const fmvXD = (rd: number, fs: number) => fop(0x71, rd, fs, 0, 0);

describeEngines('vcpu floating point', () => {
  it('matches QEMU on 7840 recorded F/D operations: result bits (NaN boxing, canonical NaN) and fflags', () => {
    const { ops } = JSON.parse(fs.readFileSync(path.join(FIX, 'fp-ops.json'), 'utf8')) as { ops: OpInfo[] };
    const bin = fs.readFileSync(path.join(FIX, 'fp-vectors.bin'));
    const failures: string[] = [];
    let count = 0;
    for (let off = 0; off + 36 <= bin.length; off += 36) {
      const op = bin.readUInt8(off), rm = bin.readUInt8(off + 1), flags = bin.readUInt8(off + 2);
      const a = bin.readBigUInt64LE(off + 4), b = bin.readBigUInt64LE(off + 12), c = bin.readBigUInt64LE(off + 20);
      const want = bin.readBigUInt64LE(off + 28);
      const o = ops[op];
      const cpu = runner(o);
      setReg(cpu, 1, a); setReg(cpu, 2, b); setReg(cpu, 4, c);
      cpu.state.fcsr = rm << 5;
      cpu.state.pc = 0x10000;
      const st = cpu.run(100);
      count++;
      if (st !== Stop.Syscall) { failures.push(`${o.name} rm=${rm} a=${a.toString(16)}: stop ${st}`); continue; }
      const got = o.kind[0] === 'X' ? getRegU(cpu, 3) : getRegU(cpu, 5);
      const gotFl = Number(getRegU(cpu, 6));
      if (got !== want || gotFl !== flags) {
        failures.push(`${o.name} rm=${rm} a=${a.toString(16)} b=${b.toString(16)} c=${c.toString(16)}: ` +
          `got ${got.toString(16)} fl=${gotFl.toString(2)}, want ${want.toString(16)} fl=${flags.toString(2)}`);
      }
    }
    assert.equal(count, 7840);
    assert.deepEqual(failures.slice(0, 25), [], `${failures.length} mismatches`);
  });

  it('a reserved static rounding mode is illegal, and so is a dynamic one when frm holds 5..7', () => {
    // fadd.d f0,f1,f2 with rm=5 (reserved)
    const cpu = boot(new Asm().w(fop(0x01, 0, 1, 2, 5), rv.ecall()));
    assert.equal(cpu.run(10), Stop.Fault);
    assert.equal(cpu.fault.signal, SIGILL);
    const cpu2 = boot(new Asm().w(fop(0x01, 0, 1, 2, 7), rv.ecall()));
    cpu2.state.fcsr = 5 << 5;
    assert.equal(cpu2.run(10), Stop.Fault);
    assert.equal(cpu2.fault.signal, SIGILL);
    cpu2.state.fcsr = 4 << 5;
    assert.equal(cpu2.run(10), Stop.Syscall);
  });

  it('static rounding modes of conversions to integer round as named (rtz, rdn, rup, rne, rmm)', () => {
    const vals = [2.5, -2.5, 3.5, -0.5, 1.7, -1.7];
    const want: Record<number, number[]> = {
      0: [2, -2, 4, 0, 2, -2], 1: [2, -2, 3, 0, 1, -1], 2: [2, -3, 3, -1, 1, -2], 3: [3, -2, 4, 0, 2, -1], 4: [3, -3, 4, -1, 2, -2],
    };
    for (let rm = 0; rm <= 4; rm++) {
      // fcvt.l.d x3, f1, rm
      const cpu = boot(new Asm().w(fmvDX(1, 1), fop(0x61, 3, 1, 2, rm), rv.ecall()));
      vals.forEach((v, i) => {
        cpu.state.pc = 0x10000;
        const f = new Float64Array([v]);
        setReg(cpu, 1, new BigInt64Array(f.buffer)[0]);
        assert.equal(cpu.run(10), Stop.Syscall);
        assert.equal(BigInt.asIntN(64, getRegU(cpu, 3)), BigInt(want[rm][i]), `rm ${rm} v ${v}`);
      });
    }
  });

  it('flw NaN-boxes, fsw stores the low 32 bits raw, fld/fsd move 64-bit patterns unchanged (even signaling NaNs)', () => {
    const cpu = boot(new Asm().w(fp.flw(1, 10, 0), fp.fld(2, 10, 8), fp.fsw(1, 10, 16), fp.fsd(2, 10, 24),
      fmvXD(3, 1), fmvXD(4, 2), rv.ecall()));
    const m = memory();
    m.view.setUint32(DATA, 0x7f800001, true);              // single sNaN
    m.view.setBigUint64(DATA + 8, 0x7ff0000000000001n, true); // double sNaN
    setReg(cpu, 10, BigInt(DATA));
    assert.equal(cpu.run(10), Stop.Syscall);
    assert.equal(getRegU(cpu, 3), 0xffffffff7f800001n);
    assert.equal(getRegU(cpu, 4), 0x7ff0000000000001n);
    assert.equal(m.view.getUint32(DATA + 16, true), 0x7f800001);
    assert.equal(m.view.getUint32(DATA + 20, true), 0);
    assert.equal(m.view.getBigUint64(DATA + 24, true), 0x7ff0000000000001n);
    assert.equal(cpu.state.fcsr, 0, 'moves raise no flags');
  });

  it('fused multiply-add rounds once (fmadd.d of 1+2^-52 squared minus its rounded square)', () => {
    const x = 1 + 2 ** -52, p = x * x;
    const cpu = boot(new Asm().w(fmvDX(1, 1), fmvDX(2, 2), fmvDX(3, 4), R4(3, 1, 2, 1, 0, 0, 0x43), fmvXD(5, 0), rv.ecall()));
    const bits = (v: number) => new BigInt64Array(new Float64Array([v]).buffer)[0];
    setReg(cpu, 1, bits(x)); setReg(cpu, 2, bits(x)); setReg(cpu, 4, bits(-p));
    assert.equal(cpu.run(10), Stop.Syscall);
    assert.equal(new Float64Array(new BigUint64Array([getRegU(cpu, 5)]).buffer)[0], 2 ** -104);
  });

  it('fmadd.d with a zero factor gives the exact sum, signed zeros as IEEE adds them, and no flags', () => {
    const bits = (v: number) => new BigInt64Array(new Float64Array([v]).buffer)[0];
    const cases: [number, number, number, bigint][] = [
      [0, 3, -0, 0n], [-0, 3, -0, 1n << 63n], [0, -3, -0, 1n << 63n], [5e-324, 0, 2.5, bits(2.5)], [0, 1e308, -Infinity, bits(-Infinity)],
    ];
    for (const [a, b, c, want] of cases) {
      const cpu = boot(new Asm().w(fmvDX(1, 1), fmvDX(2, 2), fmvDX(3, 4), R4(3, 1, 2, 1, 0, 0, 0x43), fmvXD(5, 0), rv.csrrs(6, 0x001, 0), rv.ecall()));
      setReg(cpu, 1, bits(a)); setReg(cpu, 2, bits(b)); setReg(cpu, 4, bits(c));
      assert.equal(cpu.run(10), Stop.Syscall);
      assert.equal(getRegU(cpu, 5), BigInt.asUintN(64, want), `${a} * ${b} + ${c}`);
      assert.equal(getRegU(cpu, 6), 0n, `${a} * ${b} + ${c}: no flags`);
    }
  });

  // Found by the random differential test (fixtures/random, seed 1 block 190):
  // both operands below the fast path's 2^995 bound, product past DBL_MAX.
  it('fmul.d overflowing from moderate operands gives inf with OF|NX (rne), DBL_MAX with OF|NX (rtz)', () => {
    const a = 0x454d957c07835591n, b = 0x7b543100f7339de1n; // 7.15e25 * 1.20e286
    for (const [rm, want] of [[0, 0x7ff0000000000000n], [1, 0x7fefffffffffffffn]] as const) {
      // fmul.d f0, f1, f2, rm
      const cpu = boot(new Asm().w(fmvDX(1, 1), fmvDX(2, 2), fop(0x09, 0, 1, 2, rm), fmvXD(5, 0), rv.csrrs(6, 0x001, 0), rv.ecall()));
      setReg(cpu, 1, a); setReg(cpu, 2, b);
      assert.equal(cpu.run(10), Stop.Syscall);
      assert.equal(getRegU(cpu, 5), want, `rm ${rm}`);
      assert.equal(getRegU(cpu, 6), 5n, `rm ${rm}: fflags OF|NX`);
    }
  });
});

const runners = new Map<string, ReturnType<typeof boot>>();
let mappedFor = '';
/** A Cpu whose code is the op's test program (re-mapped when the op changes). */
function runner(o: OpInfo): ReturnType<typeof boot> {
  if (mappedFor === o.name) return runners.get(o.name)!;
  const asm = new Asm().w(fmvDX(1, 1), fmvDX(2, 2), fmvDX(3, 4), o.word, fmvXD(5, 0), rv.csrrs(6, 0x001, 0), rv.ecall());
  const cpu = boot(asm);
  runners.set(o.name, cpu);
  mappedFor = o.name;
  return cpu;
}
