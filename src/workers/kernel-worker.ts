// The kernel in a worker thread of its own: kernel-api.ts's calls served to
// the thread that started it over comlink, the SandboxConfig as workerData.
// Boot runs the kernel on its own main thread instead (src/main/boot.ts);
// this entry is for a process that keeps its own thread free of the guest
// (the bench's in-process sandboxes, tests).

import { parentPort, workerData } from 'node:worker_threads';
import * as Comlink from 'comlink';
import nodeEndpoint from 'comlink/dist/umd/node-adapter';
import type { SandboxConfig } from '../sandbox/config.js';
import { kernelApi } from './kernel-api.js';

export type { AsyncKernelApi, ExecRequest, KernelApi, KernelStats } from './kernel-api.js';

Comlink.expose(kernelApi(workerData as SandboxConfig), nodeEndpoint(parentPort!));
