// The only kernel module that touches guest memory (docs/ARCHITECTURE.md, convention 5).
//
// Contract: every access checks the page flags first, as the hardware would
// for the guest itself (reads need PAGE_R, writes PAGE_W); a bad address gives
// EFAULT and changes nothing. Writes that land on pages holding decoded code
// tell the CPUs through `onCodeWrite`, so self-modifying and loaded code works.
// Kernel code outside this module sees bytes and numbers, never addresses.
// Shared pages (src/vcpu/memory.ts) are reached through the memory's frame
// table, their bytes in the frame pool: a write marks the frame dirty, and a
// shared page without a frame is EFAULT. So is one not loaded yet (a file
// mapping's page before its first touch, a high page not present): the
// system call dispatcher loads the pages of a call's buffers first
// (fault-in.ts absentPages, faultInRange), so a call meets those only in
// buffers it cannot see from its arguments (iovecs, structs pointing on).
// Shared mappings above 4 GiB (src/vcpu/high-pages.ts) are reached the
// same way, through the memory's high table.

import { EFAULT, EINVAL, ENAMETOOLONG, Errno } from '../linux/errno.js';
import { IOVEC, UIO_MAXIOV, MAX_RW_COUNT, PATH_MAX } from '../linux/abi.js';
import { GuestMemory, PAGE_CODE, PAGE_R, PAGE_SHARED, PAGE_SIZE, PAGE_W, GUEST_PAGES, GUEST_VA_LIMIT, HIGH_VA_LIMIT, pageOf } from '../vcpu/memory.js';
import { FramePool } from '../vcpu/frames.js';

/** check(): the range may not be accessed; it lies on private pages only; it touches a shared page. */
const BAD = 0, PRIVATE = 1, SHARED = 2;

export interface IoVec {
  base: number;
  len: number;
}

export class UserMemory {
  private readonly pool = FramePool.local();
  /** The whole address space as one Buffer (made at the first string read): readCString decodes from it in place. */
  private bytes: Buffer | null = null;
  /** Whether the last scanCString met a shared page (its bytes are then not at their address in `mem`). */
  private scannedShared = false;

  constructor(
    readonly mem: GuestMemory,
    private readonly onCodeWrite: (addr: number, len: number) => void = () => {},
  ) {}

  /**
   * Whether [addr, addr+len) may be accessed for `need` (BAD), and if so
   * whether it touches shared pages. A range of no bytes is valid wherever
   * it starts (Linux's access_ok of size 0).
   */
  private check(addr: number, len: number, need: number): number {
    if (len === 0) return PRIVATE;
    if (!Number.isSafeInteger(addr) || addr < 0 || len < 0 || addr + len > HIGH_VA_LIMIT) return BAD;
    const first = pageOf(addr), last = pageOf(addr + len - 1);
    // Private pages below 4 GiB (nearly every buffer): their flags hold the
    // permissions as they are (pagePerms adds nothing without PAGE_SHARED),
    // so one load per page, with no call, decides.
    if (last < GUEST_PAGES) {
      const flags = this.mem.pageFlags;
      const want = need | PAGE_SHARED;
      let p = first;
      while (p <= last && (flags[p] & want) === need) p++;
      if (p > last) return PRIVATE;
    }
    return this.checkPages(first, last, need);
  }

  /** check() over pages [first, last] of any kind: shared, high, or not allowed. */
  private checkPages(first: number, last: number, need: number): number {
    const mem = this.mem;
    let kind = PRIVATE;
    for (let p = first; p <= last; p++) {
      if ((mem.permsAt(p) & need) !== need) return BAD;
      if (mem.isShared(p)) {
        if (mem.frameEntry(p) <= 0) return BAD;
        kind = SHARED;
      }
    }
    return kind;
  }

  /**
   * The bytes of page `p` as a view: the address space's memory, or the
   * pool's frame for a shared page (marked dirty when `write`).
   */
  private page(p: number, write: boolean): Uint8Array {
    if (this.mem.isShared(p)) {
      const f = this.mem.frameEntry(p) - 1;
      if (write) this.pool.dirty[f] = 1;
      return this.pool.u8.subarray(f * PAGE_SIZE, (f + 1) * PAGE_SIZE);
    }
    return this.mem.u8.subarray(p * PAGE_SIZE, (p + 1) * PAGE_SIZE);
  }

