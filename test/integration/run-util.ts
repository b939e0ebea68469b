// Running tsvisor as a user would, for the integration tests.

import { spawn, spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { repoRoot } from '../util/bundle.js';

export const TSVISOR = path.join(repoRoot(), 'bin', 'tsvisor');

export interface RunResult {
  code: number;
  stdout: Buffer;
  stderr: Buffer;
}

/** A fresh --root state directory for one test. */
export function stateRoot(): string {
  return fs.mkdtempSync(path.join(os.tmpdir(), 'tsvisor-state-'));
}

/** Run `tsvisor ARGS` with `stdin` fed then closed; resolves when it exits. */
export function tsvisor(args: string[], stdin: Buffer = Buffer.alloc(0), timeoutMs = 60000): Promise<RunResult> {
  return new Promise((resolve, reject) => {
    const child = spawn(TSVISOR, args, { stdio: ['pipe', 'pipe', 'pipe'] });
    const out: Buffer[] = [];
    const err: Buffer[] = [];
    child.stdout.on('data', (d) => out.push(d));
    child.stderr.on('data', (d) => err.push(d));
    child.stdin.on('error', () => {});
    child.stdin.end(stdin);
    const timer = setTimeout(() => {
      child.kill('SIGKILL');
      reject(new Error(`tsvisor ${args.join(' ')} timed out after ${timeoutMs} ms; stderr: ${Buffer.concat(err).toString()}`));
    }, timeoutMs);
    child.on('error', reject);
    child.on('close', (code, sig) => {
      clearTimeout(timer);
      resolve({ code: code ?? 128 + (sig ? os.constants.signals[sig] : 0), stdout: Buffer.concat(out), stderr: Buffer.concat(err) });
    });
  });
}

/** Whether `cmd` is in the PATH (an optional tool a test drives, such as ctr or podman). */
export function haveCommand(cmd: string): boolean {
  return spawnSync('sh', ['-c', 'command -v "$1"', 'sh', cmd], { stdio: 'ignore' }).status === 0;
}

/** What a command printed and how it ended. */
export interface ToolResult {
  code: number;
  out: string;
  err: string;
}

/**
 * Runs `file ARGS` (an engine's command line tool: ctr, podman), with stdin
 * closed or fed `stdin`; rejects when it runs past `timeoutMs` (then killed).
 */
export function runTool(file: string, args: string[], stdin?: string, timeoutMs = 120000): Promise<ToolResult> {
  return new Promise((resolve, reject) => {
    const p = spawn(file, args, { stdio: [stdin === undefined ? 'ignore' : 'pipe', 'pipe', 'pipe'] });
    let out = '';
    let err = '';
    p.stdout!.on('data', (b) => (out += b));
    p.stderr!.on('data', (b) => (err += b));
    p.stdin?.on('error', () => {});
    p.stdin?.end(stdin);
    const timer = setTimeout(() => {
      p.kill('SIGKILL');
      reject(new Error(`${file} ${args.join(' ')} timed out; stderr: ${err}`));
    }, timeoutMs);
    p.on('error', reject);
    p.on('close', (code) => {
      clearTimeout(timer);
      resolve({ code: code ?? -1, out, err });
    });
  });
}
