// struct termios as the line discipline keeps it: Linux's asm-generic layout
// (TERMIOS in abi.ts), Linux's defaults for a new terminal (tty_std_termios
// and INIT_C_CC), and the flag tests the line discipline asks.

import * as abi from '../../linux/abi.js';

/** Linux's INIT_C_CC: ^C ^\ DEL ^U ^D, TIME 0, MIN 1, ^Q ^S ^Z, EOL 0, ^R ^O ^W ^V, EOL2 0. */
const INIT_C_CC = [3, 28, 127, 21, 4, 0, 1, 0, 17, 19, 26, 0, 18, 15, 23, 22, 0, 0, 0];

export class Termios {
  iflag = abi.ICRNL | abi.IXON;
  oflag = abi.OPOST | abi.ONLCR;
  cflag = abi.B38400 | abi.CS8 | abi.CREAD | abi.HUPCL;
  lflag = abi.ISIG | abi.ICANON | abi.ECHO | abi.ECHOE | abi.ECHOK | abi.ECHOCTL | abi.ECHOKE | abi.IEXTEN;
  line = 0;
  readonly cc = Uint8Array.from(INIT_C_CC);

  /** The 36 bytes TCGETS copies out. */
  encode(): Uint8Array {
    const b = new Uint8Array(abi.TERMIOS.size);
    const dv = new DataView(b.buffer);
    dv.setUint32(abi.TERMIOS.c_iflag, this.iflag, true);
    dv.setUint32(abi.TERMIOS.c_oflag, this.oflag, true);
    dv.setUint32(abi.TERMIOS.c_cflag, this.cflag, true);
    dv.setUint32(abi.TERMIOS.c_lflag, this.lflag, true);
    b[abi.TERMIOS.c_line] = this.line;
    b.set(this.cc, abi.TERMIOS.c_cc);
    return b;
  }

  /** A termios from the bytes TCSETS* copied in (exactly TERMIOS.size of them). */
  static decode(b: Uint8Array): Termios {
    const t = new Termios();
    const dv = new DataView(b.buffer, b.byteOffset, b.byteLength);
    t.iflag = dv.getUint32(abi.TERMIOS.c_iflag, true);
    t.oflag = dv.getUint32(abi.TERMIOS.c_oflag, true);
    t.cflag = dv.getUint32(abi.TERMIOS.c_cflag, true);
    t.lflag = dv.getUint32(abi.TERMIOS.c_lflag, true);
    t.line = b[abi.TERMIOS.c_line];
    t.cc.set(b.subarray(abi.TERMIOS.c_cc, abi.TERMIOS.c_cc + abi.NCCS));
    return t;
  }

  /** A control character's value, or -1 when disabled (_POSIX_VDISABLE, 0). */
  char(index: number): number {
    const v = this.cc[index];
    return v === 0 ? -1 : v;
  }

  i(bit: number): boolean {
    return (this.iflag & bit) !== 0;
  }
  o(bit: number): boolean {
    return (this.oflag & bit) !== 0;
  }
  l(bit: number): boolean {
    return (this.lflag & bit) !== 0;
  }
}

/** struct winsize. */
export interface Winsize {
  rows: number;
  cols: number;
  xpixel: number;
  ypixel: number;
}

export function encodeWinsize(w: Winsize): Uint8Array {
  const b = new Uint8Array(abi.WINSIZE.size);
  const dv = new DataView(b.buffer);
  dv.setUint16(abi.WINSIZE.ws_row, w.rows, true);
  dv.setUint16(abi.WINSIZE.ws_col, w.cols, true);
  dv.setUint16(abi.WINSIZE.ws_xpixel, w.xpixel, true);
  dv.setUint16(abi.WINSIZE.ws_ypixel, w.ypixel, true);
  return b;
}

export function decodeWinsize(b: Uint8Array): Winsize {
  const dv = new DataView(b.buffer, b.byteOffset, b.byteLength);
  return {
    rows: dv.getUint16(abi.WINSIZE.ws_row, true),
    cols: dv.getUint16(abi.WINSIZE.ws_col, true),
    xpixel: dv.getUint16(abi.WINSIZE.ws_xpixel, true),
    ypixel: dv.getUint16(abi.WINSIZE.ws_ypixel, true),
  };
}
