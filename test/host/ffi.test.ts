import { strict as assert } from 'node:assert';
import * as fs from 'node:fs';
import * as net from 'node:net';
import * as os from 'node:os';
import * as path from 'node:path';
import * as ffi from '../../src/host/ffi.js';

const H = ffi.HOST;
const ENOENT = -2;
const EXDEV = -18;
const ENOTDIR = -20;
const EINVAL = -22;
const ELOOP = -40;
const EOPNOTSUPP = -95;

/** Connects to `sockPath` with connectUnixSocket and reads what the server says until it closes. */
function readFromSocket(sockPath: string): Promise<string> {
  const fd = ffi.connectUnixSocket(sockPath);
  assert.ok(fd >= 0, `connect: ${fd}`);
  return new Promise((resolve, reject) => {
    const s = new net.Socket({ fd, readable: true, writable: true });
    let got = '';
    s.on('data', (b) => (got += b));
    s.on('error', reject);
    s.on('close', () => resolve(got));
  });
}

describe('host/ffi', () => {
  let tmp: string;
  let dirfd: number;
  let procFd: number;
  const fds: number[] = [];
  const keep = (fd: number): number => {
    assert.ok(fd >= 0, `expected an fd, got ${fd}`);
    fds.push(fd);
    return fd;
  };

  beforeEach(() => {
    tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'tsvisor-ffi-'));
    fs.mkdirSync(path.join(tmp, 'root'));
    fs.mkdirSync(path.join(tmp, 'outside'));
    fs.writeFileSync(path.join(tmp, 'outside', 'marker'), 'MARKER');
    fs.writeFileSync(path.join(tmp, 'root', 'file'), 'inside');
    fs.symlinkSync(path.join(tmp, 'outside', 'marker'), path.join(tmp, 'root', 'abs'));
    fs.symlinkSync('../outside', path.join(tmp, 'root', 'rel'));
    dirfd = keep(ffi.openat(ffi.AT_FDCWD, path.join(tmp, 'root'), H.O_PATH | H.O_DIRECTORY | H.O_CLOEXEC));
    procFd = keep(ffi.openat(ffi.AT_FDCWD, '/proc/self/fd', H.O_PATH | H.O_DIRECTORY | H.O_CLOEXEC));
  });

  afterEach(() => {
    for (const fd of fds.splice(0)) ffi.closeFd(fd);
    assert.equal(fs.readFileSync(path.join(tmp, 'outside', 'marker'), 'utf8'), 'MARKER');
    assert.equal(fs.statSync(path.join(tmp, 'outside', 'marker')).nlink, 1);
    fs.rmSync(tmp, { recursive: true, force: true });
  });

  describe('existing exports', () => {
    it('pipe2 gives two fds that closeFd closes', () => {
      const p = ffi.pipe2(ffi.O_CLOEXEC);
      assert.ok(Array.isArray(p));
      fs.writeSync(p[1], 'x');
      const b = Buffer.alloc(1);
      assert.equal(fs.readSync(p[0], b), 1);
      assert.equal(ffi.setCloexec(p[0], false), 0);
      assert.equal(ffi.closeFd(p[0]), 0);
      assert.equal(ffi.closeFd(p[1]), 0);
      assert.equal(ffi.closeFd(p[1]), -9); // EBADF
    });

    it('socketState says a plain file is not a socket', () => {
      const fd = keep(ffi.openat(dirfd, 'file', H.O_RDONLY | H.O_CLOEXEC));
      assert.equal(ffi.socketState(fd), 'not-a-socket');
    });
  });

  describe('unix socket paths', () => {
    it('binds and connects a path too long for sun_path (through its directory\'s /proc/self/fd link), and still refuses NUL', async () => {
      const deep = path.join(tmp, 'a'.repeat(60), 'b'.repeat(60));
      fs.mkdirSync(deep, { recursive: true });
      const sockPath = path.join(deep, 'control.sock');
      assert.ok(Buffer.byteLength(sockPath) > 108);
      const bound = ffi.bindUnixSocket(sockPath);
      assert.ok(bound >= 0, `bind: ${bound}`);
      assert.ok(fs.statSync(sockPath).isSocket(), 'the socket is at the long path itself');
      const server = net.createServer((c) => c.end('hi'));
      await new Promise<void>((res) => server.listen({ fd: bound }, res));
      try {
        const said = await readFromSocket(sockPath);
        assert.equal(said, 'hi');
        assert.equal(ffi.connectUnixSocket(path.join(deep, 'missing.sock')), -2); // ENOENT
        assert.equal(ffi.connectUnixSocket(path.join(tmp, 'no-such-dir', 'x'.repeat(120))), -2);
        assert.equal(ffi.bindUnixSocket(path.join(deep, 'nul\0x')), -22); // EINVAL
      } finally {
        await new Promise((res) => server.close(res));
      }
      const open = fs.readdirSync('/proc/self/fd').map((fd) => {
        try {
          return fs.readlinkSync(`/proc/self/fd/${fd}`);
        } catch {
          return '';
        }
      });
      assert.equal(open.includes(deep), false, 'the directory fd the long path went through is closed');
    });
  });

  describe('openat and openat2', () => {
    it('returns a negative errno for a missing name', () => {
      assert.equal(ffi.openat(dirfd, 'missing', H.O_RDONLY), ENOENT);
    });

    it('O_PATH|O_NOFOLLOW opens a symlink itself', () => {
      const fd = keep(ffi.openat(dirfd, 'abs', H.O_PATH | H.O_NOFOLLOW | H.O_CLOEXEC));
      assert.ok(fs.fstatSync(fd).isSymbolicLink());
    });

    it('O_PATH|O_NOFOLLOW|O_DIRECTORY refuses a symlink with ENOTDIR', () => {
      assert.equal(ffi.openat(dirfd, 'rel', H.O_PATH | H.O_NOFOLLOW | H.O_DIRECTORY | H.O_CLOEXEC), ENOTDIR);
      assert.equal(ffi.openat2(dirfd, 'rel', H.O_PATH | H.O_NOFOLLOW | H.O_DIRECTORY | H.O_CLOEXEC, 0, ffi.RESOLVE_NO_SYMLINKS), ENOTDIR);
    });

    it('RESOLVE_BENEATH refuses ".." out of the directory', () => {
      assert.equal(ffi.openat2(dirfd, '../outside/marker', H.O_RDONLY, 0, ffi.RESOLVE_BENEATH), EXDEV);
    });

    it('RESOLVE_NO_SYMLINKS refuses a symlink on the way', () => {
      assert.equal(ffi.openat2(dirfd, 'rel/marker', H.O_RDONLY, 0, ffi.RESOLVE_NO_SYMLINKS), ELOOP);
    });

    it('RESOLVE_IN_ROOT resolves an absolute symlink inside the directory', () => {
      assert.equal(ffi.openat2(dirfd, 'abs', H.O_RDONLY, 0, ffi.RESOLVE_IN_ROOT), ENOENT);
    });

    it('reopening through /proc/self/fd gives the same inode', () => {
      const p = keep(ffi.openat(dirfd, 'file', H.O_PATH | H.O_NOFOLLOW | H.O_CLOEXEC));
      const fd = keep(ffi.openat(procFd, String(p), H.O_RDONLY | H.O_CLOEXEC));
      assert.equal(fs.fstatSync(fd).ino, fs.fstatSync(p).ino);
      assert.equal(fs.readFileSync(fd, 'utf8'), 'inside');
    });

    it('refuses a path holding NUL without calling the host', () => {
      assert.equal(ffi.mkdirat(dirfd, 'a\0b', 0o755), EINVAL);
      assert.equal(fs.existsSync(path.join(tmp, 'root', 'a')), false);
      assert.equal(ffi.openat(dirfd, 'file\0x', H.O_RDONLY), EINVAL);
      assert.equal(ffi.openat2(dirfd, 'file\0x', H.O_RDONLY, 0, 0), EINVAL);
    });
  });

  describe('the *at calls', () => {
    it('readlinkat with an empty path reads the symlink an O_PATH fd names', () => {
      const fd = keep(ffi.openat(dirfd, 'rel', H.O_PATH | H.O_NOFOLLOW | H.O_CLOEXEC));
      const r = ffi.readlinkat(fd, '');
      assert.ok(Buffer.isBuffer(r));
      assert.equal(r.toString(), '../outside');
    });

    it('mkdirat, symlinkat, renameat, unlinkat', () => {
      assert.equal(ffi.mkdirat(dirfd, 'd', 0o700), 0);
      assert.ok(fs.statSync(path.join(tmp, 'root', 'd')).isDirectory());
      assert.equal(ffi.symlinkat('target', dirfd, 'sl'), 0);
      assert.equal(fs.readlinkSync(path.join(tmp, 'root', 'sl')), 'target');
      assert.equal(ffi.renameat(dirfd, 'sl', dirfd, 'sl2'), 0);
      assert.equal(ffi.unlinkat(dirfd, 'sl2', 0), 0);
      assert.equal(ffi.unlinkat(dirfd, 'd', 0), -21); // EISDIR
      assert.equal(ffi.unlinkat(dirfd, 'd', ffi.AT_REMOVEDIR), 0);
      assert.equal(ffi.unlinkat(dirfd, 'file', ffi.AT_REMOVEDIR), ENOTDIR);
    });

    it('linkat AT_EMPTY_PATH links the inode an O_PATH fd holds', () => {
      const fd = keep(ffi.openat(dirfd, 'file', H.O_PATH | H.O_NOFOLLOW | H.O_CLOEXEC));
      assert.equal(ffi.linkat(fd, '', dirfd, 'hard', ffi.AT_EMPTY_PATH), 0);
      assert.equal(fs.statSync(path.join(tmp, 'root', 'file')).nlink, 2);
    });

    it('linkat through /proc/self/fd of a symlink links the symlink, not its target', () => {
      const fd = keep(ffi.openat(dirfd, 'abs', H.O_PATH | H.O_NOFOLLOW | H.O_CLOEXEC));
      assert.equal(ffi.linkat(procFd, String(fd), dirfd, 'hard', ffi.AT_SYMLINK_FOLLOW), 0);
      assert.ok(fs.lstatSync(path.join(tmp, 'root', 'hard')).isSymbolicLink());
    });

    it('fchmodat through /proc/self/fd changes the file, and refuses a symlink', () => {
      const f = keep(ffi.openat(dirfd, 'file', H.O_PATH | H.O_NOFOLLOW | H.O_CLOEXEC));
      assert.equal(ffi.fchmodat(procFd, String(f), 0o600, 0), 0);
      assert.equal(fs.statSync(path.join(tmp, 'root', 'file')).mode & 0o7777, 0o600);
      const before = fs.statSync(path.join(tmp, 'outside', 'marker')).mode;
      const s = keep(ffi.openat(dirfd, 'abs', H.O_PATH | H.O_NOFOLLOW | H.O_CLOEXEC));
      assert.equal(ffi.fchmodat(procFd, String(s), 0o777, 0), EOPNOTSUPP);
      assert.equal(fs.statSync(path.join(tmp, 'outside', 'marker')).mode, before);
    });

    it('fchownat AT_EMPTY_PATH changes an O_PATH fd own inode', function () {
      if (process.geteuid?.() !== 0) this.skip();
      const s = keep(ffi.openat(dirfd, 'abs', H.O_PATH | H.O_NOFOLLOW | H.O_CLOEXEC));
      assert.equal(ffi.fchownat(s, '', 1234, 4321, ffi.AT_EMPTY_PATH | ffi.AT_SYMLINK_NOFOLLOW), 0);
      const l = fs.lstatSync(path.join(tmp, 'root', 'abs'));
      assert.deepEqual([l.uid, l.gid], [1234, 4321]);
      assert.equal(fs.statSync(path.join(tmp, 'outside', 'marker')).uid, process.geteuid());
    });

    it('utimensat keeps nanoseconds and honours UTIME_OMIT', () => {
      const f = keep(ffi.openat(dirfd, 'file', H.O_PATH | H.O_NOFOLLOW | H.O_CLOEXEC));
      assert.equal(ffi.utimensat(f, '', [[1000, 123456789], [2000, 987654321]], ffi.AT_EMPTY_PATH), 0);
      let st = fs.statSync(path.join(tmp, 'root', 'file'), { bigint: true });
      assert.equal(st.atimeNs, 1000_123456789n);
      assert.equal(st.mtimeNs, 2000_987654321n);
      assert.equal(ffi.utimensat(f, '', ['omit', [3000, 5]], ffi.AT_EMPTY_PATH), 0);
      st = fs.statSync(path.join(tmp, 'root', 'file'), { bigint: true });
      assert.equal(st.atimeNs, 1000_123456789n);
      assert.equal(st.mtimeNs, 3000_000000005n);
    });

    it('ftruncate, fstatfs, lseek', () => {
      const fd = keep(ffi.openat(dirfd, 'file', H.O_RDWR | H.O_CLOEXEC));
      assert.equal(ffi.ftruncate(fd, 2), 0);
      assert.equal(fs.readFileSync(path.join(tmp, 'root', 'file'), 'utf8'), 'in');
      assert.equal(ffi.lseek(fd, 1n, ffi.SEEK_SET), 1n);
      const s = ffi.fstatfs(dirfd); // an O_PATH fd
      assert.ok(typeof s !== 'number');
      assert.ok(s.bsize > 0 && s.namelen > 0);
      assert.equal(ffi.ftruncate(fd, -1), EINVAL);
    });

    it('getdents64 lists a directory with d_type and d_off', () => {
      const fd = keep(ffi.openat(dirfd, '.', H.O_RDONLY | H.O_DIRECTORY | H.O_CLOEXEC));
      const buf = Buffer.alloc(4096);
      const n = ffi.getdents64(fd, buf);
      assert.ok(n > 0);
      const ents = ffi.parseDirents(buf, n);
      const byName = new Map(ents.map((e) => [e.name.toString(), e]));
      assert.deepEqual([...byName.keys()].sort(), ['.', '..', 'abs', 'file', 'rel']);
      assert.equal(byName.get('file')!.type, 8); // DT_REG
      assert.equal(byName.get('abs')!.type, 10); // DT_LNK
      assert.equal(byName.get('.')!.type, 4); // DT_DIR
      assert.equal(ffi.getdents64(fd, buf), 0);
      // Continue after the first entry from its d_off.
      assert.equal(ffi.lseek(fd, ents[0].off, ffi.SEEK_SET), ents[0].off);
      const again = ffi.parseDirents(buf, ffi.getdents64(fd, buf));
      assert.deepEqual(again.map((e) => e.name.toString()), ents.slice(1).map((e) => e.name.toString()));
    });

    it('dupCloexec duplicates an fd', () => {
      const d = keep(ffi.dupCloexec(dirfd));
      assert.notEqual(d, dirfd);
      assert.equal(fs.fstatSync(d).ino, fs.fstatSync(dirfd).ino);
    });
  });
});
