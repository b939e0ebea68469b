// `npm run compat`: CPython's own regression tests as tsvisor's
// compatibility suite. Builds a rootfs of python3 and
// libpython3.13-testsuite with the code of `tsvisor rootfs --packages`
// (src/debian/package-rootfs.ts), then runs each test module under tsvisor
// (`tsvisor do --rootfs`) and under QEMU user mode (`qemu-riscv64-static -L
// ROOTFS`) side by side, each with a timeout, and prints a table (module,
// tsvisor, QEMU, time ratio) that also goes to compat/REPORT.md.
//
//   node dist/compat/run.js [--modules a,b,...] [--match P,Q,...] [--timeout S] [--resume] [--no-qemu] [--jobs N]
//   node dist/compat/run.js --merge OTHER/results.json --report   (rows of a run elsewhere, then the report)
//
// --match keeps only the tests whose names match one of the patterns
// (regrtest's -m, each pattern a glob on the test's id or a part of it): a
// subset of a module too large to run whole, as test_multiprocessing_fork.
//
// Its work directory is in the user cache, outside the repository (a rootfs
// holds tens of thousands of files): $XDG_CACHE_HOME/tsvisor/compat (else
// ~/.cache/tsvisor/compat), with the writable rootfs, the logs of every run
// (logs/MODULE.tsvisor.log, logs/MODULE.qemu.log) and the results so far
// (results.json: a run replaces the rows of the modules it runs and keeps
// the others; --resume skips the modules already there).

import { spawn } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { ensurePackageRootfs } from '../src/debian/package-rootfs.js';
import { cacheDir } from '../src/debian/deb-cache.js';
import { terminalProgress } from '../src/debian/fetch.js';
import { MODULES } from './modules.js';
import { formatReport, ModuleResult, Outcome, RunResult } from './report.js';

const REPO = path.resolve(__dirname, '..', '..');
const WORK = path.join(cacheDir(), 'compat');
const TSVISOR = path.join(REPO, 'bin', 'tsvisor');
const QEMU = 'qemu-riscv64-static';
const PACKAGES = ['python3', 'libpython3.13-testsuite'];

interface Options {
  modules: string[];
  /** regrtest -m patterns; empty: every test of each module. */
  match: string[];
  timeoutS: number;
  resume: boolean;
  qemu: boolean;
  /** Modules run at once (each still runs QEMU first, then tsvisor). */
  jobs: number;
  /** Rows of another run's results.json to take (they replace ours for the same modules). */
  merge: string[];
  /** Run nothing: write REPORT.md from the results (after --merge). */
  reportOnly: boolean;
}

function parseArgs(argv: string[]): Options {
  const o: Options = { modules: MODULES.map((m) => m.name), match: [], timeoutS: 900, resume: false, qemu: true, jobs: 1, merge: [], reportOnly: false };
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i];
    if (a === '--modules') o.modules = argv[++i].split(',').filter(Boolean);
    else if (a === '--match') o.match = argv[++i].split(',').filter(Boolean);
    else if (a === '--timeout') o.timeoutS = Number(argv[++i]);
    else if (a === '--resume') o.resume = true;
    else if (a === '--no-qemu') o.qemu = false;
    else if (a === '--jobs') o.jobs = Math.max(1, Number(argv[++i]) || 1);
    else if (a === '--merge') o.merge.push(argv[++i]);
    else if (a === '--report') o.reportOnly = true;
    else throw new Error(`unknown argument ${a}`);
  }
  return o;
}

/** Runs a command with a timeout; its output goes to `log`. */
function runLogged(cmd: string, args: string[], log: string, timeoutS: number, env: NodeJS.ProcessEnv): Promise<{ code: number | null; seconds: number; timedOut: boolean }> {
  return new Promise((resolve) => {
    const out = fs.openSync(log, 'w');
    const start = Date.now();
    const child = spawn(cmd, args, { stdio: ['ignore', out, out], env, detached: true });
    let timedOut = false;
    const timer = setTimeout(() => {
      timedOut = true;
      try {
        process.kill(-child.pid!, 'SIGKILL'); // the whole group: tsvisor's boot and gofer too
      } catch {
        child.kill('SIGKILL');
      }
    }, timeoutS * 1000);
    child.on('close', (code) => {
      clearTimeout(timer);
      fs.closeSync(out);
      resolve({ code, seconds: (Date.now() - start) / 1000, timedOut });
    });
  });
}

