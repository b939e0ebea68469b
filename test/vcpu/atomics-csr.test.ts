import { strict as assert } from 'node:assert';
import * as path from 'node:path';
import { Worker } from 'node:worker_threads';
import { Stop, SIGBUS, BUS_ADRALN, SIGILL, SIGSEGV, SEGV_ACCERR } from '../../src/vcpu/cpu.js';
import { PAGE_R, PAGE_SIZE } from '../../src/vcpu/memory.js';
import { amo, Asm, boot, getReg, rv, setReg, CODE, DATA, memory } from './asm.js';
import { describeEngines } from './engines.js';

const s64 = (v: bigint) => BigInt.asIntN(64, v);
const u64 = (v: bigint) => BigInt.asUintN(64, v);
const sw = (v: bigint) => BigInt.asIntN(64, BigInt.asIntN(32, v));

const AMO_REF: Record<string, (m: bigint, v: bigint, w: boolean) => bigint> = {
  amoswap: (_m, v) => v,
  amoadd: (m, v) => m + v,
  amoxor: (m, v) => m ^ v,
  amoand: (m, v) => m & v,
  amoor: (m, v) => m | v,
  amomin: (m, v, w) => (w ? (sw(m) < sw(v) ? m : v) : (s64(m) < s64(v) ? m : v)),
  amomax: (m, v, w) => (w ? (sw(m) > sw(v) ? m : v) : (s64(m) > s64(v) ? m : v)),
  amominu: (m, v, w) => (w ? (BigInt.asUintN(32, m) < BigInt.asUintN(32, v) ? m : v) : (u64(m) < u64(v) ? m : v)),
  amomaxu: (m, v, w) => (w ? (BigInt.asUintN(32, m) > BigInt.asUintN(32, v) ? m : v) : (u64(m) > u64(v) ? m : v)),
};

