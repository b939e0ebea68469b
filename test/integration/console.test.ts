// The interactive console end to end: `tsvisor run` of a bundle with
// process.terminal: true, on a real pseudo-terminal (made by python3's pty
// support: a small proxy below, driven over JSON lines), running Debian's
// busybox `sh`. What a person at a terminal would see: the prompt, echo,
// `stty size` following resizes, ^C, ^Z and `fg`, line editing (busybox's
// own in raw mode, and the kernel's canonical editing under `read`), `tty`,
// `exit 5` as run's status, and the host terminal's mode restored after.
// Then the same shell on pipes: commands from stdin, no terminal ioctl.

import * as assert from 'node:assert/strict';
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { makeSpec, repoRoot } from '../util/bundle.js';
import { layoutBusyboxRootfs } from '../../src/debian/busybox-rootfs.js';
import { TSVISOR, stateRoot, tsvisor } from './run-util.js';
import { UrpcClient } from '../../src/main/urpc.js';
import { create, stopped } from './oci-util.js';

const BUSYBOX = path.join(repoRoot(), 'fixtures', 'busybox', 'busybox');

/**
 * The pty proxy: makes a pty of ROWSxCOLS, starts argv on its slave as the
 * leader of a new session with the slave as controlling terminal (as a login
 * would), and relays. Commands on stdin (JSON lines): {"write": base64},
 * {"resize": [rows, cols]}, {"mode": true} (reports whether the slave is in
 * raw mode now). Reports on stdout (JSON lines): {"out": base64},
 * {"raw": bool}, and at the end {"exit": status, "restored": bool}, where
 * restored says the slave's termios equals what it was before the start.
 */
const PROXY_HEAD = String.raw`
import os, sys, json, base64, select, termios, struct, fcntl, subprocess, threading, socket
rows, cols = int(sys.argv[1]), int(sys.argv[2])
`;

/** Own pty: argv on its slave, in a new session with the slave as controlling terminal. */
const OWN_PTY = String.raw`
m, s = os.openpty()
fcntl.ioctl(s, termios.TIOCSWINSZ, struct.pack('HHHH', rows, cols, 0, 0))
before = termios.tcgetattr(s)
# Typed before the command starts (the slave still canonical, echoing): as script(1) forwards its input, ^D at its end.
os.write(m, base64.b64decode(os.environ.get('TYPED_AHEAD', '')))
def pre():
    os.setsid()
    fcntl.ioctl(0, termios.TIOCSCTTY, 0)
p = subprocess.Popen(sys.argv[3:], stdin=s, stdout=s, stderr=s, preexec_fn=pre, close_fds=True)
sys.stdout.write(json.dumps({'pid': p.pid}) + '\n')
sys.stdout.flush()
`;

/**
 * A console socket (argv[3]): argv[4:] gets it as --console-socket; the pty
 * master arrives over it (SCM_RIGHTS) and is driven as above (resizes on the
 * master, as a runtime does; ROWS 0 leaves the size the pty came with). Reports {"name": the data sent with the fd}.
 */
const CONSOLE_SOCKET = String.raw`
srv = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
srv.bind(sys.argv[3])
srv.listen(1)
p = subprocess.Popen(sys.argv[4:], stdin=subprocess.DEVNULL, close_fds=True)
conn, _ = srv.accept()
name, fds, _, _ = socket.recv_fds(conn, 1024, 1)
conn.close()
m = s = fds[0]
if rows > 0:
    fcntl.ioctl(m, termios.TIOCSWINSZ, struct.pack('HHHH', rows, cols, 0, 0))
before = termios.tcgetattr(s)
sys.stdout.write(json.dumps({'name': name.decode()}) + '\n')
sys.stdout.flush()
`;

