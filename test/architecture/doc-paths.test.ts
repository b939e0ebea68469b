// Every file a comment or a document names exists in the repository, so the
// docs describe the tree as it is. Scanned: the sources of src/, bench/,
// compat/ and test/, and every Markdown file (README.md, BENCHMARKS.md, docs/, the folder
// READMEs, fixtures/). A name is a path-like token ending in a source or
// document extension: with a slash it must be the tail of some file's path in
// the repository (`kernel/usercopy.ts`, `src/p9/codec.ts`), a bare name
// (`codec.ts`) the name of some file; a compiled `dist/src/p9/codec.js`
// names the source `src/p9/codec.ts`. Documents outside the repository are
// never cited (the repository stands on its own). This file itself is not
// scanned: its examples name files that do not exist on purpose.

import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { repoRoot } from '../util/bundle.js';

const SKIP_DIRS = new Set(['node_modules', 'dist', '.git']);
/** Extensions of the repository's own sources and documents; data files (json, txt) a text names are often files made at run time. */
const EXT = 'ts|js|md|c|go|sh';
/** Names that look like files and are not: products, and Linux's own sources cited for behaviour (fs/namei.c). */
const NOT_FILES = new Set(['Node.js']);
const LINUX_TREE = /^(?:fs|kernel|mm|arch|drivers|include|net|security|ipc|block|lib|asm-generic|uapi|linux)\/.*\.[ch]$/;
/** Placeholders in a pattern of names (`expected/CASE.json`, `scripts/NN-name.sh`). */
const PLACEHOLDER = /\b(?:NAME|CASE|NN|VERSION|ID|N)\b/;
const TOKEN = new RegExp(String.raw`(?<![\w./@-])((?:[\w.-]+/)*\w[\w.-]*\.(?:${EXT}))(?![\w/-])`, 'g');

function walk(dir: string, out: string[] = []): string[] {
  for (const e of fs.readdirSync(dir, { withFileTypes: true })) {
    if (SKIP_DIRS.has(e.name)) continue;
    const p = path.join(dir, e.name);
    if (e.isDirectory()) walk(p, out);
    else out.push(p);
  }
  return out;
}

/**
 * The comment text of a TypeScript source (line and block comments). A `//`
 * inside a string literal, other than after `:` (URLs), is taken for a comment:
 * that can only add names to check, never hide one.
 */
export function commentsOf(source: string): string {
  const out: string[] = [];
  for (const m of source.matchAll(/\/\*[\s\S]*?\*\/|(?<![:'"`\\])\/\/[^\n]*/g)) out.push(m[0]);
  return out.join('\n');
}

/** Path-like names in a text. URLs and host paths (/proc/..., /tmp/...) are not repository files. */
export function namesIn(text: string): string[] {
  const cleaned = text.replace(/\b[a-z]+:\/\/\S+/g, ' ');
  const names: string[] = [];
  for (const m of cleaned.matchAll(TOKEN)) {
    const before = cleaned[m.index! - 1];
    if (before === '/') continue; // an absolute host path
    const n = m[1];
    if (NOT_FILES.has(n) || LINUX_TREE.test(n) || PLACEHOLDER.test(n)) continue;
    names.push(n);
  }
  return names;
}

describe('architecture: documents and comments name files that exist', () => {
  const root = repoRoot();
  const all = walk(root).map((f) => path.relative(root, f).split(path.sep).join('/'));
  const paths = new Set(all);
  const dirs = new Set(all.flatMap((f) => f.split('/').slice(0, -1).map((_, i, a) => a.slice(0, i + 1).join('/'))));
  const basenames = new Set(all.map((f) => f.slice(f.lastIndexOf('/') + 1)));
  const exists = (name: string): boolean => {
    let n = name.replace(/^\.\//, '');
    const dist = /^(?:\.\.\/)*dist\/(.+)\.js$/.exec(n);
    if (dist) n = dist[1] + '.ts';
    n = n.replace(/^(\.\.\/)+/, '');
    if (!n.includes('/')) return basenames.has(n) || basenames.has(n.replace(/\.js$/, '.ts'));
    const tails = [n, n.replace(/\.js$/, '.ts')];
    for (const p of paths) for (const t of tails) if (p === t || p.endsWith('/' + t)) return true;
    return dirs.has(n);
  };

  const self = 'test/architecture/doc-paths.test.ts';
  const scanned = all.filter((f) => f !== self && (/\.md$/.test(f) || (/^(src|bench|compat|test)\//.test(f) && f.endsWith('.ts'))));

  it('every file named exists', () => {
    const missing: string[] = [];
    for (const f of scanned) {
      const text = fs.readFileSync(path.join(root, f), 'utf8');
      const body = f.endsWith('.ts') ? commentsOf(text) : text;
      for (const n of new Set(namesIn(body))) if (!exists(n)) missing.push(`${f}: ${n}`);
    }
    assert.deepEqual(missing, [], `names of files that do not exist:\n  ${missing.join('\n  ')}`);
  });

  it('no document outside the repository is cited', () => {
    const cites: string[] = [];
    for (const f of scanned) {
      const text = fs.readFileSync(path.join(root, f), 'utf8');
      if (/\bDESIGN\.md\b|\.\.\/shared\//.test(text)) cites.push(f);
    }
    assert.deepEqual(cites, []);
  });

  it('the scanner finds names in comments and documents', () => {
    assert.deepEqual(namesIn('see src/p9/codec.ts, `io-pool.ts` and /proc/self/fd.c or https://x.org/a.md'), ['src/p9/codec.ts', 'io-pool.ts']);
    assert.deepEqual(namesIn("Linux's fs/namei.c; src/NAME.c; Node.js; kernel/usercopy.ts"), ['kernel/usercopy.ts']);
    assert.equal(commentsOf("const s = 'b.ts'; // names x.ts\n/* and y.md */ const u = 'http://h/z.ts';"), '// names x.ts\n/* and y.md */');
  });
});
