// The line discipline (src/kernel/tty): canonical editing and echo as Linux's
// n_tty does them, raw mode's VMIN/VTIME, signal characters, output
// processing, job control and the controlling-terminal ioctls, and ptys.
// A fake driver records what the device gets; a fake JobControl records the
// signals the terminal sends.

import * as assert from 'node:assert/strict';
import * as abi from '../../src/linux/abi.js';
import { EAGAIN, EINTR, EIO, ENOTTY, EPERM, ESRCH, Errno, isErrno } from '../../src/linux/errno.js';
import { Tty, type TtyDriver } from '../../src/kernel/tty/tty.js';
import { Termios, decodeWinsize, encodeWinsize } from '../../src/kernel/tty/termios.js';
import { terminalIoctl } from '../../src/kernel/tty/tty-file.js';
import { TtyRegistry } from '../../src/kernel/tty/registry.js';
import { PtyMasterFile } from '../../src/kernel/tty/pty.js';
import type { JobControl, TtyCaller } from '../../src/kernel/tty/job-control.js';
import type { UserMemory } from '../../src/kernel/usercopy.js';
import type { File, TerminalOps } from '../../src/kernel/files/file.js';
import { FakeThread, settle } from './files/fake-thread.js';

class FakeDevice implements TtyDriver {
  out = '';
  room = Infinity;
  flushed = 0;
  roomCalls = 0;
  writeRoom(): number {
    return this.room;
  }
  output(bytes: Uint8Array): void {
    this.out += Buffer.from(bytes).toString('latin1');
  }
  flushOutput(): void {
    this.flushed++;
  }
  inputRoom(): void {
    this.roomCalls++;
  }
  take(): string {
    const s = this.out;
    this.out = '';
    return s;
  }
}

interface Proc {
  pid: number;
  pgid: number;
  sid: number;
  ignored?: number[];
}

class FakeJobs implements JobControl {
  sent: [number, number][] = [];
  current: Proc | null = null;
  procs: Proc[] = [];
  orphaned = new Set<number>();
  restarts = 0;
  thread = new FakeThread();
  caller(): TtyCaller | null {
    const p = this.current;
    if (!p) return null;
    return {
      pid: p.pid,
      pgid: p.pgid,
      sid: p.sid,
      ignoresOrBlocks: (sig) => (p.ignored ?? []).includes(sig),
      restartLater: () => void this.restarts++,
      blocker: this.thread,
      sysAdmin: false,
    };
  }
  signalGroup(pgid: number, sig: number): void {
    this.sent.push([pgid, sig]);
  }
  signalProcess(pid: number, sig: number): void {
    this.sent.push([-pid, sig]);
  }
  groupSession(pgid: number): number | null {
    return this.procs.find((p) => p.pgid === pgid)?.sid ?? null;
  }
  isOrphaned(pgid: number): boolean {
    return this.orphaned.has(pgid);
  }
}

/** A guest memory of one 4 KiB page at address 0x1000, for ioctl arguments. */
class FakeUser {
  readonly buf = new Uint8Array(4096);
  copyIn(addr: number, len: number): Uint8Array | Errno {
    return this.buf.slice(addr - 0x1000, addr - 0x1000 + len);
  }
  copyOut(addr: number, src: Uint8Array): 0 {
    this.buf.set(src, addr - 0x1000);
    return 0;
  }
  readI32(addr: number): number {
    return new DataView(this.buf.buffer).getInt32(addr - 0x1000, true);
  }
  writeU32(addr: number, v: number): 0 {
    new DataView(this.buf.buffer).setUint32(addr - 0x1000, v, true);
    return 0;
  }
}
const ARG = 0x1000;

function setup() {
  const dev = new FakeDevice();
  const jobs = new FakeJobs();
  const tty = new Tty(dev, jobs, 'test');
  const type = (s: string) => tty.receive(Buffer.from(s, 'latin1'));
  const read = (n = 4096) => {
    const r = tty.read(n, null, true);
    assert.ok(!(r instanceof Promise));
    return isErrno(r) ? r : Buffer.from(r).toString('latin1');
  };
  const ioctl = (cmd: number, user = new FakeUser()) => terminalIoctl(tty, false, { cttyOf: () => undefined }, cmd, ARG, user as unknown as UserMemory, true);
  return { dev, jobs, tty, type, read, ioctl };
}

