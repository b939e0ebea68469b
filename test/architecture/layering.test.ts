// The layering rule of src/ (docs/ARCHITECTURE.md, "Layers"): each top-level
// folder may import only folders of a lower layer, so there is no upward
// import and no cycle between folders. Imports are read from the sources:
// static and dynamic imports, re-exports, require(), and the worker entry
// points a module starts by path (`path.join(__dirname, '..', 'workers', ...)`),
// which are dependencies at run time even without an import. Also: no source
// file over MAX_LINES.

import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as path from 'node:path';
import * as os from 'node:os';
import { repoRoot } from '../util/bundle.js';

/** Bottom to top. A folder imports only folders of lower layers. */
export const LAYERS: readonly (readonly string[])[] = [
  ['linux'],
  ['log', 'host', 'spec', 'backend', 'bundle'],
  ['vcpu'],
  ['kernel', 'p9'],
  ['fs-gofer'],
  ['sandbox', 'debian'],
  ['workers'],
  ['main'],
];

const MAX_LINES = 700;

interface Edge {
  from: string;
  to: string;
  file: string;
  spec: string;
}

function sourceFiles(dir: string, out: string[] = []): string[] {
  for (const e of fs.readdirSync(dir, { withFileTypes: true })) {
    const p = path.join(dir, e.name);
    if (e.isDirectory()) sourceFiles(p, out);
    else if (e.name.endsWith('.ts')) out.push(p);
  }
  return out;
}

/** The top-level folder of src/ that `abs` lies in, or undefined when outside src/. */
function folderOf(src: string, abs: string): string | undefined {
  const rel = path.relative(src, abs);
  if (rel.startsWith('..') || path.isAbsolute(rel)) return undefined;
  const first = rel.split(path.sep)[0];
  return first === rel ? undefined : first;
}

/** Every dependency of one source file on a module or worker file of src/, by folder. */
export function dependencies(src: string, file: string): Edge[] {
  const text = fs.readFileSync(file, 'utf8');
  const from = folderOf(src, file)!;
  const edges: Edge[] = [];
  const add = (target: string, spec: string) => {
    const to = folderOf(src, target);
    if (to !== undefined && to !== from) edges.push({ from, to, file: path.relative(src, file), spec });
  };
  const specifiers = /(?:\bfrom\s*|\bimport\s*\(\s*|\brequire\s*\(\s*|^\s*import\s+)(['"])(\.{1,2}\/[^'"]+)\1/gm;
  for (const m of text.matchAll(specifiers)) add(path.resolve(path.dirname(file), m[2]), m[2]);
  // Entry points started by path, relative to this file's compiled directory.
  const joins = /path\.(?:join|resolve)\(\s*__dirname\s*,([^)]*)\)/g;
  for (const m of text.matchAll(joins)) {
    const parts = [...m[1].matchAll(/(['"])([^'"]*)\1/g)].map((p) => p[2]);
    if (parts.length > 0) add(path.resolve(path.dirname(file), ...parts), parts.join('/'));
  }
  return edges;
}

function layerOf(folder: string): number {
  return LAYERS.findIndex((l) => l.includes(folder));
}

describe('architecture: the layers of src/', () => {
  const src = path.join(repoRoot(), 'src');
  const files = sourceFiles(src);
  const folders = fs.readdirSync(src, { withFileTypes: true }).filter((e) => e.isDirectory()).map((e) => e.name);

  it('every top-level folder of src/ has a layer', () => {
    const missing = folders.filter((f) => layerOf(f) < 0);
    assert.deepEqual(missing, [], `folders with no layer in test/architecture/layering.test.ts LAYERS: ${missing.join(', ')}`);
  });

  it('no folder imports a folder of its own or a higher layer (so no cycle between folders)', () => {
    const bad: string[] = [];
    for (const f of files) {
      for (const e of dependencies(src, f)) {
        if (layerOf(e.to) >= layerOf(e.from)) bad.push(`${e.from} -> ${e.to}: src/${e.file} names ${e.spec}`);
      }
    }
    assert.deepEqual(bad, [], `imports against the layering rule:\n  ${bad.join('\n  ')}`);
  });

  it('the folder graph has no cycle', () => {
    const graph = new Map<string, Set<string>>();
    for (const f of files) for (const e of dependencies(src, f)) (graph.get(e.from) ?? graph.set(e.from, new Set()).get(e.from)!).add(e.to);
    const state = new Map<string, 'open' | 'done'>();
    const cycles: string[] = [];
    const visit = (n: string, trail: string[]) => {
      if (state.get(n) === 'done') return;
      if (state.get(n) === 'open') {
        cycles.push([...trail.slice(trail.indexOf(n)), n].join(' -> '));
        return;
      }
      state.set(n, 'open');
      for (const m of graph.get(n) ?? []) visit(m, [...trail, n]);
      state.set(n, 'done');
    };
    for (const n of graph.keys()) visit(n, []);
    assert.deepEqual(cycles, []);
  });

  it(`no source file is over ${MAX_LINES} lines`, () => {
    const long = files
      .map((f) => ({ f: path.relative(src, f), n: fs.readFileSync(f, 'utf8').split('\n').length }))
      .filter((x) => x.n > MAX_LINES)
      .map((x) => `src/${x.f}: ${x.n}`);
    assert.deepEqual(long, []);
  });

  it('the check itself sees upward imports and started workers', () => {
    const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'layering-'));
    try {
      fs.mkdirSync(path.join(tmp, 'kernel'));
      fs.mkdirSync(path.join(tmp, 'workers'));
      fs.mkdirSync(path.join(tmp, 'main'));
      const f = path.join(tmp, 'kernel', 'x.ts');
      fs.writeFileSync(
        f,
        "import { a } from '../main/a.js';\nexport { b } from \"../linux/b.js\";\nconst w = new Worker(path.join(__dirname, '..', 'workers', 'w.js'));\nconst m = await import('./same.js');\n",
      );
      const deps = dependencies(tmp, f).map((e) => `${e.from}->${e.to}`);
      assert.deepEqual(deps, ['kernel->main', 'kernel->linux', 'kernel->workers']);
    } finally {
      fs.rmSync(tmp, { recursive: true, force: true });
    }
  });
});
