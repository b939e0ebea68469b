// src/main/network.ts: which network namespace boot gets and what it may
// open, from --network and the spec's network namespace (runsc's rule), and
// the -p values of run and do.

import * as assert from 'node:assert/strict';
import { networkPlan, parsePublish, parsePublishArg, publishArg } from '../../src/main/network.js';
import { networkConfinement } from '../../src/main/confine.js';

const withNetns = { linux: { namespaces: [{ type: 'pid' as const }, { type: 'network' as const }] } };
const withoutNetns = { linux: { namespaces: [{ type: 'pid' as const }] } };

describe('main/network: the network plan and -p', () => {
  it('none: a new namespace, no host sockets, whatever the spec says', () => {
    for (const spec of [withNetns, withoutNetns, {}]) assert.deepEqual(networkPlan('none', spec), { mode: 'none', newNamespace: true, inetSockets: false, outbound: false });
  });

  it('sandbox: outside traffic through host sockets only in the caller\'s namespace (no network namespace in the spec)', () => {
    assert.deepEqual(networkPlan('sandbox', withoutNetns), { mode: 'sandbox', newNamespace: false, inetSockets: true, outbound: true });
    assert.deepEqual(networkPlan('sandbox', {}), { mode: 'sandbox', newNamespace: false, inetSockets: true, outbound: true });
    assert.deepEqual(networkPlan('sandbox', withNetns), { mode: 'sandbox', newNamespace: true, inetSockets: false, outbound: false });
  });

  it('host: host sockets always, in a new namespace when the spec asks for one (as runsc)', () => {
    assert.deepEqual(networkPlan('host', withoutNetns), { mode: 'host', newNamespace: false, inetSockets: true, outbound: false });
    assert.deepEqual(networkPlan('host', withNetns), { mode: 'host', newNamespace: true, inetSockets: true, outbound: false });
    assert.deepEqual(networkConfinement(networkPlan('host', withNetns)), { hostNetwork: false, inetSockets: true });
    assert.deepEqual(networkConfinement(networkPlan('sandbox', withNetns)), { hostNetwork: false, inetSockets: false });
  });

  it('-p: [HOSTIP:]HOSTPORT:GUESTPORT[/tcp|/udp], tcp and 0.0.0.0 by default; anything else a usage error', () => {
    assert.deepEqual(parsePublish(['8080:80', '127.0.0.1:5353:53/udp', '9000:9000/tcp']), [
      { hostIp: '0.0.0.0', hostPort: 8080, guestPort: 80, protocol: 'tcp' },
      { hostIp: '127.0.0.1', hostPort: 5353, guestPort: 53, protocol: 'udp' },
      { hostIp: '0.0.0.0', hostPort: 9000, guestPort: 9000, protocol: 'tcp' },
    ]);
    for (const bad of ['80', '0:80', '8080:70000', '8080:80/sctp', '300.0.0.1:1:2', 'a:b', '::1:80:80', '']) assert.throws(() => parsePublish([bad]), /expected \[HOSTIP:\]HOSTPORT:GUESTPORT/, bad);
  });

  it('boot\'s --publish carries the fds and guest ports, and reads back', () => {
    const ports = [
      { fd: 0, guestPort: 80, protocol: 'tcp' as const },
      { fd: 0, guestPort: 53, protocol: 'udp' as const },
    ];
    const args = publishArg(ports, [7, 8]);
    assert.deepEqual(args, ['--publish=7:80/tcp', '--publish=8:53/udp']);
    assert.deepEqual(parsePublishArg(args.map((a) => a.slice('--publish='.length))), [
      { fd: 7, guestPort: 80, protocol: 'tcp' },
      { fd: 8, guestPort: 53, protocol: 'udp' },
    ]);
    assert.throws(() => parsePublishArg(['7:80']), /--publish 7:80: expected FD:GUESTPORT\/tcp or \/udp/);
  });
});