  /** Call fn(view, pos) for each page-sized piece of [addr, addr+len): `view` the piece's bytes, `pos` its offset in the range. */
  private eachPiece(addr: number, len: number, write: boolean, fn: (view: Uint8Array, pos: number) => void): void {
    for (let pos = 0; pos < len;) {
      const a = addr + pos;
      const off = a % PAGE_SIZE;
      const n = Math.min(PAGE_SIZE - off, len - pos);
      fn(this.page(pageOf(a), write).subarray(off, off + n), pos);
      pos += n;
    }
  }

  /** Whether [addr, addr+len) may be read now (copyIn and readInto would not fault). */
  canRead(addr: number, len: number): boolean {
    return this.check(addr, len, PAGE_R) !== BAD;
  }

  /** Whether [addr, addr+len) may be written now (copyOut would not fault). */
  canWrite(addr: number, len: number): boolean {
    return this.check(addr, len, PAGE_W) !== BAD;
  }

  /** A copy of guest bytes [addr, addr+len). */
  copyIn(addr: number, len: number): Uint8Array | Errno {
    const k = this.check(addr, len, PAGE_R);
    if (k === BAD) return EFAULT;
    if (k === PRIVATE) return this.mem.u8.slice(addr, addr + len);
    const out = new Uint8Array(len);
    this.eachPiece(addr, len, false, (v, pos) => out.set(v, pos));
    return out;
  }

  /** Guest bytes copied into `dst` (no allocation). */
  readInto(addr: number, dst: Uint8Array): 0 | Errno {
    const k = this.check(addr, dst.length, PAGE_R);
    if (k === BAD) return EFAULT;
    if (k === PRIVATE) dst.set(this.mem.u8.subarray(addr, addr + dst.length));
    else this.eachPiece(addr, dst.length, false, (v, pos) => dst.set(v, pos));
    return 0;
  }

  /** Write `src` at guest address `addr`. Nothing to write succeeds at any address, as in Linux. */
  copyOut(addr: number, src: Uint8Array): 0 | Errno {
    if (src.length === 0) return 0;
    const k = this.check(addr, src.length, PAGE_W);
    if (k === BAD) return EFAULT;
    if (k === PRIVATE) this.mem.u8.set(src, addr);
    else this.eachPiece(addr, src.length, true, (v, pos) => v.set(src.subarray(pos, pos + v.length)));
    this.noteWrite(addr, src.length);
    return 0;
  }

  /**
   * The window: one guest range checked once (openOut, openIn) that a
   * file's readTo or writeFrom (src/kernel/files/file.ts) then fills or
   * reads piece by piece through putOut and getIn. Those two functions are
   * made once per UserMemory, so a read or write makes no closure and the
   * file's call site always meets the same function; a piece on private
   * pages is one TypedArray.set, with no second check. The kernel runs one
   * call at a time on its thread and readTo/writeFrom are synchronous, so
   * one window per UserMemory suffices (the next open replaces it, so a
   * handler that threw leaves nothing behind); a piece outside the window
   * is a kernel bug and throws (the dispatcher then kills the caller).
   */
  private winAddr = 0;
  private winLen = 0;
  private winKind = BAD;

  /** Open the window [addr, addr+len) for putOut: EFAULT unless all of it may be written. */
  openOut(addr: number, len: number): 0 | Errno {
    return this.openWindow(addr, len, PAGE_W);
  }

  /** Open the window [addr, addr+len) for getIn: EFAULT unless all of it may be read. */
  openIn(addr: number, len: number): 0 | Errno {
    return this.openWindow(addr, len, PAGE_R);
  }

  private openWindow(addr: number, len: number, need: number): 0 | Errno {
    const k = this.check(addr, len, need);
    this.winKind = k;
    if (k === BAD) return EFAULT;
    this.winAddr = addr;
    this.winLen = len;
    return 0;
  }

  /** The window's first `count` bytes were written through putOut (or nothing, for an Errno): CPUs decoding code there are told. */
  closeOut(count: number | Errno): void {
    if (this.winKind === PRIVATE && typeof count === 'number' && count > 0) this.noteWrite(this.winAddr, Math.min(count, this.winLen));
    this.winKind = BAD;
  }

  /** The window closed after getIn. */
  closeIn(): void {
    this.winKind = BAD;
  }

  private piece(pos: number, n: number): number {
    if (this.winKind === BAD || !(pos >= 0 && pos + n <= this.winLen)) throw new Error(`kernel bug: a copy of ${n} bytes at ${pos} outside the window (${this.winLen} bytes)`);
    return this.winAddr + pos;
  }

