// Test helper: an OCI image archive (the image-layout directory as a tar, as
// `ctr images import` and `podman load` read it) of a riscv64 busybox-static
// rootfs: one gzipped layer, a config naming linux/riscv64, a manifest and
// an index whose annotations give the image its name. Uses the host's tar.

import * as crypto from 'node:crypto';
import { execFileSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { layoutBusyboxRootfs } from '../../src/debian/busybox-rootfs.js';

const sha256 = (b: Buffer) => crypto.createHash('sha256').update(b).digest('hex');

/** Writes the archive at `out` for image `name` (e.g. "docker.io/tsvisor/busybox:test"), with busybox from `busybox`. */
export function writeBusyboxImage(out: string, name: string, busybox: string): void {
  const work = fs.mkdtempSync(path.join(os.tmpdir(), 'tsvisor-image-'));
  try {
    const rootfs = path.join(work, 'rootfs');
    layoutBusyboxRootfs(rootfs, busybox);
    const layerTar = path.join(work, 'layer.tar');
    execFileSync('tar', ['--numeric-owner', '--owner=0', '--group=0', '-C', rootfs, '-cf', layerTar, '.']);
    const tar = fs.readFileSync(layerTar);
    const gz = execFileSync('gzip', ['-n', '-c', layerTar], { maxBuffer: 1 << 28 });
    const layout = path.join(work, 'image');
    const blobs = path.join(layout, 'blobs', 'sha256');
    fs.mkdirSync(blobs, { recursive: true });
    const blob = (b: Buffer) => {
      const d = sha256(b);
      fs.writeFileSync(path.join(blobs, d), b);
      return { digest: `sha256:${d}`, size: b.length };
    };
    const layer = blob(gz);
    const config = blob(Buffer.from(JSON.stringify({
      architecture: 'riscv64',
      os: 'linux',
      config: { Env: ['PATH=/bin:/sbin:/usr/bin:/usr/sbin'], Cmd: ['/bin/sh'], WorkingDir: '/' },
      rootfs: { type: 'layers', diff_ids: [`sha256:${sha256(tar)}`] },
    })));
    const manifest = blob(Buffer.from(JSON.stringify({
      schemaVersion: 2,
      mediaType: 'application/vnd.oci.image.manifest.v1+json',
      config: { mediaType: 'application/vnd.oci.image.config.v1+json', ...config },
      layers: [{ mediaType: 'application/vnd.oci.image.layer.v1.tar+gzip', ...layer }],
    })));
    const tag = name.slice(name.lastIndexOf(':') + 1);
    fs.writeFileSync(path.join(layout, 'index.json'), JSON.stringify({
      schemaVersion: 2,
      manifests: [{
        mediaType: 'application/vnd.oci.image.manifest.v1+json',
        ...manifest,
        platform: { architecture: 'riscv64', os: 'linux' },
        annotations: { 'io.containerd.image.name': name, 'org.opencontainers.image.ref.name': tag },
      }],
    }));
    fs.writeFileSync(path.join(layout, 'oci-layout'), JSON.stringify({ imageLayoutVersion: '1.0.0' }));
    execFileSync('tar', ['--numeric-owner', '--owner=0', '--group=0', '-C', layout, '-cf', out, '.']);
  } finally {
    fs.rmSync(work, { recursive: true, force: true });
  }
}
