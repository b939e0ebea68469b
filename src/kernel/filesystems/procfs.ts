// procfs: the kernel's /proc, generated from kernel state as Linux formats it
// (fs/proc/array.c and friends): one directory per process, zombies included
// (as `ps` shows them), with a task/ directory of its threads; and the
// system-wide files tools read (meminfo, cpuinfo, stat, uptime, loadavg,
// version, filesystems, mounts, net/{tcp,tcp6,udp,udp6}, sys/kernel/*).
//
// CPU times are guest instructions at a nominal 1 ns each (see
// syscalls/time.ts), in clock ticks of 100 Hz.

import { ENOENT, Errno } from '../../linux/errno.js';
import { Inode } from '../vfs/inode.js';
import { anonDentry } from '../vfs/anon.js';
import { SynthDir, SynthFile, SynthSymlink } from './synthetic.js';
import type { Kernel } from '../kernel.js';
import { PROC_NET_FILES, procNet } from '../net/proc-net.js';
import { Process, Task, TaskState } from '../task.js';

export function makeProcfs(kernel: () => Kernel): Inode {
  const pidDirs = new Map<number, { proc: Process; dir: Inode }>();
  const pidDir = (p: Process): Inode => {
    const hit = pidDirs.get(p.pid);
    if (hit && hit.proc === p) return hit.dir;
    const dir = makePidDir(kernel, p);
    pidDirs.set(p.pid, { proc: p, dir });
    return dir;
  };
  const k = () => kernel();
  const statics = new Map<string, Inode>([
    ['meminfo', new SynthFile(() => meminfo(k()))],
    ['cpuinfo', new SynthFile(() => cpuinfo(k()))],
    ['uptime', new SynthFile(() => {
      const up = (Date.now() - k().bootTime) / 1000;
      return `${up.toFixed(2)} ${(up * k().config.cpuNum).toFixed(2)}\n`;
    })],
    ['loadavg', new SynthFile(() => loadavg(k()))],
    ['stat', new SynthFile(() => systemStat(k()))],
    ['version', new SynthFile(() => 'Linux version 6.1.0 (tsvisor) #1 SMP tsvisor\n')],
    ['filesystems', new SynthFile(() => 'nodev\tproc\nnodev\ttmpfs\nnodev\tdevtmpfs\nnodev\t9p\n')],
    ['mounts', new SynthFile(() => mounts(k()))],
    ['net', new SynthDir(() => new Map(PROC_NET_FILES.map(([name, proto, family]) => [name, new SynthFile(() => procNet(k().inet, proto, family))])))],
    [
      'sys',
      new SynthDir(() => new Map([['kernel', new SynthDir(() => new Map<string, Inode>([
        ['hostname', new SynthFile(() => k().config.hostname + '\n')],
        ['ostype', new SynthFile(() => 'Linux\n')],
        ['osrelease', new SynthFile(() => '6.1.0\n')],
        ['pid_max', new SynthFile(() => '4194304\n')],
        ['ngroups_max', new SynthFile(() => '65536\n')],
        ['threads-max', new SynthFile(() => `${k().config.pidsLimit || 127447}\n`)],
      ]))]])),
    ],
  ]);
  return new SynthDir(() => {
    const m = new Map<string, Inode>(statics);
    m.set('self', new SynthSymlink((caller) => (caller ? String(caller.pid) : ENOENT)));
    m.set('thread-self', new SynthSymlink((caller) => (caller ? `${caller.pid}/task/${caller.pid}` : ENOENT)));
    const procs = kernel().processes;
    for (const p of procs.values()) m.set(String(p.pid), pidDir(p));
    // A reaped process's directory goes with it: kept, it would hold the whole Process (its memory map, fd table) for good.
    for (const [pid, e] of pidDirs) if (procs.get(pid) !== e.proc) pidDirs.delete(pid);
    return m;
  });
}

