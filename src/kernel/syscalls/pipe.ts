// pipe2 and eventfd2: kernel-made channels installed as fds.

import * as abi from '../../linux/abi.js';
import { EINVAL, isErrno } from '../../linux/errno.js';
import { makePipe } from '../files/pipe.js';
import { EventFd } from '../files/eventfd.js';
import { StructWriter } from '../usercopy.js';
import { SysCtx, SysResult } from './context.js';

/** O_NOTIFICATION_PIPE (== O_EXCL): watch queues, which the sandbox doesn't offer. */
const PIPE2_FLAGS = abi.O_CLOEXEC | abi.O_NONBLOCK | abi.O_DIRECT;

/** pipe2(fds, flags): a read end and a write end, lowest fds first. */
export function sys_pipe2(c: SysCtx): SysResult | Promise<SysResult> {
  const flags = c.i32(1);
  if (flags & ~PIPE2_FLAGS) return EINVAL;
  const cloexec = (flags & abi.O_CLOEXEC) !== 0;
  const [r, w] = makePipe(flags, { uid: c.proc.creds.euid, gid: c.proc.creds.egid });
  const fds = c.proc.fds;
  const rfd = fds.install(r, cloexec);
  if (isErrno(rfd)) {
    void w.unref();
    return rfd;
  }
  const wfd = fds.install(w, cloexec);
  if (isErrno(wfd)) {
    return settleClose(fds.close(rfd), wfd);
  }
  const out = c.user.copyOut(c.u(0), new StructWriter(8).i32(0, rfd).i32(4, wfd).bytes);
  if (isErrno(out)) {
    // Linux never installs the fds when it can't report them.
    const a = fds.close(rfd);
    const b = fds.close(wfd);
    return a instanceof Promise || b instanceof Promise ? Promise.all([a, b]).then(() => out) : out;
  }
  return 0;
}

function settleClose<T>(closing: unknown, result: T): T | Promise<T> {
  return closing instanceof Promise ? closing.then(() => result) : result;
}

/** eventfd2(initval, flags): EFD_SEMAPHORE, EFD_NONBLOCK, EFD_CLOEXEC. */
export function sys_eventfd2(c: SysCtx): SysResult {
  const init = c.u32(0);
  const flags = c.i32(1);
  if (flags & ~(abi.EFD_SEMAPHORE | abi.EFD_CLOEXEC | abi.EFD_NONBLOCK)) return EINVAL;
  const f = new EventFd(BigInt(init), (flags & abi.EFD_SEMAPHORE) !== 0, flags & abi.EFD_NONBLOCK);
  return c.proc.fds.install(f, (flags & abi.EFD_CLOEXEC) !== 0);
}