describeEngines('vcpu atomics', () => {
  const vals = [0n, 1n, -1n, 5n, -5n, 0x7fffffffn, -0x80000000n, 0x123456789n, -(1n << 63n), (1n << 63n) - 1n, 0xffffffffn];
  for (const [name, ref] of Object.entries(AMO_REF)) {
    for (const d of [false, true]) {
      it(`${name}.${d ? 'd' : 'w'} returns the old value (sign-extended) and stores the combination`, () => {
        const cpu = boot(new Asm().w(amo(name, d, 3, 1, 2), rv.ecall()));
        const m = memory();
        for (const a of vals) for (const b of vals) {
          if (d) m.view.setBigInt64(DATA + 8, a, true); else m.view.setInt32(DATA + 8, Number(BigInt.asIntN(32, a)), true);
          m.view.setInt32(DATA + 12, 0x5a5a5a5a, true) ;
          if (d) m.view.setBigInt64(DATA + 8, a, true);
          setReg(cpu, 1, BigInt(DATA + 8)); setReg(cpu, 2, b); cpu.state.pc = CODE;
          assert.equal(cpu.run(10), Stop.Syscall);
          if (d) {
            assert.equal(getReg(cpu, 3), a);
            assert.equal(m.view.getBigInt64(DATA + 8, true), s64(ref(a, b, false)), `${name}.d ${a} ${b}`);
          } else {
            assert.equal(getReg(cpu, 3), sw(a));
            assert.equal(m.view.getInt32(DATA + 8, true), Number(BigInt.asIntN(32, ref(a, b, true))), `${name}.w ${a} ${b}`);
            assert.equal(m.view.getInt32(DATA + 12, true), 0x5a5a5a5a, 'the next word is untouched');
          }
        }
      });
    }
  }

  for (const d of [false, true]) {
    it(`lr/sc.${d ? 'd' : 'w'}: sc succeeds after lr (rd 0) and fails without a reservation or after a change (rd 1)`, () => {
      // lr x3,(x1); sc x4,x2,(x1); sc x5,x2,(x1) (reservation gone); ecall
      const cpu = boot(new Asm().w(amo('lr', d, 3, 1, 0), amo('sc', d, 4, 1, 2), amo('sc', d, 5, 1, 6), rv.ecall()));
      const m = memory();
      m.view.setBigInt64(DATA, -2n, true);
      setReg(cpu, 1, BigInt(DATA)); setReg(cpu, 2, 77n); setReg(cpu, 6, 88n);
      assert.equal(cpu.run(10), Stop.Syscall);
      assert.equal(getReg(cpu, 3), -2n);
      assert.equal(getReg(cpu, 4), 0n);
      assert.equal(getReg(cpu, 5), 1n);
      assert.equal(d ? m.view.getBigInt64(DATA, true) : BigInt(m.view.getInt32(DATA, true)), 77n);
      // A store by someone else between lr and sc makes sc fail.
      const cpu2 = boot(new Asm().w(amo('lr', d, 3, 1, 0), rv.ecall(), amo('sc', d, 4, 1, 2), rv.ecall()));
      m.view.setBigInt64(DATA, 10n, true);
      setReg(cpu2, 1, BigInt(DATA)); setReg(cpu2, 2, 11n);
      assert.equal(cpu2.run(10), Stop.Syscall);
      m.view.setBigInt64(DATA, 12n, true);
      assert.equal(cpu2.run(10), Stop.Syscall);
      assert.equal(getReg(cpu2, 4), 1n);
      assert.equal(m.view.getBigInt64(DATA, true), 12n);
    });
  }

  // The reservation is (address, size, value loaded); SC is a compare-and-
  // swap against that value (src/vcpu/cpu.ts amo()), so a store by any other
  // vCPU that changes the word breaks it with no bookkeeping on stores, and a
  // store of the same value does not (as in QEMU's user mode).
  for (const [what, newValue, scResult, final] of [
    ['a different value makes sc fail', 11n, 1n, 11n],
    ['the same value leaves it intact, as in QEMU', 10n, 0n, 99n],
  ] as const) {
    it(`another vCPU (a worker thread) storing ${what}`, async function () {
      this.timeout(30_000);
      // vCPU A at CODE: lr.w x3,(x1); sw x6,64(x1) (tell B); 1: lw x7,128(x1); beq x7,x0,1b; sc.w x4,x2,(x1); ecall
      // vCPU B at CODE+4096: 1: lw x7,64(x1); beq x7,x0,1b; sw x8,0(x1); sw x6,128(x1) (tell A); ecall
      const asm = new Asm().w(amo('lr', false, 3, 1, 0), rv.sw(6, 1, 64), rv.lw(7, 1, 128), rv.beq(7, 0, -4),
        amo('sc', false, 4, 1, 2), rv.ecall());
      while (asm.here < PAGE_SIZE) asm.w(0);
      asm.w(rv.lw(7, 1, 64), rv.beq(7, 0, -4), rv.sw(8, 1, 0), rv.sw(6, 1, 128), rv.ecall());
      const cpu = boot(asm);
      const m = memory();
      m.view.setBigInt64(DATA, 10n, true);
      m.view.setInt32(DATA + 64, 0, true);
      m.view.setInt32(DATA + 128, 0, true);
      setReg(cpu, 1, BigInt(DATA)); setReg(cpu, 2, 99n); setReg(cpu, 6, 1n);
      const dist = path.join(__dirname, '..', '..', 'src', 'vcpu');
      const worker = new Worker(`
        const { workerData, parentPort } = require('node:worker_threads');
        const { Cpu } = require(workerData.dist + '/cpu.js');
        const { GuestMemory } = require(workerData.dist + '/memory.js');
        const cpu = new Cpu(GuestMemory.attach(workerData.shared));
        cpu.state.pc = workerData.pc;
        cpu.state.setS(1, workerData.data); cpu.state.setS(6, 1); cpu.state.setS(8, workerData.value);
        parentPort.postMessage(cpu.run(2e9));
      `, { eval: true, workerData: { dist, shared: m.share(), pc: CODE + PAGE_SIZE, data: DATA, value: Number(newValue) } });
      const done = new Promise((resolve, reject) => { worker.on('message', resolve); worker.on('error', reject); });
      assert.equal(cpu.run(2e9), Stop.Syscall);
      assert.equal(await done, Stop.Syscall);
      await worker.terminate();
      assert.equal(getReg(cpu, 3), 10n, 'lr loaded the old value');
      assert.equal(getReg(cpu, 4), scResult);
      assert.equal(BigInt(m.view.getInt32(DATA, true)), final);
    });
  }

  it('misaligned LR and AMOs raise SIGBUS/BUS_ADRALN with the address', () => {
    for (const [enc, off] of [[amo('amoadd', false, 3, 1, 2), 2], [amo('amoadd', true, 3, 1, 2), 4], [amo('lr', true, 3, 1, 0), 1], [amo('lr', false, 3, 1, 0), 2]] as const) {
      const cpu = boot(new Asm().w(enc, rv.ecall()));
      setReg(cpu, 1, BigInt(DATA + off));
      assert.equal(cpu.run(10), Stop.Fault);
      assert.equal(cpu.fault.signal, SIGBUS);
      assert.equal(cpu.fault.code, BUS_ADRALN);
      assert.equal(cpu.fault.addr, DATA + off);
      assert.equal(cpu.state.pc, CODE);
    }
  });

  // As QEMU (fixtures/src/traps.c, case traps-align): an SC without a
  // matching reservation fails before any alignment or permission check.
  it('an SC that cannot succeed (misaligned, unmapped, no reservation) writes 1 and raises nothing', () => {
    for (const [d, addr] of [[false, DATA + 1], [true, DATA + 4], [true, 8], [false, 2 ** 32 - 4]] as const) {
      // sc x3, x2, (x1); ecall
      const cpu = boot(new Asm().w(amo('sc', d, 3, 1, 2), rv.ecall()));
      memory().view.setBigInt64(DATA, 5n, true);
      setReg(cpu, 1, BigInt(addr)); setReg(cpu, 2, 9n); setReg(cpu, 3, 77n);
      assert.equal(cpu.run(10), Stop.Syscall, `sc.${d ? 'd' : 'w'} at ${addr}`);
      assert.equal(getReg(cpu, 3), 1n);
      assert.equal(memory().view.getBigInt64(DATA, true), 5n);
    }
  });

  it('an AMO on a read-only page is SIGSEGV/SEGV_ACCERR', () => {
    const cpu = boot(new Asm().w(amo('amoswap', false, 3, 1, 2), rv.ecall()));
    memory().pageFlags[DATA / PAGE_SIZE] = PAGE_R;
    setReg(cpu, 1, BigInt(DATA));
    assert.equal(cpu.run(10), Stop.Fault);
    assert.equal(cpu.fault.signal, SIGSEGV);
    assert.equal(cpu.fault.code, SEGV_ACCERR);
  });
});

