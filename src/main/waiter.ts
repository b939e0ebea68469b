// `tsvisor run`'s last stretch in a program that is not Node. Once the
// container runs, run only waits: it passes the signals it gets to the
// container's init, waits for boot, gives the gofer a grace period, puts its
// own terminal back, removes the container's state and exits with boot's
// status (the container's: boot exits with it, 128+N for signal N). A Node
// process held ~50 MiB of RSS for that (docs/STARTUP.md, the sixth pass), so
// run replaces itself (execve) with a small Perl program that does the same
// (~5 MiB).
// perl-base is part of Debian's Essential set, so every Debian host has it;
// where it is missing (or TSVISOR_NO_WAITER=1, or the spec has poststop
// hooks, which run's own code runs) run waits in Node as before.
//
// Why this works without any new binary: after execve the process keeps its
// pid, its children (the gofer's and boot's launchers, or boot and the gofer
// themselves with --no-confine), its fds 0-2 (once their close-on-exec flag,
// which Node sets, is cleared) and its signal mask. So the
// waiter reaps boot like any parent, boot's die-with-parent (setpriv
// --pdeathsig, or TSVISOR_DIE_WITH_PARENT's pid) still means "this
// process", and pids in the state file stay right.
//
// Signals: execve resets every handled signal to its default action, and a
// SIGTERM before Perl has its handlers would end the waiter (and, through
// die-with-parent, the sandbox) instead of reaching init. So run blocks the
// forwarded signals on its main thread just before the execve; one sent then
// stays pending and the waiter, once its handlers are in place, unblocks them
// (rt_sigprocmask by its host number: the waiter needs no module for it) and
// takes it. Left open: a signal that the kernel hands to another of Node's
// threads in the microseconds between that block and the execve is taken by
// Node's handler and lost with Node.

import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { execve, hostSyscalls, setCloexec, kernelTermios, threadSignalMask, SIG_BLOCK, SIG_UNBLOCK, SOCK_STREAM } from '../host/ffi.js';
import { AF_UNIX, TCSETSW } from '../linux/abi.js';
import { urpcRequest } from './urpc.js';
import type { KeptSkeleton } from '../debian/skeleton-spare.js';

/** Set to 1: `tsvisor run` waits in Node, never in the Perl waiter. */
export const NO_WAITER_ENV = 'TSVISOR_NO_WAITER';

export interface WaiterPlan {
  cid: string;
  /** The pid run spawned for boot (confined: boot's launcher, whose exit status is boot's). */
  bootChild: number;
  /** The pid run spawned for the gofer; 0: none (--directfs), or already reaped. */
  goferChild: number;
  /** Boot's own pid (a resize of run's own terminal is passed to it as SIGWINCH). */
  bootPid: number;
  /**
   * run's connection to boot's control server, the one StartRoot went
   * over, with no call pending: the waiter sends Wait on it. A new
   * connection would not do: boot stops accepting as soon as init exits
   * (control-server.ts `shutdown`), and a program as short as hello is
   * gone by the time the waiter could connect.
   */
  controlFd: number;
  /**
   * Wait went out on that connection already, which was then shut for
   * writing (run.ts, urpc.ts `callAndEnd`): the waiter only reads the reply.
   * Otherwise it sends Wait itself.
   */
  waitSent?: boolean;
  /** The container's state directory, which holds control.sock. */
  stateDir: string;
  /**
   * What each signal run handles becomes: 'forward' (containerManager.Signal
   * to init, as run's Node code sends it) or 'resize' (SIGWINCH to boot).
   */
  signals: { name: string; number: number; action: 'forward' | 'resize' }[];
  /** Settings (getTerminalAttr's) to put back on fd 0 at the end; undefined: none. */
  terminal?: Buffer;
  /** How long the gofer may outlive boot before it is killed. */
  goferGraceMs: number;
  /** Absolute paths removed at the end (the state directory first). */
  remove: string[];
  /**
   * `do`'s skeleton rootfs, which may lie inside a path of `remove`: left
   * out of the removal while boot may live, then once every child is
   * reaped moved among the spares when untouched, else removed
   * (src/debian/skeleton-spare.ts).
   */
  keep?: KeptSkeleton;
}