const PROXY_LOOP = String.raw`
lock = threading.Lock()
def say(obj):
    with lock:
        sys.stdout.write(json.dumps(obj) + '\n')
        sys.stdout.flush()
def commands():
    for line in sys.stdin:
        c = json.loads(line)
        if 'write' in c:
            os.write(m, base64.b64decode(c['write']))
        elif 'resize' in c:
            fcntl.ioctl(s, termios.TIOCSWINSZ, struct.pack('HHHH', c['resize'][0], c['resize'][1], 0, 0))
        elif 'mode' in c:
            lflag = termios.tcgetattr(s)[3]
            say({'raw': (lflag & (termios.ICANON | termios.ECHO | termios.ISIG)) == 0})
threading.Thread(target=commands, daemon=True).start()
while True:
    r, _, _ = select.select([m], [], [], 0.1)
    if r:
        try:
            d = os.read(m, 65536)
        except OSError:
            d = b''
        if d:
            say({'out': base64.b64encode(d).decode()})
            continue
    if p.poll() is not None:
        r, _, _ = select.select([m], [], [], 0.2)
        if r:
            try:
                d = os.read(m, 65536)
                if d:
                    say({'out': base64.b64encode(d).decode()})
                    continue
            except OSError:
                pass
        break
say({'exit': p.wait(), 'restored': termios.tcgetattr(s) == before})
`;

const PROXY = PROXY_HEAD + OWN_PTY + PROXY_LOOP;
const SOCKET_PROXY = PROXY_HEAD + CONSOLE_SOCKET + PROXY_LOOP;

interface ProxyEvent {
  pid?: number;
  name?: string;
  out?: string;
  raw?: boolean;
  exit?: number;
  restored?: boolean;
}

/** A session on the pty: everything the terminal showed, and ways to type, resize and wait. */
class PtySession {
  screen = '';
  private readonly proc: ChildProcess;
  private waiters: (() => void)[] = [];
  private rawReplies: ((raw: boolean) => void)[] = [];
  ended?: { exit: number; restored: boolean };
  /** With a console socket: what came with the fd. */
  name?: string;
  /** The pid of the command on the pty. */
  pid?: number;

  /** `typedAhead`: bytes written to the master before the command starts (own pty only). */
  constructor(argv: string[], rows: number, cols: number, proxy = PROXY, typedAhead = '') {
    const env = { ...process.env, TYPED_AHEAD: Buffer.from(typedAhead, 'latin1').toString('base64') };
    this.proc = spawn('python3', ['-c', proxy, String(rows), String(cols), ...argv], { stdio: ['pipe', 'pipe', 'inherit'], env });
    let buf = '';
    this.proc.stdout!.on('data', (d: Buffer) => {
      buf += d.toString();
      let nl;
      while ((nl = buf.indexOf('\n')) >= 0) {
        const ev = JSON.parse(buf.slice(0, nl)) as ProxyEvent;
        buf = buf.slice(nl + 1);
        if (ev.name !== undefined) this.name = ev.name;
        if (ev.pid !== undefined) this.pid = ev.pid;
        if (ev.out !== undefined) this.screen += Buffer.from(ev.out, 'base64').toString('latin1');
        if (ev.raw !== undefined) this.rawReplies.shift()?.(ev.raw);
        if (ev.exit !== undefined) this.ended = { exit: ev.exit, restored: ev.restored === true };
        const ws = this.waiters;
        this.waiters = [];
        for (const w of ws) w();
      }
    });
    this.proc.stdin!.on('error', () => {});
  }

  type(text: string): void {
    this.proc.stdin!.write(JSON.stringify({ write: Buffer.from(text, 'latin1').toString('base64') }) + '\n');
  }

  resize(rows: number, cols: number): void {
    this.proc.stdin!.write(JSON.stringify({ resize: [rows, cols] }) + '\n');
  }

  isRaw(): Promise<boolean> {
    return new Promise((resolve) => {
      this.rawReplies.push(resolve);
      this.proc.stdin!.write(JSON.stringify({ mode: true }) + '\n');
    });
  }

  /** Wait until the screen, from offset `from`, matches `re`; returns the offset after the match. */
  async expect(re: RegExp, from: number, timeoutMs = 60000): Promise<number> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const m = re.exec(this.screen.slice(from));
      if (m) return from + m.index + m[0].length;
      if (this.ended || Date.now() > deadline) throw new Error(`no ${re} on the terminal after ${timeoutMs} ms; it shows:\n${JSON.stringify(this.screen.slice(from))}`);
      await new Promise<void>((r) => {
        const t = setTimeout(r, 200);
        this.waiters.push(() => {
          clearTimeout(t);
          r();
        });
      });
    }
  }

  async exited(timeoutMs = 30000): Promise<{ exit: number; restored: boolean }> {
    const deadline = Date.now() + timeoutMs;
    while (!this.ended) {
      if (Date.now() > deadline) throw new Error('the sandbox did not exit');
      await pause(100);
    }
    return this.ended;
  }

  kill(): void {
    this.proc.kill('SIGKILL');
  }
}

