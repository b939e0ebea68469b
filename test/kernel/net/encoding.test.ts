// The byte formats of AF_UNIX: sockaddr_un, control messages, SOL_SOCKET
// option values; bad input is an Errno, never a throw.

import * as assert from 'node:assert/strict';
import * as abi from '../../../src/linux/abi.js';
import { EDOM, EINVAL, ENOPROTOOPT, isErrno } from '../../../src/linux/errno.js';
import { decodeUnixAddress, encodeUnixAddress } from '../../../src/kernel/net/address.js';
import { ControlWriter, parseControl, ucredBytes } from '../../../src/kernel/net/control.js';
import { SocketOptions } from '../../../src/kernel/net/options.js';

function sockaddr(family: number, path: string | Uint8Array, len?: number): Uint8Array {
  const p = typeof path === 'string' ? new TextEncoder().encode(path) : path;
  const b = new Uint8Array(len ?? 2 + p.length);
  b[0] = family & 0xff;
  b[1] = family >> 8;
  b.set(p.subarray(0, b.length - 2), 2);
  return b;
}

function cmsg(level: number, type: number, data: Uint8Array, lenField?: number): Uint8Array {
  const space = (16 + data.length + 7) & ~7;
  const b = new Uint8Array(space);
  const dv = new DataView(b.buffer);
  dv.setBigUint64(0, BigInt(lenField ?? 16 + data.length), true);
  dv.setInt32(8, level, true);
  dv.setInt32(12, type, true);
  b.set(data, 16);
  return b;
}

const ints = (...v: number[]) => new Uint8Array(Int32Array.from(v).buffer);

describe('kernel/net: sockaddr_un', () => {
  it('decodes a path (up to its NUL), an abstract name (NULs kept), and autobind', () => {
    assert.deepEqual(decodeUnixAddress(sockaddr(abi.AF_UNIX, '/tmp/s\0junk')), { kind: 'path', path: new TextEncoder().encode('/tmp/s') });
    assert.deepEqual(decodeUnixAddress(sockaddr(abi.AF_UNIX, '\0a\0b')), { kind: 'abstract', name: Uint8Array.of(0x61, 0, 0x62) });
    assert.equal(decodeUnixAddress(sockaddr(abi.AF_UNIX, '')), 'auto');
  });

  it('bad lengths and families are EINVAL', () => {
    assert.equal(decodeUnixAddress(new Uint8Array(0)), EINVAL);
    assert.equal(decodeUnixAddress(Uint8Array.of(1)), EINVAL);
    assert.equal(decodeUnixAddress(sockaddr(abi.AF_UNIX, 'x', 111)), EINVAL);
    assert.equal(decodeUnixAddress(sockaddr(abi.AF_INET, '/tmp/s')), EINVAL);
    assert.ok(!isErrno(decodeUnixAddress(sockaddr(abi.AF_UNIX, 'x', 110))));
  });

  it('encodes with the lengths Linux reports: family alone, path + NUL, NUL + name', () => {
    assert.equal(encodeUnixAddress({ kind: 'unnamed' }).length, 2);
    const p = encodeUnixAddress({ kind: 'path', path: new TextEncoder().encode('/a') });
    assert.deepEqual([...p], [1, 0, 0x2f, 0x61, 0]);
    const a = encodeUnixAddress({ kind: 'abstract', name: new TextEncoder().encode('xy') });
    assert.deepEqual([...a], [1, 0, 0, 0x78, 0x79]);
  });
});

