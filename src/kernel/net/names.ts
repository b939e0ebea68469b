// The AF_UNIX name space of one sandbox: which socket a path name or an
// abstract name reaches (Linux's unix_find_other, unix_bind, unix_autobind).
//
// Contract:
// - A path name is a socket inode (S_IFSOCK, made by bind with mknod in the
//   guest's filesystem, mode 0777 less the umask) and the socket bound to it.
//   The binding belongs to the inode, not to the name: after a rename or a
//   hard link the new name reaches the same socket; after unlink nothing does.
//   The inode stays when the socket closes (a later bind of that name is
//   EADDRINUSE until it is unlinked), and a connect to it is ECONNREFUSED.
// - Abstract names live only here, per sandbox, and go away when their
//   socket is released. Autobind picks an unused abstract name of five hex
//   digits, as Linux does.
// - Lookups for connect and sendto follow symlinks, need write permission on
//   the socket inode (EACCES), and answer ECONNREFUSED for a name that is not
//   a socket or not bound, or that is bound by a socket of another type
//   (EPROTOTYPE).

import * as abi from '../../linux/abi.js';
import { EACCES, EADDRINUSE, ECONNREFUSED, EEXIST, ENOENT, EPROTOTYPE, Errno, isErrno } from '../../linux/errno.js';
import { permitted } from '../vfs/perm.js';
import { mknodAt, type PathCtx } from '../vfs/namei.js';
import type { Dentry, Inode } from '../vfs/inode.js';
import { abstractKey, type UnixAddress } from './address.js';

/** What the name space knows of a socket: its type and whether it is still open. */
export interface Bindable {
  readonly type: number;
  readonly released: boolean;
}

/** Where a path lookup starts: the process's view of the filesystem. */
export interface PathStart {
  ctx: PathCtx;
  /** The cwd (relative paths) or the root. */
  start: Dentry;
}

/** Socket credentials (struct ucred): the tgid and the ids a message or a connection carries. */
export interface UCred {
  pid: number;
  uid: number;
  gid: number;
}

export class UnixNamespace<S extends Bindable = Bindable> {
  private readonly abstract = new Map<string, S>();
  private readonly byInode = new WeakMap<Inode, S>();
  private autobindNext = Math.floor(Math.random() * 0x100000);

  /**
   * @param callerCred the credentials of the thread whose system call is
   *   running now (for write(2) on a socket, which has no other way to learn
   *   them), null outside a call.
   */
  constructor(readonly callerCred: () => UCred | null = () => null) {}

  /** Bind `sock` to the abstract `name`: EADDRINUSE when taken. */
  bindAbstract(name: Uint8Array, sock: S): 0 | Errno {
    const key = abstractKey(name);
    const old = this.abstract.get(key);
    if (old && !old.released) return EADDRINUSE;
    this.abstract.set(key, sock);
    return 0;
  }

  /** An unused abstract name of five hex digits, bound to `sock`. */
  autobind(sock: S): UnixAddress {
    for (;;) {
      const name = new TextEncoder().encode((this.autobindNext++ & 0xfffff).toString(16).padStart(5, '0'));
      if (this.bindAbstract(name, sock) === 0) return { kind: 'abstract', name };
    }
  }

  /** Forget the name `addr` of `sock` (it is being released). */
  unbind(addr: UnixAddress, sock: S): void {
    if (addr.kind !== 'abstract') return;
    const key = abstractKey(addr.name);
    if (this.abstract.get(key) === sock) this.abstract.delete(key);
  }

  /** Bind `sock` to a new socket inode at `path`: EADDRINUSE when the name exists. */
  async bindPath(at: PathStart, path: string, sock: S): Promise<0 | Errno> {
    const made = await mknodAt(at.ctx, at.start, path, abi.S_IFSOCK | 0o777, 0n);
    if (made === EEXIST) return EADDRINUSE;
    if (isErrno(made)) return made;
    const d = await at.ctx.vfs.resolve(at.ctx.root, at.start, path, { followLast: false, caller: at.ctx.caller, creds: at.ctx.cred });
    if (isErrno(d)) return d;
    this.byInode.set(d.inode, sock);
    return 0;
  }

  /** The socket `addr` names, for connect and sendto (see the contract for the errors). */
  async lookup(at: PathStart, addr: UnixAddress, type: number): Promise<S | Errno> {
    let sock: S | undefined;
    if (addr.kind === 'abstract') {
      sock = this.abstract.get(abstractKey(addr.name));
    } else if (addr.kind === 'path') {
      const path = Buffer.from(addr.path).toString('utf8');
      if (path === '') return ENOENT;
      const d = await at.ctx.vfs.resolve(at.ctx.root, at.start, path, { followLast: true, caller: at.ctx.caller, creds: at.ctx.cred });
      if (isErrno(d)) return d;
      const attr = await d.inode.getattr();
      if (isErrno(attr)) return attr;
      if ((attr.mode & abi.S_IFMT) !== abi.S_IFSOCK) return ECONNREFUSED;
      if (!permitted(at.ctx.cred, attr, abi.W_OK)) return EACCES;
      sock = this.byInode.get(d.inode);
    }
    if (!sock || sock.released) return ECONNREFUSED;
    if (sock.type !== type) return EPROTOTYPE;
    return sock;
  }
}