function raw(tty: Tty, min: number, time: number, lflagOff = abi.ICANON | abi.ECHO): void {
  const t = Termios.decode(tty.termios.encode());
  t.lflag &= ~lflagOff;
  t.cc[abi.VMIN] = min;
  t.cc[abi.VTIME] = time;
  tty.setTermios(t);
}

describe('kernel/tty line discipline', () => {
  it("starts with Linux's termios: cooked, echoing, ^C ^\\ DEL ^U ^D ^Z ^W, 38400 8N1", () => {
    const b = new Termios().encode();
    const dv = new DataView(b.buffer);
    assert.equal(dv.getUint32(abi.TERMIOS.c_iflag, true), 0o2400); // ICRNL IXON
    assert.equal(dv.getUint32(abi.TERMIOS.c_oflag, true), 0o5); // OPOST ONLCR
    assert.equal(dv.getUint32(abi.TERMIOS.c_cflag, true), 0o2277); // B38400 CS8 CREAD HUPCL
    assert.equal(dv.getUint32(abi.TERMIOS.c_lflag, true), 0o105073); // ISIG ICANON ECHO ECHOE ECHOK ECHOCTL ECHOKE IEXTEN
    assert.deepEqual([...b.subarray(abi.TERMIOS.c_cc, abi.TERMIOS.c_cc + 17)], [3, 28, 127, 21, 4, 0, 1, 0, 17, 19, 26, 0, 18, 15, 23, 22, 0]);
  });

  it('canonical mode: a read waits for the line; CR becomes NL (ICRNL); echo goes out with ONLCR', () => {
    const { dev, type, read } = setup();
    type('ls -l');
    assert.equal(read(), EAGAIN);
    assert.equal(dev.take(), 'ls -l');
    type('\r');
    assert.equal(dev.take(), '\r\n');
    assert.equal(read(), 'ls -l\n');
  });

  it('canonical mode returns one line per read, and a short read leaves the rest of the line', () => {
    const { type, read } = setup();
    type('one\ntwo\n');
    assert.equal(read(2), 'on');
    assert.equal(read(), 'e\n');
    assert.equal(read(), 'two\n');
  });

  it('erase (DEL) with ECHOE rubs out one character; without ECHOE it echoes ^?', () => {
    const { dev, tty, type, read } = setup();
    type('abc\x7f\x7fd\n');
    assert.equal(read(), 'ad\n');
    assert.equal(dev.take(), 'abc\b \b\b \bd\r\n');
    const t = Termios.decode(tty.termios.encode());
    t.lflag &= ~abi.ECHOE;
    tty.setTermios(t);
    type('xy\x7f\n');
    assert.equal(dev.take(), 'xy^?\r\n');
    assert.equal(read(), 'x\n');
  });

  it('a control character echoed as ^X (ECHOCTL) is erased as two columns; a tab by its width', () => {
    const { dev, type, read } = setup();
    type('a\x01\x7f\x7f');
    assert.equal(dev.take(), 'a^A\b \b\b \b\b \b');
    type('ab\t\x7fc\n');
    // The tab went from column 2 to 8: erasing it backs up 6 columns.
    assert.equal(dev.take(), 'ab\t\b\b\b\b\b\bc\r\n');
    assert.equal(read(), 'abc\n');
  });

  it('kill (^U) with ECHOKE erases the whole line visually; without ECHOKE it echoes ^U and a newline (ECHOK)', () => {
    const { dev, tty, type, read } = setup();
    type('abc\x15x\n');
    assert.equal(dev.take(), 'abc\b \b\b \b\b \bx\r\n');
    assert.equal(read(), 'x\n');
    const t = Termios.decode(tty.termios.encode());
    t.lflag &= ~abi.ECHOKE;
    tty.setTermios(t);
    type('abc\x15y\n');
    assert.equal(dev.take(), 'abc^U\r\ny\r\n');
    assert.equal(read(), 'y\n');
  });

  it('word erase (^W) removes trailing blanks and one word', () => {
    const { type, read } = setup();
    type('echo hello wor_ld  \x17there\n');
    assert.equal(read(), 'echo hello there\n');
  });

  it('^V (lnext) makes the next character literal', () => {
    const { type, read } = setup();
    type('a\x16\x7fb\x16\x03\n');
    assert.equal(read(), 'a\x7fb\x03\n');
  });

  it('^D at the start of a line reads as end of file; after text it ends the line without a byte', () => {
    const { dev, type, read } = setup();
    type('abc\x04');
    assert.equal(read(), 'abc');
    type('\x04');
    assert.equal(read(), '');
    assert.equal(read(), EAGAIN);
    assert.equal(dev.take(), 'abc'); // ^D is not echoed
  });

  it('lines a host terminal cooked before the console took it are queued as typed lines, without echo; an empty one reads as end of file', () => {
    const { dev, tty, read } = setup();
    const enc = (x: string) => Buffer.from(x, 'latin1');
    tty.receiveLines([enc('first line\n'), enc('no newline'), enc(''), enc('a\x7fb\n')]);
    assert.equal(dev.take(), '', 'the host echoed them already');
    assert.equal(read(), 'first line\n');
    assert.equal(read(), 'no newline'); // ended by VEOF on the host
    assert.equal(read(), ''); // the end-of-file mark
    assert.equal(read(), 'a\x7fb\n', 'no editing: the host did it');
    assert.equal(read(), EAGAIN);
    // In raw mode only the bytes count.
    raw(tty, 1, 0);
    tty.receiveLines([enc('x\n'), enc(''), enc('y')]);
    assert.equal(read(), 'x\ny');
  });

  it('IGNCR drops CR; INLCR maps NL to CR; ECHO off echoes nothing but ECHONL still echoes newline', () => {
    const { dev, tty, type, read } = setup();
    let t = Termios.decode(tty.termios.encode());
    t.iflag = (t.iflag & ~abi.ICRNL) | abi.IGNCR;
    t.lflag = (t.lflag & ~abi.ECHO) | abi.ECHONL;
    tty.setTermios(t);
    type('se\rcret\n');
    assert.equal(read(), 'secret\n');
    assert.equal(dev.take(), '\r\n');
    t = Termios.decode(tty.termios.encode());
    t.iflag = (t.iflag & ~abi.IGNCR) | abi.INLCR;
    t.lflag &= ~abi.ICANON;
    tty.setTermios(t);
    type('\n');
    assert.equal(read(), '\r');
  });

  it('^C sends SIGINT to the foreground group, echoes ^C and flushes pending input; NOFLSH keeps it', () => {
    const { dev, jobs, tty, type, read } = setup();
    tty.acquire(1, 7);
    type('partial');
    dev.take();
    type('\x03');
    assert.deepEqual(jobs.sent, [[7, abi.SIGINT]]);
    assert.equal(dev.take(), '^C');
    assert.equal(dev.flushed, 1);
    type('x\n');
    assert.equal(read(), 'x\n');
    const t = Termios.decode(tty.termios.encode());
    t.lflag |= abi.NOFLSH;
    tty.setTermios(t);
    type('keep\x1c\x1a\n');
    assert.deepEqual(jobs.sent.slice(1), [
      [7, abi.SIGQUIT],
      [7, abi.SIGTSTP],
    ]);
    assert.equal(read(), 'keep\n');
  });

  it('ISIG off: ^C is an ordinary character', () => {
    const { jobs, tty, type, read } = setup();
    tty.acquire(1, 1);
    raw(tty, 1, 0, abi.ICANON | abi.ECHO | abi.ISIG);
    type('\x03');
    assert.deepEqual(jobs.sent, []);
    assert.equal(read(), '\x03');
  });

  it('^S stops output (writes wait) and ^Q restarts it', () => {
    const { tty, type } = setup();
    type('\x13');
    assert.equal(tty.write(Buffer.from('x')), EAGAIN);
    assert.equal(tty.pollEvents() & abi.POLLOUT, 0);
    type('\x11');
    assert.equal(tty.write(Buffer.from('x')), 1);
  });

  it('output processing: ONLCR, OCRNL, ONOCR, XTABS; OPOST off passes bytes through', () => {
    const { dev, tty } = setup();
    tty.write(Buffer.from('a\nb'));
    assert.equal(dev.take(), 'a\r\nb');
    const t = Termios.decode(tty.termios.encode());
    t.oflag = abi.OPOST | abi.OCRNL | abi.XTABS;
    tty.setTermios(t);
    tty.write(Buffer.from('\r\tx'));
    // OCRNL without ONLRET leaves the column where "b" put it (1), as Linux's do_output_char: 7 spaces to the stop.
    assert.equal(dev.take(), '\n       x');
    t.oflag = abi.OPOST | abi.ONOCR | abi.ONLRET;
    tty.setTermios(Termios.decode(t.encode()));
    tty.write(Buffer.from('\n\r'));
    assert.equal(dev.take(), '\n'); // ONLRET: column 0 after the newline, so ONOCR drops the CR
    t.oflag = 0;
    tty.setTermios(Termios.decode(t.encode()));
    tty.write(Buffer.from('a\n'));
    assert.equal(dev.take(), 'a\n');
  });

  it('raw mode VMIN=0 VTIME=0 returns what there is, even nothing', () => {
    const { tty, type, read } = setup();
    raw(tty, 0, 0);
    assert.equal(read(), '');
    type('ab');
    assert.equal(read(), 'ab');
  });

  it('raw mode VMIN=3: a read waits until three bytes are there, then takes all', async () => {
    const { tty, type, jobs } = setup();
    raw(tty, 3, 0);
    const caller = (jobs.current = { pid: 1, pgid: 1, sid: 1 }) && jobs.caller();
    const r = tty.read(100, caller, false);
    assert.ok(r instanceof Promise);
    type('a');
    await settle();
    type('bcd');
    const got = await r;
    assert.equal(Buffer.from(got as Uint8Array).toString(), 'abcd');
    assert.equal(tty.pollEvents() & abi.POLLIN, 0);
  });

  it('raw mode VMIN=0 VTIME=2 times out after 0.2 s with nothing', async () => {
    const { tty, jobs } = setup();
    raw(tty, 0, 2);
    jobs.current = { pid: 1, pgid: 1, sid: 1 };
    const t0 = Date.now();
    const r = await tty.read(10, jobs.caller(), false);
    const took = Date.now() - t0;
    assert.equal((r as Uint8Array).length, 0);
    assert.ok(took >= 180 && took < 1000, `took ${took} ms`);
  });

  it('raw mode VMIN=5 VTIME=1: the inter-byte timer returns a short read', async () => {
    const { tty, type, jobs } = setup();
    raw(tty, 5, 1);
    jobs.current = { pid: 1, pgid: 1, sid: 1 };
    const r = tty.read(10, jobs.caller(), false);
    await settle(50);
    type('xy');
    const got = await r;
    assert.equal(Buffer.from(got as Uint8Array).toString(), 'xy');
  });

  it('a waiting canonical read follows a switch to raw mode: the partial line is returned', async () => {
    const { tty, type, jobs } = setup();
    jobs.current = { pid: 1, pgid: 1, sid: 1 };
    const r = tty.read(10, jobs.caller(), false);
    assert.ok(r instanceof Promise);
    type('par');
    await settle();
    raw(tty, 1, 0);
    assert.equal(Buffer.from((await r) as Uint8Array).toString(), 'par');
  });

  it('a waiting read ends with EINTR on a signal', async () => {
    const { tty, jobs } = setup();
    jobs.current = { pid: 1, pgid: 1, sid: 1 };
    const r = tty.read(10, jobs.caller(), false);
    await settle();
    jobs.thread.signal();
    assert.equal(await r, EINTR);
  });

  it('leaving canonical mode makes the partial line readable; entering it pushes raw bytes as a line', () => {
    const { tty, type, read } = setup();
    type('abc');
    raw(tty, 1, 0);
    assert.equal(read(), 'abc');
    type('xyz');
    const t = Termios.decode(tty.termios.encode());
    t.lflag |= abi.ICANON;
    tty.setTermios(t);
    assert.equal(read(), 'xyz');
  });

  it('the input queue holds 4095 bytes; a full canonical line still takes its newline', () => {
    const { tty, type, read } = setup();
    assert.equal(type('x'.repeat(5000)), 5000);
    assert.equal(tty.room(), 0);
    type('\n');
    const line = read(8192) as string;
    assert.equal(line.length, 4096);
    assert.ok(line.endsWith('x\n'));
    raw(tty, 1, 0);
    assert.equal(type('y'.repeat(5000)), 4095);
  });

  it('FIONREAD counts complete lines in canonical mode', () => {
    const { tty, type } = setup();
    type('ab\ncd');
    assert.equal(tty.readableBytes(), 3);
  });
});

