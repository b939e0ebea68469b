// The sandbox's terminals: the console (with --console) and the ptys, which
// session each controls, and the device files devfs serves for them:
// /dev/tty (the caller's controlling terminal), /dev/console, /dev/ptmx and
// the devpts directory /dev/pts.
//
// Controlling terminals (Linux's model, per session): a terminal controls at
// most one session (Tty.session) and a session has at most one terminal. A
// session leader that opens a terminal without O_NOCTTY, when neither has
// one yet, acquires it (tty_open's __proc_set_tty); TIOCSCTTY does so
// explicitly. setsid() leaves the old terminal behind by construction (the
// new session controls none). When a session leader exits, its terminal's
// foreground group gets SIGHUP and SIGCONT and the terminal is free.

import * as abi from '../../linux/abi.js';
import { EIO, ENOENT, ENOSPC, ENXIO, Errno } from '../../linux/errno.js';
import type { File } from '../files/file.js';
import { Inode } from '../vfs/inode.js';
import { allocIno, makeAttr } from '../vfs/attr.js';
import type { Attr } from '../../backend/backend.js';
import { SynthDir } from '../filesystems/synthetic.js';
import { makedev } from '../filesystems/devfs.js';
import type { JobControl } from './job-control.js';
import type { Tty } from './tty.js';
import { TtyFile } from './tty-file.js';
import { HostConsole } from './console.js';
import { Pty, PtyMasterFile } from './pty.js';
import { closeFd } from '../../host/ffi.js';

/** Linux's default kernel.pty.max. */
const PTY_MAX = 4096;


export class TtyRegistry {
  console: HostConsole | null = null;
  private readonly ptys = new Map<number, Pty>();
  private readonly ptyNodes = new Map<number, Inode>();
  private readonly consoleAttr = makeAttr(abi.S_IFCHR | 0o600, { ino: allocIno(), rdev: makedev(5, 1) });

  constructor(readonly jobs: JobControl) {}

  /** The console on host fds `inFd` (keyboard) and `outFd` (screen). */
  attachConsole(inFd: number, outFd: number): HostConsole {
    this.console = new HostConsole(inFd, outFd, this.jobs);
    return this.console;
  }

  /**
   * Host terminals other than the console: one per process the runtime
   * exec'd with a terminal (exec -t), each driven like the console.
   */
  private readonly hostTerminals = new Set<HostConsole>();

  /**
   * A host terminal on `fd` (owned from here on) for a process the runtime
   * execs, sized `size`: three references to one open file on it, for fds
   * 0-2. The host fd closes with the last of them; `terminal.tty.acquire`
   * makes it the new session's controlling terminal.
   */
  hostTerminalStdio(fd: number, size?: { rows: number; cols: number }): { terminal: HostConsole; files: File[] } {
    const term = new HostConsole(fd, fd, this.jobs);
    if (size) term.resize({ rows: size.rows, cols: size.cols, xpixel: 0, ypixel: 0 });
    this.hostTerminals.add(term);
    const f = new TtyFile(term.tty, abi.O_RDWR | abi.O_NOCTTY, '/dev/console', this, () => this.consoleAttr, () => {
      this.hostTerminals.delete(term);
      term.close();
      closeFd(fd);
    });
    return { terminal: term, files: [f, f.ref(), f.ref()] };
  }

  /** The terminal session `sid` controls. */
  cttyOf(sid: number): Tty | undefined {
    if (this.console?.tty.session === sid) return this.console.tty;
    for (const t of this.hostTerminals) if (t.tty.session === sid) return t.tty;
    for (const p of this.ptys.values()) if (p.tty.session === sid) return p.tty;
    return undefined;
  }

  /** A file on the console (init's stdio, /dev/console); ENXIO without one. */
  openConsole(flags: number, path: string): File | Errno {
    if (!this.console) return ENXIO;
    const f = new TtyFile(this.console.tty, flags, path, this, () => this.consoleAttr);
    this.maybeAcquire(this.console.tty, flags);
    return f;
  }

  /** /dev/tty: the caller's controlling terminal (ENXIO when it has none). */
  openCtty(flags: number, path: string): File | Errno {
    const caller = this.jobs.caller();
    const tty = caller ? this.cttyOf(caller.sid) : undefined;
    if (!tty) return ENXIO;
    if (tty === this.console?.tty) return this.openConsole(flags, path);
    for (const p of this.ptys.values()) if (p.tty === tty) return this.openSlave(p, flags | abi.O_NOCTTY, path);
    return ENXIO;
  }

