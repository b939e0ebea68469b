// Command-line flags, read the way Go's `flag` package reads them, because the
// parent runtimes that launch `tsvisor boot` were written for runsc and pass
// flags in Go's style.
//
// Contract (Go's flag.FlagSet.Parse, plus runsc's list flags):
// - A flag is `-name` or `--name` (one or two dashes mean the same), with its
//   value as `-name=value` or as the next argument `-name value`.
// - A bool flag takes no separate value: `-name` sets it, `-name=false` clears
//   it. `-name false` sets it and leaves `false` as the first positional.
// - Parsing stops at the first argument that is not a flag (`-` alone is one)
//   or just after `--`; everything from there on is returned as `rest`.
// - A flag given twice: the last value wins; list flags (intList) append, and
//   each value may itself be a comma list (`--io-fds=5,6`).
// - `-h`/`-help`, when not defined, throw a HelpRequested (a UsageError).
// - Every other mistake throws a UsageError whose message reads like Go's.
//
// Numbers are JavaScript numbers: a value whose magnitude exceeds 2^53 (where
// numbers stop being exact) is refused as out of range rather than rounded.

/** stringList: repeatable, each use appends one value as given (no comma splitting: values such as K=V may hold commas). */
export type FlagKind = 'string' | 'int' | 'uint64' | 'bool' | 'intList' | 'stringList';

export interface FlagDef {
  name: string;
  kind: FlagKind;
  usage: string;
  default?: string | number | boolean | number[] | string[];
}

/** Parsed values by flag name: unset flags hold their default, or undefined; intList defaults to []. */
export type FlagValues = Record<string, string | number | boolean | number[] | string[] | undefined>;

/** A command line the flag definitions do not accept. The message is one line, for the user. */
export class UsageError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'UsageError';
  }
}

/** `-h` or `-help` was given and no flag of that name is defined: print usage, then exit. */
export class HelpRequested extends UsageError {
  constructor() {
    super('flag: help requested');
    this.name = 'HelpRequested';
  }
}

const MAX_EXACT = 2 ** 53;

/** Why a value does not parse, in the words Go's flag package uses. */
class ValueError extends Error {}

/**
 * Parses an integer the way Go's strconv.ParseInt(s, 0, 64) does: an optional
 * sign, then decimal, `0x` hex, `0o` or leading-`0` octal, or `0b` binary;
 * underscores only between digits (a base prefix counts as a digit).
 */
function parseGoInt(s: string, unsigned: boolean): number {
  let t = s;
  let neg = false;
  if (t.startsWith('+') || t.startsWith('-')) {
    if (unsigned) throw new ValueError('parse error');
    neg = t[0] === '-';
    t = t.slice(1);
  }
  let base = 10;
  let prefixed = false;
  if (/^0[xX]/.test(t)) {
    base = 16;
    t = t.slice(2);
    prefixed = true;
  } else if (/^0[oO]/.test(t)) {
    base = 8;
    t = t.slice(2);
    prefixed = true;
  } else if (/^0[bB]/.test(t)) {
    base = 2;
    t = t.slice(2);
    prefixed = true;
  } else if (t.length > 1 && t[0] === '0') {
    base = 8;
    t = t.slice(1);
    prefixed = true;
  }
  if (t.includes('_')) {
    // As in Go: `_` only between digits, where a base prefix counts as a digit.
    if ((t.startsWith('_') && !prefixed) || t.endsWith('_') || t.includes('__')) throw new ValueError('parse error');
    t = t.replace(/_/g, '');
  }
  const digits = base === 16 ? /^[0-9a-fA-F]+$/ : base === 8 ? /^[0-7]+$/ : base === 2 ? /^[01]+$/ : /^[0-9]+$/;
  if (t.length === 0 || !digits.test(t)) throw new ValueError('parse error');
  const big = base === 16 ? BigInt('0x' + t) : base === 8 ? BigInt('0o' + t) : base === 2 ? BigInt('0b' + t) : BigInt(t);
  const v = neg ? -big : big;
  if (v > BigInt(MAX_EXACT) || v < -BigInt(MAX_EXACT)) {
    throw new ValueError('value out of range (beyond 2^53, the largest exact number)');
  }
  return Number(v);
}

/** Go's strconv.ParseBool. */
function parseGoBool(s: string): boolean {
  switch (s) {
    case '1': case 't': case 'T': case 'true': case 'TRUE': case 'True':
      return true;
    case '0': case 'f': case 'F': case 'false': case 'FALSE': case 'False':
      return false;
    default:
      throw new ValueError('parse error');
  }
}

function initialValue(def: FlagDef): string | number | boolean | number[] | string[] | undefined {
  if (def.kind === 'intList' || def.kind === 'stringList') return Array.isArray(def.default) ? ([...def.default] as number[] | string[]) : [];
  return Array.isArray(def.default) ? ([...def.default] as number[] | string[]) : def.default;
}

