// The checkpoint image's bytes (docs/CHECKPOINT.md, "The image"): a header
// with a magic, a format version, the payload's length and its SHA-256,
// then the payload, compressed with brotli: the kernel state as JSON (checkpoint-records.ts)
// followed by the saved guest pages.
//
// Contract: decodeImage accepts exactly what encodeImage wrote with this
// IMAGE_VERSION; anything else (another file, another version, a truncated
// or altered image) throws an ImageError whose message is one line saying
// which, and nothing of a corrupt image is ever parsed: the checksum is
// checked before the payload is decompressed.

import { createHash } from 'node:crypto';
import { brotliCompressSync, brotliDecompressSync, constants as zlib } from 'node:zlib';
import type { KernelImage } from './checkpoint-records.js';

export const IMAGE_MAGIC = Buffer.from('TSVCKPT\n', 'latin1');
/** Bumped whenever a record or the layout changes: an image of another version is refused, never guessed at. */
export const IMAGE_VERSION = 1;
/** The name of the image file in runsc's --image-path directory. */
export const IMAGE_FILE = 'checkpoint.img';
/** magic (8), version (u32), flags (u32, 0), payload length (u64), SHA-256 of the payload (32); little-endian. */
export const HEADER_BYTES = 56;
/**
 * Brotli's fastest quality. Measured on 33 MB (a loaded 2-core host):
 * random data, which guest state often is, 0.3 s (deflate level 1: 3.4 s,
 * for nothing); a program binary 0.7 s for 46% of its size (deflate level
 * 1: 1.9 s for 44%). Zero-filled pages are never saved at all.
 */
const BROTLI_QUALITY = 0;

export class ImageError extends Error {}

export interface DecodedImage {
  kernel: KernelImage;
  /** The saved guest pages, each 4096 bytes, where the address-space records point. */
  pages: Uint8Array;
}

export function encodeImage(kernel: KernelImage, pages: Uint8Array): Buffer {
  const json = Buffer.from(JSON.stringify(kernel));
  const len = Buffer.alloc(4);
  len.writeUInt32LE(json.length);
  const raw = Buffer.concat([len, json, pages]);
  const payload = brotliCompressSync(raw, { params: { [zlib.BROTLI_PARAM_QUALITY]: BROTLI_QUALITY, [zlib.BROTLI_PARAM_SIZE_HINT]: raw.length } });
  const header = Buffer.alloc(HEADER_BYTES);
  IMAGE_MAGIC.copy(header, 0);
  header.writeUInt32LE(IMAGE_VERSION, 8);
  header.writeUInt32LE(0, 12);
  header.writeBigUInt64LE(BigInt(payload.length), 16);
  createHash('sha256').update(payload).digest().copy(header, 24);
  return Buffer.concat([header, payload]);
}

/** Checks the header and checksum of `buf` (a whole image file); returns its payload, still compressed. */
export function checkImage(buf: Uint8Array): Buffer {
  const b = Buffer.from(buf.buffer, buf.byteOffset, buf.byteLength);
  if (b.length < IMAGE_MAGIC.length || !b.subarray(0, IMAGE_MAGIC.length).equals(IMAGE_MAGIC)) throw new ImageError('not a tsvisor checkpoint image (bad magic)');
  if (b.length < HEADER_BYTES) throw new ImageError(`truncated image: ${b.length} bytes, shorter than its ${HEADER_BYTES}-byte header`);
  const version = b.readUInt32LE(8);
  if (version !== IMAGE_VERSION) throw new ImageError(`image format version ${version}, but this tsvisor reads version ${IMAGE_VERSION}`);
  const want = b.readBigUInt64LE(16);
  const have = BigInt(b.length - HEADER_BYTES);
  if (have < want) throw new ImageError(`truncated image: ${have} bytes of payload, the header says ${want}`);
  if (have > want) throw new ImageError(`${have - want} bytes of garbage after the image's payload`);
  const payload = b.subarray(HEADER_BYTES);
  if (!createHash('sha256').update(payload).digest().equals(b.subarray(24, 56))) throw new ImageError('checksum mismatch: the image is corrupt');
  return payload;
}

/** Checks `buf` (checkImage), then decodes it. */
export function decodeImage(buf: Uint8Array): DecodedImage {
  const payload = checkImage(buf);
  let raw: Buffer;
  try {
    raw = brotliDecompressSync(payload);
  } catch (e) {
    throw new ImageError(`corrupt payload: ${(e as Error).message}`);
  }
  const jsonLen = raw.length >= 4 ? raw.readUInt32LE(0) : -1;
  if (jsonLen < 0 || 4 + jsonLen > raw.length) throw new ImageError('corrupt payload: the kernel state is cut short');
  let kernel: KernelImage;
  try {
    kernel = JSON.parse(raw.subarray(4, 4 + jsonLen).toString()) as KernelImage;
  } catch (e) {
    throw new ImageError(`corrupt kernel state: ${(e as Error).message}`);
  }
  if (typeof kernel !== 'object' || kernel === null || !Array.isArray(kernel.processes)) throw new ImageError('corrupt kernel state: no process list');
  return { kernel, pages: raw.subarray(4 + jsonLen) };
}
