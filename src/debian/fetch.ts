// Fetching one Debian binary package the way apt would, without apt: the
// mirror comes from the machine's apt configuration (or
// $TSVISOR_DEBIAN_MIRROR), the suite's Release file gives the sha256 of the
// Packages index, the index gives the sha256 of the .deb, and every download
// is checked against those before use.
//
// Trust: the chain of hashes is checked from the Release file down. The
// Release file's own OpenPGP signature (InRelease) is NOT verified: that
// needs a GPG implementation and Debian's keyring, which tsvisor does not
// carry. A mirror reached over plain HTTP could therefore serve a consistent
// forgery; use an https:// or file:// mirror where that matters.

import * as crypto from 'node:crypto';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { fileURLToPath } from 'node:url';
import { decompressBySuffix } from './archive.js';

/** A download or verification failure, as one line for the user. */
export class FetchError extends Error {}

// ---------------------------------------------------------------------------
// The apt configuration

export interface AptSource {
  types: string[];
  uris: string[];
  suites: string[];
  components: string[];
  enabled: boolean;
}

/** One-line format (sources.list, *.list): `deb [opts] URI SUITE COMPONENT...`. */
export function parseOneLineSources(text: string): AptSource[] {
  const out: AptSource[] = [];
  for (const raw of text.split('\n')) {
    const line = raw.replace(/#.*/, '').trim();
    if (!line) continue;
    const m = /^(deb|deb-src)\s+(?:\[[^\]]*\]\s+)?(\S+)\s+(\S+)(?:\s+(.*))?$/.exec(line);
    if (!m) continue;
    out.push({ types: [m[1]], uris: [m[2]], suites: [m[3]], components: (m[4] ?? '').split(/\s+/).filter(Boolean), enabled: true });
  }
  return out;
}

/** deb822 format (*.sources): stanzas of `Field: value` with continuation lines. */
export function parseDeb822Sources(text: string): AptSource[] {
  return parseStanzas(text).map((f) => ({
    types: words(f.get('types')),
    uris: words(f.get('uris')),
    suites: words(f.get('suites')),
    components: words(f.get('components')),
    enabled: (f.get('enabled') ?? 'yes').trim().toLowerCase() !== 'no',
  }));
}

function words(v: string | undefined): string[] {
  return (v ?? '').split(/\s+/).filter(Boolean);
}

/**
 * Stanzas of a deb822 document (apt sources, Release, Packages): field names
 * lower-cased; continuation lines joined with "\n"; `#` comment lines skipped.
 */
export function parseStanzas(text: string): Map<string, string>[] {
  const stanzas: Map<string, string>[] = [];
  let cur: Map<string, string> | undefined;
  let last: string | undefined;
  for (const line of text.split('\n')) {
    if (line.trim() === '') {
      cur = undefined;
      continue;
    }
    if (line.startsWith('#')) continue;
    if (/^\s/.test(line)) {
      if (cur && last !== undefined) cur.set(last, `${cur.get(last)}\n${line.trim()}`);
      continue;
    }
    const colon = line.indexOf(':');
    if (colon <= 0) continue;
    if (!cur) stanzas.push((cur = new Map()));
    last = line.slice(0, colon).trim().toLowerCase();
    cur.set(last, line.slice(colon + 1).trim());
  }
  return stanzas;
}

/** Every apt source of the machine: sources.list, sources.list.d/*.list and *.sources. */
export function readAptSources(etcApt = '/etc/apt'): AptSource[] {
  const out: AptSource[] = [];
  const read = (p: string): string | undefined => {
    try {
      return fs.readFileSync(p, 'utf8');
    } catch {
      return undefined;
    }
  };
  const main = read(path.join(etcApt, 'sources.list'));
  if (main !== undefined) out.push(...parseOneLineSources(main));
  let names: string[] = [];
  try {
    names = fs.readdirSync(path.join(etcApt, 'sources.list.d')).sort();
  } catch {
    // no sources.list.d
  }
  for (const n of names) {
    const text = read(path.join(etcApt, 'sources.list.d', n));
    if (text === undefined) continue;
    if (n.endsWith('.list')) out.push(...parseOneLineSources(text));
    else if (n.endsWith('.sources')) out.push(...parseDeb822Sources(text));
  }
  return out;
}

