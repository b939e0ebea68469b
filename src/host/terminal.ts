// Host terminals: termios settings, window size, the controlling terminal, and
// new pseudo-terminals (the console of `tsvisor run` with a terminal, and
// --console-socket). The ioctl numbers are asm-generic's (src/linux/abi.ts),
// which x86_64, arm64 and riscv64 hosts share; glibc's struct termios is held
// opaque.

import * as fs from 'node:fs';
import { ICANON, POLLIN, TIOCGWINSZ, TIOCSCTTY, TIOCSWINSZ } from '../linux/abi.js';
import { closeFd, HOST, pollMany } from './files.js';
import { bindLazily, negErrno, type Fn } from './libc.js';

interface TermLib {
  ioctl: (...args: unknown[]) => number;
  tcgetattr: Fn;
  tcsetattr: Fn;
  cfmakeraw: Fn;
  posixOpenpt: Fn;
  grantpt: Fn;
  unlockpt: Fn;
  ptsnameR: Fn;
}

const lib = bindLazily(
  (c): TermLib =>
    ({
      ioctl: c.func('int ioctl(int, unsigned long, ...)'),
      tcgetattr: c.func('int tcgetattr(int, void *)'),
      tcsetattr: c.func('int tcsetattr(int, int, void *)'),
      cfmakeraw: c.func('void cfmakeraw(void *)'),
      posixOpenpt: c.func('int posix_openpt(int)'),
      grantpt: c.func('int grantpt(int)'),
      unlockpt: c.func('int unlockpt(int)'),
      ptsnameR: c.func('int ptsname_r(int, void *, size_t)'),
    }) as unknown as TermLib,
);

/** glibc's struct termios is 60 bytes on x86_64 and aarch64; held opaque. */
const HOST_TERMIOS_SIZE = 64;
export const TCSANOW = 0;
export const TCSADRAIN = 1;

/** tcgetattr(3): the host terminal's settings (opaque bytes for setTerminalAttr), or a negative errno (ENOTTY: not a terminal). */
export function getTerminalAttr(fd: number): Buffer | number {
  const b = Buffer.alloc(HOST_TERMIOS_SIZE);
  return lib().tcgetattr(fd, b) < 0 ? negErrno() : b;
}

/** tcsetattr(3) with settings from getTerminalAttr (or rawTerminalAttr). */
export function setTerminalAttr(fd: number, attr: Buffer, when = TCSANOW): number {
  return lib().tcsetattr(fd, when, attr) < 0 ? negErrno() : 0;
}

/**
 * The kernel's struct termios (what the TCSETS family of ioctls takes) in
 * settings from getTerminalAttr: glibc's struct begins with it (the four
 * flag words, c_line, then the kernel's 19 control characters of glibc's
 * 32), and glibc's tcsetattr copies that part to the kernel (clearing only
 * an input-speed bit of its own, never set by tcgetattr). For a program
 * that sets the terminal without glibc's wrapper: `tsvisor run`'s waiter
 * (src/main/waiter.ts) restores a terminal with these bytes.
 */
export function kernelTermios(attr: Buffer): Buffer {
  return Buffer.from(attr.subarray(0, KERNEL_TERMIOS_SIZE));
}
/** sizeof(struct termios) of asm-generic (x86_64, arm64, riscv64): 4 x 4 + 1 + 19. */
const KERNEL_TERMIOS_SIZE = 36;

/** cfmakeraw(3) applied to a copy of `attr`: no echo, no line editing, no signals, no output processing. */
export function rawTerminalAttr(attr: Buffer): Buffer {
  const b = Buffer.from(attr);
  lib().cfmakeraw(b);
  return b;
}

/** c_lflag's offset in glibc's struct termios (c_iflag, c_oflag, c_cflag before it: 32 bits each on every supported host). */
const TERMIOS_LFLAG = 12;
/** A canonical read returns at most one line of Linux's 4096-byte input buffer. */
const CANON_LINE_MAX = 4096;

/**
 * What a terminal in canonical mode (settings `attr`) already holds for its
 * reader, read without waiting: one entry per line a read returns (its
 * newline included; a line ended by VEOF has none), and an empty entry per
 * end-of-file mark (VEOF typed at the start of a line, or the ^D that a pty's
 * writer such as script(1) sends when its own input ends). A program about to
 * put the terminal in raw mode takes these first: Linux hands an end-of-file
 * mark still queued at that switch to the next raw read as a NUL byte. Empty
 * when `attr` is not canonical or nothing is queued; stops at a hang-up.
 */
export function takeCanonicalInput(fd: number, attr: Buffer): Uint8Array[] {
  if ((attr.readUInt32LE(TERMIOS_LFLAG) & ICANON) === 0) return [];
  const entries: Uint8Array[] = [];
  const buf = Buffer.alloc(CANON_LINE_MAX);
  // Each entry uses at least one byte of the host's buffer, which bounds the loop.
  while (entries.length < CANON_LINE_MAX) {
    const revents = pollMany([{ fd, events: POLLIN }], 0);
    if (typeof revents === 'number' || revents[0] !== POLLIN) break; // nothing queued, or hung up / error
    let n: number;
    try {
      n = fs.readSync(fd, buf, 0, buf.length, null);
    } catch {
      break;
    }
    entries.push(Uint8Array.from(buf.subarray(0, n)));
  }
  return entries;
}

/** TIOCGWINSZ: the terminal's rows and columns, or a negative errno. */
export function terminalSize(fd: number): { rows: number; cols: number } | number {
  const b = Buffer.alloc(8);
  if (lib().ioctl(fd, TIOCGWINSZ, 'void *', b) < 0) return negErrno();
  return { rows: b.readUInt16LE(0), cols: b.readUInt16LE(2) };
}

/** TIOCSWINSZ (on a pty master or terminal). */
export function setTerminalSize(fd: number, rows: number, cols: number): number {
  const b = Buffer.alloc(8);
  b.writeUInt16LE(rows, 0);
  b.writeUInt16LE(cols, 2);
  return lib().ioctl(fd, TIOCSWINSZ, 'void *', b) < 0 ? negErrno() : 0;
}

/** TIOCSCTTY(0): make terminal `fd` the calling session leader's controlling terminal. */
export function setControllingTerminal(fd: number): number {
  return lib().ioctl(fd, TIOCSCTTY, 'int', 0) < 0 ? negErrno() : 0;
}

/** A new host pseudo-terminal: the master fd (close-on-exec) and the slave's path, or a negative errno. */
export function openPty(): { master: number; slavePath: string } | number {
  const l = lib();
  const m = l.posixOpenpt(HOST.O_RDWR | HOST.O_NOCTTY | HOST.O_CLOEXEC);
  if (m < 0) return negErrno();
  const name = Buffer.alloc(128);
  let e = l.grantpt(m) < 0 || l.unlockpt(m) < 0 ? negErrno() : 0;
  if (e === 0) e = -l.ptsnameR(m, name, name.length); // ptsname_r returns the errno
  if (e !== 0) {
    closeFd(m);
    return e;
  }
  return { master: m, slavePath: name.toString('utf8', 0, name.indexOf(0)) };
}