  /** File.readTo's `put`: `bytes` stored at the window's byte `pos`. */
  readonly putOut = (bytes: Uint8Array, pos: number): void => {
    const addr = this.piece(pos, bytes.length);
    if (this.winKind === PRIVATE) this.mem.u8.set(bytes, addr);
    else this.copyOut(addr, bytes);
  };

  /** File.writeFrom's `get`: `dst` filled from the window's bytes at `pos`. */
  readonly getIn = (dst: Uint8Array, pos: number): void => {
    const addr = this.piece(pos, dst.length);
    if (this.winKind === PRIVATE) dst.set(this.mem.u8.subarray(addr, addr + dst.length));
    else this.readInto(addr, dst);
  };

  /**
   * The struct `fill(w, v)` writes, `w`'s size, stored at `addr`: on private
   * pages straight into the guest's memory (copying a buffer into the shared
   * memory cost more than setting the fields there), else into w's own bytes,
   * then copied out. `fill` must write every byte of the struct, padding
   * included (in place, nothing else zeroes it).
   */
  writeStruct<T>(addr: number, w: StructWriter, fill: (w: StructWriter, v: T) => void, v: T): 0 | Errno {
    const size = w.bytes.length;
    const k = this.check(addr, size, PAGE_W);
    if (k === BAD) return EFAULT;
    if (k === SHARED || addr + size > GUEST_VA_LIMIT) {
      fill(w, v);
      return this.copyOut(addr, w.bytes);
    }
    w.aim(this.mem.view, addr);
    try {
      fill(w, v);
    } finally {
      w.home();
    }
    this.noteWrite(addr, size);
    return 0;
  }

  /** Fill [addr, addr+len) with zero bytes. */
  zero(addr: number, len: number): 0 | Errno {
    const k = this.check(addr, len, PAGE_W);
    if (k === BAD) return EFAULT;
    if (k === PRIVATE) this.mem.u8.fill(0, addr, addr + len);
    else this.eachPiece(addr, len, true, (v) => v.fill(0));
    this.noteWrite(addr, len);
    return 0;
  }

  private noteWrite(addr: number, len: number): void {
    if (len === 0 || addr >= GUEST_VA_LIMIT) return;
    const flags = this.mem.pageFlags;
    const last = Math.min(pageOf(addr + len - 1), GUEST_PAGES - 1);
    for (let p = pageOf(addr); p <= last; p++) {
      if (flags[p] & PAGE_CODE) {
        this.onCodeWrite(addr, len);
        return;
      }
    }
  }

  /**
   * A NUL-terminated string of at most `max` bytes (without the NUL), decoded
   * as UTF-8 (invalid sequences replaced; `readCBytes` gives the exact bytes).
   * The hot path of every call with a path: on private pages the bytes are
   * decoded where they lie, through one Buffer over the whole memory, making
   * no copy and no typed view of the guest memory (each such view of the
   * shared memory costs about half a microsecond).
   */
  readCString(addr: number, max = PATH_MAX): string | Errno {
    const n = this.scanCString(addr, max);
    if (n instanceof Errno) return n;
    if (!this.scannedShared && addr + n <= GUEST_VA_LIMIT) {
      const s = (this.bytes ??= Buffer.from(this.mem.buffer)).toString('utf8', addr, addr + n);
      // The bytes are read twice (scan, decoding): a thread of the guest on another vCPU may have
      // written a NUL between the two, and the string then ends there, as if written before the scan.
      const nul = s.indexOf('\0');
      return nul < 0 ? s : s.slice(0, nul);
    }
    const bytes = this.copyIn(addr, n) as Uint8Array;
    return Buffer.from(bytes.buffer, bytes.byteOffset, bytes.length).toString('utf8');
  }

  /** The bytes of a NUL-terminated string (without the NUL); ENAMETOOLONG past `max`. */
  readCBytes(addr: number, max = PATH_MAX): Uint8Array | Errno {
    const n = this.scanCString(addr, max);
    return n instanceof Errno ? n : this.copyIn(addr, n);
  }

