// Reading Debian packages without dpkg: a .deb is an `ar` archive holding
// `debian-binary`, `control.tar.*` and `data.tar.*`; the data member is a tar
// archive compressed with xz (Debian's default), zstd, gzip, or not at all. Every
// field read from the archive is checked: the bytes come from the network.

import * as path from 'node:path';
import * as zlib from 'node:zlib';
// The decompressors are loaded on first use (xz-decompress alone costs ~20 ms
// of CPU to load): `tsvisor do` over a cached rootfs decompresses nothing.
const xzDecompress = () => require('xz-decompress') as typeof import('xz-decompress');
const zstdDecompress = (data: Uint8Array) => (require('fzstd') as typeof import('fzstd')).decompress(data);

/** A malformed or unsupported archive; the message says what and where. */
export class ArchiveError extends Error {}

export interface ArMember {
  name: string;
  data: Buffer;
}

const AR_MAGIC = '!<arch>\n';
const AR_HEADER = 60;

/**
 * The members of an `ar` archive (the common format: 16-byte names, `/`
 * terminated GNU names accepted; no long-name table, which .debs never use).
 */
export function readAr(buf: Buffer): ArMember[] {
  if (buf.length < AR_MAGIC.length || buf.toString('latin1', 0, AR_MAGIC.length) !== AR_MAGIC) throw new ArchiveError('not an ar archive (bad magic)');
  const members: ArMember[] = [];
  let off = AR_MAGIC.length;
  while (off < buf.length) {
    if (off + AR_HEADER > buf.length) throw new ArchiveError(`ar: truncated header at offset ${off}`);
    const hdr = buf.toString('latin1', off, off + AR_HEADER);
    if (hdr.slice(58, 60) !== '`\n') throw new ArchiveError(`ar: bad header terminator at offset ${off}`);
    const name = hdr.slice(0, 16).trimEnd().replace(/\/$/, '');
    const sizeText = hdr.slice(48, 58).trim();
    if (!/^\d+$/.test(sizeText)) throw new ArchiveError(`ar: bad size ${JSON.stringify(sizeText)} of member ${JSON.stringify(name)}`);
    const size = Number(sizeText);
    const start = off + AR_HEADER;
    if (start + size > buf.length) throw new ArchiveError(`ar: member ${JSON.stringify(name)} runs past the end of the archive`);
    members.push({ name, data: buf.subarray(start, start + size) });
    off = start + size + (size & 1); // members are 2-byte aligned
  }
  return members;
}

export type TarEntryType = 'file' | 'dir' | 'symlink' | 'hardlink' | 'other';

export interface TarEntry {
  /** Path as stored, without a leading "./". */
  path: string;
  type: TarEntryType;
  mode: number;
  /** Contents of a regular file (empty for the other types). */
  data: Buffer;
  /** Target of a symbolic or hard link. */
  linkTarget: string;
}

function tarString(b: Buffer, off: number, len: number): string {
  const end = b.indexOf(0, off);
  return b.toString('utf8', off, end < 0 || end > off + len ? off + len : end);
}

function tarOctal(b: Buffer, off: number, len: number, what: string): number {
  if (b[off] & 0x80) throw new ArchiveError(`tar: base-256 ${what} is not supported`);
  const text = tarString(b, off, len).trim();
  if (text === '') return 0;
  if (!/^[0-7]+$/.test(text)) throw new ArchiveError(`tar: bad ${what} field ${JSON.stringify(text)}`);
  return parseInt(text, 8);
}

/** The entries of a POSIX ustar / GNU tar archive (GNU long names and pax paths honoured). */
export function readTar(buf: Buffer): TarEntry[] {
  const entries: TarEntry[] = [];
  let off = 0;
  let longName: string | undefined;
  let longLink: string | undefined;
  while (off + 512 <= buf.length) {
    const h = buf.subarray(off, off + 512);
    if (h.every((x) => x === 0)) break; // end of archive
    let sum = 0;
    for (let i = 0; i < 512; i++) sum += i >= 148 && i < 156 ? 0x20 : h[i];
    if (sum !== tarOctal(h, 148, 8, 'checksum')) throw new ArchiveError(`tar: header checksum mismatch at offset ${off}`);
    const size = tarOctal(h, 124, 12, 'size');
    const dataStart = off + 512;
    if (dataStart + size > buf.length) throw new ArchiveError(`tar: entry at offset ${off} runs past the end of the archive`);
    const data = buf.subarray(dataStart, dataStart + size);
    off = dataStart + Math.ceil(size / 512) * 512;
    const flag = String.fromCharCode(h[156] || 0x30);
    if (flag === 'L') {
      longName = tarString(data, 0, data.length);
      continue;
    }
    if (flag === 'K') {
      longLink = tarString(data, 0, data.length);
      continue;
    }
    if (flag === 'x') {
      for (const [k, v] of parsePax(data)) {
        if (k === 'path') longName = v;
        if (k === 'linkpath') longLink = v;
      }
      continue;
    }
    if (flag === 'g') continue;
    let name = tarString(h, 0, 100);
    const prefix = h.toString('latin1', 257, 263) === 'ustar\0' ? tarString(h, 345, 155) : '';
    if (prefix) name = `${prefix}/${name}`;
    if (longName !== undefined) name = longName;
    const linkTarget = longLink ?? tarString(h, 157, 100);
    longName = longLink = undefined;
    const type: TarEntryType = flag === '0' || flag === '7' ? 'file' : flag === '5' ? 'dir' : flag === '2' ? 'symlink' : flag === '1' ? 'hardlink' : 'other';
    entries.push({
      path: name.replace(/^(\.\/)+/, '').replace(/\/$/, ''),
      type,
      mode: tarOctal(h, 100, 8, 'mode') & 0o7777,
      data: type === 'file' ? data : Buffer.alloc(0),
      linkTarget,
    });
  }
  return entries;
}

