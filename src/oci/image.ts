/**
 * An opened image: its root (a manifest or an index, bytes verified), a blob store, and where it came from. Sources
 * (OCI layout, docker archive, registry) produce one; sinks (layout writer, docker-archive writer, push) consume one.
 * `resolveImage` picks one platform's manifest and reads its config.
 */
import { WinlayerError } from '../errors.js';
import type { Digest } from './digest.js';
import { formatPlatform, parsePlatform, platformMatches, selectManifest } from './platform.js';
import type { RegistryClient } from './registry/client.js';
import {
  type Descriptor,
  type ImageConfig,
  type ImageIndex,
  type ImageManifest,
  type Platform,
  parseConfig,
  parseIndex,
  parseManifest,
  rootKind,
} from './spec.js';
import { type BlobStore, readSmallBlob } from './store.js';

/** An opened image or index: where it came from, its verified root, and a store for its blobs. */
export interface ImageHandle {
  /** How the user named it (for messages). */
  readonly name: string;
  /** The manifest or index the name points at, verified against `root.descriptor`. */
  readonly root: { readonly descriptor: Descriptor; readonly bytes: Uint8Array };
  readonly blobs: BlobStore;
  /** The tag the source gave, if any (kept as `org.opencontainers.image.ref.name` or the docker-archive tag). */
  readonly tag?: string;
  /** Set when the image lives in a registry: lets a push to the same registry mount instead of copying. */
  readonly remote?: { readonly client: RegistryClient; readonly repository: string };
}

/** One platform's image: manifest, config, and the descriptors that lead to it. */
export interface ResolvedImage {
  readonly handle: ImageHandle;
  readonly manifestDescriptor: Descriptor;
  readonly manifestBytes: Uint8Array;
  readonly manifest: ImageManifest;
  readonly config: ImageConfig;
  readonly configBytes: Uint8Array;
}

/** True when the handle's root is an index. */
export function isIndex(h: ImageHandle): boolean {
  return rootKind(h.root.descriptor.mediaType, h.root.bytes, h.name) === 'index';
}

/**
 * Resolves a handle to one image. For an index: the manifest matching `platform` (default: the only entry, else the
 * one `windows/amd64` entry, highest `os.version` when several match). Throws `OCI_PLATFORM` / `INVALID_IMAGE`.
 */
export async function resolveImage(h: ImageHandle, platform?: Platform | string): Promise<ResolvedImage> {
  const want = typeof platform === 'string' ? parsePlatform(platform) : platform;
  let desc = h.root.descriptor;
  let bytes: Uint8Array = h.root.bytes;
  for (let depth = 0; rootKind(desc.mediaType, bytes, h.name) === 'index'; depth++) {
    if (depth > 4) throw new WinlayerError('INVALID_IMAGE', `${h.name}: indexes nested too deep`);
    const idx = parseIndex(bytes, `${h.name} index`);
    const images = idx.manifests.filter((m) => !isAttestation(m));
    let pick: Descriptor;
    if (want !== undefined) pick = selectManifest(images, want, h.name);
    else if (images.length === 1) pick = images[0]!;
    else pick = selectManifest(images, { os: 'windows', architecture: 'amd64' }, h.name);
    desc = pick;
    bytes = await readSmallBlob(h.blobs, pick);
  }
  const manifest = parseManifest(bytes, `${h.name} manifest`);
  const configBytes = await readSmallBlob(h.blobs, manifest.config);
  const config = parseConfig(configBytes, `${h.name} config`);
  if (config.rootfs.diff_ids.length !== manifest.layers.length) {
    throw new WinlayerError(
      'INVALID_IMAGE',
      `${h.name}: the config lists ${config.rootfs.diff_ids.length} diff_ids for ${manifest.layers.length} layers`,
    );
  }
  if (want !== undefined && h.root.descriptor.digest === desc.digest) {
    // a plain manifest: its config must still match what the user asked for
    const have = { os: config.os, architecture: config.architecture, 'os.version': config['os.version'] };
    if (!platformMatches(want, have)) {
      throw new WinlayerError('OCI_PLATFORM', `${h.name} is ${formatPlatform(have)}, not ${formatPlatform(want)}`);
    }
  }
  return { handle: h, manifestDescriptor: desc, manifestBytes: bytes, manifest, config, configBytes };
}

function isAttestation(d: Descriptor): boolean {
  return d.annotations?.['vnd.docker.reference.type'] === 'attestation-manifest' || d.platform?.os === 'unknown';
}

/** Every blob an image or index refers to, parents before children (indexes, manifests, configs, layers). */
export async function reachableBlobs(h: ImageHandle): Promise<{ descriptor: Descriptor; bytes?: Uint8Array }[]> {
  const out: { descriptor: Descriptor; bytes?: Uint8Array }[] = [];
  const seen = new Set<Digest>();
  const visit = async (desc: Descriptor, bytes: Uint8Array, depth: number): Promise<void> => {
    if (depth > 5) throw new WinlayerError('INVALID_IMAGE', `${h.name}: indexes nested too deep`);
    if (seen.has(desc.digest)) return;
    seen.add(desc.digest);
    out.push({ descriptor: desc, bytes });
    if (rootKind(desc.mediaType, bytes, h.name) === 'index') {
      const idx: ImageIndex = parseIndex(bytes, h.name);
      for (const m of idx.manifests) await visit(m, await readSmallBlob(h.blobs, m), depth + 1);
      return;
    }
    const m = parseManifest(bytes, h.name);
    for (const d of [m.config, ...m.layers]) {
      if (seen.has(d.digest)) continue;
      seen.add(d.digest);
      out.push(d === m.config ? { descriptor: d, bytes: await readSmallBlob(h.blobs, d) } : { descriptor: d });
    }
  };
  await visit(h.root.descriptor, h.root.bytes, 0);
  return out;
}
