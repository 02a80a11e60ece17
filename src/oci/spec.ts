/**
 * OCI image-spec objects (descriptor, platform, manifest, index, config), strict parsers for what we read and
 * builders for what we write. Builders fix the key order, so the same inputs always give the same bytes and digest.
 */
import { checkSourceDateEpoch } from '../internal/layer.js';
import { type Digest, sha256Digest } from './digest.js';
import { isIndexType, isManifestType, MEDIA } from './media-types.js';
import { CONFIG, type DocumentName, INDEX, invalidImage, MANIFEST, object, parseDocument } from './validate.js';

/** Where an image runs. `os.version` is what containerd matches Windows images by (`10.0.20348.2113`). */
export interface Platform {
  readonly architecture: string;
  readonly os: string;
  readonly 'os.version'?: string;
  readonly 'os.features'?: readonly string[];
  readonly variant?: string;
}

/** A content descriptor. */
export interface Descriptor {
  readonly mediaType: string;
  readonly digest: Digest;
  readonly size: number;
  readonly urls?: readonly string[];
  readonly annotations?: Readonly<Record<string, string>>;
  readonly platform?: Platform;
  readonly artifactType?: string;
}

/** An image manifest (OCI, or Docker schema 2 when read). */
export interface ImageManifest {
  readonly schemaVersion: 2;
  readonly mediaType?: string;
  readonly config: Descriptor;
  readonly layers: readonly Descriptor[];
  readonly annotations?: Readonly<Record<string, string>>;
}

/** An image index (OCI, or a Docker manifest list when read). */
export interface ImageIndex {
  readonly schemaVersion: 2;
  readonly mediaType?: string;
  readonly manifests: readonly Descriptor[];
  readonly annotations?: Readonly<Record<string, string>>;
}

/** The runtime part of an image config. */
export interface ContainerConfig {
  readonly User?: string;
  readonly Env?: readonly string[] | null;
  readonly Entrypoint?: readonly string[] | null;
  readonly Cmd?: readonly string[] | null;
  readonly WorkingDir?: string;
  readonly Labels?: Readonly<Record<string, string>> | null;
  readonly [key: string]: unknown;
}

/** One `history` entry of an image config. */
export interface HistoryEntry {
  readonly created?: string;
  readonly created_by?: string;
  readonly comment?: string;
  readonly empty_layer?: boolean;
}

/** An image config (`application/vnd.oci.image.config.v1+json`). Unknown fields are kept when we rewrite one. */
export interface ImageConfig {
  readonly architecture: string;
  readonly os: string;
  readonly 'os.version'?: string;
  readonly 'os.features'?: readonly string[];
  readonly variant?: string;
  readonly created?: string;
  readonly config?: ContainerConfig;
  readonly rootfs: { readonly type: 'layers'; readonly diff_ids: readonly Digest[] };
  readonly history?: readonly HistoryEntry[];
  readonly [key: string]: unknown;
}

/** A JSON blob with its bytes and descriptor: what goes into a layout or a registry as is. */
export interface JsonBlob<T> {
  readonly value: T;
  readonly bytes: Uint8Array;
  readonly descriptor: Descriptor;
}

/** Serialises `value` (compact JSON, key order as built) and describes it. */
export function jsonBlob<T>(value: T, mediaType: string, extra: Partial<Descriptor> = {}): JsonBlob<T> {
  const bytes = Buffer.from(JSON.stringify(value), 'utf8');
  return { value, bytes, descriptor: { mediaType, digest: sha256Digest(bytes), size: bytes.length, ...extra } };
}

/** What kind of JSON document a manifest-ish blob is. */
export type RootKind = 'manifest' | 'index';

/** Tells a manifest from an index by media type (or by shape when the media type field is absent). */
export function rootKind(mediaType: string | undefined, bytes: Uint8Array, what: DocumentName | string): RootKind {
  if (isIndexType(mediaType)) return 'index';
  if (isManifestType(mediaType)) return 'manifest';
  const o = parseDocument<Record<string, unknown>>(bytes, object({}), what);
  const inner = typeof o.mediaType === 'string' ? o.mediaType : undefined;
  if (isIndexType(inner) || Array.isArray(o.manifests)) return 'index';
  if (isManifestType(inner) || 'config' in o) return 'manifest';
  throw invalidImage(`neither an image manifest nor an index (media type ${mediaType ?? 'none'})`, what);
}

