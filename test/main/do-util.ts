// Test-side writers of the formats `tsvisor do` reads (ar, ustar), to make
// packages and mirrors for its tests. Minimal: regular files, symlinks and
// hard links, names under 100 bytes.

import * as crypto from 'node:crypto';
import * as zlib from 'node:zlib';

export interface TarInput {
  path: string;
  data?: Buffer;
  /** Symbolic link target. */
  link?: string;
  /** Hard link target. */
  hardlink?: string;
  mode?: number;
}

function octal(n: number, width: number): string {
  return n.toString(8).padStart(width - 1, '0') + '\0';
}

/** A ustar archive of `entries`, ended by two zero blocks. */
export function makeTar(entries: TarInput[]): Buffer {
  const blocks: Buffer[] = [];
  for (const e of entries) {
    const data = e.data ?? Buffer.alloc(0);
    const h = Buffer.alloc(512);
    h.write(e.path, 0, 100, 'utf8');
    h.write(octal(e.mode ?? (e.link ? 0o777 : 0o755), 8), 100, 'latin1');
    h.write(octal(0, 8), 108, 'latin1');
    h.write(octal(0, 8), 116, 'latin1');
    h.write(octal(e.link || e.hardlink ? 0 : data.length, 12), 124, 'latin1');
    h.write(octal(0, 12), 136, 'latin1');
    h.write(e.link ? '2' : e.hardlink ? '1' : '0', 156, 'latin1');
    if (e.link || e.hardlink) h.write((e.link ?? e.hardlink)!, 157, 100, 'utf8');
    h.write('ustar\0', 257, 'latin1');
    h.write('00', 263, 'latin1');
    h.fill(0x20, 148, 156);
    let sum = 0;
    for (const b of h) sum += b;
    h.write(octal(sum, 7) + ' ', 148, 'latin1');
    blocks.push(h);
    if (!e.link && !e.hardlink && data.length) {
      blocks.push(data, Buffer.alloc((512 - (data.length % 512)) % 512));
    }
  }
  blocks.push(Buffer.alloc(1024));
  return Buffer.concat(blocks);
}

/** An ar archive laid out as a .deb: debian-binary, control.tar.gz, then the data member. */
export function makeDeb(dataName: string, data: Buffer): Buffer {
  const member = (name: string, body: Buffer): Buffer => {
    const h = `${name.padEnd(16)}${'0'.padEnd(12)}${'0'.padEnd(6)}${'0'.padEnd(6)}${'100644'.padEnd(8)}${String(body.length).padEnd(10)}\`\n`;
    return Buffer.concat([Buffer.from(h, 'latin1'), body, body.length & 1 ? Buffer.from('\n') : Buffer.alloc(0)]);
  };
  const control = zlib.gzipSync(makeTar([{ path: './control', data: Buffer.from('Package: test\n'), mode: 0o644 }]));
  return Buffer.concat([Buffer.from('!<arch>\n'), member('debian-binary', Buffer.from('2.0\n')), member('control.tar.gz', control), member(dataName, data)]);
}

export function sha256(b: Buffer): string {
  return crypto.createHash('sha256').update(b).digest('hex');
}
