// Host results as values, for DirectBackend and its open files: a negative
// errno from src/host, or a failed call of Node's fs, becomes the Errno Linux
// would give (rule 8 of ./README.md: nothing throws for an I/O failure); and
// Node's fstat becomes the contract's Attr (src/backend/host-attr.ts, shared
// with the 9P client's donated files).

import { Errno } from '../linux/errno.js';

export { fsErrno, fstat, preadFd, pwriteFd, toAttr } from '../backend/host-attr.js';

/** A negative errno from ffi as an Errno value. */
export function neg(r: number): Errno {
  return Errno.of(-r);
}
