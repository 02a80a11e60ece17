/**
 * OCI image layouts (image-spec `image-layout.md`): `oci-layout`, `index.json`, `blobs/sha256/<hex>`. The reader
 * opens a layout (optionally one tag of it) as an `ImageHandle`; the writer builds a new layout in a temporary sibling
 * and renames it into place at the end (atomic), writing every blob through digest verification.
 */
import { existsSync, mkdirSync, readdirSync, readFileSync, renameSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { Readable } from 'node:stream';
import { AtomicTarget } from '../atomic.js';
import { WinlayerError } from '../errors.js';
import { type Digest, sha256Digest, splitDigest, verifyBytes } from './digest.js';
import { fsyncFile, streamToFile } from './files.js';
import type { ImageHandle } from './image.js';
import { MEDIA } from './media-types.js';
import { type Descriptor, descriptorOf, parseIndex } from './spec.js';
import { DirBlobStore, readSmallBlob } from './store.js';

/** The annotation that names a tag inside a layout's `index.json`. */
export const REF_NAME = 'org.opencontainers.image.ref.name';

/** True when `dir` looks like an OCI layout (`oci-layout` or `index.json` present). */
export function isOciLayout(dir: string): boolean {
  return existsSync(join(dir, 'index.json')) || existsSync(join(dir, 'oci-layout'));
}

/**
 * Opens an OCI layout. With `tag`, the manifest whose `org.opencontainers.image.ref.name` is the tag; without, the
 * only manifest of `index.json`, or (when every entry carries a platform) `index.json` itself as an index.
 * Reads only `index.json` and the root manifest; throws `OCI_INVALID` / `NOT_FOUND` / `OCI_DIGEST`.
 */
export async function readOciLayout(dir: string, tag?: string): Promise<ImageHandle> {
  const name = tag === undefined ? `oci:${dir}` : `oci:${dir}:${tag}`;
  const layoutFile = join(dir, 'oci-layout');
  if (!existsSync(layoutFile)) {
    throw new WinlayerError('SOURCE_UNREADABLE', 'not an OCI image layout (no oci-layout file)', { path: dir });
  }
  let version: unknown;
  try {
    version = (JSON.parse(readFileSync(layoutFile, 'utf8')) as { imageLayoutVersion?: unknown }).imageLayoutVersion;
  } catch {
    throw new WinlayerError('OCI_INVALID', 'oci-layout is not JSON', { path: layoutFile });
  }
  if (typeof version !== 'string' || !version.startsWith('1.')) {
    throw new WinlayerError('OCI_INVALID', `unsupported imageLayoutVersion ${JSON.stringify(version)}`, {
      path: layoutFile,
    });
  }
  const indexBytes = readFileSync(join(dir, 'index.json'));
  const index = parseIndex(indexBytes, `${dir}/index.json`);
  const blobs = new DirBlobStore(join(dir, 'blobs'));
  let pick: Descriptor | undefined;
  if (tag !== undefined) {
    const hits = index.manifests.filter((m) => m.annotations?.[REF_NAME] === tag);
    if (hits.length === 0) {
      throw new WinlayerError('NOT_FOUND', `no image tagged ${JSON.stringify(tag)}`, {
        path: dir,
        hint: tagsHint(index.manifests),
      });
    }
    if (hits.length > 1) {
      return indexRoot(name, blobs, hits, tag);
    }
    pick = hits[0]!;
  } else if (index.manifests.length === 1) {
    pick = index.manifests[0]!;
  } else if (index.manifests.length > 1 && index.manifests.every((m) => m.platform !== undefined)) {
    return indexRoot(name, blobs, index.manifests, undefined);
  } else {
    throw new WinlayerError('SOURCE_UNREADABLE', `the layout holds ${index.manifests.length} images: name one`, {
      path: dir,
      hint: `write oci:${dir}:TAG; ${tagsHint(index.manifests)}`,
    });
  }
  const bytes = await readSmallBlob(blobs, pick);
  const t = tag ?? pick.annotations?.[REF_NAME];
  return { name, root: { descriptor: descriptorOf(pick), bytes }, blobs, ...(t === undefined ? {} : { tag: t }) };
}

function tagsHint(ms: readonly Descriptor[]): string {
  const tags = ms.map((m) => m.annotations?.[REF_NAME]).filter((t): t is string => t !== undefined);
  return tags.length === 0 ? 'the layout has no tagged images' : `tags: ${tags.join(', ')}`;
}

function indexRoot(name: string, blobs: DirBlobStore, manifests: readonly Descriptor[], tag?: string): ImageHandle {
  const idx = { schemaVersion: 2, mediaType: MEDIA.ociIndex, manifests: manifests.map(stripRefName) };
  const bytes = Buffer.from(JSON.stringify(idx));
  const descriptor: Descriptor = { mediaType: MEDIA.ociIndex, digest: sha256Digest(bytes), size: bytes.length };
  // the synthesised index is not a blob of the layout: serve it from memory
  const store = {
    has: (d: Digest) => d === descriptor.digest || blobs.has(d),
    locate: (d: Pick<Descriptor, 'digest' | 'size'>) => (d.digest === descriptor.digest ? undefined : blobs.locate(d)),
    open: async (d: Pick<Descriptor, 'digest' | 'size'>): Promise<Readable> => {
      if (d.digest !== descriptor.digest) return blobs.open(d);
      const { Readable } = await import('node:stream');
      return Readable.from([bytes]);
    },
  };
  return { name, root: { descriptor, bytes }, blobs: store, ...(tag === undefined ? {} : { tag }) };
}

function stripRefName(d: Descriptor): Descriptor {
  if (d.annotations === undefined || !(REF_NAME in d.annotations)) return d;
  const { [REF_NAME]: _drop, ...rest } = d.annotations;
  return descriptorOf({
    ...d,
    annotations: rest,
    ...(Object.keys(rest).length === 0 ? { annotations: undefined } : {}),
  });
}

/**
 * Builds an OCI layout at `finalDir`: blobs go into a temporary sibling, verified; `commit` writes `oci-layout` and
 * `index.json` and renames the folder into place (replacing an older layout there). Nothing appears at `finalDir`
 * before `commit`; `abort` removes everything.
 */
export class LayoutWriter {
  readonly finalDir: string;
  readonly #target: AtomicTarget;
  readonly blobs: DirBlobStore;
  #staging = 0;

  constructor(finalDir: string) {
    if (existsSync(finalDir)) {
      const st = statSync(finalDir);
      if (!st.isDirectory() || (readdirSync(finalDir).length > 0 && !isOciLayout(finalDir))) {
        throw new WinlayerError('LAYER_EXISTS', 'the destination exists and is not an OCI layout', {
          path: finalDir,
          hint: 'choose a new path or remove it; winlayer only replaces an OCI layout',
        });
      }
    }
    this.finalDir = finalDir;
    this.#target = new AtomicTarget(finalDir);
    mkdirSync(join(this.#target.tempPath, 'blobs', 'sha256'), { recursive: true });
    this.blobs = new DirBlobStore(join(this.#target.tempPath, 'blobs'));
  }

  /** A fresh path inside the temporary layout for a sink to write a blob into before `adoptFile`. */
  stagingPath(): string {
    return join(this.#target.tempPath, 'blobs', `.staging-${this.#staging++}`);
  }

  /** Moves a finished file (from `stagingPath`) to its digest name. */
  adoptFile(path: string, digest: Digest): void {
    const dest = this.blobs.path(digest);
    if (existsSync(dest)) rmSync(path);
    else renameSync(path, dest);
  }

  /** True when the layout being written holds the blob already. */
  has(digest: Digest): boolean {
    return this.blobs.has(digest);
  }

  /** Copies a blob in from a verified stream. Skips blobs already present. */
  async putBlob(desc: Pick<Descriptor, 'digest' | 'size'>, open: () => Promise<Readable>): Promise<void> {
    const [alg] = splitDigest(desc.digest);
    if (alg !== 'sha256') mkdirSync(join(this.blobs.dir, alg), { recursive: true });
    if (this.has(desc.digest)) return;
    const tmp = this.stagingPath();
    try {
      await streamToFile(await open(), tmp);
    } catch (e) {
      rmSync(tmp, { force: true });
      throw e;
    }
    this.adoptFile(tmp, desc.digest);
  }

  /** Writes a small blob from memory (verified against `desc` when given). Returns its descriptor. */
  putBytes(bytes: Uint8Array, mediaType: string, desc?: Descriptor): Descriptor {
    const d = desc ?? { mediaType, digest: sha256Digest(bytes), size: bytes.length };
    verifyBytes(bytes, d);
    if (!this.has(d.digest)) {
      const tmp = this.stagingPath();
      writeFileSync(tmp, bytes, { mode: 0o644 });
      fsyncFile(tmp);
      this.adoptFile(tmp, d.digest);
    }
    return d;
  }

  /** Writes `oci-layout` and `index.json` (the given roots, in order) and moves the layout into place. */
  commit(roots: readonly Descriptor[]): void {
    try {
      writeFileSync(join(this.#target.tempPath, 'oci-layout'), '{"imageLayoutVersion":"1.0.0"}');
      const index = { schemaVersion: 2, mediaType: MEDIA.ociIndex, manifests: roots.map(descriptorOf) };
      writeFileSync(join(this.#target.tempPath, 'index.json'), JSON.stringify(index));
      fsyncFile(join(this.#target.tempPath, 'oci-layout'));
      fsyncFile(join(this.#target.tempPath, 'index.json'));
      fsyncFile(join(this.#target.tempPath, 'blobs', 'sha256'));
    } catch (e) {
      this.abort();
      throw new WinlayerError('IO', `cannot write the layout: ${(e as Error).message}`, {
        path: this.finalDir,
        cause: e,
      });
    }
    this.#target.commit({ replaceDirectory: true });
  }

  abort(): void {
    this.#target.abort();
  }
}