describeEngines('vcpu CSRs', () => {
  it('fflags, frm and fcsr read and write their fields of fcsr', () => {
    const cpu = boot(new Asm().w(
      rv.csrrwi(3, 0x002, 3),     // frm = RUP, x3 = old frm
      rv.csrrsi(4, 0x001, 0x5),   // fflags |= NV? no: 0b00101, x4 = old fflags
      rv.csrrs(5, 0x003, 0),      // x5 = fcsr
      rv.csrrci(6, 0x001, 1),     // clear NX
      rv.csrrw(7, 0x003, 1),      // fcsr = x1 (masked to 8 bits)
      rv.csrrs(8, 0x002, 0), rv.csrrs(9, 0x001, 0),
      rv.ecall()));
    cpu.state.fcsr = (1 << 5) | 0x10;
    setReg(cpu, 1, 0x1234n);
    assert.equal(cpu.run(20), Stop.Syscall);
    assert.equal(getReg(cpu, 3), 1n);
    assert.equal(getReg(cpu, 4), 0x10n);
    assert.equal(getReg(cpu, 5), BigInt((3 << 5) | 0x15));
    assert.equal(getReg(cpu, 6), 0x15n);
    assert.equal(getReg(cpu, 7), BigInt((3 << 5) | 0x14));
    assert.equal(getReg(cpu, 8), BigInt((0x34 >> 5) & 7));
    assert.equal(getReg(cpu, 9), BigInt(0x34 & 0x1f));
    assert.equal(cpu.state.fcsr, 0x34);
  });

  it('instret counts retired instructions exactly; cycle tracks it; time ticks at 10 MHz', async () => {
    const cpu = boot(new Asm().w(rv.addi(1, 0, 1), rv.addi(1, 0, 2), rv.csrrs(3, 0xc02, 0), rv.csrrs(4, 0xc00, 0),
      rv.csrrs(5, 0xc01, 0), rv.ecall(), rv.csrrs(6, 0xc01, 0), rv.ecall()));
    assert.equal(cpu.run(20), Stop.Syscall);
    assert.equal(getReg(cpu, 3), 2n);
    assert.equal(getReg(cpu, 4), 3n);
    await new Promise((r) => setTimeout(r, 20));
    assert.equal(cpu.run(20), Stop.Syscall);
    const ticks = Number(getReg(cpu, 6) - getReg(cpu, 5));
    assert.ok(ticks > 150_000 && ticks < 5_000_000, `ticks in 20 ms: ${ticks}`);
  });

  it('unknown CSRs and writes to read-only counters are SIGILL at the pc', () => {
    for (const w of [rv.csrrs(3, 0x300, 0), rv.csrrw(3, 0xc00, 1), rv.csrrsi(0, 0xc02, 1), rv.csrrs(3, 0xc80, 0), rv.csrrw(0, 0x7c0, 0)]) {
      const cpu = boot(new Asm().w(rv.addi(1, 0, 1), w, rv.ecall()));
      assert.equal(cpu.run(20), Stop.Fault);
      assert.equal(cpu.fault.signal, SIGILL);
      assert.equal(cpu.fault.addr, CODE + 4);
      assert.equal(cpu.state.pc, CODE + 4);
    }
    // Reading a counter with csrrs x0-source is fine.
    const cpu = boot(new Asm().w(rv.csrrs(3, 0xc00, 0), rv.csrrci(4, 0xc01, 0), rv.ecall()));
    assert.equal(cpu.run(20), Stop.Syscall);
  });
});