/** What regrtest's log says: its Result line, its test counts, the first failing tests. */
export function readRegrtestLog(text: string, code: number | null, timedOut: boolean, seconds: number): RunResult {
  const result = /^Result: ([A-Z ,]+)$/m.exec(text)?.[1]?.trim();
  let outcome: Outcome;
  if (timedOut) outcome = 'TIMEOUT';
  else if (result === 'SUCCESS' && code === 0) outcome = 'PASS';
  else if (result?.startsWith('NO TESTS RAN')) outcome = 'SKIP';
  else if (result?.includes('ENV CHANGED') && !result.includes('FAILURE')) outcome = 'ENV';
  else if (result) outcome = 'FAIL';
  else outcome = 'CRASH';
  const total = /Total tests: run=(\d+)(?: failures=(\d+))?(?: skipped=(\d+))?/.exec(text);
  // unittest names the test's class, and since Python 3.11 the test itself after it: "test_x (module.Class.test_x)".
  const failing = [...text.matchAll(/^(?:FAIL|ERROR): (\S+) \(([^)]+)\)/gm)].map((m) => {
    const names = m[2].split('.');
    if (names.length > 1 && names[names.length - 1] === m[1]) names.pop();
    return `${names.pop()}.${m[1]}`;
  });
  return {
    outcome,
    seconds,
    run: total ? Number(total[1]) : undefined,
    failures: total?.[2] !== undefined ? Number(total[2]) : undefined,
    skipped: total?.[3] !== undefined ? Number(total[3]) : undefined,
    failing: [...new Set(failing)].slice(0, 8),
  };
}

