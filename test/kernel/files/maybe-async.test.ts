// syncFirst and andThen (src/kernel/files/maybe-async.ts): a body answers
// synchronously while nothing it waits on is a Promise, and otherwise
// behaves as the async function it stands for.

import { strict as assert } from 'node:assert';
import { andThen, syncFirst } from '../../../src/kernel/files/maybe-async.js';

/** Adds up `parts`, waiting on the ones that are Promises, as `await` would. */
function* sum(parts: (number | Promise<number>)[], log: string[]): Generator<unknown, number, unknown> {
  let total = 0;
  for (const p of parts) {
    let v = p;
    if (v instanceof Promise) v = (yield v) as number;
    log.push(`+${v}`);
    total += v;
  }
  return total;
}

describe('kernel/files/maybe-async', () => {
  it('a body with nothing to wait on runs to its end at once, its value not a Promise', () => {
    const log: string[] = [];
    const r = syncFirst(sum([1, 2, 3], log));
    assert.equal(r, 6);
    assert.deepEqual(log, ['+1', '+2', '+3']);
  });

  it('from the first Promise on it continues later, in order, and settles with the value', async () => {
    const log: string[] = [];
    const r = syncFirst(sum([1, Promise.resolve(2), 3, Promise.resolve(4)], log));
    assert.ok(r instanceof Promise);
    assert.deepEqual(log, ['+1'], 'ran synchronously up to the first Promise');
    assert.equal(await r, 10);
    assert.deepEqual(log, ['+1', '+2', '+3', '+4']);
  });

  it('a rejected step is thrown into the body, whose try/catch sees it as await would', async () => {
    function* body(): Generator<unknown, string, unknown> {
      try {
        yield Promise.reject(new Error('no'));
        return 'not reached';
      } catch (e) {
        const v = (yield Promise.resolve(' caught')) as string;
        return (e as Error).message + v;
      }
    }
    assert.equal(await syncFirst(body()), 'no caught');
  });

  it('an exception is thrown at once before the first Promise, and rejects after it', async () => {
    function* early(): Generator<unknown, number, unknown> {
      throw new Error('early');
    }
    assert.throws(() => syncFirst(early()), /early/);
    function* late(): Generator<unknown, number, unknown> {
      yield Promise.resolve(1);
      throw new Error('late');
    }
    await assert.rejects(() => syncFirst(late()) as Promise<number>, /late/);
  });

  it('andThen maps a ready value at once and a Promise when it settles', async () => {
    assert.equal(andThen(2, (x) => x * 10), 20);
    const p = andThen(Promise.resolve(3), (x) => x * 10);
    assert.ok(p instanceof Promise);
    assert.equal(await p, 30);
  });
});
