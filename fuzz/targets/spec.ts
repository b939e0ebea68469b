// Target "spec": loading an OCI config.json (src/spec/load.ts parseSpec) and
// reading its filesystems (src/spec/mounts.ts sandboxMounts and exportsOf),
// fed mutations of the default spec: values replaced by other types, edge
// numbers and odd strings, fields removed or added, the text itself cut or
// corrupted. Required: parseSpec gives a spec or throws a SpecError whose
// message is one non-empty line; the mount readers, given a spec parseSpec
// accepted, give their lists or throw a plain Error of one line naming the
// mount (their contract), never a TypeError or any other exception.

import { SpecError, defaultSpec, parseSpec } from '../../src/spec/load.js';
import { exportsOf, sandboxMounts } from '../../src/spec/mounts.js';
import { Rng } from '../rng.js';
import { mutateBytes } from '../mutate.js';
import type { Target } from '../harness.js';

const ODD_STRINGS = ['', '/', 'relative/path', '/a/../..', '../../etc', '\u0000', 'x'.repeat(5000), 'CAP_SYS_ADMIN', 'bind', 'rbind', 'ro', 'tmpfs', 'proc', 'RLIMIT_NOFILE', '/dev', '/proc', 'é', '__proto__', 'constructor'];
const ODD_NUMBERS = [0, -1, 1, 0.5, -0, 2 ** 31, 2 ** 32, 2 ** 53, 2 ** 64, -(2 ** 63), 1e308, 65535, 65536, 0o777, 0o7777];

function oddValue(rng: Rng, depth = 0): unknown {
  switch (rng.below(depth > 2 ? 5 : 7)) {
    case 0:
      return null;
    case 1:
      return rng.chance(0.5);
    case 2:
      return rng.pick(ODD_NUMBERS);
    case 3:
    case 4:
      return rng.pick(ODD_STRINGS);
    case 5:
      return Array.from({ length: rng.size(4) }, () => oddValue(rng, depth + 1));
    default: {
      const o: Record<string, unknown> = {};
      for (let i = rng.size(4); i > 0; i--) o[rng.pick(['type', 'source', 'destination', 'options', 'path', 'readonly', 'args', 'x', '__proto__'])] = oddValue(rng, depth + 1);
      return o;
    }
  }
}

/** Every container (object or array) inside `v`, with `v` itself. */
function containers(v: unknown, out: (Record<string, unknown> | unknown[])[] = []): (Record<string, unknown> | unknown[])[] {
  if (v !== null && typeof v === 'object') {
    out.push(v as Record<string, unknown>);
    for (const x of Object.values(v)) containers(x, out);
  }
  return out;
}

/** A few structural edits of `spec` in place. */
function mutateSpec(rng: Rng, spec: Record<string, unknown>): void {
  for (let n = 1 + rng.size(5); n > 0; n--) {
    const all = containers(spec);
    const c = rng.pick(all);
    const keys = Object.keys(c);
    const action = rng.below(6);
    if (Array.isArray(c)) {
      if (action === 0 && c.length) c.splice(rng.below(c.length), 1);
      else if (action === 1 && c.length) c.push(structuredClone(c[rng.below(c.length)]));
      else if (c.length) c[rng.below(c.length)] = oddValue(rng);
      else c.push(oddValue(rng));
    } else if (action === 0 && keys.length) delete c[rng.pick(keys)];
    else if (action === 1) c[rng.pick([...keys, 'extra', 'type', 'options', 'source'])] = oddValue(rng);
    else if (keys.length) {
      const k = rng.pick(keys);
      const v = c[k];
      // Keep the type now and then, with an edge value of it.
      if (typeof v === 'string' && rng.chance(0.5)) c[k] = rng.pick(ODD_STRINGS);
      else if (typeof v === 'number' && rng.chance(0.5)) c[k] = rng.pick(ODD_NUMBERS);
      else c[k] = oddValue(rng);
    }
  }
}

/** A spec with a few bind and tmpfs mounts, so the mount readers have work. */
function baseSpec(rng: Rng): Record<string, unknown> {
  const s = defaultSpec() as unknown as Record<string, unknown>;
  const mounts = s.mounts as Record<string, unknown>[];
  for (let n = rng.size(4); n > 0; n--) {
    mounts.push(
      rng.chance(0.5)
        ? { destination: rng.pick(['/data', '/data/', '/a/../b', '/']), type: 'bind', source: rng.pick(['/tmp', 'rel', '../up', '']), options: rng.pick([['rbind', 'ro'], ['bind'], []]) }
        : { destination: rng.pick(['/tmp', '/dev', '/run']), type: 'tmpfs', source: 'tmpfs', options: ['mode=1777', 'size=1m'] },
    );
  }
  return s;
}

export function generateSpec(rng: Rng, corpus: readonly Uint8Array[]): Uint8Array {
  if (corpus.length > 0 && rng.chance(0.2)) return mutateBytes(rng, rng.pick(corpus), 6, 1 << 20, rng.pick(corpus));
  const spec = baseSpec(rng);
  if (rng.chance(0.9)) mutateSpec(rng, spec);
  let text: Uint8Array = Buffer.from(JSON.stringify(spec, null, rng.chance(0.5) ? 2 : undefined), 'utf8');
  if (rng.chance(0.15)) text = mutateBytes(rng, text, 4, 1 << 20);
  return text;
}

function oneLineMessage(e: Error): boolean {
  return e.message.length > 0 && !e.message.includes('\n');
}

export class SpecTarget implements Target {
  readonly name = 'spec';
  readonly description = 'OCI config.json: parseSpec, sandboxMounts and exportsOf on mutated default specs';
  readonly timeoutMs = 5000;
  readonly minimize = true;

  generate(rng: Rng, corpus: readonly Uint8Array[]): Uint8Array {
    return generateSpec(rng, corpus);
  }

  async run(input: Uint8Array): Promise<string | undefined> {
    const text = Buffer.from(input.buffer, input.byteOffset, input.byteLength).toString('utf8');
    let spec;
    try {
      spec = parseSpec(text);
    } catch (e) {
      if (!(e instanceof SpecError)) return `parseSpec threw ${(e as Error)?.name}: ${(e as Error)?.message}\n${(e as Error)?.stack}`;
      if (!oneLineMessage(e)) return `parseSpec: SpecError message is not one line: ${JSON.stringify(e.message)}`;
      return undefined;
    }
    for (const [what, f] of [
      ['sandboxMounts', () => sandboxMounts(spec.mounts ?? [], '/bundle')],
      ['exportsOf', () => exportsOf(spec, '/bundle')],
    ] as const) {
      try {
        const r = f();
        if (!Array.isArray(r)) return `${what} gave ${typeof r}`;
      } catch (e) {
        if (!(e instanceof Error) || e.constructor !== Error) return `${what} threw ${(e as Error)?.name}: ${(e as Error)?.message}\n${(e as Error)?.stack}`;
        if (!oneLineMessage(e)) return `${what}: message is not one line: ${JSON.stringify(e.message)}`;
      }
    }
    return undefined;
  }
}