/** Let `ms` pass (the shell's or a program's time to react, as a person's typing gives it). */
const pause = (ms: number) => new Promise((r) => setTimeout(r, ms));

const PROMPT = /\$ (\x1b\[6n)?/;

function busyboxBundle(terminal: boolean, consoleSize?: { height: number; width: number }, args = ['/bin/sh']): string {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'tsvisor-bundle-'));
  fs.chmodSync(dir, 0o755);
  layoutBusyboxRootfs(path.join(dir, 'rootfs'), BUSYBOX);
  const spec = makeSpec({ args, env: ['PATH=/bin', 'HOME=/root', 'TERM=dumb', 'PS1=$ '] });
  Object.assign(spec.process as object, { terminal, ...(consoleSize ? { consoleSize } : {}) });
  fs.writeFileSync(path.join(dir, 'config.json'), JSON.stringify(spec, null, 2));
  return dir;
}

const havePython = spawnSync('python3', ['-c', 'import pty, termios, fcntl'], { stdio: 'ignore' }).status === 0;

describe('console', function () {
  // One state root and one busybox bundle (process.terminal: true) for every sandbox below.
  let root = '';
  let bundle = '';
  before(() => {
    root = stateRoot();
    bundle = busyboxBundle(true);
  });
  after(() => {
    fs.rmSync(root, { recursive: true, force: true });
    fs.rmSync(bundle, { recursive: true, force: true });
  });

  describe('tsvisor run on a terminal (process.terminal: true)', function () {
    this.timeout(400000);

    it('busybox sh is interactive: prompt, echo, size and resize, ^C, ^Z and fg, line editing, background jobs, less and vi, tty, exit status, terminal restored', async function () {
      if (!havePython) this.skip();
      const t = new PtySession([TSVISOR, '--root', root, 'run', '--bundle', bundle, 'console-sh'], 30, 100);
      try {
        // The prompt appears.
        let at = await t.expect(PROMPT, 0, 120000);
        assert.equal(await t.isRaw(), true, 'the host terminal is in raw mode while the sandbox runs');
        // A typed command echoes and runs.
        t.type('echo hello-$((6*7))\r');
        at = await t.expect(/echo hello-\$\(\(6\*7\)\)\r\n/, at);
        at = await t.expect(/hello-42\r\n/, at);
        at = await t.expect(PROMPT, at);
        // The terminal's size, and a resize.
        t.type('stty size\r');
        at = await t.expect(/\r\n30 100\r\n/, at);
        at = await t.expect(PROMPT, at);
        t.resize(40, 120);
        await pause(1000);
        t.type('stty size\r');
        at = await t.expect(/\r\n40 120\r\n/, at);
        at = await t.expect(PROMPT, at);
        // ^C interrupts a foreground sleep; the shell lives on.
        const t0 = Date.now();
        t.type('sleep 30\r');
        at = await t.expect(/sleep 30\r\n/, at);
        await pause(1500);
        t.type('\x03');
        at = await t.expect(/\^C/, at);
        at = await t.expect(PROMPT, at);
        assert.ok(Date.now() - t0 < 20000, 'sleep was cut short');
        t.type('echo alive-$?\r');
        at = await t.expect(/alive-130\r\n/, at);
        at = await t.expect(PROMPT, at);
        // ^Z stops a job; jobs lists it; fg resumes it and it finishes normally.
        t.type('sleep 3\r');
        at = await t.expect(/sleep 3\r\n/, at);
        await pause(1000);
        t.type('\x1a');
        at = await t.expect(/\[1\]\+\s+Stopped\s+sleep 3/, at);
        at = await t.expect(PROMPT, at);
        t.type('jobs\r');
        at = await t.expect(/\[1\]\+\s+Stopped\s+sleep 3\r\n/, at);
        at = await t.expect(PROMPT, at);
        t.type('fg; echo fg-status-$?\r');
        at = await t.expect(/fg-status-0\r\n/, at);
        at = await t.expect(PROMPT, at);
        // Line editing: busybox's own (raw mode), and the kernel's canonical mode under `read`.
        t.type('echo abc\x7f\x7fxy\r');
        at = await t.expect(/\r\naxy\r\n/, at);
        at = await t.expect(PROMPT, at);
        t.type('read v; echo "[$v]"\r');
        at = await t.expect(/echo "\[\$v\]"\r\n/, at);
        await pause(1500); // until the shell has left its raw mode and `read` waits
        t.type('one two\x17three\x7f\x7fee\r');
        // ^W rubs out "two" and DEL two letters, as Linux's n_tty echoes it (ECHOE: backspace, space, backspace).
        at = await t.expect(/one two(\x08 \x08){3}three(\x08 \x08){2}ee\r\n\[one three\]\r\n/, at);
        at = await t.expect(PROMPT, at);
        // Background jobs: a read from the terminal stops the job (SIGTTIN); with tostop, so does a write (SIGTTOU).
        t.type('cat &\r');
        at = await t.expect(PROMPT, at);
        await pause(1500);
        t.type('jobs\r');
        at = await t.expect(/\[1\]\+\s+Stopped \(tty input\)\s+cat\r\n/, at);
        at = await t.expect(PROMPT, at);
        t.type('kill -9 %1; stty tostop; echo bg-out &\r');
        at = await t.expect(PROMPT, at);
        await pause(1500);
        t.type('jobs\r');
        at = await t.expect(/Stopped \(tty output\)\s+echo bg-out\r\n/, at);
        at = await t.expect(PROMPT, at);
        t.type('fg; stty -tostop\r');
        at = await t.expect(/\r\nbg-out\r\n/, at);
        at = await t.expect(PROMPT, at);
        // Full-screen programs: a pipeline into less (its own process group in the foreground), vi writing a file.
        t.type('echo paged-text | less\r');
        at = await t.expect(/paged-text/, at);
        await pause(500);
        t.type('q');
        at = await t.expect(PROMPT, at);
        t.type('vi /tmp/f\r');
        at = await t.expect(/\/tmp\/f/, at);
        await pause(1000);
        // Typed as a person would: vi takes bytes right after ESC as part of an escape sequence.
        for (const keys of ['iwritten by vi', '\x1b', ':wq\r']) {
          t.type(keys);
          await pause(500);
        }
        at = await t.expect(PROMPT, at);
        t.type('cat /tmp/f\r');
        at = await t.expect(/\r\nwritten by vi\r\n/, at);
        at = await t.expect(PROMPT, at);
        // `tty` names a terminal.
        t.type('tty\r');
        at = await t.expect(/\r\n\/dev\/(console|pts\/\d+|tty\d*)\r\n/, at);
        at = await t.expect(PROMPT, at);
        // exit 5 is run's status; the host terminal is back as it was.
        t.type('exit 5\r');
        const end = await t.exited(60000);
        assert.equal(end.exit, 5);
        assert.equal(end.restored, true, 'the host terminal mode is restored');
      } finally {
        t.kill();
      }
    });

    it('restores the host terminal when the guest dies of a signal', async function () {
      if (!havePython) this.skip();
      const t = new PtySession([TSVISOR, '--root', root, 'run', '--bundle', bundle, 'console-kill'], 24, 80);
      try {
        await t.expect(PROMPT, 0, 120000);
        t.type('kill -9 $$\r');
        const end = await t.exited(60000);
        assert.equal(end.exit, 137);
        assert.equal(end.restored, true);
      } finally {
        t.kill();
      }
    });
  });

  describe('input typed before the sandbox takes the terminal', function () {
    this.timeout(300000);

    it('reaches the guest as the host terminal cooked it: a line, then end of file (no NUL byte, no "^@" echoed), as on Linux', async function () {
      if (!havePython) this.skip();
      // Linux turns an end-of-file mark still queued when a terminal goes raw into a NUL byte;
      // read raw, the guest's echoing console showed it as "^@" and `read b` waited for a line.
      const reader = busyboxBundle(true, undefined, ['/bin/sh', '-c', 'read a; echo "[$a] $?"; read b; echo "[$b] $?"']);
      const t = new PtySession([TSVISOR, '--root', root, 'run', '--bundle', reader, 'console-typed-ahead'], 24, 80, PROXY, 'first line\n\x04');
      try {
        const end = await t.exited(120000);
        assert.equal(t.screen, 'first line\r\n[first line] 0\r\n[] 1\r\n', 'the host echoed the line once; the guest read it, then end of file');
        assert.equal(end.exit, 0);
        assert.equal(end.restored, true);
      } finally {
        t.kill();
        fs.rmSync(reader, { recursive: true, force: true });
      }
    });

    it('tsvisor do under script(1) with its input at an end: nothing but the command\'s output', async function () {
      if (!havePython) this.skip();
      const t = new PtySession([TSVISOR, 'do', '--busybox', BUSYBOX, '--', 'sh', '-c', 'echo hi'], 24, 80, PROXY, '\x04');
      try {
        const end = await t.exited(120000);
        assert.equal(t.screen, 'hi\r\n');
        assert.equal(end.exit, 0);
      } finally {
        t.kill();
      }
    });
  });

  describe("signals for run's process group, as a terminal sends them", function () {
    this.timeout(300000);

    it('Ctrl-C on the terminal run was started from (process.terminal: false): the container gets SIGINT, run exits 130, no internal error', async function () {
      if (!havePython) this.skip();
      // The host terminal is canonical with ISIG: ^C is SIGINT for its foreground group, run's.
      const plain = busyboxBundle(false, undefined, ['/bin/sh', '-c', 'echo running; exec sleep 60']);
      const t = new PtySession([TSVISOR, '--root', root, 'run', '--bundle', plain, 'ctrl-c-plain'], 24, 80);
      try {
        await t.expect(/running\r\n/, 0, 120000);
        await pause(500);
        t.type('\x03');
        const end = await t.exited(60000);
        assert.doesNotMatch(t.screen, /internal error|urpc/);
        assert.equal(end.exit, 130, t.screen);
      } finally {
        t.kill();
        fs.rmSync(plain, { recursive: true, force: true });
      }
    });

    // (Not SIGQUIT here: busybox sh ignores it until `exec sleep` has run, so it would race the guest.)
    for (const [sig, status] of [
      ['SIGTERM', 143],
      ['SIGHUP', 129],
    ] as const) {
      it(`${sig} to the terminal's foreground group with process.terminal: true (the sandbox on run's own terminal, a hang-up, a group kill): the container gets it, run exits ${status}`, async function () {
        if (!havePython) this.skip();
        const sleeper = busyboxBundle(true, undefined, ['/bin/sh', '-c', 'echo running; exec sleep 60']);
        const t = new PtySession([TSVISOR, '--root', root, 'run', '--bundle', sleeper, `group-${sig}`], 24, 80);
        try {
          await t.expect(/running\r\n/, 0, 120000);
          process.kill(-t.pid!, sig); // run leads the pty's foreground group, which boot shares
          const end = await t.exited(60000);
          assert.doesNotMatch(t.screen, /internal error|urpc/);
          assert.equal(end.exit, status, t.screen);
          assert.equal(end.restored, true);
        } finally {
          t.kill();
          fs.rmSync(sleeper, { recursive: true, force: true });
        }
      });
    }
  });

  describe('the host terminal after boot dies', function () {
    this.timeout(300000);

    it('restores the host terminal when boot is SIGKILLed (run outlives it and says so)', async function () {
      if (!havePython) this.skip();
      const t = new PtySession([TSVISOR, '--root', root, 'run', '--bundle', bundle, 'console-boot-dies'], 24, 80);
      try {
        await t.expect(PROMPT, 0, 120000);
        assert.equal(await t.isRaw(), true);
        const children = fs.readFileSync(`/proc/${t.pid}/task/${t.pid}/children`, 'utf8').trim().split(/\s+/).map(Number);
        const boots = children.filter((pid) => fs.readFileSync(`/proc/${pid}/cmdline`, 'utf8').split('\0').includes('boot'));
        assert.equal(boots.length, 1, 'run has one boot child');
        process.kill(boots[0], 'SIGKILL');
        const end = await t.exited(60000);
        assert.notEqual(end.exit, 0);
        assert.equal(end.restored, true, 'the host terminal mode is restored');
      } finally {
        t.kill();
      }
    });
  });

  describe('--console-socket (the pty master goes to the caller)', function () {
    this.timeout(300000);

    it('sends the master over the socket with SCM_RIGHTS; the shell runs on its slave; resizes of the master reach the guest; Signal mode 2 hits the foreground job', async function () {
      if (!havePython) this.skip();
      const sock = path.join(root, 'console.sock');
      const t = new PtySession([sock, TSVISOR, '--root', root, 'run', '--console-socket', sock, '--bundle', bundle, 'console-socket'], 33, 99, SOCKET_PROXY);
      try {
        let at = await t.expect(PROMPT, 0, 120000);
        assert.match(t.name ?? '', /^\/dev\/pts\/\d+$/);
        t.type('stty size; tty\r');
        at = await t.expect(/\r\n33 99\r\n\/dev\/\S+\r\n/, at);
        at = await t.expect(PROMPT, at);
        t.resize(50, 70);
        await pause(1000);
        t.type('stty size\r');
        at = await t.expect(/\r\n50 70\r\n/, at);
        at = await t.expect(PROMPT, at);
        // The control protocol's Signal mode 2: the foreground group of init's terminal (the sleep, not the shell).
        t.type('sleep 30\r');
        at = await t.expect(/sleep 30\r\n/, at);
        await pause(1000);
        const client = await UrpcClient.connect(path.join(root, 'console-socket', 'control.sock'));
        try {
          assert.equal(await client.call('containerManager.Signal', { CID: 'console-socket', Signo: 2, PID: 0, Mode: 2 }), null);
        } finally {
          client.close();
        }
        at = await t.expect(PROMPT, at);
        t.type('echo after-$?\r');
        at = await t.expect(/\r\nafter-130\r\n/, at);
        at = await t.expect(PROMPT, at);
        t.type('exit 7\r');
        assert.equal((await t.exited(60000)).exit, 7);
      } finally {
        t.kill();
      }
    });

    it("sizes the pty by the spec's process.consoleSize", async function () {
      if (!havePython) this.skip();
      const sized = busyboxBundle(true, { height: 21, width: 77 });
      const sock = path.join(root, 'sized.sock');
      const t = new PtySession([sock, TSVISOR, '--root', root, 'run', '--console-socket', sock, '--bundle', sized, 'console-sized'], 0, 0, SOCKET_PROXY);
      try {
        let at = await t.expect(PROMPT, 0, 120000);
        t.type('stty size\r');
        at = await t.expect(/\r\n21 77\r\n/, at);
        t.type('exit\r');
        assert.equal((await t.exited(60000)).exit, 0);
      } finally {
        t.kill();
        fs.rmSync(sized, { recursive: true, force: true });
      }
    });

    it('refuses --console-socket without process.terminal', async () => {
      const plain = busyboxBundle(false);
      try {
        const r = await tsvisor(['--root', root, 'run', '--console-socket', path.join(root, 'none.sock'), '--bundle', plain, 'no-terminal']);
        assert.notEqual(r.code, 0);
        assert.match(r.stderr.toString(), /--console-socket needs process.terminal: true/);
      } finally {
        fs.rmSync(plain, { recursive: true, force: true });
      }
    });
  });

  describe('the same shell without a terminal (pipes)', function () {
    this.timeout(300000);

    it('reads commands from stdin; terminal ioctls fail with ENOTTY; /dev/tty has no terminal; ptys still work', async () => {
      const script = [
        'echo from-stdin',
        'stty -g; echo stty=$?',
        'tty; echo tty=$?',
        'cat /dev/tty; echo devtty=$?',
        'exec 3<>/dev/ptmx; ls /dev/pts; exec 3>&-',
        'exit 3',
        '',
      ].join('\n');
      const r = await tsvisor(['--root', root, 'run', '--bundle', bundle, 'pipes-sh'], Buffer.from(script));
      const out = r.stdout.toString();
      const err = r.stderr.toString();
      assert.equal(r.code, 3, err);
      assert.match(out, /^from-stdin\n/);
      assert.match(out, /\nstty=1\n/);
      assert.match(err, /stty: standard input: (Inappropriate ioctl for device|Not a tty)/);
      assert.match(out, /\nnot a tty\ntty=1\n/);
      assert.match(out, /\ndevtty=1\n/);
      assert.match(err, /\/dev\/tty'?: No such device or address/);
      assert.match(out, /\n0\nptmx\n/);
    });
  });

  describe('exec -t (a second shell on the terminal of exec)', function () {
    this.timeout(300000);

    it("runs a shell on exec's own terminal in a running container: raw host terminal, its size and later resizes, job control, exit status, the mode restored", async function () {
      if (!havePython) this.skip();
      const plain = busyboxBundle(false);
      // Init: a shell reading commands from a pipe the test holds.
      const init = await create(root, plain, 'exec-tty', [], ['run', '-d']);
      try {
        assert.equal(init.code, 0, fs.readFileSync(init.errFile, 'utf8'));
        const t = new PtySession([TSVISOR, '--root', root, 'exec', '-t', 'exec-tty', '/bin/sh'], 31, 97);
        try {
          let at = await t.expect(PROMPT, 0, 120000);
          assert.equal(await t.isRaw(), true, 'exec puts its terminal in raw mode while the process runs');
          t.type('stty size; tty\r');
          at = await t.expect(/\r\n31 97\r\n\/dev\/\S+\r\n/, at);
          at = await t.expect(PROMPT, at);
          // A resize of exec's terminal reaches the exec'd shell's terminal (exec's SIGWINCH).
          t.resize(44, 88);
          await pause(1000);
          t.type('stty size\r');
          at = await t.expect(/\r\n44 88\r\n/, at);
          at = await t.expect(PROMPT, at);
          // ^C reaches the foreground job of the exec'd shell's terminal.
          t.type('sleep 30\r');
          at = await t.expect(/sleep 30\r\n/, at);
          await pause(1000);
          t.type('\x03');
          at = await t.expect(PROMPT, at);
          t.type('echo after-$?\r');
          at = await t.expect(/\r\nafter-130\r\n/, at);
          at = await t.expect(PROMPT, at);
          t.type('exit 6\r');
          const end = await t.exited(60000);
          assert.equal(end.exit, 6);
          assert.equal(end.restored, true, 'the terminal mode is restored');
        } finally {
          t.kill();
        }
      } finally {
        init.stdin.end();
        await stopped(root, 'exec-tty');
        await tsvisor(['--root', root, 'delete', 'exec-tty']);
        fs.rmSync(plain, { recursive: true, force: true });
      }
    });

    it('input typed before exec takes its terminal reaches the process as cooked: a line, then end of file (no "^@"), as on Linux', async function () {
      if (!havePython) this.skip();
      const plain = busyboxBundle(false);
      const init = await create(root, plain, 'exec-typed', [], ['run', '-d']);
      try {
        assert.equal(init.code, 0, fs.readFileSync(init.errFile, 'utf8'));
        const t = new PtySession([TSVISOR, '--root', root, 'exec', '-t', 'exec-typed', '/bin/sh', '-c', 'read a; echo "[$a] $?"; read b; echo "[$b] $?"'], 24, 80, PROXY, 'first line\n\x04');
        try {
          const end = await t.exited(120000);
          assert.equal(t.screen, 'first line\r\n[first line] 0\r\n[] 1\r\n', 'the host echoed the line once; the process read it, then end of file');
          assert.equal(end.exit, 0);
          assert.equal(end.restored, true);
        } finally {
          t.kill();
        }
      } finally {
        init.stdin.end();
        await stopped(root, 'exec-typed');
        await tsvisor(['--root', root, 'delete', 'exec-typed']);
        fs.rmSync(plain, { recursive: true, force: true });
      }
    });
  });
});
