// src/main/jit.ts: while paused, a hot function stays unoptimized (what keeps
// node's optimizing compiler out of an idle run's and gofer's memory); once
// resumed, it is optimized again. Run in a child Node with V8's natives
// syntax, to read a function's optimization status.

import * as assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import * as path from 'node:path';

const SCRIPT = `
const jit = require(${JSON.stringify(path.join(__dirname, '..', '..', 'src', 'main', 'jit.js'))});
function hot(x) { let s = 0; for (let i = 0; i < 50; i++) s += (x * i) % 7; return s; }
const OPTIMIZED = 16; // V8's OptimizationStatus::kOptimized
jit.pauseOptimizer();
for (let i = 0; i < 300000; i++) hot(i);
const paused = (%GetOptimizationStatus(hot) & OPTIMIZED) !== 0;
jit.resumeOptimizer();
// The compile runs on a V8 thread and is installed at a later call: call until then (a loaded host may take a while).
const until = Date.now() + 60000;
let resumed = false;
while (!resumed && Date.now() < until) {
  for (let i = 0; i < 10000; i++) hot(i);
  resumed = (%GetOptimizationStatus(hot) & OPTIMIZED) !== 0;
}
console.log(JSON.stringify({ paused, resumed }));
`;

describe('main/jit: pausing V8\'s optimizing compiler', () => {
  it('keeps a hot function unoptimized while paused, and optimizes it once resumed', function () {
    this.timeout(90_000);
    const r = spawnSync(process.execPath, ['--allow-natives-syntax', '-e', SCRIPT], { encoding: 'utf8', env: { ...process.env, NODE_OPTIONS: '' } });
    assert.equal(r.status, 0, r.stderr);
    assert.deepEqual(JSON.parse(r.stdout), { paused: false, resumed: true });
  });
});
