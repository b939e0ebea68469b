// A terminal: Linux's N_TTY line discipline over a driver, plus the
// terminal's job-control state (its session and foreground process group).
//
// Model (drivers/tty/n_tty.c):
// - Input arrives from the driver (`receive`): the host console's keyboard,
//   or what a pty master writes. Each byte goes through input processing
//   (ISTRIP, IXON, ISIG, IGNCR/ICRNL/INLCR), then either the canonical line
//   editor (ICANON: erase, kill, werase, lnext, reprint, EOF, EOL) or the raw
//   queue. Echo (ECHO, ECHOE, ECHOK, ECHOKE, ECHOCTL, ECHONL) goes straight to
//   the driver through output processing, whether or not anyone reads.
// - Output from write(2) and echo goes through output processing (OPOST:
//   ONLCR, OCRNL, ONOCR, ONLRET, XTABS), which tracks the cursor column so
//   that erasing a tab moves back the right amount.
// - Reads: canonical mode returns at most one line (a line ended by VEOF
//   carries no EOF byte; an empty one reads as end of file); raw mode follows
//   VMIN/VTIME as n_tty_read does. Reads wait here (with their caller's
//   Blocker), because VTIME is a timeout of the read itself.
// - The input queue holds at most N_TTY_BUF_SIZE - 1 bytes; the driver asks
//   `room()` before feeding more (flow control toward the host or pty master).
// - Readiness (POLLIN/POLLOUT/POLLHUP) is announced on `waitQueue`.
//
// Job control (the controlling terminal) is here too; the checks that need
// the caller (background reads and writes) are in checkJobControl.

import * as abi from '../../linux/abi.js';
import { EAGAIN, EINTR, EINVAL, EIO, Errno } from '../../linux/errno.js';
import { WaitQueue } from '../files/waitqueue.js';
import { Wake, waitUntil } from '../files/blocking.js';
import { Termios, type Winsize } from './termios.js';
import type { JobControl, TtyCaller } from './job-control.js';
import { performance } from 'node:perf_hooks';

/** Linux's N_TTY_BUF_SIZE. */
export const N_TTY_BUF_SIZE = 4096;

/** The device side of a terminal. */
export interface TtyDriver {
  /** Bytes of processed output the device takes now (Infinity: no limit). */
  writeRoom(): number;
  /** Take processed output (write(2) after writeRoom, or echo, which is never refused). */
  output(bytes: Uint8Array): void;
  /** Discard output not yet delivered (TCOFLUSH, a signal character without NOFLSH). */
  flushOutput(): void;
  /** The input queue has room again: the driver may feed more (unthrottle). */
  inputRoom(): void;
}

interface Line {
  bytes: number[];
  /** Ended by VEOF: the terminator is not data. */
  eof: boolean;
}

const isCntrl = (c: number) => c < 32 || c === 127;
const isContinuation = (c: number, t: Termios) => t.i(abi.IUTF8) && (c & 0xc0) === 0x80;
const isWordChar = (c: number) => (c >= 48 && c <= 57) || (c >= 65 && c <= 90) || (c >= 97 && c <= 122) || c === 95;

export class Tty {
  termios = new Termios();
  winsize: Winsize = { rows: 24, cols: 80, xpixel: 0, ypixel: 0 };
  /** The session this is the controlling terminal of (null: none). */
  session: number | null = null;
  /** The foreground process group (null: none). */
  pgrp: number | null = null;
  /** Hung up (the pty master closed, or the session leader went away with HUPCL): reads see EOF, writes EIO. */
  hungUp = false;
  /** Output stopped by ^S or TCOOFF. */
  stopped = false;
  readonly waitQueue = new WaitQueue();

  /** Complete lines (canonical mode). */
  private lines: Line[] = [];
  /** The line being edited (canonical mode) or every unread byte (raw mode). */
  private edit: number[] = [];
  private queued = 0;
  private lnext = false;
  /** Output column, and the column where the line being edited began. */
  private column = 0;
  private canonColumn = 0;
  /** Bumped on every change of the input queue (waits compare it). */
  private inputSeq = 0;
  private lastInput = 0;

