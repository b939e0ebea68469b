// The kernel in a worker thread of its own: kernel-api.ts's calls served to
// the thread that started it over comlink, the SandboxConfig as workerData.
// Boot runs the kernel on its own main thread instead (src/main/boot.ts);
// this entry is for a process that keeps its own thread free of the guest
// (the bench's in-process sandboxes, tests). The kernel's code comes from
// where boot takes it, the kernel bundle with its code cache (src/bundle;
// entryScript falls back to tsc's files when the bundle is stale or absent),
// so that an in-process sandbox runs the code a sandbox of `tsvisor run`
// runs: the cold rows time boot's kernel, not a cold compile of dist/src.

import { parentPort, workerData } from 'node:worker_threads';
import * as Comlink from 'comlink';
import nodeEndpoint from 'comlink/dist/umd/node-adapter';
import type { SandboxConfig } from '../sandbox/config.js';
import { entryScript } from '../bundle/entry.js';

export type { AsyncKernelApi, ExecRequest, KernelApi, KernelStats } from './kernel-api.js';

const { kernelApi } = require(entryScript('kernel')) as typeof import('./kernel-api.js');

Comlink.expose(kernelApi(workerData as SandboxConfig), nodeEndpoint(parentPort!));