/**
 * The waiter, as Perl's -e script. Arguments: cid, boot's child, the
 * gofer's child (0: none), boot's pid, the state directory,
 * rt_sigprocmask's number, the mask to unblock, TCSETSW, the terminal's
 * kernel termios in hex ('' for none), the gofer's grace in seconds,
 * AF_UNIX, SOCK_STREAM, EINTR, EAGAIN, the Wait request ('' when run sent
 * it already: WaiterPlan.waitSent), the control
 * connection's fd (non-blocking: Node made it so), statx's number, the
 * kept skeleton, its spares' directory (both '' for none) and how many
 * spares there may be, then NAME<TAB>REQUEST per signal (an empty request:
 * SIGWINCH to boot), '--', the paths to remove, '--', and the kept
 * skeleton's entries (src/debian/skeleton-spare.ts: REL, inode, change
 * time's seconds and nanoseconds, tab-separated; statx's struct has the
 * inode at byte 32 and the change time at 96 on every architecture).
 * The skeleton is left out of the removal until every child is reaped,
 * then moved among the spares if every entry is as recorded and there is
 * room, else removed. ASCII only, and no module at all: Errno and File::Path, which it
 * used before, cost ~30 ms of Perl's compiling at its start and ~75 ms at
 * its end in a traced run (docs/STARTUP.md, the tenth pass), so the errno
 * numbers come as arguments and the removal is its own (rmtree: lstat, so
 * a symbolic link is removed, never followed; a directory made writable
 * first, as File::Path does). It removes only what nothing in the sandbox
 * can change any more: once the gofer's launcher has ended normally (it
 * waits for the gofer), no one serves the guest's files any more (with io
 * fds, boot's kernel reaches them only through the gofer, which exits once
 * its connections have ended and every request on them is answered; with
 * --directfs there is no gofer, and this waits for boot), so the removal goes ahead
 * while boot's exit finishes (do's busybox tree: 11-25 ms on this host's
 * ext4); then once more after every child is reaped, which takes what is
 * left and says what it could not.
 *
 * What it does, in run's order (run.ts): handlers for the signals, which it
 * then unblocks; containerManager.Wait on run's control connection (the
 * server's replies are JSON of a fixed shape, control-server.ts, so a
 * pattern reads them), or only its reply when run sent it; boot's launcher reaped, the gofer given its grace
 * and reaped (the state and `do`'s bundle removed as soon as the gofer is
 * gone, see below); run's terminal put back; the removal finished; and the exit status as run's: the Wait status turned into a
 * shell's (boot.ts exitCodeOf's rule), else 128 and one line saying why.
 */