  constructor(
    private readonly driver: TtyDriver,
    readonly jobs: JobControl,
    /** For messages and /proc: "console", "pts/0". */
    readonly name: string,
  ) {}

  // ---- input ----

  /** Bytes of input the queue takes now. */
  room(): number {
    return Math.max(0, N_TTY_BUF_SIZE - 1 - this.queued);
  }

  /** Input from the device; returns how many bytes were taken (the rest waits for inputRoom). */
  receive(bytes: Uint8Array): number {
    let n = 0;
    const canonStuck = () => this.termios.l(abi.ICANON) && this.lines.length === 0;
    for (; n < bytes.length; n++) {
      // A canonical line as long as the whole buffer still takes its terminator and edits (Linux's overflow rule).
      if (this.room() === 0 && !canonStuck()) break;
      this.receiveChar(bytes[n]);
    }
    if (n > 0) this.inputChanged();
    return n;
  }

  /**
   * Input a host terminal's own line discipline already edited and echoed
   * before the console took the terminal over (host/terminal.ts
   * takeCanonicalInput): one entry per line a canonical read returned, an
   * empty entry for an end-of-file mark. In canonical mode each becomes a
   * complete line as typed (an entry without its newline was ended by VEOF,
   * so an empty one reads as end of file); in raw mode only the bytes count.
   * No echo and no editing: the host did both. Entries past the queue's
   * room are dropped, as a full n_tty drops input.
   */
  receiveLines(entries: readonly Uint8Array[]): void {
    const canon = this.termios.l(abi.ICANON);
    for (const e of entries) {
      if (e.length > this.room()) break;
      const bytes = Array.from(e);
      this.queued += bytes.length;
      if (!canon) this.edit.push(...bytes);
      else this.lines.push({ bytes, eof: bytes.length === 0 || bytes[bytes.length - 1] !== 10 });
    }
    if (entries.length > 0) this.inputChanged();
  }

  private inputChanged(): void {
    this.inputSeq++;
    this.lastInput = performance.now();
    this.waitQueue.notify(abi.POLLIN | abi.POLLRDNORM);
  }

  private receiveChar(c: number): void {
    const t = this.termios;
    if (t.i(abi.ISTRIP)) c &= 0x7f;
    if (this.lnext) {
      this.lnext = false;
      if (t.l(abi.ECHO)) {
        if (t.l(abi.ECHOCTL)) this.echoRaw([8]); // back over the '^' shown for ^V
        this.echoChar(c);
      }
      this.put(c);
      return;
    }
    if (t.i(abi.IXON)) {
      if (c === t.char(abi.VSTOP)) {
        if (!this.stopped || c !== t.char(abi.VSTART)) return this.stopOutput();
      }
      if (c === t.char(abi.VSTART)) return this.startOutput();
    }
    if (t.l(abi.ISIG)) {
      const sig = c === t.char(abi.VINTR) ? abi.SIGINT : c === t.char(abi.VQUIT) ? abi.SIGQUIT : c === t.char(abi.VSUSP) ? abi.SIGTSTP : 0;
      if (sig) return this.signalChar(sig, c);
    }
    if (this.stopped && t.i(abi.IXON) && t.i(abi.IXANY)) this.startOutput();
    if (c === 13) {
      if (t.i(abi.IGNCR)) return;
      if (t.i(abi.ICRNL)) c = 10;
    } else if (c === 10 && t.i(abi.INLCR)) c = 13;
    if (t.l(abi.ICANON)) {
      if (c === t.char(abi.VERASE) || c === t.char(abi.VKILL) || (c === t.char(abi.VWERASE) && t.l(abi.IEXTEN))) return this.erase(c);
      if (c === t.char(abi.VLNEXT) && t.l(abi.IEXTEN)) {
        this.lnext = true;
        if (t.l(abi.ECHO) && t.l(abi.ECHOCTL)) this.echoRaw([94, 8]); // "^\b"
        return;
      }
      if (c === t.char(abi.VREPRINT) && t.l(abi.ECHO) && t.l(abi.IEXTEN)) return this.reprint(c);
      if (c === 10) {
        if (t.l(abi.ECHO) || t.l(abi.ECHONL)) this.echoRaw([10]);
        return this.endLine(c, false);
      }
      if (c === t.char(abi.VEOF)) return this.endLine(-1, true);
      if (c === t.char(abi.VEOL) || (c === t.char(abi.VEOL2) && t.l(abi.IEXTEN))) {
        if (t.l(abi.ECHO)) {
          if (this.edit.length === 0) this.canonColumn = this.column;
          this.echoChar(c);
        }
        return this.endLine(c, false);
      }
    }
    if (t.l(abi.ECHO)) {
      if (c === 10) this.echoRaw([10]);
      else {
        if (t.l(abi.ICANON) && this.edit.length === 0) this.canonColumn = this.column;
        this.echoChar(c);
      }
    }
    this.put(c);
  }

