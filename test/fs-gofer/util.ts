// Test helpers: a live gofer Connection on one end of a socket pair, in this process.

import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { socketpair, O_CLOEXEC, SOCK_SEQPACKET } from '../../src/host/ffi.js';
import { Donor } from '../../src/fs-gofer/donor.js';
import { DonationReceiver } from '../../src/p9/donation.js';
import { DirectBackend } from '../../src/fs-gofer/direct.js';
import { serveFd } from '../../src/fs-gofer/gofer.js';
import { IoPool } from '../../src/fs-gofer/io-pool.js';
import { P9Client } from '../../src/p9/client.js';
import { P9Backend } from '../../src/p9/backend.js';
import { isErrno } from '../../src/linux/errno.js';

export function tmpdir(tag: string): string {
  return fs.mkdtempSync(path.join(os.tmpdir(), `tsvisor-${tag}-`));
}

export interface LiveGofer {
  /** The client end's fd (for raw tests) — already wrapped when `client` is used. */
  clientFd: number;
  served: Promise<void>;
  direct: DirectBackend;
  io?: IoPool;
  /** With `donate`: the gofer's donor, and the sandbox's end of the channel (a receiver for connectBackend). */
  donor?: Donor;
  receiver?: DonationReceiver;
  /** The channel's gofer end (tests write forged records into it). */
  donorFd?: number;
  stop(): Promise<void>;
}

/** Serves `root` (with `fileRoot`, possibly one regular file) on one end of a fresh socket pair; the other end's fd is returned. */
export function startGofer(root: string, opts: { readonly?: boolean; pool?: boolean; fileRoot?: boolean; log?: (m: string) => void; donate?: boolean; maxHeld?: number } = {}): LiveGofer {
  const sp = socketpair(1 | O_CLOEXEC);
  if (typeof sp === 'number') throw new Error(`socketpair: ${sp}`);
  const dp = opts.donate ? socketpair(SOCK_SEQPACKET | O_CLOEXEC) : undefined;
  if (typeof dp === 'number') throw new Error(`socketpair: ${dp}`);
  const donor = dp ? new Donor(dp[0]) : undefined;
  const receiver = dp ? new DonationReceiver(dp[1], opts.maxHeld) : undefined;
  const direct = DirectBackend.open(root, { readonly: opts.readonly ?? false, fileRoot: opts.fileRoot });
  const io = opts.pool ? new IoPool({ threads: 2 }) : undefined;
  const served = serveFd(sp[0], { backend: direct, hostPath: root, donor }, io, opts.log);
  return {
    clientFd: sp[1],
    served,
    direct,
    io,
    donor,
    receiver,
    donorFd: dp?.[0],
    async stop() {
      await served;
      direct.close();
      await io?.close();
      donor?.close();
      receiver?.close();
    },
  };
}

export async function connectBackend(g: LiveGofer, root: string, readonly = false, fileRoot = false): Promise<P9Backend> {
  const c = P9Client.overFd(g.clientFd);
  const b = await P9Backend.connect(c, { aname: root, uid: process.getuid?.() ?? 0, readonly, fileRoot, donation: g.receiver });
  if (isErrno(b)) throw new Error(`connect: ${b.name}`);
  return b;
}
