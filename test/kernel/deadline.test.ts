// Host timers for guest deadlines (src/kernel/deadline.ts): the callback
// never runs before the clock has reached the deadline (a bare setTimeout of
// the milliseconds left, plus one, can fire early: Node counts a timer armed
// inside a timer's callback from the time that callback's turn began, in
// whole milliseconds), and a deadline beyond
// setTimeout's 2^31-1 ms does not fire at once.

import { strict as assert } from 'node:assert';
import { atDeadline } from '../../src/kernel/deadline.js';

const now = () => process.hrtime.bigint();

describe('kernel/deadline timers', () => {
  it('fires only once the clock has passed the deadline, never a fraction of a millisecond before', async () => {
    // Each round arms the next from inside the previous one's callback, as
    // the kernel arms a sleep from inside a slice of guest code: there a
    // bare setTimeout of the milliseconds left plus one fired early in 1-3
    // of 40 rounds (up to 0.57 ms).
    const early: string[] = [];
    await new Promise<void>((done) => {
      let round = 0;
      const arm = () => {
        const at = now() + 30_950_000n;
        atDeadline({ now, at }, () => {
          const t = now();
          if (t < at) early.push(`round ${round}: ${Number(at - t) / 1e6} ms early`);
          if (++round < 40) arm();
          else done();
        });
      };
      arm();
    });
    assert.deepEqual(early, []);
  });

  it('a deadline past 2^31-1 ms waits (setTimeout alone fires it at once), and the canceller stops it', async () => {
    let fired = false;
    const cancel = atDeadline({ now, at: now() + 2n ** 62n }, () => (fired = true));
    await new Promise((r) => setTimeout(r, 50));
    cancel();
    assert.equal(fired, false);
  });

  it('a deadline already passed fires on a later turn, not synchronously', async () => {
    let fired = false;
    const done = new Promise<void>((resolve) => atDeadline({ now, at: now() - 1n }, () => ((fired = true), resolve())));
    assert.equal(fired, false);
    await done;
    assert.ok(fired);
  });
});