  private put(c: number): void {
    if (this.termios.l(abi.ICANON) && this.room() === 0) return; // the overflowing line drops all but its terminator
    this.edit.push(c);
    this.queued++;
  }

  private endLine(c: number, eof: boolean): void {
    if (c >= 0) {
      this.edit.push(c);
      this.queued++;
    }
    this.lines.push({ bytes: this.edit, eof });
    this.edit = [];
  }

  /** ^C, ^\, ^Z (Linux's isig and n_tty_receive_signal_char). */
  private signalChar(sig: number, c: number): void {
    if (this.pgrp !== null) this.jobs.signalGroup(this.pgrp, sig);
    if (!this.termios.l(abi.NOFLSH)) {
      this.flushInput();
      this.driver.flushOutput();
    }
    if (this.termios.i(abi.IXON)) this.startOutput();
    if (this.termios.l(abi.ECHO)) this.echoChar(c);
  }

  /** VERASE, VKILL, VWERASE on the line being edited (Linux's eraser). */
  private erase(c: number): void {
    const t = this.termios;
    if (this.edit.length === 0) return;
    const kind = c === t.char(abi.VERASE) ? 'erase' : c === t.char(abi.VWERASE) ? 'werase' : 'kill';
    if (kind === 'kill') {
      if (!t.l(abi.ECHO)) return this.dropEdit();
      if (!t.l(abi.ECHOK) || !t.l(abi.ECHOKE) || !t.l(abi.ECHOE)) {
        this.dropEdit();
        this.echoChar(c);
        if (t.l(abi.ECHOK)) this.echoRaw([10]);
        return;
      }
    }
    let seenWord = false;
    while (this.edit.length > 0) {
      // One character: with IUTF8, a lead byte and its continuation bytes.
      let start = this.edit.length - 1;
      while (start > 0 && isContinuation(this.edit[start], t)) start--;
      const ch = this.edit[start];
      if (kind === 'werase') {
        if (isWordChar(ch)) seenWord = true;
        else if (seenWord) break;
      }
      const removed = this.edit.length - start;
      this.edit.length = start;
      this.queued -= removed;
      if (t.l(abi.ECHO)) {
        if (kind === 'erase' && !t.l(abi.ECHOE)) this.echoChar(c);
        else if (ch === 9) this.echoRaw(new Array(this.tabWidthAt(this.edit)).fill(8));
        else {
          if (isCntrl(ch) && t.l(abi.ECHOCTL)) this.echoRaw([8, 32, 8]);
          if (!isCntrl(ch) || t.l(abi.ECHOCTL)) this.echoRaw([8, 32, 8]);
        }
      }
      if (kind === 'erase') break;
    }
    this.inputChanged();
  }

  /** Columns a tab took when typed after `before` on the line (for erasing it). */
  private tabWidthAt(before: number[]): number {
    const t = this.termios;
    let col = this.canonColumn;
    for (const ch of before) {
      if (ch === 9) col = (col | 7) + 1;
      else if (isCntrl(ch)) col += t.l(abi.ECHOCTL) ? 2 : 0;
      else if (!isContinuation(ch, t)) col++;
    }
    return 8 - (col & 7);
  }

  private dropEdit(): void {
    this.queued -= this.edit.length;
    this.edit = [];
    this.inputChanged();
  }

