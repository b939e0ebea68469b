import { strict as assert } from 'node:assert';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { buildKernel, type BuiltSandbox } from '../../src/sandbox/build.js';
import type { SandboxConfig } from '../../src/sandbox/config.js';
import { sandboxMounts } from '../../src/spec/mounts.js';
import * as namei from '../../src/kernel/vfs/namei.js';
import { EBUSY, ENOTDIR, EROFS, EXDEV, Errno, isErrno } from '../../src/linux/errno.js';
import * as abi from '../../src/linux/abi.js';

/** The vCPU worker's built entry point, as the kernel worker names it. */
const VCPU_WORKER = path.join(__dirname, '..', '..', 'src', 'workers', 'vcpu-worker.js');
import type { StatFs } from '../../src/backend/backend.js';

function ok<T>(v: T | Errno): T {
  if (isErrno(v)) assert.fail(`unexpected ${v.name}`);
  return v;
}

const quiet = { debug: () => {}, warn: () => {}, error: () => {}, user: () => {} };

describe('kernel/build: the spec\'s mounts', () => {
  it('sandboxMounts keeps tmpfs and bind mounts (sources relative to the bundle, ro), leaves proc and /dev to the kernel', () => {
    const m = sandboxMounts(
      [
        { destination: '/proc', type: 'proc', source: 'proc' },
        { destination: '/dev', type: 'tmpfs', source: 'tmpfs', options: ['mode=755'] },
        { destination: '/tmp/', type: 'tmpfs', source: 'tmpfs', options: ['size=1m'] },
        { destination: '/data', type: 'bind', source: 'shared', options: ['rbind', 'ro'] },
        { destination: '/w', source: '/abs', options: ['bind'] },
      ],
      '/bundle',
    );
    assert.deepEqual(m, [
      { kind: 'tmpfs', destination: '/tmp', options: ['size=1m'] },
      { kind: 'bind', destination: '/data', source: '/bundle/shared', readonly: true },
      { kind: 'bind', destination: '/w', source: '/abs', readonly: false },
    ]);
    assert.throws(() => sandboxMounts([{ destination: 'rel', type: 'tmpfs' }], '/b'), /not an absolute path/);
    assert.throws(() => sandboxMounts([{ destination: '/x', type: 'bind' }], '/b'), /no source/);
  });

  describe('buildKernel', () => {
    let tmp: string;
    let built: BuiltSandbox | undefined;

    beforeEach(() => {
      tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'tsvisor-mounts-'));
      fs.mkdirSync(path.join(tmp, 'rootfs', 'tmp'), { recursive: true });
      fs.mkdirSync(path.join(tmp, 'shared'));
      fs.writeFileSync(path.join(tmp, 'shared', 'note'), 'from the host');
    });

    afterEach(() => {
      built?.close();
      built = undefined;
      fs.rmSync(tmp, { recursive: true, force: true });
    });

    const config = (mounts: SandboxConfig['mounts']): SandboxConfig => ({
      containerId: 't', rootPath: path.join(tmp, 'rootfs'), rootReadonly: false, mounts,
      args: ['/bin/true'], env: [], cwd: '/', hostname: 'h', uid: 0, gid: 0, additionalGids: [], umask: 0o022,
      rlimits: [], totalMemory: 1 << 24, cpuNum: 1, stdioFds: [0, 1, 2], console: false, strace: false, userLogFd: 0,
      log: { debug: false, format: 'text' },
    } as SandboxConfig);

    it('mounts a spec tmpfs (size=, mode=), a read-only bind mount, and /dev/shm', async () => {
      built = await buildKernel(config([
        { kind: 'tmpfs', destination: '/tmp', options: ['size=64k', 'mode=1770'] },
        { kind: 'bind', destination: '/shared', source: path.join(tmp, 'shared'), readonly: true },
      ]), quiet, VCPU_WORKER);
      const vfs = built.kernel.vfs;
      const at = (p: string) => vfs.resolve(vfs.root, vfs.root, p, { followLast: true });
      const tmpDir = ok(await at('/tmp'));
      const sfs = ok(await (tmpDir.inode.statfs() as StatFs | Errno));
      assert.deepEqual([sfs.type, sfs.blocks], [abi.TMPFS_MAGIC, 16]);
      assert.equal(ok(await tmpDir.inode.getattr()).mode, abi.S_IFDIR | 0o1770);
      const shm = ok(await at('/dev/shm'));
      assert.equal(ok(await (shm.inode.statfs() as StatFs | Errno)).type, abi.TMPFS_MAGIC);
      const note = ok(await at('/shared/note'));
      assert.equal(ok(await note.inode.getattr()).size, 13);
      const ctx: namei.PathCtx = { vfs, root: vfs.root, cred: { euid: 0, egid: 0, groups: [] }, umask: 0o022 };
      assert.equal(await namei.mkdirAt(ctx, vfs.root, '/shared/x', 0o755), EROFS);
      assert.equal(await namei.renameAt(ctx, vfs.root, '/shared/note', vfs.root, '/tmp/note', 0), EXDEV);
      ok(await namei.mkdirAt(ctx, vfs.root, '/tmp/made', 0o755));
      assert.equal(fs.existsSync(path.join(tmp, 'rootfs', 'tmp', 'made')), false, 'the tmpfs, not the rootfs');
    });

    it('mounts single files, making their mount points inside the rootfs as runc does (parents too, through symlinks in the guest\'s namespace)', async () => {
      const rootfs = path.join(tmp, 'rootfs');
      const hosts = path.join(tmp, 'shared', 'note');
      fs.symlinkSync('/elsewhere/deeper', path.join(rootfs, 'lnk'));
      fs.symlinkSync(path.join(tmp, 'outside'), path.join(rootfs, 'out'));
      fs.mkdirSync(path.join(tmp, 'outside'));
      built = await buildKernel(config([
        { kind: 'bind', destination: '/etc/hosts', source: hosts, readonly: false },
        { kind: 'bind', destination: '/lnk/file', source: hosts, readonly: true },
        { kind: 'bind', destination: '/out/file', source: hosts, readonly: true },
        { kind: 'bind', destination: '/tmp/../tmp/./x', source: hosts, readonly: true },
      ]), quiet, VCPU_WORKER);
      const vfs = built.kernel.vfs;
      const at = (p: string) => vfs.resolve(vfs.root, vfs.root, p, { followLast: true });
      for (const p of ['/etc/hosts', '/lnk/file', '/elsewhere/deeper/file', '/out/file', '/tmp/x']) {
        assert.equal(ok(await ok(await at(p)).inode.getattr()).size, 13, p);
      }
      for (const p of ['etc/hosts', 'elsewhere/deeper/file', path.join(tmp, 'outside', 'file'), 'tmp/x']) {
        const st = fs.statSync(path.join(rootfs, p));
        assert.deepEqual([st.isFile(), st.size, st.mode & 0o7777], [true, 0, 0o644], p);
      }
      assert.deepEqual(fs.readdirSync(path.join(tmp, 'outside')), [], 'nothing made where the symlink points on the host');
      const ctx: namei.PathCtx = { vfs, root: vfs.root, cred: { euid: 0, egid: 0, groups: [] }, umask: 0o022 };
      assert.equal(await namei.removeAt(ctx, vfs.root, '/etc/hosts', false), EBUSY);
      assert.equal(await namei.renameAt(ctx, vfs.root, '/tmp/x', vfs.root, '/tmp/y', 0), EBUSY);
      assert.equal(await at('/etc/hosts/x'), ENOTDIR);
      assert.deepEqual(vfs.mountTable().filter((m) => m.fstype === '9p').map((m) => [m.at, m.readonly]), [
        ['/', false], ['/etc/hosts', false], ['/elsewhere/deeper/file', true], [path.join(tmp, 'outside', 'file'), true], ['/tmp/x', true],
      ]);
    });

    it('mounts a file on a read-only rootfs without changing it; refuses a directory, a non-directory parent and a symlink loop', async () => {
      const rootfs = path.join(tmp, 'rootfs');
      const note = path.join(tmp, 'shared', 'note');
      built = await buildKernel({ ...config([{ kind: 'bind', destination: '/etc/hosts', source: note, readonly: true }]), rootReadonly: true }, quiet, VCPU_WORKER);
      const vfs = built.kernel.vfs;
      assert.equal(ok(await ok(await vfs.resolve(vfs.root, vfs.root, '/etc/hosts', { followLast: true })).inode.getattr()).size, 13);
      assert.equal(fs.existsSync(path.join(rootfs, 'etc')), false);
      built.close();
      built = undefined;
      fs.writeFileSync(path.join(rootfs, 'afile'), '');
      fs.symlinkSync('loop', path.join(rootfs, 'loop'));
      for (const [destination, why] of [['/tmp', /a directory is there/], ['/afile/x', /\/afile is not a directory/], ['/loop', /too many levels of symbolic links/]] as const) {
        await assert.rejects(buildKernel(config([{ kind: 'bind', destination, source: note, readonly: true }]), quiet, VCPU_WORKER), why);
      }
    });

    it('refuses a bad tmpfs option with an Error, and closes what it opened', async () => {
      await assert.rejects(buildKernel(config([{ kind: 'tmpfs', destination: '/tmp', options: ['size=huge'] }]), quiet, VCPU_WORKER), /size=huge/);
    });
  });
});