/** Suite names of Debian's own archive (codenames and the moving aliases). */
const DEBIAN_SUITES = /^(buster|bullseye|bookworm|trixie|forky|duke|sid|oldoldstable|oldstable|stable|testing|unstable)$/;

/**
 * The Debian archive among the apt sources: the first enabled `deb` source
 * with the `main` component and a plain Debian suite (not -security,
 * -updates or -backports, which live in other archives or lack most
 * packages). Undefined when the machine has none (not Debian, or only
 * third-party sources).
 */
export function debianMirrorFromSources(sources: AptSource[]): string | undefined {
  return debianSourceFromSources(sources)?.mirror;
}

/** The Debian archive among the apt sources (see debianMirrorFromSources) with its components, main first. */
export function debianSourceFromSources(sources: AptSource[]): { mirror: string; components: string[] } | undefined {
  for (const s of sources) {
    if (!s.enabled || !s.types.includes('deb') || !s.components.includes('main')) continue;
    if (!s.suites.some((x) => DEBIAN_SUITES.test(x))) continue;
    const uri = s.uris.find((u) => /^(https?|file):/.test(u));
    if (uri) return { mirror: uri.replace(/\/+$/, ''), components: ['main', ...s.components.filter((c) => c !== 'main')] };
  }
  return undefined;
}

/** The first Debian release with riscv64 in its main archive. */
export const DEFAULT_SUITE = 'trixie';

export interface Repository {
  mirror: string;
  suite: string;
  /** The components whose indexes are read, main first (default: main alone). */
  components?: string[];
}

