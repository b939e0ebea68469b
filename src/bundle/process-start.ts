// Values a module's top level takes from the process it runs in (the clock,
// the environment), kept right in a process started from a V8 startup
// snapshot (snapshot-entry.ts): there the top level ran once, in the Node
// that built the snapshot, and what it read then would be the build's.

import * as v8 from 'node:v8';

/**
 * Calls `read` now (it sets the module's values from the process) and, when
 * this runs while a startup snapshot is being built, again in each process
 * started from that snapshot, before its main runs, so the values are that
 * process's. `read` must only read process state and assign: in a snapshot's
 * process it runs before any other code of ours, unconfined.
 */
export function atProcessStart(read: () => void): void {
  read();
  if (v8.startupSnapshot.isBuildingSnapshot()) v8.startupSnapshot.addDeserializeCallback(read);
}