describe('kernel/tty job control and ioctls', () => {
  it('a background read gets SIGTTIN to its group and restarts later; ignoring SIGTTIN gives EIO; orphaned: EIO', () => {
    const { jobs, tty } = setup();
    tty.acquire(1, 1);
    jobs.current = { pid: 5, pgid: 5, sid: 1 };
    assert.equal(tty.checkJobControl(jobs.caller(), abi.SIGTTIN), EINTR);
    assert.deepEqual(jobs.sent, [[5, abi.SIGTTIN]]);
    assert.equal(jobs.restarts, 1);
    jobs.current = { pid: 5, pgid: 5, sid: 1, ignored: [abi.SIGTTIN] };
    assert.equal(tty.checkJobControl(jobs.caller(), abi.SIGTTIN), EIO);
    jobs.current = { pid: 6, pgid: 6, sid: 1 };
    jobs.orphaned.add(6);
    assert.equal(tty.checkJobControl(jobs.caller(), abi.SIGTTIN), EIO);
    // The foreground group and other sessions are not checked.
    jobs.current = { pid: 2, pgid: 1, sid: 1 };
    assert.equal(tty.checkJobControl(jobs.caller(), abi.SIGTTIN), 0);
    jobs.current = { pid: 9, pgid: 9, sid: 9 };
    assert.equal(tty.checkJobControl(jobs.caller(), abi.SIGTTIN), 0);
  });

  it('a background TCSETS gets SIGTTOU unless it blocks SIGTTOU', () => {
    const { jobs, tty, ioctl } = setup();
    tty.acquire(1, 1);
    const user = new FakeUser();
    user.copyOut(ARG, new Termios().encode());
    jobs.current = { pid: 5, pgid: 5, sid: 1 };
    assert.equal(ioctl(abi.TCSETS, user), EINTR);
    assert.deepEqual(jobs.sent, [[5, abi.SIGTTOU]]);
    jobs.current = { pid: 5, pgid: 5, sid: 1, ignored: [abi.SIGTTOU] };
    assert.equal(ioctl(abi.TCSETS, user), 0);
  });

  it('TIOCGPGRP/TIOCSPGRP/TIOCGSID work for the session only; TIOCSPGRP checks the group', () => {
    const { jobs, tty, ioctl } = setup();
    tty.acquire(1, 1);
    jobs.procs = [
      { pid: 1, pgid: 1, sid: 1 },
      { pid: 4, pgid: 4, sid: 1 },
      { pid: 8, pgid: 8, sid: 8 },
    ];
    const user = new FakeUser();
    jobs.current = { pid: 1, pgid: 1, sid: 1 };
    user.writeU32(ARG, 4);
    assert.equal(ioctl(abi.TIOCSPGRP, user), 0);
    assert.equal(tty.pgrp, 4);
    assert.equal(ioctl(abi.TIOCGPGRP, user), 0);
    assert.equal(user.readI32(ARG), 4);
    assert.equal(ioctl(abi.TIOCGSID, user), 0);
    assert.equal(user.readI32(ARG), 1);
    // Now pid 1 is in the background: it must block SIGTTOU to take the terminal back, as shells do.
    jobs.current = { pid: 1, pgid: 1, sid: 1, ignored: [abi.SIGTTOU] };
    user.writeU32(ARG, 8);
    assert.equal(ioctl(abi.TIOCSPGRP, user), EPERM);
    user.writeU32(ARG, 77);
    assert.equal(ioctl(abi.TIOCSPGRP, user), ESRCH);
    user.writeU32(ARG, 1);
    assert.equal(ioctl(abi.TIOCSPGRP, user), 0);
    jobs.current = { pid: 8, pgid: 8, sid: 8 };
    assert.equal(ioctl(abi.TIOCGPGRP, user), ENOTTY);
    assert.equal(ioctl(abi.TIOCSPGRP, user), ENOTTY);
  });

  it('TIOCSWINSZ changes the size and sends SIGWINCH to the foreground group, only on a change', () => {
    const { jobs, tty, ioctl } = setup();
    tty.acquire(1, 3);
    const user = new FakeUser();
    user.copyOut(ARG, encodeWinsize({ rows: 50, cols: 132, xpixel: 0, ypixel: 0 }));
    assert.equal(ioctl(abi.TIOCSWINSZ, user), 0);
    assert.equal(ioctl(abi.TIOCSWINSZ, user), 0);
    assert.deepEqual(jobs.sent, [[3, abi.SIGWINCH]]);
    user.buf.fill(0);
    assert.equal(ioctl(abi.TIOCGWINSZ, user), 0);
    assert.deepEqual(decodeWinsize(user.buf.subarray(0, 8)), { rows: 50, cols: 132, xpixel: 0, ypixel: 0 });
  });

  it('TCFLSH discards input; TCXONC stops and starts output; unknown requests are ENOTTY', () => {
    const { tty, type, read, jobs } = setup();
    jobs.current = { pid: 1, pgid: 1, sid: 1 };
    type('junk\n');
    const io = (cmd: number, arg: number) => terminalIoctl(tty, false, { cttyOf: () => undefined }, cmd, arg, new FakeUser() as unknown as UserMemory, true);
    assert.equal(io(abi.TCFLSH, abi.TCIFLUSH), 0);
    assert.equal(read(), EAGAIN);
    assert.equal(io(abi.TCXONC, abi.TCOOFF), 0);
    assert.equal(tty.write(Buffer.from('x')), EAGAIN);
    assert.equal(io(abi.TCXONC, abi.TCOON), 0);
    assert.equal(tty.write(Buffer.from('x')), 1);
    assert.equal(io(0x54ff, 0), ENOTTY);
  });

  it('a session leader opening a free terminal without O_NOCTTY acquires it; TIOCSCTTY by a non-leader is EPERM; TIOCNOTTY hangs up the foreground group', () => {
    const jobs = new FakeJobs();
    const reg = new TtyRegistry(jobs);
    jobs.current = { pid: 3, pgid: 3, sid: 3 };
    const m = reg.openMaster(abi.O_RDWR, '/dev/ptmx') as PtyMasterFile;
    m.pty.locked = false;
    const s = reg.openSlave(m.pty, abi.O_RDWR, '/dev/pts/0') as File;
    assert.ok(!isErrno(s));
    assert.equal(m.pty.tty.session, 3);
    assert.equal(reg.cttyOf(3), m.pty.tty);
    jobs.current = { pid: 4, pgid: 3, sid: 3 };
    const user = new FakeUser() as unknown as UserMemory;
    const term = s.terminal();
    assert.ok(!isErrno(term));
    assert.equal(term.ioctl(abi.TIOCSCTTY, 0, user), EPERM);
    jobs.current = { pid: 3, pgid: 3, sid: 3 };
    assert.equal(term.ioctl(abi.TIOCNOTTY, 0, user), 0);
    assert.deepEqual(jobs.sent, [
      [3, abi.SIGHUP],
      [3, abi.SIGCONT],
    ]);
    assert.equal(reg.cttyOf(3), undefined);
  });
});

