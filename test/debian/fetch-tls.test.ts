// https downloads trust the certificates bin/tsvisor moves out of
// NODE_EXTRA_CA_CERTS into TSVISOR_EXTRA_CA_CERTS (src/debian/fetch.ts
// EXTRA_CA_ENV): a server whose certificate only that file vouches for is
// refused without it and read with it. The certificate is made with the
// openssl command at test time (skipped, with the reason, where it is absent).

import * as assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as https from 'node:https';
import * as os from 'node:os';
import * as path from 'node:path';
import type { AddressInfo } from 'node:net';
import { EXTRA_CA_ENV, fetchBytes } from '../../src/debian/fetch.js';

const HAVE_OPENSSL = spawnSync('openssl', ['version'], { stdio: 'ignore' }).status === 0;

describe('do: https downloads and TSVISOR_EXTRA_CA_CERTS', function () {
  this.timeout(30000);
  let dir = '';
  let server: https.Server | undefined;
  let url = '';

  before(async function () {
    if (!HAVE_OPENSSL) return this.skip(); // no openssl command to make a certificate with
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'tsvisor-tls-'));
    const key = path.join(dir, 'key.pem');
    const cert = path.join(dir, 'cert.pem');
    const r = spawnSync('openssl', ['req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes', '-keyout', key, '-out', cert,
      '-days', '2', '-subj', '/CN=127.0.0.1', '-addext', 'subjectAltName=IP:127.0.0.1'], { encoding: 'utf8' });
    assert.equal(r.status, 0, r.stderr);
    server = https.createServer({ key: fs.readFileSync(key), cert: fs.readFileSync(cert) }, (req, res) => res.end(`served ${req.url}`));
    await new Promise<void>((resolve) => server!.listen(0, '127.0.0.1', () => resolve()));
    url = `https://127.0.0.1:${(server.address() as AddressInfo).port}/pool/x.deb`;
  });

  after(() => {
    server?.close();
    if (dir) fs.rmSync(dir, { recursive: true, force: true });
  });

  function withEnv<T>(value: string | undefined, f: () => Promise<T>): Promise<T> {
    const before = process.env[EXTRA_CA_ENV];
    if (value === undefined) delete process.env[EXTRA_CA_ENV];
    else process.env[EXTRA_CA_ENV] = value;
    return f().finally(() => {
      if (before === undefined) delete process.env[EXTRA_CA_ENV];
      else process.env[EXTRA_CA_ENV] = before;
    });
  }

  it('refuses a server only the extra file vouches for when the variable is unset', async () => {
    await withEnv(undefined, () => assert.rejects(fetchBytes(url), /certificate/i));
  });

  it('reads it with the variable naming the file (Node\'s roots kept beside it)', async () => {
    const body = await withEnv(path.join(dir, 'cert.pem'), () => fetchBytes(url));
    assert.equal(body.toString(), 'served /pool/x.deb');
  });

  it('an unreadable file is ignored (Node\'s own roots only), as Node ignores a bad NODE_EXTRA_CA_CERTS', async () => {
    await withEnv(path.join(dir, 'absent.pem'), () => assert.rejects(fetchBytes(url), /certificate/i));
  });
});
