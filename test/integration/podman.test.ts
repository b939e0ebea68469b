// podman driving tsvisor as its OCI runtime (`podman --runtime`), through
// conmon: podman's own storage, run root and temporary files in a private
// directory (vfs storage, cgroupfs, events to a file, no network), the
// riscv64 busybox-static OCI image of test/util/oci-image.ts loaded with
// `podman load`, then `podman run --rm` (output, exit status, the single-file
// bind mounts podman makes: /etc/hostname, /etc/hosts, /run/.containerenv),
// and `podman run -d` with `podman exec`, `stop` and `rm`. `uname -v` shows
// tsvisor's kernel: the output cannot have come from a host runtime with
// QEMU's binfmt handler. Skipped, with the reason, where podman or conmon is
// not installed or the test does not run as root (`apt-get install podman`
// runs it).

import * as assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { repoRoot } from '../util/bundle.js';
import { writeBusyboxImage } from '../util/oci-image.js';
import { haveCommand, runTool, TSVISOR, type ToolResult } from './run-util.js';

/** A name podman resolves locally, without asking any registry. */
const IMAGE = 'localhost/tsvisor-busybox:test';

describe('podman with tsvisor as its runtime', function () {
  this.timeout(300000);
  let dir = '';

  /** `podman` with its private storage and tsvisor as the runtime; stdin closed unless given. */
  const podman = (args: string[], stdin?: string): Promise<ToolResult> =>
    runTool('podman', [
      '--root', path.join(dir, 'storage'),
      '--runroot', path.join(dir, 'run'),
      '--tmpdir', path.join(dir, 'tmp'),
      '--storage-driver', 'vfs',
      '--cgroup-manager', 'cgroupfs',
      '--events-backend', 'file',
      '--runtime', TSVISOR,
      ...args,
    ], stdin);

  before(async function () {
    const why = process.geteuid?.() !== 0 ? 'not root' : !haveCommand('podman') || !haveCommand('conmon') ? 'podman and conmon are not installed' : '';
    if (why) {
      console.log(`    (skipped: ${why}; as root, \`apt-get install podman\` runs this test)`);
      this.skip();
    }
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'tsvisor-podman-'));
    fs.mkdirSync(path.join(dir, 'tmp'));
    const archive = path.join(dir, 'busybox.tar');
    writeBusyboxImage(archive, IMAGE, path.join(repoRoot(), 'fixtures', 'busybox', 'busybox'));
    const load = await podman(['load', '-i', archive]);
    if (load.code !== 0 && /storage|overlay|cgroup|runtime/i.test(load.err)) {
      console.log(`    (skipped: podman cannot run here: ${load.err.trim().split('\n').slice(-1)[0]})`);
      this.skip();
    }
    assert.equal(load.code, 0, load.err);
    assert.match(load.out, new RegExp(`Loaded image: ${IMAGE}`));
  });

  after(async () => {
    if (!dir) return;
    await podman(['rm', '-af', '-t', '0']).catch(() => undefined);
    await podman(['rmi', '-af']).catch(() => undefined);
    fs.rmSync(dir, { recursive: true, force: true });
  });

  it('podman run --rm: the output and exit status of a riscv64 busybox, with the files podman binds', async () => {
    const script = 'echo hello from podman; uname -mv; echo $(cat /etc/hostname); grep -c tsvisor-pm /etc/hosts; test -f /run/.containerenv && echo containerenv; exit 3';
    const r = await podman(['run', '--rm', '--network', 'none', '--hostname', 'tsvisor-pm', IMAGE, '/bin/busybox', 'sh', '-c', script]);
    assert.equal(r.code, 3, r.err);
    assert.equal(r.out, 'hello from podman\n#1 SMP tsvisor riscv64\ntsvisor-pm\n1\ncontainerenv\n');
    assert.equal((await podman(['ps', '-aq'])).out, '', 'nothing left behind');
  });

  it('podman run -i: stdin reaches the container', async () => {
    const r = await podman(['run', '--rm', '-i', '--network', 'none', IMAGE, '/bin/busybox', 'sh', '-c', 'read x; echo got $x'], 'piped\n');
    assert.equal(r.code, 0, r.err);
    assert.equal(r.out, 'got piped\n');
  });

  it('podman run -d, then exec (output, exit status), stop and rm', async () => {
    const d = await podman(['run', '-d', '--name', 'pm-d', '--network', 'none', IMAGE, '/bin/busybox', 'sleep', '600']);
    assert.equal(d.code, 0, d.err);
    assert.match((await podman(['ps', '--format', '{{.Names}} {{.Status}}'])).out, /^pm-d Up /m);
    const ex = await podman(['exec', 'pm-d', '/bin/busybox', 'sh', '-c', 'echo from exec; ps; exit 5']);
    assert.equal(ex.code, 5, ex.err);
    assert.match(ex.out, /^from exec\nPID\s+USER\s+COMMAND\n\s+1 root\s+\/bin\/busybox sleep 600\n/);
    const stop = await podman(['stop', '-t', '2', 'pm-d']);
    assert.equal(stop.code, 0, stop.err);
    assert.match((await podman(['ps', '-a', '--format', '{{.Names}} {{.Status}}'])).out, /^pm-d Exited \(143\)/m);
    assert.equal((await podman(['rm', 'pm-d'])).code, 0);
  });
});