  /** /dev/ptmx: a new pair, its master. */
  openMaster(flags: number, path: string): File | Errno {
    let index = 0;
    while (this.ptys.has(index)) index++;
    if (index >= PTY_MAX) return ENOSPC;
    const pty = new Pty(index, this.jobs);
    this.ptys.set(index, pty);
    const attr = makeAttr(abi.S_IFCHR | 0o666, { ino: allocIno(), rdev: makedev(5, 2) });
    this.ptyNodes.set(index, new PtsNode(this, pty));
    return new PtyMasterFile(pty, flags, path, this, () => attr, () => {
      this.ptys.delete(index);
      this.ptyNodes.delete(index);
    });
  }

  /** /dev/pts/N: the slave (EIO while locked or once the master is gone). */
  openSlave(pty: Pty, flags: number, path: string): File | Errno {
    if (pty.locked || !pty.masterOpen) return EIO;
    pty.slaveOpened();
    const f = new TtyFile(pty.tty, flags, path, this, () => slaveAttr(pty), () => pty.slaveClosed());
    this.maybeAcquire(pty.tty, flags);
    return f;
  }

  /** tty_open: a session leader with no terminal opening a free one without O_NOCTTY acquires it. */
  private maybeAcquire(tty: Tty, flags: number): void {
    if (flags & abi.O_NOCTTY) return;
    const caller = this.jobs.caller();
    if (!caller || caller.pid !== caller.sid || tty.session !== null || this.cttyOf(caller.sid)) return;
    tty.acquire(caller.sid, caller.pgid);
  }

  /** A session leader exited: its terminal hangs up its foreground group and is free. */
  sessionLeaderExited(sid: number): void {
    this.cttyOf(sid)?.disassociate();
  }

  /** The devpts directory: ptmx and one node per pty whose master is open. */
  devpts(): Inode {
    const ptmx = new DevNode(makeAttr(abi.S_IFCHR | 0o000, { ino: allocIno(), rdev: makedev(5, 2) }), (fl, p) => this.openMaster(fl, p));
    return new SynthDir(() => {
      const m = new Map<string, Inode>([['ptmx', ptmx]]);
      for (const [i, node] of [...this.ptyNodes.entries()].sort((a, b) => a[0] - b[0])) m.set(String(i), node);
      return m;
    }, 0o755);
  }

  /** /dev/tty, /dev/console and /dev/ptmx for devfs. */
  devNodes(): Map<string, Inode> {
    return new Map<string, Inode>([
      ['tty', new DevNode(makeAttr(abi.S_IFCHR | 0o666, { ino: allocIno(), rdev: makedev(5, 0) }), (fl, p) => this.openCtty(fl, p))],
      ['console', new DevNode(this.consoleAttr, (fl, p) => this.openConsole(fl, p))],
      ['ptmx', new DevNode(makeAttr(abi.S_IFCHR | 0o666, { ino: allocIno(), rdev: makedev(5, 2) }), (fl, p) => this.openMaster(fl, p))],
    ]);
  }
}

const slaveAttrs = new WeakMap<Pty, Attr>();
function slaveAttr(pty: Pty): Attr {
  let a = slaveAttrs.get(pty);
  if (!a) slaveAttrs.set(pty, (a = makeAttr(abi.S_IFCHR | 0o620, { ino: allocIno(), rdev: makedev(136, pty.index) })));
  return a;
}

/** A character device node whose open is a function. */
class DevNode extends Inode {
  readonly type = abi.S_IFCHR;
  constructor(
    private readonly attr: Attr,
    private readonly opener: (flags: number, path: string) => File | Errno,
  ) {
    super();
  }
  getattr(): Attr {
    return this.attr;
  }
  open(flags: number, path: string): File | Errno {
    return this.opener(flags, path);
  }
}

class PtsNode extends Inode {
  readonly type = abi.S_IFCHR;
  constructor(
    private readonly ttys: TtyRegistry,
    private readonly pty: Pty,
  ) {
    super();
  }
  getattr(): Attr {
    return slaveAttr(this.pty);
  }
  open(flags: number, path: string): File | Errno {
    if (!this.pty.masterOpen) return ENOENT;
    return this.ttys.openSlave(this.pty, flags, path);
  }
}
