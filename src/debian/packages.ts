// A Packages index as a set of installable packages, and the choice of the
// packages a request needs: Depends and Pre-Depends followed (alternatives:
// the first one that can be had; virtual names through Provides), Debian's
// Essential set always in, versions taken as the index gives them (one
// version per package: the highest). Conflicts, Breaks and version
// constraints are not solved: an index of one suite is consistent enough
// for a rootfs that runs programs, and no maintainer script runs anyway.

import { compareDebianVersions, FetchError } from './fetch.js';
import type { DebRef } from './deb-cache.js';

/** One name of a relation: `name[:arch] [(op version)]`; the version is kept for messages only. */
export interface Relation {
  name: string;
  version?: string;
}

/** A dependency field: a list of groups, each satisfied by any of its alternatives. */
export type Dependencies = Relation[][];

/** A package as the index describes it: what fetching it needs (DebRef), and what resolving needs. */
export interface IndexedPackage extends DebRef {
  priority: string;
  essential: boolean;
  /** Pre-Depends first, then Depends. */
  depends: Dependencies;
  provides: string[];
}

/**
 * A relation field as Debian writes it: `a (>= 1) | b:any, c [riscv64] <!nocheck>`.
 * Architecture qualifiers (`:any`, `:native`, `:riscv64`) are dropped: one
 * architecture is installed. Throws on a malformed name.
 */
export function parseRelations(field: string | undefined): Dependencies {
  if (!field || !field.trim()) return [];
  return field.split(',').map((group) =>
    group.split('|').map((alt) => {
      const m = /^\s*([a-z0-9][a-z0-9+.-]*)(?::[a-z0-9-]+)?\s*(?:\(\s*([<>=]+)\s*([^)\s]+)\s*\))?\s*(?:\[[^\]]*\])?\s*(?:<[^>]*>\s*)*$/.exec(alt);
      if (!m) throw new FetchError(`Packages: bad relation ${JSON.stringify(alt.trim())}`);
      return m[2] ? { name: m[1], version: `${m[2]} ${m[3]}` } : { name: m[1] };
    }),
  );
}

/** The packages of one architecture (and `all`) in a Packages index, and who provides what. */
export class PackageIndex {
  readonly packages = new Map<string, IndexedPackage>();
  /** Virtual name → the real packages providing it, in index order. */
  readonly providers = new Map<string, IndexedPackage[]>();

  constructor(
    texts: string[],
    readonly arch: string,
  ) {
    for (const text of texts) {
      for (const f of indexStanzas(text)) {
        const name = f.get('package');
        const architecture = f.get('architecture');
        if (!name || (architecture !== arch && architecture !== 'all')) continue;
        const p: IndexedPackage = {
          name,
          version: f.get('version') ?? '',
          architecture,
          filename: f.get('filename') ?? '',
          size: Number(f.get('size') ?? NaN),
          sha256: (f.get('sha256') ?? '').toLowerCase(),
          priority: (f.get('priority') ?? 'optional').toLowerCase(),
          essential: (f.get('essential') ?? '').toLowerCase() === 'yes',
          depends: [...parseRelations(f.get('pre-depends')), ...parseRelations(f.get('depends'))],
          provides: parseRelations(f.get('provides')).map((g) => g[0].name),
        };
        if (!p.filename || !/^[0-9a-f]{64}$/.test(p.sha256) || !Number.isInteger(p.size)) throw new FetchError(`Packages: incomplete entry for ${name} ${p.version}`);
        if (p.filename.split('/').includes('..') || p.filename.startsWith('/')) throw new FetchError(`Packages: bad Filename ${p.filename}`);
        const have = this.packages.get(name);
        if (!have || compareDebianVersions(p.version, have.version) > 0) this.packages.set(name, p);
      }
    }
    for (const p of this.packages.values()) {
      for (const v of p.provides) {
        const list = this.providers.get(v) ?? [];
        list.push(p);
        this.providers.set(v, list);
      }
    }
  }