/** Parses an image manifest (OCI or Docker schema 2). Throws `INVALID_IMAGE` naming `what` and the field. */
export function parseManifest(bytes: Uint8Array, what: DocumentName | string = 'manifest'): ImageManifest {
  const m = parseDocument<ImageManifest>(bytes, MANIFEST, what);
  if (m.mediaType !== undefined && !isManifestType(m.mediaType)) {
    throw invalidImage(`mediaType: ${m.mediaType} is not an image manifest`, what);
  }
  return m;
}

/** Parses an image index (OCI or Docker manifest list). Throws `INVALID_IMAGE` naming `what` and the field. */
export function parseIndex(bytes: Uint8Array, what: DocumentName | string = 'index'): ImageIndex {
  return parseDocument<ImageIndex>(bytes, INDEX, what);
}

/** Parses an image config and checks the fields winlayer relies on. Throws `INVALID_IMAGE`. */
export function parseConfig(bytes: Uint8Array, what: DocumentName | string = 'config'): ImageConfig {
  return parseDocument<ImageConfig>(bytes, CONFIG, what);
}

/** Builds an OCI manifest with a fixed key order. */
export function buildManifest(
  config: Descriptor,
  layers: readonly Descriptor[],
  annotations?: Record<string, string>,
): JsonBlob<ImageManifest> {
  const m: ImageManifest = {
    schemaVersion: 2,
    mediaType: MEDIA.ociManifest,
    config: descriptorOf(config),
    layers: layers.map(descriptorOf),
    ...(annotations !== undefined && Object.keys(annotations).length > 0 ? { annotations: sortKeys(annotations) } : {}),
  };
  return jsonBlob(m, MEDIA.ociManifest);
}

/** Builds an OCI index with a fixed key order. */
export function buildIndex(
  manifests: readonly Descriptor[],
  annotations?: Record<string, string>,
): JsonBlob<ImageIndex> {
  const idx: ImageIndex = {
    schemaVersion: 2,
    mediaType: MEDIA.ociIndex,
    manifests: manifests.map(descriptorOf),
    ...(annotations !== undefined && Object.keys(annotations).length > 0 ? { annotations: sortKeys(annotations) } : {}),
  };
  return jsonBlob(idx, MEDIA.ociIndex);
}

/** A descriptor with keys in spec order, without undefined fields. */
export function descriptorOf(d: Descriptor): Descriptor {
  return {
    mediaType: d.mediaType,
    ...(d.artifactType === undefined ? {} : { artifactType: d.artifactType }),
    digest: d.digest,
    size: d.size,
    ...(d.urls === undefined ? {} : { urls: d.urls }),
    ...(d.annotations === undefined ? {} : { annotations: sortKeys(d.annotations) }),
    ...(d.platform === undefined ? {} : { platform: platformOf(d.platform) }),
  };
}

/** A platform object with keys in spec order. */
function platformOf(p: Platform): Platform {
  return {
    architecture: p.architecture,
    os: p.os,
    ...(p['os.version'] === undefined ? {} : { 'os.version': p['os.version'] }),
    ...(p['os.features'] === undefined ? {} : { 'os.features': p['os.features'] }),
    ...(p.variant === undefined ? {} : { variant: p.variant }),
  };
}

/** The platform an image config declares. */
export function configPlatform(c: ImageConfig): Platform {
  return platformOf({
    architecture: c.architecture,
    os: c.os,
    ...(c['os.version'] === undefined ? {} : { 'os.version': c['os.version'] }),
    ...(c['os.features'] === undefined ? {} : { 'os.features': c['os.features'] }),
    ...(c.variant === undefined ? {} : { variant: c.variant }),
  });
}

/** A copy of `o` with its keys in code-unit order (annotations, labels: deterministic JSON). */
function sortKeys<T>(o: Readonly<Record<string, T>>): Record<string, T> {
  const out: Record<string, T> = {};
  for (const k of Object.keys(o).sort()) out[k] = o[k] as T;
  return out;
}

/**
 * The `created` time of a built image: `sourceDateEpoch` (seconds, the `SOURCE_DATE_EPOCH` convention) when given,
 * else the Unix epoch. Never "now": the same inputs give the same config digest. Throws `USAGE` for a value out of
 * range (`checkSourceDateEpoch`).
 */
export function createdTime(sourceDateEpoch: number | undefined): string {
  if (sourceDateEpoch === undefined) return '1970-01-01T00:00:00Z';
  return new Date(checkSourceDateEpoch(sourceDateEpoch) * 1000).toISOString().replace('.000Z', 'Z');
}
