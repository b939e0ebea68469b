// 9P2000.L messages: the enum of message types, one field layout per type,
// and a checked encoder/decoder driven by those layouts.
//
// Contract: the peer is untrusted. decode() never throws for bad input: a
// message whose size, type, any length, or any field does not fit exactly is
// returned as a P9DecodeError value (the caller answers Rlerror or closes the
// connection). encode() is for our own messages; it throws only for a
// programming error (a field out of its range), never for peer input.
//
// Wire format (little-endian): size[4] type[1] tag[2] fields...; strings are
// len[2] + UTF-8 bytes; a qid is type[1] version[4] path[8].

export enum MsgType {
  Tlerror = 6, Rlerror = 7,
  Tstatfs = 8, Rstatfs = 9,
  Tlopen = 12, Rlopen = 13,
  Tlcreate = 14, Rlcreate = 15,
  Tsymlink = 16, Rsymlink = 17,
  Tmknod = 18, Rmknod = 19,
  Trename = 20, Rrename = 21,
  Treadlink = 22, Rreadlink = 23,
  Tgetattr = 24, Rgetattr = 25,
  Tsetattr = 26, Rsetattr = 27,
  Txattrwalk = 30, Rxattrwalk = 31,
  Txattrcreate = 32, Rxattrcreate = 33,
  Treaddir = 40, Rreaddir = 41,
  Tfsync = 50, Rfsync = 51,
  Tlock = 52, Rlock = 53,
  Tgetlock = 54, Rgetlock = 55,
  Tlink = 70, Rlink = 71,
  Tmkdir = 72, Rmkdir = 73,
  Trenameat = 74, Rrenameat = 75,
  Tunlinkat = 76, Runlinkat = 77,
  Tversion = 100, Rversion = 101,
  Tauth = 102, Rauth = 103,
  Tattach = 104, Rattach = 105,
  Tflush = 108, Rflush = 109,
  Twalk = 110, Rwalk = 111,
  Tread = 116, Rread = 117,
  Twrite = 118, Rwrite = 119,
  Tclunk = 120, Rclunk = 121,
  Tremove = 122, Rremove = 123,
  /** Our dialect's own (not 9P2000.L): the server passes a dup of an open fid's host fd (./donation.ts). */
  Tdonate = 130, Rdonate = 131,
}

export const VERSION = '9P2000.L';
/**
 * Our dialect: 9P2000.L plus one promise from the server, that requests which
 * name or bind fids are handled in the order they arrive. A client that gets
 * it back may send a request on a fid in the same round trip as the Twalk
 * that binds it. Other servers answer it with an error or "unknown" (diod
 * runs requests on several threads and may even crash on such a pair), and
 * the client asks again for plain VERSION.
 */
export const VERSION_IN_ORDER = '9P2000.L.tsvisor';
export const NOTAG = 0xffff;
export const NOFID = 0xffffffff;
/** Tattach's n_uname when the client names no uid. */
export const NOUID = 0xffffffff;
/** size[4] type[1] tag[2] */
export const HEADER_SIZE = 7;
/** Room kept for the header of a Twrite/Rread besides its data (Linux's P9_IOHDRSZ; diod refuses larger counts). */
export const IO_OVERHEAD = 24;
/** Most names one Twalk may carry (9P's MAXWELEM). */
export const MAXWELEM = 16;
/** Smallest msize a peer may negotiate (room for a header and a short string). */
export const MIN_MSIZE = 4096;
/** The largest msize our gofer agrees to, and what our client asks for: 4 MiB of data per message plus room for its header. */
export const MAX_MSIZE = 4 * 1024 * 1024 + 4096;
/** Bytes of an Rread or Rreaddir besides its data: size[4] type[1] tag[2] count[4]. */
export const RREAD_OVERHEAD = 11;

// qid.type bits
export const QTDIR = 0x80;
export const QTSYMLINK = 0x02;
export const QTFILE = 0x00;

// Tgetattr request / Rgetattr valid bits
export const GETATTR_BASIC = 0x7ff;
// Tsetattr valid bits
export const SETATTR_MODE = 0x1;
export const SETATTR_UID = 0x2;
export const SETATTR_GID = 0x4;
export const SETATTR_SIZE = 0x8;
export const SETATTR_ATIME = 0x10;
export const SETATTR_MTIME = 0x20;
export const SETATTR_CTIME = 0x40;
export const SETATTR_ATIME_SET = 0x80;
export const SETATTR_MTIME_SET = 0x100;
// Tlock
export const LOCK_SUCCESS = 0;
export const LOCK_TYPE_UNLCK = 2;

export interface Qid {
  type: number;
  version: number;
  path: bigint;
}

