// The bench command's arguments:
//
//   npm run bench -- [--group G]... [--only NAME]... [--runs N] [--quick]
//                    [--json FILE] [--svg FILE] [--report] [--list]
//
// --group and --only may repeat or hold comma lists; --report writes
// BENCHMARKS.md and its chart (bench/chart.svg) at the repository root.

import { GROUPS, type Group } from './measure.js';

export interface BenchOptions {
  groups: Group[];
  only: string[];
  runs: number;
  quick: boolean;
  json: string | null;
  svg: string | null;
  report: boolean;
  list: boolean;
  help: boolean;
}

export const USAGE = `usage: npm run bench -- [options]
  --group G     only the benchmarks of group G (${GROUPS.join(', ')}); repeatable, or a comma list
  --only NAME   only the benchmark NAME (see --list); repeatable, or a comma list
  --runs N      runs per benchmark and target, the median is kept (default 3)
  --quick       smaller sizes, one run unless --runs: a fast, rougher look
  --json FILE   also write the results as JSON
  --svg FILE    also write the chart (SVG) of tsvisor vs QEMU
  --report      write BENCHMARKS.md and bench/chart.svg (the committed report)
  --list        list the benchmarks and exit`;

/** Parses argv (after the script); throws an Error with a one-line reason on bad input. */
export function parseBenchArgs(argv: readonly string[]): BenchOptions {
  const o: BenchOptions = { groups: [], only: [], runs: 0, quick: false, json: null, svg: null, report: false, list: false, help: false };
  for (let i = 0; i < argv.length; i++) {
    const raw = argv[i];
    const eq = raw.indexOf('=');
    const flag = raw.startsWith('--') && eq > 0 ? raw.slice(0, eq) : raw;
    const value = (): string => {
      if (raw.startsWith('--') && eq > 0) return raw.slice(eq + 1);
      const v = argv[++i];
      if (v === undefined) throw new Error(`${flag} needs a value`);
      return v;
    };
    switch (flag) {
      case '--group':
        for (const g of value().split(',').filter(Boolean)) {
          if (!(GROUPS as readonly string[]).includes(g)) throw new Error(`unknown group ${JSON.stringify(g)} (groups: ${GROUPS.join(', ')})`);
          if (!o.groups.includes(g as Group)) o.groups.push(g as Group);
        }
        break;
      case '--only':
        o.only.push(...value().split(',').filter(Boolean));
        break;
      case '--runs': {
        const v = value();
        if (!/^[1-9]\d*$/.test(v) || Number(v) > 100) throw new Error(`--runs wants a whole number from 1 to 100, not ${JSON.stringify(v)}`);
        o.runs = Number(v);
        break;
      }
      case '--json':
        o.json = value();
        break;
      case '--svg':
        o.svg = value();
        break;
      case '--quick':
      case '--report':
      case '--list':
        if (eq > 0) throw new Error(`${flag} takes no value`);
        o[flag.slice(2) as 'quick' | 'report' | 'list'] = true;
        break;
      case '--help':
      case '-h':
        o.help = true;
        break;
      default:
        throw new Error(`unknown argument ${JSON.stringify(raw)}`);
    }
  }
  if (o.runs === 0) o.runs = o.quick ? 1 : 3;
  if (o.report && (o.quick || o.groups.length > 0 || o.only.length > 0)) throw new Error('--report wants the whole suite at full size (no --quick, --group or --only)');
  return o;
}

/** The benchmarks chosen by --group and --only (both given: either matches); unknown names are an Error. */
export function selectBenchmarks<T extends { name: string; group: Group }>(all: readonly T[], o: Pick<BenchOptions, 'groups' | 'only'>): T[] {
  for (const n of o.only) if (!all.some((b) => b.name === n)) throw new Error(`unknown benchmark ${JSON.stringify(n)} (see --list)`);
  if (o.groups.length === 0 && o.only.length === 0) return [...all];
  return all.filter((b) => o.groups.includes(b.group) || o.only.includes(b.name));
}
