// The build's step that writes the tier-0 module's bytes (tier0-bytes.ts),
// run by `npm run build` after tsc: `node dist/src/vcpu/tier0-build.js`.
// The file is keyed by the generator's compiled modules: wasm-interp.js and
// everything it imports, found through Node's module graph (each module's
// `children`, which lists what it required whoever loaded it first), those
// under the compiled src/ tree.

import * as path from 'node:path';
import { TIER0_BYTES_FILE, writeTier0Bytes } from './tier0-bytes.js';
import { wasmInterpModule } from './wasm-interp.js';
import { GUEST_VA_LIMIT } from './memory.js';

/** The compiled files of module `file` and of every module it imports, under `root`. */
export function moduleClosure(file: string, root: string): string[] {
  const seen = new Set<string>();
  const walk = (m: NodeJS.Module | undefined): void => {
    if (m === undefined || seen.has(m.filename) || path.relative(root, m.filename).startsWith('..')) return;
    seen.add(m.filename);
    for (const c of m.children) walk(c);
  };
  walk(require.cache[file]);
  if (seen.size === 0) throw new Error(`tier0-build: ${file} is not loaded`);
  return [...seen];
}

/** Writes the bytes into `file`; returns their length. */
export function buildTier0Bytes(file = TIER0_BYTES_FILE): number {
  const pages = GUEST_VA_LIMIT / 65536;
  const bytes = wasmInterpModule(pages);
  writeTier0Bytes(file, bytes, pages, moduleClosure(require.resolve('./wasm-interp.js'), path.join(__dirname, '..')));
  return bytes.length;
}

if (require.main === module) {
  const n = buildTier0Bytes();
  console.log(`tier 0's module: ${n} bytes in ${path.relative(process.cwd(), TIER0_BYTES_FILE)}`);
}
