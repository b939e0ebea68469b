// Driving the OCI verbs as an engine does, for the integration tests:
// create (or run -d) with stdio the test keeps, state, and waiting.

import * as assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { closeFd, pipe2, O_CLOEXEC } from '../../src/host/ffi.js';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { tsvisor, TSVISOR } from './run-util.js';

export interface Created {
  /** The container's stdin: a pipe whose write end this test holds (Node would close a child's own stdin pipe when create exits). */
  stdin: { write(text: string): void; end(): void };
  outFile: string;
  errFile: string;
}

/**
 * `tsvisor --root ROOT create --bundle B [--pid-file F] ID` with stdout and
 * stderr in files (the sandbox keeps them after create exits) and stdin a
 * pipe of ours; resolves when create has exited.
 */
export function create(root: string, bundle: string, id: string, extra: string[] = [], verb: string[] = ['create']): Promise<{ code: number } & Created> {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'tsvisor-oci-io-'));
  const outFile = path.join(dir, 'out');
  const errFile = path.join(dir, 'err');
  const out = fs.openSync(outFile, 'w');
  const err = fs.openSync(errFile, 'w');
  const p = pipe2(O_CLOEXEC);
  if (typeof p === 'number') throw new Error(`pipe2: ${p}`);
  const child = spawn(TSVISOR, ['--root', root, ...verb, '--bundle', bundle, ...extra, id], { stdio: [p[0], out, err] });
  fs.closeSync(out);
  fs.closeSync(err);
  closeFd(p[0]);
  let open = true;
  const stdin = {
    write: (text: string) => void fs.writeSync(p[1], text),
    end: () => {
      if (open) closeFd(p[1]);
      open = false;
    },
  };
  return new Promise((resolve, reject) => {
    child.on('error', reject);
    child.on('exit', (code) => resolve({ code: code ?? -1, stdin, outFile, errFile }));
  });
}

export async function stateOf(root: string, id: string): Promise<{ status: string; pid: number; id: string; bundle: string; ociVersion: string; annotations: unknown }> {
  const r = await tsvisor(['--root', root, 'state', id]);
  assert.equal(r.code, 0, r.stderr.toString());
  return JSON.parse(r.stdout.toString());
}

export async function waitFor<T>(what: string, f: () => Promise<T | undefined>, timeoutMs = 30000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const v = await f();
    if (v !== undefined) return v;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

export const stopped = (root: string, id: string) => waitFor(`${id} to stop`, async () => ((await stateOf(root, id)).status === 'stopped' ? true : undefined));

export function oneLineError(r: { code: number; stderr: Buffer }, re: RegExp): void {
  assert.equal(r.code, 1, r.stderr.toString());
  const lines = r.stderr.toString().trim().split('\n');
  assert.equal(lines.length, 1, r.stderr.toString());
  assert.match(lines[0], re);
}