describe('kernel/tty ptys', () => {
  function pair() {
    const jobs = new FakeJobs();
    const reg = new TtyRegistry(jobs);
    const m = reg.openMaster(abi.O_RDWR, '/dev/ptmx') as PtyMasterFile;
    return { jobs, reg, m };
  }
  const text = (r: unknown) => Buffer.from(r as Uint8Array).toString('latin1');

  it('the slave is locked until TIOCSPTLCK(0); TIOCGPTN names it; /dev/pts lists it', async () => {
    const { reg, m } = pair();
    const user = new FakeUser();
    assert.equal(reg.openSlave(m.pty, abi.O_RDWR | abi.O_NOCTTY, '/dev/pts/0'), EIO);
    user.writeU32(ARG, 0);
    assert.equal(await m.ioctl(abi.TIOCSPTLCK, ARG, user as unknown as UserMemory), 0);
    assert.equal(await m.ioctl(abi.TIOCGPTN, ARG, user as unknown as UserMemory), 0);
    assert.equal(user.readI32(ARG), 0);
    const dir = reg.devpts();
    assert.ok(!isErrno(await dir.lookup('0')));
    assert.ok(!isErrno(await dir.lookup('ptmx')));
  });

  it('TCFLSH through the master: TCOFLUSH keeps the slave output the master has not read, TCIFLUSH discards it (test_termios.test_tcflush_clear_input_or_output)', async () => {
    const { reg, m } = pair();
    m.pty.locked = false;
    const s = reg.openSlave(m.pty, abi.O_RDWR | abi.O_NOCTTY, '/dev/pts/0') as File;
    const user = new FakeUser() as unknown as UserMemory;
    assert.equal(s.write(Buffer.from('abcdef')), 6);
    assert.equal(text(m.read(2)), 'ab');
    assert.equal(await m.ioctl(abi.TCFLSH, abi.TCOFLUSH, user), 0);
    assert.equal(text(m.read(2)), 'cd');
    assert.equal(await m.ioctl(abi.TCFLSH, abi.TCIFLUSH, user), 0);
    assert.equal(m.read(100), EAGAIN, 'ef discarded');
    assert.equal(s.write(Buffer.from('ABCDEF')), 6);
    assert.equal(text(m.read(1024)), 'ABCDEF');
    // Through the slave, TCIFLUSH is the slave's input: what the master wrote and the slave has not read.
    assert.equal(m.write(Buffer.from('typed\n')), 6);
    m.read(100); // the echo
    assert.equal(await (s.terminal() as TerminalOps).ioctl(abi.TCFLSH, abi.TCIFLUSH, user), 0);
    assert.equal(await s.read(100), EAGAIN);
  });

  it('master writes are the slave input (with echo back to the master); slave output is processed for the master', async () => {
    const { reg, m } = pair();
    m.pty.locked = false;
    const s = reg.openSlave(m.pty, abi.O_RDWR | abi.O_NOCTTY, '/dev/pts/0') as File;
    assert.equal(m.write(Buffer.from('hi\r')), 3);
    assert.equal(text(m.read(100)), 'hi\r\n');
    assert.equal(text(await s.read(100)), 'hi\n');
    assert.equal(s.write(Buffer.from('out\n')), 4);
    assert.equal(text(m.read(100)), 'out\r\n');
    assert.equal(m.read(100), EAGAIN);
  });

  it('closing the master hangs the slave up (EOF, EIO on write; SIGHUP to the session) and removes /dev/pts/N; closing the slave gives the master EIO', async () => {
    const { reg, m, jobs } = pair();
    m.pty.locked = false;
    const s = reg.openSlave(m.pty, abi.O_RDWR | abi.O_NOCTTY, '/dev/pts/0') as File;
    await s.unref();
    assert.equal(m.read(10), EIO);
    assert.ok(m.pollEvents() & abi.POLLHUP);
    const s2 = reg.openSlave(m.pty, abi.O_RDWR | abi.O_NOCTTY, '/dev/pts/0') as File;
    m.pty.tty.acquire(4, 6);
    await m.unref();
    // The leader (pid 4; signalProcess is recorded as -pid) and the foreground group 6.
    assert.deepEqual(jobs.sent, [
      [-4, abi.SIGHUP],
      [-4, abi.SIGCONT],
      [6, abi.SIGHUP],
      [6, abi.SIGCONT],
    ]);
    assert.equal(m.pty.tty.session, null);
    assert.equal(text(await s2.read(10)), '');
    assert.equal(s2.write(Buffer.from('x')), EIO);
    assert.ok(isErrno(await reg.devpts().lookup('0')));
  });
});