/** Field kinds of the layouts. */
type Kind = 'u8' | 'u16' | 'u32' | 'u64' | 'str' | 'qid' | 'data' | 'strs' | 'qids';

type Layout = ReadonlyArray<readonly [string, Kind]>;

const STATFS: Layout = [['fstype', 'u32'], ['bsize', 'u32'], ['blocks', 'u64'], ['bfree', 'u64'], ['bavail', 'u64'], ['files', 'u64'], ['ffree', 'u64'], ['fsid', 'u64'], ['namelen', 'u32']];
const GETATTR: Layout = [
  ['valid', 'u64'], ['qid', 'qid'], ['mode', 'u32'], ['uid', 'u32'], ['gid', 'u32'], ['nlink', 'u64'], ['rdev', 'u64'], ['size', 'u64'], ['blksize', 'u64'], ['blocks', 'u64'],
  ['atimeSec', 'u64'], ['atimeNsec', 'u64'], ['mtimeSec', 'u64'], ['mtimeNsec', 'u64'], ['ctimeSec', 'u64'], ['ctimeNsec', 'u64'], ['btimeSec', 'u64'], ['btimeNsec', 'u64'], ['gen', 'u64'], ['dataVersion', 'u64'],
];
const LOCKDESC: Layout = [['ltype', 'u8'], ['start', 'u64'], ['length', 'u64'], ['procId', 'u32'], ['clientId', 'str']];

/** The field layout of every message type we speak: the protocol's table. */
export const LAYOUTS: Readonly<Record<number, Layout>> = {
  [MsgType.Rlerror]: [['ecode', 'u32']],
  [MsgType.Tstatfs]: [['fid', 'u32']],
  [MsgType.Rstatfs]: STATFS,
  [MsgType.Tlopen]: [['fid', 'u32'], ['flags', 'u32']],
  [MsgType.Rlopen]: [['qid', 'qid'], ['iounit', 'u32']],
  [MsgType.Tlcreate]: [['fid', 'u32'], ['name', 'str'], ['flags', 'u32'], ['mode', 'u32'], ['gid', 'u32']],
  [MsgType.Rlcreate]: [['qid', 'qid'], ['iounit', 'u32']],
  [MsgType.Tsymlink]: [['fid', 'u32'], ['name', 'str'], ['target', 'str'], ['gid', 'u32']],
  [MsgType.Rsymlink]: [['qid', 'qid']],
  [MsgType.Tmknod]: [['fid', 'u32'], ['name', 'str'], ['mode', 'u32'], ['major', 'u32'], ['minor', 'u32'], ['gid', 'u32']],
  [MsgType.Rmknod]: [['qid', 'qid']],
  [MsgType.Trename]: [['fid', 'u32'], ['dfid', 'u32'], ['name', 'str']],
  [MsgType.Rrename]: [],
  [MsgType.Treadlink]: [['fid', 'u32']],
  [MsgType.Rreadlink]: [['target', 'str']],
  [MsgType.Tgetattr]: [['fid', 'u32'], ['mask', 'u64']],
  [MsgType.Rgetattr]: GETATTR,
  [MsgType.Tsetattr]: [['fid', 'u32'], ['valid', 'u32'], ['mode', 'u32'], ['uid', 'u32'], ['gid', 'u32'], ['size', 'u64'], ['atimeSec', 'u64'], ['atimeNsec', 'u64'], ['mtimeSec', 'u64'], ['mtimeNsec', 'u64']],
  [MsgType.Rsetattr]: [],
  [MsgType.Txattrwalk]: [['fid', 'u32'], ['newfid', 'u32'], ['name', 'str']],
  [MsgType.Rxattrwalk]: [['size', 'u64']],
  [MsgType.Txattrcreate]: [['fid', 'u32'], ['name', 'str'], ['size', 'u64'], ['flags', 'u32']],
  [MsgType.Rxattrcreate]: [],
  [MsgType.Treaddir]: [['fid', 'u32'], ['offset', 'u64'], ['count', 'u32']],
  [MsgType.Rreaddir]: [['data', 'data']],
  [MsgType.Tfsync]: [['fid', 'u32'], ['datasync', 'u32']],
  [MsgType.Rfsync]: [],
  [MsgType.Tlock]: [['fid', 'u32'], ['ltype', 'u8'], ['flags', 'u32'], ['start', 'u64'], ['length', 'u64'], ['procId', 'u32'], ['clientId', 'str']],
  [MsgType.Rlock]: [['status', 'u8']],
  [MsgType.Tgetlock]: [['fid', 'u32'], ...LOCKDESC],
  [MsgType.Rgetlock]: LOCKDESC,
  [MsgType.Tlink]: [['dfid', 'u32'], ['fid', 'u32'], ['name', 'str']],
  [MsgType.Rlink]: [],
  [MsgType.Tmkdir]: [['fid', 'u32'], ['name', 'str'], ['mode', 'u32'], ['gid', 'u32']],
  [MsgType.Rmkdir]: [['qid', 'qid']],
  [MsgType.Trenameat]: [['olddirfid', 'u32'], ['oldname', 'str'], ['newdirfid', 'u32'], ['newname', 'str']],
  [MsgType.Rrenameat]: [],
  [MsgType.Tunlinkat]: [['fid', 'u32'], ['name', 'str'], ['flags', 'u32']],
  [MsgType.Runlinkat]: [],
  [MsgType.Tversion]: [['msize', 'u32'], ['version', 'str']],
  [MsgType.Rversion]: [['msize', 'u32'], ['version', 'str']],
  [MsgType.Tauth]: [['afid', 'u32'], ['uname', 'str'], ['aname', 'str'], ['nUname', 'u32']],
  [MsgType.Rauth]: [['qid', 'qid']],
  [MsgType.Tattach]: [['fid', 'u32'], ['afid', 'u32'], ['uname', 'str'], ['aname', 'str'], ['nUname', 'u32']],
  [MsgType.Rattach]: [['qid', 'qid']],
  [MsgType.Tflush]: [['oldtag', 'u16']],
  [MsgType.Rflush]: [],
  [MsgType.Twalk]: [['fid', 'u32'], ['newfid', 'u32'], ['names', 'strs']],
  [MsgType.Rwalk]: [['qids', 'qids']],
  [MsgType.Tread]: [['fid', 'u32'], ['offset', 'u64'], ['count', 'u32']],
  [MsgType.Rread]: [['data', 'data']],
  [MsgType.Twrite]: [['fid', 'u32'], ['offset', 'u64'], ['data', 'data']],
  [MsgType.Rwrite]: [['count', 'u32']],
  [MsgType.Tclunk]: [['fid', 'u32']],
  [MsgType.Rclunk]: [],
  [MsgType.Tremove]: [['fid', 'u32']],
  [MsgType.Rremove]: [],
  [MsgType.Tdonate]: [['fid', 'u32']],
  [MsgType.Rdonate]: [['token', 'u32']],
};

