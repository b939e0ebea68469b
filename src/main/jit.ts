// V8's optimizing compiler (TurboFan) in the processes of a sandbox that
// mostly wait: run, a waiter once boot is up (until it hands over to its
// Perl waiter, waiter.ts), exec, which waits for its process, and the gofer,
// idle while its guest does no file work. A process's first optimized
// function maps 3.5-4.5 MiB of node's compiler code (and its tables) into
// its resident set, and these processes optimized one at every start whatever came after
// (path.normalize's inner loop, hot in Node's lookup of koffi under
// node_modules). With the compiler paused while they start, an idle one
// never maps it (docs/STARTUP.md, "What an idle sandbox holds").
//
// The flag is V8's own, read at each tiering decision; V8 checks a code
// cache against the flags in force, so a cache compiled while the compiler
// is paused is refused: pause only after the process's bundle is compiled
// (Node's own modules loaded after the pause then compile without their
// embedded cache; run's CPU still fell, 197 -> 171 ms, the optimization it
// no longer does). Resuming restores the flags exactly (a cache is taken again).

// node:v8 loads at the first call: boot's bundle (and its startup snapshot)
// holds the CLI, and with it this file, but never calls it.

const setFlags = (flags: string) => (require('node:v8') as typeof import('node:v8')).setFlagsFromString(flags);

/** Functions stay in V8's interpreter and baseline code from here on. */
export function pauseOptimizer(): void {
  setFlags('--no-turbofan');
}

/** Hot functions are optimized again (V8's default). */
export function resumeOptimizer(): void {
  setFlags('--turbofan');
}