/** pax extended header records: "LEN key=value\n". */
function parsePax(data: Buffer): [string, string][] {
  const out: [string, string][] = [];
  let off = 0;
  while (off < data.length) {
    const sp = data.indexOf(0x20, off);
    if (sp < 0) break;
    const len = Number(data.toString('latin1', off, sp));
    if (!Number.isInteger(len) || len <= 0 || off + len > data.length) throw new ArchiveError('tar: bad pax record');
    const rec = data.toString('utf8', sp + 1, off + len - 1);
    const eq = rec.indexOf('=');
    if (eq > 0) out.push([rec.slice(0, eq), rec.slice(eq + 1)]);
    off += len;
  }
  return out;
}

/** Decompresses one xz stream (all of it, checked by the decoder). */
export async function unxz(data: Buffer): Promise<Buffer> {
  const source = new ReadableStream<Uint8Array>({
    start(c) {
      c.enqueue(new Uint8Array(data.buffer, data.byteOffset, data.length));
      c.close();
    },
  });
  const chunks: Buffer[] = [];
  try {
    for await (const chunk of new (xzDecompress().XzReadableStream)(source) as unknown as AsyncIterable<Uint8Array>) chunks.push(Buffer.from(chunk));
  } catch (e) {
    throw new ArchiveError(`xz: ${(e as Error).message}`);
  }
  return Buffer.concat(chunks);
}

/** Decompresses `data` by the suffix of its file name: .xz, .zst, .gz or none. */
export async function decompressBySuffix(name: string, data: Buffer): Promise<Buffer> {
  if (name.endsWith('.xz')) return unxz(data);
  if (name.endsWith('.zst')) {
    try {
      const out = zstdDecompress(new Uint8Array(data.buffer, data.byteOffset, data.length));
      return Buffer.from(out.buffer, out.byteOffset, out.length);
    } catch (e) {
      throw new ArchiveError(`zstd: ${(e as Error).message}`);
    }
  }
  if (name.endsWith('.gz')) {
    try {
      return zlib.gunzipSync(data);
    } catch (e) {
      throw new ArchiveError(`gzip: ${(e as Error).message}`);
    }
  }
  if (/\.(bz2|lzma)$/.test(name)) throw new ArchiveError(`${name}: unsupported compression (xz, zstd, gzip or none are read)`);
  return data;
}

/** The entries of a .deb's data archive. */
export async function debDataEntries(deb: Buffer): Promise<TarEntry[]> {
  const members = readAr(deb);
  if (members[0]?.name !== 'debian-binary' || !members[0].data.toString('latin1').startsWith('2.')) {
    throw new ArchiveError('not a Debian binary package (no debian-binary 2.x member first)');
  }
  const data = members.find((m) => m.name.startsWith('data.tar'));
  if (!data) throw new ArchiveError('no data.tar member in the package');
  return readTar(await decompressBySuffix(data.name, data.data));
}

/**
 * The regular file at the first of `paths` the package holds, following a
 * symbolic or hard link inside the package (Debian's busybox-static ships the
 * binary at usr/bin/busybox; older releases at bin/busybox).
 */
export function findFile(entries: TarEntry[], paths: string[]): { path: string; data: Buffer } | undefined {
  const byPath = new Map(entries.map((e) => [e.path, e]));
  for (const want of paths) {
    let p = want;
    for (let hops = 0; hops < 8; hops++) {
      const e = byPath.get(p);
      if (!e) break;
      if (e.type === 'file') return { path: p, data: e.data };
      if (e.type === 'hardlink') p = e.linkTarget.replace(/^(\.\/)+/, '');
      else if (e.type === 'symlink') p = path.posix.normalize(e.linkTarget.startsWith('/') ? e.linkTarget.slice(1) : path.posix.join(path.posix.dirname(p), e.linkTarget));
      else break;
    }
  }
  return undefined;
}
