// ELF64 executables for RISC-V: parsing (every field checked: the file is
// untrusted input) and loading into an address space.

import { EINVAL, ENOEXEC, Errno, isErrno } from '../../linux/errno.js';
import { PROT_EXEC, PROT_READ, PROT_WRITE } from '../../linux/abi.js';
import { MemoryManager, pageAlignDown, pageAlignUp } from '../mm.js';
import type { UserMemory } from '../usercopy.js';
import { ENGINE_BASE, GUEST_VA_LIMIT, PAGE_SIZE } from '../../vcpu/memory.js';

export const ET_EXEC = 2;
export const ET_DYN = 3;
export const EM_RISCV = 243;
export const PT_LOAD = 1;
export const PT_INTERP = 3;
export const PT_PHDR = 6;
export const PT_GNU_STACK = 0x6474e551;
export const PF_X = 1;
export const PF_W = 2;
export const PF_R = 4;
const EHDR_SIZE = 64;
const PHDR_SIZE = 56;
const MAX_PHNUM = 512;

export interface ProgramHeader {
  type: number;
  flags: number;
  offset: number;
  vaddr: number;
  filesz: number;
  memsz: number;
}

export interface ElfImage {
  type: number;
  entry: number;
  phoff: number;
  phnum: number;
  phdrs: ProgramHeader[];
  interp?: string;
}

/** Why a file is not a loadable riscv64 executable, or its parsed headers. */
export function parseElf(file: Uint8Array): ElfImage | { error: string } {
  if (file.length < EHDR_SIZE) return { error: 'file too short for an ELF header' };
  if (file[0] !== 0x7f || file[1] !== 0x45 || file[2] !== 0x4c || file[3] !== 0x46) return { error: 'not an ELF file' };
  if (file[4] !== 2) return { error: 'not a 64-bit ELF file' };
  if (file[5] !== 1) return { error: 'not a little-endian ELF file' };
  const dv = new DataView(file.buffer, file.byteOffset, file.byteLength);
  const u64 = (off: number) => dv.getUint32(off + 4, true) * 0x100000000 + dv.getUint32(off, true);
  const type = dv.getUint16(16, true);
  if (type !== ET_EXEC && type !== ET_DYN) return { error: `ELF type ${type} is not an executable` };
  const machine = dv.getUint16(18, true);
  if (machine !== EM_RISCV) return { error: `ELF machine ${machine} is not RISC-V` };
  const entry = u64(24);
  const phoff = u64(32);
  const phentsize = dv.getUint16(54, true);
  const phnum = dv.getUint16(56, true);
  if (phentsize !== PHDR_SIZE) return { error: `bad program header size ${phentsize}` };
  if (phnum === 0 || phnum > MAX_PHNUM) return { error: `bad program header count ${phnum}` };
  if (phoff + phnum * PHDR_SIZE > file.length) return { error: 'program headers lie outside the file' };
  const phdrs: ProgramHeader[] = [];
  let interp: string | undefined;
  for (let i = 0; i < phnum; i++) {
    const o = phoff + i * PHDR_SIZE;
    const ph: ProgramHeader = {
      type: dv.getUint32(o, true),
      flags: dv.getUint32(o + 4, true),
      offset: u64(o + 8),
      vaddr: u64(o + 16),
      filesz: u64(o + 32),
      memsz: u64(o + 40),
    };
    if (ph.type === PT_LOAD) {
      if (ph.filesz > ph.memsz) return { error: `segment ${i}: file size exceeds memory size` };
      if (ph.offset + ph.filesz > file.length) return { error: `segment ${i} lies outside the file` };
      if (ph.vaddr + ph.memsz > ENGINE_BASE) return { error: `segment ${i} lies outside the guest's private address space (below 0x${ENGINE_BASE.toString(16)})` };
      if ((ph.vaddr - ph.offset) % PAGE_SIZE !== 0) return { error: `segment ${i}: address and offset disagree modulo the page size` };
      phdrs.push(ph);
    } else if (ph.type === PT_INTERP) {
      if (ph.offset + ph.filesz > file.length || ph.filesz < 2 || ph.filesz > 4096) return { error: 'bad PT_INTERP' };
      const raw = file.subarray(ph.offset, ph.offset + ph.filesz);
      const nul = raw.indexOf(0);
      interp = Buffer.from(raw.subarray(0, nul < 0 ? raw.length : nul)).toString('utf8');
      phdrs.push(ph);
    } else {
      phdrs.push(ph);
    }
  }
  if (!phdrs.some((p) => p.type === PT_LOAD)) return { error: 'no loadable segment' };
  return { type, entry, phoff, phnum, phdrs, interp };
}

