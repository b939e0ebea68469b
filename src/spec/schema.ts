// JSON schema (for ajv) of the OCI runtime spec fields tsvisor reads: the
// fields of ./types.ts and nothing more. Objects allow additional properties
// everywhere, so fields of newer spec versions or other runtimes pass through
// untouched; only the fields named here are checked.
//
// Required: process (with args and cwd) and root (with path), as runsc
// requires them to boot. ociVersion, though the spec calls it required, is
// only checked to be a string when present, so hand-written specs still boot.

import type { SchemaObject } from 'ajv';

const absolutePath: SchemaObject = { type: 'string', pattern: '^/' };
const nonNegInt: SchemaObject = { type: 'integer', minimum: 0 };
const stringList: SchemaObject = { type: 'array', items: { type: 'string' } };
const capList: SchemaObject = { type: 'array', items: { type: 'string', pattern: '^CAP_[A-Z_]+$' } };

const idMappings: SchemaObject = {
  type: 'array',
  items: {
    type: 'object',
    required: ['containerID', 'hostID', 'size'],
    properties: { containerID: nonNegInt, hostID: nonNegInt, size: nonNegInt },
  },
};

export const specSchema: SchemaObject = {
  type: 'object',
  required: ['process', 'root'],
  properties: {
    ociVersion: { type: 'string' },
    hostname: { type: 'string' },
    process: {
      type: 'object',
      required: ['args', 'cwd'],
      properties: {
        args: { type: 'array', minItems: 1, items: { type: 'string' } },
        env: stringList,
        cwd: absolutePath,
        terminal: { type: 'boolean' },
        consoleSize: {
          type: 'object',
          required: ['height', 'width'],
          properties: { height: nonNegInt, width: nonNegInt },
        },
        user: {
          type: 'object',
          required: ['uid', 'gid'],
          properties: {
            uid: nonNegInt,
            gid: nonNegInt,
            umask: nonNegInt,
            additionalGids: { type: 'array', items: nonNegInt },
          },
        },
        capabilities: {
          type: 'object',
          properties: {
            bounding: capList,
            effective: capList,
            inheritable: capList,
            permitted: capList,
            ambient: capList,
          },
        },
        rlimits: {
          type: 'array',
          items: {
            type: 'object',
            required: ['type', 'hard', 'soft'],
            properties: {
              type: { type: 'string', pattern: '^RLIMIT_[A-Z]+$' },
              hard: nonNegInt,
              soft: nonNegInt,
            },
          },
        },
        noNewPrivileges: { type: 'boolean' },
      },
    },
    root: {
      type: 'object',
      required: ['path'],
      properties: {
        path: { type: 'string', minLength: 1 },
        readonly: { type: 'boolean' },
      },
    },
    mounts: {
      type: 'array',
      items: {
        type: 'object',
        required: ['destination'],
        properties: {
          destination: absolutePath,
          type: { type: 'string' },
          source: { type: 'string' },
          options: stringList,
        },
      },
    },
    linux: {
      type: 'object',
      properties: {
        resources: {
          type: 'object',
          properties: {
            // -1 means unlimited for memory.limit and cpu.quota, as in runc.
            memory: { type: 'object', properties: { limit: { type: 'integer', minimum: -1 } } },
            cpu: {
              type: 'object',
              properties: {
                quota: { type: 'integer', minimum: -1 },
                period: nonNegInt,
                cpus: { type: 'string' },
              },
            },
            // 0 or -1: no limit.
            pids: { type: 'object', required: ['limit'], properties: { limit: { type: 'integer', minimum: -1 } } },
          },
        },
        namespaces: {
          type: 'array',
          items: {
            type: 'object',
            required: ['type'],
            properties: {
              type: { enum: ['pid', 'network', 'mount', 'ipc', 'uts', 'user', 'cgroup', 'time'] },
              path: { type: 'string' },
            },
          },
        },
        maskedPaths: { type: 'array', items: absolutePath },
        readonlyPaths: { type: 'array', items: absolutePath },
        uidMappings: idMappings,
        gidMappings: idMappings,
      },
    },
  },
};
