// runc's `events`: a container's stats as JSON lines, one event per line
// ({"type": "stats", "id": ..., "data": {"cpu", "memory", "pids"}}, runc's
// layout), taken with containerManager.Event. --stats prints one and exits;
// without it, one every --interval until the container stops (then exit 0).

import { FlagDef, FlagValues } from '../flags.js';
import { GlobalOptions } from '../common.js';
import { control, OciError, oneId, StateStore, statusOf, stopsWithin } from './state.js';
import type { UrpcClient } from '../urpc.js';

export const EVENTS_SYNOPSIS = 'tsvisor [global flags] events [--stats] [--interval DURATION] <container id>';
export const EVENTS_FLAGS: FlagDef[] = [
  { name: 'stats', kind: 'bool', usage: "print the container's stats once and exit", default: false },
  { name: 'interval', kind: 'string', usage: 'time between stats events, as Go writes durations (5s, 500ms, 1m30s)', default: '5s' },
];

const UNIT_MS: Record<string, number> = { ns: 1e-6, us: 1e-3, 'µs': 1e-3, ms: 1, s: 1000, m: 60000, h: 3600000 };

/** A Go duration ("1m30s", "250ms") in milliseconds; OciError when it is not one or not positive. */
export function parseDuration(text: string): number {
  const re = /(\d+(?:\.\d*)?|\.\d+)(ns|us|µs|ms|s|m|h)/y;
  let ms = 0;
  let at = 0;
  while (at < text.length) {
    re.lastIndex = at;
    const m = re.exec(text);
    if (!m) break;
    ms += Number(m[1]) * UNIT_MS[m[2]];
    at = re.lastIndex;
  }
  if (text === '' || at !== text.length || !(ms > 0)) throw new OciError(`invalid --interval "${text}": a positive duration such as 5s or 500ms`);
  return ms;
}

export async function events(global: GlobalOptions, flags: FlagValues, positional: string[]): Promise<number> {
  const id = oneId(positional);
  const intervalMs = parseDuration(flags.interval as string);
  const store = new StateStore(global.root);
  const st = store.load(id);
  if (statusOf(st) === 'stopped') throw new OciError('container not running');
  let c: UrpcClient;
  try {
    c = await control(store, id);
  } catch (e) {
    throw new OciError((e as Error).message);
  }
  try {
    for (;;) {
      let ev: unknown;
      try {
        ev = await c.call('containerManager.Event', id);
      } catch (e) {
        // The sandbox ended while we watched: the stream of events ends with it.
        if (!flags.stats && (await stopsWithin(st, 2000))) return 0;
        throw new OciError((e as Error).message);
      }
      process.stdout.write(JSON.stringify(ev) + '\n');
      if (flags.stats) return 0;
      await new Promise((r) => setTimeout(r, intervalMs));
      if (statusOf(st) === 'stopped') return 0;
    }
  } finally {
    c.close();
  }
}