function makePidDir(kernel: () => Kernel, p: Process): Inode {
  const alive = <T>(f: () => T): (() => T | Errno) => () => (p.alive ? f() : ENOENT);
  const fdDir = new SynthDir(() => {
    const m = new Map<string, Inode>();
    if (!p.alive) return m;
    for (const fd of p.fds.fds()) {
      m.set(String(fd), new SynthSymlink(alive(() => {
        const f = p.fds.get(fd);
        return f instanceof Errno ? '' : f.dentry ? f.dentry.path() : f.path;
      }), alive(() => {
        // A magic link: the open file itself, even deleted or nameless.
        const f = p.fds.get(fd);
        if (f instanceof Errno) return ENOENT;
        return f.dentry ?? anonDentry(f, kernel().vfs.root);
      })));
    }
    return m;
  }, 0o500);
  const fdinfoDir = new SynthDir(() => {
    const m = new Map<string, Inode>();
    if (!p.alive) return m;
    for (const fd of p.fds.fds()) {
      m.set(String(fd), new SynthFile(() => {
        const f = p.fds.get(fd);
        if (f instanceof Errno) return '';
        const cloexec = p.fds.cloexec(fd) === true ? 0o2000000 : 0;
        return `pos:\t0\nflags:\t0${(f.flags | cloexec).toString(8)}\nmnt_id:\t0\nino:\t0\n`;
      }));
    }
    return m;
  }, 0o500);
  const taskDir = new SynthDir(() => {
    const m = new Map<string, Inode>();
    for (const t of p.threads) m.set(String(t.tid), threadDir(kernel, p, t));
    if (!p.alive) m.set(String(p.pid), threadDir(kernel, p, undefined));
    return m;
  });
  return new SynthDir(() => new Map<string, Inode>([
    ['stat', new SynthFile(() => procStat(kernel(), p, undefined))],
    ['statm', new SynthFile(() => statm(p))],
    ['task', taskDir],
    ['fdinfo', fdinfoDir],
    ['exe', new SynthSymlink(alive(() => p.exePath))],
    ['cwd', new SynthSymlink(alive(() => p.cwd.path()), alive(() => p.cwd))],
    ['root', new SynthSymlink(alive(() => p.root.path()), alive(() => p.root))],
    ['fd', fdDir],
    ['cmdline', new SynthFile(() => (p.argv.length ? p.argv.join('\0') + '\0' : ''))],
    ['environ', new SynthFile(() => (p.envp.length ? p.envp.join('\0') + '\0' : ''), 0o400)],
    ['comm', new SynthFile(() => comm(p) + '\n')],
    ['maps', new SynthFile(() => (p.alive ? maps(p) : ''))],
    ['status', new SynthFile(() => status(kernel(), p))],
    ['mounts', new SynthFile(() => mounts(kernel()))],
  ]));
}

/** /proc/PID/task/TID: the thread's own stat and status (the process's for a zombie). */
function threadDir(kernel: () => Kernel, p: Process, t: Task | undefined): Inode {
  return new SynthDir(() => new Map<string, Inode>([
    ['stat', new SynthFile(() => procStat(kernel(), p, t))],
    ['status', new SynthFile(() => status(kernel(), p))],
    ['comm', new SynthFile(() => comm(p) + '\n')],
  ]));
}

function comm(p: Process): string {
  return p.comm;
}

/** The state letter `ps` shows: R running or runnable, S asleep in a wait, T stopped, Z zombie. */
function stateOf(k: Kernel, p: Process, t?: Task): string {
  if (!p.alive) return 'Z';
  if (p.stopped) return 'T';
  const tasks = t ? [t] : [...p.threads];
  return tasks.some((x) => x.state !== TaskState.Stopped && !x.isSleeping()) ? 'R' : 'S';
}

const STATE_NAMES: Record<string, string> = { R: 'R (running)', S: 'S (sleeping)', T: 'T (stopped)', Z: 'Z (zombie)' };

/** Instructions (1 ns each) as 100 Hz clock ticks. */
function ticks(instructions: number): number {
  return Math.floor(instructions / 1e7);
}

/** /proc/PID/stat: the 52 fields of fs/proc/array.c's do_task_stat. */
function procStat(k: Kernel, p: Process, t: Task | undefined): string {
  const vsize = p.alive ? p.mm.mappedBytes() : 0;
  const rssPages = Math.ceil(vsize / 4096);
  const utime = ticks(t ? t.cpuInstructions() : p.cpuInstructions());
  const cutime = ticks(p.childInstructions);
  const start = Math.floor((p.startTime - k.bootTime) / 10);
  const fields = [
    t ? t.tid : p.pid, `(${comm(p)})`, stateOf(k, p, t), p.ppid, p.pgid, p.sid,
    0, -1, 0x400000, 0, 0, 0, 0, utime, 0, cutime, 0, 20, 0, p.threads.size || 1, 0, start,
    vsize, rssPages, '18446744073709551615', 0, 0, 0, 0, 0, 0,
    0, 0, 0, 0, 0, 0, 17, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, p.alive ? 0 : (p.exitStatus ?? 0),
  ];
  return fields.join(' ') + '\n';
}

function statm(p: Process): string {
  const pages = p.alive ? Math.ceil(p.mm.mappedBytes() / 4096) : 0;
  return `${pages} ${pages} 0 0 0 ${pages} 0\n`;
}

function loadavg(k: Kernel): string {
  const all = [...k.processes.values()];
  const running = all.filter((p) => p.alive && [...p.threads].some((t) => t.state === TaskState.Running || t.state === TaskState.Runnable)).length;
  const tasks = all.reduce((n, p) => n + (p.alive ? p.threads.size : 0), 0);
  const last = all.reduce((m, p) => Math.max(m, p.pid, ...[...p.threads].map((t) => t.tid)), 0);
  return `0.00 0.00 0.00 ${running}/${tasks} ${last}\n`;
}

