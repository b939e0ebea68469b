// `tsvisor spec`: write a default config.json, as `runsc spec` does.

import * as fs from 'node:fs';
import * as path from 'node:path';
import { FlagDef, FlagValues } from './flags.js';
import { Fatal } from './common.js';
import { defaultSpec } from '../spec/load.js';

export const SPEC_FLAGS: FlagDef[] = [
  { name: 'bundle', kind: 'string', usage: 'directory to write config.json in', default: '.' },
];
export const SPEC_SYNOPSIS = 'tsvisor spec [--bundle DIR] [-- CMD ARGS...]';

export function specCommand(flags: FlagValues, positional: string[]): number {
  const file = path.join(flags.bundle as string, 'config.json');
  if (fs.existsSync(file)) throw new Fatal(`${file} already exists`);
  const spec = defaultSpec();
  if (positional.length > 0) {
    spec.process!.args = positional;
    spec.process!.terminal = false;
  }
  fs.writeFileSync(file, JSON.stringify(spec, null, 2) + '\n');
  return 0;
}
