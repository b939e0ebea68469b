// A socket's receive queue (Linux's sk_receive_queue of skbs), and how
// stream and message reads take from it. Unix sockets use every part of it;
// TCP uses it as a byte stream (no files, one credential) and UDP as a queue
// of datagrams, each with its sender's address (`A`, the address type).
//
// Contract:
// - Each send makes one Message: its bytes, the files it passes (SCM_RIGHTS,
//   one reference held on each while in flight), the sender's credentials and
//   address, and the sending socket, which is charged for the bytes until they
//   are read (its `wmem`, Linux's sk_wmem_alloc) and told when they are.
// - A stream read (readStream) takes bytes across messages in order, but
//   never past a message that passed files (the files go with the first read
//   that takes bytes of it), and, when the reader asked for credentials
//   (SO_PASSCRED), never joins messages of different credentials.
// - A message read (readMessage, datagram and seqpacket) takes one whole
//   message: bytes beyond `len` are lost, and `size` says how many there were.
// - With `peek`, nothing is consumed, and the passed files come back with
//   new references (a peek installs them as fds, as Linux's does).
// - Whoever gets `rights` owns those references: it installs them as fds or
//   unrefs them.

import type { File } from '../files/file.js';
import type { UnixAddress } from './address.js';
import type { UCred } from './names.js';

/** The sending side of a message: charged for its bytes until they are read. */
export interface Sender {
  wmem: number;
  /** Bytes of this sender's were read: writers waiting for room may go on. */
  writeSpace(): void;
}

export interface Message<A = UnixAddress> {
  data: Uint8Array;
  /** Bytes of `data` already read (stream reads take messages piecemeal). */
  off: number;
  rights: File[] | null;
  cred: UCred;
  from: A;
  sender: Sender;
}

/** What a read took. */
export interface Received<A = UnixAddress> {
  data: Uint8Array;
  /** The message's whole length (datagram and seqpacket), or data.length (stream). */
  size: number;
  rights: File[];
  /** The credentials of the (first) message read; null when nothing was read. */
  cred: UCred | null;
  from: A | null;
}

const sameCred = (a: UCred, b: UCred) => a.pid === b.pid && a.uid === b.uid && a.gid === b.gid;

export class MessageQueue<A = UnixAddress> {
  private readonly msgs: Message<A>[] = [];
  /** Unread bytes in every message. */
  private unread = 0;

  get length(): number {
    return this.msgs.length;
  }

  get bytes(): number {
    return this.unread;
  }

  /** The unread length of the first message (datagram SIOCINQ), 0 when empty. */
  get firstLength(): number {
    const m = this.msgs[0];
    return m ? m.data.length - m.off : 0;
  }

  push(m: Message<A>): void {
    this.msgs.push(m);
    this.unread += m.data.length - m.off;
    m.sender.wmem += m.data.length - m.off;
  }

  /** A stream read of up to `len` bytes (see the contract); `splitCreds`: SO_PASSCRED on the reader. */
  readStream(len: number, peek: boolean, splitCreds: boolean): Received<A> {
    const parts: Uint8Array[] = [];
    const rights: File[] = [];
    let cred: UCred | null = null;
    let from: A | null = null;
    let got = 0;
    let i = 0;
    while (got < len && i < this.msgs.length) {
      const m = this.msgs[i];
      if (cred && splitCreds && !sameCred(cred, m.cred)) break;
      cred ??= m.cred;
      from ??= m.from;
      const n = Math.min(len - got, m.data.length - m.off);
      parts.push(m.data.subarray(m.off, m.off + n));
      got += n;
      if (peek) {
        if (m.rights) {
          for (const f of m.rights) rights.push(f.ref());
          break;
        }
        i++;
        continue;
      }
      m.off += n;
      this.unread -= n;
      this.uncharge(m, n);
      if (m.rights) {
        rights.push(...m.rights);
        m.rights = null;
      }
      if (m.off < m.data.length) break;
      this.msgs.shift();
      if (rights.length > 0) break;
    }
    // Message bytes are never changed once queued, so a single part is handed out without a copy.
    const data = parts.length === 1 ? parts[0] : Buffer.concat(parts);
    return { data: new Uint8Array(data.buffer, data.byteOffset, data.length), size: got, rights, cred, from };
  }

  /** One whole message, its first `len` bytes returned (datagram and seqpacket); null when empty. */
  readMessage(len: number, peek: boolean): Received<A> | null {
    const m = this.msgs[0];
    if (!m) return null;
    const size = m.data.length - m.off;
    const data = m.data.slice(m.off, m.off + Math.min(len, size));
    let rights: File[] = [];
    if (peek) {
      if (m.rights) rights = m.rights.map((f) => f.ref());
    } else {
      this.msgs.shift();
      this.unread -= size;
      this.uncharge(m, size);
      rights = m.rights ?? [];
      m.rights = null;
    }
    return { data, size, rights, cred: m.cred, from: m.from };
  }

  /** Throw everything away (the socket is released): files unref'd, senders uncharged. */
  drop(): void {
    for (const m of this.msgs.splice(0)) {
      this.uncharge(m, m.data.length - m.off);
      if (m.rights) for (const f of m.rights) void f.unref();
      m.rights = null;
    }
    this.unread = 0;
  }

  private uncharge(m: Message<A>, n: number): void {
    if (n === 0) return;
    m.sender.wmem -= n;
    m.sender.writeSpace();
  }
}