/** /proc/stat: CPU time lines (guest user time only), boot time, process counts. */
function systemStat(k: Kernel): string {
  const all = [...k.processes.values()];
  const user = ticks(k.exitedInstructions + all.reduce((s, p) => s + (p.alive ? p.cpuInstructions() : 0), 0));
  const up = Math.floor((Date.now() - k.bootTime) / 10);
  const idle = Math.max(0, up * k.config.cpuNum - user);
  const line = (name: string, u: number, i: number) => `${name} ${u} 0 0 ${i} 0 0 0 0 0 0`;
  const out = [line('cpu ', user, idle)];
  for (let c = 0; c < k.config.cpuNum; c++) out.push(line(`cpu${c}`, Math.floor(user / k.config.cpuNum), Math.floor(idle / k.config.cpuNum)));
  const running = all.filter((p) => p.alive && [...p.threads].some((t) => t.state === TaskState.Running || t.state === TaskState.Runnable)).length;
  out.push('intr 0', 'ctxt 0', `btime ${Math.floor(k.bootTime / 1000)}`, `processes ${k.lifecycle.processCount}`, `procs_running ${running}`, 'procs_blocked 0', 'softirq 0');
  return out.join('\n') + '\n';
}

function hex(n: number, width: number): string {
  return n.toString(16).padStart(width, '0');
}

function maps(p: Process): string {
  return p.mm
    .mappings()
    .map((v) => {
      const perms = (v.prot & 1 ? 'r' : '-') + (v.prot & 2 ? 'w' : '-') + (v.prot & 4 ? 'x' : '-') + (v.shared ? 's' : 'p');
      const line = `${hex(v.start, 8)}-${hex(v.end, 8)} ${perms} 00000000 00:00 0`;
      return v.name ? line.padEnd(73) + v.name : line;
    })
    .join('\n') + '\n';
}

function status(k: Kernel, p: Process): string {
  const c = p.creds;
  const name = comm(p);
  const kb = p.alive ? Math.ceil(p.mm.mappedBytes() / 1024) : 0;
  return [
    `Name:\t${name}`,
    `Umask:\t${p.umask.toString(8).padStart(4, '0')}`,
    `State:\t${STATE_NAMES[stateOf(k, p)]}`,
    `Tgid:\t${p.pid}`,
    `Pid:\t${p.pid}`,
    `PPid:\t${p.ppid}`,
    `Uid:\t${c.ruid}\t${c.euid}\t${c.suid}\t${c.euid}`,
    `Gid:\t${c.rgid}\t${c.egid}\t${c.sgid}\t${c.egid}`,
    `Groups:\t${c.groups.join(' ')}`,
    `VmSize:\t${String(kb).padStart(8)} kB`,
    `VmRSS:\t${String(kb).padStart(8)} kB`,
    `Threads:\t${p.threads.size}`,
    `Cpus_allowed_list:\t0-${k.config.cpuNum - 1}`,
    '',
  ].join('\n');
}

function meminfo(k: Kernel): string {
  const kb = (n: number) => `${String(Math.floor(n / 1024)).padStart(8)} kB`;
  const total = k.config.totalMemory;
  const free = Math.max(0, total - k.account.used);
  return [
    `MemTotal:       ${kb(total)}`,
    `MemFree:        ${kb(free)}`,
    `MemAvailable:   ${kb(free)}`,
    `Buffers:        ${kb(0)}`,
    `Cached:         ${kb(0)}`,
    `SwapTotal:      ${kb(0)}`,
    `SwapFree:       ${kb(0)}`,
    '',
  ].join('\n');
}

function cpuinfo(k: Kernel): string {
  let out = '';
  for (let i = 0; i < k.config.cpuNum; i++) {
    out += `processor\t: ${i}\nhart\t\t: ${i}\nisa\t\t: rv64imafdc_zicsr_zifencei\nmmu\t\t: sv39\nuarch\t\t: tsvisor\n\n`;
  }
  return out;
}

/** /proc/mounts: one line per mount, as Linux's show_vfsmnt prints it (source, point, type, options, 0 0). */
function mounts(k: Kernel): string {
  const extra: Record<string, string> = { proc: ',nosuid,nodev,noexec,relatime', sysfs: ',nosuid,nodev,noexec,relatime' };
  return k.vfs
    .mountTable()
    .map((m) => `${m.source || 'none'} ${m.at} ${m.fstype} ${m.readonly ? 'ro' : 'rw'}${extra[m.fstype] ?? ''} 0 0`)
    .join('\n') + '\n';
}
