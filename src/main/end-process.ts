// How boot and the gofer end once their work is done (endProcess), and run
// and do once their sandbox is gone (cli.ts `endsAtOnce`). It binds _exit
// through koffi (src/host) at its first call only: koffi loads then, never
// when the CLI loads this module, before run, exec and the other waiting
// commands pause V8's optimizer (jit.ts; koffi's lookup under node_modules
// once made path.normalize's loop hot enough to be optimized there:
// test/integration/run.test.ts, "never optimizes a function").

import { exitAtOnce } from '../host/process.js';

/**
 * Ends boot or the gofer once its work is done and reported (run and do
 * once their sandbox is gone): at once
 * (_exit, src/host/process.ts exitAtOnce) rather than through Node's
 * teardown, which joins its platform's background tasks (a V8 compile in
 * flight) and frees the heap: 40-55 ms of boot's exit and ~15 of the
 * gofer's in a traced `run` of hello (docs/STARTUP.md, the tenth pass).
 * The caller has written out everything: Node's writes to files, pipes and
 * terminals are synchronous on Linux. The orderly exit stays where
 * something is written at Node's own exit: a V8 profile or coverage
 * (--cpu-prof, --heap-prof, --prof, NODE_V8_COVERAGE) or the engine's
 * counters (TSVISOR_ENGINE_STATS=1, which vCPU workers write as they are
 * told to quit).
 */
export function endProcess(code: number): never {
  const nodeArgs = [...process.execArgv, process.env.NODE_OPTIONS ?? ''].join(' ');
  if (process.env.TSVISOR_ENGINE_STATS === '1' || process.env.NODE_V8_COVERAGE || /--(cpu-prof|heap-prof|prof)\b/.test(nodeArgs)) process.exit(code);
  exitAtOnce(code);
}