async function main(): Promise<void> {
  const opts = parseArgs(process.argv.slice(2));
  fs.mkdirSync(path.join(WORK, 'logs'), { recursive: true });
  const built = await ensurePackageRootfs(PACKAGES, { cache: cacheDir(), progress: (l) => terminalProgress(process.stderr, l), log: (l) => process.stderr.write(l) });
  // A writable copy, shared by both runners: the tests write their scratch
  // files in /tmp and Python its bytecode caches beside the modules.
  const rootfs = path.join(WORK, 'rootfs');
  const stamp = path.join(WORK, 'rootfs.source');
  if (!fs.existsSync(stamp) || fs.readFileSync(stamp, 'utf8') !== built.root) {
    fs.rmSync(rootfs, { recursive: true, force: true });
    fs.cpSync(built.root, rootfs, { recursive: true, verbatimSymlinks: true });
    fs.chmodSync(path.join(rootfs, 'tmp'), 0o1777);
    fs.writeFileSync(stamp, built.root);
  }
  const resultsFile = path.join(WORK, 'results.json');
  // The rows of earlier runs stay (those of modules still listed): a run of
  // some modules replaces their rows; --resume skips the modules already run.
  const earlier = fs.existsSync(resultsFile) ? (JSON.parse(fs.readFileSync(resultsFile, 'utf8')) as ModuleResult[]) : [];
  const results = earlier.filter((r) => MODULES.some((m) => m.name === r.module));
  const env = { PATH: '/usr/sbin:/usr/bin:/sbin:/bin', HOME: '/root', LANG: 'C.UTF-8' };
  const version = built.info.packages.find((p) => p.name === 'python3.13')?.version ?? '?';
  // Rows in modules.ts's order, whichever job finished first.
  const order = (m: string): number => MODULES.findIndex((x) => x.name === m);
  const save = (): void => {
    results.sort((a, b) => order(a.module) - order(b.module));
    fs.writeFileSync(resultsFile, JSON.stringify(results, null, 2) + '\n');
    fs.writeFileSync(path.join(REPO, 'compat', 'REPORT.md'), formatReport(results, version));
  };
  const runModule = async (name: string): Promise<void> => {
    const mod = MODULES.find((m) => m.name === name);
    const resources = mod?.resources ?? [];
    const args = ['-m', 'test', ...(resources.length ? ['-u', resources.join(',')] : []), ...opts.match.flatMap((p) => ['-m', p]), '-v', ...(mod?.args ?? []), mod?.module ?? name];
    // Each module gets its own temporary directory (TMPDIR, where regrtest
    // makes its work directory test_python_PID): two sandboxes running at
    // once both see small pids. A run killed at the limit leaves it behind;
    // it is emptied before the next run.
    const tmpName = `compat-${name}`;
    const tmp = path.join(rootfs, 'tmp', tmpName);
    const fresh = (): void => {
      fs.rmSync(tmp, { recursive: true, force: true });
      fs.mkdirSync(tmp, { mode: 0o1777 });
      fs.chmodSync(tmp, 0o1777);
    };
    const modEnv = { ...env, TMPDIR: `/tmp/${tmpName}` };
    process.stderr.write(`compat: ${name} started\n`);
    fresh();
    const q = opts.qemu ? await runLogged(QEMU, ['-L', rootfs, path.join(rootfs, 'usr/bin/python3'), ...args], path.join(WORK, 'logs', `${name}.qemu.log`), opts.timeoutS, modEnv) : undefined;
    fresh();
    // `tsvisor do` gives the guest PATH alone: the rest of QEMU's environment goes in through env(1).
    const guestEnv = Object.entries(modEnv).map(([k, v]) => `${k}=${v}`);
    const t = await runLogged(process.execPath, [TSVISOR, 'do', '--rootfs', rootfs, '--', 'env', ...guestEnv, 'python3', ...args], path.join(WORK, 'logs', `${name}.tsvisor.log`), opts.timeoutS, { ...process.env, ...env });
    fs.rmSync(tmp, { recursive: true, force: true });
    const read = (r: { code: number | null; seconds: number; timedOut: boolean }, which: string): RunResult => readRegrtestLog(fs.readFileSync(path.join(WORK, 'logs', `${name}.${which}.log`), 'utf8'), r.code, r.timedOut, r.seconds);
    const res: ModuleResult = { module: name, tsvisor: read(t, 'tsvisor'), qemu: q ? read(q, 'qemu') : undefined };
    const prev = results.findIndex((r) => r.module === name);
    if (prev >= 0) results.splice(prev, 1);
    results.push(res);
    process.stderr.write(`compat: ${name}: tsvisor ${res.tsvisor.outcome} (${t.seconds.toFixed(0)} s), QEMU ${res.qemu?.outcome ?? '-'} (${q?.seconds.toFixed(0) ?? '-'} s)\n`);
    save();
  };
  for (const file of opts.merge) {
    for (const r of JSON.parse(fs.readFileSync(file, 'utf8')) as ModuleResult[]) {
      if (!MODULES.some((m) => m.name === r.module)) continue;
      const prev = results.findIndex((x) => x.module === r.module);
      if (prev >= 0) results.splice(prev, 1);
      results.push(r);
    }
  }
  if (opts.merge.length || opts.reportOnly) save();
  const queue = opts.reportOnly ? [] : opts.modules.filter((name) => !(opts.resume && results.some((r) => r.module === name)));
  const worker = async (): Promise<void> => {
    for (let name = queue.shift(); name !== undefined; name = queue.shift()) await runModule(name);
  };
  await Promise.all(Array.from({ length: opts.jobs }, worker));
  process.stdout.write(formatReport(results, version, true));
}

if (require.main === module) {
  main().catch((e) => {
    process.stderr.write(`compat: ${(e as Error).message}\n`);
    process.exit(1);
  });
}