const SCRIPT = String.raw`
my ($cid, $child, $gofer, $boot, $dir, $nr, $mask, $tcsetsw, $term, $grace, $afunix, $stream, $eintr, $eagain, $wait, $ctl, $statx, $keep, $spares, $maxspares, @rest) = @ARGV;
$0 = "tsvisor run $cid (waiting)";
my %req;
while (@rest && $rest[0] ne '--') { my ($name, $body) = split /\t/, shift(@rest), 2; $req{$name} = $body; }
shift @rest;
my @remove;
push @remove, shift @rest while @rest && $rest[0] ne '--';
shift @rest;
my @kept = @rest;
my $skip = $keep;
chdir $dir or die "tsvisor: waiter: cannot enter $dir: $!\n";
$SIG{PIPE} = 'IGNORE';
sub control {
  socket(my $s, $afunix, $stream, 0) or return;
  connect($s, pack('S', $afunix) . "control.sock\0") or return;
  return $s;
}
my $failed;
sub rmtree {
  my $p = shift;
  return if $skip ne '' && $p eq $skip;
  lstat($p) or return;
  if (-d _) {
    chmod 0700, $p;
    if (opendir(my $d, $p)) {
      my @names = grep { $_ ne '.' && $_ ne '..' } readdir $d;
      closedir $d;
      rmtree("$p/$_") for @names;
    }
    rmdir $p or $failed = "$p: $!";
  } else {
    unlink $p or $failed = "$p: $!";
  }
}
sub untouched {
  for (@kept) {
    my ($rel, $ino, $sec, $nsec) = split /\t/;
    my $buf = "\0" x 256;
    syscall($statx, -100, $rel eq '.' ? $keep : "$keep/$rel", 0x100, 0x180, $buf) == 0 or return 0;
    my ($i, $s, $n) = (unpack('Q', substr($buf, 32, 8)), unpack('q L', substr($buf, 96, 12)));
    return 0 unless $i == $ino && $s == $sec && $n == $nsec;
  }
  return 1;
}
sub forward {
  my $s = control() or return;
  syswrite($s, $_[0]);
  my $r = '';
  vec($r, fileno($s), 1) = 1;
  sysread($s, my $reply, 65536) if select($r, undef, undef, 5) > 0;
  close $s;
}
for my $name (keys %req) {
  my $body = $req{$name};
  $SIG{$name} = $body eq '' ? sub { kill 'WINCH', $boot if $boot } : sub { forward($body) };
}
syscall($nr, 1, pack('Q', $mask), 0, 8) == 0 or die "tsvisor: waiter: rt_sigprocmask: $!\n";
my $reply = '';
if (open(my $s, '+<&=', $ctl)) {
  my $r = '';
  vec($r, $ctl, 1) = 1;
  syswrite($s, $wait) if $wait ne '';
  while ($reply !~ /(?<!\\)"result":(?:null|-?\d+)\}\s*$/) {
    select(my $ready = $r, undef, undef, undef);
    my $n = sysread($s, $reply, 65536, length $reply);
    last if defined $n ? $n == 0 : !($! == $eintr || $! == $eagain);
  }
  close $s;
}
$SIG{ALRM} = sub { kill 'KILL', $gofer if $gofer };
while ((my $pid = waitpid(-1, 0)) > 0) {
  if ($pid == $child) {
    $child = 0;
    alarm $grace if $gofer;
  } elsif ($pid == $gofer) {
    $gofer = 0;
    alarm 0;
    rmtree($_) for ($? & 127) == 0 && $child ? @remove : ();
  }
}
chdir '/';
ioctl(STDIN, $tcsetsw, pack('H*', $term)) if $term ne '';
if ($keep ne '') {
  my $n = 0;
  if (opendir(my $d, $spares)) { $n = grep { !/^\./ } readdir $d; closedir $d; }
  $skip = '';
  rmtree($keep) unless $n < $maxspares && untouched() && rename($keep, "$spares/$$-" . time() . '-' . int(rand(1e9)));
}
for my $p (@remove) {
  $failed = undef;
  rmtree($p);
  print STDERR "tsvisor: cannot remove $failed\n" if defined $failed;
}
if ($reply =~ /^\s*\{"success":true,"err":"","result":(\d+)\}\s*$/) {
  my $w = $1;
  exit(($w & 0x7f) ? 128 + ($w & 0x7f) : ($w >> 8) & 0xff);
}
my $why = $reply =~ /^\s*\{"success":false,"err":"((?:[^"\\]|\\.)*)"/ ? $1 =~ s/\\(.)/$1/gr : "boot exited without giving the container's status";
print STDERR "tsvisor: the sandbox ended: $why\n";
exit 128;
`;

/** Perl's path from PATH, or undefined when there is none (or the waiter is turned off, or this host has no syscall table). */
export function findPerl(env: NodeJS.ProcessEnv = process.env): string | undefined {
  if (env[NO_WAITER_ENV] === '1' || !hostSyscalls()) return undefined;
  for (const dir of (env.PATH || '/usr/bin:/bin').split(':')) {
    const p = path.join(dir || '.', 'perl');
    try {
      fs.accessSync(p, fs.constants.X_OK);
      return path.resolve(p);
    } catch {
      // next
    }
  }
  return undefined;
}