/**
 * Reads `argv` (without the program or subcommand name) against `defs`.
 * Returns the values, the arguments left after the flags, and the names of
 * the flags that were actually given.
 */
export function parseFlags(defs: FlagDef[], argv: string[]): { flags: FlagValues; rest: string[]; seen: Set<string> } {
  const byName = new Map<string, FlagDef>();
  for (const d of defs) {
    if (byName.has(d.name)) throw new Error(`flag redefined: ${d.name}`);
    byName.set(d.name, d);
  }
  const flags: FlagValues = {};
  for (const d of defs) flags[d.name] = initialValue(d);
  const seen = new Set<string>();

  let i = 0;
  while (i < argv.length) {
    const arg = argv[i];
    if (arg.length < 2 || arg[0] !== '-') break; // first positional
    let body = arg.slice(1);
    if (body[0] === '-') {
      body = body.slice(1);
      if (body.length === 0) {
        i++; // `--` ends the flags and is consumed
        break;
      }
    }
    if (body.length === 0 || body[0] === '-' || body[0] === '=') {
      throw new UsageError(`bad flag syntax: ${arg}`);
    }
    i++;
    const eq = body.indexOf('=');
    const name = eq < 0 ? body : body.slice(0, eq);
    let value: string | undefined = eq < 0 ? undefined : body.slice(eq + 1);
    const def = byName.get(name);
    if (!def) {
      if (name === 'help' || name === 'h') throw new HelpRequested();
      throw new UsageError(`flag provided but not defined: -${name}`);
    }
    if (def.kind === 'bool') {
      if (value === undefined) {
        flags[name] = true;
      } else {
        try {
          flags[name] = parseGoBool(value);
        } catch {
          throw new UsageError(`invalid boolean value ${JSON.stringify(value)} for -${name}: parse error`);
        }
      }
      seen.add(name);
      continue;
    }
    if (value === undefined) {
      if (i >= argv.length) throw new UsageError(`flag needs an argument: -${name}`);
      value = argv[i++];
    }
    try {
      switch (def.kind) {
        case 'string':
          flags[name] = value;
          break;
        case 'int':
          flags[name] = parseGoInt(value, false);
          break;
        case 'uint64':
          flags[name] = parseGoInt(value, true);
          break;
        case 'intList': {
          // The first time a list flag is given it replaces its default; later times append.
          const list: number[] = seen.has(name) ? (flags[name] as number[]) : [];
          for (const part of value.split(',')) {
            if (part.trim() === '') throw new ValueError('empty list element');
            list.push(parseGoInt(part.trim(), false));
          }
          flags[name] = list;
          break;
        }
        case 'stringList':
          flags[name] = [...(seen.has(name) ? (flags[name] as string[]) : []), value];
          break;
      }
    } catch (e) {
      if (e instanceof ValueError) {
        throw new UsageError(`invalid value ${JSON.stringify(value)} for flag -${name}: ${e.message}`);
      }
      throw e;
    }
    seen.add(name);
  }
  return { flags, rest: argv.slice(i), seen };
}

function typeName(kind: FlagKind): string {
  switch (kind) {
    case 'string': return 'string';
    case 'int': return 'int';
    case 'uint64': return 'uint';
    case 'intList': return 'value';
    case 'stringList': return 'value';
    case 'bool': return '';
  }
}

function isZeroDefault(def: FlagDef): boolean {
  const d = def.default;
  if (d === undefined) return true;
  if (Array.isArray(d)) return d.length === 0;
  return d === '' || d === 0 || d === false;
}

/**
 * Usage text in the layout of Go's flag.PrintDefaults: "Usage: SYNOPSIS", then
 * one block per flag, sorted by name:
 *
 *     -name type
 *     	usage (default value)
 *
 * A name of one or two characters without a type keeps its usage on the same
 * line, as Go does. A word in `backquotes` in the usage names the value.
 */
export function formatUsage(synopsis: string, defs: FlagDef[]): string {
  const lines: string[] = [synopsis.startsWith('Usage') ? synopsis : `Usage: ${synopsis}`];
  const sorted = [...defs].sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
  for (const def of sorted) {
    let usage = def.usage;
    let type = typeName(def.kind);
    const quoted = /`([^`]*)`/.exec(usage);
    if (quoted) {
      type = quoted[1];
      usage = usage.slice(0, quoted.index) + quoted[1] + usage.slice(quoted.index + quoted[0].length);
    }
    let block = `  -${def.name}`;
    if (type) block += ` ${type}`;
    block += block.length <= 4 ? '\t' : '\n    \t';
    block += usage.replace(/\n/g, '\n    \t');
    if (!isZeroDefault(def)) {
      const d = def.default!;
      const shown = typeof d === 'string' ? JSON.stringify(d) : Array.isArray(d) ? d.join(',') : String(d);
      block += ` (default ${shown})`;
    }
    lines.push(block);
  }
  return lines.join('\n') + '\n';
}
