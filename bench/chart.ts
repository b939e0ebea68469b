// The chart of BENCHMARKS.md: one row per benchmark, a bar for how many
// times tsvisor is slower than QEMU (time over QEMU's time, or QEMU's
// throughput over ours) on a log scale with QEMU at 1x. Plain SVG written
// here, no dependency; a pure function of the results.

import type { Result } from './measure.js';
import { fmt, fmtRatio } from './table.js';

export function escapeXml(s: string): string {
  return s.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;').replace(/"/g, '&quot;');
}

const ROW = 22;
const LEFT = 170;
const PLOT = 460;
const RIGHT = 250;
const TOP = 58;

/** Grid ratios drawn, in order; the axis spans the first to the last. */
const TICKS = [0.5, 1, 2, 5, 10, 20, 50, 100, 200, 500];

export function svgChart(results: readonly Result[], title: string): string {
  const lo = Math.log10(TICKS[0]);
  const hi = Math.log10(TICKS[TICKS.length - 1]);
  const x = (r: number) => LEFT + ((Math.log10(Math.min(Math.max(r, TICKS[0]), TICKS[TICKS.length - 1])) - lo) / (hi - lo)) * PLOT;
  const height = TOP + results.length * ROW + 40;
  const width = LEFT + PLOT + RIGHT;
  const out: string[] = [];
  out.push(`<svg xmlns="http://www.w3.org/2000/svg" width="${width}" height="${height}" viewBox="0 0 ${width} ${height}" font-family="sans-serif" font-size="12">`);
  out.push(`<rect width="${width}" height="${height}" fill="#ffffff"/>`);
  out.push(`<text x="${width / 2}" y="20" text-anchor="middle" font-size="15" font-weight="bold">${escapeXml(title)}</text>`);
  out.push(`<text x="${width / 2}" y="38" text-anchor="middle" fill="#555">times slower than QEMU user mode (log scale; left of 1x: faster than QEMU)</text>`);
  for (const t of TICKS) {
    const tx = x(t).toFixed(1);
    out.push(`<line x1="${tx}" y1="${TOP - 6}" x2="${tx}" y2="${TOP + results.length * ROW}" stroke="${t === 1 ? '#333' : '#ddd'}" stroke-width="${t === 1 ? 1.5 : 1}"/>`);
    out.push(`<text x="${tx}" y="${TOP + results.length * ROW + 16}" text-anchor="middle" fill="#555">${t}x</text>`);
  }
  results.forEach((r, i) => {
    const y = TOP + i * ROW;
    out.push(`<text x="${LEFT - 8}" y="${y + 15}" text-anchor="end">${escapeXml(r.name)}</text>`);
    const detail = `${fmt(r.tsvisor)} vs ${fmt(r.qemu)} ${r.unit}`;
    if (r.error) {
      out.push(`<text x="${LEFT + 4}" y="${y + 15}" fill="#b00020">FAILED: ${escapeXml(r.error.slice(0, 80))}</text>`);
    } else if (!Number.isFinite(r.ratio)) {
      out.push(`<text x="${LEFT + 4}" y="${y + 15}" fill="#777">tsvisor ${escapeXml(fmt(r.tsvisor))} ${escapeXml(r.unit)} (no QEMU figure)</text>`);
    } else {
      const x0 = x(1);
      const x1 = x(r.ratio);
      const [a, b] = x1 >= x0 ? [x0, x1] : [x1, x0];
      out.push(`<rect x="${a.toFixed(1)}" y="${y + 4}" width="${Math.max(b - a, 1).toFixed(1)}" height="${ROW - 8}" fill="${r.ratio <= 1 ? '#2e7d32' : '#ef6c00'}"/>`);
      out.push(`<text x="${(LEFT + PLOT + 8).toFixed(1)}" y="${y + 15}">${escapeXml(fmtRatio(r.ratio))}  <tspan fill="#555">${escapeXml(detail)}</tspan></text>`);
    }
  });
  out.push('</svg>');
  return out.join('\n') + '\n';
}
