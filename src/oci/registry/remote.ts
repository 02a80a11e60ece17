/**
 * Images in registries: open one as an `ImageHandle` (blobs fetched lazily and verified), and push a handle to a
 * registry (HEAD each blob first, mount from another repository of the same registry, else upload; manifests last,
 * children of an index before the index).
 */
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import { removeTree } from '../../atomic.js';
import { WinlayerError } from '../../errors.js';
import type { Digest } from '../digest.js';
import { mapLimit, streamToFile } from '../files.js';
import { type ImageHandle, reachableBlobs } from '../image.js';
import { isIndexType, isManifestType } from '../media-types.js';
import { formatReference, parseReference, type Reference, referenceTarget } from '../reference.js';
import type { Descriptor } from '../spec.js';
import { type BlobLocation, openLocation, openRange } from '../store.js';
import { type BlobSource, RegistryClient, type RegistryTuning, type TransferProgress } from './client.js';
import type { CredentialSource } from './credentials.js';

/** How to reach registries: shared by every client one command creates. */
export interface RegistryAccess {
  /** The registry (host[:port]) that may use plain HTTP; no other. */
  readonly insecureRegistry?: string;
  readonly caFiles?: readonly string[];
  /** Default: anonymous (the library reads no Docker config of its own; the CLI passes `dockerCredentials(env)`). */
  readonly credentials?: CredentialSource;
  readonly onProgress?: (p: TransferProgress) => void;
  /** Extra client tuning (tests, benchmarks). */
  readonly tuning?: RegistryTuning;
}

const anonymous: CredentialSource = async () => undefined;

/** One client per registry for the life of a command (connections and tokens are reused). Call `close()` at the end. */
export class Registries {
  readonly access: RegistryAccess;
  readonly #clients = new Map<string, RegistryClient>();
  constructor(access: RegistryAccess = {}) {
    this.access = access;
  }

  client(registry: string): RegistryClient {
    let c = this.#clients.get(registry);
    if (c === undefined) {
      c = new RegistryClient({
        registry,
        insecure: this.access.insecureRegistry === registry,
        caFiles: this.access.caFiles ?? [],
        credentials: this.access.credentials ?? anonymous,
        ...(this.access.onProgress === undefined ? {} : { onProgress: this.access.onProgress }),
        ...(this.access.tuning ?? {}),
      });
      this.#clients.set(registry, c);
    }
    return c;
  }

  close(): void {
    for (const c of this.#clients.values()) c.close();
    this.#clients.clear();
  }
}

/** Opens `ref` in its registry: fetches and verifies the manifest or index; blobs are fetched when read. */
export async function openRegistryImage(ref: Reference | string, registries: Registries): Promise<ImageHandle> {
  const r = typeof ref === 'string' ? parseReference(ref) : ref;
  const client = registries.client(r.registry);
  const { bytes, descriptor } = await client.getManifest(r.repository, referenceTarget(r));
  return {
    name: `docker://${formatReference(r)}`,
    root: { descriptor, bytes },
    blobs: {
      // manifests live under /manifests/, everything else under /blobs/
      open: async (d) => {
        const mt = (d as Partial<Descriptor>).mediaType;
        if (!isManifestType(mt) && !isIndexType(mt)) return client.openBlob(r.repository, d);
        const m = await client.getManifest(r.repository, d.digest);
        return Readable.from([m.bytes]);
      },
    },
    remote: { client, repository: r.repository },
    ...(r.tag === undefined ? {} : { tag: r.tag }),
  };
}

/** What `pushImage` did. */
export interface PushResult {
  /** The digest of what `ref` now points at. */
  readonly digest: Digest;
  readonly reference: string;
  readonly blobs: {
    readonly uploaded: number;
    readonly existed: number;
    readonly mounted: number;
    readonly skippedForeign: number;
  };
}

/**
 * Pushes an image or index to `ref`. Blobs the registry has are skipped, blobs of the same registry (another
 * repository) are mounted, the rest uploaded from local files (any byte range re-readable for retries) or, for a
 * source in another registry, through a verified temporary file. Manifests are put by digest, the root by tag.
 * Throws `REGISTRY` / `REGISTRY_AUTH` / `OCI_DIGEST`.
 */
export async function pushImage(
  h: ImageHandle,
  ref: Reference | string,
  registries: Registries,
  opts: { readonly concurrency?: number } = {},
): Promise<PushResult> {
  const r = typeof ref === 'string' ? parseReference(ref) : ref;
  const client = registries.client(r.registry);
  const all = await reachableBlobs(h);
  const manifests = all.filter((b) => isManifestType(b.descriptor.mediaType) || isIndexType(b.descriptor.mediaType));
  const blobs = all.filter((b) => !manifests.includes(b));
  const counts = { uploaded: 0, existed: 0, mounted: 0, skippedForeign: 0 };
  await mapLimit(blobs, opts.concurrency ?? 3, async ({ descriptor: d }) => {
    if (d.urls !== undefined && d.urls.length > 0 && h.blobs.has?.(d.digest) !== true && h.remote === undefined) {
      counts.skippedForeign++;
      return;
    }
    const have = await client.blobSize(r.repository, d.digest);
    if (have !== undefined) {
      counts.existed++;
      registries.access.onProgress?.({ digest: d.digest, phase: 'exists', done: d.size, total: d.size });
      return;
    }
    const remote = h.remote;
    if (remote !== undefined && remote.client.registry === client.registry && remote.repository !== r.repository) {
      if (await client.mountBlob(r.repository, d.digest, remote.repository)) {
        counts.mounted++;
        return;
      }
    }
    await uploadFrom(h, d, async (source) => client.uploadBlob(r.repository, d, source));
    counts.uploaded++;
  });
  // children before their index, the root last
  const rootDigest = h.root.descriptor.digest;
  for (const m of manifests.slice().reverse()) {
    if (m.descriptor.digest === rootDigest) continue;
    const bytes = m.bytes ?? Buffer.alloc(0);
    await client.putManifest(r.repository, m.descriptor.digest, bytes, m.descriptor.mediaType);
  }
  const target = r.digest ?? r.tag ?? rootDigest;
  if (r.digest !== undefined && r.digest !== rootDigest) {
    throw new WinlayerError('OCI_REF', `the reference pins ${r.digest}, but the image is ${rootDigest}`);
  }
  const digest = await client.putManifest(r.repository, target, h.root.bytes, h.root.descriptor.mediaType);
  return {
    digest,
    reference: formatReference({ ...r, digest }),
    blobs: counts,
  };
}

async function uploadFrom(h: ImageHandle, d: Descriptor, up: (s: BlobSource) => Promise<void>): Promise<void> {
  const loc = h.blobs.locate?.(d);
  if (loc !== undefined) return up(fileSource(loc, d));
  // a blob we can only stream (another registry): land it in a verified temporary file first, so retries can re-read
  const dir = mkdtempSync(join(tmpdir(), 'winlayer-push-'));
  try {
    const path = join(dir, 'blob');
    await streamToFile(await h.blobs.open(d), path);
    await up(fileSource({ path, offset: 0, length: d.size }, d));
  } finally {
    removeTree(dir);
  }
}

function fileSource(loc: BlobLocation, d: Pick<Descriptor, 'digest' | 'size'>): BlobSource {
  return {
    size: d.size,
    open: (start: number, end: number): Readable =>
      start === 0 && end === d.size ? openLocation(loc, d) : openRange(loc, start, end),
  };
}