  /** ^R: show the reprint character, a new line, and the line so far. */
  private reprint(c: number): void {
    this.echoChar(c);
    this.echoRaw([10]);
    this.canonColumn = this.column;
    for (const ch of this.edit) this.echoChar(ch);
  }

  /** Discard unread input (TCIFLUSH, a signal character). */
  flushInput(): void {
    const had = this.queued > 0;
    this.lines = [];
    this.edit = [];
    this.queued = 0;
    this.lnext = false;
    if (had) {
      this.inputChanged();
      this.driver.inputRoom();
    }
  }

  /** TCFLSH. Via a pty master, the master's directions: its input is the slave's output; its output reaches the slave at once (nothing to discard). */
  flush(which: number, viaMaster = false): 0 | Errno {
    if (which !== abi.TCIFLUSH && which !== abi.TCOFLUSH && which !== abi.TCIOFLUSH) return EINVAL;
    if (viaMaster ? which !== abi.TCOFLUSH : which !== abi.TCIFLUSH) this.driver.flushOutput();
    if (!viaMaster && which !== abi.TCOFLUSH) this.flushInput();
    return 0;
  }

  // ---- echo and output ----

  /** Echo one input character: control characters as ^X under ECHOCTL (not tab or newline). */
  private echoChar(c: number): void {
    if (this.termios.l(abi.ECHOCTL) && isCntrl(c) && c !== 9 && c !== 10) {
      this.column += 2;
      this.driver.output(Uint8Array.of(94, c ^ 0o100));
    } else this.echoRaw([c]);
  }

  private echoRaw(bytes: number[]): void {
    this.driver.output(this.processOutput(bytes));
  }

  /** OPOST: the bytes the device gets for `data` (Linux's do_output_char), tracking the column. */
  private processOutput(data: ArrayLike<number>): Uint8Array {
    const t = this.termios;
    if (!t.o(abi.OPOST)) return Uint8Array.from(data);
    const out: number[] = [];
    for (let i = 0; i < data.length; i++) {
      let c = data[i];
      switch (c) {
        case 10:
          if (t.o(abi.ONLRET)) this.column = 0;
          if (t.o(abi.ONLCR)) {
            this.column = 0;
            this.canonColumn = 0;
            out.push(13, 10);
            continue;
          }
          this.canonColumn = this.column;
          break;
        case 13:
          if (t.o(abi.ONOCR) && this.column === 0) continue;
          if (t.o(abi.OCRNL)) {
            c = 10;
            if (t.o(abi.ONLRET)) this.canonColumn = this.column = 0;
            break;
          }
          this.canonColumn = this.column = 0;
          break;
        case 9: {
          const spaces = 8 - (this.column & 7);
          this.column += spaces;
          if ((t.oflag & abi.TABDLY) === abi.XTABS) {
            for (let s = 0; s < spaces; s++) out.push(32);
            continue;
          }
          break;
        }
        case 8:
          if (this.column > 0) this.column--;
          break;
        default:
          if (!isCntrl(c)) {
            if (t.o(abi.OLCUC) && c >= 97 && c <= 122) c -= 32;
            if (!isContinuation(c, t)) this.column++;
          }
      }
      out.push(c);
    }
    return Uint8Array.from(out);
  }

  private stopOutput(): void {
    this.stopped = true;
  }

  private startOutput(): void {
    if (!this.stopped) return;
    this.stopped = false;
    this.waitQueue.notify(abi.POLLOUT | abi.POLLWRNORM);
  }

  /** TCXONC. */
  flow(action: number): 0 | Errno {
    const t = this.termios;
    switch (action) {
      case abi.TCOOFF:
        this.stopOutput();
        return 0;
      case abi.TCOON:
        this.startOutput();
        return 0;
      case abi.TCIOFF:
        if (t.char(abi.VSTOP) >= 0) this.driver.output(Uint8Array.of(t.char(abi.VSTOP)));
        return 0;
      case abi.TCION:
        if (t.char(abi.VSTART) >= 0) this.driver.output(Uint8Array.of(t.char(abi.VSTART)));
        return 0;
    }
    return EINVAL;
  }

