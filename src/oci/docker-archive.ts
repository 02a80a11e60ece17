/**
 * Docker archives (`docker save` / `docker load`): a tar holding `manifest.json` (`[{Config, RepoTags, Layers}]`),
 * the config and the layer files. We write the layout Docker 25 writes — blobs under `blobs/sha256/<hex>` plus
 * `oci-layout` and `index.json` beside `manifest.json` — which older and newer `docker load` and skopeo all read.
 * Layers are stored as the image has them (gzip or zstd); `docker load` decompresses them.
 * The reader indexes the tar once (headers only) and serves members by offset: nothing is held in memory.
 */

import { once } from 'node:events';
import { closeSync, createReadStream, createWriteStream, fsyncSync, openSync, readSync } from 'node:fs';
import { Readable } from 'node:stream';
import { AtomicTarget } from '../atomic.js';
import { WinlayerError } from '../errors.js';
import { detectCompression } from '../tar/index.js';
import { type ArchiveMember, END_OF_ARCHIVE, indexTar, padding, ustarHeader } from './archive-tar.js';
import { type Digest, Digester, sha256Digest, splitDigest } from './digest.js';
import type { ImageHandle, ResolvedImage } from './image.js';
import { MEDIA, ociLayerType } from './media-types.js';
import { buildManifest, type Descriptor, descriptorOf } from './spec.js';
import { type BlobLocation, type BlobStore, openLocation } from './store.js';
import { DOCKER_MANIFEST, invalidImage, parseDocument } from './validate.js';

interface ManifestEntry {
  Config: string;
  RepoTags?: string[] | null;
  Layers: string[];
}

const MAX_JSON = 8 << 20;

function readMember(path: string, m: ArchiveMember, limit = MAX_JSON): Buffer {
  if (m.size > limit) throw new WinlayerError('INVALID_IMAGE', `${m.name} is too large (${m.size} bytes)`, { path });
  const buf = Buffer.alloc(m.size);
  const fd = openSync(path, 'r');
  try {
    if (readSync(fd, buf, 0, m.size, m.offset) !== m.size) {
      throw new WinlayerError('TAR_TRUNCATED', `${m.name} is cut short`, { path });
    }
  } finally {
    closeSync(fd);
  }
  return buf;
}

/** True when the uncompressed tar at `path` holds a top-level `manifest.json` (a docker archive). */
export function isDockerArchive(path: string): boolean {
  try {
    const head = Buffer.alloc(4);
    const fd = openSync(path, 'r');
    try {
      readSync(fd, head, 0, 4, 0);
    } finally {
      closeSync(fd);
    }
    if (detectCompression(head) !== 'none') return false;
    let found = false;
    indexTar(path, (m) => {
      if (m.name === 'manifest.json') found = true;
      return found || /^(Files|Hives|UtilityVM)(\/|$)/.test(m.name);
    });
    return found;
  } catch {
    return false;
  }
}

/**
 * Opens a docker archive as an image. With several images inside, `tag` picks one (`name:tag` as in RepoTags).
 * Layer digests are computed by one streaming pass over each layer member (the archive does not record them).
 */
