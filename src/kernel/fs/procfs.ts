// procfs: the kernel's /proc, generated from kernel state as Linux formats it.
// Issue 2 serves the entries static programs and tests reach for; the rest of
// Linux's /proc grows here.

import { ENOENT, Errno } from '../errno.js';
import { Inode } from '../vfs/inode.js';
import { anonDentry } from '../vfs/anon.js';
import { SynthDir, SynthFile, SynthSymlink } from './synthetic.js';
import type { Kernel } from '../kernel.js';
import type { Process } from '../task.js';

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
    ['loadavg', new SynthFile(() => `0.00 0.00 0.00 1/${k().processStats().length} ${k().processStats().length}\n`)],
    ['filesystems', new SynthFile(() => 'nodev\tproc\nnodev\ttmpfs\nnodev\tdevtmpfs\nnodev\t9p\n')],
    ['mounts', new SynthFile(() => mounts(k()))],
    [
      'sys',
      new SynthDir(() => new Map([['kernel', new SynthDir(() => new Map<string, Inode>([
        ['hostname', new SynthFile(() => k().config.hostname + '\n')],
        ['ostype', new SynthFile(() => 'Linux\n')],
        ['osrelease', new SynthFile(() => '6.1.0\n')],
      ]))]])),
    ],
  ]);
  return new SynthDir(() => {
    const m = new Map<string, Inode>(statics);
    m.set('self', new SynthSymlink((caller) => (caller ? String(caller.pid) : ENOENT)));
    for (const p of kernel().processes.values()) if (p.alive) m.set(String(p.pid), pidDir(p));
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
  return new SynthDir(() => new Map<string, Inode>([
    ['exe', new SynthSymlink(alive(() => p.exePath))],
    ['cwd', new SynthSymlink(alive(() => p.cwd.path()), alive(() => p.cwd))],
    ['root', new SynthSymlink(alive(() => p.root.path()), alive(() => p.root))],
    ['fd', fdDir],
    ['cmdline', new SynthFile(() => (p.argv.length ? p.argv.join('\0') + '\0' : ''))],
    ['environ', new SynthFile(() => (p.envp.length ? p.envp.join('\0') + '\0' : ''), 0o400)],
    ['comm', new SynthFile(() => (p.exePath.split('/').pop() ?? '').slice(0, 15) + '\n')],
    ['maps', new SynthFile(() => maps(p))],
    ['status', new SynthFile(() => status(kernel(), p))],
    ['mounts', new SynthFile(() => mounts(kernel()))],
  ]));
}

function hex(n: number, width: number): string {
  return n.toString(16).padStart(width, '0');
}

function maps(p: Process): string {
  return p.mm
    .mappings()
    .map((v) => {
      const perms = (v.prot & 1 ? 'r' : '-') + (v.prot & 2 ? 'w' : '-') + (v.prot & 4 ? 'x' : '-') + 'p';
      const line = `${hex(v.start, 8)}-${hex(v.end, 8)} ${perms} 00000000 00:00 0`;
      return v.name ? line.padEnd(73) + v.name : line;
    })
    .join('\n') + '\n';
}

function status(k: Kernel, p: Process): string {
  const c = p.creds;
  const name = (p.exePath.split('/').pop() ?? '').slice(0, 15);
  const kb = Math.ceil(p.mm.mappedBytes() / 1024);
  return [
    `Name:\t${name}`,
    `Umask:\t${p.umask.toString(8).padStart(4, '0')}`,
    'State:\tR (running)',
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

function mounts(k: Kernel): string {
  const lines = ['none / 9p rw 0 0'];
  for (const at of k.vfs.mountPoints()) lines.push(`none ${at} ${at === '/proc' ? 'proc' : 'tmpfs'} rw 0 0`);
  return lines.join('\n') + '\n';
}
