/**
 * Registry benchmark: push and pull an image of ~1 GB (BENCH_SCALE=1; 0.01 ≈ 10 MB for a quick check) to a local
 * Debian docker-registry, beside `skopeo copy` of the same image in the same run, and report the time ratios.
 *
 *   node --import tsx bench/registry.ts                 # 1 GB (the lead runs this one)
 *   BENCH_SCALE=0.01 node --import tsx bench/registry.ts
 *
 * The image: 4 gzip layers (level 1) of incompressible data, built as a valid OCI layout in a temporary folder.
 * Everything runs on 127.0.0.1; the registry and the temporary folder are removed at the end.
 */
import { execFile } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { createWriteStream, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { createGzip } from 'node:zlib';
import { END_OF_ARCHIVE, padding, ustarHeader } from '../src/oci/archive-tar.js';
import { pullImage } from '../src/oci/copy.js';
import { Digester } from '../src/oci/digest.js';
import { LayoutWriter, readOciLayout } from '../src/oci/layout.js';
import { MEDIA } from '../src/oci/media-types.js';
import { pushImage, Registries } from '../src/oci/registry/remote.js';
import { buildManifest, type Descriptor, jsonBlob } from '../src/oci/spec.js';
import { startRegistry } from '../test/fixtures-registry/harness.js';

const SCALE = Number(process.env.BENCH_SCALE ?? '1');
const TOTAL = Math.max(1 << 20, Math.round(SCALE * 1024 * 1024 * 1024));
const LAYERS = 4;

function sh(cmd: string, args: string[]): Promise<string> {
  return new Promise((resolve, reject) =>
    execFile(cmd, args, { maxBuffer: 64 << 20 }, (e, out, err) =>
      e === null ? resolve(out) : reject(new Error(`${cmd}: ${err}`)),
    ),
  );
}

async function timed<T>(fn: () => Promise<T>): Promise<{ ms: number; value: T }> {
  const t0 = performance.now();
  const value = await fn();
  return { ms: performance.now() - t0, value };
}

/** A layer: a tar holding one file of `size` random bytes, gzip level 1, streamed to the layout. */
async function writeLayer(w: LayoutWriter, size: number, i: number): Promise<{ desc: Descriptor; diffId: string }> {
  const tarDigest = new Digester();
  async function* tar(): AsyncGenerator<Buffer> {
    const parts: Buffer[] = [ustarHeader('Files/', 0, 'dir', 0), ustarHeader(`Files/blob${i}.bin`, size, 'file', 0)];
    for (const p of parts) {
      tarDigest.update(p);
      yield p;
    }
    for (let left = size; left > 0; ) {
      const n = Math.min(left, 1 << 20);
      const b = randomBytes(n);
      tarDigest.update(b);
      yield b;
      left -= n;
    }
    for (const p of [padding(size), END_OF_ARCHIVE]) {
      tarDigest.update(p);
      yield p;
    }
  }
  const tmp = w.stagingPath();
  const out = new Digester();
  await pipeline(
    Readable.from(tar()),
    createGzip({ level: 1 }),
    async function* (src) {
      for await (const c of src) {
        out.update(c as Buffer);
        yield c;
      }
    },
    createWriteStream(tmp),
  );
  const digest = out.digest();
  w.adoptFile(tmp, digest);
  return { desc: { mediaType: MEDIA.ociLayerGzip, digest, size: out.size }, diffId: tarDigest.digest() };
}

async function main(): Promise<void> {
  const dir = mkdtempSync(join(tmpdir(), 'winlayer-bench-registry-'));
  const cleanups: (() => unknown)[] = [];
  const t = { after: (fn: () => unknown) => cleanups.push(fn) } as unknown as Parameters<typeof startRegistry>[0];
  try {
    const layout = join(dir, 'image');
    const w = new LayoutWriter(layout);
    const layers: Descriptor[] = [];
    const diffIds: string[] = [];
    for (let i = 0; i < LAYERS; i++) {
      const l = await writeLayer(w, Math.floor(TOTAL / LAYERS), i);
      layers.push(l.desc);
      diffIds.push(l.diffId);
    }
    const cfg = jsonBlob(
      {
        architecture: 'amd64',
        os: 'windows',
        'os.version': '10.0.20348.1',
        rootfs: { type: 'layers', diff_ids: diffIds },
      },
      MEDIA.ociConfig,
    );
    w.putBytes(cfg.bytes, MEDIA.ociConfig);
    const m = buildManifest(cfg.descriptor, layers);
    w.putBytes(m.bytes, MEDIA.ociManifest);
    w.commit([{ ...m.descriptor, annotations: { 'org.opencontainers.image.ref.name': 'bench' } }]);

    const reg = await startRegistry(t, dir, 'open');
    const registries = new Registries({ insecureRegistry: reg.host, credentials: async () => undefined });
    cleanups.push(() => registries.close());
    const h = await readOciLayout(layout);
    const ourPush = await timed(() => pushImage(h, `${reg.host}/bench/winlayer:1`, registries));
    const skopeoPush = await timed(() =>
      sh('skopeo', ['copy', '--dest-tls-verify=false', `oci:${layout}:bench`, `docker://${reg.host}/bench/skopeo:1`]),
    );
    const ourPull = await timed(() =>
      pullImage(`${reg.host}/bench/winlayer:1`, join(dir, 'pulled-ours'), { registries }),
    );
    const skopeoPull = await timed(() =>
      sh('skopeo', [
        'copy',
        '--src-tls-verify=false',
        '--override-os',
        'windows',
        `docker://${reg.host}/bench/skopeo:1`,
        `oci:${join(dir, 'pulled-skopeo')}:x`,
      ]),
    );
    if (ourPush.value.digest !== m.descriptor.digest || ourPull.value.descriptor.digest !== m.descriptor.digest) {
      throw new Error('digest mismatch: the benchmark did not move the image it built');
    }
    const mb = (m.descriptor.size + layers.reduce((a, l) => a + l.size, 0)) / 1e6;
    const row = (name: string, ours: number, theirs: number) => ({
      op: name,
      winlayer_s: +(ours / 1000).toFixed(2),
      skopeo_s: +(theirs / 1000).toFixed(2),
      winlayer_MBps: +(mb / (ours / 1000)).toFixed(1),
      ratio_winlayer_over_skopeo: +(ours / theirs).toFixed(2),
    });
    const result = {
      scale: SCALE,
      imageMB: +mb.toFixed(1),
      layers: LAYERS,
      rows: [row('push', ourPush.ms, skopeoPush.ms), row('pull', ourPull.ms, skopeoPull.ms)],
    };
    process.stdout.write(`${JSON.stringify(result, null, 2)}\n`);
  } finally {
    for (const c of cleanups.reverse()) await c();
    rmSync(dir, { recursive: true, force: true });
  }
}

await main();