export async function readDockerArchive(path: string, tag?: string): Promise<ImageHandle> {
  const members = indexTar(path);
  const byName = new Map(members.filter((m) => m.type === '0').map((m) => [m.name, m]));
  const mf = byName.get('manifest.json');
  if (mf === undefined)
    throw new WinlayerError('SOURCE_UNREADABLE', 'not a docker archive (no manifest.json)', { path });
  const entries = parseDocument<ManifestEntry[]>(readMember(path, mf), DOCKER_MANIFEST, {
    path,
    entry: 'manifest.json',
  });
  let entry: ManifestEntry | undefined;
  if (tag !== undefined)
    entry = entries.find((e) => (e.RepoTags ?? []).some((t) => t === tag || t === `${tag}:latest`));
  else if (entries.length === 1) entry = entries[0];
  if (entry === undefined) {
    const tags = entries.flatMap((e) => e.RepoTags ?? []);
    throw new WinlayerError(
      'SOURCE_UNREADABLE',
      tag === undefined ? 'the archive holds several images: name one' : `no image tagged ${tag}`,
      {
        path,
        hint: `tags: ${tags.join(', ') || 'none'}`,
      },
    );
  }
  const member = (name: string): ArchiveMember => {
    const m = byName.get(name.replace(/^\.\//, ''));
    if (m === undefined) throw invalidImage(`names ${name}, which the archive lacks`, { path, entry: 'manifest.json' });
    return m;
  };
  const locations = new Map<Digest, BlobLocation>();
  const cfgMember = member(entry.Config);
  const configBytes = readMember(path, cfgMember);
  const configDigest = sha256Digest(configBytes);
  locations.set(configDigest, { path, offset: cfgMember.offset, length: cfgMember.size });
  const layers: Descriptor[] = [];
  for (const name of entry.Layers) {
    const m = member(name);
    const { digest, head } = await hashMember(path, m);
    locations.set(digest, { path, offset: m.offset, length: m.size });
    layers.push({ mediaType: ociLayerType(detectCompression(head)), digest, size: m.size });
  }
  const manifest = buildManifest(
    { mediaType: MEDIA.ociConfig, digest: configDigest, size: configBytes.length },
    layers,
  );
  const store: BlobStore = {
    has: (d) => locations.has(d) || d === manifest.descriptor.digest,
    locate: (d) => locations.get(d.digest),
    open: async (d) => {
      if (d.digest === manifest.descriptor.digest) return Readable.from([manifest.bytes]);
      const loc = locations.get(d.digest);
      if (loc === undefined) throw new WinlayerError('NOT_FOUND', `blob ${d.digest} is not in the archive`, { path });
      return openLocation(loc, d);
    },
  };
  const t = tag ?? entry.RepoTags?.[0];
  return {
    name: `docker-archive:${path}`,
    root: { descriptor: manifest.descriptor, bytes: manifest.bytes },
    blobs: store,
    ...(t === undefined ? {} : { tag: t }),
  };
}

async function hashMember(path: string, m: ArchiveMember): Promise<{ digest: Digest; head: Buffer }> {
  const d = new Digester();
  let head = Buffer.alloc(0);
  if (m.size > 0) {
    for await (const c of createReadStream(path, {
      start: m.offset,
      end: m.offset + m.size - 1,
      highWaterMark: 1 << 20,
    })) {
      if (head.length < 4) head = Buffer.concat([head, c as Buffer]).subarray(0, 4);
      d.update(c as Buffer);
    }
  }
  return { digest: d.digest(), head };
}

/** `name` → `name:latest`; `name:tag` unchanged (what `RepoTags` holds). */
function repoTag(tag: string): string {
  const slash = tag.lastIndexOf('/');
  return tag.lastIndexOf(':') > slash ? tag : `${tag}:latest`;
}

/**
 * Writes one image as a docker archive at `path` (atomic). Streams every blob through verification into the tar.
 * `mtime` (seconds) stamps the members; pass SOURCE_DATE_EPOCH for reproducible archives.
 */
export async function writeDockerArchive(
  img: ResolvedImage,
  path: string,
  opts: { readonly tag?: string; readonly mtime?: number } = {},
): Promise<{ manifest: Descriptor }> {
  const mtime = opts.mtime ?? 0;
  const target = new AtomicTarget(path);
  const out = createWriteStream(target.tempPath, { mode: 0o644 });
  const write = async (b: Uint8Array): Promise<void> => {
    if (!out.write(b)) await once(out, 'drain');
  };
  const blobName = (d: Digest): string => {
    const [alg, hex] = splitDigest(d);
    return `blobs/${alg}/${hex}`;
  };
  try {
    const errored = new Promise<never>((_, reject) => out.on('error', reject));
    errored.catch(() => undefined);
    const work = (async () => {
      await write(ustarHeader('blobs/', 0, 'dir', mtime));
      await write(ustarHeader('blobs/sha256/', 0, 'dir', mtime));
      const written = new Set<Digest>();
      const putBlob = async (d: Descriptor, bytes?: Uint8Array): Promise<void> => {
        if (written.has(d.digest)) return;
        written.add(d.digest);
        await write(ustarHeader(blobName(d.digest), d.size, 'file', mtime));
        if (bytes !== undefined) await write(bytes);
        else for await (const c of await img.handle.blobs.open(d)) await write(c as Buffer);
        await write(padding(d.size));
      };
      const putFile = async (name: string, bytes: Uint8Array): Promise<void> => {
        await write(ustarHeader(name, bytes.length, 'file', mtime));
        await write(bytes);
        await write(padding(bytes.length));
      };
      await putBlob(img.manifest.config, img.configBytes);
      for (const l of img.manifest.layers) await putBlob(l);
      await putBlob(img.manifestDescriptor, img.manifestBytes);
      const tags = opts.tag === undefined ? [] : [repoTag(opts.tag)];
      const mfJson: ManifestEntry[] = [
        {
          Config: blobName(img.manifest.config.digest),
          RepoTags: tags,
          Layers: img.manifest.layers.map((l) => blobName(l.digest)),
        },
      ];
      const root = descriptorOf({
        ...img.manifestDescriptor,
        ...(tags.length === 0
          ? {}
          : {
              annotations: {
                'io.containerd.image.name': tags[0]!,
                'org.opencontainers.image.ref.name': tags[0]!.slice(tags[0]!.lastIndexOf(':') + 1),
              },
            }),
      });
      await putFile(
        'index.json',
        Buffer.from(JSON.stringify({ schemaVersion: 2, mediaType: MEDIA.ociIndex, manifests: [root] })),
      );
      await putFile('manifest.json', Buffer.from(JSON.stringify(mfJson)));
      await putFile('oci-layout', Buffer.from('{"imageLayoutVersion":"1.0.0"}'));
      await write(END_OF_ARCHIVE);
      out.end();
      await once(out, 'finish');
    })();
    await Promise.race([work, errored]);
    const fd = openSync(target.tempPath, 'r');
    try {
      fsyncSync(fd);
    } finally {
      closeSync(fd);
    }
  } catch (e) {
    out.destroy();
    target.abort();
    if (e instanceof WinlayerError) throw e;
    throw new WinlayerError('IO', `cannot write the docker archive: ${(e as Error).message}`, { path, cause: e });
  }
  target.commit({ synced: true });
  return { manifest: img.manifestDescriptor };
}
