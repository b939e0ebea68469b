// What Debian's maintainer scripts would have done to an assembled rootfs that
// a program notices in its running time, done once at build time by running
// the rootfs's own programs. The unpacker (unpack.ts) runs no maintainer
// scripts; most of what they do (triggers, services, alternatives) no
// sandboxed program misses, but one thing costs every start: Debian's python
// packages byte-compile their modules in postinst (libpython3.N-minimal and
// -stdlib through py_compile, the others through py3compile), so an
// installed system has a `__pycache__/*.cpython-3N.pyc` beside each module.
// Without them, python compiles each module it imports from source at every
// start, and a read-only root (or PYTHONDONTWRITEBYTECODE) keeps it from
// saving the result. The .pyc format belongs to the exact python version, so
// only the guest's own interpreter can write them: this folder cannot start a
// sandbox (its layer is below one), so the caller hands in a `GuestRunner`.

import * as fs from 'node:fs';
import * as path from 'node:path';
import { FetchError } from './fetch.js';

/** Runs `args` (args[0] a path in the rootfs) in a sandbox over the writable tree at `root` until it exits. */
export type GuestRunner = (root: string, args: string[], env: string[]) => Promise<{ status: number; output: string }>;

/** Bumped when what the steps write changes, so rootfs trees built by older steps are not reused. */
const STEPS_VERSION = 1;

/** The package that ships a python interpreter's binary (/usr/bin/python3.N). */
const PYTHON_PACKAGE = /^python3\.\d+-minimal$/;

/**
 * The line a package set's rootfs key gets for the steps that apply to it,
 * or '' when none does (so a set without python keeps the key it had before
 * steps existed).
 */
export function postinstKey(packageNames: readonly string[]): string {
  return packageNames.some((n) => PYTHON_PACKAGE.test(n)) ? `postinst ${STEPS_VERSION} pyc\n` : '';
}

/** The python interpreters of a rootfs by version ("3.13"): /usr/bin/python3.N beside a /usr/lib/python3.N directory. */
export function pythonVersions(root: string): string[] {
  let names: string[];
  try {
    names = fs.readdirSync(path.join(root, 'usr/lib'));
  } catch {
    return [];
  }
  return names
    .filter((n) => /^python3\.\d+$/.test(n) && fs.existsSync(path.join(root, 'usr/bin', n)))
    .map((n) => n.slice('python'.length))
    .sort();
}

/**
 * Byte-compiles every python module of the rootfs, as the packages'
 * postinst scripts would: the standard library of each interpreter and the
 * shared /usr/lib/python3/dist-packages, with the interpreter itself
 * (`-m compileall`, timestamp-checked .pyc files as Debian's, optimization
 * level 0: what a plain `python3` loads). `-E -s` keep the environment and
 * the user's site directory out, as py3compile does. Throws a FetchError
 * with the compiler's last output when it fails.
 */
export async function byteCompile(root: string, run: GuestRunner, log?: (line: string) => void): Promise<void> {
  for (const v of pythonVersions(root)) {
    const dirs = [`/usr/lib/python${v}`, '/usr/lib/python3/dist-packages'].filter((d) => fs.existsSync(path.join(root, d)));
    log?.(`tsvisor: byte-compiling python${v}'s modules in the rootfs (once; minutes)\n`);
    const r = await run(root, [`/usr/bin/python${v}`, '-E', '-s', '-m', 'compileall', '-q', ...dirs], ['PATH=/usr/bin:/bin', 'HOME=/tmp', 'LANG=C.UTF-8']);
    if (r.status !== 0) {
      throw new FetchError(`byte-compiling python${v}'s modules failed (exit status ${r.status}): ${r.output.trim().split('\n').slice(-5).join(' / ')}`);
    }
  }
}
