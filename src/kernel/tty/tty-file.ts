// Open files of a terminal: the terminal side (the console, a pty slave) and
// its ioctls (Linux's tty_ioctl, tty_mode_ioctl and n_tty_ioctl). A pty's
// master side is in pty.ts and shares the ioctls below for the slave it
// stands for, as Linux's master does (real_tty = the slave).
//
// Contract: job-control checks (background reads, TOSTOP writes, settings
// changed from a background group) happen here, at the start of a call, with
// the caller the JobControl names; a call that sent SIGTTIN/SIGTTOU ends with
// EINTR and restarts once the caller is continued.

import * as abi from '../../linux/abi.js';
import { EINVAL, ENOTTY, EPERM, ESRCH, Errno, isErrno } from '../../linux/errno.js';
import { File, type MaybeAsync, type TerminalOps } from '../files/file.js';
import type { WaitQueue } from '../files/waitqueue.js';
import type { UserMemory } from '../usercopy.js';
import type { Attr } from '../../backend/backend.js';
import { Termios, decodeWinsize, encodeWinsize } from './termios.js';
import type { Tty } from './tty.js';
import type { TtyCaller } from './job-control.js';

/** What the ioctls need to know beyond the terminal: which terminal a session controls. */
export interface CttyLookup {
  cttyOf(sid: number): Tty | undefined;
}

/** The terminal side: reads, writes and ioctls through the line discipline. */
export class TtyFile extends File implements TerminalOps {
  constructor(
    readonly tty: Tty,
    flags: number,
    path: string,
    private readonly ttys: CttyLookup,
    private readonly attr: () => Attr,
    private readonly onClose?: () => void,
  ) {
    super(flags, path);
  }

  override read(len: number): MaybeAsync<Uint8Array | Errno> {
    const caller = this.tty.jobs.caller();
    const jc = this.tty.checkJobControl(caller, abi.SIGTTIN);
    if (jc !== 0) return jc;
    return this.tty.read(len, caller, this.nonblocking);
  }

  override write(data: Uint8Array): number | Errno {
    if (this.tty.termios.l(abi.TOSTOP)) {
      const jc = this.tty.checkJobControl(this.tty.jobs.caller(), abi.SIGTTOU);
      if (jc !== 0) return jc;
    }
    return this.tty.write(data);
  }

  override pollEvents(): number {
    return this.tty.pollEvents();
  }

  override get waitQueue(): WaitQueue {
    return this.tty.waitQueue;
  }

  override readableBytes(): number {
    return this.tty.readableBytes();
  }

  getattr(): Attr {
    return this.attr();
  }

  override terminal(): TerminalOps {
    return this;
  }

  protected override release(): void {
    this.onClose?.();
  }

  ioctl(cmd: number, arg: number, user: UserMemory): number | Errno {
    return terminalIoctl(this.tty, false, this.ttys, cmd, arg, user, this.readable);
  }
}

/**
 * A terminal ioctl on `tty`. `viaMaster`: issued on a pty master, which
 * stands for its slave without being anyone's controlling terminal (no
 * ctty check on the queries, no job control).
 */
export function terminalIoctl(tty: Tty, viaMaster: boolean, ttys: CttyLookup, cmd: number, arg: number, user: UserMemory, readable: boolean): number | Errno {
  const caller = tty.jobs.caller();
  const isCtty = caller !== null && tty.session !== null && caller.sid === tty.session;
  const change = () => (viaMaster ? 0 : tty.checkJobControl(caller, abi.SIGTTOU));
  switch (cmd) {
    case abi.TCGETS:
      return user.copyOut(arg, tty.termios.encode());
    case abi.TCSETS:
    case abi.TCSETSW:
    case abi.TCSETSF: {
      const b = user.copyIn(arg, abi.TERMIOS.size);
      if (isErrno(b)) return b;
      const jc = change();
      if (jc !== 0) return jc;
      // Output is written through at once, so TCSETSW's drain has nothing to wait for.
      if (cmd === abi.TCSETSF) tty.flushInput();
      tty.setTermios(Termios.decode(b));
      return 0;
    }
    case abi.TIOCGWINSZ:
      return user.copyOut(arg, encodeWinsize(tty.winsize));
    case abi.TIOCSWINSZ: {
      const b = user.copyIn(arg, abi.WINSIZE.size);
      if (isErrno(b)) return b;
      tty.setWinsize(decodeWinsize(b));
      return 0;
    }
    case abi.TCFLSH: {
      const jc = change();
      if (jc !== 0) return jc;
      return tty.flush(arg, viaMaster);
    }
    case abi.TCXONC: {
      const jc = change();
      if (jc !== 0) return jc;
      return tty.flow(arg);
    }
    case abi.TCSBRK:
    case abi.TCSBRKP:
      return change(); // tcdrain/tcsendbreak: nothing queued to drain, no line to break
    case abi.TIOCOUTQ:
      return user.writeU32(arg, 0);
    case abi.TIOCGETD:
      return user.writeU32(arg, 0); // N_TTY
    case abi.TIOCGPGRP:
      if (!viaMaster && !isCtty) return ENOTTY;
      return user.writeU32(arg, tty.pgrp ?? 0);
    case abi.TIOCGSID:
      if (!viaMaster && !isCtty) return ENOTTY;
      if (tty.session === null) return ENOTTY;
      return user.writeU32(arg, tty.session);
    case abi.TIOCSPGRP:
      return setForeground(tty, viaMaster, caller, isCtty, arg, user);
    case abi.TIOCSCTTY:
      return setCtty(tty, ttys, caller, arg, readable);
    case abi.TIOCNOTTY:
      if (viaMaster || !isCtty) return ENOTTY;
      // Per-session model: only the leader's TIOCNOTTY detaches the terminal (Linux also drops a non-leader's own link).
      if (caller.pid === caller.sid) tty.disassociate();
      return 0;
    default:
      return ENOTTY;
  }
}

/** TIOCSPGRP (Linux's tiocspgrp). */
function setForeground(tty: Tty, viaMaster: boolean, caller: TtyCaller | null, isCtty: boolean, arg: number, user: UserMemory): number | Errno {
  if (!viaMaster) {
    const jc = tty.checkJobControl(caller, abi.SIGTTOU);
    if (jc !== 0) return jc.name === 'EIO' ? ENOTTY : jc;
  }
  if (!caller || !isCtty) return ENOTTY;
  const pg = user.readI32(arg);
  if (isErrno(pg)) return pg;
  if (pg < 0) return EINVAL;
  const sid = tty.jobs.groupSession(pg);
  if (sid === null) return ESRCH;
  if (sid !== caller.sid) return EPERM;
  tty.pgrp = pg;
  return 0;
}

/** TIOCSCTTY (Linux's tiocsctty): a session leader without a terminal takes this one. */
function setCtty(tty: Tty, ttys: CttyLookup, caller: TtyCaller | null, arg: number, readable: boolean): number | Errno {
  if (!caller) return EPERM;
  const leader = caller.pid === caller.sid;
  if (leader && tty.session === caller.sid) return 0;
  if (!leader || ttys.cttyOf(caller.sid)) return EPERM;
  if (tty.session !== null) {
    if (arg !== 1 || !caller.sysAdmin) return EPERM;
  }
  if (!readable && !caller.sysAdmin) return EPERM;
  tty.acquire(caller.sid, caller.pgid);
  return 0;
}
