// Shared pages loaded on first touch (mm.ts, shared-object.ts): what
// happens when a vCPU or a system call meets a page of a file mapping that
// is not loaded yet (FRAME_ABSENT, or a high page not present).
//
// Contract: faultIn() serves a vCPU's FAULT_IN stop (scheduler.ts): it
// loads a window of FAULT_AROUND pages around the page touched, aligned
// in the address space and cut to the mapping, in one pin() of the object
// (one read of the file), gives the pages still absent in this address
// space their frames, and says whether the access runs again or which
// signal it deserves (SIGSEGV outside mappings or against their
// permissions, SIGBUS past the end of the file or without room: the
// memory limit, the high table's HIGH_PRESENT). faultInRange() loads a
// system call's buffer the same way (dispatch.ts). A mapping changed
// while its pages loaded is left alone: the access meets what is there.

import { SIGBUS, SIGSEGV, SEGV_ACCERR, SEGV_MAPERR } from '../linux/abi.js';
import { isErrno } from '../linux/errno.js';
import { FRAME_ABSENT, GUEST_VA_LIMIT, HIGH_VA_LIMIT, PAGE_SIZE, pageOf } from '../vcpu/memory.js';
import { HIGH_PRESENT } from '../vcpu/high-pages.js';
import { protToFlags, type MemoryManager, type Vma } from './mm.js';
import { loadsOnTouch, type SharedBacking, type SharedObject } from './shared-object.js';

/** Pages a fault-in loads and maps around the one touched (one read of the file). */
export const FAULT_AROUND = 16;
/** si_code of SIGBUS for an access past the end of a mapped file. */
const BUS_ADRERR = 2;

/** What a fault-in ends in: the access runs again (0), or this signal is forced on the thread. */
export type FaultOutcome = 0 | { signo: number; code: number; addr: number };

/**
 * The first access to the shared page holding `addr` needing `need`
 * (PAGE_R, PAGE_W) found it without a frame (a vCPU's FAULT_IN stop, or a
 * system call's buffer): load it and the pages around it (FAULT_AROUND,
 * within the mapping) and map those still absent here. 0 when the access
 * may run again (also when the mapping changed meanwhile: it then meets
 * whatever is there now); SIGSEGV for an address not mapped or not
 * allowed; SIGBUS past the end of the file, or when the memory limit or
 * the high table has no room for the page.
 */
export async function faultIn(mm: MemoryManager, addr: number, need: number): Promise<FaultOutcome> {
  const page = pageOf(addr);
  const v = mm.vmaAt(addr);
  if (v === undefined) return { signo: SIGSEGV, code: SEGV_MAPERR, addr };
  if ((protToFlags(v.prot) & need) !== need) return { signo: SIGSEGV, code: SEGV_ACCERR, addr };
  if (v.shared === undefined || mm.mem.frameEntry(page) > 0) return 0;
  const bus = { signo: SIGBUS, code: BUS_ADRERR, addr };
  if (!loadsOnTouch(v.shared) || mm.mem.frameEntry(page) === 0) return bus;
  const first = Math.max(pageOf(v.start), page - (page % FAULT_AROUND)), last = Math.min(pageOf(v.end), first + FAULT_AROUND);
  if (!(await loadPages(mm, v, first, last))) return bus;
  return mm.mem.frameEntry(page) > 0 || !mm.mappings().includes(v) ? 0 : bus;
}

/**
 * Load the absent pages of [addr, addr+len) that lie in mappings loading
 * on touch, each mapping's part in one pin() (a system call's buffer,
 * dispatch.ts). What cannot be loaded stays absent: the call meets it
 * as EFAULT.
 */
export async function faultInRange(mm: MemoryManager, addr: number, len: number): Promise<void> {
  const end = Math.min(addr + len, HIGH_VA_LIMIT);
  for (const v of [...mm.mappings()]) {
    if (v.end <= addr || v.start >= end || !loadsOnTouch(v.shared)) continue;
    await loadPages(mm, v, pageOf(Math.max(v.start, addr)), pageOf(Math.min(v.end, end) - 1) + 1);
  }
}

/**
 * Load pages [first, last) (page numbers inside mapping `v`, whose object
 * loads on touch) and give those still absent here their frames; false
 * when the object could not load them (ENOMEM, an I/O error). A mapping
 * changed meanwhile is left alone.
 */
async function loadPages(mm: MemoryManager, v: Vma, first: number, last: number): Promise<boolean> {
  const b = v.shared as SharedBacking;
  const obj = b.obj as SharedObject;
  const start = pageOf(v.start);
  const r = await obj.pin!(b.pgoff + first - start, last - first);
  if (isErrno(r)) return false;
  try {
    if (!mm.mappings().includes(v)) return true;
    for (let p = first; p < last; p++) {
      if (mm.mem.frameEntry(p) !== FRAME_ABSENT) continue;
      if (p * PAGE_SIZE >= GUEST_VA_LIMIT && mm.mem.high.size >= HIGH_PRESENT) break;
      const f = obj.faultPage!(b.pgoff + p - start, { mem: mm.mem, page: p });
      if (f >= 0) mm.setEntry(v, p, f + 1);
    }
    return true;
  } finally {
    obj.unpin?.();
  }
}

/**
 * The pages of [addr, addr+len) that a system call would find absent (a
 * file mapping's pages not loaded yet, FRAME_ABSENT, or high pages not
 * present in a mapping), one address on each; the dispatcher loads them
 * (faultIn) before the call runs. Empty for an address space with no
 * mapping that loads on touch (the common case: one flag test).
 */
export function absentPages(mm: MemoryManager, addr: number, len: number): number[] {
  const out: number[] = [];
  if (!mm.lazyMappings || len <= 0 || addr < 0 || addr >= HIGH_VA_LIMIT) return out;
  const end = Math.min(addr + len, HIGH_VA_LIMIT);
  for (const v of mm.mappings()) {
    if (v.end <= addr || v.start >= end || !loadsOnTouch(v.shared)) continue;
    const s = Math.max(v.start, addr), e = Math.min(v.end, end);
    for (let p = pageOf(s); p <= pageOf(e - 1); p++) if (mm.mem.frameEntry(p) === FRAME_ABSENT) out.push(Math.max(s, p * PAGE_SIZE));
  }
  return out;
}