  /** The package `name` or, for a virtual name, its preferred provider (highest priority, then name). */
  lookup(name: string): IndexedPackage | undefined {
    const real = this.packages.get(name);
    if (real) return real;
    const providers = this.providers.get(name);
    if (!providers) return undefined;
    return [...providers].sort((a, b) => priorityRank(a.priority) - priorityRank(b.priority) || (a.name < b.name ? -1 : a.name > b.name ? 1 : 0))[0];
  }

  /** The Essential: yes packages, by name. */
  essential(): string[] {
    return [...this.packages.values()].filter((p) => p.essential).map((p) => p.name).sort();
  }
}

const INDEX_FIELDS = new Set(['package', 'version', 'architecture', 'filename', 'size', 'sha256', 'priority', 'essential', 'pre-depends', 'depends', 'provides']);

/**
 * The stanzas of a Packages index with only the fields read here: a faster
 * cousin of parseStanzas for an index of tens of megabytes (multi-line
 * fields such as Description are skipped, not joined).
 */
function* indexStanzas(text: string): Generator<Map<string, string>> {
  let cur = new Map<string, string>();
  let at = 0;
  while (at <= text.length) {
    let end = text.indexOf('\n', at);
    if (end < 0) end = text.length;
    if (end === at || (end === at + 1 && text[at] === '\r')) {
      if (cur.size > 0) yield cur;
      cur = new Map();
    } else {
      const c = text.charCodeAt(at);
      if (c !== 0x20 && c !== 0x09 && c !== 0x23) {
        const colon = text.indexOf(':', at);
        if (colon > at && colon < end) {
          const key = text.slice(at, colon).toLowerCase();
          if (INDEX_FIELDS.has(key)) cur.set(key, text.slice(colon + 1, end).trim());
        }
      }
    }
    at = end + 1;
  }
  if (cur.size > 0) yield cur;
}

const PRIORITIES = ['required', 'important', 'standard', 'optional', 'extra'];

function priorityRank(p: string): number {
  const i = PRIORITIES.indexOf(p);
  return i < 0 ? PRIORITIES.length : i;
}

export interface ResolveOptions {
  /** Add Debian's Essential set (what every package may assume without a dependency). Default true. */
  essential?: boolean;
}

/**
 * The packages to install for `requested`: each request and each dependency
 * group satisfied by a package already chosen (by name or by what it
 * provides) or else by the first alternative the index has, breadth first.
 * Returned in the order chosen (requests first), which dependencies come
 * after. Throws FetchError naming the chain when something cannot be had.
 */
export function resolvePackages(index: PackageIndex, requested: string[], opts: ResolveOptions = {}): IndexedPackage[] {
  const chosen = new Map<string, IndexedPackage>();
  const provided = new Set<string>();
  const queue: { pkg: IndexedPackage; chain: string[] }[] = [];
  const choose = (pkg: IndexedPackage, chain: string[]): void => {
    if (chosen.has(pkg.name)) return;
    chosen.set(pkg.name, pkg);
    provided.add(pkg.name);
    for (const v of pkg.provides) provided.add(v);
    queue.push({ pkg, chain: [...chain, pkg.name] });
  };
  const roots = [...requested, ...(opts.essential === false ? [] : index.essential())];
  for (const name of roots) {
    if (provided.has(name)) continue;
    const pkg = index.lookup(name);
    if (!pkg) throw new FetchError(`package ${name} for ${index.arch} is not in the index`);
    choose(pkg, []);
  }
  while (queue.length > 0) {
    const { pkg, chain } = queue.shift()!;
    for (const group of pkg.depends) {
      if (group.some((r) => provided.has(r.name))) continue;
      const pick = group.map((r) => index.lookup(r.name)).find((p) => p !== undefined);
      if (!pick) {
        const want = group.map((r) => (r.version ? `${r.name} (${r.version})` : r.name)).join(' | ');
        throw new FetchError(`${chain.join(' → ')} depends on ${want}, which the index does not have`);
      }
      choose(pick, chain);
    }
  }
  return [...chosen.values()];
}