/** A decoded message: its type, tag and the fields its layout names. */
export interface Msg {
  type: MsgType;
  tag: number;
  // Field values: number (u8/u16/u32), bigint (u64), string, Qid, Uint8Array (data), string[], Qid[].
  [field: string]: unknown;
}

/** Why a message could not be decoded (a value, never thrown). */
export class P9DecodeError {
  constructor(
    readonly reason: string,
    /** The tag, when the header was readable (so an Rlerror can answer it). */
    readonly tag?: number,
    readonly type?: number,
  ) {}
}

const utf8 = new TextDecoder('utf-8', { fatal: true });

/**
 * Decodes one whole message (`buf` is exactly its bytes, size field included).
 * `data` fields are views into `buf`, not copies.
 */
export function decode(buf: Uint8Array): Msg | P9DecodeError {
  if (buf.length < HEADER_SIZE) return new P9DecodeError('message shorter than its header');
  const dv = new DataView(buf.buffer, buf.byteOffset, buf.byteLength);
  const size = dv.getUint32(0, true);
  const type = buf[4];
  const tag = dv.getUint16(5, true);
  if (size !== buf.length) return new P9DecodeError(`size field ${size} but ${buf.length} bytes`, tag, type);
  const layout = LAYOUTS[type];
  if (!layout) return new P9DecodeError(`unknown message type ${type}`, tag, type);
  const msg: Msg = { type, tag };
  let p = HEADER_SIZE;
  const need = (n: number): boolean => p + n <= buf.length;
  const str = (): string | undefined => {
    if (!need(2)) return undefined;
    const len = dv.getUint16(p, true);
    p += 2;
    if (!need(len)) return undefined;
    let s: string;
    try {
      s = utf8.decode(buf.subarray(p, p + len));
    } catch {
      return undefined;
    }
    p += len;
    return s;
  };
  const qid = (): Qid | undefined => {
    if (!need(13)) return undefined;
    const q = { type: buf[p], version: dv.getUint32(p + 1, true), path: dv.getBigUint64(p + 5, true) };
    p += 13;
    return q;
  };
  for (const [name, kind] of layout) {
    let v: unknown;
    switch (kind) {
      case 'u8':
        if (need(1)) v = buf[p++];
        break;
      case 'u16':
        if (need(2)) (v = dv.getUint16(p, true)), (p += 2);
        break;
      case 'u32':
        if (need(4)) (v = dv.getUint32(p, true)), (p += 4);
        break;
      case 'u64':
        if (need(8)) (v = dv.getBigUint64(p, true)), (p += 8);
        break;
      case 'str':
        v = str();
        break;
      case 'qid':
        v = qid();
        break;
      case 'data': {
        if (!need(4)) break;
        const n = dv.getUint32(p, true);
        p += 4;
        if (!need(n)) break;
        v = buf.subarray(p, p + n);
        p += n;
        break;
      }
      case 'strs':
      case 'qids': {
        if (!need(2)) break;
        const n = dv.getUint16(p, true);
        p += 2;
        if (n > MAXWELEM) return new P9DecodeError(`${n} elements in ${name} (at most ${MAXWELEM})`, tag, type);
        const arr: unknown[] = [];
        for (let i = 0; i < n; i++) {
          const e = kind === 'strs' ? str() : qid();
          if (e === undefined) return new P9DecodeError(`bad element ${i} of ${name}`, tag, type);
          arr.push(e);
        }
        v = arr;
        break;
      }
    }
    if (v === undefined) return new P9DecodeError(`field ${name} (${kind}) does not fit in ${MsgType[type]}`, tag, type);
    msg[name] = v;
  }
  if (p !== buf.length) return new P9DecodeError(`${buf.length - p} bytes after the last field of ${MsgType[type]}`, tag, type);
  return msg;
}

