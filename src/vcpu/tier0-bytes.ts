// The tier-0 module's bytes (wasm-interp.ts wasmInterpModule), made once by
// `npm run build` into a file beside the compiled vCPU code, so that a
// sandbox's first Cpu compiles them instead of running the generator (13-20
// ms of cold JavaScript on the kernel's thread at every cold start; README.md,
// "Decision: tier 0's bytes made by the build").
//
// Contract: the file holds one line of JSON (the format's version, the
// memory size in 64 KiB pages the module was made for, the generator's
// compiled modules as paths relative to the file's folder, and a sha256 over
// that size and those modules' contents), then the module's bytes.
// readTier0Bytes(file, pages) returns the bytes only when the file is whole
// and every module it names still has the content it was made from, for that
// memory size; anything else (no file, a truncated or foreign one, a module
// rebuilt or edited since, a module gone) is null, and the caller makes the
// bytes itself: a stale file is never used. writeTier0Bytes is the build's
// side (tier0-build.ts).

import * as fs from 'node:fs';
import * as path from 'node:path';
import { createHash } from 'node:crypto';
import { GUEST_VA_LIMIT } from './memory.js';

/** Where the build writes the bytes and tier0Module() looks for them: beside this module's compiled file. */
export const TIER0_BYTES_FILE = path.join(__dirname, 'tier0-module.bin');

const VERSION = 1;

interface Header {
  v: number;
  pages: number;
  files: string[];
  digest: string;
  length: number;
}

/** sha256 over the memory size and each module's name and content (null when one cannot be read). */
function digestOf(dir: string, pages: number, files: readonly string[]): string | null {
  const h = createHash('sha256');
  h.update(`tier0 v${VERSION} pages ${pages}\n`);
  for (const f of files) {
    let text: Buffer;
    try {
      text = fs.readFileSync(path.join(dir, f));
    } catch {
      return null;
    }
    h.update(`${f}\n${text.length}\n`);
    h.update(text);
  }
  return h.digest('hex');
}

/**
 * Writes `bytes` (the module made for `pages`) into `file`, keyed by the
 * modules `sources` (absolute paths: the generator's compiled files). Written
 * to a temporary name and renamed, so that a reader never sees half a file.
 */
export function writeTier0Bytes(file: string, bytes: Uint8Array, pages: number, sources: readonly string[]): void {
  const dir = path.dirname(file);
  const files = sources.map((s) => path.relative(dir, s).split(path.sep).join('/')).sort();
  const digest = digestOf(dir, pages, files);
  if (digest === null) throw new Error('tier0-bytes: a generator module cannot be read');
  const header: Header = { v: VERSION, pages, files, digest, length: bytes.length };
  const tmp = `${file}.${process.pid}.tmp`;
  fs.writeFileSync(tmp, Buffer.concat([Buffer.from(`${JSON.stringify(header)}\n`), bytes]));
  fs.renameSync(tmp, file);
}

/** The bytes `file` holds for a memory of `pages`, or null when it has none that are current (see the file comment). */
export function readTier0Bytes(file: string, pages: number): Uint8Array<ArrayBuffer> | null {
  let data: Buffer;
  try {
    data = fs.readFileSync(file);
  } catch {
    return null;
  }
  const nl = data.indexOf(10);
  if (nl < 0) return null;
  let header: Header;
  try {
    header = JSON.parse(data.toString('latin1', 0, nl)) as Header;
  } catch {
    return null;
  }
  if (header === null || typeof header !== 'object' || header.v !== VERSION || header.pages !== pages || !Array.isArray(header.files)) return null;
  if (header.files.length === 0 || !header.files.every((f) => typeof f === 'string')) return null;
  if (data.length - nl - 1 !== header.length) return null;
  if (digestOf(path.dirname(file), pages, header.files) !== header.digest) return null;
  // A copy of its own: the module compiles from it, and nothing keeps the file's buffer alive.
  return new Uint8Array(data.subarray(nl + 1));
}

/**
 * The build's code-cache step for the kernel's bundle calls this (src/bundle,
 * BundleSpec.warmUp): the file read once, so that the cache holds the
 * reader's bytecode for the kernel's first Cpu. Reads, changes nothing.
 */
export function warmCodeCache(): void {
  readTier0Bytes(TIER0_BYTES_FILE, GUEST_VA_LIMIT / 65536);
}
