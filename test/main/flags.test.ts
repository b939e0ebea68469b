import assert from 'node:assert/strict';
import { FlagDef, HelpRequested, UsageError, formatUsage, parseFlags } from '../../src/main/flags.js';
import { defaultRoot } from '../../src/main/common.js';

const defs: FlagDef[] = [
  { name: 'bundle', kind: 'string', usage: 'path to the bundle directory' },
  { name: 'spec-fd', kind: 'int', usage: 'fd holding the spec', default: -1 },
  { name: 'console', kind: 'bool', usage: 'stdio is a terminal' },
  { name: 'io-fds', kind: 'intList', usage: 'gofer connections' },
  { name: 'total-memory', kind: 'uint64', usage: 'memory for the guest' },
  { name: 'cpu-num', kind: 'int', usage: 'number of vCPUs', default: 0 },
];

function parse(...argv: string[]) {
  return parseFlags(defs, argv);
}

function usageError(fn: () => unknown, message: string | RegExp) {
  assert.throws(fn, (e: unknown) => {
    assert.ok(e instanceof UsageError, `expected UsageError, got ${String(e)}`);
    if (typeof message === 'string') assert.equal(e.message, message);
    else assert.match(e.message, message);
    return true;
  });
}

describe('flags: parseFlags', () => {
  it('accepts one or two dashes, with = or the next argument as the value', () => {
    for (const argv of [
      ['-bundle=/b'], ['--bundle=/b'], ['-bundle', '/b'], ['--bundle', '/b'],
    ]) {
      const { flags, rest } = parse(...argv);
      assert.equal(flags.bundle, '/b', argv.join(' '));
      assert.deepEqual(rest, []);
    }
  });

  it('gives unset flags their default, or undefined, and intList []', () => {
    const { flags, seen } = parse();
    assert.equal(flags['spec-fd'], -1);
    assert.equal(flags.bundle, undefined);
    assert.equal(flags.console, undefined);
    assert.deepEqual(flags['io-fds'], []);
    assert.equal(seen.size, 0);
  });

  it('records which flags were given in seen', () => {
    const { seen } = parse('--cpu-num=0', '--console');
    assert.deepEqual([...seen].sort(), ['console', 'cpu-num']);
  });

  it('takes a value beginning with a dash from the next argument', () => {
    assert.equal(parse('--bundle', '-x').flags.bundle, '-x');
    assert.equal(parse('--spec-fd', '-3').flags['spec-fd'], -3);
  });

  it('keeps everything after = including further = signs and empty values', () => {
    assert.equal(parse('--bundle=a=b').flags.bundle, 'a=b');
    assert.equal(parse('--bundle=').flags.bundle, '');
  });

  it('lets the last of a repeated scalar flag win', () => {
    assert.equal(parse('--cpu-num=2', '--cpu-num', '4').flags['cpu-num'], 4);
  });

  describe('bool flags', () => {
    it('are set by the bare flag', () => {
      assert.equal(parse('--console').flags.console, true);
      assert.equal(parse('-console').flags.console, true);
    });

    it('take =true/=false and the other spellings Go accepts', () => {
      for (const v of ['1', 't', 'T', 'true', 'TRUE', 'True']) assert.equal(parse(`--console=${v}`).flags.console, true, v);
      for (const v of ['0', 'f', 'F', 'false', 'FALSE', 'False']) assert.equal(parse(`--console=${v}`).flags.console, false, v);
    });

    it('do not take a separate argument: `--console false` leaves false as a positional', () => {
      const { flags, rest } = parse('--console', 'false', 'cid');
      assert.equal(flags.console, true);
      assert.deepEqual(rest, ['false', 'cid']);
    });

    it('reject other values', () => {
      usageError(() => parse('--console=yes'), 'invalid boolean value "yes" for -console: parse error');
    });
  });

  describe('numbers', () => {
    it('read decimal, hex, octal and binary like Go', () => {
      assert.equal(parse('--cpu-num=10').flags['cpu-num'], 10);
      assert.equal(parse('--cpu-num=0x10').flags['cpu-num'], 16);
      assert.equal(parse('--cpu-num=010').flags['cpu-num'], 8);
      assert.equal(parse('--cpu-num=0o10').flags['cpu-num'], 8);
      assert.equal(parse('--cpu-num=0b10').flags['cpu-num'], 2);
      assert.equal(parse('--cpu-num=1_000').flags['cpu-num'], 1000);
      assert.equal(parse('--cpu-num=+7').flags['cpu-num'], 7);
      assert.equal(parse('--cpu-num=-7').flags['cpu-num'], -7);
    });

    it('reject what Go rejects, with Go\'s message', () => {
      for (const bad of ['x', '', '1.5', '08', '0x', '_1', '1_', '1__0', ' 1', '1e3', '0xg']) {
        usageError(() => parse(`--cpu-num=${bad}`), `invalid value ${JSON.stringify(bad)} for flag -cpu-num: parse error`);
      }
    });

    it('reject unsigned flags with a sign', () => {
      usageError(() => parse('--total-memory=-1'), 'invalid value "-1" for flag -total-memory: parse error');
      usageError(() => parse('--total-memory=+1'), /parse error/);
    });

    it('read uint64 values up to 2^53 exactly and reject larger ones clearly', () => {
      assert.equal(parse('--total-memory=2147483648').flags['total-memory'], 2 ** 31);
      assert.equal(parse(`--total-memory=${2 ** 53}`).flags['total-memory'], 2 ** 53);
      usageError(() => parse(`--total-memory=${2n ** 53n + 1n}`), /for flag -total-memory: value out of range .*2\^53/);
      usageError(() => parse('--total-memory=18446744073709551615'), /value out of range/);
      usageError(() => parse('--cpu-num=-9007199254740993'), /value out of range/);
    });
  });

  describe('intList flags', () => {
    it('may repeat', () => {
      assert.deepEqual(parse('--io-fds=5', '--io-fds=6', '--io-fds', '7').flags['io-fds'], [5, 6, 7]);
    });

    it('may hold a comma list, mixed with repeats', () => {
      assert.deepEqual(parse('--io-fds=5,6', '--io-fds=7').flags['io-fds'], [5, 6, 7]);
    });

    it('replace a non-empty default on first use', () => {
      const r = parseFlags([{ name: 'l', kind: 'intList', usage: '', default: [1] }], ['-l=2']);
      assert.deepEqual(r.flags.l, [2]);
      const d = parseFlags([{ name: 'l', kind: 'intList', usage: '', default: [1] }], []);
      assert.deepEqual(d.flags.l, [1]);
    });

    it('reject empty and non-numeric elements', () => {
      usageError(() => parse('--io-fds=5,,6'), 'invalid value "5,,6" for flag -io-fds: empty list element');
      usageError(() => parse('--io-fds=5,x'), 'invalid value "5,x" for flag -io-fds: parse error');
    });
  });

  describe('stringList flags', () => {
    const defs: FlagDef[] = [{ name: 'env', kind: 'stringList', usage: '', default: [] }];
    it('append each use whole (commas and = kept), and default to []', () => {
      assert.deepEqual(parseFlags(defs, ['--env', 'A=1,2', '-env=B=x', '--env=']).flags.env, ['A=1,2', 'B=x', '']);
      assert.deepEqual(parseFlags(defs, []).flags.env, []);
    });
  });

  describe('where flags end', () => {
    it('stops at the first non-flag argument', () => {
      const { flags, rest } = parse('--console', 'cid', '--cpu-num=3');
      assert.equal(flags.console, true);
      assert.equal(flags['cpu-num'], 0);
      assert.deepEqual(rest, ['cid', '--cpu-num=3']);
    });

    it('stops after --, which is consumed', () => {
      assert.deepEqual(parse('--console', '--', '--cpu-num=3').rest, ['--cpu-num=3']);
      assert.deepEqual(parse('--', '--').rest, ['--']);
    });

    it('treats a lone - as a positional', () => {
      assert.deepEqual(parse('-', 'x').rest, ['-', 'x']);
    });
  });

  describe('errors', () => {
    it('names an unknown flag like Go', () => {
      usageError(() => parse('--foo'), 'flag provided but not defined: -foo');
      usageError(() => parse('-foo=1'), 'flag provided but not defined: -foo');
    });

    it('reports a missing value', () => {
      usageError(() => parse('--bundle'), 'flag needs an argument: -bundle');
      usageError(() => parse('--io-fds'), 'flag needs an argument: -io-fds');
    });

    it('reports bad flag syntax', () => {
      usageError(() => parse('---x'), 'bad flag syntax: ---x');
      usageError(() => parse('-=x'), 'bad flag syntax: -=x');
      usageError(() => parse('--=x'), 'bad flag syntax: --=x');
    });

    it('throws HelpRequested, a UsageError, for -h and -help', () => {
      for (const h of ['-h', '--help', '-help']) {
        assert.throws(() => parse(h), (e: unknown) => e instanceof HelpRequested && e instanceof UsageError);
      }
    });

    it('lets a defined help flag be an ordinary flag', () => {
      const r = parseFlags([{ name: 'help', kind: 'bool', usage: '' }], ['-help']);
      assert.equal(r.flags.help, true);
    });

    it('refuses duplicate definitions (a programming error, not a UsageError)', () => {
      assert.throws(
        () => parseFlags([{ name: 'a', kind: 'int', usage: '' }, { name: 'a', kind: 'bool', usage: '' }], []),
        (e: unknown) => e instanceof Error && !(e instanceof UsageError),
      );
    });
  });
});

