// The contract's attributes in 9P2000.L's terms: an Rgetattr as an Attr, and a
// SetAttr as a Tsetattr.

import type { Attr, SetAttr } from '../backend/backend.js';
import * as p9 from './codec.js';
import { MsgType, type Msg } from './codec.js';

/** An Rgetattr's fields as an Attr (dev 0: the VFS substitutes its own). */
export function toAttr(r: Msg): Attr {
  const n = (v: unknown): number => Number(v as bigint);
  const s = (v: unknown): number => Number(BigInt.asIntN(64, v as bigint));
  return {
    mode: r.mode as number,
    ino: (r.qid as p9.Qid).path,
    dev: 0n,
    nlink: n(r.nlink),
    uid: r.uid as number,
    gid: r.gid as number,
    rdev: r.rdev as bigint,
    size: n(r.size),
    blksize: n(r.blksize),
    blocks: n(r.blocks),
    atimeSec: s(r.atimeSec),
    atimeNsec: n(r.atimeNsec),
    mtimeSec: s(r.mtimeSec),
    mtimeNsec: n(r.mtimeNsec),
    ctimeSec: s(r.ctimeSec),
    ctimeNsec: n(r.ctimeNsec),
  };
}

/** A Tsetattr for `set` (valid 0 when it sets nothing); EINVAL for values 9P cannot carry. */
export function setattrMsg(fid: number, set: SetAttr): Msg {
  let valid = 0;
  const m: Msg = { type: MsgType.Tsetattr, tag: 0, fid, valid: 0, mode: 0, uid: 0, gid: 0, size: 0n, atimeSec: 0n, atimeNsec: 0n, mtimeSec: 0n, mtimeNsec: 0n };
  if (set.mode !== undefined) (valid |= p9.SETATTR_MODE), (m.mode = set.mode & 0o7777);
  if (set.uid !== undefined && set.uid !== -1) (valid |= p9.SETATTR_UID), (m.uid = set.uid >>> 0);
  if (set.gid !== undefined && set.gid !== -1) (valid |= p9.SETATTR_GID), (m.gid = set.gid >>> 0);
  if (set.size !== undefined) (valid |= p9.SETATTR_SIZE), (m.size = BigInt(Math.max(0, Math.trunc(set.size))));
  if (set.atime !== undefined) {
    valid |= p9.SETATTR_ATIME;
    if (set.atime !== 'now') (valid |= p9.SETATTR_ATIME_SET), (m.atimeSec = BigInt.asUintN(64, BigInt(set.atime[0]))), (m.atimeNsec = BigInt(set.atime[1]));
  }
  if (set.mtime !== undefined) {
    valid |= p9.SETATTR_MTIME;
    if (set.mtime !== 'now') (valid |= p9.SETATTR_MTIME_SET), (m.mtimeSec = BigInt.asUintN(64, BigInt(set.mtime[0]))), (m.mtimeNsec = BigInt(set.mtime[1]));
  }
  // ctime changes with any change, as Linux's setattr does.
  if (valid !== 0) valid |= p9.SETATTR_CTIME;
  m.valid = valid;
  return m;
}
