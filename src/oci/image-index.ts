/** `createImageIndex`: one image index over several images (one per Windows build), written to a destination. */
import { WinlayerError } from '../errors.js';
import { type WriteImageResult, writeImage } from './copy.js';
import type { ImageHandle } from './image.js';
import { buildImageIndex } from './mutate.js';
import type { Registries } from './registry/index.js';
import { type Destination, openImage, parseDestination } from './source.js';

/** Options of {@link createImageIndex}. */
export interface CreateImageIndexOptions {
  /** Needed when an image or the destination is a registry. */
  readonly registries: Registries;
}

/**
 * Opens each image (a handle, or a source name: `oci:DIR[:TAG]`, `docker-archive:FILE`, `docker://REF`…), builds an
 * index whose entries carry the platform of each config (`buildImageIndex`: two images of the same platform and
 * os.version are refused) and writes it to `dest`, the whole index. An OCI layout is added to (the tag moves to the
 * index); a registry gets the images, then the index. Returns what `writeImage` returns, its warnings after those of
 * the index (images without os.version). Throws `USAGE` for a docker-archive destination, before reading anything:
 * an archive holds single images, and writing one would keep only one platform of the index.
 */
export async function createImageIndex(
  images: readonly (ImageHandle | string)[],
  dest: Destination | string,
  opts: CreateImageIndexOptions,
): Promise<WriteImageResult> {
  const d = typeof dest === 'string' ? parseDestination(dest) : dest;
  if (d.kind === 'docker-archive') {
    throw new WinlayerError('USAGE', 'a docker archive holds single images, not an index', {
      path: d.path,
      hint: 'write an OCI layout (oci:DIR) or push to a registry (docker://REF)',
    });
  }
  const handles: ImageHandle[] = [];
  for (const i of images) handles.push(typeof i === 'string' ? await openImage(i, opts.registries) : i);
  const { handle, warnings } = await buildImageIndex(handles);
  const r = await writeImage(handle, d, { registries: opts.registries, allPlatforms: true });
  return { ...r, warnings: [...warnings, ...r.warnings] };
}