describe('kernel/net: control messages', () => {
  it('parses SCM_RIGHTS (accumulated) and SCM_CREDENTIALS; skips other levels', () => {
    const buf = Buffer.concat([cmsg(abi.SOL_SOCKET, abi.SCM_RIGHTS, ints(3, 4)), cmsg(6, 1, ints(9)), cmsg(abi.SOL_SOCKET, abi.SCM_RIGHTS, ints(5)), cmsg(abi.SOL_SOCKET, abi.SCM_CREDENTIALS, ucredBytes({ pid: 1, uid: 2, gid: 3 }))]);
    assert.deepEqual(parseControl(buf), { fds: [3, 4, 5], cred: { pid: 1, uid: 2, gid: 3 } });
    assert.deepEqual(parseControl(new Uint8Array(8)), { fds: [], cred: null });
  });

  it('EINVAL for a length shorter than the header or past the buffer, bad credentials, unknown types, more than SCM_MAX_FD', () => {
    assert.equal(parseControl(cmsg(abi.SOL_SOCKET, abi.SCM_RIGHTS, ints(3), 8)), EINVAL);
    assert.equal(parseControl(cmsg(abi.SOL_SOCKET, abi.SCM_RIGHTS, ints(3), 64)), EINVAL);
    assert.equal(parseControl(cmsg(abi.SOL_SOCKET, abi.SCM_CREDENTIALS, ints(1, 2))), EINVAL);
    assert.equal(parseControl(cmsg(abi.SOL_SOCKET, 99, ints(1))), EINVAL);
    const many = new Array(abi.SCM_MAX_FD + 1).fill(0);
    assert.equal(parseControl(cmsg(abi.SOL_SOCKET, abi.SCM_RIGHTS, ints(...many))), EINVAL);
    // A huge 64-bit cmsg_len is EINVAL, not a throw.
    const huge = cmsg(abi.SOL_SOCKET, abi.SCM_RIGHTS, ints(1));
    new DataView(huge.buffer).setBigUint64(0, 0xffffffffffffffffn, true);
    assert.equal(parseControl(huge), EINVAL);
  });

  it('a ControlWriter cuts what does not fit as put_cmsg does (MSG_CTRUNC)', () => {
    const w = new ControlWriter(24);
    assert.equal(w.fdsThatFit(), 2);
    assert.equal(w.put(abi.SOL_SOCKET, abi.SCM_RIGHTS, ints(7, 8)), true);
    assert.equal(w.bytes.length, 24);
    assert.equal(w.truncated, false);
    const short = new ControlWriter(20);
    assert.equal(short.put(abi.SOL_SOCKET, abi.SCM_CREDENTIALS, ucredBytes({ pid: 1, uid: 0, gid: 0 })), false);
    assert.equal(short.truncated, true);
    assert.equal(Number(new DataView(short.bytes.buffer).getBigUint64(0, true)), 28, 'the header keeps the full length');
    // A huge msg_controllen allocates only what a receive can fill.
    const huge = new ControlWriter(0x7fffffff);
    assert.equal(huge.fdsThatFit() >= abi.SCM_MAX_FD, true);
    const none = new ControlWriter(8);
    assert.equal(none.fdsThatFit(), 0);
    assert.equal(none.put(abi.SOL_SOCKET, abi.SCM_RIGHTS, ints(1)), false);
    assert.equal(none.bytes.length, 0);
  });
});

describe('kernel/net: SOL_SOCKET options', () => {
  const facts = { type: abi.SOCK_STREAM, listening: false, peerCred: null };
  const int = (b: Uint8Array | unknown) => new DataView((b as Uint8Array).buffer).getInt32(0, true);

  it('SO_SNDBUF and SO_RCVBUF store twice the value, clamped', () => {
    const o = new SocketOptions();
    assert.equal(o.set(abi.SO_SNDBUF, ints(65536)), 0);
    assert.equal(int(o.get(abi.SO_SNDBUF, facts)), 131072);
    o.set(abi.SO_SNDBUF, ints(1));
    assert.equal(int(o.get(abi.SO_SNDBUF, facts)), 4608);
    o.set(abi.SO_RCVBUF, ints(1 << 30));
    assert.equal(int(o.get(abi.SO_RCVBUF, facts)), 425984);
  });

  it('short values are EINVAL, unknown or read-only options ENOPROTOOPT, bad timeouts EDOM', () => {
    const o = new SocketOptions();
    assert.equal(o.set(abi.SO_PASSCRED, new Uint8Array(2)), EINVAL);
    assert.equal(o.set(9999, ints(1)), ENOPROTOOPT);
    assert.equal(o.set(abi.SO_TYPE, ints(1)), ENOPROTOOPT);
    assert.equal(o.get(9999, facts), ENOPROTOOPT);
    assert.equal(o.set(abi.SO_LINGER, ints(1)), EINVAL);
    assert.equal(o.set(abi.SO_RCVTIMEO_OLD, new Uint8Array(Int32Array.of(1, 0, 2000000, 0).buffer)), EDOM);
  });

  it('reports the type, the domain, SO_PASSCRED set, and SO_PEERCRED without a peer as pid 0, ids -1', () => {
    const o = new SocketOptions();
    assert.equal(int(o.get(abi.SO_TYPE, { ...facts, type: abi.SOCK_SEQPACKET })), abi.SOCK_SEQPACKET);
    assert.equal(int(o.get(abi.SO_DOMAIN, facts)), abi.AF_UNIX);
    o.set(abi.SO_PASSCRED, ints(5));
    assert.equal(int(o.get(abi.SO_PASSCRED, facts)), 1);
    assert.deepEqual([...new Int32Array((o.get(abi.SO_PEERCRED, facts) as Uint8Array).buffer)], [0, -1, -1]);
    o.set(abi.SO_REUSEADDR, ints(1));
    assert.equal(int(o.get(abi.SO_REUSEADDR, facts)), 1);
  });
});