function strBytes(s: unknown): Buffer {
  if (typeof s !== 'string') throw new TypeError('9P string field is not a string');
  const b = Buffer.from(s, 'utf8');
  if (b.length > 0xffff) throw new RangeError('9P string longer than 65535 bytes');
  return b;
}

function checkInt(v: unknown, bits: number, name: string): number {
  if (typeof v !== 'number' || !Number.isInteger(v) || v < 0 || v >= 2 ** bits) throw new RangeError(`9P field ${name}: ${String(v)} is not a u${bits}`);
  return v;
}

/**
 * Encodes a message of ours. Every field its layout names must be present and
 * in range (u64 fields take a bigint or a non-negative safe integer).
 */
export function encode(msg: Msg): Buffer {
  const layout = LAYOUTS[msg.type];
  if (!layout) throw new RangeError(`9P: no layout for type ${msg.type}`);
  // First pass: the size, with strings converted once.
  const strs: Buffer[] = [];
  let size = HEADER_SIZE;
  for (const [name, kind] of layout) {
    const v = msg[name];
    switch (kind) {
      case 'u8': size += 1; break;
      case 'u16': size += 2; break;
      case 'u32': size += 4; break;
      case 'u64': size += 8; break;
      case 'qid': size += 13; break;
      case 'str': { const b = strBytes(v); strs.push(b); size += 2 + b.length; break; }
      case 'data': size += 4 + (v as Uint8Array).length; break;
      case 'strs': {
        const a = v as string[];
        if (a.length > MAXWELEM) throw new RangeError(`9P: ${a.length} names in one walk`);
        size += 2;
        for (const s of a) { const b = strBytes(s); strs.push(b); size += 2 + b.length; }
        break;
      }
      case 'qids': {
        const a = v as Qid[];
        if (a.length > MAXWELEM) throw new RangeError(`9P: ${a.length} qids in one walk`);
        size += 2 + 13 * a.length;
        break;
      }
    }
  }
  const out = Buffer.allocUnsafe(size);
  out.writeUInt32LE(size, 0);
  out[4] = msg.type;
  out.writeUInt16LE(checkInt(msg.tag, 16, 'tag'), 5);
  let p = HEADER_SIZE;
  let si = 0;
  const putQid = (q: Qid): void => {
    out[p] = checkInt(q.type, 8, 'qid.type');
    out.writeUInt32LE(checkInt(q.version, 32, 'qid.version'), p + 1);
    out.writeBigUInt64LE(BigInt.asUintN(64, q.path), p + 5);
    p += 13;
  };
  const putStr = (): void => {
    const b = strs[si++];
    out.writeUInt16LE(b.length, p);
    b.copy(out, p + 2);
    p += 2 + b.length;
  };
  for (const [name, kind] of layout) {
    const v = msg[name];
    switch (kind) {
      case 'u8': out[p] = checkInt(v, 8, name); p += 1; break;
      case 'u16': out.writeUInt16LE(checkInt(v, 16, name), p); p += 2; break;
      case 'u32': out.writeUInt32LE(checkInt(v, 32, name), p); p += 4; break;
      case 'u64': {
        const b = typeof v === 'bigint' ? v : BigInt(checkInt(v, 53, name));
        out.writeBigUInt64LE(BigInt.asUintN(64, b), p);
        p += 8;
        break;
      }
      case 'qid': putQid(v as Qid); break;
      case 'str': putStr(); break;
      case 'data': {
        const d = v as Uint8Array;
        out.writeUInt32LE(d.length, p);
        out.set(d, p + 4);
        p += 4 + d.length;
        break;
      }
      case 'strs': {
        const a = v as string[];
        out.writeUInt16LE(a.length, p);
        p += 2;
        for (let i = 0; i < a.length; i++) putStr();
        break;
      }
      case 'qids': {
        const a = v as Qid[];
        out.writeUInt16LE(a.length, p);
        p += 2;
        for (const q of a) putQid(q);
        break;
      }
    }
  }
  return out;
}

