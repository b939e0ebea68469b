// Test-side stand-in for the kernel: loads a static riscv64 ELF into a
// GuestMemory, builds Linux's initial stack, and answers the handful of
// system calls a static glibc program makes on its way to printf and exit.
// Only for exercising the vCPU on real compiled code; the real kernel lives
// in src/kernel.

import * as fs from 'node:fs';
import { Cpu, Stop } from '../../src/vcpu/cpu.js';
import { GuestMemory, PAGE_R, PAGE_W, PAGE_X, PAGE_SIZE } from '../../src/vcpu/memory.js';

export interface RunResult {
  exit: number | null;
  signal: number | null;
  stdout: string;
  stderr: string;
  instret: number;
  seconds: number;
  unknownSyscalls: number[];
  blocks: number;
}

const STACK_TOP = 0xc0000000;
const STACK_SIZE = 1 << 20;
const MMAP_BASE = 0x80000000;

function protFlags(prot: number): number {
  return (prot & 1 ? PAGE_R : 0) | (prot & 2 ? PAGE_W : 0) | (prot & 4 ? PAGE_X : 0);
}

function mapRange(m: GuestMemory, addr: number, len: number, flags: number): void {
  for (let p = Math.floor(addr / PAGE_SIZE); p < Math.ceil((addr + len) / PAGE_SIZE); p++) m.pageFlags[p] = flags;
}