/** The waiter's argv (perl's own path first) for a plan. */
export function waiterArgv(perl: string, plan: WaiterPlan): string[] {
  const mask = plan.signals.reduce((m, s) => m | (1n << BigInt(s.number - 1)), 0n);
  const sigArgs = plan.signals.map((s) => `${s.name.replace(/^SIG/, '')}\t${s.action === 'resize' ? '' : urpcRequest('containerManager.Signal', { CID: plan.cid, Signo: s.number, PID: 0, Mode: 0 })}`);
  return [
    perl,
    '-e',
    SCRIPT,
    plan.cid,
    String(plan.bootChild),
    String(plan.goferChild),
    String(plan.bootPid),
    plan.stateDir,
    String(hostSyscalls()!.numbers.rt_sigprocmask),
    mask.toString(),
    String(TCSETSW),
    plan.terminal ? kernelTermios(plan.terminal).toString('hex') : '',
    String(Math.max(1, Math.ceil(plan.goferGraceMs / 1000))),
    String(AF_UNIX),
    String(SOCK_STREAM),
    String(os.constants.errno.EINTR),
    String(os.constants.errno.EAGAIN),
    plan.waitSent ? '' : urpcRequest('containerManager.Wait', plan.cid),
    String(plan.controlFd),
    String(hostSyscalls()!.numbers.statx),
    plan.keep?.path ?? '',
    plan.keep?.spares ?? '',
    String(plan.keep?.maxSpares ?? 0),
    ...sigArgs,
    '--',
    ...plan.remove,
    '--',
    ...(plan.keep?.entries ?? []),
  ];
}

/**
 * Readies run's signals for the execve: blocks `numbers` on this (the main)
 * thread, then lets Node's event loop hand run's handlers every one of them
 * that Node's own signal handler took before the block: that handler only
 * writes the signal into a pipe the loop reads in its poll phase, and an
 * execve before that read would lose it (a signal sent to run's process
 * group just as the container started was lost so under load). `pending`
 * names the forwards the handlers started; the loop turns until a pass finds
 * none. Returns 0, or a negative errno with nothing blocked. Left open: a
 * signal another of Node's threads takes in the synchronous code between
 * the last poll and the execve.
 */
export async function holdSignals(numbers: readonly number[], pending: () => readonly Promise<unknown>[]): Promise<number> {
  const r = threadSignalMask(SIG_BLOCK, numbers);
  if (r < 0) return r;
  for (;;) {
    // The first turn may end in this iteration's check phase; the second comes after a poll phase.
    for (let i = 0; i < 2; i++) await new Promise<void>((resolve) => setImmediate(resolve));
    const forwards = pending();
    if (forwards.length === 0) return 0;
    await Promise.all(forwards);
  }
}

/** Undoes holdSignals when run waits in Node after all. */
export function releaseSignals(numbers: readonly number[]): void {
  threadSignalMask(SIG_UNBLOCK, numbers);
}

/**
 * Replaces this process with the waiter. Returns only when the execve
 * failed (a negative errno), with the signal mask as it was; the caller
 * then waits in Node.
 */
export function execWaiter(perl: string, plan: WaiterPlan): number {
  const argv = waiterArgv(perl, plan);
  const numbers = plan.signals.map((s) => s.number);
  const blocked = threadSignalMask(SIG_BLOCK, numbers);
  if (blocked < 0) return blocked;
  // Node opens the process's stdio close-on-exec: the waiter needs its
  // stderr (a last word) and stdin (the terminal it restores). Children
  // Node spawns later get their stdio from spawn's own dup2s, so clearing
  // the flag costs the fallback nothing.
  for (const fd of [0, 1, 2, plan.controlFd]) setCloexec(fd, false);
  // An empty environment: the waiter reads none, and the user's PERL5LIB,
  // PERL5OPT or an uninstalled locale would only reach into perl's start.
  const r = execve(perl, argv, []);
  threadSignalMask(SIG_UNBLOCK, numbers);
  return r;
}
