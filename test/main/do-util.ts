// Test-side writers of the formats `tsvisor do` reads (ar, ustar, a mirror's
// Release and Packages), to make packages and mirrors for its tests. Minimal: regular files, symlinks and
// hard links, names under 100 bytes.

import { spawn } from 'node:child_process';
import * as crypto from 'node:crypto';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import * as zlib from 'node:zlib';
import { TSVISOR } from '../integration/run-util.js';

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

export interface MirrorPackage {
  name: string;
  entries: TarInput[];
  /** Extra Packages fields (Depends, Essential...); SHA256 here replaces the real one. */
  fields?: Record<string, string>;
}

/**
 * Writes a Debian mirror under `root` for riscv64 in trixie main: a gzip
 * .deb per package, their Packages.gz, and a plain Release with its sha256.
 */
export function writePackageMirror(root: string, pkgs: MirrorPackage[]): void {
  const stanzas: string[] = [];
  for (const p of pkgs) {
    const deb = makeDeb('data.tar.gz', zlib.gzipSync(makeTar(p.entries)));
    const file = `pool/main/${p.name}_1.0_riscv64.deb`;
    fs.mkdirSync(path.join(root, 'pool/main'), { recursive: true });
    fs.writeFileSync(path.join(root, file), deb);
    const f: Record<string, string> = { Version: '1.0', Architecture: 'riscv64', Filename: file, Size: String(deb.length), SHA256: sha256(deb), ...p.fields };
    stanzas.push(`Package: ${p.name}\n${Object.entries(f).map(([k, v]) => `${k}: ${v}`).join('\n')}\nDescription: ${p.name}\n a longer text\n .\n over lines: with colons\n`);
  }
  const gz = zlib.gzipSync(Buffer.from(stanzas.join('\n')));
  fs.mkdirSync(path.join(root, 'dists/trixie/main/binary-riscv64'), { recursive: true });
  fs.writeFileSync(path.join(root, 'dists/trixie/main/binary-riscv64/Packages.gz'), gz);
  fs.writeFileSync(path.join(root, 'dists/trixie/Release'), `Codename: trixie\nArchitectures: riscv64\nSHA256:\n ${sha256(gz)} ${gz.length} main/binary-riscv64/Packages.gz\n`);
}

export interface Result {
  code: number;
  stdout: string;
  stderr: string;
}

/** `tsvisor ARGS` with extra environment, stdin at EOF. */
export function tsvisor(args: string[], env: NodeJS.ProcessEnv = {}, timeoutMs = 60000): Promise<Result> {
  return new Promise((resolve, reject) => {
    const child = spawn(TSVISOR, args, { stdio: ['pipe', 'pipe', 'pipe'], env: { ...process.env, ...env } });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d) => (stdout += d));
    child.stderr.on('data', (d) => (stderr += d));
    child.stdin.end();
    const timer = setTimeout(() => {
      child.kill('SIGKILL');
      reject(new Error(`tsvisor ${args.join(' ')} timed out; stderr: ${stderr}`));
    }, timeoutMs);
    child.on('error', reject);
    child.on('close', (code, sig) => {
      clearTimeout(timer);
      resolve({ code: code ?? 128 + (sig ? os.constants.signals[sig] : 0), stdout, stderr });
    });
  });
}