/** The repository to fetch from: $TSVISOR_DEBIAN_MIRROR / $TSVISOR_DEBIAN_SUITE, else apt's configuration. */
export function chooseRepository(env: NodeJS.ProcessEnv = process.env, etcApt = '/etc/apt'): Repository {
  const suite = env.TSVISOR_DEBIAN_SUITE || DEFAULT_SUITE;
  const override = env.TSVISOR_DEBIAN_MIRROR;
  if (override) {
    if (!/^(https?|file):\/\//.test(override)) throw new FetchError(`TSVISOR_DEBIAN_MIRROR must be an http://, https:// or file:// URL, got "${override}"`);
    const components = (env.TSVISOR_DEBIAN_COMPONENTS || 'main').split(/[\s,]+/).filter(Boolean);
    return { mirror: override.replace(/\/+$/, ''), suite, components };
  }
  const source = debianSourceFromSources(readAptSources(etcApt));
  if (!source) throw new FetchError(`no Debian mirror in the apt configuration (${etcApt}/sources.list, sources.list.d); set TSVISOR_DEBIAN_MIRROR to one, or pass --busybox FILE or --rootfs DIR`);
  return { mirror: source.mirror, suite, components: source.components };
}

// ---------------------------------------------------------------------------
// Downloads

export interface ProgressSink {
  /** Called with the bytes received so far and the total (0 when unknown). */
  update(received: number, total: number): void;
  done(): void;
}

const MAX_REDIRECTS = 5;
const IDLE_TIMEOUT_MS = 30000;

/** The bytes at `url` (http, https or file); FetchError with one clear line on failure. */
export async function fetchBytes(url: string, progress?: ProgressSink): Promise<Buffer> {
  try {
    return await fetchOnce(url, progress, 0);
  } finally {
    progress?.done();
  }
}

function fetchOnce(url: string, progress: ProgressSink | undefined, redirects: number): Promise<Buffer> {
  const u = new URL(url);
  if (u.protocol === 'file:') {
    try {
      const data = fs.readFileSync(fileURLToPath(u));
      progress?.update(data.length, data.length);
      return Promise.resolve(data);
    } catch (e) {
      const code = (e as NodeJS.ErrnoException).code;
      return Promise.reject(new FetchError(code === 'ENOENT' ? `${url}: not found` : `${url}: ${code ?? (e as Error).message}`));
    }
  }
  if (u.protocol !== 'http:' && u.protocol !== 'https:') return Promise.reject(new FetchError(`${url}: unsupported URL scheme`));
  // node:http and node:https are loaded here, on a download, not by every `tsvisor do` that imports this module.
  const get = u.protocol === 'https:' ? (require('node:https') as typeof import('node:https')).get : (require('node:http') as typeof import('node:http')).get;
  const agent = u.protocol === 'https:' ? extraTlsAgent() : undefined;
  return new Promise((resolve, reject) => {
    const req = get(u, agent ? { agent } : {}, (res) => {
      const status = res.statusCode ?? 0;
      if (status >= 300 && status < 400 && res.headers.location) {
        res.resume();
        if (redirects >= MAX_REDIRECTS) return reject(new FetchError(`${url}: too many redirects`));
        return resolve(fetchOnce(new URL(res.headers.location, u).toString(), progress, redirects + 1));
      }
      if (status !== 200) {
        res.resume();
        return reject(new FetchError(status === 404 ? `${url}: not found (HTTP 404)` : `${url}: HTTP ${status}`));
      }
      const total = Number(res.headers['content-length'] ?? 0) || 0;
      const chunks: Buffer[] = [];
      let received = 0;
      res.on('data', (c: Buffer) => {
        chunks.push(c);
        received += c.length;
        progress?.update(received, total);
      });
      res.on('error', (e) => reject(new FetchError(`${url}: ${e.message}`)));
      res.on('end', () => {
        if (total && received !== total) return reject(new FetchError(`${url}: connection closed after ${received} of ${total} bytes`));
        resolve(Buffer.concat(chunks));
      });
    });
    req.setTimeout(IDLE_TIMEOUT_MS, () => req.destroy(new Error(`no data for ${IDLE_TIMEOUT_MS / 1000} s`)));
    req.on('error', (e: NodeJS.ErrnoException) => {
      const offline = ['ENOTFOUND', 'EAI_AGAIN', 'ECONNREFUSED', 'ENETUNREACH', 'EHOSTUNREACH', 'ETIMEDOUT'].includes(e.code ?? '');
      reject(new FetchError(offline ? `cannot reach ${u.protocol}//${u.host} (${e.code}): no network?` : `${url}: ${e.message}`));
    });
  });
}

/**
 * The variable bin/tsvisor's shell part moves NODE_EXTRA_CA_CERTS to: with
 * NODE_EXTRA_CA_CERTS set, Node 20 reads and parses that file at every
 * start, 50-90 ms of CPU (docs/STARTUP.md), which run, do and the other
 * commands would pay although only a download here makes a TLS connection.
 * So the shell part starts them without it and names the file here instead.
 */
export const EXTRA_CA_ENV = 'TSVISOR_EXTRA_CA_CERTS';

/** The agent extraTlsAgent made, by the file it read (null: unreadable, warned about once). */
let extraAgent: { file: string; agent: import('node:https').Agent | null } | undefined;

/**
 * The agent an https download goes through when EXTRA_CA_ENV names a file:
 * its connections trust Node's bundled roots plus that file's certificates,
 * which is what Node itself trusts under NODE_EXTRA_CA_CERTS (this Node uses
 * its bundled store, not OpenSSL's). One per process, with its own pool of
 * kept-alive connections (the TLS context, some 300 certificates parsed, is
 * made once, not for each of a rootfs's packages). Undefined when the
 * variable is unset: Node's global agent and defaults (which include
 * NODE_EXTRA_CA_CERTS's certificates when Node was started with it). An
 * unreadable file is warned about once and ignored, as Node does.
 */
function extraTlsAgent(env: NodeJS.ProcessEnv = process.env): import('node:https').Agent | undefined {
  const file = env[EXTRA_CA_ENV];
  if (!file) return undefined;
  if (extraAgent?.file !== file) {
    const tls = require('node:tls') as typeof import('node:tls');
    const https = require('node:https') as typeof import('node:https');
    try {
      extraAgent = { file, agent: new https.Agent({ keepAlive: true, secureContext: tls.createSecureContext({ ca: [...tls.rootCertificates, fs.readFileSync(file, 'utf8')] }) }) };
    } catch (e) {
      process.stderr.write(`tsvisor: warning: ignoring extra certificates from ${file} (${EXTRA_CA_ENV}): ${(e as NodeJS.ErrnoException).code ?? (e as Error).message}\n`);
      extraAgent = { file, agent: null };
    }
  }
  return extraAgent.agent ?? undefined;
}

export function sha256(data: Buffer): string {
  return crypto.createHash('sha256').update(data).digest('hex');
}

// ---------------------------------------------------------------------------
// Release, Packages and the package itself

/** The signed text of an InRelease file (armor and dash-escaping removed; signature NOT checked). */
export function clearsignedBody(text: string): string {
  const begin = '-----BEGIN PGP SIGNED MESSAGE-----';
  if (!text.startsWith(begin)) return text;
  const headerEnd = text.indexOf('\n\n');
  const sigStart = text.indexOf('\n-----BEGIN PGP SIGNATURE-----');
  if (headerEnd < 0 || sigStart < headerEnd) throw new FetchError('InRelease: malformed clearsigned message');
  return text
    .slice(headerEnd + 2, sigStart)
    .split('\n')
    .map((l) => (l.startsWith('- ') ? l.slice(2) : l))
    .join('\n');
}

export interface IndexFile {
  path: string;
  size: number;
  sha256: string;
}

export interface Release {
  architectures: string[];
  /** SHA256 entries: path relative to dists/SUITE/. */
  files: IndexFile[];
}

export function parseRelease(text: string): Release {
  const f = parseStanzas(text)[0];
  if (!f) throw new FetchError('Release: empty');
  const files: IndexFile[] = [];
  for (const line of (f.get('sha256') ?? '').split('\n')) {
    const m = /^([0-9a-f]{64})\s+(\d+)\s+(\S+)$/.exec(line.trim());
    if (m) files.push({ sha256: m[1], size: Number(m[2]), path: m[3] });
  }
  if (files.length === 0) throw new FetchError('Release: no SHA256 entries');
  return { architectures: words(f.get('architectures')), files };
}

export interface PackageEntry {
  package: string;
  version: string;
  architecture: string;
  filename: string;
  size: number;
  sha256: string;
}

/** The stanza of `name` for `arch` in a Packages index (the highest version when several). */
export function findPackage(packagesText: string, name: string, arch: string): PackageEntry | undefined {
  let best: PackageEntry | undefined;
  for (const f of parseStanzas(packagesText)) {
    if (f.get('package') !== name || f.get('architecture') !== arch) continue;
    const e: PackageEntry = {
      package: name,
      version: f.get('version') ?? '',
      architecture: arch,
      filename: f.get('filename') ?? '',
      size: Number(f.get('size') ?? NaN),
      sha256: (f.get('sha256') ?? '').toLowerCase(),
    };
    if (!e.filename || !/^[0-9a-f]{64}$/.test(e.sha256) || !Number.isInteger(e.size)) throw new FetchError(`Packages: incomplete entry for ${name} ${e.version}`);
    if (e.filename.split('/').includes('..') || e.filename.startsWith('/')) throw new FetchError(`Packages: bad Filename ${e.filename}`);
    if (!best || compareDebianVersions(e.version, best.version) > 0) best = e;
  }
  return best;
}

/** dpkg's version order (epoch, upstream, revision; `~` sorts before everything). */
export function compareDebianVersions(a: string, b: string): number {
  const split = (v: string): [number, string, string] => {
    const colon = v.indexOf(':');
    const epoch = colon >= 0 ? Number(v.slice(0, colon)) : 0;
    const rest = colon >= 0 ? v.slice(colon + 1) : v;
    const dash = rest.lastIndexOf('-');
    return [epoch, dash >= 0 ? rest.slice(0, dash) : rest, dash >= 0 ? rest.slice(dash + 1) : ''];
  };
  const [ea, ua, ra] = split(a);
  const [eb, ub, rb] = split(b);
  return ea !== eb ? Math.sign(ea - eb) : compareVersionPart(ua, ub) || compareVersionPart(ra, rb);
}

function compareVersionPart(a: string, b: string): number {
  const order = (c: string | undefined): number => (c === undefined ? 0 : c === '~' ? -1 : /[A-Za-z]/.test(c) ? c.charCodeAt(0) : c.charCodeAt(0) + 256);
  let i = 0;
  let j = 0;
  while (i < a.length || j < b.length) {
    while ((i < a.length && !/\d/.test(a[i])) || (j < b.length && !/\d/.test(b[j]))) {
      const ca = i < a.length && !/\d/.test(a[i]) ? a[i] : undefined;
      const cb = j < b.length && !/\d/.test(b[j]) ? b[j] : undefined;
      const d = order(ca) - order(cb);
      if (d) return Math.sign(d);
      if (ca !== undefined) i++;
      if (cb !== undefined) j++;
    }
    let na = '';
    let nb = '';
    while (i < a.length && /\d/.test(a[i])) na += a[i++];
    while (j < b.length && /\d/.test(b[j])) nb += b[j++];
    const d = Number(na || 0) - Number(nb || 0);
    if (d) return Math.sign(d);
  }
  return 0;
}

export interface FetchedPackage {
  entry: PackageEntry;
  deb: Buffer;
  repository: Repository;
}

export interface FetchOptions {
  repository: Repository;
  /** Makes a progress sink for one download, or none. */
  progress?: (label: string) => ProgressSink | undefined;
  /** A directory keeping verified indexes by sha256, so a later request reads the index without downloading it. */
  indexCache?: string;
}

/**
 * The Packages indexes of the repository's components for `arch` (main
 * first), checked: Release (InRelease, else Release) → each index (size and
 * sha256 from Release). A component the Release lists no index for is
 * skipped, except main.
 */
export async function fetchIndexes(arch: string, opts: FetchOptions): Promise<string[]> {
  const { mirror, suite } = opts.repository;
  const dists = `${mirror}/dists/${suite}`;
  let releaseText: string;
  try {
    releaseText = clearsignedBody((await fetchBytes(`${dists}/InRelease`)).toString('utf8'));
  } catch (e) {
    if (!(e instanceof FetchError) || !/not found/.test(e.message)) throw e;
    releaseText = (await fetchBytes(`${dists}/Release`)).toString('utf8');
  }
  const release = parseRelease(releaseText);
  if (release.architectures.length && !release.architectures.includes(arch)) {
    throw new FetchError(`suite ${suite} of ${mirror} has no ${arch} packages (it has ${release.architectures.join(' ')}); set TSVISOR_DEBIAN_SUITE`);
  }
  // gzip before xz: a few MiB more to download, but it decompresses ~15x
  // faster here (xz is decoded in WebAssembly; zlib is native).
  const texts: string[] = [];
  for (const component of opts.repository.components ?? ['main']) {
    const base = `${component}/binary-${arch}/Packages`;
    const index = ['.gz', '.xz', ''].map((s) => release.files.find((f) => f.path === base + s)).find((f) => f !== undefined);
    if (!index) {
      if (component === 'main') throw new FetchError(`Release of ${suite} lists no ${base} index`);
      continue;
    }
    const kept = opts.indexCache ? path.join(opts.indexCache, `${index.sha256}${path.posix.extname(index.path)}`) : undefined;
    let compressed = kept ? readIfHash(kept, index.sha256) : undefined;
    if (!compressed) {
      compressed = await fetchBytes(`${dists}/${index.path}`, opts.progress?.(`${suite} ${component} ${arch} package index`));
      verify(compressed, index.size, index.sha256, `${dists}/${index.path}`);
      if (kept) writeBeside(kept, compressed);
    }
    texts.push((await decompressBySuffix(index.path, compressed)).toString('utf8'));
  }
  return texts;
}

/** The file's bytes when its sha256 is `hash`; undefined when missing or different. */
export function readIfHash(file: string, hash: string): Buffer | undefined {
  try {
    const data = fs.readFileSync(file);
    return sha256(data) === hash ? data : undefined;
  } catch {
    return undefined;
  }
}

/** Writes `file` whole or not at all: written beside, then renamed into place. */
export function writeBeside(file: string, data: Buffer | string, mode = 0o644): void {
  fs.mkdirSync(path.dirname(file), { recursive: true });
  const tmp = `${file}.${process.pid}.tmp`;
  fs.writeFileSync(tmp, data, { mode });
  fs.renameSync(tmp, file);
}

/** Downloads the .deb of an index entry and checks its size and sha256 against the index. */
export async function fetchDeb(entry: { filename: string; size: number; sha256: string }, opts: FetchOptions, label?: string): Promise<Buffer> {
  const debUrl = `${opts.repository.mirror}/${entry.filename}`;
  const deb = await fetchBytes(debUrl, label === undefined ? undefined : opts.progress?.(label));
  verify(deb, entry.size, entry.sha256, debUrl);
  return deb;
}

/**
 * Downloads `name` for `arch` from the repository and checks it: the
 * indexes (fetchIndexes), then the .deb (size and sha256 from the index).
 */
export async function fetchPackage(name: string, arch: string, opts: FetchOptions): Promise<FetchedPackage> {
  const { mirror, suite } = opts.repository;
  let entry: PackageEntry | undefined;
  for (const text of await fetchIndexes(arch, opts)) entry ??= findPackage(text, name, arch);
  if (!entry) throw new FetchError(`package ${name} for ${arch} is not in ${suite} ${(opts.repository.components ?? ['main']).join(' ')} of ${mirror}`);
  const deb = await fetchDeb(entry, opts, `${name} ${entry.version}`);
  return { entry, deb, repository: opts.repository };
}

function verify(data: Buffer, size: number, hash: string, what: string): void {
  if (data.length !== size) throw new FetchError(`${what}: ${data.length} bytes, the index says ${size}`);
  const got = sha256(data);
  if (got !== hash) throw new FetchError(`${what}: sha256 ${got} does not match the index's ${hash}`);
}

// ---------------------------------------------------------------------------
// The progress bar

/** A one-line progress bar on a terminal stream, redrawn at most every 100 ms. */
export function terminalProgress(stream: NodeJS.WriteStream, label: string): ProgressSink | undefined {
  if (!stream.isTTY) return undefined;
  let lastDraw = 0;
  let drawn = false;
  const draw = (received: number, total: number): void => {
    const width = 30;
    const kib = (n: number): string => `${(n / 1024).toFixed(0)} KiB`;
    let bar: string;
    if (total > 0) {
      const frac = Math.min(1, received / total);
      const fill = Math.round(frac * width);
      bar = `[${'#'.repeat(fill)}${' '.repeat(width - fill)}] ${String(Math.floor(frac * 100)).padStart(3)}% ${kib(received)}/${kib(total)}`;
    } else {
      bar = kib(received);
    }
    stream.write(`\r\x1b[Ktsvisor: fetching ${label} ${bar}`);
    drawn = true;
  };
  let last: [number, number] = [0, 0];
  return {
    update(received, total) {
      last = [received, total];
      const now = Date.now();
      if (now - lastDraw >= 100 || (total > 0 && received >= total)) {
        lastDraw = now;
        draw(received, total);
      }
    },
    done() {
      if (!drawn) return;
      draw(last[0], last[1]);
      stream.write('\n');
    },
  };
}
