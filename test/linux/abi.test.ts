// The ABI tables: socket()'s flags are open()'s (Linux defines SOCK_NONBLOCK
// and SOCK_CLOEXEC as O_NONBLOCK and O_CLOEXEC; abi-net.ts spells the numbers
// again to stay free of abi.ts), and abi.ts re-exports the socket ABI.

import assert from 'node:assert/strict';
import * as abi from '../../src/linux/abi.js';
import * as net from '../../src/linux/abi-net.js';

describe('linux ABI tables', () => {
  it("socket()'s SOCK_NONBLOCK and SOCK_CLOEXEC are open()'s O_NONBLOCK and O_CLOEXEC", () => {
    assert.equal(net.SOCK_NONBLOCK, abi.O_NONBLOCK);
    assert.equal(net.SOCK_CLOEXEC, abi.O_CLOEXEC);
  });

  it('abi.ts re-exports every name of the socket ABI with its value', () => {
    for (const [name, value] of Object.entries(net)) assert.deepEqual((abi as Record<string, unknown>)[name], value, name);
  });
});