export interface LoadedImage {
  /** Added to every p_vaddr (0 for ET_EXEC). */
  bias: number;
  entry: number;
  /** Guest address of the program headers (AT_PHDR). */
  phdrAddr: number;
  phnum: number;
  /** First byte past the highest segment. */
  end: number;
}

/**
 * Map the PT_LOAD segments of `image` (whose bytes are `file`) into `mm`.
 * ET_DYN images go at `dynBase`, or anywhere free when it is undefined.
 */
export function loadElf(file: Uint8Array, image: ElfImage, mm: MemoryManager, user: UserMemory, dynBase?: number): LoadedImage | Errno {
  const loads = image.phdrs.filter((p) => p.type === PT_LOAD);
  const lo = pageAlignDown(Math.min(...loads.map((p) => p.vaddr)));
  const hi = pageAlignUp(Math.max(...loads.map((p) => p.vaddr + p.memsz)));
  let bias = 0;
  if (image.type === ET_DYN) {
    if (dynBase !== undefined) bias = dynBase - lo;
    else {
      const at = mm.mapAnywhere(hi - lo, PROT_READ, '');
      if (isErrno(at)) return at;
      mm.unmap(at, hi - lo);
      bias = at - lo;
    }
  } else if (lo < PAGE_SIZE) {
    return ENOEXEC;
  }
  // An entry point outside the guest's address space (e_entry is any 64-bit value, beyond a
  // double's exact range too; below 0 once an ET_DYN's bias is added) is EINVAL, as Linux's
  // unsigned BAD_ADDR check of the entry gives.
  const entry = bias + image.entry;
  if (!(entry >= 0 && entry < GUEST_VA_LIMIT)) return EINVAL;
  // Each page gets the union of the protections of the segments on it, computed over page
  // ranges, not page by page: a segment may span 4 GiB (a page loop there held the kernel for seconds).
  const ranges = loads.map((p) => ({
    start: pageAlignDown(bias + p.vaddr),
    end: pageAlignUp(bias + p.vaddr + p.memsz),
    prot: (p.flags & PF_R ? PROT_READ : 0) | (p.flags & PF_W ? PROT_WRITE : 0) | (p.flags & PF_X ? PROT_EXEC : 0),
  }));
  const protRuns = unionRuns(ranges);
  for (const run of mergeRuns(protRuns.map((r) => ({ ...r, prot: PROT_READ | PROT_WRITE })))) {
    const r = mm.mapFixed(run.start, run.end - run.start, PROT_READ | PROT_WRITE, '');
    if (r !== 0) return r;
  }
  for (const p of loads) {
    if (p.filesz === 0) continue;
    const r = user.copyOut(bias + p.vaddr, file.subarray(p.offset, p.offset + p.filesz));
    if (r !== 0) return r;
  }
  for (const run of protRuns) {
    const r = mm.protect(run.start, run.end - run.start, run.prot);
    if (r !== 0) return r;
  }
  const phdrSeg = image.phdrs.find((p) => p.type === PT_PHDR);
  let phdrAddr = phdrSeg ? bias + phdrSeg.vaddr : 0;
  if (!phdrSeg) {
    const holder = loads.find((p) => image.phoff >= p.offset && image.phoff < p.offset + p.filesz);
    if (holder) phdrAddr = bias + holder.vaddr + (image.phoff - holder.offset);
  }
  return { bias, entry, phdrAddr, phnum: image.phnum, end: bias + hi };
}

interface Run {
  start: number;
  end: number;
  prot: number;
}

/**
 * The pages that page-aligned `ranges` cover, as sorted [start, end) runs
 * each with the union of the protections of the ranges over it; adjacent runs
 * of one protection are merged. Quadratic in the number of ranges (at most
 * MAX_PHNUM), whatever their sizes.
 */
function unionRuns(ranges: readonly Run[]): Run[] {
  const cuts = [...new Set(ranges.flatMap((r) => [r.start, r.end]))].sort((a, b) => a - b);
  const out: Run[] = [];
  for (let i = 0; i + 1 < cuts.length; i++) {
    const start = cuts[i];
    const end = cuts[i + 1];
    let covered = false;
    let prot = 0;
    for (const r of ranges) {
      if (r.start <= start && r.end >= end) {
        covered = true;
        prot |= r.prot;
      }
    }
    if (covered) out.push({ start, end, prot });
  }
  return mergeRuns(out);
}

/** Sorted runs with touching neighbours of one protection joined. */
function mergeRuns(runs: readonly Run[]): Run[] {
  const out: Run[] = [];
  for (const r of runs) {
    const last = out[out.length - 1];
    if (last && last.end === r.start && last.prot === r.prot) last.end = r.end;
    else out.push({ ...r });
  }
  return out;
}