// ---- Rreaddir's data: qid[13] offset[8] type[1] name[s], repeated ----

export interface P9Dirent {
  qid: Qid;
  /** Cookie to continue after this entry. */
  offset: bigint;
  type: number;
  name: string;
}

/** Bytes one entry takes in Rreaddir data. */
export function direntSize(name: string): number {
  return 13 + 8 + 1 + 2 + Buffer.byteLength(name, 'utf8');
}

/** Packs entries, stopping before the first one that would pass `max` bytes. */
export function encodeDirents(ents: readonly P9Dirent[], max: number): { data: Buffer; count: number } {
  const parts: Buffer[] = [];
  let used = 0;
  let count = 0;
  for (const e of ents) {
    const nb = Buffer.from(e.name, 'utf8');
    const sz = 24 + nb.length;
    if (used + sz > max || nb.length > 0xffff) break;
    const b = Buffer.allocUnsafe(sz);
    b[0] = e.qid.type;
    b.writeUInt32LE(e.qid.version, 1);
    b.writeBigUInt64LE(BigInt.asUintN(64, e.qid.path), 5);
    b.writeBigUInt64LE(BigInt.asUintN(64, e.offset), 13);
    b[21] = e.type;
    b.writeUInt16LE(nb.length, 22);
    nb.copy(b, 24);
    parts.push(b);
    used += sz;
    count++;
  }
  return { data: Buffer.concat(parts, used), count };
}

/** Unpacks Rreaddir data; a truncated or malformed entry is a P9DecodeError. */
export function decodeDirents(data: Uint8Array): P9Dirent[] | P9DecodeError {
  const dv = new DataView(data.buffer, data.byteOffset, data.byteLength);
  const out: P9Dirent[] = [];
  let p = 0;
  while (p < data.length) {
    if (p + 24 > data.length) return new P9DecodeError('truncated directory entry');
    const len = dv.getUint16(p + 22, true);
    if (p + 24 + len > data.length) return new P9DecodeError('directory entry name past the data');
    let name: string;
    try {
      name = utf8.decode(data.subarray(p + 24, p + 24 + len));
    } catch {
      return new P9DecodeError('directory entry name is not UTF-8');
    }
    out.push({ qid: { type: data[p], version: dv.getUint32(p + 1, true), path: dv.getBigUint64(p + 5, true) }, offset: dv.getBigUint64(p + 13, true), type: data[p + 21], name });
    p += 24 + len;
  }
  return out;
}

/**
 * Splits a byte stream into whole messages. push() takes the next chunk and
 * returns the complete messages it finished, or a P9DecodeError when a size
 * field is out of bounds (below a header, or above `maxSize`): the stream can
 * no longer be framed and the connection must close.
 */
export class Framer {
  private chunks: Buffer[] = [];
  private have = 0;

  constructor(public maxSize: number) {}

  push(chunk: Buffer): Buffer[] | P9DecodeError {
    this.chunks.push(chunk);
    this.have += chunk.length;
    const out: Buffer[] = [];
    for (;;) {
      if (this.have < 4) return out;
      let head = this.chunks[0];
      if (head.length < 4) {
        head = Buffer.concat(this.chunks);
        this.chunks = [head];
      }
      const size = head.readUInt32LE(0);
      if (size < HEADER_SIZE || size > this.maxSize) return new P9DecodeError(`message size ${size} outside [${HEADER_SIZE}, ${this.maxSize}]`);
      if (this.have < size) return out;
      if (head.length < size) {
        head = Buffer.concat(this.chunks);
        this.chunks = [head];
      }
      out.push(head.subarray(0, size));
      const rest = head.subarray(size);
      this.have -= size;
      if (rest.length > 0) this.chunks[0] = rest;
      else this.chunks.shift();
    }
  }
}
