// The results as text: the table the bench prints, its markdown twin for
// BENCHMARKS.md, and the JSON document of --json. Pure functions of the
// results, so fixed numbers give fixed text (test/bench).

import * as fs from 'node:fs';
import * as os from 'node:os';
import { spawnSync } from 'node:child_process';
import type { Result } from './measure.js';

export interface Machine {
  cores: number;
  model: string;
  node: string;
  qemu: string;
  /** 1, 5 and 15 minute load averages when the suite started and ended. */
  loadStart: number[];
  loadEnd: number[];
  date: string;
  commit: string;
}

/** The host as the report describes it; qemu is the version line or why it is absent. */
export function describeMachine(qemu: string, loadStart: number[]): Machine {
  let model = os.cpus()[0]?.model ?? 'unknown';
  try {
    const m = /^model name\s*:\s*(.+)$/m.exec(fs.readFileSync('/proc/cpuinfo', 'utf8'));
    if (m) model = m[1].trim();
  } catch {
    // os.cpus()'s model
  }
  const git = spawnSync('git', ['rev-parse', '--short', 'HEAD'], { encoding: 'utf8' });
  return {
    cores: os.cpus().length, model, node: process.version, qemu, loadStart, loadEnd: os.loadavg(),
    date: new Date().toISOString().replace(/\.\d+Z$/, 'Z'), commit: git.status === 0 ? git.stdout.trim() : 'unknown',
  };
}

/** Three significant figures, no exponent; '—' for a missing figure. */
export function fmt(v: number): string {
  if (!Number.isFinite(v)) return '—';
  const a = Math.abs(v);
  if (a >= 100) return v.toFixed(0);
  if (a >= 10) return v.toFixed(1);
  if (a >= 1) return v.toFixed(2);
  return v.toPrecision(3);
}

export function fmtRatio(r: number): string {
  return Number.isFinite(r) ? `${r >= 10 ? r.toFixed(0) : r.toFixed(1)}x` : '—';
}

const HEAD = ['benchmark', 'unit', 'tsvisor', 'QEMU', 'ratio', 'note'];

function rows(results: readonly Result[]): string[][] {
  return results.map((r) => [r.name, r.unit, r.error ? 'FAILED' : fmt(r.tsvisor), fmt(r.qemu), r.error ? '—' : fmtRatio(r.ratio), r.error ? r.error : r.note]);
}

/** The console table: aligned columns, a group heading line before each group. */
export function textTable(results: readonly Result[]): string {
  const body = rows(results);
  const width = HEAD.map((h, i) => Math.max(h.length, ...body.map((r) => (i === 5 ? 0 : r[i].length))));
  const line = (cells: string[]) => cells.map((c, i) => (i === 5 ? c : i >= 2 && i <= 4 ? c.padStart(width[i]) : c.padEnd(width[i]))).join('  ').trimEnd();
  const out = [line(HEAD)];
  let group = '';
  results.forEach((r, i) => {
    if (r.group !== group) out.push(`[${(group = r.group)}]`);
    out.push(line(body[i]));
  });
  return out.join('\n') + '\n';
}

/** The markdown table of BENCHMARKS.md: one row per benchmark, with its group and what it measures. */
export function markdownTable(results: readonly Result[]): string {
  const out = ['| group | benchmark | unit | tsvisor | QEMU | ratio | what (note) |', '|---|---|---|--:|--:|--:|---|'];
  for (const [i, r] of rows(results).entries()) {
    const res = results[i];
    const what = res.what + (r[5] ? ` (${r[5]})` : '');
    out.push(`| ${res.group} | ${r[0]} | ${r[1]} | ${r[2]} | ${r[3]} | ${r[4]} | ${what.replace(/\|/g, '\\|')} |`);
  }
  return out.join('\n') + '\n';
}

export interface BenchDocument {
  machine: Machine;
  qemu: { present: boolean; mode: string; note: string };
  runs: number;
  quick: boolean;
  failed: boolean;
  results: Result[];
}

export function jsonDocument(doc: BenchDocument): string {
  const clean = (v: number) => (Number.isFinite(v) ? v : null);
  return JSON.stringify({ ...doc, results: doc.results.map((r) => ({ ...r, tsvisor: clean(r.tsvisor), qemu: clean(r.qemu), ratio: clean(r.ratio) })) }, null, 2) + '\n';
}