/** Load and run `file` with argv/envp until it exits or faults (or maxInsns pass). */
/** `mt`: run as a thread whose address space other vCPUs share (Cpu.mt: aligned accesses made single-copy atomic). */
export function runElf(m: GuestMemory, file: string, argv: string[], envp: string[], maxInsns = 5e9, mt = false): RunResult {
  const img = fs.readFileSync(file);
  m.pageFlags.fill(0);
  const dv = new DataView(img.buffer, img.byteOffset, img.byteLength);
  const entry = Number(dv.getBigUint64(24, true));
  const phoff = Number(dv.getBigUint64(32, true));
  const phnum = dv.getUint16(56, true);
  let brk = 0, phdrAddr = 0;
  for (let i = 0; i < phnum; i++) {
    const o = phoff + i * 56;
    const type = dv.getUint32(o, true), flags = dv.getUint32(o + 4, true);
    const off = Number(dv.getBigUint64(o + 8, true)), va = Number(dv.getBigUint64(o + 16, true));
    const filesz = Number(dv.getBigUint64(o + 32, true)), memsz = Number(dv.getBigUint64(o + 40, true));
    if (type !== 1) continue;
    const start = va - (va % PAGE_SIZE), end = Math.ceil((va + memsz) / PAGE_SIZE) * PAGE_SIZE;
    m.u8.fill(0, start, end);
    m.u8.set(img.subarray(off, off + filesz), va);
    mapRange(m, start, end - start, (flags & 4 ? PAGE_R : 0) | (flags & 2 ? PAGE_W : 0) | (flags & 1 ? PAGE_X : 0));
    if (off === 0) phdrAddr = va + phoff;
    brk = Math.max(brk, end);
  }
  // Stack.
  m.u8.fill(0, STACK_TOP - STACK_SIZE, STACK_TOP);
  mapRange(m, STACK_TOP - STACK_SIZE, STACK_SIZE, PAGE_R | PAGE_W);
  let sp = STACK_TOP;
  const putStr = (s: string) => { const b = Buffer.from(s + '\0'); sp -= b.length; m.u8.set(b, sp); return sp; };
  const execfn = putStr(argv[0]);
  const argvA = argv.map(putStr), envA = envp.map(putStr);
  sp -= 16; const random = sp; for (let i = 0; i < 16; i++) m.u8[sp + i] = (i * 37 + 11) & 0xff;
  sp -= sp % 16;
  const auxv: [number, number][] = [[3, phdrAddr], [4, 56], [5, phnum], [6, PAGE_SIZE], [7, 0], [8, 0], [9, entry],
    [11, 0], [12, 0], [13, 0], [14, 0], [16, 0x112d], [17, 100], [23, 0], [25, random], [31, execfn], [0, 0]];
  const words = [argv.length, ...argvA, 0, ...envA, 0, ...auxv.flat()];
  sp -= words.length * 8; sp -= sp % 16;
  words.forEach((w, i) => m.view.setBigUint64(sp + 8 * i, BigInt(w), true));

  const cpu = new Cpu(m);
  cpu.mt = mt;
  const s = cpu.state;
  s.pc = entry;
  s.setS(2, sp);
  let mmapNext = MMAP_BASE;
  const out: Buffer[] = [], err: Buffer[] = [];
  const unknown = new Set<number>();
  const res: RunResult = { exit: null, signal: null, stdout: '', stderr: '', instret: 0, seconds: 0, unknownSyscalls: [], blocks: 0 };
  const t0 = process.hrtime.bigint();
  const write = (fd: number, addr: number, n: number) => {
    const b = Buffer.from(m.u8.slice(addr, addr + n));
    if (fd === 1) out.push(b); else if (fd === 2) err.push(b); else return -9;
    return n;
  };
  loop: while (cpu.instret < maxInsns) {
    const stop = cpu.run(10_000_000);
    switch (stop) {
      case Stop.Budget: case Stop.Interrupted: continue;
      case Stop.Fault: res.signal = cpu.fault.signal; break loop;
      case Stop.Syscall: break;
    }
    const nr = s.getS(17);
    const a = [10, 11, 12, 13, 14, 15].map((r) => s.getS(r));
    let r = 0;
    switch (nr) {
      case 64: r = write(a[0], a[1], a[2]); break;
      case 66: {
        r = 0;
        for (let i = 0; i < a[2]; i++) {
          const base = m.view.getUint32(a[1] + 16 * i, true), len = m.view.getUint32(a[1] + 16 * i + 8, true);
          r += write(a[0], base, len);
        }
        break;
      }
      case 93: case 94: res.exit = a[0] & 0xff; break loop;
      case 214: {
        if (a[0] > brk) {
          const end = Math.ceil(a[0] / PAGE_SIZE) * PAGE_SIZE;
          mapRange(m, brk, end - brk, PAGE_R | PAGE_W);
          m.u8.fill(0, brk, end);
          brk = end;
          r = a[0];
        } else r = brk;
        break;
      }
      case 222: {
        const len = Math.ceil(a[1] / PAGE_SIZE) * PAGE_SIZE;
        r = mmapNext; mmapNext += len;
        m.u8.fill(0, r, r + len);
        mapRange(m, r, len, protFlags(a[2]));
        break;
      }
      case 215: mapRange(m, a[0], a[1], 0); cpu.invalidateCode(a[0], a[1]); break;
      case 226: mapRange(m, a[0], a[1], protFlags(a[2])); cpu.invalidateCode(a[0], a[1]); break;
      case 96: r = 1; break;
      case 99: case 134: case 135: case 57: break;
      case 172: case 178: r = 1; break;
      case 174: case 175: case 176: case 177: r = 0; break;
      case 29: r = -25; break;
      case 80: m.u8.fill(0, a[1], a[1] + 128); m.view.setUint32(a[1] + 16, 0o10000 | 0o600, true); break;
      case 113: {
        const ns = process.hrtime.bigint();
        m.view.setBigInt64(a[1], ns / 1000000000n, true); m.view.setBigInt64(a[1] + 8, ns % 1000000000n, true);
        break;
      }
      case 160: {
        m.u8.fill(0, a[0], a[0] + 65 * 6);
        ['Linux', 'tsvisor', '6.1.0', '#1', 'riscv64', ''].forEach((f, i) => m.u8.set(Buffer.from(f), a[0] + 65 * i));
        break;
      }
      // sysinfo: 4 GiB of RAM, as a sandbox reports. glibc's qsort asks (sysconf(_SC_PHYS_PAGES)) and,
      // without an answer, reads an uninitialised struct and takes its in-place quicksort: not the merge
      // sort a real run takes, so vCPU-alone figures of compute would measure other code (src/vcpu/README.md).
      case 179: m.u8.fill(0, a[0], a[0] + 112); m.view.setBigUint64(a[0] + 32, 1n << 32n, true); m.view.setBigUint64(a[0] + 40, 1n << 31n, true); m.view.setUint32(a[0] + 104, 1, true); break;
      case 278: for (let i = 0; i < a[1]; i++) m.u8[a[0] + i] = (i * 131 + 7) & 0xff; r = a[1]; break;
      case 131: case 129: res.signal = a[1] || a[0]; break loop;
      default: unknown.add(nr); r = -38; break;
    }
    s.setS(10, r);
  }
  res.seconds = Number(process.hrtime.bigint() - t0) / 1e9;
  res.stdout = Buffer.concat(out).toString('latin1');
  res.stderr = Buffer.concat(err).toString('latin1');
  res.instret = cpu.instret;
  res.unknownSyscalls = [...unknown];
  res.blocks = cpu.compiled;
  return res;
}
