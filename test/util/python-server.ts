// A Python program for the checkpoint test and bench: imports a handful of
// standard modules, prints "ready", then evaluates each line of its stdin and
// prints the value's repr, and "bye" at end of file. Run as
// `python3 -u -c PY_SERVER` (unbuffered: each answer is written at once).

export const PY_SERVER = [
  'import json, decimal, fractions, email.parser, urllib.parse, sqlite3, sys',
  'print("ready")',
  'for line in sys.stdin:',
  '    print(repr(eval(line)))',
  'print("bye")',
].join('\n');

/** The environment it runs with (no bytecode written: the rootfs is read-only). */
export const PY_ENV = ['PATH=/usr/bin:/bin', 'HOME=/tmp', 'PYTHONDONTWRITEBYTECODE=1'];
