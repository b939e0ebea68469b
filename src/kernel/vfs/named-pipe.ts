// Named pipes (FIFOs) of any filesystem: the inode keeps a Fifo (files/pipe.ts),
// and every open of it meets the same pipe.

import { Errno } from '../../linux/errno.js';
import * as abi from '../../linux/abi.js';
import type { File, MaybeAsync } from '../files/file.js';
import type { Fifo } from '../files/pipe.js';
import type { Inode, OpenContext } from './inode.js';

/**
 * Open a FIFO inode's pipe: the PipeFile Fifo gives, reporting the inode's
 * own attributes to fstat (a named pipe's st_mode, owner and inode number).
 */
export function namedPipeOpen(fifo: Fifo, inode: Inode, flags: number, path: string, ctx?: OpenContext): MaybeAsync<File | Errno> {
  const stamp = (f: File | Errno): File | Errno => {
    if (f instanceof Errno) return f;
    // A named pipe's fstat shows its inode (mode, owner, number), not the anonymous pipe's.
    f.getattr = () => inode.getattr();
    return f;
  };
  const r = fifo.open(flags & ~(abi.O_CREAT | abi.O_EXCL | abi.O_TRUNC | abi.O_NOCTTY), path, ctx?.blocker);
  return r instanceof Promise ? r.then(stamp) : stamp(r);
}
