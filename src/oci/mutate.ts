/**
 * Images derived from images without touching layers: set the platform of an image (`image platform`) and gather
 * images into an index (`image index`, how Windows images are published: one entry per os.version). Both return a new
 * `ImageHandle` at once — new configs and manifests in memory, layers served from the inputs — for `writeImage`.
 */
import { WinlayerError } from '../errors.js';
import { type ImageHandle, isIndex, type ResolvedImage, resolveImage } from './image.js';
import { MEDIA } from './media-types.js';
import { formatPlatform, parsePlatform } from './platform.js';
import {
  buildIndex,
  buildManifest,
  configPlatform,
  type Descriptor,
  descriptorOf,
  type ImageConfig,
  jsonBlob,
  type Platform,
  parseIndex,
} from './spec.js';
import { RoutedBlobStore } from './store.js';

/** The config with os, architecture, variant and os.version replaced; every other field kept in place. */
function withPlatform(config: ImageConfig, p: Platform): ImageConfig {
  const replaced = new Set(['architecture', 'os', 'os.version', 'os.features', 'variant']);
  const ordered: Record<string, unknown> = { architecture: p.architecture, os: p.os };
  if (p['os.version'] !== undefined) ordered['os.version'] = p['os.version'];
  const features = p['os.features'] ?? config['os.features'];
  if (features !== undefined) ordered['os.features'] = features;
  if (p.variant !== undefined) ordered.variant = p.variant;
  for (const [k, v] of Object.entries(config)) if (!replaced.has(k)) ordered[k] = v;
  return ordered as ImageConfig;
}

/**
 * A copy of one image with a new platform in its config, manifest and descriptor. Layers are untouched (same
 * digests). `platform` is `windows/amd64:10.0.20348.2113` or a Platform; `opts.from` picks the image of an index
 * (as `resolveImage` does). Throws `USAGE` / `OCI_*`.
 */
export async function setImagePlatform(
  h: ImageHandle,
  platform: Platform | string,
  opts: { readonly from?: Platform | string } = {},
): Promise<ImageHandle> {
  const p = typeof platform === 'string' ? parsePlatform(platform) : platform;
  const img = await resolveImage(h, opts.from);
  const cfg = jsonBlob(withPlatform(img.config, p), img.manifest.config.mediaType);
  return deriveImage(img, cfg.bytes, cfg.descriptor, `${h.name} (platform ${formatPlatform(p)})`);
}

/** A new image over `img`'s layers with a new config (bytes + descriptor). */
function deriveImage(
  img: ResolvedImage,
  configBytes: Uint8Array,
  configDesc: Descriptor,
  name: string,
  layers = img.manifest.layers,
): ImageHandle {
  const cfgValue = JSON.parse(Buffer.from(configBytes).toString('utf8')) as ImageConfig;
  const m = buildManifest(
    { ...configDesc, mediaType: MEDIA.ociConfig },
    layers,
    img.manifest.annotations as Record<string, string> | undefined,
  );
  const store = new RoutedBlobStore().addBytes(m.descriptor.digest, m.bytes).addBytes(configDesc.digest, configBytes);
  for (const l of img.manifest.layers) store.route(l.digest, img.handle.blobs);
  return {
    name,
    root: { descriptor: descriptorOf({ ...m.descriptor, platform: configPlatform(cfgValue) }), bytes: m.bytes },
    blobs: store,
    ...(img.handle.tag === undefined ? {} : { tag: img.handle.tag }),
    ...(img.handle.remote === undefined ? {} : { remote: img.handle.remote }),
  };
}

/**
 * An index over images (each resolved to one platform; an index input contributes all its images). Entries carry
 * the platform from each config. Refuses two entries with the same platform and os.version (a runtime could not
 * choose). Returns the index handle and warnings (entries without os.version).
 */
export async function buildImageIndex(
  inputs: readonly ImageHandle[],
): Promise<{ handle: ImageHandle; warnings: string[] }> {
  if (inputs.length === 0) throw new WinlayerError('USAGE', 'an index needs at least one image');
  const store = new RoutedBlobStore();
  const entries: Descriptor[] = [];
  const warnings: string[] = [];
  const seen = new Map<string, string>();
  for (const h of inputs) {
    const imgs: ResolvedImage[] = [];
    if (isIndex(h)) {
      for (const d of parseIndex(h.root.bytes, h.name).manifests) {
        if (d.platform === undefined) continue;
        imgs.push(await resolveImage(h, d.platform));
      }
    } else {
      imgs.push(await resolveImage(h));
    }
    for (const img of imgs) {
      const p = configPlatform(img.config);
      const key = formatPlatform(p);
      const prev = seen.get(key);
      if (prev !== undefined) {
        throw new WinlayerError(
          'INVALID_IMAGE',
          `${img.handle.name} and ${prev} are both ${key}: a runtime could not choose`,
          {
            hint: 'set distinct os.version values with winlayer image platform',
          },
        );
      }
      seen.set(key, img.handle.name);
      if (p.os === 'windows' && p['os.version'] === undefined) {
        warnings.push(`${img.handle.name}: no os.version; containerd picks Windows images by it`);
      }
      store
        .addBytes(img.manifestDescriptor.digest, img.manifestBytes)
        .addBytes(img.manifest.config.digest, img.configBytes);
      for (const l of img.manifest.layers) store.route(l.digest, img.handle.blobs);
      entries.push(
        descriptorOf({
          mediaType: img.manifestDescriptor.mediaType,
          digest: img.manifestDescriptor.digest,
          size: img.manifestDescriptor.size,
          platform: p,
        }),
      );
    }
  }
  const idx = buildIndex(entries);
  store.addBytes(idx.descriptor.digest, idx.bytes);
  return { handle: { name: 'index', root: { descriptor: idx.descriptor, bytes: idx.bytes }, blobs: store }, warnings };
}
