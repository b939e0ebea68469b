// Random 9P2000.L messages for the 9P targets: well-formed values of every
// layout in src/p9/codec.ts, with fids, names and sizes drawn near the values
// a server or client checks, and a random filler for each field kind.

import * as p9 from '../src/p9/codec.js';
import { MsgType, type Msg, type Qid } from '../src/p9/codec.js';
import { INTERESTING_U32, INTERESTING_U64 } from './mutate.js';
import { Rng } from './rng.js';

/** Names that reach every check of a walk or a create. */
export const NAMES: readonly string[] = ['a', 'b', 'dir', 'f', 'file', 'link', 'escape', 'abs', '..', '.', '', 'a/b', '/', 'x'.repeat(255), 'x'.repeat(256), '\u00e9t\u00e9', 'nul\u0000', 'new', 'fifo', 'sub'];

export function randomQid(rng: Rng): Qid {
  return { type: rng.pick([0, 0x80, 0x02, 0x40, rng.u32() & 0xff]), version: rng.u32(), path: rng.chance(0.5) ? BigInt(rng.below(100)) : rng.u64() };
}

/** A random value for one field of a layout; `fids` is the pool fids are drawn from. */
export function fieldValue(rng: Rng, name: string, kind: string, fids: number): unknown {
  switch (kind) {
    case 'u8':
      return rng.chance(0.7) ? rng.below(4) : rng.u32() & 0xff;
    case 'u16':
      return rng.chance(0.7) ? rng.below(64) : rng.u32() & 0xffff;
    case 'u32':
      if (name === 'fid' || name === 'newfid' || name === 'dfid' || name === 'olddirfid' || name === 'newdirfid' || name === 'afid') {
        return rng.chance(0.9) ? rng.below(fids) : rng.pick([p9.NOFID, rng.u32()]);
      }
      if (name === 'count') return rng.chance(0.7) ? rng.size(70000) : rng.pick(INTERESTING_U32);
      if (name === 'flags' || name === 'mode') return rng.chance(0.5) ? rng.pick([0, 1, 2, 0o100, 0o200, 0o1000, 0o2000, 0o40000, 0o200000, 0o400000, 0o644, 0o755, 0o100644, 0o10644, 0o20644]) | (rng.chance(0.3) ? rng.pick([0o100, 0o1000, 0o200000]) : 0) : rng.u32();
      if (name === 'iounit') return rng.pick([0, 0, 4096, 65536, 0xffffffff, rng.u32()]);
      if (name === 'msize') return rng.chance(0.7) ? rng.pick([8192, 65536, p9.MAX_MSIZE, 4096, 7, 0]) : rng.u32();
      return rng.chance(0.6) ? rng.pick(INTERESTING_U32) : rng.u32();
    case 'u64':
      if (name === 'offset') return rng.chance(0.7) ? BigInt(rng.size(100000)) : rng.pick(INTERESTING_U64);
      return rng.chance(0.6) ? rng.pick(INTERESTING_U64) : rng.u64();
    case 'str':
      if (name === 'version') return rng.chance(0.8) ? rng.pick([p9.VERSION, p9.VERSION_IN_ORDER]) : rng.pick(['9P2000', 'unknown', '', '9P2000.L.x']);
      if (name === 'target') return rng.pick(['f', '../outside/secret', '/etc/passwd', 'dir/../f', '', 'x'.repeat(5000)]);
      if (name === 'aname') return '';
      return rng.chance(0.9) ? rng.pick(NAMES) : Buffer.from(rng.bytes(rng.size(40))).toString('latin1');
    case 'qid':
      return randomQid(rng);
    case 'data':
      return rng.bytes(rng.size(rng.chance(0.05) ? 200000 : 300));
    case 'strs':
      return Array.from({ length: rng.chance(0.95) ? rng.size(4) : rng.range(16, 20) }, () => rng.pick(NAMES));
    case 'qids':
      return Array.from({ length: rng.size(20) }, () => randomQid(rng));
    default:
      throw new Error(`unknown field kind ${kind}`);
  }
}

/** A message of `type` with random fields. */
export function randomMsg(rng: Rng, type: MsgType, tag: number, fids: number): Msg {
  const m: Msg = { type, tag };
  for (const [name, kind] of p9.LAYOUTS[type]) m[name] = fieldValue(rng, name, kind, fids);
  return m;
}

/** T-message types, the common ones more often. */
export const T_TYPES: readonly MsgType[] = Object.keys(p9.LAYOUTS)
  .map(Number)
  .filter((t) => (t & 1) === 0);

export const COMMON_T: readonly MsgType[] = [MsgType.Twalk, MsgType.Twalk, MsgType.Tlopen, MsgType.Tread, MsgType.Twrite, MsgType.Treaddir, MsgType.Tgetattr, MsgType.Tmkdir, MsgType.Tlcreate, MsgType.Tclunk, MsgType.Tsymlink, MsgType.Trenameat, MsgType.Tunlinkat, MsgType.Treadlink, MsgType.Tsetattr, MsgType.Tlink];
