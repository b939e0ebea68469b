// runsc's `checkpoint` and `restore` (docs/CHECKPOINT.md). checkpoint opens
// the image file (DIR/checkpoint.img) here, outside the confined sandbox,
// and passes it with containerManager.Checkpoint; the sandbox writes the
// image into it and, unless --leave-running, ends the container. restore
// checks the image first (a corrupt or foreign one is refused before any
// sandbox starts), creates the sandbox as `create` does, then passes the
// image with containerManager.Restore in place of StartRoot; without -d it
// waits for the container and exits with its status, as `run` does.

import * as fs from 'node:fs';
import * as path from 'node:path';
import { FlagDef, FlagValues } from '../flags.js';
import { GlobalOptions } from '../common.js';
import { UrpcClient } from '../urpc.js';
import { exitCodeOf } from '../boot.js';
import { IMAGE_FILE, ImageError, checkImage } from '../../kernel/checkpoint-image.js';
import { CREATE_FLAGS, create } from './lifecycle.js';
import { control, controlSocket, killBoot, OciError, oneId, StateStore, statusOf, stopsWithin } from './state.js';

export const CHECKPOINT_SYNOPSIS = 'tsvisor [global flags] checkpoint --image-path DIR [--leave-running] <container id>';
export const CHECKPOINT_FLAGS: FlagDef[] = [
  { name: 'image-path', kind: 'string', usage: `directory to write the image into (as ${IMAGE_FILE})`, default: '' },
  { name: 'leave-running', kind: 'bool', usage: 'keep the container running once it is saved (default: it ends)', default: false },
];
export const RESTORE_SYNOPSIS = 'tsvisor [global flags] restore --image-path DIR --bundle DIR [-d] <container id>';
export const RESTORE_FLAGS: FlagDef[] = [
  ...CREATE_FLAGS,
  { name: 'image-path', kind: 'string', usage: `directory holding the image (${IMAGE_FILE}) that checkpoint wrote`, default: '' },
  { name: 'detach', kind: 'bool', usage: 'exit once the container runs (as run -d)', default: false },
  { name: 'd', kind: 'bool', usage: 'short for --detach', default: false },
];

/** How long checkpoint waits for a container it ended to be seen stopped. */
const STOP_WAIT_MS = 10_000;

function imagePath(flags: FlagValues): string {
  const dir = flags['image-path'] as string;
  if (!dir) throw new OciError('--image-path is required');
  return path.join(path.resolve(dir), IMAGE_FILE);
}

export async function checkpoint(global: GlobalOptions, flags: FlagValues, positional: string[]): Promise<number> {
  const id = oneId(positional);
  const file = imagePath(flags);
  const leaveRunning = flags['leave-running'] as boolean;
  const store = new StateStore(global.root);
  await store.withLock(id, async () => {
    const st = store.load(id);
    const status = statusOf(st);
    if (status !== 'running' && status !== 'paused') throw new OciError(`cannot checkpoint container ${id}: it is ${status}`);
    let fd: number;
    try {
      fs.mkdirSync(path.dirname(file), { recursive: true });
      fd = fs.openSync(file, 'w', 0o600);
    } catch (e) {
      throw new OciError(`cannot create ${file}: ${(e as NodeJS.ErrnoException).code ?? (e as Error).message}`);
    }
    try {
      const call = UrpcClient.callWithFiles(controlSocket(store, id), 'containerManager.Checkpoint', { CID: id, LeaveRunning: leaveRunning }, [fd]);
      try {
        await call.result;
      } finally {
        call.client.close();
      }
    } catch (e) {
      fs.rmSync(file, { force: true });
      throw new OciError((e as Error).message);
    } finally {
      fs.closeSync(fd);
    }
    if (!leaveRunning && !(await stopsWithin(st, STOP_WAIT_MS))) throw new OciError(`container ${id} was saved but did not stop`);
  });
  return 0;
}

/** The image file of --image-path, checked (magic, version, length, checksum) before a sandbox starts; the sandbox decodes it. */
function checkedImage(file: string): void {
  let bytes: Buffer;
  try {
    bytes = fs.readFileSync(file);
  } catch (e) {
    throw new OciError(`cannot read the checkpoint image ${file}: ${(e as NodeJS.ErrnoException).code ?? (e as Error).message}`);
  }
  try {
    checkImage(bytes);
  } catch (e) {
    if (e instanceof ImageError) throw new OciError(`checkpoint image ${file}: ${e.message}`);
    throw e;
  }
}

export async function restore(global: GlobalOptions, flags: FlagValues, positional: string[]): Promise<number> {
  const id = oneId(positional);
  const file = imagePath(flags);
  checkedImage(file);
  await create(global, flags, positional);
  const store = new StateStore(global.root);
  await store.withLock(id, async () => {
    const st = store.load(id);
    try {
      const fd = fs.openSync(file, 'r');
      try {
        const call = UrpcClient.callWithFiles(controlSocket(store, id), 'containerManager.Restore', { CID: id }, [fd]);
        try {
          await call.result;
        } finally {
          call.client.close();
        }
      } finally {
        fs.closeSync(fd);
      }
    } catch (e) {
      // As a create that fails: the sandbox is ended and the container forgotten.
      killBoot(st);
      store.remove(id);
      throw new OciError((e as Error).message);
    }
    st.status = 'running';
    store.save(st);
  });
  if (flags.detach || flags.d) return 0;
  // As run: wait for the container, then it is gone.
  const c = await control(store, id);
  let status: number;
  try {
    status = (await c.call('containerManager.Wait', id)) as number;
  } finally {
    c.close();
  }
  await store.withLock(id, () => store.remove(id));
  return exitCodeOf(status);
}