  // ---- reads and writes (job control already checked by the caller) ----

  /** Bytes a read would return now (FIONREAD): complete lines in canonical mode (EOF markers not counted). */
  readableBytes(): number {
    if (!this.termios.l(abi.ICANON)) return this.edit.length;
    return this.lines.reduce((n, l) => n + l.bytes.length, 0);
  }

  /** POLLIN readiness (Linux's input_available_p with poll set: VMIN counts when VTIME is 0). */
  pollIn(): boolean {
    const t = this.termios;
    if (t.l(abi.ICANON)) return this.lines.length > 0;
    const min = t.cc[abi.VMIN];
    const amt = t.cc[abi.VTIME] === 0 && min > 0 ? min : 1;
    return this.edit.length >= amt;
  }

  pollEvents(): number {
    let m = 0;
    if (this.pollIn()) m |= abi.POLLIN | abi.POLLRDNORM;
    if (this.hungUp) m |= abi.POLLHUP | abi.POLLIN | abi.POLLRDNORM;
    else if (!this.stopped && this.driver.writeRoom() > 0) m |= abi.POLLOUT | abi.POLLWRNORM;
    return m;
  }

  /**
   * read(2) after job control: up to `len` bytes as n_tty_read returns them.
   * `caller` null or `nonblocking`: never waits (EAGAIN where it would).
   */
  read(len: number, caller: TtyCaller | null, nonblocking: boolean): Uint8Array | Errno | Promise<Uint8Array | Errno> {
    const first = this.tryRead(len, false);
    if (first !== null) return first;
    if (nonblocking || !caller) return EAGAIN;
    return (async () => {
      const began = performance.now();
      for (;;) {
        // Settings may change while the read waits (TCSETS from another thread): each round reads them afresh.
        const t = this.termios;
        const seq = this.inputSeq;
        const min = t.cc[abi.VMIN];
        const time = t.cc[abi.VTIME] * 100;
        let deadline: number | null = null;
        if (!t.l(abi.ICANON) && time > 0) deadline = min === 0 ? began + time : this.edit.length > 0 ? this.lastInput + time : null;
        const w = await waitUntil(caller.blocker, [{ queue: this.waitQueue, mask: abi.POLLIN }], () => this.inputSeq !== seq || this.hungUp || t !== this.termios, deadline);
        if (w === Wake.Signal) return EINTR;
        const r = this.tryRead(len, w === Wake.Timeout);
        if (r !== null) return r;
      }
    })();
  }

  /**
   * One attempt: the bytes to return, or null to keep waiting. Raw mode per
   * VMIN/VTIME: MIN bytes (or `len` if fewer) end a read; with TIME, what
   * came before the timer ran out (`timedOut`) does; MIN 0 and TIME 0 never wait.
   */
  private tryRead(len: number, timedOut: boolean): Uint8Array | null {
    const t = this.termios;
    if (t.l(abi.ICANON)) {
      const line = this.lines[0];
      if (!line) return this.hungUp ? new Uint8Array(0) : null;
      const n = Math.min(len, line.bytes.length);
      const out = Uint8Array.from(line.bytes.slice(0, n));
      line.bytes = line.bytes.slice(n);
      if (line.bytes.length === 0) this.lines.shift();
      this.consumed(n);
      return out;
    }
    const min = t.cc[abi.VMIN];
    const time = t.cc[abi.VTIME];
    const avail = this.edit.length;
    const enough = min === 0 ? avail > 0 || time === 0 : avail >= Math.min(len, min);
    if (!enough && !timedOut && !this.hungUp) return null;
    const n = Math.min(len, avail);
    const out = Uint8Array.from(this.edit.slice(0, n));
    this.edit = this.edit.slice(n);
    this.consumed(n);
    return out;
  }

  private consumed(n: number): void {
    if (n === 0) return;
    this.queued -= n;
    this.driver.inputRoom();
  }

