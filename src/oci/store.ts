/**
 * Blob stores: where the blobs of an opened image come from. Every `open` returns a stream verified against the
 * descriptor (size and digest), so a consumer commits nothing it has not checked. Stores that hold blobs in local
 * files also say where (`locate`), so an upload can re-read any byte range for a retry without keeping it in memory.
 */
import { createReadStream, statSync } from 'node:fs';
import { Readable } from 'node:stream';
import { WinlayerError } from '../errors.js';
import { type Digest, splitDigest, verifyStream } from './digest.js';
import type { Descriptor } from './spec.js';

/** Where a blob sits in a local file: `length` bytes from `offset`. */
export interface BlobLocation {
  readonly path: string;
  readonly offset: number;
  readonly length: number;
}

/** A source of blobs by descriptor; every stream it returns is verified. */
export interface BlobStore {
  /** Opens a blob; the stream errors with `OCI_DIGEST` unless its bytes match `desc`. Throws `NOT_FOUND` when absent. */
  open(desc: Pick<Descriptor, 'digest' | 'size'>): Promise<Readable>;
  /** The local file range holding the blob, when this store keeps it in a file (no bytes are checked here). */
  locate?(desc: Pick<Descriptor, 'digest' | 'size'>): BlobLocation | undefined;
  /** True when this store can serve the blob without asking a network. */
  has?(digest: Digest): boolean;
}

/** Reads a file range as a verified stream. */
export function openLocation(loc: BlobLocation, desc: Pick<Descriptor, 'digest' | 'size'>): Readable {
  if (loc.length !== desc.size) {
    throw new WinlayerError(
      'OCI_DIGEST',
      `${desc.digest}: the stored blob has ${loc.length} bytes, the descriptor ${desc.size}`,
      {
        path: loc.path,
      },
    );
  }
  const src =
    loc.length === 0
      ? Readable.from([])
      : createReadStream(loc.path, { start: loc.offset, end: loc.offset + loc.length - 1, highWaterMark: 1 << 20 });
  const v = verifyStream(desc, `${loc.path} (${desc.digest})`);
  src.on('error', (e: Error) =>
    v.destroy(new WinlayerError('IO', `cannot read a blob: ${e.message}`, { path: loc.path, cause: e })),
  );
  return src.pipe(v);
}

/** Opens a range of a file without checking (for re-reading chunks of a blob that is verified as a whole). */
export function openRange(loc: BlobLocation, start: number, end: number): Readable {
  if (end <= start) return Readable.from([]);
  return createReadStream(loc.path, { start: loc.offset + start, end: loc.offset + end - 1, highWaterMark: 1 << 20 });
}

/** A folder of `<alg>/<hex>` files (the `blobs/` folder of an OCI layout). */
export class DirBlobStore implements BlobStore {
  readonly dir: string;
  constructor(dir: string) {
    this.dir = dir;
  }

  path(digest: Digest): string {
    const [alg, hex] = splitDigest(digest);
    return `${this.dir}/${alg}/${hex}`;
  }

  has(digest: Digest): boolean {
    try {
      return statSync(this.path(digest)).isFile();
    } catch {
      return false;
    }
  }

  locate(desc: Pick<Descriptor, 'digest' | 'size'>): BlobLocation | undefined {
    try {
      const st = statSync(this.path(desc.digest));
      return { path: this.path(desc.digest), offset: 0, length: st.size };
    } catch {
      return undefined;
    }
  }

  async open(desc: Pick<Descriptor, 'digest' | 'size'>): Promise<Readable> {
    const loc = this.locate(desc);
    if (loc === undefined) {
      throw new WinlayerError('NOT_FOUND', `blob ${desc.digest} is missing`, { path: this.path(desc.digest) });
    }
    return openLocation(loc, desc);
  }
}

/** Reads a whole small blob (manifest, config) through `store`, verified, with a size cap. */
export async function readSmallBlob(
  store: BlobStore,
  desc: Pick<Descriptor, 'digest' | 'size'>,
  limit = 8 << 20,
): Promise<Buffer> {
  if (desc.size > limit)
    throw new WinlayerError('INVALID_IMAGE', `${desc.digest}: ${desc.size} bytes is too large for a JSON blob`);
  const parts: Buffer[] = [];
  for await (const c of await store.open(desc)) parts.push(c as Buffer);
  return Buffer.concat(parts);
}

/**
 * Blobs routed by digest: small new blobs from memory (configs, manifests, indexes built by a command) and every
 * other blob to the store of the image it came from. Used by the commands that derive an image from others.
 */
export class RoutedBlobStore implements BlobStore {
  readonly #memory = new Map<Digest, Uint8Array>();
  readonly #routes = new Map<Digest, BlobStore>();

  /** Serves `bytes` (verified against its digest when opened) for `digest`. */
  addBytes(digest: Digest, bytes: Uint8Array): this {
    this.#memory.set(digest, bytes);
    return this;
  }

  /** Serves `digest` from `store`. */
  route(digest: Digest, store: BlobStore): this {
    if (!this.#memory.has(digest) && !this.#routes.has(digest)) this.#routes.set(digest, store);
    return this;
  }

  has(digest: Digest): boolean {
    return this.#memory.has(digest) || this.#routes.get(digest)?.has?.(digest) === true;
  }

  locate(desc: Pick<Descriptor, 'digest' | 'size'>): BlobLocation | undefined {
    return this.#memory.has(desc.digest) ? undefined : this.#routes.get(desc.digest)?.locate?.(desc);
  }

  async open(desc: Pick<Descriptor, 'digest' | 'size'>): Promise<Readable> {
    const bytes = this.#memory.get(desc.digest);
    if (bytes !== undefined) {
      return Readable.from([Buffer.from(bytes)]).pipe(verifyStream(desc));
    }
    const s = this.#routes.get(desc.digest);
    if (s === undefined) throw new WinlayerError('NOT_FOUND', `blob ${desc.digest} is in none of the image's stores`);
    return s.open(desc);
  }
}