  /**
   * The length of the NUL-terminated string at `addr`: EFAULT at an
   * unreadable page before the NUL (or at the end of the address space),
   * ENAMETOOLONG when no NUL comes within `max` bytes. Pages are checked one
   * at a time as the scan reaches them, as Linux's strncpy_from_user does;
   * `scannedShared` says whether any of them was shared.
   */
  private scanCString(addr: number, max: number): number | Errno {
    this.scannedShared = false;
    if (!Number.isSafeInteger(addr) || addr < 0 || addr >= HIGH_VA_LIMIT) return EFAULT;
    const mem = this.mem;
    const limit = Math.min(max + 1, HIGH_VA_LIMIT - addr);
    let pos = 0;
    while (pos < limit) {
      const a = addr + pos;
      const p = pageOf(a);
      if ((mem.permsAt(p) & PAGE_R) === 0) return EFAULT;
      let src: Uint8Array, base: number;
      if (mem.isShared(p)) {
        const f = mem.frameEntry(p);
        if (f <= 0) return EFAULT;
        src = this.pool.u8;
        base = (f - 1) * PAGE_SIZE - p * PAGE_SIZE;
        this.scannedShared = true;
      } else {
        src = this.mem.u8;
        base = 0;
      }
      const stop = Math.min(limit, pos + PAGE_SIZE - (a % PAGE_SIZE));
      for (let i = a + base; pos < stop; pos++, i++) if (src[i] === 0) return pos;
    }
    return pos > max ? ENAMETOOLONG : EFAULT;
  }

  /** A NULL-terminated array of string pointers (argv, envp), at most `maxCount`. */
  readStringArray(addr: number, maxCount: number, maxTotal: number): string[] | Errno {
    const out: string[] = [];
    if (addr === 0) return out;
    let total = 0;
    for (let i = 0; ; i++) {
      if (i >= maxCount) return Errno.of(7); // E2BIG
      const p = this.readU64(addr + 8 * i);
      if (p instanceof Errno) return p;
      if (p === 0) return out;
      const s = this.readCBytes(p, maxTotal);
      if (s instanceof Errno) return s;
      total += s.length + 1;
      if (total > maxTotal) return Errno.of(7);
      out.push(Buffer.from(s).toString('utf8'));
    }
  }

  /**
   * A DataView and offset at which the `len` bytes at `addr` can be read:
   * the memory's own view, or (for a range touching a shared page) a copy.
   */
  private scalar(addr: number, len: number): [DataView, number] | Errno {
    const k = this.check(addr, len, PAGE_R);
    if (k === BAD) return EFAULT;
    if (k === PRIVATE) return [this.mem.view, addr];
    const b = this.copyIn(addr, len) as Uint8Array;
    return [new DataView(b.buffer, b.byteOffset, len), 0];
  }

  readU32(addr: number): number | Errno {
    const s = this.scalar(addr, 4);
    return s instanceof Errno ? s : s[0].getUint32(s[1], true);
  }

  readI32(addr: number): number | Errno {
    const s = this.scalar(addr, 4);
    return s instanceof Errno ? s : s[0].getInt32(s[1], true);
  }

  /** An unsigned 64-bit value as a number (exact below 2^53; larger values lose low bits). */
  readU64(addr: number): number | Errno {
    const s = this.scalar(addr, 8);
    if (s instanceof Errno) return s;
    const [v, a] = s;
    return v.getUint32(a + 4, true) * 0x100000000 + v.getUint32(a, true);
  }

  /** A signed 64-bit value as a number (exact while |v| < 2^53). */
  readI64(addr: number): number | Errno {
    const s = this.scalar(addr, 8);
    if (s instanceof Errno) return s;
    const [v, a] = s;
    return v.getInt32(a + 4, true) * 0x100000000 + v.getUint32(a, true);
  }

  readBigU64(addr: number): bigint | Errno {
    const s = this.scalar(addr, 8);
    return s instanceof Errno ? s : s[0].getBigUint64(s[1], true);
  }

  /**
   * Where the futex word at `addr` lives, for keying waiters: for a shared
   * page, its byte offset in the frame pool (the same for every process
   * mapping it); null for a private page (the key is then the address).
   */
  sharedOffset(addr: number): number | null {
    if (!Number.isSafeInteger(addr) || addr < 0 || addr >= HIGH_VA_LIMIT) return null;
    const p = pageOf(addr);
    const f = this.mem.isShared(p) ? this.mem.frameEntry(p) : 0;
    if (f <= 0) return null;
    return (f - 1) * PAGE_SIZE + (addr % PAGE_SIZE);
  }

  writeU32(addr: number, value: number): 0 | Errno {
    const b = new Uint8Array(4);
    new DataView(b.buffer).setUint32(0, value >>> 0, true);
    return this.copyOut(addr, b);
  }

  writeU64(addr: number, value: number | bigint): 0 | Errno {
    const b = new Uint8Array(8);
    new DataView(b.buffer).setBigUint64(0, BigInt.asUintN(64, BigInt(value)), true);
    return this.copyOut(addr, b);
  }