  /** write(2) after job control: the count of `data` taken (EAGAIN: none fits now; EIO: hung up). */
  write(data: Uint8Array): number | Errno {
    if (this.hungUp) return EIO;
    if (this.stopped) return EAGAIN;
    const room = this.driver.writeRoom();
    if (room <= 0) return EAGAIN;
    const n = Math.min(data.length, room === Infinity ? data.length : Math.max(1, room >> 1));
    this.driver.output(this.processOutput(data.subarray(0, n)));
    return n;
  }

  // ---- settings ----

  /** TCSETS*: new settings; a change of ICANON moves the queue between line and raw form as Linux does. */
  setTermios(next: Termios): void {
    const wasCanon = this.termios.l(abi.ICANON);
    this.termios = next;
    const canon = next.l(abi.ICANON);
    if (wasCanon && !canon) {
      const all: number[] = [];
      for (const l of this.lines) all.push(...l.bytes);
      all.push(...this.edit);
      this.lines = [];
      this.edit = all;
      this.queued = all.length;
    } else if (!wasCanon && canon && this.edit.length > 0) {
      this.lines.push({ bytes: this.edit, eof: false });
      this.edit = [];
    }
    if (wasCanon !== canon) this.lnext = false;
    if (this.stopped && !next.i(abi.IXON)) this.startOutput();
    // Readers compare the termios object: a mode change re-evaluates every waiting read.
    this.inputChanged();
  }

  /** TIOCSWINSZ or a host resize: SIGWINCH to the foreground group when it changed. */
  setWinsize(w: Winsize): void {
    const old = this.winsize;
    if (old.rows === w.rows && old.cols === w.cols && old.xpixel === w.xpixel && old.ypixel === w.ypixel) return;
    this.winsize = { ...w };
    if (this.pgrp !== null) this.jobs.signalGroup(this.pgrp, abi.SIGWINCH);
  }

  /**
   * The device went away (the host terminal closed, the pty master was
   * closed): readers see end of file, writers EIO; the session leader gets
   * SIGHUP and SIGCONT, as does the foreground group (which Linux signals
   * when the leader then exits), and the terminal controls no session
   * (tty_vhangup).
   */
  hangup(): void {
    if (this.hungUp) return;
    this.hungUp = true;
    const sid = this.session;
    if (sid !== null) {
      this.jobs.signalProcess(sid, abi.SIGHUP);
      this.jobs.signalProcess(sid, abi.SIGCONT);
      this.disassociate();
    }
    this.waitQueue.notify(abi.POLLIN | abi.POLLOUT | abi.POLLHUP);
  }

  // ---- job control ----

  /**
   * Linux's job_control / tty_check_change for a call on this terminal by
   * `caller`: a member of a background group of this terminal's session gets
   * `sig` (SIGTTIN for reads; SIGTTOU for writes under TOSTOP and for calls
   * that change settings) and the call ends to restart later. `sig` ignored
   * or blocked: reads get EIO, the rest go ahead; an orphaned group gets EIO.
   * 0 when the call may go on.
   */
  checkJobControl(caller: TtyCaller | null, sig: number): 0 | Errno {
    if (!caller || this.session === null || caller.sid !== this.session || this.pgrp === null || caller.pgid === this.pgrp) return 0;
    if (caller.ignoresOrBlocks(sig)) return sig === abi.SIGTTIN ? EIO : 0;
    if (this.jobs.isOrphaned(caller.pgid, caller.sid)) return EIO;
    this.jobs.signalGroup(caller.pgid, sig);
    caller.restartLater();
    return EINTR;
  }

  /** Become the controlling terminal of `sid` with `pgid` in the foreground. */
  acquire(sid: number, pgid: number): void {
    this.session = sid;
    this.pgrp = pgid;
  }

  /**
   * The session leader gave up or lost this terminal (TIOCNOTTY by the
   * leader, or its exit): the foreground group gets SIGHUP and SIGCONT
   * (Linux's disassociate_ctty) and the terminal belongs to no session.
   */
  disassociate(): void {
    const pg = this.pgrp;
    this.session = null;
    this.pgrp = null;
    if (pg !== null) {
      this.jobs.signalGroup(pg, abi.SIGHUP);
      this.jobs.signalGroup(pg, abi.SIGCONT);
    }
  }
}