describe('flags: formatUsage', () => {
  it('starts with the synopsis and lays out one sorted block per flag like Go', () => {
    const text = formatUsage('tsvisor boot [flags] <container id>', defs);
    const expected = [
      'Usage: tsvisor boot [flags] <container id>',
      '  -bundle string',
      '    \tpath to the bundle directory',
      '  -console',
      '    \tstdio is a terminal',
      '  -cpu-num int',
      '    \tnumber of vCPUs',
      '  -io-fds value',
      '    \tgofer connections',
      '  -spec-fd int',
      '    \tfd holding the spec (default -1)',
      '  -total-memory uint',
      '    \tmemory for the guest',
      '',
    ].join('\n');
    assert.equal(text, expected);
  });

  it('keeps a short bool flag\'s usage on its line, shows non-zero defaults, and names backquoted values', () => {
    const text = formatUsage('x', [
      { name: 'v', kind: 'bool', usage: 'verbose' },
      { name: 'root', kind: 'string', usage: 'state `dir`\nsecond line', default: '/run/tsvisor' },
      { name: 'l', kind: 'intList', usage: 'list', default: [1, 2] },
    ]);
    assert.equal(text, [
      'Usage: x',
      '  -l value',
      '    \tlist (default 1,2)',
      '  -root dir',
      '    \tstate dir',
      '    \tsecond line (default "/run/tsvisor")',
      '  -v\tverbose',
      '',
    ].join('\n'));
  });
});

describe('common: the default --root', () => {
  it('is /run/tsvisor for root, $XDG_RUNTIME_DIR/tsvisor for another user, else a directory in that user\'s home, never /tmp', () => {
    assert.equal(defaultRoot({ XDG_RUNTIME_DIR: '/run/user/0' }, 0, '/root'), '/run/tsvisor');
    assert.equal(defaultRoot({ XDG_RUNTIME_DIR: '/run/user/1000' }, 1000, '/home/u'), '/run/user/1000/tsvisor');
    assert.equal(defaultRoot({}, 1000, '/home/u'), '/home/u/.local/state/tsvisor');
    assert.equal(defaultRoot({ XDG_RUNTIME_DIR: '', XDG_STATE_HOME: '/home/u/state' }, 1000, '/home/u'), '/home/u/state/tsvisor');
    // Relative values are ignored, as the XDG base directory specification says.
    assert.equal(defaultRoot({ XDG_RUNTIME_DIR: 'rel', XDG_STATE_HOME: 'rel' }, 1000, '/home/u'), '/home/u/.local/state/tsvisor');
  });
});