  /**
   * An iovec array as Linux's import_iovec checks it: at most UIO_MAXIOV
   * entries (EINVAL), lengths whose sum stays within MAX_RW_COUNT (later
   * entries are truncated, as Linux does), readable array (EFAULT).
   */
  readIovecs(addr: number, count: number): IoVec[] | Errno {
    if (count < 0 || count > UIO_MAXIOV) return EINVAL;
    const raw = this.copyIn(addr, count * IOVEC.size);
    if (raw instanceof Errno) return raw;
    const dv = new DataView(raw.buffer, raw.byteOffset, raw.byteLength);
    const out: IoVec[] = [];
    let total = 0;
    for (let i = 0; i < count; i++) {
      const base = dv.getUint32(i * 16 + 4, true) * 0x100000000 + dv.getUint32(i * 16, true);
      const lenHi = dv.getUint32(i * 16 + 12, true);
      let len = dv.getUint32(i * 16 + 8, true);
      if (lenHi >= 0x80000000) return EINVAL; // ssize_t negative
      if (lenHi !== 0) len = MAX_RW_COUNT;
      len = Math.min(len, MAX_RW_COUNT - total);
      total += len;
      out.push({ base, len });
    }
    return out;
  }
}

/**
 * A little-endian byte buffer for building guest structs before one copyOut;
 * or, aimed by UserMemory.writeStruct, the same fields written in place in
 * the guest's memory from the struct's address on.
 */
export class StructWriter {
  readonly bytes: Uint8Array;
  private readonly own: DataView;
  private dv: DataView;
  /** Where the struct starts in `dv`. */
  private base = 0;

  constructor(size: number) {
    this.bytes = new Uint8Array(size);
    this.own = this.dv = new DataView(this.bytes.buffer);
  }

  /** @internal (UserMemory.writeStruct): the fields go to `dv` from byte `base` on, until home(). */
  aim(dv: DataView, base: number): void {
    this.dv = dv;
    this.base = base;
  }

  /** @internal: back to the writer's own bytes. */
  home(): void {
    this.dv = this.own;
    this.base = 0;
  }

  u8(off: number, v: number): this {
    this.dv.setUint8(this.base + off, v);
    return this;
  }
  u16(off: number, v: number): this {
    this.dv.setUint16(this.base + off, v, true);
    return this;
  }
  u32(off: number, v: number): this {
    this.dv.setUint32(this.base + off, v >>> 0, true);
    return this;
  }
  i32(off: number, v: number): this {
    this.dv.setInt32(this.base + off, v, true);
    return this;
  }
  /**
   * A 64-bit field from a number (two's complement for negatives) or a
   * BigInt. A non-negative safe integer (sizes, times, inode numbers: the
   * common case) is written as two 32-bit halves, with no BigInt made.
   */
  u64(off: number, v: number | bigint): this {
    const at = this.base + off;
    if (typeof v === 'number' && v >= 0 && v <= Number.MAX_SAFE_INTEGER) {
      const t = Math.trunc(v);
      this.dv.setUint32(at, t >>> 0, true);
      this.dv.setUint32(at + 4, Math.floor(t / 0x1_0000_0000), true);
      return this;
    }
    // setBigUint64 itself takes the value modulo 2^64 (negative ones as two's complement): no BigInt.asUintN copy.
    this.dv.setBigUint64(at, typeof v === 'bigint' ? v : BigInt(Math.trunc(v)), true);
    return this;
  }
  /** A NUL-padded string in a fixed-size char array (truncated to leave the NUL). */
  str(off: number, s: string, size: number): this {
    if (this.dv !== this.own) throw new Error('StructWriter.str writes only into the writer\'s own bytes');
    const b = Buffer.from(s, 'utf8').subarray(0, size - 1);
    this.bytes.set(b, off);
    return this;
  }
}

/** A little-endian reader over struct bytes copied in from the guest. */
export class StructReader {
  private readonly dv: DataView;
  constructor(bytes: Uint8Array) {
    this.dv = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  }
  u32(off: number): number {
    return this.dv.getUint32(off, true);
  }
  i32(off: number): number {
    return this.dv.getInt32(off, true);
  }
  /** Exact below 2^53. */
  u64(off: number): number {
    return this.dv.getUint32(off + 4, true) * 0x100000000 + this.dv.getUint32(off, true);
  }
  i64(off: number): number {
    return this.dv.getInt32(off + 4, true) * 0x100000000 + this.dv.getUint32(off, true);
  }
  big(off: number): bigint {
    return this.dv.getBigUint64(off, true);
  }
}
